//! The fake Graph against Graph's documented behaviour, and the real `onedrive` connector
//! against the fake.

mod content;

use std::sync::atomic::Ordering;

use base64::engine::general_purpose::STANDARD;
use campuscore_connectors::ConnectorError;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};

use actix_web::http::header;
use base64::Engine as _;
use serde_json::{Value, json};

use super::routes::{Address, Route};
use super::*;
use crate::upstream::connector_runs::connect;

const PDF: &str = "application/pdf";
const SELECT: &str = "id,name,size,file,folder,package,remoteItem,parentReference,\
                      lastModifiedDateTime,webUrl,malware,cTag,eTag";

fn client() -> reqwest::Client {
    crate::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET {base}/v1.0{path_and_query}` (already escaped) with `token` as bearer.
async fn get(graph: &FakeGraph, path_and_query: &str, token: Option<&str>) -> reqwest::Response {
    let url = if path_and_query.starts_with("http") {
        path_and_query.to_owned()
    } else {
        format!("{}/v1.0{path_and_query}", graph.base_url())
    };
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the fake answers")
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

fn names(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|item| {
            let name = item["name"]
                .as_str()
                .or_else(|| item["remoteItem"]["name"].as_str());
            name.expect("a name").to_owned()
        })
        .collect()
}

#[test]
fn paths_route_like_graph() {
    let route = |path: &str| Route::of(path);
    assert_eq!(route("/v1.0/me"), Route::Me);
    assert_eq!(
        route("/v1.0/me/drive/root/children"),
        Route::Children(Address::Mine(ROOT.to_owned()))
    );
    assert_eq!(
        route("/v1.0/drives/b!x-y/items/01AB/content"),
        Route::Content(Address::InDrive("b!x-y".to_owned(), "01AB".to_owned()))
    );
    assert_eq!(
        route("/v1.0/me/drive/root/search(q='O''Brien%20lab%20%231')"),
        Route::Search(Address::Mine(ROOT.to_owned()), "O'Brien lab #1".to_owned())
    );
    assert_eq!(
        route("/v1.0/me/drive/root/search(q='a'b')"),
        Route::Unknown("search(q='a'b')".to_owned())
    );
    assert_eq!(
        route("/v1.0/me/messages"),
        Route::Unknown("messages".to_owned())
    );
}

#[tokio::test]
async fn children_page_through_absolute_next_links() {
    let graph = FakeGraph::start().await;
    let course = graph.add_folder(ROOT, "Course");
    for n in 1..=250 {
        graph.add_file(&course, &format!("Week {n}.pdf"), PDF, "x");
    }
    let mut url = format!("/me/drive/items/{course}/children?$select={SELECT}&$top=100");
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = json_of(get(&graph, &url, Some("t")).await).await;
        pages += 1;
        all.extend(names(&page));
        let first = &page["value"][0];
        assert!(
            first.get("createdBy").is_none(),
            "$select leaves the rest out"
        );
        assert!(first["cTag"].as_str().expect("cTag").starts_with("\"c:{"));
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("{}/v1.0/me/drive/items/", graph.base_url())));
                assert!(next.contains("$top=100") && next.contains("$skiptoken="));
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 250);
    assert_eq!(all[0], "Week 1.pdf");
    assert_eq!(all[249], "Week 250.pdf");
    assert_eq!(graph.list_requests(), 3);

    // A skip token only works for the listing it came from.
    let first = json_of(
        get(
            &graph,
            &format!("/me/drive/items/{course}/children?$top=5"),
            Some("t"),
        )
        .await,
    )
    .await;
    let next = first["@odata.nextLink"].as_str().expect("more").to_owned();
    let token = next.split("$skiptoken=").nth(1).expect("token");
    let elsewhere = get(
        &graph,
        &format!("/me/drive/root/children?$skiptoken={token}"),
        Some("t"),
    )
    .await;
    assert_eq!(elsewhere.status(), 400);
    assert_eq!(json_of(elsewhere).await["error"]["code"], "invalidRequest");

    let unknown = get(&graph, "/me/drive/root/children?$select=id,nmae", Some("t")).await;
    assert_eq!(unknown.status(), 400);
    let body = json_of(unknown).await;
    assert_eq!(
        body["error"]["message"],
        "Could not find a property named 'nmae' on type 'microsoft.graph.driveItem'."
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());
    let ordered = json_of(
        get(
            &graph,
            &format!("/me/drive/items/{course}/children?$orderby=name%20desc&$top=2"),
            Some("t"),
        )
        .await,
    )
    .await;
    assert_eq!(names(&ordered), ["Week 99.pdf", "Week 98.pdf"]);
}

#[tokio::test]
async fn search_shared_items_and_access_follow_graph() {
    let graph = FakeGraph::start().await;
    let me = graph.my_drive_id();
    let course = graph.add_folder(ROOT, "Course");
    graph.add_file(&course, "O'Brien lab #1.pdf", PDF, "mine");
    graph.add_file(ROOT, "Unrelated.pdf", PDF, "u");
    let bob = graph.add_drive("Bob Builder", "bob@campus.example");
    let bob_root = graph.drive_root(&bob);
    let project = graph.add_folder(&bob_root, "Group project");
    let draft = graph.add_file(&project, "Draft.pdf", PDF, "draft");
    let bob_lab = graph.add_file(
        &bob_root,
        "O'Brien lab #1 (Bob).docx",
        "application/msword",
        "b",
    );
    let private = graph.add_file(&bob_root, "Diary.txt", "text/plain", "secret");
    graph.share_with_me(&project);
    graph.share_with_me(&bob_lab);

    let found = json_of(
        get(
            &graph,
            "/me/drive/root/search(q='O''Brien%20lab%20%231')",
            Some("t"),
        )
        .await,
    )
    .await;
    assert_eq!(
        names(&found),
        ["O'Brien lab #1.pdf", "O'Brien lab #1 (Bob).docx"]
    );
    assert_eq!(found["value"][0]["parentReference"]["driveId"], me);
    let remote = &found["value"][1]["remoteItem"];
    assert_eq!(remote["id"], bob_lab);
    assert_eq!(remote["parentReference"]["driveId"], bob);
    assert!(remote.get("cTag").is_none(), "references carry no tags");
    let in_folder = json_of(
        get(
            &graph,
            &format!("/drives/{me}/items/{course}/search(q='lab')"),
            Some("t"),
        )
        .await,
    )
    .await;
    assert_eq!(names(&in_folder), ["O'Brien lab #1.pdf"]);

    let shared = json_of(get(&graph, "/me/drive/sharedWithMe", Some("t")).await).await;
    assert_eq!(
        names(&shared),
        ["Group project", "O'Brien lab #1 (Bob).docx"]
    );
    assert_eq!(shared["value"][0]["remoteItem"]["folder"]["childCount"], 1);
    let inside = json_of(
        get(
            &graph,
            &format!("/drives/{bob}/items/{project}/children"),
            Some("t"),
        )
        .await,
    )
    .await;
    assert_eq!(names(&inside), ["Draft.pdf"]);
    assert_eq!(inside["value"][0]["id"], draft);

    let denied = get(&graph, &format!("/drives/{bob}/items/{private}"), Some("t")).await;
    assert_eq!(denied.status(), 403);
    assert_eq!(json_of(denied).await["error"]["code"], "accessDenied");
    let missing = get(&graph, "/me/drive/items/01NOSUCHITEM", Some("t")).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(json_of(missing).await["error"]["code"], "itemNotFound");
    let wrong_drive = get(&graph, &format!("/me/drive/items/{draft}"), Some("t")).await;
    assert_eq!(
        wrong_drive.status(),
        404,
        "an item is addressed in its own drive"
    );
    let segment = get(&graph, "/me/drive/recent", Some("t")).await;
    assert_eq!(segment.status(), 400);

    let me_body = json_of(get(&graph, "/me?$select=userPrincipalName,mail", Some("t")).await).await;
    assert_eq!(me_body["mail"], "alice@campus.example");
    assert!(me_body.get("displayName").is_none());
}

#[tokio::test]
async fn content_redirects_to_a_link_that_refuses_bearer_tokens() {
    let graph = FakeGraph::start().await;
    let content = Content::synthetic(1_000_000, 3);
    let file = graph.add_file(ROOT, "Notes.pdf", PDF, content.clone());
    let redirect = get(
        &graph,
        &format!("/me/drive/items/{file}/content"),
        Some("t"),
    )
    .await;
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()[header::LOCATION.as_str()]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(location.starts_with(graph.base_url()) && location.contains("tempauth="));

    let leaked = client()
        .get(&location)
        .bearer_auth("t")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        leaked.status(),
        401,
        "a bearer token on the download URL is refused"
    );
    let body = client().get(&location).send().await.expect("answer");
    assert_eq!(body.status(), 200);
    assert_eq!(body.headers()[header::CONTENT_TYPE.as_str()], PDF);
    assert_eq!(body.bytes().await.expect("bytes"), content.to_bytes());
    let partial = client()
        .get(&location)
        .header(header::RANGE.as_str(), "bytes=-10")
        .send()
        .await
        .expect("answer");
    assert_eq!(partial.status(), 206);
    assert_eq!(
        partial.bytes().await.expect("bytes"),
        content.read(999_990, 10)
    );
    assert_eq!(graph.content_requests(), 1);
    assert_eq!(graph.download_requests(), 3);
    assert_eq!(
        graph.tokens_seen(),
        ["t"],
        "the download host sees no token"
    );

    graph.expire_download_links();
    assert_eq!(
        client()
            .get(&location)
            .send()
            .await
            .expect("answer")
            .status(),
        401
    );

    let item = json_of(get(&graph, &format!("/me/drive/items/{file}"), Some("t")).await).await;
    let download_url = item["@microsoft.graph.downloadUrl"]
        .as_str()
        .expect("a download URL");
    assert_eq!(
        client()
            .get(download_url)
            .send()
            .await
            .expect("answer")
            .bytes()
            .await
            .expect("bytes")
            .len(),
        1_000_000
    );

    let notebook = graph.add_notebook(ROOT, "Biology");
    let refused = get(
        &graph,
        &format!("/me/drive/items/{notebook}/content"),
        Some("t"),
    )
    .await;
    assert_eq!(refused.status(), 400);
    graph.set_malware(&file);
    let malware = get(
        &graph,
        &format!("/me/drive/items/{file}/content"),
        Some("t"),
    )
    .await;
    assert_eq!(json_of(malware).await["error"]["code"], "malwareDetected");
}
