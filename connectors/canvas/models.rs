//! What the `canvas` actions return: typed, documented shapes built from Canvas's JSON
//! ([`super::wire`]), with every piece of course HTML as [`RichText`] (sanitized HTML and
//! plain text). File listings use the sdk's own file model.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::api::Canvas;
use super::wire;
use crate::RichText;

/// An enrollment term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TermInfo {
    /// Term id.
    pub id: u64,
    /// Term name (`Fall 2026`).
    pub name: String,
    /// When the term starts, if set.
    pub start_at: Option<DateTime<Utc>>,
    /// When the term ends, if set.
    pub end_at: Option<DateTime<Utc>>,
}

/// A course the caller is enrolled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CourseSummary {
    /// Course id, for the other actions' `course_id`.
    pub id: u64,
    /// Course name.
    pub name: String,
    /// Short code (`BIO-101`).
    pub course_code: Option<String>,
    /// The term the course belongs to.
    pub term: Option<TermInfo>,
    /// The caller's roles in the course (`student`, `teacher`, `ta`, `observer`, `designer`).
    pub roles: Vec<String>,
    /// The caller's enrollment state (`active`, `invited`, `completed`).
    pub enrollment_state: Option<String>,
    /// Course start, if set.
    pub start_at: Option<DateTime<Utc>>,
    /// Course end, if set.
    pub end_at: Option<DateTime<Utc>>,
    /// The course in Canvas.
    pub web_link: Option<String>,
}

/// A page of courses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CourseList {
    /// The courses, in Canvas's order.
    pub courses: Vec<CourseSummary>,
    /// Pass as `page_token` (with the same other parameters) for the next page.
    pub next_page_token: Option<String>,
}

/// One course with its syllabus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CourseDetail {
    /// The course.
    #[serde(flatten)]
    pub course: CourseSummary,
    /// The syllabus, when the course has one.
    pub syllabus: Option<RichText>,
}

/// A module of a course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModuleInfo {
    /// Module id, for `list_module_items`.
    pub id: u64,
    /// Module name.
    pub name: String,
    /// Position in the course (1-based).
    pub position: Option<u32>,
    /// When the module unlocks, if it is scheduled.
    pub unlock_at: Option<DateTime<Utc>>,
    /// How many items it holds.
    pub items_count: Option<u32>,
    /// The caller's progress: `locked`, `unlocked`, `started` or `completed`.
    pub state: Option<String>,
    /// Whether items must be done in order.
    pub require_sequential_progress: Option<bool>,
}

/// A page of modules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModuleList {
    /// The modules, in course order.
    pub modules: Vec<ModuleInfo>,
    /// Pass as `page_token` for the next page.
    pub next_page_token: Option<String>,
}

/// An item of a module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModuleItemInfo {
    /// Item id.
    pub id: u64,
    /// Title shown in the module.
    pub title: String,
    /// `File`, `Page`, `Discussion`, `Assignment`, `Quiz`, `SubHeader`, `ExternalUrl` or
    /// `ExternalTool`.
    pub kind: String,
    /// Position in the module.
    pub position: Option<u32>,
    /// Indent level.
    pub indent: Option<u32>,
    /// The id of the thing itself: for `File` a `file_id` for `get_file`, for
    /// `Assignment` an `assignment_id` for `get_assignment`.
    pub content_id: Option<u64>,
    /// For `Page`: the page's slug, for `get_page`.
    pub page_url: Option<String>,
    /// For `ExternalUrl`: the address.
    pub external_url: Option<String>,
    /// The item in Canvas.
    pub web_link: Option<String>,
}

/// A page of module items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModuleItemList {
    /// The items, in module order.
    pub items: Vec<ModuleItemInfo>,
    /// Pass as `page_token` for the next page.
    pub next_page_token: Option<String>,
}

/// A course page (without its body; `get_page` has it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PageSummary {
    /// Page id.
    pub page_id: u64,
    /// The page's slug, for `get_page`.
    pub url: String,
    /// Title.
    pub title: String,
    /// Last edit.
    pub updated_at: Option<DateTime<Utc>>,
    /// Whether it is the course's front page.
    pub front_page: bool,
    /// The page in Canvas.
    pub web_link: Option<String>,
}

/// A page of course pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PageList {
    /// The pages, by title.
    pub pages: Vec<PageSummary>,
    /// Pass as `page_token` for the next page.
    pub next_page_token: Option<String>,
}

/// A course page with its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PageDetail {
    /// The page.
    #[serde(flatten)]
    pub page: PageSummary,
    /// The content.
    pub body: RichText,
}

/// The caller's submission of an assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SubmissionStatus {
    /// `unsubmitted`, `submitted`, `graded` or `pending_review`.
    pub state: Option<String>,
    /// When it was handed in.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Points scored, once graded.
    pub score: Option<f64>,
    /// The grade as Canvas shows it (`A-`, `87`, `complete`).
    pub grade: Option<String>,
    /// Handed in after the due date.
    pub late: bool,
    /// Not handed in by the due date.
    pub missing: bool,
    /// Excused by the teacher.
    pub excused: bool,
}

/// An assignment (without its description; `get_assignment` has it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AssignmentSummary {
    /// Assignment id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Due date, if any.
    pub due_at: Option<DateTime<Utc>>,
    /// When it opens, if scheduled.
    pub unlock_at: Option<DateTime<Utc>>,
    /// When it closes, if scheduled.
    pub lock_at: Option<DateTime<Utc>>,
    /// Points possible.
    pub points_possible: Option<f64>,
    /// `points`, `percent`, `letter_grade`, `pass_fail`, `gpa_scale` or `not_graded`.
    pub grading_type: Option<String>,
    /// How it is handed in (`online_upload`, `online_text_entry`, `on_paper`…).
    pub submission_types: Vec<String>,
    /// The caller's submission, when Canvas reports one (students).
    pub submission: Option<SubmissionStatus>,
    /// The assignment in Canvas.
    pub web_link: Option<String>,
}

/// A page of assignments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AssignmentList {
    /// The assignments, by due date.
    pub assignments: Vec<AssignmentSummary>,
    /// Pass as `page_token` for the next page.
    pub next_page_token: Option<String>,
}

/// An assignment with its description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AssignmentDetail {
    /// The assignment.
    #[serde(flatten)]
    pub assignment: AssignmentSummary,
    /// The instructions, when there are any.
    pub description: Option<RichText>,
}

/// An announcement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnnouncementInfo {
    /// Announcement id.
    pub id: u64,
    /// The course it was posted in.
    pub course_id: Option<u64>,
    /// Title.
    pub title: String,
    /// When it was posted.
    pub posted_at: Option<DateTime<Utc>>,
    /// Who posted it.
    pub author: Option<String>,
    /// The message.
    pub message: RichText,
    /// The announcement in Canvas.
    pub web_link: Option<String>,
}

/// A page of announcements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnnouncementList {
    /// The announcements, newest first.
    pub announcements: Vec<AnnouncementInfo>,
    /// Pass as `page_token` for the next page.
    pub next_page_token: Option<String>,
}

impl CourseSummary {
    /// From Canvas's course; the caller's roles come from its embedded enrollments.
    pub fn from_wire(canvas: &Canvas<'_>, course: &wire::Course) -> Self {
        let mut roles: Vec<String> = Vec::new();
        for enrollment in &course.enrollments {
            let role = enrollment
                .kind
                .trim_end_matches("Enrollment")
                .to_ascii_lowercase();
            if !role.is_empty() && !roles.contains(&role) {
                roles.push(role);
            }
        }
        let name = course
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| {
                if course.access_restricted_by_date {
                    format!("Course {} (outside its dates)", course.id)
                } else {
                    format!("Course {}", course.id)
                }
            });
        Self {
            id: course.id,
            name,
            course_code: course.course_code.clone(),
            term: course.term.as_ref().map(|t| TermInfo {
                id: t.id,
                name: t.name.clone(),
                start_at: t.start_at,
                end_at: t.end_at,
            }),
            roles,
            enrollment_state: course
                .enrollments
                .iter()
                .find_map(|e| e.enrollment_state.clone()),
            start_at: course.start_at,
            end_at: course.end_at,
            web_link: canvas.web_link(&format!("/courses/{}", course.id)),
        }
    }
}

impl ModuleInfo {
    /// From Canvas's module.
    pub fn from_wire(module: wire::Module) -> Self {
        Self {
            id: module.id,
            name: module.name,
            position: module.position,
            unlock_at: module.unlock_at,
            items_count: module.items_count,
            state: module.state,
            require_sequential_progress: module.require_sequential_progress,
        }
    }
}

impl ModuleItemInfo {
    /// From Canvas's module item.
    pub fn from_wire(item: wire::ModuleItem) -> Self {
        Self {
            id: item.id,
            title: item.title,
            kind: item.kind,
            position: item.position,
            indent: item.indent,
            content_id: item.content_id,
            page_url: item.page_url,
            external_url: item.external_url,
            web_link: item.html_url,
        }
    }
}

impl PageSummary {
    /// From Canvas's page (in `course_id`).
    pub fn from_wire(canvas: &Canvas<'_>, course_id: u64, page: &wire::WikiPage) -> Self {
        Self {
            page_id: page.page_id,
            url: page.url.clone(),
            title: page.title.clone(),
            updated_at: page.updated_at,
            front_page: page.front_page,
            web_link: page
                .html_url
                .clone()
                .or_else(|| canvas.web_link(&format!("/courses/{course_id}/pages/{}", page.url))),
        }
    }
}

impl AssignmentSummary {
    /// From Canvas's assignment.
    pub fn from_wire(assignment: &wire::Assignment) -> Self {
        Self {
            id: assignment.id,
            name: assignment.name.clone(),
            due_at: assignment.due_at,
            unlock_at: assignment.unlock_at,
            lock_at: assignment.lock_at,
            points_possible: assignment.points_possible,
            grading_type: assignment.grading_type.clone(),
            submission_types: assignment.submission_types.clone(),
            submission: assignment.submission.as_ref().map(|s| SubmissionStatus {
                state: s.workflow_state.clone(),
                submitted_at: s.submitted_at,
                score: s.score,
                grade: s.grade.clone(),
                late: s.late,
                missing: s.missing,
                excused: s.excused.unwrap_or(false),
            }),
            web_link: assignment.html_url.clone(),
        }
    }
}

impl AnnouncementInfo {
    /// From Canvas's discussion topic, its message sanitized.
    pub fn from_wire(canvas: &Canvas<'_>, topic: wire::Announcement) -> Self {
        let course_id = topic
            .context_code
            .as_deref()
            .and_then(|code| code.strip_prefix("course_"))
            .and_then(|id| id.parse().ok());
        Self {
            id: topic.id,
            course_id,
            title: topic.title,
            posted_at: topic.posted_at,
            author: topic
                .author
                .and_then(|a| a.display_name)
                .or(topic.user_name),
            message: canvas.rich_text(topic.message.as_deref().unwrap_or_default()),
            web_link: topic.html_url,
        }
    }
}
