//! Assignments (`/courses/:id/assignments` with `order_by`, `bucket` and
//! `include[]=submission`; `/courses/:id/assignments/:id`) with the caller's submission, and
//! announcements (`/announcements?context_codes[]=course_1…`: Canvas's default window of
//! 14 days ago to 28 days after that, newest first, each with its `context_code`).

use actix_web::http::StatusCode;
use chrono::{DateTime, Duration as Span, NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};

use super::courses::readable_course;
use super::errors::{bad_request, bad_request_message, json_response, not_found};
use super::paging::{all_params, includes, paginate};
use super::routes::{Answer, Call, Refusal};
use super::state::{Announcement, Assignment, Shared, State, iso, iso_opt};
use super::{EnrollmentType, SubmissionState};

/// The buckets `bucket` accepts.
const BUCKETS: [&str; 7] = [
    "past",
    "overdue",
    "undated",
    "ungraded",
    "unsubmitted",
    "upcoming",
    "future",
];

/// `GET /api/v1/courses/:id/assignments`.
pub(super) fn list_assignments(shared: &Shared, call: &Call, user: i64, course: i64) -> Answer {
    let bucket = call.param("bucket");
    if bucket.is_some_and(|b| !BUCKETS.contains(&b)) {
        let message = format!(
            "bucket name must be one of the following: {}",
            BUCKETS.join(", ")
        );
        return Err(bad_request(&message).into());
    }
    let with_submission = includes(call, "submission");
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let now = state.now();
    let mut assignments: Vec<&Assignment> = state
        .assignments
        .iter()
        .filter(|a| a.course == course)
        .filter(|a| bucket.is_none_or(|b| in_bucket(&state, a, user, b, now)))
        .collect();
    match call.param("order_by") {
        Some("name") => assignments.sort_by_key(|a| (a.name.to_lowercase(), a.id)),
        // Undated last.
        Some("due_at") => assignments.sort_by_key(|a| (a.due_at.is_none(), a.due_at, a.id)),
        _ => assignments.sort_by_key(|a| (a.position, a.id)),
    }
    let items = assignments
        .iter()
        .map(|a| assignment_json(shared, &state, a, user, with_submission))
        .collect();
    Ok(paginate(&shared.base_url, call, items))
}

/// Whether an assignment falls in `bucket` for the user.
fn in_bucket(state: &State, a: &Assignment, user: i64, bucket: &str, now: DateTime<Utc>) -> bool {
    let submission = state.submission(a.id, user).map(|s| s.state);
    let submitted = matches!(
        submission,
        Some(SubmissionState::Submitted | SubmissionState::Graded)
    );
    match bucket {
        "past" => a.due_at.is_some_and(|d| d < now),
        "overdue" => a.due_at.is_some_and(|d| d < now) && !submitted,
        "undated" => a.due_at.is_none(),
        "ungraded" => submission == Some(SubmissionState::Submitted),
        "unsubmitted" => !submitted,
        "upcoming" => a
            .due_at
            .is_some_and(|d| d >= now && d < now + Span::weeks(1)),
        "future" => a.due_at.is_none_or(|d| d >= now),
        _ => false,
    }
}

/// `GET /api/v1/courses/:id/assignments/:id`.
pub(super) fn get_assignment(
    shared: &Shared,
    call: &Call,
    user: i64,
    course: i64,
    assignment: i64,
) -> Answer {
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let found = state
        .assignment(assignment)
        .filter(|a| a.course == course)
        .ok_or_else(not_found)?;
    let body = assignment_json(shared, &state, found, user, includes(call, "submission"));
    Ok(json_response(StatusCode::OK, &body))
}

/// Canvas's Assignment object; with `submission`, the caller's (students only).
fn assignment_json(
    shared: &Shared,
    state: &State,
    a: &Assignment,
    user: i64,
    with_submission: bool,
) -> Value {
    let base = &shared.base_url;
    let mut body = json!({
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.created_at),
        "due_at": iso_opt(a.due_at),
        "lock_at": null,
        "unlock_at": null,
        "has_overrides": false,
        "course_id": a.course,
        "html_url": format!("{base}/courses/{}/assignments/{}", a.course, a.id),
        "submissions_download_url": format!(
            "{base}/courses/{}/assignments/{}/submissions?zip=1", a.course, a.id
        ),
        "assignment_group_id": 1,
        "due_date_required": false,
        "allowed_extensions": [],
        "max_name_length": 255,
        "grade_group_students_individually": false,
        "group_category_id": null,
        "points_possible": a.points,
        "submission_types": ["online_upload"],
        "has_submitted_submissions": false,
        "grading_type": "points",
        "grading_standard_id": null,
        "published": true,
        "unpublishable": false,
        "only_visible_to_overrides": false,
        "locked_for_user": false,
        "workflow_state": "published",
        "position": a.position,
        "muted": false,
        "omit_from_final_grade": false,
        "peer_reviews": false,
        "anonymous_grading": false,
        "moderated_grading": false,
        "is_quiz_assignment": false,
    });
    if with_submission && state.is_student(user, a.course) {
        body["submission"] = submission_json(state, a, user);
    }
    body
}

/// The user's submission: as set by the test, else an untouched "unsubmitted" one.
fn submission_json(state: &State, a: &Assignment, user: i64) -> Value {
    let now = state.now();
    let found = state.submission(a.id, user);
    let kind = found.map_or(SubmissionState::Unsubmitted, |s| s.state);
    let submitted_at = found.and_then(|s| s.submitted_at);
    let score = found.and_then(|s| s.score);
    let late = matches!((submitted_at, a.due_at), (Some(at), Some(due)) if at > due);
    let missing = kind == SubmissionState::Unsubmitted && a.due_at.is_some_and(|d| d < now);
    let (workflow, graded_at) = match kind {
        SubmissionState::Unsubmitted => ("unsubmitted", None),
        SubmissionState::Submitted => ("submitted", None),
        SubmissionState::Graded => ("graded", submitted_at.or(Some(now))),
    };
    let grade = score.map(|s| {
        if s.fract() == 0.0 {
            format!("{s:.0}")
        } else {
            s.to_string()
        }
    });
    json!({
        "id": found.map_or(7_000_000 + a.id * 1000 + user, |s| s.id),
        "assignment_id": a.id,
        "user_id": user,
        "body": null,
        "url": null,
        "grade": grade,
        "score": score,
        "submitted_at": iso_opt(submitted_at),
        "attempt": submitted_at.map(|_| 1),
        "workflow_state": workflow,
        "grade_matches_current_submission": true,
        "graded_at": iso_opt(graded_at),
        "grader_id": null,
        "late": late,
        "missing": missing,
        "excused": false,
        "late_policy_status": null,
        "points_deducted": null,
        "seconds_late": 0,
        "submission_type": submitted_at.map(|_| "online_upload"),
        "cached_due_date": iso_opt(a.due_at),
        "posted_at": iso_opt(graded_at),
    })
}

/// A `start_date`/`end_date`: `yyyy-mm-dd` (the day's start, or its end for `end_date`) or
/// ISO 8601; `Err` for anything else.
fn parse_date(text: &str, end_of_day: bool) -> Result<DateTime<Utc>, ()> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let time = if end_of_day {
            NaiveTime::from_hms_opt(23, 59, 59)
        } else {
            Some(NaiveTime::MIN)
        };
        return Ok(day.and_time(time.ok_or(())?).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ())
}

/// `GET /api/v1/announcements`.
pub(super) fn list_announcements(shared: &Shared, call: &Call, user: i64) -> Answer {
    let codes = all_params(call, "context_codes");
    if codes.is_empty() {
        return Err(bad_request_message("Missing context_codes").into());
    }
    let mut courses = Vec::new();
    for code in &codes {
        match code
            .strip_prefix("course_")
            .and_then(|id| id.parse::<i64>().ok())
        {
            Some(id) => courses.push(id),
            None => {
                let message = "Invalid context_codes; only `course` codes are supported";
                return Err(bad_request_message(message).into());
            }
        }
    }
    let date = |name: &str, end: bool| -> Result<Option<DateTime<Utc>>, Refusal> {
        match call.param(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => parse_date(text, end)
                .map(Some)
                .map_err(|()| bad_request_message(&format!("Invalid {name}")).into()),
        }
    };
    let (start, end) = (date("start_date", false)?, date("end_date", true)?);
    let state = shared.lock();
    for course in &courses {
        readable_course(&state, user, *course)?;
    }
    let today = state.now().date_naive().and_time(NaiveTime::MIN).and_utc();
    let start = start.unwrap_or(today - Span::days(14));
    let end = end.unwrap_or(start + Span::days(28));
    let mut found: Vec<&Announcement> = state
        .announcements
        .iter()
        .filter(|a| courses.contains(&a.course))
        .filter(|a| a.posted_at >= start && a.posted_at <= end)
        .collect();
    found.sort_by_key(|a| std::cmp::Reverse((a.posted_at, a.id)));
    let items = found
        .iter()
        .map(|a| announcement_json(shared, &state, a))
        .collect();
    Ok(paginate(&shared.base_url, call, items))
}

/// A DiscussionTopic as the announcements list gives it, with `context_code`; the author
/// is the course's first teacher.
fn announcement_json(shared: &Shared, state: &State, a: &Announcement) -> Value {
    let base = &shared.base_url;
    let html_url = format!("{base}/courses/{}/discussion_topics/{}", a.course, a.id);
    let teacher = state
        .enrollments
        .iter()
        .find(|e| e.course == a.course && e.kind == EnrollmentType::Teacher)
        .and_then(|e| state.user(e.user));
    let author = teacher.map_or(json!({}), |t| {
        json!({
            "id": t.id,
            "anonymous_id": format!("{:x}", t.id),
            "display_name": t.short_name,
            "avatar_image_url": format!("{base}/images/messages/avatar-50.png"),
            "html_url": format!("{base}/courses/{}/users/{}", a.course, t.id),
            "pronouns": null,
        })
    });
    json!({
        "id": a.id,
        "title": a.title,
        "message": a.message,
        "html_url": html_url,
        "url": html_url,
        "posted_at": iso(a.posted_at),
        "delayed_post_at": null,
        "last_reply_at": iso(a.posted_at),
        "created_at": iso(a.posted_at),
        "require_initial_post": false,
        "user_can_see_posts": true,
        "discussion_subentry_count": 0,
        "read_state": "unread",
        "unread_count": 0,
        "subscribed": false,
        "attachments": [],
        "published": true,
        "locked": false,
        "pinned": false,
        "locked_for_user": false,
        "author": author,
        "user_name": teacher.map(|t| t.name.clone()),
        "discussion_type": "side_comment",
        "is_announcement": true,
        "context_code": format!("course_{}", a.course),
        "permissions": {"attach": false, "update": false, "reply": true, "delete": false},
    })
}
