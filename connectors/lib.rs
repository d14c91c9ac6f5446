//! `campuscore-connectors`: the connector framework (`sdk`) and one module per connector.
//!
//! Connector modules are not listed here: `build.rs` finds every `connectors/<name>/mod.rs`
//! and generates the `mod` lines, and each connector registers itself with
//! `inventory::submit!`. The app reaches connectors only through [`Registry`].

// Lets `#[connector_actions]` expansions name `::campuscore_connectors` inside this crate.
extern crate self as campuscore_connectors;

pub mod sdk;

pub use sdk::{breaker, files, form, redact, ssrf};

pub use campuscore_connectors_macros::connector_actions;
pub use sdk::{
    API_BASE_URL_PLACEHOLDER, ActionContext, ActionDescriptor, ActionOutput, ActionSet, AllowList,
    AuthScoping, BreakerPolicy, Checksum, ChecksumAlgorithm, ChecksumCheck, ChecksumMismatch,
    ClientAuth, ConfigKey, Connector, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorRegistration, ConnectorSettings, ConnectorSpec, Credentials, DOWNLOAD_IDLE_TIMEOUT,
    DefinedConnector, Download, DownloadInfo, FieldErrors, FieldKind, FileActions, FileEntry,
    FileIcon, FileKind, FileList, FileSource, FormField, HttpClient, HttpConfig, ListRequest,
    NoInput, NormalizedCredentials, OAuthDescriptor, QuickXor, Registry, RegistryError,
    RetryPolicy, Revocation, RichText, SearchRequest, Tag, TokenUpdater, UserIdentity, body_stream,
    capped_body, error_for_status, install_crypto_provider, is_secure_upstream, json_body, keys,
    redact_params, validate_form, validated,
};

/// Re-exports for `#[connector_actions]` expansions; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use futures_util::future::BoxFuture;
    pub use serde_json::Value;

    pub use crate::sdk::input::{
        download_output, download_schema, input_schema, json_output, output_schema, parse_input,
    };
}

include!(concat!(env!("OUT_DIR"), "/connector_modules.rs"));
