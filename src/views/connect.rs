//! Connecting a service from the browser: the documented start and callback routes of the
//! OAuth flow, and the manual credential form rendered from the connector's schema.

use super::account::html;
use super::{is_htmx, see_other};
use crate::auth::{CurrentUser, csrf, keys};
use crate::crypto::random_token;
use crate::error::{AppError, AppResult};
use crate::models::Channel;
use crate::services::connections::{self, ResolvedConnector};
use crate::services::oauth_flows::{self, FlowOwner};
use crate::state::AppState;
use crate::templates::{ManualConnectPage, ManualFormFragment, ManualFormView, PageCtx, flash};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use campuscore_connectors::ConnectorKind;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// `?connection=` on the start and form routes: the connection a "Reconnect" renews;
/// `?next=` on the start route: the page to return to afterwards (a path on this site).
#[derive(Deserialize)]
pub struct ReconnectQuery {
    connection: Option<i64>,
    #[serde(default)]
    next: Option<String>,
}

/// How long a remembered return path stays valid (an abandoned flow must not redirect a
/// later, unrelated one).
const RETURN_VALID_SECS: i64 = 15 * 60;

/// Remember where the flow for `slug` should end, when it was started from another page.
fn remember_return(session: &Session, slug: &str, next: Option<&str>) {
    let next = next
        .map(super::safe_next)
        .filter(|n| *n != crate::paths::home());
    let value = next.map(|n| {
        (
            slug.to_owned(),
            n.to_owned(),
            chrono::Utc::now().timestamp(),
        )
    });
    let stored = match value {
        Some(v) => session.insert(keys::CONNECT_RETURN, v),
        None => {
            session.remove(keys::CONNECT_RETURN);
            Ok(())
        }
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, "remembering the return page failed");
    }
}

/// Where the finished flow for `slug` goes: the remembered page, else `/settings`.
fn return_path(session: &Session, slug: &str) -> String {
    session
        .remove_as::<(String, String, i64)>(keys::CONNECT_RETURN)
        .and_then(Result::ok)
        .filter(|(s, _, at)| s == slug && chrono::Utc::now().timestamp() - at < RETURN_VALID_SECS)
        .map(|(_, path, _)| path)
        .unwrap_or_else(|| crate::paths::settings().to_owned())
}

/// The session's OAuth nonce: flows started in this session are bound to its hash.
fn session_nonce(session: &Session) -> AppResult<String> {
    if let Ok(Some(nonce)) = session.get::<String>(keys::OAUTH_NONCE) {
        return Ok(nonce);
    }
    let nonce = random_token(32);
    session
        .insert(keys::OAUTH_NONCE, &nonce)
        .map_err(|e| anyhow::anyhow!("session write failed: {e}"))?;
    Ok(nonce)
}

/// `GET /api/connectors/connect/{slug}/start`: to the provider's consent page (OAuth) or to
/// the credential form (manual). Problems land back on the settings page with a message.
pub async fn start(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    slug: web::Path<String>,
    query: web::Query<ReconnectQuery>,
) -> AppResult<HttpResponse> {
    remember_return(&session, &slug, query.next.as_deref());
    match begin(&state, &session, &user, &slug, query.connection).await {
        Ok(location) => Ok(HttpResponse::Found()
            .insert_header(("Location", location))
            .finish()),
        // A flood of starts is answered as such (429 with `Retry-After`), not as a message.
        Err(e @ (AppError::NotFound | AppError::Internal(_) | AppError::RateLimited { .. })) => {
            Err(e)
        }
        Err(e) => {
            flash(&session, "error", e.user_message());
            Ok(see_other(crate::paths::settings()))
        }
    }
}

async fn begin(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    slug: &str,
    reconnect: Option<i64>,
) -> AppResult<String> {
    let connector = connections::enabled_connector(state, slug).await?;
    if let Some(id) = reconnect {
        let conn = connections::find_mine(state, user.id, id).await?;
        if conn.connector_id != connector.row.id {
            return Err(AppError::NotFound);
        }
    }
    match connector.plugin.spec().kind {
        ConnectorKind::Manual => Ok(crate::paths::connect_manual(slug, reconnect)),
        ConnectorKind::OAuth2 => {
            let client = connections::oauth_client(state, &connector).await?;
            let nonce = session_nonce(session)?;
            let flow = oauth_flows::start_flow(
                state,
                &client,
                &connector.row.slug,
                FlowOwner {
                    user_id: user.id,
                    session_nonce: Some(&nonce),
                },
                reconnect,
            )
            .await?;
            Ok(flow.auth_url.to_string())
        }
    }
}

/// What the provider sends back to the redirect URI.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /api/connectors/{slug}/callback`: checks the state, exchanges the code, stores the
/// encrypted tokens and returns to `/settings` with a message. Every failure stores nothing.
pub async fn callback(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    slug: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> AppResult<HttpResponse> {
    let slug = slug.into_inner();
    let outcome = finish(&state, &session, &user, &slug, &query).await;
    match outcome {
        Ok((conn, created)) => {
            let who = conn
                .service_identity
                .map(|i| format!(" as {i}"))
                .unwrap_or_default();
            let verb = if created { "Connected" } else { "Reconnected" };
            flash(&session, "success", format!("{verb}{who}."));
        }
        Err(e) => {
            tracing::info!(connector.slug = %slug, user.id = user.id, code = e.code(), "oauth callback ended without a connection");
            flash(&session, "error", e.user_message());
        }
    }
    Ok(see_other(&return_path(&session, &slug)))
}

async fn finish(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    slug: &str,
    query: &CallbackQuery,
) -> AppResult<(crate::models::entities::connection::Model, bool)> {
    let connector = connections::enabled_connector(state, slug).await?;
    let name = &connector.row.name;
    if let Some(error) = &query.error {
        // Consume the flow so the state cannot be used again, whatever the provider said.
        if let Some(flow_state) = &query.state {
            let nonce = session_nonce(session)?;
            let _ = oauth_flows::consume_flow(
                state,
                slug,
                FlowOwner {
                    user_id: user.id,
                    session_nonce: Some(&nonce),
                },
                flow_state,
            )
            .await;
        }
        return Err(AppError::FlowRejected(match error.as_str() {
            "access_denied" => format!("You cancelled connecting {name}; nothing was saved."),
            other => {
                let detail = query
                    .error_description
                    .as_deref()
                    .map(|d| d.chars().take(200).collect::<String>())
                    .unwrap_or_else(|| other.chars().take(60).collect());
                format!("{name} did not allow the connection ({detail}); nothing was saved.")
            }
        }));
    }
    let (Some(code), Some(flow_state)) = (&query.code, &query.state) else {
        return Err(AppError::FlowRejected(format!(
            "{name} sent back an incomplete answer; nothing was saved. Please try again."
        )));
    };
    let nonce = session_nonce(session)?;
    connections::complete_oauth(
        state,
        Channel::Web,
        slug,
        FlowOwner {
            user_id: user.id,
            session_nonce: Some(&nonce),
        },
        flow_state,
        code,
    )
    .await
}

/// `GET /settings/connect/{slug}`: the credential form of a manual connector.
pub async fn manual_form(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    slug: web::Path<String>,
    query: web::Query<ReconnectQuery>,
) -> AppResult<HttpResponse> {
    let connector = manual_connector(&state, &user, &slug, query.connection).await?;
    let mut form = ManualFormView::new(
        &connector,
        query.connection,
        &HashMap::new(),
        BTreeMap::new(),
    );
    form.csrf = csrf::token(&session);
    Ok(html(
        ManualConnectPage {
            ctx: PageCtx::new(&session, Some(&user)),
            form,
        },
        200,
    ))
}

/// `POST /settings/connect/{slug}`: validate, check live, save; errors re-render the form
/// (422) with a message per field and the secrets left blank.
pub async fn manual_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    slug: web::Path<String>,
    query: web::Query<ReconnectQuery>,
    body: web::Form<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let connector = manual_connector(&state, &user, &slug, query.connection).await?;
    let mut input = body.into_inner();
    input.remove("csrf_token");
    match connections::connect_manual(
        &state,
        Channel::Web,
        user.id,
        &connector,
        &input,
        query.connection,
    )
    .await
    {
        Ok(done) => {
            let who = done
                .connection
                .service_identity
                .as_deref()
                .map(|i| format!(" as {i}"))
                .unwrap_or_default();
            let verb = if done.created { "Connected" } else { "Updated" };
            flash(
                &session,
                "success",
                format!("{verb} {}{who}.", connector.row.name),
            );
            for warning in done.warnings {
                flash(&session, "warning", warning);
            }
            let back = return_path(&session, &connector.row.slug);
            if is_htmx(&req) {
                Ok(HttpResponse::Ok()
                    .insert_header(("HX-Redirect", back))
                    .finish())
            } else {
                Ok(see_other(&back))
            }
        }
        Err(e @ (AppError::Invalid(_) | AppError::Connector(_))) => {
            let errors = match e {
                AppError::Invalid(fields) => fields,
                other => BTreeMap::from([(String::new(), other.user_message())]),
            };
            let mut form = ManualFormView::new(&connector, query.connection, &input, errors);
            form.csrf = csrf::token(&session);
            if is_htmx(&req) {
                Ok(html(ManualFormFragment { form }, 422))
            } else {
                Ok(html(
                    ManualConnectPage {
                        ctx: PageCtx::new(&session, Some(&user)),
                        form,
                    },
                    422,
                ))
            }
        }
        Err(e) => Err(e),
    }
}

async fn manual_connector(
    state: &AppState,
    user: &CurrentUser,
    slug: &str,
    reconnect: Option<i64>,
) -> AppResult<ResolvedConnector> {
    let connector = connections::enabled_connector(state, slug).await?;
    if connector.plugin.spec().kind != ConnectorKind::Manual {
        return Err(AppError::NotFound);
    }
    if let Some(id) = reconnect {
        let conn = connections::find_mine(state, user.id, id).await?;
        if conn.connector_id != connector.row.id {
            return Err(AppError::NotFound);
        }
    }
    Ok(connector)
}
