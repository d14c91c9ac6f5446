//! Test peers are the real servers and tools some tests need: PostgreSQL, Node.js (the OAuth
//! server), Chromium, Python's `cryptography`, moto, the official MCP client. This crate
//! decides what a test does when one is missing, the same way everywhere:
//!
//! - under `cargo xtask test` (`CAMPUSCORE_REQUIRE_PEERS=1`, which provisions them all) or
//!   `CI=true`, the test **fails**, naming the peer and the command that provides it — unless
//!   the run was told to skip that peer by name (`cargo xtask test --skip postgres` sets
//!   `CAMPUSCORE_SKIP_PEERS=postgres`);
//! - otherwise (a plain `cargo test` on a bare machine) it **skips**: it says so on the
//!   terminal at once (past the test harness's output capture) and records the skip under
//!   `target/<profile>/test-skips/<cargo's pid>/`. The `xtask` crate's `skipped_suites`
//!   test, the last test binary `cargo test --workspace` runs, prints one line naming every
//!   suite skipped in that run ([`summary_line`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

/// A peer some tests need, by the name `--skip` and `CAMPUSCORE_SKIP_PEERS` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A PostgreSQL server (`CAMPUSCORE_TEST_PG_URL`).
    Postgres,
    /// Node.js and npm, for the real OAuth server (npm `oidc-provider`).
    Node,
    /// Debian's Chromium driven by npm `playwright-core`.
    Browser,
    /// `python3` with `cryptography` (Fernet interop) and `moto[server]` (S3).
    Python,
    /// The official MCP client (PyPI `mcp`, pinned) in its own virtual environment.
    McpClient,
}

impl Peer {
    /// Every peer, in the order `cargo xtask test` provisions them.
    pub const ALL: [Peer; 5] = [
        Peer::Postgres,
        Peer::Node,
        Peer::Browser,
        Peer::Python,
        Peer::McpClient,
    ];

    /// The name used by `--skip` and `CAMPUSCORE_SKIP_PEERS`.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Postgres => "postgres",
            Peer::Node => "node",
            Peer::Browser => "browser",
            Peer::Python => "python",
            Peer::McpClient => "mcp-client",
        }
    }

    /// The peer called `name`, if any.
    pub fn from_name(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }

    /// How to provide the peer by hand (`cargo xtask test` does all of it).
    pub fn install_hint(self) -> &'static str {
        match self {
            Peer::Postgres => {
                "run `cargo xtask test` (a throwaway cluster), or start PostgreSQL and set \
                 CAMPUSCORE_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres)"
            }
            Peer::Node => "apt-get install nodejs npm (Node.js 20+)",
            Peer::Browser => "apt-get install chromium nodejs npm",
            Peer::Python => "python3 -m pip install 'cryptography>=42' 'moto[server]>=5'",
            Peer::McpClient => "apt-get install python3-venv (the test makes its venv)",
        }
    }
}

/// Whether a missing `peer` fails the test: under `cargo xtask test` or `CI=true`, unless
/// the run names it in `CAMPUSCORE_SKIP_PEERS`.
pub fn required(peer: Peer) -> bool {
    required_with(peer, |k| std::env::var(k).ok())
}

fn required_with(peer: Peer, get: impl Fn(&str) -> Option<String>) -> bool {
    let skipped = get("CAMPUSCORE_SKIP_PEERS").is_some_and(|list| {
        list.split(',')
            .map(str::trim)
            .any(|name| name == peer.name())
    });
    let strict = get("CAMPUSCORE_REQUIRE_PEERS").is_some_and(|v| v == "1" || v == "true")
        || get("CI").is_some_and(|v| v == "true");
    strict && !skipped
}

/// `peer` is missing for `suite` (a few words: "the S3 tests against moto") because of
/// `why`: panics when the peer is required, else records the skip and tells the terminal.
/// The caller returns from the test afterwards.
///
/// # Panics
/// When [`required`] says the peer must be there.
pub fn unavailable(peer: Peer, suite: &str, why: &str) {
    assert!(
        !required(peer),
        "{suite}: the test peer `{}` is missing ({why}); {}. \
         To run without it, pass `--skip {}` to `cargo xtask test`.",
        peer.name(),
        peer.install_hint(),
        peer.name(),
    );
    record(peer, suite, why);
}

/// Suites this process already announced (one notice per suite, however many tests skip).
static ANNOUNCED: Mutex<BTreeMap<String, ()>> = Mutex::new(BTreeMap::new());

fn record(peer: Peer, suite: &str, why: &str) {
    let first = ANNOUNCED
        .lock()
        .map(|mut seen| seen.insert(suite.to_owned(), ()).is_none())
        .unwrap_or(true);
    if !first {
        return;
    }
    // Straight to the terminal: the harness captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {suite}: test peer `{}` missing ({why}); {}",
        peer.name(),
        peer.install_hint()
    );
    if let Some(dir) = run_dir() {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            dir.join(file_name(suite)),
            format!("{}\t{suite}", peer.name()),
        );
    }
}

/// Where this run's skips are recorded: `target/<profile>/test-skips/<pid of cargo>`, found
/// from the test binary's own path (`target/<profile>/deps/<binary>`).
pub fn run_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    Some(
        profile_dir
            .join("test-skips")
            .join(std::os::unix::process::parent_id().to_string()),
    )
}

fn file_name(suite: &str) -> String {
    suite
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The closing line of a run: every suite skipped in it (read from [`run_dir`], which is
/// then removed), or that none was.
pub fn summary_line() -> String {
    let Some(dir) = run_dir() else {
        return "skipped suites: unknown (the test binary's path is not readable)".into();
    };
    let mut skipped: Vec<(String, String)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.path()).ok()?;
            let (peer, suite) = text.split_once('\t')?;
            Some((suite.to_owned(), peer.to_owned()))
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    skipped.sort();
    format_summary(&skipped)
}

fn format_summary(skipped: &[(String, String)]) -> String {
    if skipped.is_empty() {
        return "skipped suites: none".into();
    }
    let list: Vec<String> = skipped
        .iter()
        .map(|(suite, peer)| format!("{suite} ({peer})"))
        .collect();
    format!(
        "skipped suites ({}): {} — `cargo xtask test` provisions every peer and skips nothing",
        skipped.len(),
        list.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_missing_peer_fails_only_under_xtask_or_ci_and_not_when_skipped_by_name() {
        assert!(!required_with(Peer::Postgres, env(&[])));
        assert!(required_with(Peer::Postgres, env(&[("CI", "true")])));
        assert!(!required_with(Peer::Postgres, env(&[("CI", "false")])));
        assert!(required_with(
            Peer::Browser,
            env(&[("CAMPUSCORE_REQUIRE_PEERS", "1")])
        ));
        let skipping = env(&[
            ("CAMPUSCORE_REQUIRE_PEERS", "1"),
            ("CAMPUSCORE_SKIP_PEERS", "browser, postgres"),
        ]);
        assert!(!required_with(Peer::Browser, &skipping));
        assert!(!required_with(Peer::Postgres, &skipping));
        assert!(required_with(Peer::Node, &skipping));
        assert!(required_with(Peer::McpClient, &skipping));
    }

    #[test]
    fn every_peer_is_found_by_its_own_name() {
        for peer in Peer::ALL {
            assert_eq!(Peer::from_name(peer.name()), Some(peer));
            assert!(!peer.install_hint().is_empty());
        }
        assert_eq!(Peer::from_name("chrome"), None);
    }

    #[test]
    fn the_summary_names_every_skipped_suite_on_one_line() {
        assert_eq!(format_summary(&[]), "skipped suites: none");
        let line = format_summary(&[
            ("Fernet interop with Python".into(), "python".into()),
            ("the postgres connector tests".into(), "postgres".into()),
        ]);
        assert!(!line.contains('\n'));
        assert!(line.starts_with("skipped suites (2): Fernet interop with Python (python); "));
        assert!(line.contains("the postgres connector tests (postgres)"));
    }

    #[test]
    fn suite_names_become_plain_file_names() {
        assert_eq!(file_name("S3 tests / moto"), "s3-tests---moto");
    }
}
