//! The protocol rules of `canvas` against a mock instance (wiremock): the two kinds of
//! 401, the two kinds of throttling, `Link` paging kept on the instance, and downloads that
//! leave the bearer token behind. The actions against a full fake Canvas (enrolments, OAuth,
//! the file store) are tested in the testkit and the app's tests.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use super::connector::CanvasLms;
use crate::sdk::testing;
use crate::{ActionContext, Connector, ConnectorDef, ConnectorError, DefinedConnector};

fn canvas() -> DefinedConnector<CanvasLms> {
    DefinedConnector::new(CanvasLms::default())
}

fn ctx(server: &MockServer) -> ActionContext {
    let base = server.uri();
    testing::context(
        &CanvasLms::SPEC,
        &[("API_BASE_URL", base.as_str())],
        json!({"access_token": "stale-token", "refresh_token": "r"}),
    )
}

fn ctx_with_refresh(server: &MockServer, updater: &Arc<testing::StaleToFresh>) -> ActionContext {
    ctx(server).with_token_updater(updater.clone())
}

/// Matches requests that carry no `Authorization` header.
struct WithoutAuthorization;

impl Match for WithoutAuthorization {
    fn matches(&self, request: &Request) -> bool {
        !request.headers.contains_key("authorization")
    }
}

async fn read_all(download: &mut crate::Download) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(chunk) = download.stream.next().await {
        bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    bytes
}

fn bearer(token: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {token}").as_str())
}

fn course(id: u64, name: &str) -> Value {
    json!({
        "id": id, "name": name, "course_code": format!("C-{id}"), "workflow_state": "available",
        "enrollment_term_id": 3,
        "term": {"id": 3, "name": "Fall 2026", "start_at": "2026-08-24T00:00:00Z", "end_at": "2026-12-18T00:00:00Z"},
        "enrollments": [{"type": "student", "role": "StudentEnrollment", "role_id": 3, "user_id": 7, "enrollment_state": "active"}]
    })
}

fn invalid_token() -> ResponseTemplate {
    ResponseTemplate::new(401)
        .insert_header("www-authenticate", "Bearer realm=\"canvas-lms\"")
        .set_body_json(json!({"errors": [{"message": "Invalid access token."}]}))
}

fn not_authorized() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({
        "status": "unauthorized",
        "errors": [{"message": "user not authorized to perform that action"}]
    }))
}

fn throttled_403() -> ResponseTemplate {
    ResponseTemplate::new(403)
        .insert_header("x-rate-limit-remaining", "0.0")
        .insert_header("x-request-cost", "12.5")
        .set_body_string("403 Forbidden (Rate Limit Exceeded)\n")
}

#[tokio::test]
async fn list_courses_asks_for_active_enrolments_with_terms_and_pages_by_link() {
    let server = MockServer::start().await;
    let next = format!(
        "{}/api/v1/courses?enrollment_state=active&page=2&per_page=100",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/api/v1/courses"))
        .and(query_param("enrollment_state", "active"))
        .and(query_param("include[]", "term"))
        .and(query_param("per_page", "100"))
        .and(bearer("stale-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!(
                        "<{next}>; rel=\"next\", <{}/api/v1/courses?page=1>; rel=\"first\"",
                        server.uri()
                    )
                    .as_str(),
                )
                .set_body_json(json!([course(101, "Biology 101")])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let list = testing::run_json(&canvas(), &ctx(&server), "list_courses", json!({})).await;
    assert_eq!(list["courses"][0]["name"], "Biology 101");
    assert_eq!(list["courses"][0]["roles"], json!(["student"]));
    assert_eq!(list["courses"][0]["term"]["name"], "Fall 2026");
    assert_eq!(
        list["courses"][0]["web_link"],
        format!("{}/courses/101", server.uri())
    );
    assert_eq!(list["next_page_token"], next);
}

#[tokio::test]
async fn a_page_token_or_next_link_off_the_instance_is_refused() {
    let server = MockServer::start().await;
    let error = testing::run_err(
        &canvas(),
        &ctx(&server),
        "list_courses",
        json!({"page_token": "https://evil.example/api/v1/courses?page=2"}),
    )
    .await;
    assert!(
        matches!(&error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "page_token"),
        "{error:?}"
    );
    Mock::given(method("GET"))
        .and(path("/api/v1/courses/101/modules"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    "<https://evil.example/api/v1/courses/101/modules?page=2>; rel=\"next\"",
                )
                .set_body_json(json!([])),
        )
        .mount(&server)
        .await;
    let error = testing::run_err(
        &canvas(),
        &ctx(&server),
        "list_modules",
        json!({"course_id": 101}),
    )
    .await;
    assert!(
        matches!(error, ConnectorError::Upstream { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_401_with_www_authenticate_refreshes_once_and_retries() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/courses/101"))
        .and(bearer("stale-token"))
        .respond_with(invalid_token())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/courses/101"))
        .and(bearer("fresh-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(course(101, "Biology 101")))
        .expect(1)
        .mount(&server)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let detail = testing::run_json(
        &canvas(),
        &ctx_with_refresh(&server, &updater),
        "get_course",
        json!({"course_id": 101}),
    )
    .await;
    assert_eq!(detail["name"], "Biology 101");
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_second_401_with_www_authenticate_means_reconnect() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/courses/101"))
        .respond_with(invalid_token())
        .expect(2)
        .mount(&server)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let error = testing::run_err(
        &canvas(),
        &ctx_with_refresh(&server, &updater),
        "get_course",
        json!({"course_id": 101}),
    )
    .await;
    assert!(
        matches!(error, ConnectorError::AuthExpired { .. }),
        "{error:?}"
    );
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_401_without_www_authenticate_is_no_access_and_refreshes_nothing() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/courses/202"))
        .respond_with(not_authorized())
        .expect(1)
        .mount(&server)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let error = testing::run_err(
        &canvas(),
        &ctx_with_refresh(&server, &updater),
        "get_course",
        json!({"course_id": 202}),
    )
    .await;
    assert!(
        matches!(error, ConnectorError::PermissionDenied { .. }),
        "{error:?}"
    );
    assert_eq!(updater.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_403_rate_limit_is_retried_then_succeeds_and_a_plain_403_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/courses"))
        .respond_with(throttled_403())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/courses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([course(101, "Biology 101")])))
        .mount(&server)
        .await;
    let list = testing::run_json(&canvas(), &ctx(&server), "list_courses", json!({})).await;
    assert_eq!(list["courses"].as_array().map(Vec::len), Some(1));

    Mock::given(path("/api/v1/courses/101/pages"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"errors": [{"message": "This page is disabled"}]})),
        )
        .mount(&server)
        .await;
    let error = testing::run_err(
        &canvas(),
        &ctx(&server),
        "list_pages",
        json!({"course_id": 101}),
    )
    .await;
    assert!(
        matches!(&error, ConnectorError::PermissionDenied { message } if message.contains("disabled")),
        "{error:?}"
    );
}

#[tokio::test]
async fn throttling_of_either_kind_ends_as_try_again_never_as_no_access() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/courses/101/modules"))
        .respond_with(throttled_403())
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/courses/101/assignments"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-remaining", "0.0")
                .insert_header("x-request-cost", "3.0"),
        )
        .mount(&server)
        .await;
    for action in ["list_modules", "list_assignments"] {
        let error =
            testing::run_err(&canvas(), &ctx(&server), action, json!({"course_id": 101})).await;
        assert!(
            matches!(error, ConnectorError::RateLimited { .. }),
            "{action}: {error:?}"
        );
        assert!(error.user_message().contains("Try again"), "{action}");
    }
}

#[tokio::test]
async fn download_follows_the_redirect_to_the_file_store_without_the_token() {
    let server = MockServer::start().await;
    let store = MockServer::start().await;
    let link = format!(
        "{}/files/2001/download?download_frd=1&verifier=abc",
        server.uri()
    );
    Mock::given(path("/api/v1/files/2001"))
        .and(bearer("stale-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 2001, "display_name": "Syllabus.pdf", "filename": "syllabus.pdf",
            "content-type": "application/pdf", "url": link, "size": 11, "folder_id": 301,
            "updated_at": "2026-09-01T08:00:00Z", "locked_for_user": false
        })))
        .mount(&server)
        .await;
    Mock::given(path("/files/2001/download"))
        .and(bearer("stale-token"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/store/abc?sig=1", store.uri()).as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/store/abc"))
        .and(WithoutAuthorization)
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/pdf")
                .set_body_bytes(b"%PDF-1.7 hi".to_vec()),
        )
        .expect(1)
        .mount(&store)
        .await;
    let mut download = testing::run_download(
        &canvas(),
        &ctx(&server),
        "download_file",
        json!({"file_id": "file:2001"}),
    )
    .await;
    assert_eq!(download.name, "Syllabus.pdf");
    assert_eq!(download.size, Some(11));
    let bytes = read_all(&mut download).await;
    assert_eq!(bytes, b"%PDF-1.7 hi");
}

#[tokio::test]
async fn pages_come_sanitized_with_plain_text_and_download_as_html_documents() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/courses/101/pages/55"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "page_id": 55, "url": "week-1", "title": "Week 1",
            "body": "<p>Read <a href=\"/courses/101/files/2001\">the syllabus</a><script>alert(1)</script></p>",
            "updated_at": "2026-09-02T08:00:00Z", "published": true, "front_page": false
        })))
        .mount(&server)
        .await;
    let page = testing::run_json(
        &canvas(),
        &ctx(&server),
        "get_page",
        json!({"course_id": 101, "page": "55"}),
    )
    .await;
    let html = page["body"]["html"].as_str().expect("html");
    assert!(!html.contains("script"), "{html}");
    assert_eq!(
        page["body"]["text"],
        format!(
            "Read the syllabus ({}/courses/101/files/2001)",
            server.uri()
        )
    );
    let mut download = testing::run_download(
        &canvas(),
        &ctx(&server),
        "download_file",
        json!({"file_id": "page:101:55"}),
    )
    .await;
    assert_eq!(
        (download.name.as_str(), download.mime_type.as_str()),
        ("Week 1.html", "text/html")
    );
    let bytes = read_all(&mut download).await;
    let document = String::from_utf8(bytes).expect("utf-8");
    assert!(document.starts_with("<!DOCTYPE html>") && document.contains("<title>Week 1</title>"));
    assert!(!document.contains("alert"), "{document}");
    assert_eq!(download.size, Some(document.len() as u64));
}

#[tokio::test]
async fn identity_is_the_name_and_login_id() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/users/self"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 7, "name": "Ada Lovelace", "sortable_name": "Lovelace, Ada", "short_name": "Ada", "login_id": "alovelace"
        })))
        .mount(&server)
        .await;
    let identity = canvas()
        .fetch_identity(&ctx(&server))
        .await
        .expect("identity");
    assert_eq!(identity.as_deref(), Some("Ada Lovelace (alovelace)"));
}
