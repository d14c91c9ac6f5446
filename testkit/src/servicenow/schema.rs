//! The tables the fake instance knows, their fields and what kind each field is (a reference
//! and the table it points at, a choice list with its labels, a journal input…), and which
//! field names a record of each table (its display value when referenced).

/// What a field holds; every value is stored and sent as a string, as ServiceNow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A string (searched by `123TEXTQUERY321`).
    Text,
    /// HTML (searched by `123TEXTQUERY321`).
    Html,
    /// The sys_id of a record of this table (`task`: an incident, request or requested item).
    Reference(&'static str),
    /// One of these raw values, each with its label.
    Choice(&'static [(&'static str, &'static str)]),
    /// `true` / `false`.
    Bool,
    /// `2026-12-01 10:00:00`, UTC.
    Date,
    /// An integer.
    Number,
    /// A decimal amount, displayed as `$12.50`.
    Price,
    /// A write-only journal input (`comments`, `work_notes`): reading it gives the journal.
    Journal,
}

/// The fields every record has.
const SYSTEM: &[(&str, Kind)] = &[
    ("sys_id", Kind::Text),
    ("sys_created_on", Kind::Date),
    ("sys_created_by", Kind::Text),
    ("sys_updated_on", Kind::Date),
    ("sys_updated_by", Kind::Text),
    ("sys_mod_count", Kind::Number),
];

const INCIDENT_STATE: &[(&str, &str)] = &[
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
];
const PRIORITY: &[(&str, &str)] = &[
    ("1", "1 - Critical"),
    ("2", "2 - High"),
    ("3", "3 - Moderate"),
    ("4", "4 - Low"),
    ("5", "5 - Planning"),
];
const IMPACT_URGENCY: &[(&str, &str)] = &[("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")];
const INCIDENT_CATEGORY: &[(&str, &str)] = &[
    ("inquiry", "Inquiry / Help"),
    ("software", "Software"),
    ("hardware", "Hardware"),
    ("network", "Network"),
    ("database", "Database"),
];
const WORKFLOW_STATE: &[(&str, &str)] = &[
    ("draft", "Draft"),
    ("review", "Review"),
    ("published", "Published"),
    ("pending_retirement", "Pending Retirement"),
    ("retired", "Retired"),
];
const REQUEST_STATE: &[(&str, &str)] = &[
    ("requested", "Pending Approval"),
    ("in_process", "Approved"),
    ("closed_complete", "Closed Complete"),
    ("closed_incomplete", "Closed Incomplete"),
    ("closed_cancelled", "Closed Cancelled"),
    ("closed_rejected", "Closed Rejected"),
];
const APPROVAL: &[(&str, &str)] = &[
    ("not requested", "Not Yet Requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
];
const ITEM_STAGE: &[(&str, &str)] = &[
    ("waiting_for_approval", "Waiting for Approval"),
    ("request_approved", "Request Approved"),
    ("fulfillment", "Fulfillment"),
    ("delivery", "Delivery"),
    ("complete", "Completed"),
    ("Request Cancelled", "Request Cancelled"),
];
const TASK_STATE: &[(&str, &str)] = &[
    ("-5", "Pending"),
    ("1", "Open"),
    ("2", "Work in Progress"),
    ("3", "Closed Complete"),
    ("4", "Closed Incomplete"),
    ("7", "Closed Skipped"),
];
const APPROVER_STATE: &[(&str, &str)] = &[
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
    ("not_required", "No Longer Required"),
];

/// Every table, in the order the fake lists them, with its own fields.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "incident",
        &[
            ("number", Kind::Text),
            ("short_description", Kind::Text),
            ("description", Kind::Text),
            ("state", Kind::Choice(INCIDENT_STATE)),
            ("priority", Kind::Choice(PRIORITY)),
            ("urgency", Kind::Choice(IMPACT_URGENCY)),
            ("impact", Kind::Choice(IMPACT_URGENCY)),
            ("category", Kind::Choice(INCIDENT_CATEGORY)),
            ("caller_id", Kind::Reference("sys_user")),
            ("opened_by", Kind::Reference("sys_user")),
            ("assigned_to", Kind::Reference("sys_user")),
            ("assignment_group", Kind::Reference("sys_user_group")),
            ("opened_at", Kind::Date),
            ("resolved_at", Kind::Date),
            ("closed_at", Kind::Date),
            ("close_code", Kind::Text),
            ("close_notes", Kind::Text),
            ("active", Kind::Bool),
            ("comments", Kind::Journal),
            ("work_notes", Kind::Journal),
        ],
    ),
    (
        "sys_journal_field",
        &[
            ("element", Kind::Text),
            ("element_id", Kind::Text),
            ("name", Kind::Text),
            ("value", Kind::Text),
        ],
    ),
    (
        "kb_knowledge_base",
        &[
            ("title", Kind::Text),
            ("description", Kind::Text),
            ("active", Kind::Bool),
        ],
    ),
    (
        "kb_category",
        &[
            ("label", Kind::Text),
            ("parent_id", Kind::Reference("kb_category")),
            ("kb_knowledge_base", Kind::Reference("kb_knowledge_base")),
            ("active", Kind::Bool),
        ],
    ),
    (
        "kb_knowledge",
        &[
            ("number", Kind::Text),
            ("short_description", Kind::Text),
            ("text", Kind::Html),
            ("kb_knowledge_base", Kind::Reference("kb_knowledge_base")),
            ("kb_category", Kind::Reference("kb_category")),
            ("workflow_state", Kind::Choice(WORKFLOW_STATE)),
            ("published", Kind::Date),
            ("sys_view_count", Kind::Number),
            ("author", Kind::Reference("sys_user")),
            ("active", Kind::Bool),
        ],
    ),
    (
        "sc_category",
        &[
            ("title", Kind::Text),
            ("description", Kind::Text),
            ("active", Kind::Bool),
        ],
    ),
    (
        "sc_cat_item",
        &[
            ("name", Kind::Text),
            ("short_description", Kind::Text),
            ("description", Kind::Html),
            ("category", Kind::Reference("sc_category")),
            ("active", Kind::Bool),
            ("price", Kind::Price),
        ],
    ),
    (
        "sc_request",
        &[
            ("number", Kind::Text),
            ("short_description", Kind::Text),
            ("request_state", Kind::Choice(REQUEST_STATE)),
            ("stage", Kind::Text),
            ("approval", Kind::Choice(APPROVAL)),
            ("requested_for", Kind::Reference("sys_user")),
            ("opened_by", Kind::Reference("sys_user")),
            ("opened_at", Kind::Date),
            ("active", Kind::Bool),
        ],
    ),
    (
        "sc_req_item",
        &[
            ("number", Kind::Text),
            ("short_description", Kind::Text),
            ("request", Kind::Reference("sc_request")),
            ("cat_item", Kind::Reference("sc_cat_item")),
            ("stage", Kind::Choice(ITEM_STAGE)),
            ("state", Kind::Choice(TASK_STATE)),
            ("approval", Kind::Choice(APPROVAL)),
            ("requested_for", Kind::Reference("sys_user")),
            ("quantity", Kind::Number),
            ("opened_at", Kind::Date),
            ("active", Kind::Bool),
        ],
    ),
    (
        "sysapproval_approver",
        &[
            ("sysapproval", Kind::Reference("task")),
            ("approver", Kind::Reference("sys_user")),
            ("state", Kind::Choice(APPROVER_STATE)),
            ("comments", Kind::Journal),
        ],
    ),
    (
        "sys_user",
        &[
            ("user_name", Kind::Text),
            ("name", Kind::Text),
            ("first_name", Kind::Text),
            ("last_name", Kind::Text),
            ("email", Kind::Text),
            ("title", Kind::Text),
            ("department", Kind::Text),
            ("active", Kind::Bool),
        ],
    ),
    (
        "sys_user_group",
        &[
            ("name", Kind::Text),
            ("description", Kind::Text),
            ("active", Kind::Bool),
        ],
    ),
];

/// The tables a `task` reference may point into.
pub(super) const TASK_TABLES: &[&str] = &["incident", "sc_request", "sc_req_item"];

/// The table's name as the fake spells it, if the fake has that table.
pub(super) fn table(name: &str) -> Option<&'static str> {
    TABLES.iter().find(|(t, _)| *t == name).map(|(t, _)| *t)
}

/// Every table name.
pub(super) fn tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().map(|(t, _)| *t)
}

/// The table's fields, its own first, then the system fields.
pub(super) fn fields(table: &str) -> impl Iterator<Item = (&'static str, Kind)> {
    let own = TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map_or(&[][..], |(_, f)| *f);
    own.iter().chain(SYSTEM.iter()).copied()
}

/// What kind of field `field` is on `table` (`None`: the table has no such field).
pub(super) fn kind(table: &str, field: &str) -> Option<Kind> {
    fields(table).find(|(f, _)| *f == field).map(|(_, k)| k)
}

/// The field whose value names a record when it is referenced.
pub(super) fn display_field(table: &str) -> &'static str {
    match table {
        "sys_user" | "sys_user_group" | "sc_cat_item" => "name",
        "kb_knowledge_base" | "sc_category" => "title",
        "kb_category" => "label",
        "incident" | "sc_request" | "sc_req_item" | "kb_knowledge" => "number",
        _ => "sys_id",
    }
}

/// The label of a choice value (the value itself when the list does not have it).
pub(super) fn label<'a>(choices: &[(&str, &'a str)], value: &'a str) -> &'a str {
    choices
        .iter()
        .find(|(v, _)| *v == value)
        .map_or(value, |(_, l)| *l)
}
