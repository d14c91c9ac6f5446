//! Which handler a request goes to — every route of the instance in one table, and the file
//! store's — with what comes first on the instance (queued faults and throttling, then the
//! token), the rate headers on every answer, and the request log.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::courses::{get_course, list_courses, me, profile};
use super::errors::{
    Endpoint, add_rate_headers, fault_response, invalid_token, not_found, unauthenticated,
};
use super::files::{
    course_folders, download, file_store, folder, folder_files, folder_folders, get_file,
    list_course_files, root_folder,
};
use super::oauth::{authorize, revoke, token};
use super::state::Shared;
use super::{assignments, content};
use crate::upstream::percent_decode;

/// What a request asks for; ids are Canvas's integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Authorize,
    Token,
    Revoke,
    /// `/files/:id/download`.
    Download(i64),
    SelfUser,
    SelfProfile,
    Courses,
    Course(i64),
    Modules(i64),
    ModuleItems(i64, i64),
    Pages(i64),
    /// A page by slug, or by `page_id:<n>` (or a bare number that is no slug).
    Page(i64, String),
    Assignments(i64),
    Assignment(i64, i64),
    Announcements,
    RootFolder(i64),
    CourseFolders(i64),
    Folder(i64),
    FolderFolders(i64),
    FolderFiles(i64),
    CourseFiles(i64),
    File(i64),
    CourseFile(i64, i64),
    Unknown,
}

impl Route {
    pub(super) fn of(method: &Method, path: &str) -> Self {
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let id = |text: &str| text.parse::<i64>().ok();
        let get = *method == Method::GET;
        match s[..] {
            ["login", "oauth2", "auth"] if get => Self::Authorize,
            ["login", "oauth2", "token"] if *method == Method::POST => Self::Token,
            ["login", "oauth2", "token"] if *method == Method::DELETE => Self::Revoke,
            ["files", f, "download"] => id(f).map(Self::Download).unwrap_or(Self::Unknown),
            _ if !get => Self::Unknown,
            ["api", "v1", ref rest @ ..] => Self::api(rest).unwrap_or(Self::Unknown),
            _ => Self::Unknown,
        }
    }

    /// The route of a path below `/api/v1/`; `None` for one Canvas does not have (or an id
    /// that is no integer, which Canvas cannot find either).
    fn api(s: &[&str]) -> Option<Self> {
        let id = |text: &str| text.parse::<i64>().ok();
        Some(match *s {
            ["users", "self"] => Self::SelfUser,
            ["users", "self", "profile"] => Self::SelfProfile,
            ["courses"] => Self::Courses,
            ["courses", c] => Self::Course(id(c)?),
            ["courses", c, "modules"] => Self::Modules(id(c)?),
            ["courses", c, "modules", m, "items"] => Self::ModuleItems(id(c)?, id(m)?),
            ["courses", c, "pages"] => Self::Pages(id(c)?),
            ["courses", c, "pages", page] => Self::Page(id(c)?, page.to_owned()),
            ["courses", c, "assignments"] => Self::Assignments(id(c)?),
            ["courses", c, "assignments", a] => Self::Assignment(id(c)?, id(a)?),
            ["announcements"] => Self::Announcements,
            ["courses", c, "folders", "root"] => Self::RootFolder(id(c)?),
            ["courses", c, "folders"] => Self::CourseFolders(id(c)?),
            ["folders", f] => Self::Folder(id(f)?),
            ["folders", f, "folders"] => Self::FolderFolders(id(f)?),
            ["folders", f, "files"] => Self::FolderFiles(id(f)?),
            ["courses", c, "files"] => Self::CourseFiles(id(c)?),
            ["files", f] => Self::File(id(f)?),
            ["courses", c, "files", f] => Self::CourseFile(id(c)?, id(f)?),
            _ => return None,
        })
    }

    pub(super) fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Self::Authorize | Self::Token | Self::Revoke => Some(Endpoint::OAuth),
            Self::Download(_) => Some(Endpoint::Download),
            Self::Unknown => None,
            _ => Some(Endpoint::Api),
        }
    }
}

/// What the handler needs from a request.
pub(super) type Call = crate::upstream::Call<Route>;

/// A handler's answer: `Err` is an error response, so `?` can stop early.
pub(super) type Answer = Result<HttpResponse, Refusal>;

/// An error answer, boxed: it travels up through `?` and is sent as it is.
pub(super) type Refusal = Box<HttpResponse>;

/// The instance: every request, answered and logged.
pub(super) async fn instance(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let method = req.method().clone();
    let call = Call::of(&req, |path, _| Route::of(&method, path));
    let mut response = respond(&shared, &call, &body).unwrap_or_else(|e| *e);
    add_rate_headers(&mut response);
    let entry = call.logged(call.route.endpoint(), &response);
    shared.lock().books.log.push(entry);
    response
}

/// The file store: signed URLs only.
pub(super) async fn store(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let call = crate::upstream::Call::of(&req, |_, _| ());
    let response = file_store(&shared, &call);
    let logged = crate::upstream::LoggedRequest {
        endpoint: Some(Endpoint::FileStore),
        ..call.logged::<Endpoint>(None, &response)
    };
    shared.lock().books.log.push(logged);
    response
}

fn respond(shared: &Shared, call: &Call, body: &[u8]) -> Answer {
    let Some(endpoint) = call.route.endpoint() else {
        return Err(not_found().into());
    };
    // Canvas's throttle sits in front of everything, the token check included.
    if let Err(fault) = shared.lock().books.take_body_fault(endpoint) {
        return Err(fault_response(&fault).into());
    }
    match &call.route {
        Route::Authorize => return authorize(shared, call),
        Route::Token => return token(shared, call, body),
        Route::Revoke => return revoke(shared, call),
        Route::Download(file) => return download(shared, call, *file),
        _ => {}
    }
    let user = authenticate(shared, call)?;
    match &call.route {
        Route::SelfUser => me(shared, user),
        Route::SelfProfile => profile(shared, user),
        Route::Courses => list_courses(shared, call, user),
        Route::Course(c) => get_course(shared, call, user, *c),
        Route::Modules(c) => content::list_modules(shared, call, user, *c),
        Route::ModuleItems(c, m) => content::list_module_items(shared, call, user, *c, *m),
        Route::Pages(c) => content::list_pages(shared, call, user, *c),
        Route::Page(c, page) => content::get_page(shared, user, *c, page),
        Route::Assignments(c) => assignments::list_assignments(shared, call, user, *c),
        Route::Assignment(c, a) => assignments::get_assignment(shared, call, user, *c, *a),
        Route::Announcements => assignments::list_announcements(shared, call, user),
        Route::RootFolder(c) => root_folder(shared, user, *c),
        Route::CourseFolders(c) => course_folders(shared, call, user, *c),
        Route::Folder(f) => folder(shared, user, *f),
        Route::FolderFolders(f) => folder_folders(shared, call, user, *f),
        Route::FolderFiles(f) => folder_files(shared, call, user, *f),
        Route::CourseFiles(c) => list_course_files(shared, call, user, *c),
        Route::File(f) => get_file(shared, user, None, *f),
        Route::CourseFile(c, f) => get_file(shared, user, Some(*c), *f),
        Route::Authorize | Route::Token | Route::Revoke | Route::Download(_) | Route::Unknown => {
            Err(not_found().into())
        }
    }
}

/// The token a request carries: `Authorization: Bearer …`, else an `access_token` parameter.
pub(super) fn token_of(call: &Call) -> Option<&str> {
    call.bearer().or_else(|| call.param("access_token"))
}

/// The user behind the request's access token, or Canvas's 401 for why there is none.
pub(super) fn authenticate(shared: &Shared, call: &Call) -> Result<i64, Refusal> {
    let Some(token) = token_of(call) else {
        return Err(unauthenticated().into());
    };
    let state = shared.lock();
    match state.grant_by_access(token) {
        Some(grant) if grant.deleted => Err(invalid_token("Invalid access token.").into()),
        Some(grant) if grant.expires <= state.now() => {
            Err(invalid_token("Expired access token.").into())
        }
        Some(grant) => Ok(grant.user),
        None => Err(invalid_token("Invalid access token.").into()),
    }
}
