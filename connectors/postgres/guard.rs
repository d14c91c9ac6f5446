//! What a console query may be, decided before it runs.
//!
//! The read-only transaction stops writes, but PostgreSQL allows a few things in it whose
//! effects are not rolled back or reach other sessions (checked against PostgreSQL 15 in
//! `tests.rs`): `REINDEX`, `CLUSTER` and `ANALYZE` of a table the role owns (they rewrite or
//! lock it), `LOCK TABLE`, `LISTEN`/`NOTIFY`, advisory locks, signalling other backends, and
//! functions that run SQL given as a string (`query_to_xml`), which would hide the rest.
//!
//! So a query must start with a query keyword ([`QUERY_KEYWORDS`]) and must not name a
//! function of [`EFFECT_FUNCTIONS`]. The text is split into tokens as PostgreSQL's lexer
//! does (strings, dollar quotes, quoted identifiers, nested comments), so a name inside a
//! string or a comment is not a call and a call cannot hide in one. The session sets
//! `standard_conforming_strings` so the server reads backslashes in strings as we do.
//! Unicode-escaped identifiers (`U&"…"`) could spell any name and are refused.
//! `SELECT … FOR UPDATE` is left to PostgreSQL, which refuses it in a read-only transaction.

/// Statements a console query may start with (after any opening parentheses).
pub(crate) const QUERY_KEYWORDS: &[&str] =
    &["select", "with", "values", "table", "show", "explain"];

/// Functions whose effects outlive or escape the read-only transaction.
pub(crate) const EFFECT_FUNCTIONS: &[&str] = &[
    // Advisory locks: held against other sessions (the session ones until disconnect).
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
    "pg_advisory_unlock",
    "pg_advisory_unlock_shared",
    "pg_advisory_unlock_all",
    // Other sessions and the server.
    "pg_cancel_backend",
    "pg_terminate_backend",
    "pg_notify",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_log_backend_memory_contexts",
    "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_copy_logical_replication_slot",
    "pg_drop_replication_slot",
    "pg_replication_slot_advance",
    // SQL given as a string, which the checks here cannot see into.
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "ts_stat",
    "ts_rewrite",
    // Server files and other connections (the role check refuses roles that can run them).
    "lo_import",
    "lo_export",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
];

/// Why `sql` may not run in the console, if it may not (the message follows "this
/// connection is read-only: ").
pub(crate) fn refusal(sql: &str) -> Option<String> {
    let tokens = match tokenize(sql) {
        Ok(tokens) => tokens,
        Err(why) => return Some(why),
    };
    let first = tokens.iter().find_map(|t| match t {
        Token::Punct('(') => None,
        Token::Word(w) => Some(Some(w.as_str())),
        _ => Some(None),
    });
    match first {
        Some(Some(word)) if QUERY_KEYWORDS.contains(&word) => {}
        // Nothing but comments or parentheses: PostgreSQL answers (an empty query runs
        // nothing, a lone parenthesis is a syntax error).
        None => {}
        other => {
            let shown = other
                .flatten()
                .map(|w| format!("`{}`", w.to_uppercase()))
                .unwrap_or_else(|| "this statement".to_owned());
            return Some(format!(
                "only queries run here (SELECT, WITH, VALUES, TABLE, SHOW or EXPLAIN); {shown} \
                 is not one"
            ));
        }
    }
    tokens.iter().find_map(|t| match t {
        Token::Word(w) | Token::Quoted(w)
            if EFFECT_FUNCTIONS.contains(&w.as_str()) || w.starts_with("dblink") =>
        {
            Some(format!(
                "`{w}` acts outside the query (on locks, other sessions, the server or hidden \
                 SQL), so it cannot be used here"
            ))
        }
        _ => None,
    })
}

#[derive(Debug, PartialEq)]
enum Token {
    /// An unquoted identifier or keyword, lowercased.
    Word(String),
    /// A quoted identifier, lowercased (a function that differs only in case is refused
    /// too; no real query needs one).
    Quoted(String),
    /// Any other single character outside strings and comments.
    Punct(char),
    /// A string or dollar-quoted literal, or a number.
    Literal,
}

/// Splits `sql` as PostgreSQL's lexer would, far enough to tell words from literals and
/// comments. An unterminated literal or comment is left to PostgreSQL's syntax error (it
/// cannot hide anything after it, since nothing follows).
fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && at(i + 1) == Some('-') {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if at(i) == Some('/') && at(i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if at(i) == Some('*') && at(i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '\'' {
            i = skip_string(&chars, i + 1, false);
            tokens.push(Token::Literal);
        } else if c == '"' {
            let (name, next) = quoted_identifier(&chars, i + 1);
            tokens.push(Token::Quoted(name.to_lowercase()));
            i = next;
        } else if c == '$' && at(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            // A parameter ($1): PostgreSQL refuses those here anyway.
            i += 1;
            while at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
            tokens.push(Token::Literal);
        } else if c == '$' {
            match dollar_tag(&chars, i) {
                Some(tag) => {
                    i = skip_dollar_quoted(&chars, i + tag.len(), &tag);
                    tokens.push(Token::Literal);
                }
                None => {
                    tokens.push(Token::Punct('$'));
                    i += 1;
                }
            }
        } else if is_ident_start(c) {
            let start = i;
            while at(i).is_some_and(is_ident_char) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
            match (word.as_str(), at(i), at(i + 1)) {
                // E'…' reads backslash escapes; B'…', X'…', N'…' are plain strings.
                ("e", Some('\''), _) => {
                    i = skip_string(&chars, i + 1, true);
                    tokens.push(Token::Literal);
                }
                ("b" | "x" | "n", Some('\''), _) => {
                    i = skip_string(&chars, i + 1, false);
                    tokens.push(Token::Literal);
                }
                ("u", Some('&'), Some('\'')) => {
                    i = skip_string(&chars, i + 2, false);
                    tokens.push(Token::Literal);
                }
                ("u", Some('&'), Some('"')) => {
                    return Err(
                        "identifiers with Unicode escapes (U&\"…\") are not accepted here; \
                         write the name plainly"
                            .to_owned(),
                    );
                }
                _ => tokens.push(Token::Word(word)),
            }
        } else if c.is_ascii_digit() {
            // Digits only: letters after them start a word, so `1pg_notify` cannot hide a
            // name from the check on servers that would read it as `1 pg_notify`.
            while at(i).is_some_and(|c| c.is_ascii_digit() || c == '.' || c == '_') {
                i += 1;
            }
            tokens.push(Token::Literal);
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    Ok(tokens)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

/// The index after the string whose body starts at `i` (`''` is a quote; with
/// `backslashes`, `\` escapes the next character).
fn skip_string(chars: &[char], mut i: usize, backslashes: bool) -> usize {
    while let Some(&c) = chars.get(i) {
        if backslashes && c == '\\' {
            i += 2;
        } else if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// The name of the quoted identifier whose body starts at `i`, and the index after it.
fn quoted_identifier(chars: &[char], mut i: usize) -> (String, usize) {
    let mut name = String::new();
    while let Some(&c) = chars.get(i) {
        if c == '"' {
            if chars.get(i + 1) == Some(&'"') {
                name.push('"');
                i += 2;
            } else {
                return (name, i + 1);
            }
        } else {
            name.push(c);
            i += 1;
        }
    }
    (name, chars.len())
}

/// The dollar-quote tag (`$$` or `$name$`) starting at `i`, if one does.
fn dollar_tag(chars: &[char], i: usize) -> Option<String> {
    let mut j = i + 1;
    while let Some(&c) = chars.get(j) {
        if c == '$' {
            return Some(chars[i..=j].iter().collect());
        }
        let ok = if j == i + 1 {
            is_ident_start(c)
        } else {
            is_ident_char(c) && c != '$'
        };
        if !ok {
            return None;
        }
        j += 1;
    }
    None
}

/// The index after the dollar-quoted body that starts at `i` and ends with `tag`.
fn skip_dollar_quoted(chars: &[char], i: usize, tag: &str) -> usize {
    let tag: Vec<char> = tag.chars().collect();
    let mut j = i;
    while j + tag.len() <= chars.len() {
        if chars[j..j + tag.len()] == tag[..] {
            return j + tag.len();
        }
        j += 1;
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_pass() {
        for sql in [
            "SELECT 1",
            "  (SELECT 1) UNION (SELECT 2)",
            "with t as (select 1) select * from t",
            "VALUES (1), (2)",
            "TABLE students",
            "SHOW search_path",
            "EXPLAIN SELECT * FROM students",
            "-- a note\nSELECT 'pg_advisory_lock(1)' AS text_only",
            "/* pg_terminate_backend(1) /* nested */ still a comment */ SELECT 1",
            "SELECT $$ query_to_xml('x') $$",
            "SELECT $body$ pg_notify $body$, E'it\\'s pg_notify', 1.5e3",
            "SELECT proname FROM pg_proc WHERE proname = 'pg_advisory_lock'",
            "SELECT advisory_note, pg_advisory_lockout FROM t",
            "",
            "-- only a comment",
        ] {
            assert_eq!(refusal(sql), None, "{sql}");
        }
    }

    #[test]
    fn statements_that_are_not_queries_are_refused_by_name() {
        for (sql, named) in [
            ("REINDEX TABLE students", "`REINDEX`"),
            ("cluster students using students_pkey", "`CLUSTER`"),
            ("ANALYZE students", "`ANALYZE`"),
            ("VACUUM students", "`VACUUM`"),
            ("NOTIFY channel, 'x'", "`NOTIFY`"),
            ("LISTEN channel", "`LISTEN`"),
            ("LOCK TABLE students IN ACCESS EXCLUSIVE MODE", "`LOCK`"),
            ("/* hi */ ( DELETE FROM students )", "`DELETE`"),
            ("SET TRANSACTION READ WRITE", "`SET`"),
            ("COMMIT", "`COMMIT`"),
            ("DO $$BEGIN NULL; END$$", "`DO`"),
            ("'a string'", "this statement"),
        ] {
            let message = refusal(sql).unwrap_or_else(|| panic!("{sql} passed"));
            assert!(message.contains(named), "{sql}: {message}");
        }
    }

    #[test]
    fn effect_functions_are_found_however_they_are_spelled() {
        for sql in [
            "SELECT pg_advisory_lock(1)",
            "SELECT PG_ADVISORY_XACT_LOCK (1)",
            "SELECT pg_catalog.pg_try_advisory_lock(1)",
            "SELECT \"pg_advisory_lock\"(1)",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
            "SELECT/**/pg_cancel_backend(1)",
            "SELECT pg_notify('c', 'x')",
            "SELECT query_to_xml('select pg_advisory_lock(1)', true, false, '')",
            "SELECT * FROM dblink('dbname=x', 'delete from t') AS t(i int)",
            "SELECT 'it''s', pg_advisory_lock(1)",
            "SELECT E'a\\'', pg_advisory_lock(1)",
            "SELECT 1pg_notify('c', 'x')",
            "EXPLAIN ANALYZE SELECT pg_advisory_lock(1)",
            "WITH x AS (SELECT pg_advisory_lock(1)) SELECT * FROM x",
        ] {
            let message = refusal(sql).unwrap_or_else(|| panic!("{sql} passed"));
            assert!(
                message.contains("acts outside the query"),
                "{sql}: {message}"
            );
        }
    }

    #[test]
    fn unicode_escaped_identifiers_are_refused() {
        let message = refusal("SELECT U&\"pg\\0061dvisory_lock\"(1)").expect("refused");
        assert!(message.contains("Unicode escapes"), "{message}");
        // A Unicode-escaped string is only a string.
        assert_eq!(refusal("SELECT U&'d\\0061t\\+000061'"), None);
    }
}
