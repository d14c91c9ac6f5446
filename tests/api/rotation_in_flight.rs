//! `keys rotate` against a live app (issue 16.6): credentials stored unbound — bare, as the
//! Django system wrote them, or sealed before the connector was part of the binding — come
//! out sealed to their owner, connection and connector; and a rotation that runs while
//! browse requests, token refreshes and imports are in flight loses nothing.

use crate::cloud_import::{browse_path, create_folder, hx_get, import, picks, settled_files};
use crate::helpers::{Options, TestApp, spawn_app_with};
use crate::oauth_flow::{bearer_for, connect, provider, whoami};
use campuscore::models::entities::connection;
use campuscore::services::credentials::{self, Reseal};
use campuscore::services::rotation::{self, Report};
use campuscore::services::secrets::Keyring;
use futures_util::future::join_all;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use std::time::Duration;

/// An app whose keys were just rotated in the configuration (`FERNET_KEYS=new,old`), and a
/// keyring that knows only the old key, to write what the app stored before.
async fn app_after_a_key_change(env: &[(&'static str, &str)]) -> (TestApp, Keyring, Keyring) {
    let (old, new) = (Keyring::generate_key(), Keyring::generate_key());
    let mut vars: Vec<(&'static str, String)> =
        env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    vars.push(("FERNET_KEYS", format!("{new},{old}")));
    let app = spawn_app_with(Options {
        env: vars,
        ..Default::default()
    })
    .await;
    let old_ring = Keyring::from_keys(&[old]).expect("old keyring");
    let new_ring = Keyring::from_keys(&[new]).expect("new keyring");
    (app, old_ring, new_ring)
}

async fn row(app: &TestApp, id: i64) -> connection::Model {
    connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("the connection")
}

async fn store_token(app: &TestApp, id: i64, token: String) {
    let mut active = row(app, id).await.into_active_model();
    active.credentials = Set(token);
    active.update(&app.state.db).await.expect("update");
}

/// The decrypted envelope of a row, read with `ring` alone.
fn envelope(ring: &Keyring, row: &connection::Model) -> Value {
    serde_json::from_str(&ring.decrypt_str(&row.credentials).expect("opens")).expect("JSON")
}

/// Rotates until a run finds nothing to do; returns the runs' reports.
async fn rotate_to_the_end(app: &TestApp) -> Vec<Report> {
    let mut reports = Vec::new();
    for _ in 0..10 {
        let report = rotation::rotate_all(&app.state.db, &app.state.keyring, None)
            .await
            .expect("rotation");
        let done = report.connection.rotated + report.connection.raced == 0
            && report.connector_config.rotated + report.connector_config.raced == 0
            && report.oauth_state.rotated + report.oauth_state.raced == 0
            && report.queue_message.rotated + report.queue_message.raced == 0
            && report.app_secret.rotated + report.app_secret.raced == 0;
        reports.push(report);
        if done {
            return reports;
        }
    }
    panic!("rotation did not settle: {reports:#?}");
}

#[tokio::test]
async fn a_copied_legacy_credential_blob_is_sealed_to_its_row_by_rotation() {
    let (app, old, new) = app_after_a_key_change(&[]).await;
    let user = app
        .create_user("lee@campus.edu", "a long enough password", false)
        .await;
    let data = |n: u32| json!({ "api_key": format!("valid-legacy-{n}") });
    let echo = |n: u32| app.insert_connection("test-echo", user.id, data(n), "legacy");
    let (bare_old, bare_new, unbound_connector) = (echo(1).await, echo(2).await, echo(3).await);
    // As the Django system stored them: a bare object, under the old key and under the
    // current one (rotation alone would leave the second as it is).
    store_token(&app, bare_old.id, old.encrypt_str(&data(1).to_string())).await;
    store_token(&app, bare_new.id, new.encrypt_str(&data(2).to_string())).await;
    // An envelope from before the connector was bound.
    let early = json!({"campuscore_credentials": 1, "owner": user.id,
                       "connection": unbound_connector.id, "data": data(3)});
    store_token(
        &app,
        unbound_connector.id,
        old.encrypt_str(&early.to_string()),
    )
    .await;

    let reports = rotate_to_the_end(&app).await;
    assert_eq!(reports[0].connection_sealed, 3, "{:#?}", reports[0]);
    assert!(reports.iter().skip(1).all(|r| r.connection_sealed == 0));
    let connector_id = app.echo_connector().await.id;
    for (id, n) in [
        (bare_old.id, 1),
        (bare_new.id, 2),
        (unbound_connector.id, 3),
    ] {
        let stored = row(&app, id).await;
        let sealed = envelope(&new, &stored);
        assert_eq!(
            (
                &sealed["owner"],
                &sealed["connection"],
                &sealed["connector"]
            ),
            (&json!(user.id), &json!(id), &json!(connector_id)),
            "row {id}: {sealed}"
        );
        assert_eq!(sealed["data"], data(n), "nothing lost");
        assert_eq!(credentials::reseal(&new, &stored), Reseal::Current);
        assert_eq!(
            credentials::open(&new, &stored).expect("opens"),
            data(n),
            "readable with the new key alone"
        );
    }

    // Sealed, the blob is worthless on any other row: copied onto another connection of the
    // same user it is refused instead of being used there.
    let other = echo(4).await;
    store_token(&app, other.id, row(&app, bare_old.id).await.credentials).await;
    assert!(credentials::open(&new, &row(&app, other.id).await).is_err());
}

#[tokio::test]
async fn rotating_keys_while_browsing_refreshing_and_importing_loses_nothing() {
    let (app, old, new) = app_after_a_key_change(&[
        ("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", "100000"),
        ("CAMPUSCORE_CLOUD_IMPORTS_PER_HOUR", "100000"),
        ("CAMPUSCORE_API_ACTIONS_PER_MINUTE", "100000"),
    ])
    .await;
    // Access tokens that live 2 s: calls keep refreshing them at the provider.
    let Some(server) = provider(&app, 2).await else {
        return;
    };
    let user = app.logged_in_user("ivy@campus.edu").await;
    let oauth = connect(&app, &server, "alice").await;
    let bearer = bearer_for(&app, user.id).await;
    let folder = create_folder(&app, "Rotation").await;

    // Everything stored before the key change is under the old key: many connections, so
    // the rotation takes a while; some bare, as legacy rows are.
    let mut echo_ids = Vec::new();
    for n in 0..120 {
        let data = json!({ "api_key": format!("valid-key-{n}") });
        let conn = app
            .insert_connection("test-echo", user.id, data.clone(), "echo")
            .await;
        let token = if n % 4 == 0 {
            old.encrypt_str(&data.to_string())
        } else {
            credentials::seal(&old, &conn, &data)
        };
        store_token(&app, conn.id, token).await;
        echo_ids.push(conn.id);
    }
    let oauth_row = row(&app, oauth.id).await;
    let oauth_data = credentials::open(&app.state.keyring, &oauth_row).expect("opens");
    store_token(
        &app,
        oauth.id,
        credentials::seal(&old, &oauth_row, &oauth_data),
    )
    .await;
    let first_listing = hx_get(&app, &browse_path(folder, echo_ids[0]))
        .await
        .text()
        .await
        .expect("listing");
    let pick = picks(&first_listing)
        .into_iter()
        .find(|(_, value)| !value.is_empty())
        .expect("a file to import")
        .1;

    let app = &app;
    let rotate = async {
        let mut reports = Vec::new();
        for _ in 0..4 {
            reports.push(
                rotation::rotate_all(&app.state.db, &app.state.keyring, None)
                    .await
                    .expect("rotation"),
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        reports
    };
    let browse = join_all(echo_ids.iter().step_by(3).map(|&id| async move {
        let res = hx_get(app, &browse_path(folder, id)).await;
        (
            id,
            res.status().as_u16(),
            res.text().await.unwrap_or_default(),
        )
    }));
    let refresh = async {
        let mut answers = Vec::new();
        for _ in 0..12 {
            answers.push(whoami(&crate::helpers::client(), &app.address, &bearer, oauth.id).await);
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        answers
    };
    let imports = join_all(echo_ids.iter().step_by(10).map(|&id| {
        let pick = pick.clone();
        async move { import(app, folder, id, &[pick]).await.status().as_u16() }
    }));
    let (reports, browsed, answers, queued) = tokio::join!(rotate, browse, refresh, imports);

    assert!(
        reports.iter().map(|r| r.connection.rotated).sum::<u64>() >= 120,
        "the rotation ran during the traffic: {reports:#?}"
    );
    for (id, status, html) in &browsed {
        assert_eq!(*status, 200, "browse of {id}: {html}");
        assert!(!picks(html).is_empty(), "browse of {id} lists files");
    }
    for (status, body) in &answers {
        assert_eq!(*status, 200, "whoami during rotation: {body}");
    }
    assert!(queued.iter().all(|s| *s == 202), "{queued:?}");
    let files = settled_files(app, folder, queued.len(), Duration::from_secs(90)).await;
    assert!(
        files.iter().all(|f| f.status == "ready"),
        "every import ends ready: {files:?}"
    );

    // Finish the rotation: then every row opens with the new key alone, bound to its row.
    rotate_to_the_end(app).await;
    for id in echo_ids.iter().copied().chain([oauth.id]) {
        let stored = row(app, id).await;
        assert_eq!(
            credentials::reseal(&new, &stored),
            Reseal::Current,
            "row {id} is sealed under the new key"
        );
    }
    for (n, id) in echo_ids.iter().enumerate() {
        let stored = row(app, *id).await;
        assert_eq!(
            credentials::open(&new, &stored).expect("opens")["api_key"],
            format!("valid-key-{n}"),
            "row {id} kept its credentials"
        );
    }
    // The refreshed tokens were kept, not overwritten by a rotation of an older copy.
    let (status, body) = whoami(&crate::helpers::client(), &app.address, &bearer, oauth.id).await;
    assert_eq!(status, 200, "{body}");
}
