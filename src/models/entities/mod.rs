//! SeaORM entities, one per table, mirroring `migration/`. Hand-written queries live in the
//! sibling modules of `crate::models`, not here.

pub mod admin_audit_log;
pub mod api_token;
pub mod app_secret;
pub mod connection;
pub mod connector;
pub mod connector_audit_log;
pub mod connector_config;
pub mod knowledge_folder;
pub mod login_throttle;
pub mod mcp_authorization_code;
pub mod mcp_client;
pub mod mcp_grant;
pub mod mcp_token;
pub mod oauth_state;
pub mod oidc_flow;
pub mod oidc_logout_jti;
pub mod queue_message;
pub mod rate_limit;
pub mod rate_limit_hit;
pub mod session;
pub mod setup_token;
pub mod signin_link;
pub mod source_file;
pub mod user;
pub mod user_identity;
