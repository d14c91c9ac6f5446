//! Benchmark of cloud import against a fake Google Drive, measured on a real
//! `campuscore serve` process (release build) from the outside:
//!
//! 1. `--runs` (default 3) paired runs, each on a new `--size-mib` file (default 1024 MiB):
//!    `curl -o` fetches the file from the fake upstream onto the same file system, then the
//!    server imports it; the import is timed from its POST to the `source_file` row saying
//!    `uploaded` (and `ready`). Per run: both speeds and their ratio, CPU time of each side
//!    (`/proc/<pid>/stat`), and the server's peak resident memory during the import
//!    (`VmHWM` of `/proc/<pid>/status`, reset just before the POST). Each stored object's
//!    size and MD5 are checked against the fake's. Targets (the issue): peak RSS under
//!    100 MiB, and the import at least half as fast as curl (median of the runs).
//! 2. The browse fragment of a folder of `--files` files (default 100) under
//!    `wrk -t2 -c64 --latency`: requests per second, latency percentiles, response status
//!    classes (counted by a Lua script), upstream requests per browse and, on PostgreSQL,
//!    the rate limit's compare-and-swap attempts per browse.
//!
//! The fake upstream (`campuscore_testkit::drive`) runs in this process and generates content
//! on the fly. Run (see bench/README.md):
//!
//!     cargo bench --bench cloud_import
//!     cargo bench --bench cloud_import -- --db postgres --size-mib 256 --skip-wrk
//!
//! `harness = false`: `cargo test` never builds or runs it.

use anyhow::{Context, Result, bail};
use campuscore::models::entities::{connector, rate_limit, source_file, user};
use campuscore::services::credentials::{self, NewConnection};
use campuscore::services::secrets::Keyring;
use campuscore_testkit::drive::{self as fake_drive, Content, FakeDrive};
use campuscore_testkit::postgres::pg_admin_url;
use md5::{Digest, Md5};
use reqwest::cookie::{CookieStore, Jar};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use sea_orm::{QueryFilter, QueryOrder};
use serde_json::json;
use std::fmt::Write as _;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const EMAIL: &str = "bench@campus.edu";
const PASSWORD: &str = "a long enough password";
/// The per-user cloud limits for the run, high enough that no request of the benchmark is
/// refused: the defaults (30 browses a minute, 10 imports an hour) would turn almost every
/// wrk request into a 429.
const BROWSE_PER_MINUTE: u32 = 1_000_000;
const IMPORTS_PER_HOUR: u32 = 1_000;
/// How often the import's row and the server's memory are sampled.
const POLL: Duration = Duration::from_millis(20);
/// wrk's per-request timeout. Its default (2 s) drops slower requests from the latency
/// figures (they only show as "timeout" socket errors), which hides the tail.
const WRK_TIMEOUT: &str = "30s";
/// `/proc/<pid>/stat` counts CPU time in clock ticks of USER_HZ, 100 on Linux.
const TICKS_PER_SEC: f64 = 100.0;
const MIB: f64 = 1024.0 * 1024.0;
/// Counts wrk's responses by status class: wrk itself only reports "non-2xx or 3xx", so a
/// redirect to the login page would pass for a success.
const WRK_STATUS_SCRIPT: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) s2, s3, s4, s429, s5 = 0, 0, 0, 0, 0 end
function response(status, headers, body)
  if status == 429 then s429 = s429 + 1
  elseif status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then s3 = s3 + 1
  else s2 = s2 + 1 end
end
function done(summary, latency, requests)
  local t = {0, 0, 0, 0, 0}
  for _, th in ipairs(threads) do
    t[1] = t[1] + th:get("s2"); t[2] = t[2] + th:get("s3"); t[3] = t[3] + th:get("s4")
    t[4] = t[4] + th:get("s429"); t[5] = t[5] + th:get("s5")
  end
  io.write(string.format("STATUS 2xx=%d 3xx=%d 4xx=%d 429=%d 5xx=%d\n",
    t[1], t[2], t[3], t[4], t[5]))
end
"#;

struct Args {
    db: String,
    size_mib: u64,
    files: usize,
    runs: usize,
    skip_wrk: bool,
    wrk_seconds: u64,
    wrk_connections: u32,
}

fn args() -> Result<Args> {
    let mut a = Args {
        db: "sqlite".into(),
        size_mib: 1024,
        files: 100,
        runs: 3,
        skip_wrk: false,
        wrk_seconds: 15,
        wrk_connections: 64,
    };
    let usage = "use --size-mib N --runs N --db sqlite|postgres --files N --skip-wrk \
                 --wrk-seconds N --wrk-connections N";
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--db" => a.db = value("--db")?,
            "--size-mib" => a.size_mib = value("--size-mib")?.parse()?,
            "--files" => a.files = value("--files")?.parse()?,
            "--runs" => a.runs = value("--runs")?.parse()?,
            "--skip-wrk" => a.skip_wrk = true,
            "--wrk-seconds" => a.wrk_seconds = value("--wrk-seconds")?.parse()?,
            "--wrk-connections" => a.wrk_connections = value("--wrk-connections")?.parse()?,
            "--bench" => {} // cargo bench passes this
            other => bail!("unknown argument {other}; {usage}"),
        }
    }
    if !matches!(a.db.as_str(), "sqlite" | "postgres") {
        bail!("--db must be sqlite or postgres");
    }
    if a.size_mib == 0 || a.runs == 0 || !(1..=100).contains(&a.files) {
        bail!("--size-mib and --runs must be above 0, --files 1 to 100 (one listing page)");
    }
    Ok(a)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = args()?;
    let binary = env!("CARGO_BIN_EXE_campuscore");
    if cfg!(debug_assertions) || !binary.contains("/release/") {
        bail!("{binary} is not a release build: run this with `cargo bench --bench cloud_import`");
    }
    campuscore::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let (pg_name, database_url) = if args.db == "postgres" {
        let admin = pg_admin_url();
        let name = format!("cc_bench_{}", uuid::Uuid::new_v4().simple());
        let db = Database::connect(&admin).await?;
        db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        db.close().await?;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.clone(), |(b, _)| b.to_owned());
        (Some(name.clone()), format!("{base}/{name}"))
    } else {
        let url = format!("sqlite://{}/campuscore.db?mode=rwc", dir.path().display());
        (None, url)
    };
    let result = run(&args, dir.path(), &database_url).await;
    if let Some(name) = pg_name {
        let db = Database::connect(&pg_admin_url()).await?;
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
    }
    result
}

/// Rows of the result table: measurement, value, note.
#[derive(Default)]
struct Report {
    rows: Vec<[String; 3]>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, name: &str, value: impl Into<String>, note: impl Into<String>) {
        self.rows.push([name.to_owned(), value.into(), note.into()]);
    }
}

/// What the measurements share: the fake upstream, the deployment, its server process and
/// a logged-in session.
struct Bench<'a> {
    args: &'a Args,
    dir: &'a Path,
    drive: FakeDrive,
    deployment: Deployment,
    db: DatabaseConnection,
    server: Server,
    session: Session,
    /// `…/cloud-import/{connection}/browse/` of the benchmark's knowledge folder.
    browse: String,
    user_id: i64,
}

async fn run(args: &Args, dir: &Path, database_url: &str) -> Result<()> {
    let machine = machine_facts();
    eprintln!("machine: {machine}");
    let mut report = Report::default();
    // The fake upstream: a folder per big file (one per run), and one with many small files
    // to browse.
    let drive = FakeDrive::start().await;
    let size = args.size_mib << 20;
    let mut big = Vec::new();
    for run in 1..=args.runs {
        let folder = drive.add_folder(fake_drive::ROOT, &format!("Big {run}"));
        let name = format!("lecture-{run}.bin");
        let content = Content::synthetic(size, 40 + run as u64);
        let id = drive.add_file(&folder, &name, "application/octet-stream", content);
        // Computed now, so that neither the import's metadata request nor curl waits for it.
        let md5 = drive.md5_of(&id);
        big.push(BigFile { folder, id, md5 });
    }
    let course = drive.add_folder(fake_drive::ROOT, "Course");
    for n in 1..=args.files {
        let content = Content::synthetic(64 * 1024 + n as u64, n as u64);
        let name = format!("Week {n:03}.pdf");
        drive.add_file(&course, &name, "application/pdf", content);
    }

    let deployment = Deployment::new(dir, database_url, size)?;
    let db = deployment.set_up(drive.base_url()).await?;
    let (folder_id, conn_id, user_id) = deployment.add_connection(&db).await?;
    let server = deployment.serve().await?;
    report.row(
        "server VmHWM after start-up",
        mib(server.kib("VmHWM:")?),
        "",
    );
    let session = Session::log_in(&server.address).await?;
    let browse = format!(
        "{}/api/htmx/knowledge-folders/{folder_id}/cloud-import/{conn_id}/browse/",
        server.address
    );
    let mut bench = Bench {
        args,
        dir,
        drive,
        deployment,
        db,
        server,
        session,
        browse,
        user_id,
    };
    let mut measured = measure_imports(&mut bench, &mut report, &big).await;
    if measured.is_ok() && !args.skip_wrk {
        measured = measure_browse(&mut bench, &mut report, &course).await;
    }
    let server = bench.server;
    if let Err(e) = measured {
        eprintln!("server log:\n{}", server.log_tail(40));
        return Err(e);
    }
    let lines = server.log_lines();
    if lines > 0 {
        eprintln!("server log (warn and above):\n{}", server.log_tail(20));
    }
    let note = format!("Server log lines at warn and above: {lines}.");
    report.notes.push(note);
    server.stop().await;
    print_report(args, &machine, &report);
    Ok(())
}

/// A file to import: the Drive folder it is alone in, its id and MD5.
struct BigFile {
    folder: String,
    id: String,
    md5: String,
}

/// Paired runs: curl fetches a file, then the server imports it.
async fn measure_imports(b: &mut Bench<'_>, report: &mut Report, big: &[BigFile]) -> Result<()> {
    let size = b.args.size_mib << 20;
    let (mut ratios, mut peaks) = (Vec::new(), Vec::new());
    for (run, file) in (1..).zip(big) {
        let media = format!(
            "{}/drive/v3/files/{}?alt=media",
            b.drive.base_url(),
            file.id
        );
        let curl = curl_download(&media, b.dir, size).await?;
        let page = b
            .session
            .browse(&format!("{}?folder={}", b.browse, file.folder))
            .await?;
        let pick = picks(&page).into_iter().next().context("a file checkbox")?;
        let csrf = csrf_from(&page).context("the form's csrf_token")?;
        if run == 1 {
            let rss = mib(b.server.kib("VmRSS:")?);
            let note = format!("start-up, log-in, browsing; VmRSS {rss}");
            report.row(
                "server VmHWM before the first import",
                mib(b.server.kib("VmHWM:")?),
                note,
            );
        }
        // The peak so far includes the log-in (Argon2 holds ~19 MiB for a moment) and the
        // earlier runs; this import's own peak starts here.
        let reset = b.server.reset_peak();
        let imported = import_file(b, &csrf, &pick).await?;
        let peak = b.server.kib("VmHWM:")?;
        let object = b.deployment.objects().join(&imported.row.storage_key);
        verify_object(&object, size, &file.md5).await?;
        std::fs::remove_file(&object).with_context(|| format!("removing {}", object.display()))?;
        sync_disks().await;

        let t = &imported.transfer;
        let ratio = t.mib_per_sec() / curl.mib_per_sec();
        eprintln!(
            "run {run}: curl {:.2} s, import {:.2} s ({ratio:.2} × curl)",
            curl.secs, t.secs
        );
        let value = format!("{:.2} s, {:.0} MiB/s", curl.secs, curl.mib_per_sec());
        report.row(&format!("run {run}: `curl -o`"), value, &curl.cpu);
        let value = format!(
            "{:.2} s, {:.0} MiB/s, {ratio:.2} × curl",
            t.secs,
            t.mib_per_sec()
        );
        let note = format!("{}; `ready` at {:.2} s", t.cpu, imported.ready_secs);
        report.row(
            &format!("run {run}: import, POST → `uploaded`"),
            value,
            note,
        );
        let how = if reset {
            "VmHWM reset just before the POST"
        } else {
            "VmHWM since start"
        };
        let note = format!("{how}; largest VmRSS sample {}", mib(imported.rss_max_kib));
        report.row(
            &format!("run {run}: server peak RSS during the import"),
            mib(peak),
            note,
        );
        ratios.push(ratio);
        peaks.push(peak);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let value = format!(
        "{median:.2} (runs: {})",
        join(&ratios, |r| format!("{r:.2}"))
    );
    let target = format!("target ≥ 0.5: {}", verdict(median >= 0.5));
    report.row("import speed ÷ curl speed, median", value, target);
    let peak = peaks.iter().copied().max().unwrap_or(0);
    let target = format!("target < 100 MiB: {}", verdict(peak < 100 * 1024));
    report.row(
        "server peak RSS during an import, largest",
        mib(peak),
        target,
    );
    let verified = format!("{} × {size} bytes", b.args.runs);
    report.row("stored objects", verified, "size and MD5 equal the fake's");
    Ok(())
}

/// The browse fragment of the folder `course` under wrk.
async fn measure_browse(b: &mut Bench<'_>, report: &mut Report, course: &str) -> Result<()> {
    let url = format!("{}?folder={course}", b.browse);
    let rows = picks(&b.session.browse(&url).await?).len();
    if rows != b.args.files {
        bail!(
            "the browse fragment lists {rows} files, not {}",
            b.args.files
        );
    }
    let (lists, gets) = (b.drive.list_requests(), b.drive.metadata_requests());
    let scans = rate_limit_scans(&b.db).await?;
    let reset = b.server.reset_peak();
    let wrk = run_wrk(b.args, b.dir, &url, &b.session.cookie_header()?).await?;
    let lists = b.drive.list_requests() - lists;
    let gets = b.drive.metadata_requests() - gets;
    b.session.browse(&url).await.context("browsing after wrk")?;
    let hwm = b.server.kib("VmHWM:")?;

    let note = format!("{} requests, {} files listed", wrk.requests, b.args.files);
    report.row("browse: requests/s", format!("{:.1}", wrk.rps), note);
    let latency = format!("{:.0} / {:.0} / {:.0} ms", wrk.p50, wrk.p90, wrk.p99);
    report.row("browse: latency p50 / p90 / p99", latency, "");
    let errors = format!("socket errors: {}", wrk.socket_errors);
    report.row("browse: non-2xx/3xx (wrk)", wrk.non_2xx.to_string(), errors);
    report.row(
        "browse: status classes",
        &wrk.statuses,
        "counted by status.lua",
    );
    let per = |n: usize| n as f64 / wrk.requests.max(1) as f64;
    let upstream = format!("{:.2} files.list + {:.2} files.get", per(lists), per(gets));
    report.row(
        "browse: upstream requests per browse",
        upstream,
        "at the fake",
    );
    if let Some(before) = scans {
        // Each attempt of the rate limit's compare-and-swap reads the row by (user, name)
        // and updates it by id: two index scans. PostgreSQL publishes a backend's counts
        // once it has been idle for up to 10 s.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let after = rate_limit_scans(&b.db).await?.unwrap_or(before);
        let attempts = format!("{:.2}", (after - before) as f64 / 2.0 / wrk.requests as f64);
        let note = "index scans of `rate_limit` ÷ 2 ÷ requests (1.00 = no lost races)";
        report.row("browse: rate-limit attempts per browse", attempts, note);
    }
    let log = rate_limit_log(&b.db, b.user_id).await?;
    report.row(
        "browse: rate-limit row after wrk",
        log,
        "one row, rewritten per request",
    );
    let how = if reset {
        "VmHWM reset before wrk"
    } else {
        "VmHWM since start"
    };
    report.row("server peak RSS during wrk", mib(hwm), how);
    report.notes.push(format!("wrk command: `{}`", wrk.command));
    Ok(())
}

/// Cores, CPU model, memory and load, from `/proc`.
fn machine_facts() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let gib = mem_kib / MIB;
    format!(
        "{cores} cores (nproc), {model}, {gib:.0} GiB RAM, load average {}",
        load_average()
    )
}

fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Let earlier writes reach the disk, so one phase's write-back does not slow the next.
async fn sync_disks() {
    let _ = Command::new("sync").status().await;
}

/// CPU seconds of a process from `/proc/<pid>/stat` (`pid` may be `self`): its own user and
/// system time, and that of its children it has waited for.
#[derive(Clone, Copy, Default)]
struct Cpu {
    user: f64,
    system: f64,
    children: f64,
}

impl Cpu {
    fn of(pid: &str) -> Self {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name, which may hold spaces: the state is field 3, so
        // utime (14), stime (15), cutime (16), cstime (17) are at 11..=14.
        let fields: Vec<f64> = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .map(|f| f.parse().unwrap_or(0.0))
                    .collect()
            })
            .unwrap_or_default();
        let tick = |i: usize| fields.get(i).copied().unwrap_or(0.0) / TICKS_PER_SEC;
        Self {
            user: tick(11),
            system: tick(12),
            children: tick(13) + tick(14),
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            user: self.user - before.user,
            system: self.system - before.system,
            children: self.children - before.children,
        }
    }

    fn total(self) -> f64 {
        self.user + self.system
    }
}

/// A deployment as an operator sets one up: environment, CLI, one `serve` process.
struct Deployment {
    dir: PathBuf,
    database_url: String,
    fernet_keys: String,
    port: u16,
    max_upload_bytes: u64,
}

impl Deployment {
    fn new(dir: &Path, database_url: &str, file_size: u64) -> Result<Self> {
        Ok(Self {
            dir: dir.to_owned(),
            database_url: database_url.to_owned(),
            fernet_keys: Keyring::generate_key(),
            port: TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(),
            // The default limit is 1 GiB (a 1024 MiB file just fits); a larger file raises it.
            max_upload_bytes: file_size.max(1 << 30),
        })
    }

    fn objects(&self) -> PathBuf {
        self.dir.join("objects")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_campuscore"));
        let storage = format!("file://{}", self.objects().display());
        let env = [
            ("CAMPUSCORE_DATA_DIR", self.dir.display().to_string()),
            ("DATABASE_URL", self.database_url.clone()),
            ("FERNET_KEYS", self.fernet_keys.clone()),
            (
                "CAMPUSCORE_BASE_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("CAMPUSCORE_STORAGE_URL", storage),
            (
                "CAMPUSCORE_MAX_UPLOAD_BYTES",
                self.max_upload_bytes.to_string(),
            ),
            (
                "CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE",
                BROWSE_PER_MINUTE.to_string(),
            ),
            (
                "CAMPUSCORE_CLOUD_IMPORTS_PER_HOUR",
                IMPORTS_PER_HOUR.to_string(),
            ),
            ("RUST_LOG", "warn".into()),
        ];
        cmd.env_remove("FERNET_KEY")
            .envs(env)
            .current_dir(&self.dir)
            .kill_on_drop(true);
        cmd
    }

    async fn cli(&self, args: &[&str]) -> Result<()> {
        let out = self.command().args(args).output().await?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            bail!("campuscore {}: {stderr}", args.join(" "));
        }
        Ok(())
    }

    /// Migrate, create the user and configure `google-drive` with the CLI, as an operator
    /// would; then a database connection for what the CLI cannot do.
    async fn set_up(&self, drive_url: &str) -> Result<DatabaseConnection> {
        self.cli(&["migrate"]).await?;
        self.cli(&["createuser", "--email", EMAIL, "--password", PASSWORD])
            .await?;
        for (key, value, secret) in [
            ("CLIENT_ID", "bench-client", false),
            ("CLIENT_SECRET", "bench-secret", true),
            ("API_BASE_URL", drive_url, false),
        ] {
            let mut args = vec!["config", "set", "google-drive", key, value];
            if secret {
                args.push("--secret");
            }
            self.cli(&args).await?;
        }
        campuscore::db::connect(&self.database_url).await
    }

    /// A Google Drive connection (as if OAuth had completed) and a knowledge folder for the
    /// user: `(folder id, connection id, user id)`.
    async fn add_connection(&self, db: &DatabaseConnection) -> Result<(i64, i64, i64)> {
        let user = user::Entity::find()
            .filter(user::Column::Email.eq(EMAIL))
            .one(db)
            .await?
            .context("the bench user")?;
        let drive = connector::Entity::find()
            .filter(connector::Column::Slug.eq("google-drive"))
            .one(db)
            .await?
            .context("the google-drive catalog row")?;
        let new = NewConnection {
            user_id: user.id,
            connector_id: drive.id,
            data: json!({
                "access_token": "bench-access-token",
                "refresh_token": "bench-refresh-token",
                "token_type": "Bearer",
            }),
            service_identity: Some("bench@drive.example".into()),
            scopes: None,
            expires_at: None,
        };
        let keyring = Keyring::from_keys(&[&self.fernet_keys])?;
        let conn = credentials::insert(db, &keyring, new).await?;
        let folder = campuscore::models::folders::create(
            db,
            user.id,
            &campuscore::models::names::FolderName::parse("Bench").map_err(anyhow::Error::msg)?,
        )
        .await?;
        Ok((folder.id, conn.id, user.id))
    }

    /// Start `campuscore serve` and wait until `/healthz` answers.
    async fn serve(&self) -> Result<Server> {
        let log = self.dir.join("serve.log");
        let child = self
            .command()
            .args(["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting campuscore serve")?;
        let mut server = Server {
            pid: child.id().context("the server's pid")?,
            child,
            address: format!("http://127.0.0.1:{}", self.port),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = campuscore_testkit::http_client()
                .get(format!("{}/healthz", server.address))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "campuscore serve exited ({status}):\n{}",
                    server.log_tail(40)
                );
            }
            if Instant::now() > deadline {
                bail!("campuscore serve did not start:\n{}", server.log_tail(40));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The `campuscore serve` process under test (killed when dropped).
struct Server {
    child: Child,
    pid: u32,
    address: String,
    /// Its standard error: logs at `warn` and above.
    log: PathBuf,
}

impl Server {
    /// A `kB` field of `/proc/<pid>/status` (`VmHWM:` the peak resident set, `VmRSS:` now).
    fn kib(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("the server process is gone")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("{field} in /proc/{}/status", self.pid))
    }

    /// Resets `VmHWM` to the current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux 4.0+);
    /// false when the kernel refused.
    fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    fn cpu(&self) -> Cpu {
        Cpu::of(&self.pid.to_string())
    }

    fn log_lines(&self) -> usize {
        std::fs::read_to_string(&self.log).map_or(0, |l| l.lines().count())
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A logged-in browser: a cookie jar holding the session.
struct Session {
    http: reqwest::Client,
    jar: Arc<Jar>,
    address: String,
}

impl Session {
    /// `GET /login` for the form's CSRF token, then `POST /login`, as `serve_process::Browser`.
    async fn log_in(address: &str) -> Result<Self> {
        let jar = Arc::new(Jar::default());
        let http = campuscore_testkit::http_client_builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = http.get(format!("{address}/login")).send().await?;
        let token = csrf_from(&page.text().await?).context("csrf_token on /login")?;
        let form = [
            ("email", EMAIL),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ];
        let res = http
            .post(format!("{address}/login"))
            .form(&form)
            .send()
            .await?;
        if res.status() != 303 {
            bail!("login answered {}", res.status());
        }
        Ok(Self {
            http,
            jar,
            address: address.to_owned(),
        })
    }

    /// The `Cookie` header the session sends (for wrk).
    fn cookie_header(&self) -> Result<String> {
        let value = self
            .jar
            .cookies(&self.address.parse()?)
            .context("no session cookie")?;
        Ok(value.to_str()?.to_owned())
    }

    /// An HTMX GET of a browse fragment; anything but 200 is an error with the body.
    async fn browse(&self, url: &str) -> Result<String> {
        let res = self
            .http
            .get(url)
            .header("HX-Request", "true")
            .send()
            .await?;
        let status = res.status();
        let body = res.text().await?;
        if status != 200 {
            bail!(
                "GET {url} answered {status}: {}",
                &body[..body.len().min(800)]
            );
        }
        Ok(body)
    }
}

/// The `value` of the first `name="csrf_token"` field.
fn csrf_from(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}

/// The values of a browse fragment's file checkboxes.
fn picks(html: &str) -> Vec<String> {
    html.split("name=\"file\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.find('"').map(|end| rest[..end].to_owned()))
        .collect()
}

/// One timed transfer of the big file.
struct Transfer {
    secs: f64,
    bytes: u64,
    /// Where the CPU time went, for the note column.
    cpu: String,
}

impl Transfer {
    fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / MIB / self.secs
    }
}

/// `curl -s -o <file>` of the media URL, timed from start to exit (the fake accepts any
/// bearer token); the file is removed after.
async fn curl_download(url: &str, dir: &Path, size: u64) -> Result<Transfer> {
    let out = dir.join("curl.bin");
    let before = Cpu::of("self");
    let started = Instant::now();
    let result = Command::new("curl")
        .args(["-s", "-S", "-o"])
        .arg(&out)
        .args(["-w", "%{http_code}", "-H", "Authorization: Bearer x", url])
        .output()
        .await
        .context("running curl (is it installed?)")?;
    let secs = started.elapsed().as_secs_f64();
    let cpu = Cpu::of("self").since(before);
    let code = String::from_utf8_lossy(&result.stdout).into_owned();
    let got = std::fs::metadata(&out).map_or(0, |m| m.len());
    std::fs::remove_file(&out).ok();
    if !result.status.success() || code != "200" || got != size {
        let stderr = String::from_utf8_lossy(&result.stderr);
        bail!("curl: HTTP {code}, {got} of {size} bytes: {stderr}");
    }
    sync_disks().await;
    Ok(Transfer {
        secs,
        bytes: size,
        cpu: format!(
            "CPU: curl {:.2} s, fake upstream {:.2} s",
            cpu.children,
            cpu.total()
        ),
    })
}

/// What the import did.
struct Imported {
    row: source_file::Model,
    transfer: Transfer,
    ready_secs: f64,
    rss_max_kib: u64,
}

/// POST the import form, then poll the row until `ready` (or `failed`), noting when it
/// first says `uploaded` and the largest `VmRSS` seen meanwhile.
async fn import_file(b: &mut Bench<'_>, csrf: &str, pick: &str) -> Result<Imported> {
    let (session, db, server) = (&b.session, &b.db, &mut b.server);
    let url = b.browse.replace("/browse/", "/import/");
    let (server_before, bench_before) = (server.cpu(), Cpu::of("self"));
    let started = Instant::now();
    let res = session
        .http
        .post(&url)
        .header("HX-Request", "true")
        .header("X-CSRF-Token", csrf)
        .form(&[("file", pick)])
        .send()
        .await?;
    let status = res.status();
    let body = res.text().await?;
    if status != 202 {
        bail!(
            "the import answered {status}: {}",
            &body[..body.len().min(800)]
        );
    }
    let (mut uploaded, mut rss_max) = (None, 0);
    let mut last_report = Instant::now();
    loop {
        rss_max = rss_max.max(server.kib("VmRSS:")?);
        let row = source_file::Entity::find()
            .order_by_desc(source_file::Column::Id)
            .one(db)
            .await?
            .context("the imported file's row")?;
        if uploaded.is_none() && matches!(row.status.as_str(), "uploaded" | "ready") {
            let server_cpu = server.cpu().since(server_before);
            let bench_cpu = Cpu::of("self").since(bench_before);
            uploaded = Some((started.elapsed().as_secs_f64(), server_cpu, bench_cpu));
        }
        match (row.status.as_str(), uploaded) {
            ("ready", Some((secs, server_cpu, bench_cpu))) => {
                let cpu = format!(
                    "CPU: server {:.2} s (user {:.2}, system {:.2}), fake upstream {:.2} s",
                    server_cpu.total(),
                    server_cpu.user,
                    server_cpu.system,
                    bench_cpu.total()
                );
                let transfer = Transfer {
                    secs,
                    bytes: row.size_bytes as u64,
                    cpu,
                };
                return Ok(Imported {
                    row,
                    transfer,
                    ready_secs: started.elapsed().as_secs_f64(),
                    rss_max_kib: rss_max,
                });
            }
            ("failed", _) => bail!("the import failed: {}", row.error.unwrap_or_default()),
            _ => {}
        }
        if let Some(exit) = server.child.try_wait()? {
            bail!("the server exited during the import ({exit})");
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!(
                "the import did not finish in 30 minutes (status {})",
                row.status
            );
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            let got = row.bytes_received.unwrap_or(0) as f64 / MIB;
            eprintln!(
                "  import: {} {got:.0} MiB, VmRSS max {}",
                row.status,
                mib(rss_max)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Checks the stored object's size and MD5 against the fake's.
async fn verify_object(path: &Path, size: u64, md5: &str) -> Result<()> {
    let path = path.to_owned();
    let (got_size, got_md5) = tokio::task::spawn_blocking(move || -> Result<(u64, String)> {
        let mut file = std::fs::File::open(&path)
            .with_context(|| format!("opening the stored object {}", path.display()))?;
        let (mut hasher, mut buf, mut total) = (Md5::new(), vec![0; 1 << 20], 0u64);
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        Ok((total, hex::encode(hasher.finalize())))
    })
    .await??;
    if got_size != size || got_md5 != md5 {
        bail!("the stored object differs: {got_size} bytes, md5 {got_md5}; expected {size}, {md5}");
    }
    Ok(())
}

/// The user's browse rate-limit row: the sliding log keeps every hit of the last minute.
async fn rate_limit_log(db: &DatabaseConnection, user_id: i64) -> Result<String> {
    let row = rate_limit::Entity::find()
        .filter(rate_limit::Column::UserId.eq(user_id))
        .filter(rate_limit::Column::Name.eq("cloud_browse"))
        .one(db)
        .await?;
    Ok(row.map_or_else(
        || "no row".into(),
        |r| {
            let hits = r.hits.split(',').filter(|h| !h.is_empty()).count();
            format!("{hits} timestamps, {:.0} KiB", r.hits.len() as f64 / 1024.0)
        },
    ))
}

/// PostgreSQL's count of index scans on `rate_limit` (`None` on SQLite, which keeps none).
async fn rate_limit_scans(db: &DatabaseConnection) -> Result<Option<i64>> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(None);
    }
    let sql = "SELECT idx_scan FROM pg_stat_user_tables WHERE relname = 'rate_limit'";
    let row = db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ));
    let row = row
        .await?
        .context("pg_stat_user_tables has no rate_limit row")?;
    Ok(Some(row.try_get_by_index::<i64>(0)?))
}

/// What wrk reported (latencies in milliseconds).
struct Wrk {
    command: String,
    requests: u64,
    rps: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    non_2xx: u64,
    socket_errors: String,
    statuses: String,
}

async fn run_wrk(args: &Args, dir: &Path, url: &str, cookie: &str) -> Result<Wrk> {
    let script = dir.join("status.lua");
    std::fs::write(&script, WRK_STATUS_SCRIPT)?;
    let script = script.to_str().context("a UTF-8 temp path")?;
    let (connections, duration) = (args.wrk_connections, args.wrk_seconds);
    // wrk wants at least one connection per thread.
    let threads = connections.min(2);
    let flags =
        format!("-t{threads} -c{connections} -d{duration}s --timeout {WRK_TIMEOUT} --latency");
    let cookie = format!("Cookie: {cookie}");
    eprintln!("wrk {flags} (load average {})", load_average());
    let out = Command::new("wrk")
        .args(flags.split(' '))
        .args(["-H", &cookie, "-H", "HX-Request: true", "-s", script, url])
        .output()
        .await
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let find = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let percentile = |p: &str| {
        find(p)
            .and_then(duration_ms)
            .with_context(|| format!("wrk {p}"))
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .context("wrk's request count")?;
    let path = url.find("/api/").map_or(url, |i| &url[i..]);
    Ok(Wrk {
        command: format!(
            "wrk {flags} -H 'Cookie: <session>' -H 'HX-Request: true' -s status.lua \
             'http://127.0.0.1:<port>{path}'"
        ),
        requests,
        rps: find("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .context("wrk's Requests/sec")?,
        p50: percentile("50%")?,
        p90: percentile("90%")?,
        p99: percentile("99%")?,
        non_2xx: find("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        socket_errors: find("Socket errors:").unwrap_or("none").to_owned(),
        statuses: find("STATUS")
            .unwrap_or("(status.lua printed nothing)")
            .to_owned(),
    })
}

/// wrk's `1.23ms`, `456.00us`, `1.02s`, `2.00m` in milliseconds.
fn duration_ms(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * factor)
}

fn join<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    items.iter().map(show).collect::<Vec<_>>().join(", ")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**NOT met**" }
}

fn print_report(args: &Args, machine: &str, report: &Report) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## cloud_import — {} MiB file, {} database\n\nMachine: {machine}; load average \
         at the end {}.\n\n| measurement | value | note |\n|---|---|---|",
        args.size_mib,
        args.db,
        load_average()
    );
    for [name, value, note] in &report.rows {
        let _ = writeln!(out, "| {name} | {value} | {note} |");
    }
    for note in &report.notes {
        let _ = writeln!(out, "\n{note}");
    }
    println!("{out}");
}
