//! ServiceNow's Table API JSON as read with `sysparm_display_value=all` and
//! `sysparm_exclude_reference_link=true`: every field is `{"value", "display_value"}` —
//! the stored value (a choice code, a sys_id, a UTC date `2026-12-01 10:00:00`) and what
//! people see (the label, the referenced record's name, the date in the user's format) —
//! kept apart here. The row types name the fields each action asks for in
//! `sysparm_fields`; a field the instance leaves out reads as empty.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One field: the stored value and the displayed one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Cell {
    /// The stored value (empty when unset).
    #[serde(deserialize_with = "scalar")]
    pub value: String,
    /// What the instance shows people.
    #[serde(deserialize_with = "scalar")]
    pub display_value: String,
}

impl Cell {
    /// The stored value, `None` when empty.
    pub fn value(&self) -> Option<&str> {
        Some(self.value.as_str()).filter(|v| !v.is_empty())
    }

    /// The displayed value, else the stored one; `None` when both are empty.
    pub fn shown(&self) -> Option<&str> {
        Some(self.display_value.as_str())
            .filter(|v| !v.is_empty())
            .or_else(|| self.value())
    }

    /// The stored value read as a UTC date-time (`yyyy-MM-dd HH:mm:ss`).
    pub fn time(&self) -> Option<DateTime<Utc>> {
        NaiveDateTime::parse_from_str(self.value()?, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc())
    }

    /// The stored value read as a boolean (`true`/`false`).
    pub fn flag(&self) -> bool {
        self.value.eq_ignore_ascii_case("true")
    }
}

/// Strings as they are, numbers and booleans as their text, `null` as empty.
fn scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    })
}

/// `{"result": …}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// The record or the records.
    pub result: T,
}

/// Declares a row type: every field a [`Cell`], absent ones empty.
macro_rules! row {
    ($(#[$doc:meta])* $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(default)]
        pub struct $name {
            $(
                #[doc = concat!("`", stringify!($field), "`.")]
                pub $field: Cell,
            )*
        }

        impl $name {
            /// The `sysparm_fields` that fill this row.
            pub const FIELDS: &'static str = concat!($(stringify!($field), ","),*);
        }
    };
}

row!(
    /// `incident`.
    Incident {
        sys_id, number, short_description, description, state, priority, urgency, impact,
        category, caller_id, assigned_to, assignment_group, opened_at, sys_updated_on,
        resolved_at, close_notes, active,
    }
);

row!(
    /// `sys_journal_field`: one comment or work note.
    Journal { element, value, sys_created_by, sys_created_on }
);

row!(
    /// `kb_knowledge`.
    Article {
        sys_id, number, short_description, text, kb_knowledge_base, kb_category,
        workflow_state, sys_updated_on, sys_view_count,
    }
);

row!(
    /// `kb_knowledge_base`.
    KnowledgeBase { sys_id, title, description }
);

row!(
    /// `kb_category`.
    KbCategory { sys_id, label, parent_id, kb_knowledge_base }
);

row!(
    /// `sc_cat_item`.
    CatalogItem { sys_id, name, short_description, category, price, active }
);

row!(
    /// `sc_request`.
    Request { sys_id, number, request_state, stage, approval, requested_for, opened_at }
);

row!(
    /// `sc_req_item`.
    RequestItem { sys_id, number, request, cat_item, stage, state, approval, requested_for, opened_at }
);

row!(
    /// `sysapproval_approver`.
    Approval { sysapproval, approver, state }
);

row!(
    /// `sys_user`.
    User { sys_id, user_name, name, email, title, department }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_value_all_rows_keep_value_and_label_apart() {
        let row: Incident = serde_json::from_value(serde_json::json!({
            "sys_id": {"value": "9d385017c611228701d22104cc95c371", "display_value": "9d385017c611228701d22104cc95c371"},
            "number": {"value": "INC0010001", "display_value": "INC0010001"},
            "state": {"value": "2", "display_value": "In Progress"},
            "caller_id": {"value": "62826bf03710200044e0bfc8bcbe5df1", "display_value": "Abel Tuter"},
            "opened_at": {"value": "2026-12-01 10:00:00", "display_value": "01/12/2026 11:00:00"},
            "active": {"value": true, "display_value": "true"},
            "unknown": {"value": "x", "display_value": "x"}
        }))
        .expect("reads");
        assert_eq!(
            (row.state.value(), row.state.shown()),
            (Some("2"), Some("In Progress"))
        );
        assert_eq!(row.caller_id.shown(), Some("Abel Tuter"));
        assert_eq!(
            row.opened_at.time().map(|t| t.to_rfc3339()),
            Some("2026-12-01T10:00:00+00:00".to_owned())
        );
        assert!(row.active.flag());
        assert_eq!(row.description.shown(), None);
        assert!(Incident::FIELDS.starts_with("sys_id,number,short_description,"));
    }
}
