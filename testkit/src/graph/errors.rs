//! The faults a test queues for the fake Graph and the error bodies Graph answers with
//! (`{"error": {"code", "message", "innerError": {...}}}`), 401s included.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::upstream::{BodyFault, Refused, UpstreamFault, set_retry_after, splitmix64};

/// Which kind of request a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `…/children`, `…/search(q='…')`, `/me/drive/sharedWithMe`.
    List,
    /// An item, `/me`, a drive.
    Metadata,
    /// `…/content` (the 302). A body fault queued here travels with the link it hands out
    /// and hits that download.
    Content,
    /// The pre-authenticated download URL.
    Download,
}

/// A failure served instead of (or into) the next response of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `status` with Graph's error body; `reason` is `error.code` (by default the one Graph
    /// uses: 429 `activityLimitReached`, 503 `serviceNotAvailable`, 500 `generalException`,
    /// 403 `accessDenied`…); `retry_after` adds `Retry-After: <seconds>`.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
        /// `error.code`.
        reason: Option<&'static str>,
    },
    /// 403 `accessDenied`: the token lacks a scope.
    InsufficientPermissions,
    /// A 5xx with Graph's body for it.
    ServerError(u16),
    /// Announces the full `Content-Length`, sends `after` bytes, then drops the connection.
    Truncate {
        /// Bytes sent before the connection drops.
        after: u64,
    },
    /// Serves the right length, but with one byte changed (so the hashes no longer match
    /// the listed ones).
    CorruptContent,
    /// Sends `after` bytes, then nothing more, without closing the connection (until the
    /// fake is dropped).
    Stall {
        /// Bytes sent before the stall.
        after: u64,
    },
}

impl UpstreamFault for Fault {
    fn body_fault(&self) -> Option<BodyFault> {
        match self {
            Self::Truncate { after } => Some(BodyFault::Truncate(*after)),
            Self::CorruptContent => Some(BodyFault::Corrupt),
            Self::Stall { after } => Some(BodyFault::Stall(*after)),
            _ => None,
        }
    }
}

/// One request the fake received (`endpoint`: `None` for paths Graph does not have).
pub type LoggedRequest = crate::upstream::LoggedRequest<Endpoint>;

/// Graph's error body.
pub(super) fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("application/json")
        .body(error_body(code, message).to_string())
}

pub(super) fn error_body(code: &str, message: &str) -> Value {
    let request_id = request_id();
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    })
}

/// A fresh GUID-shaped id.
pub(super) fn request_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    guid(splitmix64(n), splitmix64(!n))
}

pub(super) fn guid(a: u64, b: u64) -> String {
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// 401 `InvalidAuthenticationToken`, with the message Graph gives for why.
pub(super) fn unauthorized(refused: Refused) -> HttpResponse {
    let message = match refused {
        Refused::Missing => "Access token is empty.",
        Refused::Malformed => "CompactToken parsing failed with error code: 80049217",
        Refused::Expired => "Access token has expired or is not yet valid.",
    };
    let challenge = format!(
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
         client_id=\"00000003-0000-0000-c000-000000000000\", error=\"invalid_token\", \
         error_description=\"{message}\""
    );
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .content_type("application/json")
        .body(error_body("InvalidAuthenticationToken", message).to_string())
}

pub(super) fn not_found() -> HttpResponse {
    error(404, "itemNotFound", "The resource could not be found.")
}

pub(super) fn access_denied() -> HttpResponse {
    error(403, "accessDenied", "Access denied")
}

pub(super) fn invalid_request(message: &str) -> HttpResponse {
    error(400, "invalidRequest", message)
}

pub(super) fn fault_response(fault: &Fault) -> HttpResponse {
    match fault {
        Fault::Status {
            status,
            retry_after,
            reason,
        } => {
            let (code, message) = match status {
                400 => ("invalidRequest", "Invalid request"),
                401 => (
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                ),
                403 => ("accessDenied", "Access denied"),
                404 => ("itemNotFound", "The resource could not be found."),
                429 => ("activityLimitReached", "The request has been throttled"),
                503 => (
                    "serviceNotAvailable",
                    "The service is not available. Try the request again after a delay. \
                     There may be a Retry-After header.",
                ),
                504 => ("gatewayTimeout", "The operation timed out."),
                _ => ("generalException", "An unspecified error has occurred."),
            };
            let mut response = error(*status, reason.unwrap_or(code), message);
            set_retry_after(&mut response, *retry_after);
            response
        }
        Fault::InsufficientPermissions => access_denied(),
        Fault::ServerError(status) => fault_response(&Fault::Status {
            status: *status,
            retry_after: None,
            reason: None,
        }),
        Fault::Truncate { .. } | Fault::CorruptContent | Fault::Stall { .. } => error(
            500,
            "generalException",
            "An unspecified error has occurred.",
        ),
    }
}
