//! The authorization flows of OAuth connectors, as the app keeps them: a started flow is a
//! row holding the hashed single-use `state`, the encrypted PKCE verifier and who may finish
//! it; the callback consumes it exactly once.

use super::oauth::OAuthClient;
use super::rate_limits;
use super::runtime::ConnectorRuntime;
use crate::crypto::{random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::models::oauth_states;
use chrono::{DateTime, Utc};
use oauth2::PkceCodeVerifier;

/// How long a started authorization may take.
pub const FLOW_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// Bytes of entropy in a `state` (256 bits).
const STATE_BYTES: usize = 32;
/// Bytes of entropy in a PKCE verifier (64 bytes → 86 characters, the RFC 7636 maximum is 128).
const VERIFIER_BYTES: u32 = 64;

/// Who may complete a flow: the user, and for browser flows the session that started it.
pub struct FlowOwner<'a> {
    pub user_id: i64,
    /// The session's flow nonce (see `crate::auth::keys::OAUTH_NONCE`); `None` for the API.
    pub session_nonce: Option<&'a str>,
}

/// A started authorization.
pub struct StartedFlow {
    pub auth_url: url::Url,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// Starts an authorization for `owner` on connector `slug`: stores the hashed state and the
/// encrypted PKCE verifier, and returns the provider URL to send the user to.
///
/// Each start stores a row, so starts are rate limited per user
/// (`CAMPUSCORE_OAUTH_STARTS_PER_HOUR`) and a user may have at most
/// `CAMPUSCORE_OAUTH_PENDING_FLOWS` unfinished, unexpired flows; past either, the answer is
/// `RateLimited` (the wait until the oldest pending flow expires, for the second).
pub async fn start_flow(
    rt: &ConnectorRuntime,
    client: &OAuthClient,
    slug: &str,
    owner: FlowOwner<'_>,
    reconnect_connection_id: Option<i64>,
) -> AppResult<StartedFlow> {
    rate_limits::check(&rt.writes, owner.user_id, &rt.settings.oauth_start_limit()).await?;
    let now = Utc::now();
    // Expired flows are dead weight; sweeping them here keeps the table small without a job.
    oauth_states::delete_expired(&rt.db, now).await?;
    let flow_state = random_token(STATE_BYTES);
    let verifier = PkceCodeVerifier::new(random_token(VERIFIER_BYTES as usize));
    let auth_url = client.authorize_url(&flow_state, &verifier)?;
    let expires_at = now + FLOW_TTL;
    let flow = oauth_states::NewOAuthState {
        state_hash: sha256_hex(&flow_state),
        user_id: owner.user_id,
        connector_slug: slug.to_owned(),
        session_binding: owner.session_nonce.map(sha256_hex),
        pkce_verifier: rt.keyring.encrypt_str(verifier.secret()),
        redirect_uri: client.redirect_uri.clone(),
        reconnect_connection_id,
        expires_at,
        created_at: now,
    };
    let id = oauth_states::insert(&rt.db, flow).await?;
    // Counted after inserting, so concurrent starts cannot all slip under the cap: each sees
    // the others' rows, and one over the cap takes its own row back out.
    let pending = oauth_states::pending_for_user(&rt.db, owner.user_id, now).await?;
    if pending.count > u64::from(rt.settings.oauth_pending_flows) {
        oauth_states::delete(&rt.db, id).await?;
        let retry_after = pending
            .oldest_expires_at
            .map(|at| (at - now).to_std().unwrap_or_default())
            .unwrap_or_else(|| FLOW_TTL.to_std().unwrap_or_default());
        tracing::info!(
            connector.slug = slug,
            user.id = owner.user_id,
            pending = pending.count - 1,
            "oauth flow refused: too many pending"
        );
        return Err(AppError::RateLimited { retry_after });
    }
    tracing::info!(
        connector.slug = slug,
        user.id = owner.user_id,
        "oauth flow started"
    );
    Ok(StartedFlow {
        auth_url,
        state: flow_state,
        expires_at,
    })
}

/// A consumed flow: what the callback needs to finish it.
pub struct ConsumedFlow {
    pub verifier: PkceCodeVerifier,
    pub reconnect_connection_id: Option<i64>,
}

/// Why a `state` was refused (nothing is stored in any of these cases).
fn state_refused() -> AppError {
    AppError::FlowRejected(
        "This sign-in link is not valid: it has expired, was already used, or was started in \
         another browser session. Please start again."
            .into(),
    )
}

/// Consumes the flow `flow_state` for `owner` on `slug`: it must exist, belong to them (and,
/// for a browser flow, to their session), be unexpired, and not have been used. The row is
/// deleted with a compare-and-delete, so of two concurrent callbacks only one proceeds.
pub async fn consume_flow(
    rt: &ConnectorRuntime,
    slug: &str,
    owner: FlowOwner<'_>,
    flow_state: &str,
) -> AppResult<ConsumedFlow> {
    if flow_state.is_empty() || flow_state.len() > 512 {
        return Err(state_refused());
    }
    let Some(row) = oauth_states::find_by_hash(&rt.db, &sha256_hex(flow_state)).await? else {
        tracing::warn!(
            connector.slug = slug,
            "oauth callback with an unknown state"
        );
        return Err(state_refused());
    };
    let session_ok = match (&row.session_binding, owner.session_nonce) {
        // A browser flow completes only in the session that started it.
        (Some(binding), Some(nonce)) => *binding == sha256_hex(nonce),
        (Some(_), None) => false,
        // An API flow may be completed through the API or by the same user's browser.
        (None, _) => true,
    };
    if row.user_id != owner.user_id || row.connector_slug != slug || !session_ok {
        tracing::warn!(
            connector.slug = slug,
            user.id = owner.user_id,
            "oauth callback with a state from another session; refused"
        );
        return Err(state_refused());
    }
    let deleted = oauth_states::delete(&rt.db, row.id).await?;
    if !deleted || row.expires_at < Utc::now() {
        return Err(state_refused());
    }
    let verifier = rt.keyring.decrypt_str(&row.pkce_verifier).map_err(|_| {
        AppError::FlowRejected(
            "This sign-in was started before the server's keys changed. Please start again.".into(),
        )
    })?;
    Ok(ConsumedFlow {
        verifier: PkceCodeVerifier::new(verifier),
        reconnect_connection_id: row.reconnect_connection_id,
    })
}
