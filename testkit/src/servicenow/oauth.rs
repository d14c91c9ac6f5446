//! The instance as OAuth provider (System OAuth → Application Registry):
//! - `GET /oauth_auth.do`: checks the client and its redirect URI (exact match; otherwise a
//!   400 HTML page, no redirect), then approves at once as the user of `sign_in_as` and
//!   sends the browser back with `code` and `state`. An unsupported `response_type` or a
//!   `code_challenge_method` other than `S256` is sent back as `error=…`.
//! - `POST /oauth_token.do` (form; client credentials in the form or HTTP Basic):
//!   `authorization_code` (single-use code, ten minutes, PKCE S256 checked when the code
//!   was asked with a challenge) and `refresh_token`. Answers `{"access_token",
//!   "refresh_token", "scope":"useraccount", "token_type":"Bearer", "expires_in"}` with
//!   `expires_in` one second short of the lifespan (1799 for the default 30 minutes).
//!   Refresh tokens live 100 days. A refresh mints a new access token (earlier ones keep
//!   working until they expire) and, as ServiceNow's documentation says ("always return
//!   the current refresh token"), answers with the *same* refresh token —
//!   `set_refresh_token_rotation(true)` models an instance that rotates instead (the old
//!   refresh token then stops working). Every refusal is the same 401
//!   `{"error_description":"access_denied","error":"server_error"}`.
//! - `oauth_revoke_token.do?token=…` (any method, form or query, no authentication): marks
//!   the token expired — for a refresh token, the access tokens issued from it too — and
//!   answers 200 with an empty body, whether or not the token was known.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration as Span;
use serde_json::json;
use url::Url;

use crate::upstream::oauth::{client_credentials, redirect_back, s256};

use super::errors::{json_response, oauth_denied, oauth_page};
use super::routes::{Answer, Call};
use super::state::{Code, Shared, State, Token, TokenKind};

/// How long an authorization code can be exchanged.
const CODE_LIFETIME_SECONDS: i64 = 600;

/// A fresh ServiceNow-looking token: 86 URL-safe characters.
fn mint_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 64]>())
}

/// Issues an access token (and, unless `refresh` is given, a refresh token) for `user`.
pub(super) fn issue(
    state: &mut State,
    user: &str,
    client_id: Option<&str>,
    refresh: Option<String>,
) -> (String, String) {
    let now = state.now();
    let refresh = refresh.unwrap_or_else(|| {
        let value = mint_token();
        state.tokens.push(Token {
            value: value.clone(),
            kind: TokenKind::Refresh,
            user: user.to_owned(),
            client_id: client_id.map(str::to_owned),
            expires: now + state.refresh_token_ttl,
            revoked: false,
            refresh: None,
        });
        value
    });
    let access = mint_token();
    state.tokens.push(Token {
        value: access.clone(),
        kind: TokenKind::Access,
        user: user.to_owned(),
        client_id: client_id.map(str::to_owned),
        expires: now + state.access_token_ttl,
        revoked: false,
        refresh: Some(refresh.clone()),
    });
    (access, refresh)
}

/// `GET /oauth_auth.do`.
pub(super) fn authorize(shared: &Shared, call: &Call) -> Answer {
    let get = |name: &str| call.param(name).filter(|v| !v.is_empty());
    let mut state = shared.lock();
    let Some(client) = state
        .clients
        .iter()
        .find(|c| Some(c.client_id.as_str()) == get("client_id"))
    else {
        return Err(oauth_page("Invalid client_id").into());
    };
    let client_id = client.client_id.clone();
    let redirect_uri = get("redirect_uri")
        .unwrap_or(&client.redirect_uri)
        .to_owned();
    let Some(redirect) = Url::parse(&redirect_uri)
        .ok()
        .filter(|_| redirect_uri == client.redirect_uri)
    else {
        return Err(oauth_page("Invalid redirect_uri").into());
    };
    let state_param = get("state");
    if get("response_type") != Some("code") {
        let error = Err(("unsupported_response_type", "response_type must be code"));
        return Ok(redirect_back(redirect, state_param, error));
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) => Some(challenge.to_owned()),
        (Some(_), _) => {
            let error = Err(("invalid_request", "code_challenge_method must be S256"));
            return Ok(redirect_back(redirect, state_param, error));
        }
        (None, _) => None,
    };
    let Some(user) = state.signed_in.clone() else {
        return Err(oauth_page("fake ServiceNow: nobody is signed in (call sign_in_as)").into());
    };
    let code = hex::encode(rand::random::<[u8; 16]>());
    let expires = state.now() + Span::seconds(CODE_LIFETIME_SECONDS);
    let entry = Code {
        user,
        client_id,
        redirect_uri,
        challenge,
        expires,
    };
    state.codes.insert(code.clone(), entry);
    Ok(redirect_back(redirect, state_param, Ok(&code)))
}

/// `POST /oauth_token.do`.
pub(super) fn token(shared: &Shared, call: &Call, body: &[u8]) -> Answer {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut state = shared.lock();
    state.token_requests.push(field("grant_type").to_owned());
    let (client_id, secret) = client_credentials(call.authorization.as_deref(), &form);
    let known = state
        .clients
        .iter()
        .any(|c| Some(&c.client_id) == client_id.as_ref() && Some(&c.secret) == secret.as_ref());
    let Some(client_id) = client_id.filter(|_| known) else {
        return Err(oauth_denied().into());
    };
    let now = state.now();
    let (access, refresh) = match field("grant_type") {
        "authorization_code" => {
            // A code works once, even when the exchange fails.
            let code = state.codes.remove(field("code"));
            let Some(code) = code.filter(|c| c.expires > now && c.client_id == client_id) else {
                return Err(oauth_denied().into());
            };
            let redirect = field("redirect_uri");
            let verifier = field("code_verifier");
            let pkce_ok = code
                .challenge
                .as_ref()
                .is_none_or(|challenge| !verifier.is_empty() && s256(verifier) == *challenge);
            if (!redirect.is_empty() && redirect != code.redirect_uri) || !pkce_ok {
                return Err(oauth_denied().into());
            }
            issue(&mut state, &code.user, Some(&client_id), None)
        }
        "refresh_token" => {
            let rotate = state.rotate_refresh_tokens;
            let Some(old) = state.tokens.iter_mut().find(|t| {
                t.value == field("refresh_token")
                    && t.kind == TokenKind::Refresh
                    && !t.revoked
                    && t.expires > now
                    && t.client_id.as_ref().is_none_or(|c| *c == client_id)
            }) else {
                return Err(oauth_denied().into());
            };
            let user = old.user.clone();
            let keep = if rotate {
                old.revoked = true;
                None
            } else {
                Some(old.value.clone())
            };
            issue(&mut state, &user, Some(&client_id), keep)
        }
        _ => return Err(oauth_denied().into()),
    };
    let body = json!({
        "access_token": access,
        "refresh_token": refresh,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": state.access_token_ttl.num_seconds() - 1,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `oauth_revoke_token.do`: the token (form or query) and, for a refresh token, the access
/// tokens issued with it, end.
pub(super) fn revoke(shared: &Shared, call: &Call, body: &[u8]) -> Answer {
    let from_form = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = from_form.or_else(|| call.param("token").map(str::to_owned)) else {
        return Ok(HttpResponse::Ok().finish());
    };
    let mut state = shared.lock();
    for t in state.tokens.iter_mut() {
        if t.value == token || t.refresh.as_deref() == Some(token.as_str()) {
            t.revoked = true;
        }
    }
    Ok(HttpResponse::Ok().finish())
}
