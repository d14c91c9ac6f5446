//! ServiceNow end to end: the real `servicenow` connector in the app against the fake
//! instance of the testkit (its OAuth Application Registry, the Table API with row ACLs and
//! an encoded-query parser, business rules, rate limits): connecting through the instance's
//! sign-in, two users who see only their own incidents, injected query text refused, writes
//! with the instance's reasons, knowledge articles imported into a folder, and disconnect
//! revoking the token.

use crate::cloud_import::{
    browse_path, create_folder, hx_get, import, link_to, picks, settled_files,
};
use crate::helpers::{TestApp, client, spawn_app};
use crate::oauth_flow::{connect_at_approving_provider, connections, creds, reload, token_field};
use campuscore_testkit::servicenow::{Endpoint, FakeServiceNow};
use serde_json::{Value, json};
use std::time::Duration;

const CLIENT_ID: &str = "f1c1b4e4a0b0401095d4c2f6c0a1b2c3";
const CLIENT_SECRET: &str = "servicenow registry secret";

/// An instance with Abel and Beth (neither has `itil`), an incident each, and the app
/// configured with an OAuth client for it.
struct Instance {
    sn: FakeServiceNow,
    abel: String,
    beth: String,
    abel_incident: String,
    beth_incident: String,
}

async fn instance(app: &TestApp) -> Instance {
    let sn = FakeServiceNow::start().await;
    let abel = sn.add_user("abel.tuter", "Abel Tuter", "abel.tuter@campus.edu");
    let beth = sn.add_user("beth.anglin", "Beth Anglin", "beth.anglin@campus.edu");
    let (_, abel_incident) = sn.add_incident(&abel, "VPN drops every hour", "Since Monday.");
    let (_, beth_incident) = sn.add_incident(&beth, "Printer on floor 2 jams", "Tray 3.");
    sn.add_oauth_client(CLIENT_ID, CLIENT_SECRET, &app.redirect_uri("servicenow"));
    app.set_config("servicenow", "CLIENT_ID", CLIENT_ID).await;
    app.set_config("servicenow", "CLIENT_SECRET", CLIENT_SECRET)
        .await;
    app.set_config("servicenow", "API_BASE_URL", sn.base_url())
        .await;
    Instance {
        sn,
        abel,
        beth,
        abel_incident,
        beth_incident,
    }
}

/// A campus user with an API token and a ServiceNow connection as `sn_user`.
async fn connected(app: &TestApp, at: &Instance, email: &str, sn_user: &str) -> (String, i64) {
    let user = app
        .create_user(email, "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let (access, refresh) = at.sn.issue_tokens(sn_user);
    let tokens = json!({"access_token": access, "refresh_token": refresh, "token_type": "Bearer"});
    let conn = app
        .insert_connection("servicenow", user.id, tokens, email)
        .await
        .id;
    (token, conn)
}

fn numbers(page: &Value) -> Vec<String> {
    page["result"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {page}"))
        .iter()
        .map(|i| i["number"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn connecting_goes_through_the_instance_sign_in_and_shows_the_servicenow_user() {
    let app = spawn_app().await;
    app.logged_in_user("abel@campus.edu").await;
    let at = instance(&app).await;
    at.sn.sign_in_as(&at.abel);

    let shown = connect_at_approving_provider(
        &app,
        "servicenow",
        &format!("{}/oauth_auth.do?", at.sn.base_url()),
    )
    .await;
    let identity = "Abel Tuter (abel.tuter, abel.tuter@campus.edu)";
    assert!(
        shown
            .iter()
            .any(|(level, m)| level == "success" && m.contains(identity)),
        "{shown:?}"
    );
    let rows = connections(&app).await;
    assert_eq!(rows[0].service_identity.as_deref(), Some(identity));
    assert!(!token_field(&creds(&app, &rows[0]), "refresh_token").is_empty());
}

#[tokio::test]
async fn each_user_sees_only_their_own_incidents_and_injected_text_widens_nothing() {
    let app = spawn_app().await;
    let at = instance(&app).await;
    let (abel_token, abel_conn) = connected(&app, &at, "abel@campus.edu", &at.abel).await;
    let (beth_token, beth_conn) = connected(&app, &at, "beth@campus.edu", &at.beth).await;

    let (status, abel_list) = app
        .run_action(&abel_token, abel_conn, "list_my_incidents", json!({}))
        .await;
    assert_eq!(status, 200, "{abel_list}");
    assert_eq!(numbers(&abel_list), [at.abel_incident.as_str()]);
    let (_, beth_list) = app
        .run_action(&beth_token, beth_conn, "list_my_incidents", json!({}))
        .await;
    assert_eq!(numbers(&beth_list), [at.beth_incident.as_str()]);

    let (status, body) = app
        .run_action(
            &abel_token,
            abel_conn,
            "get_incident",
            json!({"incident": at.beth_incident}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );

    let before = at.sn.count(Endpoint::Api);
    for search in ["x^ORactive=true", "x^NQsys_id!=0", "vpn\ncaller_id!=x"] {
        let (status, body) = app
            .run_action(
                &abel_token,
                abel_conn,
                "list_my_incidents",
                json!({"search": search}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_input")),
            "{search}: {body}"
        );
    }
    assert_eq!(
        at.sn.count(Endpoint::Api),
        before,
        "nothing reached the instance"
    );
    assert_eq!(reload(&app, abel_conn).await.status.as_str(), "active");
}

#[tokio::test]
async fn writes_run_as_the_user_and_refusals_come_back_with_the_instances_reason() {
    let app = spawn_app().await;
    let at = instance(&app).await;
    let (token, conn) = connected(&app, &at, "abel@campus.edu", &at.abel).await;

    let (status, created) = app.run_action(&token, conn, "create_incident", json!({
        "short_description": "Laptop will not boot", "description": "Black screen.", "urgency": "high", "impact": "low"
    }))
    .await;
    assert_eq!(status, 200, "{created}");
    let number = created["result"]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    assert_eq!(created["result"]["caller"]["name"], "Abel Tuter");
    assert_eq!(created["result"]["urgency"]["value"], "1");

    let (status, commented) = app
        .run_action(
            &token,
            conn,
            "add_incident_comment",
            json!({"incident": number, "text": "Tried safe mode too."}),
        )
        .await;
    assert_eq!(status, 200, "{commented}");
    assert_eq!(
        commented["result"]["comments"][0]["text"],
        "Tried safe mode too."
    );
    let (status, body) = app
        .run_action(
            &token,
            conn,
            "add_incident_comment",
            json!({"incident": number, "text": "internal", "work_note": true}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("permission_denied")),
        "{body}"
    );

    // Without `itil` a caller may comment on an incident but not edit its fields.
    let (status, body) = app
        .run_action(
            &token,
            conn,
            "update_incident",
            json!({"incident": number, "impact": "high"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("permission_denied")),
        "{body}"
    );
    assert!(body.to_string().contains("security constraints"), "{body}");

    at.sn.set_business_rule_error(
        "incident",
        Some("Incidents cannot be opened during the maintenance window"),
    );
    let (status, body) = app
        .run_action(
            &token,
            conn,
            "create_incident",
            json!({"short_description": "Another"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_input")),
        "{body}"
    );
    assert!(body.to_string().contains("maintenance window"), "{body}");
}

#[tokio::test]
async fn two_knowledge_articles_import_into_a_folder_as_html() {
    let app = spawn_app().await;
    let user = app.logged_in_user("abel@campus.edu").await;
    let at = instance(&app).await;
    let kb = at.sn.add_kb("IT Knowledge");
    let network = at.sn.add_kb_category(&kb, "Network", None);
    at.sn.add_article(
        &kb,
        Some(&network),
        "Connect to the VPN",
        "<p>Open the <b>VPN</b> app.</p><script>alert(1)</script>",
        "published",
    );
    at.sn.add_article(
        &kb,
        Some(&network),
        "Reset Wi-Fi",
        "<p>Forget the network.</p>",
        "published",
    );
    at.sn.add_article(
        &kb,
        Some(&network),
        "Draft: new router",
        "<p>Not yet.</p>",
        "draft",
    );
    let (access, refresh) = at.sn.issue_tokens(&at.abel);
    let tokens = json!({"access_token": access, "refresh_token": refresh});
    let conn = app
        .insert_connection("servicenow", user.id, tokens, "Abel Tuter")
        .await
        .id;
    let folder = create_folder(&app, "IT help").await;

    let top = hx_get(&app, &browse_path(folder, conn))
        .await
        .text()
        .await
        .expect("body");
    let base = hx_get(&app, &link_to(&top, "IT Knowledge").expect("kb link"))
        .await
        .text()
        .await
        .expect("body");
    let category = hx_get(&app, &link_to(&base, "Network").expect("category"))
        .await
        .text()
        .await
        .expect("body");
    let listed = picks(&category);
    let names: Vec<&str> = listed.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["Connect to the VPN.html", "Reset Wi-Fi.html"],
        "drafts are not offered"
    );
    let chosen: Vec<String> = listed.into_iter().map(|(_, value)| value).collect();
    assert_eq!(import(&app, folder, conn, &chosen).await.status(), 202);
    let settled = settled_files(&app, folder, 2, Duration::from_secs(30)).await;
    assert!(
        settled.iter().all(|f| f.status.as_str() == "ready"),
        "{settled:?}"
    );
    for file in &settled {
        let bytes = app
            .state
            .storage
            .read_all(&file.storage_key)
            .await
            .expect("stored");
        let html = String::from_utf8(bytes.to_vec()).expect("utf-8");
        assert!(
            html.starts_with("<!DOCTYPE html>") && !html.contains("<script"),
            "{html}"
        );
    }
}

#[tokio::test]
async fn throttling_says_when_to_try_again_and_disconnect_revokes_the_token() {
    let app = spawn_app().await;
    let at = instance(&app).await;
    let (token, conn) = connected(&app, &at, "abel@campus.edu", &at.abel).await;
    at.sn.set_retry_after(Duration::from_secs(90));
    at.sn.throttle_next(1);
    let (status, body) = app
        .run_action(&token, conn, "list_catalog_items", json!({}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    assert!(body.to_string().contains("Try again in"), "{body}");

    let refresh = token_field(&creds(&app, &reload(&app, conn).await), "refresh_token");
    let res = client()
        .delete(app.url(&format!("/api/v1/connector-credentials/{conn}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["service_revocation_status"], "confirmed", "{body}");
    assert!(at.sn.is_revoked(&refresh));
}
