//! The `canvas` actions — courses, syllabus, modules, pages, assignments, announcements,
//! course files — all read-only (their inputs are in [`super::inputs`]). The file actions' work lives in
//! [`super::files`]; cloud import reaches them through its [`crate::FileSource`].

use chrono::{Duration as Days, Utc};

use super::api::Canvas;
use super::files;
use super::inputs::{
    AssignmentInput, CourseInput, CourseListInput, FileIdInput, ListAnnouncementsInput,
    ListAssignmentsInput, ListCourseFilesInput, ListCoursesInput, ListPagesInput, ModuleItemsInput,
    PageInput, SearchCourseFilesInput,
};
use super::models::{
    AnnouncementInfo, AnnouncementList, AssignmentDetail, AssignmentList, AssignmentSummary,
    CourseDetail, CourseList, CourseSummary, ModuleInfo, ModuleItemInfo, ModuleItemList,
    ModuleList, PageDetail, PageList, PageSummary,
};
use super::wire;
use crate::{ActionContext, ConnectorError, Download, FileEntry, FileList, connector_actions};

/// Announcements looked back over when `since` is not given.
const DEFAULT_ANNOUNCEMENT_DAYS: i64 = 30;
/// Courses whose announcements are gathered when no `course_id` is given.
const MAX_ANNOUNCEMENT_COURSES: usize = 50;

/// The `canvas` actions.
#[derive(Debug, Default)]
pub struct CanvasActions;

#[connector_actions]
impl CanvasActions {
    /// List the caller's Canvas courses (active enrollments unless `enrollment_state` says
    /// otherwise) with their term and the caller's role (student, teacher, ta…), 100 per
    /// page. Use a course `id` with the other actions.
    #[action(tags(read))]
    async fn list_courses(
        &self,
        ctx: &ActionContext,
        params: ListCoursesInput,
    ) -> Result<CourseList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let page = files::courses_page(
            &canvas,
            params.enrollment_state.as_str(),
            params.page_token.as_deref(),
        )
        .await?;
        Ok(CourseList {
            courses: page
                .items
                .iter()
                .map(|course| CourseSummary::from_wire(&canvas, course))
                .collect(),
            next_page_token: page.next,
        })
    }

    /// One course with its term, the caller's role and its syllabus (sanitized HTML and
    /// plain text).
    #[action(tags(read))]
    async fn get_course(
        &self,
        ctx: &ActionContext,
        params: CourseInput,
    ) -> Result<CourseDetail, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let course = files::course(&canvas, params.course_id, true).await?;
        let syllabus = course
            .syllabus_body
            .as_deref()
            .filter(|body| !body.trim().is_empty())
            .map(|body| canvas.rich_text(body));
        Ok(CourseDetail {
            course: CourseSummary::from_wire(&canvas, &course),
            syllabus,
        })
    }

    /// List a course's modules in order, with the caller's progress in each (`locked`,
    /// `unlocked`, `started`, `completed`). Open one with `list_module_items`.
    #[action(tags(read))]
    async fn list_modules(
        &self,
        ctx: &ActionContext,
        params: CourseListInput,
    ) -> Result<ModuleList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let url = first_or_next(&canvas, &params.page_token, || {
            canvas.list_url(&format!("/courses/{}/modules", params.course_id), &[])
        })?;
        let page = canvas
            .get_page::<wire::Module>(url)
            .await
            .map_err(|e| names_missing(e, "course", params.course_id))?;
        Ok(ModuleList {
            modules: page.items.into_iter().map(ModuleInfo::from_wire).collect(),
            next_page_token: page.next,
        })
    }

    /// List the items of one module in order: pages (open with `get_page` and the item's
    /// `page_url`), files (`get_file` with `content_id`), assignments (`get_assignment` with
    /// `content_id`), discussions, quizzes, links and headers.
    #[action(tags(read))]
    async fn list_module_items(
        &self,
        ctx: &ActionContext,
        params: ModuleItemsInput,
    ) -> Result<ModuleItemList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let url = first_or_next(&canvas, &params.page_token, || {
            canvas.list_url(
                &format!(
                    "/courses/{}/modules/{}/items",
                    params.course_id, params.module_id
                ),
                &[],
            )
        })?;
        let page = canvas
            .get_page::<wire::ModuleItem>(url)
            .await
            .map_err(|e| names_missing(e, "module", params.module_id))?;
        Ok(ModuleItemList {
            items: page
                .items
                .into_iter()
                .map(ModuleItemInfo::from_wire)
                .collect(),
            next_page_token: page.next,
        })
    }

    /// List a course's pages by title (without their content; `get_page` has it),
    /// optionally only those whose title contains `search`.
    #[action(tags(read))]
    async fn list_pages(
        &self,
        ctx: &ActionContext,
        params: ListPagesInput,
    ) -> Result<PageList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let search = params.search.as_deref().map(str::trim).unwrap_or_default();
        let page = files::pages_page(
            &canvas,
            params.course_id,
            search,
            params.page_token.as_deref(),
        )
        .await?;
        Ok(PageList {
            pages: page
                .items
                .iter()
                .map(|p| PageSummary::from_wire(&canvas, params.course_id, p))
                .collect(),
            next_page_token: page.next,
        })
    }

    /// One course page with its content as sanitized HTML and as plain text.
    #[action(tags(read))]
    async fn get_page(
        &self,
        ctx: &ActionContext,
        params: PageInput,
    ) -> Result<PageDetail, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let page = files::wiki_page(&canvas, params.course_id, params.page.trim()).await?;
        Ok(PageDetail {
            page: PageSummary::from_wire(&canvas, params.course_id, &page),
            body: canvas.rich_text(page.body.as_deref().unwrap_or_default()),
        })
    }

    /// List a course's assignments by due date with points, submission types and the
    /// caller's own submission (submitted, graded, late, missing, score). `bucket` narrows
    /// to upcoming, overdue, unsubmitted… assignments.
    #[action(tags(read))]
    async fn list_assignments(
        &self,
        ctx: &ActionContext,
        params: ListAssignmentsInput,
    ) -> Result<AssignmentList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let url = first_or_next(&canvas, &params.page_token, || {
            let mut query = vec![("include[]", "submission"), ("order_by", "due_at")];
            if let Some(bucket) = params.bucket {
                query.push(("bucket", bucket.as_str()));
            }
            canvas.list_url(
                &format!("/courses/{}/assignments", params.course_id),
                &query,
            )
        })?;
        let page = canvas
            .get_page::<wire::Assignment>(url)
            .await
            .map_err(|e| names_missing(e, "course", params.course_id))?;
        Ok(AssignmentList {
            assignments: page
                .items
                .iter()
                .map(AssignmentSummary::from_wire)
                .collect(),
            next_page_token: page.next,
        })
    }

    /// One assignment with its instructions (sanitized HTML and plain text), due dates,
    /// points and the caller's submission.
    #[action(tags(read))]
    async fn get_assignment(
        &self,
        ctx: &ActionContext,
        params: AssignmentInput,
    ) -> Result<AssignmentDetail, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let url = canvas.url(
            &format!(
                "/courses/{}/assignments/{}",
                params.course_id, params.assignment_id
            ),
            &[("include[]", "submission")],
        )?;
        let assignment: wire::Assignment = canvas
            .get_json(url)
            .await
            .map_err(|e| names_missing(e, "assignment", params.assignment_id))?;
        let description = assignment
            .description
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(|d| canvas.rich_text(d));
        Ok(AssignmentDetail {
            assignment: AssignmentSummary::from_wire(&assignment),
            description,
        })
    }

    /// List announcements, newest first, from one course or from all of the caller's
    /// active courses, posted between `since` (default: 30 days ago) and `until` (default:
    /// today). Messages come as sanitized HTML and plain text.
    #[action(tags(read))]
    async fn list_announcements(
        &self,
        ctx: &ActionContext,
        params: ListAnnouncementsInput,
    ) -> Result<AnnouncementList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        let url = match &params.page_token {
            Some(token) => canvas.page_url(token)?,
            None => {
                let today = Utc::now().date_naive();
                let until = params.until.unwrap_or(today);
                let since = params
                    .since
                    .unwrap_or(today - Days::days(DEFAULT_ANNOUNCEMENT_DAYS));
                if since > until {
                    return Err(ConnectorError::invalid_field(
                        "since",
                        "`since`: must not be after `until`",
                    ));
                }
                let courses = match params.course_id {
                    Some(id) => vec![id],
                    None => files::active_course_ids(&canvas, MAX_ANNOUNCEMENT_COURSES).await?,
                };
                if courses.is_empty() {
                    return Ok(AnnouncementList {
                        announcements: Vec::new(),
                        next_page_token: None,
                    });
                }
                let codes: Vec<String> = courses.iter().map(|id| format!("course_{id}")).collect();
                // A bare date would end at the day's first second; the whole day is meant.
                let (since, until) = (since.to_string(), format!("{until}T23:59:59Z"));
                let mut query: Vec<(&str, &str)> = codes
                    .iter()
                    .map(|code| ("context_codes[]", code.as_str()))
                    .collect();
                query.extend([("start_date", since.as_str()), ("end_date", until.as_str())]);
                canvas.list_url("/announcements", &query)?
            }
        };
        let page = canvas.get_page::<wire::Announcement>(url).await?;
        let mut announcements: Vec<AnnouncementInfo> = page
            .items
            .into_iter()
            .map(|topic| AnnouncementInfo::from_wire(&canvas, topic))
            .collect();
        announcements.sort_by_key(|a| std::cmp::Reverse(a.posted_at));
        Ok(AnnouncementList {
            announcements,
            next_page_token: page.next,
        })
    }

    /// Browse course files like a drive: without `folder_id` your courses; `course:<id>`
    /// opens a course's files (with a `Pages` folder of its pages); `folder:<id>` and
    /// `pages:<id>` open those. Pages download as HTML documents.
    #[action(tags(file_browse, read))]
    async fn list_course_files(
        &self,
        ctx: &ActionContext,
        params: ListCourseFilesInput,
    ) -> Result<FileList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        files::list(
            &canvas,
            params.folder_id.as_deref(),
            params.page_token.as_deref(),
        )
        .await
    }

    /// Find course files whose name contains `query` (at least 2 characters), in one
    /// course or in each of your active courses (first 100 matches per course).
    #[action(tags(file_browse, read))]
    async fn search_course_files(
        &self,
        ctx: &ActionContext,
        params: SearchCourseFilesInput,
    ) -> Result<FileList, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        files::search(
            &canvas,
            params.query.trim(),
            params.course_id,
            params.page_token.as_deref(),
        )
        .await
    }

    /// Metadata of one course file (name, type, size, dates, folder, whether it can be
    /// downloaded), folder, course or page, by the `id` a listing gave.
    #[action(tags(read))]
    async fn get_file(
        &self,
        ctx: &ActionContext,
        params: FileIdInput,
    ) -> Result<FileEntry, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        files::entry(&canvas, &params.file_id).await
    }

    /// Download a course file, streamed as it arrives, or a course page as an HTML
    /// document (sanitized). Locked files cannot be downloaded until Canvas unlocks them.
    #[action(tags(file_download, read), download)]
    async fn download_file(
        &self,
        ctx: &ActionContext,
        params: FileIdInput,
    ) -> Result<Download, ConnectorError> {
        let canvas = Canvas::new(ctx)?;
        files::download(&canvas, &params.file_id).await
    }
}

/// The caller's `page_token` (checked to be on the instance), else the first page's URL.
fn first_or_next(
    canvas: &Canvas<'_>,
    page_token: &Option<String>,
    first: impl FnOnce() -> Result<url::Url, ConnectorError>,
) -> Result<url::Url, ConnectorError> {
    match page_token {
        Some(token) => canvas.page_url(token),
        None => first(),
    }
}

/// Canvas's 404 text is generic; say which id was missing.
pub fn names_missing(
    error: ConnectorError,
    what: &str,
    id: impl std::fmt::Display,
) -> ConnectorError {
    match error {
        ConnectorError::NotFound { .. } => ConnectorError::NotFound {
            message: format!("no Canvas {what} `{id}` (or it was deleted)"),
        },
        other => other,
    }
}

/// Cloud import's view of Canvas: the same actions, validated as their JSON path would be.
#[async_trait::async_trait]
impl crate::FileSource for CanvasActions {
    fn actions(&self) -> crate::FileActions {
        crate::FileActions {
            list: "list_course_files",
            search: Some("search_course_files"),
            download: "download_file",
        }
    }

    async fn list(
        &self,
        ctx: &ActionContext,
        request: crate::ListRequest,
    ) -> Result<FileList, ConnectorError> {
        let input = crate::validated(ListCourseFilesInput {
            folder_id: request.folder,
            page_token: request.page_token,
        })?;
        self.list_course_files(ctx, input).await
    }

    async fn search(
        &self,
        ctx: &ActionContext,
        request: crate::SearchRequest,
    ) -> Result<FileList, ConnectorError> {
        let input = crate::validated(SearchCourseFilesInput {
            query: request.query,
            course_id: None,
            page_token: request.page_token,
        })?;
        self.search_course_files(ctx, input).await
    }

    async fn download(
        &self,
        ctx: &ActionContext,
        file_id: &str,
    ) -> Result<Download, ConnectorError> {
        let input = crate::validated(FileIdInput {
            file_id: file_id.to_owned(),
        })?;
        self.download_file(ctx, input).await
    }

    fn icon(&self, entry: &FileEntry) -> crate::FileIcon {
        files::icon(entry)
    }
}
