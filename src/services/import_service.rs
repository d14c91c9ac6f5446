//! Cloud import: files picked in a connected service land in a knowledge folder exactly as
//! uploaded files do.
//!
//! `enqueue` (the import request) writes, in one transaction, a `source_file` row with status
//! `queued` per picked file and a `cloud_import.file` outbox message for it, then returns.
//! `run` (a queue worker) streams the file from the connector's download action into
//! storage under the row's key, checking the size limit and the provider's checksum as the
//! bytes pass, then in one transaction marks the row `uploaded` and writes the same
//! `source_file.uploaded` message a direct upload sends.
//!
//! Idempotency: the row's key is derived from (folder, connection, file id, revision), so
//! importing the same revision again finds the existing row instead of adding one. Crash
//! safety: the object only appears under its key when the upload completes, the row only
//! says `uploaded` once the object exists, and an interrupted import's message is claimed
//! again when its lease ends; a second run overwrites the same key with the same bytes.

use super::queue::{self, Attempt, IMPORTS_QUEUE, OutboxMessage, RetryAfter};
use super::run_action;
use super::runtime::ConnectorRuntime;
use super::source_files::{FileStore, Quota, SizeLimit, SourceFileUploaded};
use super::source_files::{display_name, human_size, mime_type_for};
use super::storage::source_file_key;
use crate::error::{AppError, AppResult};
use crate::models::entities::{connection, knowledge_folder, source_file};
use crate::models::source_files::{self, NewSourceFile};
use crate::models::{Channel, SourceFileStatus, users};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use campuscore_connectors::ChecksumCheck;
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::fmt;
use std::time::{Duration, Instant};

/// At most this many files per import request.
pub const MAX_FILES_PER_IMPORT: usize = 50;
/// How often a running import writes its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// A file picked in the browser. The browse fragment puts one, encoded, into each file's
/// checkbox; what it says is only trusted as far as the user's own import goes (the file
/// id is checked by the provider, the name is cleaned, the size re-checked while streaming).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pick {
    /// The connector's file id.
    #[serde(rename = "i")]
    pub id: String,
    /// The file name.
    #[serde(rename = "n")]
    pub name: String,
    /// What identifies this version of the content (see `FileEntry::revision`).
    #[serde(rename = "r", default)]
    pub revision: Option<String>,
    /// Size in bytes, when the listing said.
    #[serde(rename = "s", default)]
    pub size: Option<u64>,
    /// MIME type from the listing.
    #[serde(rename = "m", default)]
    pub mime_type: Option<String>,
}

impl Pick {
    /// The form value of a listed file (what `decode` reads back as its pick): URL-safe
    /// base64 of compact JSON (letters, digits, `-` and `_` only; the browse fragment writes
    /// it without HTML escaping). Without a revision, the modification time and size stand
    /// in for one. Written from the entry's own strings: a browse encodes one per listed
    /// file, and copying each entry into a `Pick` first cost as much as the encoding.
    pub fn encode_entry(entry: &campuscore_connectors::FileEntry) -> String {
        fields_of(entry).encode()
    }

    /// [`Pick::encode_entry`] written where it is wanted (into the page being rendered)
    /// instead of into a string of its own: the same characters.
    pub fn entry_value(entry: &campuscore_connectors::FileEntry) -> PickValue<'_> {
        PickValue(entry)
    }

    /// This pick's form value (see [`Pick::encode_entry`]).
    pub fn encode(&self) -> String {
        PickFields {
            id: &self.id,
            name: &self.name,
            revision: self.revision.as_deref().map(Revision::Given),
            size: self.size,
            mime_type: self.mime_type.as_deref(),
        }
        .encode()
    }

    /// Reads a form value; `None` for anything that is not a pick.
    pub fn decode(value: &str) -> Option<Self> {
        if value.len() > 8192 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(value.trim()).ok()?;
        let pick: Self = serde_json::from_slice(&bytes).ok()?;
        (!pick.id.is_empty() && pick.id.len() <= 4096).then_some(pick)
    }
}

/// What a listed file's pick holds.
fn fields_of(entry: &campuscore_connectors::FileEntry) -> PickFields<'_> {
    let revision = match (&entry.revision, entry.modified_time) {
        (Some(r), _) => Some(Revision::Given(r)),
        (None, Some(t)) => Some(Revision::Modified(t, entry.size.unwrap_or(0))),
        (None, None) => None,
    };
    PickFields {
        id: &entry.id,
        name: &entry.name,
        revision,
        size: entry.size,
        mime_type: Some(&entry.mime_type),
    }
}

/// A listed file's pick as its form value, for `{}` (see [`Pick::entry_value`]).
pub struct PickValue<'a>(&'a campuscore_connectors::FileEntry);

impl fmt::Display for PickValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        thread_local! {
            /// The JSON and its base64, reused by every pick this thread writes.
            static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const {
                std::cell::RefCell::new((Vec::new(), Vec::new()))
            };
        }
        SCRATCH.with_borrow_mut(|(json, text)| {
            json.clear();
            fields_of(self.0).write_json(json);
            text.clear();
            push_base64url(text, json);
            f.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)
        })
    }
}

/// What a pick's form value holds, borrowed: the one serialisation of a pick, as JSON with
/// the keys `i`, `n`, `r`, `s` and `m` (the last three left out when absent), which
/// [`Pick`]'s `Deserialize` reads back.
struct PickFields<'a> {
    id: &'a str,
    name: &'a str,
    revision: Option<Revision<'a>>,
    size: Option<u64>,
    mime_type: Option<&'a str>,
}

/// A pick's revision: the listing's, or the file's modification time and size standing in
/// for one (written as [`write_modified_revision`] writes them, straight into the JSON).
#[derive(Clone, Copy)]
enum Revision<'a> {
    Given(&'a str),
    Modified(chrono::DateTime<chrono::Utc>, u64),
}

impl PickFields<'_> {
    /// Compact JSON, then URL-safe base64 without padding. The JSON is written by hand, a
    /// browse encodes one pick per listed file and serde's writer took four times as long;
    /// it is byte for byte what `serde_json::to_writer` writes for these fields (a test
    /// holds the two together), so picks rendered by either read back alike.
    fn encode(&self) -> String {
        let mut json = Vec::new();
        self.write_json(&mut json);
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The compact JSON, appended to `json`.
    fn write_json(&self, json: &mut Vec<u8>) {
        let revision = match self.revision {
            Some(Revision::Given(r)) => r.len(),
            Some(Revision::Modified(..)) => 56,
            None => 0,
        };
        let strings =
            revision + self.mime_type.map_or(0, str::len) + self.id.len() + self.name.len();
        json.reserve(48 + strings);
        json.extend_from_slice(b"{\"i\":");
        push_json_str(json, self.id);
        json.extend_from_slice(b",\"n\":");
        push_json_str(json, self.name);
        match self.revision {
            Some(Revision::Given(r)) => {
                json.extend_from_slice(b",\"r\":");
                push_json_str(json, r);
            }
            Some(Revision::Modified(t, size)) => {
                // Digits, signs, `-`, `:`, `.`, `T` and `/`: nothing JSON escapes.
                json.extend_from_slice(b",\"r\":\"");
                write_modified_revision(json, t, size);
                json.push(b'"');
            }
            None => {}
        }
        if let Some(size) = self.size {
            json.extend_from_slice(b",\"s\":");
            json.extend_from_slice(itoa::Buffer::new().format(size).as_bytes());
        }
        if let Some(m) = self.mime_type {
            json.extend_from_slice(b",\"m\":");
            push_json_str(json, m);
        }
        json.push(b'}');
    }
}

/// `s` as a JSON string: as it is when nothing in it needs escaping (nearly every file
/// name), else escaped by serde_json.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Every byte looked at, with no early exit, so the compiler checks many at a time.
    let plain = !s.bytes().fold(false, |seen, b| {
        seen | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing to a Vec cannot fail; an empty string keeps the JSON whole regardless.
        out.extend_from_slice(b"\"\"");
    }
}

/// The URL-safe base64 alphabet.
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Every 12-bit value as its two base64 characters.
static BASE64URL_PAIRS: [[u8; 2]; 4096] = {
    let mut pairs = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        pairs[i] = [BASE64URL[i >> 6], BASE64URL[i & 63]];
        i += 1;
    }
    pairs
};

/// Appends `input` as URL-safe base64 without padding (what `URL_SAFE_NO_PAD` writes; a
/// test holds the two together). A browse encodes a pick for every listed file: the
/// `base64` crate's general-purpose engine took 58 k instructions a 50-row page for them,
/// two look-ups of 12 bits per three bytes take 44 k.
fn push_base64url(out: &mut Vec<u8>, input: &[u8]) {
    let (whole, rest) = input.as_chunks::<3>();
    let start = out.len();
    out.resize(start + whole.len() * 4, 0);
    let (quads, _) = out[start..].as_chunks_mut::<4>();
    for (&[a, b, c], quad) in whole.iter().zip(quads) {
        let bits = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
        let [w, x] = BASE64URL_PAIRS[(bits >> 12) as usize];
        let [y, z] = BASE64URL_PAIRS[(bits & 0xfff) as usize];
        *quad = [w, x, y, z];
    }
    let sextet = |bits: u32, shift: u32| BASE64URL[((bits >> shift) & 63) as usize];
    match *rest {
        [a] => {
            let bits = u32::from(a) << 16;
            out.extend_from_slice(&[sextet(bits, 18), sextet(bits, 12)]);
        }
        [a, b] => {
            let bits = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sextet(bits, 18), sextet(bits, 12), sextet(bits, 6)]);
        }
        _ => {}
    }
}

/// The revision of a file whose listing gave none, appended to `out`: its modification
/// time (as chrono's `to_rfc3339` writes it, which is what earlier imports stored) and its
/// size. Written digit by digit for UTC times in years 0–9999, chrono's own writer for
/// anything else.
fn write_modified_revision(out: &mut Vec<u8>, t: chrono::DateTime<chrono::Utc>, size: u64) {
    use chrono::{Datelike, Timelike};
    // The naive time once: each accessor of a `DateTime` works it out again.
    let naive = t.naive_utc();
    let (Ok(year @ 0..=9999), nanos @ 0..=999_999_999) =
        (u32::try_from(naive.year()), naive.nanosecond())
    else {
        out.extend_from_slice(format!("{}/{size}", t.to_rfc3339()).as_bytes());
        return;
    };
    let t = naive;
    // Chrono's `SecondsFormat::AutoSi`: no fraction, or milli-, micro- or nanoseconds, the
    // fewest digits that say it exactly.
    let fraction = match nanos {
        0 => None,
        n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
        n if n % 1_000 == 0 => Some((n / 1_000, 6)),
        n => Some((n, 9)),
    };
    let mut digits = |value: u32, width: usize, then: &[u8]| {
        let at = out.len();
        out.resize(at + width, 0);
        fill_digits(&mut out[at..], value);
        out.extend_from_slice(then);
    };
    digits(year, 4, b"-");
    digits(t.month(), 2, b"-");
    digits(t.day(), 2, b"T");
    digits(t.hour(), 2, b":");
    digits(t.minute(), 2, b":");
    match fraction {
        None => digits(t.second(), 2, b"+00:00/"),
        Some((value, width)) => {
            digits(t.second(), 2, b".");
            digits(value, width, b"+00:00/");
        }
    }
    out.extend_from_slice(itoa::Buffer::new().format(size).as_bytes());
}

/// Fills `out` with the last `out.len()` decimal digits of `value`, with leading zeros.
pub(crate) fn fill_digits(out: &mut [u8], mut value: u32) {
    for place in out.iter_mut().rev() {
        *place = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// A selection can be imported: at least one file, at most `MAX_FILES_PER_IMPORT`.
pub fn check_selection(picks: &[Pick]) -> AppResult<()> {
    if picks.is_empty() {
        return Err(AppError::BadRequest(
            "Nothing is selected: tick the files to import first.".into(),
        ));
    }
    if picks.len() > MAX_FILES_PER_IMPORT {
        return Err(AppError::BadRequest(format!(
            "Import at most {MAX_FILES_PER_IMPORT} files at a time."
        )));
    }
    Ok(())
}

/// Where an imported file comes from, kept in `source_file.origin_ref`.
#[derive(Debug, Serialize, Deserialize)]
struct Source {
    connection_id: i64,
    file_id: String,
    #[serde(default)]
    revision: Option<String>,
}

/// What an import request did with each pick.
pub struct Enqueued {
    /// The rows, in the order picked.
    pub files: Vec<source_file::Model>,
    /// How many picks were already in the folder (same revision) and were left alone.
    pub already_there: usize,
}

/// Queue `picks` from `conn` into `folder`: one `queued` row and one message per new file,
/// all in one transaction. A pick already imported (same revision) is left as it is, unless
/// its earlier import failed: then it is queued again.
pub async fn enqueue(
    files: FileStore<'_>,
    folder: &knowledge_folder::Model,
    conn: &connection::Model,
    connector_slug: &str,
    picks: &[Pick],
) -> AppResult<Enqueued> {
    check_selection(picks)?;
    // The same file ticked twice (two pages of a search) is one import.
    let mut seen = std::collections::HashSet::new();
    let picks: Vec<&Pick> = picks
        .iter()
        .filter(|p| seen.insert((&p.id, &p.revision)))
        .collect();
    let txn = files.db.begin().await?;
    let outbox = files.outbox;
    let mut files = Vec::with_capacity(picks.len());
    let mut already_there = 0;
    for pick in picks {
        let key = idempotency_key(folder.id, conn.id, pick);
        let (file, created) = insert_queued(&txn, folder, conn, connector_slug, pick, &key).await?;
        let file = if created {
            queue::enqueue(&txn, &CloudImportFile::of(&file)).await?;
            file
        } else if file.status == SourceFileStatus::Failed {
            let again = requeue(&txn, file).await?;
            queue::enqueue(&txn, &CloudImportFile::of(&again)).await?;
            again
        } else {
            already_there += 1;
            file
        };
        files.push(file);
    }
    txn.commit().await?;
    outbox.wake();
    tracing::info!(
        knowledge_folder.id = folder.id,
        connection.id = conn.id,
        import.files = files.len(),
        import.already_there = already_there,
        "cloud import queued"
    );
    Ok(Enqueued {
        files,
        already_there,
    })
}

/// `sha256(folder, connection, file id, revision)`, hex.
fn idempotency_key(folder_id: i64, connection_id: i64, pick: &Pick) -> String {
    let mut h = sha2::Sha256::new();
    for part in [
        "cloud-import",
        &folder_id.to_string(),
        &connection_id.to_string(),
        &pick.id,
        pick.revision.as_deref().unwrap_or(""),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Insert the `queued` row unless one with `key` exists; returns the row and whether it
/// is new. Safe against a concurrent request inserting the same key.
async fn insert_queued<C: ConnectionTrait>(
    db: &C,
    folder: &knowledge_folder::Model,
    conn: &connection::Model,
    connector_slug: &str,
    pick: &Pick,
    key: &str,
) -> AppResult<(source_file::Model, bool)> {
    let name = display_name(&pick.name).unwrap_or_else(|| "Untitled".into());
    let mime = mime_type_for(&name, pick.mime_type.clone());
    let uuid = uuid::Uuid::new_v4().to_string();
    let source = Source {
        connection_id: conn.id,
        file_id: pick.id.clone(),
        revision: pick.revision.clone(),
    };
    let row = NewSourceFile {
        uuid: uuid.clone(),
        knowledge_folder_id: folder.id,
        user_id: folder.user_id,
        storage_key: source_file_key(folder.id, &uuid, &name),
        name,
        mime_type: mime,
        size_bytes: pick.size.unwrap_or(0).min(i64::MAX as u64) as i64,
        sha256: None,
        status: SourceFileStatus::Queued,
        origin: connector_slug.to_owned(),
        origin_ref: Some(serde_json::to_string(&source).unwrap_or_default()),
        idempotency_key: Some(key.to_owned()),
    };
    let inserted = source_files::insert_unless_key_exists(db, row).await?;
    let file = if inserted {
        source_files::find_by_uuid(db, &uuid).await?
    } else {
        source_files::find_by_idempotency_key(db, key).await?
    }
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the queued file row vanished")))?;
    Ok((file, inserted))
}

async fn requeue<C: ConnectionTrait>(
    db: &C,
    file: source_file::Model,
) -> AppResult<source_file::Model> {
    Ok(source_files::requeue(db, file).await?)
}

/// How an import attempt ended, when it did not store the file.
enum Failure {
    /// Worth another attempt (provider busy, connection dropped, bytes damaged in transit).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Will not work by trying again (no access, too large, reconnect needed).
    Permanent(String),
    /// The provider's circuit breaker is open: wait for it, without using up an attempt.
    Deferred { reason: String, after: Duration },
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::naming(e, "The service")
    }
}

impl Failure {
    /// The failure `e` means for an import, its reason naming `service` (the connector's
    /// name) where the provider is meant.
    fn naming(e: AppError, service: &str) -> Self {
        match &e {
            AppError::Connector(
                c @ campuscore_connectors::ConnectorError::ProviderUnavailable {
                    retry_after, ..
                },
            ) => Failure::Deferred {
                reason: c.user_message_for(service),
                after: *retry_after,
            },
            AppError::Connector(c) if c.is_retryable() => Failure::Retry {
                reason: c.user_message_for(service),
                after: c.retry_after(),
            },
            AppError::Connector(campuscore_connectors::ConnectorError::AuthExpired { .. }) => {
                Failure::Permanent(format!(
                    "{} Reconnect the service in Settings, then import the file again.",
                    e.user_message()
                ))
            }
            AppError::NotFound => Failure::Permanent(
                "The connection this file was imported through no longer exists.".into(),
            ),
            AppError::Connector(_) | AppError::Disabled(_) | AppError::NotConfigured(_) => {
                Failure::Permanent(e.user_message())
            }
            _ => Failure::Retry {
                reason: e.user_message(),
                after: None,
            },
        }
    }
}

/// `cloud_import.file`: import one selected file (its `source_file` row, status `queued`,
/// says which). The key includes the row's `updated_at`, so a failed import queued again
/// gets a new message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudImportFile {
    pub source_file_id: i64,
    pub source_file_uuid: String,
    /// The row's `updated_at` (microseconds) when queued; only in the dedup key.
    #[serde(skip)]
    queued_at: i64,
}

impl CloudImportFile {
    /// The message that imports `file`.
    pub fn of(file: &source_file::Model) -> Self {
        Self {
            source_file_id: file.id,
            source_file_uuid: file.uuid.clone(),
            queued_at: file.updated_at.timestamp_micros(),
        }
    }
}

impl OutboxMessage for CloudImportFile {
    const TYPE: &'static str = "cloud_import.file";
    const QUEUE: &'static str = IMPORTS_QUEUE;

    fn dedup_key(&self) -> Option<String> {
        Some(format!(
            "{}:{}:{}",
            Self::TYPE,
            self.source_file_uuid,
            self.queued_at
        ))
    }
}

/// The `cloud_import.file` handler: import one queued file. `attempt` counts from 1.
pub async fn run(
    rt: &ConnectorRuntime,
    store: FileStore<'_>,
    msg: &CloudImportFile,
    attempt: Attempt,
) -> anyhow::Result<()> {
    let id = msg.source_file_id;
    let Some(file) = source_files::find(store.db, id).await? else {
        return Ok(()); // deleted meanwhile
    };
    if !matches!(
        file.status,
        SourceFileStatus::Queued | SourceFileStatus::Downloading
    ) {
        return Ok(()); // already stored (a redelivered message)
    }
    let source: Source = serde_json::from_str(file.origin_ref.as_deref().unwrap_or(""))
        .context("the file's origin_ref is not an import source")?;
    let started = Instant::now();
    set_status(
        store.db,
        &file,
        SourceFileStatus::Downloading,
        None,
        Some(0),
    )
    .await?;
    match import(rt, store, &file, &source).await {
        Ok(stored) => {
            tracing::info!(
                source_file.id = file.id,
                source_file.size = stored.size_bytes,
                duration_ms = started.elapsed().as_millis() as u64,
                "cloud import stored"
            );
            Ok(())
        }
        Err(Failure::Deferred { reason, after }) => {
            set_status(
                store.db,
                &file,
                SourceFileStatus::Queued,
                Some(reason.clone()),
                None,
            )
            .await?;
            Err(queue::Deferred { after, reason }.into())
        }
        Err(Failure::Retry { reason, after }) if attempt.may_retry() => {
            let after =
                after.unwrap_or(Duration::from_secs(2u64.pow(attempt.0.clamp(1, 10) as u32)));
            let note = format!("{reason} Retrying in {} s.", after.as_secs().max(1));
            set_status(store.db, &file, SourceFileStatus::Queued, Some(note), None).await?;
            Err(RetryAfter { after, reason }.into())
        }
        Err(Failure::Retry { reason, .. } | Failure::Permanent(reason)) => {
            tracing::warn!(source_file.id = file.id, error = %reason, "cloud import failed");
            set_status(
                store.db,
                &file,
                SourceFileStatus::Failed,
                Some(reason),
                None,
            )
            .await?;
            Ok(())
        }
    }
}

async fn set_status(
    db: &DatabaseConnection,
    file: &source_file::Model,
    status: SourceFileStatus,
    error: Option<String>,
    bytes_received: Option<i64>,
) -> anyhow::Result<()> {
    source_files::set_import_status(db, file.id, status, error, bytes_received).await?;
    Ok(())
}

async fn import(
    rt: &ConnectorRuntime,
    store: FileStore<'_>,
    file: &source_file::Model,
    source: &Source,
) -> Result<source_file::Model, Failure> {
    let owner = users::find(&rt.db, file.user_id)
        .await
        .map_err(AppError::from)?
        .filter(|u| u.is_active)
        .ok_or_else(|| {
            Failure::Permanent("The account that imported this file is closed.".into())
        })?;
    // `origin` is the connector's slug; `run_action` checks the connection is the owner's
    // and the connector enabled.
    let plugin = rt.registry.get(&file.origin);
    let service = plugin.map_or(file.origin.as_str(), |p| p.spec().name);
    if plugin.and_then(|p| p.files()).is_none() {
        return Err(Failure::Permanent(format!(
            "{service} cannot import files."
        )));
    }
    let download = run_action::download_file(
        rt,
        run_action::Caller::new(&owner, Channel::Worker),
        source.connection_id,
        &source.file_id,
    )
    .await
    .map_err(|e| Failure::naming(e, service))?;
    // The file's own row already counts towards the quota with the size the listing gave.
    let quota = Quota::of(&rt.db, file.user_id, rt.settings.storage_quota_bytes)
        .await
        .map_err(|e| retry(e.user_message()))?;
    let quota = Quota {
        used: quota.used.saturating_sub(file.size_bytes.max(0) as u64),
        ..quota
    };
    let limit = SizeLimit::tightest(rt.settings.max_upload_bytes, None, quota);
    if let Some(size) = download.size
        && size > limit.bytes
    {
        return Err(Failure::Permanent(limit.over.clone()));
    }
    let mut check = ChecksumCheck::new(download.checksum.as_ref());
    let expected_size = download.size;
    let mime = Some(download.mime_type.clone())
        .filter(|m| !m.is_empty() && m.len() <= 255 && m != "application/octet-stream")
        .unwrap_or_else(|| file.mime_type.clone());
    // The download's name can differ from the listing's (an exported Google Doc gains its
    // extension); the key follows it, and is the same on every attempt.
    let name = display_name(&download.name).unwrap_or_else(|| file.name.clone());
    let key = source_file_key(file.knowledge_folder_id, &file.uuid, &name);
    let mut body = download.stream;
    // An earlier attempt that died mid-way (a killed process) may have left a staging file.
    if let Err(e) = store.storage.discard_partials(&key).await {
        tracing::warn!(storage.key = %key, error = %e, "removing an unfinished upload failed");
    }
    let mut upload = store
        .storage
        .begin_upload(&key)
        .await
        .map_err(|e| retry(format!("Storage is not available: {e:#}")))?;
    let mut last_progress = Instant::now();
    let streamed: Result<(), Failure> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| retry(e.user_message()))?;
            if upload.size() + chunk.len() as u64 > limit.bytes {
                return Err(Failure::Permanent(limit.over.clone()));
            }
            check.update(&chunk);
            upload
                .write(chunk)
                .await
                .map_err(|e| retry(format!("Storage is not available: {e:#}")))?;
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                progress(store.db, file.id, upload.size()).await;
            }
        }
        if let Some(size) = expected_size
            && upload.size() != size
        {
            return Err(retry(format!(
                "The download ended early: {} of {} arrived.",
                human_size(upload.size()),
                human_size(size)
            )));
        }
        if upload.size() == 0 {
            return Err(Failure::Permanent("The file is empty.".into()));
        }
        check
            .verify(|| upload.sha256_hex())
            .map_err(|mismatch| retry(mismatch.to_string()))
    }
    .await;
    if let Err(failure) = streamed {
        upload.abort().await;
        return Err(failure);
    }
    let stored = upload
        .finish()
        .await
        .map_err(|e| retry(format!("Storage is not available: {e:#}")))?;
    commit(store, file, &stored, name, mime)
        .await
        .map_err(|e| retry(format!("Saving the file failed: {e:#}")))
}

fn retry(reason: impl Into<String>) -> Failure {
    Failure::Retry {
        reason: reason.into(),
        after: None,
    }
}

/// Best effort: a failed progress write only makes the page lag.
async fn progress(db: &DatabaseConnection, id: i64, bytes: u64) {
    let result = source_files::set_progress(db, id, bytes as i64).await;
    if let Err(e) = result {
        tracing::debug!(source_file.id = id, error = %e, "progress update failed");
    }
}

/// Mark the row `uploaded` and write its `source_file.uploaded` message, in one
/// transaction. A row some other run already finished is left alone.
async fn commit(
    store: FileStore<'_>,
    file: &source_file::Model,
    stored: &super::storage::StoredObject,
    name: String,
    mime: String,
) -> anyhow::Result<source_file::Model> {
    let txn = store.db.begin().await?;
    let done = source_files::mark_uploaded(
        &txn,
        file.id,
        source_files::Imported {
            size: stored.size as i64,
            sha256: stored.sha256.clone(),
            mime_type: mime,
            name,
            storage_key: stored.key.clone(),
        },
    )
    .await?;
    let row = source_files::find(&txn, file.id)
        .await?
        .context("the file row vanished")?;
    if done {
        queue::enqueue(&txn, &SourceFileUploaded::of(&row)).await?;
    }
    txn.commit().await?;
    store.outbox.wake();
    Ok(row)
}

#[cfg(test)]
#[path = "import_service_tests.rs"]
mod tests;
