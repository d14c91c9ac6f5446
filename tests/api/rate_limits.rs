//! Per-user rate limits against the real database: the 31st browse and the 11th import are
//! refused with a usable `Retry-After`, other users and other limits are unaffected, the
//! count survives a restart, and two app instances hammering one user on one database let
//! exactly `max` hits through. Run with `CAMPUSCORE_TEST_DB=postgres` for PostgreSQL.

use crate::helpers::{Options, TestApp, spawn_app_with};
use actix_web::ResponseError;
use campuscore::Settings;
use campuscore::error::AppError;
use campuscore::models;
use campuscore::models::entities::rate_limit;
use campuscore::models::local_writes::Bookkeeping;
use campuscore::models::rate_limits::{Flush, Taken};
use campuscore::services::rate_limits::{self, CLOUD_BROWSE, CLOUD_IMPORT, Limit};
use campuscore::state::AppState;
use chrono::Utc;
use futures_util::future::join_all;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    Statement, TransactionTrait,
};
use std::collections::HashMap;
use std::time::Duration;

async fn app() -> TestApp {
    spawn_app_with(Options {
        run_worker: Some(false),
        ..Default::default()
    })
    .await
}

/// Another app instance on the same database, booted as `campuscore serve` would boot it
/// (same `DATABASE_URL` and `FERNET_KEYS`, its own pool and data dir).
async fn another_instance(app: &TestApp) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = &app.state.settings;
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("CAMPUSCORE_DATA_DIR", dir.path().display().to_string());
    env.insert("DATABASE_URL", settings.database_url.clone());
    env.insert("CAMPUSCORE_BASE_URL", app.address.clone());
    env.insert(
        "FERNET_KEYS",
        settings
            .fernet_keys
            .clone()
            .expect("the test app has FERNET_KEYS"),
    );
    let mut other = Settings::from_lookup(|k| env.get(k).cloned()).expect("settings");
    other.run_worker = false;
    let state = campuscore::startup::prepare(other)
        .await
        .expect("prepare another instance");
    (state, dir)
}

async fn user(app: &TestApp, email: &str) -> i64 {
    app.create_user(email, "a long enough password", false)
        .await
        .id
}

/// `check` `times` times, asserting each passes.
async fn use_up(w: &Bookkeeping, user_id: i64, limit: &Limit, times: u32) {
    for i in 0..times {
        rate_limits::check(w, user_id, limit)
            .await
            .unwrap_or_else(|e| panic!("hit {} of {} should pass: {e}", i + 1, limit.name));
    }
}

/// The `Retry-After` of a refusal, in seconds (panics on anything else).
fn refused(result: Result<(), AppError>) -> u64 {
    match result {
        Err(AppError::RateLimited { retry_after }) => retry_after.as_secs(),
        other => panic!("expected a rate-limit refusal, got {other:?}"),
    }
}

async fn stored_hits(db: &DatabaseConnection, user_id: i64, limit: &Limit) -> usize {
    rate_limits::recorded_hits(db, user_id, limit)
        .await
        .expect("the recorded hits")
        .len()
}

#[tokio::test]
async fn the_31st_browse_within_a_minute_is_refused_and_others_are_unaffected() {
    let app = app().await;
    let (w, db) = (&app.state.writes, &app.state.db);
    let (rae, sam) = (
        user(&app, "rae@campus.edu").await,
        user(&app, "sam@campus.edu").await,
    );

    let before = w.local.counts();
    use_up(w, rae, &CLOUD_BROWSE, 30).await;
    let err = rate_limits::check(w, rae, &CLOUD_BROWSE)
        .await
        .expect_err("the 31st browse is refused");
    let response = err.error_response();
    assert_eq!(response.status(), 429);
    let header: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After");
    let retry_after = refused(Err(err));
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(header, retry_after);

    // Keyed on the user and the limit.
    use_up(w, sam, &CLOUD_BROWSE, 30).await;
    use_up(w, rae, &CLOUD_IMPORT, 1).await;
    // A refusal records nothing.
    assert_eq!(stored_hits(db, rae, &CLOUD_BROWSE).await, 30);

    // On an SQLite file each of those 62 checks ran on the calling thread, and so did the
    // purges the three new rows set off; PostgreSQL has no such writes.
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    assert_eq!(w.local.enabled(), sqlite);
    let (committed, declined) = w.local.counts();
    let ran_here = if sqlite { 62 + 3 } else { 0 };
    assert_eq!((committed - before.0, declined - before.1), (ran_here, 0));
}

#[tokio::test]
async fn the_11th_import_within_an_hour_is_refused() {
    let app = app().await;
    let w = &app.state.writes;
    let rae = user(&app, "rae@campus.edu").await;

    use_up(w, rae, &CLOUD_IMPORT, 10).await;
    let retry_after = refused(rate_limits::check(w, rae, &CLOUD_IMPORT).await);
    assert!((3590..=3600).contains(&retry_after), "{retry_after}");
    // Browsing has its own budget.
    use_up(w, rae, &CLOUD_BROWSE, 1).await;
}

#[tokio::test]
async fn an_import_counted_per_file_takes_several_slots_or_none() {
    let app = app().await;
    let (w, db) = (&app.state.writes, &app.state.db);
    let rae = user(&app, "rae@campus.edu").await;

    rate_limits::check_n(w, rae, &CLOUD_IMPORT, 8)
        .await
        .expect("8 of 10");
    refused(rate_limits::check_n(w, rae, &CLOUD_IMPORT, 3).await);
    assert_eq!(stored_hits(db, rae, &CLOUD_IMPORT).await, 8, "all or none");
    rate_limits::check_n(w, rae, &CLOUD_IMPORT, 2)
        .await
        .expect("2 more fit");
    let too_many = rate_limits::check_n(w, rae, &CLOUD_IMPORT, 11).await;
    assert!(
        matches!(too_many, Err(AppError::BadRequest(_))),
        "{too_many:?}"
    );
}

#[tokio::test]
async fn hits_that_left_the_window_free_their_slots_and_are_deleted() {
    let app = app().await;
    let (w, db) = (&app.state.writes, &app.state.db);
    let rae = user(&app, "rae@campus.edu").await;
    let short = Limit {
        name: "test_short",
        max: 2,
        window: Duration::from_secs(1),
    };

    use_up(w, rae, &short, 2).await;
    assert_eq!(refused(rate_limits::check(w, rae, &short).await), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    use_up(w, rae, &short, 2).await;
    refused(rate_limits::check(w, rae, &short).await);
    assert_eq!(
        stored_hits(db, rae, &short).await,
        2,
        "the first two are gone"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Two at once take both slots, in one row.
    rate_limits::check_n(w, rae, &short, 2)
        .await
        .expect("two more after another window");
    refused(rate_limits::check(w, rae, &short).await);
    assert_eq!(stored_hits(db, rae, &short).await, 2);
}

#[tokio::test]
async fn the_count_holds_after_a_restart() {
    let app = app().await;
    let rae = user(&app, "rae@campus.edu").await;
    use_up(&app.state.writes, rae, &CLOUD_BROWSE, 30).await;
    // Stop the first instance's pool: nothing it held in memory can matter.
    app.state.db.clone().close().await.expect("close the pool");

    let (restarted, _dir) = another_instance(&app).await;
    let retry_after = refused(rate_limits::check(&restarted.writes, rae, &CLOUD_BROWSE).await);
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

/// 100 checks of the user's browse limit at once, alternating between the two instances;
/// the `i`th is a [`rate_limits::check_then_audit`] when `flushed_later(i)`, else a `check`.
async fn hammer(
    app: &TestApp,
    second: &AppState,
    user_id: i64,
    flushed_later: fn(usize) -> bool,
) -> Vec<Result<(), AppError>> {
    let calls = (0..100).map(|i| {
        let w = if i % 2 == 0 {
            app.state.writes.clone()
        } else {
            second.writes.clone()
        };
        tokio::spawn(async move {
            if flushed_later(i) {
                rate_limits::check_then_audit(&w, user_id, &CLOUD_BROWSE).await
            } else {
                rate_limits::check(&w, user_id, &CLOUD_BROWSE).await
            }
        })
    });
    join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("the check task"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_hammering_one_user_let_exactly_the_limit_through() {
    let app = app().await;
    let rae = user(&app, "rae@campus.edu").await;
    let (second, _dir) = another_instance(&app).await;

    let results = hammer(&app, &second, rae, |_| false).await;
    let passed = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(passed, 30, "{results:?}");
    for r in results.into_iter().filter(|r| r.is_err()) {
        let retry_after = refused(r);
        assert!((1..=60).contains(&retry_after), "{retry_after}");
    }
    assert_eq!(stored_hits(&second.db, rae, &CLOUD_BROWSE).await, 30);
}

/// A browse's hit does not wait for the disk (its audit row's commit flushes it): that
/// changes nothing a check can see. Both kinds of check, from two instances at once, still
/// let exactly the limit through; and on PostgreSQL the commit's setting ends with the
/// statement, leaving the pooled connection as it was for whatever it runs next.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hits_flushed_with_the_audit_row_count_at_once_in_every_instance() {
    let app = app().await;
    let (rae, sam) = (
        user(&app, "rae@campus.edu").await,
        user(&app, "sam@campus.edu").await,
    );
    let (second, _dir) = another_instance(&app).await;

    let results = hammer(&app, &second, rae, |i| i % 4 < 2).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        30,
        "{results:?}"
    );
    assert_eq!(stored_hits(&second.db, rae, &CLOUD_BROWSE).await, 30);
    refused(rate_limits::check_then_audit(&second.writes, rae, &CLOUD_BROWSE).await);

    if app.state.db.get_database_backend() == DbBackend::Postgres {
        // One connection, so the check and the question after it share it; its own setting
        // is the opposite of what the check sets for its commit.
        let db = campuscore::db::connect_with(
            &app.state.settings.database_url,
            campuscore::db::PoolSettings {
                max_connections: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("a pool of one connection");
        let setting = |db: DatabaseConnection| async move {
            db.query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_setting('synchronous_commit')",
            ))
            .await
            .expect("read the setting")
            .expect("a row")
            .try_get_by_index::<String>(0)
            .expect("text")
        };
        db.execute_unprepared("SET synchronous_commit = on")
            .await
            .expect("set the session's durability");
        let w = Bookkeeping {
            db: db.clone(),
            local: Default::default(),
        };
        rate_limits::check_then_audit(&w, sam, &CLOUD_BROWSE)
            .await
            .expect("sam's first browse");
        assert_eq!(setting(db.clone()).await, "on");
        assert_eq!(stored_hits(&app.state.db, sam, &CLOUD_BROWSE).await, 1);
    }
}

#[tokio::test]
async fn rows_whose_hits_have_all_expired_are_purged() {
    let app = app().await;
    let (w, db) = (&app.state.writes, &app.state.db);
    let rae = user(&app, "rae@campus.edu").await;
    use_up(w, rae, &CLOUD_BROWSE, 1).await;
    use_up(w, rae, &CLOUD_IMPORT, 1).await;

    let in_two_minutes = Utc::now() + Duration::from_secs(120);
    assert_eq!(
        rate_limits::purge_expired(db, in_two_minutes)
            .await
            .expect("purge"),
        1,
        "the browse row is expired, the import row is not"
    );
    let left: Vec<String> = rate_limit::Entity::find()
        .all(db)
        .await
        .expect("query")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(left, [CLOUD_IMPORT.name]);
}

#[tokio::test]
async fn a_check_that_waited_for_the_lock_stamps_the_time_it_got_it() {
    let app = app().await;
    let (w, db) = (&app.state.writes, &app.state.db);
    let rae = user(&app, "rae@campus.edu").await;
    use_up(w, rae, &CLOUD_BROWSE, 1).await;

    // Another writer holds the user's row (PostgreSQL's row lock, SQLite's write lock).
    let blocker = db.begin().await.expect("begin");
    rate_limit::Entity::update_many()
        .col_expr(
            rate_limit::Column::NextSeq,
            Expr::col(rate_limit::Column::NextSeq),
        )
        .filter(rate_limit::Column::UserId.eq(rae))
        .exec(&blocker)
        .await
        .expect("lock the row");
    let declined = w.local.counts().1;
    let waiting = {
        let w = w.clone();
        tokio::spawn(async move { rate_limits::check(&w, rae, &CLOUD_BROWSE).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiting.is_finished(), "the check waits for the lock");
    let released = Utc::now().timestamp_millis();
    blocker.commit().await.expect("release the lock");
    waiting
        .await
        .expect("the check task")
        .expect("the check passes");
    if w.local.enabled() {
        // The calling thread's connection does not wait for a lock: sqlx's did.
        assert_eq!(w.local.counts().1, declined + 1);
    }

    let hits = rate_limits::recorded_hits(db, rae, &CLOUD_BROWSE)
        .await
        .expect("the recorded hits");
    let stamped = *hits.last().expect("two hits");
    assert!(
        stamped >= released,
        "stamped {} ms before the lock was released",
        released - stamped
    );
    // The row lives as long as its newest hit is in the window.
    let row = rate_limit::Entity::find()
        .filter(rate_limit::Column::UserId.eq(rae))
        .one(db)
        .await
        .expect("query")
        .expect("the row");
    assert!(row.expires_at.timestamp_millis() >= stamped + 60_000);
}

/// A limit larger than a PostgreSQL row keeps of its own (64 hits, migration 28): the row
/// moves runs of hits out, and the rule is the same as for a small one.
#[tokio::test]
async fn a_limit_larger_than_the_row_keeps_holds_exactly() {
    let app = app().await;
    let (w, db) = (&app.state.writes, &app.state.db);
    let rae = user(&app, "rae@campus.edu").await;
    let large = Limit {
        name: "test_large",
        max: 100,
        window: Duration::from_secs(2),
    };

    use_up(w, rae, &large, 100).await;
    let retry_after = refused(rate_limits::check(w, rae, &large).await);
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let hits = rate_limits::recorded_hits(db, rae, &large)
        .await
        .expect("the recorded hits");
    assert_eq!(hits.len(), 100);
    assert!(hits.is_sorted(), "oldest first");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    use_up(w, rae, &large, 100).await;
    refused(rate_limits::check(w, rae, &large).await);
    let hits = rate_limits::recorded_hits(db, rae, &large)
        .await
        .expect("the recorded hits");
    // At most the spent front of one run of moved hits is left over.
    assert!((100..=100 + 33).contains(&hits.len()), "{}", hits.len());
    assert!(hits.is_sorted(), "oldest first");
}

/// Every allowed hit's time, as the database recorded it: the sliding log the rule is.
#[derive(Default)]
struct Log {
    stamps: Vec<i64>,
    /// The time the previous check was judged at: no later than the next check's decision.
    previous: i64,
}

impl Log {
    /// Asserts that `taken` is the log's answer to `n` more hits of `max` per `window` ms.
    /// An allowed check is judged at the time its hits were stamped (no earlier than its
    /// decision: judging later counts no more hits). A refusal is judged at the time it
    /// returned when that is the decision's own clock (`exact_refusals`: PostgreSQL's
    /// function reads it once); SQLite reads the clock for a refusal in a second statement,
    /// so there it is judged at the previous check's time, the latest known to come before
    /// the decision. Either way the gate's time must be the log's.
    fn agrees(&mut self, what: &str, check: Check, taken: Taken, stamped: &[i64]) {
        let Check {
            n,
            max,
            window,
            exact_refusals,
        } = check;
        let at = match taken {
            Taken::Allowed { .. } => *stamped.last().expect("a stamp"),
            Taken::Refused { now, .. } if exact_refusals => now,
            Taken::Refused { .. } => self.previous,
        };
        let in_window = self.stamps.iter().filter(|&&t| t > at - window).count();
        let allowed = in_window + n <= max;
        match taken {
            Taken::Allowed { .. } => {
                assert!(
                    allowed,
                    "{what}: allowed with {in_window} in the window, {n} more of {max}"
                );
                let new = &stamped[stamped.len() - n..];
                assert!(
                    new.iter().all(|&t| t == at),
                    "{what}: one time for the check's hits"
                );
                self.stamps.extend_from_slice(new);
                self.previous = at;
            }
            Taken::Refused { gate_at, now } => {
                assert!(
                    !allowed,
                    "{what}: refused with {in_window} in the window, {n} more of {max}"
                );
                let gate = self.stamps.len() + n - 1 - max;
                assert_eq!(gate_at, Some(self.stamps[gate]), "{what}: the gate's time");
                self.previous = now;
            }
        }
    }
}

/// One check's parameters, for [`Log::agrees`].
#[derive(Clone, Copy)]
struct Check {
    n: usize,
    max: usize,
    window: i64,
    exact_refusals: bool,
}

/// The check gives the sliding log's answer every time, and keeps the hits the limit still
/// needs: limits around what a PostgreSQL row keeps of its own (64; both of the function's
/// paths), one or two hits at a time, with pauses that let some leave the window. Each
/// answer is judged by the times the database recorded, so the machine's speed does not
/// matter.
#[tokio::test]
async fn every_check_gives_the_sliding_logs_answer() {
    let app = app().await;
    let (w, db) = (&app.state.writes, &app.state.db);
    let rae = user(&app, "rae@campus.edu").await;
    let mut seed: u64 = 0x5eed;
    let mut next = move |below: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) % below
    };
    let window = 150;
    let exact_refusals = db.get_database_backend() == DbBackend::Postgres;
    for max in [1_usize, 3, 30, 63, 64, 65, 100, 130] {
        let name = format!("log_{max}");
        let mut log = Log::default();
        for step in 0..250 {
            let n = if max > 1 && next(5) == 0 { 2 } else { 1 };
            let taken =
                models::rate_limits::take(w, rae, &name, n as u32, max as u32, window, Flush::Now)
                    .await
                    .expect("the check");
            let stamped = models::rate_limits::hits(db, rae, &name)
                .await
                .expect("the stored hits");
            let check = Check {
                n,
                max,
                window,
                exact_refusals,
            };
            log.agrees(&format!("max {max}, check {step}"), check, taken, &stamped);
            if next(8) == 0 {
                tokio::time::sleep(Duration::from_millis(next(100))).await;
            }
        }
        let stored = models::rate_limits::hits(db, rae, &name)
            .await
            .expect("the stored hits");
        let needed = &log.stamps[log.stamps.len().saturating_sub(max)..];
        assert!(
            stored.ends_with(needed),
            "max {max}: the hits the limit needs are kept"
        );
        assert!(
            stored.len() <= max + 33,
            "max {max}: {} stored, at most a spent run more than the limit",
            stored.len()
        );
    }
}
