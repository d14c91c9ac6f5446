//! `keys rotate`: interrupted, resumed, nothing lost or double-encrypted.

use crate::helpers::spawn_app;
use campuscore::models::entities::{connection, connector, connector_config};
use campuscore::services::secrets::Keyring;
use campuscore::services::{connector_config as config, credentials, rotation};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

#[tokio::test]
async fn rotation_can_be_interrupted_and_resumed_without_losing_a_value() {
    let app = spawn_app().await;
    let old = app.state.keyring.clone();
    let new_key = Keyring::generate_key();
    let old_key = old.primary_key_material().to_owned();
    let rotated_ring = Keyring::from_keys(&[new_key.clone(), old_key]).expect("keyring");

    let row = app.echo_connector().await;
    let plugin = app.state.registry.get("test-echo").expect("plugin").clone();
    for i in 0..5 {
        config::set(
            &app.state.db,
            &old,
            &row,
            plugin.as_ref(),
            &format!("SECRET_{i}"),
            &format!("secret-value-{i}"),
            true,
        )
        .await
        .expect("set");
    }
    config::set(
        &app.state.db,
        &old,
        &row,
        plugin.as_ref(),
        "API_BASE_URL",
        "https://plain.example",
        false,
    )
    .await
    .expect("set");
    let user = app
        .create_user("tia@campus.edu", "a long enough password", false)
        .await;
    for i in 0..4 {
        credentials::insert(
            &app.state.db,
            &old,
            credentials::NewConnection {
                user_id: user.id,
                connector_id: row.id,
                data: json!({ "api_key": format!("key-{i}") }),
                service_identity: None,
                scopes: None,
                expires_at: None,
            },
        )
        .await
        .expect("connection");
    }

    let config_version = || async {
        connector::Entity::find_by_id(row.id)
            .one(&app.state.db)
            .await
            .expect("query")
            .expect("the catalog row")
            .config_version
    };
    let version_before = config_version().await;
    // Killed after three rows.
    let first = rotation::rotate_all(&app.state.db, &rotated_ring, Some(3))
        .await
        .expect("rotate");
    assert!(first.interrupted);
    assert_eq!(first.connector_config.rotated, 3);
    assert_eq!(
        config_version().await,
        version_before + 3,
        "each re-encrypted value moves the connector's config version (cached settings)"
    );

    let second = rotation::rotate_all(&app.state.db, &rotated_ring, None)
        .await
        .expect("rotate");
    assert!(!second.interrupted);
    assert_eq!(second.connector_config.already_current, 3);
    assert_eq!(second.connector_config.rotated, 2);
    assert_eq!(second.connection.rotated, 4);

    let third = rotation::rotate_all(&app.state.db, &rotated_ring, None)
        .await
        .expect("rotate");
    assert_eq!(
        (third.connector_config.rotated, third.connection.rotated),
        (0, 0)
    );
    assert_eq!(
        (
            third.connector_config.already_current,
            third.connection.already_current
        ),
        (5, 4)
    );

    // Everything now opens with the new key alone, with the original plaintext.
    let only_new = Keyring::from_keys(&[new_key]).expect("keyring");
    let configs = connector_config::Entity::find()
        .filter(connector_config::Column::IsSecret.eq(true))
        .all(&app.state.db)
        .await
        .expect("q");
    let mut values: Vec<String> = configs
        .iter()
        .map(|c| {
            only_new
                .decrypt_str(&c.value)
                .expect("decrypts with the new key")
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        (0..5)
            .map(|i| format!("secret-value-{i}"))
            .collect::<Vec<_>>()
    );
    let plain = connector_config::Entity::find()
        .filter(connector_config::Column::Key.eq("API_BASE_URL"))
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        plain.value, "https://plain.example",
        "plain values are untouched"
    );
    for (i, c) in connection::Entity::find()
        .all(&app.state.db)
        .await
        .expect("q")
        .iter()
        .enumerate()
    {
        let data = credentials::open(&only_new, c).expect("opens with the new key");
        assert_eq!(data, json!({ "api_key": format!("key-{i}") }));
    }
    let report = format!("{second}");
    assert!(report.contains("connection: scanned 4, rotated 4"));
}

#[tokio::test]
async fn a_secret_config_value_is_stored_encrypted_and_only_ever_shown_masked() {
    let app = spawn_app().await;
    let row = app.echo_connector().await;
    let plugin = app.state.registry.get("test-echo").expect("plugin").clone();
    let shown = config::set(
        &app.state.db,
        &app.state.keyring,
        &row,
        plugin.as_ref(),
        "CLIENT_SECRET",
        "s3cr3t-value-1a2b",
        true,
    )
    .await
    .expect("set");
    assert_eq!(shown.shown, "••••1a2b");
    let stored = connector_config::Entity::find()
        .filter(connector_config::Column::Key.eq("CLIENT_SECRET"))
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    assert!(stored.is_secret && !stored.value.contains("s3cr3t"));
    let listed = config::list(&app.state.db, &app.state.keyring, row.id)
        .await
        .expect("list");
    assert_eq!(
        listed
            .iter()
            .find(|e| e.key == "CLIENT_SECRET")
            .map(|e| e.shown.as_str()),
        Some("••••1a2b")
    );
    let bad = config::set(
        &app.state.db,
        &app.state.keyring,
        &row,
        plugin.as_ref(),
        "not a key",
        "x",
        false,
    )
    .await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn rotation_reaches_sign_ins_in_progress_and_queued_revocations() {
    use campuscore::models::entities::{oauth_state, queue_message};
    use campuscore::models::oauth_states::{self, NewOAuthState};
    use campuscore::services::disconnect::RevokeToken;
    use campuscore::services::queue;
    // No worker: the queued revocation must still be waiting when the keys rotate.
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        run_worker: Some(false),
        ..Default::default()
    })
    .await;
    let old = app.state.keyring.clone();
    let new_key = Keyring::generate_key();
    let rotated_ring =
        Keyring::from_keys(&[new_key.clone(), old.primary_key_material().to_owned()])
            .expect("keyring");
    let user = app
        .create_user("ada@campus.edu", "a long enough password", false)
        .await;
    let now = chrono::Utc::now();
    oauth_states::insert(
        &app.state.db,
        NewOAuthState {
            state_hash: "hash-of-a-state".into(),
            user_id: user.id,
            connector_slug: "test-oauth".into(),
            session_binding: None,
            pkce_verifier: old.encrypt_str("the-pkce-verifier"),
            redirect_uri: "http://127.0.0.1/cb".into(),
            reconnect_connection_id: None,
            expires_at: now + chrono::Duration::minutes(10),
            created_at: now,
        },
    )
    .await
    .expect("flow");
    let revoke = RevokeToken {
        connector_id: app.connector("test-oauth").await.id,
        connection_id: 41,
        token: old.encrypt_str("the-refresh-token"),
        token_type_hint: "refresh_token".into(),
    };
    queue::enqueue(&app.state.db, &revoke)
        .await
        .expect("queued");

    let report = rotation::rotate_all(&app.state.db, &rotated_ring, None)
        .await
        .expect("rotate");
    assert_eq!(
        (report.oauth_state.rotated, report.queue_message.rotated),
        (1, 1),
        "{report}"
    );

    let only_new = Keyring::from_keys(&[new_key]).expect("keyring");
    let flow = oauth_state::Entity::find()
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        only_new.decrypt_str(&flow.pkce_verifier).expect("new key"),
        "the-pkce-verifier"
    );
    let message = queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("oauth.revoke_token"))
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    let payload: RevokeToken = serde_json::from_str(&message.payload).expect("still a RevokeToken");
    assert_eq!(
        only_new.decrypt_str(&payload.token).expect("new key"),
        "the-refresh-token"
    );
    assert_eq!(payload.connection_id, 41);
    let again = rotation::rotate_all(&app.state.db, &rotated_ring, None)
        .await
        .expect("rotate");
    assert_eq!(
        (
            again.oauth_state.already_current,
            again.queue_message.already_current
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn rotating_the_fernet_keys_signs_nobody_out() {
    let first = spawn_app().await;
    first.logged_in_user("ada@campus.edu").await;
    let cookie = first.session_cookie().await;
    let old_key = first.state.keyring.primary_key_material().to_owned();
    let new_key = Keyring::generate_key();
    let ring = Keyring::from_keys(&[new_key.clone(), old_key.clone()]).expect("keyring");
    let report = rotation::rotate_all(&first.state.db, &ring, None)
        .await
        .expect("rotate");
    assert_eq!(
        report.app_secret.rotated, 1,
        "the session key is re-encrypted too"
    );

    // The next instance starts with the new key first (and then without the old one): the
    // same browser session still works there.
    for keys in [format!("{new_key},{old_key}"), new_key.clone()] {
        let next = crate::helpers::spawn_app_with(crate::helpers::Options {
            env: vec![
                ("DATABASE_URL", first.state.settings.database_url.clone()),
                ("FERNET_KEYS", keys),
            ],
            ..Default::default()
        })
        .await;
        let res = crate::helpers::client()
            .get(next.url("/settings"))
            .header("Cookie", &cookie)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "still signed in after the rotation");
        assert!(res.text().await.expect("page").contains("ada@campus.edu"));
    }
}
