//! What the `servicenow` actions return: typed models built from the Table API rows
//! ([`super::wire`]), with stored values and what people see kept apart ([`Choice`],
//! [`Reference`]) and article HTML as [`RichText`].

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::api::Instance;
use super::wire::{self, Cell};
use crate::RichText;

/// A choice field: the stored code and its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Choice {
    /// The stored value (`2`).
    pub value: String,
    /// The label people see (`In Progress`).
    pub label: String,
}

impl Choice {
    /// From a cell; `None` when unset.
    pub fn of(cell: &Cell) -> Option<Self> {
        let value = cell.value()?.to_owned();
        Some(Self {
            label: cell.shown().unwrap_or(&value).to_owned(),
            value,
        })
    }
}

/// A reference to another record: its sys_id and its display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reference {
    /// The record's sys_id.
    pub sys_id: String,
    /// Its display value (a person's name, a group's name…).
    pub name: String,
}

impl Reference {
    /// From a reference cell; `None` when unset.
    pub fn of(cell: &Cell) -> Option<Self> {
        let sys_id = cell.value()?.to_owned();
        Some(Self {
            name: cell.shown().unwrap_or(&sys_id).to_owned(),
            sys_id,
        })
    }
}

fn text(cell: &Cell) -> String {
    cell.shown().unwrap_or_default().to_owned()
}

fn optional(cell: &Cell) -> Option<String> {
    cell.shown().map(str::to_owned)
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// How many records match in all (ServiceNow's `X-Total-Count`).
    pub total: Option<u64>,
    /// Pass as `offset` for the next page; absent on the last one.
    pub next_offset: Option<u32>,
}

impl<T> Page<T> {
    /// A page read at `offset` with `limit`.
    pub fn new(items: Vec<T>, total: Option<u64>, offset: u32, limit: u32) -> Self {
        let read = u64::from(offset) + items.len() as u64;
        let more = match total {
            Some(total) => read < total,
            None => items.len() as u32 >= limit,
        };
        let next_offset = more.then(|| u32::try_from(read).unwrap_or(u32::MAX));
        Self {
            items,
            total,
            next_offset,
        }
    }
}

/// An incident, as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentSummary {
    /// `INC0012345`.
    pub number: String,
    /// The record's sys_id.
    pub sys_id: String,
    /// One-line summary.
    pub short_description: String,
    /// New, In Progress, On Hold, Resolved, Closed, Canceled.
    pub state: Option<Choice>,
    /// 1 - Critical … 5 - Planning.
    pub priority: Option<Choice>,
    /// 1 - High, 2 - Medium, 3 - Low.
    pub urgency: Option<Choice>,
    /// 1 - High, 2 - Medium, 3 - Low.
    pub impact: Option<Choice>,
    /// Category.
    pub category: Option<Choice>,
    /// Who reported it.
    pub caller: Option<Reference>,
    /// Who works on it.
    pub assigned_to: Option<Reference>,
    /// The group that works on it.
    pub assignment_group: Option<Reference>,
    /// When it was opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// Whether it is still open.
    pub active: bool,
    /// The incident in ServiceNow.
    pub web_link: Option<String>,
}

impl IncidentSummary {
    /// From an `incident` row.
    pub fn from_row(instance: &Instance<'_>, row: &wire::Incident) -> Self {
        Self {
            number: text(&row.number),
            sys_id: text(&row.sys_id),
            short_description: text(&row.short_description),
            state: Choice::of(&row.state),
            priority: Choice::of(&row.priority),
            urgency: Choice::of(&row.urgency),
            impact: Choice::of(&row.impact),
            category: Choice::of(&row.category),
            caller: Reference::of(&row.caller_id),
            assigned_to: Reference::of(&row.assigned_to),
            assignment_group: Reference::of(&row.assignment_group),
            opened_at: row.opened_at.time(),
            updated_at: row.sys_updated_on.time(),
            active: row.active.flag(),
            web_link: row
                .sys_id
                .value()
                .and_then(|id| instance.web_link(&format!("/incident.do?sys_id={id}"))),
        }
    }
}

/// A comment or work note on an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JournalEntry {
    /// `comment` (seen by the caller) or `work_note` (internal).
    pub kind: String,
    /// Who wrote it (user name).
    pub author: String,
    /// When.
    pub created_at: Option<DateTime<Utc>>,
    /// The text.
    pub text: String,
}

impl JournalEntry {
    /// From a `sys_journal_field` row.
    pub fn from_row(row: &wire::Journal) -> Self {
        Self {
            kind: if row.element.value == "work_notes" {
                "work_note"
            } else {
                "comment"
            }
            .to_owned(),
            author: text(&row.sys_created_by),
            created_at: row.sys_created_on.time(),
            text: row.value.value.clone(),
        }
    }
}

/// An incident with its description and recent comments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: IncidentSummary,
    /// The full description.
    pub description: Option<String>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How it was closed.
    pub close_notes: Option<String>,
    /// The latest comments (and work notes, for those who may read them), newest first.
    pub comments: Vec<JournalEntry>,
}

/// A knowledge article, as searches show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArticleSummary {
    /// `KB0010001`.
    pub number: String,
    /// The record's sys_id.
    pub sys_id: String,
    /// Title.
    pub title: String,
    /// The knowledge base it belongs to.
    pub knowledge_base: Option<Reference>,
    /// Its category.
    pub category: Option<Reference>,
    /// Last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// How often it was read.
    pub view_count: Option<u64>,
    /// The article in ServiceNow.
    pub web_link: Option<String>,
}

impl ArticleSummary {
    /// From a `kb_knowledge` row.
    pub fn from_row(instance: &Instance<'_>, row: &wire::Article) -> Self {
        let number = text(&row.number);
        Self {
            web_link: instance.web_link(&format!("/kb_view.do?sysparm_article={number}")),
            number,
            sys_id: text(&row.sys_id),
            title: text(&row.short_description),
            knowledge_base: Reference::of(&row.kb_knowledge_base),
            category: Reference::of(&row.kb_category),
            updated_at: row.sys_updated_on.time(),
            view_count: row.sys_view_count.value().and_then(|v| v.parse().ok()),
        }
    }
}

/// A knowledge article with its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KnowledgeArticle {
    /// The article.
    #[serde(flatten)]
    pub article: ArticleSummary,
    /// The content, sanitized, and as plain text.
    pub body: RichText,
}

/// An orderable catalog item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogItem {
    /// The item's sys_id.
    pub sys_id: String,
    /// Name.
    pub name: String,
    /// One-line description.
    pub short_description: String,
    /// Its category.
    pub category: Option<Reference>,
    /// Price as the catalog shows it.
    pub price: Option<String>,
    /// The item in the service portal.
    pub web_link: Option<String>,
}

impl CatalogItem {
    /// From an `sc_cat_item` row.
    pub fn from_row(instance: &Instance<'_>, row: &wire::CatalogItem) -> Self {
        let sys_id = text(&row.sys_id);
        Self {
            web_link: instance.web_link(&format!("/sp?id=sc_cat_item&sys_id={sys_id}")),
            sys_id,
            name: text(&row.name),
            short_description: text(&row.short_description),
            category: Reference::of(&row.category),
            price: optional(&row.price).filter(|p| p != "0" && !p.starts_with("$0.00")),
        }
    }
}

/// An approval of a request or requested item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ApprovalStatus {
    /// Who must approve.
    pub approver: Option<Reference>,
    /// Requested, approved, rejected…
    pub state: Option<Choice>,
}

/// One item of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestItemStatus {
    /// `RITM0010001`.
    pub number: String,
    /// The catalog item ordered.
    pub item: Option<Reference>,
    /// Where it is in its workflow (waiting for approval, fulfillment, delivered…).
    pub stage: Option<Choice>,
    /// Open, work in progress, closed…
    pub state: Option<Choice>,
    /// Approval state.
    pub approval: Option<Choice>,
}

impl RequestItemStatus {
    /// From an `sc_req_item` row.
    pub fn from_row(row: &wire::RequestItem) -> Self {
        Self {
            number: text(&row.number),
            item: Reference::of(&row.cat_item),
            stage: Choice::of(&row.stage),
            state: Choice::of(&row.state),
            approval: Choice::of(&row.approval),
        }
    }
}

/// Where a request (`REQ…`) or requested item (`RITM…`) stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestStatus {
    /// The number asked about.
    pub number: String,
    /// `request` or `requested_item`.
    pub kind: String,
    /// For a requested item, the request it belongs to.
    pub request_number: Option<String>,
    /// Where it is in its workflow.
    pub stage: Option<Choice>,
    /// Its state.
    pub state: Option<Choice>,
    /// Approval state.
    pub approval: Option<Choice>,
    /// Who it is for.
    pub requested_for: Option<Reference>,
    /// When it was opened.
    pub opened_at: Option<DateTime<Utc>>,
    /// For a request, its items.
    pub items: Vec<RequestItemStatus>,
    /// The approvals asked for, as far as the instance lets you read them (approvers and
    /// `itil` users usually; requesters often not).
    pub approvals: Vec<ApprovalStatus>,
}

/// A person, with public fields only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserSummary {
    /// The user's sys_id.
    pub sys_id: String,
    /// Sign-in name.
    pub user_name: String,
    /// Full name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<String>,
}

impl UserSummary {
    /// From a `sys_user` row.
    pub fn from_row(row: &wire::User) -> Self {
        Self {
            sys_id: text(&row.sys_id),
            user_name: text(&row.user_name),
            name: text(&row.name),
            email: optional(&row.email),
            title: optional(&row.title),
            department: optional(&row.department),
        }
    }

    /// `Name (user_name, email)` for the connection's identity.
    pub fn identity(&self) -> Option<String> {
        let mut details: Vec<&str> = vec![self.user_name.as_str()];
        if let Some(email) = self.email.as_deref() {
            details.push(email);
        }
        details.retain(|d| !d.is_empty());
        match (self.name.is_empty(), details.is_empty()) {
            (true, true) => None,
            (true, false) => Some(details.join(", ")),
            (false, true) => Some(self.name.clone()),
            (false, false) => Some(format!("{} ({})", self.name, details.join(", "))),
        }
    }
}

impl ApprovalStatus {
    /// From a `sysapproval_approver` row.
    pub fn from_row(row: &wire::Approval) -> Self {
        Self {
            approver: Reference::of(&row.approver),
            state: Choice::of(&row.state),
        }
    }
}
