//! One integration-test binary: the real app on a random port, talked to over HTTP.

mod accounts;
mod actions;
mod cli;
mod folders;
mod helpers;
mod rotation;
mod schema;
mod shell;
mod storage_s3;
