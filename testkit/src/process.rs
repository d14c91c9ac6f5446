//! OS processes of the app for tests that need one (killing the server in the middle of
//! work, two processes on one database, reading a server's peak memory): a [`Server`] that is
//! killed when dropped, and [`free_port`]. The caller builds the command — the path of the
//! `campuscore` binary is only known to the crate that has it as a target
//! (`env!("CARGO_BIN_EXE_campuscore")`), and the environment is the caller's deployment.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

/// One `campuscore serve` process; killed when dropped.
pub struct Server {
    child: std::process::Child,
    pub address: String,
}

impl Server {
    /// Spawns `command` (a `campuscore serve --bind <address>`) and waits until `address`
    /// (`http://host:port`) answers `/healthz`; panics after a minute, naming `name`.
    pub async fn start(mut command: Command, address: String, name: &str) -> Self {
        let child = command.spawn().expect("start campuscore serve");
        let server = Server { child, address };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = crate::http_client()
                .get(format!("{}/healthz", server.address))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(Instant::now() < deadline, "{name} did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The operating-system process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kill the process at once (SIGKILL: no shutdown code runs) and reap it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ask the process to stop as a service manager would (SIGTERM), without waiting.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM {}", self.pid());
    }

    /// Waits up to `within` for the process to exit; its exit status, or `None` if it is
    /// still running.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// A port on `127.0.0.1` that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
