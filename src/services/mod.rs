//! Application services: the business logic between views and models.

pub mod admin_audit;
pub mod agent_calls;
pub mod agent_tools;
pub mod api_tokens;
pub mod audit;
pub mod catalog;
pub mod connections;
pub mod connector_config;
pub mod credentials;
pub mod disconnect;
pub mod import_service;
pub mod oauth;
pub mod oauth_flows;
pub mod queue;
pub mod rate_limits;
pub mod refresh_locks;
pub mod rotation;
pub mod run_action;
pub mod runtime;
pub mod secrets;
pub mod setup;
pub mod source_files;
pub mod storage;
pub mod token_refresh;
