//! The one place errors become responses, and the headers every response carries.
//! `render_errors` re-renders any error as a JSON problem body (API and MCP), an HTMX
//! fragment swapped into `#htmx-errors`, or a full HTML page; an unauthenticated browser is
//! redirected to the login page instead.

use crate::auth::keys;
use crate::error::AppError;
use crate::models::entities::user;
use crate::models::users;
use crate::state::AppState;
use crate::templates::{ErrorFragment, ErrorPage, PageCtx};
use actix_session::SessionExt;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

/// The Content-Security-Policy of every page: no inline script, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Security headers on every response; `no-store` on everything but static assets. The
/// site's CSP goes on every response that does not set its own.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_static = req.path().starts_with("/static/");
    // With campus sign-in, logging out leads on to the identity provider (see
    // `Sso::form_action_source`), so pages allow its origin as a form's destination.
    let csp = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.sso.form_action_source())
        .map(|source| {
            CSP.replace(
                "form-action 'self'",
                &format!("form-action 'self' {source}"),
            )
        })
        .and_then(|csp| header::HeaderValue::from_str(&csp).ok())
        .unwrap_or(header::HeaderValue::from_static(CSP));
    let hsts = req
        .app_data::<web::Data<AppState>>()
        .filter(|s| s.settings.secure_cookies())
        .map(|s| {
            if s.settings.hsts_include_subdomains {
                "max-age=31536000; includeSubDomains"
            } else {
                "max-age=31536000"
            }
        });
    let mut res = next.call(req).await?.map_into_boxed_body();
    let h = res.headers_mut();
    protective_headers(h, csp);
    if let Some(hsts) = hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            header::HeaderValue::from_static(hsts),
        );
    }
    let cache = if is_static {
        "public, max-age=3600"
    } else {
        "no-store"
    };
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    Ok(res)
}

/// The headers every page carries whatever it says: its content policy (unless it set its
/// own: the MCP consent page lets its form lead on to the assistant), no sniffing, no
/// framing, no referrer beyond the site, no camera or microphone.
fn protective_headers(h: &mut header::HeaderMap, csp: header::HeaderValue) {
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::HeaderName::from_static("permissions-policy"),
        header::HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
}

/// Who asked, which decides the representation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Audience {
    Json,
    Htmx,
    Page,
}

fn audience(req: &HttpRequest) -> Audience {
    let path = req.path();
    let accepts_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"));
    // A request with credentials in a header is a program, wherever it goes.
    let program = req.headers().contains_key(header::AUTHORIZATION);
    if path.starts_with("/api/v1/")
        || path == "/mcp"
        || path.starts_with("/mcp/")
        || accepts_json
        || program
    {
        Audience::Json
    } else if super::is_htmx(req) {
        Audience::Htmx
    } else {
        Audience::Page
    }
}

/// Re-render error responses for their audience.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    // Inner layers report errors as error responses (never `Err`), so the request is at hand
    // here for rendering; cloning it before routing is not allowed by actix.
    let res = next.call(req).await?;
    let Some(err) = res.response().error() else {
        return Ok(res.map_into_left_body());
    };
    let status = res.status();
    let text = err.to_string();
    let app_err = err.as_error::<AppError>();
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let mut response = render(res.request(), status, app_err, &text).await;
    if let Some(v) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, response).map_into_right_body())
}

async fn render(
    req: &HttpRequest,
    status: StatusCode,
    app_err: Option<&AppError>,
    text: &str,
) -> HttpResponse {
    let problem = match app_err {
        Some(e) => Problem::of(status, e),
        None => {
            // Errors from actix itself (bad JSON, unknown method, …): say what was wrong for
            // 4xx, stay opaque for 5xx.
            let message = if status.is_server_error() {
                "An unexpected error occurred. It has been logged; please try again.".to_owned()
            } else {
                text.to_owned()
            };
            if status.is_server_error() {
                tracing::error!(
                    http.status = status.as_u16(),
                    error = text,
                    "unhandled error"
                );
            }
            let code = match status {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                s if s.is_server_error() => "internal_error",
                _ => "bad_request",
            };
            Problem {
                status,
                code,
                title: status.canonical_reason().unwrap_or("Error"),
                message,
                fields: None,
                retry: None,
            }
        }
    };
    let aud = audience(req);
    if matches!(app_err, Some(AppError::Unauthenticated)) && aud != Audience::Json {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let login = crate::paths::login().next(next).to_string();
        return if aud == Audience::Htmx {
            HttpResponse::Unauthorized()
                .insert_header(("HX-Redirect", login))
                .finish()
        } else {
            HttpResponse::SeeOther()
                .insert_header(("Location", login))
                .finish()
        };
    }
    let ctx = match aud {
        Audience::Page if !matches!(app_err, Some(AppError::Unavailable(_))) => {
            let session = req.get_session();
            let user = current_user(req).await;
            PageCtx::new(&session, user.as_ref())
        }
        // The database-away page neither waits for the database nor touches the session.
        _ => PageCtx::bare(),
    };
    respond(aud, problem, ctx)
}

/// An error as its audience reads it.
struct Problem {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    message: String,
    fields: Option<std::collections::BTreeMap<String, String>>,
    retry: Option<u64>,
}

impl Problem {
    /// What `e`, answered with `status`, tells its reader.
    fn of(status: StatusCode, e: &AppError) -> Self {
        Self {
            status,
            code: e.code(),
            title: e.title(),
            message: e.user_message(),
            fields: match e {
                AppError::Invalid(f) => Some(f.clone()),
                _ => None,
            },
            retry: e.retry_after().map(|d| d.as_secs().max(1)),
        }
    }
}

fn respond(aud: Audience, p: Problem, ctx: PageCtx) -> HttpResponse {
    match aud {
        Audience::Json => {
            let mut body = json!({
                "type": "about:blank",
                "title": p.title,
                "status": p.status.as_u16(),
                "code": p.code,
                "detail": p.message,
            });
            if let Some(f) = p.fields {
                body["errors"] = json!(f);
            }
            if let Some(r) = p.retry {
                body["retry_after"] = json!(r);
            }
            HttpResponse::build(p.status)
                .content_type("application/problem+json")
                .body(body.to_string())
        }
        Audience::Htmx => {
            let html = ErrorFragment {
                title: p.title.to_owned(),
                message: p.message,
                retry_after: p.retry,
            }
            .render()
            .unwrap_or_default();
            HttpResponse::build(p.status)
                .insert_header(("HX-Retarget", "#htmx-errors"))
                .insert_header(("HX-Reswap", "innerHTML"))
                .content_type("text/html; charset=utf-8")
                .body(html)
        }
        Audience::Page => {
            let page = ErrorPage {
                ctx,
                status: p.status.as_u16(),
                title: p.title.to_owned(),
                message: p.message,
            };
            HttpResponse::build(p.status)
                .content_type("text/html; charset=utf-8")
                .body(page.render().unwrap_or_else(|_| "Error".into()))
        }
    }
}

/// In front of the session layer: when the session store cannot reach the database, the
/// session layer fails the request with a bare 500 before any handler runs (or after one,
/// saving the state). This answers 503 "temporarily unavailable" instead, in the caller's
/// format, with `Retry-After`. The request is gone by then (the session layer took it), so
/// the audience is read before, and the response carries the security headers itself.
pub async fn session_store_outage(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let aud = audience(req.request());
    match next.call(req).await {
        Err(e) if format!("{e:?}").contains(crate::auth::session_store::STORE_UNAVAILABLE) => {
            Err(DatabaseAway(aud).into())
        }
        other => other,
    }
}

/// The answer of [`session_store_outage`].
#[derive(Debug)]
struct DatabaseAway(Audience);

impl std::fmt::Display for DatabaseAway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::error::DATABASE_UNAVAILABLE)
    }
}

impl actix_web::ResponseError for DatabaseAway {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        let err = AppError::Unavailable(crate::error::DATABASE_UNAVAILABLE.to_owned());
        let problem = Problem::of(StatusCode::SERVICE_UNAVAILABLE, &err);
        let retry = problem.retry;
        let mut res = respond(self.0, problem, PageCtx::bare());
        let h = res.headers_mut();
        if let Some(r) = retry {
            h.insert(header::RETRY_AFTER, header::HeaderValue::from(r));
        }
        // `security_headers` is not reached by an error: set what it would.
        protective_headers(h, header::HeaderValue::from_static(CSP));
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        res
    }
}

async fn current_user(req: &HttpRequest) -> Option<user::Model> {
    let state = req.app_data::<web::Data<AppState>>()?;
    let id = req.get_session().get::<i64>(keys::USER_ID).ok().flatten()?;
    users::find(&state.db, id)
        .await
        .ok()
        .flatten()
        .filter(|u| u.is_active)
}

/// The fallback for unknown routes.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
