//! Content as Canvas serves it: `search_term`, announcements and their window, pages,
//! modules, assignments with submissions.

use chrono::Duration as Span;
use reqwest::StatusCode;

use super::*;

#[tokio::test]
async fn a_search_term_under_two_characters_is_a_400() {
    let c = campus().await;
    let (token, _) = c.canvas.issue_tokens(c.ada);
    let root = c.canvas.root_folder(c.ada_only);
    c.canvas
        .add_file(root, "Lecture 1.pdf", "application/pdf", "one");
    c.canvas.add_file(root, "Reading.txt", "text/plain", "two");
    let path = format!("/api/v1/courses/{}/files?search_term=l", c.ada_only);
    let response = get(&c.canvas, &path, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_of(response).await;
    assert_eq!(
        body["errors"][0]["message"],
        "2 or more characters is required"
    );
    assert_eq!(body["errors"][0]["field"], "search_term");

    let path = format!("/api/v1/courses/{}/files?search_term=LECT", c.ada_only);
    let found = json_of(get(&c.canvas, &path, Some(&token)).await).await;
    assert_eq!(found[0]["display_name"], "Lecture 1.pdf");
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    let path = format!("/api/v1/courses/{}/pages?search_term=x", c.ada_only);
    let response = get(&c.canvas, &path, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn announcements_default_to_canvas_window_newest_first() {
    let c = campus().await;
    let now = c.canvas.now();
    let (token, _) = c.canvas.issue_tokens(c.ada);
    let old = c
        .canvas
        .add_announcement(c.ada_only, "Old", "<p>old</p>", now - Span::days(20));
    let recent = c
        .canvas
        .add_announcement(c.ada_only, "Recent", "<p>r</p>", now - Span::days(2));
    let newest =
        c.canvas
            .add_announcement(c.shared_course, "Newest", "<p>n</p>", now - Span::hours(1));
    let _theirs = c
        .canvas
        .add_announcement(c.grace_only, "Theirs", "<p>t</p>", now);

    let response = get(&c.canvas, "/api/v1/announcements", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(response).await["message"], "Missing context_codes");

    let path = format!(
        "/api/v1/announcements?context_codes[]=course_{}&context_codes[]=course_{}",
        c.ada_only, c.shared_course
    );
    let found = json_of(get(&c.canvas, &path, Some(&token)).await).await;
    assert_eq!(
        ids(&found),
        vec![newest, recent],
        "14 days back by default, newest first"
    );
    assert_eq!(
        found[0]["context_code"],
        format!("course_{}", c.shared_course)
    );
    assert_eq!(found[0]["author"]["display_name"], "Grace Hopper");
    let start = (now - Span::days(30)).format("%Y-%m-%d");
    let found = json_of(
        get(
            &c.canvas,
            &format!("{path}&start_date={start}"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(
        ids(&found),
        vec![old],
        "end_date defaults to 28 days after start_date"
    );
    let end = now.format("%Y-%m-%d");
    let path = format!("{path}&start_date={start}&end_date={end}");
    let found = json_of(get(&c.canvas, &path, Some(&token)).await).await;
    assert_eq!(ids(&found), vec![newest, recent, old]);
    let bad = format!(
        "/api/v1/announcements?context_codes[]=course_{}&start_date=soon",
        c.ada_only
    );
    let response = get(&c.canvas, &bad, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let path = format!(
        "/api/v1/announcements?context_codes[]=course_{}",
        c.grace_only
    );
    let response = get(&c.canvas, &path, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pages_modules_and_assignments_read_like_canvas() {
    let c = campus().await;
    let (token, _) = c.canvas.issue_tokens(c.ada);
    let course = c.ada_only;
    let (syllabus, slug) = c.canvas.add_page(course, "Week 1: Intro", "<h1>Hello</h1>");
    assert_eq!(slug, "week-1-intro");
    let (_, second) = c.canvas.add_page(course, "Week 1: Intro", "<p>again</p>");
    assert_eq!(second, "week-1-intro-2");

    let pages = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{course}/pages?sort=title&order=desc"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(pages[1]["url"], "week-1-intro");
    assert!(pages[0].get("body").is_none(), "lists carry no body");
    for key in [slug.clone(), format!("page_id:{syllabus}")] {
        let page = json_of(
            get(
                &c.canvas,
                &format!("/api/v1/courses/{course}/pages/{key}"),
                Some(&token),
            )
            .await,
        )
        .await;
        assert_eq!(page["body"], "<h1>Hello</h1>", "{key}");
    }

    let module = c.canvas.add_module(course, "Week 1");
    c.canvas
        .add_module_item(module, "Intro", ModuleItemContent::Page(slug.clone()));
    let homework = c.canvas.add_assignment(
        course,
        "Homework 1",
        "<p>Do it</p>",
        Some(c.canvas.now() - Span::days(1)),
        10.0,
    );
    c.canvas
        .add_module_item(module, "Homework", ModuleItemContent::Assignment(homework));
    c.canvas.add_module_item(
        module,
        "Docs",
        ModuleItemContent::ExternalUrl("https://example.org".into()),
    );
    let modules = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{course}/modules?include[]=items"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(modules[0]["items_count"], 3);
    assert_eq!(modules[0]["state"], "unlocked");
    assert_eq!(modules[0]["items"][0]["type"], "Page");
    assert_eq!(modules[0]["items"][0]["page_url"], slug);
    assert_eq!(modules[0]["items"][1]["content_id"], homework);
    assert_eq!(
        modules[0]["items"][2]["external_url"],
        "https://example.org"
    );
    let items = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{course}/modules/{module}/items"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(items.as_array().map(Vec::len), Some(3));

    let path = format!("/api/v1/courses/{course}/assignments?include[]=submission");
    let listed = json_of(get(&c.canvas, &path, Some(&token)).await).await;
    assert_eq!(listed[0]["submission"]["workflow_state"], "unsubmitted");
    assert_eq!(listed[0]["submission"]["missing"], true);
    c.canvas
        .set_submission(homework, c.ada, SubmissionState::Graded, Some(8.5));
    let one = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{course}/assignments/{homework}?include[]=submission"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(one["points_possible"], 10.0);
    assert_eq!(one["submission"]["score"], 8.5);
    assert_eq!(one["submission"]["grade"], "8.5");
    assert_eq!(one["submission"]["late"], true);
    let bucket = json_of(
        get(
            &c.canvas,
            &format!("/api/v1/courses/{course}/assignments?bucket=future"),
            Some(&token),
        )
        .await,
    )
    .await;
    assert_eq!(bucket.as_array().map(Vec::len), Some(0));
}
