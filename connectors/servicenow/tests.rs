//! The protocol rules of `servicenow` against a mock instance (wiremock): the Table API
//! parameters, paging by `X-Total-Count`, refused query injection, and the error bodies as
//! decisions. Every action against a full fake instance (ACLs, the query parser, OAuth) is
//! tested in the testkit and the app's tests.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use wiremock::matchers::{bearer_token, body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::connector::ServiceNow;
use crate::sdk::testing;
use crate::{ActionContext, ConnectorDef, ConnectorError, DefinedConnector};

fn servicenow() -> DefinedConnector<ServiceNow> {
    DefinedConnector::new(ServiceNow::default())
}

fn ctx(server: &MockServer) -> ActionContext {
    let base = server.uri();
    testing::context(
        &ServiceNow::SPEC,
        &[("API_BASE_URL", base.as_str())],
        json!({"access_token": "stale-token", "refresh_token": "r"}),
    )
}

fn cell(value: &str, display: &str) -> Value {
    json!({"value": value, "display_value": display})
}

fn incident(number: &str, sys_id: &str, summary: &str) -> Value {
    json!({
        "sys_id": cell(sys_id, sys_id), "number": cell(number, number),
        "short_description": cell(summary, summary), "state": cell("2", "In Progress"),
        "priority": cell("3", "3 - Moderate"), "caller_id": cell("62826bf03710200044e0bfc8bcbe5df1", "Abel Tuter"),
        "opened_at": cell("2026-12-01 10:00:00", "2026-12-01 02:00:00"), "active": cell("true", "true")
    })
}

fn failure(message: &str, detail: &str) -> Value {
    json!({"error": {"message": message, "detail": detail}, "status": "failure"})
}

const INC_ID: &str = "9d385017c611228701d22104cc95c371";

#[tokio::test]
async fn list_my_incidents_asks_for_mine_open_newest_first_with_display_values() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/incident"))
        .and(query_param(
            "sysparm_query",
            "caller_id=javascript:gs.getUserID()^ORassigned_to=javascript:gs.getUserID()\
             ^priority=2^active=true^short_descriptionLIKEvpn down^ORdescriptionLIKEvpn down\
             ^ORDERBYDESCsys_updated_on",
        ))
        .and(query_param("sysparm_display_value", "all"))
        .and(query_param("sysparm_exclude_reference_link", "true"))
        .and(query_param("sysparm_limit", "1"))
        .and(query_param("sysparm_offset", "0"))
        .and(bearer_token("stale-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-total-count", "3")
                .set_body_json(json!({"result": [incident("INC0010001", INC_ID, "VPN down")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = testing::run_json(
        &servicenow(),
        &ctx(&server),
        "list_my_incidents",
        json!({"priority": "high", "search": "vpn down", "limit": 1}),
    )
    .await;
    let first = &page["items"][0];
    assert_eq!(first["number"], "INC0010001");
    assert_eq!(
        first["state"],
        json!({"value": "2", "label": "In Progress"})
    );
    assert_eq!(first["caller"]["name"], "Abel Tuter");
    assert_eq!(first["opened_at"], "2026-12-01T10:00:00Z");
    assert_eq!(
        (page["total"].as_u64(), page["next_offset"].as_u64()),
        (Some(3), Some(1))
    );
}

#[tokio::test]
async fn text_that_would_widen_a_query_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": []})))
        .expect(0)
        .mount(&server)
        .await;
    for (action, params) in [
        ("list_my_incidents", json!({"search": "x^ORactive=true"})),
        ("list_my_incidents", json!({"search": "x^NQsys_id!=0"})),
        (
            "search_knowledge",
            json!({"query": "vpn\nworkflow_state=draft"}),
        ),
        (
            "lookup_user",
            json!({"user_name": "javascript:gs.getUserName()"}),
        ),
        (
            "list_catalog_items",
            json!({"search": "laptop^ORactive=false"}),
        ),
        (
            "get_incident",
            json!({"incident": "INC0010001^ORactive=true"}),
        ),
    ] {
        let error = testing::run_err(&servicenow(), &ctx(&server), action, params.clone()).await;
        assert!(
            matches!(error, ConnectorError::InvalidInput { .. }),
            "{action} {params}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_with_the_new_token() {
    let server = MockServer::start().await;
    Mock::given(path("/api/now/table/incident"))
        .and(bearer_token("stale-token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(failure(
            "User Not Authenticated",
            "Required to provide Auth information",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/now/table/incident"))
        .and(bearer_token("fresh-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-total-count", "0")
                .set_body_json(json!({"result": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let ctx = ctx(&server).with_token_updater(updater.clone());
    let page = testing::run_json(&servicenow(), &ctx, "list_my_incidents", json!({})).await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_acl_refusal_is_no_access_and_a_business_rule_gives_its_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/incident"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": [incident("INC0010001", INC_ID, "VPN down")]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/api/now/table/incident/{INC_ID}")))
        .and(body_json(json!({"work_notes": "checked the router"})))
        .respond_with(ResponseTemplate::new(403).set_body_json(failure(
            "Operation Failed",
            "ACL Exception Update Failed due to security constraints",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/api/now/table/incident/{INC_ID}")))
        .and(body_json(json!({"urgency": "1"})))
        .respond_with(ResponseTemplate::new(403).set_body_json(failure(
            "Operation Failed",
            "Data Policy Exception: Close notes are mandatory",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let error = testing::run_err(
        &servicenow(),
        &ctx(&server),
        "add_incident_comment",
        json!({"incident": "INC0010001", "text": "checked the router", "work_note": true}),
    )
    .await;
    assert!(
        matches!(&error, ConnectorError::PermissionDenied { message } if message.contains("security constraints")),
        "{error:?}"
    );
    let error = testing::run_err(
        &servicenow(),
        &ctx(&server),
        "update_incident",
        json!({"incident": "INC0010001", "urgency": "high"}),
    )
    .await;
    assert!(
        matches!(&error, ConnectorError::InvalidInput { message, .. } if message.contains("Close notes are mandatory")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_429_says_when_to_try_again_from_x_ratelimit_reset() {
    let server = MockServer::start().await;
    let reset = chrono::Utc::now().timestamp() + 120;
    Mock::given(path("/api/now/table/sc_cat_item"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(failure("Too Many Requests", "Rate limit exceeded")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = testing::run_err(
        &servicenow(),
        &ctx(&server),
        "list_catalog_items",
        json!({}),
    )
    .await;
    let wait = error.retry_after().expect("a wait");
    assert!(wait.as_secs() > 100 && wait.as_secs() <= 120, "{wait:?}");
    assert!(
        error.user_message().contains("Try again in"),
        "{}",
        error.user_message()
    );
}

#[tokio::test]
async fn lookup_user_needs_exactly_one_key_and_returns_public_fields() {
    let server = MockServer::start().await;
    Mock::given(path("/api/now/table/sys_user"))
        .and(query_param(
            "sysparm_query",
            "active=true^email=abel.tuter@example.edu",
        ))
        .and(query_param(
            "sysparm_fields",
            "sys_id,user_name,name,email,title,department",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": [{
            "sys_id": cell("62826bf03710200044e0bfc8bcbe5df1", "62826bf03710200044e0bfc8bcbe5df1"),
            "user_name": cell("abel.tuter", "abel.tuter"), "name": cell("Abel Tuter", "Abel Tuter"),
            "email": cell("abel.tuter@example.edu", "abel.tuter@example.edu"),
            "department": cell("a581ab703710200044e0bfc8bcbe5de8", "IT")
        }]})))
        .mount(&server)
        .await;
    let user = testing::run_json(
        &servicenow(),
        &ctx(&server),
        "lookup_user",
        json!({"email": "abel.tuter@example.edu"}),
    )
    .await;
    assert_eq!(
        (user["name"].as_str(), user["department"].as_str()),
        (Some("Abel Tuter"), Some("IT"))
    );
    let error = testing::run_err(&servicenow(), &ctx(&server), "lookup_user", json!({})).await;
    assert!(matches!(error, ConnectorError::InvalidInput { .. }));
}
