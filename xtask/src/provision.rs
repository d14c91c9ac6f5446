//! Everything but the PostgreSQL cluster: Debian packages, the Python virtual environments
//! and the npm packages. Each step names the peer it serves, so a failure says which peer
//! could not be provisioned and what would install it.

use crate::{root, say, target_dir};
use campuscore_test_peers::Peer;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the test runs need from provisioning.
pub struct Env {
    /// `PATH` with the cached venv first, so the tests' `python3` has `cryptography` and moto.
    pub path: OsString,
}

/// A Debian package a peer needs, and how to tell whether it is there.
struct Package {
    name: &'static str,
    peers: &'static [Peer],
    present: fn() -> bool,
}

const PACKAGES: &[Package] = &[
    Package {
        name: "postgresql",
        peers: &[Peer::Postgres],
        present: || crate::cluster::pg_bin("initdb").is_some(),
    },
    Package {
        name: "openssl",
        peers: &[Peer::Postgres],
        present: || runs("openssl", &["version"]),
    },
    Package {
        name: "nodejs",
        peers: &[Peer::Node, Peer::Browser],
        present: || runs("node", &["--version"]),
    },
    Package {
        name: "npm",
        peers: &[Peer::Node, Peer::Browser],
        present: || runs("npm", &["--version"]),
    },
    Package {
        name: "chromium",
        peers: &[Peer::Browser],
        present: || Path::new("/usr/bin/chromium").is_file(),
    },
    Package {
        name: "python3",
        peers: &[Peer::Python, Peer::McpClient],
        present: || runs("python3", &["--version"]),
    },
    Package {
        name: "python3-venv",
        peers: &[Peer::Python, Peer::McpClient],
        present: || runs("python3", &["-c", "import venv, ensurepip"]),
    },
];

/// Whether `program args` runs and succeeds (quietly).
pub fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd`, showing its output; an error naming `peer` and `what` when it fails.
pub fn run(mut cmd: Command, peer: Peer, what: &str) -> Result<(), String> {
    match cmd.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(cannot(peer, &format!("{what} failed ({status})"))),
        Err(e) => Err(cannot(peer, &format!("{what} could not start: {e}"))),
    }
}

/// The message of a peer that cannot be provisioned.
pub fn cannot(peer: Peer, why: &str) -> String {
    format!(
        "test peer `{}` cannot be provisioned: {why}. To provide it: {}; or run without it: \
         cargo xtask test --skip {}",
        peer.name(),
        peer.install_hint(),
        peer.name()
    )
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Provisions every peer in `wanted` but PostgreSQL's cluster.
pub fn all(wanted: &[Peer]) -> Result<Env, String> {
    packages(wanted)?;
    if wanted
        .iter()
        .any(|p| matches!(p, Peer::Node | Peer::Browser))
    {
        node_version(wanted)?;
    }
    let venv = target_dir().join("xtask-venv");
    if wanted.contains(&Peer::Python) {
        python_venv(&venv)?;
    }
    if wanted.contains(&Peer::McpClient) {
        mcp_client_venv()?;
    }
    if wanted.contains(&Peer::Node) {
        npm_ci(&root().join("tests/support/oauth-server"), Peer::Node)?;
    }
    if wanted.contains(&Peer::Browser) {
        // The browser test signs in through the OAuth server too.
        npm_ci(&root().join("tests/support/oauth-server"), Peer::Browser)?;
        npm_ci(&root().join("tests/browser"), Peer::Browser)?;
    }
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(paths).map_err(|e| format!("PATH: {e}"))?;
    Ok(Env { path })
}

/// Installs the missing Debian packages of the wanted peers with apt (as root).
fn packages(wanted: &[Peer]) -> Result<(), String> {
    let missing: Vec<&Package> = PACKAGES
        .iter()
        .filter(|p| p.peers.iter().any(|peer| wanted.contains(peer)))
        .filter(|p| !(p.present)())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
    let first_peer = *missing[0]
        .peers
        .iter()
        .find(|p| wanted.contains(p))
        .unwrap_or(&missing[0].peers[0]);
    let install = format!("apt-get install -y {}", names.join(" "));
    if !is_root() || !runs("apt-get", &["--version"]) {
        return Err(cannot(
            first_peer,
            &format!(
                "Debian packages {} are missing and this is not root on a Debian machine (run \
                 `sudo {install}`)",
                names.join(", ")
            ),
        ));
    }
    say(&format!("installing Debian packages: {}", names.join(" ")));
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    run(update, first_peer, "apt-get update")?;
    let mut cmd = Command::new("apt-get");
    cmd.args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&names)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(cmd, first_peer, &install)?;
    for package in missing {
        if !(package.present)() {
            let peer = package.peers.iter().find(|p| wanted.contains(p));
            return Err(cannot(
                *peer.unwrap_or(&package.peers[0]),
                &format!("`{install}` ran, but {} is still not usable", package.name),
            ));
        }
    }
    Ok(())
}

/// The OAuth server (npm `oidc-provider`) and playwright need Node.js 20 or later.
fn node_version(wanted: &[Peer]) -> Result<(), String> {
    let out = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| cannot(Peer::Node, &format!("node does not run: {e}")))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major >= 20 {
        return Ok(());
    }
    let peer = if wanted.contains(&Peer::Node) {
        Peer::Node
    } else {
        Peer::Browser
    };
    Err(cannot(
        peer,
        &format!(
            "Node.js {version} is too old (20 or later is needed; Debian 13 ships 20, on \
             Debian 12 install it from NodeSource's apt repository)"
        ),
    ))
}

/// The cached venv with `cryptography` and `moto[server]` (reused while it imports them).
fn python_venv(venv: &Path) -> Result<(), String> {
    let python = venv.join("bin/python3");
    let check = ["-c", "import cryptography.fernet, moto.server, flask"];
    if python.is_file() && runs(&python.to_string_lossy(), &check) {
        return Ok(());
    }
    say(&format!("making the Python venv {}", venv.display()));
    let mut make = Command::new("python3");
    make.args(["-m", "venv"]).arg(venv);
    run(make, Peer::Python, "python3 -m venv")?;
    let mut pip = Command::new(venv.join("bin/pip"));
    pip.args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "cryptography>=42",
        "moto[server]>=5",
    ]);
    run(pip, Peer::Python, "pip install cryptography moto[server]")?;
    if runs(&python.to_string_lossy(), &check) {
        Ok(())
    } else {
        Err(cannot(
            Peer::Python,
            "the venv was made but does not import cryptography and moto",
        ))
    }
}

/// The MCP client's venv with its pinned requirements (the tests would make it on first use;
/// making it here keeps the install out of a timed test).
fn mcp_client_venv() -> Result<(), String> {
    let dir = root().join("tests/support/mcp-client");
    let python = dir.join(".venv/bin/python");
    if python.is_file() && runs(&python.to_string_lossy(), &["-c", "import mcp, httpx2"]) {
        return Ok(());
    }
    say("making the MCP client's venv (tests/support/mcp-client/.venv)");
    let mut make = Command::new("python3");
    make.args(["-m", "venv", ".venv"]).current_dir(&dir);
    run(make, Peer::McpClient, "python3 -m venv")?;
    let mut pip = Command::new(dir.join(".venv/bin/pip"));
    pip.args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        "requirements.txt",
    ])
    .current_dir(&dir);
    run(pip, Peer::McpClient, "pip install -r requirements.txt")
}

/// `npm ci` in `dir` unless its `node_modules` is at least as new as its lockfile.
fn npm_ci(dir: &Path, peer: Peer) -> Result<(), String> {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    let locked = modified(dir.join("package-lock.json"));
    if installed.is_some() && installed >= locked {
        return Ok(());
    }
    say(&format!("npm ci in {}", dir.display()));
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir);
    run(cmd, peer, &format!("npm ci in {}", dir.display()))
}
