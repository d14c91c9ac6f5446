//! Tests of `postgres` against a real PostgreSQL server.
//!
//! Each test creates its own database (and roles) through `CAMPUSCORE_TEST_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`, a superuser) and drops them
//! afterwards, even when the test fails. When the server is unreachable the tests fail
//! where the run requires its peers (`cargo xtask test`, `CI=true`) and are skipped, and
//! named in the run's closing line, otherwise (`campuscore_test_peers`). Login failures are also tested
//! against a tiny fake server, since a local server that trusts 127.0.0.1 accepts any
//! password.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

use super::client::PgParams;
use super::connector::PostgresConnector;
use crate::{
    ActionContext, Connector, ConnectorDef, ConnectorError, ConnectorSettings, Credentials,
    DefinedConnector, HttpClient, HttpConfig, NormalizedCredentials, Tag,
};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Password of every role the tests create.
const PASSWORD: &str = "cc-test-Pa55word";

fn admin_url() -> String {
    std::env::var("CAMPUSCORE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Host and port of the admin URL.
fn admin_host_port() -> (String, u16) {
    let config = Config::from_str(&admin_url()).expect("CAMPUSCORE_TEST_PG_URL parses");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    (host, config.get_ports().first().copied().unwrap_or(5432))
}

/// An admin connection (plain TCP) to `database`, or the URL's database.
async fn admin_connect(database: Option<&str>) -> Result<Client, String> {
    let mut config = Config::from_str(&admin_url()).map_err(|e| e.to_string())?;
    if let Some(database) = database {
        config.dbname(database);
    }
    let (host, port) = admin_host_port();
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let (client, connection) = config
        .connect_raw(stream, NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A fresh database with two tables, a view and a read-only role; dropped (with every role
/// made through it) on drop.
struct TestDb {
    name: String,
    admin: Client,
    roles: Vec<String>,
    reader: String,
}

impl TestDb {
    /// `None` (after a notice) when PostgreSQL is unreachable outside CI.
    async fn create() -> Option<Self> {
        let admin = match admin_connect(None).await {
            Ok(admin) => admin,
            Err(error) => {
                campuscore_test_peers::unavailable(
                    campuscore_test_peers::Peer::Postgres,
                    "the postgres connector tests",
                    &format!("unreachable at CAMPUSCORE_TEST_PG_URL: {error}"),
                );
                return None;
            }
        };
        let name = unique("cc_pg_test");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the test database");
        let mut db = Self {
            admin: admin_connect(Some(&name))
                .await
                .expect("connect to the test database"),
            name,
            roles: Vec::new(),
            reader: String::new(),
        };
        db.admin
            .batch_execute(
                "CREATE TABLE departments (id int PRIMARY KEY, name text NOT NULL UNIQUE);
                 CREATE TABLE students (
                     id serial PRIMARY KEY,
                     name text NOT NULL,
                     department_id int REFERENCES departments (id) ON DELETE CASCADE,
                     enrolled date DEFAULT DATE '2024-09-01',
                     gpa numeric(3, 2));
                 COMMENT ON TABLE students IS 'Enrolled students';
                 CREATE TABLE secrets (id int);
                 INSERT INTO departments VALUES (1, 'Physics'), (2, 'History');
                 INSERT INTO students (name, department_id, gpa)
                     SELECT 'student ' || g, 1 + g % 2, 3.25 FROM generate_series(1, 50) g;
                 CREATE VIEW physics AS SELECT * FROM students WHERE department_id = 1;
                 CREATE SCHEMA archive;
                 ANALYZE;",
            )
            .await
            .expect("seed the test database");
        db.reader = db
            .role(
                "reader",
                "",
                &["GRANT SELECT ON departments, students, physics TO {role}"],
            )
            .await;
        Some(db)
    }

    /// Creates a login role (`attributes` such as `SUPERUSER`), grants it CONNECT and
    /// USAGE on `public`, then runs `grants` with `{role}` replaced.
    async fn role(&mut self, prefix: &str, attributes: &str, grants: &[&str]) -> String {
        let role = unique(&format!("cc_{prefix}"));
        self.roles.push(role.clone());
        let mut sql = format!(
            "CREATE ROLE \"{role}\" LOGIN PASSWORD '{PASSWORD}' {attributes};
             GRANT CONNECT ON DATABASE \"{}\" TO \"{role}\";
             GRANT USAGE ON SCHEMA public TO \"{role}\";",
            self.name
        );
        for grant in grants {
            sql.push_str(&grant.replace("{role}", &format!("\"{role}\"")));
            sql.push(';');
        }
        self.admin.batch_execute(&sql).await.expect("create a role");
        role
    }

    /// A role that can write to every table and create objects in `public`.
    async fn writer(&mut self) -> String {
        let database = format!("GRANT CREATE ON DATABASE \"{}\" TO {{role}}", self.name);
        self.role(
            "writer",
            "",
            &[
                "GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}",
                "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}",
                "GRANT CREATE ON SCHEMA public TO {role}",
                &database,
            ],
        )
        .await
    }

    fn fields(&self, user: &str) -> Map<String, Value> {
        let (host, port) = admin_host_port();
        let value = json!({
            "host": host, "port": port, "database": self.name, "user": user,
            "password": PASSWORD, "sslmode": "disable",
        });
        value.as_object().cloned().unwrap_or_default()
    }

    fn ctx(&self, user: &str) -> ActionContext {
        ActionContext::new(
            Credentials::new(Value::Object(self.fields(user))),
            allowed_settings(),
            http(),
        )
    }

    /// Every relation outside the system schemas, the row count and a checksum of the
    /// students — equal before and after means nothing changed.
    async fn fingerprint(&self) -> String {
        let row = self
            .admin
            .query_one(
                "SELECT (SELECT string_agg(n.nspname || '.' || c.relname, ',' ORDER BY 1)
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                           AND n.nspname NOT LIKE 'pg\\_%'),
                        (SELECT count(*) || ':' || sum(hashtext(s::text)) FROM students s),
                        (SELECT count(*) FROM departments)::text",
                &[],
            )
            .await
            .expect("fingerprint");
        let (relations, students, departments): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        format!("{relations}|{students}|{departments}")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let roles = std::mem::take(&mut self.roles);
        // Drop cannot await, and the test's runtime may be unwinding: clean up on a thread
        // with its own runtime.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a cleanup runtime");
            runtime.block_on(async move {
                let Ok(admin) = admin_connect(None).await else {
                    return;
                };
                // One statement at a time: DROP DATABASE refuses to run in the implicit
                // transaction of a multi-statement simple query.
                let mut statements =
                    vec![format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")];
                statements.extend(
                    roles
                        .iter()
                        .map(|role| format!("DROP ROLE IF EXISTS \"{role}\"")),
                );
                for sql in statements {
                    if let Err(error) = admin.batch_execute(&sql).await {
                        eprintln!(
                            "cleanup `{sql}` failed: {:?}",
                            error.as_db_error().map(|e| e.message())
                        );
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn connector() -> DefinedConnector<PostgresConnector> {
    DefinedConnector::new(PostgresConnector::default())
}

fn http() -> HttpClient {
    HttpClient::new(HttpConfig::default())
}

fn settings_with(allowed: Option<&str>) -> ConnectorSettings {
    let overrides = allowed
        .map(|hosts| HashMap::from([("ALLOWED_HOSTS".to_owned(), hosts.to_owned())]))
        .unwrap_or_default();
    ConnectorSettings::new(&PostgresConnector::SPEC, overrides)
}

/// Settings that allow the test server's host (how an admin allows a campus host).
fn allowed_settings() -> ConnectorSettings {
    settings_with(Some(&admin_host_port().0))
}

async fn check(
    settings: &ConnectorSettings,
    fields: Map<String, Value>,
) -> Result<NormalizedCredentials, ConnectorError> {
    connector()
        .test_credentials(settings, &http(), fields)
        .await
}

async fn run(
    db: &TestDb,
    user: &str,
    action: &str,
    params: Value,
) -> Result<Value, ConnectorError> {
    connector()
        .execute_action(action, &db.ctx(user), params)
        .await
        .map(|output| output.into_json().expect("a JSON result"))
}

async fn query(db: &TestDb, user: &str, sql: &str) -> Result<Value, ConnectorError> {
    run(db, user, "run_query", json!({ "sql": sql })).await
}

/// The `sql` field error's message, or a panic naming what came back instead.
fn sql_error(result: Result<Value, ConnectorError>) -> String {
    match result {
        Err(ConnectorError::InvalidInput {
            field: Some(field),
            message,
        }) if field == "sql" => message,
        other => panic!("expected InvalidInput on `sql`, got {other:?}"),
    }
}

fn field_error<T: std::fmt::Debug>(result: Result<T, ConnectorError>, expected: &str) -> String {
    match result {
        Err(ConnectorError::InvalidInput {
            field: Some(field),
            message,
        }) if field == expected => message,
        other => panic!("expected InvalidInput on `{expected}`, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Read-only escapes: refused, and the database is unchanged
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn several_statements_in_one_query_are_refused_and_nothing_changes() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let writer = db.writer().await;
    let before = db.fingerprint().await;
    for sql in [
        "SELECT 1; COMMIT; CREATE TABLE x(i int)",
        "COMMIT; CREATE TABLE x(i int)",
        "SELECT 1;; DELETE FROM students",
    ] {
        let message = sql_error(query(&db, &writer, sql).await);
        assert!(
            message.contains("only one SQL statement"),
            "{sql}: {message}"
        );
    }
    assert_eq!(db.fingerprint().await, before);
}

#[tokio::test]
async fn set_transaction_read_write_cannot_reopen_the_transaction_for_writes() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let writer = db.writer().await;
    let before = db.fingerprint().await;
    for sql in [
        "SET TRANSACTION READ WRITE",
        "SET TRANSACTION ISOLATION LEVEL READ COMMITTED READ WRITE",
        "SELECT set_config('transaction_read_only', 'off', true)",
        "INSERT INTO students (name) VALUES ('intruder')",
        "CREATE TABLE x (i int)",
        "CREATE TEMP TABLE x (i int)",
        "DO $$BEGIN SET TRANSACTION READ WRITE; CREATE TABLE x (i int); END$$",
        "TRUNCATE students",
    ] {
        let message = sql_error(query(&db, &writer, sql).await);
        assert!(
            message.starts_with("this connection is read-only: "),
            "{sql}: {message}"
        );
    }
    let message = sql_error(
        query(
            &db,
            &writer,
            "SET TRANSACTION READ WRITE; INSERT INTO students (name) VALUES ('intruder')",
        )
        .await,
    );
    assert!(message.contains("only one SQL statement"), "{message}");
    assert_eq!(db.fingerprint().await, before);
}

#[tokio::test]
async fn a_data_modifying_cte_is_rejected_by_the_database() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let writer = db.writer().await;
    let before = db.fingerprint().await;
    for sql in [
        "WITH gone AS (DELETE FROM students RETURNING *) SELECT count(*) FROM gone",
        "WITH moved AS (UPDATE students SET gpa = 4 RETURNING id) SELECT * FROM moved",
        "EXPLAIN ANALYZE DELETE FROM departments",
    ] {
        let message = sql_error(query(&db, &writer, sql).await);
        assert!(
            message.starts_with("this connection is read-only: "),
            "{sql}: {message}"
        );
        assert!(message.contains("read-only transaction"), "{message}");
    }
    assert_eq!(db.fingerprint().await, before);
}

#[tokio::test]
async fn a_commit_alone_is_refused_before_it_ends_the_transaction() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let writer = db.writer().await;
    let before = db.fingerprint().await;
    // Only queries run: a lone COMMIT (or ROLLBACK, or BEGIN) never reaches the server.
    for sql in ["COMMIT", "ROLLBACK", "BEGIN READ WRITE", "END"] {
        let message = sql_error(query(&db, &writer, sql).await);
        assert!(
            message.starts_with("this connection is read-only: only queries run here"),
            "{sql}: {message}"
        );
    }
    assert_eq!(db.fingerprint().await, before);
}

/// A role that owns table `owned` (and may therefore REINDEX, CLUSTER, ANALYZE and LOCK it).
async fn owner_of_a_table(db: &mut TestDb) -> String {
    let owner = db.role("owner", "", &[]).await;
    db.admin
        .batch_execute(&format!(
            "CREATE TABLE owned (id int PRIMARY KEY, v text);
             INSERT INTO owned SELECT g, 'row ' || g FROM generate_series(1, 100) g;
             ALTER TABLE owned OWNER TO \"{owner}\";"
        ))
        .await
        .expect("a table the role owns");
    owner
}

/// What PostgreSQL itself does with `sql` in a read-only transaction as `role`: `Ok` when
/// it runs (the transaction is rolled back either way).
async fn runs_read_only(db: &TestDb, role: &str, sql: &str) -> Result<(), String> {
    let admin = admin_connect(Some(&db.name)).await.expect("admin");
    admin
        .batch_execute(&format!("SET ROLE \"{role}\"; START TRANSACTION READ ONLY"))
        .await
        .expect("read-only transaction");
    let outcome = admin.batch_execute(sql).await.map_err(|e| {
        e.as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default()
    });
    let _ = admin.batch_execute("ROLLBACK").await;
    outcome
}

#[tokio::test]
async fn maintenance_and_notification_statements_that_read_only_allows_are_refused() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let owner = owner_of_a_table(&mut db).await;
    let allowed_by_postgres = [
        "REINDEX TABLE owned",
        "CLUSTER owned USING owned_pkey",
        "ANALYZE owned",
        "NOTIFY campus, 'hello'",
        "LISTEN campus",
        "LOCK TABLE owned IN ACCESS EXCLUSIVE MODE",
    ];
    // The premise: a read-only transaction alone lets all of these run (they lock, rewrite
    // or signal), so the transaction is not enough.
    for sql in allowed_by_postgres {
        assert_eq!(runs_read_only(&db, &owner, sql).await, Ok(()), "{sql}");
    }
    let before = db.fingerprint().await;
    for sql in allowed_by_postgres.into_iter().chain(["VACUUM owned"]) {
        let message = sql_error(query(&db, &owner, sql).await);
        let keyword = sql.split(' ').next().unwrap_or_default();
        assert!(
            message.starts_with("this connection is read-only: only queries run here")
                && message.contains(&format!("`{keyword}`")),
            "{sql}: {message}"
        );
    }
    assert_eq!(db.fingerprint().await, before);
}

#[tokio::test]
async fn select_for_update_cannot_lock_rows() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let writer = db.writer().await;
    for lock in ["UPDATE", "NO KEY UPDATE", "SHARE", "KEY SHARE"] {
        let sql = format!("SELECT * FROM students WHERE id = 1 FOR {lock}");
        let message = sql_error(query(&db, &writer, &sql).await);
        assert!(
            message.starts_with("this connection is read-only: ")
                && message.contains("read-only transaction"),
            "{sql}: {message}"
        );
    }
}

/// Advisory locks held in the test's database right now, by any session.
async fn advisory_locks(db: &TestDb) -> i64 {
    db.admin
        .query_one(
            // This test's database only: other tests take locks in theirs meanwhile.
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = $1)",
            &[&db.name],
        )
        .await
        .expect("pg_locks")
        .get(0)
}

#[tokio::test]
async fn advisory_locks_signals_and_sql_in_strings_are_refused_before_they_run() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let reader = db.reader.clone();
    // The premise: PostgreSQL grants advisory locks in a read-only transaction. (The
    // transaction-scoped kind, so the premise's own lock is gone once it rolls back: a
    // session-scoped one would linger until its connection's backend exits.)
    assert_eq!(
        runs_read_only(&db, &reader, "SELECT pg_advisory_xact_lock(4242)").await,
        Ok(())
    );
    let admin_pid: i32 = db
        .admin
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let locks = advisory_locks(&db).await;
    for sql in [
        "SELECT pg_advisory_lock(4242)".to_owned(),
        "SELECT pg_catalog.pg_try_advisory_xact_lock(4242)".to_owned(),
        "SELECT \"pg_advisory_lock_shared\"(4242)".to_owned(),
        "EXPLAIN ANALYZE SELECT pg_advisory_lock(4242)".to_owned(),
        "SELECT query_to_xml('SELECT pg_advisory_lock(4242)', true, false, '')".to_owned(),
        "SELECT pg_notify('campus', 'hello')".to_owned(),
        format!("SELECT pg_terminate_backend({admin_pid})"),
        format!("SELECT pg_cancel_backend({admin_pid})"),
    ] {
        let message = sql_error(query(&db, &reader, &sql).await);
        assert!(
            message.starts_with("this connection is read-only: ")
                && message.contains("acts outside the query"),
            "{sql}: {message}"
        );
    }
    assert_eq!(advisory_locks(&db).await, locks, "no lock was taken");
    db.admin
        .query_one("SELECT 1", &[])
        .await
        .expect("the other session was not signalled");
    // The names in strings and comments are only text.
    let result = query(
        &db,
        &reader,
        "SELECT 'pg_advisory_lock(1)' AS said /* pg_terminate_backend */",
    )
    .await
    .expect("a query that only mentions them");
    assert_eq!(result["rows"], json!([["pg_advisory_lock(1)"]]));
}

#[tokio::test]
async fn roles_that_can_use_dblink_server_files_or_signals_are_refused() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    // dblink opens its own connections, outside the read-only transaction; installing it
    // grants its functions to PUBLIC.
    db.admin
        .batch_execute("CREATE EXTENSION dblink")
        .await
        .expect("dblink is available on the test server");
    let message = field_error(
        check(&allowed_settings(), db.fields(&db.reader)).await,
        "user",
    );
    assert!(
        message.contains("dblink_connect") && message.contains("dblink_exec"),
        "{message}"
    );
    let result = run(&db, &db.reader, "list_schemas", json!({})).await;
    assert!(
        matches!(&result, Err(ConnectorError::PermissionDenied { message }) if message.contains("dblink")),
        "a stored connection is refused by its next action too: {result:?}"
    );
    // With EXECUTE revoked the same role is fine.
    db.admin
        .batch_execute(
            "DO $$DECLARE f regprocedure; BEGIN
               FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                        JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'dblink'
               LOOP EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f); END LOOP;
             END$$",
        )
        .await
        .expect("revoke dblink from PUBLIC");
    check(&allowed_settings(), db.fields(&db.reader))
        .await
        .expect("the reader connects once dblink is revoked");

    for (grant, named) in [
        (
            "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_file(text) TO {role}",
            "pg_read_file",
        ),
        (
            "GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text) TO {role}",
            "pg_ls_dir",
        ),
        (
            "GRANT EXECUTE ON FUNCTION pg_catalog.lo_import(text) TO {role}",
            "lo_import",
        ),
        (
            "GRANT EXECUTE ON FUNCTION pg_catalog.lo_export(oid, text) TO {role}",
            "lo_export",
        ),
        (
            "GRANT EXECUTE ON FUNCTION pg_catalog.pg_reload_conf() TO {role}",
            "pg_reload_conf",
        ),
        (
            "GRANT EXECUTE ON FUNCTION dblink_exec(text) TO {role}",
            "dblink_exec",
        ),
        ("GRANT pg_signal_backend TO {role}", "pg_signal_backend"),
    ] {
        let role = db.role("reach", "", &[grant]).await;
        let message = field_error(check(&allowed_settings(), db.fields(&role)).await, "user");
        assert!(message.contains(named), "{grant}: {message}");
        assert!(!message.contains(PASSWORD));
    }
}

#[tokio::test]
async fn session_settings_do_not_carry_over_to_the_next_action() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let reader = db.reader.clone();
    query(
        &db,
        &reader,
        "SELECT set_config('application_name', 'changed', false)",
    )
    .await
    .expect("set_config on the session");
    let next = query(&db, &reader, "SELECT current_setting('application_name')")
        .await
        .expect("query");
    assert_eq!(next["rows"], json!([["campuscore"]]));
}

// ---------------------------------------------------------------------------------------
// Timeouts and caps
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn pg_sleep_past_the_timeout_is_cancelled_with_a_clear_message() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let started = Instant::now();
    let result = run(
        &db,
        &db.reader,
        "run_query",
        json!({"sql": "SELECT pg_sleep(10)", "timeout_seconds": 1}),
    )
    .await;
    assert_eq!(
        sql_error(result),
        "the query took longer than 1 s and was cancelled"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_huge_result_stops_at_the_row_cap() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let started = Instant::now();
    // In the select list, generate_series streams (in FROM it would materialize first).
    let result = query(&db, &db.reader, "SELECT generate_series(1, 100000000) AS g")
        .await
        .expect("query");
    assert_eq!(result["row_count"], 1000);
    assert_eq!(result["rows"].as_array().map(Vec::len), Some(1000));
    assert_eq!(result["rows"][999], json!([1000]));
    assert_eq!(result["truncated"], true);
    assert_eq!(result["truncated_reason"], "row_limit");
    assert!(
        result["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("first 1000 rows")),
        "{}",
        result["notes"]
    );
    // The portal stops the server too: a hundred million rows are never produced.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let custom = run(
        &db,
        &db.reader,
        "run_query",
        json!({"sql": "SELECT g FROM generate_series(1, 10) g", "max_rows": 3}),
    )
    .await
    .expect("query");
    assert_eq!(custom["rows"], json!([[1], [2], [3]]));
    assert_eq!(custom["truncated_reason"], "row_limit");

    let exact = run(
        &db,
        &db.reader,
        "run_query",
        json!({"sql": "SELECT g FROM generate_series(1, 3) g", "max_rows": 3}),
    )
    .await
    .expect("query");
    assert_eq!(exact["truncated"], false);
    assert_eq!(exact["truncated_reason"], Value::Null);

    let too_many = run(
        &db,
        &db.reader,
        "run_query",
        json!({"sql": "SELECT 1", "max_rows": 10001}),
    )
    .await;
    field_error(too_many, "max_rows");
}

#[tokio::test]
async fn a_wide_result_stops_at_the_byte_cap() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let result = query(
        &db,
        &db.reader,
        "SELECT g, repeat('x', 100000) AS filler FROM generate_series(1, 500) g",
    )
    .await
    .expect("query");
    assert_eq!(result["truncated"], true);
    assert_eq!(result["truncated_reason"], "byte_limit");
    let rows = result["row_count"].as_u64().expect("row_count");
    assert!((40..=53).contains(&rows), "{rows} rows");
    let size = serde_json::to_vec(&result["rows"])
        .expect("serializes")
        .len();
    assert!(size <= 5 << 20, "{size} bytes");
}

#[tokio::test]
async fn a_single_enormous_value_is_refused_not_buffered() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let message = sql_error(query(&db, &db.reader, "SELECT repeat('x', 48 * 1024 * 1024)").await);
    assert!(message.contains("too large"), "{message}");
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn values_of_common_types_come_back_as_readable_json() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let result = query(
        &db,
        &db.reader,
        "SELECT 1::int2 AS small, 2::int4 AS int, 9007199254740993::int8 AS big,
                1.5::float8 AS float, 'NaN'::float4 AS nan, 12345678901234567890.123::numeric AS exact,
                true AS yes, 'héllo'::text AS text, 'ab'::char(3) AS padded, NULL::text AS nothing,
                DATE '2024-02-29' AS day, TIMESTAMP '2024-02-29 13:45:01.25' AS local,
                TIMESTAMPTZ '2024-02-29 13:45:01+02' AS instant, TIME '08:30' AS at,
                INTERVAL '1 year 2 months 3 days 04:05:06' AS span,
                'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id,
                '{\"b\": [1, 2], \"a\": 10000000000000000001}'::jsonb AS doc,
                ARRAY[[1, 2], [3, NULL]] AS grid, ARRAY['x', 'y'] AS tags,
                '\\xdeadbeef'::bytea AS blob, '192.168.0.1/24'::inet AS net,
                ROW(1, 'a') AS pair, 'fat cat'::tsvector AS words,
                int4range(1, 5) AS range, 'departments'::regclass::oid::int > 0 AS has_oid,
                s AS student
         FROM students s WHERE s.id = 2",
    )
    .await
    .expect("query");
    let names: Vec<_> = result["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["name"].as_str().unwrap_or(""),
                c["type"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(names[0], "small:int2");
    assert_eq!(names[17], "grid:int4[]");
    assert_eq!(
        result["rows"][0],
        json!([
            1,
            2,
            9_007_199_254_740_993i64,
            1.5,
            "NaN",
            "12345678901234567890.123",
            true,
            "héllo",
            "ab ",
            null,
            "2024-02-29",
            "2024-02-29T13:45:01.250",
            "2024-02-29T11:45:01Z",
            "08:30:00",
            "1 year 2 mons 3 days 04:05:06",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "{\"a\": 10000000000000000001, \"b\": [1, 2]}",
            [[1, 2], [3, null]],
            ["x", "y"],
            "\\xdeadbeef",
            "192.168.0.1/24",
            [1, "a"],
            null,
            "[1,5)",
            true,
            {"id": 2, "name": "student 2", "department_id": 1, "enrolled": "2024-09-01", "gpa": "3.25"}
        ])
    );
    let notes = result["notes"].to_string();
    assert!(notes.contains("`words` has type tsvector"), "{notes}");
    assert!(notes.contains("words::text"), "{notes}");
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn syntax_errors_quote_postgres_with_the_position() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let message = sql_error(query(&db, &db.reader, "SELECT *\nFORM students").await);
    assert_eq!(
        message,
        "syntax error at or near \"FORM\" (line 2, column 1)"
    );
    let message = sql_error(query(&db, &db.reader, "SELECT nope FROM students").await);
    assert!(
        message.starts_with("column \"nope\" does not exist (line 1, column 8)"),
        "{message}"
    );
    let message = sql_error(query(&db, &db.reader, "SELECT $1").await);
    assert!(message.contains("parameters"), "{message}");
    let message = sql_error(query(&db, &db.reader, " ; ").await);
    assert_eq!(message, "enter an SQL statement");
    let oids = query(&db, &db.reader, "SELECT 'departments'::regclass AS rel")
        .await
        .expect("query");
    assert!(oids["rows"][0][0].is_u64(), "{oids}");
    assert!(
        oids["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("rel::text")),
        "{oids}"
    );
    let message = sql_error(query(&db, &db.reader, "SELECT 1/0").await);
    assert_eq!(message, "division by zero");
    let message = sql_error(query(&db, &db.reader, "COPY departments TO STDOUT").await);
    assert!(
        message.contains("only queries run here") && message.contains("`COPY`"),
        "{message}"
    );
}

#[tokio::test]
async fn tables_without_a_grant_are_permission_denied() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let result = query(&db, &db.reader, "SELECT * FROM secrets").await;
    assert!(
        matches!(&result, Err(ConnectorError::PermissionDenied { message }) if message == "permission denied for table secrets"),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unknown_database_is_reported_on_the_database_field() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let mut fields = db.fields(&db.reader);
    fields.insert("database".into(), json!("no_such_db_here"));
    let message = field_error(check(&allowed_settings(), fields).await, "database");
    assert_eq!(message, "database `no_such_db_here` does not exist");
}

/// A server that asks for a clear-text password and refuses it, as PostgreSQL does
/// (`28P01`). Returns its port and the passwords it was sent.
async fn password_refusing_server() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (seen, passwords) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let len = socket.read_i32().await.expect("startup length");
                let mut startup = vec![0; usize::try_from(len - 4).expect("length")];
                socket.read_exact(&mut startup).await.expect("startup");
                socket
                    .write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])
                    .await
                    .expect("ask for the password");
                assert_eq!(socket.read_u8().await.expect("tag"), b'p');
                let len = socket.read_i32().await.expect("length");
                let mut password = vec![0; usize::try_from(len - 4).expect("length")];
                socket.read_exact(&mut password).await.expect("password");
                let _ = seen.send(
                    String::from_utf8_lossy(&password)
                        .trim_end_matches('\0')
                        .to_owned(),
                );
                let mut body = Vec::new();
                for (code, text) in [
                    (b'S', "FATAL"),
                    (b'V', "FATAL"),
                    (b'C', "28P01"),
                    (b'M', "password authentication failed for user \"alice\""),
                ] {
                    body.push(code);
                    body.extend(text.as_bytes());
                    body.push(0);
                }
                body.push(0);
                let mut message = vec![b'E'];
                message.extend(i32::try_from(body.len() + 4).expect("length").to_be_bytes());
                message.extend(body);
                socket.write_all(&message).await.expect("error response");
            });
        }
    });
    (port, passwords)
}

fn fake_fields(port: u16, password: &str) -> Map<String, Value> {
    json!({
        "host": "127.0.0.1", "port": port, "database": "campus", "user": "alice",
        "password": password, "sslmode": "disable",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

#[tokio::test]
async fn a_wrong_password_is_reported_on_the_password_field_without_echoing_it() {
    let (port, mut passwords) = password_refusing_server().await;
    let result = check(
        &settings_with(Some("127.0.0.1")),
        fake_fields(port, "hunter2-secret"),
    )
    .await;
    let message = field_error(result, "password");
    assert_eq!(message, "PostgreSQL rejected the password for user `alice`");
    assert_eq!(passwords.recv().await.as_deref(), Some("hunter2-secret"));
}

#[tokio::test]
async fn stored_credentials_that_stop_working_ask_the_user_to_reconnect() {
    let (port, _passwords) = password_refusing_server().await;
    let ctx = ActionContext::new(
        Credentials::new(Value::Object(fake_fields(port, "old-password"))),
        settings_with(Some("127.0.0.1")),
        http(),
    );
    let result = connector()
        .execute_action("list_schemas", &ctx, Value::Null)
        .await;
    match result {
        Err(error @ ConnectorError::AuthExpired { .. }) => {
            assert!(!error.to_string().contains("old-password"));
        }
        other => panic!("expected AuthExpired, got {other:?}"),
    }
}

#[tokio::test]
async fn nothing_listening_is_a_host_error_at_connect_and_a_transport_error_later() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let message = field_error(
        check(&settings_with(Some("127.0.0.1")), fake_fields(port, "pw")).await,
        "host",
    );
    assert!(message.contains("connection was refused"), "{message}");
    let ctx = ActionContext::new(
        Credentials::new(Value::Object(fake_fields(port, "pw"))),
        settings_with(Some("127.0.0.1")),
        http(),
    );
    let result = connector()
        .execute_action("list_tables", &ctx, json!({}))
        .await;
    assert!(
        matches!(result, Err(ConnectorError::Transport { .. })),
        "{result:?}"
    );
}

#[test]
fn parameters_debug_output_hides_the_password() {
    let params = PgParams::from_fields(&fake_fields(5432, "hunter2-secret")).expect("valid");
    let shown = format!("{params:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("alice"));
    assert_eq!(params.identity(), "alice@127.0.0.1/campus");
}

#[test]
fn form_values_are_checked_field_by_field() {
    let with = |key: &str, value: Value| {
        let mut fields = fake_fields(5432, "pw");
        fields.insert(key.to_owned(), value);
        PgParams::from_fields(&fields)
    };
    field_error(with("port", json!(70000)), "port");
    field_error(with("port", json!("five")), "port");
    field_error(with("sslmode", json!("prefer")), "sslmode");
    field_error(with("database", json!("  ")), "database");
    field_error(with("user", json!("a\0b")), "user");
    let defaults = with("port", Value::Null).expect("valid");
    assert_eq!(defaults.port, 5432);
    let mut fields = fake_fields(5432, "pw");
    fields.remove("sslmode");
    let params = PgParams::from_fields(&fields).expect("valid");
    assert_eq!(params.to_credentials()["sslmode"], "verify-full");
    assert_eq!(params.to_credentials()["port"], 5432);
}

// ---------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn superusers_are_refused() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let superuser = db.role("super", "SUPERUSER", &[]).await;
    let message = field_error(
        check(&allowed_settings(), db.fields(&superuser)).await,
        "user",
    );
    assert!(message.contains("is a superuser"), "{message}");
    assert!(!message.contains(PASSWORD));
}

#[tokio::test]
async fn roles_that_reach_server_files_or_can_become_superuser_are_refused() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    for server_role in [
        "pg_read_server_files",
        "pg_write_server_files",
        "pg_execute_server_program",
    ] {
        let role = db
            .role("files", "", &[&format!("GRANT {server_role} TO {{role}}")])
            .await;
        let message = field_error(check(&allowed_settings(), db.fields(&role)).await, "user");
        assert!(message.contains(server_role), "{message}");
    }
    let boss = db.role("boss", "SUPERUSER", &[]).await;
    let climber = db
        .role(
            "climber",
            "NOINHERIT",
            &[&format!("GRANT \"{boss}\" TO {{role}}")],
        )
        .await;
    let message = field_error(
        check(&allowed_settings(), db.fields(&climber)).await,
        "user",
    );
    assert!(
        message.contains("can switch to the superuser role"),
        "{message}"
    );
}

#[tokio::test]
async fn a_role_promoted_after_connecting_is_refused_by_the_next_action() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    check(&allowed_settings(), db.fields(&db.reader))
        .await
        .expect("the reader connects");
    db.admin
        .batch_execute(&format!("GRANT pg_read_server_files TO \"{}\"", db.reader))
        .await
        .expect("grant");
    let result = run(&db, &db.reader, "list_schemas", json!({})).await;
    assert!(
        matches!(&result, Err(ConnectorError::PermissionDenied { message }) if message.contains("pg_read_server_files")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_read_only_role_connects_cleanly_and_a_writer_gets_a_warning() {
    let Some(mut db) = TestDb::create().await else {
        return;
    };
    let (host, port) = admin_host_port();
    let reader = db.reader.clone();
    let checked = check(&allowed_settings(), db.fields(&reader))
        .await
        .expect("the reader connects");
    assert_eq!(checked.warnings, Vec::<String>::new());
    assert_eq!(
        checked.identity,
        Some(format!("{reader}@{host}/{}", db.name))
    );
    assert_eq!(
        checked.credentials,
        json!({"host": host, "port": port, "database": db.name, "user": reader,
               "password": PASSWORD, "sslmode": "disable"})
    );

    let writer = db.writer().await;
    let checked = check(&allowed_settings(), db.fields(&writer))
        .await
        .expect("a writer may connect");
    assert_eq!(checked.warnings.len(), 1);
    let warning = &checked.warnings[0];
    assert!(warning.contains("can change data"), "{warning}");
    assert!(warning.contains("write to tables"), "{warning}");
    assert!(warning.contains("create objects in a schema"), "{warning}");
    assert!(warning.contains("role that can only read"), "{warning}");
}

// ---------------------------------------------------------------------------------------
// Catalog actions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn list_schemas_lists_user_schemas_and_system_ones_on_request() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let result = run(&db, &db.reader, "list_schemas", json!({}))
        .await
        .expect("list_schemas");
    let names: Vec<_> = result["schemas"]
        .as_array()
        .expect("schemas")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["archive", "public"]);
    assert_eq!(result["schemas"][1]["can_use"], true);
    assert_eq!(result["schemas"][0]["can_use"], false);
    let all = run(
        &db,
        &db.reader,
        "list_schemas",
        json!({"include_system": true}),
    )
    .await
    .expect("list_schemas");
    let text = all.to_string();
    assert!(text.contains("\"pg_catalog\"") && text.contains("information_schema"));
    assert!(!text.contains("pg_toast"));
}

#[tokio::test]
async fn list_tables_shows_kinds_and_row_estimates_after_analyze() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let result = run(&db, &db.reader, "list_tables", json!({"schema": "public"}))
        .await
        .expect("list_tables");
    let tables = result["tables"].as_array().expect("tables");
    let by_name = |name: &str| {
        tables
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed in {result}"))
    };
    let students = by_name("students");
    assert_eq!(students["kind"], "table");
    assert_eq!(students["row_estimate"], 50);
    assert_eq!(students["can_select"], true);
    assert_eq!(students["comment"], "Enrolled students");
    assert_eq!(by_name("physics")["kind"], "view");
    assert_eq!(by_name("physics")["row_estimate"], Value::Null);
    assert_eq!(by_name("secrets")["can_select"], false);
    assert_eq!(result["truncated"], false);
    let everything = run(&db, &db.reader, "list_tables", json!({}))
        .await
        .expect("list_tables");
    assert_eq!(everything["tables"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn describe_table_reports_columns_types_and_keys() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let result = run(
        &db,
        &db.reader,
        "describe_table",
        json!({"table": "students"}),
    )
    .await
    .expect("describe_table");
    assert_eq!(result["kind"], "table");
    assert_eq!(result["row_estimate"], 50);
    let columns: Vec<_> = result["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["name"].as_str().unwrap_or(""),
                c["type"].as_str().unwrap_or(""),
                c["nullable"]
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            "id integer false",
            "name text false",
            "department_id integer true",
            "enrolled date true",
            "gpa numeric(3,2) true"
        ]
    );
    assert_eq!(
        result["columns"][0]["default"],
        "nextval('students_id_seq'::regclass)"
    );
    assert_eq!(
        result["primary_key"],
        json!({"name": "students_pkey", "columns": ["id"]})
    );
    assert_eq!(
        result["foreign_keys"],
        json!([{
            "name": "students_department_id_fkey",
            "columns": ["department_id"],
            "references_schema": "public",
            "references_table": "departments",
            "references_columns": ["id"],
            "on_update": "no action",
            "on_delete": "cascade",
        }])
    );
    let departments = run(
        &db,
        &db.reader,
        "describe_table",
        json!({"schema": "public", "table": "departments"}),
    )
    .await
    .expect("describe_table");
    assert_eq!(
        departments["unique_keys"],
        json!([{"name": "departments_name_key", "columns": ["name"]}])
    );
    let missing = run(
        &db,
        &db.reader,
        "describe_table",
        json!({"table": "Students"}),
    )
    .await;
    assert!(
        matches!(missing, Err(ConnectorError::NotFound { .. })),
        "{missing:?}"
    );
}

// ---------------------------------------------------------------------------------------
// SSRF and TLS
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn without_allowed_hosts_loopback_and_private_hosts_are_refused() {
    for host in [
        "127.0.0.1",
        "localhost",
        "2130706433",
        "0x7f.0.0.1",
        "[::ffff:127.0.0.1]",
        "169.254.169.254",
        "10.1.2.3",
    ] {
        let mut fields = fake_fields(5432, "pw");
        fields.insert("host".into(), json!(host));
        let message = field_error(check(&settings_with(None), fields).await, "host");
        assert!(
            message.contains("ask an administrator"),
            "{host}: {message}"
        );
    }
}

#[tokio::test]
async fn allowed_hosts_lets_an_admin_open_a_campus_host() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let refused = check(&settings_with(None), db.fields(&db.reader)).await;
    field_error(refused, "host");
    let refused_action = connector()
        .execute_action(
            "list_schemas",
            &ActionContext::new(
                Credentials::new(Value::Object(db.fields(&db.reader))),
                settings_with(None),
                http(),
            ),
            json!({}),
        )
        .await;
    assert!(
        matches!(refused_action, Err(ConnectorError::InvalidInput { .. })),
        "{refused_action:?}"
    );
    check(&allowed_settings(), db.fields(&db.reader))
        .await
        .expect("allowed");
}

async fn server_has_tls(db: &TestDb) -> bool {
    let row = db.admin.query_one("SHOW ssl", &[]).await.expect("SHOW ssl");
    let on = row.get::<_, String>(0) == "on";
    if !on {
        campuscore_test_peers::unavailable(
            campuscore_test_peers::Peer::Postgres,
            "the postgres connector's TLS tests",
            "the test server has ssl = off",
        );
    }
    on
}

#[tokio::test]
async fn sslmode_require_encrypts_the_connection() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !server_has_tls(&db).await {
        return;
    }
    let mut fields = db.fields(&db.reader);
    fields.insert("sslmode".into(), json!("require"));
    let ctx = ActionContext::new(
        Credentials::new(Value::Object(fields)),
        allowed_settings(),
        http(),
    );
    let result = connector()
        .execute_action(
            "run_query",
            &ctx,
            json!({"sql": "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"}),
        )
        .await
        .expect("query over TLS")
        .into_json()
        .expect("json");
    assert_eq!(result["rows"], json!([[true]]));
}

#[tokio::test]
async fn sslmode_verify_full_refuses_an_untrusted_certificate_and_names_require() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    if !server_has_tls(&db).await {
        return;
    }
    let mut fields = db.fields(&db.reader);
    fields.insert("sslmode".into(), json!("verify-full"));
    let message = field_error(check(&allowed_settings(), fields).await, "sslmode");
    assert!(message.contains("could not be verified"), "{message}");
    assert!(message.contains("`require`"), "{message}");
}

// ---------------------------------------------------------------------------------------
// Catalog and latency
// ---------------------------------------------------------------------------------------

#[test]
fn every_action_is_a_documented_read() {
    let connector = connector();
    let names: Vec<_> = connector.actions().iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        ["list_schemas", "list_tables", "describe_table", "run_query"]
    );
    assert!(connector.actions().iter().all(|a| a.tags == [Tag::Read]));
    let run_query = connector.action("run_query").expect("run_query");
    assert_eq!(run_query.input_schema["required"], json!(["sql"]));
    let spec = connector.spec();
    let fields: Vec<_> = spec.form.iter().map(|f| f.name).collect();
    assert_eq!(
        fields,
        ["host", "port", "database", "user", "password", "sslmode"]
    );
    assert_eq!(spec.secret_form_fields(), ["password"]);
    assert_eq!(
        spec.config_keys.iter().map(|k| k.key).collect::<Vec<_>>(),
        ["ALLOWED_HOSTS"]
    );
}

#[tokio::test]
async fn connect_and_query_latency_is_small() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    // One context and connector, as the app keeps them (building an HttpClient loads the
    // platform's root certificates, which would dominate the measurement).
    let (connector, ctx) = (connector(), db.ctx(&db.reader));
    let sql = json!({"sql": "SELECT 1"});
    // The first connections to a new database build its catalog caches: warm up.
    for _ in 0..3 {
        connector
            .execute_action("run_query", &ctx, sql.clone())
            .await
            .expect("query");
    }
    let mut timings = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        connector
            .execute_action("run_query", &ctx, sql.clone())
            .await
            .expect("query");
        timings.push(started.elapsed());
    }
    timings.sort();
    let total: Duration = timings.iter().sum();
    eprintln!(
        "postgres connect + read-only transaction + SELECT 1 + close, 20 runs: \
         mean {:?}, median {:?}, max {:?}",
        total / 20,
        timings[10],
        timings[19]
    );
    assert!(timings[10] < Duration::from_millis(100), "{timings:?}");
    if server_has_tls(&db).await {
        let mut fields = db.fields(&db.reader);
        fields.insert("sslmode".into(), json!("require"));
        let ctx = ActionContext::new(
            Credentials::new(Value::Object(fields)),
            allowed_settings(),
            http(),
        );
        let mut timings = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            connector
                .execute_action("run_query", &ctx, sql.clone())
                .await
                .expect("query");
            timings.push(started.elapsed());
        }
        timings.sort();
        eprintln!(
            "the same over TLS (sslmode=require), 20 runs: median {:?}, max {:?}",
            timings[10], timings[19]
        );
    }
}
