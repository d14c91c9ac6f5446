//! Password guessing: the per-address limit is one budget for the whole server and believes
//! `X-Forwarded-For` only from trusted proxies; the per-account throttle holds whatever the
//! addresses, spares browsers the account has signed in with, and ends by itself.

use crate::helpers::{Options, TestApp, csrf_from, spawn_app, spawn_app_with};
use std::sync::Arc;

const PASSWORD: &str = "a long enough password";

/// A browser that opens a new connection for every request, so requests land on every
/// worker of the server in turn.
fn fresh_connection_browser(app: &TestApp) -> (reqwest::Client, String) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = campuscore_testkit::http_client_builder()
        .cookie_provider(jar)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    (client, app.url("/login"))
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let page = client.get(url).send().await.expect("login page");
    let token = csrf_from(&page.text().await.expect("body"));
    let mut req = client.post(url).form(&[
        ("email", email),
        ("password", password),
        ("csrf_token", token.as_str()),
    ]);
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.expect("post")
}

/// A post the per-address limit counts but the handler refuses at once (no email or
/// password, so no password hashing slows the loop): 400 when let through, 429 when not.
async fn probe(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    forwarded_for: Option<&str>,
) -> u16 {
    let mut req = client.post(url).form(&[("csrf_token", token)]);
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    let res = req.send().await.expect("post");
    let status = res.status().as_u16();
    if status == 429 {
        assert!(res.headers().get("retry-after").is_some(), "429 says when");
    }
    status
}

async fn token(client: &reqwest::Client, url: &str) -> String {
    let page = client.get(url).send().await.expect("login page");
    csrf_from(&page.text().await.expect("body"))
}

#[tokio::test]
async fn guessing_passwords_across_workers_draws_on_one_budget_per_address() {
    let app = spawn_app().await;
    let (client, url) = fresh_connection_browser(&app);
    let token = token(&client, &url).await;
    let started = std::time::Instant::now();
    let mut answered = 0u64;
    let mut refused = 0u64;
    for _ in 0..40 {
        match probe(&client, &url, &token, None).await {
            400 => answered += 1,
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // A burst of 10, plus one per 3 s while the posts ran; with a limiter per worker this
    // was 10 per worker.
    let allowed = 10 + started.elapsed().as_secs() / 3 + 1;
    assert!(
        answered <= allowed,
        "{answered} posts were let through, {allowed} allowed"
    );
    assert!(refused > 0, "no post was refused");
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    // Not trusted: every forged X-Forwarded-For shares the peer's one budget.
    let app = spawn_app().await;
    let (client, url) = fresh_connection_browser(&app);
    let token_a = token(&client, &url).await;
    let mut statuses = Vec::new();
    for i in 0..40 {
        let status = probe(&client, &url, &token_a, Some(&format!("203.0.113.{i}"))).await;
        statuses.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&429),
        "forged addresses escaped the limit: {statuses:?}"
    );

    // Behind a trusted proxy: the address it saw is the client, one budget each.
    let app = spawn_app_with(Options {
        env: vec![("CAMPUSCORE_TRUSTED_PROXIES", "127.0.0.1/32, ::1".into())],
        ..Default::default()
    })
    .await;
    let (client, url) = fresh_connection_browser(&app);
    let token_b = token(&client, &url).await;
    let mut first = Vec::new();
    for i in 0..40 {
        // The client's own entry (left) is forged; the proxy appended the real address.
        let xff = format!("198.51.100.{i}, 203.0.113.1");
        let status = probe(&client, &url, &token_b, Some(&xff)).await;
        first.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(
        first.last(),
        Some(&429),
        "one client, one budget: {first:?}"
    );
    let other = probe(&client, &url, &token_b, Some("203.0.113.2")).await;
    assert_eq!(other, 400, "another client behind the proxy is not limited");
}

#[tokio::test]
async fn guesses_from_many_addresses_lock_the_account_for_new_browsers_only_and_briefly() {
    let app = spawn_app_with(Options {
        env: vec![
            ("CAMPUSCORE_TRUSTED_PROXIES", "127.0.0.1/32, ::1".into()),
            ("CAMPUSCORE_LOGIN_MAX_FAILURES", "3".into()),
            ("CAMPUSCORE_LOGIN_LOCK_SECONDS", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    app.create_user("fay@campus.edu", PASSWORD, false).await;

    // Fay signs in once from her laptop, which is then remembered.
    let laptop = app.other_browser();
    assert_eq!(laptop.login("fay@campus.edu", PASSWORD).await.status(), 303);

    // Guesses from three addresses (each under its per-address budget) lock the account.
    let (attacker, url) = fresh_connection_browser(&app);
    for i in 0..2 {
        let xff = format!("198.51.100.{i}");
        let res = attempt(&attacker, &url, "fay@campus.edu", "guess", Some(&xff)).await;
        assert_eq!(res.status(), 401);
    }
    let res = attempt(
        &attacker,
        &url,
        "fay@campus.edu",
        "guess",
        Some("198.51.100.9"),
    )
    .await;
    assert_eq!(res.status(), 429, "the third failure locks");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("Too many failed sign-ins")
    );

    // While locked, even the right password from a new browser is refused unchecked…
    let res = attempt(
        &attacker,
        &url,
        "fay@campus.edu",
        PASSWORD,
        Some("192.0.2.1"),
    )
    .await;
    assert_eq!(res.status(), 429);
    // …and an address that never guessed, naming an account nobody has, answers alike for
    // its own count, so a lock tells nothing about who has an account.
    for _ in 0..2 {
        let res = attempt(&attacker, &url, "nobody@campus.edu", "x", Some("192.0.2.2")).await;
        assert_eq!(res.status(), 401);
    }
    let res = attempt(&attacker, &url, "nobody@campus.edu", "x", Some("192.0.2.2")).await;
    assert_eq!(res.status(), 429);

    // Fay's laptop is not locked out: it signs in again at once.
    let res = laptop.post_form("/logout", "/", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(laptop.login("fay@campus.edu", PASSWORD).await.status(), 303);

    // And the lock ends by itself.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let res = attempt(
        &attacker,
        &url,
        "fay@campus.edu",
        PASSWORD,
        Some("192.0.2.3"),
    )
    .await;
    assert_eq!(res.status(), 303, "signed in once the lock ended");
}
