//! Who the assistants are. An MCP client names itself in one of two ways:
//!
//! - **Client ID Metadata Document** (the current MCP revision): its `client_id` is an
//!   https URL serving JSON about it (`client_id` equal to that URL, `client_name`,
//!   `redirect_uris`). The app fetches it through the connectors' SSRF guard — every address
//!   the host resolves to must be public unless an operator allowed it
//!   (`CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS`), and the request goes to the checked address
//!   only — with a short timeout, no redirects and a size cap, and caches it for
//!   [`DOCUMENT_TTL`].
//! - **Dynamic client registration** (RFC 7591, for older clients): it posts its metadata
//!   to `/oauth/register` and gets a random `client_id`. Its name is its own claim, which
//!   the consent page says.
//!
//! Only public clients are accepted (`token_endpoint_auth_method` `none`, with PKCE).
//! Redirect URIs are https, plain http on a loopback address (any port at request time,
//! RFC 8252), or a private-use scheme in reverse-domain form (`com.example.app:/cb`).

use super::runtime::ConnectorRuntime;
use crate::crypto::random_token;
use crate::error::AppResult;
use crate::models::entities::mcp_client;
use crate::models::{McpClientKind, mcp_clients};
use campuscore_connectors::{AllowList, ConnectorError, HttpClient, RetryPolicy};
use chrono::{Duration, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value, json};
use url::{Host, Url};

/// How long a fetched metadata document is used before it is fetched again.
pub const DOCUMENT_TTL: Duration = Duration::minutes(15);
/// Largest metadata document read (the CIMD draft suggests documents stay far below).
const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
/// Longest wait for a metadata document.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Longest `client_id` URL (the column's width).
const MAX_CLIENT_ID_CHARS: usize = 512;
/// Longest redirect URI, and most redirect URIs a client may register.
const MAX_REDIRECT_URI_CHARS: usize = 2000;
const MAX_REDIRECT_URIS: usize = 10;
/// Longest client name kept (longer ones are cut).
const MAX_NAME_CHARS: usize = 100;
/// Prefix of the client ids `/oauth/register` issues.
pub const REGISTERED_CLIENT_PREFIX: &str = "ccmcpc_";

/// An RFC 7591 error: `error` is `invalid_redirect_uri` or `invalid_client_metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError {
    pub error: &'static str,
    pub description: String,
}

impl MetadataError {
    fn metadata(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_client_metadata",
            description: description.into(),
        }
    }

    fn redirect(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_redirect_uri",
            description: description.into(),
        }
    }
}

/// Client metadata that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMetadata {
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
}

/// Checks a redirect URI a client registers: https; http only to a loopback address; or a
/// private-use scheme with a dot (reverse domain, RFC 8252 §7.1). Never a fragment or user
/// information, never a scheme a browser would run or read locally.
pub fn check_redirect_uri(raw: &str) -> Result<Url, String> {
    if raw.chars().count() > MAX_REDIRECT_URI_CHARS {
        return Err("the redirect URI is too long".into());
    }
    let url = Url::parse(raw).map_err(|_| format!("`{raw}` is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(format!("`{raw}` has a fragment (#…), which is not allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{raw}` carries user information"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "`{raw}`: plain http is allowed only to 127.0.0.1, [::1] or localhost"
        )),
        "https" | "javascript" | "data" | "file" | "vbscript" | "about" | "blob" | "ftp" | "ws"
        | "wss" => Err(format!("`{raw}` is not a usable redirect URI")),
        scheme if scheme.contains('.') => Ok(url),
        _ => Err(format!(
            "`{raw}`: an app's own scheme must be in reverse-domain form (com.example.app:/callback)"
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether `requested` is one of `registered`: the same string, or for a loopback IP
/// address over http the same URI on another port (the port of a native app's listener
/// is picked when it starts, RFC 8252 §7.3).
pub fn redirect_uri_allowed(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Ok(asked) = Url::parse(requested) else {
        return false;
    };
    let loopback_ip = |u: &Url| {
        u.scheme() == "http"
            && match u.host() {
                Some(Host::Ipv4(ip)) => ip.is_loopback(),
                Some(Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            }
    };
    if !loopback_ip(&asked) {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|r| {
            loopback_ip(&r)
                && r.host() == asked.host()
                && r.path() == asked.path()
                && r.query() == asked.query()
        })
}

/// Where a redirect URI leads, in words a person can check: the host, "this computer" for a
/// loopback address, or the app's scheme.
pub fn redirect_destination(uri: &str) -> String {
    let Ok(url) = Url::parse(uri) else {
        return uri.to_owned();
    };
    match url.scheme() {
        "https" | "http" if is_loopback(&url) => "an app on this computer".to_owned(),
        "https" | "http" => host_with_port(&url),
        scheme => format!("the app {scheme}"),
    }
}

/// The host of a URL, with the port when it is not the scheme's default.
fn host_with_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The host a client is known by: its document's host (CIMD), or where it sends people
/// back to (DCR, whose name anyone could have chosen).
pub fn client_host(client: &mcp_client::Model) -> String {
    match client.kind {
        McpClientKind::Cimd => Url::parse(&client.client_id)
            .map(|u| host_with_port(&u))
            .unwrap_or_default(),
        McpClientKind::Dcr => redirect_uris(client)
            .first()
            .map(|u| redirect_destination(u))
            .unwrap_or_default(),
    }
}

/// The redirect URIs a client registered.
pub fn redirect_uris(client: &mcp_client::Model) -> Vec<String> {
    serde_json::from_str(&client.redirect_uris).unwrap_or_default()
}

/// Checks the metadata both kinds of client send: redirect URIs, public-client
/// authentication, the grant and response types this server offers, a name.
pub fn check_metadata(meta: &Map<String, Value>) -> Result<ValidMetadata, MetadataError> {
    let uris = match meta.get("redirect_uris") {
        Some(Value::Array(uris)) if !uris.is_empty() => uris,
        _ => {
            return Err(MetadataError::redirect(
                "redirect_uris must list at least one redirect URI",
            ));
        }
    };
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(MetadataError::redirect(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs may be registered"
        )));
    }
    let mut redirect_uris = Vec::with_capacity(uris.len());
    for uri in uris {
        let uri = uri
            .as_str()
            .ok_or_else(|| MetadataError::redirect("every redirect URI must be a string"))?;
        check_redirect_uri(uri).map_err(MetadataError::redirect)?;
        redirect_uris.push(uri.to_owned());
    }
    match meta.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if m == "none" => {}
        Some(_) => {
            return Err(MetadataError::metadata(
                "only public clients are supported: token_endpoint_auth_method must be \"none\"",
            ));
        }
    }
    only_from(
        meta,
        "grant_types",
        &["authorization_code", "refresh_token"],
    )?;
    only_from(meta, "response_types", &["code"])?;
    for key in ["client_uri", "logo_uri"] {
        if let Some(v) = meta.get(key).filter(|v| !v.is_null()) {
            let https = v
                .as_str()
                .and_then(|s| Url::parse(s).ok())
                .is_some_and(|u| u.scheme() == "https");
            if !https {
                return Err(MetadataError::metadata(format!(
                    "{key} must be an https URL"
                )));
            }
        }
    }
    let name = match meta.get("client_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => clean_name(n),
        Some(_) => return Err(MetadataError::metadata("client_name must be a string")),
    };
    Ok(ValidMetadata {
        name,
        redirect_uris,
    })
}

/// Refuses a list of `key` naming anything outside `offered`.
fn only_from(meta: &Map<String, Value>, key: &str, offered: &[&str]) -> Result<(), MetadataError> {
    match meta.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items))
            if items
                .iter()
                .all(|i| i.as_str().is_some_and(|s| offered.contains(&s))) =>
        {
            Ok(())
        }
        Some(_) => Err(MetadataError::metadata(format!(
            "{key} may name only {}",
            offered.join(", ")
        ))),
    }
}

/// A client name as shown: control characters dropped, spaces collapsed, cut to
/// [`MAX_NAME_CHARS`]; `None` when nothing is left.
fn clean_name(raw: &str) -> Option<String> {
    let words: Vec<&str> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let name: String = words.join(" ").chars().take(MAX_NAME_CHARS).collect();
    (!name.is_empty()).then_some(name)
}

// ---------------------------------------------------------------------------------------
// Dynamic client registration (RFC 7591)
// ---------------------------------------------------------------------------------------

/// Registers a client from the JSON body of `/oauth/register`: the RFC 7591 response
/// (client id, issue time, the metadata as registered), or why the metadata was refused.
pub async fn register(
    db: &DatabaseConnection,
    body: &[u8],
) -> AppResult<Result<Value, MetadataError>> {
    let meta = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(meta)) => meta,
        _ => {
            return Ok(Err(MetadataError::metadata(
                "the body must be a JSON object of client metadata",
            )));
        }
    };
    let valid = match check_metadata(&meta) {
        Ok(valid) => valid,
        Err(e) => return Ok(Err(e)),
    };
    let now = Utc::now();
    let client_id = format!("{REGISTERED_CLIENT_PREFIX}{}", random_token(16));
    let name = valid
        .name
        .clone()
        .unwrap_or_else(|| "Unnamed assistant".to_owned());
    let mut registered = json!({
        "client_id": client_id,
        "client_id_issued_at": now.timestamp(),
        "client_name": name,
        "redirect_uris": valid.redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    for key in [
        "client_uri",
        "logo_uri",
        "application_type",
        "scope",
        "software_id",
        "software_version",
    ] {
        if let Some(v) = meta.get(key).filter(|v| v.is_string()) {
            registered[key] = v.clone();
        }
    }
    mcp_clients::insert(
        db,
        mcp_clients::NewMcpClient {
            client_id: client_id.clone(),
            kind: McpClientKind::Dcr,
            name,
            redirect_uris: json!(valid.redirect_uris).to_string(),
            metadata: registered.to_string(),
            fetched_at: None,
        },
    )
    .await?;
    tracing::info!(mcp.client_id = %client_id, "mcp client registered");
    Ok(Ok(registered))
}

// ---------------------------------------------------------------------------------------
// Client ID Metadata Documents
// ---------------------------------------------------------------------------------------

/// Whether `client_id` is a URL, which makes it a metadata document's address.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.contains("://")
}

/// The client `client_id` names, as the authorization endpoint needs it: a registered one,
/// or a metadata document fetched (or taken from the cache while fresh). `Err` says, in
/// words for the error page, why the client cannot be used.
pub async fn resolve(
    rt: &ConnectorRuntime,
    client_id: &str,
) -> AppResult<Result<mcp_client::Model, String>> {
    let cached = mcp_clients::find_by_client_id(&rt.db, client_id).await?;
    if !is_document_url(client_id) {
        return Ok(cached
            .filter(|c| c.kind == McpClientKind::Dcr)
            .ok_or_else(|| {
                "This assistant is not registered here. Remove the server from the assistant and add it again.".to_owned()
            }));
    }
    let now = Utc::now();
    if let Some(client) = cached.filter(|c| {
        c.kind == McpClientKind::Cimd && c.fetched_at.is_some_and(|at| now - at < DOCUMENT_TTL)
    }) {
        return Ok(Ok(client));
    }
    let allow = AllowList::parse(&rt.settings.mcp_cimd_allowed_hosts)
        .map_err(|e| anyhow::anyhow!("CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS: {e}"))?;
    let document = match fetch_document(
        &rt.http,
        &allow,
        rt.settings.mcp_cimd_test_allow_http,
        client_id,
    )
    .await
    {
        Ok(document) => document,
        Err(reason) => {
            tracing::info!(mcp.client_id = client_id, reason = %reason, "mcp client document refused");
            return Ok(Err(format!(
                "The assistant's description at {client_id} could not be used: {reason}"
            )));
        }
    };
    let client = mcp_clients::upsert_fetched(
        &rt.db,
        mcp_clients::NewMcpClient {
            client_id: client_id.to_owned(),
            kind: McpClientKind::Cimd,
            name: document.name,
            redirect_uris: json!(document.redirect_uris).to_string(),
            metadata: document.metadata.to_string(),
            fetched_at: Some(now),
        },
    )
    .await?;
    Ok(Ok(client))
}

/// A metadata document that passed the checks.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientDocument {
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// The document as received.
    pub metadata: Value,
}

/// Checks a `client_id` URL before anything is fetched: https (http only when
/// `allow_http` and the host is on `allow`), a path, no fragment, user information or dot
/// segments, at most [`MAX_CLIENT_ID_CHARS`].
pub fn check_document_url(
    client_id: &str,
    allow: &AllowList,
    allow_http: bool,
) -> Result<Url, String> {
    if client_id.chars().count() > MAX_CLIENT_ID_CHARS {
        return Err("the client id is too long".into());
    }
    let url = Url::parse(client_id).map_err(|_| "the client id is not a valid URL".to_owned())?;
    let host = url.host_str().unwrap_or_default();
    let allowed_host = || match url.host() {
        Some(Host::Ipv4(ip)) => allow.allows_ip(ip.into()),
        Some(Host::Ipv6(ip)) => allow.allows_ip(ip.into()),
        Some(Host::Domain(d)) => allow.allows_host(d),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_http && allowed_host() => {}
        _ => return Err("a client id URL must use https".into()),
    }
    if host.is_empty() {
        return Err("the client id URL has no host".into());
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("the client id URL must not carry a fragment or user information".into());
    }
    // The URL as typed, not as parsed: the parser would quietly resolve `..`.
    let path = client_id
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.len() <= 1 {
        return Err("the client id URL must have a path".into());
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("the client id URL must not contain . or .. segments".into());
    }
    Ok(url)
}

/// Fetches and checks the metadata document at `client_id` through the SSRF guard: the host
/// is resolved once, every address checked against `allow`, and the request sent to those
/// addresses only, without redirects or retries, within [`FETCH_TIMEOUT`] and
/// [`MAX_DOCUMENT_BYTES`]. `Err` is the reason, in words.
pub async fn fetch_document(
    http: &HttpClient,
    allow: &AllowList,
    allow_http: bool,
    client_id: &str,
) -> Result<ClientDocument, String> {
    let url = check_document_url(client_id, allow, allow_http)?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = campuscore_connectors::ssrf::resolve_checked_for("client_id", &host, port, allow)
        .await
        .map_err(|e| reason_of(&e))?;
    let client = http
        .pinned(&host, &addrs)
        .map_err(|e| reason_of(&e))?
        .with_retry_policy(RetryPolicy::none());
    let request = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(FETCH_TIMEOUT);
    let mut response = client.send(request).await.map_err(|e| reason_of(&e))?;
    if !response.status().is_success() {
        return Err(format!("it answered HTTP {}", response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err("the document is too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "the document could not be read".to_owned())?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err("the document is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    parse_document(client_id, &body)
}

/// What a guard or transport error says, without the framing meant for connector users.
fn reason_of(e: &ConnectorError) -> String {
    match e {
        ConnectorError::InvalidInput { message, .. } | ConnectorError::Transport { message } => {
            message.clone()
        }
        other => other.user_message(),
    }
}

/// Checks a fetched document: JSON whose `client_id` is exactly the URL it was fetched
/// from, with no client secret (a public client), and metadata [`check_metadata`] accepts.
pub fn parse_document(client_id: &str, body: &[u8]) -> Result<ClientDocument, String> {
    let Ok(Value::Object(meta)) = serde_json::from_slice::<Value>(body) else {
        return Err("the document is not a JSON object".into());
    };
    if meta.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err("its client_id is not the URL it was fetched from".into());
    }
    if meta.contains_key("client_secret") || meta.contains_key("client_secret_expires_at") {
        return Err("a public document must not carry a client secret".into());
    }
    let valid = check_metadata(&meta).map_err(|e| e.description)?;
    let name = valid.name.unwrap_or_else(|| {
        Url::parse(client_id)
            .map(|u| host_with_port(&u))
            .unwrap_or_default()
    });
    Ok(ClientDocument {
        name,
        redirect_uris: valid.redirect_uris,
        metadata: Value::Object(meta),
    })
}

#[cfg(test)]
#[path = "mcp_clients_tests.rs"]
mod tests;
