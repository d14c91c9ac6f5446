//! The one path every caller (page, fragment, JSON API, MCP, import worker) takes to run a
//! connector action: the connection must be the caller's, the connector enabled and
//! registered; credentials are decrypted, the action runs, and an audit row is written
//! whatever the outcome.

use super::audit;
use super::connections::{self, ResolvedConnector};
use super::rate_limits::Limit;
use super::runtime::ConnectorRuntime;
use crate::error::{AppError, AppResult};
use crate::models::Channel;
use crate::models::connections::SessionToConfirm;
use crate::models::entities::{connection, knowledge_folder, user};
use campuscore_connectors::{
    ActionContext, ActionOutput, ConnectorError, ConnectorKind, Download, FileList, FileSource,
    ListRequest, SearchRequest, Tag, redact_params,
};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Instant;

/// Who runs an action and through what: the acting user (from the session, a token or a
/// grant, never from an action's arguments), the channel and the program that called.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub user: &'a user::Model,
    pub channel: Channel,
    /// A token's name, an assistant's name; `None` for the browser and the workers.
    pub client: Option<&'a str>,
}

impl<'a> Caller<'a> {
    /// `user` in the browser.
    pub fn web(user: &'a user::Model) -> Self {
        Self::new(user, Channel::Web)
    }

    /// `user` through `channel`, client unknown.
    pub fn new(user: &'a user::Model, channel: Channel) -> Self {
        Self {
            user,
            channel,
            client: None,
        }
    }

    /// The same caller, naming the program that called.
    pub fn with_client(self, client: Option<&'a str>) -> Self {
        Self { client, ..self }
    }
}

/// Run `action` with `params` on the caller's connection.
pub async fn run_action(
    rt: &ConnectorRuntime,
    caller: Caller<'_>,
    connection_id: i64,
    action: &str,
    params: Value,
) -> AppResult<ActionOutput> {
    let call = Call::prepare(rt, caller.user, connection_id).await?;
    let descriptor = call
        .connector
        .plugin
        .action(action)
        .ok_or(AppError::NotFound)?;
    let redacted = redact_params(&params, &secret_fields(&descriptor.input_schema));
    let plugin = call.connector.plugin.clone();
    call.run(rt, caller, action, &redacted, |ctx| async move {
        Ok(plugin.execute_action(action, &ctx, params).await?)
    })
    .await
}

/// One call of a connection's [`FileSource`], the typed contract cloud import uses.
pub enum FileCall {
    /// A page of a folder.
    List(ListRequest),
    /// A page of name matches.
    Search(SearchRequest),
}

/// Lists or searches the caller's connection `prepared` through its [`FileSource`] (audited
/// as the action it stands for).
pub async fn list_files(
    rt: &ConnectorRuntime,
    caller: Caller<'_>,
    prepared: &Call,
    call: FileCall,
) -> AppResult<FileList> {
    let source = prepared.file_source()?;
    let actions = source.actions();
    let (action, params) = match &call {
        FileCall::List(r) => (
            actions.list,
            present(&[("folder", &r.folder), ("page_token", &r.page_token)]),
        ),
        FileCall::Search(r) => {
            let search = actions.search.ok_or_else(|| {
                AppError::BadRequest(format!(
                    "{} cannot search; browse instead.",
                    prepared.connector.row.name
                ))
            })?;
            let query = Some(r.query.clone());
            (
                search,
                present(&[("query", &query), ("page_token", &r.page_token)]),
            )
        }
    };
    let plugin = prepared.connector.plugin.clone();
    prepared
        .run(rt, caller, action, &params, |ctx| async move {
            let source = plugin.files().ok_or(AppError::NotFound)?;
            Ok(match call {
                FileCall::List(request) => source.list(&ctx, request).await?,
                FileCall::Search(request) => source.search(&ctx, request).await?,
            })
        })
        .await
}

/// Downloads `file_id` from the user's connection through its [`FileSource`] (audited as
/// its download action).
pub async fn download_file(
    rt: &ConnectorRuntime,
    caller: Caller<'_>,
    connection_id: i64,
    file_id: &str,
) -> AppResult<Download> {
    let prepared = Call::prepare(rt, caller.user, connection_id).await?;
    let action = prepared.file_source()?.actions().download;
    let plugin = prepared.connector.plugin.clone();
    prepared
        .run(
            rt,
            caller,
            action,
            &json!({ "file_id": file_id }),
            |ctx| async move {
                let source = plugin.files().ok_or(AppError::NotFound)?;
                Ok(source.download(&ctx, file_id).await?)
            },
        )
        .await
}

/// The audit row's request: the parameters that were given.
fn present(params: &[(&str, &Option<String>)]) -> Value {
    let given = params
        .iter()
        .filter_map(|(name, value)| Some(((*name).to_owned(), Value::from(value.as_deref()?))));
    Value::Object(given.collect())
}

/// A call about to run: the caller's connection and its enabled connector, read once (a
/// fragment that shows the connection and lists its files prepares one call for both).
pub struct Call {
    conn: connection::Model,
    connector: ResolvedConnector,
}

impl Call {
    /// The connection must be the user's (anyone else's is a 404) and its connector
    /// registered and enabled.
    pub async fn prepare(
        rt: &ConnectorRuntime,
        user: &user::Model,
        connection_id: i64,
    ) -> AppResult<Self> {
        let (conn, connector) =
            connections::find_mine_with_connector(rt, user.id, connection_id).await?;
        Ok(Self { conn, connector })
    }

    /// The user's folder and connection (with its connector), for a file connector: anything
    /// else, or someone else's, is `NotFound`. With the go-ahead for a browse: the connection
    /// is signed in and, with a `limit`, a hit of it was taken, in the read's round trip
    /// where the database allows ([`connections::find_mine_in_folder`]); the audit row the
    /// call commits flushes the hit to disk with it. A `session` the request was served
    /// from unread is confirmed by the same read (`Unauthenticated` when it is not live).
    pub async fn prepare_for_files(
        rt: &ConnectorRuntime,
        user: &user::Model,
        session: Option<SessionToConfirm<'_>>,
        folder_id: i64,
        connection_id: i64,
        limit: Option<&Limit>,
    ) -> AppResult<(knowledge_folder::Model, Self, AppResult<()>)> {
        let (folder, conn, connector, go) =
            connections::find_mine_in_folder(rt, user.id, session, folder_id, connection_id, limit)
                .await?;
        Ok((folder, Self { conn, connector }, go))
    }

    /// The connection, as read when the call was prepared.
    pub fn connection(&self) -> &connection::Model {
        &self.conn
    }

    /// Its connector.
    pub fn connector(&self) -> &ResolvedConnector {
        &self.connector
    }

    /// The connector's file contract; a connector without one is not a file source.
    fn file_source(&self) -> AppResult<&dyn FileSource> {
        self.connector.plugin.files().ok_or(AppError::NotFound)
    }

    /// Decrypts the credentials, runs `work`, and records the outcome whatever it is: an
    /// audit row with `params` (already redacted), `last_used_at`, and a rejected manual
    /// sign-in.
    async fn run<T, F, Fut>(
        &self,
        rt: &ConnectorRuntime,
        caller: Caller<'_>,
        action: &str,
        params: &Value,
        work: F,
    ) -> AppResult<T>
    where
        F: FnOnce(ActionContext) -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let Self { conn, connector } = self;
        // Prepared for one user, run for the same user only.
        if conn.user_id != caller.user.id {
            return Err(AppError::NotFound);
        }
        let started = Instant::now();
        let outcome = match connections::action_context(rt, conn, connector).await {
            Ok(ctx) => work(ctx).await,
            Err(error) => Err(error),
        };
        let error = outcome.as_ref().err().map(|e| (e.code(), e.user_message()));
        let entry = audit::Entry {
            connection_id: Some(conn.id),
            user_id: Some(caller.user.id),
            connector_slug: &connector.row.slug,
            action,
            request: params,
            error,
            duration: started.elapsed(),
            channel: caller.channel,
            client: caller.client,
        };
        // An action that changed something upstream has happened: its row is kept until it
        // can be written. One that only read is not served while the database cannot take
        // its row (the caller is asked to try again in a moment).
        let changed_upstream = connector
            .plugin
            .action(action)
            .is_some_and(|d| d.has_tag(Tag::Write) || d.has_tag(Tag::Destructive));
        if changed_upstream {
            audit::record(&rt.audit, entry).await;
        } else if let Err(err) = audit::write(&rt.audit, entry).await {
            if crate::db::is_unavailable(&err) {
                return Err(err.into());
            }
            tracing::error!(connection.id = conn.id, action, error = %err, "writing the audit log failed");
        }
        connections::touch(rt, conn, outcome.is_ok()).await?;
        // Manual credentials the service rejects will not start working again by themselves.
        if let Err(AppError::Connector(e @ ConnectorError::AuthExpired { .. })) = &outcome
            && connector.plugin.spec().kind == ConnectorKind::Manual
        {
            connections::mark_rejected(rt, conn, &e.user_message()).await?;
        }
        tracing::info!(
            connection.id = conn.id,
            connector.slug = %connector.row.slug,
            action,
            channel = caller.channel.as_str(),
            outcome = if outcome.is_ok() { "success" } else { "error" },
            duration_ms = started.elapsed().as_millis() as u64,
            "action run"
        );
        outcome
    }
}

/// Input properties a schema marks as secret (`writeOnly`, or `format: password`).
fn secret_fields(schema: &Value) -> Vec<&str> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter(|(_, p)| {
                    p.get("writeOnly") == Some(&Value::Bool(true))
                        || p.get("format").and_then(Value::as_str) == Some("password")
                })
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default()
}
