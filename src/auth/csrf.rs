//! CSRF protection for every state-changing request: a synchronizer token kept in the
//! session, sent back as the `csrf_token` form field, the `X-CSRF-Token` header (HTMX sends it
//! from `hx-headers` on <body>), or the `csrf_token` query parameter (multipart uploads).
//! Requests authenticated by a bearer token carry no cookies and are exempt, and so are
//! the endpoints that never read the session: `/mcp`, the three machine endpoints of its
//! authorization server, and campus sign-in's back-channel logout (see `is_sessionless`).

use super::keys;
use crate::error::AppError;
use actix_session::{Session, SessionExt};
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use bytes::BytesMut;
use futures_util::StreamExt;

/// The header HTMX requests carry the token in.
pub const HEADER: &str = "X-CSRF-Token";
/// The form field / query parameter name.
pub const FIELD: &str = "csrf_token";
/// Largest url-encoded body the middleware buffers to find the token.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The session's CSRF token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(keys::CSRF) {
        return t;
    }
    let t = crate::crypto::random_token(32);
    let _ = session.insert(keys::CSRF, &t);
    t
}

/// Replace the token (after login, so a pre-login token cannot be reused).
pub fn rotate(session: &Session) -> String {
    let t = crate::crypto::random_token(32);
    let _ = session.insert(keys::CSRF, &t);
    t
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn has_bearer(req: &ServiceRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "))
}

/// The MCP endpoint and its authorization server's token, registration and revocation
/// endpoints (RFC 6749, 7591, 7009), posted to by programs that hold no session. Their
/// handlers read no session and act only on what the request itself proves (a bearer
/// token, a code with its PKCE verifier), so a cross-site post gains nothing there; exactly
/// these paths, and only for POST.
fn is_sessionless(req: &ServiceRequest) -> bool {
    let paths = [
        crate::paths::mcp(),
        crate::paths::oauth_token(),
        crate::paths::oauth_register(),
        crate::paths::oauth_revoke(),
        // The identity provider posts logout tokens here (OIDC Back-Channel Logout): the
        // handler reads no session and acts only on a token the provider signed.
        crate::paths::oidc_backchannel_logout(),
    ];
    req.method() == Method::POST && paths.contains(&req.path())
}

/// Middleware: reject unsafe requests whose token does not match the session's.
pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    if is_safe(req.method()) || has_bearer(&req) || is_sessionless(&req) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let expected = req.get_session().get::<String>(keys::CSRF).ok().flatten();
    let mut provided = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if provided.is_none() {
        provided = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.into_owned());
    }
    let is_form = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if provided.is_none() && is_form {
        let mut payload = req.take_payload();
        let mut buf = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > MAX_FORM_BYTES {
                let err = AppError::PayloadTooLarge("The form is too large.".into());
                return Ok(req.error_response(err).map_into_right_body());
            }
            buf.extend_from_slice(&chunk);
        }
        let body = buf.freeze();
        provided = url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.into_owned());
        req.set_payload(Payload::from(body));
    }
    match (expected, provided) {
        (Some(e), Some(p)) if constant_time_eq(e.as_bytes(), p.as_bytes()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        _ => {
            tracing::warn!(http.method = %req.method(), "csrf token missing or wrong");
            Ok(req
                .error_response(AppError::CsrfRejected)
                .map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_by_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
