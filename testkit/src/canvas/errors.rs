//! Canvas's answers when things go wrong, exactly as Canvas words them: the three 401s
//! (no token, a bad token with `WWW-Authenticate`, a good token without the right), 404,
//! the two throttling forms, the `search_term` 400, OAuth errors, the file store's S3 XML
//! errors — and the rate headers every instance response carries.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{StatusCode, header::HeaderName};
use serde_json::{Value, json};

use super::JSON;
use crate::upstream::{BodyFault, UpstreamFault};

/// Which kind of request a fault is for (and, in the log, which host answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/api/v1/…` on the instance.
    Api,
    /// `/login/oauth2/…` on the instance.
    OAuth,
    /// `/files/:id/download` on the instance (the 302).
    Download,
    /// A signed URL on the file store.
    FileStore,
}

/// Which server answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The Canvas instance ([`super::FakeCanvas::base_url`]).
    Instance,
    /// The file store ([`super::FakeCanvas::file_store_url`]).
    FileStore,
}

impl Endpoint {
    /// The server that answers this endpoint.
    pub fn host(self) -> Host {
        match self {
            Self::FileStore => Host::FileStore,
            Self::Api | Self::OAuth | Self::Download => Host::Instance,
        }
    }
}

/// How Canvas refuses a throttled request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// The long-standing form: `403 Forbidden`, body `403 Forbidden (Rate Limit Exceeded)\n`.
    Forbidden,
    /// The form the current documentation names: `429`, body
    /// `429 Too Many Requests (Rate Limit Exceeded)\n`. Neither carries `Retry-After`.
    TooManyRequests,
}

/// A failure served instead of (or into) the next response of an [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Throttled (checked before the token, as Canvas's middleware does).
    Throttled(Throttle),
    /// `status` with Canvas's generic error body.
    Status(u16),
    /// Announces the full `Content-Length`, sends `after` bytes, drops the connection
    /// (file store only).
    Truncate {
        /// Bytes sent first.
        after: u64,
    },
    /// Sends `after` bytes, then nothing more (file store only).
    Stall {
        /// Bytes sent first.
        after: u64,
    },
}

impl UpstreamFault for Fault {
    fn body_fault(&self) -> Option<BodyFault> {
        match self {
            Self::Truncate { after } => Some(BodyFault::Truncate(*after)),
            Self::Stall { after } => Some(BodyFault::Stall(*after)),
            Self::Throttled(_) | Self::Status(_) => None,
        }
    }
}

/// One request the fake received; `endpoint` is `None` for a path Canvas does not have.
pub type LoggedRequest = crate::upstream::LoggedRequest<Endpoint>;

/// What the quota is said to be after a request (Canvas's default high-water mark).
pub(super) const RATE_LIMIT_REMAINING: &str = "600.0";
/// What every request is said to cost.
pub(super) const REQUEST_COST: &str = "0.01";

/// A JSON answer with Canvas's `Content-Type`.
pub(super) fn json_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, JSON))
        .body(body.to_string())
}

/// Adds `X-Rate-Limit-Remaining` and `X-Request-Cost` unless the response set its own.
pub(super) fn add_rate_headers(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-rate-limit-remaining", RATE_LIMIT_REMAINING),
        ("x-request-cost", REQUEST_COST),
    ] {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// `404 {"errors":[{"message":"The specified resource does not exist."}]}`.
pub(super) fn not_found() -> HttpResponse {
    let body = json!({"errors": [{"message": "The specified resource does not exist."}]});
    json_response(StatusCode::NOT_FOUND, &body)
}

/// A valid token whose user may not do this: 401 *without* `WWW-Authenticate` (the header
/// is how a client tells "reconnect" from "not allowed").
pub(super) fn unauthorized_action() -> HttpResponse {
    let body = json!({
        "status": "unauthorized",
        "errors": [{"message": "user not authorized to perform that action"}],
    });
    json_response(StatusCode::UNAUTHORIZED, &body)
}

/// No token at all: 401 with `WWW-Authenticate`, "user authorization required".
pub(super) fn unauthenticated() -> HttpResponse {
    let body = json!({
        "status": "unauthenticated",
        "errors": [{"message": "user authorization required"}],
    });
    with_challenge(json_response(StatusCode::UNAUTHORIZED, &body))
}

/// A token Canvas does not accept (unknown, deleted, replaced by a refresh, or expired):
/// 401 with `WWW-Authenticate: Bearer realm="canvas-lms"`.
pub(super) fn invalid_token(message: &str) -> HttpResponse {
    let body = json!({"errors": [{"message": message}]});
    with_challenge(json_response(StatusCode::UNAUTHORIZED, &body))
}

fn with_challenge(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"canvas-lms\""),
    );
    response
}

/// A `search_term` shorter than two characters.
pub(super) fn search_term_too_short() -> HttpResponse {
    let body = json!({"errors": [{
        "field": "search_term",
        "code": "invalid",
        "message": "2 or more characters is required",
    }]});
    json_response(StatusCode::BAD_REQUEST, &body)
}

/// `400 {"message": …}`: how the announcements endpoint words its refusals.
pub(super) fn bad_request_message(message: &str) -> HttpResponse {
    json_response(StatusCode::BAD_REQUEST, &json!({"message": message}))
}

/// `400 {"errors":[{"message": …}]}`.
pub(super) fn bad_request(message: &str) -> HttpResponse {
    let body = json!({"errors": [{"message": message}]});
    json_response(StatusCode::BAD_REQUEST, &body)
}

/// Canvas's throttling answer: plain text, the quota at zero, no `Retry-After`.
pub(super) fn throttled(kind: Throttle) -> HttpResponse {
    let (status, body) = match kind {
        Throttle::Forbidden => (
            StatusCode::FORBIDDEN,
            "403 Forbidden (Rate Limit Exceeded)\n",
        ),
        Throttle::TooManyRequests => (
            StatusCode::TOO_MANY_REQUESTS,
            "429 Too Many Requests (Rate Limit Exceeded)\n",
        ),
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header(("X-Rate-Limit-Remaining", "0.0"))
        .insert_header(("X-Request-Cost", "0.0"))
        .body(body)
}

/// The response for a fault that replaces one.
pub(super) fn fault_response(fault: &Fault) -> HttpResponse {
    match fault {
        Fault::Throttled(kind) => throttled(*kind),
        Fault::Status(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase()
                .replace(' ', "_");
            let body = json!({"errors": [{"message": "An error occurred.", "error_code": code}]});
            json_response(status, &body)
        }
        Fault::Truncate { .. } | Fault::Stall { .. } => {
            fault_response(&Fault::Status(StatusCode::INTERNAL_SERVER_ERROR.as_u16()))
        }
    }
}

/// An OAuth error as Canvas renders it: `{"error", "error_description"}`.
pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// An S3 error document, as the file store answers.
pub(super) fn s3_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>FAKE0000CANVAS00</RequestId>\
         <HostId>fake-canvas-file-store</HostId></Error>"
    );
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/xml"))
        .body(body)
}
