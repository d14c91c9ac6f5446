//! Folders, files and the two-host download.

use reqwest::StatusCode;

use super::*;

#[tokio::test]
async fn folders_and_files_list_like_canvas() {
    let c = campus().await;
    let (token, _) = c.canvas.issue_tokens(c.ada);
    let root = c.canvas.root_folder(c.ada_only);
    let week = c.canvas.add_folder(root, "Week 1");
    let slides = c.canvas.add_file(
        week,
        "Slides 1.pdf",
        "application/pdf",
        Content::synthetic(5000, 1),
    );
    c.canvas.add_file(root, "a.txt", "text/plain", "tiny");

    let root_json = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{}/folders/root", c.ada_only),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(root_json["id"], root);
    assert_eq!(root_json["full_name"], "course files");
    assert_eq!(root_json["folders_count"], 1);
    let sub = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/folders/{root}/folders"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(sub[0]["full_name"], "course files/Week 1");
    assert_eq!(sub[0]["parent_folder_id"], root);
    let all = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{}/folders", c.ada_only),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(ids(&all), vec![root, week]);
    let in_week = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/folders/{week}/files"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(ids(&in_week), vec![slides]);

    let by_size = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{}/files?sort=size&order=desc", c.ada_only),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(by_size[0]["id"], slides);
    let file = &by_size[0];
    assert_eq!(file["display_name"], "Slides 1.pdf");
    assert_eq!(file["filename"], "Slides+1.pdf");
    assert_eq!(file["content-type"], "application/pdf");
    assert_eq!(file["size"], 5000);
    assert_eq!(file["mime_class"], "pdf");
    assert_eq!(file["folder_id"], week);
    assert!(file["thumbnail_url"].is_null());
    let uuid = file["uuid"].as_str().expect("uuid");
    assert_eq!(
        file["url"],
        format!(
            "{}/files/{slides}/download?download_frd=1&verifier={uuid}",
            c.canvas.base_url()
        )
    );
    for path in [
        format!("/api/v1/files/{slides}"),
        format!("/api/v1/courses/{}/files/{slides}", c.ada_only),
    ] {
        let response = get(&c.canvas, &path, Some(&token)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let wrong_course = format!("/api/v1/courses/{}/files/{slides}", c.shared_course);
    assert_eq!(
        get(&c.canvas, &wrong_course, Some(&token)).await.status(),
        StatusCode::NOT_FOUND
    );
    let (grace_token, _) = c.canvas.issue_tokens(c.grace);
    let response = get(
        &c.canvas,
        &format!("/api/v1/files/{slides}"),
        Some(&grace_token),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&response, "www-authenticate"), None);
}

#[tokio::test]
async fn download_redirects_to_a_file_store_that_refuses_authorization() {
    let c = campus().await;
    let (token, _) = c.canvas.issue_tokens(c.ada);
    let root = c.canvas.root_folder(c.ada_only);
    let content = Content::synthetic(300_000, 9);
    let file = c
        .canvas
        .add_file(root, "Big Notes.pdf", "application/pdf", content.clone());
    let url = c.canvas.download_url(file);

    let response = get(&c.canvas, &url, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = header(&response, "location").expect("a Location");
    assert!(
        location.starts_with(c.canvas.file_store_url()),
        "{location}"
    );
    assert!(location.contains("X-Amz-Signature="));

    // Sending the Canvas token along to the file store is refused, S3-style.
    let response = get(&c.canvas, &location, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.expect("xml");
    assert!(
        text.contains("<Code>InvalidArgument</Code>")
            && text.contains("Only one auth mechanism allowed"),
        "{text}"
    );

    let response = get(&c.canvas, &location, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/pdf")
    );
    assert_eq!(
        header(&response, "content-length").as_deref(),
        Some("300000")
    );
    assert_eq!(response.bytes().await.expect("bytes"), content.to_bytes());
    let ranged = client()
        .get(&location)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .expect("answers");
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.expect("bytes"), content.read(10, 10));

    // The verifier alone lets a download in; nothing at all does not; nor another user.
    let response = get(&c.canvas, &url, None).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let bare = format!("{}/files/{file}/download", c.canvas.base_url());
    assert_eq!(
        get(&c.canvas, &bare, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (grace_token, _) = c.canvas.issue_tokens(c.grace);
    let response = get(&c.canvas, &bare, Some(&grace_token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&response, "www-authenticate"), None);

    // Signed URLs expire.
    c.canvas
        .advance_clock(std::time::Duration::from_secs(86_401));
    assert_eq!(
        get(&c.canvas, &location, None).await.status(),
        StatusCode::FORBIDDEN
    );

    let hosts: Vec<(Host, bool, u16)> = c
        .canvas
        .requests()
        .iter()
        .filter_map(|r| r.endpoint.map(|e| (e.host(), r.authorization, r.status)))
        .filter(|(host, ..)| *host == Host::FileStore)
        .collect();
    assert_eq!(hosts[0], (Host::FileStore, true, 400));
    assert_eq!(hosts[1], (Host::FileStore, false, 200));
}
