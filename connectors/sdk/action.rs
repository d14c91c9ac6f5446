//! Actions: their descriptors (name, description, tags, JSON Schemas), their outputs (JSON
//! or a streamed `Download`), and the `ActionSet` trait that `#[connector_actions]`
//! implements for a connector's actions type.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checksum::Checksum;
use super::context::ActionContext;
use super::error::ConnectorError;

/// What an action does, for the UI (cloud import lists `file_browse` + `file_download`
/// connectors) and for agent safety (`write`/`destructive` need confirmation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    /// Lists folders and files.
    FileBrowse,
    /// Streams a file's bytes.
    FileDownload,
    /// Reads data without changing anything.
    Read,
    /// Changes data upstream.
    Write,
    /// Changes data upstream in a way that cannot be undone.
    Destructive,
}

impl Tag {
    /// Every tag, in declaration order.
    pub const ALL: [Tag; 5] = [
        Tag::FileBrowse,
        Tag::FileDownload,
        Tag::Read,
        Tag::Write,
        Tag::Destructive,
    ];

    /// The snake_case name (`"file_browse"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FileBrowse => "file_browse",
            Self::FileDownload => "file_download",
            Self::Read => "read",
            Self::Write => "write",
            Self::Destructive => "destructive",
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The catalog entry of one action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionDescriptor {
    /// snake_case action name, unique within the connector.
    pub name: &'static str,
    /// What the action does (the method's doc comment).
    pub description: String,
    /// Capability and safety tags.
    pub tags: &'static [Tag],
    /// JSON Schema (2020-12) of the parameters; always an object schema.
    pub input_schema: Value,
    /// JSON Schema of the result (for downloads: of the file metadata).
    pub output_schema: Value,
    /// Whether the action returns a streamed [`Download`] instead of JSON.
    pub downloads: bool,
}

impl ActionDescriptor {
    /// Whether the action carries `tag`.
    pub fn has_tag(&self, tag: Tag) -> bool {
        self.tags.contains(&tag)
    }
}

/// A streamed file: metadata plus the bytes, produced lazily so a file is never held in
/// memory whole.
pub struct Download {
    /// File name to store or offer the file under.
    pub name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes, when known in advance.
    pub size: Option<u64>,
    /// Upstream checksum (e.g. `md5:…`, `sha256:…`), when known.
    pub checksum: Option<Checksum>,
    /// The bytes.
    pub stream: BoxStream<'static, Result<Bytes, ConnectorError>>,
}

impl Download {
    /// A download of unknown size without checksum.
    pub fn new(
        name: impl Into<String>,
        mime_type: impl Into<String>,
        stream: BoxStream<'static, Result<Bytes, ConnectorError>>,
    ) -> Self {
        Self {
            name: name.into(),
            mime_type: mime_type.into(),
            size: None,
            checksum: None,
            stream,
        }
    }

    /// Streams an HTTP response body (check its status first); the size comes from
    /// `Content-Length`, body errors and stalls become `Transport` (see [`body_stream`]).
    pub fn from_response(
        name: impl Into<String>,
        mime_type: impl Into<String>,
        response: reqwest::Response,
    ) -> Self {
        let size = response.content_length();
        let stream = body_stream(response, DOWNLOAD_IDLE_TIMEOUT);
        Self {
            size,
            ..Self::new(name, mime_type, stream)
        }
    }

    /// Sets the size.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Sets the checksum.
    pub fn with_checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum);
        self
    }

    /// The metadata, without the stream.
    pub fn info(&self) -> DownloadInfo {
        DownloadInfo {
            name: self.name.clone(),
            mime_type: self.mime_type.clone(),
            size: self.size,
            checksum: self.checksum.clone(),
        }
    }
}

/// How long a download may go without receiving a byte before it counts as stalled.
pub const DOWNLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A response body as the stream of chunks the network delivers, failing with `Transport`
/// when the body breaks off or no chunk arrives within `idle`. Large downloads need this
/// instead of a total request timeout, which would cut off any big enough file.
pub fn body_stream(
    response: reqwest::Response,
    idle: Duration,
) -> BoxStream<'static, Result<Bytes, ConnectorError>> {
    let body = response.bytes_stream().boxed();
    futures_util::stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(None) => None,
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            // The client's read timeout (`HttpConfig::read_timeout`) went by without data.
            Ok(Some(Err(error))) if error.is_timeout() => Some((
                Err(ConnectorError::Transport {
                    message: "the download stalled: no data within the read timeout".to_owned(),
                }),
                None,
            )),
            Ok(Some(Err(error))) => Some((
                Err(ConnectorError::Transport {
                    message: format!("the download was interrupted: {}", error.without_url()),
                }),
                None,
            )),
            Err(_) => Some((
                Err(ConnectorError::Transport {
                    message: format!(
                        "the download stalled: no data for {} seconds",
                        idle.as_secs()
                    ),
                }),
                None,
            )),
        }
    })
    .boxed()
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("name", &self.name)
            .field("mime_type", &self.mime_type)
            .field("size", &self.size)
            .field("checksum", &self.checksum)
            .finish_non_exhaustive()
    }
}

/// Metadata of a [`Download`]; its schema is the output schema of download actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadInfo {
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// Upstream checksum, when known.
    pub checksum: Option<Checksum>,
}

/// The result of an action.
#[derive(Debug)]
pub enum ActionOutput {
    /// A JSON result matching the action's output schema.
    Json(Value),
    /// A streamed file.
    Download(Download),
}

impl ActionOutput {
    /// The JSON result, if this is one.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Self::Json(value) => Some(value),
            Self::Download(_) => None,
        }
    }

    /// The download, if this is one.
    pub fn into_download(self) -> Option<Download> {
        match self {
            Self::Json(_) => None,
            Self::Download(download) => Some(download),
        }
    }
}

/// A set of typed actions; implemented by `#[connector_actions]`, not by hand.
///
/// ```
/// use campuscore_connectors::{ActionContext, ActionSet, ConnectorError, Tag, connector_actions};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
/// use validator::Validate;
///
/// /// Parameters of `greet`.
/// #[derive(Deserialize, JsonSchema, Validate)]
/// #[serde(deny_unknown_fields)]
/// struct GreetInput {
///     /// Who to greet.
///     #[validate(length(min = 1))]
///     name: String,
/// }
///
/// /// A greeting.
/// #[derive(Serialize, JsonSchema)]
/// struct Greeting {
///     /// The greeting text.
///     text: String,
/// }
///
/// struct GreeterActions;
///
/// #[connector_actions]
/// impl GreeterActions {
///     /// Say hello to someone.
///     #[action(tags(read))]
///     async fn greet(&self, _ctx: &ActionContext, params: GreetInput) -> Result<Greeting, ConnectorError> {
///         Ok(Greeting { text: format!("Hello, {}!", params.name) })
///     }
/// }
///
/// let actions = GreeterActions::descriptors();
/// assert_eq!(actions[0].name, "greet");
/// assert_eq!(actions[0].description, "Say hello to someone.");
/// assert_eq!(actions[0].tags, [Tag::Read]);
/// assert_eq!(actions[0].input_schema["required"], serde_json::json!(["name"]));
/// ```
///
/// An action without doc comment does not compile (nor does one without tags):
///
/// ```compile_fail
/// use campuscore_connectors::{ActionContext, ConnectorError, connector_actions};
/// struct Undocumented;
/// #[connector_actions]
/// impl Undocumented {
///     #[action(tags(read))]
///     async fn ping(&self, _ctx: &ActionContext) -> Result<(), ConnectorError> { Ok(()) }
/// }
/// ```
///
/// ```compile_fail
/// use campuscore_connectors::{ActionContext, ConnectorError, connector_actions};
/// struct Untagged;
/// #[connector_actions]
/// impl Untagged {
///     /// Ping.
///     #[action]
///     async fn ping(&self, _ctx: &ActionContext) -> Result<(), ConnectorError> { Ok(()) }
/// }
/// ```
pub trait ActionSet: Send + Sync + 'static {
    /// The descriptors of every action, in declaration order.
    fn descriptors() -> Vec<ActionDescriptor>
    where
        Self: Sized;

    /// Parses `params` into the action's input type, validates it, and runs the action.
    /// An unknown `name` is `UnknownAction`; `null` params mean `{}`.
    fn invoke<'a>(
        &'a self,
        ctx: &'a ActionContext,
        name: &'a str,
        params: Value,
    ) -> BoxFuture<'a, Result<ActionOutput, ConnectorError>>;
}
