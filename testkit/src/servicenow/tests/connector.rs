//! Every action of the real `servicenow` connector against the fake instance, as the app
//! runs it: what each returns for a plain user and for an `itil` agent.

use std::sync::Arc;

use campuscore_connectors::{ActionContext, Connector, ConnectorError};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::super::*;
use campuscore_connectors::sdk::testing;

use crate::upstream::connector_runs::signed_in;

/// Abel (a plain user) and Ivy (`itil`), an incident of Abel's with a comment and a work
/// note, a knowledge base, a catalog and a request.
struct Desk {
    sn: FakeServiceNow,
    abel: String,
    ivy: String,
    incident: String,
}

async fn desk() -> Desk {
    let sn = FakeServiceNow::start().await;
    let abel = sn.add_user("abel.tuter", "Abel Tuter", "abel.tuter@campus.edu");
    let ivy = sn.add_user("ivy.agent", "Ivy Agent", "ivy.agent@campus.edu");
    sn.set_roles(&ivy, &["itil"]);
    let (sys_id, incident) = sn.add_incident(&abel, "VPN drops every hour", "Since Monday.");
    sn.add_comment(&sys_id, &abel, "Still happening.", false);
    sn.add_comment(&sys_id, &ivy, "Router firmware suspected.", true);
    let (_, other) = sn.add_incident(&ivy, "Projector in B12", "No signal.");
    sn.set_incident_state(&sys_id, "2");
    let _ = other;
    Desk {
        sn,
        abel,
        ivy,
        incident,
    }
}

fn as_user(desk: &Desk, user: &str) -> (Arc<dyn Connector>, ActionContext) {
    let (access, refresh) = desk.sn.issue_tokens(user);
    signed_in("servicenow", desk.sn.base_url(), &access, &refresh)
}

async fn run(
    connector: &Arc<dyn Connector>,
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> Value {
    testing::run_json(connector.as_ref(), ctx, action, params).await
}

async fn run_err(
    connector: &Arc<dyn Connector>,
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> ConnectorError {
    testing::run_err(connector.as_ref(), ctx, action, params).await
}

fn field(page: &Value, key: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {page}"))
        .iter()
        .map(|i| i[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn incidents_list_read_create_update_and_comment_as_the_acls_allow() {
    let desk = desk().await;
    let (sn, abel) = as_user(&desk, &desk.abel);
    let mine = run(&sn, &abel, "list_my_incidents", json!({})).await;
    assert_eq!(field(&mine, "number"), [desk.incident.as_str()]);
    let none = run(
        &sn,
        &abel,
        "list_my_incidents",
        json!({"state": "resolved"}),
    )
    .await;
    assert_eq!(none["items"], json!([]));
    let found = run(&sn, &abel, "list_my_incidents", json!({"search": "vpn"})).await;
    assert_eq!(found["total"], 1);

    let detail = run(
        &sn,
        &abel,
        "get_incident",
        json!({"incident": desk.incident}),
    )
    .await;
    assert_eq!(detail["state"]["label"], "In Progress");
    let kinds: Vec<&str> = detail["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["comment"], "no work notes without itil");

    let created = run(
        &sn,
        &abel,
        "create_incident",
        json!({"short_description": "Laptop will not boot", "urgency": "medium"}),
    )
    .await;
    assert_eq!(created["caller"]["name"], "Abel Tuter");
    desk.sn.advance_clock(std::time::Duration::from_secs(60));
    let commented = run(
        &sn,
        &abel,
        "add_incident_comment",
        json!({"incident": created["number"], "text": "Black screen."}),
    )
    .await;
    assert_eq!(commented["comments"][0]["text"], "Black screen.");

    let (sn, ivy) = as_user(&desk, &desk.ivy);
    let detail = run(
        &sn,
        &ivy,
        "get_incident",
        json!({"incident": desk.incident}),
    )
    .await;
    let kinds: Vec<&str> = detail["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"work_note"), "{kinds:?}");
    let updated = run(&sn, &ivy, "update_incident", json!({"incident": desk.incident, "impact": "high", "short_description": "VPN drops hourly"})).await;
    assert_eq!(
        (
            updated["impact"]["value"].as_str(),
            updated["short_description"].as_str()
        ),
        (Some("1"), Some("VPN drops hourly"))
    );
    desk.sn.advance_clock(std::time::Duration::from_secs(60));
    let noted = run(
        &sn,
        &ivy,
        "add_incident_comment",
        json!({"incident": desk.incident, "text": "Firmware updated.", "work_note": true}),
    )
    .await;
    assert_eq!(noted["comments"][0]["kind"], "work_note");
    let error = run_err(
        &sn,
        &ivy,
        "update_incident",
        json!({"incident": desk.incident}),
    )
    .await;
    assert!(
        matches!(error, ConnectorError::InvalidInput { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn knowledge_search_read_browse_and_download_show_published_articles_only() {
    let desk = desk().await;
    let kb = desk.sn.add_kb("IT Knowledge");
    let network = desk.sn.add_kb_category(&kb, "Network", None);
    let wifi = desk.sn.add_kb_category(&kb, "Wi-Fi", Some(&network));
    let (vpn, vpn_number) = desk.sn.add_article(
        &kb,
        Some(&network),
        "Connect to the VPN",
        "<p>Open the <b>VPN</b> app.</p><script>x()</script>",
        "published",
    );
    desk.sn.add_article(
        &kb,
        Some(&wifi),
        "Reset Wi-Fi",
        "<p>Forget the network.</p>",
        "published",
    );
    desk.sn
        .add_article(&kb, Some(&network), "VPN draft", "<p>Not yet.</p>", "draft");
    let (sn, abel) = as_user(&desk, &desk.abel);

    let hits = run(&sn, &abel, "search_knowledge", json!({"query": "vpn"})).await;
    assert_eq!(field(&hits, "number"), [vpn_number.as_str()]);
    let article = run(
        &sn,
        &abel,
        "get_knowledge_article",
        json!({"article": vpn_number}),
    )
    .await;
    assert_eq!(article["body"]["text"], "Open the VPN app.");
    assert!(
        !article["body"]["html"]
            .as_str()
            .unwrap_or_default()
            .contains("script")
    );

    let bases = run(&sn, &abel, "browse_knowledge", json!({})).await;
    assert_eq!(bases["files"][0]["id"], format!("kb:{kb}"));
    let top = run(
        &sn,
        &abel,
        "browse_knowledge",
        json!({"folder_id": format!("kb:{kb}")}),
    )
    .await;
    assert_eq!(top["files"][0]["name"], "Network");
    let inside = run(
        &sn,
        &abel,
        "browse_knowledge",
        json!({"folder_id": format!("category:{network}")}),
    )
    .await;
    let names: Vec<&str> = inside["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["Wi-Fi", "Connect to the VPN.html"]);
    let deeper = run(
        &sn,
        &abel,
        "browse_knowledge",
        json!({"folder_id": format!("category:{wifi}")}),
    )
    .await;
    let crumbs: Vec<&str> = deeper["breadcrumbs"]
        .as_array()
        .expect("crumbs")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(crumbs, ["IT Knowledge", "Network", "Wi-Fi"]);

    let output = sn
        .execute_action(
            "download_article",
            &abel,
            json!({"file_id": format!("article:{vpn}")}),
        )
        .await
        .expect("download");
    let mut download = output.into_download().expect("a download");
    let mut bytes = Vec::new();
    while let Some(chunk) = download.stream.next().await {
        bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    let html = String::from_utf8(bytes).expect("utf-8");
    assert!(
        html.contains("<title>Connect to the VPN</title>") && !html.contains("<script"),
        "{html}"
    );
}

#[tokio::test]
async fn catalog_requests_and_users() {
    let desk = desk().await;
    let hardware = desk.sn.add_catalog_category("Hardware");
    let laptop =
        desk.sn
            .add_catalog_item("Standard laptop", "A 14-inch laptop", Some(&hardware), true);
    desk.sn
        .add_catalog_item("Old desktop", "Retired", Some(&hardware), false);
    desk.sn
        .add_catalog_item("VPN access", "Remote access", None, true);
    let (request, request_number, items) = desk
        .sn
        .add_request(&desk.abel, &[(&laptop, "waiting_for_approval")]);
    desk.sn.add_approval(&request, &desk.ivy, "requested");
    let (sn, abel) = as_user(&desk, &desk.abel);

    let catalog = run(&sn, &abel, "list_catalog_items", json!({})).await;
    assert_eq!(field(&catalog, "name"), ["Standard laptop", "VPN access"]);
    let in_hardware = run(
        &sn,
        &abel,
        "list_catalog_items",
        json!({"category": hardware}),
    )
    .await;
    assert_eq!(field(&in_hardware, "name"), ["Standard laptop"]);

    let status = run(
        &sn,
        &abel,
        "get_request_status",
        json!({"number": request_number}),
    )
    .await;
    assert_eq!(status["kind"], "request");
    assert_eq!(status["items"][0]["number"], items[0]);
    // Approval records are the approvers' (and itil's) to read, not the requester's.
    assert_eq!(status["approvals"], json!([]));
    let (sn_ivy, ivy) = as_user(&desk, &desk.ivy);
    let seen_by_agent = run(
        &sn_ivy,
        &ivy,
        "get_request_status",
        json!({"number": request_number}),
    )
    .await;
    assert_eq!(
        seen_by_agent["approvals"][0]["approver"]["name"],
        "Ivy Agent"
    );
    assert_eq!(seen_by_agent["approvals"][0]["state"]["value"], "requested");
    let item = run(
        &sn,
        &abel,
        "get_request_status",
        json!({"number": items[0]}),
    )
    .await;
    assert_eq!(
        (item["kind"].as_str(), item["request_number"].as_str()),
        (Some("requested_item"), Some(request_number.as_str()))
    );

    let user = run(
        &sn,
        &abel,
        "lookup_user",
        json!({"email": "ivy.agent@campus.edu"}),
    )
    .await;
    assert_eq!(
        (user["name"].as_str(), user["user_name"].as_str()),
        (Some("Ivy Agent"), Some("ivy.agent"))
    );
    let identity = sn.fetch_identity(&abel).await.expect("identity");
    assert_eq!(
        identity.as_deref(),
        Some("Abel Tuter (abel.tuter, abel.tuter@campus.edu)")
    );
}
