//! Template structs of the MCP authorization server's pages: the consent page, and the
//! "Connected assistants" section of `/settings` (`_assistants.html`, also its own HTMX
//! fragment after Revoke).

use super::PageCtx;
use crate::services::mcp_authorize::ConsentConnection;
use askama::Template;

/// "Allow this assistant?": who asks, which connections, which kinds of tools.
#[derive(Template)]
#[template(path = "oauth_consent.html")]
pub struct ConsentPage {
    pub ctx: PageCtx,
    pub client_name: String,
    /// The host the client is known by (its document's, or its redirect's).
    pub client_host: String,
    /// Whether the name was read at the client's own address (a metadata document) rather
    /// than claimed when it registered itself.
    pub verified: bool,
    /// Where the browser goes afterwards, in words.
    pub redirect_to: String,
    pub connections: Vec<ConsentConnection>,
    /// Whether the assistant asked for `mcp:write` (the box stays unticked either way).
    pub write_requested: bool,
    /// The authorization request, carried to the POST in hidden fields.
    pub hidden: Vec<(&'static str, String)>,
}

/// The "Connected assistants" section: the page includes it, Revoke swaps it.
pub struct Assistants {
    pub rows: Vec<AssistantRow>,
    /// The address people add to an assistant (`<base>/mcp`).
    pub mcp_url: String,
    /// For the plain (non-HTMX) Revoke forms.
    pub csrf: String,
    /// A one-shot message after Revoke.
    pub notice: Option<String>,
}

/// One live grant, as the section shows it.
pub struct AssistantRow {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub verified: bool,
    /// "Read" or "Read and make changes".
    pub tools: String,
    /// The chosen connections, comma-separated ("none" when none).
    pub connections: String,
    pub created: String,
    pub last_used: String,
}

/// The section after Revoke.
#[derive(Template)]
#[template(path = "_assistants.html")]
pub struct AssistantsFragment {
    pub assistants: Assistants,
}
