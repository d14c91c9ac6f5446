//! A throwaway PostgreSQL cluster for one test run: `initdb` into a temp directory, a free
//! loopback port, trust authentication for the `postgres` superuser, TLS with a self-signed
//! certificate (the postgres connector's TLS tests need it), durability off (nothing here
//! outlives the run). PostgreSQL refuses to run as root, so under root the cluster belongs to
//! the `postgres` OS user (made by Debian's package) or, failing that, a system user made
//! for it. Stopped and removed when dropped.

use crate::provision::{cannot, is_root, run, runs};
use crate::say;
use campuscore_test_peers::Peer;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A program of the newest PostgreSQL under `/usr/lib/postgresql/*/bin` (Debian keeps them
/// off `PATH`), else one on `PATH`.
pub fn pg_bin(program: &str) -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin").join(program);
            bin.is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    runs(program, &["--version"]).then(|| PathBuf::from(program))
}

pub struct Cluster {
    base: PathBuf,
    port: u16,
    /// The OS user the server runs as, when this process is root.
    user: Option<String>,
    pg_ctl: PathBuf,
}

impl Cluster {
    pub fn start() -> Result<Self, String> {
        let fail = |why: String| cannot(Peer::Postgres, &why);
        let initdb = pg_bin("initdb").ok_or_else(|| fail("initdb not found".into()))?;
        let pg_ctl = pg_bin("pg_ctl").ok_or_else(|| fail("pg_ctl not found".into()))?;
        let user = if is_root() {
            Some(server_user()?)
        } else {
            None
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| fail(format!("no free port: {e}")))?
            .port();
        let base = std::env::temp_dir().join(format!("campuscore-xtask-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).map_err(|e| fail(format!("{}: {e}", base.display())))?;
        let cluster = Cluster {
            base,
            port,
            user,
            pg_ctl,
        };
        if let Some(user) = &cluster.user {
            let mut chown = Command::new("chown");
            chown.arg(format!("{user}:")).arg(&cluster.base);
            run(chown, Peer::Postgres, "chown of the cluster's directory")?;
        }
        let data = cluster.data();
        say(&format!(
            "starting a throwaway PostgreSQL cluster in {} on port {port}",
            cluster.base.display()
        ));
        let mut init = cluster.as_user(&initdb);
        init.arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-instructions")
            .stdout(std::process::Stdio::null());
        run(init, Peer::Postgres, "initdb")?;
        let mut cert = cluster.as_user(Path::new("openssl"));
        cert.args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(data.join("server.key"))
        .arg("-out")
        .arg(data.join("server.crt"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        run(
            cert,
            Peer::Postgres,
            "openssl req (the server's TLS certificate)",
        )?;
        let mut private = cluster.as_user(Path::new("chmod"));
        private.arg("600").arg(data.join("server.key"));
        run(private, Peer::Postgres, "chmod of the TLS key")?;
        let settings = format!(
            "\n# cargo xtask test: a throwaway cluster\nlisten_addresses = '127.0.0.1'\n\
             port = {port}\nunix_socket_directories = '{}'\nssl = on\nmax_connections = 300\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            cluster.base.display()
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)
            .map_err(|e| fail(format!("reading {}: {e}", conf.display())))?;
        text.push_str(&settings);
        std::fs::write(&conf, text)
            .map_err(|e| fail(format!("writing {}: {e}", conf.display())))?;
        let mut start = cluster.as_user(&cluster.pg_ctl);
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.base.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(std::process::Stdio::null());
        run(start, Peer::Postgres, "pg_ctl start").map_err(|e| {
            let log = std::fs::read_to_string(cluster.base.join("server.log")).unwrap_or_default();
            format!("{e}\n{log}")
        })?;
        Ok(cluster)
    }

    /// The maintenance database the tests create theirs from (`CAMPUSCORE_TEST_PG_URL`).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.base.join("data")
    }

    /// `program`, run as the cluster's OS user when this process is root.
    fn as_user(&self, program: &Path) -> Command {
        match &self.user {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = self.as_user(&self.pg_ctl);
        stop.arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .stdout(std::process::Stdio::null());
        if !stop.status().is_ok_and(|s| s.success()) {
            eprintln!(
                "xtask: stopping the throwaway PostgreSQL cluster failed; its files are in {}",
                self.base.display()
            );
            return;
        }
        let _ = std::fs::remove_dir_all(&self.base);
        say("the throwaway PostgreSQL cluster is stopped and removed");
    }
}

/// The OS user a root-run cluster belongs to: `postgres` (Debian's package makes it), else
/// a system user made for this.
fn server_user() -> Result<String, String> {
    for user in ["postgres", "campuscore-pg"] {
        if runs("id", &["-u", user]) {
            return Ok(user.to_owned());
        }
    }
    let mut add = Command::new("useradd");
    add.args([
        "--system",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        "campuscore-pg",
    ]);
    run(
        add,
        Peer::Postgres,
        "useradd campuscore-pg (PostgreSQL refuses to run as root)",
    )?;
    Ok("campuscore-pg".into())
}
