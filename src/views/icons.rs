//! Connector icons, served from the registry: each connector carries its `icon.svg` in its
//! own folder, so no file under `static/` names a connector.

use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// The icon shown for a catalog row whose connector this build does not have.
const UNKNOWN_CONNECTOR_ICON: &str = include_str!("../../static/icons/plug.svg");

/// `GET /static/connectors/{slug}.svg`
pub async fn connector_icon(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let file = path.into_inner();
    let svg = file
        .strip_suffix(".svg")
        .and_then(|slug| state.registry.get(slug))
        .map_or(UNKNOWN_CONNECTOR_ICON, |connector| connector.spec().icon);
    // The security-headers middleware adds the caching of static assets and a CSP under
    // which an SVG opened on its own runs no inline script.
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        .body(svg)
}
