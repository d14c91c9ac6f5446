//! A record as the Table API renders it, shaped by `sysparm_display_value`,
//! `sysparm_exclude_reference_link` and `sysparm_fields`:
//! - `false` (default): raw values; a reference is `{"link": …, "value": <sys_id>}`.
//! - `true`: display values (a reference's record's name, a choice's label, a price with
//!   its currency); a reference is `{"display_value": …, "link": …}`.
//! - `all`: every field `{"display_value": …, "value": …}`, a reference with `link` too.
//! - `sysparm_exclude_reference_link=true` drops every `link` (a reference is then a plain
//!   string in `false` and `true`). An empty reference is `""` (`{"display_value": "",
//!   "value": ""}` in `all`), never a link.
//! - `sysparm_fields`: only these fields, in the order asked, dot-walked ones
//!   (`caller_id.email`) under their dotted name; fields the table does not have are left out.
//!
//! Journal inputs (`comments`, `work_notes`) read as `""`; their display value is the
//! journal, newest first, each entry `<time> - <name> (Additional comments|Work notes)\n<text>\n\n`
//! (`work_notes` only for `itil`). Dates are `2026-12-01 10:00:00`, UTC, in both forms.

use serde_json::{Map, Value, json};

use super::acl::{Viewer, can_read_journal};
use super::routes::Call;
use super::schema::{self, Kind};
use super::state::{Row, State, get};

/// Which values `sysparm_display_value` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Raw,
    Display,
    All,
}

/// How records are rendered for one request.
pub(super) struct Shape {
    mode: Mode,
    links: bool,
    fields: Option<Vec<String>>,
}

impl Shape {
    /// The shape a request's parameters ask for.
    pub(super) fn of(call: &Call) -> Self {
        let mode = match call.param("sysparm_display_value").map(str::to_lowercase) {
            Some(v) if v == "true" => Mode::Display,
            Some(v) if v == "all" => Mode::All,
            _ => Mode::Raw,
        };
        let fields = call
            .param("sysparm_fields")
            .filter(|f| !f.trim().is_empty())
            .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect());
        Self {
            mode,
            links: !call.flag("sysparm_exclude_reference_link"),
            fields,
        }
    }
}

/// `row` of `table` rendered for `viewer` as `shape` says.
pub(super) fn render(
    state: &State,
    base_url: &str,
    viewer: &Viewer,
    table: &str,
    row: &Row,
    shape: &Shape,
) -> Value {
    let names: Vec<String> = match &shape.fields {
        Some(fields) => fields.clone(),
        None => schema::fields(table).map(|(f, _)| f.to_owned()).collect(),
    };
    let mut out = Map::new();
    for name in names {
        let (owner_table, owner, field) = match name.split_once('.') {
            None => (table, Some(row), name.as_str()),
            Some((reference, rest)) => match schema::kind(table, reference) {
                Some(Kind::Reference(target)) => {
                    let found = state.referenced(target, get(row, reference));
                    let target = found.map_or(target, |(t, _)| t);
                    (target, found.map(|(_, r)| r), rest)
                }
                _ => continue,
            },
        };
        let kind_table = if owner_table == "task" {
            "incident"
        } else {
            owner_table
        };
        let Some(kind) = schema::kind(kind_table, field) else {
            continue;
        };
        let empty = Row::new();
        let owner = owner.unwrap_or(&empty);
        let value = field_value(
            state,
            base_url,
            viewer,
            owner_table,
            owner,
            field,
            kind,
            shape,
        );
        out.insert(name, value);
    }
    Value::Object(out)
}

/// One field's JSON.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
fn field_value(
    state: &State,
    base_url: &str,
    viewer: &Viewer,
    table: &str,
    row: &Row,
    field: &str,
    kind: Kind,
    shape: &Shape,
) -> Value {
    let raw = get(row, field);
    if let Kind::Reference(target) = kind {
        if raw.is_empty() {
            return match shape.mode {
                Mode::All => json!({"display_value": "", "value": ""}),
                _ => json!(""),
            };
        }
        let found = state.referenced(target, raw);
        let display = found.map_or(String::new(), |(t, r)| {
            get(r, schema::display_field(t)).to_owned()
        });
        let link = format!("{base_url}/api/now/table/{target}/{raw}");
        let mut object = Map::new();
        if shape.mode != Mode::Raw {
            object.insert("display_value".into(), json!(display));
        }
        if shape.links {
            object.insert("link".into(), json!(link));
        }
        if shape.mode != Mode::Display {
            object.insert("value".into(), json!(raw));
        }
        return match (shape.mode, shape.links) {
            (Mode::Raw, false) => json!(raw),
            (Mode::Display, false) => json!(display),
            _ => Value::Object(object),
        };
    }
    let raw = if kind == Kind::Journal { "" } else { raw };
    let display = || display_value(state, viewer, table, row, field, kind);
    match shape.mode {
        Mode::Raw => json!(raw),
        Mode::Display => json!(display()),
        Mode::All => json!({"display_value": display(), "value": raw}),
    }
}

/// A non-reference field's display value.
fn display_value(
    state: &State,
    viewer: &Viewer,
    table: &str,
    row: &Row,
    field: &str,
    kind: Kind,
) -> String {
    let raw = get(row, field);
    match kind {
        Kind::Choice(choices) => schema::label(choices, raw).to_owned(),
        Kind::Price if !raw.is_empty() => {
            let amount = raw.parse::<f64>().unwrap_or(0.0);
            format!("${amount:.2}")
        }
        Kind::Journal if can_read_journal(viewer, field) => journal(state, table, row, field),
        Kind::Journal => String::new(),
        _ => raw.to_owned(),
    }
}

/// The journal of `field` on a record, newest first, as the instance prints it.
fn journal(state: &State, table: &str, row: &Row, field: &str) -> String {
    let heading = if field == "work_notes" {
        "Work notes"
    } else {
        "Additional comments"
    };
    let sys_id = get(row, "sys_id");
    let mut entries: Vec<&Row> = state
        .rows("sys_journal_field")
        .iter()
        .filter(|j| get(j, "name") == table && get(j, "element_id") == sys_id)
        .filter(|j| get(j, "element") == field)
        .collect();
    entries.reverse();
    entries
        .iter()
        .map(|j| {
            let author = get(j, "sys_created_by");
            let name = state
                .rows("sys_user")
                .iter()
                .find(|u| get(u, "user_name") == author)
                .map_or(author, |u| get(u, "name"));
            let (when, text) = (get(j, "sys_created_on"), get(j, "value"));
            format!("{when} - {name} ({heading})\n{text}\n\n")
        })
        .collect()
}
