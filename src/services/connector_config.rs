//! Admin-managed connector configuration (`connector_config`). Keys a connector declares as
//! secret (and any key set with `--secret`) are stored as Fernet tokens and only ever shown
//! masked. `settings_for` decrypts them into the `ConnectorSettings` a connector runs with.

use super::secrets::{Keyring, mask};
use crate::error::{AppError, AppResult};
use crate::models::connector_configs;
use crate::models::entities::connector;
use campuscore_connectors::{Connector, ConnectorSettings};
use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// One configured key as it may be shown to an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownEntry {
    pub key: String,
    /// The value, or its mask for secrets.
    pub shown: String,
    pub is_secret: bool,
}

/// Whether `key` is a well-formed config key (`UPPER_SNAKE_CASE`, at most 128 characters).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Why `value` may not be stored under `key`, for a URL key (`…_URL`): it must be an
/// absolute `https` URL, or plain `http` to this machine only — a connector sends tokens
/// and credentials to it.
pub fn url_value_problem(key: &str, value: &str) -> Option<String> {
    if !key.ends_with("_URL") {
        return None;
    }
    match url::Url::parse(value.trim()) {
        Ok(u) if campuscore_connectors::is_secure_upstream(&u) => None,
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(
            "Use https:// (plain http only to this machine: localhost or a loopback address)."
                .into(),
        ),
        _ => Some("Enter an absolute https:// URL.".into()),
    }
}

/// Set `key` for a connector. Declared-secret keys are always encrypted; URL keys must be
/// https ([`url_value_problem`]).
pub async fn set(
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector: &connector::Model,
    plugin: &dyn Connector,
    key: &str,
    value: &str,
    secret: bool,
) -> AppResult<ShownEntry> {
    if !valid_key(key) {
        let mut e = BTreeMap::new();
        e.insert(
            "key".into(),
            "Use UPPER_SNAKE_CASE letters, digits and underscores.".into(),
        );
        return Err(AppError::Invalid(e));
    }
    if let Some(problem) = url_value_problem(key, value) {
        return Err(AppError::Invalid(BTreeMap::from([(
            "value".to_owned(),
            format!("{key}: {problem}"),
        )])));
    }
    let declared_secret = plugin
        .spec()
        .config_keys
        .iter()
        .any(|k| k.key == key && k.secret);
    let is_secret = secret || declared_secret;
    let stored = if is_secret {
        keyring.encrypt_str(value)
    } else {
        value.to_owned()
    };
    connector_configs::upsert(db, connector.id, key, stored, is_secret).await?;
    tracing::info!(connector.slug = %connector.slug, config.key = key, config.secret = is_secret, "connector config set");
    Ok(ShownEntry {
        key: key.to_owned(),
        shown: shown_value(value, is_secret),
        is_secret,
    })
}

fn shown_value(plain: &str, is_secret: bool) -> String {
    if is_secret {
        mask(plain)
    } else {
        plain.to_owned()
    }
}

/// Every configured key of a connector, secrets masked.
pub async fn list(
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector_id: i64,
) -> AppResult<Vec<ShownEntry>> {
    let rows = connector_configs::for_connector_by_key(db, connector_id).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let shown = if r.is_secret {
                keyring
                    .decrypt_str(&r.value)
                    .map(|v| mask(&v))
                    .unwrap_or_else(|_| "(undecryptable: wrong key?)".into())
            } else {
                r.value.clone()
            };
            ShownEntry {
                key: r.key,
                shown,
                is_secret: r.is_secret,
            }
        })
        .collect())
}

/// Decrypted settings by connector, each under the `config_version` it was read at. A
/// request reads the connector row (with its version) anyway; when the version matches,
/// the config is neither read nor decrypted again. Every config change moves the version
/// in its own transaction, so any process sees a change on its next request.
///
/// Beside the settings, one value built from them, once per version: the OAuth client
/// (endpoints parsed and checked), which every call of an OAuth connector needs for a
/// possible refresh. Its type is the caller's, so this module needs no OAuth.
#[derive(Default)]
pub struct SettingsCache {
    by_connector: Mutex<HashMap<i64, Cached>>,
}

struct Cached {
    version: i64,
    settings: ConnectorSettings,
    derived: Option<Arc<dyn Any + Send + Sync>>,
}

impl SettingsCache {
    fn get(&self, connector: &connector::Model) -> Option<ConnectorSettings> {
        let cached = self.lock();
        cached
            .get(&connector.id)
            .filter(|c| c.version == connector.config_version)
            .map(|c| c.settings.clone())
    }

    fn put(&self, connector: &connector::Model, settings: &ConnectorSettings) {
        self.lock().insert(
            connector.id,
            Cached {
                version: connector.config_version,
                settings: settings.clone(),
                derived: None,
            },
        );
    }

    /// What `build` makes of `connector`'s `settings` (its settings at the row's version,
    /// as [`cached_settings`] gave them): from the cache, or built and kept with those
    /// settings. What cannot be built is not kept, so the error is the one the current
    /// settings give.
    pub fn derived<T: Any + Send + Sync>(
        &self,
        connector: &connector::Model,
        settings: &ConnectorSettings,
        build: impl FnOnce(&ConnectorSettings) -> AppResult<T>,
    ) -> AppResult<Arc<T>> {
        if let Some(kept) = self
            .lock()
            .get(&connector.id)
            .filter(|c| c.version == connector.config_version)
            .and_then(|c| c.derived.clone())
            .and_then(|kept| kept.downcast::<T>().ok())
        {
            return Ok(kept);
        }
        let built = Arc::new(build(settings)?);
        if let Some(cached) = self
            .lock()
            .get_mut(&connector.id)
            .filter(|c| c.version == connector.config_version)
        {
            cached.derived = Some(built.clone());
        }
        Ok(built)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Cached>> {
        self.by_connector
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// [`settings_for`] `connector`, from `cache` when it holds them at the row's
/// `config_version`. The config read after the row is at least as new as that version, so
/// what is cached under it is never older than what the version stands for.
pub async fn cached_settings(
    cache: &SettingsCache,
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector: &connector::Model,
    plugin: &dyn Connector,
) -> AppResult<ConnectorSettings> {
    if let Some(settings) = cache.get(connector) {
        return Ok(settings);
    }
    let settings = settings_for(db, keyring, connector.id, plugin).await?;
    cache.put(connector, &settings);
    Ok(settings)
}

/// The settings a connector runs with: stored values (secrets decrypted) over its defaults.
pub async fn settings_for(
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector_id: i64,
    plugin: &dyn Connector,
) -> AppResult<ConnectorSettings> {
    let rows = connector_configs::for_connector(db, connector_id).await?;
    let mut values = HashMap::new();
    for r in rows {
        let value = if r.is_secret {
            keyring.decrypt_str(&r.value).map_err(|_| {
                anyhow::anyhow!(
                    "config key {} of connector {} cannot be decrypted with the configured keys",
                    r.key,
                    connector_id
                )
            })?
        } else {
            r.value
        };
        values.insert(r.key, value);
    }
    Ok(ConnectorSettings::new(plugin.spec(), values))
}

/// One stored key with its plain value, for the admin pages to compare and fingerprint.
/// `plain` of a secret must never be rendered or logged: show [`mask`] of it, audit
/// `secrets::fingerprint` of it.
#[derive(Clone)]
pub struct StoredEntry {
    pub key: String,
    /// The value (secrets decrypted); `None` when a secret cannot be decrypted with the
    /// configured keys.
    pub plain: Option<String>,
    pub is_secret: bool,
    pub updated_at: chrono::DateTime<Utc>,
}

impl std::fmt::Debug for StoredEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredEntry")
            .field("key", &self.key)
            .field(
                "plain",
                &if self.is_secret {
                    self.plain.as_deref().map(|_| "[REDACTED]")
                } else {
                    self.plain.as_deref()
                },
            )
            .field("is_secret", &self.is_secret)
            .finish()
    }
}

impl StoredEntry {
    /// What an admin may see: the value, or the mask of a secret.
    pub fn shown(&self) -> String {
        match (&self.plain, self.is_secret) {
            (Some(p), true) => mask(p),
            (Some(p), false) => p.clone(),
            (None, _) => "(undecryptable: wrong key?)".into(),
        }
    }
}

/// Every stored key of a connector with its plain value, by key.
pub async fn stored(
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector_id: i64,
) -> AppResult<Vec<StoredEntry>> {
    let rows = connector_configs::for_connector_by_key(db, connector_id).await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredEntry {
            plain: if r.is_secret {
                keyring.decrypt_str(&r.value).ok()
            } else {
                Some(r.value)
            },
            key: r.key,
            is_secret: r.is_secret,
            updated_at: r.updated_at,
        })
        .collect())
}

/// Remove `key` from a connector's config (it falls back to its default). Returns whether a
/// value was stored.
pub async fn delete(
    db: &DatabaseConnection,
    connector: &connector::Model,
    key: &str,
) -> AppResult<bool> {
    let deleted = connector_configs::delete(db, connector.id, key).await?;
    if deleted {
        tracing::info!(connector.slug = %connector.slug, config.key = key, "connector config removed");
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::oauth::OAuthClient;
    use std::cell::Cell;

    fn drive_row(config_version: i64) -> connector::Model {
        let now = Utc::now();
        connector::Model {
            id: 7,
            slug: "google-drive".into(),
            name: "Google Drive".into(),
            kind: "oauth2".into(),
            scoping: "per_user".into(),
            icon: "google-drive".into(),
            description: String::new(),
            is_enabled: true,
            created_at: now,
            updated_at: now,
            agent_writes: false,
            config_version,
        }
    }

    /// The `client_id` `client` sends people to sign in with.
    fn client_id(client: &OAuthClient) -> String {
        let verifier = oauth2::PkceCodeVerifier::new("v".repeat(43));
        let url = client.authorize_url("state", &verifier).expect("URL");
        url.query_pairs()
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.into_owned())
            .expect("client_id")
    }

    #[test]
    fn the_oauth_client_is_built_once_per_config_version_and_never_kept_when_it_fails() {
        let registry = campuscore_connectors::Registry::from_inventory().expect("registry");
        let spec = registry.get("google-drive").expect("Drive").spec();
        let settings = |client_id: &str| {
            ConnectorSettings::new(
                spec,
                HashMap::from([
                    ("CLIENT_ID".to_owned(), client_id.to_owned()),
                    ("CLIENT_SECRET".to_owned(), "shh".to_owned()),
                ]),
            )
        };
        let builds = Cell::new(0);
        let build = |s: &ConnectorSettings| {
            builds.set(builds.get() + 1);
            OAuthClient::from_settings(spec, s, "https://campus.test/cb".into())
        };
        let cache = SettingsCache::default();
        let (v1, v2) = (drive_row(1), drive_row(2));

        // Not kept before its settings are: nothing to keep it with.
        let first = cache.derived(&v1, &settings("one"), build).expect("client");
        cache.put(&v1, &settings("one"));
        let kept = cache.derived(&v1, &settings("one"), build).expect("client");
        let again = cache.derived(&v1, &settings("one"), build).expect("client");
        assert_eq!(builds.get(), 2);
        assert!(Arc::ptr_eq(&kept, &again));
        assert!(!Arc::ptr_eq(&first, &kept));

        // A new version is built anew from its own settings.
        assert!(cache.get(&v2).is_none());
        cache.put(&v2, &settings("two"));
        let newer = cache.derived(&v2, &settings("two"), build).expect("client");
        assert_eq!(builds.get(), 3);
        assert_eq!(client_id(&newer), "two");
        assert_eq!(client_id(&kept), "one");

        // Settings that give no client give the error each time, and nothing is kept.
        let v3 = drive_row(3);
        cache.put(&v3, &ConnectorSettings::new(spec, HashMap::new()));
        for _ in 0..2 {
            let unset = ConnectorSettings::new(spec, HashMap::new());
            assert!(cache.derived(&v3, &unset, build).is_err());
        }
        assert_eq!(builds.get(), 5);
    }
}
