//! campuscore: the campus connector platform as a library. `main.rs` only parses the CLI and
//! calls in here, so integration tests build the very same application on a random port.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod memory;
pub mod models;
pub mod paths;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod templates;
pub mod urls;
pub mod views;
pub mod workers;

#[cfg(test)]
mod architecture_tests;

pub use config::Settings;
pub use startup::Application;

/// Install the process-wide rustls crypto provider (ring, the build's only one) before any
/// TLS client is built: reqwest and object_store carry no provider of their own.
pub fn install_crypto_provider() {
    campuscore_connectors::install_crypto_provider();
}
