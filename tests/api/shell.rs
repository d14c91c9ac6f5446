//! The web shell: health, error pages, headers, admin visibility.

use crate::helpers::{location, spawn_app};

#[tokio::test]
async fn health_and_readiness_report_their_checks() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["checks"]["storage"]["ok"], true);
}

#[tokio::test]
async fn a_flood_of_readiness_checks_writes_one_probe_object_not_one_each() {
    let app = spawn_app().await;
    let before = app.state.storage.probes_written();
    for _ in 0..25 {
        assert_eq!(app.get("/readyz").await.status(), 200);
    }
    assert_eq!(app.state.storage.probes_written() - before, 1);
}

#[tokio::test]
async fn pages_carry_security_headers_and_personal_pages_are_not_cached() {
    let app = spawn_app().await;
    app.logged_in_user("kim@campus.edu").await;
    let res = app.get("/knowledge-folders/").await;
    let h = res.headers();
    let csp = h
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(
        h.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(
        h.get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    let cookie = app
        .other_browser()
        .login("kim@campus.edu", "a long enough password")
        .await;
    let set_cookie = cookie
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let js = app.get("/static/htmx.min.js").await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.expect("body").contains("htmx"));
}

#[tokio::test]
async fn unknown_pages_get_a_useful_404_in_the_callers_format() {
    let app = spawn_app().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("We could not find that page")
    );
    let res = app
        .client
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
    let res = app
        .client
        .get(app.url("/no/such"))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .expect("body")
            .starts_with("<div class=\"flash flash-error\"")
    );
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_login_and_non_admins_never_see_admin_pages() {
    let app = spawn_app().await;
    let res = app.get("/knowledge-folders/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login?next=%2Fknowledge-folders%2F");
    // Admin pages do not exist for a visitor: the same 404 as for a user, not a login.
    for path in [
        "/admin/",
        "/admin/users/",
        "/admin/audit/",
        "/admin/connectors/test-echo/",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    app.logged_in_user("lee@campus.edu").await;
    let page = app.get_text("/").await;
    assert!(
        page.contains("Knowledge folders")
            && page.contains("Settings")
            && !page.contains("href=\"/admin/\"")
    );
    assert_eq!(app.get("/admin/").await.status(), 404);

    let admin = app.other_browser();
    admin
        .create_user("root@campus.edu", "a long enough password", true)
        .await;
    assert_eq!(
        admin
            .login("root@campus.edu", "a long enough password")
            .await
            .status(),
        303
    );
    let page = admin.get_text("/admin/").await;
    assert!(page.contains("Administration") && page.contains("test-echo"));
    assert!(admin.get_text("/").await.contains("href=\"/admin/\""));
}

#[tokio::test]
async fn over_https_the_session_cookie_is_host_only_and_hsts_can_cover_subdomains() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        env: vec![
            ("CAMPUSCORE_BASE_URL", "https://campus.example.edu".into()),
            ("CAMPUSCORE_HSTS_INCLUDE_SUBDOMAINS", "true".into()),
        ],
        ..Default::default()
    })
    .await;
    let res = app.get("/login").await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("campuscore_session"))
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.starts_with("__Host-campuscore_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
    // Every response carries the headers, an error's too.
    for path in ["/login", "/no-such-page", "/static/no-such-file.css"] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(
            h.get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000; includeSubDomains"),
            "{path}"
        );
        assert!(
            h.get("content-security-policy").is_some() && h.get("x-frame-options").is_some(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_throttled_login_still_carries_the_security_headers() {
    let app = spawn_app().await;
    let mut throttled = None;
    for _ in 0..30 {
        let res = app
            .post_form(
                "/login",
                "/login",
                &[
                    ("email", "x@campus.edu"),
                    ("password", "wrong password here"),
                ],
            )
            .await;
        if res.status() == 429 {
            throttled = Some(res);
            break;
        }
    }
    let res = throttled.expect("the login limit answers 429 at some point");
    let h = res.headers();
    assert!(
        h.get("content-security-policy").is_some() && h.get("x-content-type-options").is_some()
    );
    assert_eq!(
        h.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}
