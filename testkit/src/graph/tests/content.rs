//! Tokens, faults and downloads of the fake Graph, and the real connector on it.

use super::*;

#[tokio::test]
async fn tokens_expire_and_faults_come_with_graph_bodies() {
    let graph = FakeGraph::start().await;
    let file = graph.add_file(ROOT, "a.pdf", PDF, Content::synthetic(600_000, 1));
    let missing = get(&graph, "/me/drive/root", None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        json_of(missing).await["error"]["message"],
        "Access token is empty."
    );
    assert_eq!(
        get(&graph, "/me/drive/root", Some("one")).await.status(),
        200
    );
    graph.expire_all_tokens();
    let expired = get(&graph, "/me/drive/root", Some("one")).await;
    assert_eq!(expired.status(), 401);
    assert!(
        expired
            .headers()
            .contains_key(header::WWW_AUTHENTICATE.as_str())
    );
    assert_eq!(
        json_of(expired).await["error"]["code"],
        "InvalidAuthenticationToken"
    );
    assert_eq!(
        get(&graph, "/me/drive/root", Some("two")).await.status(),
        200
    );
    assert_eq!(graph.tokens_seen(), ["one", "two"]);

    graph.fail_next(
        Endpoint::List,
        Fault::Status {
            status: 429,
            retry_after: Some(3),
            reason: None,
        },
    );
    graph.fail_next(Endpoint::List, Fault::ServerError(503));
    graph.fail_next(Endpoint::List, Fault::InsufficientPermissions);
    let throttled = get(&graph, "/me/drive/root/children", Some("two")).await;
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()[header::RETRY_AFTER.as_str()], "3");
    assert_eq!(
        json_of(throttled).await["error"]["code"],
        "activityLimitReached"
    );
    let unavailable = get(&graph, "/me/drive/root/children", Some("two")).await;
    assert_eq!(
        json_of(unavailable).await["error"]["code"],
        "serviceNotAvailable"
    );
    let denied = get(&graph, "/me/drive/root/children", Some("two")).await;
    assert_eq!(json_of(denied).await["error"]["code"], "accessDenied");
    assert_eq!(
        get(&graph, "/me/drive/root/children", Some("two"))
            .await
            .status(),
        200
    );

    // A body fault queued for `/content` hits the download its link leads to.
    graph.fail_next(Endpoint::Content, Fault::Truncate { after: 70_000 });
    let location = get(
        &graph,
        &format!("/me/drive/items/{file}/content"),
        Some("two"),
    )
    .await
    .headers()[header::LOCATION.as_str()]
    .to_str()
    .expect("ascii")
    .to_owned();
    let response = client().get(&location).send().await.expect("answer");
    assert_eq!(response.content_length(), Some(600_000));
    let mut stream = response.bytes_stream();
    let (mut received, mut broke) = (0, false);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(_) => broke = true,
        }
    }
    assert!(broke);
    assert_eq!(received, 70_000);

    graph.fail_next(Endpoint::Download, Fault::CorruptContent);
    let corrupt = client()
        .get(&location)
        .send()
        .await
        .expect("answer")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(corrupt.len(), 600_000);
    assert_ne!(corrupt, graph.content_of(&file).to_bytes());
    graph.fail_next(Endpoint::Download, Fault::Stall { after: 10 });
    let mut stalled = client()
        .get(&location)
        .send()
        .await
        .expect("answer")
        .bytes_stream();
    assert_eq!(
        stalled.next().await.expect("a chunk").expect("bytes").len(),
        10
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stalled.next())
            .await
            .is_err()
    );
    graph.fail_next(
        Endpoint::Download,
        Fault::Status {
            status: 503,
            retry_after: Some(1),
            reason: None,
        },
    );
    assert_eq!(
        client()
            .get(&location)
            .send()
            .await
            .expect("answer")
            .status(),
        503
    );
}

#[tokio::test]
async fn a_synthetic_64_mib_download_matches_the_listed_hashes() {
    let graph = FakeGraph::start().await;
    let size = 64 * 1024 * 1024;
    let file = graph.add_file(
        ROOT,
        "dataset.bin",
        "application/octet-stream",
        Content::synthetic(size, 2026),
    );
    let listed = json_of(
        get(
            &graph,
            &format!("/me/drive/root/children?$select={SELECT}"),
            Some("t"),
        )
        .await,
    )
    .await;
    let entry = &listed["value"][0];
    assert_eq!(entry["id"], file);
    assert_eq!(entry["size"], size);
    let sha256 = entry["file"]["hashes"]["sha256Hash"]
        .as_str()
        .expect("sha256")
        .to_owned();
    let quick_xor = entry["file"]["hashes"]["quickXorHash"]
        .as_str()
        .expect("quickXor")
        .to_owned();

    let location = get(
        &graph,
        &format!("/me/drive/items/{file}/content"),
        Some("t"),
    )
    .await
    .headers()[header::LOCATION.as_str()]
    .to_str()
    .expect("ascii")
    .to_owned();
    let response = client().get(&location).send().await.expect("answer");
    assert_eq!(response.content_length(), Some(size));
    let mut stream = response.bytes_stream();
    let (mut sha, mut xor, mut received) = (Sha256::new(), QuickXor::new(), 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        received += chunk.len() as u64;
        sha.update(&chunk);
        xor.update(&chunk);
    }
    assert_eq!(received, size);
    assert_eq!(hex::encode_upper(sha.finalize()), sha256);
    assert_eq!(STANDARD.encode(xor.finish()), quick_xor);
}

#[tokio::test]
async fn the_onedrive_connector_lists_searches_and_downloads_from_the_fake() {
    let graph = FakeGraph::start().await;
    for n in 1..=130 {
        graph.add_file(
            ROOT,
            &format!("Week {n}.pdf"),
            PDF,
            format!("week {n}").into_bytes(),
        );
    }
    let lecture = graph.add_file(
        ROOT,
        "Lecture.mp4",
        "video/mp4",
        Content::synthetic(3 << 20, 5),
    );
    let bob = graph.add_drive("Bob Builder", "bob@campus.example");
    let project = graph.add_folder(&graph.drive_root(&bob), "Group project");
    let draft = graph.add_file(&project, "Draft.pdf", PDF, "draft");
    graph.share_with_me(&project);

    let (connector, ctx, refresher) = connect("onedrive", graph.base_url());
    let run = |action: &'static str, params: Value| {
        let (connector, ctx) = (connector.clone(), &ctx);
        async move { connector.execute_action(action, ctx, params).await }
    };
    let json_of = |output: Result<campuscore_connectors::ActionOutput, ConnectorError>| {
        output
            .expect("the action succeeds")
            .into_json()
            .expect("json")
    };

    graph.fail_next(
        Endpoint::List,
        Fault::Status {
            status: 429,
            retry_after: Some(0),
            reason: None,
        },
    );
    let first = json_of(run("list_files", json!({"page_size": 100})).await);
    assert_eq!(first["files"].as_array().expect("files").len(), 100);
    let token = first["next_page_token"].as_str().expect("a second page");
    let second = json_of(run("list_files", json!({"page_token": token})).await);
    assert_eq!(second["files"].as_array().expect("files").len(), 31);
    assert_eq!(second["next_page_token"], Value::Null);
    let lecture_entry = second["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["name"] == "Lecture.mp4")
        .expect("listed")
        .clone();
    assert_eq!(lecture_entry["id"], graph.entry_id(&lecture));
    assert_eq!(
        lecture_entry["checksum"],
        format!("sha256:{}", graph.sha256_of(&lecture).to_lowercase())
    );

    let shared = json_of(run("list_files", json!({"folder_id": "shared-with-me"})).await);
    assert_eq!(shared["files"][0]["id"], graph.entry_id(&project));
    assert_eq!(shared["files"][0]["kind"], "folder");
    let inside = json_of(run("list_files", json!({"folder_id": graph.entry_id(&project)})).await);
    assert_eq!(inside["files"][0]["id"], graph.entry_id(&draft));

    let found = json_of(run("search_files", json!({"query": "lecture"})).await);
    assert_eq!(found["files"][0]["name"], "Lecture.mp4");

    // The token expires mid-session: refresh once, go on with the new one.
    graph.expire_all_tokens();
    let download = run(
        "download_file",
        json!({"file_id": graph.entry_id(&lecture)}),
    )
    .await
    .expect("a download")
    .into_download()
    .expect("a download");
    assert_eq!(download.size, Some(3 << 20));
    let expected = format!("sha256:{}", graph.sha256_of(&lecture).to_lowercase());
    assert_eq!(
        download
            .checksum
            .as_ref()
            .map(campuscore_connectors::Checksum::as_str),
        Some(expected.as_str())
    );
    let mut sha = Sha256::new();
    let mut stream = download.stream;
    while let Some(chunk) = stream.next().await {
        sha.update(chunk.expect("chunk"));
    }
    assert_eq!(format!("sha256:{}", hex::encode(sha.finalize())), expected);
    assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
    assert_eq!(graph.tokens_seen(), ["token-1", "token-2"]);
    assert!(
        graph
            .requests()
            .iter()
            .filter(|r| r.endpoint == Some(Endpoint::Download))
            .all(|r| !r.authorization),
        "the connector never sends its token to the download host"
    );

    // A revision changes with the content.
    let before = json_of(run("get_file", json!({"file_id": graph.entry_id(&lecture)})).await);
    graph.rename(&lecture, "Lecture 1.mp4");
    let renamed = json_of(run("get_file", json!({"file_id": graph.entry_id(&lecture)})).await);
    graph.update_content(&lecture, Content::synthetic(1 << 20, 6));
    let updated = json_of(run("get_file", json!({"file_id": graph.entry_id(&lecture)})).await);
    assert!(before["revision"].is_string());
    assert_eq!(
        before["revision"], renamed["revision"],
        "a rename keeps the content tag"
    );
    assert_ne!(before["revision"], updated["revision"]);

    // A download cut short surfaces as an error from the stream.
    graph.fail_next(Endpoint::Download, Fault::Truncate { after: 100_000 });
    let broken = run(
        "download_file",
        json!({"file_id": graph.entry_id(&lecture)}),
    )
    .await
    .expect("a download")
    .into_download()
    .expect("a download");
    let chunks: Vec<_> = broken.stream.collect().await;
    assert!(chunks.iter().any(Result::is_err), "the cut is reported");

    let identity = connector.fetch_identity(&ctx).await.expect("identity");
    assert_eq!(identity.as_deref(), Some("alice@campus.example"));
    let refused: Vec<_> = graph
        .requests()
        .into_iter()
        .filter(|r| r.status == 400)
        .collect();
    assert!(
        refused.is_empty(),
        "the fake accepts what the connector sends: {refused:#?}"
    );
}
