//! Throw-away PostgreSQL databases for tests and benchmarks: one uniquely named database per
//! test on the server `CAMPUSCORE_TEST_PG_URL` names (default: the local `postgres` user
//! over TCP), and dropped again — open connections and all — by its owner when done.

use sea_orm::{ConnectionTrait, Database};

/// The maintenance database tests create their databases from.
pub fn pg_admin_url() -> String {
    std::env::var("CAMPUSCORE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether the tests run on PostgreSQL (`CAMPUSCORE_TEST_DB=postgres`) rather than SQLite.
pub fn use_postgres() -> bool {
    std::env::var("CAMPUSCORE_TEST_DB").is_ok_and(|v| v == "postgres")
}

/// Create a uniquely named PostgreSQL database and return (name, url).
pub async fn create_pg_database() -> anyhow::Result<(String, String)> {
    let admin = pg_admin_url();
    let name = format!("cc_test_{}", uuid::Uuid::new_v4().simple());
    let db = Database::connect(&admin).await?;
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    db.close().await?;
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin);
    Ok((name.clone(), format!("{base}/{name}")))
}

/// Drops database `name`, even from inside a Tokio runtime (it runs on its own thread) and
/// while connections to it remain; errors are ignored, as there is nothing left to do.
pub fn drop_pg_database(name: &str) {
    let name = name.to_owned();
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(db) = Database::connect(&pg_admin_url()).await {
                let _ = db
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                let _ = db.close().await;
            }
        });
    })
    .join();
}
