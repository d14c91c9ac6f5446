//! `google-drive`: browse, search and import files from Google Drive (API v3) with the
//! user's own Google account (OAuth 2.0, read-only).
//!
//! - `connector.rs` — spec, OAuth descriptor and scopes, identity.
//! - `actions.rs` — `list_files`, `search_files`, `get_file`, `download_file`, `export_file`.
//! - `browse.rs` — the top-level places (My Drive, Shared with me, Shared drives),
//!   folder listings, breadcrumbs, shortcuts, Drive files → normalized entries.
//! - `client.rs` — the Drive v3 requests, 401 refresh, 403 rate-limit backoff, error mapping.
//! - `mime.rs` — Google MIME types, export formats and defaults, icon hints.
//! - `models.rs` — what the actions return: the sdk's file model plus Drive's own fields.
//! - `wire.rs` — Drive's JSON.

mod actions;
mod browse;
mod client;
mod connector;
mod mime;
mod models;
#[cfg(test)]
mod tests;
mod wire;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::GoogleDrive>()
}
