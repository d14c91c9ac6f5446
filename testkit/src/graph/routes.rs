//! Which handler a request goes to: `/v1.0/…` paths to addresses and routes, authentication
//! and queued faults first (the pre-authenticated download links excepted), and the log.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::download::{content, download};
use super::errors::{Endpoint, error, fault_response, unauthorized};
use super::items::{children, drive, get_item, me, search, shared_with_me};
use super::state::Shared;
use super::{JSON, ROOT};
use crate::upstream::{Reply, Turned, finish, percent_decode};

/// Which item a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Address {
    /// `/me/drive/root`, `/me/drive/items/{id}`: an item of the user's drive.
    Mine(String),
    /// `/drives/{drive}/root`, `/drives/{drive}/items/{id}`.
    InDrive(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Me,
    Drive(Option<String>),
    SharedWithMe,
    Item(Address),
    Children(Address),
    Content(Address),
    Search(Address, String),
    Download,
    /// A path Graph does not know: the segment to name in the error.
    Unknown(String),
}

impl Route {
    pub(super) fn of(path: &str) -> Self {
        if path.contains("/_layouts/15/download.aspx") {
            return Self::Download;
        }
        let Some(rest) = path.strip_prefix("/v1.0/") else {
            return Self::Unknown(path.trim_start_matches('/').to_owned());
        };
        let segments: Vec<String> = rest
            .trim_end_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (address, rest) = match segments[..] {
            ["me"] => return Self::Me,
            ["me", "drive"] => return Self::Drive(None),
            ["me", "drive", "sharedWithMe"] => return Self::SharedWithMe,
            ["drives", drive] => return Self::Drive(Some(drive.to_owned())),
            ["me", "drive", "root", ref rest @ ..] => (Address::Mine(ROOT.to_owned()), rest),
            ["me", "drive", "items", id, ref rest @ ..] => (Address::Mine(id.to_owned()), rest),
            ["drives", drive, "root", ref rest @ ..] => {
                (Address::InDrive(drive.to_owned(), ROOT.to_owned()), rest)
            }
            ["drives", drive, "items", id, ref rest @ ..] => {
                (Address::InDrive(drive.to_owned(), id.to_owned()), rest)
            }
            _ => {
                let last = segments.last().copied().unwrap_or_default();
                return Self::Unknown(last.to_owned());
            }
        };
        match rest {
            [] => Self::Item(address),
            ["children"] => Self::Children(address),
            ["content"] => Self::Content(address),
            [function] => match search_term(function) {
                Some(term) => Self::Search(address, term),
                None => Self::Unknown((*function).to_owned()),
            },
            [.., last] => Self::Unknown((*last).to_owned()),
        }
    }

    pub(super) fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Self::Children(_) | Self::Search(..) | Self::SharedWithMe => Some(Endpoint::List),
            Self::Me | Self::Drive(_) | Self::Item(_) => Some(Endpoint::Metadata),
            Self::Content(_) => Some(Endpoint::Content),
            Self::Download => Some(Endpoint::Download),
            Self::Unknown(_) => None,
        }
    }
}

/// The term of `search(q='…')`: an OData string literal, `''` standing for `'`.
pub(super) fn search_term(segment: &str) -> Option<String> {
    let inner = segment
        .strip_prefix("search(q=")
        .or_else(|| segment.strip_prefix("search(q ="))?
        .strip_suffix(')')?
        .trim();
    let literal = inner.strip_prefix('\'')?.strip_suffix('\'')?;
    // A lone quote inside the literal would have ended it.
    if literal.replace("''", "").contains('\'') {
        return None;
    }
    Some(literal.replace("''", "'"))
}

/// What the handler needs from a request.
pub(super) type Call = crate::upstream::Call<Route>;

pub(super) async fn handle(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let call = Call::of(&req, |path, _| Route::of(path));
    let response = respond(&shared, &call).await;
    let entry = call.logged(call.route.endpoint(), &response);
    shared.lock().books.log.push(entry);
    response
}

pub(super) async fn respond(shared: &Shared, call: &Call) -> HttpResponse {
    let Some(endpoint) = call.route.endpoint() else {
        let segment = match &call.route {
            Route::Unknown(segment) => segment.as_str(),
            _ => "",
        };
        let message = format!("Resource not found for the segment '{segment}'.");
        return error(400, "BadRequest", &message);
    };
    if call.method != Method::GET {
        return error(405, "invalidRequest", "The HTTP method is not allowed.");
    }
    if endpoint == Endpoint::Download {
        return download(shared, call);
    }
    let admitted = shared.lock().books.admit(call, endpoint);
    let (body_fault, pace) = match admitted {
        Ok(admitted) => admitted,
        Err(Turned::Refused(refused)) => return unauthorized(refused),
        Err(Turned::Fault(fault)) => return fault_response(&fault),
    };
    let reply = match &call.route {
        Route::Me => me(shared, call),
        Route::Drive(id) => drive(shared, call, id.as_deref()),
        Route::SharedWithMe => shared_with_me(shared, call).await,
        Route::Item(address) => get_item(shared, call, address).await,
        Route::Children(address) => children(shared, call, address).await,
        Route::Search(address, term) => search(shared, call, address, term).await,
        // A body fault queued for `/content` travels with the link it hands out.
        Route::Content(address) => return content(shared, address, body_fault),
        Route::Download | Route::Unknown(_) => unreachable!("handled above"),
    };
    finish(reply.unwrap_or_else(Reply::Error), body_fault, pace, JSON)
}
