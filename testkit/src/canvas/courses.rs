//! The caller and their courses: `/users/self`, `/users/self/profile`, `/courses` (by
//! `enrollment_state`, with `include[]=term|syllabus_body|total_students`) and
//! `/courses/:id` — each course with the caller's `enrollments`. Enrollment decides
//! visibility everywhere: [`readable_course`] is the one check.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::errors::{json_response, not_found, unauthorized_action};
use super::paging::{includes, paginate};
use super::routes::{Answer, Call, Refusal};
use super::state::{Course, Enrollment, Shared, State, iso, iso_opt};
use super::{EnrollmentState, EnrollmentType};

/// Canvas's answer when the course does not exist (404) or the user has no enrollment in
/// it (401 "user not authorized to perform that action").
pub(super) fn readable_course(state: &State, user: i64, course: i64) -> Result<&Course, Refusal> {
    let found = state.course(course).ok_or_else(not_found)?;
    if state.is_enrolled(user, course) {
        Ok(found)
    } else {
        Err(unauthorized_action().into())
    }
}

/// `GET /api/v1/users/self`.
pub(super) fn me(shared: &Shared, user: i64) -> Answer {
    let state = shared.lock();
    let u = state.user(user).ok_or_else(not_found)?;
    let body = json!({
        "id": u.id,
        "name": u.name,
        "created_at": iso(u.created_at),
        "sortable_name": u.sortable_name,
        "short_name": u.short_name,
        "sis_user_id": null,
        "integration_id": null,
        "login_id": u.login_id,
        "avatar_url": format!("{}/images/messages/avatar-50.png", shared.base_url),
        "locale": null,
        "effective_locale": "en",
        "permissions": {"can_update_name": true, "can_update_avatar": true},
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/v1/users/self/profile`.
pub(super) fn profile(shared: &Shared, user: i64) -> Answer {
    let state = shared.lock();
    let u = state.user(user).ok_or_else(not_found)?;
    let body = json!({
        "id": u.id,
        "name": u.name,
        "short_name": u.short_name,
        "sortable_name": u.sortable_name,
        "title": null,
        "bio": null,
        "primary_email": u.email,
        "login_id": u.login_id,
        "sis_user_id": null,
        "integration_id": null,
        "avatar_url": format!("{}/images/messages/avatar-50.png", shared.base_url),
        "calendar": {"ics": format!("{}/feeds/calendars/user_{}.ics", shared.base_url, u.id)},
        "time_zone": "Etc/UTC",
        "locale": null,
        "effective_locale": "en",
        "k5_user": false,
        "use_classic_font_in_k5": false,
    });
    Ok(json_response(StatusCode::OK, &body))
}

/// Which enrollments `enrollment_state` asks for (Canvas's default: active and invited).
fn state_filter(call: &Call) -> &'static [EnrollmentState] {
    match call.param("enrollment_state") {
        Some("active") => &[EnrollmentState::Active],
        Some("invited_or_pending") => &[EnrollmentState::Invited],
        Some("completed") => &[EnrollmentState::Completed],
        _ => &[EnrollmentState::Active, EnrollmentState::Invited],
    }
}

/// `GET /api/v1/courses`: the courses the caller has an enrollment in, of the asked state.
pub(super) fn list_courses(shared: &Shared, call: &Call, user: i64) -> Answer {
    let wanted = state_filter(call);
    let state = shared.lock();
    let courses: Vec<Value> = state
        .courses
        .iter()
        .filter_map(|course| {
            let mine: Vec<&Enrollment> = state
                .enrollments_of(user, course.id)
                .into_iter()
                .filter(|e| wanted.contains(&e.state))
                .collect();
            (!mine.is_empty()).then(|| course_json(shared, &state, call, course, &mine))
        })
        .collect();
    Ok(paginate(&shared.base_url, call, courses))
}

/// `GET /api/v1/courses/:id`.
pub(super) fn get_course(shared: &Shared, call: &Call, user: i64, course: i64) -> Answer {
    let state = shared.lock();
    let found = readable_course(&state, user, course)?;
    let mine = state.enrollments_of(user, course);
    let body = course_json(shared, &state, call, found, &mine);
    Ok(json_response(StatusCode::OK, &body))
}

/// Canvas's Course object, with the caller's `enrollments` and what `include[]` asks for.
fn course_json(
    shared: &Shared,
    state: &State,
    call: &Call,
    course: &Course,
    mine: &[&Enrollment],
) -> Value {
    let term = course.term.and_then(|t| state.term(t));
    let enrollments: Vec<Value> = mine.iter().map(|e| enrollment_json(e)).collect();
    let mut body = json!({
        "id": course.id,
        "name": course.name,
        "account_id": 1,
        "uuid": course.uuid,
        "start_at": iso_opt(course.start_at),
        "grading_standard_id": null,
        "is_public": false,
        "created_at": iso(course.created_at),
        "course_code": course.course_code,
        "default_view": "modules",
        "root_account_id": 1,
        "enrollment_term_id": course.term.unwrap_or(1),
        "license": "private",
        "grade_passback_setting": null,
        "end_at": iso_opt(course.end_at),
        "public_syllabus": false,
        "public_syllabus_to_auth": false,
        "storage_quota_mb": 500,
        "is_public_to_auth_users": false,
        "homeroom_course": false,
        "course_color": null,
        "friendly_name": null,
        "apply_assignment_group_weights": false,
        "calendar": {"ics": format!("{}/feeds/calendars/course_{}.ics", shared.base_url, course.uuid)},
        "time_zone": "Etc/UTC",
        "blueprint": false,
        "template": false,
        "enrollments": enrollments,
        "hide_final_grades": false,
        "workflow_state": "available",
        "restrict_enrollments_to_course_dates": false,
    });
    if includes(call, "syllabus_body") {
        body["syllabus_body"] = json!(course.syllabus_body);
    }
    if includes(call, "term") {
        body["term"] = match term {
            Some(t) => json!({
                "id": t.id,
                "name": t.name,
                "start_at": iso_opt(t.start_at),
                "end_at": iso_opt(t.end_at),
                "created_at": iso(t.created_at),
                "workflow_state": "active",
                "grading_period_group_id": null,
            }),
            None => json!({
                "id": 1, "name": "Default Term", "start_at": null, "end_at": null,
                "workflow_state": "active", "grading_period_group_id": null,
            }),
        };
    }
    if includes(call, "total_students") {
        let students = state
            .enrollments
            .iter()
            .filter(|e| {
                e.course == course.id
                    && e.kind == EnrollmentType::Student
                    && e.state == EnrollmentState::Active
            })
            .count();
        body["total_students"] = json!(students);
    }
    body
}

/// An enrollment as a course lists it for the caller.
fn enrollment_json(enrollment: &Enrollment) -> Value {
    let (kind, role, role_id) = match enrollment.kind {
        EnrollmentType::Student => ("student", "StudentEnrollment", 3),
        EnrollmentType::Teacher => ("teacher", "TeacherEnrollment", 4),
        EnrollmentType::Ta => ("ta", "TaEnrollment", 5),
    };
    let state = match enrollment.state {
        EnrollmentState::Active => "active",
        EnrollmentState::Invited => "invited",
        EnrollmentState::Completed => "completed",
    };
    json!({
        "type": kind,
        "role": role,
        "role_id": role_id,
        "user_id": enrollment.user,
        "enrollment_state": state,
        "limit_privileges_to_course_section": false,
    })
}
