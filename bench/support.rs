//! What the benchmarks that run a real `campuscore serve` share: the deployment (set up with
//! the CLI as an operator would), the server process, a logged-in session, `/proc` readings
//! and wrk. Included by `cloud_import.rs` and `browse.rs` with `#[path]`.

#![allow(dead_code, reason = "each benchmark uses part of it")]

use anyhow::{Context, Result, bail};
use campuscore::models::entities::{connector, user};
use campuscore::services::credentials::{self, NewConnection};
use campuscore::services::secrets::Keyring;
use campuscore_testkit::postgres::pg_admin_url;
use reqwest::cookie::{CookieStore, Jar};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
};
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The command line as `(flag, value)` pairs, in order: each of `valued` takes the next
/// argument as its value, each of `switches` stands alone (value empty). Cargo's own
/// `--bench` is skipped; anything else is an error that lists the flags.
pub fn flags<'a>(valued: &[&'a str], switches: &[&'a str]) -> Result<Vec<(&'a str, String)>> {
    let mut out = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if let Some(flag) = switches.iter().find(|f| **f == arg) {
            out.push((*flag, String::new()));
        } else if let Some(flag) = valued.iter().find(|f| **f == arg) {
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            out.push((*flag, value));
        } else if arg != "--bench" {
            bail!("unknown argument {arg}; use {valued:?} (each with a value) or {switches:?}");
        }
    }
    Ok(out)
}

/// Where a benchmark runs: a temporary directory, a fresh database and the machine's facts.
pub struct Fresh {
    pub dir: PathBuf,
    pub database_url: String,
    /// [`machine_facts`], also printed when the benchmark starts.
    pub machine: String,
}

/// What a benchmark's `main` does around its measurements: refuses a debug build of the
/// server (`cargo bench --bench NAME` builds it in release; `--profile profiling` is release
/// with line tables and incremental rebuilds), installs the crypto provider,
/// and runs `run` in a temporary directory on a fresh database (see [`on_fresh_database`]).
pub async fn bench_main<F, Fut>(bench: &str, db: &str, run: F) -> Result<()>
where
    F: FnOnce(Fresh) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let binary = env!("CARGO_BIN_EXE_campuscore");
    if cfg!(debug_assertions) || !(binary.contains("/release/") || binary.contains("/profiling/")) {
        bail!("{binary} is not a release build: run this with `cargo bench --bench {bench}`");
    }
    campuscore::install_crypto_provider();
    let machine = machine_facts();
    eprintln!("machine: {machine}");
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_owned();
    on_fresh_database(db, dir.path(), |database_url| {
        run(Fresh {
            dir: path,
            database_url,
            machine,
        })
    })
    .await
}

/// Runs `run` with the URL of a fresh database: `db` is `sqlite` (a file in `dir`) or
/// `postgres` (a uniquely named database on `CAMPUSCORE_TEST_PG_URL`, dropped afterwards
/// whatever `run` returned).
pub async fn on_fresh_database<F, Fut>(db: &str, dir: &Path, run: F) -> Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    if !matches!(db, "sqlite" | "postgres") {
        bail!("--db must be sqlite or postgres");
    }
    if db == "sqlite" {
        let url = format!("sqlite://{}/campuscore.db?mode=rwc", dir.display());
        return run(url).await;
    }
    let admin = pg_admin_url();
    let name = format!("cc_bench_{}", uuid::Uuid::new_v4().simple());
    let server = Database::connect(&admin).await?;
    server
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    server.close().await?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let result = run(format!("{base}/{name}")).await;
    let server = Database::connect(&admin).await?;
    server
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    result
}

/// The first user of a deployment.
pub const EMAIL: &str = "bench@campus.edu";
pub const PASSWORD: &str = "a long enough password";
/// wrk's per-request timeout. Its default (2 s) drops slower requests from the latency
/// figures (they only show as "timeout" socket errors), which hides the tail.
pub const WRK_TIMEOUT: &str = "30s";
/// `/proc/<pid>/stat` counts CPU time in clock ticks of USER_HZ, 100 on Linux.
pub const TICKS_PER_SEC: f64 = 100.0;
pub const MIB: f64 = 1024.0 * 1024.0;
/// Counts wrk's responses by status class: wrk itself only reports "non-2xx or 3xx", so a
/// redirect to the login page would pass for a success. A benchmark may put its own
/// `request()` before it.
pub const WRK_STATUS_SCRIPT: &str = r#"
threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args) s2, s3, s4, s429, s5 = 0, 0, 0, 0, 0; if prepare then prepare() end end
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

pub fn machine_facts() -> String {
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

pub fn load_average() -> String {
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU seconds of a process from `/proc/<pid>/stat` (`pid` may be `self`): its own user and
/// system time, and that of its children it has waited for.
#[derive(Clone, Copy, Default)]
pub struct Cpu {
    pub user: f64,
    pub system: f64,
    pub children: f64,
}

impl Cpu {
    pub fn of(pid: &str) -> Self {
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

    pub fn since(self, before: Self) -> Self {
        Self {
            user: self.user - before.user,
            system: self.system - before.system,
            children: self.children - before.children,
        }
    }

    pub fn total(self) -> f64 {
        self.user + self.system
    }
}

/// A deployment as an operator sets one up: environment, CLI, one `serve` process.
pub struct Deployment {
    dir: PathBuf,
    database_url: String,
    fernet_keys: String,
    port: u16,
    /// More environment for every command (limits raised for the run, and so on).
    env: Vec<(String, String)>,
}

impl Deployment {
    pub fn new(dir: &Path, database_url: &str) -> Result<Self> {
        Ok(Self {
            dir: dir.to_owned(),
            database_url: database_url.to_owned(),
            fernet_keys: Keyring::generate_key(),
            port: TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(),
            env: Vec::new(),
        })
    }

    /// Sets `key` for every command of the deployment.
    pub fn with_env(mut self, key: &str, value: impl ToString) -> Self {
        self.env.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn objects(&self) -> PathBuf {
        self.dir.join("objects")
    }

    pub fn command(&self) -> Command {
        self.command_under(&[])
    }

    /// [`Self::command`], run by `wrapper` (a program and its arguments, given the
    /// `campuscore` binary and its arguments after them) when it is not empty.
    fn command_under(&self, wrapper: &[String]) -> Command {
        let binary = env!("CARGO_BIN_EXE_campuscore");
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(binary);
                cmd
            }
            None => Command::new(binary),
        };
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
            ("RUST_LOG", "warn".into()),
        ];
        cmd.env_remove("FERNET_KEY")
            .envs(env)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .kill_on_drop(true);
        cmd
    }

    pub async fn cli(&self, args: &[&str]) -> Result<()> {
        let out = self.command().args(args).output().await?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            bail!("campuscore {}: {stderr}", args.join(" "));
        }
        Ok(())
    }

    /// Creates a local account with [`PASSWORD`].
    pub async fn create_user(&self, email: &str) -> Result<()> {
        self.cli(&["createuser", "--email", email, "--password", PASSWORD])
            .await
    }

    /// Migrate, create the user [`EMAIL`] and configure `google-drive` with the CLI, as an operator
    /// would; then a database connection for what the CLI cannot do.
    pub async fn set_up(&self, drive_url: &str) -> Result<DatabaseConnection> {
        self.cli(&["migrate"]).await?;
        self.create_user(EMAIL).await?;
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
    /// user `email`: `(folder id, connection id, user id)`.
    pub async fn add_connection(
        &self,
        db: &DatabaseConnection,
        email: &str,
    ) -> Result<(i64, i64, i64)> {
        let user = user::Entity::find()
            .filter(user::Column::Email.eq(email))
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
    pub async fn serve(&self) -> Result<Server> {
        self.serve_under(&[], Duration::from_secs(60)).await
    }

    /// [`Self::serve`] with the server run by `wrapper` (for example valgrind), waiting up to
    /// `start_up` for `/healthz`.
    pub async fn serve_under(&self, wrapper: &[String], start_up: Duration) -> Result<Server> {
        let log = self.dir.join("serve.log");
        let child = self
            .command_under(wrapper)
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
        let deadline = Instant::now() + start_up;
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
pub struct Server {
    pub child: Child,
    pub pid: u32,
    pub address: String,
    /// Its standard error: logs at `warn` and above.
    log: PathBuf,
}

impl Server {
    /// A `kB` field of `/proc/<pid>/status` (`VmHWM:` the peak resident set, `VmRSS:` now).
    pub fn kib(&self, field: &str) -> Result<u64> {
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
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    pub fn cpu(&self) -> Cpu {
        Cpu::of(&self.pid.to_string())
    }

    /// Context switches so far, voluntary and not, summed over the process's live threads
    /// (`/proc/<pid>/task/*/status`): each hand-off to a database worker thread and back, and
    /// each wake-up of an idle runtime, is one or more.
    #[allow(dead_code)] // browse.rs reads it; cloud_import.rs includes this file too
    pub fn context_switches(&self) -> u64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return 0;
        };
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .flat_map(|status| {
                status
                    .lines()
                    .filter(|l| l.contains("ctxt_switches:"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    pub fn log_lines(&self) -> usize {
        std::fs::read_to_string(&self.log).map_or(0, |l| l.lines().count())
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A logged-in browser: a cookie jar holding the session.
pub struct Session {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
    address: String,
}

impl Session {
    /// `GET /login` for the form's CSRF token, then `POST /login` as `email`, as
    /// `serve_process::Browser`, from the loopback address `from` (the log-in form allows a
    /// burst of 10 attempts per client address, so many users log in from many addresses).
    pub async fn log_in(address: &str, email: &str, from: std::net::Ipv4Addr) -> Result<Self> {
        let jar = Arc::new(Jar::default());
        let http = campuscore_testkit::http_client_builder()
            .local_address(std::net::IpAddr::V4(from))
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = http.get(format!("{address}/login")).send().await?;
        let token = csrf_from(&page.text().await?).context("csrf_token on /login")?;
        let form = [
            ("email", email),
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
    pub fn cookie_header(&self) -> Result<String> {
        let value = self
            .jar
            .cookies(&self.address.parse()?)
            .context("no session cookie")?;
        Ok(value.to_str()?.to_owned())
    }

    /// An HTMX GET of a browse fragment; anything but 200 is an error with the body.
    pub async fn browse(&self, url: &str) -> Result<String> {
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
pub fn csrf_from(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}

/// The values of a browse fragment's file checkboxes.
pub fn picks(html: &str) -> Vec<String> {
    html.split("name=\"file\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.find('"').map(|end| rest[..end].to_owned()))
        .collect()
}

/// What wrk reported (latencies in milliseconds).
pub struct Wrk {
    pub command: String,
    pub requests: u64,
    pub rps: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub non_2xx: u64,
    pub socket_errors: String,
    pub statuses: String,
}

/// One wrk run: `connections` over at most two threads for `seconds`, with `headers`, and
/// [`WRK_STATUS_SCRIPT`] after `lua` (which may define `request()` and a `prepare()` that
/// `init` calls in each thread, where `tid` is the thread's number).
pub struct WrkRun<'a> {
    pub connections: u32,
    pub seconds: u64,
    pub url: &'a str,
    pub headers: &'a [String],
    pub lua: &'a str,
    /// How the command line is shown in the report (instead of the headers and URL).
    pub shown: String,
}

impl WrkRun<'_> {
    /// wrk wants at least one connection per thread.
    pub fn threads(&self) -> u32 {
        self.connections.clamp(1, 2)
    }
}

pub async fn run_wrk(dir: &Path, run: &WrkRun<'_>) -> Result<Wrk> {
    let script = dir.join("wrk.lua");
    std::fs::write(&script, format!("{}\n{WRK_STATUS_SCRIPT}", run.lua))?;
    let script = script.to_str().context("a UTF-8 temp path")?;
    let flags = format!(
        "-t{} -c{} -d{}s --timeout {WRK_TIMEOUT} --latency",
        run.threads(),
        run.connections,
        run.seconds
    );
    eprintln!("wrk {flags} (load average {})", load_average());
    let mut cmd = Command::new("wrk");
    cmd.args(flags.split(' '));
    for header in run.headers {
        cmd.args(["-H", header]);
    }
    let out = cmd
        .args(["-s", script, run.url])
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
    Ok(Wrk {
        command: format!("wrk {flags} {}", run.shown),
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
            .unwrap_or("(the status script printed nothing)")
            .to_owned(),
    })
}

/// wrk's `1.23ms`, `456.00us`, `1.02s`, `2.00m` in milliseconds.
pub fn duration_ms(value: &str) -> Option<f64> {
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

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A signed-in user and the browse URL of their own connection and folder (My Drive).
pub struct Browser {
    pub email: String,
    pub session: Session,
    pub url: String,
}

impl Deployment {
    /// `users` users before the server starts — `first` (made by [`Deployment::set_up`])
    /// and `{prefix}01@campus.edu`, `{prefix}02@…` — each with a knowledge folder and a
    /// Drive connection of their own: (email, folder id, connection id).
    pub async fn add_users(
        &self,
        db: &DatabaseConnection,
        first: &str,
        prefix: &str,
        users: usize,
    ) -> Result<Vec<(String, i64, i64)>> {
        let mut emails = vec![first.to_owned()];
        for n in 1..users {
            let email = format!("{prefix}{n:02}@campus.edu");
            self.create_user(&email).await?;
            emails.push(email);
        }
        let mut places = Vec::new();
        for email in emails {
            let (folder, conn, _) = self.add_connection(db, &email).await?;
            places.push((email, folder, conn));
        }
        Ok(places)
    }
}

/// Signs each of `places` (from [`Deployment::add_users`]) in to `server`, each from a
/// loopback address of its own (127.0.0.2, 127.0.0.3, …) so the per-address sign-in limit
/// sees many people, not one.
pub async fn sign_in_all(server: &Server, places: Vec<(String, i64, i64)>) -> Result<Vec<Browser>> {
    let mut browsers = Vec::new();
    for (n, (email, folder, conn)) in places.into_iter().enumerate() {
        let from =
            std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::LOCALHOST) + 1 + n as u32);
        let session = Session::log_in(&server.address, &email, from).await?;
        let url = format!(
            "{}/api/htmx/knowledge-folders/{folder}/cloud-import/{conn}/browse/?folder=root",
            server.address
        );
        browsers.push(Browser {
            email,
            session,
            url,
        });
    }
    Ok(browsers)
}
