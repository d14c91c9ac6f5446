//! What the fakes' own OAuth endpoints share (the auto-approving servers, Canvas's and
//! ServiceNow's): the redirect back to the client, the PKCE S256 challenge, and the client's
//! credentials from HTTP Basic or the form.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};
use url::Url;

/// 302 to the client's `redirect` with `code`, or with `error` and `error_description`;
/// `state` as the client sent it.
pub fn redirect_back(
    mut redirect: Url,
    state: Option<&str>,
    outcome: Result<&str, (&str, &str)>,
) -> HttpResponse {
    {
        let mut query = redirect.query_pairs_mut();
        match outcome {
            Ok(code) => query.append_pair("code", code),
            Err((error, description)) => query
                .append_pair("error", error)
                .append_pair("error_description", description),
        };
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, redirect.as_str()))
        .finish()
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The client's id and secret: HTTP Basic from `authorization` (each part form-urlencoded,
/// RFC 6749 §2.3.1), else `client_id` and `client_secret` of the form.
pub fn client_credentials(
    authorization: Option<&str>,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = authorization
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    if let Some((id, secret)) = basic.as_deref().and_then(|d| d.split_once(':')) {
        let unescape = |part: &str| {
            url::form_urlencoded::parse(part.as_bytes())
                .next()
                .map_or_else(String::new, |(text, _)| text.into_owned())
        };
        return (Some(unescape(id)), Some(unescape(secret)));
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}
