//! `postgres`: bring-your-own-credentials PostgreSQL. Each user connects with their own
//! role (the database's grants do the scoping) and can list schemas and tables, describe a
//! table and run one read-only query at a time.
//!
//! Read-only is enforced by PostgreSQL, not by parsing SQL: every action opens its own
//! connection to the SSRF-checked address, runs inside `START TRANSACTION ISOLATION LEVEL
//! REPEATABLE READ, READ ONLY` whose snapshot is taken before the user's statement, sends
//! that statement through the extended protocol as one prepared statement, and rolls back.
//! What PostgreSQL still allows in a read-only transaction and has effects anyway (`REINDEX`,
//! `ANALYZE`, `LOCK`, advisory locks, signals) is refused before the statement runs, and
//! roles that could reach past the transaction (dblink, server files, signals) are refused.
//!
//! - `connector.rs` — spec, form, `test_credentials` (live check, role refusals, warnings)
//! - `actions.rs` — the four actions and their inputs
//! - `client.rs` — connection parameters, connecting (SSRF, TLS), the read-only session
//! - `tls.rs` — rustls for tokio-postgres: SNI and verification use the typed host name
//! - `query.rs` — `run_query`: portal batches, row and byte caps
//! - `guard.rs` — what a console query may be: a query naming no function with effects
//!   outside the transaction (advisory locks, signals, SQL in strings)
//! - `values.rs` — binary result values → JSON
//! - `errors.rs` — PostgreSQL errors → `ConnectorError`
//! - `models.rs` — action outputs

mod actions;
mod client;
mod connector;
mod errors;
mod guard;
mod models;
mod query;
mod scalars;
mod tls;
mod values;

#[cfg(test)]
mod tests;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::PostgresConnector>()
}
