//! A user's connections: connecting (OAuth completion or checked manual credentials),
//! the context actions run with (fresh tokens), testing, and disconnecting with token
//! revocation at the provider. Every function takes the acting user and scopes every query
//! to them: another user's connection id is `NotFound`.

use super::oauth::{self, OAuthClient, TokenError};
use super::oauth_flows::{self, FlowOwner};
use super::runtime::ConnectorRuntime;
use super::token_refresh::{self, ConnectionTokens};
use super::{audit, connector_config, credentials, rate_limits};
use crate::error::{AppError, AppResult};
use crate::models::entities::{connection, connector, knowledge_folder};
use crate::models::{Channel, ConnectionStatus, connections, connectors};
use campuscore_connectors::{
    ActionContext, AuthScoping, Connector, ConnectorError, ConnectorKind, ConnectorSettings,
    Credentials, validate_form,
};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// A catalog row together with its registered plugin.
#[derive(Clone)]
pub struct ResolvedConnector {
    pub row: connector::Model,
    pub plugin: Arc<dyn Connector>,
}

impl ResolvedConnector {
    /// The effective settings (admin config over defaults).
    pub async fn settings(&self, rt: &ConnectorRuntime) -> AppResult<ConnectorSettings> {
        connector_config::cached_settings(
            &rt.connector_settings,
            &rt.db,
            &rt.keyring,
            &self.row,
            self.plugin.as_ref(),
        )
        .await
    }

    /// The OAuth client of these `settings` (from [`Self::settings`]), built once per
    /// config version.
    pub fn oauth_client(
        &self,
        rt: &ConnectorRuntime,
        settings: &ConnectorSettings,
    ) -> AppResult<Arc<OAuthClient>> {
        rt.connector_settings
            .derived(&self.row, settings, |settings| {
                OAuthClient::from_settings(
                    self.plugin.spec(),
                    settings,
                    oauth::redirect_uri(rt, &self.row.slug),
                )
            })
    }

    /// Whether users can connect: an OAuth connector has a usable client (id, secret,
    /// valid URLs), a manual one every required config key.
    pub async fn is_configured(&self, rt: &ConnectorRuntime) -> AppResult<bool> {
        let settings = self.settings(rt).await?;
        Ok(match self.plugin.spec().kind {
            ConnectorKind::OAuth2 => self.oauth_client(rt, &settings).is_ok(),
            ConnectorKind::Manual => settings.missing_required().is_empty(),
        })
    }
}

/// The enabled connector `slug` (or numeric catalog id); unknown is `NotFound`, turned off
/// by an administrator is `Disabled`.
pub async fn enabled_connector(
    rt: &ConnectorRuntime,
    slug_or_id: &str,
) -> AppResult<ResolvedConnector> {
    let row = connectors::find_by_slug_or_id(&rt.db, slug_or_id)
        .await?
        .ok_or(AppError::NotFound)?;
    resolve(rt, row)
}

/// The connector of catalog id `connector_id`, enabled and registered.
pub async fn connector_by_id(
    rt: &ConnectorRuntime,
    connector_id: i64,
) -> AppResult<ResolvedConnector> {
    let row = connectors::find(&rt.db, connector_id)
        .await?
        .ok_or(AppError::NotFound)?;
    resolve(rt, row)
}

fn resolve(rt: &ConnectorRuntime, row: connector::Model) -> AppResult<ResolvedConnector> {
    let Some(plugin) = rt.registry.get(&row.slug).cloned() else {
        return Err(AppError::Disabled(format!(
            "{} is not available in this version.",
            row.name
        )));
    };
    if !row.is_enabled {
        return Err(AppError::Disabled(format!(
            "{} has been turned off by an administrator.",
            row.name
        )));
    }
    Ok(ResolvedConnector { row, plugin })
}

/// The caller's connection `connection_id`; anyone else's is `NotFound`.
pub async fn find_mine(
    rt: &ConnectorRuntime,
    user_id: i64,
    connection_id: i64,
) -> AppResult<connection::Model> {
    connections::find_owned(&rt.db, user_id, connection_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The caller's connection `connection_id` and its connector, enabled and registered, read
/// in one query; anyone else's connection is `NotFound`.
pub async fn find_mine_with_connector(
    rt: &ConnectorRuntime,
    user_id: i64,
    connection_id: i64,
) -> AppResult<(connection::Model, ResolvedConnector)> {
    let (conn, row) = connections::find_owned_with_connector(&rt.db, user_id, connection_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((conn, resolve(rt, row)?))
}

/// The user's folder and connection (with its connector) in one query, for a file
/// connector: what the cloud-import fragments act on. Either being missing or someone
/// else's, or a connector without files, is `NotFound`; a `session` to confirm that is no
/// longer live (logged out, expired, its user deactivated) is `Unauthenticated`, and then
/// nothing is taken. And the caller's go-ahead: the connection is signed in ([`signed_in`])
/// and, with a `limit`, a hit of it was taken for the user (as
/// [`rate_limits::check_then_audit`]: the caller commits an audit row before it answers). On
/// PostgreSQL the hit is taken in the read's own statement, one round trip for all of it,
/// under the conditions checked here after it; elsewhere, or if that statement did not take
/// it, it is taken here. Nothing is taken for what is `NotFound` or must be reconnected.
pub async fn find_mine_in_folder(
    rt: &ConnectorRuntime,
    user_id: i64,
    session: Option<connections::SessionToConfirm<'_>>,
    folder_id: i64,
    connection_id: i64,
    limit: Option<&rate_limits::Limit>,
) -> AppResult<(
    knowledge_folder::Model,
    connection::Model,
    ResolvedConnector,
    AppResult<()>,
)> {
    let postgres = rt.db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let found = match limit {
        Some(limit) if postgres => {
            let hit = connections::HitIf {
                name: limit.name,
                max: limit.max,
                window_ms: rate_limits::window_ms(limit),
                connector_slugs: rt.registry.file_slugs(),
            };
            connections::find_owned_in_folder_taking(
                &rt.db,
                user_id,
                folder_id,
                connection_id,
                &hit,
                session,
            )
            .await?
        }
        _ => {
            connections::find_owned_with_connector_and_folder(
                &rt.db,
                &rt.reads,
                user_id,
                folder_id,
                connection_id,
                session,
            )
            .await?
        }
    };
    let Some(found) = found else {
        // Nothing of the user's here, or no longer a user here: which one, the session's
        // own read tells (a 404 is rare enough to pay for it).
        return Err(match session {
            Some(s) if !session_is_live(rt, user_id, s).await? => AppError::Unauthenticated,
            _ => AppError::NotFound,
        });
    };
    if !found.session_live {
        return Err(AppError::Unauthenticated);
    }
    let connections::InFolder {
        conn,
        connector: row,
        folder,
        taken,
        ..
    } = found;
    let connector = resolve(rt, row)?;
    if connector.plugin.files().is_none() {
        return Err(AppError::NotFound);
    }
    let go = match (signed_in(&conn), limit, taken) {
        (Err(e), _, _) => Err(e),
        (Ok(()), None, _) => Ok(()),
        (Ok(()), Some(limit), Some(taken)) => {
            rate_limits::settle(&rt.writes, user_id, limit, taken).await
        }
        (Ok(()), Some(limit), None) => {
            rate_limits::check_then_audit(&rt.writes, user_id, limit).await
        }
    };
    Ok((folder, conn, connector, go))
}

/// Whether `session` is live and names the user, who is active (the condition
/// [`connections::find_owned_with_connector_and_folder`] checks with its read).
async fn session_is_live(
    rt: &ConnectorRuntime,
    user_id: i64,
    session: connections::SessionToConfirm<'_>,
) -> AppResult<bool> {
    let found =
        crate::models::sessions::find_live_with_user(&rt.db, &rt.reads, session.key_hash).await?;
    Ok(found.is_some_and(|(row, user)| {
        row.user_id == Some(user_id) && user.is_some_and(|u| u.is_active)
    }))
}

/// A connection known to need reconnecting is not tried: the user gets the Reconnect
/// button.
pub fn signed_in(conn: &connection::Model) -> AppResult<()> {
    if conn.status == ConnectionStatus::NeedsReauth {
        return Err(AppError::Connector(ConnectorError::AuthExpired {
            message: "The sign-in has expired.".into(),
        }));
    }
    Ok(())
}

/// Every connection of the user, oldest first.
pub async fn list_mine(rt: &ConnectorRuntime, user_id: i64) -> AppResult<Vec<connection::Model>> {
    Ok(connections::list_for_user(&rt.db, user_id).await?)
}

/// The OAuth client of an OAuth connector, from its current config.
pub async fn oauth_client(
    rt: &ConnectorRuntime,
    connector: &ResolvedConnector,
) -> AppResult<OAuthClient> {
    let settings = connector.settings(rt).await?;
    OAuthClient::from_settings(
        connector.plugin.spec(),
        &settings,
        oauth::redirect_uri(rt, &connector.row.slug),
    )
}

/// What a new or renewed connection holds.
pub struct SaveConnection {
    pub user_id: i64,
    pub connector_id: i64,
    pub data: Value,
    pub identity: Option<String>,
    pub scopes: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The connection a "Reconnect" started from.
    pub reconnect_connection_id: Option<i64>,
}

/// Stores a connection. Signing in again to the same upstream account (same identity), or
/// reconnecting a given connection, renews that connection instead of adding a second.
/// Returns the row and whether it is new.
pub async fn save(
    rt: &ConnectorRuntime,
    new: SaveConnection,
) -> AppResult<(connection::Model, bool)> {
    let txn = rt.db.begin().await?;
    // Write first: on SQLite a transaction that reads and then writes cannot wait for
    // another writer (it fails with SQLITE_BUSY at once), while one that starts with a
    // write waits its turn. On PostgreSQL this also serialises saves of the same user's
    // connections to one connector.
    connections::lock_for_connector(&txn, new.user_id, new.connector_id).await?;
    let mut existing = match &new.identity {
        Some(identity) => {
            connections::find_by_identity(&txn, new.user_id, new.connector_id, identity).await?
        }
        None => None,
    };
    if existing.is_none()
        && let Some(id) = new.reconnect_connection_id
    {
        existing =
            connections::find_owned_for_connector(&txn, new.user_id, new.connector_id, id).await?;
    }
    let (row, created) = match existing {
        Some(row) => {
            let sealed = credentials::seal(&rt.keyring, &row, &new.data);
            let renewal = connections::Renewal {
                credentials: sealed,
                service_identity: new.identity.clone(),
                scopes: new.scopes.clone(),
                expires_at: new.expires_at,
            };
            (connections::renew(&txn, row, renewal).await?, false)
        }
        None => {
            let row = credentials::insert(
                &txn,
                &rt.keyring,
                credentials::NewConnection {
                    user_id: new.user_id,
                    connector_id: new.connector_id,
                    data: new.data,
                    service_identity: new.identity,
                    scopes: new.scopes,
                    expires_at: new.expires_at,
                },
            )
            .await?;
            (row, true)
        }
    };
    txn.commit().await?;
    Ok((row, created))
}

/// Finishes an OAuth flow: consumes the state, exchanges the code, learns the upstream
/// identity and stores the connection. Nothing is stored unless every step succeeds.
pub async fn complete_oauth(
    rt: &ConnectorRuntime,
    channel: Channel,
    slug: &str,
    owner: FlowOwner<'_>,
    flow_state: &str,
    code: &str,
) -> AppResult<(connection::Model, bool)> {
    let user_id = owner.user_id;
    let connector = enabled_connector(rt, slug).await?;
    let flow = oauth_flows::consume_flow(rt, slug, owner, flow_state).await?;
    let started = Instant::now();
    let settings = connector.settings(rt).await?;
    let client = OAuthClient::from_settings(
        connector.plugin.spec(),
        &settings,
        oauth::redirect_uri(rt, slug),
    )?;
    let http = rt.http.token_endpoint_client();
    let tokens = match client
        .exchange_code(http.client(), code, flow.verifier)
        .await
    {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::warn!(connector.slug = slug, user.id = user_id, error = %e, "authorization code exchange failed");
            let error = match e {
                TokenError::InvalidGrant(_) => AppError::FlowRejected(
                    "The sign-in could not be completed: the provider did not accept the \
                     authorization (it may have expired). Please try again."
                        .into(),
                ),
                other => AppError::Connector(other.into_connector_error()),
            };
            audit_event(
                rt,
                channel,
                user_id,
                None,
                slug,
                "connection.connect",
                json!({}),
                Some(&error),
                started,
            )
            .await;
            return Err(error);
        }
    };
    let data = tokens.merge_into(None);
    let ctx = ActionContext::new(
        Credentials::new(data.clone()),
        settings,
        rt.http.for_connector(slug),
    );
    let identity = match connector.plugin.fetch_identity(&ctx).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(connector.slug = slug, error = %e, "could not learn the connected account");
            None
        }
    };
    let (row, created) = save(
        rt,
        SaveConnection {
            user_id,
            connector_id: connector.row.id,
            data,
            identity,
            scopes: tokens.scope_string(),
            expires_at: tokens.expires_at(),
            reconnect_connection_id: flow.reconnect_connection_id,
        },
    )
    .await?;
    audit_event(
        rt,
        channel,
        user_id,
        Some(row.id),
        slug,
        "connection.connect",
        json!({"kind": "oauth2", "created": created}),
        None,
        started,
    )
    .await;
    Ok((row, created))
}

/// A saved manual connection and what the user should know about it.
pub struct ManualConnected {
    pub connection: connection::Model,
    pub created: bool,
    pub warnings: Vec<String>,
}

/// Connects a manual connector: the form is validated against the connector's schema, then
/// checked live by the connector, and only then stored. Field problems are `Invalid`.
pub async fn connect_manual(
    rt: &ConnectorRuntime,
    channel: Channel,
    user_id: i64,
    connector: &ResolvedConnector,
    input: &HashMap<String, String>,
    reconnect_connection_id: Option<i64>,
) -> AppResult<ManualConnected> {
    let spec = connector.plugin.spec();
    if spec.kind != ConnectorKind::Manual {
        return Err(AppError::BadRequest(format!(
            "{} signs in with OAuth, not a form.",
            spec.name
        )));
    }
    let fields = validate_form(spec.form, input).map_err(|e| AppError::Invalid(e.into_map()))?;
    // The live check reaches a host the user chose with credentials the user typed: without a
    // budget the app would relay password guessing at any server.
    rate_limits::check(&rt.writes, user_id, &rt.settings.connection_check_limit()).await?;
    let settings = connector.settings(rt).await?;
    let started = Instant::now();
    let checked = connector
        .plugin
        .test_credentials(&settings, &rt.http, fields)
        .await;
    let normalized = match checked {
        Ok(n) => n,
        Err(e) => {
            let error = match e {
                ConnectorError::InvalidInput {
                    field: Some(field),
                    message,
                } => AppError::Invalid([(field, message)].into_iter().collect()),
                other => AppError::Connector(other),
            };
            audit_event(
                rt,
                channel,
                user_id,
                None,
                spec.slug,
                "connection.connect",
                json!({"kind": "manual"}),
                Some(&error),
                started,
            )
            .await;
            return Err(error);
        }
    };
    let (row, created) = save(
        rt,
        SaveConnection {
            user_id,
            connector_id: connector.row.id,
            data: normalized.credentials,
            identity: normalized.identity,
            scopes: None,
            expires_at: None,
            reconnect_connection_id,
        },
    )
    .await?;
    audit_event(
        rt,
        channel,
        user_id,
        Some(row.id),
        spec.slug,
        "connection.connect",
        json!({"kind": "manual", "created": created}),
        None,
        started,
    )
    .await;
    Ok(ManualConnected {
        connection: row,
        created,
        warnings: normalized.warnings,
    })
}

/// The context an action on `conn` runs with: decrypted credentials, settings, and for OAuth
/// connections fresh tokens (refreshed shortly before expiry) and the refresh hook for 401s.
pub async fn action_context(
    rt: &ConnectorRuntime,
    conn: &connection::Model,
    connector: &ResolvedConnector,
) -> AppResult<ActionContext> {
    if conn.status == ConnectionStatus::NeedsReauth {
        return Err(AppError::Connector(ConnectorError::AuthExpired {
            message: "the connection needs to be reconnected".into(),
        }));
    }
    let mut creds = Credentials::new(credentials::open_kept(&rt.opened, &rt.keyring, conn)?);
    let settings = connector.settings(rt).await?;
    let identity = if connector.plugin.spec().scoping == AuthScoping::InstitutionWide {
        super::oidc_accounts::identity_of(&rt.db, conn.user_id).await?
    } else {
        None
    };
    if connector.plugin.spec().kind != ConnectorKind::OAuth2 {
        return Ok(
            ActionContext::new(creds, settings, rt.http.for_connector(&connector.row.slug))
                .with_identity(identity),
        );
    }
    let client = connector.oauth_client(rt, &settings)?;
    if token_refresh::needs_refresh(conn, &creds) {
        match token_refresh::refresh(rt, conn.id, &creds, &client).await {
            Ok(fresh) => creds = fresh,
            // The token still works for a while: use it and let a later call refresh.
            Err(ConnectorError::Transport { .. } | ConnectorError::RateLimited { .. })
                if token_refresh::still_valid(conn) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let updater = ConnectionTokens {
        rt: rt.clone(),
        connection_id: conn.id,
        client,
    };
    Ok(
        ActionContext::new(creds, settings, rt.http.for_connector(&connector.row.slug))
            .with_token_updater(Arc::new(updater))
            .with_identity(identity),
    )
}

/// Checks a connection live (the upstream account for OAuth, the stored credentials for
/// manual connectors) and records the outcome in its status. Returns the updated row and,
/// on failure, what went wrong. Counts against the user's live-check budget, shared with
/// manual connecting; a refusal is `RateLimited` and changes nothing.
pub async fn test(
    rt: &ConnectorRuntime,
    channel: Channel,
    user_id: i64,
    connection_id: i64,
) -> AppResult<(connection::Model, Option<AppError>)> {
    let conn = find_mine(rt, user_id, connection_id).await?;
    let connector = connector_by_id(rt, conn.connector_id).await?;
    rate_limits::check(&rt.writes, user_id, &rt.settings.connection_check_limit()).await?;
    let started = Instant::now();
    let outcome: AppResult<Option<String>> = async {
        let ctx = action_context(rt, &conn, &connector).await?;
        match connector.plugin.spec().kind {
            ConnectorKind::OAuth2 => Ok(connector.plugin.fetch_identity(&ctx).await?),
            ConnectorKind::Manual => {
                let fields = ctx
                    .credentials
                    .as_value()
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                Ok(connector
                    .plugin
                    .test_credentials(&ctx.settings, &rt.http, fields)
                    .await?
                    .identity)
            }
        }
    }
    .await;
    let (status, last_error) = match &outcome {
        Ok(_) => (ConnectionStatus::Active, None),
        Err(AppError::Connector(
            ConnectorError::AuthExpired { .. } | ConnectorError::InvalidInput { .. },
        )) => (
            ConnectionStatus::NeedsReauth,
            outcome.as_ref().err().map(AppError::user_message),
        ),
        // Rate limits and outages say nothing about the connection itself.
        Err(AppError::Connector(
            ConnectorError::RateLimited { .. } | ConnectorError::Transport { .. },
        )) => (
            conn.status,
            outcome.as_ref().err().map(AppError::user_message),
        ),
        Err(e) => (ConnectionStatus::Error, Some(e.user_message())),
    };
    let identity = match &outcome {
        Ok(Some(identity)) => Some(identity.as_str()),
        _ => None,
    };
    connections::record_test(&rt.db, conn.id, status, last_error, identity).await?;
    let error = outcome.err();
    audit_event(
        rt,
        channel,
        user_id,
        Some(conn.id),
        &connector.row.slug,
        "connection.test",
        json!({}),
        error.as_ref(),
        started,
    )
    .await;
    let row = find_mine(rt, user_id, connection_id).await?;
    Ok((row, error))
}

/// How often `last_used_at` is written at most, per connection.
pub const LAST_USED_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Marks a connection used now (and `active` again after a successful action). Uses are
/// coalesced: `last_used_at` is written at most once per [`LAST_USED_EVERY`] per connection
/// (a use within that time of the recorded one writes nothing, here or in another process),
/// so it is never older than the last use by more than that, and a busy connection costs
/// one write a minute instead of one per action.
pub async fn touch(
    rt: &ConnectorRuntime,
    conn: &connection::Model,
    succeeded: bool,
) -> AppResult<()> {
    let reactivate = succeeded && conn.status == ConnectionStatus::Error;
    let now = Utc::now();
    let stale_before = now - LAST_USED_EVERY;
    if !reactivate && conn.last_used_at.is_some_and(|t| t >= stale_before) {
        return Ok(());
    }
    Ok(connections::touch(&rt.writes, conn.id, now, stale_before, reactivate).await?)
}

/// Marks a manual connection whose credentials the service rejected.
pub async fn mark_rejected(
    rt: &ConnectorRuntime,
    conn: &connection::Model,
    message: &str,
) -> AppResult<()> {
    Ok(connections::mark_rejected(&rt.db, conn.id, message).await?)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one flat call per audited event reads best at the call sites"
)]
pub(super) async fn audit_event(
    rt: &ConnectorRuntime,
    channel: Channel,
    user_id: i64,
    connection_id: Option<i64>,
    slug: &str,
    action: &str,
    request: Value,
    error: Option<&AppError>,
    started: Instant,
) {
    audit::record(
        &rt.audit,
        audit::Entry {
            connection_id,
            user_id: Some(user_id),
            connector_slug: slug,
            action,
            request: &request,
            error: error.map(|e| (e.code(), e.user_message())),
            duration: started.elapsed(),
            channel,
            client: None,
        },
    )
    .await;
}
