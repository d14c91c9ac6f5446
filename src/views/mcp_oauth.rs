//! The MCP authorization server's machine endpoints: the metadata documents clients
//! discover it with (RFC 9728, RFC 8414), dynamic registration (RFC 7591), and the token
//! (RFC 6749) and revocation (RFC 7009) endpoints. Programs call these without a session
//! (`auth::csrf` exempts exactly the three POSTs, and none of them reads the session);
//! answers are JSON, errors in OAuth's own shape rather than the app's problem bodies.
//! Browsers' assistants may call them across origins, so answers allow any origin: they
//! carry no cookie-based authority.

use crate::error::AppResult;
use crate::services::mcp_tokens::{self, TokenError, TokenParams};
use crate::services::{mcp_auth, mcp_clients};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// A JSON answer that no cache keeps and any origin may read.
fn json_answer(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body.to_string())
}

/// An OAuth error answer.
fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    json_answer(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`: where `/mcp` gets its tokens.
pub async fn protected_resource(state: web::Data<AppState>) -> HttpResponse {
    json_answer(200, &mcp_auth::protected_resource_metadata(&state.settings))
}

/// `GET /.well-known/oauth-authorization-server`: this server's endpoints and abilities.
pub async fn authorization_server(state: web::Data<AppState>) -> HttpResponse {
    json_answer(
        200,
        &mcp_auth::authorization_server_metadata(&state.settings),
    )
}

/// `POST /oauth/register`: registers a public client (RFC 7591) → 201 with its `client_id`.
pub async fn register(state: web::Data<AppState>, body: web::Bytes) -> AppResult<HttpResponse> {
    Ok(match mcp_clients::register(&state.db, &body).await? {
        Ok(registered) => json_answer(201, &registered),
        Err(e) => oauth_error(400, e.error, &e.description),
    })
}

/// `OPTIONS /oauth/register`: the CORS preflight of a registration from a web page.
pub async fn register_preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish()
}

/// The form parameters of a token or revocation request.
fn form_params(req: &HttpRequest, body: &[u8]) -> Result<TokenParams, TokenError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(TokenError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    TokenParams::parse(body)
}

/// `POST /oauth/token`: a code (with its PKCE verifier) or a refresh token for a new pair.
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let params = match form_params(&req, &body) {
        Ok(params) => params,
        Err(e) => return Ok(oauth_error(e.status(), e.error, &e.description)),
    };
    Ok(
        match mcp_tokens::token(&state.db, &state.settings, &params).await? {
            Ok(tokens) => json_answer(200, &tokens),
            Err(e) => oauth_error(e.status(), e.error, &e.description),
        },
    )
}

/// `POST /oauth/revoke`: a client gives back a token (RFC 7009) → 200 whatever it was.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let params = match form_params(&req, &body) {
        Ok(params) => params,
        Err(e) => return Ok(oauth_error(e.status(), e.error, &e.description)),
    };
    Ok(match mcp_tokens::revoke(&state.db, &params).await? {
        Ok(()) => json_answer(200, &json!({})),
        Err(e) => oauth_error(e.status(), e.error, &e.description),
    })
}
