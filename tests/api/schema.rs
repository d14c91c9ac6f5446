//! Migrations go up, down and up again on SQLite and PostgreSQL, the rate-limit logs of the
//! old schema survive the move to numbered hits (and back), and runs of hits taken at once,
//! or kept in a PostgreSQL row, become one row per hit again on the way down.

use campuscore_testkit::postgres::{create_pg_database, drop_pg_database};
use migration::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

const TABLES: [&str; 20] = [
    "user",
    "session",
    "setup_token",
    "api_token",
    "connector",
    "connector_config",
    "connection",
    "connector_audit_log",
    "knowledge_folder",
    "source_file",
    "queue_message",
    "oauth_state",
    "admin_audit_log",
    "rate_limit",
    "rate_limit_hit",
    "mcp_client",
    "mcp_grant",
    "mcp_authorization_code",
    "mcp_token",
    "app_secret",
];

async fn exists(db: &DatabaseConnection, table: &str) -> bool {
    SchemaManager::new(db)
        .has_table(table)
        .await
        .expect("has_table")
}

async fn up_down_up(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("up");
    for t in TABLES {
        assert!(exists(db, t).await, "{t} after up");
    }
    Migrator::down(db, None).await.expect("down");
    for t in TABLES {
        assert!(!exists(db, t).await, "{t} gone after down");
    }
    Migrator::up(db, None).await.expect("up again");
    for t in TABLES {
        assert!(exists(db, t).await, "{t} after up again");
    }
}

/// A user row written with plain SQL (the schema may be any migration's); its id.
async fn insert_user(db: &DatabaseConnection, email: &str) -> i64 {
    let now = chrono::Utc::now();
    let user = Query::insert()
        .into_table(Alias::new("user"))
        .columns(
            [
                "email",
                "display_name",
                "password_hash",
                "is_admin",
                "is_active",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            email.into(),
            "Someone".into(),
            "x".into(),
            false.into(),
            true.into(),
            now.into(),
            now.into(),
        ])
        .returning_col(Alias::new("id"))
        .to_owned();
    db.query_one_raw(db.get_database_backend().build(&user))
        .await
        .expect("a user")
        .expect("its id")
        .try_get("", "id")
        .expect("id")
}

/// Every `rate_limit_hit` row as `(seq, hit_at)`, by `seq`.
async fn hit_rows(db: &DatabaseConnection) -> Vec<(i64, i64)> {
    let select = Query::select()
        .columns(["seq", "hit_at"].map(Alias::new))
        .from(Alias::new("rate_limit_hit"))
        .order_by(Alias::new("seq"), sea_orm::Order::Asc)
        .to_owned();
    db.query_all_raw(db.get_database_backend().build(&select))
        .await
        .expect("hits")
        .iter()
        .map(|r| {
            (
                r.try_get("", "seq").expect("seq"),
                r.try_get("", "hit_at").expect("hit_at"),
            )
        })
        .collect()
}

/// Migrations 1–20 keep each user's rate-limit hits as a comma-separated log in
/// `rate_limit.hits`; migration 21 makes them numbered `rate_limit_hit` rows, oldest first,
/// and its `down` writes them back, so an upgrade gives nobody a fresh budget.
async fn rate_limit_logs_carry_over(db: &DatabaseConnection) {
    let backend = db.get_database_backend();
    Migrator::up(db, Some(20)).await.expect("up to 20");
    let now = chrono::Utc::now();
    let user_id = insert_user(db, "rl@campus.edu").await;
    let log = "1800000002000,1800000001000,1800000003000";
    let row = Query::insert()
        .into_table(Alias::new("rate_limit"))
        .columns(["user_id", "name", "hits", "expires_at"].map(Alias::new))
        .values_panic([
            user_id.into(),
            "cloud_browse".into(),
            log.into(),
            now.into(),
        ])
        .to_owned();
    db.execute_raw(backend.build(&row))
        .await
        .expect("an old log");

    Migrator::up(db, Some(1)).await.expect("up to 21");
    let found = hit_rows(db).await;
    assert_eq!(
        found,
        [
            (0, 1_800_000_001_000),
            (1, 1_800_000_002_000),
            (2, 1_800_000_003_000)
        ]
    );
    let next = Query::select()
        .column(Alias::new("next_seq"))
        .from(Alias::new("rate_limit"))
        .and_where(Expr::col(Alias::new("user_id")).eq(user_id))
        .to_owned();
    let next: i64 = db
        .query_one_raw(backend.build(&next))
        .await
        .expect("next_seq")
        .expect("the row")
        .try_get("", "next_seq")
        .expect("next_seq");
    assert_eq!(next, 3);

    Migrator::down(db, Some(1)).await.expect("down to 20");
    let back = Query::select()
        .column(Alias::new("hits"))
        .from(Alias::new("rate_limit"))
        .to_owned();
    let back: String = db
        .query_one_raw(backend.build(&back))
        .await
        .expect("hits")
        .expect("the row")
        .try_get("", "hits")
        .expect("hits");
    assert_eq!(back, "1800000001000,1800000002000,1800000003000");
}

/// Since migration 27 one `rate_limit_hit` row may stand for several hits taken at once;
/// its `down` splits such a row into one row per hit again, at the same time.
async fn runs_of_hits_split_again_on_the_way_down(db: &DatabaseConnection) {
    let backend = db.get_database_backend();
    Migrator::up(db, None).await.expect("up");
    let now = chrono::Utc::now();
    let user_id = insert_user(db, "run@campus.edu").await;
    // With no hits yet: on SQLite a row inserted with `next_seq` > 0 has its trigger record
    // them, and the hits below are written by hand.
    let row = Query::insert()
        .into_table(Alias::new("rate_limit"))
        .columns(["user_id", "name", "next_seq", "expires_at"].map(Alias::new))
        .values_panic([
            user_id.into(),
            "cloud_import".into(),
            0_i64.into(),
            now.into(),
        ])
        .returning_col(Alias::new("id"))
        .to_owned();
    let rate_limit_id: i64 = db
        .query_one_raw(backend.build(&row))
        .await
        .expect("a row")
        .expect("its id")
        .try_get("", "id")
        .expect("id");
    let hits = Query::insert()
        .into_table(Alias::new("rate_limit_hit"))
        .columns(["rate_limit_id", "seq", "hits", "hit_at"].map(Alias::new))
        .values_panic([
            rate_limit_id.into(),
            0_i64.into(),
            1_i64.into(),
            1_800_000_001_000_i64.into(),
        ])
        .values_panic([
            rate_limit_id.into(),
            1_i64.into(),
            3_i64.into(),
            1_800_000_002_000_i64.into(),
        ])
        .to_owned();
    db.execute_raw(backend.build(&hits)).await.expect("hits");

    // Down past migration 28 (PostgreSQL's hits kept in the row) and 27.
    Migrator::down(db, Some(2)).await.expect("down two");
    let found = hit_rows(db).await;
    assert_eq!(
        found,
        [
            (0, 1_800_000_001_000),
            (1, 1_800_000_002_000),
            (2, 1_800_000_002_000),
            (3, 1_800_000_002_000)
        ]
    );
    Migrator::up(db, None).await.expect("up again");
}

/// `n` hits of the user's `test_large` limit (100 an hour) through whichever
/// `rate_limit_take` the schema has, which must allow them; the time they were stamped.
async fn take_allowed(db: &DatabaseConnection, user_id: i64, n: i64) -> i64 {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT allowed, now_ms FROM rate_limit_take($1, 'test_large', $2, 100, 3600000)",
            [user_id.into(), n.into()],
        ))
        .await
        .expect("take")
        .expect("a row");
    assert!(row.try_get_by_index::<bool>(0).expect("allowed"));
    row.try_get_by_index(1).expect("now_ms")
}

/// Since migration 28 a PostgreSQL `rate_limit` row keeps its newest hits itself
/// (`recent`) and moves older ones out a run at a time, each with its own time (`times`);
/// its `down` makes every one of them a row of one hit at its time, and migration 27's
/// function takes over from there.
async fn hits_kept_in_the_row_become_rows_on_the_way_down(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("up");
    let user_id = insert_user(db, "recent@campus.edu").await;
    // 64 fill the row; the 65th moves the oldest 33 out as one run; then 5 more, and a
    // check of two.
    let mut expected = Vec::new();
    for n in std::iter::repeat_n(1, 70).chain([2]) {
        let at = take_allowed(db, user_id, n).await;
        expected.extend(std::iter::repeat_n(at, n as usize));
    }
    let runs: i64 = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM rate_limit_hit WHERE times IS NOT NULL",
        ))
        .await
        .expect("count")
        .expect("a row")
        .try_get_by_index(0)
        .expect("count");
    assert_eq!(runs, 1, "one run moved out of the row");

    Migrator::down(db, Some(1)).await.expect("down one");
    let found = hit_rows(db).await;
    let numbered: Vec<(i64, i64)> = (0..).zip(expected.iter().copied()).collect();
    assert_eq!(found, numbered);
    // Migration 27's function carries on from the hits it finds.
    expected.push(take_allowed(db, user_id, 1).await);
    assert_eq!(hit_rows(db).await.len(), expected.len());
    // And back up: migration 28's function starts from rows of one hit each.
    Migrator::up(db, None).await.expect("up again");
    expected.push(take_allowed(db, user_id, 1).await);
    let hits = campuscore::models::rate_limits::hits(db, user_id, "test_large")
        .await
        .expect("the hits");
    assert_eq!(hits, expected);
}

#[tokio::test]
async fn runs_of_hits_split_again_on_the_way_down_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::connect(format!("sqlite://{}/m.db?mode=rwc", dir.path().display()))
        .await
        .expect("connect");
    runs_of_hits_split_again_on_the_way_down(&db).await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::connect(format!("sqlite://{}/m.db?mode=rwc", dir.path().display()))
        .await
        .expect("connect");
    up_down_up(&db).await;
}

#[tokio::test]
async fn rate_limit_logs_carry_over_to_numbered_hits_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::connect(format!("sqlite://{}/m.db?mode=rwc", dir.path().display()))
        .await
        .expect("connect");
    rate_limit_logs_carry_over(&db).await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_postgresql() {
    let (name, url) = match create_pg_database().await {
        Ok(v) => v,
        Err(e) => {
            campuscore_test_peers::unavailable(
                campuscore_test_peers::Peer::Postgres,
                "the migrations on PostgreSQL",
                &format!("not reachable at CAMPUSCORE_TEST_PG_URL: {e}"),
            );
            return;
        }
    };
    let db = Database::connect(&url).await.expect("connect");
    up_down_up(&db).await;
    Migrator::down(&db, None).await.expect("down");
    rate_limit_logs_carry_over(&db).await;
    Migrator::down(&db, None).await.expect("down");
    runs_of_hits_split_again_on_the_way_down(&db).await;
    Migrator::down(&db, None).await.expect("down");
    hits_kept_in_the_row_become_rows_on_the_way_down(&db).await;
    db.close().await.expect("close");
    drop_pg_database(&name);
}
