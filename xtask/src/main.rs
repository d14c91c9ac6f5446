//! `cargo xtask test` — the README's one test command. On a Debian machine (root, or the
//! packages already installed) it provisions every peer the tests need and runs every suite,
//! so nothing skips unless asked by name:
//!
//! 1. Debian packages, when missing: `postgresql` (+ `openssl` for its TLS certificate),
//!    `nodejs` + `npm` (Node.js 20+), `chromium`, `python3` + `python3-venv`.
//! 2. A Python virtual environment cached in `target/xtask-venv` with `cryptography` and
//!    `moto[server]`, put first on the tests' `PATH`; the MCP client's pinned one in
//!    `tests/support/mcp-client/.venv`.
//! 3. `npm ci` of the committed lockfiles (`tests/support/oauth-server`, `tests/browser`).
//! 4. A throwaway PostgreSQL cluster of its own (initdb into a temp dir, a free port, TLS on,
//!    trust auth; as a non-root user when run as root), stopped and removed at the end.
//!
//! Then `cargo test --workspace` (SQLite) and the API suite again on PostgreSQL
//! (`CAMPUSCORE_TEST_DB=postgres cargo test --workspace --test api`), with `CAMPUSCORE_REQUIRE_PEERS=1`
//! so a test whose peer is missing fails instead of skipping. A peer that cannot be
//! provisioned stops the run, naming it and the command that would install it.
//! `--skip PEER` (repeatable: `postgres`, `node`, `browser`, `python`, `mcp-client`) leaves
//! one out; its tests then skip and say so.

mod cluster;
mod provision;

use campuscore_test_peers::Peer;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask test [--skip PEER]...

Provisions every test peer (Debian packages, a Python venv, npm packages, a throwaway
PostgreSQL cluster) and runs every suite: `cargo test --workspace` on SQLite, then the API
suite on PostgreSQL. Nothing is skipped unless named:

  --skip PEER   do without PEER (repeatable, or comma-separated); its tests skip and say so.
                PEER is one of: postgres, node, browser, python, mcp-client";

/// The parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Task {
    Help,
    Test { skip: Vec<Peer> },
}

fn parse(args: &[String]) -> Result<Task, String> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => return Ok(Task::Help),
        Some("test") => {}
        Some(other) => return Err(format!("unknown task `{other}`")),
    }
    let mut skip = Vec::new();
    while let Some(arg) = args.next() {
        let list = match arg.as_str() {
            "--skip" => args.next().ok_or("--skip needs a peer name")?.as_str(),
            "-h" | "--help" => return Ok(Task::Help),
            other => match other.strip_prefix("--skip=") {
                Some(list) => list,
                None => return Err(format!("unknown argument `{other}`")),
            },
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let peer = Peer::from_name(name).ok_or_else(|| format!("unknown peer `{name}`"))?;
            if !skip.contains(&peer) {
                skip.push(peer);
            }
        }
    }
    Ok(Task::Test { skip })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Task::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Task::Test { skip }) => match test(&skip) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("xtask: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (this crate sits one level down).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory, where the Python venv is cached.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn say(what: &str) {
    println!("xtask: {what}");
}

fn test(skip: &[Peer]) -> Result<(), String> {
    let wanted: Vec<Peer> = Peer::ALL
        .into_iter()
        .filter(|p| !skip.contains(p))
        .collect();
    let started = Instant::now();
    say(&format!(
        "provisioning {}",
        wanted
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let env = provision::all(&wanted)?;
    let cluster = if wanted.contains(&Peer::Postgres) {
        Some(cluster::Cluster::start()?)
    } else {
        None
    };
    say(&format!("peers ready in {} s", started.elapsed().as_secs()));

    let skip_names: Vec<&str> = skip.iter().map(|p| p.name()).collect();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let command = |args: &[&str]| {
        let mut cmd = Command::new(&cargo);
        cmd.args(args)
            .current_dir(root())
            .env("CAMPUSCORE_REQUIRE_PEERS", "1")
            .env("CAMPUSCORE_SKIP_PEERS", skip_names.join(","))
            .env("PATH", &env.path);
        if let Some(cluster) = &cluster {
            cmd.env("CAMPUSCORE_TEST_PG_URL", cluster.url());
        }
        cmd
    };

    let mut results = Vec::new();
    let run = |name: &str, mut cmd: Command, results: &mut Vec<(String, bool, u64)>| {
        say(&format!("== {name}"));
        let t = Instant::now();
        let ok = cmd.status().is_ok_and(|s| s.success());
        results.push((name.to_owned(), ok, t.elapsed().as_secs()));
    };
    run(
        "cargo test --workspace (SQLite)",
        // `--no-fail-fast`: every suite runs and reports, even after one fails.
        command(&["test", "--workspace", "--no-fail-fast"]),
        &mut results,
    );
    if cluster.is_some() {
        // `--workspace` keeps the features the first run resolved, so nothing rebuilds.
        let mut on_pg = command(&["test", "--workspace", "--no-fail-fast", "--test", "api"]);
        on_pg.env("CAMPUSCORE_TEST_DB", "postgres");
        run("cargo test --test api (PostgreSQL)", on_pg, &mut results);
    }
    drop(cluster);

    say("summary:");
    for (name, ok, secs) in &results {
        say(&format!(
            "  {} {name} ({secs} s)",
            if *ok { "ok    " } else { "FAILED" }
        ));
    }
    if !skip.is_empty() {
        say(&format!(
            "  skipped by request: {} (their tests skip; see the `skipped suites` line above)",
            skip_names.join(", ")
        ));
    }
    say(&format!("  total {} s", started.elapsed().as_secs()));
    if results.iter().all(|(_, ok, _)| *ok) {
        Ok(())
    } else {
        Err("some suites failed (see above)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn skips_are_named_peers_given_once_or_many_times() {
        assert_eq!(parse(&args(&["test"])), Ok(Task::Test { skip: vec![] }));
        assert_eq!(
            parse(&args(&[
                "test",
                "--skip",
                "browser",
                "--skip=postgres,browser"
            ])),
            Ok(Task::Test {
                skip: vec![Peer::Browser, Peer::Postgres]
            })
        );
        assert_eq!(parse(&args(&[])), Ok(Task::Help));
        assert_eq!(parse(&args(&["test", "--help"])), Ok(Task::Help));
    }

    #[test]
    fn unknown_peers_tasks_and_flags_are_refused_by_name() {
        let err = |a: &[&str]| parse(&args(a)).expect_err("refused");
        assert!(err(&["test", "--skip", "chrome"]).contains("`chrome`"));
        assert!(err(&["test", "--skip"]).contains("--skip"));
        assert!(err(&["test", "--fast"]).contains("`--fast`"));
        assert!(err(&["bench"]).contains("`bench`"));
    }
}
