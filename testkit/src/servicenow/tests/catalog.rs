//! Knowledge, the service catalog, requests and approvals: reference display values and
//! the row ACLs of each table (knowledge-base readers, drafts, inactive items, requesters,
//! approvers).

use reqwest::Method;
use serde_json::json;

use super::*;

#[tokio::test]
async fn knowledge_references_show_base_and_category_names() {
    let c = campus().await;
    let kb = c.now.add_kb("IT Help");
    let category = c.now.add_kb_category(&kb, "Network", None);
    let (article, number) = c.now.add_article(
        &kb,
        Some(&category),
        "Eduroam setup",
        "<p>Hi</p>",
        "published",
    );
    assert!(number.starts_with("KB0010001"));
    let token = c.token(&c.ada);
    let params = [
        ("sysparm_display_value", "true"),
        ("sysparm_exclude_reference_link", "true"),
    ];
    let (status, body) = list(&c.now, "kb_knowledge", &params, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"][0]["sys_id"], article.as_str());
    assert_eq!(body["result"][0]["kb_knowledge_base"], "IT Help");
    assert_eq!(body["result"][0]["kb_category"], "Network");
    assert_eq!(body["result"][0]["workflow_state"], "Published");
    assert_eq!(body["result"][0]["text"], "<p>Hi</p>");
}

#[tokio::test]
async fn knowledge_catalog_and_requests_follow_their_acls() {
    let c = campus().await;
    let open = c.now.add_kb("Open KB");
    let staff = c.now.add_kb("Staff KB");
    c.now.set_kb_readers(&staff, Some(&[c.grace.as_str()]));
    c.now.add_article(&open, None, "Published", "", "published");
    c.now.add_article(&open, None, "Draft", "", "draft");
    c.now
        .add_article(&staff, None, "Staff only", "", "published");
    let titles = |body: &Value| column(body, "short_description");
    let (_, ada) = list(&c.now, "kb_knowledge", &[], &c.token(&c.ada)).await;
    assert_eq!(titles(&ada), vec!["Published".to_owned()]);
    let (_, grace) = list(&c.now, "kb_knowledge", &[], &c.token(&c.grace)).await;
    assert_eq!(
        titles(&grace),
        vec!["Published".to_owned(), "Staff only".to_owned()]
    );
    c.now.set_roles(&c.alan, &["knowledge"]);
    let (_, alan) = list(&c.now, "kb_knowledge", &[], &c.token(&c.alan)).await;
    assert_eq!(
        titles(&alan),
        vec!["Published".to_owned(), "Draft".to_owned()]
    );

    let hardware = c.now.add_catalog_category("Hardware");
    let laptop = c
        .now
        .add_catalog_item("Laptop", "A laptop", Some(&hardware), true);
    c.now
        .add_catalog_item("Old pager", "Retired", Some(&hardware), false);
    let (_, items) = list(
        &c.now,
        "sc_cat_item",
        &[("sysparm_display_value", "true")],
        &c.token(&c.ada),
    )
    .await;
    assert_eq!(column(&items, "name"), vec!["Laptop".to_owned()]);
    assert_eq!(items["result"][0]["category"]["display_value"], "Hardware");
    assert_eq!(items["result"][0]["price"], "$0.00");

    let (request, number, ritms) = c
        .now
        .add_request(&c.ada, &[(laptop.as_str(), "waiting_for_approval")]);
    assert!(number.starts_with("REQ") && ritms[0].starts_with("RITM"));
    let approval = c.now.add_approval(&request, &c.grace, "requested");
    let (_, mine) = list(&c.now, "sc_req_item", &[], &c.token(&c.ada)).await;
    assert_eq!(column(&mine, "number"), ritms);
    let (_, theirs) = list(&c.now, "sc_request", &[], &c.token(&c.alan)).await;
    assert!(column(&theirs, "number").is_empty());
    // The approver approves; the requester may not.
    let path = format!("/api/now/table/sysapproval_approver/{approval}");
    let (status, _) = write(
        &c.now,
        Method::PATCH,
        &path,
        &json!({"state": "approved"}),
        &c.token(&c.ada),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let params = [
        (
            "sysparm_query",
            "approver=javascript:gs.getUserID()^state=requested",
        ),
        ("sysparm_display_value", "true"),
    ];
    let (_, pending) = list(&c.now, "sysapproval_approver", &params, &c.token(&c.grace)).await;
    assert_eq!(
        pending["result"][0]["sysapproval"]["display_value"],
        number.as_str()
    );
    let (status, body) = write(
        &c.now,
        Method::PATCH,
        &path,
        &json!({"state": "approved"}),
        &c.token(&c.grace),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["state"], "approved");
}
