//! The three endpoints: authorize (approves at once), token (codes with PKCE, refresh
//! tokens) and revoke. Error bodies follow RFC 6749 §5.2: `{"error", "error_description"}`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use url::Url;

use crate::upstream::oauth::{client_credentials, redirect_back, s256};

use super::{ACCESS_TOKEN_SECONDS, Authority, CODE_LIFETIME, Grant};

/// The decoded parameters of a query string or form body (the first of a repeated one).
fn params(encoded: &[u8]) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(encoded) {
        params
            .entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    params
}

/// `GET /authorize`: approves at once and sends the browser back with a code.
pub(super) async fn authorize(req: HttpRequest, authority: web::Data<Authority>) -> HttpResponse {
    let query = params(req.query_string().as_bytes());
    let get = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    // A wrong client or redirect URI is shown here: redirecting would hand a code (or an
    // error) to whoever wrote the link (RFC 6749 §4.1.2.1).
    if get("client_id") != Some(authority.client.id.as_str()) {
        return HttpResponse::BadRequest().body("invalid_request: unknown client_id\n");
    }
    let redirect_uri = get("redirect_uri").unwrap_or_default();
    let Some(redirect) = Url::parse(redirect_uri)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
    else {
        return HttpResponse::BadRequest()
            .body("invalid_request: redirect_uri is missing or not an http(s) URL\n");
    };
    let state = get("state");
    if get("response_type") != Some("code") {
        let description = "only response_type=code is supported";
        return redirect_back(
            redirect,
            state,
            Err(("unsupported_response_type", description)),
        );
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) => Some(challenge.to_owned()),
        (Some(_), _) => {
            let description = "code_challenge_method must be S256";
            return redirect_back(redirect, state, Err(("invalid_request", description)));
        }
        (None, Some(_)) => {
            let description = "code_challenge_method without code_challenge";
            return redirect_back(redirect, state, Err(("invalid_request", description)));
        }
        (None, None) => None,
    };
    let code = authority.mint("code");
    let grant = Grant {
        // As sent: the token request must repeat it exactly.
        redirect_uri: redirect_uri.to_owned(),
        challenge,
        scope: get("scope").map(str::to_owned),
        issued: std::time::Instant::now(),
    };
    authority.lock().codes.insert(code.clone(), grant);
    redirect_back(redirect, state, Ok(&code))
}

/// `POST /token`: `authorization_code` and `refresh_token`.
pub(super) async fn token(
    req: HttpRequest,
    body: web::Bytes,
    authority: web::Data<Authority>,
) -> HttpResponse {
    let form = params(&body);
    let client = &authority.client;
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if client_credentials(authorization, &form)
        != (Some(client.id.clone()), Some(client.secret.clone()))
    {
        return oauth_error(401, "invalid_client", "unknown client or wrong secret");
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    match field("grant_type") {
        "authorization_code" => {
            // A code works once, even when the exchange fails (RFC 6749 §4.1.2).
            let Some(grant) = authority.lock().codes.remove(field("code")) else {
                return oauth_error(400, "invalid_grant", "unknown or already used code");
            };
            if grant.issued.elapsed() > CODE_LIFETIME {
                return oauth_error(400, "invalid_grant", "the code expired");
            }
            if field("redirect_uri") != grant.redirect_uri {
                let description = "redirect_uri differs from the authorization request";
                return oauth_error(400, "invalid_grant", description);
            }
            if let Some(challenge) = &grant.challenge {
                let verifier = field("code_verifier");
                let computed = s256(verifier);
                if verifier.is_empty() || computed != *challenge {
                    return oauth_error(400, "invalid_grant", "PKCE verification failed");
                }
            }
            let refresh = authority.mint("refresh");
            authority
                .lock()
                .refresh_tokens
                .insert(refresh.clone(), grant.scope.clone());
            issue(&authority, Some(&refresh), grant.scope.as_deref())
        }
        "refresh_token" => {
            let scope = authority
                .lock()
                .refresh_tokens
                .get(field("refresh_token"))
                .cloned();
            match scope {
                // Google keeps the refresh token (the response carries none); so do we.
                Some(scope) => issue(&authority, None, scope.as_deref()),
                None => oauth_error(400, "invalid_grant", "unknown or revoked refresh token"),
            }
        }
        _ => oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// A new access token (let in by the fake API from now on) and the token response.
fn issue(authority: &Authority, refresh: Option<&str>, scope: Option<&str>) -> HttpResponse {
    let access = authority.mint("access");
    authority.tokens.issue_token(&access);
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `POST /revoke`: a refresh token is forgotten, an access token refused from now on.
pub(super) async fn revoke(body: web::Bytes, authority: web::Data<Authority>) -> HttpResponse {
    let form = params(&body);
    if let Some(token) = form.get("token") {
        let was_refresh = authority.lock().refresh_tokens.remove(token).is_some();
        if !was_refresh {
            authority.tokens.expire_token(token);
        }
    }
    // RFC 7009 §2.2: 200 also for a token the server does not know.
    HttpResponse::Ok().finish()
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    let mut response = HttpResponse::build(status);
    if status == actix_web::http::StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"campuscore-fakes\""));
    }
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"error": error, "error_description": description}))
}
