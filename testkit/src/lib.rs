//! Fakes of the outside services campuscore talks to, and the helpers that start the real
//! peers some tests need — shared by the integration tests (`tests/api`), the benchmarks
//! (`bench/`) and the `campuscore-fakes` binary a developer clicks through locally.
//!
//! - [`upstream`]: what every fake upstream shares (content, bookkeeping, replies, server).
//! - [`drive`]: a fake Google Drive API v3. [`graph`]: a fake Microsoft Graph v1.0.
//! - [`canvas`]: a fake Canvas LMS (REST API, its OAuth, and a file store for downloads).
//! - [`servicenow`]: a fake ServiceNow instance (Table API, encoded queries, ACLs, its OAuth).
//! - [`oauth_server`]: a real OAuth 2.0 / OpenID Connect provider (npm `oidc-provider`),
//!   installed by [`node_packages`]; [`moto`]: a real S3-compatible server.
//! - [`postgres`]: throw-away PostgreSQL databases. [`process`]: `campuscore serve` processes.
//! - [`fault_proxy`]: a TCP proxy that breaks the network in front of a fake or a database.
//! - [`auto_oauth`]: an OAuth server that approves at once; [`fakes`]: the fakes, the OAuth
//!   servers and sample files together, as the `campuscore-fakes` binary runs them.
//!
//! A dev-only crate: the app never depends on it, only its tests and benchmarks do.

pub mod auto_oauth;
pub mod canvas;
pub mod drive;
pub mod fakes;
pub mod fault_proxy;
pub mod graph;
pub mod moto;
pub mod node_packages;
pub mod oauth_server;
pub mod postgres;
pub mod process;
pub mod servicenow;
pub mod upstream;

/// An HTTP client for tests and benchmarks to talk to the app and the peers, on the
/// build's one rustls crypto provider (reqwest carries none of its own).
pub fn http_client() -> reqwest::Client {
    http_client_builder()
        .build()
        .expect("the test HTTP client builds")
}

/// A builder for [`http_client`] with the crypto provider installed.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    campuscore_connectors::install_crypto_provider();
    reqwest::Client::builder()
}
