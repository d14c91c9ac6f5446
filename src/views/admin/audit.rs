//! `/admin/audit/`: the connector audit log (`connector_audit_log`), newest first, filtered by
//! user, connector, action, status and date range, with free-text search; a detail page per
//! row; and a CSV export of the current filter.
//!
//! Paging is the admin lists' keyset kit (`models::keyset`) on `(created_at, id)` — never
//! OFFSET — so the millionth row is as cheap to reach as the first: the cursor is a range on
//! the `(…, created_at, id)` indexes of migration 15 and the query stops after a page. The
//! export walks the same window in batches and streams CSV, so a million rows never sit in
//! memory; cells that a spreadsheet would run as a formula are prefixed with `'`.

use super::templates::{AuditEntryPage, AuditPage, AuditRowView};
use super::{
    PAGE_SIZE, UserFilter, emails_of, fmt_time, ilike, like_pattern, pager, param, query_string,
    user_filter, users_matching,
};
use crate::auth::AdminUser;
use crate::error::{AppError, AppResult};
use crate::models::connector_audit_logs::{self, AuditKey};
use crate::models::connectors;
use crate::models::entities::{connector, connector_audit_log as log};
use crate::models::keyset::{Keyset, Order, Window};
use crate::paths;
use crate::state::AppState;
use crate::templates::PageCtx;
use crate::views::account::html;
use actix_session::Session;
use actix_web::{HttpResponse, web};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// Rows fetched per query while exporting.
const EXPORT_BATCH: u64 = 2000;

/// The statuses an audit row can have.
const STATUSES: [&str; 2] = ["success", "error"];

/// The filters, as GET parameters (shareable URLs), plus the paging cursors.
#[derive(Deserialize, Default, Clone, Debug)]
pub struct AuditQuery {
    /// A user id or email.
    pub user: Option<String>,
    /// A connector slug.
    pub connector: Option<String>,
    /// An action name, e.g. `echo` or `connection.connect`.
    pub action: Option<String>,
    /// `success` or `error`.
    pub status: Option<String>,
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (UTC), inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (UTC), inclusive (the whole day or minute).
    pub to: Option<String>,
    /// Searches action, connector, error and error code, the user's email and name, and
    /// (for a number) the row or connection id.
    pub q: Option<String>,
    /// Next page: rows older than this cursor.
    pub before: Option<String>,
    /// Previous page: rows newer than this cursor.
    pub after: Option<String>,
}

impl AuditQuery {
    /// The filter parameters (no cursor), for links and the export.
    fn filter_pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("user", param(&self.user).unwrap_or_default()),
            ("connector", param(&self.connector).unwrap_or_default()),
            ("action", param(&self.action).unwrap_or_default()),
            ("status", param(&self.status).unwrap_or_default()),
            ("from", param(&self.from).unwrap_or_default()),
            ("to", param(&self.to).unwrap_or_default()),
            ("q", param(&self.q).unwrap_or_default()),
        ]
    }

    fn link(&self, base: &str) -> String {
        format!("{base}{}", query_string(&self.filter_pairs()))
    }
}

/// Parse a `from`/`to` bound: a date or a date and minute, in UTC. `end` makes it the first
/// instant after the given day or minute (an inclusive upper bound becomes exclusive).
fn parse_bound(s: &str, end: bool) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0)?;
        let t = if end {
            start + chrono::Duration::days(1)
        } else {
            start
        };
        return Some(Utc.from_utc_datetime(&t));
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            let t = if end {
                t + chrono::Duration::minutes(1)
            } else {
                t
            };
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// The filter as a condition; `Ok(None)` when it can match nothing (an unknown user email);
/// field errors for values that make no sense.
pub async fn condition(
    db: &DatabaseConnection,
    q: &AuditQuery,
) -> Result<Option<Condition>, AppError> {
    let mut errors = BTreeMap::new();
    let mut cond = Condition::all();
    let mut nothing = false;
    match user_filter(db, param(&q.user)).await? {
        UserFilter::Any => {}
        UserFilter::Id(id) => cond = cond.add(log::Column::UserId.eq(id)),
        UserFilter::Nobody => nothing = true,
    }
    if let Some(slug) = param(&q.connector) {
        cond = cond.add(log::Column::ConnectorSlug.eq(slug));
    }
    if let Some(action) = param(&q.action) {
        cond = cond.add(log::Column::Action.eq(action));
    }
    if let Some(status) = param(&q.status) {
        if STATUSES.contains(&status) {
            cond = cond.add(log::Column::Status.eq(status));
        } else {
            errors.insert("status".into(), "Choose success or error.".into());
        }
    }
    let bad_date = "Use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC).";
    let from = param(&q.from).map(|s| parse_bound(s, false).ok_or(()));
    let to = param(&q.to).map(|s| parse_bound(s, true).ok_or(()));
    match from {
        Some(Ok(t)) => cond = cond.add(log::Column::CreatedAt.gte(t)),
        Some(Err(())) => {
            errors.insert("from".into(), bad_date.into());
        }
        None => {}
    }
    match to {
        Some(Ok(t)) => cond = cond.add(log::Column::CreatedAt.lt(t)),
        Some(Err(())) => {
            errors.insert("to".into(), bad_date.into());
        }
        None => {}
    }
    if let (Some(Ok(f)), Some(Ok(t))) = (from, to)
        && f >= t
    {
        errors.insert("to".into(), "The end is before the start.".into());
    }
    if let Some(text) = param(&q.q) {
        let pattern = like_pattern(text);
        let mut any = Condition::any()
            .add(ilike(log::Column::Action, &pattern))
            .add(ilike(log::Column::ConnectorSlug, &pattern))
            .add(ilike(log::Column::ErrorCode, &pattern))
            .add(ilike(log::Column::Error, &pattern));
        let users = users_matching(db, text, 1000).await?;
        if !users.is_empty() {
            any = any.add(log::Column::UserId.is_in(users));
        }
        if let Ok(id) = text.parse::<i64>() {
            any = any
                .add(log::Column::Id.eq(id))
                .add(log::Column::ConnectionId.eq(id));
        }
        cond = cond.add(any);
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    Ok((!nothing).then_some(cond))
}

/// One page of the filtered log, newest first.
pub async fn page(
    db: &DatabaseConnection,
    cond: Condition,
    keyset: &Keyset<AuditKey>,
    limit: u64,
) -> AppResult<Window<log::Model>> {
    connector_audit_logs::window(db, cond, keyset, limit).await
}

/// A row as the pages show it.
pub fn view(r: &log::Model, emails: &HashMap<i64, String>) -> AuditRowView {
    AuditRowView {
        id: r.id,
        created: fmt_time(r.created_at),
        user_id: r.user_id,
        user_email: r
            .user_id
            .map(|id| {
                emails
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| format!("user {id}"))
            })
            .unwrap_or_else(|| "—".into()),
        connector: r.connector_slug.clone(),
        action: r.action.clone(),
        status: r.status.clone(),
        error_code: r.error_code.clone().unwrap_or_default(),
        error: r.error.clone().unwrap_or_default(),
        duration_ms: r.duration_ms,
        connection_id: r.connection_id,
    }
}

/// Slugs for the connector filter and action names for the action suggestions.
fn choices(state: &AppState, catalog: &[connector::Model]) -> (Vec<String>, Vec<String>) {
    let mut slugs: Vec<String> = catalog.iter().map(|k| k.slug.clone()).collect();
    slugs.sort();
    let mut actions: Vec<String> = [
        "connection.connect",
        "connection.test",
        "connection.disconnect",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(
        state
            .registry
            .iter()
            .flat_map(|p| p.actions().iter().map(|a| a.name.to_owned())),
    )
    .collect();
    actions.sort();
    actions.dedup();
    (slugs, actions)
}

/// `GET /admin/audit/`.
pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    q: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let keyset = Keyset::<AuditKey>::parse(param(&q.before), param(&q.after))?;
    let (window, errors) = match condition(&state.db, &q).await {
        Ok(Some(cond)) => (
            page(&state.db, cond, &keyset, PAGE_SIZE).await?,
            BTreeMap::new(),
        ),
        Ok(None) => (Window::empty(), BTreeMap::new()),
        Err(AppError::Invalid(errors)) => (Window::empty(), errors),
        Err(e) => return Err(e),
    };
    let emails = emails_of(&state.db, window.rows.iter().filter_map(|r| r.user_id)).await?;
    let pager = pager(
        &window,
        Order::Descending,
        AuditKey::of,
        &paths::admin_audit().to_string(),
        &q.filter_pairs(),
    );
    let catalog = connectors::list(&state.db).await?;
    let (connectors, actions) = choices(&state, &catalog);
    let status = if errors.is_empty() { 200 } else { 422 };
    let page = AuditPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        nav: "audit",
        user: param(&q.user).unwrap_or_default().to_owned(),
        connector: param(&q.connector).unwrap_or_default().to_owned(),
        action: param(&q.action).unwrap_or_default().to_owned(),
        status: param(&q.status).unwrap_or_default().to_owned(),
        from: param(&q.from).unwrap_or_default().to_owned(),
        to: param(&q.to).unwrap_or_default().to_owned(),
        q: param(&q.q).unwrap_or_default().to_owned(),
        connectors,
        actions,
        rows: window.rows.iter().map(|r| view(r, &emails)).collect(),
        pager,
        export_url: q.link(paths::admin_audit_export()),
        errors,
    };
    Ok(html(page, status))
}

/// `GET /admin/audit/{id}/`.
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let r = connector_audit_logs::find(&state.db, path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    let emails = emails_of(&state.db, r.user_id).await?;
    let request = serde_json::from_str::<serde_json::Value>(&r.request)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| r.request.clone());
    Ok(html(
        AuditEntryPage {
            ctx: PageCtx::new(&session, Some(&admin)),
            nav: "audit",
            r: view(&r, &emails),
            request,
        },
        200,
    ))
}

/// One CSV cell: quoted when needed, and prefixed with `'` when a spreadsheet would read it as
/// a formula (`=`, `+`, `-`, `@`, tab, carriage return first).
pub fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

const CSV_HEADER: &str = "id,created_at,user_id,user_email,connector,action,status,error_code,error,duration_ms,connection_id,request\r\n";

fn csv_rows(rows: &[log::Model], emails: &HashMap<i64, String>) -> String {
    let mut out = String::with_capacity(rows.len() * 160);
    for r in rows {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let email = r
            .user_id
            .and_then(|id| emails.get(&id))
            .map(String::as_str)
            .unwrap_or_default();
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            r.id,
            r.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            opt(r.user_id),
            csv_cell(email),
            csv_cell(&r.connector_slug),
            csv_cell(&r.action),
            csv_cell(&r.status),
            csv_cell(r.error_code.as_deref().unwrap_or_default()),
            csv_cell(r.error.as_deref().unwrap_or_default()),
            r.duration_ms,
            opt(r.connection_id),
            csv_cell(&r.request),
        );
    }
    out
}

struct Export {
    db: DatabaseConnection,
    cond: Option<Condition>,
    cursor: Option<AuditKey>,
    header_sent: bool,
}

async fn next_chunk(mut st: Export) -> Option<(Result<Bytes, std::io::Error>, Export)> {
    if !st.header_sent {
        st.header_sent = true;
        return Some((Ok(Bytes::from_static(CSV_HEADER.as_bytes())), st));
    }
    let cond = st.cond.clone()?;
    let keyset = Keyset {
        below: st.cursor,
        above: None,
    };
    let rows = connector_audit_logs::window(&st.db, cond, &keyset, EXPORT_BATCH).await;
    let rows = match rows {
        Ok(window) => window.rows,
        Err(e) => {
            tracing::error!(error = %e, "audit export query failed");
            st.cond = None;
            return Some((Err(std::io::Error::other("the export failed")), st));
        }
    };
    let last = rows.last()?;
    st.cursor = Some(AuditKey::of(last));
    if (rows.len() as u64) < EXPORT_BATCH {
        st.cond = None; // this was the last batch
    }
    let emails = match emails_of(&st.db, rows.iter().filter_map(|r| r.user_id)).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "audit export user lookup failed");
            st.cond = None;
            return Some((Err(std::io::Error::other("the export failed")), st));
        }
    };
    Some((Ok(Bytes::from(csv_rows(&rows, &emails))), st))
}

/// `GET /admin/audit/export.csv`: every row of the current filter (no paging), streamed in
/// batches in the page's order.
pub async fn export(
    state: web::Data<AppState>,
    _admin: AdminUser,
    q: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let cond = condition(&state.db, &q).await?;
    let export = Export {
        db: state.db.clone(),
        cond,
        cursor: None,
        header_sent: false,
    };
    let name = format!("audit-log-{}.csv", Utc::now().format("%Y%m%d-%H%M%S"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            crate::views::attachment(&name),
        ))
        .streaming(futures_util::stream::unfold(export, next_chunk)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_guarded_against_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+2"), "'=1+2");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv_cell("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn cursors_round_trip_with_nanoseconds() {
        let c = AuditKey {
            created_at: DateTime::from_timestamp_nanos(1_763_826_455_123_456_789),
            id: 42,
        };
        assert_eq!(c.to_string().parse::<AuditKey>(), Ok(c));
        assert!("nope".parse::<AuditKey>().is_err());
        assert!("1.x".parse::<AuditKey>().is_err());
        assert!(Keyset::<AuditKey>::parse(Some("1.x"), None).is_err());
    }

    #[test]
    fn date_bounds_cover_the_whole_day_or_minute() {
        let from = parse_bound("2026-11-22", false).map(|t| t.to_rfc3339());
        let to = parse_bound("2026-11-22", true).map(|t| t.to_rfc3339());
        assert_eq!(from.as_deref(), Some("2026-11-22T00:00:00+00:00"));
        assert_eq!(to.as_deref(), Some("2026-11-23T00:00:00+00:00"));
        let to = parse_bound("2026-11-22T08:15", true).map(|t| t.to_rfc3339());
        assert_eq!(to.as_deref(), Some("2026-11-22T08:16:00+00:00"));
        assert!(parse_bound("22/11/2026", false).is_none());
    }
}
