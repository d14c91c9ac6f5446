//! The faults a test queues for the fake Drive and the error bodies Drive answers with
//! (`{"error": {"code", "message", "errors": [...], "status"}}`), 401s and 403s included.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use serde_json::json;

use super::JSON;
use crate::upstream::{BodyFault, Refused, UpstreamFault, set_retry_after};

/// Which kind of request a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `files.list`, `drives.list`.
    List,
    /// `files.get` (metadata), `drives.get`, `about.get`.
    Metadata,
    /// `files.get?alt=media`, `files.export`.
    Content,
}

/// A failure served instead of (or into) the next response of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `status` with Drive's error body; `reason` is `errors[0].reason` (by default the one
    /// Drive uses for that status: 429 `rateLimitExceeded`, 403 `forbidden`, 5xx
    /// `backendError`…); `retry_after` adds `Retry-After: <seconds>`.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
        /// `errors[0].reason`.
        reason: Option<&'static str>,
    },
    /// 403 with a usage-limit reason: `userRateLimitExceeded` or `rateLimitExceeded`.
    RateLimit403 {
        /// `errors[0].reason`.
        reason: &'static str,
    },
    /// 403 `insufficientPermissions`: the token lacks a scope.
    InsufficientPermissions,
    /// A 5xx with Drive's body for it.
    ServerError(u16),
    /// Announces the full `Content-Length`, sends `after` bytes, then drops the connection.
    Truncate {
        /// Bytes sent before the connection drops.
        after: u64,
    },
    /// Serves the right length, but with one byte changed (so the checksum no longer
    /// matches the listed one).
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

/// One request the fake received (`endpoint`: `None` for paths outside `/drive/v3/`).
pub type LoggedRequest = crate::upstream::LoggedRequest<Endpoint>;

/// Drive's error body. `location` is `(locationType, location)`.
pub(super) fn error(
    status: u16,
    reason: &str,
    message: &str,
    location: Option<(&str, &str)>,
) -> HttpResponse {
    let domain = match reason {
        "userRateLimitExceeded" | "rateLimitExceeded" | "dailyLimitExceeded" => "usageLimits",
        _ => "global",
    };
    let mut detail = json!({"message": message, "domain": domain, "reason": reason});
    if let Some((kind, location)) = location {
        detail["locationType"] = json!(kind);
        detail["location"] = json!(location);
    }
    let body = json!({
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": rpc_status(status),
        }
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(JSON)
        .body(body.to_string())
}

pub(super) fn rpc_status(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

pub(super) fn invalid_parameter(location: &str) -> HttpResponse {
    error(
        400,
        "invalid",
        "Invalid Value",
        Some(("parameter", location)),
    )
}

pub(super) fn not_found(id: &str) -> HttpResponse {
    let message = format!("File not found: {id}.");
    error(404, "notFound", &message, Some(("parameter", "fileId")))
}

/// 401: no credentials at all (`required`), or a token Google does not accept (`authError`).
pub(super) fn unauthorized(refused: Refused) -> HttpResponse {
    let (reason, message, summary, challenge) = if refused == Refused::Missing {
        (
            "required",
            "Login Required.",
            "Login Required.",
            "Bearer realm=\"https://accounts.google.com/\"",
        )
    } else {
        (
            "authError",
            "Invalid Credentials",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        )
    };
    let body = json!({
        "error": {
            "code": 401,
            "message": summary,
            "errors": [{
                "message": message, "domain": "global", "reason": reason,
                "location": "Authorization", "locationType": "header"
            }],
            "status": "UNAUTHENTICATED",
        }
    });
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .content_type(JSON)
        .body(body.to_string())
}

pub(super) fn fault_response(fault: &Fault) -> HttpResponse {
    match fault {
        Fault::Status {
            status,
            retry_after,
            reason,
        } => {
            let (default_reason, message) = match status {
                400 => ("badRequest", "Bad Request"),
                401 => ("authError", "Invalid Credentials"),
                403 => ("forbidden", "Forbidden"),
                404 => ("notFound", "Not Found"),
                429 => ("rateLimitExceeded", "Rate Limit Exceeded"),
                500 => ("backendError", "Backend Error"),
                502 => ("badGateway", "Bad Gateway"),
                503 => ("backendError", "The service is currently unavailable."),
                _ => ("backendError", "Backend Error"),
            };
            let message = match reason {
                Some("userRateLimitExceeded") => "User Rate Limit Exceeded",
                Some("rateLimitExceeded") => "Rate Limit Exceeded",
                _ => message,
            };
            let mut response = error(*status, reason.unwrap_or(default_reason), message, None);
            set_retry_after(&mut response, *retry_after);
            response
        }
        Fault::RateLimit403 { reason } => {
            let message = if *reason == "userRateLimitExceeded" {
                "User Rate Limit Exceeded"
            } else {
                "Rate Limit Exceeded"
            };
            error(403, reason, message, None)
        }
        Fault::InsufficientPermissions => {
            let body = json!({
                "error": {
                    "code": 403,
                    "message": "Request had insufficient authentication scopes.",
                    "errors": [{
                        "message": "Insufficient Permission",
                        "domain": "global",
                        "reason": "insufficientPermissions"
                    }],
                    "status": "PERMISSION_DENIED",
                    "details": [{
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                        "domain": "googleapis.com",
                        "metadata": {"service": "drive.googleapis.com", "method": "google.apps.drive.v3.DriveFiles.List"}
                    }]
                }
            });
            HttpResponse::Forbidden()
                .content_type(JSON)
                .body(body.to_string())
        }
        Fault::ServerError(status) => fault_response(&Fault::Status {
            status: *status,
            retry_after: None,
            reason: None,
        }),
        Fault::Truncate { .. } | Fault::CorruptContent | Fault::Stall { .. } => {
            error(500, "backendError", "Backend Error", None)
        }
    }
}
