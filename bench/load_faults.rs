//! Load with faults (issue 17.6): browse requests at a fixed rate from many users against a
//! real `campuscore serve` process (release build) and the fake Google Drive, while a share
//! of Drive's answers fail.
//!
//! - The deployment is set up as an operator would (`migrate`, `createuser`, `config set
//!   google-drive …` with the CLI); each of `--users` users (50) has a session of its own
//!   (logged in over HTTP from an address of its own) and a Drive connection of its own.
//! - The fake Drive (`campuscore_testkit::drive`, in this process) fails `--failure-ratio`
//!   (1 %) of the calls it receives, any endpoint, drawn from a seeded generator
//!   (`FakeBooks::set_failure_ratio`), with `--fault` (`500`: Drive's `backendError`, which
//!   the app's client does not retry, so the person sees it; `503`, which it retries).
//! - `--rate` (200) requests a second for `--duration` seconds (300), open loop: request `i`
//!   is sent at `start + i / rate` whatever the answers before it took, to the users in turn
//!   (`GET …/browse/?folder=root` with `HX-Request`, as the page's buttons send it).
//!
//! Checked, and the run fails unless it holds:
//! - every answer is a 200 listing, or a 5xx that is a correct "provider unavailable"
//!   fragment (502/503/504 retargeted into the error box, naming Google Drive, with a "Try
//!   again" button); anything else (another status, a 500, a bare error page) is counted and
//!   shown;
//! - one browse audit row per answer (rows written during the run == answers).
//!
//! Reported: the server's RSS, open file descriptors (`/proc/PID/fd`) and threads
//! (`/proc/PID/task`) at the start, every 30 s and at the end; latency percentiles; upstream
//! calls and how many failed. Run (see bench/README.md):
//!
//!     cargo bench --bench load_faults
//!     cargo bench --bench load_faults -- --duration 20 --rate 100
//!
//! `harness = false`: `cargo test` never builds or runs it.

#[path = "support.rs"]
mod support;

use anyhow::{Context, Result, bail};
use campuscore::models::entities::connector_audit_log;
use campuscore_testkit::drive::{self as fake_drive, FakeDrive, Fault};
use campuscore_testkit::upstream::FakeBooks as _;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Browser, Deployment, EMAIL, Fresh, Server, Session, load_average, mib, sign_in_all};

/// High enough that no browse is refused; every check still reads and writes its row.
const BROWSE_PER_MINUTE: u64 = 1_000_000_000;
/// How often the server's resources are read during the run.
const SAMPLE_EVERY: Duration = Duration::from_secs(30);

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = args()?;
    support::bench_main("load_faults", &args.db, |fresh| run(&args, fresh)).await
}

struct Args {
    db: String,
    users: usize,
    duration: u64,
    rate: u32,
    failure_ratio: f64,
    fault: u16,
    seed: u64,
}

fn args() -> Result<Args> {
    let mut a = Args {
        db: "sqlite".into(),
        users: 50,
        duration: 300,
        rate: 200,
        failure_ratio: 0.01,
        fault: 500,
        seed: 17,
    };
    let flags = [
        "--db",
        "--users",
        "--duration",
        "--rate",
        "--failure-ratio",
        "--fault",
        "--seed",
    ];
    for (flag, value) in support::flags(&flags, &[])? {
        match flag {
            "--db" => a.db = value,
            "--users" => a.users = value.parse().context("--users")?,
            "--duration" => a.duration = value.parse().context("--duration")?,
            "--rate" => a.rate = value.parse().context("--rate")?,
            "--failure-ratio" => a.failure_ratio = value.parse().context("--failure-ratio")?,
            "--fault" => a.fault = value.parse().context("--fault")?,
            _ => a.seed = value.parse().context("--seed")?,
        }
    }
    if a.users == 0 || a.duration == 0 || a.rate == 0 {
        bail!("--users, --duration and --rate must be above 0");
    }
    if !(0.0..=1.0).contains(&a.failure_ratio) {
        bail!("--failure-ratio is between 0 and 1");
    }
    if !(500..=599).contains(&a.fault) {
        bail!("--fault is a 5xx status");
    }
    Ok(a)
}

/// The server's resources at one moment.
#[derive(Clone, Copy)]
struct Reading {
    at: Duration,
    rss_kib: u64,
    fds: usize,
    threads: usize,
}

impl Reading {
    fn of(server: &Server, at: Duration) -> Result<Self> {
        let count = |what: &str| -> Result<usize> {
            Ok(std::fs::read_dir(format!("/proc/{}/{what}", server.pid))
                .with_context(|| format!("/proc/{}/{what}", server.pid))?
                .count())
        };
        Ok(Self {
            at,
            rss_kib: server.kib("VmRSS:")?,
            fds: count("fd")?,
            threads: count("task")?,
        })
    }
}

/// How the answers went.
#[derive(Default)]
struct Tally {
    /// By status.
    statuses: BTreeMap<u16, u64>,
    /// 5xx answers that are a correct "provider unavailable" fragment.
    unavailable: u64,
    /// Answers that are neither a listing nor a correct "provider unavailable"; with the
    /// first few bodies.
    wrong: u64,
    wrong_samples: Vec<String>,
    /// Requests that got no answer (a transport error on the bench's side).
    no_answer: u64,
    /// Requests sent again because the server closed the idle keep-alive connection they
    /// went out on (hyper: "connection closed before message completed"), as a browser
    /// sends a GET again when that happens.
    resent: u64,
    latencies_ms: Vec<f64>,
}

impl Tally {
    fn answers(&self) -> u64 {
        self.statuses.values().sum()
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i]
    }
}

/// An error with its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Whether the server closed the pooled connection a request went out on before any answer
/// came (its keep-alive ran out as the request was sent): the request never reached a
/// handler.
fn closed_before_response(error: &reqwest::Error) -> bool {
    chain(error).contains("connection closed before message completed")
}

/// Whether `body` with `status` is what the app should answer when Drive fails: the error
/// fragment retargeted into the page's error box, naming the provider, with a way forward.
fn correct_unavailable(status: u16, retarget: bool, body: &str) -> bool {
    [502, 503, 504].contains(&status)
        && retarget
        && (body.contains("Google Drive is not available")
            || body.contains("Google Drive is having trouble"))
        && body.contains(">Try again</button>")
}

async fn run(args: &Args, fresh: Fresh) -> Result<()> {
    let Fresh {
        dir,
        database_url,
        machine,
    } = &fresh;
    let drive = FakeDrive::start().await;
    for i in 0..30 {
        drive.add_file(
            fake_drive::ROOT,
            &format!("Lecture {i:02}.pdf"),
            "application/pdf",
            format!("%PDF lecture {i}").into_bytes(),
        );
    }
    drive.add_folder(fake_drive::ROOT, "Course");
    let deployment = Deployment::new(dir, database_url)?
        .with_env("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", BROWSE_PER_MINUTE);
    let db = deployment.set_up(drive.base_url()).await?;
    let places = deployment.add_users(&db, EMAIL, "load", args.users).await?;
    let server = deployment.serve().await?;
    let mut users = Vec::new();
    for Browser {
        email,
        session,
        url,
    } in sign_in_all(&server, places).await?
    {
        // Each user browses once before the run, with Drive healthy: every session works.
        let first = session.browse(&url).await?;
        if !first.contains("Lecture 00.pdf") {
            bail!("{email}'s first browse lists no files: {first}");
        }
        users.push((session, url));
    }
    let measured = measure(args, &db, &server, &drive, users).await;
    let lines = server.log_lines();
    if measured.is_err() || lines > 0 {
        eprintln!("server log (warn and above):\n{}", server.log_tail(40));
    }
    let run = measured?;
    server.stop().await;
    print_report(args, machine, &run, lines);
    let mut failures = Vec::new();
    if run.tally.wrong > 0 || run.tally.no_answer > 0 {
        failures.push(format!(
            "{} wrong answers and {} requests without an answer",
            run.tally.wrong, run.tally.no_answer
        ));
    }
    if run.audit_rows != run.tally.answers() {
        failures.push(format!(
            "{} browse audit rows for {} answers",
            run.audit_rows,
            run.tally.answers()
        ));
    }
    if !failures.is_empty() {
        bail!("load_faults failed: {}", failures.join("; "));
    }
    Ok(())
}

/// What one run measured.
struct Run {
    tally: Tally,
    readings: Vec<Reading>,
    audit_rows: u64,
    upstream_calls: usize,
    upstream_failed: u64,
    elapsed: Duration,
    /// The most requests in flight at once.
    max_in_flight: usize,
}

async fn measure(
    args: &Args,
    db: &DatabaseConnection,
    server: &Server,
    drive: &FakeDrive,
    users: Vec<(Session, String)>,
) -> Result<Run> {
    let users: Arc<Vec<(Session, String)>> = Arc::new(users);
    drive.clear_log();
    drive.set_failure_ratio(
        args.failure_ratio,
        Fault::ServerError(args.fault),
        args.seed,
    );
    let audit_before = connector_audit_log::Entity::find().count(db).await?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut max_in_flight = 0;
    let total = u64::from(args.rate) * args.duration;
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    eprintln!(
        "== {total} requests at {}/s from {} users, {} % of Drive's answers {} (load average {})",
        args.rate,
        users.len(),
        args.failure_ratio * 100.0,
        args.fault,
        load_average()
    );
    let start = Instant::now();
    let mut readings = vec![Reading::of(server, Duration::ZERO)?];
    let mut next_sample = SAMPLE_EVERY;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        if start.elapsed() >= next_sample {
            readings.push(Reading::of(server, start.elapsed())?);
            next_sample += SAMPLE_EVERY;
        }
        let users = users.clone();
        let tally = tally.clone();
        let in_flight = in_flight.clone();
        let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        max_in_flight = max_in_flight.max(now);
        tasks.spawn(async move {
            let (session, url) = &users[usize::try_from(i).unwrap_or(0) % users.len()];
            let sent = Instant::now();
            let get = || session.http.get(url).header("HX-Request", "true").send();
            let mut resent = false;
            let answer = match get().await {
                Err(e) if closed_before_response(&e) => {
                    resent = true;
                    get().await
                }
                other => other,
            };
            let answer = match answer {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let retarget = res.headers().get("HX-Retarget").is_some();
                    res.text().await.map(|body| (status, retarget, body))
                }
                Err(e) => Err(e),
            };
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
            tally.resent += u64::from(resent);
            match answer {
                Err(e) => {
                    tally.no_answer += 1;
                    if tally.wrong_samples.len() < 5 {
                        tally
                            .wrong_samples
                            .push(format!("no answer: {}", chain(&e)));
                    }
                }
                Ok((status, retarget, body)) => {
                    tally.latencies_ms.push(ms);
                    *tally.statuses.entry(status).or_default() += 1;
                    let listing = status == 200 && body.contains("Lecture 00.pdf");
                    if correct_unavailable(status, retarget, &body) {
                        tally.unavailable += 1;
                    } else if !listing {
                        tally.wrong += 1;
                        if tally.wrong_samples.len() < 5 {
                            let cut = body.char_indices().nth(600).map_or(body.len(), |(i, _)| i);
                            tally
                                .wrong_samples
                                .push(format!("{status}: {}", &body[..cut]));
                        }
                    }
                }
            }
        });
        // Reap finished requests as we go, so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    // The clients close their pooled connections (a queue of requests opens many); then the
    // server has 5 s to settle before the last reading, so what stays open is its own.
    drop(users);
    tokio::time::sleep(Duration::from_secs(5)).await;
    readings.push(Reading::of(server, start.elapsed())?);
    let audit_rows = connector_audit_log::Entity::find().count(db).await? - audit_before;
    let upstream_calls = drive.requests().len();
    let upstream_failed = drive.random_failures();
    drive.clear_faults();
    let tally = Arc::try_unwrap(tally)
        .ok()
        .context("every request finished")?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    Ok(Run {
        tally,
        readings,
        audit_rows,
        upstream_calls,
        upstream_failed,
        elapsed,
        max_in_flight,
    })
}

fn print_report(args: &Args, machine: &str, run: &Run, log_lines: usize) {
    let t = &run.tally;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## load_faults — {} database, {} users, {} req/s for {} s, {} % of Drive's answers \
         {}\n\nMachine: {machine}; load average at the end {}.\n",
        args.db,
        args.users,
        args.rate,
        args.duration,
        args.failure_ratio * 100.0,
        args.fault,
        load_average()
    );
    let statuses: Vec<String> = t
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    let achieved = t.answers() as f64 / run.elapsed.as_secs_f64();
    let _ = writeln!(
        out,
        "| answers | achieved req/s | by status | correct \"unavailable\" 5xx | wrong answers | \
         no answer | resent | p50 / p90 / p99 / max ms | most in flight |\n\
         |---|---|---|---|---|---|---|---|---|\n\
         | {} | {achieved:.1} | {} | {} | {} | {} | {} | {:.1} / {:.1} / {:.1} / {:.1} | {} |",
        t.answers(),
        statuses.join(", "),
        t.unavailable,
        t.wrong,
        t.no_answer,
        t.resent,
        t.percentile(0.5),
        t.percentile(0.9),
        t.percentile(0.99),
        t.percentile(1.0),
        run.max_in_flight,
    );
    let _ = writeln!(
        out,
        "\nUpstream: {} calls reached the fake Drive, {} of them failed ({:.2} %). Browse audit \
         rows written during the run: {} for {} answers. Server log lines at warn and above: \
         {log_lines}.",
        run.upstream_calls,
        run.upstream_failed,
        100.0 * run.upstream_failed as f64 / run.upstream_calls.max(1) as f64,
        run.audit_rows,
        t.answers(),
    );
    let _ = writeln!(
        out,
        "\n| at | RSS | open fds | threads |\n|---|---|---|---|"
    );
    for r in &run.readings {
        let _ = writeln!(
            out,
            "| {} s | {} | {} | {} |",
            r.at.as_secs(),
            mib(r.rss_kib),
            r.fds,
            r.threads
        );
    }
    if let (Some(first), Some(last)) = (run.readings.first(), run.readings.last()) {
        let _ = writeln!(
            out,
            "\nStart → end: RSS {} → {} ({:+.1} MiB), fds {} → {}, threads {} → {}.",
            mib(first.rss_kib),
            mib(last.rss_kib),
            (last.rss_kib as f64 - first.rss_kib as f64) / 1024.0,
            first.fds,
            last.fds,
            first.threads,
            last.threads
        );
    }
    for sample in &t.wrong_samples {
        let _ = writeln!(out, "\nWrong: {sample}");
    }
    let _ = writeln!(
        out,
        "\nCommand: `cargo bench --bench load_faults -- --db {} --users {} --duration {} --rate {} \
         --failure-ratio {} --fault {} --seed {}`",
        args.db, args.users, args.duration, args.rate, args.failure_ratio, args.fault, args.seed
    );
    println!("{out}");
}
