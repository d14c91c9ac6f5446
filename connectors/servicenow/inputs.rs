//! The `servicenow` action inputs: typed, validated (lengths, enums, record numbers such as
//! `INC0012345`, 32-hex sys_ids), and the choice codes they stand for.

use schemars::JsonSchema;
use serde::Deserialize;
use validator::Validate;

use crate::ConnectorError;

/// Records per page when the caller does not say.
pub const DEFAULT_LIMIT: u32 = 20;

/// An incident state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// New.
    New,
    /// In Progress.
    InProgress,
    /// On Hold.
    OnHold,
    /// Resolved.
    Resolved,
    /// Closed.
    Closed,
    /// Canceled.
    Canceled,
}

impl IncidentState {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::New => "1",
            Self::InProgress => "2",
            Self::OnHold => "3",
            Self::Resolved => "6",
            Self::Closed => "7",
            Self::Canceled => "8",
        }
    }
}

/// An incident priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// 1 - Critical.
    Critical,
    /// 2 - High.
    High,
    /// 3 - Moderate.
    Moderate,
    /// 4 - Low.
    Low,
    /// 5 - Planning.
    Planning,
}

impl Priority {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Critical => "1",
            Self::High => "2",
            Self::Moderate => "3",
            Self::Low => "4",
            Self::Planning => "5",
        }
    }
}

/// Urgency or impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 1 - High.
    High,
    /// 2 - Medium.
    Medium,
    /// 3 - Low.
    Low,
}

impl Level {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::High => "1",
            Self::Medium => "2",
            Self::Low => "3",
        }
    }
}

/// Parameters of `list_my_incidents`.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListMyIncidentsInput {
    /// Only incidents in this state (`new`, `in_progress`, `on_hold`, `resolved`, `closed`,
    /// `canceled`); open ones of any state when absent.
    #[serde(default)]
    pub state: Option<IncidentState>,
    /// Only this priority (`critical`, `high`, `moderate`, `low`, `planning`).
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Words in the short description or description (`^` and line breaks are refused).
    #[serde(default)]
    #[validate(length(min = 1, max = 200))]
    pub search: Option<String>,
    /// Also closed and resolved incidents when no `state` is given (default false).
    #[serde(default)]
    pub include_closed: bool,
    /// Incidents per page, 1 to 100 (default 20).
    #[serde(default)]
    #[validate(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// `next_offset` of the previous page.
    #[serde(default)]
    #[validate(range(max = 100000))]
    pub offset: Option<u32>,
}

/// Parameters naming one incident.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct IncidentInput {
    /// The incident's number (`INC0012345`) or sys_id.
    #[validate(length(min = 1, max = 40))]
    pub incident: String,
}

/// Parameters of `create_incident`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateIncidentInput {
    /// One line saying what is wrong (1 to 160 characters).
    #[validate(length(min = 1, max = 160))]
    pub short_description: String,
    /// The details (up to 4000 characters).
    #[serde(default)]
    #[validate(length(max = 4000))]
    pub description: Option<String>,
    /// How soon it must be fixed: `high`, `medium` or `low` (the instance's default when
    /// absent).
    #[serde(default)]
    pub urgency: Option<Level>,
    /// How many people it affects: `high`, `medium` or `low`.
    #[serde(default)]
    pub impact: Option<Level>,
    /// A category value of the instance (`inquiry`, `software`, `hardware`, `network`…).
    #[serde(default)]
    #[validate(length(min = 1, max = 40))]
    pub category: Option<String>,
}

/// Parameters of `update_incident`: only these fields can change.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateIncidentInput {
    /// The incident's number (`INC0012345`) or sys_id.
    #[validate(length(min = 1, max = 40))]
    pub incident: String,
    /// A new one-line summary.
    #[serde(default)]
    #[validate(length(min = 1, max = 160))]
    pub short_description: Option<String>,
    /// A new description.
    #[serde(default)]
    #[validate(length(max = 4000))]
    pub description: Option<String>,
    /// A new urgency.
    #[serde(default)]
    pub urgency: Option<Level>,
    /// A new impact.
    #[serde(default)]
    pub impact: Option<Level>,
    /// A new category value.
    #[serde(default)]
    #[validate(length(min = 1, max = 40))]
    pub category: Option<String>,
}

/// Parameters of `add_incident_comment`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    /// The incident's number (`INC0012345`) or sys_id.
    #[validate(length(min = 1, max = 40))]
    pub incident: String,
    /// The comment (1 to 4000 characters).
    #[validate(length(min = 1, max = 4000))]
    pub text: String,
    /// A work note (internal, for users with the `itil` role) instead of a comment the
    /// caller sees (default false).
    #[serde(default)]
    pub work_note: bool,
}

/// Parameters of `search_knowledge`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SearchKnowledgeInput {
    /// Words to find in published articles (2 to 100 characters).
    #[validate(length(min = 2, max = 100))]
    pub query: String,
    /// Only this knowledge base (its sys_id).
    #[serde(default)]
    #[validate(length(equal = 32))]
    pub knowledge_base: Option<String>,
    /// Articles per page, 1 to 100 (default 20).
    #[serde(default)]
    #[validate(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// `next_offset` of the previous page.
    #[serde(default)]
    #[validate(range(max = 100000))]
    pub offset: Option<u32>,
}

/// Parameters naming one knowledge article.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// The article's number (`KB0010001`) or sys_id.
    #[validate(length(min = 1, max = 40))]
    pub article: String,
}

/// Parameters of `list_catalog_items`.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListCatalogItemsInput {
    /// Only items of this category (its sys_id).
    #[serde(default)]
    #[validate(length(equal = 32))]
    pub category: Option<String>,
    /// Words in the item's name or description.
    #[serde(default)]
    #[validate(length(min = 1, max = 100))]
    pub search: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[serde(default)]
    #[validate(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// `next_offset` of the previous page.
    #[serde(default)]
    #[validate(range(max = 100000))]
    pub offset: Option<u32>,
}

/// Parameters of `get_request_status`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// A request number (`REQ0010001`) or requested-item number (`RITM0010001`).
    #[validate(length(min = 4, max = 40))]
    pub number: String,
}

/// Parameters of `lookup_user`: exactly one of the two.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LookupUserInput {
    /// The person's email address.
    #[serde(default)]
    #[validate(email, length(max = 254))]
    pub email: Option<String>,
    /// The person's user name.
    #[serde(default)]
    #[validate(length(min = 1, max = 80))]
    pub user_name: Option<String>,
}

/// A record named by number or by sys_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordRef {
    /// `INC0012345` (letters, then digits; upper-cased).
    Number(String),
    /// A 32-hex sys_id (lower-cased).
    SysId(String),
}

impl RecordRef {
    /// Parses `raw` from `field`; `example` shows the expected number shape.
    pub fn parse(field: &str, raw: &str, example: &str) -> Result<Self, ConnectorError> {
        let raw = raw.trim();
        if let Some(sys_id) = sys_id(raw) {
            return Ok(Self::SysId(sys_id));
        }
        let upper = raw.to_ascii_uppercase();
        let letters = upper.chars().take_while(char::is_ascii_uppercase).count();
        let digits = &upper[letters..];
        if (2..=8).contains(&letters)
            && (4..=12).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(Self::Number(upper));
        }
        Err(ConnectorError::invalid_field(
            field,
            format!("`{field}`: expected a number such as `{example}` or a 32-character sys_id"),
        ))
    }
}

/// `raw` as a sys_id: 32 hex digits, lower-cased.
pub fn sys_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| raw.to_ascii_lowercase())
}

/// `raw` as a sys_id, or `InvalidInput` naming `field`.
pub fn require_sys_id(field: &str, raw: &str) -> Result<String, ConnectorError> {
    sys_id(raw).ok_or_else(|| {
        ConnectorError::invalid_field(field, format!("`{field}`: expected a 32-character sys_id"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_named_by_number_or_sys_id() {
        assert_eq!(
            RecordRef::parse("incident", " inc0012345 ", "INC0012345").ok(),
            Some(RecordRef::Number("INC0012345".into()))
        );
        assert_eq!(
            RecordRef::parse("incident", "9D385017C611228701D22104CC95C371", "INC0012345").ok(),
            Some(RecordRef::SysId("9d385017c611228701d22104cc95c371".into()))
        );
        for bad in [
            "INC",
            "12345",
            "INC12",
            "INC0012345^ORactive=true",
            "INC 0012345",
            "x",
            "INC00123456789012",
        ] {
            assert!(
                RecordRef::parse("incident", bad, "INC0012345").is_err(),
                "{bad}"
            );
        }
    }
}
