//! Connections from the user's side: the settings page, the manual connect form (pages and
//! HTMX), Test / Reconnect / Disconnect, the JSON API, per-user isolation and CSRF.

use crate::helpers::{TestApp, client, location, spawn_app};
use campuscore::models::entities::{connection, connector, connector_audit_log};
use campuscore::services::credentials;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, sea_query::Expr,
};
use serde_json::{Value, json};

const FORM: &str = "/settings/connect/test-echo";

/// Every connection in the database, oldest first.
async fn all_connections(app: &TestApp) -> Vec<connection::Model> {
    connection::Entity::find()
        .order_by_asc(connection::Column::Id)
        .all(&app.state.db)
        .await
        .expect("connections")
}

async fn connection_count(app: &TestApp) -> u64 {
    connection::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count")
}

async fn connection_by_id(app: &TestApp, id: i64) -> Option<connection::Model> {
    connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("query")
}

async fn audit_rows(app: &TestApp) -> Vec<connector_audit_log::Model> {
    connector_audit_log::Entity::find()
        .order_by_asc(connector_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("audit")
}

/// Connects test-echo through the form page (non-HTMX) and returns the response.
async fn submit_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.post_form(path, FORM, fields).await
}

/// Connects test-echo with `label` through the pages and returns the new connection's id.
async fn connect_echo(app: &TestApp, api_key: &str, label: &str) -> i64 {
    let before: Vec<i64> = all_connections(app).await.iter().map(|c| c.id).collect();
    let res = submit_form(app, FORM, &[("api_key", api_key), ("label", label)]).await;
    assert_eq!(res.status(), 303, "a valid form connects");
    assert_eq!(location(&res), "/settings");
    all_connections(app)
        .await
        .iter()
        .map(|c| c.id)
        .find(|id| !before.contains(id))
        .expect("a new connection row")
}

/// An HTMX post (as the buttons send it: `HX-Request` and the CSRF header, no body).
async fn htmx_post(app: &TestApp, path: &str) -> reqwest::Response {
    let token = app.csrf(FORM).await;
    app.client
        .post(app.url(path))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .send()
        .await
        .expect("request")
}

/// The `<tr id="connection-{id}" …>…</tr>` of a page or fragment.
fn row_of(html: &str, id: i64) -> &str {
    let start = html
        .find(&format!("<tr id=\"connection-{id}\""))
        .unwrap_or_else(|| panic!("row connection-{id} in: {html}"));
    let end = html[start..]
        .find("</tr>")
        .map(|e| start + e + "</tr>".len())
        .expect("closing </tr>");
    &html[start..end]
}

/// The `<input …>` tag with `id="field-{name}"`.
fn input_of<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("<input id=\"field-{name}\""))
        .unwrap_or_else(|| panic!("input {name} in: {html}"));
    let end = html[start..].find('>').expect("end of tag") + start + 1;
    &html[start..end]
}

#[tokio::test]
async fn settings_lists_enabled_connectors_and_shows_unconfigured_oauth_as_not_configured() {
    let app = spawn_app().await;
    app.logged_in_user("ada@campus.edu").await;

    let res = app.get("/settings").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("body");
    assert!(page.contains("My connections"));
    assert!(
        page.contains("You have not connected any service yet."),
        "no connections yet"
    );
    assert!(page.contains("Available services"));
    assert!(page.contains("id=\"connector-test-echo\""));
    assert!(
        page.contains("href=\"/api/connectors/connect/test-echo/start\">Connect</a>"),
        "test-echo can be connected: {page}"
    );
    assert!(page.contains("id=\"connector-test-oauth\""));
    assert!(
        !page.contains("/api/connectors/connect/test-oauth/start"),
        "no Connect link for an unconfigured connector"
    );
    let oauth_card = &page[page
        .find("id=\"connector-test-oauth\"")
        .expect("test-oauth card")..];
    let oauth_card = &oauth_card[..oauth_card.find("</li>").expect("end of card")];
    assert!(
        oauth_card.contains("Not configured — ask an administrator."),
        "{oauth_card}"
    );

    let res = app.get("/api/connectors/connect/test-oauth/start").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/settings");
    let page = app.get_text("/settings").await;
    assert!(
        page.contains("flash-error") && page.contains("not configured"),
        "the start route explains why: {page}"
    );

    // Once an administrator sets the client, it can be connected.
    app.set_config("test-oauth", "CLIENT_ID", "campus-client")
        .await;
    app.set_config("test-oauth", "CLIENT_SECRET", "campus-secret")
        .await;
    let page = app.get_text("/settings").await;
    assert!(
        page.contains("href=\"/api/connectors/connect/test-oauth/start\">Connect</a>"),
        "{page}"
    );
}

#[tokio::test]
async fn a_disabled_connector_is_not_offered_and_cannot_be_connected() {
    let app = spawn_app().await;
    app.logged_in_user("abe@campus.edu").await;
    let csrf = app.csrf(FORM).await;
    connector::Entity::update_many()
        .col_expr(connector::Column::IsEnabled, Expr::value(false))
        .filter(connector::Column::Slug.eq("test-echo"))
        .exec(&app.state.db)
        .await
        .expect("disable");

    let page = app.get_text("/settings").await;
    assert!(!page.contains("id=\"connector-test-echo\""), "{page}");
    assert!(!page.contains("/api/connectors/connect/test-echo/start"));

    let res = app.get("/api/connectors/connect/test-echo/start").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/settings");
    let page = app.get_text("/settings").await;
    assert!(page.contains("turned off"), "{page}");

    assert_eq!(app.get(FORM).await.status(), 403);
    let res = app
        .client
        .post(app.url(FORM))
        .form(&[("api_key", "valid-abe"), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    assert_eq!(connection_count(&app).await, 0);
}

#[tokio::test]
async fn a_manual_connection_made_through_the_pages_is_listed_and_stored_encrypted() {
    let app = spawn_app().await;
    let user = app.logged_in_user("bo@campus.edu").await;

    let res = app.get("/api/connectors/connect/test-echo/start").await;
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), FORM);

    let res = app.get(FORM).await;
    assert_eq!(res.status(), 200);
    let form = res.text().await.expect("body");
    assert!(form.contains("Connect Test Echo"));
    assert!(form.contains("name=\"csrf_token\""));
    assert!(form.contains("API key <span aria-hidden=\"true\">*</span></label>"));
    assert!(form.contains(">Label</label>"), "label is optional: {form}");
    assert!(form.contains("Any key starting with"));
    assert!(form.contains("Shown as the connected account"));
    let key_input = input_of(&form, "api_key");
    assert!(key_input.contains("type=\"password\""), "{key_input}");
    assert!(key_input.contains(" required"), "{key_input}");
    let label_input = input_of(&form, "label");
    assert!(label_input.contains("type=\"text\""), "{label_input}");
    assert!(!label_input.contains(" required"), "{label_input}");

    let secret = "valid-bo-very-secret-key";
    let res = submit_form(&app, FORM, &[("api_key", secret), ("label", "Bo lab")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/settings");

    let rows = all_connections(&app).await;
    assert_eq!(rows.len(), 1);
    let conn = &rows[0];
    assert_eq!(conn.user_id, user.id);
    assert_eq!(conn.status, "active");
    assert_eq!(conn.service_identity.as_deref(), Some("Bo lab"));
    assert!(
        conn.credentials.starts_with("gAAAAA"),
        "a Fernet token: {}",
        conn.credentials
    );
    assert!(!conn.credentials.contains(secret));
    let opened = credentials::open(&app.state.keyring, conn).expect("decrypts");
    assert_eq!(opened["api_key"], secret);

    let page = app.get_text("/settings").await;
    assert!(
        page.contains("Connected Test Echo as Bo lab."),
        "success flash: {page}"
    );
    assert!(!page.contains(secret), "the key is never shown");
    let row = row_of(&page, conn.id);
    assert!(row.contains("Test Echo"));
    assert!(row.contains("<td>Bo lab</td>"), "{row}");
    assert!(row.contains(">active</span>"), "{row}");
    assert!(
        row.contains(&format!(
            "hx-post=\"/settings/connections/{}/test\"",
            conn.id
        )) && row.contains(">Test</button>"),
        "{row}"
    );
    assert!(
        row.contains(&format!(
            "href=\"/api/connectors/connect/test-echo/start?connection={}\"",
            conn.id
        )) && row.contains(">Reconnect</a>"),
        "{row}"
    );
    assert!(
        row.contains(&format!(
            "hx-post=\"/settings/connections/{}/disconnect\"",
            conn.id
        )) && row.contains(">Disconnect</button>"),
        "{row}"
    );
    assert!(row.contains("UTC"), "connected time shown: {row}");
    assert!(row.contains("never"), "not used yet: {row}");

    let audit = audit_rows(&app).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "connection.connect");
    assert_eq!(audit[0].status, "success");
    assert_eq!(audit[0].connection_id, Some(conn.id));
    assert_eq!(audit[0].user_id, Some(user.id));
    assert!(!audit[0].request.contains(secret));
}

#[tokio::test]
async fn a_form_with_a_missing_or_rejected_key_is_shown_again_with_field_errors_and_nothing_is_stored()
 {
    let app = spawn_app().await;
    app.logged_in_user("cy@campus.edu").await;

    let res = submit_form(&app, FORM, &[("api_key", ""), ("label", "Cy lab")]).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.expect("body");
    assert!(page.contains("<html"), "the whole page comes back");
    assert!(page.contains("This field is required."), "{page}");
    assert!(page.contains("name=\"csrf_token\""));
    assert_eq!(connection_count(&app).await, 0);

    let typed = "wrong-cy-typed-this-secret";
    let res = submit_form(&app, FORM, &[("api_key", typed), ("label", "Cy lab")]).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.expect("body");
    assert!(
        page.contains("The API key was rejected by the service"),
        "{page}"
    );
    let api_key_field = &page[page
        .find("<input id=\"field-api_key\"")
        .expect("api_key input")..];
    let api_key_field = &api_key_field[..api_key_field.find("</div>").expect("field end")];
    assert!(
        api_key_field.contains("The API key was rejected by the service"),
        "the message sits on the api_key field: {api_key_field}"
    );
    assert!(
        input_of(&page, "api_key").contains("value=\"\""),
        "the password is not refilled"
    );
    assert!(
        input_of(&page, "label").contains("value=\"Cy lab\""),
        "the label is refilled: {}",
        input_of(&page, "label")
    );
    assert!(!page.contains(typed), "the typed secret appears nowhere");
    assert_eq!(connection_count(&app).await, 0);
}

#[tokio::test]
async fn htmx_form_posts_get_a_fragment_on_error_and_a_redirect_header_on_success() {
    let app = spawn_app().await;
    app.logged_in_user("dee@campus.edu").await;
    let token = app.csrf(FORM).await;

    let typed = "nope-dee-secret";
    let res = app
        .client
        .post(app.url(FORM))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[("api_key", typed), ("label", "Dee")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 422);
    let fragment = res.text().await.expect("body");
    assert!(!fragment.contains("<html"), "only the form: {fragment}");
    assert!(fragment.contains("<form id=\"manual-form\""));
    assert!(fragment.contains("The API key was rejected by the service"));
    assert!(!fragment.contains(typed));
    assert_eq!(connection_count(&app).await, 0);

    let res = app
        .client
        .post(app.url(FORM))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[("api_key", "valid-dee"), ("label", "Dee")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("HX-Redirect")
            .and_then(|v| v.to_str().ok()),
        Some("/settings")
    );
    assert_eq!(connection_count(&app).await, 1);
    let page = app.get_text("/settings").await;
    assert!(page.contains("Connected Test Echo as Dee."), "{page}");
}

#[tokio::test]
async fn connecting_the_same_account_again_updates_the_one_connection() {
    let app = spawn_app().await;
    let user = app.logged_in_user("eve@campus.edu").await;
    let id = connect_echo(&app, "valid-first", "Eve lab").await;
    let first = connection_by_id(&app, id).await.expect("row");
    assert_eq!(first.credentials_version, 1);
    let _ = app.get("/settings").await; // consume the flash

    let res = submit_form(
        &app,
        FORM,
        &[("api_key", "valid-second"), ("label", "Eve lab")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = app.get_text("/settings").await;
    assert!(page.contains("Updated Test Echo as Eve lab."), "{page}");
    let rows = all_connections(&app).await;
    assert_eq!(rows.len(), 1, "still one connection");
    assert_eq!(rows[0].id, id);
    assert_eq!(rows[0].credentials_version, 2);
    assert_eq!(
        credentials::open(&app.state.keyring, &rows[0]).expect("open")["api_key"],
        "valid-second"
    );

    // Reconnect from the row: the connection id is carried through to the form.
    let res = app
        .get(&format!(
            "/api/connectors/connect/test-echo/start?connection={id}"
        ))
        .await;
    assert_eq!(res.status(), 302);
    let form_path = format!("{FORM}?connection={id}");
    assert_eq!(location(&res), form_path);
    let form = app.get_text(&form_path).await;
    assert!(form.contains("Update Test Echo"), "{form}");
    assert!(
        form.contains(&format!(
            "action=\"/settings/connect/test-echo?connection={id}\""
        )),
        "{form}"
    );
    let res = submit_form(
        &app,
        &form_path,
        &[("api_key", "valid-third"), ("label", "Eve lab")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let rows = all_connections(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].credentials_version, 3);
    assert_eq!(rows[0].user_id, user.id);
    assert_eq!(rows[0].status, "active");
}

#[tokio::test]
async fn the_test_button_reports_success_and_flips_a_rejected_key_to_needs_reauth() {
    let app = spawn_app().await;
    app.logged_in_user("fay@campus.edu").await;
    let id = connect_echo(&app, "valid-fay", "Fay").await;
    let path = format!("/settings/connections/{id}/test");

    let res = htmx_post(&app, &path).await;
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.expect("body");
    assert!(!fragment.contains("<html"));
    let row = row_of(&fragment, id);
    assert!(row.contains("Connection works."), "{row}");
    assert!(row.contains(">active</span>"), "{row}");
    let conn = connection_by_id(&app, id).await.expect("row");
    assert!(conn.last_used_at.is_some(), "a test counts as a use");

    // The service stops accepting the key.
    let mut active = conn.clone().into_active_model();
    active.credentials = Set(credentials::seal(
        &app.state.keyring,
        &conn,
        &json!({ "api_key": "revoked-key", "label": "Fay" }),
    ));
    active.update(&app.state.db).await.expect("update");

    let res = htmx_post(&app, &path).await;
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.expect("body");
    let row = row_of(&fragment, id);
    assert!(row.contains("needs reauth"), "{row}");
    assert!(row.contains("notice-error"), "{row}");
    assert!(!row.contains("Connection works."));
    assert!(
        row.contains(&format!(
            "class=\"button primary\" href=\"/api/connectors/connect/test-echo/start?connection={id}\">Reconnect</a>"
        )),
        "a primary Reconnect: {row}"
    );
    assert!(!row.contains(">Test</button>"), "no Test: {row}");
    assert_eq!(
        connection_by_id(&app, id).await.expect("row").status,
        "needs_reauth"
    );

    let page = app.get_text("/settings").await;
    let row = row_of(&page, id);
    assert!(row.contains("needs reauth"));
    assert!(row.contains(">Reconnect</a>") && !row.contains(">Test</button>"));

    // Without HTMX the result is a flash on the settings page.
    let res = app.post_form(&path, FORM, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/settings");
    let page = app.get_text("/settings").await;
    assert!(page.contains("flash-error"), "{page}");

    let tests: Vec<_> = audit_rows(&app)
        .await
        .into_iter()
        .filter(|r| r.action == "connection.test")
        .collect();
    assert_eq!(tests.len(), 3);
    assert_eq!(tests[0].status, "success");
    assert_eq!(tests[1].status, "error");
    assert!(tests.iter().all(|r| r.connection_id == Some(id)));

    // Reconnecting with a good key makes the same connection active again.
    let res = app
        .get(&format!(
            "/api/connectors/connect/test-echo/start?connection={id}"
        ))
        .await;
    assert_eq!(res.status(), 302);
    let res = submit_form(
        &app,
        &location(&res),
        &[("api_key", "valid-fay-new"), ("label", "Fay")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let rows = all_connections(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, id);
    assert_eq!(rows[0].status, "active");
    assert_eq!(rows[0].last_error, None);
    let res = htmx_post(&app, &path).await;
    assert!(row_of(&res.text().await.expect("body"), id).contains("Connection works."));
}

#[tokio::test]
async fn a_needs_reauth_row_offers_reconnect_and_no_test_button() {
    let app = spawn_app().await;
    app.logged_in_user("gil@campus.edu").await;
    let id = connect_echo(&app, "valid-gil", "Gil").await;
    let mut active = connection_by_id(&app, id)
        .await
        .expect("row")
        .into_active_model();
    active.status = Set(campuscore::models::ConnectionStatus::NeedsReauth);
    active.update(&app.state.db).await.expect("update");

    let page = app.get_text("/settings").await;
    let row = row_of(&page, id);
    assert!(row.contains(">needs reauth</span>"), "{row}");
    assert!(
        row.contains(&format!(
            "class=\"button primary\" href=\"/api/connectors/connect/test-echo/start?connection={id}\">Reconnect</a>"
        )),
        "{row}"
    );
    assert!(!row.contains("/test\""), "no Test: {row}");
    assert!(row.contains(">Disconnect</button>"));
}

#[tokio::test]
async fn disconnecting_via_htmx_returns_the_row_deletes_it_and_audits_unsupported_revocation() {
    let app = spawn_app().await;
    let user = app.logged_in_user("hal@campus.edu").await;
    let id = connect_echo(&app, "valid-hal", "Hal").await;

    let res = htmx_post(&app, &format!("/settings/connections/{id}/disconnect")).await;
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.expect("body");
    assert!(!fragment.contains("<html"));
    assert!(
        fragment.contains(&format!(
            "<tr id=\"connection-{id}\" class=\"connection-row disconnected\">"
        )),
        "{fragment}"
    );
    assert!(fragment.contains("Test Echo disconnected."), "{fragment}");
    assert!(connection_by_id(&app, id).await.is_none(), "row is gone");

    let audit = audit_rows(&app).await;
    let row = audit
        .iter()
        .find(|r| r.action == "connection.disconnect")
        .expect("a disconnect audit row");
    assert_eq!(row.user_id, Some(user.id));
    assert_eq!(row.status, "success");
    let request: Value = serde_json::from_str(&row.request).expect("json");
    assert_eq!(request["service_revocation_status"], "unsupported");
    assert_eq!(request["connection_id"], id);

    let page = app.get_text("/settings").await;
    assert!(!page.contains(&format!("connection-{id}")));

    // A second one, disconnected without HTMX: a flash on the settings page.
    let id = connect_echo(&app, "valid-hal-2", "Hal 2").await;
    let res = app
        .post_form(&format!("/settings/connections/{id}/disconnect"), FORM, &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/settings");
    let page = app.get_text("/settings").await;
    assert!(page.contains("Test Echo disconnected."), "{page}");
    assert_eq!(connection_count(&app).await, 0);
}

#[tokio::test]
async fn deleting_a_credential_through_the_api_reports_an_unsupported_revocation() {
    let app = spawn_app().await;
    let user = app
        .create_user("ivy@campus.edu", "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let res = client()
        .post(app.url("/api/v1/connectors/test-echo/connections"))
        .bearer_auth(&token)
        .json(&json!({ "api_key": "valid-ivy", "label": "Ivy" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.expect("json")["credential_id"]
        .as_i64()
        .expect("credential_id");

    let res = client()
        .delete(app.url(&format!("/api/v1/connector-credentials/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "revoked");
    assert_eq!(body["service_revocation_status"], "unsupported");
    assert!(
        body["revocation_time"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(connection_by_id(&app, id).await.is_none());

    let res = client()
        .delete(app.url(&format!("/api/v1/connector-credentials/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 404, "already gone");
    assert_eq!(
        res.json::<Value>().await.expect("json")["code"],
        "not_found"
    );
}

#[tokio::test]
async fn the_json_api_creates_lists_and_rejects_connections_without_leaking_secrets() {
    let app = spawn_app().await;
    let user = app
        .create_user("jo@campus.edu", "a long enough password", false)
        .await;
    let other = app
        .create_user("kit@campus.edu", "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let other_token = crate::helpers::api_token(&app.state.db, other.id, "t").await;
    let create = |token: String, body: Value| {
        let url = app.url("/api/v1/connectors/test-echo/connections");
        async move {
            client()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("post")
        }
    };

    let secret = "valid-jo-json-secret";
    let res = create(token.clone(), json!({ "api_key": secret, "label": "Jo" })).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "active");
    assert_eq!(body["service_user_id"], "Jo");
    assert!(body["warnings"].is_array(), "{body}");
    let id = body["credential_id"].as_i64().expect("credential_id");
    assert!(!body.to_string().contains(secret));

    let res = create(
        token.clone(),
        json!({ "api_key": "valid-jo-renewed", "label": "Jo" }),
    )
    .await;
    assert_eq!(res.status(), 200, "the same account is renewed");
    assert_eq!(
        res.json::<Value>().await.expect("json")["credential_id"],
        id
    );

    let res = create(
        other_token.clone(),
        json!({ "api_key": "valid-kit-secret" }),
    )
    .await;
    assert_eq!(res.status(), 201);
    let kit_id = res.json::<Value>().await.expect("json")["credential_id"]
        .as_i64()
        .expect("id");

    let res = create(token.clone(), json!({ "api_key": "not-valid-at-all" })).await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["code"], "invalid_input");
    assert_eq!(
        problem["errors"]["api_key"],
        "The API key was rejected by the service"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("api_key")
    );
    assert!(!problem.to_string().contains("not-valid-at-all"));

    let res = create(token.clone(), json!({ "label": "no key" })).await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["code"], "invalid_input");
    assert_eq!(problem["errors"]["api_key"], "This field is required.");

    let res = client()
        .get(app.url("/api/v1/connector-credentials"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let text = res.text().await.expect("body");
    assert!(!text.contains("valid-jo"), "no key in the list: {text}");
    assert!(!text.contains("valid-kit"));
    assert!(!text.contains("gAAAAA"), "not even encrypted: {text}");
    assert!(!text.contains("api_key"));
    let body: Value = serde_json::from_str(&text).expect("json");
    let list = body["credentials"].as_array().expect("credentials");
    assert_eq!(list.len(), 1, "mine only: {body}");
    let mine = &list[0];
    assert_eq!(mine["credential_id"], id);
    assert_ne!(mine["credential_id"], kit_id);
    assert_eq!(mine["connector_id"], "test-echo");
    assert_eq!(mine["service_identifier"], "Jo");
    assert_eq!(mine["status"], "active");
    assert!(mine["scopes"].is_array());
    assert!(mine["issuance_time"].is_string());
    assert!(mine.get("expiry").is_some());
    assert!(mine.get("last_used_at").is_some());

    // An OAuth connector takes no form.
    let res = client()
        .post(app.url("/api/v1/connectors/test-oauth/connections"))
        .bearer_auth(&token)
        .json(&json!({ "api_key": "valid-x" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.expect("json")["code"],
        "bad_request"
    );

    // A manual connector has no OAuth flow.
    let res = client()
        .post(app.url("/api/v1/connectors/test-echo/auth"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 400);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["code"], "bad_request");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("/api/v1/connectors/test-echo/connections")
    );

    // An action runs on the new connection.
    let res = client()
        .post(app.url(&format!("/api/v1/connections/{id}/actions/echo")))
        .bearer_auth(&token)
        .json(&json!({ "message": "hi" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.expect("json")["result"]["message"],
        "hi"
    );
}

#[tokio::test]
async fn a_session_api_connect_needs_the_csrf_header_but_a_bearer_one_does_not() {
    let app = spawn_app().await;
    let user = app.logged_in_user("lu@campus.edu").await;
    let url = app.url("/api/v1/connectors/test-echo/connections");

    let res = app
        .client
        .post(&url)
        .json(&json!({ "api_key": "valid-lu" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.expect("json")["code"],
        "csrf_rejected"
    );
    assert_eq!(connection_count(&app).await, 0);

    let token = app.csrf(FORM).await;
    let res = app
        .client
        .post(&url)
        .header("X-CSRF-Token", token)
        .json(&json!({ "api_key": "valid-lu" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.expect("json")["service_user_id"],
        "echo user"
    );

    let pat = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let res = client()
        .post(&url)
        .bearer_auth(pat)
        .json(&json!({ "api_key": "valid-lu-2", "label": "Lu bearer" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    assert_eq!(connection_count(&app).await, 2);
}

#[tokio::test]
async fn another_users_connection_is_not_found_on_every_route_and_stays_unchanged() {
    let app = spawn_app().await;
    app.logged_in_user("ann@campus.edu").await;
    let id = connect_echo(&app, "valid-ann-secret", "Ann").await;
    let before = connection_by_id(&app, id).await.expect("row");
    let audit_before = audit_rows(&app).await.len();

    let b = app.other_browser();
    let bob = b.logged_in_user("bob@campus.edu").await;
    let bob_pat = crate::helpers::api_token(&b.state.db, bob.id, "t").await;
    let csrf = b.csrf(FORM).await;

    for path in [
        format!("/settings/connections/{id}/test"),
        format!("/settings/connections/{id}/disconnect"),
    ] {
        let res = b
            .client
            .post(b.url(&path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &csrf)
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 404, "HTMX {path}");
        let res = b
            .client
            .post(b.url(&path))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 404, "form {path}");
    }

    let res = b
        .get(&format!(
            "/api/connectors/connect/test-echo/start?connection={id}"
        ))
        .await;
    assert_eq!(res.status(), 404);
    let res = b.get(&format!("{FORM}?connection={id}")).await;
    assert_eq!(res.status(), 404);
    let res = b
        .client
        .post(b.url(&format!("{FORM}?connection={id}")))
        .form(&[
            ("api_key", "valid-bob-takeover"),
            ("label", "Ann"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 404, "B cannot renew A's connection");
    let res = b
        .client
        .post(b.url(&format!("{FORM}?connection={id}")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &csrf)
        .form(&[("api_key", "valid-bob-takeover"), ("label", "Ann")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 404);

    let res = b
        .client
        .delete(b.url(&format!("/api/v1/connector-credentials/{id}")))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.expect("json")["code"],
        "not_found"
    );
    let res = client()
        .delete(b.url(&format!("/api/v1/connector-credentials/{id}")))
        .bearer_auth(&bob_pat)
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 404);

    let res = b
        .client
        .post(b.url(&format!("/api/v1/connections/{id}/actions/echo")))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({ "message": "hi" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 404);
    let res = client()
        .post(b.url(&format!("/api/v1/connections/{id}/actions/whoami")))
        .bearer_auth(&bob_pat)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 404);

    let res = client()
        .post(b.url("/api/v1/connectors/test-oauth/auth"))
        .bearer_auth(&bob_pat)
        .json(&json!({ "credential_id": id }))
        .send()
        .await
        .expect("post");
    assert_eq!(
        res.status(),
        404,
        "B cannot start a renewal of A's connection"
    );

    let res = b.get("/api/v1/connector-credentials").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["credentials"], json!([]), "B sees none of A's");
    let page = b.get_text("/settings").await;
    assert!(!page.contains(&format!("connection-{id}")));
    assert!(page.contains("You have not connected any service yet."));

    let after = connection_by_id(&app, id)
        .await
        .expect("A's connection still exists");
    assert_eq!(after, before, "A's connection is untouched");
    assert_eq!(after.credentials_version, 1);
    assert_eq!(
        credentials::open(&app.state.keyring, &after).expect("open")["api_key"],
        "valid-ann-secret"
    );
    assert_eq!(connection_count(&app).await, 1, "B created nothing");
    let audit = audit_rows(&app).await;
    assert_eq!(audit.len(), audit_before, "nothing was audited for B");
    assert!(audit.iter().all(|r| r.user_id != Some(bob.id)));

    // A still sees and uses the connection.
    let page = app.get_text("/settings").await;
    assert!(row_of(&page, id).contains(">active</span>"));
}

#[tokio::test]
async fn test_and_disconnect_without_a_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.logged_in_user("max@campus.edu").await;
    let id = connect_echo(&app, "valid-max", "Max").await;
    let before = connection_by_id(&app, id).await.expect("row");
    let audit_before = audit_rows(&app).await.len();

    for path in [
        format!("/settings/connections/{id}/test"),
        format!("/settings/connections/{id}/disconnect"),
    ] {
        let res = app.client.post(app.url(&path)).send().await.expect("post");
        assert_eq!(res.status(), 403, "no token: {path}");
        let res = app
            .client
            .post(app.url(&path))
            .form(&[("confirm", "yes")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 403, "form without the field: {path}");
        let res = app
            .client
            .post(app.url(&path))
            .form(&[("csrf_token", "forged-token")])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), 403, "wrong token: {path}");
    }

    let after = connection_by_id(&app, id).await.expect("still there");
    assert_eq!(after, before, "nothing changed");
    assert_eq!(
        audit_rows(&app).await.len(),
        audit_before,
        "nothing audited"
    );
}
