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

/// Run a command that must succeed; its standard output.
fn ok(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = run(data_dir, &[], args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Run a command that must fail; its standard error.
fn fails(data_dir: &std::path::Path, args: &[&str]) -> String {
    let out = run(data_dir, &[], args);
    assert!(!out.status.success(), "{args:?} should fail");
    stderr(&out)
}

#[test]
fn an_operator_creates_users_configures_connectors_and_gets_a_token() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    ok(d, &["migrate"]);
    assert!(d.join("fernet.key").exists() || d.join("campuscore.db").exists());

    let pw = "a long enough password";
    let out = ok(
        d,
        &[
            "createuser",
            "--email",
            "Admin@Campus.edu",
            "--password",
            pw,
            "--admin",
        ],
    );
    assert!(out.contains("admin@campus.edu"));
    assert!(d.join("fernet.key").exists(), "a key was generated once");
    assert!(
        fails(
            d,
            &[
                "createuser",
                "--email",
                "admin@campus.edu",
                "--password",
                pw
            ]
        )
        .contains("already exists")
    );
    assert!(
        fails(
            d,
            &[
                "createuser",
                "--email",
                "short@campus.edu",
                "--password",
                "short"
            ]
        )
        .contains("at least 10 characters")
    );

    let out = ok(
        d,
        &[
            "config",
            "set",
            "test-echo",
            "CLIENT_SECRET",
            "very-secret-9f3e",
            "--secret",
        ],
    );
    assert!(out.contains("••••9f3e") && !out.contains("very-secret"));
    ok(
        d,
        &[
            "config",
            "set",
            "test-echo",
            "API_BASE_URL",
            "http://127.0.0.1:9999",
        ],
    );
    let listed = ok(d, &["config", "list", "test-echo"]);
    assert!(
        listed.contains("CLIENT_SECRET = ••••9f3e (secret)")
            && listed.contains("API_BASE_URL = http://127.0.0.1:9999"),
        "{listed}"
    );
    assert!(!listed.contains("very-secret"));
    // A secret can come from standard input, out of the shell history and process list.
    let mut piped = std::process::Command::new(env!("CARGO_BIN_EXE_campuscore"))
        .args([
            "config",
            "set",
            "test-echo",
            "WEBHOOK_SECRET",
            "--secret",
            "--value-stdin",
        ])
        .env_remove("FERNET_KEYS")
        .env_remove("FERNET_KEY")
        .env_remove("DATABASE_URL")
        .env("CAMPUSCORE_DATA_DIR", d)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run campuscore");
    {
        use std::io::Write as _;
        let mut stdin = piped.stdin.take().expect("stdin");
        stdin.write_all(b"from-stdin-7c1d\n").expect("write");
    }
    let out = piped.wait_with_output().expect("finish");
    assert!(out.status.success());
    assert!(stdout(&out).contains("••••7c1d") && !stdout(&out).contains("from-stdin"));
    assert!(ok(d, &["config", "list", "test-echo"]).contains("WEBHOOK_SECRET = ••••7c1d (secret)"));
    assert!(
        fails(d, &["config", "set", "no-such-connector", "X", "y"])
            .contains("no connector with slug")
    );

    let out = ok(d, &["connectors"]);
    assert!(out.contains("test-echo") && out.contains("echo"), "{out}");

    let out = ok(d, &["token", "create", "--email", "admin@campus.edu"]);
    let token = out.lines().last().unwrap_or_default().to_owned();
    assert!(token.starts_with("ccpat_") && token.len() > 40, "{token}");
    assert!(
        out.contains("(api; expires "),
        "an api token by default: {out}"
    );
    let out = ok(
        d,
        &[
            "token",
            "create",
            "--email",
            "admin@campus.edu",
            "--name",
            "assistant",
            "--scope",
            "mcp,api",
            "--expires-days",
            "7",
        ],
    );
    let second = out.lines().last().unwrap_or_default().to_owned();
    assert!(second.starts_with("ccpat_") && second != token, "{out}");
    assert!(out.contains("(api,mcp; expires "), "{out}");
    let id = out
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse::<i64>().ok())
        .expect("the new token's id");
    assert!(
        fails(
            d,
            &[
                "token",
                "create",
                "--email",
                "admin@campus.edu",
                "--scope",
                "admin"
            ]
        )
        .contains("unknown scope \"admin\"")
    );
    assert!(
        fails(
            d,
            &[
                "token",
                "create",
                "--email",
                "admin@campus.edu",
                "--expires-days",
                "0"
            ]
        )
        .contains("1 to 366 days")
    );
    let listed = ok(d, &["token", "list", "--email", "admin@campus.edu"]);
    assert!(
        listed.contains("assistant") && listed.contains("api,mcp"),
        "{listed}"
    );
    assert!(!listed.contains(&second), "the list never shows a token");
    let out = ok(d, &["token", "revoke", &id.to_string()]);
    assert!(out.contains(&format!("token {id} revoked")), "{out}");
    let listed = ok(d, &["token", "list", "--email", "admin@campus.edu"]);
    assert!(!listed.contains("assistant"), "{listed}");
    assert!(fails(d, &["token", "revoke", &id.to_string()]).contains("no live token"));

    let out = ok(d, &["keys", "rotate"]);
    assert!(out.contains("connector_config: scanned 2"), "{out}");
    assert!(
        out.contains("app_secret: scanned 1"),
        "the session key is a secret too: {out}"
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
