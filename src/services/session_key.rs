//! The key that signs and encrypts session cookies. Every instance must use the same one,
//! and it must outlive a Fernet key rotation (a new cookie key signs everyone out): an
//! operator may set `CAMPUSCORE_SESSION_KEY`; otherwise the first instance to start makes a
//! random one and stores it in `app_secret`, encrypted like every other secret (so
//! `keys rotate` re-encrypts it and its value never changes).

use super::secrets::Keyring;
use crate::crypto::random_token;
use crate::models::app_secrets;
use anyhow::Context;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha512};

/// The row that holds the generated key.
pub const NAME: &str = "session_cookie_key";
/// Bytes of entropy in a generated key.
const KEY_BYTES: usize = 64;

/// The 64 bytes session cookies are signed and encrypted with.
pub async fn material(
    db: &DatabaseConnection,
    keyring: &Keyring,
    configured: Option<&str>,
) -> anyhow::Result<[u8; 64]> {
    let secret = match configured {
        Some(secret) => secret.to_owned(),
        None => stored(db, keyring).await?,
    };
    Ok(Sha512::digest(format!("campuscore session cookie v2:{secret}")).into())
}

async fn stored(db: &DatabaseConnection, keyring: &Keyring) -> anyhow::Result<String> {
    if app_secrets::find(db, NAME).await?.is_none() {
        let fresh = keyring.encrypt_str(&random_token(KEY_BYTES));
        // Two instances starting together: the first insert stands, both read it back.
        app_secrets::insert_if_absent(db, NAME, fresh).await?;
    }
    let row = app_secrets::find(db, NAME)
        .await?
        .context("the session key row vanished")?;
    keyring
        .decrypt_str(&row.value)
        .context("the stored session key cannot be decrypted with FERNET_KEYS")
}
