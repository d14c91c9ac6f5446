//! The `canvas` action inputs: typed and validated (ids, page tokens, search lengths,
//! enrollment states, assignment buckets, date windows).

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Deserialize;
use validator::Validate;

/// Which of the caller's enrollments to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentState {
    /// Courses the caller takes or teaches now (the default).
    #[default]
    Active,
    /// Invitations not yet accepted.
    InvitedOrPending,
    /// Courses that are over.
    Completed,
}

impl EnrollmentState {
    /// The value Canvas takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::InvitedOrPending => "invited_or_pending",
            Self::Completed => "completed",
        }
    }
}

/// Parameters of `list_courses`.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListCoursesInput {
    /// `active` (default), `invited_or_pending` or `completed`.
    #[serde(default)]
    pub enrollment_state: EnrollmentState,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `get_course`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    /// A course `id` from `list_courses`.
    #[validate(range(min = 1))]
    pub course_id: u64,
}

/// Parameters of a list inside one course.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CourseListInput {
    /// A course `id` from `list_courses`.
    #[validate(range(min = 1))]
    pub course_id: u64,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `list_module_items`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ModuleItemsInput {
    /// A course `id` from `list_courses`.
    #[validate(range(min = 1))]
    pub course_id: u64,
    /// A module `id` from `list_modules`.
    #[validate(range(min = 1))]
    pub module_id: u64,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `list_pages`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListPagesInput {
    /// A course `id` from `list_courses`.
    #[validate(range(min = 1))]
    pub course_id: u64,
    /// Only pages whose title contains this (2 to 100 characters).
    #[serde(default)]
    #[validate(length(min = 2, max = 100))]
    pub search: Option<String>,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `get_page`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PageInput {
    /// A course `id` from `list_courses`.
    #[validate(range(min = 1))]
    pub course_id: u64,
    /// The page's `url` slug (from `list_pages` or a module item's `page_url`) or its
    /// `page_id`.
    #[validate(length(min = 1, max = 255))]
    pub page: String,
}

/// Which assignments to list, as Canvas groups them for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Due soon and not yet handed in.
    Upcoming,
    /// Due date passed.
    Past,
    /// Due date passed and not handed in.
    Overdue,
    /// Without a due date.
    Undated,
    /// Handed in but not graded.
    Ungraded,
    /// Not handed in.
    Unsubmitted,
    /// Due in the future.
    Future,
}

impl Bucket {
    /// The value Canvas takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upcoming => "upcoming",
            Self::Past => "past",
            Self::Overdue => "overdue",
            Self::Undated => "undated",
            Self::Ungraded => "ungraded",
            Self::Unsubmitted => "unsubmitted",
            Self::Future => "future",
        }
    }
}

/// Parameters of `list_assignments`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListAssignmentsInput {
    /// A course `id` from `list_courses`.
    #[validate(range(min = 1))]
    pub course_id: u64,
    /// Only `upcoming`, `past`, `overdue`, `undated`, `ungraded`, `unsubmitted` or
    /// `future` assignments; all when absent.
    #[serde(default)]
    pub bucket: Option<Bucket>,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `get_assignment`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    /// A course `id` from `list_courses`.
    #[validate(range(min = 1))]
    pub course_id: u64,
    /// An assignment `id` from `list_assignments`.
    #[validate(range(min = 1))]
    pub assignment_id: u64,
}

/// Parameters of `list_announcements`.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListAnnouncementsInput {
    /// One course's announcements; all of the caller's active courses when absent.
    #[serde(default)]
    #[validate(range(min = 1))]
    pub course_id: Option<u64>,
    /// First day (`YYYY-MM-DD`, inclusive); 30 days ago when absent.
    #[serde(default)]
    pub since: Option<NaiveDate>,
    /// Last day (`YYYY-MM-DD`, inclusive); today when absent.
    #[serde(default)]
    pub until: Option<NaiveDate>,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `list_course_files`.
#[derive(Debug, Default, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListCourseFilesInput {
    /// What to list: absent for your courses, then an `id` from an earlier listing —
    /// `course:<id>` (a course's files, and its pages as `pages:<id>`), `folder:<id>` or
    /// `pages:<id>`.
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub folder_id: Option<String>,
    /// `next_page_token` of the previous page of the same listing.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `search_course_files`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SearchCourseFilesInput {
    /// Text in the file name (2 to 100 characters, as Canvas requires).
    #[validate(length(min = 2, max = 100))]
    pub query: String,
    /// One course to search; the first page of matches in each active course when absent.
    #[serde(default)]
    #[validate(range(min = 1))]
    pub course_id: Option<u64>,
    /// `next_page_token` of the previous page (one-course searches only).
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
}

/// Parameters of `get_file` and `download_file`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct FileIdInput {
    /// A file's `id` from a listing or a search (`file:<id>` or just the number), or a
    /// page's `page:<course>:<page_id>` (downloaded as an HTML document).
    #[validate(length(min = 1, max = 64))]
    pub file_id: String,
}
