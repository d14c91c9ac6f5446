//! Object storage for files in knowledge folders: local files (default) or S3, through
//! `object_store`. Writes stream in parts (never a whole file in memory) and only become
//! visible when complete, so a crash leaves no partial object under the final key.

use anyhow::{Context, bail};
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many parts may be in flight per upload (bounds memory to parts × 5 MiB).
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// A configured object store.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store. An upload in progress is staged there as
    /// `{key}#{n}` and only renamed to `{key}` when complete; a process killed mid-upload
    /// leaves the staging file behind, which `discard_partials` and `sweep_partials` remove.
    local_root: Option<std::path::PathBuf>,
    /// Where objects go, for logs and the admin (never contains credentials).
    pub description: String,
    /// The last write probe's time and outcome, shared by every clone (see `readiness`).
    probe: Arc<tokio::sync::Mutex<Option<Probe>>>,
    /// How many write probes ran (what `readiness` saves is visible in tests).
    probes_written: Arc<AtomicU64>,
}

/// When the last write probe ran, and how it went.
type Probe = (Instant, Result<(), String>);

/// How long a good write probe stands for the store's readiness.
const PROBE_GOOD_FOR: Duration = Duration::from_secs(30);
/// How long a failed one does (so recovery shows soon).
const PROBE_BAD_FOR: Duration = Duration::from_secs(5);

/// What a finished upload wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

impl Storage {
    /// Open the store named by `CAMPUSCORE_STORAGE_URL` (`file://…` or `s3://bucket/prefix`).
    /// S3 credentials come from the standard `AWS_*` environment variables.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        Self::from_url_with(url, &[])
    }

    /// Like `from_url`, with explicit S3 options (`aws_access_key_id`, `aws_endpoint`, …)
    /// taking precedence over the environment.
    pub fn from_url_with(url: &str, s3_options: &[(&str, &str)]) -> anyhow::Result<Self> {
        if let Some(path) = url.strip_prefix("file://") {
            std::fs::create_dir_all(path)
                .with_context(|| format!("creating storage directory {path}"))?;
            let store = LocalFileSystem::new_with_prefix(path)
                .with_context(|| format!("opening local storage at {path}"))?
                .with_automatic_cleanup(true);
            return Ok(Self {
                store: Arc::new(store),
                local_root: Some(std::path::PathBuf::from(path)),
                description: url.to_owned(),
                probe: Arc::default(),
                probes_written: Arc::default(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("CAMPUSCORE_STORAGE_URL: s3:// URLs need a bucket name (s3://bucket/prefix)");
            }
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                builder = builder
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_endpoint(endpoint);
            }
            for (key, value) in s3_options {
                let key = key
                    .parse()
                    .with_context(|| format!("unknown S3 option {key}"))?;
                builder = builder.with_config(key, *value);
            }
            let s3 = builder
                .build()
                .context("configuring S3 storage (check the AWS_* variables)")?;
            let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
                "" => Arc::new(s3),
                p => Arc::new(PrefixStore::new(s3, p)),
            };
            return Ok(Self {
                store,
                local_root: None,
                description: url.to_owned(),
                probe: Arc::default(),
                probes_written: Arc::default(),
            });
        }
        bail!("CAMPUSCORE_STORAGE_URL must start with file:// or s3:// (got {url:?})")
    }

    /// Start a streamed upload to `key`.
    pub async fn begin_upload(&self, key: &str) -> anyhow::Result<Upload> {
        let location = Path::parse(key).with_context(|| format!("invalid object key {key:?}"))?;
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .context("starting the upload")?;
        Ok(Upload {
            key: key.to_owned(),
            writer: WriteMultipart::new(upload),
            size: 0,
            hasher: Sha256::new(),
        })
    }

    /// The object's size, or `None` when it does not exist.
    pub async fn size_of(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.store.head(&Path::parse(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).context("reading object metadata"),
        }
    }

    /// The object's bytes (for small objects and checks).
    pub async fn read_all(&self, key: &str) -> anyhow::Result<Bytes> {
        let got = self
            .store
            .get(&Path::parse(key)?)
            .await
            .context("reading object")?;
        Ok(got.bytes().await?)
    }

    /// Delete an object; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::parse(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).context("deleting object"),
        }
    }

    /// Remove what interrupted uploads to `key` left behind (local storage: staging files;
    /// on S3 an unfinished multipart upload is invisible and a bucket lifecycle rule
    /// (`AbortIncompleteMultipartUpload`) reclaims it).
    pub async fn discard_partials(&self, key: &str) -> anyhow::Result<usize> {
        let Some(root) = &self.local_root else {
            return Ok(0);
        };
        let path = root.join(Path::parse(key)?.as_ref());
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(0);
        };
        let prefix = format!("{}#", name.to_string_lossy());
        let mut removed = 0;
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
            return Ok(0); // nothing was ever written there
        };
        while let Some(entry) = entries.next_entry().await? {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Delete staging files of uploads that have not been written to for `idle` (their
    /// process died); returns how many. Local storage only.
    pub async fn sweep_partials(&self, idle: std::time::Duration) -> anyhow::Result<usize> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            let mut stack = vec![root];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(meta) = entry.metadata() else { continue };
                    if meta.is_dir() {
                        stack.push(path);
                    } else if entry.file_name().to_string_lossy().contains('#')
                        && meta.modified().ok().and_then(|m| m.elapsed().ok()) > Some(idle)
                        && std::fs::remove_file(&path).is_ok()
                    {
                        removed += 1;
                    }
                }
            }
            removed
        })
        .await
        .context("sweeping unfinished uploads")
    }

    /// Write, read back and delete a probe object (`/readyz`).
    /// Whether the store can be written, for `/readyz`: a write probe at most every 30 s
    /// (5 s after a failure), however often it is asked, so anonymous calls cannot make the
    /// app write objects at will.
    pub async fn readiness(&self) -> Result<(), String> {
        let mut last = self.probe.lock().await;
        if let Some((at, outcome)) = last.as_ref() {
            let good_for = if outcome.is_ok() {
                PROBE_GOOD_FOR
            } else {
                PROBE_BAD_FOR
            };
            if at.elapsed() < good_for {
                return outcome.clone();
            }
        }
        let outcome = self.check_writable().await.map_err(|e| format!("{e:#}"));
        self.probes_written.fetch_add(1, Ordering::Relaxed);
        *last = Some((Instant::now(), outcome.clone()));
        outcome
    }

    /// How many write probes `readiness` has made.
    pub fn probes_written(&self) -> u64 {
        self.probes_written.load(Ordering::Relaxed)
    }

    /// Writes, reads back and deletes a probe object.
    pub async fn check_writable(&self) -> anyhow::Result<()> {
        let key = format!(".readyz/{}", uuid::Uuid::new_v4());
        let path = Path::parse(&key)?;
        self.store
            .put(&path, Bytes::from_static(b"ok").into())
            .await
            .context("writing a probe object")?;
        let back = self.store.get(&path).await?.bytes().await?;
        self.store
            .delete(&path)
            .await
            .context("deleting the probe object")?;
        if back.as_ref() != b"ok" {
            bail!("storage returned different bytes than written");
        }
        Ok(())
    }
}

/// A streamed upload in progress. Dropping it without `finish` leaves nothing visible.
pub struct Upload {
    key: String,
    writer: WriteMultipart,
    size: u64,
    hasher: Sha256,
}

impl Upload {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 of the bytes written so far, as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Append a chunk, waiting while too many parts are in flight.
    pub async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        self.writer
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .context("uploading a part")?;
        self.size += chunk.len() as u64;
        self.hasher.update(&chunk);
        self.writer.put(chunk);
        Ok(())
    }

    /// Complete the upload; only now does the object appear under its key.
    pub async fn finish(self) -> anyhow::Result<StoredObject> {
        self.writer
            .finish()
            .await
            .context("completing the upload")?;
        Ok(StoredObject {
            key: self.key,
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }

    /// Give up: discard every part written.
    pub async fn abort(self) {
        if let Err(e) = self.writer.abort().await {
            tracing::warn!(storage.key = %self.key, error = %e, "aborting an upload failed");
        }
    }
}

/// The object key of a file in a knowledge folder, the same for uploads and imports:
/// `knowledge-folders/{folder_id}/{file_uuid}/{safe file name}`.
pub fn source_file_key(folder_id: i64, file_uuid: &str, file_name: &str) -> String {
    format!(
        "knowledge-folders/{folder_id}/{file_uuid}/{}",
        safe_name(file_name)
    )
}

/// A file name reduced to characters that are safe in every object store and file system.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('.');
    let mut out: String = if trimmed.is_empty() {
        "file".into()
    } else {
        trimmed.into()
    };
    out.truncate(120);
    // The cut may leave a final dot, which Windows file systems drop.
    out.truncate(out.trim_end_matches('.').len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_pattern_and_names_are_made_safe() {
        assert_eq!(
            source_file_key(7, "u-1", "Report 2026.pdf"),
            "knowledge-folders/7/u-1/Report_2026.pdf"
        );
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\x\\..."), "file");
        assert_eq!(safe_name("naïve.txt"), "na_ve.txt");
    }

    #[tokio::test]
    async fn a_streamed_upload_is_invisible_until_finished_and_gone_when_aborted()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::from_url(&format!("file://{}", dir.path().display()))?;
        let mut up = storage.begin_upload("a/b.bin").await?;
        up.write(Bytes::from(vec![1u8; 3 * 1024 * 1024])).await?;
        assert_eq!(storage.size_of("a/b.bin").await?, None);
        let done = up.finish().await?;
        assert_eq!(done.size, 3 * 1024 * 1024);
        assert_eq!(storage.size_of("a/b.bin").await?, Some(3 * 1024 * 1024));

        let mut up = storage.begin_upload("a/c.bin").await?;
        up.write(Bytes::from_static(b"partial")).await?;
        up.abort().await;
        assert_eq!(storage.size_of("a/c.bin").await?, None);
        storage.check_writable().await?;
        Ok(())
    }

    #[tokio::test]
    async fn what_a_killed_upload_leaves_behind_is_cleaned_up() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let storage = Storage::from_url(&format!("file://{}", dir.path().display()))?;
        let mut up = storage.begin_upload("k/f/data.bin").await?;
        up.write(Bytes::from(vec![7u8; 6 * 1024 * 1024])).await?;
        std::mem::forget(up); // as if the process died: no abort, no cleanup
        let staged = |d: &std::path::Path| {
            std::fs::read_dir(d.join("k/f"))
                .map(|e| e.count())
                .unwrap_or(0)
        };
        assert_eq!(staged(dir.path()), 1, "a staging file exists");
        assert_eq!(storage.size_of("k/f/data.bin").await?, None);
        assert_eq!(
            storage
                .sweep_partials(std::time::Duration::from_secs(3600))
                .await?,
            0,
            "recent: kept"
        );
        assert_eq!(storage.discard_partials("k/f/data.bin").await?, 1);
        assert_eq!(staged(dir.path()), 0);
        assert_eq!(storage.discard_partials("never/written.bin").await?, 0);
        Ok(())
    }
}

#[cfg(test)]
#[path = "storage_properties.rs"]
mod properties;
