//! Request handlers, one file per page or endpoint family; `crate::urls` lists the routes.

pub mod account;
pub mod admin;
pub mod api;
pub mod assistants;
pub mod cloud_import;
pub mod connect;
pub mod errors;
pub mod folders;
pub mod health;
pub mod home;
pub mod icons;
pub mod mcp_consent;
pub mod mcp_oauth;
pub mod query;
pub mod settings;

use actix_web::HttpRequest;

/// Whether the request came from HTMX (it wants a fragment, not a page).
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther()
        .insert_header(("Location", location))
        .finish()
}

/// `next` if it is a path on this site, else `/` (no open redirects).
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n']);
    if ok { next } else { crate::paths::home() }
}
