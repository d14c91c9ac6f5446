//! Which handler a request goes to — every route of the instance in one table — with what
//! comes first: OAuth faults before the OAuth endpoints; on the API the bearer token, then
//! queued faults and throttling (rate-limit rules count per user), then the handler. Every
//! request is logged.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::acl::Viewer;
use super::errors::{
    Endpoint, Fault, fault_response, method_not_allowed, no_resource, unauthenticated,
};
use super::oauth::{authorize, revoke, token};
use super::state::{Shared, TokenKind, get};
use super::table::{create, list, read, update};
use crate::upstream::percent_decode;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Authorize,
    Token,
    Revoke,
    /// `/api/now/table/{table}` (also `/api/now/v1/…`, `/api/now/v2/…`).
    Table(String),
    /// `/api/now/table/{table}/{sys_id}`.
    Record(String, String),
    Unknown,
}

impl Route {
    pub(super) fn of(path: &str) -> Self {
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let s = match s[..] {
            ["api", "now", "v1" | "v2", ref rest @ ..] => rest,
            ["api", "now", ref rest @ ..] => rest,
            ["oauth_auth.do"] => return Self::Authorize,
            ["oauth_token.do"] => return Self::Token,
            ["oauth_revoke_token.do"] => return Self::Revoke,
            _ => return Self::Unknown,
        };
        match *s {
            ["table", table] => Self::Table(table.to_owned()),
            ["table", table, sys_id] => Self::Record(table.to_owned(), sys_id.to_owned()),
            _ => Self::Unknown,
        }
    }

    pub(super) fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Self::Authorize | Self::Token | Self::Revoke => Some(Endpoint::OAuth),
            Self::Table(_) | Self::Record(..) => Some(Endpoint::Api),
            Self::Unknown => None,
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
    let call = Call::of(&req, |path, _| Route::of(path));
    let response = respond(&shared, &call, &body).unwrap_or_else(|e| *e);
    let entry = call.logged(call.route.endpoint(), &response);
    shared.lock().books.log.push(entry);
    response
}

fn respond(shared: &Shared, call: &Call, body: &[u8]) -> Answer {
    let Some(endpoint) = call.route.endpoint() else {
        return Err(no_resource().into());
    };
    if endpoint == Endpoint::OAuth {
        take_fault(shared, endpoint)?;
        return match call.route {
            Route::Authorize if call.method == Method::GET => authorize(shared, call),
            Route::Token if call.method == Method::POST => token(shared, call, body),
            Route::Revoke => revoke(shared, call, body),
            _ => Err(no_resource().into()),
        };
    }
    let viewer = authenticate(shared, call)?;
    take_fault(shared, endpoint)?;
    let method = &call.method;
    match &call.route {
        Route::Table(table) if *method == Method::GET => list(shared, call, &viewer, table),
        Route::Table(table) if *method == Method::POST => {
            create(shared, call, &viewer, table, body)
        }
        Route::Record(table, id) if *method == Method::GET => {
            read(shared, call, &viewer, table, id)
        }
        Route::Record(table, id) if *method == Method::PATCH || *method == Method::PUT => {
            update(shared, call, &viewer, table, id, body)
        }
        Route::Table(_) | Route::Record(..) => Err(method_not_allowed().into()),
        Route::Authorize | Route::Token | Route::Revoke | Route::Unknown => {
            Err(no_resource().into())
        }
    }
}

/// The fault queued for `endpoint`, as the response it replaces.
fn take_fault(shared: &Shared, endpoint: Endpoint) -> Result<(), Refusal> {
    let mut state = shared.lock();
    match state.books.take_body_fault(endpoint) {
        Ok(_) => Ok(()),
        Err(fault) => {
            let now = state.now().timestamp();
            let retry_after = state.retry_after;
            Err(fault_response(fault, retry_after, now).into())
        }
    }
}

/// The user behind the request's bearer token: issued, an access token, not revoked, not
/// expired by the fake's clock, of an existing active user.
fn authenticate(shared: &Shared, call: &Call) -> Result<Viewer, Refusal> {
    let state = shared.lock();
    let now = state.now();
    let token = call.bearer().and_then(|bearer| {
        state.tokens.iter().find(|t| {
            t.value == bearer && t.kind == TokenKind::Access && !t.revoked && t.expires > now
        })
    });
    let user = token.and_then(|t| state.row("sys_user", &t.user));
    match user {
        Some(user) if get(user, "active") == "true" => Ok(Viewer {
            sys_id: get(user, "sys_id").to_owned(),
            user_name: get(user, "user_name").to_owned(),
            roles: state.roles_of(get(user, "sys_id")),
        }),
        _ => Err(unauthenticated().into()),
    }
}

/// Queues `fault` for the next request of `endpoint` (used by the handle).
pub(super) fn queue(shared: &Shared, endpoint: Endpoint, fault: Fault) {
    shared.lock().books.fail_next(endpoint, fault);
}
