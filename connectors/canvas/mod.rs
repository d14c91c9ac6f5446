//! `canvas`: read a campus Canvas LMS — courses, syllabus, modules, pages, assignments,
//! announcements — and import course files and pages through cloud import, signed in per
//! institution with a Canvas developer key (OAuth 2.0 with PKCE). Canvas itself decides what
//! each user may see (upstream scoping).
//!
//! - `connector.rs`: the spec (sign-in on the instance's own host, the scopes a scoped
//!   developer key must grant, `DELETE /login/oauth2/token` on disconnect) and the identity;
//! - `api.rs`: URLs, `Link`-header paging kept on the instance, Canvas's two kinds of 401
//!   and two kinds of throttling, and downloads that leave the bearer token behind;
//! - `wire.rs`: Canvas's JSON; `models.rs`: what the actions return;
//! - `actions.rs`: the thirteen read-only actions and the `FileSource` for cloud import;
//!   `inputs.rs`: their validated inputs;
//! - `files.rs`: course files as a drive (courses → folders and files, plus pages).

mod actions;
mod api;
mod connector;
mod files;
mod inputs;
#[cfg(test)]
mod link_properties;
mod models;
#[cfg(test)]
mod tests;
mod wire;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::CanvasLms>()
}
