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
use campuscore::models::entities::source_file;
use campuscore_testkit::drive::{self as fake_drive, Content, FakeDrive};
use md5::{Digest, Md5};
use sea_orm::QueryOrder;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[path = "support.rs"]
mod support;

use support::{
    Cpu, Deployment, EMAIL, Fresh, MIB, Server, Session, WrkRun, csrf_from, load_average, mib,
    picks, run_wrk,
};

/// The per-user cloud limits for the run, high enough that no request of the benchmark is
/// refused: the defaults (30 browses a minute, 10 imports an hour) would turn almost every
/// wrk request into a 429.
const BROWSE_PER_MINUTE: u32 = 1_000_000;
const IMPORTS_PER_HOUR: u32 = 1_000;
/// How often the import's row and the server's memory are sampled.
const POLL: Duration = Duration::from_millis(20);

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
    let valued = [
        "--size-mib",
        "--runs",
        "--db",
        "--files",
        "--wrk-seconds",
        "--wrk-connections",
    ];
    for (flag, value) in support::flags(&valued, &["--skip-wrk"])? {
        if flag == "--skip-wrk" {
            a.skip_wrk = true;
            continue;
        }
        match flag {
            "--db" => a.db = value,
            "--size-mib" => a.size_mib = value.parse()?,
            "--files" => a.files = value.parse()?,
            "--runs" => a.runs = value.parse()?,
            "--wrk-seconds" => a.wrk_seconds = value.parse()?,
            _ => a.wrk_connections = value.parse()?,
        }
    }
    if a.size_mib == 0 || a.runs == 0 || !(1..=100).contains(&a.files) {
        bail!("--size-mib and --runs must be above 0, --files 1 to 100 (one listing page)");
    }
    Ok(a)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = args()?;
    support::bench_main("cloud_import", &args.db, |fresh| run(&args, fresh)).await
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

async fn run(args: &Args, fresh: Fresh) -> Result<()> {
    let dir = fresh.dir.as_path();
    let (database_url, machine) = (&fresh.database_url, &fresh.machine);
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

    // The default upload limit is 1 GiB (a 1024 MiB file just fits); a larger file raises it.
    let deployment = Deployment::new(dir, database_url)?
        .with_env("CAMPUSCORE_MAX_UPLOAD_BYTES", size.max(1 << 30))
        .with_env("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", BROWSE_PER_MINUTE)
        .with_env("CAMPUSCORE_CLOUD_IMPORTS_PER_HOUR", IMPORTS_PER_HOUR);
    let db = deployment.set_up(drive.base_url()).await?;
    let (folder_id, conn_id, user_id) = deployment.add_connection(&db, EMAIL).await?;
    let server = deployment.serve().await?;
    report.row(
        "server VmHWM after start-up",
        mib(server.kib("VmHWM:")?),
        "",
    );
    let session = Session::log_in(&server.address, EMAIL, std::net::Ipv4Addr::LOCALHOST).await?;
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
    print_report(args, machine, &report);
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
    let headers = [
        format!("Cookie: {}", b.session.cookie_header()?),
        "HX-Request: true".to_owned(),
    ];
    let path = url.find("/api/").map_or(url.as_str(), |i| &url[i..]);
    let run = WrkRun {
        connections: b.args.wrk_connections,
        seconds: b.args.wrk_seconds,
        url: &url,
        headers: &headers,
        lua: "",
        shown: format!(
            "-H 'Cookie: <session>' -H 'HX-Request: true' -s status.lua \
             'http://127.0.0.1:<port>{path}'"
        ),
    };
    let wrk = run_wrk(b.dir, &run).await?;
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
        "browse: rate-limit hits kept after wrk",
        log,
        "a row per hit of the window (the limit is raised)",
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
/// Let earlier writes reach the disk, so one phase's write-back does not slow the next.
async fn sync_disks() {
    let _ = Command::new("sync").status().await;
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
    let limit = campuscore::services::rate_limits::Limit {
        max: BROWSE_PER_MINUTE,
        ..campuscore::services::rate_limits::CLOUD_BROWSE
    };
    let hits = campuscore::services::rate_limits::recorded_hits(db, user_id, &limit).await?;
    Ok(format!("{} hit rows", hits.len()))
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

fn join<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    items.iter().map(show).collect::<Vec<_>>().join(", ")
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
