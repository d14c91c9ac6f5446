//! campuscore: the campus connector platform as a library. `main.rs` only parses the CLI and
//! calls in here, so integration tests build the very same application on a random port.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
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

/// Install the process-wide rustls crypto provider once. Two providers are compiled in
/// (ring via sqlx, aws-lc-rs via reqwest/object_store); without a default, rustls panics.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
