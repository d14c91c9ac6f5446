//! Tests of `onedrive` through the `Connector` interface the app uses, against a fake
//! Microsoft Graph shaped like the real one: `/v1.0` paths, `$select`/`$top`,
//! `@odata.nextLink` pages carrying `$skiptoken`, `remoteItem` references, Graph error
//! bodies (`{"error":{"code","message","innerError"}}`), `Retry-After`, and the `/content`
//! 302 to a pre-authenticated URL on a second server.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::connector::OneDrive;
use super::models::ITEM_SELECT;
use crate::sdk::testing;
use crate::{
    ActionContext, Connector, ConnectorDef, ConnectorError, DefinedConnector, Download, FileKind,
    FileList, Tag,
};

/// The user's own drive (OneDrive for Business drive ids look like this).
const MY_DRIVE: &str = "b!t18F8ybsHUq1z3LTz8xvZqP8zaSWjkFNhsME-Fepo75dTf9vQKfeRblBZjoSQrd7";
const ROOT_ITEM: &str = "01BYE5RZ56Y2GOVW7725BZO354PWSELRRZ";

fn onedrive() -> DefinedConnector<OneDrive> {
    DefinedConnector::new(OneDrive::default())
}

fn ctx_with(graph: &MockServer, extra: &[(&str, &str)], token: &str) -> ActionContext {
    let base = graph.uri();
    let mut overrides = vec![("API_BASE_URL", base.as_str())];
    overrides.extend_from_slice(extra);
    let credentials = json!({"access_token": token, "refresh_token": "r"});
    testing::context(&OneDrive::SPEC, &overrides, credentials)
}

async fn run_json(ctx: &ActionContext, action: &str, params: Value) -> Value {
    testing::run_json(&onedrive(), ctx, action, params).await
}

async fn run_err(ctx: &ActionContext, action: &str, params: Value) -> ConnectorError {
    testing::run_err(&onedrive(), ctx, action, params).await
}

fn ctx(graph: &MockServer) -> ActionContext {
    ctx_with(graph, &[], "token-1")
}

fn bearer(token: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {token}").as_str())
}

/// The content tag OneDrive for Business gives item `id` at content version 1.
fn c_tag(id: &str) -> String {
    format!("c:{{{id}}},1")
}

/// A file of the user's drive, as `children` returns it with our `$select`.
fn file_item(id: &str, name: &str, size: u64, parent: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "size": size,
        "cTag": format!("\"{}\"", c_tag(id)),
        "eTag": format!("\"{{{id}}},3\""),
        "file": {
            "mimeType": "application/pdf",
            "hashes": {"quickXorHash": "2eb0mXj4y3klcE0XwDxlhi6Vq/A="}
        },
        "parentReference": {"driveType": "business", "driveId": MY_DRIVE, "id": parent, "path": "/drive/root:"},
        "lastModifiedDateTime": "2026-10-01T09:30:00Z",
        "webUrl": format!("https://contoso-my.sharepoint.com/personal/alice/Documents/{name}")
    })
}

fn folder_item(id: &str, name: &str, parent: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "size": 4096,
        "folder": {"childCount": 3},
        "eTag": format!("\"{{{id}}},7\""),
        "parentReference": {"driveType": "business", "driveId": MY_DRIVE, "id": parent, "path": "/drive/root:"},
        "lastModifiedDateTime": "2026-09-01T08:00:00Z",
        "webUrl": format!("https://contoso-my.sharepoint.com/personal/alice/Documents/{name}")
    })
}

fn page(items: Vec<Value>, next_link: Option<String>) -> ResponseTemplate {
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",
        "value": items
    });
    if let Some(link) = next_link {
        body["@odata.nextLink"] = json!(link);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

fn graph_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2026-11-20T10:00:00",
                "request-id": "6a0f3b5e-1b0c-4a43-9b0e-2f0c2a1d9e11",
                "client-request-id": "6a0f3b5e-1b0c-4a43-9b0e-2f0c2a1d9e11"
            }
        }
    }))
}

fn ids(list: &Value) -> Vec<String> {
    list["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn list_files_pages_through_root_children_with_odata_next_link() {
    let graph = MockServer::start().await;
    let children = "/v1.0/me/drive/root/children";
    let link = |token: &str| format!("{}{children}?$top=2&$skiptoken={token}", graph.uri());
    Mock::given(method("GET"))
        .and(path(children))
        .and(query_param("$select", ITEM_SELECT))
        .and(query_param("$top", "2"))
        .and(query_param_is_missing("$skiptoken"))
        .and(bearer("token-1"))
        .respond_with(page(
            vec![
                folder_item("01FOLDER", "Coursework", ROOT_ITEM),
                file_item("01F1", "Syllabus.pdf", 1200, ROOT_ITEM),
            ],
            Some(link("UGFnZWQ9VFJVRSZwX0lEPTI")),
        ))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path(children))
        .and(query_param("$skiptoken", "UGFnZWQ9VFJVRSZwX0lEPTI"))
        .and(bearer("token-1"))
        .respond_with(page(
            vec![
                file_item("01F2", "Notes.pdf", 2400, ROOT_ITEM),
                file_item("01F3", "Reading.pdf", 3600, ROOT_ITEM),
            ],
            Some(link("UGFnZWQ9VFJVRSZwX0lEPTQ")),
        ))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path(children))
        .and(query_param("$skiptoken", "UGFnZWQ9VFJVRSZwX0lEPTQ"))
        .respond_with(page(
            vec![file_item("01F4", "Lab.pdf", 10, ROOT_ITEM)],
            None,
        ))
        .expect(1)
        .mount(&graph)
        .await;

    let ctx = ctx(&graph);
    let first = run_json(&ctx, "list_files", json!({"page_size": 2})).await;
    assert_eq!(
        ids(&first),
        [format!("{MY_DRIVE}:01FOLDER"), format!("{MY_DRIVE}:01F1")]
    );
    assert_eq!(
        first["files"][0],
        json!({
            "id": format!("{MY_DRIVE}:01FOLDER"),
            "name": "Coursework",
            "kind": "folder",
            "mime_type": "inode/directory",
            "size": null,
            "modified_time": "2026-09-01T08:00:00Z",
            "checksum": null,
            "revision": null,
            "web_link": "https://contoso-my.sharepoint.com/personal/alice/Documents/Coursework",
            "parent_id": "root",
            "can_download": false
        })
    );
    assert_eq!(first["files"][1]["kind"], "file");
    assert_eq!(first["files"][1]["size"], 1200);
    assert_eq!(first["files"][1]["can_download"], true);
    assert_eq!(first["files"][1]["revision"], c_tag("01F1"));
    let token = first["next_page_token"].as_str().expect("a next page");
    assert_eq!(token, link("UGFnZWQ9VFJVRSZwX0lEPTI"));

    let second = run_json(&ctx, "list_files", json!({"page_token": token})).await;
    assert_eq!(
        ids(&second),
        [format!("{MY_DRIVE}:01F2"), format!("{MY_DRIVE}:01F3")]
    );
    assert_eq!(second["files"][0]["parent_id"], "root");
    let token = second["next_page_token"].as_str().expect("a third page");
    let third = run_json(&ctx, "list_files", json!({"page_token": token})).await;
    assert_eq!(ids(&third), [format!("{MY_DRIVE}:01F4")]);
    assert_eq!(third["next_page_token"], Value::Null);
}

#[tokio::test]
async fn list_files_refuses_page_tokens_that_leave_the_graph_api() {
    let graph = MockServer::start().await;
    let other = MockServer::start().await;
    let ctx = ctx(&graph);
    for token in [
        "https://evil.example/v1.0/me/drive/root/children?$skiptoken=x".to_owned(),
        format!("{}/v1.0/me/drive/root/children?$skiptoken=x", other.uri()),
        format!("{}/v1.0/me/messages?$skip=10", graph.uri()),
        format!("{}/v1.0/../drive/root/children", graph.uri()),
        "/v1.0/me/drive/root/children?$skiptoken=x".to_owned(),
        "page-2".to_owned(),
    ] {
        let error = run_err(&ctx, "list_files", json!({"page_token": token})).await;
        assert!(
            matches!(&error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "page_token"),
            "{token}: {error:?}"
        );
    }
    assert!(
        graph
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
    assert!(
        other
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[tokio::test]
async fn list_files_reports_a_next_link_to_another_host_instead_of_handing_it_out() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/root/children"))
        .respond_with(page(
            vec![file_item("01F1", "a.pdf", 1, ROOT_ITEM)],
            Some("https://attacker.example/v1.0/me/drive/root/children?$skiptoken=2".to_owned()),
        ))
        .mount(&graph)
        .await;
    let error = run_err(&ctx(&graph), "list_files", json!({"folder_id": "root"})).await;
    assert!(
        matches!(&error, ConnectorError::Upstream { message, .. } if message.contains("next-page link")),
        "{error:?}"
    );
}

#[tokio::test]
async fn search_files_doubles_quotes_and_percent_encodes_the_term() {
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/drive/root/search(q='O''Brien%20lab%20%231')"))
        .and(query_param("$select", ITEM_SELECT))
        .and(query_param("$top", "100"))
        .and(bearer("token-1"))
        .respond_with(page(
            vec![
                file_item("01HIT", "O'Brien lab #1.pdf", 5000, "01SUB"),
                json!({
                    "id": "01REMOTEREF",
                    "name": "O'Brien lab #1 (shared).docx",
                    "file": {},
                    "searchResult": {},
                    "remoteItem": {
                        "id": "01REMOTE",
                        "size": 42,
                        "file": {"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
                        "parentReference": {"driveId": "b!other-drive", "id": "01OTHERPARENT"}
                    }
                }),
            ],
            None,
        ))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/drives/{MY_DRIVE}/items/01FOLDER/search(q='it''s')"
        )))
        .respond_with(page(vec![], None))
        .expect(1)
        .mount(&graph)
        .await;

    let ctx = ctx(&graph);
    let found = run_json(&ctx, "search_files", json!({"query": "  O'Brien lab #1 "})).await;
    assert_eq!(
        ids(&found),
        [
            format!("{MY_DRIVE}:01HIT"),
            "b!other-drive:01REMOTE".to_owned()
        ]
    );
    assert_eq!(found["files"][0]["parent_id"], format!("{MY_DRIVE}:01SUB"));
    assert_eq!(found["files"][1]["name"], "O'Brien lab #1 (shared).docx");
    assert_eq!(
        found["files"][1]["parent_id"],
        "b!other-drive:01OTHERPARENT"
    );
    let in_folder = run_json(
        &ctx,
        "search_files",
        json!({"query": "it's", "folder_id": format!("{MY_DRIVE}:01FOLDER")}),
    )
    .await;
    assert_eq!(
        in_folder,
        json!({"files": [], "next_page_token": null, "breadcrumbs": null})
    );

    let error = run_err(&ctx, "search_files", json!({"query": "   "})).await;
    assert!(matches!(error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "query"));
    let error = run_err(
        &ctx,
        "search_files",
        json!({"query": "x", "folder_id": "shared-with-me"}),
    )
    .await;
    assert!(
        matches!(error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "folder_id")
    );
}

#[tokio::test]
async fn shared_with_me_items_are_addressed_in_their_own_drives() {
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/drive/sharedWithMe"))
        .and(bearer("token-1"))
        .respond_with(page(
            vec![
                json!({
                    "id": "1312abc",
                    "name": "January Service Review.pptx",
                    "remoteItem": {
                        "id": "987def!654",
                        "name": "January Service Review.pptx",
                        "file": {"mimeType": "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
                        "size": 145362,
                        "parentReference": {"driveId": "987def", "driveType": "personal", "id": "987def!321"},
                        "webUrl": "https://1drv.ms/p/s!abc"
                    }
                }),
                json!({
                    "id": "1312def",
                    "name": "Group project",
                    "remoteItem": {
                        "id": "01SHARED",
                        "folder": {"childCount": 1},
                        "parentReference": {"driveId": "b!bob-drive", "driveType": "business"}
                    }
                }),
            ],
            None,
        ))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/drives/b!bob-drive/items/01SHARED/children"))
        .and(query_param("$top", "100"))
        .respond_with(page(
            vec![json!({
                "id": "01BOBFILE",
                "name": "Draft.pdf",
                "size": 77,
                "file": {"mimeType": "application/pdf"},
                "parentReference": {"driveId": "b!bob-drive", "id": "01SHARED"}
            })],
            None,
        ))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/drives/987def/items/987def!654"))
        .and(query_param("$select", ITEM_SELECT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "987def!654",
            "name": "January Service Review.pptx",
            "file": {"mimeType": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                     "hashes": {"sha1Hash": "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"}},
            "size": 145362,
            "parentReference": {"driveId": "987def", "id": "987def!321"}
        })))
        .expect(1)
        .mount(&graph)
        .await;

    let ctx = ctx(&graph);
    let shared = run_json(&ctx, "list_files", json!({"folder_id": "shared-with-me"})).await;
    assert_eq!(ids(&shared), ["987def:987def!654", "b!bob-drive:01SHARED"]);
    assert_eq!(shared["files"][0]["parent_id"], "shared-with-me");
    assert_eq!(shared["files"][0]["size"], 145362);
    assert_eq!(shared["files"][0]["web_link"], "https://1drv.ms/p/s!abc");
    assert_eq!(shared["files"][1]["name"], "Group project");
    assert_eq!(shared["files"][1]["kind"], "folder");

    let inside = run_json(
        &ctx,
        "list_files",
        json!({"folder_id": "b!bob-drive:01SHARED"}),
    )
    .await;
    assert_eq!(ids(&inside), ["b!bob-drive:01BOBFILE"]);
    assert_eq!(inside["files"][0]["parent_id"], "b!bob-drive:01SHARED");

    let file = run_json(&ctx, "get_file", json!({"file_id": "987def:987def!654"})).await;
    assert_eq!(file["id"], "987def:987def!654");
    assert_eq!(
        file["checksum"],
        "sha1:a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    );
    assert_eq!(file["parent_id"], "987def:987def!321");
}

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
    let graph = MockServer::start().await;
    let sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    let mut syllabus = file_item("01F1", "Syllabus.pdf", 1200, ROOT_ITEM);
    syllabus["file"]["hashes"]["sha256Hash"] = json!(sha256);
    let next = format!(
        "{}/v1.0/me/drive/root/children?$top=100&$skiptoken=Mg",
        graph.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v1.0/me/drive/root/children"))
        .and(query_param("$select", ITEM_SELECT))
        .respond_with(page(
            vec![
                folder_item("01FOLDER", "Coursework", ROOT_ITEM),
                syllabus,
                // OneDrive Personal: a SHA-1, and only an entity tag.
                json!({
                    "id": "01PERS", "name": "notes.txt", "size": 5,
                    "file": {"mimeType": "text/plain",
                             "hashes": {"sha1Hash": "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"}},
                    "parentReference": {"driveId": MY_DRIVE, "id": ROOT_ITEM},
                    "eTag": "aYzpFNDU2,7"
                }),
                json!({
                    "id": "01NOTEBOOK", "name": "Biology notes", "size": 30000,
                    "package": {"type": "oneNote"}, "cTag": "\"c:{01NOTEBOOK},12\"",
                    "parentReference": {"driveId": MY_DRIVE, "id": ROOT_ITEM}
                }),
            ],
            Some(next.clone()),
        ))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/drive/sharedWithMe"))
        .respond_with(page(
            vec![json!({
                "id": "1312abc",
                "name": "Review.pptx",
                "cTag": "\"c:{REFERENCE},1\"",
                "remoteItem": {
                    "id": "987def!654",
                    "file": {"mimeType": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                             "hashes": {"sha1Hash": "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"}},
                    "size": 145362,
                    "parentReference": {"driveId": "987def", "id": "987def!321"}
                }
            })],
            None,
        ))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/drive/root/search(q='syllabus')"))
        .respond_with(page(
            vec![file_item("01F1", "Syllabus.pdf", 1200, ROOT_ITEM)],
            None,
        ))
        .expect(1)
        .mount(&graph)
        .await;
    let ctx = ctx(&graph);
    let read = |output: Value| -> FileList {
        serde_json::from_value(output).expect("reads as a FileList")
    };
    let sha1 = Some("sha1:a94a8fe5ccb19ba61c4c0873d391e987982fbbd3");

    let root = read(run_json(&ctx, "list_files", json!({})).await);
    let sha256 = format!("sha256:{}", sha256.to_ascii_lowercase());
    let syllabus_tag = c_tag("01F1");
    let (folder, syllabus, personal, notebook) = (
        format!("{MY_DRIVE}:01FOLDER"),
        format!("{MY_DRIVE}:01F1"),
        format!("{MY_DRIVE}:01PERS"),
        format!("{MY_DRIVE}:01NOTEBOOK"),
    );
    assert_eq!(
        summary(&root),
        [
            (folder.as_str(), FileKind::Folder, None, None, false),
            (
                syllabus.as_str(),
                FileKind::File,
                Some(sha256.as_str()),
                Some(syllabus_tag.as_str()),
                true
            ),
            (
                personal.as_str(),
                FileKind::File,
                sha1,
                Some("aYzpFNDU2,7"),
                true
            ),
            (
                notebook.as_str(),
                FileKind::File,
                None,
                Some("c:{01NOTEBOOK},12"),
                false
            ),
        ]
    );
    assert_eq!(root.next_page_token, Some(next));
    assert_eq!(root.breadcrumbs, None);
    assert_eq!(root.files[1].size, Some(1200));
    assert_eq!(root.files[1].parent_id.as_deref(), Some("root"));

    let shared = read(run_json(&ctx, "list_files", json!({"folder_id": "shared-with-me"})).await);
    assert_eq!(
        summary(&shared),
        [("987def:987def!654", FileKind::File, sha1, None, true)],
        "a reference's tags are not its content's"
    );

    let found = read(run_json(&ctx, "search_files", json!({"query": "syllabus"})).await);
    // A business drive's search hit carries only QuickXorHash ("2eb0mXj4…" in base64).
    assert_eq!(
        summary(&found),
        [(
            syllabus.as_str(),
            FileKind::File,
            Some("quickxor:d9e6f49978f8cb7925704d17c03c65862e95abf0"),
            Some(syllabus_tag.as_str()),
            true
        )]
    );
}

#[tokio::test]
async fn get_file_returns_the_normalized_item_and_names_missing_ones() {
    let graph = MockServer::start().await;
    let sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/drives/{MY_DRIVE}/items/01F1")))
        .and(query_param("$select", ITEM_SELECT))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "01F1",
            "name": "Syllabus.pdf",
            "size": 1200,
            "file": {"mimeType": "application/pdf", "hashes": {"sha256Hash": sha256, "sha1Hash": "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"}},
            "parentReference": {"driveId": MY_DRIVE, "id": ROOT_ITEM, "path": "/drive/root:"},
            "lastModifiedDateTime": "2026-10-01T09:30:00.123Z",
            "webUrl": "https://contoso-my.sharepoint.com/personal/alice/Documents/Syllabus.pdf",
            "cTag": "\"c:{01F1},4\"",
            "eTag": "\"{01F1},9\""
        })))
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/drive/root"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": ROOT_ITEM, "name": "root", "folder": {"childCount": 4}, "root": {},
            "parentReference": {"driveId": MY_DRIVE},
            "webUrl": "https://contoso-my.sharepoint.com/personal/alice/Documents"
        })))
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me/drive/items/01GONE"))
        .respond_with(graph_error(
            404,
            "itemNotFound",
            "The resource could not be found.",
        ))
        .mount(&graph)
        .await;

    let ctx = ctx(&graph);
    let file = run_json(
        &ctx,
        "get_file",
        json!({"file_id": format!("{MY_DRIVE}:01F1")}),
    )
    .await;
    assert_eq!(
        file,
        json!({
            "id": format!("{MY_DRIVE}:01F1"),
            "name": "Syllabus.pdf",
            "kind": "file",
            "mime_type": "application/pdf",
            "size": 1200,
            "modified_time": "2026-10-01T09:30:00.123Z",
            "checksum": format!("sha256:{}", sha256.to_ascii_lowercase()),
            "revision": "c:{01F1},4",
            "web_link": "https://contoso-my.sharepoint.com/personal/alice/Documents/Syllabus.pdf",
            "parent_id": format!("{MY_DRIVE}:{ROOT_ITEM}"),
            "can_download": true
        })
    );
    let root = run_json(&ctx, "get_file", json!({"file_id": "root"})).await;
    assert_eq!(
        (
            &root["id"],
            &root["name"],
            &root["kind"],
            &root["parent_id"]
        ),
        (
            &json!("root"),
            &json!("My files"),
            &json!("folder"),
            &Value::Null
        )
    );
    let shared = run_json(&ctx, "get_file", json!({"file_id": "shared-with-me"})).await;
    assert_eq!(shared["kind"], "folder");

    let error = run_err(&ctx, "get_file", json!({"file_id": "01GONE"})).await;
    assert!(
        matches!(&error, ConnectorError::NotFound { message } if message.contains("`01GONE`")),
        "{error:?}"
    );
    let error = run_err(&ctx, "get_file", json!({"file_id": "../me"})).await;
    assert!(matches!(error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "file_id"));
}

/// Deterministic bytes for a download body.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn collect(download: Download) -> (usize, Vec<u8>) {
    let chunks: Vec<_> = download
        .stream
        .map(|chunk| chunk.expect("chunk"))
        .collect()
        .await;
    (chunks.len(), chunks.concat())
}

#[tokio::test]
async fn download_file_follows_the_content_redirect_without_the_bearer_token() {
    let graph = MockServer::start().await;
    let files = MockServer::start().await;
    let body = content(3 * 1024 * 1024 + 17);
    let sha256 = hex::encode(Sha256::digest(&body));
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/drives/{MY_DRIVE}/items/01BIG")))
        .and(bearer("token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "01BIG",
            "name": "Lecture recording.pdf",
            "size": body.len(),
            "file": {"mimeType": "application/pdf", "hashes": {"sha256Hash": sha256.to_ascii_uppercase()}},
            "parentReference": {"driveId": MY_DRIVE, "id": ROOT_ITEM}
        })))
        .expect(1)
        .mount(&graph)
        .await;
    let download_url = format!(
        "{}/personal/alice/_layouts/15/download.aspx?UniqueId=01BIG&tempauth=eyJ0eXAiOiJKV1Qi",
        files.uri()
    );
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/drives/{MY_DRIVE}/items/01BIG/content")))
        .and(bearer("token-1"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", download_url.as_str()))
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/personal/alice/_layouts/15/download.aspx"))
        .and(query_param("tempauth", "eyJ0eXAiOiJKV1Qi"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/pdf")
                .set_body_bytes(body.clone()),
        )
        .expect(1)
        .mount(&files)
        .await;

    // The download host is on this machine here, so an administrator must allow it.
    let allowed = ctx_with(&graph, &[("ALLOWED_HOSTS", "127.0.0.1")], "token-1");
    let download = testing::run_download(
        &onedrive(),
        &allowed,
        "download_file",
        json!({"file_id": format!("{MY_DRIVE}:01BIG")}),
    )
    .await;
    assert_eq!(download.name, "Lecture recording.pdf");
    assert_eq!(download.mime_type, "application/pdf");
    assert_eq!(download.size, Some(body.len() as u64));
    assert_eq!(
        download.checksum,
        crate::Checksum::from_hex("sha256", &sha256)
    );
    let (chunks, received) = collect(download).await;
    assert!(chunks > 1, "streamed in chunks, got {chunks}");
    assert_eq!(received.len(), body.len());
    assert_eq!(hex::encode(Sha256::digest(&received)), sha256);

    let requests = files.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    assert!(
        !requests[0].headers.contains_key("authorization"),
        "the pre-authenticated host must not see the bearer token"
    );
}

/// Mounts `01BIG` on `graph` with a `/content` that redirects to `link`.
async fn redirect_content_to(graph: &MockServer, link: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/drives/{MY_DRIVE}/items/01BIG")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "01BIG", "name": "payroll.pdf", "size": 10,
            "file": {"mimeType": "application/pdf"},
            "parentReference": {"driveId": MY_DRIVE, "id": ROOT_ITEM}
        })))
        .mount(graph)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/drives/{MY_DRIVE}/items/01BIG/content")))
        .respond_with(ResponseTemplate::new(302).insert_header("location", link))
        .mount(graph)
        .await;
}

#[tokio::test]
async fn a_download_redirect_to_an_internal_address_is_refused_without_a_request() {
    let graph = MockServer::start().await;
    let internal = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("internal secrets"))
        .mount(&internal)
        .await;
    let port = internal.address().port();
    for (link, allowed, reason) in [
        // Another service on this machine (same address as the API, another port).
        (format!("http://127.0.0.1:{port}/x"), "", "loopback"),
        (format!("http://localhost:{port}/x"), "", "loopback"),
        // The cloud metadata service: no allowed name exempts it.
        (
            "http://169.254.169.254/latest/meta-data/iam".to_owned(),
            "127.0.0.1",
            "cloud metadata",
        ),
        ("http://10.1.2.3/x".to_owned(), "127.0.0.1", "private"),
    ] {
        redirect_content_to(&graph, &link).await;
        let ctx = ctx_with(&graph, &[("ALLOWED_HOSTS", allowed)], "token-1");
        let error = run_err(
            &ctx,
            "download_file",
            json!({"file_id": format!("{MY_DRIVE}:01BIG")}),
        )
        .await;
        assert!(
            matches!(&error, ConnectorError::Upstream { message, .. }
                if message.contains("may not fetch") && message.contains(reason)),
            "{link}: {error:?}"
        );
        graph.reset().await;
    }
    assert!(
        internal
            .received_requests()
            .await
            .expect("recorded")
            .is_empty(),
        "nothing reached the internal host"
    );
}

#[tokio::test]
async fn an_allowed_download_host_cannot_redirect_onwards_to_an_internal_one() {
    let graph = MockServer::start().await;
    let files = MockServer::start().await;
    let internal = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/admin", internal.uri()).as_str()),
        )
        .mount(&files)
        .await;
    redirect_content_to(&graph, &format!("{}/download.aspx", files.uri())).await;
    let ctx = ctx_with(&graph, &[("ALLOWED_HOSTS", "127.0.0.1")], "token-1");
    let error = run_err(
        &ctx,
        "download_file",
        json!({"file_id": format!("{MY_DRIVE}:01BIG")}),
    )
    .await;
    assert!(
        matches!(&error, ConnectorError::Upstream { message, .. } if message.contains("redirected again")),
        "{error:?}"
    );
    assert!(
        internal
            .received_requests()
            .await
            .expect("recorded")
            .is_empty(),
        "the second redirect was not followed"
    );
}

#[tokio::test]
async fn download_file_refuses_onenote_notebooks_and_folders() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/items/01NOTEBOOK"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "01NOTEBOOK", "name": "Biology notes", "size": 30000,
            "package": {"type": "oneNote"},
            "parentReference": {"driveId": MY_DRIVE, "id": ROOT_ITEM}
        })))
        .mount(&graph)
        .await;
    Mock::given(path(format!("/v1.0/drives/{MY_DRIVE}/items/01FOLDER")))
        .respond_with(ResponseTemplate::new(200).set_body_json(folder_item(
            "01FOLDER",
            "Coursework",
            ROOT_ITEM,
        )))
        .mount(&graph)
        .await;
    Mock::given(path("/v1.0/me/drive/items/01NOTEBOOK/content"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "https://files.example/x"),
        )
        .expect(0)
        .mount(&graph)
        .await;

    let ctx = ctx(&graph);
    let error = run_err(&ctx, "download_file", json!({"file_id": "01NOTEBOOK"})).await;
    assert!(
        matches!(&error, ConnectorError::Unsupported { message } if message.contains("OneNote notebook") && message.contains("Biology notes")),
        "{error:?}"
    );
    let error = run_err(
        &ctx,
        "download_file",
        json!({"file_id": format!("{MY_DRIVE}:01FOLDER")}),
    )
    .await;
    assert!(matches!(error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "file_id"));
    let error = run_err(&ctx, "download_file", json!({"file_id": "shared-with-me"})).await;
    assert!(matches!(error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "file_id"));
}

#[tokio::test]
async fn throttling_with_a_long_retry_after_is_rate_limited_with_that_wait() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/root/children"))
        .respond_with(
            graph_error(
                429,
                "activityLimitReached",
                "The request has been throttled",
            )
            .insert_header("retry-after", "120"),
        )
        .expect(1)
        .mount(&graph)
        .await;
    let error = run_err(&ctx(&graph), "list_files", json!({})).await;
    assert!(
        matches!(error, ConnectorError::RateLimited { .. }),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn throttling_with_a_short_retry_after_is_retried_then_succeeds() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/root/children"))
        .respond_with(
            graph_error(
                429,
                "activityLimitReached",
                "The request has been throttled",
            )
            .insert_header("retry-after", "0"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(path("/v1.0/me/drive/root/children"))
        .respond_with(page(vec![file_item("01F1", "a.pdf", 1, ROOT_ITEM)], None))
        .expect(1)
        .mount(&graph)
        .await;
    let list = run_json(&ctx(&graph), "list_files", json!({})).await;
    assert_eq!(ids(&list), [format!("{MY_DRIVE}:01F1")]);
}

#[tokio::test]
async fn service_unavailable_from_onedrive_means_retry_later() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/root/search(q='x')"))
        .respond_with(
            graph_error(503, "serviceNotAvailable", "The service is not available.")
                .insert_header("retry-after", "300"),
        )
        .expect(1)
        .mount(&graph)
        .await;
    let error = run_err(&ctx(&graph), "search_files", json!({"query": "x"})).await;
    assert!(
        matches!(error, ConnectorError::RateLimited { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_503_without_retry_after_is_an_outage_and_509_is_throttling() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/root/search(q='down')"))
        .respond_with(graph_error(
            503,
            "serviceNotAvailable",
            "The service is not available.",
        ))
        .mount(&graph)
        .await;
    Mock::given(path("/v1.0/me/drive/root/search(q='bandwidth')"))
        .respond_with(graph_error(
            509,
            "bandwidthLimitExceeded",
            "Bandwidth limit exceeded.",
        ))
        .mount(&graph)
        .await;
    let error = run_err(&ctx(&graph), "search_files", json!({"query": "down"})).await;
    assert!(
        matches!(error, ConnectorError::Upstream { status: 503, .. }),
        "{error:?}"
    );
    let error = run_err(&ctx(&graph), "search_files", json!({"query": "bandwidth"})).await;
    assert!(
        matches!(error, ConnectorError::RateLimited { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn access_denied_is_permission_denied() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/drives/b!bob-drive/items/01PRIVATE/children"))
        .respond_with(graph_error(403, "accessDenied", "Access denied"))
        .expect(1)
        .mount(&graph)
        .await;
    let error = run_err(
        &ctx(&graph),
        "list_files",
        json!({"folder_id": "b!bob-drive:01PRIVATE"}),
    )
    .await;
    assert!(
        matches!(error, ConnectorError::PermissionDenied { .. }),
        "{error:?}"
    );
}

fn expired_token() -> ResponseTemplate {
    graph_error(
        401,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
    )
    .insert_header(
        "www-authenticate",
        "Bearer realm=\"\", error=\"invalid_token\"",
    )
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/root/children"))
        .and(bearer("stale-token"))
        .respond_with(expired_token())
        .expect(1)
        .mount(&graph)
        .await;
    Mock::given(path("/v1.0/me/drive/root/children"))
        .and(bearer("fresh-token"))
        .respond_with(page(vec![file_item("01F1", "a.pdf", 1, ROOT_ITEM)], None))
        .expect(1)
        .mount(&graph)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let ctx = ctx_with(&graph, &[], "stale-token").with_token_updater(updater.clone());
    let list = run_json(&ctx, "list_files", json!({})).await;
    assert_eq!(ids(&list), [format!("{MY_DRIVE}:01F1")]);
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        ctx.current_credentials().access_token(),
        Some("fresh-token")
    );
}

#[tokio::test]
async fn a_second_401_after_the_refresh_means_reconnect() {
    let graph = MockServer::start().await;
    Mock::given(path("/v1.0/me/drive/root/children"))
        .respond_with(expired_token())
        .expect(2)
        .mount(&graph)
        .await;
    let updater = Arc::new(testing::StaleToFresh::default());
    let ctx = ctx_with(&graph, &[], "stale-token").with_token_updater(updater.clone());
    let error = run_err(&ctx, "list_files", json!({})).await;
    assert!(
        matches!(error, ConnectorError::AuthExpired { .. }),
        "{error:?}"
    );
    assert_eq!(updater.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn fetch_identity_prefers_mail_then_the_user_principal_name() {
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .and(query_param("$select", "userPrincipalName,mail"))
        .and(bearer("token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(userPrincipalName,mail)/$entity",
            "userPrincipalName": "alice@contoso.edu",
            "mail": "Alice.Smith@contoso.edu"
        })))
        .up_to_n_times(1)
        .mount(&graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "userPrincipalName": "bob@contoso.edu",
            "mail": null
        })))
        .mount(&graph)
        .await;
    let ctx = ctx(&graph);
    let connector = onedrive();
    assert_eq!(
        connector
            .fetch_identity(&ctx)
            .await
            .expect("identity")
            .as_deref(),
        Some("Alice.Smith@contoso.edu")
    );
    assert_eq!(
        connector
            .fetch_identity(&ctx)
            .await
            .expect("identity")
            .as_deref(),
        Some("bob@contoso.edu")
    );
}

#[tokio::test]
async fn a_tenant_that_the_sign_in_urls_do_not_apply_stops_every_call() {
    let graph = MockServer::start().await;
    let ctx = ctx_with(&graph, &[("TENANT", "contoso.onmicrosoft.com")], "token-1");
    let error = run_err(&ctx, "list_files", json!({})).await;
    assert!(
        matches!(error, ConnectorError::Misconfigured { .. }),
        "{error:?}"
    );
    assert!(onedrive().fetch_identity(&ctx).await.is_err());
    assert!(
        graph
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[test]
fn actions_are_the_shared_drive_names_with_browse_and_download_tags() {
    let connector = onedrive();
    let names: Vec<_> = connector.actions().iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        ["list_files", "search_files", "get_file", "download_file"]
    );
    assert!(connector.has_tag(Tag::FileBrowse) && connector.has_tag(Tag::FileDownload));
    assert!(!connector.has_tag(Tag::Write));
    let download = connector.action("download_file").expect("download_file");
    assert!(download.downloads);
    let listing = connector.action("list_files").expect("list_files");
    for field in [
        "id",
        "name",
        "kind",
        "mime_type",
        "size",
        "modified_time",
        "checksum",
        "revision",
        "web_link",
        "parent_id",
        "can_download",
    ] {
        assert!(
            listing
                .output_schema
                .to_string()
                .contains(&format!("\"{field}\"")),
            "the file model has `{field}`"
        );
    }
    assert_eq!(OneDrive::SPEC.slug, "onedrive");
}
