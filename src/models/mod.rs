//! Persistence: SeaORM entities (`entities`, mirroring the migrations) and the hand-written
//! queries on them, one module per table (`connections` for `connection`, `folders` for
//! `knowledge_folder`, …). Every SeaORM call of the app lives here; services, views and
//! workers call these functions (`architecture_tests` checks it). Every query that takes a
//! user id scopes by it, so a foreign id reads as "not found".
//!
//! The queries every request makes (the session, the folder and the connection), the
//! rate-limit check and the audit insert skip SeaORM's query builder: they are fixed SQL sent
//! through sqlx on the same pool and read by position (`direct`), since SeaORM's building,
//! boxing and decoding by name cost a browse more than the statements did. On an SQLite file
//! the two reads among them run on the calling thread (`local_reads`), not on sqlx's
//! connection threads, and so do the writes (the rate-limit hit, the audit row,
//! `last_used_at`: `local_writes`). `tests/api/direct_queries.rs` holds them to what SeaORM
//! reads.
//!
//! Other lookups of one row by a unique key that run often use `all()`, not `one()`: `one()`
//! adds `LIMIT ?`, and SQLite compiles a statement whose limit is a bound parameter again
//! every time it runs (the value may change the plan); that once cost a browse four
//! recompilations, about a fifth of its CPU.

pub mod admin_audit_logs;
pub mod api_tokens;
pub mod app_secrets;
pub mod connections;
pub mod connector_audit_logs;
pub mod connector_configs;
pub mod connectors;
pub(crate) mod direct;
pub mod entities;
pub mod folders;
pub mod keyset;
pub mod local_reads;
pub mod local_writes;
pub mod login_throttles;
pub mod mcp_authorization_codes;
pub mod mcp_clients;
pub mod mcp_grants;
pub mod mcp_tokens;
pub mod names;
pub mod oauth_states;
pub mod oidc_flows;
pub mod oidc_logout_jtis;
pub mod queue_messages;
pub mod rate_limits;
pub mod search;
pub mod sessions;
pub mod setup_tokens;
pub mod signin_links;
pub mod source_files;
pub mod status;
pub mod user_identities;
pub mod users;

pub use entities::*;
pub use status::{
    Channel, ConnectionStatus, McpClientKind, McpTokenKind, MessageStatus, SourceFileStatus,
};
