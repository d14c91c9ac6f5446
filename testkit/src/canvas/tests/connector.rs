//! Every action of the real `canvas` connector against the fake, as the app runs it: what
//! each returns for a student, and that paging, sanitizing and downloads hold together.

use std::sync::Arc;

use campuscore_connectors::{ActionContext, Connector};
use chrono::Duration as Days;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::super::*;
use crate::upstream::Content;
use campuscore_connectors::sdk::testing;

use crate::upstream::connector_runs::signed_in;

/// Ada, a student in Biology (with content) and in a finished course; Ben in Chemistry.
struct School {
    canvas: FakeCanvas,
    ada: i64,
    biology: i64,
    archive: i64,
    chemistry: i64,
}

async fn school() -> School {
    let canvas = FakeCanvas::start().await;
    let term = canvas.add_term("Fall 2026");
    let ada = canvas.add_user("alovelace", "Ada Lovelace");
    let ben = canvas.add_user("bfranklin", "Ben Franklin");
    let biology = canvas.add_course("Biology 101", "BIO-101", term);
    let archive = canvas.add_course("Physics 100", "PHYS-100", term);
    let chemistry = canvas.add_course("Chemistry 201", "CHEM-201", term);
    canvas.enroll(
        ada,
        biology,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    canvas.enroll(
        ada,
        archive,
        EnrollmentType::Student,
        EnrollmentState::Completed,
    );
    canvas.enroll(
        ben,
        chemistry,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    canvas.enroll(ada, chemistry, EnrollmentType::Ta, EnrollmentState::Invited);
    School {
        canvas,
        ada,
        biology,
        archive,
        chemistry,
    }
}

/// The registered `canvas` connector with Ada's tokens from the fake.
fn as_user(school: &School, user: i64) -> (Arc<dyn Connector>, ActionContext) {
    let (access, refresh) = school.canvas.issue_tokens(user);
    signed_in("canvas", school.canvas.base_url(), &access, &refresh)
}

async fn run(
    connector: &Arc<dyn Connector>,
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> Value {
    testing::run_json(connector.as_ref(), ctx, action, params).await
}

fn names(list: &Value, key: &str, field: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` in {list}"))
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn list_courses_and_get_course_show_only_the_callers_enrolments() {
    let school = school().await;
    school.canvas.set_syllabus(
        school.biology,
        "<h2>Syllabus</h2><p>Labs on <b>Fridays</b>.</p><script>x()</script>",
    );
    let (canvas, ctx) = as_user(&school, school.ada);

    let active = run(&canvas, &ctx, "list_courses", json!({})).await;
    assert_eq!(names(&active, "courses", "name"), ["Biology 101"]);
    assert_eq!(active["courses"][0]["roles"], json!(["student"]));
    assert_eq!(active["courses"][0]["term"]["name"], "Fall 2026");
    let done = run(
        &canvas,
        &ctx,
        "list_courses",
        json!({"enrollment_state": "completed"}),
    )
    .await;
    assert_eq!(names(&done, "courses", "name"), ["Physics 100"]);
    assert_eq!(done["courses"][0]["id"], school.archive);
    let invited = run(
        &canvas,
        &ctx,
        "list_courses",
        json!({"enrollment_state": "invited_or_pending"}),
    )
    .await;
    assert_eq!(invited["courses"][0]["roles"], json!(["ta"]));

    let course = run(
        &canvas,
        &ctx,
        "get_course",
        json!({"course_id": school.biology}),
    )
    .await;
    assert_eq!(course["syllabus"]["text"], "Syllabus\n\nLabs on Fridays.");
    assert!(
        !course["syllabus"]["html"]
            .as_str()
            .unwrap_or_default()
            .contains("script")
    );
    assert_eq!(course["id"], school.biology);
}

#[tokio::test]
async fn modules_items_and_pages_lead_to_each_other() {
    let school = school().await;
    let (page_id, slug) = school.canvas.add_page(
        school.biology,
        "Week 1 overview",
        "<p>Read <i>chapter 1</i>.</p>",
    );
    school
        .canvas
        .add_page(school.biology, "Lab safety", "<p>Goggles.</p>");
    let module = school.canvas.add_module(school.biology, "Week 1");
    school
        .canvas
        .add_module_item(module, "Overview", ModuleItemContent::Page(slug.clone()));
    school
        .canvas
        .add_module_item(module, "Readings", ModuleItemContent::SubHeader);
    let (canvas, ctx) = as_user(&school, school.ada);

    let modules = run(
        &canvas,
        &ctx,
        "list_modules",
        json!({"course_id": school.biology}),
    )
    .await;
    assert_eq!(names(&modules, "modules", "name"), ["Week 1"]);
    let items = run(
        &canvas,
        &ctx,
        "list_module_items",
        json!({"course_id": school.biology, "module_id": module}),
    )
    .await;
    assert_eq!(names(&items, "items", "kind"), ["Page", "SubHeader"]);
    assert_eq!(items["items"][0]["page_url"], slug);

    let pages = run(
        &canvas,
        &ctx,
        "list_pages",
        json!({"course_id": school.biology}),
    )
    .await;
    assert_eq!(
        names(&pages, "pages", "title"),
        ["Lab safety", "Week 1 overview"]
    );
    let found = run(
        &canvas,
        &ctx,
        "list_pages",
        json!({"course_id": school.biology, "search": "overview"}),
    )
    .await;
    assert_eq!(names(&found, "pages", "title"), ["Week 1 overview"]);
    for key in [slug.clone(), page_id.to_string()] {
        let page = run(
            &canvas,
            &ctx,
            "get_page",
            json!({"course_id": school.biology, "page": key}),
        )
        .await;
        assert_eq!(page["body"]["text"], "Read chapter 1.", "by {key}");
        assert_eq!(page["page_id"], page_id);
    }
}

#[tokio::test]
async fn assignments_carry_due_dates_points_and_the_callers_submission() {
    let school = school().await;
    let due = school.canvas.now() + Days::days(3);
    let essay = school.canvas.add_assignment(
        school.biology,
        "Essay",
        "<p>1000 words on <b>cells</b>.</p>",
        Some(due),
        20.0,
    );
    let quiz = school
        .canvas
        .add_assignment(school.biology, "Quiz", "", None, 5.0);
    school
        .canvas
        .set_submission(quiz, school.ada, SubmissionState::Graded, Some(4.5));
    let (canvas, ctx) = as_user(&school, school.ada);

    let list = run(
        &canvas,
        &ctx,
        "list_assignments",
        json!({"course_id": school.biology}),
    )
    .await;
    let rows = list["assignments"].as_array().expect("assignments");
    let essay_row = rows.iter().find(|a| a["id"] == essay).expect("essay");
    assert_eq!(essay_row["points_possible"], 20.0);
    assert!(essay_row["due_at"].is_string());
    let quiz_row = rows.iter().find(|a| a["id"] == quiz).expect("quiz");
    assert_eq!(quiz_row["submission"]["state"], "graded");
    assert_eq!(quiz_row["submission"]["score"], 4.5);
    let detail = run(
        &canvas,
        &ctx,
        "get_assignment",
        json!({"course_id": school.biology, "assignment_id": essay}),
    )
    .await;
    assert_eq!(detail["description"]["text"], "1000 words on cells.");
}

#[tokio::test]
async fn announcements_come_newest_first_from_all_courses_or_one() {
    let school = school().await;
    let now = school.canvas.now();
    school
        .canvas
        .add_announcement(school.biology, "Older", "<p>a</p>", now - Days::days(5));
    school.canvas.add_announcement(
        school.biology,
        "Newest",
        "<p>b &amp; c</p>",
        now - Days::hours(1),
    );
    school
        .canvas
        .add_announcement(school.biology, "Ancient", "<p>z</p>", now - Days::days(90));
    school.canvas.add_announcement(
        school.chemistry,
        "Not for Ada",
        "<p>no</p>",
        now - Days::days(1),
    );
    let (canvas, ctx) = as_user(&school, school.ada);

    let all = run(&canvas, &ctx, "list_announcements", json!({})).await;
    assert_eq!(names(&all, "announcements", "title"), ["Newest", "Older"]);
    assert_eq!(all["announcements"][0]["message"]["text"], "b & c");
    assert_eq!(all["announcements"][0]["course_id"], school.biology);
    let since = (now - Days::days(120)).date_naive().to_string();
    let one = run(
        &canvas,
        &ctx,
        "list_announcements",
        json!({"course_id": school.biology, "since": since}),
    )
    .await;
    assert_eq!(
        names(&one, "announcements", "title"),
        ["Newest", "Older", "Ancient"]
    );
}

#[tokio::test]
async fn course_files_browse_page_search_and_download() {
    let school = school().await;
    let root = school.canvas.root_folder(school.biology);
    let week1 = school.canvas.add_folder(root, "Week 1");
    let slides = Content::synthetic(300_000, 9);
    let pdf = school
        .canvas
        .add_file(week1, "Cells.pdf", "application/pdf", slides.clone());
    for n in 0..120 {
        school.canvas.add_file(
            root,
            &format!("handout-{n:03}.txt"),
            "text/plain",
            Content::from(b"x".to_vec()),
        );
    }
    let (canvas, ctx) = as_user(&school, school.ada);

    let top = run(&canvas, &ctx, "list_course_files", json!({})).await;
    assert_eq!(
        names(&top, "files", "id"),
        [format!("course:{}", school.biology)]
    );
    let course = run(
        &canvas,
        &ctx,
        "list_course_files",
        json!({"folder_id": format!("course:{}", school.biology)}),
    )
    .await;
    let first = names(&course, "files", "name");
    assert_eq!(&first[..2], ["Pages", "Week 1"]);
    assert_eq!(first.len(), 2 + 100, "folders, then the first 100 files");
    let token = course["next_page_token"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let rest = run(
        &canvas,
        &ctx,
        "list_course_files",
        json!({"folder_id": format!("course:{}", school.biology), "page_token": token}),
    )
    .await;
    assert_eq!(names(&rest, "files", "name").len(), 20);
    assert!(rest["next_page_token"].is_null());

    let inside = run(
        &canvas,
        &ctx,
        "list_course_files",
        json!({"folder_id": format!("folder:{week1}")}),
    )
    .await;
    assert_eq!(
        names(&inside, "breadcrumbs", "name"),
        ["Biology 101", "Week 1"]
    );
    assert_eq!(inside["files"][0]["id"], format!("file:{pdf}"));

    let hits = run(
        &canvas,
        &ctx,
        "search_course_files",
        json!({"query": "cells"}),
    )
    .await;
    assert_eq!(names(&hits, "files", "name"), ["Cells.pdf"]);
    let entry = run(
        &canvas,
        &ctx,
        "get_file",
        json!({"file_id": pdf.to_string()}),
    )
    .await;
    assert_eq!(
        (entry["size"].as_u64(), entry["can_download"].as_bool()),
        (Some(300_000), Some(true))
    );
    assert_eq!(
        entry["web_link"],
        format!("{}/files/{pdf}", school.canvas.base_url())
    );

    let output = canvas
        .execute_action(
            "download_file",
            &ctx,
            json!({"file_id": format!("file:{pdf}")}),
        )
        .await
        .expect("download");
    let mut download = output.into_download().expect("a download");
    let mut bytes = Vec::new();
    while let Some(chunk) = download.stream.next().await {
        bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(bytes, slides.to_bytes().to_vec());
    let to_store: Vec<_> = school
        .canvas
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::FileStore))
        .collect();
    assert_eq!(to_store.len(), 1);
    assert!(
        !to_store[0].authorization,
        "the token stays on the instance"
    );
}
