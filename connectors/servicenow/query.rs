//! The one way a `sysparm_query` is built: [`Query`] of [`Condition`]s on field names the
//! connector wrote, with values that can only be [`Text`] (checked), the signed-in user, or
//! a constant.
//!
//! ServiceNow's encoded queries have no escape: `^` always starts a new condition (`^OR` an
//! alternative, `^NQ` a whole new query), so `shortLIKEx^ORactive=true` or `x^NQsys_id!=0`
//! typed into a search box would widen the result to records the caller never asked for.
//! A value is therefore refused when it holds `^`, a line break or any control character,
//! or when it starts with `javascript:` (which the instance would evaluate). `IN` lists take
//! constants only. Field names are `&'static str` and never come from input.

use crate::ConnectorError;

/// The value the instance reads as the signed-in user's `sys_id`.
const ME: &str = "javascript:gs.getUserID()";

/// Longest text value accepted.
pub const MAX_TEXT: usize = 200;

/// A value from outside the connector, checked to be one literal in an encoded query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// Checks `raw` (trimmed), naming `field` (the input field) in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ConnectorError> {
        let value = raw.trim();
        let refuse = |why: &str| {
            Err(ConnectorError::invalid_field(
                field,
                format!("`{field}`: {why}"),
            ))
        };
        if value.is_empty() {
            return refuse("must not be empty");
        }
        if value.chars().count() > MAX_TEXT {
            return refuse(&format!("at most {MAX_TEXT} characters"));
        }
        if value.contains('^') {
            return refuse("`^` cannot be searched for (ServiceNow reads it as a query operator)");
        }
        if value.chars().any(char::is_control) {
            return refuse("line breaks and control characters are not allowed");
        }
        if value
            .get(..11)
            .is_some_and(|start| start.eq_ignore_ascii_case("javascript:"))
        {
            return refuse("a value cannot start with `javascript:`");
        }
        Ok(Self(value.to_owned()))
    }

    /// The checked value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a condition compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// Checked outside text.
    Text(Text),
    /// A value written in the connector (a choice value, `true`, a sys_id it read).
    Constant(String),
    /// The signed-in user.
    Me,
    /// No value (`ISEMPTY`, `ISNOTEMPTY`).
    None,
}

/// One `field OPERATOR value` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    field: &'static str,
    operator: &'static str,
    value: Value,
}

impl Condition {
    fn new(field: &'static str, operator: &'static str, value: Value) -> Self {
        Self {
            field,
            operator,
            value,
        }
    }

    /// `field=text`.
    pub fn eq(field: &'static str, value: Text) -> Self {
        Self::new(field, "=", Value::Text(value))
    }

    /// `field=constant`, for values the connector wrote (choice values, `true`, sys_ids it
    /// read from the instance and checked).
    pub fn is(field: &'static str, constant: impl Into<String>) -> Self {
        Self::new(field, "=", Value::Constant(constant.into()))
    }

    /// `field=<the signed-in user>`.
    pub fn is_me(field: &'static str) -> Self {
        Self::new(field, "=", Value::Me)
    }

    /// `fieldLIKEtext` (contains, case-insensitive).
    pub fn like(field: &'static str, value: Text) -> Self {
        Self::new(field, "LIKE", Value::Text(value))
    }

    /// `fieldINa,b` of constants.
    pub fn in_constants(field: &'static str, constants: &[&str]) -> Self {
        Self::new(field, "IN", Value::Constant(constants.join(",")))
    }

    /// `fieldISEMPTY`.
    pub fn is_empty(field: &'static str) -> Self {
        Self::new(field, "ISEMPTY", Value::None)
    }

    /// ServiceNow's full-text search over the table's text fields.
    pub fn text_search(words: Text) -> Self {
        Self::new("123TEXTQUERY321", "=", Value::Text(words))
    }

    fn encode(&self, out: &mut String) {
        out.push_str(self.field);
        out.push_str(self.operator);
        match &self.value {
            Value::Text(text) => out.push_str(text.as_str()),
            Value::Constant(constant) => out.push_str(constant),
            Value::Me => out.push_str(ME),
            Value::None => {}
        }
    }
}

/// An encoded query: groups of alternatives, all of which must hold, then an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    groups: Vec<Vec<Condition>>,
    order: Option<(&'static str, bool)>,
}

impl Query {
    /// An empty query (every record the caller may read).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a condition that must hold.
    pub fn and(mut self, condition: Condition) -> Self {
        self.groups.push(vec![condition]);
        self
    }

    /// Adds a group of which at least one must hold (`a^ORb`; ServiceNow binds `^OR`
    /// tighter than `^`, so each group stands on its own).
    pub fn and_any(mut self, conditions: impl IntoIterator<Item = Condition>) -> Self {
        let group: Vec<Condition> = conditions.into_iter().collect();
        if !group.is_empty() {
            self.groups.push(group);
        }
        self
    }

    /// Adds `condition` when there is one.
    pub fn and_maybe(self, condition: Option<Condition>) -> Self {
        match condition {
            Some(condition) => self.and(condition),
            None => self,
        }
    }

    /// Orders by `field`, newest or largest first when `descending`.
    pub fn order_by(mut self, field: &'static str, descending: bool) -> Self {
        self.order = Some((field, descending));
        self
    }

    /// The `sysparm_query` value.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for group in &self.groups {
            for (i, condition) in group.iter().enumerate() {
                if !out.is_empty() {
                    out.push_str(if i == 0 { "^" } else { "^OR" });
                }
                condition.encode(&mut out);
            }
        }
        if let Some((field, descending)) = self.order {
            if !out.is_empty() {
                out.push('^');
            }
            out.push_str(if descending { "ORDERBYDESC" } else { "ORDERBY" });
            out.push_str(field);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(raw: &str) -> Text {
        Text::parse("query", raw).expect("acceptable")
    }

    #[test]
    fn queries_encode_and_groups_or_alternatives_and_the_order() {
        let query = Query::new()
            .and_any([
                Condition::is_me("caller_id"),
                Condition::is_me("assigned_to"),
            ])
            .and(Condition::is("active", "true"))
            .and_any([
                Condition::like("short_description", text("printer jam")),
                Condition::like("description", text("printer jam")),
            ])
            .order_by("sys_updated_on", true);
        assert_eq!(
            query.encode(),
            "caller_id=javascript:gs.getUserID()^ORassigned_to=javascript:gs.getUserID()\
             ^active=true^short_descriptionLIKEprinter jam^ORdescriptionLIKEprinter jam\
             ^ORDERBYDESCsys_updated_on"
        );
        assert_eq!(Query::new().encode(), "");
        assert_eq!(Query::new().order_by("name", false).encode(), "ORDERBYname");
    }

    #[test]
    fn values_that_would_widen_a_query_are_refused() {
        for raw in [
            "x^ORactive=true",
            "x^NQsys_id!=0",
            "^",
            "printer\nactive=true",
            "tab\there",
            "javascript:gs.getUserID()",
            "  JavaScript:new GlideRecord('sys_user')",
            "",
            "   ",
        ] {
            let error = Text::parse("query", raw).expect_err(raw);
            assert!(
                matches!(&error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "query"),
                "{raw:?}: {error:?}"
            );
        }
        assert!(Text::parse("query", &"a".repeat(MAX_TEXT + 1)).is_err());
    }

    #[test]
    fn ordinary_text_with_operators_letters_passes_as_one_literal() {
        let query = Query::new().and(Condition::like("short_description", text("a=b != c OR d")));
        assert_eq!(query.encode(), "short_descriptionLIKEa=b != c OR d");
        assert_eq!(
            Query::new()
                .and(Condition::in_constants(
                    "element",
                    &["comments", "work_notes"]
                ))
                .and(Condition::is_empty("parent_id"))
                .and(Condition::text_search(text("vpn")))
                .encode(),
            "elementINcomments,work_notes^parent_idISEMPTY^123TEXTQUERY321=vpn"
        );
    }
}
