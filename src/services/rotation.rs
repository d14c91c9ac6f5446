//! `campuscore keys rotate`: re-encrypt every encrypted value under the first key. Rows are
//! processed in id order, in batches; each row is swapped with a compare-and-set on its old
//! token, so the run can be killed at any point and run again: a row is either still under an
//! old key (and will be rotated) or already under the new one (and is skipped). Values are
//! always decrypted to plaintext first, so nothing is ever encrypted twice.

use super::secrets::Keyring;
use crate::models::{connections, connector_configs};
use sea_orm::DatabaseConnection;

/// Rows per batch.
pub const BATCH: u64 = 200;

/// What a rotation did, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub scanned: u64,
    pub rotated: u64,
    pub already_current: u64,
    /// Rows no configured key can decrypt (left untouched).
    pub undecryptable: u64,
    /// Rows changed by someone else between read and write (picked up on the next run).
    pub raced: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub connector_config: TableReport,
    pub connection: TableReport,
    /// True when the run stopped early because `limit` rows were rotated.
    pub interrupted: bool,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, t) in [
            ("connector_config", &self.connector_config),
            ("connection", &self.connection),
        ] {
            writeln!(
                f,
                "{name}: scanned {}, rotated {}, already current {}, undecryptable {}, changed concurrently {}",
                t.scanned, t.rotated, t.already_current, t.undecryptable, t.raced
            )?;
        }
        if self.interrupted {
            writeln!(
                f,
                "stopped early; run `campuscore keys rotate` again to finish"
            )?;
        }
        Ok(())
    }
}

fn step(keyring: &Keyring, token: &str, report: &mut TableReport) -> Option<String> {
    report.scanned += 1;
    match keyring.rotate_token(token) {
        Ok(None) => {
            report.already_current += 1;
            None
        }
        Ok(Some(new)) => Some(new),
        Err(_) => {
            report.undecryptable += 1;
            None
        }
    }
}

/// Rotate everything; `limit` stops after that many rows were rotated (used to test resumption).
pub async fn rotate_all(
    db: &DatabaseConnection,
    keyring: &Keyring,
    limit: Option<u64>,
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut budget = limit.unwrap_or(u64::MAX);

    let mut after = 0i64;
    'configs: loop {
        let rows = connector_configs::secrets_after(db, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            if budget == 0 {
                report.interrupted = true;
                break 'configs;
            }
            let Some(new) = step(keyring, &row.value, &mut report.connector_config) else {
                continue;
            };
            if connector_configs::swap_value(db, row.id, &row.value, new).await? {
                report.connector_config.rotated += 1;
                budget -= 1;
            } else {
                report.connector_config.raced += 1;
            }
        }
    }
    if report.interrupted {
        return Ok(report);
    }

    let mut after = 0i64;
    'connections: loop {
        let rows = connections::batch_after(db, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            if budget == 0 {
                report.interrupted = true;
                break 'connections;
            }
            let Some(new) = step(keyring, &row.credentials, &mut report.connection) else {
                continue;
            };
            // Same plaintext under a new key: the version is not bumped (nothing changed for
            // refreshers), but the compare-and-set on the old token keeps a concurrent refresh safe.
            if connections::swap_credentials(db, row.id, &row.credentials, new).await? {
                report.connection.rotated += 1;
                budget -= 1;
            } else {
                report.connection.raced += 1;
            }
        }
    }
    Ok(report)
}
