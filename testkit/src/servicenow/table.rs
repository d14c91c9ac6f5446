//! The Table API: `GET /api/now/table/{table}` (query, ACL filter, order, page),
//! `GET …/{sys_id}`, `POST /api/now/table/{table}` (201 with `Location`) and
//! `PATCH`/`PUT …/{sys_id}`, with the incident's write-time behaviour: numbers, defaults,
//! priority from impact and urgency, journal inputs, state side effects, the data policy on
//! `short_description` and the business-rule errors tests set.
//!
//! Lists answer `X-Total-Count` (every matching readable row) and a `Link` header:
//! `<url>;rel="first"`, `rel="prev"` (when the offset is past 0), `rel="next"` (when more
//! rows follow), `rel="last"`, each the request's URL with its other parameters kept and
//! `sysparm_offset`/`sysparm_limit` put last. `sysparm_limit` defaults to, and is capped at,
//! [`MAX_LIMIT`].

use actix_web::http::{StatusCode, header};
use serde_json::{Value, json};

use super::acl::{Viewer, can_create, can_read, can_update};
use super::display::{Shape, render};
use super::errors::{
    acl_refused, invalid_table, json_response, not_found, operation_failed, unreadable_body,
};
use super::query::{self, Caller, compare};
use super::routes::{Answer, Call, Refusal};
use super::schema::{self, Kind};
use super::state::{Row, Shared, State, get, glide_time, new_sys_id};

/// The most rows one page holds, and the page size without `sysparm_limit`.
pub const MAX_LIMIT: usize = 10_000;

/// Fields a write never sets.
const READ_ONLY: &[&str] = &[
    "sys_id",
    "number",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
];

fn table_of(name: &str) -> Result<&'static str, Refusal> {
    schema::table(name).ok_or_else(|| invalid_table(name).into())
}

/// `GET /api/now/table/{table}`.
pub(super) fn list(shared: &Shared, call: &Call, viewer: &Viewer, table: &str) -> Answer {
    let table = table_of(table)?;
    let state = shared.lock();
    let caller = Caller {
        sys_id: &viewer.sys_id,
        user_name: &viewer.user_name,
    };
    let valid = |field: &str| state.walk(table, &Row::new(), field).is_some();
    let query =
        query::parse(call.param("sysparm_query").unwrap_or_default()).resolve(valid, &caller);
    let mut rows: Vec<&Row> = state
        .rows(table)
        .iter()
        .filter(|row| can_read(&state, viewer, table, row))
        .filter(|row| {
            let value = |field: &str| state.walk(table, row, field).unwrap_or_default();
            query.matches(value, || text_of(table, row))
        })
        .collect();
    for (field, descending) in query.order.iter().rev() {
        rows.sort_by(|a, b| {
            let (x, y) = (state.walk(table, a, field), state.walk(table, b, field));
            let order = compare(&x.unwrap_or_default(), &y.unwrap_or_default());
            if *descending { order.reverse() } else { order }
        });
    }
    let number = |name: &str| {
        call.param(name)
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    let limit = number("sysparm_limit")
        .filter(|n| *n > 0)
        .map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT));
    let offset = number("sysparm_offset").unwrap_or(0);
    let total = rows.len();
    let shape = Shape::of(call);
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|row| render(&state, &shared.base_url, viewer, table, row, &shape))
        .collect();
    let mut response = json_response(StatusCode::OK, &json!({"result": page}));
    let headers = response.headers_mut();
    headers.insert(
        header::HeaderName::from_static("x-total-count"),
        header::HeaderValue::from(total),
    );
    if let Ok(link) =
        header::HeaderValue::from_str(&links(&shared.base_url, call, offset, limit, total))
    {
        headers.insert(header::LINK, link);
    }
    Ok(response)
}

/// The `Link` header of a page.
fn links(base_url: &str, call: &Call, offset: usize, limit: usize, total: usize) -> String {
    let url = |offset: usize| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in url::form_urlencoded::parse(call.query.as_bytes()) {
            if !matches!(key.as_ref(), "sysparm_offset" | "sysparm_limit") {
                query.append_pair(&key, &value);
            }
        }
        query.append_pair("sysparm_offset", &offset.to_string());
        query.append_pair("sysparm_limit", &limit.to_string());
        format!("{base_url}{}?{}", call.path, query.finish())
    };
    let mut parts = vec![(url(0), "first")];
    if offset > 0 {
        parts.push((url(offset.saturating_sub(limit)), "prev"));
    }
    if offset + limit < total {
        parts.push((url(offset + limit), "next"));
    }
    parts.push((url(total.saturating_sub(1) / limit * limit), "last"));
    let parts: Vec<String> = parts
        .iter()
        .map(|(u, rel)| format!("<{u}>;rel=\"{rel}\""))
        .collect();
    parts.join(",")
}

/// The text fields of a row, for `123TEXTQUERY321`.
fn text_of(table: &str, row: &Row) -> String {
    schema::fields(table)
        .filter(|(_, kind)| matches!(kind, Kind::Text | Kind::Html))
        .map(|(field, _)| get(row, field))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `GET /api/now/table/{table}/{sys_id}`: 404 for a row the viewer may not read.
pub(super) fn read(
    shared: &Shared,
    call: &Call,
    viewer: &Viewer,
    table: &str,
    sys_id: &str,
) -> Answer {
    let table = table_of(table)?;
    let state = shared.lock();
    let row = state
        .row(table, sys_id)
        .filter(|row| can_read(&state, viewer, table, row))
        .ok_or_else(|| Box::new(not_found()))?;
    let result = render(
        &state,
        &shared.base_url,
        viewer,
        table,
        row,
        &Shape::of(call),
    );
    Ok(json_response(StatusCode::OK, &json!({"result": result})))
}

/// The JSON object of a write as field → string value (unknown fields are ignored, as the
/// instance ignores them; a reference given as `{"value": …}` is taken by its value).
fn fields_of(table: &str, body: &[u8]) -> Result<Row, Refusal> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Err(unreadable_body().into());
    };
    let mut fields = Row::new();
    for (name, value) in object {
        if schema::kind(table, &name).is_none() || READ_ONLY.contains(&name.as_str()) {
            continue;
        }
        let value = match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            Value::Object(o) => o
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            other => other.to_string(),
        };
        fields.insert(name, value);
    }
    Ok(fields)
}

/// Data policies and aborting business rules, which run after the ACLs.
fn check_rules(state: &State, table: &str, row: &Row) -> Result<(), Refusal> {
    if table == "incident" && get(row, "short_description").trim().is_empty() {
        return Err(
            operation_failed("Data Policy Exception: Short description is mandatory").into(),
        );
    }
    match state.business_rule_errors.get(table) {
        Some(detail) => Err(operation_failed(detail).into()),
        None => Ok(()),
    }
}

/// `POST /api/now/table/{table}`.
pub(super) fn create(
    shared: &Shared,
    call: &Call,
    viewer: &Viewer,
    table: &str,
    body: &[u8],
) -> Answer {
    let table = table_of(table)?;
    let fields = fields_of(table, body)?;
    if !can_create(viewer, table, &fields) {
        return Err(acl_refused("Insert").into());
    }
    let mut state = shared.lock();
    let mut row = new_row(&mut state, table, &viewer.user_name);
    if table == "incident" {
        let user = viewer.sys_id.clone();
        row.insert("caller_id".into(), user.clone());
        row.insert("opened_by".into(), user);
    }
    apply(&mut state, table, &mut row, fields, &viewer.user_name);
    check_rules(&state, table, &row)?;
    let sys_id = get(&row, "sys_id").to_owned();
    let journal = take_journal(&mut row);
    state.tables.entry(table).or_default().push(row);
    write_journal(&mut state, table, &sys_id, journal, &viewer.user_name);
    let row = state.row(table, &sys_id).cloned().unwrap_or_default();
    let result = render(
        &state,
        &shared.base_url,
        viewer,
        table,
        &row,
        &Shape::of(call),
    );
    let mut response = json_response(StatusCode::CREATED, &json!({"result": result}));
    let location = format!("{}/api/now/table/{table}/{sys_id}", shared.base_url);
    if let Ok(value) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `PATCH` (or `PUT`) `/api/now/table/{table}/{sys_id}`.
pub(super) fn update(
    shared: &Shared,
    call: &Call,
    viewer: &Viewer,
    table: &str,
    sys_id: &str,
    body: &[u8],
) -> Answer {
    let table = table_of(table)?;
    let mut state = shared.lock();
    let Some(mut row) = state
        .row(table, sys_id)
        .filter(|row| can_read(&state, viewer, table, row))
        .cloned()
    else {
        return Err(not_found().into());
    };
    let fields = fields_of(table, body)?;
    if !can_update(viewer, table, &row, &fields) {
        return Err(acl_refused("Update").into());
    }
    apply(&mut state, table, &mut row, fields, &viewer.user_name);
    check_rules(&state, table, &row)?;
    let journal = take_journal(&mut row);
    let count = get(&row, "sys_mod_count").parse::<u64>().unwrap_or(0) + 1;
    row.insert("sys_mod_count".into(), count.to_string());
    if let Some(stored) = state.row_mut(table, sys_id) {
        *stored = row;
    }
    write_journal(&mut state, table, sys_id, journal, &viewer.user_name);
    let row = state.row(table, sys_id).cloned().unwrap_or_default();
    let result = render(
        &state,
        &shared.base_url,
        viewer,
        table,
        &row,
        &Shape::of(call),
    );
    Ok(json_response(StatusCode::OK, &json!({"result": result})))
}

/// A new record of `table` with its system fields and the table's defaults.
pub(super) fn new_row(state: &mut State, table: &'static str, created_by: &str) -> Row {
    let now = glide_time(state.now());
    let mut row = Row::new();
    for (field, value) in [
        ("sys_id", new_sys_id()),
        ("sys_created_on", now.clone()),
        ("sys_created_by", created_by.to_owned()),
        ("sys_updated_on", now.clone()),
        ("sys_updated_by", created_by.to_owned()),
        ("sys_mod_count", "0".to_owned()),
    ] {
        row.insert(field.into(), value);
    }
    if schema::kind(table, "active") == Some(Kind::Bool) {
        row.insert("active".into(), "true".into());
    }
    let prefix = match table {
        "incident" => Some("INC"),
        "kb_knowledge" => Some("KB"),
        "sc_request" => Some("REQ"),
        "sc_req_item" => Some("RITM"),
        _ => None,
    };
    if let Some(prefix) = prefix {
        row.insert("number".into(), state.next_number(prefix));
    }
    if table == "incident" {
        for (field, value) in [
            ("state", "1"),
            ("urgency", "3"),
            ("impact", "3"),
            ("priority", "5"),
        ] {
            row.insert(field.into(), value.into());
        }
        row.insert("opened_at".into(), now);
    }
    row
}

/// Sets `fields` on `row` with the instance's side effects (incident priority from impact
/// and urgency, `resolved_at`/`closed_at` and `active` from `state`).
pub(super) fn apply(state: &mut State, table: &str, row: &mut Row, fields: Row, by: &str) {
    let now = glide_time(state.now());
    let old_state = get(row, "state").to_owned();
    row.extend(fields);
    row.insert("sys_updated_on".into(), now.clone());
    row.insert("sys_updated_by".into(), by.to_owned());
    if table != "incident" {
        return;
    }
    let level = |f: &str| get(row, f).parse::<u8>().unwrap_or(3).clamp(1, 3);
    let priority = (level("impact") + level("urgency") - 1).to_string();
    row.insert("priority".into(), priority);
    let new_state = get(row, "state").to_owned();
    if new_state != old_state {
        if matches!(new_state.as_str(), "6" | "7") && get(row, "resolved_at").is_empty() {
            row.insert("resolved_at".into(), now.clone());
        }
        if matches!(new_state.as_str(), "7" | "8") {
            row.insert("closed_at".into(), now);
            row.insert("active".into(), "false".into());
        }
    }
}

/// Takes the journal inputs out of a row: they are written to `sys_journal_field`.
fn take_journal(row: &mut Row) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    for element in ["comments", "work_notes"] {
        if let Some(text) = row.remove(element).filter(|t| !t.is_empty()) {
            entries.push((element.to_owned(), text));
        }
    }
    entries
}

/// Adds journal rows for a record.
pub(super) fn write_journal(
    state: &mut State,
    table: &str,
    sys_id: &str,
    entries: Vec<(String, String)>,
    by: &str,
) {
    for (element, text) in entries {
        let mut row = new_row(state, "sys_journal_field", by);
        for (field, value) in [
            ("element", element),
            ("element_id", sys_id.to_owned()),
            ("name", table.to_owned()),
            ("value", text),
        ] {
            row.insert(field.into(), value);
        }
        state
            .tables
            .entry("sys_journal_field")
            .or_default()
            .push(row);
    }
}
