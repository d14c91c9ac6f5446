//! Tokens, faults, downloads and pacing of the fake Drive, and the real connector on it.

use super::*;

#[tokio::test]
async fn expired_tokens_get_401_and_new_ones_work() {
    let drive = FakeDrive::start().await;
    assert_eq!(
        get(&drive, "about", &[("fields", "user")], Some("first"))
            .await
            .status(),
        200
    );
    drive.expire_all_tokens();
    let expired = get(&drive, "about", &[("fields", "user")], Some("first")).await;
    assert_eq!(expired.status(), 401);
    assert!(
        expired.headers()[header::WWW_AUTHENTICATE.as_str()]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
    let body = json_of(expired).await;
    assert_eq!(reason(&body), "authError");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    let fresh = get(
        &drive,
        "about",
        &[("fields", "user(emailAddress)")],
        Some("second"),
    )
    .await;
    assert_eq!(
        json_of(fresh).await,
        json!({"user": {"emailAddress": "alice@campus.example"}})
    );
    let missing = get(&drive, "about", &[("fields", "user")], None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(reason(&json_of(missing).await), "required");
    assert_eq!(drive.tokens_seen(), ["first", "second"]);
    let requests = drive.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests[0].authorization && !requests[3].authorization);
    assert_eq!(requests[1].status, 401);
    assert_eq!(
        requests[2].param("fields").as_deref(),
        Some("user(emailAddress)")
    );
    let no_fields = get(&drive, "about", &[], Some("second")).await;
    assert_eq!(no_fields.status(), 400, "about.get requires fields");
}

#[tokio::test]
async fn injected_faults_are_served_in_order_with_drive_bodies() {
    let drive = FakeDrive::start().await;
    let file = drive.add_file(ROOT, "a.pdf", PDF, "abc");
    drive.fail_next(
        Endpoint::Metadata,
        Fault::Status {
            status: 429,
            retry_after: Some(7),
            reason: None,
        },
    );
    drive.fail_next(
        Endpoint::Metadata,
        Fault::RateLimit403 {
            reason: "userRateLimitExceeded",
        },
    );
    drive.fail_next(Endpoint::Metadata, Fault::InsufficientPermissions);
    drive.fail_next(Endpoint::Metadata, Fault::ServerError(503));
    assert_eq!(drive.pending_faults(Endpoint::Metadata), 4);
    let path = format!("files/{file}");

    let throttled = get(&drive, &path, &[], Some("t")).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()[header::RETRY_AFTER.as_str()], "7");
    let body = json_of(throttled).await;
    assert_eq!(reason(&body), "rateLimitExceeded");
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");

    let body = json_of(get(&drive, &path, &[], Some("t")).await).await;
    assert_eq!(
        body,
        json!({"error": {"code": 403, "message": "User Rate Limit Exceeded",
            "errors": [{"message": "User Rate Limit Exceeded", "domain": "usageLimits",
                        "reason": "userRateLimitExceeded"}],
            "status": "PERMISSION_DENIED"}})
    );
    let body = json_of(get(&drive, &path, &[], Some("t")).await).await;
    assert_eq!(reason(&body), "insufficientPermissions");
    let unavailable = get(&drive, &path, &[], Some("t")).await;
    assert_eq!(unavailable.status(), 503);
    assert_eq!(reason(&json_of(unavailable).await), "backendError");
    assert_eq!(get(&drive, &path, &[], Some("t")).await.status(), 200);
    assert_eq!(drive.metadata_requests(), 5);
    assert_eq!(drive.content_requests(), 0);

    // A content fault waits for a content request.
    drive.fail_next(Endpoint::Content, Fault::ServerError(500));
    assert_eq!(get(&drive, &path, &[], Some("t")).await.status(), 200);
    let media = get(&drive, &path, &[("alt", "media")], Some("t")).await;
    assert_eq!(media.status(), 500);
}

#[tokio::test]
async fn truncated_corrupted_and_stalled_downloads() {
    use futures_util::StreamExt;

    let drive = FakeDrive::start().await;
    let content = Content::synthetic(3 * CHUNK_SIZE as u64 + 5, 9);
    let file = drive.add_file(ROOT, "big.bin", "application/octet-stream", content.clone());
    let path = format!("files/{file}");
    let media = [("alt", "media")];

    drive.fail_next(Endpoint::Content, Fault::Truncate { after: 300_000 });
    let response = get(&drive, &path, &media, Some("t")).await;
    assert_eq!(response.content_length(), Some(content.len()));
    let mut stream = response.bytes_stream();
    let mut received = 0;
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "the body breaks off");
    assert_eq!(received, 300_000);

    drive.fail_next(Endpoint::Content, Fault::CorruptContent);
    let corrupt = get(&drive, &path, &media, Some("t"))
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(corrupt.len() as u64, content.len());
    let mut md5 = Md5::new();
    md5.update(&corrupt);
    assert_ne!(hex::encode(md5.finish()), drive.md5_of(&file));

    drive.fail_next(Endpoint::Content, Fault::Stall { after: 1000 });
    let response = get(&drive, &path, &media, Some("t")).await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.expect("a chunk").expect("bytes");
    assert_eq!(first.len(), 1000);
    let next = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(next.is_err(), "nothing more arrives");

    let whole = get(&drive, &path, &media, Some("t"))
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(whole, content.to_bytes());

    let partial = crate::http_client()
        .get(format!("{}/drive/v3/{path}?alt=media", drive.base_url()))
        .bearer_auth("t")
        .header(header::RANGE.as_str(), "bytes=100-199")
        .send()
        .await
        .expect("range");
    assert_eq!(partial.status(), 206);
    assert_eq!(
        partial.headers()[header::CONTENT_RANGE.as_str()],
        format!("bytes 100-199/{}", content.len()).as_str()
    );
    assert_eq!(partial.bytes().await.expect("body"), content.read(100, 100));
}

#[tokio::test]
async fn a_synthetic_64_mib_download_matches_the_listed_md5() {
    use futures_util::StreamExt;

    let drive = FakeDrive::start().await;
    let size = 64 * 1024 * 1024;
    let file = drive.add_file(
        ROOT,
        "dataset.bin",
        "application/octet-stream",
        Content::synthetic(size, 2026),
    );
    let q = "'root' in parents and trashed = false";
    let listed = json_of(
        get(
            &drive,
            "files",
            &[("q", q), ("fields", LIST_FIELDS)],
            Some("t"),
        )
        .await,
    )
    .await;
    let entry = &listed["files"][0];
    assert_eq!(entry["id"], file.as_str());
    assert_eq!(entry["size"], size.to_string());
    let listed_md5 = entry["md5Checksum"].as_str().expect("md5").to_owned();

    let response = get(
        &drive,
        &format!("files/{file}"),
        &[("alt", "media")],
        Some("t"),
    )
    .await;
    assert_eq!(response.content_length(), Some(size));
    let mut stream = response.bytes_stream();
    let mut md5 = Md5::new();
    let mut received = 0u64;
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        received += chunk.len() as u64;
        chunks += 1;
        md5.update(&chunk);
    }
    assert_eq!(received, size);
    assert!(chunks > 1);
    assert_eq!(hex::encode(md5.finish()), listed_md5);
}

#[tokio::test]
async fn throttled_content_arrives_at_the_configured_rate() {
    let drive = FakeDrive::start().await;
    let file = drive.add_file(
        ROOT,
        "slow.bin",
        "application/octet-stream",
        Content::synthetic(40_000, 1),
    );
    drive.set_content_rate(Some(100_000));
    let started = std::time::Instant::now();
    let body = get(
        &drive,
        &format!("files/{file}"),
        &[("alt", "media")],
        Some("t"),
    )
    .await
    .bytes()
    .await
    .expect("body");
    assert_eq!(body.len(), 40_000);
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_google_drive_connector_lists_searches_and_downloads_from_the_fake() {
    use std::sync::atomic::Ordering;

    use futures_util::StreamExt;

    use crate::upstream::connector_runs::connect;

    let drive = FakeDrive::start().await;
    let course = drive.add_folder(ROOT, "Course");
    for n in 1..=130 {
        drive.add_file(
            &course,
            &format!("Week {n}.pdf"),
            PDF,
            format!("week {n}").into_bytes(),
        );
    }
    let lecture = drive.add_file(
        &course,
        "Lecture.mp4",
        "video/mp4",
        Content::synthetic(3 << 20, 5),
    );
    let essay = drive.add_native(&course, "Essay", DOCUMENT_MIME);
    drive.add_shortcut(ROOT, "Lecture shortcut", &lecture);

    let (connector, ctx, refresher) = connect("google-drive", drive.base_url());
    let run = |action: &'static str, params: Value| {
        let (connector, ctx) = (connector.clone(), &ctx);
        async move {
            connector
                .execute_action(action, ctx, params)
                .await
                .unwrap_or_else(|e| panic!("{action}: {e:?}"))
        }
    };

    let first = run("list_files", json!({"folder_id": course}))
        .await
        .into_json()
        .expect("json");
    assert_eq!(first["files"].as_array().expect("files").len(), 100);
    assert_eq!(first["breadcrumbs"][0]["id"], "root");
    assert_eq!(first["breadcrumbs"][1]["name"], "Course");
    let token = first["next_page_token"].as_str().expect("a second page");
    let second = run(
        "list_files",
        json!({"folder_id": course, "page_token": token}),
    )
    .await
    .into_json()
    .expect("json");
    assert_eq!(second["files"].as_array().expect("files").len(), 32);
    assert_eq!(second["next_page_token"], Value::Null);

    let found = run("search_files", json!({"query": "lecture"}))
        .await
        .into_json()
        .expect("json");
    let names: Vec<&str> = found["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Lecture.mp4", "Lecture shortcut"]);

    // Mid-session the token expires and Drive throttles once: refresh, back off, succeed.
    drive.expire_all_tokens();
    drive.fail_next(
        Endpoint::Content,
        Fault::RateLimit403 {
            reason: "userRateLimitExceeded",
        },
    );
    let download = run("download_file", json!({"file_id": lecture}))
        .await
        .into_download()
        .expect("a download");
    // Drive reports both digests; the connector passes on SHA-256 (the one the app
    // computes for every stored file anyway).
    let expected = format!("sha256:{}", drive.content_of(&lecture).sha256_hex());
    assert_eq!(
        download
            .checksum
            .as_ref()
            .map(campuscore_connectors::Checksum::as_str),
        Some(expected.as_str())
    );
    assert_eq!(download.size, Some(3 << 20));
    let mut sha256 = sha2::Sha256::default();
    let mut stream = download.stream;
    while let Some(chunk) = stream.next().await {
        sha2::Digest::update(&mut sha256, chunk.expect("chunk"));
    }
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Digest::finalize(sha256))),
        expected
    );
    assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    assert_eq!(drive.tokens_seen(), ["token-1", "token-2"]);

    let export = run("download_file", json!({"file_id": essay}))
        .await
        .into_download()
        .expect("an export");
    assert_eq!(export.name, "Essay.docx");
    assert_eq!(export.mime_type, DOCX);
    let exported: Vec<_> = export.stream.collect().await;
    let exported: usize = exported.into_iter().map(|c| c.expect("chunk").len()).sum();
    assert_eq!(exported as u64, DEFAULT_EXPORT_SIZE);

    // The revision follows the content, not the name.
    let get_file = |id: String| {
        let run = &run;
        async move {
            run("get_file", json!({"file_id": id}))
                .await
                .into_json()
                .expect("json")
        }
    };
    let before = get_file(lecture.clone()).await;
    drive.rename(&lecture, "Lecture 1.mp4");
    let renamed = get_file(lecture.clone()).await;
    drive.update_content(&lecture, Content::synthetic(1 << 20, 6));
    let updated = get_file(lecture.clone()).await;
    assert!(before["revision"].is_string(), "{before}");
    assert_eq!(before["revision"], renamed["revision"]);
    assert_ne!(before["revision"], updated["revision"]);
    assert_ne!(before["checksum"], updated["checksum"]);

    let identity = connector.fetch_identity(&ctx).await.expect("identity");
    assert_eq!(identity.as_deref(), Some("alice@campus.example"));
    assert!(
        drive.requests().iter().all(|r| r.status != 400),
        "{:#?}",
        drive
            .requests()
            .iter()
            .filter(|r| r.status == 400)
            .collect::<Vec<_>>()
    );
}
