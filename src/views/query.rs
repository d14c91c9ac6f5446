//! The query console of connections whose connector offers `run_query` (PostgreSQL): the
//! tables of the database beside a SQL box, and the result as a readable table swapped in
//! by HTMX. Everything runs through `services::run_action`, so the connection must be the
//! user's, the connector enabled, and every query is audited.

use super::account::html;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::services::run_action::{Caller, run_action};
use crate::services::{connections, rate_limits};
use crate::state::AppState;
use crate::templates::{PageCtx, QueryPage, QueryResult, QueryResultFragment};
use actix_session::Session;
use actix_web::{HttpResponse, web};
use campuscore_connectors::ActionOutput;
use serde::Deserialize;
use serde_json::{Value, json};

/// The action a connector must offer for the console.
const RUN_QUERY: &str = "run_query";

/// `GET /settings/connections/{id}/query`.
pub async fn page(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let conn = connections::find_mine(&state, user.id, id).await?;
    let connector = connections::connector_by_id(&state, conn.connector_id).await?;
    if connector.plugin.action(RUN_QUERY).is_none() {
        return Err(AppError::NotFound);
    }
    // The table list is a convenience: if it fails, the console still works. It queries the
    // database like a console query does, so it counts against the same budget, and a user
    // over it gets the page without the list rather than an error.
    let listed =
        match rate_limits::check(&state.writes, user.id, &state.settings.query_limit()).await {
            Ok(()) => run_action(&state, Caller::web(&user), id, "list_tables", json!({})).await,
            Err(e) => Err(e),
        };
    let tables = match listed {
        Ok(ActionOutput::Json(v)) => v["tables"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| {
                        let estimate = t["row_estimate"]
                            .as_i64()
                            .map(|n| format!("~{n} rows"))
                            .unwrap_or_default();
                        (
                            format!(
                                "{}.{}",
                                t["schema"].as_str().unwrap_or_default(),
                                t["name"].as_str().unwrap_or_default()
                            ),
                            estimate,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(html(
        QueryPage {
            ctx: PageCtx::new(&session, Some(&user)),
            connection_id: id,
            connector: connector.row.name.clone(),
            identity: conn.service_identity.unwrap_or_default(),
            tables,
            sql: String::new(),
            result: None,
        },
        200,
    ))
}

#[derive(Deserialize)]
pub struct QueryForm {
    sql: String,
}

/// `POST /settings/connections/{id}/query`: the result table (or the database's message).
/// Each query counts against the user's console budget (`CAMPUSCORE_QUERIES_PER_MINUTE`): a
/// refusal is a 429 with `Retry-After`, and no connection to the database is opened.
pub async fn run(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<QueryForm>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let sql = form.into_inner().sql;
    if sql.trim().is_empty() {
        return Ok(fragment(QueryResult::error("Type a query first."), 422));
    }
    rate_limits::check(&state.writes, user.id, &state.settings.query_limit()).await?;
    match run_action(
        &state,
        Caller::web(&user),
        id,
        RUN_QUERY,
        json!({ "sql": sql }),
    )
    .await
    {
        Ok(ActionOutput::Json(v)) => Ok(fragment(QueryResult::from_json(&v), 200)),
        Ok(ActionOutput::Download(_)) => Err(AppError::NotFound),
        // Problems with the query itself belong next to the query, not in a banner.
        Err(AppError::Connector(e)) if e.http_status() < 500 && e.retry_after().is_none() => {
            Ok(fragment(QueryResult::error(e.user_message()), 422))
        }
        Err(e) => Err(e),
    }
}

fn fragment(result: QueryResult, status: u16) -> HttpResponse {
    html(QueryResultFragment { result }, status)
}

impl QueryResult {
    fn error(message: impl Into<String>) -> Self {
        Self {
            error: Some(message.into()),
            ..Self::default()
        }
    }

    fn from_json(v: &Value) -> Self {
        let columns = v["columns"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or_default().to_owned(),
                            c["type"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rows = v["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        row.as_array()
                            .map(|cells| cells.iter().map(cell).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let truncated = v["truncated"].as_bool().unwrap_or(false).then(|| {
            match v["truncated_reason"].as_str() {
                Some("byte_limit") => {
                    "Only the first part of the result is shown: it is larger than the size limit."
                }
                _ => "Only the first rows are shown: the result has more rows than the limit.",
            }
            .to_owned()
        });
        let notes = v["notes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            columns,
            rows,
            row_count: v["row_count"].as_u64().unwrap_or(0),
            elapsed_ms: v["elapsed_ms"].as_u64().unwrap_or(0),
            truncated,
            notes,
            error: None,
        }
    }
}

/// One cell as text: `None` is SQL NULL (shown distinctly), strings as they are.
fn cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
