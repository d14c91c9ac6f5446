//! The fake Drive against Drive's documented behaviour, and the real `google-drive`
//! connector against the fake.

mod content;

use std::time::Duration;

use actix_web::http::header;
use serde_json::{Value, json};

use super::files::natural;
use super::list_query::{Parser, Query, word_prefix};
use super::*;

const PDF: &str = "application/pdf";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const LIST_FIELDS: &str = "nextPageToken,files(id,name,mimeType,size,md5Checksum,parents)";

/// `GET {base}/drive/v3/{path}` with `token` as bearer.
async fn get(
    drive: &FakeDrive,
    path: &str,
    query: &[(&str, &str)],
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = crate::http_client()
        .get(format!("{}/drive/v3/{path}", drive.base_url()))
        .query(query);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the fake answers")
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"]
        .as_str()
        .unwrap_or_default()
}

#[test]
fn the_q_parser_takes_drive_syntax_and_refuses_the_rest() {
    for ok in [
        "'root' in parents and trashed = false",
        r"name contains 'Valentine\'s Day' and trashed = false",
        "sharedWithMe = true and trashed = false",
        "(mimeType = 'application/pdf' or mimeType != 'x') and not starred = true",
        "modifiedTime > '2012-06-04T12:00:00' and 'me' in owners",
        "",
    ] {
        assert!(Parser::parse(ok).is_some(), "{ok}");
    }
    for bad in [
        "name has 'x'",
        "'root' in children",
        "trashed = 'false'",
        "name contains 'unterminated",
        "title contains 'v2 syntax'",
        "'a' in parents and",
    ] {
        assert!(Parser::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(
        Parser::parse(r"name contains 'it\'s'"),
        Some(Query::Name("contains", "it's".to_owned()))
    );
    assert!(word_prefix("HelloWorld.pdf", "hello"));
    assert!(!word_prefix("HelloWorld.pdf", "world"));
    assert!(word_prefix("Lab report (final).pdf", "final"));
    assert_eq!(natural("file 2", "file 12"), std::cmp::Ordering::Less);
}

#[tokio::test]
async fn a_folder_of_250_files_takes_three_pages_of_100() {
    let drive = FakeDrive::start().await;
    let folder = drive.add_folder(ROOT, "Course");
    for n in (1..=250).rev() {
        drive.add_file(&folder, &format!("Week {n}.pdf"), PDF, "x");
    }
    drive.add_folder(&folder, "Zeta folder");
    let q = format!("'{folder}' in parents and trashed = false");
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![
            ("q", q.as_str()),
            ("pageSize", "100"),
            ("orderBy", "folder,name_natural"),
            ("fields", LIST_FIELDS),
        ];
        if let Some(token) = &token {
            query.push(("pageToken", token));
        }
        let page = json_of(get(&drive, "files", &query, Some("t")).await).await;
        pages += 1;
        names.extend(
            page["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| f["name"].as_str().expect("name").to_owned()),
        );
        match page["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 251);
    assert_eq!(names[0], "Zeta folder", "folders first");
    assert_eq!(names[1..4], ["Week 1.pdf", "Week 2.pdf", "Week 3.pdf"]);
    assert_eq!(names[250], "Week 250.pdf");
    assert_eq!(drive.list_requests(), 3);

    // A token only works with the query it came from.
    let first =
        json_of(get(&drive, "files", &[("q", &q), ("pageSize", "10")], Some("t")).await).await;
    let token = first["nextPageToken"].as_str().expect("more pages");
    let other = get(
        &drive,
        "files",
        &[("q", "trashed = false"), ("pageToken", token)],
        Some("t"),
    )
    .await;
    assert_eq!(other.status(), 400);
    let body = json_of(other).await;
    assert_eq!(body["error"]["errors"][0]["location"], "pageToken");
    assert_eq!(
        first["files"][0],
        json!({"kind": "drive#file", "id": first["files"][0]["id"], "name": first["files"][0]["name"], "mimeType": PDF}),
        "the default fields"
    );
}

#[tokio::test]
async fn search_and_corpora_follow_drive() {
    let drive = FakeDrive::start().await;
    let course = drive.add_folder(ROOT, "Course");
    let notes = drive.add_file(&course, "Lecture notes.pdf", PDF, "n");
    drive.add_file(&course, "Prelecture.pdf", PDF, "p");
    let binned = drive.add_file(&course, "Lecture old.pdf", PDF, "o");
    drive.trash(&binned);
    let team = drive.add_shared_drive("Physics dept");
    let team_file = drive.add_file(&team, "Lecture plan.pdf", PDF, "t");
    let shared = drive.add_shared_file("Lecture from Bob.pdf", PDF, "b");

    let search = |corpora: &'static str| {
        let drive = &drive;
        async move {
            let q = "name contains 'lecture' and trashed = false";
            let query = [
                ("q", q),
                ("corpora", corpora),
                ("includeItemsFromAllDrives", "true"),
                ("supportsAllDrives", "true"),
                ("fields", "files(id)"),
            ];
            let body = json_of(get(drive, "files", &query, Some("t")).await).await;
            let mut ids: Vec<String> = body["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| f["id"].as_str().expect("id").to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    let mut everywhere = vec![notes.clone(), team_file.clone(), shared.clone()];
    everywhere.sort();
    assert_eq!(search("allDrives").await, everywhere);
    let mut mine = vec![notes.clone(), shared.clone()];
    mine.sort();
    assert_eq!(search("user").await, mine);

    let in_team = [
        ("q", format!("'{team}' in parents and trashed = false")),
        ("corpora", "drive".to_owned()),
        ("driveId", team.clone()),
        ("includeItemsFromAllDrives", "true".to_owned()),
        ("supportsAllDrives", "true".to_owned()),
        ("fields", "files(id,driveId,parents)".to_owned()),
    ];
    let query: Vec<(&str, &str)> = in_team.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = json_of(get(&drive, "files", &query, Some("t")).await).await;
    assert_eq!(
        body["files"],
        json!([{"id": team_file, "driveId": team, "parents": [team]}])
    );

    let shared_with_me = [
        ("q", "sharedWithMe = true and trashed = false"),
        ("fields", "files(id,ownedByMe,parents)"),
    ];
    let body = json_of(get(&drive, "files", &shared_with_me, Some("t")).await).await;
    assert_eq!(body["files"][0]["id"], shared);
    assert_eq!(body["files"][0]["ownedByMe"], false);
    let parent = body["files"][0]["parents"][0].as_str().expect("a parent");
    let hidden = get(&drive, &format!("files/{parent}"), &[], Some("t")).await;
    assert_eq!(hidden.status(), 404, "the owner's folder is not visible");

    for (query, location) in [
        (vec![("q", "name has 'x'")], "q"),
        (vec![("pageSize", "0")], "pageSize"),
        (vec![("orderBy", "size")], "orderBy"),
        (vec![("corpora", "everything")], "corpora"),
    ] {
        let response = get(&drive, "files", &query, Some("t")).await;
        assert_eq!(response.status(), 400, "{query:?}");
        let body = json_of(response).await;
        assert_eq!(reason(&body), "invalid");
        assert_eq!(body["error"]["errors"][0]["location"], location);
    }
    let no_drive_items = get(&drive, "files", &[("corpora", "allDrives")], Some("t")).await;
    assert_eq!(no_drive_items.status(), 400);
    let bad_field = get(
        &drive,
        "files",
        &[("fields", "files(id,md5checksum)")],
        Some("t"),
    )
    .await;
    assert_eq!(bad_field.status(), 400);
    let body = json_of(bad_field).await;
    assert_eq!(
        body["error"]["message"],
        "Invalid field selection md5checksum"
    );
    let unsupported = get(&drive, &format!("files/{team_file}"), &[], Some("t")).await;
    assert_eq!(
        unsupported.status(),
        404,
        "shared-drive items need supportsAllDrives"
    );
}

#[tokio::test]
async fn exports_follow_the_export_table_and_the_size_limit() {
    let drive = FakeDrive::start().await;
    let doc = drive.add_native(ROOT, "Essay", DOCUMENT_MIME);
    let pdf = drive.add_file(ROOT, "Scan.pdf", PDF, "%PDF");
    let form = drive.add_native(ROOT, "Survey", FORM_MIME);
    let export = |id: String, mime: &'static str| {
        let drive = &drive;
        async move {
            get(
                drive,
                &format!("files/{id}/export"),
                &[("mimeType", mime)],
                Some("t"),
            )
            .await
        }
    };
    let ok = export(doc.clone(), DOCX).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()[header::CONTENT_TYPE.as_str()], DOCX);
    let bytes = ok.bytes().await.expect("bytes");
    assert_eq!(bytes.len() as u64, DEFAULT_EXPORT_SIZE);
    let again = export(doc.clone(), DOCX)
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes, again, "exports are deterministic");

    let unsupported = export(doc.clone(), "image/png").await;
    assert_eq!(unsupported.status(), 400);
    let body = json_of(unsupported).await;
    assert_eq!(reason(&body), "badRequest");
    assert_eq!(
        body["error"]["message"],
        "The requested conversion is not supported."
    );
    assert_eq!(
        reason(&json_of(export(form, PDF).await).await),
        "badRequest"
    );

    let binary = export(pdf.clone(), PDF).await;
    assert_eq!(binary.status(), 403);
    assert_eq!(reason(&json_of(binary).await), "fileNotExportable");

    drive.set_export_size(&doc, EXPORT_LIMIT + 1);
    let too_big = export(doc.clone(), DOCX).await;
    assert_eq!(too_big.status(), 403);
    assert_eq!(reason(&json_of(too_big).await), "exportSizeLimitExceeded");

    let media = get(
        &drive,
        &format!("files/{doc}"),
        &[("alt", "media")],
        Some("t"),
    )
    .await;
    assert_eq!(media.status(), 403);
    assert_eq!(reason(&json_of(media).await), "fileNotDownloadable");
    let listed = json_of(
        get(
            &drive,
            &format!("files/{doc}"),
            &[("fields", "size,md5Checksum,exportLinks")],
            Some("t"),
        )
        .await,
    )
    .await;
    assert!(listed.get("size").is_none() && listed.get("md5Checksum").is_none());
    assert!(listed["exportLinks"][DOCX].is_string());
}

#[tokio::test]
async fn a_failure_ratio_fails_that_share_of_requests_at_the_same_places_for_the_same_seed() {
    let drive = FakeDrive::start().await;
    drive.add_file(ROOT, "a.pdf", PDF, "%PDF a");
    let list = || get(&drive, "files", &[("q", "trashed = false")], Some("t"));

    // Over HTTP: a queued fault comes first, then every request meets the random one (ratio
    // 1), on any endpoint; clearing the faults ends it.
    drive.set_failure_ratio(1.0, Fault::ServerError(503), 42);
    drive.fail_next(Endpoint::List, Fault::ServerError(500));
    assert_eq!(list().await.status(), 500);
    assert_eq!(list().await.status(), 503);
    let about = get(&drive, "about", &[("fields", "user")], Some("t")).await;
    assert_eq!(about.status(), 503);
    assert_eq!(reason(&json_of(about).await), "backendError");
    assert_eq!(drive.random_failures(), 2);
    drive.clear_faults();
    assert_eq!(list().await.status(), 200);
    assert_eq!(drive.random_failures(), 0);

    // The share and the places: 10 % of 5000 requests, the same ones for the same seed.
    let draws = |fake: &FakeDrive, seed: u64| {
        fake.set_failure_ratio(0.1, Fault::ServerError(503), seed);
        (0..5000)
            .map(|_| fake.with_books(|books| books.take_body_fault(Endpoint::List).is_err()))
            .collect::<Vec<bool>>()
    };
    let first = draws(&drive, 7);
    let failed = first.iter().filter(|f| **f).count();
    assert!((400..=600).contains(&failed), "about 500: {failed}");
    assert_eq!(drive.random_failures(), failed as u64);
    let other = FakeDrive::start().await;
    assert_eq!(draws(&other, 7), first, "the same seed, the same requests");
    assert_ne!(draws(&other, 8), first, "another seed, other requests");
}
