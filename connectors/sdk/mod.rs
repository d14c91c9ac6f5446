//! The connector framework: specs, typed actions, the registry, errors, the shared HTTP
//! client, action context, credential forms, redaction and sanitized HTML. Connectors live in sibling
//! folders and use only what this module exports.

pub mod action;
pub mod breaker;
pub mod checksum;
pub mod connector;
pub mod context;
pub mod error;
pub mod files;
pub mod form;
pub mod html;
pub mod http;
pub mod input;
pub mod quickxor;
pub mod redact;
pub mod registry;
pub mod settings;
pub mod spec;
pub mod ssrf;
pub mod status;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod properties;

pub use action::{
    ActionDescriptor, ActionOutput, ActionSet, DOWNLOAD_IDLE_TIMEOUT, Download, DownloadInfo, Tag,
    body_stream,
};
pub use breaker::{BreakerPolicy, BreakerState, Breakers};
pub use checksum::{Checksum, ChecksumAlgorithm, ChecksumCheck, ChecksumMismatch};
pub use connector::{Connector, ConnectorDef, DefinedConnector, NormalizedCredentials};
pub use context::{ActionContext, Credentials, TokenUpdater, UserIdentity};
pub use error::ConnectorError;
pub use files::{
    Breadcrumb, FileActions, FileEntry, FileIcon, FileKind, FileList, FileSource, ListRequest,
    SearchRequest, validated,
};
pub use form::{FieldErrors, form_input_from_json, validate_form};
pub use html::RichText;
pub use http::{HttpClient, HttpConfig, RetryPolicy, install_crypto_provider};
pub use input::NoInput;
pub use quickxor::QuickXor;
pub use redact::{is_secret_key, redact_params};
pub use registry::{
    ConnectorRegistration, Registry, RegistryError, is_valid_action_name, is_valid_slug,
};
pub use settings::{API_BASE_URL_PLACEHOLDER, ConnectorSettings, is_secure_upstream};
pub use spec::{
    AuthScoping, ClientAuth, ConfigKey, ConnectorKind, ConnectorSpec, FieldKind, FormField,
    OAuthDescriptor, Revocation, keys, standard_oauth_keys,
};
pub use ssrf::{
    AllowList, blocked_reason, check_addresses, parse_ip_literal, resolve_checked,
    resolve_checked_for,
};
pub use status::{capped_body, error_for_status, error_from_response, json_body};
