//! Benchmark of the admin audit-log page at a million rows (issue 6): seeds
//! `connector_audit_log` with `--rows` rows (default 1,000,000) spread over 30 days, starts
//! the real application on a random port, logs in as an administrator, and times over HTTP:
//!
//! - the first page (`/admin/audit/`),
//! - a deep page (a keyset cursor ~90 % of the way down: `?before=…`),
//! - filtered queries (user + status; connector + date range; action + status),
//! - a free-text search,
//! - the CSV export's first megabyte, and the whole export once (rows streamed).
//!
//! Run (release build; see bench/README.md):
//!
//!     cargo bench --bench audit_log -- --db sqlite
//!     cargo bench --bench audit_log -- --db postgres   # CAMPUSCORE_TEST_PG_URL
//!
//! `harness = false`: `cargo test` never builds or runs it.

use anyhow::{Context, Result, bail};
use campuscore::models::entities::{connector_audit_log, user};
use campuscore::services::secrets::Keyring;
use campuscore::{Application, Settings};
use chrono::{Duration, Utc};
use futures_util::StreamExt;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, QuerySelect,
    TransactionTrait,
};
use std::collections::HashMap;
use std::net::TcpListener;
use std::time::Instant;

const CONNECTORS: [&str; 6] = [
    "test-echo",
    "test-oauth",
    "google-drive",
    "onedrive",
    "canvas",
    "servicenow",
];
const ACTIONS: [&str; 6] = [
    "echo",
    "list_files",
    "download_file",
    "connection.connect",
    "connection.test",
    "run_query",
];
const USERS: usize = 200;
const PASSWORD: &str = "a long enough password";

struct Args {
    db: String,
    rows: usize,
    iterations: usize,
}

fn args() -> Result<Args> {
    let mut a = Args {
        db: "sqlite".into(),
        rows: 1_000_000,
        iterations: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--db" => a.db = it.next().context("--db sqlite|postgres")?,
            "--rows" => a.rows = it.next().context("--rows N")?.parse()?,
            "--iterations" => a.iterations = it.next().context("--iterations N")?.parse()?,
            "--bench" => {} // cargo bench passes this
            other => {
                bail!("unknown argument {other}; use --db sqlite|postgres --rows N --iterations N")
            }
        }
    }
    if !matches!(a.db.as_str(), "sqlite" | "postgres") {
        bail!("--db must be sqlite or postgres");
    }
    Ok(a)
}

/// A small deterministic generator (xorshift), so runs seed the same rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

async fn seed_users(db: &DatabaseConnection) -> Result<Vec<i64>> {
    let hash = campuscore::crypto::password::hash(PASSWORD).await?;
    let now = Utc::now();
    let rows: Vec<user::ActiveModel> = (0..USERS)
        .map(|i| user::ActiveModel {
            email: Set(format!("user{i:04}@campus.edu")),
            display_name: Set(format!("User {i}")),
            password_hash: Set(hash.clone()),
            is_admin: Set(false),
            is_active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            last_login_at: Set(None),
            ..Default::default()
        })
        .collect();
    user::Entity::insert_many(rows).exec(db).await?;
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .order_by_asc(user::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

async fn seed_audit(db: &DatabaseConnection, users: &[i64], rows: usize) -> Result<()> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let end = Utc::now();
    let span = Duration::days(30);
    let step_us = span.num_microseconds().unwrap_or(1) / rows.max(1) as i64;
    let started = Instant::now();
    let batch = 1000;
    let mut done = 0;
    while done < rows {
        let txn = db.begin().await?;
        for _ in 0..50 {
            if done >= rows {
                break;
            }
            let n = batch.min(rows - done);
            let models: Vec<connector_audit_log::ActiveModel> = (done..done + n)
                .map(|i| {
                    let at = end - span + Duration::microseconds(step_us * i as i64);
                    let error = rng.below(20) == 0;
                    let message = if rng.below(2) == 0 {
                        "upstream timeout after 30 s"
                    } else {
                        "the service refused the request"
                    };
                    connector_audit_log::ActiveModel {
                        connection_id: Set(None),
                        user_id: Set(Some(users[rng.below(users.len())])),
                        connector_slug: Set(CONNECTORS[rng.below(CONNECTORS.len())].into()),
                        action: Set(ACTIONS[rng.below(ACTIONS.len())].into()),
                        status: Set(if error { "error" } else { "success" }.into()),
                        request: Set(format!(
                            "{{\"path\":\"/courses/{}/files\",\"page_size\":50}}",
                            rng.below(5000)
                        )),
                        error: Set(error.then(|| message.to_owned())),
                        error_code: Set(error.then(|| "upstream_error".to_owned())),
                        duration_ms: Set(rng.below(900) as i64 + 5),
                        created_at: Set(at),
                        ..Default::default()
                    }
                })
                .collect();
            connector_audit_log::Entity::insert_many(models)
                .exec(&txn)
                .await?;
            done += n;
        }
        txn.commit().await?;
        if done % 100_000 == 0 || done == rows {
            eprintln!(
                "  seeded {done} rows ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

struct Stats {
    name: String,
    samples: Vec<f64>,
    note: String,
}

impl Stats {
    fn row(&self) -> String {
        let mut s = self.samples.clone();
        s.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| s[((s.len() as f64 - 1.0) * p).round() as usize];
        format!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            self.name,
            pct(0.0),
            pct(0.5),
            pct(0.95),
            pct(1.0),
            self.note
        )
    }
}

async fn time_page(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    path: &str,
    iterations: usize,
) -> Result<Stats> {
    let mut samples = Vec::new();
    let mut rows = 0;
    for _ in 0..iterations {
        let started = Instant::now();
        let res = client.get(format!("{base}{path}")).send().await?;
        let status = res.status();
        let body = res.text().await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        if status != 200 {
            bail!("{path} answered {status}: {}", &body[..body.len().min(500)]);
        }
        rows = body.matches("<tr id=\"audit-").count();
    }
    Ok(Stats {
        name: name.into(),
        samples,
        note: format!("{rows} rows on the page"),
    })
}

async fn time_export_first_mb(
    client: &reqwest::Client,
    base: &str,
    iterations: usize,
) -> Result<Stats> {
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let started = Instant::now();
        let res = client
            .get(format!("{base}/admin/audit/export.csv"))
            .send()
            .await?;
        let mut stream = res.bytes_stream();
        let mut got = 0usize;
        while let Some(chunk) = stream.next().await {
            got += chunk?.len();
            if got >= 1 << 20 {
                break;
            }
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        if got < 1 << 20 {
            bail!("the export ended after {got} bytes");
        }
    }
    Ok(Stats {
        name: "CSV export, first MiB".into(),
        samples,
        note: "time to receive 1 MiB of the streamed export".into(),
    })
}

async fn time_full_export(client: &reqwest::Client, base: &str) -> Result<Stats> {
    let started = Instant::now();
    let res = client
        .get(format!("{base}/admin/audit/export.csv"))
        .send()
        .await?;
    let mut stream = res.bytes_stream();
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Stats {
        name: "CSV export, all rows (once)".into(),
        samples: vec![ms],
        note: format!(
            "{} data rows, {:.1} MiB, streamed",
            lines.saturating_sub(1),
            bytes as f64 / (1 << 20) as f64
        ),
    })
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> Result<()> {
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).context("csrf field")? + marker.len();
    let token = &page[start..start + page[start..].find('"').context("quote")?];
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", token),
        ])
        .send()
        .await?;
    if res.status() != 303 {
        bail!("login answered {}", res.status());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    campuscore::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let (pg_name, database_url) = if args.db == "postgres" {
        let (name, url) = campuscore_testkit::postgres::create_pg_database().await?;
        (Some(name), url)
    } else {
        (
            None,
            format!("sqlite://{}/campuscore.db?mode=rwc", dir.path().display()),
        )
    };
    let result = run(&args, &dir, &database_url).await;
    if let Some(name) = pg_name {
        campuscore_testkit::postgres::drop_pg_database(&name);
    }
    result
}

async fn run(args: &Args, dir: &tempfile::TempDir, database_url: &str) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("CAMPUSCORE_DATA_DIR", dir.path().display().to_string());
    env.insert("DATABASE_URL", database_url.to_owned());
    env.insert("CAMPUSCORE_BASE_URL", format!("http://127.0.0.1:{port}"));
    env.insert("FERNET_KEYS", Keyring::generate_key());
    let mut settings = Settings::from_lookup(|k| env.get(k).cloned())?;
    settings.run_worker = false;
    let state = campuscore::startup::prepare(settings).await?;
    let db = state.db.clone();

    eprintln!(
        "seeding {} users and {} audit rows on {}",
        USERS, args.rows, args.db
    );
    let users = seed_users(&db).await?;
    let seed_started = Instant::now();
    seed_audit(&db, &users, args.rows).await?;
    let seed_secs = seed_started.elapsed().as_secs_f64();
    db.execute_unprepared(if args.db == "postgres" {
        "ANALYZE connector_audit_log"
    } else {
        "ANALYZE"
    })
    .await?;
    campuscore::models::users::create(&db, "bench-admin@campus.edu", PASSWORD, true).await?;

    let app = Application::from_state(state.clone(), listener)?;
    tokio::spawn(app.run_until_stopped());
    let base = format!("http://127.0.0.1:{port}");
    let client = campuscore_testkit::http_client_builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    login(&client, &base, "bench-admin@campus.edu").await?;

    // A cursor 90 % of the way down the newest-first order (found once, with OFFSET, here only).
    let deep: (chrono::DateTime<Utc>, i64) = connector_audit_log::Entity::find()
        .select_only()
        .column(connector_audit_log::Column::CreatedAt)
        .column(connector_audit_log::Column::Id)
        .order_by_desc(connector_audit_log::Column::CreatedAt)
        .order_by_desc(connector_audit_log::Column::Id)
        .offset((args.rows as u64 * 9) / 10)
        .limit(1)
        .into_tuple()
        .one(&db)
        .await?
        .context("a deep row")?;
    let cursor = format!(
        "{}.{}",
        deep.0.timestamp_nanos_opt().context("timestamp in range")?,
        deep.1
    );
    let today = Utc::now();
    let day = |d: i64| (today - Duration::days(d)).format("%Y-%m-%d").to_string();
    let n = args.iterations;
    let mut results = Vec::new();
    // One warm-up request so the first sample is not the connection set-up.
    time_page(&client, &base, "warm-up", "/admin/audit/", 1).await?;
    results.push(time_page(&client, &base, "first page", "/admin/audit/", n).await?);
    results.push(
        time_page(
            &client,
            &base,
            "deep page (cursor at 90 %)",
            &format!("/admin/audit/?before={cursor}"),
            n,
        )
        .await?,
    );
    results.push(
        time_page(
            &client,
            &base,
            "filter: user + status=error",
            "/admin/audit/?user=user0042%40campus.edu&status=error",
            n,
        )
        .await?,
    );
    results.push(
        time_page(
            &client,
            &base,
            "filter: connector + 5-day range",
            &format!(
                "/admin/audit/?connector=canvas&from={}&to={}",
                day(12),
                day(8)
            ),
            n,
        )
        .await?,
    );
    results.push(
        time_page(
            &client,
            &base,
            "filter: action + status=error, deep cursor",
            &format!("/admin/audit/?action=download_file&status=error&before={cursor}"),
            n,
        )
        .await?,
    );
    results.push(
        time_page(
            &client,
            &base,
            "search q=timeout",
            "/admin/audit/?q=timeout",
            n,
        )
        .await?,
    );
    results.push(
        time_page(
            &client,
            &base,
            "search q=user0042 (email)",
            "/admin/audit/?q=user0042",
            n,
        )
        .await?,
    );
    results.push(
        time_page(
            &client,
            &base,
            "search with no match (worst case: scans every row)",
            "/admin/audit/?q=no-such-text",
            n.min(5),
        )
        .await?,
    );
    let mut dashboard = time_page(&client, &base, "dashboard (/admin/)", "/admin/", n).await?;
    dashboard.note = "counts: users, connections, actions and errors in 24 h".into();
    results.push(dashboard);
    results.push(time_export_first_mb(&client, &base, n.min(10)).await?);
    results.push(time_full_export(&client, &base).await?);

    println!(
        "\n## {} — {} rows (seeded in {:.0} s), {} iterations each\n",
        args.db, args.rows, seed_secs, n
    );
    println!("| measurement | min ms | median ms | p95 ms | max ms | note |");
    println!("|---|---|---|---|---|---|");
    for r in &results {
        println!("{}", r.row());
    }
    Ok(())
}
