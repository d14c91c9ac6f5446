//! Campus sign-in with OpenID Connect (issue 18), the relying-party side: the provider's
//! metadata (discovery, cached; its JWKS fetched again once when a token names a key we do
//! not know, so a key rollover at the provider is picked up), the authorization request
//! (code + PKCE S256, `state` and `nonce` bound to the browser session in an `oidc_flow`
//! row, single-use and expiring), the code exchange and the ID-token checks (signature from
//! the JWKS with an asymmetric algorithm — never `none`, never the client secret —, `iss`,
//! `aud`, `azp`, `exp`/`iat` with a small skew, `nonce`). What the provider asserted then
//! goes to `oidc_accounts`; logout tokens are checked in `oidc_logout`.

use super::oauth::Transport;
use crate::config::OidcSettings;
use crate::crypto::{random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::models::app_secrets;
use crate::models::oidc_flows::{self, NewOidcFlow};
use crate::services::secrets::Keyring;
use chrono::Utc;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKey, JsonWebKeySet, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope,
    SignatureVerificationError, TokenResponse,
};
use sea_orm::DatabaseConnection;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a started sign-in may take at the provider.
pub const FLOW_VALIDITY: chrono::Duration = chrono::Duration::minutes(10);
/// How far the provider's clock may be ahead of or behind ours.
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// How old an ID token's `iat` may be.
const MAX_ID_TOKEN_AGE: chrono::Duration = chrono::Duration::minutes(10);
/// How long discovered metadata is used before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The `app_secret` row that holds the client secret set through the CLI.
pub const CLIENT_SECRET_NAME: &str = "oidc_client_secret";
/// The signature algorithms accepted on ID and logout tokens: asymmetric ones only.
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

/// The client as built from discovery with our redirect URI.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider's metadata with the time it was read.
struct Cached {
    read_at: Instant,
    metadata: Arc<ProviderMetadataWithLogout>,
}

/// Campus sign-in as configured: settings, the outbound client (no redirects, capped
/// bodies, `http` only for loopback issuers — `config` checks that) and the metadata cache.
pub struct Sso {
    settings: Option<OidcSettings>,
    redirect_uri: String,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
}

/// What a verified ID token asserts about the person signing in.
#[derive(Clone, Debug)]
pub struct Asserted {
    pub iss: String,
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The provider's session id, for back-channel logout.
    pub sid: Option<String>,
    /// Every claim of the token (groups, roles, …), already verified.
    pub claims: serde_json::Map<String, Value>,
}

impl Sso {
    /// Campus sign-in for `settings`, reaching the provider with `http` (a client that
    /// follows no redirects).
    pub fn new(settings: &crate::config::Settings, http: reqwest::Client) -> Self {
        Self {
            settings: settings.oidc.clone(),
            redirect_uri: settings.absolute_url(crate::paths::oidc_callback()),
            http,
            cache: Mutex::new(None),
        }
    }

    /// The settings, when campus sign-in is configured.
    pub fn settings(&self) -> Option<&OidcSettings> {
        self.settings.as_ref()
    }

    /// The provider's origin, which pages must allow in their CSP `form-action`: the logout
    /// form's answer redirects there (RP-initiated logout), and browsers hold a form's
    /// redirects to the page's `form-action`.
    pub fn form_action_source(&self) -> Option<String> {
        let issuer = url::Url::parse(&self.settings.as_ref()?.issuer).ok()?;
        Some(issuer.origin().ascii_serialization())
    }

    fn config(&self) -> AppResult<&OidcSettings> {
        self.settings.as_ref().ok_or(AppError::NotFound)
    }

    /// The provider's metadata: cached, read again after an hour or when `stale` says the
    /// cached copy lacks a key.
    async fn metadata(&self, stale: bool) -> AppResult<Arc<ProviderMetadataWithLogout>> {
        let config = self.config()?;
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && !stale
            && c.read_at.elapsed() < METADATA_TTL
        {
            return Ok(c.metadata.clone());
        }
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("CAMPUSCORE_OIDC_ISSUER: {e}")))?;
        let transport = Transport(self.http.clone());
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &transport)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "campus sign-in: reading the provider's metadata failed");
                unavailable()
            })?;
        let metadata = Arc::new(metadata);
        *cache = Some(Cached {
            read_at: Instant::now(),
            metadata: metadata.clone(),
        });
        Ok(metadata)
    }

    /// The provider's metadata with its JWKS read again (a token named a key we lack).
    /// Discovery is read again too, so a provider that moved its `jwks_uri` is followed.
    async fn refetch_keys(&self) -> AppResult<Arc<ProviderMetadataWithLogout>> {
        let meta = self.metadata(true).await?;
        // `discover_async` read the JWKS; an empty set means the read gave nothing usable.
        if meta.jwks().keys().is_empty() {
            let transport = Transport(self.http.clone());
            let keys: CoreJsonWebKeySet = JsonWebKeySet::fetch_async(meta.jwks_uri(), &transport)
                .await
                .map_err(|_| unavailable())?;
            let fresh = Arc::new((*meta).clone().set_jwks(keys));
            let mut cache = self.cache.lock().await;
            *cache = Some(Cached {
                read_at: Instant::now(),
                metadata: fresh.clone(),
            });
            return Ok(fresh);
        }
        Ok(meta)
    }

    /// The provider's keys for checking logout tokens; read again once when `kid` is not
    /// among them.
    pub(super) async fn keys_for(&self, kid: Option<&str>) -> AppResult<CoreJsonWebKeySet> {
        let meta = self.metadata(false).await?;
        let known = |m: &ProviderMetadataWithLogout| {
            kid.is_none_or(|kid| {
                m.jwks()
                    .keys()
                    .iter()
                    .any(|k| k.key_id().is_some_and(|id| id.as_str() == kid))
            })
        };
        if known(&meta) {
            return Ok(meta.jwks().clone());
        }
        Ok(self.refetch_keys().await?.jwks().clone())
    }

    /// The issuer and client id tokens must name.
    pub(super) fn issuer_and_client(&self) -> AppResult<(String, String)> {
        let c = self.config()?;
        Ok((c.issuer.clone(), c.client_id.clone()))
    }

    /// The client secret: `CAMPUSCORE_OIDC_CLIENT_SECRET`, else the one stored with
    /// `campuscore sso set-client-secret`.
    async fn client_secret(
        &self,
        db: &DatabaseConnection,
        keyring: &Keyring,
    ) -> AppResult<Option<String>> {
        if let Some(secret) = &self.config()?.client_secret {
            return Ok(Some(secret.clone()));
        }
        match app_secrets::find(db, CLIENT_SECRET_NAME).await? {
            Some(row) => Ok(Some(keyring.decrypt_str(&row.value).map_err(|e| {
                AppError::Internal(anyhow::anyhow!("decrypting the OIDC client secret: {e}"))
            })?)),
            None => Ok(None),
        }
    }

    fn client(
        &self,
        meta: &ProviderMetadataWithLogout,
        secret: Option<String>,
    ) -> AppResult<Client> {
        let config = self.config()?;
        let redirect = RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(config.client_id.clone()),
            secret.map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in from the browser session whose flow nonce is `session_nonce`;
    /// returns the provider's authorization URL. `next` is where to land afterwards (a
    /// local path the caller checked).
    pub async fn start(
        &self,
        db: &DatabaseConnection,
        keyring: &Keyring,
        session_nonce: &str,
        next: &str,
    ) -> AppResult<String> {
        let meta = self.metadata(false).await?;
        let secret = self.client_secret(db, keyring).await?;
        let client = self.client(&meta, secret)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_token(32);
        let nonce = random_token(32);
        let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url),
                move || Nonce::new(nonce_for_url),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        oidc_flows::insert(
            db,
            NewOidcFlow {
                state_hash: sha256_hex(&state),
                session_binding: sha256_hex(session_nonce),
                nonce_hash: sha256_hex(&nonce),
                pkce_verifier: keyring.encrypt_str(verifier.secret()),
                next_path: next.to_owned(),
                expires_at: Utc::now() + FLOW_VALIDITY,
            },
        )
        .await?;
        Ok(url.to_string())
    }

    /// Completes a sign-in: the flow named by `state` must exist, be unexpired and belong to
    /// this browser session; it is used up whatever happens next. Returns what the verified
    /// ID token asserts and where to go.
    pub async fn finish(
        &self,
        db: &DatabaseConnection,
        keyring: &Keyring,
        session_nonce: Option<&str>,
        code: &str,
        state: &str,
    ) -> AppResult<(Asserted, String)> {
        let config = self.config()?;
        let flow = oidc_flows::take(db, &sha256_hex(state))
            .await?
            .ok_or_else(|| {
                rejected("This sign-in was already used or is unknown. Please sign in again.")
            })?;
        if flow.expires_at <= Utc::now() {
            return Err(rejected(
                "This sign-in took too long. Please sign in again.",
            ));
        }
        // Hashes are compared, so timing says nothing about the session's nonce.
        let same_session = session_nonce.is_some_and(|n| sha256_hex(n) == flow.session_binding);
        if !same_session {
            return Err(rejected(
                "This sign-in was started in another browser. Please sign in again here.",
            ));
        }
        let verifier = keyring
            .decrypt_str(&flow.pkce_verifier)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("PKCE verifier: {e}")))?;
        let meta = self.metadata(false).await?;
        let secret = self.client_secret(db, keyring).await?;
        let client = self.client(&meta, secret.clone())?;
        let transport = Transport(self.http.clone());
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| AppError::Internal(anyhow::anyhow!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .request_async(&transport)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "campus sign-in: the code exchange failed");
                rejected("The campus sign-in could not be completed. Please try again.")
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| rejected("The identity provider sent no ID token."))?
            .clone();
        let nonce_hash = flow.nonce_hash.clone();
        let check = |client: &Client| {
            let now = Utc::now();
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(ALLOWED_ALGS)
                // `exp` is compared with this clock: a token expired less than the skew
                // ago still passes, as a provider's clock may run ahead of ours.
                .set_time_fn(move || now - CLOCK_SKEW)
                .set_issue_time_verifier_fn(move |iat| {
                    if iat > now + CLOCK_SKEW {
                        Err(format!("issued in the future ({iat})"))
                    } else if iat < now - MAX_ID_TOKEN_AGE {
                        Err(format!("issued too long ago ({iat})"))
                    } else {
                        Ok(())
                    }
                });
            let nonce_hash = nonce_hash.clone();
            id_token
                .claims(&verifier, move |n: Option<&openidconnect::Nonce>| match n {
                    Some(n) if sha256_hex(n.secret()) == nonce_hash => Ok(()),
                    Some(_) => Err("nonce mismatch".to_owned()),
                    None => Err("missing nonce".to_owned()),
                })
                .cloned()
        };
        let claims = match check(&client) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                tracing::info!(
                    "campus sign-in: unknown signing key, reading the provider's keys again"
                );
                let meta = self.refetch_keys().await?;
                check(&self.client(&meta, secret)?)
            }
            other => other,
        }
        .map_err(|e| {
            tracing::warn!(error = %e, "campus sign-in: ID token refused");
            rejected("The identity provider's answer could not be verified. Please sign in again.")
        })?;
        // The crate leaves `azp` to the client (OIDC Core §3.1.3.7 steps 4–5).
        let azp_ok = match claims.authorized_party() {
            Some(azp) => azp.as_str() == config.client_id,
            None => claims.audiences().len() == 1,
        };
        if !azp_ok {
            tracing::warn!("campus sign-in: ID token refused (authorized party)");
            return Err(rejected(
                "The identity provider's answer could not be verified. Please sign in again.",
            ));
        }
        // Every claim, from the token whose signature and claims were just checked.
        let all_claims = payload_of(&id_token.to_string()).unwrap_or_default();
        let asserted = Asserted {
            iss: claims.issuer().as_str().to_owned(),
            sub: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            sid: all_claims
                .get("sid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            claims: all_claims,
        };
        Ok((asserted, flow.next_path))
    }

    /// Uses up the flow named by `state` without completing it (the provider said no).
    pub async fn discard(&self, db: &DatabaseConnection, state: &str) -> AppResult<()> {
        oidc_flows::take(db, &sha256_hex(state)).await?;
        Ok(())
    }

    /// The provider's RP-initiated logout URL (with our client id and where to come back),
    /// when its metadata names an `end_session_endpoint`.
    pub async fn end_session_url(&self, back_to: &str) -> Option<String> {
        let config = self.settings.as_ref()?;
        let meta = self.metadata(false).await.ok()?;
        let endpoint = meta.additional_metadata().end_session_endpoint.clone()?;
        let mut url = endpoint.url().clone();
        url.query_pairs_mut()
            .append_pair("client_id", &config.client_id)
            .append_pair("post_logout_redirect_uri", back_to);
        Some(url.to_string())
    }
}

/// The JSON payload of a compact JWS (no checks: call only on a verified token).
pub(super) fn payload_of(jws: &str) -> Option<serde_json::Map<String, Value>> {
    use base64::Engine;
    let part = jws.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn rejected(message: &str) -> AppError {
    AppError::FlowRejected(message.to_owned())
}

fn unavailable() -> AppError {
    AppError::Unavailable(
        "The campus identity provider cannot be reached right now. Please try again shortly."
            .into(),
    )
}

/// Stores the client secret (Fernet-encrypted, re-encrypted by `keys rotate`) for when
/// `CAMPUSCORE_OIDC_CLIENT_SECRET` is not set.
pub async fn store_client_secret(
    db: &DatabaseConnection,
    keyring: &Keyring,
    secret: &str,
) -> AppResult<()> {
    app_secrets::put(db, CLIENT_SECRET_NAME, keyring.encrypt_str(secret)).await?;
    Ok(())
}
