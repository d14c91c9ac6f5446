//! The PostgreSQL connector from the browser: connect with the form, then query in the
//! console (HTMX result table), against a real PostgreSQL database and a read-only role.

use crate::helpers::{TestApp, spawn_app};
use campuscore_testkit::postgres::pg_admin_url;
use sea_orm::{ConnectionTrait, Database};

/// A throwaway database with a table and a login role that may only read it.
pub struct Target {
    database: String,
    role: String,
    password: String,
}

impl Target {
    pub async fn create() -> Option<Self> {
        let admin = match Database::connect(&pg_admin_url()).await {
            Ok(admin) => admin,
            Err(e) => {
                campuscore_test_peers::unavailable(
                    campuscore_test_peers::Peer::Postgres,
                    "the query console and MCP tests on a PostgreSQL target",
                    &format!("not reachable at CAMPUSCORE_TEST_PG_URL: {e}"),
                );
                return None;
            }
        };
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let target = Self {
            database: format!("cc_query_{suffix}"),
            role: format!("cc_reader_{suffix}"),
            password: format!("pw-{suffix}"),
        };
        for sql in [
            format!("CREATE DATABASE \"{}\"", target.database),
            format!(
                "CREATE ROLE \"{}\" LOGIN PASSWORD '{}'",
                target.role, target.password
            ),
        ] {
            admin.execute_unprepared(&sql).await.expect("set up");
        }
        admin.close().await.expect("close");
        let db = Database::connect(&target.url()).await.expect("target db");
        db.execute_unprepared(&format!(
            "CREATE TABLE courses (id int PRIMARY KEY, title text, seats int);
             INSERT INTO courses VALUES (1, 'Databases <101>', 30), (2, 'Compilers', NULL);
             ANALYZE courses;
             GRANT SELECT ON courses TO \"{}\";",
            target.role
        ))
        .await
        .expect("seed");
        db.close().await.expect("close");
        Some(target)
    }

    pub fn url(&self) -> String {
        let admin = pg_admin_url();
        let base = admin
            .rsplit_once('/')
            .map_or(admin.clone(), |(b, _)| b.to_owned());
        format!("{base}/{}", self.database)
    }

    async fn row_count(&self) -> i64 {
        let db = Database::connect(&self.url()).await.expect("target db");
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) AS n FROM courses",
            ))
            .await
            .expect("count")
            .expect("a row");
        let n: i64 = row.try_get("", "n").expect("n");
        db.close().await.expect("close");
        n
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let (database, role) = (self.database.clone(), self.role.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(db) = Database::connect(&pg_admin_url()).await {
                    let _ = db
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = db
                        .execute_unprepared(&format!("DROP ROLE IF EXISTS \"{role}\""))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Connects `target` through the settings form; returns the connection id.
pub async fn connect(app: &TestApp, target: &Target) -> i64 {
    app.set_config("postgres", "ALLOWED_HOSTS", "127.0.0.1")
        .await;
    // The server `CAMPUSCORE_TEST_PG_URL` names (`cargo xtask test` runs its own on a free port).
    let port = url::Url::parse(&pg_admin_url())
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(5432)
        .to_string();
    let res = app
        .post_form(
            "/settings/connect/postgres",
            "/settings/connect/postgres",
            &[
                ("host", "127.0.0.1"),
                ("port", &port),
                ("database", &target.database),
                ("user", &target.role),
                ("password", &target.password),
                ("sslmode", "disable"),
            ],
        )
        .await;
    let status = res.status();
    let body = res.text().await.expect("body");
    assert_eq!(status, 303, "{body}");
    let settings = app.get_text("/settings").await;
    let id = settings
        .split("/settings/connections/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| id.parse::<i64>().ok())
        .expect("a connection row on /settings");
    assert!(
        settings.contains(&format!("/settings/connections/{id}/query")),
        "the row offers the query console"
    );
    id
}

async fn run_query(app: &TestApp, id: i64, sql: &str) -> (u16, String) {
    let csrf = app.csrf("/settings").await;
    let res = app
        .client
        .post(app.url(&format!("/settings/connections/{id}/query")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", csrf)
        .form(&[("sql", sql)])
        .send()
        .await
        .expect("query");
    (res.status().as_u16(), res.text().await.expect("body"))
}

#[tokio::test]
async fn a_read_only_role_connects_and_queries_render_as_a_table() {
    let Some(target) = Target::create().await else {
        return;
    };
    let app = spawn_app().await;
    app.logged_in_user("ada@campus.test").await;
    let id = connect(&app, &target).await;

    let page = app
        .get_text(&format!("/settings/connections/{id}/query"))
        .await;
    assert!(page.contains("public.courses"), "tables are listed");

    let (status, html) =
        run_query(&app, id, "SELECT id, title, seats FROM courses ORDER BY id").await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("<html"), "a fragment, not a page");
    assert!(html.contains("2 rows"), "{html}");
    assert!(html.contains("<th scope=\"col\">title"), "{html}");
    assert!(
        html.contains("Databases &#60;101&#62;"),
        "values are escaped: {html}"
    );
    assert!(
        html.contains("class=\"null\">NULL"),
        "NULL is shown as such: {html}"
    );

    let (status, html) = run_query(&app, id, "SELEC 1").await;
    assert_eq!(status, 422);
    assert!(
        html.contains("syntax error"),
        "PostgreSQL's message: {html}"
    );

    for escape in [
        "DELETE FROM courses",
        "SELECT 1; COMMIT; CREATE TABLE x(i int)",
        "WITH gone AS (DELETE FROM courses RETURNING *) SELECT count(*) FROM gone",
    ] {
        let (status, html) = run_query(&app, id, escape).await;
        assert_eq!(status, 422, "{escape}: {html}");
        assert!(html.contains("flash-error"), "{escape}: {html}");
    }
    assert_eq!(target.row_count().await, 2, "the database is unchanged");

    let (status, _) = run_query(&app, id, "   ").await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn another_users_console_is_not_found() {
    let Some(target) = Target::create().await else {
        return;
    };
    let app = spawn_app().await;
    app.logged_in_user("ada@campus.test").await;
    let id = connect(&app, &target).await;

    let bob = app.other_browser();
    bob.logged_in_user("bob@campus.test").await;
    let res = bob.get(&format!("/settings/connections/{id}/query")).await;
    assert_eq!(res.status(), 404);
    let (status, _) = run_query(&bob, id, "SELECT 1").await;
    assert_eq!(status, 404);
}
