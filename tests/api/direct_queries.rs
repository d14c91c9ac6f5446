//! The statements every browse runs as fixed SQL (`models::direct`: the session with its
//! user, the connection with its connector and folder, the audit insert) read and write
//! exactly what SeaORM reads and writes for the same rows, NULLs and all, and scope by the
//! user as before — the reads both through sqlx and, on an SQLite file, on the calling thread
//! (`models::local_reads`). On SQLite, or PostgreSQL with `CAMPUSCORE_TEST_DB=postgres`.

use crate::helpers::{folder_name, spawn_app};
use campuscore::models::connector_audit_logs::{self, NewAuditLog};
use campuscore::models::entities::{
    connection, connector, connector_audit_log, knowledge_folder, session, user,
};
use campuscore::models::local_reads::Reads;
use campuscore::models::{Channel, ConnectionStatus, connections, folders, sessions};
use chrono::{Duration, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::json;

/// The two ways the reads run: on the calling thread where the app has that (an SQLite
/// file), and through sqlx.
fn both_paths(app: &crate::helpers::TestApp) -> [(&'static str, Reads); 2] {
    let sqlite = app.state.db.get_database_backend() == DbBackend::Sqlite;
    assert_eq!(
        app.state.reads.enabled(),
        sqlite,
        "an SQLite file has local reads, PostgreSQL none"
    );
    [
        ("local", app.state.reads.clone()),
        ("sqlx", Reads::default()),
    ]
}

#[tokio::test]
async fn a_live_session_reads_with_its_user_as_seaorm_reads_them() {
    let app = spawn_app().await;
    let db = &app.state.db;
    // One user who has logged in (every column set), one who never has (a NULL).
    let ada = app.logged_in_user("ada@example.edu").await;
    let bob = app
        .create_user("bob@example.edu", "a long enough password", true)
        .await;
    let in_an_hour = Utc::now() + Duration::hours(1);
    for (key, user_id, expires_at) in [
        ("ada", Some(ada.id), in_an_hour),
        ("bob", Some(bob.id), in_an_hour),
        ("nobody", None, in_an_hour),
        ("expired", Some(ada.id), Utc::now() - Duration::seconds(1)),
    ] {
        sessions::insert(
            db,
            sessions::NewSession {
                key_hash: key.to_owned(),
                user_id,
                state: format!(r#"{{"k":"{key}"}}"#),
                expires_at,
            },
        )
        .await
        .expect("insert session");
    }

    for (path, reads) in both_paths(&app) {
        read_sessions(db, &reads, path, ada.id, bob.id).await;
    }
    if app.state.reads.enabled() {
        let (answered, declined) = app.state.reads.counts();
        assert!(
            answered >= 5,
            "the reads ran on the calling thread ({answered})"
        );
        assert_eq!(declined, 0, "none was left to sqlx");
    }
    let ada_now = user::Entity::find_by_id(ada.id)
        .one(db)
        .await
        .expect("query")
        .expect("ada");
    assert!(
        ada_now.last_login_at.is_some(),
        "ada's row has every column set"
    );
    assert!(bob.last_login_at.is_none(), "bob's has a NULL");
}

async fn read_sessions(
    db: &sea_orm::DatabaseConnection,
    reads: &Reads,
    path: &str,
    ada: i64,
    bob: i64,
) {
    for (key, user_id) in [("ada", ada), ("bob", bob)] {
        let (found, with_user) = sessions::find_live_with_user(db, reads, key)
            .await
            .expect("query")
            .expect("a live session");
        let stored = session::Entity::find_by_id(found.id)
            .one(db)
            .await
            .expect("query")
            .expect("the row");
        assert_eq!(found, stored, "{key}, {path}");
        assert_eq!(found.state, format!(r#"{{"k":"{key}"}}"#));
        let stored_user = user::Entity::find_by_id(user_id)
            .one(db)
            .await
            .expect("query")
            .expect("the user");
        assert_eq!(with_user.as_ref(), Some(&stored_user), "{key}, {path}");
    }
    let (anonymous, no_user) = sessions::find_live_with_user(db, reads, "nobody")
        .await
        .expect("query")
        .expect("a live session");
    assert_eq!(anonymous.user_id, None, "{path}");
    assert!(
        no_user.is_none(),
        "a session naming no user joins none ({path})"
    );
    for key in ["expired", "unknown"] {
        let found = sessions::find_live_with_user(db, reads, key)
            .await
            .expect("query");
        assert!(found.is_none(), "{key} is not a live session ({path})");
    }
}

#[tokio::test]
async fn a_connection_reads_with_its_connector_and_folder_as_seaorm_reads_them() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let ada = app
        .create_user("ada@example.edu", "a long enough password", false)
        .await;
    let eve = app
        .create_user("eve@example.edu", "a long enough password", false)
        .await;
    let folder = folders::create(db, ada.id, &folder_name("Thesis"))
        .await
        .expect("folder");
    let eves_folder = folders::create(db, eve.id, &folder_name("Mine"))
        .await
        .expect("folder");

    // A fresh connection (its optional columns mostly NULL) and one with every column set.
    let fresh = app
        .insert_connection("test-echo", ada.id, json!({"token": "t1"}), "ada-1")
        .await;
    let full = app
        .insert_connection("test-echo", ada.id, json!({"token": "t2"}), "ada-2")
        .await;
    let at = Utc::now();
    let mut active = full.into_active_model();
    active.status = Set(ConnectionStatus::NeedsReauth);
    active.scopes = Set(Some("files.read".into()));
    active.expires_at = Set(Some(at + Duration::minutes(5)));
    active.last_used_at = Set(Some(at - Duration::minutes(1)));
    active.last_refresh_at = Set(Some(at - Duration::minutes(2)));
    active.refresh_failures = Set(3);
    active.refresh_lease_until = Set(Some(at + Duration::seconds(30)));
    active.refresh_lease_owner = Set(Some("refresher-1".into()));
    active.last_error = Set(Some("invalid_grant".into()));
    active.agent_writes = Set(true);
    let full = active.update(db).await.expect("update");
    assert_eq!(fresh.last_used_at, None, "the fresh row has NULLs");
    assert_eq!(full.refresh_lease_owner.as_deref(), Some("refresher-1"));
    let eves = app
        .insert_connection("test-echo", eve.id, json!({"token": "t3"}), "eve")
        .await;

    for (path, reads) in both_paths(&app) {
        for conn in [&fresh, &full] {
            same_as_seaorm(db, &reads, path, ada.id, folder.id, conn.id).await;
        }
        // Scoped by the user on both sides: someone else's folder or connection is no row.
        for (user_id, folder_id, id) in [
            (ada.id, eves_folder.id, fresh.id),
            (ada.id, folder.id, eves.id),
            (eve.id, folder.id, fresh.id),
            (eve.id, eves_folder.id, fresh.id),
            (ada.id, folder.id, i64::MAX),
        ] {
            let found = connections::find_owned_with_connector_and_folder(
                db, &reads, user_id, folder_id, id, None,
            )
            .await
            .expect("query");
            assert!(
                found.is_none(),
                "user {user_id}, folder {folder_id}, connection {id} ({path})"
            );
        }
    }

    // A session to confirm, read in the same statement on both paths: live only when it
    // exists, has not expired and names this user, who is active.
    let in_an_hour = Utc::now() + Duration::hours(1);
    for (key, user_id, expires_at) in [
        ("ada-live", ada.id, in_an_hour),
        ("ada-expired", ada.id, Utc::now() - Duration::seconds(1)),
        ("eve-live", eve.id, in_an_hour),
    ] {
        sessions::insert(
            db,
            sessions::NewSession {
                key_hash: key.to_owned(),
                user_id: Some(user_id),
                state: "{}".into(),
                expires_at,
            },
        )
        .await
        .expect("insert session");
    }
    let live = async |reads: &Reads, key_hash: &str| {
        connections::find_owned_with_connector_and_folder(
            db,
            reads,
            ada.id,
            folder.id,
            fresh.id,
            Some(connections::SessionToConfirm { key_hash }),
        )
        .await
        .expect("query")
        .expect("found whatever the session")
        .session_live
    };
    for (path, reads) in both_paths(&app) {
        assert!(live(&reads, "ada-live").await, "{path}");
        for key in ["ada-expired", "eve-live", "unknown"] {
            assert!(!live(&reads, key).await, "{key} ({path})");
        }
    }
    let set_active = async |on: bool| {
        user::Entity::update_many()
            .col_expr(user::Column::IsActive, Expr::value(on))
            .filter(user::Column::Id.eq(ada.id))
            .exec(db)
            .await
            .expect("update");
    };
    set_active(false).await;
    for (path, reads) in both_paths(&app) {
        assert!(!live(&reads, "ada-live").await, "deactivated ({path})");
    }
    set_active(true).await;

    // A time stored in another format sqlx reads (SQLite's own `datetime()`): the read on
    // the calling thread leaves it to sqlx, and the answer is the same.
    if db.get_database_backend() == DbBackend::Sqlite {
        let (answered, declined) = app.state.reads.counts();
        assert!(
            answered >= 7,
            "the reads ran on the calling thread ({answered})"
        );
        assert_eq!(declined, 0, "none was left to sqlx");
        db.execute_unprepared(&format!(
            "UPDATE knowledge_folder SET updated_at = '2026-12-07 06:00:00.5' WHERE id = {}",
            folder.id
        ))
        .await
        .expect("update");
        same_as_seaorm(db, &app.state.reads, "local", ada.id, folder.id, full.id).await;
        assert_eq!(app.state.reads.counts().1, 1, "that read was left to sqlx");
    }
}

/// The connection `id` with its connector and the folder, read through `reads`, equal
/// SeaORM's reads of the three rows.
async fn same_as_seaorm(
    db: &sea_orm::DatabaseConnection,
    reads: &Reads,
    path: &str,
    user_id: i64,
    folder_id: i64,
    id: i64,
) {
    let connections::InFolder {
        conn: found,
        connector: found_connector,
        folder: found_folder,
        session_live,
        taken,
    } = connections::find_owned_with_connector_and_folder(db, reads, user_id, folder_id, id, None)
        .await
        .expect("query")
        .expect("the user's connection in the user's folder");
    assert!(session_live, "no session to confirm ({path})");
    assert_eq!(taken, None, "this read takes nothing ({path})");
    let stored = connection::Entity::find_by_id(id)
        .one(db)
        .await
        .expect("query")
        .expect("the row");
    let catalog = connector::Entity::find_by_id(stored.connector_id)
        .one(db)
        .await
        .expect("query")
        .expect("the connector");
    let stored_folder = knowledge_folder::Entity::find_by_id(folder_id)
        .one(db)
        .await
        .expect("query")
        .expect("the folder");
    assert_eq!(found, stored, "{path}");
    assert_eq!(found_connector, catalog, "{path}");
    assert_eq!(found_folder, stored_folder, "{path}");
}

fn audit_row(i: usize, every_column: bool) -> NewAuditLog {
    NewAuditLog {
        connection_id: None,
        user_id: None,
        connector_slug: format!("slug-{i}"),
        action: "browse".into(),
        status: if every_column { "error" } else { "success" }.into(),
        request: format!(r#"{{"i":{i}}}"#),
        error_code: every_column.then(|| "upstream".to_owned()),
        error: every_column.then(|| "it's \"down\"; 'quoted'".to_owned()),
        duration_ms: i as i64 * 7,
        channel: if every_column {
            Channel::Mcp
        } else {
            Channel::Web
        },
        client: every_column.then(|| "Claude".to_owned()),
        // PostgreSQL keeps microseconds.
        created_at: Utc::now().trunc_subsecs(6) - Duration::microseconds(i as i64 * 1_001),
    }
}

/// A user with a connection, and two rows: one of theirs with every column set, one with
/// every optional column empty. Returns the connection's id too.
async fn two_audit_rows(app: &crate::helpers::TestApp) -> (i64, NewAuditLog, NewAuditLog) {
    let ada = app
        .create_user("ada@example.edu", "a long enough password", false)
        .await;
    let conn = app
        .insert_connection("test-echo", ada.id, json!({"token": "t"}), "ada")
        .await;
    let mut set = audit_row(1, true);
    set.connection_id = Some(conn.id);
    set.user_id = Some(ada.id);
    let bare = audit_row(2, false);
    (conn.id, set, bare)
}

#[tokio::test]
async fn audit_rows_are_written_as_seaorm_reads_them_in_batches_of_any_size() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let (_, set, bare) = two_audit_rows(&app).await;
    connector_audit_logs::insert_many(db, &[&set, &bare])
        .await
        .expect("insert");
    connector_audit_logs::insert_many(db, &[])
        .await
        .expect("nothing to write");
    // More rows than there are ready statements for, in one call.
    let many: Vec<NewAuditLog> = (3..3 + 70).map(|i| audit_row(i, i % 2 == 0)).collect();
    let refs: Vec<&NewAuditLog> = many.iter().collect();
    connector_audit_logs::insert_many(db, &refs)
        .await
        .expect("insert 70");

    let expected: Vec<&NewAuditLog> = [&set, &bare].into_iter().chain(&many).collect();
    assert_stored(db, &expected).await;
}

/// The audit log holds `expected`, in order, every column as written.
async fn assert_stored(db: &sea_orm::DatabaseConnection, expected: &[&NewAuditLog]) {
    let stored = connector_audit_log::Entity::find()
        .order_by_asc(connector_audit_log::Column::Id)
        .all(db)
        .await
        .expect("query");
    assert_eq!(stored.len(), expected.len());
    for (row, new) in stored.iter().zip(expected) {
        assert_eq!(row.connection_id, new.connection_id);
        assert_eq!(row.user_id, new.user_id);
        assert_eq!(row.connector_slug, new.connector_slug);
        assert_eq!(row.action, new.action);
        assert_eq!(row.status, new.status);
        assert_eq!(row.request, new.request);
        assert_eq!(row.error_code, new.error_code);
        assert_eq!(row.error, new.error);
        assert_eq!(row.duration_ms, new.duration_ms);
        assert_eq!(row.channel, new.channel);
        assert_eq!(row.client, new.client);
        assert_eq!(row.created_at, new.created_at, "to the microsecond");
    }
}

#[tokio::test]
async fn audit_rows_written_on_the_calling_thread_are_the_rows_sqlx_writes() {
    let app = spawn_app().await;
    let (db, local) = (&app.state.db, &app.state.writes.local);
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    assert_eq!(local.enabled(), sqlite, "an SQLite file has local writes");
    let (conn_id, set, bare) = two_audit_rows(&app).await;
    // The same two rows through sqlx, then here.
    connector_audit_logs::insert_many(db, &[&set, &bare])
        .await
        .expect("insert through sqlx");
    for row in [&set, &bare] {
        let written = local.write(|c| connector_audit_logs::insert_here(c, row));
        assert_eq!(written.is_some(), sqlite, "written on the calling thread");
        if written.is_none() {
            connector_audit_logs::insert_many(db, &[row])
                .await
                .expect("insert through sqlx");
        }
    }
    assert_stored(db, &[&set, &bare, &set, &bare]).await;
    // Stored as the same text, so that SQL compares and orders them alike.
    let texts = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(created_at AS TEXT) FROM connector_audit_log ORDER BY id",
        ))
        .await
        .expect("the stored times");
    let texts: Vec<String> = texts
        .iter()
        .map(|r| r.try_get_by_index(0).expect("text"))
        .collect();
    assert_eq!(texts[0], texts[2]);
    assert_eq!(texts[1], texts[3]);
    // A foreign key the database refuses is refused here too, and nothing is written.
    let mut orphan = audit_row(3, true);
    orphan.connection_id = Some(conn_id + 1000);
    if sqlite {
        assert!(
            local
                .write(|c| connector_audit_logs::insert_here(c, &orphan))
                .is_none()
        );
    }
    assert!(
        connector_audit_logs::insert_many(db, &[&orphan])
            .await
            .is_err()
    );
    assert_stored(db, &[&set, &bare, &set, &bare]).await;
}
