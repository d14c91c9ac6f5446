//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider posts a signed
//! logout token; every check of §2.6 is made here (signature from the provider's JWKS with
//! an asymmetric algorithm, `iss`, `aud`, `iat`, the `events` member, `sub` and/or `sid`, no
//! `nonce`, and a `jti` never seen before), then every session of the user ends — the
//! sessions are rows in the database, so every app process sees it at once.

use super::oidc::{ALLOWED_ALGS, CLOCK_SKEW, Sso, payload_of};
use crate::crypto::sha256_hex;
use crate::error::{AppError, AppResult};
use crate::models::{oidc_logout_jtis, sessions, user_identities};
use base64::Engine;
use chrono::Utc;
use openidconnect::JsonWebKey;
use openidconnect::core::CoreJwsSigningAlgorithm;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use std::collections::BTreeSet;

/// The event a logout token must carry.
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How old a logout token's `iat` may be (and how long its `jti` is remembered).
const MAX_AGE: chrono::Duration = chrono::Duration::minutes(5);

/// What a logout did.
#[derive(Debug, PartialEq, Eq)]
pub struct LoggedOut {
    /// Accounts whose sessions were ended.
    pub users: Vec<i64>,
    /// Sessions ended.
    pub sessions: u64,
}

/// Checks `token` and ends every session of the account(s) it names. A refused token is
/// `BadRequest` with the reason (the provider is told `invalid_request`).
pub async fn backchannel_logout(
    sso: &Sso,
    db: &DatabaseConnection,
    token: &str,
) -> AppResult<LoggedOut> {
    let claims = verify(sso, token).await?;
    let (issuer, _) = sso.issuer_and_client()?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
        .ok_or_else(|| bad("the logout token has no jti"))?;
    let fresh = oidc_logout_jtis::claim(
        db,
        &sha256_hex(&format!("{issuer}\n{jti}")),
        Utc::now() + MAX_AGE + CLOCK_SKEW,
    )
    .await?;
    if !fresh {
        return Err(bad("this logout token was already used"));
    }
    let sub = claims.get("sub").and_then(Value::as_str);
    let sid = claims.get("sid").and_then(Value::as_str);
    let mut users = BTreeSet::new();
    match (sub, sid) {
        (Some(sub), _) => {
            if let Some(identity) = user_identities::find(db, &issuer, sub).await? {
                users.insert(identity.user_id);
            }
        }
        (None, Some(sid)) => {
            for identity in user_identities::find_by_sid(db, &issuer, sid).await? {
                users.insert(identity.user_id);
            }
        }
        (None, None) => return Err(bad("the logout token names neither sub nor sid")),
    }
    let mut ended = 0;
    for user_id in &users {
        ended += sessions::delete_for_user(db, *user_id).await?;
    }
    tracing::info!(
        users = ?users,
        sessions.ended = ended,
        "campus sign-in: back-channel logout"
    );
    Ok(LoggedOut {
        users: users.into_iter().collect(),
        sessions: ended,
    })
}

/// The claims of `token` once its signature and claims pass (the `jti` replay check is the
/// caller's, as it writes).
async fn verify(sso: &Sso, token: &str) -> AppResult<serde_json::Map<String, Value>> {
    let (issuer, client_id) = sso.issuer_and_client()?;
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(bad("the logout token is not a signed JWT"));
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Map<String, Value> = b64
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(|| bad("the logout token's header is not JSON"))?;
    let alg: CoreJwsSigningAlgorithm = header
        .get("alg")
        .cloned()
        .and_then(|a| serde_json::from_value(a).ok())
        .filter(|a| ALLOWED_ALGS.contains(a))
        .ok_or_else(|| bad("the logout token is not signed with an accepted algorithm"))?;
    if let Some(typ) = header.get("typ") {
        let typ = typ.as_str().unwrap_or_default().to_ascii_lowercase();
        if !["logout+jwt", "application/logout+jwt", "jwt"].contains(&typ.as_str()) {
            return Err(bad("the logout token has the wrong type"));
        }
    }
    let signature = b64
        .decode(signature)
        .map_err(|_| bad("the logout token's signature is not base64url"))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let keys = sso.keys_for(kid).await?;
    let message = format!("{}.{}", parts[0], payload);
    let signed = keys
        .keys()
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.key_id().is_some_and(|id| id.as_str() == kid)))
        .any(|k| {
            k.verify_signature(&alg, message.as_bytes(), &signature)
                .is_ok()
        });
    if !signed {
        return Err(bad("the logout token's signature does not verify"));
    }
    let claims =
        payload_of(token.trim()).ok_or_else(|| bad("the logout token's claims are not JSON"))?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
        return Err(bad("the logout token is from another issuer"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id.as_str())),
        _ => false,
    };
    if !audience_ok {
        return Err(bad("the logout token is for another client"));
    }
    let now = Utc::now().timestamp();
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("the logout token has no iat"))?;
    if iat > now + CLOCK_SKEW.num_seconds() || iat < now - (MAX_AGE + CLOCK_SKEW).num_seconds() {
        return Err(bad("the logout token was not issued just now"));
    }
    if let Some(exp) = claims.get("exp")
        && exp
            .as_i64()
            .is_none_or(|exp| exp < now - CLOCK_SKEW.num_seconds())
    {
        return Err(bad("the logout token has expired"));
    }
    let event_ok = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_EVENT))
        .is_some_and(Value::is_object);
    if !event_ok {
        return Err(bad("the logout token carries no back-channel logout event"));
    }
    if claims.contains_key("nonce") {
        return Err(bad("a logout token must not carry a nonce"));
    }
    Ok(claims)
}

fn bad(message: &str) -> AppError {
    AppError::BadRequest(message.to_owned())
}
