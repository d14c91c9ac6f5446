//! The fake Canvas against Canvas's documented behaviour, over plain HTTP: paging, who sees
//! what, the 401 variants, throttling. Content, OAuth and files have their own files.

mod connector;
mod content;
mod files;
mod oauth;

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

/// A client that does not follow redirects (the tests look at the 302s).
fn client() -> reqwest::Client {
    crate::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET` a path on the instance (or an absolute URL) with `token` as bearer.
async fn get(canvas: &FakeCanvas, path_or_url: &str, token: Option<&str>) -> reqwest::Response {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_owned()
    } else {
        format!("{}{path_or_url}", canvas.base_url())
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

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `rel` → URL map of a `Link` header.
fn links(response: &reqwest::Response) -> Vec<(String, String)> {
    let Some(value) = header(response, "link") else {
        return Vec::new();
    };
    value
        .split(',')
        .filter_map(|part| {
            let (url, rel) = part.split_once(">; rel=\"")?;
            let url = url.trim().trim_start_matches('<');
            Some((rel.trim_end_matches('"').to_owned(), url.to_owned()))
        })
        .collect()
}

fn link(response: &reqwest::Response, rel: &str) -> Option<String> {
    links(response)
        .into_iter()
        .find(|(r, _)| r == rel)
        .map(|(_, url)| url)
}

/// A fake with one student (`ada`) and one teacher (`grace`), each in a course of their
/// own and both in a shared one.
struct Campus {
    canvas: FakeCanvas,
    ada: i64,
    grace: i64,
    ada_only: i64,
    grace_only: i64,
    shared_course: i64,
}

async fn campus() -> Campus {
    let canvas = FakeCanvas::start().await;
    let ada = canvas.add_user("ada@campus.example", "Ada Lovelace");
    let grace = canvas.add_user("grace@campus.example", "Grace Hopper");
    let term = canvas.add_term("Fall 2026");
    let ada_only = canvas.add_course("Analytical Engines", "AE-101", term);
    let grace_only = canvas.add_course("Compilers", "CS-300", term);
    let shared_course = canvas.add_course("Computing History", "HIS-200", term);
    canvas.enroll(
        ada,
        ada_only,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    canvas.enroll(
        grace,
        grace_only,
        EnrollmentType::Teacher,
        EnrollmentState::Active,
    );
    canvas.enroll(
        ada,
        shared_course,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    canvas.enroll(
        grace,
        shared_course,
        EnrollmentType::Teacher,
        EnrollmentState::Active,
    );
    Campus {
        canvas,
        ada,
        grace,
        ada_only,
        grace_only,
        shared_course,
    }
}

fn ids(page: &Value) -> Vec<i64> {
    page.as_array()
        .expect("an array")
        .iter()
        .map(|v| v["id"].as_i64().expect("an id"))
        .collect()
}

#[tokio::test]
async fn link_header_pages_through_more_than_a_hundred_courses() {
    let canvas = FakeCanvas::start().await;
    let user = canvas.add_user("many", "Many Courses");
    let term = canvas.add_term("Term");
    let mut expected = Vec::new();
    for n in 0..205 {
        let course = canvas.add_course(&format!("Course {n}"), &format!("C{n}"), term);
        canvas.enroll(
            user,
            course,
            EnrollmentType::Student,
            EnrollmentState::Active,
        );
        expected.push(course);
    }
    let (token, _) = canvas.issue_tokens(user);

    // Default page size is 10, and per_page above 100 gives 100.
    let first = get(&canvas, "/api/v1/courses", Some(&token)).await;
    assert_eq!(json_of(first).await.as_array().map(Vec::len), Some(10));
    let mut url = format!(
        "{}/api/v1/courses?include[]=term&per_page=500",
        canvas.base_url()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = get(&canvas, &url, Some(&token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert!(header(&response, "x-rate-limit-remaining").is_some());
        assert!(header(&response, "x-request-cost").is_some());
        let current = link(&response, "current").expect("rel=current");
        assert!(
            current.starts_with(canvas.base_url()),
            "absolute: {current}"
        );
        assert!(
            current.contains("include%5B%5D=term"),
            "keeps the query: {current}"
        );
        assert!(link(&response, "first").is_some());
        assert_eq!(link(&response, "prev").is_some(), pages > 0);
        let next = link(&response, "next");
        let page = json_of(response).await;
        assert!(page[0]["term"]["name"] == "Term");
        seen.extend(ids(&page));
        pages += 1;
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(pages, 3, "100 + 100 + 5");
    assert_eq!(seen, expected);

    // A small page size, and the last link.
    let response = get(&canvas, "/api/v1/courses?per_page=7&page=2", Some(&token)).await;
    let last = link(&response, "last").expect("rel=last");
    assert!(
        last.contains("page=30") && last.contains("per_page=7"),
        "{last}"
    );
    assert_eq!(ids(&json_of(response).await), expected[7..14].to_vec());
}

#[tokio::test]
async fn each_user_sees_only_the_courses_they_are_enrolled_in() {
    let c = campus().await;
    let (ada_token, _) = c.canvas.issue_tokens(c.ada);
    let (grace_token, _) = c.canvas.issue_tokens(c.grace);

    let ada_courses = json_of(get(&c.canvas, "/api/v1/courses", Some(&ada_token)).await).await;
    assert_eq!(ids(&ada_courses), vec![c.ada_only, c.shared_course]);
    assert_eq!(ada_courses[0]["enrollments"][0]["type"], "student");
    assert_eq!(
        ada_courses[0]["enrollments"][0]["role"],
        "StudentEnrollment"
    );
    assert_eq!(ada_courses[0]["enrollments"][0]["user_id"], c.ada);
    assert_eq!(ada_courses[0]["workflow_state"], "available");
    let grace_courses = json_of(get(&c.canvas, "/api/v1/courses", Some(&grace_token)).await).await;
    assert_eq!(ids(&grace_courses), vec![c.grace_only, c.shared_course]);
    assert_eq!(grace_courses[0]["enrollments"][0]["type"], "teacher");

    // Another user's course: a valid token, not allowed, no WWW-Authenticate.
    for path in [
        format!("/api/v1/courses/{}", c.grace_only),
        format!("/api/v1/courses/{}/files", c.grace_only),
        format!("/api/v1/courses/{}/modules", c.grace_only),
    ] {
        let response = get(&c.canvas, &path, Some(&ada_token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(header(&response, "www-authenticate"), None);
        let body = json_of(response).await;
        assert_eq!(body["status"], "unauthorized");
        assert_eq!(
            body["errors"][0]["message"],
            "user not authorized to perform that action"
        );
    }
    // A course that does not exist is a 404.
    let response = get(&c.canvas, "/api/v1/courses/999999", Some(&ada_token)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        json_of(response).await["errors"][0]["message"],
        "The specified resource does not exist."
    );
}

#[tokio::test]
async fn enrollment_state_selects_courses_like_canvas() {
    let c = campus().await;
    let term = c.canvas.add_term("Spring 2026");
    let old = c.canvas.add_course("Old", "OLD-1", term);
    let invited = c.canvas.add_course("Invited", "INV-1", term);
    c.canvas.enroll(
        c.ada,
        old,
        EnrollmentType::Student,
        EnrollmentState::Completed,
    );
    c.canvas.enroll(
        c.ada,
        invited,
        EnrollmentType::Student,
        EnrollmentState::Invited,
    );
    let (token, _) = c.canvas.issue_tokens(c.ada);
    let list = |query: &'static str| {
        let (canvas, token) = (&c.canvas, token.clone());
        async move {
            ids(&json_of(get(canvas, &format!("/api/v1/courses{query}"), Some(&token)).await).await)
        }
    };
    assert_eq!(list("").await, vec![c.ada_only, c.shared_course, invited]);
    assert_eq!(list("?enrollment_state=completed").await, vec![old]);
    assert_eq!(
        list("?enrollment_state=invited_or_pending").await,
        vec![invited]
    );
    assert_eq!(
        list("?enrollment_state=active").await,
        vec![c.ada_only, c.shared_course]
    );
    // Completed courses stay readable.
    let response = get(
        &c.canvas,
        &format!("/api/v1/courses/{old}?include[]=syllabus_body"),
        Some(&token),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["syllabus_body"], "");
}

#[tokio::test]
async fn bad_or_missing_tokens_get_401_with_www_authenticate() {
    let c = campus().await;
    let response = get(&c.canvas, "/api/v1/users/self", Some("7~not-a-token")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer realm=\"canvas-lms\"")
    );
    assert_eq!(
        json_of(response).await,
        serde_json::json!({"errors": [{"message": "Invalid access token."}]})
    );
    let response = get(&c.canvas, "/api/v1/users/self", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, "www-authenticate").is_some());
    assert_eq!(json_of(response).await["status"], "unauthenticated");

    let (token, _) = c.canvas.issue_tokens(c.ada);
    let me = json_of(get(&c.canvas, "/api/v1/users/self", Some(&token)).await).await;
    assert_eq!(
        (me["id"].as_i64(), me["name"].as_str()),
        (Some(c.ada), Some("Ada Lovelace"))
    );
    assert_eq!(me["sortable_name"], "Lovelace, Ada");
    let profile = json_of(get(&c.canvas, "/api/v1/users/self/profile", Some(&token)).await).await;
    assert_eq!(profile["primary_email"], "ada@campus.example");
    assert_eq!(profile["login_id"], "ada@campus.example");
}

#[tokio::test]
async fn throttling_answers_in_both_forms_before_the_token_is_checked() {
    let c = campus().await;
    let (token, _) = c.canvas.issue_tokens(c.ada);
    c.canvas.throttle_next(1, Throttle::Forbidden);
    c.canvas.throttle_next(1, Throttle::TooManyRequests);

    let response = get(&c.canvas, "/api/v1/courses", Some("7~whatever")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header(&response, "x-rate-limit-remaining").as_deref(),
        Some("0.0")
    );
    assert!(header(&response, "x-request-cost").is_some());
    assert_eq!(header(&response, "retry-after"), None);
    assert!(header(&response, "content-type").is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(
        response.text().await.expect("text"),
        "403 Forbidden (Rate Limit Exceeded)\n"
    );

    let response = get(&c.canvas, "/api/v1/courses", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&response, "x-rate-limit-remaining").as_deref(),
        Some("0.0")
    );
    assert_eq!(header(&response, "retry-after"), None);
    assert!(
        response
            .text()
            .await
            .expect("text")
            .contains("(Rate Limit Exceeded)")
    );

    let response = get(&c.canvas, "/api/v1/courses", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(c.canvas.pending_faults(Endpoint::Api), 0);
}
