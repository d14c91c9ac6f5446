//! Node packages for the test peers that run on Node (the OAuth server in
//! `tests/support/oauth-server`, playwright-core in `tests/browser`): `npm ci` from the
//! committed lockfile once per test process and, through a lock directory next to
//! `package.json`, once across test processes running at the same time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// Whether `tool --version` runs.
pub fn tool_available(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `dir/node_modules` holds the version of `package` that `dir/package.json` pins.
pub fn installed(dir: &Path, package: &str) -> bool {
    let read = |p: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
    };
    let Some(wanted) = read(dir.join("package.json"))
        .and_then(|v| v["dependencies"][package].as_str().map(str::to_owned))
    else {
        return false;
    };
    // npm writes node_modules/.package-lock.json last, so its presence means a finished install.
    dir.join("node_modules/.package-lock.json").is_file()
        && read(dir.join(format!("node_modules/{package}/package.json")))
            .is_some_and(|v| v["version"].as_str() == Some(wanted.as_str()))
}

/// Runs `npm ci` in `dir` unless `package` is already installed there.
pub fn ensure_installed(dir: &Path, package: &str) -> Result<(), String> {
    static DONE: Mutex<Option<HashMap<PathBuf, Result<(), String>>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(PoisonError::into_inner);
    let done = done.get_or_insert_with(HashMap::new);
    if let Some(result) = done.get(dir) {
        return result.clone();
    }
    let result = install_with_lock(dir, package);
    done.insert(dir.to_owned(), result.clone());
    result
}

fn install_with_lock(dir: &Path, package: &str) -> Result<(), String> {
    let lock = dir.join(".install-lock");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if installed(dir, package) {
            return Ok(());
        }
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A lock older than 10 minutes belongs to an install that died.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > Duration::from_secs(600));
                if stale {
                    let _ = std::fs::remove_dir(&lock);
                } else if Instant::now() > deadline {
                    return Err(format!("timed out waiting for {}", lock.display()));
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(format!("cannot create {}: {e}", lock.display())),
        }
    }
    let result = if installed(dir, package) {
        Ok(())
    } else {
        eprintln!("running `npm ci` in {}", dir.display());
        match std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "`npm ci` in {} failed ({}):\n{}{}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(e) => Err(format!("cannot run npm: {e}")),
        }
    };
    let _ = std::fs::remove_dir(&lock);
    result
}
