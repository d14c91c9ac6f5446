//! Canvas's own OAuth 2.0 endpoints on the instance: `GET /login/oauth2/auth` (approves at
//! once as the signed-in user), `POST /login/oauth2/token` (`authorization_code` with
//! optional S256 PKCE, `refresh_token`) and `DELETE /login/oauth2/token` (logs out: the
//! access token and its refresh token both end). Errors use Canvas's own table
//! (`Canvas::Oauth::RequestError`): `invalid_client` 401, everything else 400.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::Duration as Span;
use serde_json::json;
use url::Url;

use crate::upstream::oauth::{client_credentials, redirect_back, s256};

use super::errors::{json_response, oauth_error};
use super::routes::{Answer, Call, authenticate, token_of};
use super::state::{Code, Grant, Shared, State};

/// How long an authorization code can be exchanged.
const CODE_LIFETIME_SECONDS: i64 = 600;

/// A fresh Canvas-looking token: `<shard>~<64 characters>`.
pub(super) fn mint_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes: [u8; 64] = std::array::from_fn(|_| rand::random::<u8>());
    let text: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("7~{text}")
}

/// Creates a grant for `user` and returns its access and refresh tokens.
pub(super) fn new_grant(
    state: &mut State,
    user: i64,
    client_id: Option<String>,
) -> (String, String) {
    let (access, refresh) = (mint_token(), mint_token());
    let expires = state.now() + state.access_token_ttl;
    state.grants.push(Grant {
        user,
        client_id,
        access: access.clone(),
        refresh: refresh.clone(),
        expires,
        deleted: false,
    });
    (access, refresh)
}

/// `GET /login/oauth2/auth`: checks the developer key and the redirect URI (answered here,
/// never redirected), then approves as the signed-in user and sends the browser back with
/// `code` and `state`.
pub(super) fn authorize(shared: &Shared, call: &Call) -> Answer {
    let get = |name: &str| call.param(name).filter(|v| !v.is_empty());
    let mut state = shared.lock();
    let Some(key) = state
        .keys
        .iter()
        .find(|k| Some(k.client_id.as_str()) == get("client_id"))
    else {
        return Err(
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client").into(),
        );
    };
    let client_id = key.client_id.clone();
    let redirect_uri = get("redirect_uri").unwrap_or_default().to_owned();
    let Some(redirect) = Url::parse(&redirect_uri)
        .ok()
        .filter(|url| redirect_matches(&key.redirect_uri, url))
    else {
        let description = "redirect_uri does not match client settings";
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description).into());
    };
    let state_param = get("state");
    if get("response_type") != Some("code") {
        let description = "Only response_type=code is permitted";
        return Ok(redirect_back(
            redirect,
            state_param,
            Err(("unsupported_response_type", description)),
        ));
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) => Some(challenge.to_owned()),
        (Some(_), _) => {
            let description = "code_challenge_method must be S256";
            return Ok(redirect_back(
                redirect,
                state_param,
                Err(("invalid_request", description)),
            ));
        }
        (None, _) => None,
    };
    let Some(user) = state.signed_in else {
        let response = HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body("fake Canvas: nobody is signed in (call FakeCanvas::sign_in_as first)\n");
        return Err(response.into());
    };
    let code = hex::encode(rand::random::<[u8; 32]>());
    let expires = state.now() + Span::seconds(CODE_LIFETIME_SECONDS);
    state.codes.insert(
        code.clone(),
        Code {
            user,
            client_id,
            redirect_uri,
            challenge,
            expires,
        },
    );
    Ok(redirect_back(redirect, state_param, Ok(&code)))
}

/// Canvas accepts a redirect URI on the developer key's host or one of its subdomains.
fn redirect_matches(registered: &str, asked: &Url) -> bool {
    let Ok(registered) = Url::parse(registered) else {
        return false;
    };
    let (Some(want), Some(got)) = (registered.host_str(), asked.host_str()) else {
        return false;
    };
    got == want || got.ends_with(&format!(".{want}"))
}

/// `POST /login/oauth2/token`.
pub(super) fn token(shared: &Shared, call: &Call, body: &[u8]) -> Answer {
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut state = shared.lock();
    state.token_requests.push(field("grant_type").to_owned());
    let (client_id, secret) = client_credentials(call.authorization.as_deref(), &form);
    let Some(key) = state
        .keys
        .iter()
        .find(|k| Some(&k.client_id) == client_id.as_ref())
    else {
        return Err(
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client").into(),
        );
    };
    if Some(&key.secret) != secret.as_ref() {
        return Err(
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "invalid client").into(),
        );
    }
    let client_id = key.client_id.clone();
    let bad = |error: &str, description: &str| {
        Err(oauth_error(StatusCode::BAD_REQUEST, error, description).into())
    };
    match field("grant_type") {
        "authorization_code" => {
            if field("code").is_empty() {
                let description = "You must provide the code parameter when using the authorization_code grant type";
                return bad("invalid_request", description);
            }
            // A code works once, even when the exchange fails.
            let now = state.now();
            let Some(code) = state
                .codes
                .remove(field("code"))
                .filter(|c| c.expires > now)
            else {
                return bad("invalid_grant", "authorization_code not found");
            };
            if code.client_id != client_id {
                return bad("invalid_grant", "incorrect client");
            }
            if !field("redirect_uri").is_empty() && field("redirect_uri") != code.redirect_uri {
                return bad(
                    "invalid_request",
                    "redirect_uri does not match client settings",
                );
            }
            if let Some(challenge) = &code.challenge {
                let verifier = field("code_verifier");
                let computed = s256(verifier);
                if verifier.is_empty() || computed != *challenge {
                    return bad("invalid_grant", "invalid code_verifier");
                }
            }
            if field("replace_tokens") == "1" {
                for grant in state.grants.iter_mut() {
                    if grant.user == code.user && grant.client_id.as_deref() == Some(&client_id) {
                        grant.deleted = true;
                    }
                }
            }
            let (access, refresh) = new_grant(&mut state, code.user, Some(client_id));
            Ok(token_response(&state, code.user, &access, Some(&refresh)))
        }
        "refresh_token" => {
            if field("refresh_token").is_empty() {
                let description = "You must provide the refresh_token parameter when using the refresh_token grant type";
                return bad("invalid_request", description);
            }
            let now = state.now();
            let ttl = state.access_token_ttl;
            let Some(grant) = state
                .grants
                .iter_mut()
                .find(|g| g.refresh == field("refresh_token") && !g.deleted)
            else {
                return bad("invalid_request", "refresh_token not found");
            };
            if grant.client_id.as_ref().is_some_and(|c| *c != client_id) {
                return bad("invalid_grant", "incorrect client");
            }
            // The record gets a new access token: the old one stops working.
            grant.access = mint_token();
            grant.expires = now + ttl;
            let (user, access) = (grant.user, grant.access.clone());
            Ok(token_response(&state, user, &access, None))
        }
        _ => bad(
            "unsupported_grant_type",
            "The grant_type you requested is not currently supported",
        ),
    }
}

/// Canvas's token response; a refresh answers without `refresh_token`.
fn token_response(state: &State, user: i64, access: &str, refresh: Option<&str>) -> HttpResponse {
    let name = state.user(user).map(|u| u.name.clone()).unwrap_or_default();
    let seconds = state.access_token_ttl.num_seconds();
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "user": {
            "id": user,
            "name": name,
            "global_id": format!("{}", 70_000_000_000_000_i64 + user),
            "effective_locale": "en",
        },
        "canvas_region": "none",
        "expires_in": seconds,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    json_response(StatusCode::OK, &body)
}

/// `DELETE /login/oauth2/token`: the caller's access token and its refresh token end.
pub(super) fn revoke(shared: &Shared, call: &Call) -> Answer {
    authenticate(shared, call)?;
    let token = token_of(call).unwrap_or_default().to_owned();
    let mut state = shared.lock();
    if let Some(grant) = state.grants.iter_mut().find(|g| g.access == token) {
        grant.deleted = true;
    }
    Ok(json_response(StatusCode::OK, &json!({})))
}
