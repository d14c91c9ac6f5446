//! Tests of `google-drive` through the `Connector` interface the app uses, against a
//! wiremock fake of Drive v3 shaped like the real API: the same paths, query parameters
//! (checked with matchers), page tokens, export endpoint, error bodies and `Retry-After`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use super::actions::DriveActions;
use super::connector::GoogleDrive;
use super::wire::{
    ABOUT_FIELDS, DRIVE_FIELDS, DRIVE_LIST_FIELDS, FILE_FIELDS, FILE_LIST_FIELDS, PARENT_FIELDS,
};
use crate::files::Breadcrumb;
use crate::sdk::testing;
use crate::{
    ActionContext, Connector, ConnectorDef, ConnectorError, ConnectorSettings, Credentials,
    DefinedConnector, Download, FileKind, FileList, FileSource, ListRequest, SearchRequest, Tag,
    TokenUpdater,
};

const FOLDER: &str = "application/vnd.google-apps.folder";
const SHORTCUT: &str = "application/vnd.google-apps.shortcut";
const DOC: &str = "application/vnd.google-apps.document";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

fn connector() -> DefinedConnector<GoogleDrive> {
    DefinedConnector::new(GoogleDrive::default())
}

fn ctx_with(upstream: &MockServer, config: &[(&str, &str)], token: &str) -> ActionContext {
    let base = upstream.uri();
    let mut overrides = vec![("API_BASE_URL", base.as_str())];
    overrides.extend_from_slice(config);
    let credentials = json!({"access_token": token, "refresh_token": "refresh-me"});
    testing::context(&GoogleDrive::SPEC, &overrides, credentials)
}

async fn run_json(ctx: &ActionContext, action: &str, params: Value) -> Value {
    testing::run_json(&connector(), ctx, action, params).await
}

async fn run_download(ctx: &ActionContext, action: &str, params: Value) -> Download {
    testing::run_download(&connector(), ctx, action, params).await
}

async fn run_err(ctx: &ActionContext, action: &str, params: Value) -> ConnectorError {
    testing::run_err(&connector(), ctx, action, params).await
}

fn ctx(upstream: &MockServer) -> ActionContext {
    ctx_with(upstream, &[], "good-token")
}

/// Collects a download's chunks.
async fn chunks(download: Download) -> Vec<bytes::Bytes> {
    download
        .stream
        .map(|chunk| chunk.expect("chunk"))
        .collect()
        .await
}

/// `GET /drive/v3/{rest}` with the connection's bearer token.
fn get(rest: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/drive/v3/{rest}")))
        .and(header("authorization", "Bearer good-token"))
}

/// `files.list` as the connector must call it: every page asks for the same fields and
/// includes shared-drive items.
fn files_list(q: &str) -> MockBuilder {
    get("files")
        .and(query_param("q", q))
        .and(query_param("fields", FILE_LIST_FIELDS))
        .and(query_param("supportsAllDrives", "true"))
        .and(query_param("includeItemsFromAllDrives", "true"))
}

/// `files.get` of metadata (not `alt=media`).
fn files_get(id: &str, fields: &str) -> MockBuilder {
    get(&format!("files/{id}"))
        .and(query_param("fields", fields))
        .and(query_param("supportsAllDrives", "true"))
        .and(query_param_is_missing("alt"))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// A Drive error body, exactly as Drive v3 shapes it.
fn drive_error(
    code: u16,
    status: &str,
    domain: &str,
    reason: &str,
    message: &str,
) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": status
        }
    }))
}

fn not_found(id: &str) -> ResponseTemplate {
    drive_error(
        404,
        "NOT_FOUND",
        "global",
        "notFound",
        &format!("File not found: {id}."),
    )
}

fn file(id: &str, name: &str, mime: &str) -> Value {
    json!({"id": id, "name": name, "mimeType": mime, "parents": ["0AROOT"],
           "modifiedTime": "2026-03-01T09:30:00.000Z",
           "webViewLink": format!("https://drive.google.com/file/d/{id}/view"),
           "capabilities": {"canDownload": true}})
}

fn ids(list: &Value) -> Vec<String> {
    list["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_owned())
        .collect()
}

// --- browsing -------------------------------------------------------------------------

#[tokio::test]
async fn list_files_without_folder_shows_the_three_places_without_calling_drive() {
    let upstream = MockServer::start().await;
    let list = run_json(&ctx(&upstream), "list_files", json!({})).await;
    assert_eq!(ids(&list), ["root", "shared-with-me", "shared-drives"]);
    assert_eq!(list["files"][0]["name"], "My Drive");
    assert_eq!(list["files"][0]["kind"], "folder");
    assert_eq!(list["files"][2]["icon"], "shared-drives");
    assert_eq!(list["breadcrumbs"], json!([]));
    assert_eq!(list["folder_id"], Value::Null);
    assert_eq!(list["next_page_token"], Value::Null);
    let received = upstream.received_requests().await.expect("recording");
    assert!(received.is_empty(), "{received:?}");
}

#[tokio::test]
async fn list_files_follows_next_page_token_across_three_pages_of_my_drive() {
    let upstream = MockServer::start().await;
    let q = "'root' in parents and trashed = false";
    for n in 1..=3u32 {
        let request = files_list(q)
            .and(query_param("pageSize", "2"))
            .and(query_param("orderBy", "folder,name_natural"))
            .and(query_param_is_missing("corpora"))
            .and(query_param_is_missing("driveId"));
        let request = if n == 1 {
            request.and(query_param_is_missing("pageToken"))
        } else {
            request.and(query_param("pageToken", format!("tok-{n}")))
        };
        let next = if n < 3 {
            json!(format!("tok-{}", n + 1))
        } else {
            Value::Null
        };
        request
            .respond_with(ok(json!({
                "nextPageToken": next,
                "files": [file(&format!("f{n}a"), "a", "application/pdf"),
                          file(&format!("f{n}b"), "b", "text/plain")]
            })))
            .expect(1)
            .mount(&upstream)
            .await;
    }

    let ctx = ctx(&upstream);
    let mut params = json!({"folder_id": "root", "page_size": 2});
    let mut pages = Vec::new();
    loop {
        let list = run_json(&ctx, "list_files", params.clone()).await;
        pages.push(list.clone());
        match list["next_page_token"].as_str() {
            Some(token) => params["page_token"] = json!(token),
            None => break,
        }
    }
    let all: Vec<_> = pages.iter().flat_map(ids).collect();
    assert_eq!(all, ["f1a", "f1b", "f2a", "f2b", "f3a", "f3b"]);
    assert_eq!(
        pages[0]["breadcrumbs"],
        json!([{"id": "root", "name": "My Drive"}])
    );
    assert_eq!(pages[1]["breadcrumbs"], Value::Null, "only the first page");
    assert_eq!(pages[2]["folder_id"], "root");
}

#[tokio::test]
async fn shared_drives_are_listed_with_drives_list_and_opened_with_corpora_drive() {
    let upstream = MockServer::start().await;
    get("drives")
        .and(query_param("fields", DRIVE_LIST_FIELDS))
        .and(query_param("pageSize", "100"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ok(json!({
            "kind": "drive#driveList",
            "nextPageToken": "drives-2",
            "drives": [{"kind": "drive#drive", "id": "0ABIO", "name": "Biology 101"}]
        })))
        .expect(1)
        .mount(&upstream)
        .await;
    get("drives")
        .and(query_param("pageToken", "drives-2"))
        .respond_with(ok(
            json!({"drives": [{"id": "0ACHEM", "name": "Chemistry"}]}),
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    files_list("'0ABIO' in parents and trashed = false")
        .and(query_param("corpora", "drive"))
        .and(query_param("driveId", "0ABIO"))
        .respond_with(ok(
            json!({"files": [file("lab1", "Lab 1.pdf", "application/pdf")]}),
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    get("drives/0ABIO")
        .and(query_param("fields", DRIVE_FIELDS))
        .respond_with(ok(json!({"id": "0ABIO", "name": "Biology 101"})))
        .expect(1)
        .mount(&upstream)
        .await;

    let ctx = ctx(&upstream);
    let drives = run_json(&ctx, "list_files", json!({"folder_id": "shared-drives"})).await;
    assert_eq!(ids(&drives), ["drive:0ABIO"]);
    assert_eq!(drives["files"][0]["icon"], "shared-drive");
    assert_eq!(drives["files"][0]["drive_id"], "0ABIO");
    assert_eq!(
        drives["breadcrumbs"],
        json!([{"id": "shared-drives", "name": "Shared drives"}])
    );
    let more = run_json(
        &ctx,
        "list_files",
        json!({"folder_id": "shared-drives", "page_token": drives["next_page_token"]}),
    )
    .await;
    assert_eq!(ids(&more), ["drive:0ACHEM"]);

    let inside = run_json(&ctx, "list_files", json!({"folder_id": "drive:0ABIO"})).await;
    assert_eq!(ids(&inside), ["lab1"]);
    assert_eq!(
        inside["breadcrumbs"],
        json!([{"id": "shared-drives", "name": "Shared drives"},
               {"id": "drive:0ABIO", "name": "Biology 101"}])
    );
}

#[tokio::test]
async fn a_subfolder_of_a_shared_drive_is_listed_in_its_drive_with_breadcrumbs() {
    let upstream = MockServer::start().await;
    files_get("week1", FILE_FIELDS)
        .respond_with(ok(
            json!({"id": "week1", "name": "Week 1", "mimeType": FOLDER,
                                "parents": ["labs"], "driveId": "0ABIO"}),
        ))
        .mount(&upstream)
        .await;
    files_get("labs", PARENT_FIELDS)
        .respond_with(ok(json!({"id": "labs", "name": "Labs", "mimeType": FOLDER,
                                "parents": ["0ABIO"], "driveId": "0ABIO"})))
        .mount(&upstream)
        .await;
    files_get("0ABIO", PARENT_FIELDS)
        .respond_with(ok(
            json!({"id": "0ABIO", "name": "Drive", "mimeType": FOLDER,
                                "driveId": "0ABIO"}),
        ))
        .mount(&upstream)
        .await;
    get("drives/0ABIO")
        .respond_with(ok(json!({"id": "0ABIO", "name": "Biology 101"})))
        .mount(&upstream)
        .await;
    files_list("'week1' in parents and trashed = false")
        .and(query_param("corpora", "drive"))
        .and(query_param("driveId", "0ABIO"))
        .respond_with(ok(json!({"files": [file("notes", "Notes", DOC)]})))
        .expect(1)
        .mount(&upstream)
        .await;

    let list = run_json(&ctx(&upstream), "list_files", json!({"folder_id": "week1"})).await;
    assert_eq!(ids(&list), ["notes"]);
    assert_eq!(
        list["breadcrumbs"],
        json!([{"id": "shared-drives", "name": "Shared drives"},
               {"id": "drive:0ABIO", "name": "Biology 101"},
               {"id": "labs", "name": "Labs"},
               {"id": "week1", "name": "Week 1"}])
    );
}

#[tokio::test]
async fn a_shortcut_to_a_folder_opens_the_folder_with_my_drive_breadcrumbs() {
    let upstream = MockServer::start().await;
    files_get("short1", FILE_FIELDS)
        .respond_with(ok(json!({"id": "short1", "name": "Thesis (shortcut)",
            "mimeType": "application/vnd.google-apps.shortcut", "parents": ["0AROOT"],
            "shortcutDetails": {"targetId": "thesis", "targetMimeType": FOLDER}})))
        .expect(1)
        .mount(&upstream)
        .await;
    files_get("thesis", FILE_FIELDS)
        .respond_with(ok(
            json!({"id": "thesis", "name": "Thesis", "mimeType": FOLDER,
                                "parents": ["0AROOT"], "ownedByMe": true}),
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    files_get("0AROOT", PARENT_FIELDS)
        .respond_with(ok(
            json!({"id": "0AROOT", "name": "My Drive", "mimeType": FOLDER,
                                "ownedByMe": true}),
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    files_list("'thesis' in parents and trashed = false")
        .and(query_param_is_missing("corpora"))
        .respond_with(ok(json!({"files": [file("ch1", "Chapter 1", DOC)]})))
        .expect(1)
        .mount(&upstream)
        .await;

    let list = run_json(
        &ctx(&upstream),
        "list_files",
        json!({"folder_id": "short1"}),
    )
    .await;
    assert_eq!(ids(&list), ["ch1"]);
    assert_eq!(list["folder_id"], "short1");
    assert_eq!(
        list["breadcrumbs"],
        json!([{"id": "root", "name": "My Drive"}, {"id": "thesis", "name": "Thesis"}])
    );
}

#[tokio::test]
async fn shared_with_me_lists_shared_items_and_their_folders_lead_back_to_it() {
    let upstream = MockServer::start().await;
    files_list("sharedWithMe = true and trashed = false")
        .and(query_param_is_missing("corpora"))
        .respond_with(ok(json!({"files": [
            {"id": "proj", "name": "Group project", "mimeType": FOLDER, "parents": ["hidden"],
             "ownedByMe": false, "webViewLink": "https://drive.google.com/drive/folders/proj"}
        ]})))
        .expect(1)
        .mount(&upstream)
        .await;
    files_get("proj", FILE_FIELDS)
        .respond_with(ok(
            json!({"id": "proj", "name": "Group project", "mimeType": FOLDER,
                                "parents": ["hidden"], "ownedByMe": false}),
        ))
        .mount(&upstream)
        .await;
    files_get("hidden", PARENT_FIELDS)
        .respond_with(not_found("hidden"))
        .expect(1)
        .mount(&upstream)
        .await;
    files_list("'proj' in parents and trashed = false")
        .respond_with(ok(json!({"files": []})))
        .expect(1)
        .mount(&upstream)
        .await;

    let ctx = ctx(&upstream);
    let shared = run_json(&ctx, "list_files", json!({"folder_id": "shared-with-me"})).await;
    assert_eq!(ids(&shared), ["proj"]);
    assert_eq!(shared["files"][0]["kind"], "folder");
    assert_eq!(shared["files"][0]["parent_id"], "hidden");
    assert_eq!(
        shared["breadcrumbs"],
        json!([{"id": "shared-with-me", "name": "Shared with me"}])
    );
    let inside = run_json(&ctx, "list_files", json!({"folder_id": "proj"})).await;
    assert_eq!(inside["files"], json!([]));
    assert_eq!(
        inside["breadcrumbs"],
        json!([{"id": "shared-with-me", "name": "Shared with me"},
               {"id": "proj", "name": "Group project"}])
    );
}

#[tokio::test]
async fn listing_a_file_or_a_bad_id_names_the_folder_id() {
    let upstream = MockServer::start().await;
    files_get("paper", FILE_FIELDS)
        .respond_with(ok(file("paper", "Paper.pdf", "application/pdf")))
        .mount(&upstream)
        .await;
    let ctx = ctx(&upstream);
    for params in [
        json!({"folder_id": "paper"}),
        json!({"folder_id": "x' or name contains '"}),
    ] {
        match run_err(&ctx, "list_files", params).await {
            ConnectorError::InvalidInput { field, .. } => {
                assert_eq!(field.as_deref(), Some("folder_id"));
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_expired_page_token_asks_to_start_over() {
    let upstream = MockServer::start().await;
    files_list("'root' in parents and trashed = false")
        .and(query_param("pageToken", "stale"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": 400, "message": "Invalid Value",
            "errors": [{"domain": "global", "reason": "invalid", "message": "Invalid Value",
                        "locationType": "parameter", "location": "pageToken"}]}})))
        .mount(&upstream)
        .await;
    let error = run_err(
        &ctx(&upstream),
        "list_files",
        json!({"folder_id": "root", "page_token": "stale"}),
    )
    .await;
    assert!(
        matches!(&error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "page_token"),
        "{error:?}"
    );
}

// --- search and metadata ----------------------------------------------------------------

#[tokio::test]
async fn search_escapes_quotes_and_searches_every_drive() {
    let upstream = MockServer::start().await;
    files_list(r"name contains 'Valentine\'s Day' and trashed = false")
        .and(query_param("corpora", "allDrives"))
        .and(query_param("pageSize", "100"))
        .and(query_param_is_missing("orderBy"))
        .respond_with(ok(json!({
            "incompleteSearch": true,
            "nextPageToken": "s2",
            "files": [file("card", "Valentine's Day card.png", "image/png")]
        })))
        .expect(1)
        .mount(&upstream)
        .await;
    let results = run_json(
        &ctx(&upstream),
        "search_files",
        json!({"query": "  Valentine's Day "}),
    )
    .await;
    assert_eq!(ids(&results), ["card"]);
    assert_eq!(results["files"][0]["icon"], "image");
    assert_eq!(results["incomplete"], true);
    assert_eq!(results["next_page_token"], "s2");
    let error = run_err(&ctx(&upstream), "search_files", json!({"query": "   "})).await;
    assert!(matches!(error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "query"));
}

#[tokio::test]
async fn get_file_returns_the_normalized_model() {
    let upstream = MockServer::start().await;
    files_get("pdf1", FILE_FIELDS)
        .respond_with(ok(json!({
            "id": "pdf1", "name": "Syllabus.pdf", "mimeType": "application/pdf",
            "size": "48213", "modifiedTime": "2026-03-01T09:30:00.000Z",
            "md5Checksum": "5D41402ABC4B2A76B9719D911017C592",
            "headRevisionId": "0B7pdf1rev", "version": "12",
            "webViewLink": "https://drive.google.com/file/d/pdf1/view",
            "parents": ["0AROOT"], "ownedByMe": true, "capabilities": {"canDownload": true}
        })))
        .mount(&upstream)
        .await;
    files_get("doc1", FILE_FIELDS)
        .respond_with(ok(json!({"id": "doc1", "name": "Essay", "mimeType": DOC,
                                "size": "1024", "version": "87", "parents": ["0AROOT"],
                                "driveId": "0ABIO"})))
        .mount(&upstream)
        .await;
    let ctx = ctx(&upstream);
    let pdf = run_json(&ctx, "get_file", json!({"file_id": "pdf1"})).await;
    assert_eq!(
        pdf,
        json!({
            "id": "pdf1", "name": "Syllabus.pdf", "kind": "file", "mime_type": "application/pdf",
            "size": 48213, "modified_time": "2026-03-01T09:30:00Z",
            "checksum": "md5:5d41402abc4b2a76b9719d911017c592", "revision": "0B7pdf1rev",
            "web_link": "https://drive.google.com/file/d/pdf1/view", "parent_id": "0AROOT",
            "can_download": true, "icon": "pdf", "export_formats": [], "drive_id": null,
            "shortcut_target": null
        })
    );
    let doc = run_json(&ctx, "get_file", json!({"file_id": "doc1"})).await;
    assert_eq!(
        doc["size"],
        Value::Null,
        "native files have no download size"
    );
    assert_eq!(doc["checksum"], Value::Null);
    assert_eq!(doc["revision"], "87", "Google files are revised by version");
    assert_eq!(doc["export_formats"][0], "docx");
    assert_eq!(doc["drive_id"], "0ABIO");
    let place = run_json(&ctx, "get_file", json!({"file_id": "shared-with-me"})).await;
    assert_eq!(place["name"], "Shared with me");
    assert_eq!(place["kind"], "folder");
    assert_eq!(place["revision"], Value::Null);
}

#[tokio::test]
async fn missing_files_are_not_found() {
    let upstream = MockServer::start().await;
    files_get("gone", FILE_FIELDS)
        .respond_with(not_found("gone"))
        .expect(1)
        .mount(&upstream)
        .await;
    let error = run_err(&ctx(&upstream), "get_file", json!({"file_id": "gone"})).await;
    assert!(
        matches!(&error, ConnectorError::NotFound { message } if message == "File not found: gone."),
        "{error:?}"
    );
}

// --- the shared file model --------------------------------------------------------------

/// What the app reads of an entry: `(id, kind, checksum, revision, can_download)`.
type Seen<'a> = (&'a str, FileKind, Option<&'a str>, Option<&'a str>, bool);

/// What the app reads of a page, entry by entry.
fn summary(list: &FileList) -> Vec<Seen<'_>> {
    list.files
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.kind,
                f.checksum.as_ref().map(crate::Checksum::as_str),
                f.revision.as_deref(),
                f.can_download,
            )
        })
        .collect()
}

#[tokio::test]
async fn listings_and_searches_read_as_the_sdk_file_list() {
    let upstream = MockServer::start().await;
    let entries = json!([
        {"id": "course", "name": "Course", "mimeType": FOLDER, "parents": ["0AROOT"],
         "version": "4", "ownedByMe": true},
        {"id": "short-dir", "name": "Thesis (shortcut)", "mimeType": SHORTCUT,
         "parents": ["0AROOT"], "version": "2",
         "shortcutDetails": {"targetId": "thesis", "targetMimeType": FOLDER}},
        {"id": "notes", "name": "Notes.pdf", "mimeType": "application/pdf", "size": "12",
         "md5Checksum": "5D41402ABC4B2A76B9719D911017C592", "headRevisionId": "0B7notes",
         "version": "9", "parents": ["0AROOT"], "capabilities": {"canDownload": true}},
        {"id": "essay", "name": "Essay", "mimeType": DOC, "version": "31",
         "parents": ["0AROOT"], "capabilities": {"canDownload": true}},
        {"id": "short-file", "name": "Notes (shortcut)", "mimeType": SHORTCUT,
         "parents": ["0AROOT"], "version": "1",
         "shortcutDetails": {"targetId": "notes", "targetMimeType": "application/pdf"}}
    ]);
    files_list("'root' in parents and trashed = false")
        .respond_with(ok(json!({"nextPageToken": "p2", "files": entries})))
        .expect(2)
        .mount(&upstream)
        .await;
    files_list("name contains 'notes' and trashed = false")
        .and(query_param("corpora", "allDrives"))
        .respond_with(ok(json!({"files": [entries[2], entries[4]]})))
        .expect(2)
        .mount(&upstream)
        .await;
    let ctx = ctx(&upstream);

    let output = run_json(&ctx, "list_files", json!({"folder_id": "root"})).await;
    let page: FileList = serde_json::from_value(output.clone()).expect("reads as a FileList");
    let md5 = Some("md5:5d41402abc4b2a76b9719d911017c592");
    assert_eq!(
        summary(&page),
        [
            ("course", FileKind::Folder, None, None, false),
            ("short-dir", FileKind::Folder, None, None, false),
            ("notes", FileKind::File, md5, Some("0B7notes"), true),
            ("essay", FileKind::File, None, Some("31"), true),
            ("short-file", FileKind::File, None, None, true),
        ]
    );
    assert_eq!(page.next_page_token.as_deref(), Some("p2"));
    assert_eq!(
        page.breadcrumbs,
        Some(vec![Breadcrumb {
            id: "root".to_owned(),
            name: "My Drive".to_owned()
        }])
    );
    assert_eq!(page.files[2].size, Some(12));
    assert_eq!(page.files[2].parent_id.as_deref(), Some("0AROOT"));
    // Drive's own fields ride along next to the shared ones.
    assert_eq!(output["folder_id"], "root");
    assert_eq!(output["files"][1]["icon"], "shortcut");
    assert_eq!(output["files"][1]["shortcut_target"]["id"], "thesis");
    assert_eq!(output["files"][3]["export_formats"][0], "docx");
    assert_eq!(output["files"][4]["shortcut_target"]["id"], "notes");
    // Cloud import reads the same page through `FileSource`, Drive's own fields unbuilt.
    let plain = DriveActions
        .list(
            &ctx,
            ListRequest {
                folder: Some("root".to_owned()),
                page_token: None,
            },
        )
        .await
        .expect("lists");
    assert_eq!(plain, page);

    let top: FileList = serde_json::from_value(run_json(&ctx, "list_files", json!({})).await)
        .expect("the top level reads as a FileList");
    assert!(top.files.iter().all(|f| f.kind == FileKind::Folder));
    assert_eq!(top.breadcrumbs, Some(Vec::new()));

    let output = run_json(&ctx, "search_files", json!({"query": "notes"})).await;
    let found: FileList = serde_json::from_value(output).expect("reads as a FileList");
    let plain = DriveActions
        .search(
            &ctx,
            SearchRequest {
                query: "notes".to_owned(),
                page_token: None,
            },
        )
        .await
        .expect("searches");
    assert_eq!(plain, found);
    assert_eq!(
        summary(&found),
        [
            ("notes", FileKind::File, md5, Some("0B7notes"), true),
            ("short-file", FileKind::File, None, None, true),
        ]
    );
    assert_eq!((found.next_page_token, found.breadcrumbs), (None, None));
}

// --- download and export ----------------------------------------------------------------

/// 1 MiB of bytes that do not repeat in short cycles.
fn payload() -> Vec<u8> {
    (0u32..1 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[tokio::test]
async fn download_file_streams_a_binary_file_with_its_md5() {
    let upstream = MockServer::start().await;
    let body = payload();
    let md5 = hex::encode(Md5::digest(&body));
    files_get("bin1", FILE_FIELDS)
        .respond_with(ok(
            json!({"id": "bin1", "name": "dataset.zip", "mimeType": "application/zip",
            "size": body.len().to_string(), "md5Checksum": md5,
            "capabilities": {"canDownload": true}}),
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    get("files/bin1")
        .and(query_param("alt", "media"))
        .and(query_param("supportsAllDrives", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "application/zip"))
        .expect(1)
        .mount(&upstream)
        .await;

    let download = run_download(&ctx(&upstream), "download_file", json!({"file_id": "bin1"})).await;
    assert_eq!(download.name, "dataset.zip");
    assert_eq!(download.mime_type, "application/zip");
    assert_eq!(download.size, Some(body.len() as u64));
    assert_eq!(download.checksum, crate::Checksum::from_hex("md5", &md5));
    let checksum = download.checksum.clone();
    let parts = chunks(download).await;
    assert!(parts.len() > 1, "streamed in chunks, not one buffer");
    let mut hasher = Md5::new();
    let mut total = 0;
    for part in &parts {
        hasher.update(part);
        total += part.len();
    }
    assert_eq!(total, body.len());
    assert_eq!(
        crate::Checksum::from_bytes("md5", &hasher.finalize()),
        checksum
    );
}

#[tokio::test]
async fn download_file_of_a_shortcut_downloads_its_target() {
    let upstream = MockServer::start().await;
    files_get("short-file", FILE_FIELDS)
        .respond_with(ok(json!({"id": "short-file", "name": "Notes (shortcut)",
            "mimeType": SHORTCUT, "parents": ["0AROOT"],
            "shortcutDetails": {"targetId": "notes", "targetMimeType": "application/pdf"}})))
        .expect(1)
        .mount(&upstream)
        .await;
    files_get("notes", FILE_FIELDS)
        .respond_with(ok(json!({"id": "notes", "name": "Notes.pdf",
            "mimeType": "application/pdf", "size": "9",
            "md5Checksum": "5D41402ABC4B2A76B9719D911017C592",
            "capabilities": {"canDownload": true}})))
        .expect(1)
        .mount(&upstream)
        .await;
    get("files/notes")
        .and(query_param("alt", "media"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(&b"%PDF-1.7"[..], "application/pdf"))
        .expect(1)
        .mount(&upstream)
        .await;
    get("files/short-file")
        .and(query_param("alt", "media"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&upstream)
        .await;
    let download = run_download(
        &ctx(&upstream),
        "download_file",
        json!({"file_id": "short-file"}),
    )
    .await;
    assert_eq!(
        (download.name.as_str(), download.mime_type.as_str()),
        ("Notes.pdf", "application/pdf")
    );
    assert_eq!(
        download.checksum.as_ref().map(crate::Checksum::as_str),
        Some("md5:5d41402abc4b2a76b9719d911017c592")
    );
    assert_eq!(chunks(download).await.concat(), b"%PDF-1.7");
}

/// A Google Doc named `Essay` and its export endpoint for `mime`.
async fn mount_doc(upstream: &MockServer, mime: &str, bytes: &'static [u8]) {
    files_get("doc1", FILE_FIELDS)
        .respond_with(ok(json!({"id": "doc1", "name": "Essay", "mimeType": DOC,
                                "capabilities": {"canDownload": true}})))
        .mount(upstream)
        .await;
    get("files/doc1/export")
        .and(query_param("mimeType", mime))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bytes, mime))
        .expect(1)
        .mount(upstream)
        .await;
}

#[tokio::test]
async fn download_file_exports_a_google_doc_to_docx_by_default() {
    let upstream = MockServer::start().await;
    mount_doc(&upstream, DOCX, b"PK\x03\x04 fake docx").await;
    let download = run_download(&ctx(&upstream), "download_file", json!({"file_id": "doc1"})).await;
    assert_eq!(
        (download.name.as_str(), download.mime_type.as_str()),
        ("Essay.docx", DOCX)
    );
    assert_eq!(download.checksum, None);
    assert_eq!(chunks(download).await.concat(), b"PK\x03\x04 fake docx");
}

#[tokio::test]
async fn download_file_exports_a_google_doc_to_pdf_when_configured() {
    let upstream = MockServer::start().await;
    mount_doc(&upstream, "application/pdf", b"%PDF-1.7 fake").await;
    let ctx = ctx_with(&upstream, &[("EXPORT_FORMAT", "pdf")], "good-token");
    let download = run_download(&ctx, "download_file", json!({"file_id": "doc1"})).await;
    assert_eq!(
        (download.name.as_str(), download.mime_type.as_str()),
        ("Essay.pdf", "application/pdf")
    );
    assert_eq!(chunks(download).await.concat(), b"%PDF-1.7 fake");
}

#[tokio::test]
async fn export_file_honours_the_format_and_refuses_one_the_type_lacks() {
    let upstream = MockServer::start().await;
    mount_doc(&upstream, "application/vnd.oasis.opendocument.text", b"odt").await;
    let ctx = ctx(&upstream);
    let download = run_download(
        &ctx,
        "export_file",
        json!({"file_id": "doc1", "format": "odt"}),
    )
    .await;
    assert_eq!(download.name, "Essay.odt");
    assert_eq!(chunks(download).await.concat(), b"odt");
    let error = run_err(
        &ctx,
        "export_file",
        json!({"file_id": "doc1", "format": "xlsx"}),
    )
    .await;
    assert!(
        matches!(&error, ConnectorError::Unsupported { message } if message.contains("docx, pdf, odt")),
        "{error:?}"
    );
    let error = run_err(
        &ctx,
        "export_file",
        json!({"file_id": "doc1", "format": "exe"}),
    )
    .await;
    assert!(matches!(error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "format"));
}

#[tokio::test]
async fn forms_and_folders_cannot_be_downloaded() {
    let upstream = MockServer::start().await;
    files_get("form1", FILE_FIELDS)
        .respond_with(ok(json!({"id": "form1", "name": "Quiz 3",
                                "mimeType": "application/vnd.google-apps.form"})))
        .mount(&upstream)
        .await;
    files_get("dir1", FILE_FIELDS)
        .respond_with(ok(
            json!({"id": "dir1", "name": "Notes", "mimeType": FOLDER}),
        ))
        .mount(&upstream)
        .await;
    Mock::given(path("/drive/v3/files/form1/export"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&upstream)
        .await;
    let ctx = ctx(&upstream);
    let error = run_err(&ctx, "download_file", json!({"file_id": "form1"})).await;
    match &error {
        ConnectorError::Unsupported { message } => {
            assert!(
                message.contains("Quiz 3") && message.contains("Google Forms"),
                "{message}"
            );
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(error.user_message().contains("Google Forms"));
    let error = run_err(&ctx, "export_file", json!({"file_id": "form1"})).await;
    assert_eq!(error.code(), "unsupported");
    for id in ["dir1", "root", "drive:0ABIO"] {
        let error = run_err(&ctx, "download_file", json!({"file_id": id})).await;
        assert!(
            matches!(&error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "file_id"),
            "{id}: {error:?}"
        );
    }
}

#[tokio::test]
async fn files_whose_owner_disabled_downloads_are_refused_before_fetching() {
    let upstream = MockServer::start().await;
    files_get("locked", FILE_FIELDS)
        .respond_with(ok(
            json!({"id": "locked", "name": "Exam.pdf", "mimeType": "application/pdf",
                                "capabilities": {"canDownload": false}}),
        ))
        .mount(&upstream)
        .await;
    get("files/locked")
        .and(query_param("alt", "media"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&upstream)
        .await;
    let error = run_err(
        &ctx(&upstream),
        "download_file",
        json!({"file_id": "locked"}),
    )
    .await;
    assert_eq!(error.code(), "permission_denied");
}

#[tokio::test]
async fn exports_over_googles_size_limit_are_unsupported() {
    let upstream = MockServer::start().await;
    files_get("big", FILE_FIELDS)
        .respond_with(ok(json!({"id": "big", "name": "Grades",
                                "mimeType": "application/vnd.google-apps.spreadsheet"})))
        .mount(&upstream)
        .await;
    get("files/big/export")
        .respond_with(drive_error(
            403,
            "PERMISSION_DENIED",
            "global",
            "exportSizeLimitExceeded",
            "This file is too large to be exported.",
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    let error = run_err(&ctx(&upstream), "download_file", json!({"file_id": "big"})).await;
    assert!(
        matches!(&error, ConnectorError::Unsupported { message } if message.contains("10 MB")),
        "{error:?}"
    );
}

// --- rate limits, permissions, tokens ---------------------------------------------------

#[tokio::test]
async fn a_403_user_rate_limit_is_rate_limited_with_retry_after() {
    let upstream = MockServer::start().await;
    files_get("f1", FILE_FIELDS)
        .respond_with(
            drive_error(
                403,
                "PERMISSION_DENIED",
                "usageLimits",
                "userRateLimitExceeded",
                "User Rate Limit Exceeded.",
            )
            .insert_header("retry-after", "120"),
        )
        .expect(1)
        .mount(&upstream)
        .await;
    let error = run_err(&ctx(&upstream), "get_file", json!({"file_id": "f1"})).await;
    assert!(
        matches!(error, ConnectorError::RateLimited { .. }),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_403_rate_limit_is_retried_with_backoff_then_succeeds() {
    let upstream = MockServer::start().await;
    files_get("f1", FILE_FIELDS)
        .respond_with(drive_error(
            403,
            "PERMISSION_DENIED",
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        ))
        .up_to_n_times(2)
        .expect(2)
        .mount(&upstream)
        .await;
    files_get("f1", FILE_FIELDS)
        .respond_with(ok(file("f1", "a.txt", "text/plain")))
        .expect(1)
        .mount(&upstream)
        .await;
    let entry = run_json(&ctx(&upstream), "get_file", json!({"file_id": "f1"})).await;
    assert_eq!(entry["name"], "a.txt");
}

#[tokio::test]
async fn insufficient_permissions_is_permission_denied_and_not_retried() {
    let upstream = MockServer::start().await;
    files_list("'root' in parents and trashed = false")
        .respond_with(drive_error(
            403,
            "PERMISSION_DENIED",
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    let error = run_err(&ctx(&upstream), "list_files", json!({"folder_id": "root"})).await;
    assert!(
        matches!(error, ConnectorError::PermissionDenied { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_429_is_retried_by_the_client_then_rate_limited() {
    let upstream = MockServer::start().await;
    files_get("f1", FILE_FIELDS)
        .respond_with(drive_error(
            429,
            "RESOURCE_EXHAUSTED",
            "usageLimits",
            "rateLimitExceeded",
            "Too Many Requests",
        ))
        .expect(3)
        .mount(&upstream)
        .await;
    let error = run_err(&ctx(&upstream), "get_file", json!({"file_id": "f1"})).await;
    assert!(
        matches!(error, ConnectorError::RateLimited { .. }),
        "{error:?}"
    );
}

/// Hands out `fresh-token` and counts the refreshes.
#[derive(Default)]
struct TestUpdater {
    calls: AtomicUsize,
}

#[async_trait]
impl TokenUpdater for TestUpdater {
    async fn refresh(&self, stale: &Credentials) -> Result<Credentials, ConnectorError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(stale.access_token(), Some("stale-token"));
        Ok(Credentials::new(
            json!({"access_token": "fresh-token", "refresh_token": "refresh-me"}),
        ))
    }
}

fn unauthorized() -> ResponseTemplate {
    drive_error(
        401,
        "UNAUTHENTICATED",
        "global",
        "authError",
        "Request had invalid authentication credentials.",
    )
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_with_the_new_token() {
    let upstream = MockServer::start().await;
    Mock::given(path("/drive/v3/files/f1"))
        .and(header("authorization", "Bearer stale-token"))
        .respond_with(unauthorized())
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(path("/drive/v3/files/f1"))
        .and(header("authorization", "Bearer fresh-token"))
        .respond_with(ok(file("f1", "a.txt", "text/plain")))
        .expect(1)
        .mount(&upstream)
        .await;
    let updater = Arc::new(TestUpdater::default());
    let ctx = ctx_with(&upstream, &[], "stale-token").with_token_updater(updater.clone());
    let entry = run_json(&ctx, "get_file", json!({"file_id": "f1"})).await;
    assert_eq!(entry["id"], "f1");
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        ctx.current_credentials().access_token(),
        Some("fresh-token")
    );
}

#[tokio::test]
async fn a_second_401_means_the_user_must_reconnect() {
    let upstream = MockServer::start().await;
    Mock::given(path("/drive/v3/files/f1"))
        .respond_with(unauthorized())
        .expect(2)
        .mount(&upstream)
        .await;
    let updater = Arc::new(TestUpdater::default());
    let ctx = ctx_with(&upstream, &[], "stale-token").with_token_updater(updater.clone());
    let error = run_err(&ctx, "get_file", json!({"file_id": "f1"})).await;
    assert!(
        matches!(error, ConnectorError::AuthExpired { .. }),
        "{error:?}"
    );
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
}

// --- spec, identity, descriptors ---------------------------------------------------------

#[tokio::test]
async fn fetch_identity_is_the_accounts_email() {
    let upstream = MockServer::start().await;
    get("about")
        .and(query_param("fields", ABOUT_FIELDS))
        .respond_with(ok(
            json!({"user": {"kind": "drive#user", "displayName": "Ada Student",
                                         "emailAddress": "ada@campus.example.edu"}}),
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    let identity = connector()
        .fetch_identity(&ctx(&upstream))
        .await
        .expect("identity");
    assert_eq!(identity.as_deref(), Some("ada@campus.example.edu"));
}

#[test]
fn the_spec_asks_for_read_only_access_with_offline_consent() {
    let spec = GoogleDrive::SPEC;
    let oauth = spec.oauth.expect("oauth");
    assert_eq!(spec.slug, "google-drive");
    assert_eq!(
        oauth.scopes,
        [
            "openid",
            "email",
            "https://www.googleapis.com/auth/drive.readonly"
        ]
    );
    assert!(oauth.pkce);
    assert!(
        oauth
            .extra_auth_params
            .contains(&("access_type", "offline"))
    );
    let settings = ConnectorSettings::new(&spec, HashMap::new());
    assert_eq!(
        settings.get("API_BASE_URL"),
        Some("https://www.googleapis.com")
    );
    assert_eq!(settings.get("EXPORT_FORMAT"), Some("office"));
    assert_eq!(
        settings.get("REVOKE_URL"),
        Some("https://oauth2.googleapis.com/revoke")
    );
}

#[test]
fn actions_are_tagged_for_cloud_import() {
    let connector = connector();
    let names: Vec<_> = connector.actions().iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        [
            "list_files",
            "search_files",
            "get_file",
            "download_file",
            "export_file"
        ]
    );
    assert!(connector.has_tag(Tag::FileBrowse) && connector.has_tag(Tag::FileDownload));
    for name in ["download_file", "export_file"] {
        let action = connector.action(name).expect(name);
        assert!(
            action.downloads && action.has_tag(Tag::FileDownload),
            "{name}"
        );
    }
    assert!(!connector.has_tag(Tag::Write));
    // The flattened sdk fields and Drive's own appear side by side in the schema.
    let list = connector.action("list_files").expect("list_files");
    let entry = &list.output_schema["$defs"]["DriveEntry"]["properties"];
    for field in [
        "id",
        "kind",
        "checksum",
        "revision",
        "can_download",
        "icon",
        "export_formats",
        "drive_id",
        "shortcut_target",
    ] {
        assert!(entry[field].is_object(), "entries have `{field}`: {entry}");
    }
    assert!(list.output_schema["properties"]["breadcrumbs"].is_object());
    let export = connector.action("export_file").expect("export_file");
    let formats = &export.input_schema["$defs"]["ExportFormat"];
    assert!(formats.to_string().contains("docx"), "{formats}");
}
