//! Canvas's JSON, as the REST API sends it (only the fields the connector reads). Canvas
//! omits fields freely — a course outside its dates comes back as
//! `{"id": 7, "access_restricted_by_date": true}` — so almost everything is optional.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `GET /api/v1/users/self`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The sign-in name, when Canvas shares it.
    #[serde(default)]
    pub login_id: Option<String>,
    /// The primary email, when Canvas shares it.
    #[serde(default)]
    pub primary_email: Option<String>,
}

impl User {
    /// `Name (login)`, or whichever of the two Canvas gave.
    pub fn identity(&self) -> Option<String> {
        let name = self.name.trim();
        let login = self
            .login_id
            .as_deref()
            .or(self.primary_email.as_deref())
            .map(str::trim)
            .filter(|l| !l.is_empty());
        match (name.is_empty(), login) {
            (false, Some(login)) if login != name => Some(format!("{name} ({login})")),
            (false, _) => Some(name.to_owned()),
            (true, Some(login)) => Some(login.to_owned()),
            (true, None) => None,
        }
    }
}

/// An enrollment term.
#[derive(Debug, Clone, Deserialize)]
pub struct Term {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_at: Option<DateTime<Utc>>,
}

/// The caller's enrollment in a course, as `GET /courses` embeds it.
#[derive(Debug, Clone, Deserialize)]
pub struct Enrollment {
    /// `student`, `teacher`, `ta`, `observer`, `designer`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `active`, `invited`, `completed`…
    #[serde(default)]
    pub enrollment_state: Option<String>,
}

/// A course.
#[derive(Debug, Clone, Deserialize)]
pub struct Course {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub course_code: Option<String>,
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub term: Option<Term>,
    #[serde(default)]
    pub enrollments: Vec<Enrollment>,
    #[serde(default)]
    pub syllabus_body: Option<String>,
    #[serde(default)]
    pub access_restricted_by_date: bool,
}

/// A module.
#[derive(Debug, Clone, Deserialize)]
pub struct Module {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub position: Option<u32>,
    #[serde(default)]
    pub unlock_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub items_count: Option<u32>,
    /// The caller's progress: `locked`, `unlocked`, `started`, `completed`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub require_sequential_progress: Option<bool>,
}

/// An item of a module.
#[derive(Debug, Clone, Deserialize)]
pub struct ModuleItem {
    pub id: u64,
    #[serde(default)]
    pub title: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub position: Option<u32>,
    #[serde(default)]
    pub indent: Option<u32>,
    #[serde(default)]
    pub content_id: Option<u64>,
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub external_url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// A wiki page; `body` only when one page is fetched.
#[derive(Debug, Clone, Deserialize)]
pub struct WikiPage {
    pub page_id: u64,
    /// The page's slug (`week-1-overview`).
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub front_page: bool,
    #[serde(default)]
    pub locked_for_user: bool,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// The caller's submission of an assignment.
#[derive(Debug, Clone, Deserialize)]
pub struct Submission {
    /// `unsubmitted`, `submitted`, `graded`, `pending_review`.
    #[serde(default)]
    pub workflow_state: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub grade: Option<String>,
    #[serde(default)]
    pub late: bool,
    #[serde(default)]
    pub missing: bool,
    #[serde(default)]
    pub excused: Option<bool>,
}

/// An assignment.
#[derive(Debug, Clone, Deserialize)]
pub struct Assignment {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub unlock_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub lock_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub points_possible: Option<f64>,
    #[serde(default)]
    pub grading_type: Option<String>,
    #[serde(default)]
    pub submission_types: Vec<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub submission: Option<Submission>,
}

/// The author of a discussion topic.
#[derive(Debug, Clone, Deserialize)]
pub struct Author {
    #[serde(default)]
    pub display_name: Option<String>,
}

/// An announcement (a discussion topic of a course).
#[derive(Debug, Clone, Deserialize)]
pub struct Announcement {
    pub id: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub posted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub author: Option<Author>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// `course_123`.
    #[serde(default)]
    pub context_code: Option<String>,
}

/// A folder of course files.
#[derive(Debug, Clone, Deserialize)]
pub struct Folder {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub parent_folder_id: Option<u64>,
    #[serde(default)]
    pub context_id: Option<u64>,
    #[serde(default)]
    pub context_type: Option<String>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub hidden_for_user: bool,
}

/// A file.
#[derive(Debug, Clone, Deserialize)]
pub struct File {
    pub id: u64,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub filename: String,
    #[serde(rename = "content-type", default)]
    pub content_type: Option<String>,
    /// The download link (`/files/:id/download?download_frd=1&verifier=…`); empty when the
    /// file is locked for the caller.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub folder_id: Option<u64>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub modified_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub locked_for_user: bool,
    #[serde(default)]
    pub hidden_for_user: bool,
}
