//! Request handlers, one file per page or endpoint family; `crate::urls` lists the routes.

pub mod account;
pub mod admin;
pub mod agent;
pub mod api;
pub mod assistants;
pub mod cloud_import;
pub mod connect;
pub mod errors;
pub mod folders;
pub mod health;
pub mod home;
pub mod icons;
pub mod mcp;
pub mod mcp_consent;
pub mod mcp_oauth;
mod mcp_stream;
pub mod query;
pub mod settings;
pub mod tokens;

use actix_web::HttpRequest;

/// An explicit switch position from a form (`true`/`false`, `on`/`off`, `1`/`0`), so a
/// repeated post changes nothing; anything else is an error on `field`.
pub fn switch(field: &str, value: &str) -> crate::error::AppResult<bool> {
    match value {
        "true" | "on" | "1" => Ok(true),
        "false" | "off" | "0" => Ok(false),
        _ => Err(crate::error::AppError::Invalid(
            [(field.to_owned(), "Use true or false.".to_owned())].into(),
        )),
    }
}

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
