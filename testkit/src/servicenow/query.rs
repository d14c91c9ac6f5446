//! Encoded queries (`sysparm_query`) parsed and evaluated as ServiceNow does:
//! - `^` joins conditions with AND; `^OR` joins a condition to the one before with OR, and
//!   OR binds tighter (`a^b^ORc` is `a AND (b OR c)`); `^NQ` starts a new query OR-ed with
//!   everything before (`q1^NQq2` is `q1 OR q2`); `ORDERBY<field>` / `ORDERBYDESC<field>`
//!   sort (the first is the primary key); `EQ` ends a query and is ignored.
//! - Values are literal: nothing escapes a `^`, so a value containing `^OR…` or `^NQ…`
//!   splits the query there — a client that pastes user input into a query widens it.
//! - `javascript:gs.getUserID()` is the caller's sys_id, `javascript:gs.getUserName()` their
//!   user_name; any other `javascript:` value is compared as the literal string (the fake
//!   never evaluates script).
//! - A condition on a field the table does not have (or that does not parse) is dropped,
//!   as with `glide.invalid_query.returns_no_rows` at its default `false`: the rest of the
//!   query decides (a query of only invalid conditions matches everything).
//! - `=`, `!=` and `IN` compare case-insensitively (the default database collation);
//!   `LIKE`, `STARTSWITH`, `ENDSWITH` are case-insensitive too; `<`, `>`… compare numbers
//!   as numbers, anything else (dates included) as text. `123TEXTQUERY321=<words>` matches
//!   records whose text fields together contain every word.

use std::cmp::Ordering;

/// The field name of a full-text condition.
pub(super) const TEXT_QUERY: &str = "123TEXTQUERY321";

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
    Lt,
    Le,
    Gt,
    Ge,
    Anything,
}

/// Operators by their spelling, longest first where one starts another.
const OPERATORS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("ISEMPTY", Op::IsEmpty),
    ("ANYTHING", Op::Anything),
    ("NOT LIKE", Op::NotLike),
    ("NOT IN", Op::NotIn),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("LIKE", Op::Like),
    ("IN", Op::In),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("=", Op::Eq),
    ("<", Op::Lt),
    (">", Op::Gt),
];

/// One condition: `field op value` (`field` may be dot-walked, or [`TEXT_QUERY`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Condition {
    pub(super) field: String,
    pub(super) op: Op,
    pub(super) value: String,
}

/// A parsed encoded query: `alternatives` are OR-ed (`^NQ`); each is an AND of groups; each
/// group an OR of conditions (`^OR`). `None` in a group: a condition that did not parse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Query {
    pub(super) alternatives: Vec<Vec<Vec<Option<Condition>>>>,
    /// `(field, descending)`, the primary sort key first.
    pub(super) order: Vec<(String, bool)>,
}

/// Parses an encoded query; nothing is rejected (what does not parse is dropped later).
pub(super) fn parse(text: &str) -> Query {
    let mut query = Query::default();
    let mut current: Vec<Vec<Option<Condition>>> = Vec::new();
    for term in text.split('^') {
        if term.is_empty() || term == "EQ" {
            continue;
        }
        if let Some(field) = term.strip_prefix("ORDERBYDESC") {
            query.order.push((field.to_owned(), true));
        } else if let Some(field) = term.strip_prefix("ORDERBY") {
            query.order.push((field.to_owned(), false));
        } else if let Some(rest) = term.strip_prefix("NQ") {
            query.alternatives.push(std::mem::take(&mut current));
            current.push(vec![condition(rest)]);
        } else if let Some(rest) = term.strip_prefix("OR") {
            // `^OR` adds to the condition before; a query that starts with it has none.
            match current.last_mut() {
                Some(group) => group.push(condition(rest)),
                None => current.push(vec![condition(rest)]),
            }
        } else {
            current.push(vec![condition(term)]);
        }
    }
    query.alternatives.push(current);
    query
}

/// `field op value`; `None` when no operator follows the field name.
fn condition(term: &str) -> Option<Condition> {
    let field_len = if term.starts_with(TEXT_QUERY) {
        TEXT_QUERY.len()
    } else {
        term.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_.".contains(c)))
            .unwrap_or(term.len())
    };
    let (field, rest) = term.split_at(field_len);
    if field.is_empty() {
        return None;
    }
    let (spelling, op) = OPERATORS.iter().find(|(s, _)| rest.starts_with(s))?;
    Some(Condition {
        field: field.to_owned(),
        op: *op,
        value: rest[spelling.len()..].to_owned(),
    })
}

/// Who runs the query: what `javascript:gs.getUserID()` and `…getUserName()` stand for.
pub(super) struct Caller<'a> {
    pub(super) sys_id: &'a str,
    pub(super) user_name: &'a str,
}

impl Query {
    /// Drops the conditions `valid` refuses (and groups left empty), and puts the caller in
    /// for the two `javascript:` values the instance resolves.
    pub(super) fn resolve(mut self, valid: impl Fn(&str) -> bool, caller: &Caller<'_>) -> Self {
        for alternative in &mut self.alternatives {
            for group in alternative.iter_mut() {
                group.retain(|c| {
                    c.as_ref()
                        .is_some_and(|c| c.field == TEXT_QUERY || valid(&c.field))
                });
                for c in group.iter_mut().flatten() {
                    c.value = match c.value.as_str() {
                        "javascript:gs.getUserID()" => caller.sys_id.to_owned(),
                        "javascript:gs.getUserName()" => caller.user_name.to_owned(),
                        _ => continue,
                    };
                }
            }
            alternative.retain(|group| !group.is_empty());
        }
        self.order.retain(|(field, _)| valid(field));
        self
    }

    /// Whether a record matches: `value` gives a field's raw value, `text` the record's text
    /// fields joined (for [`TEXT_QUERY`]).
    pub(super) fn matches(
        &self,
        value: impl Fn(&str) -> String,
        text: impl Fn() -> String,
    ) -> bool {
        self.alternatives.iter().any(|alternative| {
            alternative.iter().all(|group| {
                group.iter().flatten().any(|c| {
                    if c.field == TEXT_QUERY {
                        let haystack = text().to_lowercase();
                        c.value
                            .split_whitespace()
                            .all(|word| haystack.contains(&word.to_lowercase()))
                    } else {
                        test(c.op, &value(&c.field), &c.value)
                    }
                })
            })
        })
    }
}

/// `field op wanted` for a field whose raw value is `have`.
fn test(op: Op, have: &str, wanted: &str) -> bool {
    let (h, w) = (have.to_lowercase(), wanted.to_lowercase());
    let listed = || w.split(',').any(|item| item.trim() == h);
    match op {
        Op::Eq => h == w,
        Op::Ne => h != w,
        Op::Like => h.contains(&w),
        Op::NotLike => !h.contains(&w),
        Op::StartsWith => h.starts_with(&w),
        Op::EndsWith => h.ends_with(&w),
        Op::In => listed(),
        Op::NotIn => !listed(),
        Op::IsEmpty => have.is_empty(),
        Op::IsNotEmpty => !have.is_empty(),
        Op::Anything => true,
        Op::Lt => !have.is_empty() && compare(have, wanted) == Ordering::Less,
        Op::Le => !have.is_empty() && compare(have, wanted) != Ordering::Greater,
        Op::Gt => !have.is_empty() && compare(have, wanted) == Ordering::Greater,
        Op::Ge => !have.is_empty() && compare(have, wanted) != Ordering::Less,
    }
}

/// Numbers as numbers, anything else as case-insensitive text.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}
