//! What tests put into the fake Canvas: users, terms, courses and enrollments, folders and
//! files, pages, modules and their items, assignments and submissions, announcements. Ids
//! are Canvas-style integers, each kind in its own range (users from 1, courses from 101,
//! folders from 1001, files from 2001…).

use chrono::{DateTime, Utc};

use super::state::{
    Announcement, Assignment, Course, Enrollment, File, Folder, Kind, Module, ModuleItem, Page,
    Submission, Term, User,
};
use super::{
    Content, EnrollmentState, EnrollmentType, FakeCanvas, ModuleItemContent, SubmissionState, files,
};
use crate::upstream::Blob;

impl FakeCanvas {
    /// Adds a user; `login_id` is also the primary email when it has an `@`. Returns its id.
    pub fn add_user(&self, login_id: &str, name: &str) -> i64 {
        let mut state = self.shared.lock();
        let id = state.next_id(Kind::User);
        let (first, last) = name.rsplit_once(' ').unwrap_or((name, ""));
        let sortable_name = if last.is_empty() {
            name.to_owned()
        } else {
            format!("{last}, {first}")
        };
        let email = if login_id.contains('@') {
            login_id.to_owned()
        } else {
            format!("{login_id}@campus.example")
        };
        let created_at = state.now();
        state.users.push(User {
            id,
            name: name.to_owned(),
            sortable_name,
            short_name: name.to_owned(),
            login_id: login_id.to_owned(),
            email,
            created_at,
        });
        id
    }

    /// Adds an enrollment term without dates; returns its id.
    pub fn add_term(&self, name: &str) -> i64 {
        let mut state = self.shared.lock();
        let id = state.next_id(Kind::Term);
        let created_at = state.now();
        state.terms.push(Term {
            id,
            name: name.to_owned(),
            start_at: None,
            end_at: None,
            created_at,
        });
        id
    }

    /// Sets a term's `start_at` and `end_at`.
    pub fn set_term_dates(&self, term: i64, start_at: DateTime<Utc>, end_at: DateTime<Utc>) {
        let mut state = self.shared.lock();
        let found = state.terms.iter_mut().find(|t| t.id == term);
        let found = found.unwrap_or_else(|| panic!("fake Canvas: no term {term}"));
        found.start_at = Some(start_at);
        found.end_at = Some(end_at);
    }

    /// Adds an available course in `term`, with its root folder "course files"; returns
    /// its id.
    pub fn add_course(&self, name: &str, course_code: &str, term: i64) -> i64 {
        let mut state = self.shared.lock();
        let id = state.next_id(Kind::Course);
        let folder = state.next_id(Kind::Folder);
        let created_at = state.now();
        state.courses.push(Course {
            id,
            name: name.to_owned(),
            course_code: course_code.to_owned(),
            term: Some(term),
            syllabus_body: String::new(),
            uuid: uuid::Uuid::new_v4().simple().to_string(),
            created_at,
            start_at: None,
            end_at: None,
        });
        state.folders.push(Folder {
            id: folder,
            course: id,
            parent: None,
            name: "course files".to_owned(),
            created_at,
        });
        id
    }

    /// Sets a course's `syllabus_body` (HTML).
    pub fn set_syllabus(&self, course: i64, html: &str) {
        let mut state = self.shared.lock();
        let found = state.courses.iter_mut().find(|c| c.id == course);
        found
            .unwrap_or_else(|| panic!("fake Canvas: no course {course}"))
            .syllabus_body = html.to_owned();
    }

    /// Sets a course's `start_at` and `end_at`.
    pub fn set_course_dates(&self, course: i64, start_at: DateTime<Utc>, end_at: DateTime<Utc>) {
        let mut state = self.shared.lock();
        let found = state.courses.iter_mut().find(|c| c.id == course);
        let found = found.unwrap_or_else(|| panic!("fake Canvas: no course {course}"));
        found.start_at = Some(start_at);
        found.end_at = Some(end_at);
    }

    /// Enrolls `user` in `course`: they see it, and everything in it, from now on.
    pub fn enroll(&self, user: i64, course: i64, kind: EnrollmentType, state: EnrollmentState) {
        self.shared.lock().enrollments.push(Enrollment {
            user,
            course,
            kind,
            state,
        });
    }

    /// The id of a course's root folder ("course files").
    pub fn root_folder(&self, course: i64) -> i64 {
        let state = self.shared.lock();
        state
            .root_folder(course)
            .map(|f| f.id)
            .unwrap_or_else(|| panic!("fake Canvas: no course {course}"))
    }

    /// Adds a folder under `parent` (in the parent's course); returns its id.
    pub fn add_folder(&self, parent: i64, name: &str) -> i64 {
        let mut state = self.shared.lock();
        let course = state
            .folder(parent)
            .map(|f| f.course)
            .unwrap_or_else(|| panic!("fake Canvas: no folder {parent}"));
        let id = state.next_id(Kind::Folder);
        let created_at = state.now();
        state.folders.push(Folder {
            id,
            course,
            parent: Some(parent),
            name: name.to_owned(),
            created_at,
        });
        id
    }

    /// Adds a file to `folder`; returns its id.
    pub fn add_file(
        &self,
        folder: i64,
        name: &str,
        content_type: &str,
        content: impl Into<Content>,
    ) -> i64 {
        let mut state = self.shared.lock();
        assert!(
            state.folder(folder).is_some(),
            "fake Canvas: no folder {folder}"
        );
        let id = state.next_id(Kind::File);
        let created_at = state.now();
        state.files.push(File {
            id,
            uuid: uuid::Uuid::new_v4().simple().to_string(),
            folder,
            display_name: name.to_owned(),
            content_type: content_type.to_owned(),
            blob: Blob::new(content.into()),
            created_at,
        });
        id
    }

    /// A file's content.
    pub fn content_of(&self, file: i64) -> Content {
        self.with_file(file, |f| f.blob.content.clone())
    }

    /// A file's `url`: `/files/<id>/download?download_frd=1&verifier=<uuid>` on the instance.
    pub fn download_url(&self, file: i64) -> String {
        self.with_file(file, |f| files::download_url(&self.shared, f))
    }

    fn with_file<T>(&self, file: i64, f: impl FnOnce(&File) -> T) -> T {
        let state = self.shared.lock();
        f(state
            .file(file)
            .unwrap_or_else(|| panic!("fake Canvas: no file {file}")))
    }

    /// Adds a wiki page; returns its `page_id` and `url` slug (made from the title).
    pub fn add_page(&self, course: i64, title: &str, body_html: &str) -> (i64, String) {
        let mut state = self.shared.lock();
        let id = state.next_id(Kind::Page);
        let url = state.page_slug(course, title);
        let created_at = state.now();
        state.pages.push(Page {
            id,
            course,
            url: url.clone(),
            title: title.to_owned(),
            body: body_html.to_owned(),
            created_at,
            front_page: false,
        });
        (id, url)
    }

    /// Makes a page the course's front page (`front_page: true`).
    pub fn set_front_page(&self, page: i64) {
        let mut state = self.shared.lock();
        let course = state.pages.iter().find(|p| p.id == page).map(|p| p.course);
        for p in state.pages.iter_mut() {
            p.front_page = Some(p.course) == course && p.id == page;
        }
    }

    /// Adds a module at the end of the course's; returns its id.
    pub fn add_module(&self, course: i64, name: &str) -> i64 {
        let mut state = self.shared.lock();
        let id = state.next_id(Kind::Module);
        let position = state.modules.iter().filter(|m| m.course == course).count() + 1;
        state.modules.push(Module {
            id,
            course,
            name: name.to_owned(),
            position,
            unlock_at: None,
        });
        id
    }

    /// Sets when a module unlocks (students see `state: "locked"` before).
    pub fn set_module_unlock_at(&self, module: i64, unlock_at: Option<DateTime<Utc>>) {
        let mut state = self.shared.lock();
        let found = state.modules.iter_mut().find(|m| m.id == module);
        found
            .unwrap_or_else(|| panic!("fake Canvas: no module {module}"))
            .unlock_at = unlock_at;
    }

    /// Adds an item at the end of a module; returns its id.
    pub fn add_module_item(&self, module: i64, title: &str, content: ModuleItemContent) -> i64 {
        let mut state = self.shared.lock();
        assert!(
            state.module(module).is_some(),
            "fake Canvas: no module {module}"
        );
        let id = state.next_id(Kind::ModuleItem);
        let position = state.items.iter().filter(|i| i.module == module).count() + 1;
        state.items.push(ModuleItem {
            id,
            module,
            position,
            title: title.to_owned(),
            indent: 0,
            content,
        });
        id
    }

    /// Adds a published assignment (online upload, graded in points); returns its id.
    pub fn add_assignment(
        &self,
        course: i64,
        name: &str,
        description_html: &str,
        due_at: Option<DateTime<Utc>>,
        points: f64,
    ) -> i64 {
        let mut state = self.shared.lock();
        let id = state.next_id(Kind::Assignment);
        let position = state
            .assignments
            .iter()
            .filter(|a| a.course == course)
            .count()
            + 1;
        let created_at = state.now();
        state.assignments.push(Assignment {
            id,
            course,
            name: name.to_owned(),
            description: description_html.to_owned(),
            due_at,
            points,
            position,
            created_at,
        });
        id
    }

    /// Sets `user`'s submission for an assignment (submitted now, unless unsubmitted).
    pub fn set_submission(
        &self,
        assignment: i64,
        user: i64,
        kind: SubmissionState,
        score: Option<f64>,
    ) {
        let mut state = self.shared.lock();
        let submitted_at = (kind != SubmissionState::Unsubmitted).then(|| state.now());
        state
            .submissions
            .retain(|s| !(s.assignment == assignment && s.user == user));
        let id = state.next_id(Kind::Submission);
        state.submissions.push(Submission {
            id,
            assignment,
            user,
            state: kind,
            score,
            submitted_at,
        });
    }

    /// Adds an announcement posted at `posted_at`; returns its id.
    pub fn add_announcement(
        &self,
        course: i64,
        title: &str,
        message_html: &str,
        posted_at: DateTime<Utc>,
    ) -> i64 {
        let mut state = self.shared.lock();
        let id = state.next_id(Kind::Announcement);
        state.announcements.push(Announcement {
            id,
            course,
            title: title.to_owned(),
            message: message_html.to_owned(),
            posted_at,
        });
        id
    }
}
