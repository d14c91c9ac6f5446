//! The `campuscore` binary's commands, run as a newcomer or an operator would.

use std::process::{Command, Output};

fn run(data_dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_campuscore"));
    cmd.args(args)
        .env_remove("FERNET_KEYS")
        .env_remove("FERNET_KEY")
        .env_remove("DATABASE_URL")
        .env("CAMPUSCORE_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run campuscore")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_operator_creates_users_configures_connectors_and_gets_a_token() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run(dir.path(), &[], &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("fernet.key").exists() || dir.path().join("campuscore.db").exists());

    let out = run(
        dir.path(),
        &[],
        &[
            "createuser",
            "--email",
            "Admin@Campus.edu",
            "--password",
            "a long enough password",
            "--admin",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("admin@campus.edu"));
    assert!(
        dir.path().join("fernet.key").exists(),
        "a key was generated once"
    );

    let out = run(
        dir.path(),
        &[],
        &[
            "createuser",
            "--email",
            "admin@campus.edu",
            "--password",
            "a long enough password",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already exists"));
    let out = run(
        dir.path(),
        &[],
        &[
            "createuser",
            "--email",
            "short@campus.edu",
            "--password",
            "short",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("at least 10 characters"));

    let out = run(
        dir.path(),
        &[],
        &[
            "config",
            "set",
            "test-echo",
            "CLIENT_SECRET",
            "very-secret-9f3e",
            "--secret",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("••••9f3e") && !stdout(&out).contains("very-secret"));
    let out = run(
        dir.path(),
        &[],
        &[
            "config",
            "set",
            "test-echo",
            "API_BASE_URL",
            "http://127.0.0.1:9999",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir.path(), &[], &["config", "list", "test-echo"]);
    let listed = stdout(&out);
    assert!(
        listed.contains("CLIENT_SECRET = ••••9f3e (secret)")
            && listed.contains("API_BASE_URL = http://127.0.0.1:9999"),
        "{listed}"
    );
    assert!(!listed.contains("very-secret"));
    let out = run(
        dir.path(),
        &[],
        &["config", "set", "no-such-connector", "X", "y"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no connector with slug"));

    let out = run(dir.path(), &[], &["connectors"]);
    assert!(
        stdout(&out).contains("test-echo") && stdout(&out).contains("echo"),
        "{}",
        stdout(&out)
    );

    let out = run(
        dir.path(),
        &[],
        &["token", "create", "--email", "admin@campus.edu"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).lines().last().unwrap_or_default().to_owned();
    assert!(token.starts_with("ccpat_") && token.len() > 40, "{token}");

    let out = run(dir.path(), &[], &["keys", "rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("connector_config: scanned 1"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_malformed_key_refuses_to_start_without_printing_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = "this-is-not-a-fernet-key-SECRETPART";
    let out = run(dir.path(), &[("FERNET_KEYS", bad)], &["migrate", "--help"]);
    assert!(out.status.success(), "help works without keys");
    let out = run(
        dir.path(),
        &[("FERNET_KEYS", bad)],
        &[
            "createuser",
            "--email",
            "a@b.edu",
            "--password",
            "a long enough password",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("FERNET_KEYS"), "{err}");
    assert!(
        !err.contains("SECRETPART"),
        "the key is never printed: {err}"
    );
    assert!(
        !dir.path().join("fernet.key").exists(),
        "no key is generated instead"
    );
}

#[test]
fn keys_generate_prints_a_key_python_would_accept() {
    let dir = tempfile::tempdir().expect("dir");
    let out = run(dir.path(), &[], &["keys", "generate"]);
    assert!(out.status.success());
    let key = stdout(&out).trim().to_owned();
    assert_eq!(key.len(), 44);
    assert!(key.ends_with('='));
    assert!(campuscore::services::secrets::Keyring::from_keys(&[key]).is_ok());
}
