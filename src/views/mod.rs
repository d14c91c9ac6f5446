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
pub mod oidc;
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

/// A `Content-Disposition` that offers `name` as a download (RFC 6266): a plain-ASCII
/// `filename` for old clients and the exact name as UTF-8 in `filename*`.
pub fn attachment(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    // RFC 5987 attr-char: letters, digits and !#$&+-.^_`|~ stay; everything else is escaped.
    const ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let exact = percent_encoding::utf8_percent_encode(name, ESCAPE);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
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

/// `next` if it is a path on this site, else `/` (no open redirects): see [`local_path`].
pub fn safe_next(next: &str) -> &str {
    local_path(next).unwrap_or(crate::paths::home())
}

/// Longest return path accepted after login or a connect flow.
const MAX_LOCAL_PATH: usize = 2048;

/// `path` if it can only ever lead to a page of this site, for redirects to a `next` a
/// request carried. Browsers are lenient: they drop tabs and newlines, read `\` as `/`, and
/// some decode `%2F` and `%5C` before deciding what a leading `//` means, so
/// `/%09/evil.example` and `/\evil.example` would leave the site. The path must start with
/// one `/` and nothing that could make a second; it may not hold a backslash, a control
/// character (tab, newline…), raw or percent-encoded; and resolved against a base the way a
/// browser does, it must stay on that base.
fn local_path(path: &str) -> Option<&str> {
    if path.len() > MAX_LOCAL_PATH || !path.starts_with('/') {
        return None;
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    for text in [path.as_bytes(), decoded.as_slice()] {
        let suspicious = |b: &u8| b.is_ascii_control() || *b == b'\\';
        if text.iter().any(suspicious) || text.starts_with(b"//") {
            return None;
        }
    }
    let base = url::Url::parse("http://this-site.invalid/").ok()?;
    let joined = base.join(path).ok()?;
    (joined.origin() == base.origin()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::{attachment, local_path};

    #[test]
    fn downloads_name_the_file_for_old_and_new_clients_and_cannot_break_the_header() {
        assert_eq!(
            attachment("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            attachment("Café \"plan\".pdf"),
            "attachment; filename=\"Caf_ _plan_.pdf\"; filename*=UTF-8''Caf%C3%A9%20%22plan%22.pdf"
        );
        let hostile = attachment("a\r\nSet-Cookie: x=1;\\.txt");
        assert!(
            !hostile.contains(['\r', '\n']) && !hostile.contains("\\"),
            "{hostile}"
        );
        assert!(actix_web::http::header::HeaderValue::from_str(&hostile).is_ok());
    }

    #[test]
    fn an_open_redirect_through_next_is_refused_however_it_is_spelled() {
        // Each would send a browser to another site (or is not a plain path of this one).
        let hostile = [
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/%0d%0a/evil.example",
            "/\r\n/evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/%5C%5Cevil.example",
            "/%00/evil.example",
            "https://evil.example/",
            "http:/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
        ];
        for next in hostile {
            assert_eq!(local_path(next), None, "{next:?} must not be followed");
        }
        let long = format!("/{}", "a".repeat(3000));
        assert_eq!(local_path(&long), None, "too long to be a page of ours");
        // Paths of this site go through unchanged, queries and fragments included.
        for fine in [
            "/",
            "/settings",
            "/knowledge-folders/3/",
            "/admin/audit/?status=error&q=a%20b",
            "/oauth/authorize?client_id=x&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb",
            "/settings#tokens",
        ] {
            assert_eq!(
                local_path(fine),
                Some(fine),
                "{fine:?} is a page of this site"
            );
        }
    }
}
