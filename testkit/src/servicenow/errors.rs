//! ServiceNow's answers when things go wrong, worded as the instance words them: the REST
//! failure body `{"error":{"message","detail"},"status":"failure"}` (401, 403 ACL and data
//! policy, 404, 400, 429 with its rate-limit headers, 5xx), the OAuth endpoints' generic
//! `{"error_description":"access_denied","error":"server_error"}`, and the HTML page of a
//! refused authorization request.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use serde_json::{Value, json};

use super::JSON;
use crate::upstream::{BodyFault, UpstreamFault};

/// Which kind of request a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/api/now/…`.
    Api,
    /// `/oauth_auth.do`, `/oauth_token.do`, `/oauth_revoke_token.do`.
    OAuth,
}

/// A failure served instead of the next response of an [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with ServiceNow's rate-limit headers (checked after the token: rate-limit rules
    /// count per user).
    Throttled,
    /// This status with a failure body.
    Status(u16),
}

impl UpstreamFault for Fault {
    fn body_fault(&self) -> Option<BodyFault> {
        None
    }
}

/// One request the fake received; `endpoint` is `None` for a path the instance does not have.
pub type LoggedRequest = crate::upstream::LoggedRequest<Endpoint>;

/// What the rate-limit rule is said to allow per hour.
pub const RATE_LIMIT_PER_HOUR: u32 = 1000;
/// The sys_id of the rate-limit rule throttled answers name in `X-RateLimit-Rule`.
pub(super) const RATE_LIMIT_RULE: &str = "3ad1a48a1b2f3010c0d7f9e4bd4bcb01";

/// A JSON answer with ServiceNow's `Content-Type`.
pub(super) fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, JSON))
        .body(body.to_string())
}

/// `{"error":{"message","detail"},"status":"failure"}` (`detail: null` when `None`).
pub(super) fn failure(status: StatusCode, message: &str, detail: Option<&str>) -> HttpResponse {
    let body = json!({"error": {"message": message, "detail": detail}, "status": "failure"});
    json_response(status, &body)
}

/// No, an unknown, an expired or a revoked token: 401 with the challenge of the instance's
/// first authentication scheme (`BASIC`, as the default API access policy lists it).
pub(super) fn unauthenticated() -> HttpResponse {
    let mut response = failure(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        Some("Required to provide Auth information"),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("BASIC realm=\"Service-now\""),
    );
    response
}

/// A record that does not exist or that row ACLs hide from the caller.
pub(super) fn not_found() -> HttpResponse {
    failure(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
    )
}

/// A write the ACLs refuse: `Update` or `Insert`.
pub(super) fn acl_refused(operation: &str) -> HttpResponse {
    let detail = format!("ACL Exception {operation} Failed due to security constraints");
    operation_failed(&detail)
}

/// 403 `Operation Failed` with `detail`: data policies and aborting business rules.
pub(super) fn operation_failed(detail: &str) -> HttpResponse {
    failure(StatusCode::FORBIDDEN, "Operation Failed", Some(detail))
}

/// A table the instance does not have.
pub(super) fn invalid_table(name: &str) -> HttpResponse {
    failure(
        StatusCode::BAD_REQUEST,
        &format!("Invalid table {name}"),
        None,
    )
}

/// A path no API answers.
pub(super) fn no_resource() -> HttpResponse {
    failure(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        None,
    )
}

/// A body that is no JSON object.
pub(super) fn unreadable_body() -> HttpResponse {
    failure(
        StatusCode::BAD_REQUEST,
        "Exception while reading request",
        Some("The payload is not valid JSON."),
    )
}

/// A method the Table API path does not take.
pub(super) fn method_not_allowed() -> HttpResponse {
    failure(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not Supported",
        Some("The fake ServiceNow answers GET, POST, PATCH and PUT on the Table API"),
    )
}

/// 429: `Retry-After`, the hourly quota used up, when it resets (epoch seconds), the rule.
pub(super) fn throttled(retry_after: u64, now_epoch: i64) -> HttpResponse {
    let detail = format!(
        "Rate limit of {RATE_LIMIT_PER_HOUR} requests per hour exceeded (rule {RATE_LIMIT_RULE})"
    );
    let reset = now_epoch.saturating_add(i64::try_from(retry_after).unwrap_or(i64::MAX));
    let mut response = failure(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        Some(&detail),
    );
    let headers = response.headers_mut();
    for (name, value) in [
        ("retry-after", retry_after.to_string()),
        ("x-ratelimit-limit", RATE_LIMIT_PER_HOUR.to_string()),
        ("x-ratelimit-remaining", "0".to_owned()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-rule", RATE_LIMIT_RULE.to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::HeaderName::from_static(name), value);
        }
    }
    response
}

/// The response for a queued fault.
pub(super) fn fault_response(fault: Fault, retry_after: u64, now_epoch: i64) -> HttpResponse {
    match fault {
        Fault::Throttled => throttled(retry_after, now_epoch),
        Fault::Status(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = status.canonical_reason().unwrap_or("Error");
            failure(status, reason, Some("Injected by the fake ServiceNow"))
        }
    }
}

/// The one error the token endpoint gives for every refusal (unknown client, wrong secret,
/// bad, used or expired code, failed PKCE, unknown, expired or revoked refresh token): 401
/// `{"error_description":"access_denied","error":"server_error"}`.
pub(super) fn oauth_denied() -> HttpResponse {
    let body = json!({"error_description": "access_denied", "error": "server_error"});
    json_response(StatusCode::UNAUTHORIZED, &body)
}

/// An authorization request refused on the instance itself (unknown client, a redirect URI
/// that is not registered): a 400 HTML page, never a redirect.
pub(super) fn oauth_page(message: &str) -> HttpResponse {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    HttpResponse::BadRequest()
        .insert_header((header::CONTENT_TYPE, "text/html;charset=UTF-8"))
        .body(format!(
            "<html><head><title>OAuth Error</title></head><body><h1>OAuth Error</h1>\
             <p>{escaped}</p></body></html>"
        ))
}
