//! Storing a file in a knowledge folder — the one path for direct uploads and (later) cloud
//! imports: stream to storage under the documented key, then in one transaction create the
//! `source_file` row (status `uploaded`) and its `source_file.uploaded` outbox message.
//! A failure before the commit removes the object; nothing half-written is left visible.

use super::queue::{self, DOCUMENTS_QUEUE, OutboxMessage, QueueHandle};
use super::storage::Storage;
use super::storage::{Upload, source_file_key};
use crate::error::{AppError, AppResult};
use crate::models::SourceFileStatus;
use crate::models::entities::{knowledge_folder, source_file};
use crate::models::source_files::{self, NewSourceFile};
use anyhow::Context;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde::{Deserialize, Serialize};

/// Where a file came from.
pub struct Origin {
    /// `upload` or a connector slug.
    pub kind: String,
    /// The upstream id/revision for imports.
    pub reference: Option<String>,
    /// Makes a repeated import of the same revision a no-op.
    pub idempotency_key: Option<String>,
}

impl Origin {
    pub fn upload() -> Self {
        Self {
            kind: "upload".into(),
            reference: None,
            idempotency_key: None,
        }
    }
}

/// A file's name and type as given by the client.
pub struct Incoming {
    pub name: String,
    pub mime_type: Option<String>,
}

/// The display name a stored file gets: path stripped, length bounded, and without control
/// characters or the bidirectional-text controls that make `invoice\u{202E}fdp.exe` read
/// as `invoiceexe.pdf`.
pub fn display_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw).trim();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(255)
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

/// The Unicode characters that reorder how text around them is shown.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The MIME type a stored file gets: the one given, unless it is missing, generic or
/// implausibly long; then a guess from the name's extension.
pub fn mime_type_for(name: &str, given: Option<String>) -> String {
    given
        .filter(|m| !m.is_empty() && m.len() <= 255 && m != "application/octet-stream")
        .unwrap_or_else(|| {
            mime_guess::from_path(name)
                .first_or_octet_stream()
                .essence_str()
                .to_owned()
        })
}

/// Where stored files are kept: their bytes in storage, their rows in the database, and the
/// queue that is told about them.
#[derive(Clone, Copy)]
pub struct FileStore<'a> {
    pub db: &'a DatabaseConnection,
    pub storage: &'a Storage,
    pub outbox: &'a QueueHandle,
}

/// The most a file may take now, and what to say when it takes more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeLimit {
    pub bytes: u64,
    pub over: String,
}

impl SizeLimit {
    /// The tightest of the per-file limit `file_max`, what is left of the request's total
    /// (`request_left` of `request_max`, for uploads), and what is left of the user's quota.
    pub fn tightest(file_max: u64, request: Option<(u64, u64)>, quota: Quota) -> Self {
        let mut limit = SizeLimit {
            bytes: file_max,
            over: format!(
                "The file is larger than the {} limit.",
                human_size(file_max)
            ),
        };
        if let Some((left, max)) = request
            && left < limit.bytes
        {
            limit = SizeLimit {
                bytes: left,
                over: format!(
                    "The upload is larger than the {} one request may carry; the files \
                     before this one were stored.",
                    human_size(max)
                ),
            };
        }
        if quota.left() < limit.bytes {
            limit = SizeLimit {
                bytes: quota.left(),
                over: quota.full_message(),
            };
        }
        limit
    }
}

/// A user's storage: what their files take and what they may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub used: u64,
    pub max: u64,
}

impl Quota {
    /// The user's quota now.
    pub async fn of(db: &DatabaseConnection, user_id: i64, max: u64) -> AppResult<Self> {
        let used = source_files::bytes_used_by(db, user_id).await?.max(0) as u64;
        Ok(Self { used, max })
    }

    pub fn left(self) -> u64 {
        self.max.saturating_sub(self.used)
    }

    /// "1.2 GiB of 10.0 GiB".
    pub fn describe(self) -> String {
        format!("{} of {}", human_size(self.used), human_size(self.max))
    }

    /// What a file that does not fit is told.
    pub fn full_message(self) -> String {
        format!(
            "Your knowledge folders are full: {} used of your {}. Delete files to make room.",
            human_size(self.used),
            human_size(self.max)
        )
    }
}

/// Stream `body` into `folder`, within `limit`.
pub async fn store<S, E>(
    files: FileStore<'_>,
    folder: &knowledge_folder::Model,
    incoming: Incoming,
    origin: Origin,
    limit: &SizeLimit,
    body: S,
) -> AppResult<source_file::Model>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let name = display_name(&incoming.name)
        .ok_or_else(|| AppError::BadRequest("The file needs a name.".into()))?;
    let mime = mime_type_for(&name, incoming.mime_type);
    let uuid = uuid::Uuid::new_v4().to_string();
    let key = source_file_key(folder.id, &uuid, &name);
    let mut upload = files.storage.begin_upload(&key).await?;
    if let Err(e) = copy(&mut upload, body, limit).await {
        upload.abort().await;
        return Err(e);
    }
    if upload.size() == 0 {
        upload.abort().await;
        return Err(AppError::BadRequest(format!("“{name}” is empty.")));
    }
    let stored = upload.finish().await?;

    let commit = async {
        let txn = files.db.begin().await?;
        let file = source_files::insert(
            &txn,
            NewSourceFile {
                uuid: uuid.clone(),
                knowledge_folder_id: folder.id,
                user_id: folder.user_id,
                name: name.clone(),
                mime_type: mime,
                size_bytes: stored.size as i64,
                sha256: Some(stored.sha256.clone()),
                storage_key: stored.key.clone(),
                status: SourceFileStatus::Uploaded,
                origin: origin.kind,
                origin_ref: origin.reference,
                idempotency_key: origin.idempotency_key,
            },
        )
        .await?;
        queue::enqueue(&txn, &SourceFileUploaded::of(&file)).await?;
        txn.commit().await?;
        Ok::<_, AppError>(file)
    };
    match commit.await {
        Ok(file) => {
            files.outbox.wake();
            tracing::info!(
                source_file.id = file.id,
                source_file.size = file.size_bytes,
                knowledge_folder.id = folder.id,
                "file stored"
            );
            Ok(file)
        }
        Err(e) => {
            let _ = files.storage.delete(&stored.key).await;
            Err(e)
        }
    }
}

async fn copy<S, E>(upload: &mut Upload, mut body: S, limit: &SizeLimit) -> AppResult<()>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("The upload was interrupted: {e}")))?;
        if upload.size() + chunk.len() as u64 > limit.bytes {
            return Err(AppError::PayloadTooLarge(limit.over.clone()));
        }
        upload.write(chunk).await?;
    }
    Ok(())
}

/// Bytes as a short human-readable size ("1.5 MiB").
pub fn human_size(bytes: u64) -> String {
    HumanSize(bytes).to_string()
}

/// [`human_size`] for `{}`, written where it is wanted.
pub struct HumanSize(pub u64);

impl std::fmt::Display for HumanSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let bytes = self.0;
        let unit = (1..UNITS.len())
            .take_while(|&u| bytes >> (10 * u) != 0)
            .last()
            .unwrap_or(0);
        let mut digits = itoa::Buffer::new();
        if unit == 0 {
            f.write_str(digits.format(bytes))?;
            return f.write_str(" B");
        }
        // Tenths of the unit, rounded half to even as `{:.1}` rounds a float (`bytes /
        // 1024^unit` is a binary fraction, which the float held exactly): integers only.
        let shift = 10 * unit as u32;
        let scaled = u128::from(bytes) * 10;
        let (mut tenths, rest) = (scaled >> shift, scaled & ((1u128 << shift) - 1));
        let half = 1u128 << (shift - 1);
        if rest > half || (rest == half && tenths % 2 == 1) {
            tenths += 1;
        }
        f.write_str(digits.format(tenths / 10))?;
        let tenth = [b'.', b'0' + (tenths % 10) as u8, b' '];
        f.write_str(std::str::from_utf8(&tenth).map_err(|_| std::fmt::Error)?)?;
        f.write_str(UNITS[unit])
    }
}

/// `source_file.uploaded` (DESIGN §3): sent once per stored file, uploaded or imported, in
/// the transaction that marks it `uploaded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFileUploaded {
    pub source_file_id: i64,
    pub source_file_uuid: String,
    pub knowledge_folder_id: i64,
    pub user_id: i64,
    pub storage_key: String,
    pub size_bytes: i64,
    pub mime_type: String,
    pub origin: String,
}

impl SourceFileUploaded {
    /// The message announcing `file`.
    pub fn of(file: &source_file::Model) -> Self {
        Self {
            source_file_id: file.id,
            source_file_uuid: file.uuid.clone(),
            knowledge_folder_id: file.knowledge_folder_id,
            user_id: file.user_id,
            storage_key: file.storage_key.clone(),
            size_bytes: file.size_bytes,
            mime_type: file.mime_type.clone(),
            origin: file.origin.clone(),
        }
    }
}

impl OutboxMessage for SourceFileUploaded {
    const TYPE: &'static str = "source_file.uploaded";
    const QUEUE: &'static str = DOCUMENTS_QUEUE;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::TYPE, self.source_file_uuid))
    }
}

/// The reference consumer of `source_file.uploaded`: a file is `ready` once its stored
/// object is confirmed to exist with the recorded size; otherwise it is `failed` with the
/// reason.
pub async fn mark_ready(
    db: &DatabaseConnection,
    storage: &Storage,
    msg: &SourceFileUploaded,
) -> anyhow::Result<()> {
    let id = msg.source_file_id;
    let Some(file) = source_files::find(db, id).await? else {
        // The file was deleted before we got to it: nothing to do.
        return Ok(());
    };
    if file.status == SourceFileStatus::Ready {
        return Ok(());
    }
    let stored = storage
        .size_of(&file.storage_key)
        .await
        .context("checking the stored object")?;
    let (status, error) = match stored {
        Some(size) if size as i64 == file.size_bytes => (SourceFileStatus::Ready, None),
        Some(size) => (
            SourceFileStatus::Failed,
            Some(format!(
                "stored object has {size} bytes, expected {}",
                file.size_bytes
            )),
        ),
        None => (
            SourceFileStatus::Failed,
            Some("stored object is missing".to_owned()),
        ),
    };
    source_files::set_status(db, id, status, error).await?;
    tracing::info!(
        source_file.id = id,
        source_file.status = status.as_str(),
        "document checked"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_person_would_write_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(50 * 1024 * 1024), "50.0 MiB");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        // Halfway between two tenths: to the even one, as `{:.1}` does.
        assert_eq!(human_size(1280), "1.2 KiB");
        assert_eq!(human_size(1792), "1.8 KiB");
        assert_eq!(human_size(1048575), "1024.0 KiB");
        assert_eq!(human_size(5 << 40), "5.0 TiB");
        assert_eq!(human_size(u64::MAX), "16777216.0 TiB");
    }

    /// What the size read before it was written with integers: the float divided down and
    /// formatted with `{:.1}`.
    fn by_float(bytes: u64) -> String {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let (mut value, mut unit) = (bytes as f64, 0);
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            format!("{bytes} B")
        } else {
            format!("{value:.1} {}", UNITS[unit])
        }
    }

    #[test]
    fn sizes_read_as_the_float_formatting_gave_them() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for bytes in (0..5000).chain((0..20_000).map(|_| next() >> (11 + next() % 53))) {
            assert_eq!(human_size(bytes), by_float(bytes), "{bytes} bytes");
        }
        for unit in 1..5 {
            let size = 1u64 << (10 * unit);
            for bytes in [
                size - 1,
                size,
                size + size / 20,
                size + size / 20 * 3,
                1023 * size,
            ] {
                assert_eq!(human_size(bytes), by_float(bytes), "{bytes} bytes");
            }
        }
    }

    #[test]
    fn display_names_drop_paths_and_control_characters() {
        assert_eq!(
            display_name("C:\\Users\\a\\notes.txt").as_deref(),
            Some("notes.txt")
        );
        assert_eq!(display_name("a/b/\u{7}x.pdf").as_deref(), Some("x.pdf"));
        assert_eq!(display_name("  "), None);
    }

    #[test]
    fn a_name_that_reverses_itself_on_screen_is_shown_as_it_really_is() {
        assert_eq!(
            display_name("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoicefdp.exe")
        );
        assert_eq!(
            display_name("\u{2067}report\u{2069}.pdf\u{200F}").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(display_name("\u{202E}\u{202C}"), None);
        assert_eq!(display_name("Café ☕.txt").as_deref(), Some("Café ☕.txt"));
    }
}

#[cfg(test)]
#[path = "source_files_properties.rs"]
mod properties;
