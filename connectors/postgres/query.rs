//! `run_query`: one user statement in the read-only transaction, read through a portal in
//! batches so that the row and byte caps stop the server too, not just our reading.
//!
//! The statement goes through the extended protocol only: `prepare` (Parse, which
//! refuses more than one command), `bind` to a portal, then `Execute` with a row limit
//! until the portal is drained or a cap is reached. The user's text never reaches the
//! simple query protocol, where `SELECT 1; COMMIT; CREATE TABLE x()` would escape the
//! transaction. The transaction is always rolled back. Before it runs, the statement must
//! be a query and name no function with effects outside the transaction (`guard.rs`).

use std::pin::pin;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use serde_json::Value;

use super::client::{Session, Timeouts};
use super::errors::statement_error;
use super::guard;
use super::models::{QueryResult, ResultColumn, TruncatedReason};
use super::values::{RawCell, decode, is_supported, json_size, shows_as_oid, type_label};
use crate::ConnectorError;

/// Caps of one query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryLimits {
    /// Most rows returned.
    pub max_rows: usize,
    /// Most bytes of rendered JSON values returned.
    pub max_bytes: usize,
    /// `statement_timeout` (and the client-side deadline, plus a grace period).
    pub timeout: Duration,
}

/// Rows asked for by the first `Execute`; later batches adapt to the row size seen.
const FIRST_BATCH: usize = 64;
/// Most rows asked for by one `Execute`.
const MAX_BATCH: usize = 1000;
/// Extra time the client waits beyond `statement_timeout` before giving up on the server.
const CLIENT_GRACE: Duration = Duration::from_secs(5);

/// Runs `sql` on `session` within `limits`.
pub(crate) async fn run_query(
    session: &mut Session,
    sql: &str,
    limits: QueryLimits,
) -> Result<QueryResult, ConnectorError> {
    let deadline = limits.timeout + CLIENT_GRACE;
    match tokio::time::timeout(deadline, run(session, sql, limits)).await {
        Ok(result) => result,
        // `statement_timeout` runs per `Execute`, so many slow batches, or a stalled
        // network, can outlast it: give up, and let dropping the session end the transaction.
        Err(_) => Err(ConnectorError::invalid_field(
            "sql",
            format!(
                "the query took longer than {} s and was cancelled",
                limits.timeout.as_secs().max(1)
            ),
        )),
    }
}

async fn run(
    session: &mut Session,
    sql: &str,
    limits: QueryLimits,
) -> Result<QueryResult, ConnectorError> {
    let timeouts = Timeouts::for_query(limits.timeout);
    let budget = session.budget().clone();
    let fail = |e: tokio_postgres::Error| statement_error(&e, Some(sql), timeouts, &budget);
    let tx = session.begin_checked(timeouts).await?;
    let started = Instant::now();
    // Parse first, so PostgreSQL reports syntax errors and several statements as it does;
    // Parse runs nothing.
    let statement = tx.prepare(sql).await.map_err(fail)?;
    if let Some(why) = guard::refusal(sql) {
        return Err(ConnectorError::invalid_field(
            "sql",
            format!("this connection is read-only: {why}"),
        ));
    }
    if !statement.params().is_empty() {
        return Err(ConnectorError::invalid_field(
            "sql",
            "the query has parameters ($1, $2…); write the values into the query instead",
        ));
    }
    let types: Vec<_> = statement
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let columns: Vec<ResultColumn> = statement
        .columns()
        .iter()
        .map(|c| ResultColumn {
            name: c.name().to_owned(),
            data_type: type_label(c.type_()),
        })
        .collect();
    let mut notes: Vec<String> = statement
        .columns()
        .iter()
        .filter(|c| !is_supported(c.type_()))
        .map(|c| {
            format!(
                "Column `{name}` has type {ty}, which cannot be shown here; its values are \
                 null. Cast it to text to see them, e.g. `{name}::text`.",
                name = c.name(),
                ty = type_label(c.type_())
            )
        })
        .collect();
    notes.extend(
        statement
            .columns()
            .iter()
            .filter(|c| shows_as_oid(c.type_()))
            .map(|c| {
                format!(
                    "Column `{name}` ({ty}) is shown as numeric OIDs; cast it to text for \
                     names, e.g. `{name}::text`.",
                    name = c.name(),
                    ty = type_label(c.type_())
                )
            }),
    );

    // Whatever the caps, one connection never takes in more than this.
    budget.allow_more(u64::try_from(limits.max_bytes * 4 + (16 << 20)).unwrap_or(u64::MAX));
    let portal = tx.bind(&statement, &[]).await.map_err(fail)?;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = None;
    let mut malformed = false;
    let mut batch = FIRST_BATCH;
    'portal: loop {
        // One more row than the cap, to know whether there were more.
        let want = batch.min(limits.max_rows + 1 - rows.len());
        let request = i32::try_from(want).unwrap_or(i32::MAX);
        let mut stream = pin!(tx.query_portal_raw(&portal, request).await.map_err(fail)?);
        let mut received = 0;
        while let Some(row) = stream.try_next().await.map_err(fail)? {
            received += 1;
            if rows.len() == limits.max_rows {
                truncated = Some(TruncatedReason::RowLimit);
                break 'portal;
            }
            let mut cells = Vec::with_capacity(types.len());
            for (index, ty) in types.iter().enumerate() {
                let RawCell(raw) = row.try_get(index).map_err(fail)?;
                let value = match raw {
                    None => Value::Null,
                    Some(raw) => decode(ty, raw).unwrap_or_else(|_| {
                        malformed = true;
                        Value::Null
                    }),
                };
                cells.push(value);
            }
            let size = cells.iter().map(|v| json_size(v) + 1).sum::<usize>() + 2;
            if bytes + size > limits.max_bytes {
                truncated = Some(TruncatedReason::ByteLimit);
                break 'portal;
            }
            bytes += size;
            rows.push(cells);
        }
        if received < want {
            break; // the portal is drained
        }
        // Size the next batch to what is left of the byte cap, at the average row size.
        let average = (bytes / rows.len().max(1)).max(1);
        batch = ((limits.max_bytes - bytes) / average).clamp(1, MAX_BATCH);
    }
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    // Always roll back. If it fails the session is dropped right after, which ends the
    // transaction on the server just the same.
    if let Err(error) = tx.rollback().await {
        tracing::debug!(error = %error, "rollback after a query failed");
    }
    match truncated {
        Some(TruncatedReason::RowLimit) => notes.push(format!(
            "Showing the first {} rows; the query returned more.",
            rows.len()
        )),
        Some(TruncatedReason::ByteLimit) => notes.push(format!(
            "Showing the first {} rows: the result is larger than {} MiB.",
            rows.len(),
            limits.max_bytes >> 20
        )),
        None => {}
    }
    if malformed {
        notes.push("Some values could not be read and are shown as null.".to_owned());
    }
    Ok(QueryResult {
        columns,
        row_count: rows.len(),
        rows,
        truncated: truncated.is_some(),
        truncated_reason: truncated,
        elapsed_ms,
        notes,
    })
}
