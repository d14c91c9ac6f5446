//! The `q` language of `files.list`: what Drive accepts (`'<id>' in parents`, `name
//! contains`, `mimeType`, `trashed`, time comparisons, `and`/`or`/`not`, parentheses…)
//! parsed into a [`Query`] that matches items; anything else is refused.

use super::tree::Node;
use super::{ROOT, ROOT_ID};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lexeme {
    Text(String),
    Word(String),
    Op(&'static str),
    Open,
    Close,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Query {
    All,
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    InParents(String),
    OwnedByMe,
    Name(&'static str, String),
    FullText(String),
    Mime(&'static str, String),
    Flag(&'static str, bool),
    Time(&'static str, &'static str, String),
}

pub(super) fn tokenize(q: &str) -> Option<Vec<Lexeme>> {
    let mut tokens = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next()? {
                        '\\' => text.push(chars.next()?),
                        '\'' => break,
                        other => text.push(other),
                    }
                }
                tokens.push(Lexeme::Text(text));
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if c == '(' {
                    Lexeme::Open
                } else {
                    Lexeme::Close
                });
            }
            '=' => {
                chars.next();
                tokens.push(Lexeme::Op("="));
            }
            '!' | '<' | '>' => {
                chars.next();
                let equals = chars.next_if_eq(&'=').is_some();
                let op = match (c, equals) {
                    ('!', true) => "!=",
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    _ => return None,
                };
                tokens.push(Lexeme::Op(op));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    word.push(c);
                }
                tokens.push(Lexeme::Word(word));
            }
            _ => return None,
        }
    }
    Some(tokens)
}

pub(super) struct Parser {
    pub(super) tokens: Vec<Lexeme>,
    pub(super) position: usize,
}

impl Parser {
    pub(super) fn parse(q: &str) -> Option<Query> {
        let tokens = tokenize(q)?;
        if tokens.is_empty() {
            return Some(Query::All);
        }
        let mut parser = Self {
            tokens,
            position: 0,
        };
        let query = parser.or()?;
        (parser.position == parser.tokens.len()).then_some(query)
    }

    pub(super) fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.position), Some(Lexeme::Word(w)) if w == word)
    }

    pub(super) fn next(&mut self) -> Option<Lexeme> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    pub(super) fn or(&mut self) -> Option<Query> {
        let mut terms = vec![self.and()?];
        while self.peek_word("or") {
            self.position += 1;
            terms.push(self.and()?);
        }
        Some(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Query::Or(terms)
        })
    }

    pub(super) fn and(&mut self) -> Option<Query> {
        let mut terms = vec![self.unary()?];
        while self.peek_word("and") {
            self.position += 1;
            terms.push(self.unary()?);
        }
        Some(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Query::And(terms)
        })
    }

    pub(super) fn unary(&mut self) -> Option<Query> {
        if self.peek_word("not") {
            self.position += 1;
            return Some(Query::Not(Box::new(self.unary()?)));
        }
        if self.tokens.get(self.position) == Some(&Lexeme::Open) {
            self.position += 1;
            let inner = self.or()?;
            return (self.next()? == Lexeme::Close).then_some(inner);
        }
        self.condition()
    }

    pub(super) fn condition(&mut self) -> Option<Query> {
        match self.next()? {
            Lexeme::Text(value) => {
                let Lexeme::Word(in_word) = self.next()? else {
                    return None;
                };
                let Lexeme::Word(collection) = self.next()? else {
                    return None;
                };
                match (in_word.as_str(), collection.as_str(), value.as_str()) {
                    ("in", "parents", _) => Some(Query::InParents(value)),
                    ("in", "owners", "me") => Some(Query::OwnedByMe),
                    _ => None,
                }
            }
            Lexeme::Word(field) => {
                let op = match self.next()? {
                    Lexeme::Op(op) => op,
                    Lexeme::Word(w) if w == "contains" => "contains",
                    _ => return None,
                };
                let value = self.next()?;
                match (field.as_str(), op, value) {
                    ("name", "contains" | "=" | "!=", Lexeme::Text(v)) => Some(Query::Name(op, v)),
                    ("fullText", "contains", Lexeme::Text(v)) => Some(Query::FullText(v)),
                    ("mimeType", "contains" | "=" | "!=", Lexeme::Text(v)) => {
                        Some(Query::Mime(op, v))
                    }
                    ("trashed" | "starred" | "sharedWithMe", "=" | "!=", Lexeme::Word(v))
                        if v == "true" || v == "false" =>
                    {
                        let field = match field.as_str() {
                            "trashed" => "trashed",
                            "starred" => "starred",
                            _ => "sharedWithMe",
                        };
                        Some(Query::Flag(field, (v == "true") == (op == "=")))
                    }
                    ("modifiedTime" | "createdTime", _, Lexeme::Text(v)) if op != "contains" => {
                        let field = if field == "modifiedTime" {
                            "modifiedTime"
                        } else {
                            "createdTime"
                        };
                        Some(Query::Time(field, op, v))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl Query {
    pub(super) fn matches(&self, node: &Node) -> bool {
        match self {
            Self::All => true,
            Self::And(terms) => terms.iter().all(|t| t.matches(node)),
            Self::Or(terms) => terms.iter().any(|t| t.matches(node)),
            Self::Not(inner) => !inner.matches(node),
            Self::InParents(id) => {
                let id = if id == ROOT { ROOT_ID } else { id.as_str() };
                node.parent.as_deref() == Some(id)
            }
            Self::OwnedByMe => node.owned_by_me,
            Self::Name("contains", text) | Self::FullText(text) => word_prefix(&node.name, text),
            Self::Name("=", text) => node.name == *text,
            Self::Name(_, text) => node.name != *text,
            Self::Mime("contains", text) => node.mime.contains(text.as_str()),
            Self::Mime("=", text) => node.mime == *text,
            Self::Mime(_, text) => node.mime != *text,
            Self::Flag(field, wanted) => {
                let value = match *field {
                    "trashed" => node.trashed,
                    "starred" => node.starred,
                    _ => node.shared_with_me,
                };
                value == *wanted
            }
            Self::Time(field, op, text) => {
                let at = if *field == "modifiedTime" {
                    node.modified
                } else {
                    node.created
                };
                let Some(wanted) = parse_time(text) else {
                    return false;
                };
                match *op {
                    "<" => at < wanted,
                    "<=" => at <= wanted,
                    ">" => at > wanted,
                    ">=" => at >= wanted,
                    "=" => at == wanted,
                    _ => at != wanted,
                }
            }
        }
    }
}

/// Drive's `name contains`: a case-insensitive match at the start of the name or of a word
/// in it ("HelloWorld" matches `'Hello'`, not `'World'`).
pub(super) fn word_prefix(name: &str, text: &str) -> bool {
    let name = name.to_lowercase();
    let text = text.to_lowercase();
    if text.is_empty() {
        return true;
    }
    name.match_indices(&text).any(|(i, _)| {
        name[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

pub(super) fn parse_time(text: &str) -> Option<i64> {
    let with_zone = if text.ends_with('Z') || text.contains('+') {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    chrono::DateTime::parse_from_rfc3339(&with_zone)
        .ok()
        .map(|t| t.timestamp())
}

pub(super) fn format_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}
