//! Canvas's pagination: `per_page` (default 10, at most 100), numbered `page`s, and the
//! `Link` header — absolute URLs on the instance with `rel="current"`, `"next"`, `"prev"`,
//! `"first"` and `"last"` (only those that apply), the request's other parameters kept.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use serde_json::Value;

use super::errors::json_response;
use super::routes::Call;

/// Items per page without `per_page`.
pub const DEFAULT_PER_PAGE: usize = 10;
/// The most `per_page` gives.
pub const MAX_PER_PAGE: usize = 100;

/// Every value of a (possibly repeated) parameter: `include[]=a&include[]=b` or `include=a`.
pub(super) fn all_params(call: &Call, name: &str) -> Vec<String> {
    let bracketed = format!("{name}[]");
    url::form_urlencoded::parse(call.query.as_bytes())
        .filter(|(key, _)| *key == name || *key == bracketed.as_str())
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// Whether `include[]` names `what`.
pub(super) fn includes(call: &Call, what: &str) -> bool {
    all_params(call, "include").iter().any(|v| v == what)
}

/// One page of `items` as Canvas answers a list: the JSON array and the `Link` header.
pub(super) fn paginate(base_url: &str, call: &Call, items: Vec<Value>) -> HttpResponse {
    let per_page = call
        .param("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE));
    let page = call
        .param("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let slice: Vec<Value> = items[start..end].to_vec();

    let link =
        |n: usize, rel: &str| format!("<{}>; rel=\"{rel}\"", page_url(base_url, call, n, per_page));
    let mut links = vec![link(page, "current")];
    if page < last {
        links.push(link(page + 1, "next"));
    }
    if page > 1 {
        links.push(link(page - 1, "prev"));
    }
    links.push(link(1, "first"));
    links.push(link(last, "last"));

    let mut response = json_response(StatusCode::OK, &Value::Array(slice));
    if let Ok(value) = header::HeaderValue::from_str(&links.join(",")) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// The request's URL on page `page`: its other parameters in their order, then `page` and
/// `per_page` (an `access_token` parameter is left out, as Canvas does).
fn page_url(base_url: &str, call: &Call, page: usize, per_page: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(call.query.as_bytes()) {
        if !matches!(key.as_ref(), "page" | "per_page" | "access_token") {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("page", &page.to_string());
    query.append_pair("per_page", &per_page.to_string());
    format!("{base_url}{}?{}", call.path, query.finish())
}
