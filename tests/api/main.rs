//! One integration-test binary: the real app on a random port, talked to over HTTP.

mod accounts;
mod actions;
mod admin;
mod agent;
mod browser;
mod canvas;
mod cli;
mod cloud_drives;
mod cloud_import;
mod connections;
mod folders;
mod helpers;
mod import_processes;
mod mcp;
mod mcp_oauth;
mod oauth_flow;
mod query_console;
mod rate_limits;
mod rotation;
mod schema;
mod serve_process;
mod servicenow;
mod shell;
mod storage_s3;
mod token_refresh;
mod two_processes;
