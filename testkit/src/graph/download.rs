//! The two-step download: `…/content` answers 302 with a pre-authenticated link on this
//! host, and that link serves the bytes — only to a caller that sends no bearer token.

use std::time::Instant;

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::json;

use super::JSON;
use super::errors::{Endpoint, error, fault_response, invalid_request};
use super::items::find;
use super::resources::issue_link;
use super::routes::{Address, Call};
use super::state::{Item, Kind, Shared};
use crate::upstream::{BodyFault, finish, media_reply};

/// `…/content`: 302 to a fresh pre-authenticated link (carrying `fault`, if any).
pub(super) fn content(
    shared: &Shared,
    address: &Address,
    fault: Option<BodyFault>,
) -> HttpResponse {
    let state = shared.lock();
    let item = match find(&state, address) {
        Ok(item) => item,
        Err(response) => return response,
    };
    match item.kind {
        Kind::File { .. } if item.malware => error(
            403,
            "malwareDetected",
            "Malicious software was detected in the requested item.",
        ),
        Kind::File { .. } => {
            let link = issue_link(shared, &state, &item, fault);
            HttpResponse::Found()
                .insert_header((header::LOCATION, link))
                .finish()
        }
        Kind::Folder | Kind::Notebook => invalid_request("Only files can be downloaded."),
    }
}

/// SharePoint's answer to a refused download link.
pub(super) fn link_refused(description: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"\", client_id=\"00000003-0000-0ff1-ce00-000000000000\"",
        ))
        .content_type("application/json")
        .body(json!({"error_description": description}).to_string())
}

/// The pre-authenticated download URL: no `Authorization` allowed, `Range` honoured.
pub(super) fn download(shared: &Shared, call: &Call) -> HttpResponse {
    if call.authorization.is_some() {
        // SharePoint tries to validate a bearer token sent along and refuses a Graph one.
        return link_refused(
            "Exception of type 'Microsoft.IdentityModel.Tokens.AudienceUriValidationFailedException' was thrown.",
        );
    }
    let link = call
        .param("tempauth")
        .and_then(|token| shared.links().get(token).cloned())
        .filter(|link| link.expires > Instant::now());
    let Some(link) = link else {
        return link_refused("Invalid JWT token. The token is expired.");
    };
    let (fault, pace, item) = {
        let mut state = shared.lock();
        let fault = state.books.take_body_fault(Endpoint::Download);
        (
            fault,
            state.books.pace,
            state.items.get(&link.item).cloned(),
        )
    };
    // A fault queued for downloads comes before the one the link carries.
    let body_fault = match fault {
        Ok(queued) => queued.or(link.fault),
        Err(fault) => return fault_response(&fault),
    };
    let Some(Item {
        kind: Kind::File { blob, mime },
        ..
    }) = item
    else {
        return error(404, "itemNotFound", "The resource could not be found.");
    };
    let reply = media_reply(call.range.as_deref(), mime, blob.content.clone());
    finish(reply, body_fault, pace, JSON)
}
