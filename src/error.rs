//! The app's one error type and its mapping to HTTP. Handlers and services return
//! `AppError`; `views::errors::render_errors` turns it into an HTML page, an HTMX fragment or
//! a JSON problem body depending on who asked. 5xx bodies stay opaque; the cause chain is
//! logged once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use campuscore_connectors::ConnectorError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Which error type to use where: services and handlers return `AppError`; connectors return
/// `ConnectorError`, which converts into `AppError::Connector`; anything unexpected is
/// `AppError::Internal` built from an `anyhow::Error` (via `?`).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing does not exist, or belongs to someone else (we never say which).
    #[error("not found")]
    NotFound,
    /// Not logged in.
    #[error("authentication required")]
    Unauthenticated,
    /// The CSRF token was missing or wrong.
    #[error("the form has expired or was not sent by this site")]
    CsrfRejected,
    /// Bad input that is not tied to one form field.
    #[error("{0}")]
    BadRequest(String),
    /// Form fields that failed validation (field → message).
    #[error("some fields need attention")]
    Invalid(BTreeMap<String, String>),
    /// A conflicting state, e.g. a duplicate name.
    #[error("{0}")]
    Conflict(String),
    /// The body was larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The link or token is no longer valid.
    #[error("{0}")]
    Gone(String),
    /// Too many requests.
    #[error("too many requests; try again in {}s", .retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// A connector said no; its variant says what the user should do.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// Allowed to no one in the caller's position (an assistant asking for a write tool that
    /// is switched off); the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// The connector was turned off by an administrator (or is no longer compiled in).
    #[error("{0}")]
    Disabled(String),
    /// The connector lacks the configuration an administrator must provide.
    #[error("{0}")]
    NotConfigured(String),
    /// An OAuth sign-in could not be completed (bad, reused or foreign state; cancelled).
    #[error("{0}")]
    FlowRejected(String),
    /// A dependency (database, storage) is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected.
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// What a person reads while the database is away.
pub const DATABASE_UNAVAILABLE: &str = "The service is temporarily unavailable. Nothing was changed; please try again in a few seconds.";

/// How long callers are asked to wait while a dependency is away.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        anyhow::Error::new(e).context("database error").into()
    }
}

/// An error whose cause is the database being out of reach (a lost connection, no
/// connection within the pool's wait, a busy database) is [`AppError::Unavailable`], a 503
/// with `Retry-After`; anything else is [`AppError::Internal`].
impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        if crate::db::is_unavailable_cause(&e) {
            tracing::warn!(error.chain = format!("{e:#}"), "database unavailable");
            AppError::Unavailable(DATABASE_UNAVAILABLE.to_owned())
        } else {
            AppError::Internal(e)
        }
    }
}

impl AppError {
    /// A stable machine-readable code for JSON problem bodies.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::Unauthenticated => "unauthenticated",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::BadRequest(_) => "bad_request",
            AppError::Invalid(_) => "invalid_input",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Gone(_) => "gone",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Connector(e) => e.code(),
            AppError::Forbidden(_) => "forbidden",
            AppError::Disabled(_) => "connector_disabled",
            AppError::NotConfigured(_) => "connector_not_configured",
            AppError::FlowRejected(_) => "oauth_flow_rejected",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// A short title for pages and problem bodies.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::NotFound => "Not found",
            AppError::Unauthenticated => "Please log in",
            AppError::CsrfRejected => "Form expired",
            AppError::BadRequest(_) | AppError::Invalid(_) => "Check your input",
            AppError::Conflict(_) => "Already exists",
            AppError::PayloadTooLarge(_) => "Too large",
            AppError::Gone(_) => "Link no longer valid",
            AppError::RateLimited { .. } => "Slow down",
            AppError::Connector(_) => "The service did not accept the request",
            AppError::Forbidden(_) => "Not allowed",
            AppError::Disabled(_) => "Connector turned off",
            AppError::NotConfigured(_) => "Not configured",
            AppError::FlowRejected(_) => "Sign-in not completed",
            AppError::Unavailable(_) => "Temporarily unavailable",
            AppError::Internal(_) => "Something went wrong",
        }
    }

    /// What a person should read. Never includes internals for 5xx errors.
    pub fn user_message(&self) -> String {
        match self {
            AppError::NotFound => "We could not find that page, or it is not yours to see.".into(),
            AppError::Unauthenticated => "You need to log in to continue.".into(),
            AppError::CsrfRejected => {
                "This form has expired or did not come from this site. Reload the page and try again.".into()
            }
            AppError::Invalid(fields) => fields
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
            AppError::Connector(e) => e.user_message(),
            AppError::Internal(_) => {
                "An unexpected error occurred. It has been logged; please try again.".into()
            }
            other => other.to_string(),
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AppError::RateLimited { retry_after } => Some(*retry_after),
            AppError::Connector(e) => e.retry_after(),
            AppError::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER),
            _ => None,
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Connector(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            AppError::Forbidden(_) | AppError::Disabled(_) => StatusCode::FORBIDDEN,
            AppError::NotConfigured(_) => StatusCode::CONFLICT,
            AppError::FlowRejected(_) => StatusCode::BAD_REQUEST,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A plain body; `render_errors` replaces it with the right representation.
    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(e) = self {
            tracing::error!(error.chain = format!("{e:#}"), "internal error");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let Some(d) = self.retry_after() {
            res.insert_header(("Retry-After", d.as_secs().max(1).to_string()));
        }
        res.content_type("text/plain; charset=utf-8")
            .body(self.user_message())
    }
}

pub type AppResult<T> = Result<T, AppError>;
