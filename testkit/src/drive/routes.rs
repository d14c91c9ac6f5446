//! Which handler a request goes to: `/drive/v3/…` paths to routes and endpoint classes,
//! authentication and queued faults first, and the request log.

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::JSON;
use super::content::{export, media};
use super::drives::{about, get_drive, list_drives};
use super::errors::{Endpoint, error, fault_response, unauthorized};
use super::files::{get_file, list_files};
use super::tree::Shared;
use crate::upstream::{Reply, Turned, finish, percent_decode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    ListFiles,
    GetFile(String),
    Media(String),
    Export(String),
    ListDrives,
    GetDrive(String),
    About,
    Unknown,
}

impl Route {
    pub(super) fn of(path: &str, params: &HashMap<String, String>) -> Self {
        let Some(rest) = path.strip_prefix("/drive/v3/") else {
            return Self::Unknown;
        };
        let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
        let media = params.get("alt").is_some_and(|alt| alt == "media");
        match segments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["files"] => Self::ListFiles,
            ["files", id] if media => Self::Media(id.to_owned()),
            ["files", id] => Self::GetFile(id.to_owned()),
            ["files", id, "export"] => Self::Export(id.to_owned()),
            ["drives"] => Self::ListDrives,
            ["drives", id] => Self::GetDrive(id.to_owned()),
            ["about"] => Self::About,
            _ => Self::Unknown,
        }
    }

    pub(super) fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Self::ListFiles | Self::ListDrives => Some(Endpoint::List),
            Self::GetFile(_) | Self::GetDrive(_) | Self::About => Some(Endpoint::Metadata),
            Self::Media(_) | Self::Export(_) => Some(Endpoint::Content),
            Self::Unknown => None,
        }
    }
}

/// What the handler needs from a request.
pub(super) type Call = crate::upstream::Call<Route>;

pub(super) async fn handle(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let call = Call::of(&req, Route::of);
    let response = respond(&shared, &call).await;
    let entry = call.logged(call.route.endpoint(), &response);
    shared.lock().books.log.push(entry);
    response
}

pub(super) async fn respond(shared: &Shared, call: &Call) -> HttpResponse {
    let Some(endpoint) = call.route.endpoint() else {
        return error(404, "notFound", "Not Found", None);
    };
    if call.method != Method::GET {
        return error(405, "methodNotAllowed", "Method Not Allowed", None);
    }
    let admitted = shared.lock().books.admit(call, endpoint);
    let (body_fault, pace) = match admitted {
        Ok(admitted) => admitted,
        Err(Turned::Refused(refused)) => return unauthorized(refused),
        Err(Turned::Fault(fault)) => return fault_response(&fault),
    };
    let reply = match &call.route {
        Route::ListFiles => list_files(shared, call).await,
        Route::GetFile(id) => get_file(shared, call, id).await,
        Route::Media(id) => media(shared, call, id),
        Route::Export(id) => export(shared, call, id),
        Route::ListDrives => list_drives(shared, call),
        Route::GetDrive(id) => get_drive(shared, call, id),
        Route::About => about(shared, call),
        Route::Unknown => Reply::Error(error(404, "notFound", "Not Found", None)),
    };
    finish(reply, body_fault, pace, JSON)
}
