//! `onedrive`: browse, search and import files from OneDrive (personal, work or school)
//! through Microsoft Graph v1.0, signed in with the Microsoft identity platform (OAuth 2.0
//! code flow with PKCE, read-only scopes).
//!
//! - `connector.rs`: the spec, the `TENANT` consistency check, the identity lookup;
//! - `graph.rs`: item ids (`{driveId}:{itemId}`, `root`, `shared-with-me`), URLs,
//!   `@odata.nextLink` paging kept on the API host, authorized requests, and the two-step
//!   `/content` download (302 → pre-authenticated URL fetched without the bearer token);
//! - `models.rs`: Graph's `driveItem` wire types and their mapping to the sdk's file model;
//! - `actions.rs`: `list_files`, `search_files`, `get_file`, `download_file`.

mod actions;
mod connector;
mod graph;
mod models;
#[cfg(test)]
mod tests;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::OneDrive>()
}
