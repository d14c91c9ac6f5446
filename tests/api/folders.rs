//! Knowledge folders and direct uploads.

use crate::helpers::{Options, location, spawn_app, spawn_app_with};
use campuscore::models::entities::{queue_message, source_file};
use sea_orm::{EntityTrait, PaginatorTrait};
use sha2::Digest;
use std::time::Duration;

async fn create_folder(app: &crate::helpers::TestApp, name: &str) -> String {
    let res = app
        .post_form(
            "/knowledge-folders/",
            "/knowledge-folders/",
            &[("name", name)],
        )
        .await;
    assert_eq!(res.status(), 303, "folder created");
    location(&res)
}

async fn upload(
    app: &crate::helpers::TestApp,
    folder_path: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("text/plain")
        .expect("mime");
    post_parts(app, folder_path, vec![part]).await
}

/// Posts `parts` as the `file` fields of one upload request.
async fn post_parts(
    app: &crate::helpers::TestApp,
    folder_path: &str,
    parts: Vec<reqwest::multipart::Part>,
) -> reqwest::Response {
    let token = app.csrf(folder_path).await;
    let form = parts
        .into_iter()
        .fold(reqwest::multipart::Form::new(), |form, part| {
            form.part("file", part)
        });
    app.client
        .post(app.url(&format!("{folder_path}files")))
        .header("X-CSRF-Token", token)
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

#[tokio::test]
async fn a_user_creates_folders_and_bad_names_get_a_message() {
    let app = spawn_app().await;
    app.logged_in_user("eve@campus.edu").await;
    let path = create_folder(&app, "BIO 101 notes").await;
    assert!(path.starts_with("/knowledge-folders/") && path.ends_with('/'));
    let page = app.get_text(&path).await;
    assert!(page.contains("BIO 101 notes"));
    let list = app.get_text("/knowledge-folders/").await;
    assert!(
        list.contains(&format!("<a href=\"{path}\">BIO 101 notes</a>")),
        "{list}"
    );

    let dup = app
        .post_form(
            "/knowledge-folders/",
            "/knowledge-folders/",
            &[("name", "BIO 101 notes")],
        )
        .await;
    assert_eq!(dup.status(), 409);
    assert!(
        dup.text()
            .await
            .expect("body")
            .contains("already have a folder")
    );
    let empty = app
        .post_form(
            "/knowledge-folders/",
            "/knowledge-folders/",
            &[("name", "   ")],
        )
        .await;
    assert_eq!(empty.status(), 422);
    assert!(
        empty
            .text()
            .await
            .expect("body")
            .contains("Give the folder a name.")
    );
    let control = app
        .post_form(
            "/knowledge-folders/",
            "/knowledge-folders/",
            &[("name", "Week\u{7}2")],
        )
        .await;
    assert_eq!(control.status(), 422);
    assert!(
        control
            .text()
            .await
            .expect("body")
            .contains("cannot contain control characters")
    );
}

#[tokio::test]
async fn another_users_folder_or_an_unknown_id_is_not_found() {
    let app = spawn_app().await;
    app.logged_in_user("fay@campus.edu").await;
    let path = create_folder(&app, "Private").await;

    let other = app.other_browser();
    other.logged_in_user("gus@campus.edu").await;
    let res = other.get(&path).await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.expect("body").contains("not yours to see"));
    assert_eq!(other.get(&format!("{path}files")).await.status(), 404);
    let res = upload(&other, &path, "x.txt", b"intruder".to_vec()).await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.get("/knowledge-folders/999999/").await.status(), 404);
    assert_eq!(
        app.get("/knowledge-folders/not-a-number/").await.status(),
        404
    );
    assert_eq!(
        source_file::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn a_50_mib_upload_is_stored_under_the_key_pattern_with_one_queue_message_and_becomes_ready()
{
    let app = spawn_app().await;
    app.logged_in_user("hal@campus.edu").await;
    let path = create_folder(&app, "Big files").await;
    let bytes: Vec<u8> = (0..50 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let digest = hex::encode(sha2::Sha256::digest(&bytes));

    let res = upload(&app, &path, "lecture.txt", bytes).await;
    assert_eq!(res.status(), 303);

    let files = source_file::Entity::find()
        .all(&app.state.db)
        .await
        .expect("files");
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f.size_bytes, 50 * 1024 * 1024);
    assert_eq!(f.sha256.as_deref(), Some(digest.as_str()));
    assert_eq!(f.origin, "upload");
    assert_eq!(f.mime_type, "text/plain");
    assert_eq!(
        f.storage_key,
        format!(
            "knowledge-folders/{}/{}/lecture.txt",
            f.knowledge_folder_id, f.uuid
        )
    );
    assert_eq!(
        app.state
            .storage
            .size_of(&f.storage_key)
            .await
            .expect("head"),
        Some(50 * 1024 * 1024)
    );

    let messages = queue_message::Entity::find()
        .all(&app.state.db)
        .await
        .expect("messages");
    assert_eq!(messages.len(), 1, "exactly one queue message");
    let payload: serde_json::Value = serde_json::from_str(&messages[0].payload).expect("json");
    assert_eq!(payload["type"], "source_file.uploaded");
    assert_eq!(payload["source_file_id"], f.id);
    assert_eq!(payload["storage_key"], f.storage_key.as_str());

    // The in-process reference consumer confirms the object and marks the file ready.
    let mut status = campuscore::models::SourceFileStatus::Uploaded;
    for _ in 0..100 {
        status = source_file::Entity::find_by_id(f.id)
            .one(&app.state.db)
            .await
            .expect("row")
            .expect("exists")
            .status;
        if status == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "ready");
    let page = app.get_text(&path).await;
    assert!(
        page.contains("lecture.txt")
            && page.contains("50.0 MiB")
            && page.contains("Uploaded")
            && page.contains("status-ready")
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_leaves_nothing_behind() {
    let app = spawn_app_with(Options {
        max_upload_bytes: Some(1024 * 1024),
        ..Default::default()
    })
    .await;
    app.logged_in_user("ivy@campus.edu").await;
    let path = create_folder(&app, "Small only").await;
    let res = upload(&app, &path, "too-big.bin", vec![7u8; 1024 * 1024 + 10]).await;
    assert_eq!(res.status(), 413);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("larger than the 1.0 MiB limit")
    );
    assert_eq!(
        source_file::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        queue_message::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );
    let objects = app.dir.path().join("objects/knowledge-folders");
    let leftovers = crate::helpers::files_under(&objects);
    assert!(
        leftovers.is_empty(),
        "no stored object or partial file: {leftovers:?}"
    );

    let res = upload(&app, &path, "empty.txt", Vec::new()).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.expect("body").contains("is empty"));
}

#[tokio::test]
async fn an_htmx_upload_returns_the_file_table_fragment() {
    let app = spawn_app().await;
    app.logged_in_user("jon@campus.edu").await;
    let path = create_folder(&app, "Fragments").await;
    let token = app.csrf(&path).await;
    let part = reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("hello.md");
    let res = app
        .client
        .post(app.url(&format!("{path}files")))
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(
        body.starts_with("<section id=\"files\""),
        "a fragment, not a page"
    );
    assert!(body.contains("hello.md") && body.contains("text/markdown"));
}

/// Posts several files of `size` bytes in one request.
async fn upload_many(
    app: &crate::helpers::TestApp,
    folder_path: &str,
    files: &[(&str, usize)],
) -> reqwest::Response {
    let parts = files
        .iter()
        .map(|(name, size)| {
            reqwest::multipart::Part::bytes(vec![b'x'; *size]).file_name(name.to_string())
        })
        .collect();
    post_parts(app, folder_path, parts).await
}

#[tokio::test]
async fn one_request_cannot_carry_more_than_the_upload_limit_in_many_parts() {
    let app = spawn_app_with(Options {
        max_upload_bytes: Some(1024 * 1024),
        ..Default::default()
    })
    .await;
    app.logged_in_user("ivy@campus.edu").await;
    let path = create_folder(&app, "Parts").await;
    let kib = 1024;
    let res = upload_many(
        &app,
        &path,
        &[
            ("a.txt", 600 * kib),
            ("b.txt", 600 * kib),
            ("c.txt", 600 * kib),
        ],
    )
    .await;
    assert_eq!(res.status(), 413);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("larger than the 1.0 MiB one request may carry"),
        "{body}"
    );
    let names: Vec<String> = source_file::Entity::find()
        .all(&app.state.db)
        .await
        .expect("rows")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        names,
        ["a.txt"],
        "the file before the limit is kept whole; nothing after it"
    );
}

#[tokio::test]
async fn a_users_storage_quota_holds_for_uploads_and_the_folder_page_shows_it() {
    let app = spawn_app_with(Options {
        env: vec![("CAMPUSCORE_STORAGE_QUOTA_BYTES", (1024 * 1024).to_string())],
        ..Default::default()
    })
    .await;
    app.logged_in_user("ivy@campus.edu").await;
    let path = create_folder(&app, "Quota").await;
    let res = upload(&app, &path, "first.txt", vec![b'x'; 700 * 1024]).await;
    assert_eq!(res.status(), 303);
    let page = app.get_text(&path).await;
    assert!(
        page.contains("Storage used: 700.0 KiB of 1.0 MiB"),
        "{page}"
    );
    let res = upload(&app, &path, "second.txt", vec![b'x'; 700 * 1024]).await;
    assert_eq!(res.status(), 413);
    let body = res.text().await.expect("body");
    assert!(body.contains("Your knowledge folders are full"), "{body}");
    let res = upload(&app, &path, "small.txt", vec![b'x'; 100 * 1024]).await;
    assert_eq!(res.status(), 303, "what still fits is taken");
    // Another user has a quota of their own.
    let other = app.other_browser();
    other.logged_in_user("kai@campus.edu").await;
    let theirs = create_folder(&other, "Theirs").await;
    let res = upload(&other, &theirs, "mine.txt", vec![b'x'; 700 * 1024]).await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn uploads_have_a_per_user_rate_limit() {
    let app = spawn_app_with(Options {
        env: vec![("CAMPUSCORE_UPLOADS_PER_HOUR", "2".into())],
        ..Default::default()
    })
    .await;
    app.logged_in_user("ivy@campus.edu").await;
    let path = create_folder(&app, "Rate").await;
    for n in 0..2 {
        let res = upload(&app, &path, &format!("f{n}.txt"), b"hello".to_vec()).await;
        assert_eq!(res.status(), 303);
    }
    let res = upload(&app, &path, "f2.txt", b"hello".to_vec()).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
}
