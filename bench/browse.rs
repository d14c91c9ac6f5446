//! The cloud-import browse fragment against the Django peer of the same design, in one run,
//! on a real `campuscore serve` process (release build), so every figure is a ratio to the
//! peer measured on the same box a minute earlier:
//!
//! 1. `../shared/peer-bench/run_browse_bench.sh URL COOKIE PID` (or `--peer-dir`): the fake
//!    Drive upstream (nginx) alone, the Django peer, then this app's My Drive listing, each
//!    under `wrk -t2 -c64` with the peer's own monitor (CPU per request, peak RSS).
//! 2. Then, against the same upstream: one user on `--connections` connections (64), 64 users
//!    with one connection each (`--users`), and one connection alone (the unloaded latency).
//!    Per shape: requests/s and the ratio to the peer, latency percentiles, the server's CPU
//!    per request (`/proc/<pid>/stat`), its peak RSS (`VmHWM`, reset before), responses by
//!    status class, audit rows written per response, and on PostgreSQL the CPU of every
//!    `postgres` process on the box per request.
//!
//! The browse limit is raised (`CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE=1000000000`) so that
//! nothing is refused while the bookkeeping still runs, as the peer's README asks. Run (see
//! bench/README.md):
//!
//!     cargo bench --bench browse
//!     cargo bench --bench browse -- --db postgres
//!
//! `harness = false`: `cargo test` never builds or runs it.

#[path = "support.rs"]
mod support;

use anyhow::{Context, Result, bail};
use campuscore::models::entities::connector_audit_log;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{
    Browser, Cpu, Deployment, EMAIL, Fresh, Server, Session, Wrk, WrkRun, load_average, mib,
    run_wrk, sign_in_all,
};
use tokio::process::Command;

/// Where the peer's upstream listens; the app's Drive base URL points at it.
const UPSTREAM: &str = "http://127.0.0.1:18080";
/// High enough that nothing is refused; every check still reads and writes its row.
const BROWSE_PER_MINUTE: u64 = 1_000_000_000;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = args()?;
    support::bench_main("browse", &args.db, |fresh| run(&args, fresh)).await
}

struct Args {
    db: String,
    users: usize,
    seconds: u64,
    connections: u32,
    peer_dir: PathBuf,
    skip_peer: bool,
    /// Where `perf record` writes a profile of the server during the first shape.
    perf_out: Option<PathBuf>,
    /// Instead of the load shapes: the server under callgrind, and where its profile of
    /// `callgrind_requests` browses goes.
    callgrind_out: Option<PathBuf>,
    callgrind_requests: u64,
}

fn args() -> Result<Args> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        db: "sqlite".into(),
        users: 64,
        seconds: 10,
        connections: 64,
        peer_dir: repo.join("../shared/peer-bench"),
        skip_peer: false,
        perf_out: None,
        callgrind_out: None,
        callgrind_requests: 200,
    };
    let flags = [
        "--db",
        "--users",
        "--seconds",
        "--connections",
        "--peer-dir",
        "--perf-out",
        "--callgrind-out",
        "--callgrind-requests",
    ];
    for (flag, value) in support::flags(&flags, &["--skip-peer"])? {
        match flag {
            "--skip-peer" => a.skip_peer = true,
            "--perf-out" => a.perf_out = Some(value.into()),
            "--callgrind-out" => a.callgrind_out = Some(value.into()),
            "--callgrind-requests" => a.callgrind_requests = value.parse()?,
            "--peer-dir" => a.peer_dir = value.into(),
            "--db" => a.db = value,
            "--users" => a.users = value.parse()?,
            "--seconds" => a.seconds = value.parse()?,
            _ => a.connections = value.parse()?,
        }
    }
    if a.users == 0 || a.seconds == 0 || a.connections == 0 || a.callgrind_requests == 0 {
        bail!("--users, --seconds, --connections and --callgrind-requests must be above 0");
    }
    if !a.peer_dir.join("run_browse_bench.sh").exists() {
        bail!(
            "no run_browse_bench.sh in {} (set --peer-dir)",
            a.peer_dir.display()
        );
    }
    Ok(a)
}

/// One measured load shape.
struct Shape {
    name: String,
    wrk: Wrk,
    cpu_ms: f64,
    /// The kernel's part of `cpu_ms` (system time over user + system).
    sys_share: f64,
    /// Context switches of all the server's threads, per request.
    switches: f64,
    db_cpu_ms: Option<f64>,
    peak_kib: u64,
    audit_per_response: f64,
}

async fn run(args: &Args, fresh: Fresh) -> Result<()> {
    let Fresh {
        dir,
        database_url,
        machine,
    } = &fresh;
    let deployment = Deployment::new(dir, database_url)?
        .with_env("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", BROWSE_PER_MINUTE);
    let db = deployment.set_up(UPSTREAM).await?;
    if let Some(out) = &args.callgrind_out {
        return count_instructions(args, dir, &deployment, &db, out).await;
    }
    let places = deployment
        .add_users(&db, EMAIL, "bench", args.users)
        .await?;
    let server = deployment.serve().await?;
    let rss_at_start = server.kib("VmRSS:")?;
    let browsers = sign_in_all(&server, places).await?;
    let rss_after_log_ins = server.kib("VmRSS:")?;
    let measured = measure(args, dir, &db, &server, &browsers).await;
    let lines = server.log_lines();
    if measured.is_err() || lines > 0 {
        eprintln!("server log (warn and above):\n{}", server.log_tail(40));
    }
    let (peer, shapes) = measured?;
    let resident = ["VmRSS:", "RssAnon:", "RssFile:"].map(|field| server.kib(field));
    server.stop().await;
    let notes = [
        format!(
            "Server VmRSS after start-up: {}; after {} log-ins: {}.",
            mib(rss_at_start),
            browsers.len(),
            mib(rss_after_log_ins)
        ),
        match resident {
            [Ok(rss), Ok(anon), Ok(file)] => format!(
                "Server VmRSS after the shapes: {} (anonymous {}, file-backed {}: the binary's \
                 pages, shared).",
                mib(rss),
                mib(anon),
                mib(file)
            ),
            _ => "Server VmRSS after the shapes: not readable.".into(),
        },
        format!("Server log lines at warn and above: {lines}."),
    ];
    print_report(args, machine, &peer, &shapes, &notes);
    Ok(())
}

async fn measure(
    args: &Args,
    dir: &Path,
    db: &DatabaseConnection,
    server: &Server,
    browsers: &[Browser],
) -> Result<(PeerRun, Vec<Shape>)> {
    let first = &browsers[0];
    let peer = if args.skip_peer {
        PeerRun::default()
    } else {
        run_peer(args, server, first).await?
    };
    let upstream = Upstream::start(&args.peer_dir, dir).await?;
    let rows = first
        .session
        .browse(&first.url)
        .await?
        .matches("<tr")
        .count();
    eprintln!("the app's fragment: {rows} <tr> rows");
    let cookie = |b: &Browser| b.session.cookie_header();
    let one_user = [
        format!("Cookie: {}", cookie(first)?),
        "HX-Request: true".to_owned(),
    ];
    let path_of = |url: &str| {
        url.find("/api/")
            .map_or(url.to_owned(), |i| url[i..].to_owned())
    };
    let mut shapes = Vec::new();
    let shape = WrkRun {
        connections: args.connections,
        seconds: args.seconds,
        url: &first.url,
        headers: &one_user,
        lua: "",
        shown: format!(
            "-H 'Cookie: <session>' -H 'HX-Request: true' 'http://127.0.0.1:<port>{}'",
            path_of(&first.url)
        ),
    };
    let name = format!("one user × {} connections", args.connections);
    let perf = match &args.perf_out {
        Some(out) => Some(profile(server, out, args.seconds).await?),
        None => None,
    };
    shapes.push(measure_shape(name, dir, db, server, &shape).await?);
    if let Some(mut perf) = perf {
        perf.wait().await?;
    }

    // Each wrk thread sends the requests of its share of the users in turn, so that each
    // user has about one request in flight: one connection per user, as browsers would.
    let mut lua = String::from("users = {\n");
    for b in browsers {
        let _ = writeln!(lua, "  {{[[{}]], [[{}]]}},", path_of(&b.url), cookie(b)?);
    }
    lua.push_str(
        r#"}
function prepare()
  reqs, next_req = {}, 0
  for i, u in ipairs(users) do
    if (i - 1) % 2 == tid then
      table.insert(reqs, wrk.format("GET", u[1], {["Cookie"] = u[2], ["HX-Request"] = "true"}))
    end
  end
end
function request()
  next_req = next_req % #reqs + 1
  return reqs[next_req]
end
"#,
    );
    let users = WrkRun {
        connections: browsers.len() as u32,
        seconds: args.seconds,
        url: &first.url,
        headers: &[],
        lua: &lua,
        shown: "-s users.lua (each user's cookie and connection, round robin per thread)".into(),
    };
    if browsers.len() > 1 {
        let name = format!("{} users × 1 connection each", browsers.len());
        shapes.push(measure_shape(name, dir, db, server, &users).await?);
    }
    let alone = WrkRun {
        connections: 1,
        ..shape
    };
    shapes.push(measure_shape("one connection (unloaded)".into(), dir, db, server, &alone).await?);
    upstream.stop().await;
    Ok((peer, shapes))
}

async fn measure_shape(
    name: String,
    dir: &Path,
    db: &DatabaseConnection,
    server: &Server,
    run: &WrkRun<'_>,
) -> Result<Shape> {
    eprintln!("== {name}");
    let audit_before = connector_audit_log::Entity::find().count(db).await?;
    let reset = server.reset_peak();
    let (cpu_before, db_before) = (server.cpu(), database_cpu(db));
    let switches_before = server.context_switches();
    let wrk = run_wrk(dir, run).await?;
    let cpu = server.cpu().since(cpu_before);
    let switches = server.context_switches().saturating_sub(switches_before);
    let db_cpu = database_cpu(db).zip(db_before).map(|(a, b)| a - b);
    // Requests still in flight when wrk stopped finish (and audit) now, not in the next shape.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if !reset {
        eprintln!("(VmHWM could not be reset: the peak is since start)");
    }
    let audit = connector_audit_log::Entity::find().count(db).await? - audit_before;
    let per = |secs: f64| 1000.0 * secs / wrk.requests.max(1) as f64;
    Ok(Shape {
        name,
        cpu_ms: per(cpu.total()),
        sys_share: cpu.system / cpu.total().max(f64::EPSILON),
        switches: switches as f64 / wrk.requests.max(1) as f64,
        db_cpu_ms: db_cpu.map(per),
        peak_kib: server.kib("VmHWM:")?,
        audit_per_response: audit as f64 / wrk.requests.max(1) as f64,
        wrk,
    })
}

/// `perf record` of the server (call graphs, 499 Hz) for `seconds`, started now.
async fn profile(server: &Server, out: &Path, seconds: u64) -> Result<tokio::process::Child> {
    eprintln!("perf record -g -p {} -o {}", server.pid, out.display());
    Command::new("perf")
        .args([
            "record",
            "-F",
            "499",
            "-g",
            "-p",
            &server.pid.to_string(),
            "-o",
        ])
        .arg(out)
        .args(["--", "sleep", &seconds.saturating_sub(1).max(1).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting perf (apt-get install linux-perf)")
}

/// Browses warm up an idle server under callgrind (instrumentation off), then
/// `--callgrind-requests` browses of the same My Drive listing, one at a time, are counted
/// and dumped to `out`; prints the instructions per browse. Instruction counts do not drift
/// with the box's load as times do. Everything the process runs while they are counted
/// (its background workers too) is in the figure.
async fn count_instructions(
    args: &Args,
    dir: &Path,
    deployment: &Deployment,
    db: &DatabaseConnection,
    out: &Path,
) -> Result<()> {
    let (folder, conn, _) = deployment.add_connection(db, EMAIL).await?;
    let out_flag = format!("--callgrind-out-file={}", out.display());
    let wrapper: Vec<String> = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--dump-instr=no",
        out_flag.as_str(),
    ]
    .map(String::from)
    .into();
    let server = deployment
        .serve_under(&wrapper, Duration::from_secs(600))
        .await?;
    let upstream = Upstream::start(&args.peer_dir, dir).await?;
    let session = Session::log_in(&server.address, EMAIL, std::net::Ipv4Addr::LOCALHOST).await?;
    let url = format!(
        "{}/api/htmx/knowledge-folders/{folder}/cloud-import/{conn}/browse/?folder=root",
        server.address
    );
    for _ in 0..20 {
        session.browse(&url).await?;
    }
    callgrind_control(server.pid, &["-i", "on"]).await?;
    let started = Instant::now();
    let audit_before = connector_audit_log::Entity::find().count(db).await?;
    for _ in 0..args.callgrind_requests {
        session.browse(&url).await?;
    }
    callgrind_control(server.pid, &["-d"]).await?;
    let elapsed = started.elapsed();
    let audit = connector_audit_log::Entity::find().count(db).await? - audit_before;
    upstream.stop().await;
    let lines = server.log_lines();
    if lines > 0 {
        eprintln!("server log (warn and above):\n{}", server.log_tail(40));
    }
    server.stop().await;
    // callgrind numbers each dump: `<out>.1` is the counted browses.
    let dump = PathBuf::from(format!("{}.1", out.display()));
    let text = std::fs::read_to_string(&dump)
        .with_context(|| format!("reading callgrind's dump {}", dump.display()))?;
    let total: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no summary line in callgrind's dump")?;
    println!(
        "\n{} browses under callgrind in {:.1} s ({} audit rows): {} instructions, **{:.0} \
         instructions per browse**.\nProfile: {} (callgrind_annotate --inclusive=yes {})",
        args.callgrind_requests,
        elapsed.as_secs_f64(),
        audit,
        total,
        total as f64 / args.callgrind_requests as f64,
        dump.display(),
        dump.display()
    );
    Ok(())
}

/// `callgrind_control ARGS PID`.
async fn callgrind_control(pid: u32, args: &[&str]) -> Result<()> {
    let status = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .status()
        .await
        .context("running callgrind_control (apt-get install valgrind)")?;
    if !status.success() {
        bail!(
            "callgrind_control {} {pid} failed ({status})",
            args.join(" ")
        );
    }
    Ok(())
}

/// CPU seconds of every `postgres` process on the box (the database's backends, and other
/// tenants' if any), or `None` on SQLite.
fn database_cpu(db: &DatabaseConnection) -> Option<f64> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return None;
    }
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name();
        let Some(pid) = pid
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            total += Cpu::of(pid).total();
        }
    }
    Some(total)
}

/// What `run_browse_bench.sh` printed in its summary: one line per target.
#[derive(Default)]
struct PeerRun {
    /// `(target, [req/s, p50, p99, errors, cpu_ms/req, rss_MiB, pss_MiB, others])`.
    rows: Vec<(String, Vec<String>)>,
    probes: Vec<String>,
}

impl PeerRun {
    fn rps(&self, target: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|(name, _)| name == target)
            .and_then(|(_, cols)| cols.first()?.parse().ok())
    }
}

/// The peer's own script: upstream, peer, then this app as its third target.
async fn run_peer(args: &Args, server: &Server, first: &Browser) -> Result<PeerRun> {
    let script = args.peer_dir.join("run_browse_bench.sh");
    // The peer's folder may be read-only: its virtualenv goes beside the build.
    let target = Path::new(env!("CARGO_BIN_EXE_campuscore"))
        .parent()
        .and_then(Path::parent)
        .context("the target directory")?;
    let venv = std::env::var("PEER_VENV")
        .unwrap_or_else(|_| target.join("peer-bench-venv").display().to_string());
    let quiet = std::env::var("QUIET_WAIT").unwrap_or_else(|_| "10".into());
    eprintln!(
        "== the peer's script (load average {}): {}",
        load_average(),
        script.display()
    );
    let out = Command::new(&script)
        .args([
            &first.url,
            &first.session.cookie_header()?,
            &server.pid.to_string(),
        ])
        .env("PEER_VENV", venv)
        .env("QUIET_WAIT", quiet)
        .env("DURATION", format!("{}s", args.seconds))
        .env("CONNS", args.connections.to_string())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("running the peer's run_browse_bench.sh")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    if !out.status.success() {
        bail!("run_browse_bench.sh failed ({})", out.status);
    }
    let mut run = PeerRun::default();
    let mut in_summary = false;
    for line in text.lines() {
        if line.starts_with("CPU probe") {
            run.probes.push(line.to_owned());
        }
        if line.starts_with("target ") && line.contains("req/s") {
            in_summary = true;
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if in_summary && cols.len() == 9 && ["upstream", "peer", "other"].contains(&cols[0]) {
            let values = cols[1..].iter().map(|c| (*c).to_owned()).collect();
            run.rows.push((cols[0].to_owned(), values));
        }
    }
    if run.rps("peer").is_none() {
        bail!("no peer figure in the script's summary");
    }
    Ok(run)
}

/// The peer's fake Drive (nginx on 127.0.0.1:18080), started again for the shapes the
/// peer's script does not run.
struct Upstream {
    child: tokio::process::Child,
}

impl Upstream {
    async fn start(peer_dir: &Path, dir: &Path) -> Result<Self> {
        let prefix = dir.join("upstream");
        std::fs::create_dir_all(&prefix)?;
        let child = Command::new(peer_dir.join("upstream/start.sh"))
            .arg(&prefix)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the peer's upstream/start.sh (apt-get install nginx-light)")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = campuscore_testkit::http_client()
                .get(format!("{UPSTREAM}/healthz"))
                .send()
                .await;
            if up.is_ok_and(|r| r.status().is_success()) {
                return Ok(Self { child });
            }
            if Instant::now() > deadline {
                bail!("the upstream did not answer on {UPSTREAM}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// nginx's master (start.sh `exec`s it) stops its workers on SIGTERM.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg(pid.to_string()).status().await;
        }
        let _ = self.child.wait().await;
    }
}

fn print_report(args: &Args, machine: &str, peer: &PeerRun, shapes: &[Shape], notes: &[String]) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## browse — {} database, {} s per run\n\nMachine: {machine}; load average at the \
         end {}.\n",
        args.db,
        args.seconds,
        load_average()
    );
    if !peer.rows.is_empty() {
        let _ = writeln!(
            out,
            "The peer's script (`run_browse_bench.sh`, wrk -t2 -c{} -d{}s, without \
             `HX-Request`):\n\n| target | req/s | p50 | p99 | errors | CPU ms/req | RSS MiB | \
             PSS MiB | others' CPU |\n|---|---|---|---|---|---|---|---|---|",
            args.connections, args.seconds
        );
        for (name, cols) in &peer.rows {
            let _ = writeln!(out, "| {name} | {} |", cols.join(" | "));
        }
        for probe in &peer.probes {
            let _ = writeln!(out, "\n{probe}");
        }
        if let (Some(p), Some(o)) = (peer.rps("peer"), peer.rps("other")) {
            let _ = writeln!(
                out,
                "\nThe app ÷ the peer in the script's run: **{:.1}×**.",
                o / p
            );
        }
        out.push('\n');
    }
    let peer_rps = peer.rps("peer");
    let _ = writeln!(
        out,
        "| shape | req/s | × peer | p50 / p90 / p99 ms | app CPU ms/req (kernel %) | context \
         switches/req | database CPU ms/req | peak RSS | responses | audit rows per response \
         |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for s in shapes {
        let ratio = peer_rps.map_or("-".into(), |p| format!("{:.1}", s.wrk.rps / p));
        let db_cpu = s.db_cpu_ms.map_or("-".into(), |ms| format!("{ms:.2}"));
        let _ = writeln!(
            out,
            "| {} | {:.0} | {ratio} | {:.1} / {:.1} / {:.1} | {:.2} ({:.0} %) | {:.1} | {db_cpu} | \
             {} | {} ({}) | {:.3} |",
            s.name,
            s.wrk.rps,
            s.wrk.p50,
            s.wrk.p90,
            s.wrk.p99,
            s.cpu_ms,
            100.0 * s.sys_share,
            s.switches,
            mib(s.peak_kib),
            s.wrk.statuses,
            s.wrk.socket_errors,
            s.audit_per_response
        );
    }
    for note in notes {
        let _ = writeln!(out, "\n{note}");
    }
    for s in shapes {
        let _ = writeln!(out, "\n{}: `{}`", s.name, s.wrk.command);
    }
    println!("{out}");
}
