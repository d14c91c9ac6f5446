//! The MCP event streams: `notifications/tools/list_changed` when the caller's tools change
//! (a connection added or removed, a connector turned off, a write switch flipped).
//!
//! The stream looks at the caller's catalog every few seconds and speaks when its
//! fingerprint changes, so a change made by any process of the app (or an administrator)
//! is seen without a message bus. Between events a comment line keeps proxies and clients
//! from closing an idle stream.

use crate::models::entities::user;
use crate::services::agent_tools::{self, Reach};
use crate::services::runtime::ConnectorRuntime;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::Stream;
use rmcp::model::{
    RequestId, ServerJsonRpcMessage, ServerNotification, ToolListChangedNotification,
};
use serde_json::{Value, json};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

/// How often the catalog is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// A keep-alive comment after this many quiet looks (about 16 s).
const KEEPALIVE_EVERY: u32 = 8;

/// Which stream: the handshake era's GET stream, or a 2026-07-28 subscription (its
/// notifications carry the subscription's id).
#[derive(Clone, Debug)]
pub enum Watch {
    Legacy,
    Subscription(RequestId),
}

/// An SSE response carrying `stream`.
pub fn sse<S>(stream: S) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}

/// The `subscriptions/listen` stream: the acknowledgment (naming what this server honours:
/// tool list changes, if asked for), then the changes.
pub fn listen(
    rt: ConnectorRuntime,
    (user, reach): (user::Model, Reach),
    id: RequestId,
    tools_list_changed: bool,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    let notifications = if tools_list_changed {
        json!({"toolsListChanged": true})
    } else {
        json!({})
    };
    let ack = json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {
            "_meta": {"io.modelcontextprotocol/subscriptionId": id.clone().into_json_value()},
            "notifications": notifications,
        },
    });
    let first = futures_util::stream::once(async move { Ok(event(&ack)) });
    let changes = watch_inner(rt, user, reach, Watch::Subscription(id), tools_list_changed);
    futures_util::StreamExt::chain(first, changes)
}

/// The handshake era's stream of list changes.
pub fn watch(
    rt: ConnectorRuntime,
    (user, reach): (user::Model, Reach),
    kind: Watch,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    watch_inner(rt, user, reach, kind, true)
}

struct Looking {
    rt: ConnectorRuntime,
    user: user::Model,
    reach: Reach,
    kind: Watch,
    /// Whether changes are reported at all (a subscription that did not ask only keeps
    /// the stream alive).
    report: bool,
    last: Option<u64>,
}

fn watch_inner(
    rt: ConnectorRuntime,
    user: user::Model,
    reach: Reach,
    kind: Watch,
    report: bool,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    let start = Looking {
        rt,
        user,
        reach,
        kind,
        report,
        last: None,
    };
    futures_util::stream::unfold(start, |mut state| async move {
        if state.last.is_none() {
            state.last = Some(fingerprint(&state).await.unwrap_or_default());
        }
        let mut quiet = 0;
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            if state.report {
                // A failed look (the database busy) is not a change; look again later.
                if let Some(now) = fingerprint(&state).await
                    && Some(now) != state.last
                {
                    state.last = Some(now);
                    let message = changed(&state.kind);
                    return Some((Ok(event(&message)), state));
                }
            }
            quiet += 1;
            if quiet >= KEEPALIVE_EVERY {
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), state));
            }
        }
    })
}

/// A hash of what the caller's catalog offers now.
async fn fingerprint(state: &Looking) -> Option<u64> {
    let tools = agent_tools::catalog(&state.rt, &state.user, &state.reach)
        .await
        .ok()?;
    let mut hasher = DefaultHasher::new();
    for tool in &tools {
        tool.name.hash(&mut hasher);
        tool.description.hash(&mut hasher);
        tool.input_schema.to_string().hash(&mut hasher);
    }
    Some(hasher.finish())
}

fn changed(kind: &Watch) -> Value {
    match kind {
        Watch::Legacy => serde_json::to_value(ServerJsonRpcMessage::notification(
            ServerNotification::ToolListChangedNotification(ToolListChangedNotification::default()),
        ))
        .unwrap_or(Value::Null),
        Watch::Subscription(id) => json!({
            "jsonrpc": "2.0",
            "method": "notifications/tools/list_changed",
            "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": id.clone().into_json_value()}},
        }),
    }
}

fn event(message: &Value) -> Bytes {
    Bytes::from(format!("event: message\ndata: {message}\n\n"))
}
