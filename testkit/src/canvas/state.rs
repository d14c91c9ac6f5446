//! The fake Canvas's records — users, terms, courses, enrollments, folders, files, pages,
//! modules, assignments, submissions, announcements — the OAuth grants and download links,
//! the clock, and the state the two servers and the handle share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration as Span, Timelike as _, Utc};

use super::errors::{Endpoint, Fault};
use super::{EnrollmentState, EnrollmentType, ModuleItemContent, SubmissionState};
use crate::upstream::{Blob, Bookkeeping};

pub(super) struct User {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) sortable_name: String,
    pub(super) short_name: String,
    pub(super) login_id: String,
    pub(super) email: String,
    pub(super) created_at: DateTime<Utc>,
}

pub(super) struct Term {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) start_at: Option<DateTime<Utc>>,
    pub(super) end_at: Option<DateTime<Utc>>,
    pub(super) created_at: DateTime<Utc>,
}

pub(super) struct Course {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) course_code: String,
    pub(super) term: Option<i64>,
    pub(super) syllabus_body: String,
    pub(super) uuid: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) start_at: Option<DateTime<Utc>>,
    pub(super) end_at: Option<DateTime<Utc>>,
}

pub(super) struct Enrollment {
    pub(super) user: i64,
    pub(super) course: i64,
    pub(super) kind: EnrollmentType,
    pub(super) state: EnrollmentState,
}

pub(super) struct Folder {
    pub(super) id: i64,
    pub(super) course: i64,
    /// `None` for a course's root folder ("course files").
    pub(super) parent: Option<i64>,
    pub(super) name: String,
    pub(super) created_at: DateTime<Utc>,
}

pub(super) struct File {
    pub(super) id: i64,
    pub(super) uuid: String,
    pub(super) folder: i64,
    pub(super) display_name: String,
    pub(super) content_type: String,
    pub(super) blob: Arc<Blob>,
    pub(super) created_at: DateTime<Utc>,
}

pub(super) struct Page {
    pub(super) id: i64,
    pub(super) course: i64,
    pub(super) url: String,
    pub(super) title: String,
    pub(super) body: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) front_page: bool,
}

pub(super) struct Module {
    pub(super) id: i64,
    pub(super) course: i64,
    pub(super) name: String,
    pub(super) position: usize,
    pub(super) unlock_at: Option<DateTime<Utc>>,
}

pub(super) struct ModuleItem {
    pub(super) id: i64,
    pub(super) module: i64,
    pub(super) position: usize,
    pub(super) title: String,
    pub(super) indent: u32,
    pub(super) content: ModuleItemContent,
}

pub(super) struct Assignment {
    pub(super) id: i64,
    pub(super) course: i64,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) due_at: Option<DateTime<Utc>>,
    pub(super) points: f64,
    pub(super) position: usize,
    pub(super) created_at: DateTime<Utc>,
}

pub(super) struct Submission {
    pub(super) id: i64,
    pub(super) assignment: i64,
    pub(super) user: i64,
    pub(super) state: SubmissionState,
    pub(super) score: Option<f64>,
    pub(super) submitted_at: Option<DateTime<Utc>>,
}

pub(super) struct Announcement {
    pub(super) id: i64,
    pub(super) course: i64,
    pub(super) title: String,
    pub(super) message: String,
    pub(super) posted_at: DateTime<Utc>,
}

/// A developer key: the OAuth client Canvas knows.
pub(super) struct DeveloperKey {
    pub(super) client_id: String,
    pub(super) secret: String,
    pub(super) redirect_uri: String,
}

/// An authorization code waiting to be exchanged.
pub(super) struct Code {
    pub(super) user: i64,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    /// The PKCE `code_challenge` (S256), when one was sent.
    pub(super) challenge: Option<String>,
    pub(super) expires: DateTime<Utc>,
}

/// One Canvas access token record: its current access token and its refresh token.
/// Refreshing gives the record a new access token (the old one stops working), as Canvas
/// does; deleting it ends both.
pub(super) struct Grant {
    pub(super) user: i64,
    /// `None` for tokens a test inserted with `issue_tokens`.
    pub(super) client_id: Option<String>,
    pub(super) access: String,
    pub(super) refresh: String,
    pub(super) expires: DateTime<Utc>,
    pub(super) deleted: bool,
}

/// A signed file-store URL handed out by `/files/:id/download`.
pub(super) struct Link {
    pub(super) file: i64,
    pub(super) expires: DateTime<Utc>,
}

/// First ids per kind: distinct ranges make a log easy to read.
const FIRST_IDS: [(Kind, i64); 12] = [
    (Kind::User, 1),
    (Kind::Term, 11),
    (Kind::Course, 101),
    (Kind::Folder, 1001),
    (Kind::File, 2001),
    (Kind::Page, 3001),
    (Kind::Module, 4001),
    (Kind::ModuleItem, 5001),
    (Kind::Assignment, 6001),
    (Kind::Submission, 7001),
    (Kind::Announcement, 8001),
    (Kind::Other, 90001),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    User,
    Term,
    Course,
    Folder,
    File,
    Page,
    Module,
    ModuleItem,
    Assignment,
    Submission,
    Announcement,
    Other,
}

pub(super) struct State {
    pub(super) users: Vec<User>,
    pub(super) terms: Vec<Term>,
    pub(super) courses: Vec<Course>,
    pub(super) enrollments: Vec<Enrollment>,
    pub(super) folders: Vec<Folder>,
    pub(super) files: Vec<File>,
    pub(super) pages: Vec<Page>,
    pub(super) modules: Vec<Module>,
    pub(super) items: Vec<ModuleItem>,
    pub(super) assignments: Vec<Assignment>,
    pub(super) submissions: Vec<Submission>,
    pub(super) announcements: Vec<Announcement>,
    pub(super) keys: Vec<DeveloperKey>,
    pub(super) codes: HashMap<String, Code>,
    pub(super) grants: Vec<Grant>,
    /// The user `GET /login/oauth2/auth` approves as.
    pub(super) signed_in: Option<i64>,
    /// The `grant_type` of every token request, oldest first.
    pub(super) token_requests: Vec<String>,
    pub(super) links: HashMap<String, Link>,
    pub(super) access_token_ttl: Span,
    pub(super) link_ttl: Span,
    /// Added to the real time: tests move the fake's clock forward.
    pub(super) clock_offset: Span,
    next_ids: HashMap<Kind, i64>,
    pub(super) books: Bookkeeping<Endpoint, Fault>,
}

/// The state both servers and the handle share, and where each server is reached.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// `http://127.0.0.1:<port>`: the Canvas instance (API, OAuth, `/files/:id/download`).
    pub(super) base_url: String,
    /// `http://127.0.0.1:<port>`: the file store the downloads are redirected to.
    pub(super) file_store_url: String,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    pub(super) fn new() -> Self {
        Self {
            users: Vec::new(),
            terms: Vec::new(),
            courses: Vec::new(),
            enrollments: Vec::new(),
            folders: Vec::new(),
            files: Vec::new(),
            pages: Vec::new(),
            modules: Vec::new(),
            items: Vec::new(),
            assignments: Vec::new(),
            submissions: Vec::new(),
            announcements: Vec::new(),
            keys: Vec::new(),
            codes: HashMap::new(),
            grants: Vec::new(),
            signed_in: None,
            token_requests: Vec::new(),
            links: HashMap::new(),
            access_token_ttl: Span::seconds(3600),
            link_ttl: Span::seconds(86_400),
            clock_offset: Span::zero(),
            next_ids: FIRST_IDS.into_iter().collect(),
            books: Bookkeeping::new(),
        }
    }

    /// The fake's time: the real time (whole seconds, as Canvas reports it) plus the offset
    /// tests advanced it by.
    pub(super) fn now(&self) -> DateTime<Utc> {
        let now = Utc::now() + self.clock_offset;
        now.with_nanosecond(0).unwrap_or(now)
    }

    pub(super) fn next_id(&mut self, kind: Kind) -> i64 {
        let next = self.next_ids.entry(kind).or_insert(1);
        let id = *next;
        *next += 1;
        id
    }

    pub(super) fn user(&self, id: i64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(super) fn course(&self, id: i64) -> Option<&Course> {
        self.courses.iter().find(|c| c.id == id)
    }

    pub(super) fn term(&self, id: i64) -> Option<&Term> {
        self.terms.iter().find(|t| t.id == id)
    }

    pub(super) fn folder(&self, id: i64) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id == id)
    }

    pub(super) fn file(&self, id: i64) -> Option<&File> {
        self.files.iter().find(|f| f.id == id)
    }

    pub(super) fn module(&self, id: i64) -> Option<&Module> {
        self.modules.iter().find(|m| m.id == id)
    }

    pub(super) fn assignment(&self, id: i64) -> Option<&Assignment> {
        self.assignments.iter().find(|a| a.id == id)
    }

    /// The user's enrollments in `course`.
    pub(super) fn enrollments_of(&self, user: i64, course: i64) -> Vec<&Enrollment> {
        self.enrollments
            .iter()
            .filter(|e| e.user == user && e.course == course)
            .collect()
    }

    /// Whether the user may see the course and everything in it: any enrollment does.
    pub(super) fn is_enrolled(&self, user: i64, course: i64) -> bool {
        !self.enrollments_of(user, course).is_empty()
    }

    /// Whether the user only learns in the course (no teacher or TA enrollment): such users
    /// get a module `state` and their own submission.
    pub(super) fn is_student(&self, user: i64, course: i64) -> bool {
        let mine = self.enrollments_of(user, course);
        !mine.is_empty() && mine.iter().all(|e| e.kind == EnrollmentType::Student)
    }

    /// The course's root folder ("course files"), created with the course.
    pub(super) fn root_folder(&self, course: i64) -> Option<&Folder> {
        self.folders
            .iter()
            .find(|f| f.course == course && f.parent.is_none())
    }

    /// `course files/Week 1/Slides`.
    pub(super) fn full_name(&self, folder: &Folder) -> String {
        let mut names = vec![folder.name.clone()];
        let mut parent = folder.parent;
        while let Some(id) = parent {
            let Some(up) = self.folder(id) else { break };
            names.push(up.name.clone());
            parent = up.parent;
        }
        names.reverse();
        names.join("/")
    }

    /// The course a file belongs to.
    pub(super) fn course_of_file(&self, file: &File) -> Option<i64> {
        self.folder(file.folder).map(|f| f.course)
    }

    /// The grant whose access token is `token`.
    pub(super) fn grant_by_access(&self, token: &str) -> Option<&Grant> {
        self.grants.iter().find(|g| g.access == token)
    }

    /// The caller's submission for an assignment (`None`: never touched, "unsubmitted").
    pub(super) fn submission(&self, assignment: i64, user: i64) -> Option<&Submission> {
        self.submissions
            .iter()
            .find(|s| s.assignment == assignment && s.user == user)
    }

    /// A unique page slug in `course` for `title` (`Week 1: Intro` → `week-1-intro`,
    /// then `week-1-intro-2`…).
    pub(super) fn page_slug(&self, course: i64, title: &str) -> String {
        let mut slug = String::new();
        for c in title.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let base = slug.trim_end_matches('-').to_owned();
        let base = if base.is_empty() {
            "page".to_owned()
        } else {
            base
        };
        let taken = |s: &str| self.pages.iter().any(|p| p.course == course && p.url == s);
        let mut candidate = base.clone();
        let mut n = 2;
        while taken(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        candidate
    }
}

/// A time as Canvas writes it: `2026-09-01T08:00:00Z`.
pub(super) fn iso(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// [`iso`], or `null`.
pub(super) fn iso_opt(time: Option<DateTime<Utc>>) -> serde_json::Value {
    time.map_or(serde_json::Value::Null, |t| {
        serde_json::Value::String(iso(t))
    })
}
