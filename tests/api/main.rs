//! One integration-test binary: the real app on a random port, talked to over HTTP.

mod accounts;
mod actions;
mod admin;
mod browser;
mod cli;
mod cloud_import;
mod connections;
mod fake_drive;
mod fake_graph;
mod folders;
mod helpers;
mod node_packages;
mod oauth_flow;
mod oauth_server;
mod query_console;
mod rate_limits;
mod rotation;
mod schema;
mod shell;
mod storage_s3;
mod token_refresh;
mod two_processes;
