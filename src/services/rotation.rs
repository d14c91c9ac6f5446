//! `campuscore keys rotate`: re-encrypt every encrypted value under the first key — connector
//! config secrets, connection credentials, the PKCE verifiers of sign-ins in progress and the
//! tokens waiting in queued revocations, and the app's own secrets. Rows are
//! processed in id order, in batches; each row is swapped with a compare-and-set on its old
//! token, so the run can be killed at any point and run again: a row is either still under an
//! old key (and will be rotated) or already under the new one (and is skipped). Values are
//! always decrypted to plaintext first, so nothing is ever encrypted twice. Connection
//! credentials still stored unbound (bare, as the Django system wrote them) are sealed to
//! their owner, connection and connector as they are rotated, even under the current key.

use super::credentials::{self, Reseal};
use super::disconnect::RevokeToken;
use super::queue::OutboxMessage;
use super::secrets::Keyring;
use crate::models::{app_secrets, connections, connector_configs, oauth_states, queue_messages};
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
    pub oauth_state: TableReport,
    /// Queued `oauth.revoke_token` messages (their payload carries the token, encrypted).
    pub queue_message: TableReport,
    /// The app's own secrets (the session cookie key).
    pub app_secret: TableReport,
    /// Of the connections rotated, how many held unbound credentials that are now sealed to
    /// their owner, connection and connector.
    pub connection_sealed: u64,
    /// True when the run stopped early because `limit` rows were rotated.
    pub interrupted: bool,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, t) in [
            ("connector_config", &self.connector_config),
            ("connection", &self.connection),
            ("oauth_state", &self.oauth_state),
            ("queue_message", &self.queue_message),
            ("app_secret", &self.app_secret),
        ] {
            writeln!(
                f,
                "{name}: scanned {}, rotated {}, already current {}, undecryptable {}, changed concurrently {}",
                t.scanned, t.rotated, t.already_current, t.undecryptable, t.raced
            )?;
        }
        if self.connection_sealed > 0 {
            writeln!(
                f,
                "connection: {} with unbound credentials sealed to their owner, connection and connector",
                self.connection_sealed
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
            report.connection.scanned += 1;
            // Unbound credentials (the Django system's bare objects, envelopes from before
            // the connector was bound) are sealed to their row on the way.
            let new = match credentials::reseal(keyring, &row) {
                Reseal::Current => {
                    report.connection.already_current += 1;
                    continue;
                }
                Reseal::Unreadable => {
                    report.connection.undecryptable += 1;
                    continue;
                }
                Reseal::Rotated(new) => new,
                Reseal::Sealed(new) => {
                    report.connection_sealed += 1;
                    new
                }
            };
            // The same credentials, newly encrypted: the version is not bumped (nothing
            // changed for refreshers), but the compare-and-set on the old token keeps a
            // concurrent refresh safe.
            if connections::swap_credentials(db, row.id, &row.credentials, new).await? {
                report.connection.rotated += 1;
                budget -= 1;
            } else {
                report.connection.raced += 1;
            }
        }
    }
    if report.interrupted {
        return Ok(report);
    }

    let mut after = 0i64;
    'flows: loop {
        let rows = oauth_states::batch_after(db, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            if budget == 0 {
                report.interrupted = true;
                break 'flows;
            }
            let Some(new) = step(keyring, &row.pkce_verifier, &mut report.oauth_state) else {
                continue;
            };
            if oauth_states::swap_verifier(db, row.id, &row.pkce_verifier, new).await? {
                report.oauth_state.rotated += 1;
                budget -= 1;
            } else {
                report.oauth_state.raced += 1;
            }
        }
    }
    if report.interrupted {
        return Ok(report);
    }

    let mut after = 0i64;
    'messages: loop {
        let rows =
            queue_messages::unfinished_of_type_after(db, RevokeToken::TYPE, after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in rows {
            if budget == 0 {
                report.interrupted = true;
                break 'messages;
            }
            let Ok(mut message) = serde_json::from_str::<serde_json::Value>(&row.payload) else {
                report.queue_message.scanned += 1;
                report.queue_message.undecryptable += 1;
                continue;
            };
            let token = message["token"].as_str().unwrap_or_default().to_owned();
            let Some(new) = step(keyring, &token, &mut report.queue_message) else {
                continue;
            };
            message["token"] = serde_json::Value::from(new);
            let payload = message.to_string();
            if queue_messages::swap_payload(db, row.id, &row.payload, payload).await? {
                report.queue_message.rotated += 1;
                budget -= 1;
            } else {
                report.queue_message.raced += 1;
            }
        }
    }
    if report.interrupted {
        return Ok(report);
    }

    for row in app_secrets::all(db).await? {
        if budget == 0 {
            report.interrupted = true;
            break;
        }
        let Some(new) = step(keyring, &row.value, &mut report.app_secret) else {
            continue;
        };
        if app_secrets::swap_value(db, row.id, &row.value, new).await? {
            report.app_secret.rotated += 1;
            budget -= 1;
        } else {
            report.app_secret.raced += 1;
        }
    }
    Ok(report)
}
