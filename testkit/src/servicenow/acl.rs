//! Who may read and write what — the fake's row and field ACLs. `admin` passes every check.
//! Reading:
//! - `incident`: `itil` sees all; anyone else only those they are `caller_id` or
//!   `assigned_to` of. Journal rows follow their incident, and `work_notes` rows need `itil`.
//! - `kb_knowledge`: the article's base must be active and readable by the user (see
//!   `set_kb_readers`; unrestricted by default), and the article `published` — users with
//!   `knowledge` also see drafts, reviews and retired ones. Bases and categories follow the
//!   same base check.
//! - `sc_request`, `sc_req_item`: `itil`, or the `requested_for` user.
//!   `sysapproval_approver`: `itil`, or the `approver`.
//! - `sc_cat_item`: active items (`catalog_admin` sees all); `sc_category`, groups: everyone;
//!   `sys_user`: active users (admins also see inactive ones).
//!
//! Writing: `itil` creates and updates incidents; anyone may create an incident for
//! themselves and, on an incident they can read, change `short_description`,
//! `description`, `urgency` and add `comments`. `work_notes` need `itil`. An approver
//! sets `state` and `comments` of their own approvals. Every other write needs `admin`.
//! A refused write is 403 (`ACL Exception Update Failed…`); a record the user cannot read
//! is 404 (`No Record found`), in a list it is silently left out.

use super::state::{Row, State, get};

/// The authenticated user behind a request.
pub(super) struct Viewer {
    pub(super) sys_id: String,
    pub(super) user_name: String,
    pub(super) roles: Vec<String>,
}

impl Viewer {
    /// Whether the user has `role` (`admin` has every role).
    pub(super) fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role || r == "admin")
    }
}

/// Fields a caller without `itil` may set on an incident.
const CALLER_WRITABLE: &[&str] = &["short_description", "description", "urgency", "comments"];

/// Whether `viewer` may read `row` of `table`.
pub(super) fn can_read(state: &State, viewer: &Viewer, table: &str, row: &Row) -> bool {
    if viewer.has("admin") {
        return true;
    }
    let me = viewer.sys_id.as_str();
    match table {
        "incident" => {
            viewer.has("itil") || get(row, "caller_id") == me || get(row, "assigned_to") == me
        }
        "sys_journal_field" => {
            let parent = state.row(get(row, "name"), get(row, "element_id"));
            let visible = parent.is_some_and(|p| can_read(state, viewer, get(row, "name"), p));
            visible && (get(row, "element") != "work_notes" || viewer.has("itil"))
        }
        "kb_knowledge" => {
            let published = get(row, "workflow_state") == "published";
            (published || viewer.has("knowledge"))
                && can_read_base(state, viewer, get(row, "kb_knowledge_base"))
        }
        "kb_knowledge_base" => can_read_base(state, viewer, get(row, "sys_id")),
        "kb_category" => can_read_base(state, viewer, get(row, "kb_knowledge_base")),
        "sc_request" | "sc_req_item" => viewer.has("itil") || get(row, "requested_for") == me,
        "sysapproval_approver" => viewer.has("itil") || get(row, "approver") == me,
        "sc_cat_item" => viewer.has("catalog_admin") || get(row, "active") == "true",
        "sys_user" => get(row, "active") == "true",
        _ => true,
    }
}

/// Whether the knowledge base is active and `viewer` among its readers.
fn can_read_base(state: &State, viewer: &Viewer, base: &str) -> bool {
    let active = state
        .row("kb_knowledge_base", base)
        .is_some_and(|b| get(b, "active") == "true");
    let reader = state
        .kb_readers
        .get(base)
        .is_none_or(|readers| readers.contains(&viewer.sys_id));
    active && (reader || viewer.has("admin"))
}

/// Whether `viewer` may read the journal of `element` (`work_notes` needs `itil`).
pub(super) fn can_read_journal(viewer: &Viewer, element: &str) -> bool {
    element != "work_notes" || viewer.has("itil")
}

/// Whether `viewer` may create a record of `table` with these fields.
pub(super) fn can_create(viewer: &Viewer, table: &str, fields: &Row) -> bool {
    if viewer.has("admin") || (table == "incident" && viewer.has("itil")) {
        return true;
    }
    if table != "incident" {
        return false;
    }
    let for_self = ["caller_id", "opened_by"].iter().all(|f| {
        fields
            .get(*f)
            .is_none_or(|v| v.is_empty() || *v == viewer.sys_id)
    });
    let allowed = |f: &str| {
        CALLER_WRITABLE.contains(&f)
            || ["impact", "category", "caller_id", "opened_by"].contains(&f)
    };
    for_self && fields.keys().all(|f| allowed(f))
}

/// Whether `viewer` may set these fields on `row` (which they can read) of `table`.
pub(super) fn can_update(viewer: &Viewer, table: &str, row: &Row, fields: &Row) -> bool {
    if viewer.has("admin") {
        return true;
    }
    match table {
        "incident" if viewer.has("itil") => true,
        "incident" => fields.keys().all(|f| CALLER_WRITABLE.contains(&f.as_str())),
        "sysapproval_approver" => {
            get(row, "approver") == viewer.sys_id
                && fields.keys().all(|f| f == "state" || f == "comments")
        }
        _ => false,
    }
}
