//! Tests of `test-echo`, through the same `Connector` interface the app uses.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::actions::synthetic_bytes;
use super::connector::EchoConnector;
use crate::files::Breadcrumb;
use crate::sdk::testing;
use crate::{
    ActionContext, ActionOutput, Connector, ConnectorDef, ConnectorError, ConnectorSettings,
    DefinedConnector, FileKind, FileList, Tag,
};

fn echo() -> DefinedConnector<EchoConnector> {
    DefinedConnector::new(EchoConnector::default())
}

fn ctx_with(base_url: &str, credentials: Value) -> ActionContext {
    testing::context(
        &EchoConnector::SPEC,
        &[("API_BASE_URL", base_url)],
        credentials,
    )
}

fn ctx() -> ActionContext {
    ctx_with("http://127.0.0.1:9", json!({"api_key": "valid-key"}))
}

async fn run(action: &str, params: Value) -> Result<ActionOutput, ConnectorError> {
    echo().execute_action(action, &ctx(), params).await
}

async fn run_json(action: &str, params: Value) -> Value {
    run(action, params)
        .await
        .expect("action succeeds")
        .into_json()
        .expect("a JSON result")
}

async fn invalid(action: &str, params: Value) -> (Option<String>, String) {
    match run(action, params).await {
        Err(ConnectorError::InvalidInput { field, message }) => (field, message),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn echo_returns_the_message_and_its_length() {
    assert_eq!(
        run_json("echo", json!({"message": "héllo"})).await,
        json!({"message": "héllo", "length": 5})
    );
}

#[tokio::test]
async fn echo_without_message_names_the_missing_field() {
    let (field, message) = invalid("echo", json!({})).await;
    assert_eq!(field.as_deref(), Some("message"));
    assert_eq!(message, "`message`: missing field");
    let (field, _) = invalid("echo", Value::Null).await;
    assert_eq!(field.as_deref(), Some("message"));
}

#[tokio::test]
async fn echo_with_a_number_for_message_names_the_field_and_the_expected_type() {
    let (field, message) = invalid("echo", json!({"message": 5})).await;
    assert_eq!(field.as_deref(), Some("message"));
    assert!(
        message.starts_with("`message`: invalid type: integer `5`, expected a string"),
        "{message}"
    );
}

#[tokio::test]
async fn echo_with_an_unknown_field_names_that_field() {
    let (field, message) = invalid("echo", json!({"message": "hi", "shout": true})).await;
    assert_eq!(field.as_deref(), Some("shout"));
    assert!(message.starts_with("`shout`: unknown field"), "{message}");
    assert!(
        message.contains("`message`"),
        "lists the accepted fields: {message}"
    );
}

#[tokio::test]
async fn echo_with_an_empty_message_fails_validation_on_that_field() {
    let (field, message) = invalid("echo", json!({"message": ""})).await;
    assert_eq!(field.as_deref(), Some("message"));
    assert_eq!(message, "`message`: length must be between 1 and 1000");
}

#[tokio::test]
async fn unknown_actions_are_reported_by_name() {
    let result = run("shout", json!({})).await;
    assert!(matches!(result, Err(ConnectorError::UnknownAction { name }) if name == "shout"));
}

#[tokio::test]
async fn fail_returns_each_requested_error() {
    let code = |kind: &'static str| async move {
        run("fail", json!({"kind": kind}))
            .await
            .expect_err("fails")
            .code()
    };
    assert_eq!(code("auth_expired").await, "auth_expired");
    assert_eq!(code("not_found").await, "not_found");
    assert_eq!(code("upstream").await, "upstream");
    let limited = run("fail", json!({"kind": "rate_limited"}))
        .await
        .expect_err("fails");
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
    let (field, _) = invalid("fail", json!({"kind": "explode"})).await;
    assert_eq!(field.as_deref(), Some("kind"));
}

#[tokio::test]
async fn list_files_pages_through_two_pages_of_three() {
    let first = run_json("list_files", Value::Null).await;
    let ids: Vec<_> = first["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            json!("root-file-1"),
            json!("root-file-2"),
            json!("root-file-3")
        ]
    );
    assert_eq!(first["next_page_token"], "page-2");
    let second = run_json(
        "list_files",
        json!({"page_token": "page-2", "folder_id": "docs"}),
    )
    .await;
    assert_eq!(second["files"][0]["id"], "docs-file-4");
    assert_eq!(second["next_page_token"], Value::Null);
    let (field, _) = invalid("list_files", json!({"page_token": "page-9"})).await;
    assert_eq!(field.as_deref(), Some("page_token"));
}

#[tokio::test]
async fn listings_read_as_the_sdk_file_list_and_match_what_downloads_produce() {
    let page: FileList =
        serde_json::from_value(run_json("list_files", json!({"folder_id": "docs"})).await)
            .expect("reads as a FileList");
    let sha256 = |size: u64| {
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(synthetic_bytes(0, size)))
        )
    };
    let summary: Vec<_> = page
        .files
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.kind,
                f.checksum.clone(),
                f.revision.as_deref(),
                f.can_download,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "docs-file-1",
                FileKind::File,
                crate::Checksum::parse(&sha256(1024)),
                Some("1"),
                true
            ),
            (
                "docs-file-2",
                FileKind::File,
                crate::Checksum::parse(&sha256(2048)),
                Some("1"),
                true
            ),
            ("docs-file-3", FileKind::Folder, None, None, false),
        ]
    );
    assert_eq!(page.files[1].size, Some(2048));
    assert_eq!(page.files[2].size, None);
    assert!(
        page.files
            .iter()
            .all(|f| f.parent_id.as_deref() == Some("docs"))
    );
    assert_eq!(page.next_page_token.as_deref(), Some("page-2"));
    let crumb = |id: &str| Breadcrumb {
        id: id.to_owned(),
        name: id.to_owned(),
    };
    assert_eq!(page.breadcrumbs, Some(vec![crumb("root"), crumb("docs")]));

    let download = run("download_file", json!({"file_id": "docs-file-2"}))
        .await
        .expect("download")
        .into_download()
        .expect("a download");
    let bytes: Vec<_> = download
        .stream
        .map(|chunk| chunk.expect("chunk"))
        .collect()
        .await;
    let bytes = bytes.concat();
    assert_eq!(Some(bytes.len() as u64), page.files[1].size);
    assert_eq!(
        page.files[1].checksum,
        crate::Checksum::from_bytes("sha256", &Sha256::digest(&bytes))
    );

    let next: FileList = serde_json::from_value(
        run_json(
            "list_files",
            json!({"folder_id": "docs", "page_token": "page-2"}),
        )
        .await,
    )
    .expect("reads as a FileList");
    assert_eq!(next.breadcrumbs, None, "only the first page");
}

#[tokio::test]
async fn download_file_streams_exactly_size_bytes_in_bounded_chunks() {
    let size = 200_000u64;
    let output = run("download_file", json!({"file_id": "f1", "size": size}))
        .await
        .expect("download");
    let download = output.into_download().expect("a download");
    assert_eq!(
        (download.name.as_str(), download.mime_type.as_str()),
        ("f1.bin", "application/octet-stream")
    );
    assert_eq!(download.size, Some(size));
    let chunks: Vec<_> = download
        .stream
        .map(|chunk| chunk.expect("chunk"))
        .collect()
        .await;
    assert!(chunks.iter().all(|chunk| chunk.len() <= 64 * 1024));
    let total: usize = chunks.iter().map(|chunk| chunk.len()).sum();
    assert_eq!(total as u64, size);
    assert_eq!(chunks.concat(), synthetic_bytes(0, size).to_vec());
}

#[tokio::test]
async fn download_file_refuses_more_than_one_gib_and_defaults_to_the_listed_size() {
    let (field, _) = invalid(
        "download_file",
        json!({"file_id": "f", "size": (1u64 << 30) + 1}),
    )
    .await;
    assert_eq!(field.as_deref(), Some("size"));
    let download = run("download_file", json!({"file_id": "root-file-2"}))
        .await
        .expect("download");
    assert_eq!(download.into_download().and_then(|d| d.size), Some(2048));
}

#[tokio::test]
async fn delete_everything_requires_confirmation() {
    assert_eq!(
        run_json("delete_everything", json!({"confirm": true})).await,
        json!({"deleted": 0})
    );
    let (field, _) = invalid("delete_everything", json!({"confirm": false})).await;
    assert_eq!(field.as_deref(), Some("confirm"));
}

#[test]
fn descriptors_carry_doc_comments_tags_and_download_flags() {
    let connector = echo();
    let names: Vec<_> = connector.actions().iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        [
            "echo",
            "fail",
            "whoami",
            "list_files",
            "download_file",
            "sample_rows",
            "post_note",
            "delete_everything"
        ]
    );
    let echo_action = connector.action("echo").expect("echo");
    assert_eq!(
        echo_action.description,
        "Send a message back unchanged, with its length."
    );
    assert_eq!(
        echo_action.input_schema["properties"]["message"]["description"],
        "The text to send back (1 to 1000 characters)."
    );
    let download = connector.action("download_file").expect("download_file");
    assert!(download.downloads && download.has_tag(Tag::FileDownload));
    assert!(download.output_schema["properties"]["mime_type"].is_object());
    assert!(connector.has_tag(Tag::FileBrowse) && connector.has_tag(Tag::Destructive));
    assert_eq!(
        connector
            .action("whoami")
            .map(|a| &a.input_schema["properties"]),
        Some(&json!({}))
    );
}

#[tokio::test]
async fn test_credentials_accepts_valid_keys_and_names_the_identity() {
    let fields = |pairs: Value| pairs.as_object().cloned().unwrap_or_default();
    let settings = ConnectorSettings::new(&EchoConnector::SPEC, HashMap::new());
    let checked = echo()
        .test_credentials(
            &settings,
            &testing::quick_http(2),
            fields(json!({"api_key": "valid-1", "label": "Lab account"})),
        )
        .await
        .expect("accepted");
    assert_eq!(checked.identity.as_deref(), Some("Lab account"));
    assert_eq!(checked.credentials["api_key"], "valid-1");
    let unlabelled = echo()
        .test_credentials(
            &settings,
            &testing::quick_http(2),
            fields(json!({"api_key": "valid-2"})),
        )
        .await;
    assert_eq!(
        unlabelled.expect("accepted").identity.as_deref(),
        Some("echo user")
    );
    let rejected = echo()
        .test_credentials(&settings, &testing::quick_http(2), Map::new())
        .await;
    assert!(matches!(
        rejected,
        Err(ConnectorError::InvalidInput { field: Some(f), message }) if f == "api_key" && message == "The API key was rejected by the service"
    ));
}

#[tokio::test]
async fn whoami_refreshes_once_after_a_401_and_retries_with_the_new_token() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/whoami"))
        .and(header("authorization", "Bearer fresh-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": {"name": "alice"}})))
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/whoami"))
        .and(header("authorization", "Bearer stale-token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_token"})))
        .expect(1)
        .mount(&upstream)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let ctx = ctx_with(&upstream.uri(), json!({"access_token": "stale-token"}))
        .with_token_updater(updater.clone());
    let output = echo()
        .execute_action("whoami", &ctx, Value::Null)
        .await
        .expect("whoami succeeds");
    assert_eq!(output.into_json(), Some(json!({"user": {"name": "alice"}})));
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        ctx.current_credentials().access_token(),
        Some("fresh-token")
    );
}

#[tokio::test]
async fn whoami_without_token_updater_turns_a_401_into_auth_expired() {
    let upstream = MockServer::start().await;
    Mock::given(path("/whoami"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&upstream)
        .await;
    let ctx = ctx_with(&upstream.uri(), json!({"api_key": "valid-key"}));
    let result = echo().execute_action("whoami", &ctx, json!({})).await;
    assert!(
        matches!(result, Err(ConnectorError::AuthExpired { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn whoami_reports_auth_expired_when_the_refreshed_token_is_refused_too() {
    let upstream = MockServer::start().await;
    Mock::given(path("/whoami"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&upstream)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let ctx = ctx_with(&upstream.uri(), json!({"access_token": "stale-token"}))
        .with_token_updater(updater.clone());
    let result = echo().execute_action("whoami", &ctx, Value::Null).await;
    assert!(
        matches!(result, Err(ConnectorError::AuthExpired { .. })),
        "{result:?}"
    );
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn whoami_sends_the_api_key_as_bearer_token() {
    let upstream = MockServer::start().await;
    Mock::given(path("/whoami"))
        .and(header("authorization", "Bearer valid-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": "echo"})))
        .expect(1)
        .mount(&upstream)
        .await;
    let ctx = ctx_with(&upstream.uri(), json!({"api_key": "valid-key"}));
    let output = echo()
        .execute_action("whoami", &ctx, Value::Null)
        .await
        .expect("whoami");
    assert_eq!(output.into_json(), Some(json!({"user": "echo"})));
}
