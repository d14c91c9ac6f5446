//! What tests put into the fake instance — users and roles, groups, incidents and their
//! journal, knowledge bases, categories and articles, catalog categories and items,
//! requests with their items, approvals — and what they read back for assertions. Every
//! record gets a sys_id (32 lowercase hex digits), `sys_created_on`/`sys_updated_on` from
//! the fake's clock and, for task-like tables, the next number (`INC0010001`, `KB0010001`,
//! `REQ0010001`, `RITM0010001`). Records are created by `admin`.

use serde_json::{Map, Value};

use super::FakeServiceNow;
use super::state::{Row, State, get};
use super::table::{apply, new_row, write_journal};

/// One journal entry of a record (`sys_journal_field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// `comments` or `work_notes`.
    pub element: String,
    /// The text.
    pub value: String,
    /// The author's user_name.
    pub created_by: String,
    /// `2026-12-01 10:00:00`, UTC.
    pub created_on: String,
}

/// Who creates seeded records.
const SEEDER: &str = "admin";

impl FakeServiceNow {
    /// Inserts a record of `table` with `fields` (and the table's defaults); returns the row.
    fn insert(&self, table: &'static str, fields: &[(&str, &str)]) -> Row {
        let mut state = self.shared.lock();
        let mut row = new_row(&mut state, table, SEEDER);
        let given: Row = fields
            .iter()
            .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
            .collect();
        apply(&mut state, table, &mut row, given, SEEDER);
        state.tables.entry(table).or_default().push(row.clone());
        row
    }

    /// Sets fields of a record as an `admin` write would (an incident's priority follows
    /// its impact and urgency; its state sets `resolved_at`, `closed_at`, `active`).
    pub fn set_fields(&self, table: &str, sys_id: &str, fields: &[(&str, &str)]) {
        let mut state = self.shared.lock();
        let Some(mut row) = state.row(table, sys_id).cloned() else {
            panic!("fake ServiceNow: no {table} {sys_id}");
        };
        let given: Row = fields
            .iter()
            .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
            .collect();
        apply(&mut state, table, &mut row, given, SEEDER);
        // A priority set directly wins over the computed one (seeding odd data).
        for (field, value) in fields.iter().filter(|(f, _)| *f == "priority") {
            row.insert((*field).to_owned(), (*value).to_owned());
        }
        if let Some(stored) = state.row_mut(table, sys_id) {
            *stored = row;
        }
    }

    /// Adds an active user; returns their sys_id.
    pub fn add_user(&self, user_name: &str, name: &str, email: &str) -> String {
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        let fields = [
            ("user_name", user_name),
            ("name", name),
            ("first_name", first),
            ("last_name", last),
            ("email", email),
        ];
        get(&self.insert("sys_user", &fields), "sys_id").to_owned()
    }

    /// Replaces a user's roles (`itil`, `knowledge`, `catalog_admin`, `admin`…).
    pub fn set_roles(&self, user: &str, roles: &[&str]) {
        let roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self.shared.lock().roles.insert(user.to_owned(), roles);
    }

    /// Adds a group; returns its sys_id.
    pub fn add_group(&self, name: &str) -> String {
        get(&self.insert("sys_user_group", &[("name", name)]), "sys_id").to_owned()
    }

    /// Adds a new incident (state New, impact and urgency 3 - Low, priority 5 - Planning)
    /// opened by `caller`; returns its sys_id and number.
    pub fn add_incident(
        &self,
        caller: &str,
        short_description: &str,
        description: &str,
    ) -> (String, String) {
        let fields = [
            ("caller_id", caller),
            ("opened_by", caller),
            ("short_description", short_description),
            ("description", description),
        ];
        let row = self.insert("incident", &fields);
        (
            get(&row, "sys_id").to_owned(),
            get(&row, "number").to_owned(),
        )
    }

    /// Sets an incident's `state` (`1` New … `6` Resolved, `7` Closed, `8` Canceled).
    pub fn set_incident_state(&self, incident: &str, state: &str) {
        self.set_fields("incident", incident, &[("state", state)]);
    }

    /// Sets an incident's impact and urgency (`1`…`3`); its priority follows.
    pub fn set_impact_urgency(&self, incident: &str, impact: &str, urgency: &str) {
        self.set_fields(
            "incident",
            incident,
            &[("impact", impact), ("urgency", urgency)],
        );
    }

    /// Assigns an incident to a user and a group (`None`: left empty).
    pub fn assign_incident(&self, incident: &str, assigned_to: Option<&str>, group: Option<&str>) {
        let fields = [
            ("assigned_to", assigned_to.unwrap_or_default()),
            ("assignment_group", group.unwrap_or_default()),
        ];
        self.set_fields("incident", incident, &fields);
    }

    /// Adds a comment (or, with `work_note`, a work note) by `user` to an incident.
    pub fn add_comment(&self, incident: &str, user: &str, text: &str, work_note: bool) {
        let mut state = self.shared.lock();
        let author = user_name(&state, user);
        let element = if work_note { "work_notes" } else { "comments" };
        let entry = vec![(element.to_owned(), text.to_owned())];
        write_journal(&mut state, "incident", incident, entry, &author);
    }

    /// An incident's journal, oldest first (work notes included).
    pub fn journal(&self, incident: &str) -> Vec<JournalEntry> {
        let state = self.shared.lock();
        state
            .rows("sys_journal_field")
            .iter()
            .filter(|j| get(j, "element_id") == incident)
            .map(|j| JournalEntry {
                element: get(j, "element").to_owned(),
                value: get(j, "value").to_owned(),
                created_by: get(j, "sys_created_by").to_owned(),
                created_on: get(j, "sys_created_on").to_owned(),
            })
            .collect()
    }

    /// Adds an active knowledge base everyone may read; returns its sys_id.
    pub fn add_kb(&self, title: &str) -> String {
        get(
            &self.insert("kb_knowledge_base", &[("title", title)]),
            "sys_id",
        )
        .to_owned()
    }

    /// Restricts who may read a knowledge base (`None`: everyone).
    pub fn set_kb_readers(&self, kb: &str, readers: Option<&[&str]>) {
        let mut state = self.shared.lock();
        match readers {
            Some(users) => {
                let users = users.iter().map(|u| (*u).to_owned()).collect();
                state.kb_readers.insert(kb.to_owned(), users);
            }
            None => {
                state.kb_readers.remove(kb);
            }
        }
    }

    /// Adds a category to a knowledge base, under `parent` (another category) if given;
    /// returns its sys_id.
    pub fn add_kb_category(&self, kb: &str, label: &str, parent: Option<&str>) -> String {
        let fields = [
            ("kb_knowledge_base", kb),
            ("label", label),
            ("parent_id", parent.unwrap_or_default()),
        ];
        get(&self.insert("kb_category", &fields), "sys_id").to_owned()
    }

    /// Adds an article (`workflow_state`: `draft`, `review`, `published`, `retired`); a
    /// published one gets today's `published` date. Returns its sys_id and number.
    pub fn add_article(
        &self,
        kb: &str,
        category: Option<&str>,
        short_description: &str,
        html_text: &str,
        workflow_state: &str,
    ) -> (String, String) {
        let today = self.now().format("%Y-%m-%d").to_string();
        let published = if workflow_state == "published" {
            today.as_str()
        } else {
            ""
        };
        let fields = [
            ("kb_knowledge_base", kb),
            ("kb_category", category.unwrap_or_default()),
            ("short_description", short_description),
            ("text", html_text),
            ("workflow_state", workflow_state),
            ("published", published),
            ("sys_view_count", "0"),
        ];
        let row = self.insert("kb_knowledge", &fields);
        (
            get(&row, "sys_id").to_owned(),
            get(&row, "number").to_owned(),
        )
    }

    /// Adds a service catalog category; returns its sys_id.
    pub fn add_catalog_category(&self, title: &str) -> String {
        get(&self.insert("sc_category", &[("title", title)]), "sys_id").to_owned()
    }

    /// Adds a catalog item (price 0); returns its sys_id.
    pub fn add_catalog_item(
        &self,
        name: &str,
        short_description: &str,
        category: Option<&str>,
        active: bool,
    ) -> String {
        let fields = [
            ("name", name),
            ("short_description", short_description),
            ("category", category.unwrap_or_default()),
            ("active", if active { "true" } else { "false" }),
            ("price", "0"),
        ];
        get(&self.insert("sc_cat_item", &fields), "sys_id").to_owned()
    }

    /// Adds a request for `requested_for` with one requested item per `(cat_item, stage)`
    /// (`stage`: `waiting_for_approval`, `fulfillment`, `complete`…). Returns the request's
    /// sys_id, its number and the items' numbers.
    pub fn add_request(
        &self,
        requested_for: &str,
        items: &[(&str, &str)],
    ) -> (String, String, Vec<String>) {
        let fields = [
            ("requested_for", requested_for),
            ("opened_by", requested_for),
            ("request_state", "requested"),
            ("stage", "requested"),
            ("approval", "requested"),
        ];
        let request = self.insert("sc_request", &fields);
        let request_id = get(&request, "sys_id").to_owned();
        let numbers = items
            .iter()
            .map(|(cat_item, stage)| {
                let name = self
                    .record("sc_cat_item", cat_item)
                    .and_then(|r| r.get("name").cloned());
                let name = name
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let fields = [
                    ("request", request_id.as_str()),
                    ("cat_item", *cat_item),
                    ("short_description", name.as_str()),
                    ("stage", *stage),
                    ("state", "1"),
                    ("approval", "requested"),
                    ("requested_for", requested_for),
                    ("quantity", "1"),
                ];
                get(&self.insert("sc_req_item", &fields), "number").to_owned()
            })
            .collect();
        (request_id, get(&request, "number").to_owned(), numbers)
    }

    /// Adds an approval of a request or requested item (`record`, a sys_id) by `approver`
    /// (`state`: `requested`, `approved`, `rejected`); returns its sys_id.
    pub fn add_approval(&self, record: &str, approver: &str, state: &str) -> String {
        let fields = [
            ("sysapproval", record),
            ("approver", approver),
            ("state", state),
        ];
        get(&self.insert("sysapproval_approver", &fields), "sys_id").to_owned()
    }

    /// From now on every write to `table` fails with 403 `Operation Failed` and this detail,
    /// as an aborting business rule would (`None`: writes work again).
    pub fn set_business_rule_error(&self, table: &str, detail: Option<&str>) {
        let mut state = self.shared.lock();
        match detail {
            Some(detail) => {
                state
                    .business_rule_errors
                    .insert(table.to_owned(), detail.to_owned());
            }
            None => {
                state.business_rule_errors.remove(table);
            }
        }
    }

    /// A record's raw values (journal inputs excluded), for assertions.
    pub fn record(&self, table: &str, sys_id: &str) -> Option<Map<String, Value>> {
        let state = self.shared.lock();
        let row = state.row(table, sys_id)?;
        Some(
            row.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// The user_name of a user sys_id (the sys_id itself when there is no such user).
fn user_name(state: &State, user: &str) -> String {
    state
        .row("sys_user", user)
        .map_or(user, |u| get(u, "user_name"))
        .to_owned()
}
