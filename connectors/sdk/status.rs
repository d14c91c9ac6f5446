//! Mapping an upstream HTTP error response to a `ConnectorError`.
//!
//! Only a short reason is kept from the upstream body (at most 2 KiB is read, at most 200
//! characters are kept), so a huge or hostile error page never reaches a log or a user.

use std::time::{Duration, SystemTime};

use reqwest::Response;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use super::error::ConnectorError;

/// How much of an error body is read to find a reason.
const MAX_ERROR_BODY: usize = 2048;
/// How many characters of the reason are kept.
const MAX_REASON_CHARS: usize = 200;

/// Returns the response unchanged when its status is below 400, else the matching error:
/// 401 → `AuthExpired`, 403 → `PermissionDenied`, 404/410 → `NotFound`, 429 →
/// `RateLimited` (with `Retry-After`), anything else → `Upstream { status }`.
pub async fn error_for_status(response: Response) -> Result<Response, ConnectorError> {
    if response.status().as_u16() < 400 {
        Ok(response)
    } else {
        Err(error_from_response(response).await)
    }
}

/// Builds the error for an error response, reading at most 2 KiB of its body.
pub async fn error_from_response(mut response: Response) -> ConnectorError {
    let status = response.status();
    let retry_after = parse_retry_after(response.headers());
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_ERROR_BODY - body.len())])
            }
            _ => break,
        }
    }
    let message = extract_reason(&body)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("HTTP error").to_owned());
    error_for_code(status.as_u16(), message, retry_after)
}

/// The error for an upstream status code and a short reason. A 503 that says when to come
/// back (`Retry-After`) is a rate limit, not an outage.
pub fn error_for_code(
    status: u16,
    message: String,
    retry_after: Option<Duration>,
) -> ConnectorError {
    match status {
        401 => ConnectorError::AuthExpired { message },
        403 => ConnectorError::PermissionDenied { message },
        404 | 410 => ConnectorError::NotFound { message },
        429 => ConnectorError::RateLimited {
            retry_after,
            message,
        },
        503 if retry_after.is_some() => ConnectorError::RateLimited {
            retry_after,
            message,
        },
        _ => ConnectorError::Upstream { status, message },
    }
}

/// The largest JSON answer read from a service (a listing of a thousand files is about a
/// megabyte); anything bigger is refused before it fills memory.
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// Reads a successful response's JSON body as `T`; a body that does not match, or that is
/// larger than [`MAX_JSON_BODY`], is an `Upstream` error (the service answered something we
/// do not understand).
pub async fn json_body<T: serde::de::DeserializeOwned>(
    response: Response,
) -> Result<T, ConnectorError> {
    let status = response.status().as_u16();
    let body = capped_body(response, MAX_JSON_BODY).await?;
    let unexpected = |e: &dyn std::fmt::Display| ConnectorError::Upstream {
        status,
        message: format!("the service sent a response in an unexpected format ({e})"),
    };
    // The whole body is checked for UTF-8 at once, then read as text: reading bytes,
    // serde_json checks every string on its own, and for the short strings of a listing
    // (450 in a page of 50 Drive files) that was a sixth of the page's parse.
    let text = std::str::from_utf8(&body).map_err(|e| unexpected(&e))?;
    serde_json::from_str(text).map_err(|e| unexpected(&e))
}

/// A response's whole body, refused as soon as it passes `max` bytes (by its
/// `Content-Length` or as it arrives).
pub async fn capped_body(mut response: Response, max: usize) -> Result<Vec<u8>, ConnectorError> {
    let status = response.status().as_u16();
    let too_large = || ConnectorError::Upstream {
        status,
        message: format!(
            "the service sent an answer larger than {} MiB",
            max / (1024 * 1024)
        ),
    };
    let announced = response.content_length().unwrap_or(0);
    if announced > max as u64 {
        return Err(too_large());
    }
    // Room for what the service says it sends (up to 1 MiB: the length is its word only).
    let mut body = Vec::with_capacity(announced.min(1 << 20) as usize);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(ConnectorError::Transport {
                    message: format!("the response was interrupted: {}", e.without_url()),
                });
            }
        }
    }
}

/// How long a service asks us to wait: `Retry-After` as delta seconds or an HTTP date (a
/// date in the past means zero), else `X-RateLimit-Reset` (ServiceNow, GitHub and others)
/// as the epoch second the limit resets at, or as seconds from now when it is too small to
/// be a date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_header(headers).or_else(|| rate_limit_reset(headers))
}

fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Epoch seconds above this are dates (2001-09-09); below, seconds from now.
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    let value: u64 = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if value < EPOCH_THRESHOLD {
        return Some(Duration::from_secs(value));
    }
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(value);
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A short human reason from an error body: the message of common JSON error shapes, or
/// the first line of a plain-text body. HTML pages give no reason.
pub fn extract_reason(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.starts_with('<') {
        return None;
    }
    let reason = match serde_json::from_str::<Value>(text) {
        Ok(json) => json_reason(&json)?,
        // A truncated JSON body is not worth showing raw.
        Err(_) if text.starts_with('{') || text.starts_with('[') => return None,
        Err(_) => text.lines().next().unwrap_or_default().to_owned(),
    };
    let clean: String = reason
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

fn json_reason(json: &Value) -> Option<String> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let candidates = [
        json.pointer("/error/message"),
        json.get("error_description"),
        json.get("message"),
        json.get("detail"),
        json.pointer("/errors/0/message"),
        json.get("error"),
        json.get("title"),
    ];
    candidates.into_iter().flatten().find_map(text)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[tokio::test]
    async fn an_answer_larger_than_the_cap_is_refused_before_it_fills_memory() {
        use wiremock::matchers::path;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        let big = vec![b' '; 2 * 1024 * 1024];
        Mock::given(path("/big"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(big))
            .mount(&server)
            .await;
        Mock::given(path("/small"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{\"ok\":true}"))
            .mount(&server)
            .await;
        // Latin-1 where UTF-8 belongs, and UTF-8 with escapes.
        Mock::given(path("/latin1"))
            .respond_with(
                ResponseTemplate::new(200).set_body_bytes(b"{\"name\":\"caf\xe9\"}".to_vec()),
            )
            .mount(&server)
            .await;
        Mock::given(path("/utf8"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string(r#"{"name":"café \u00e9\n\ud83d\ude00"}"#),
            )
            .mount(&server)
            .await;
        crate::install_crypto_provider();
        let http = reqwest::Client::new();
        let get = |p: &str| http.get(format!("{}{p}", server.uri())).send();
        let refused = capped_body(get("/big").await.expect("big"), 1024 * 1024).await;
        assert!(
            matches!(&refused, Err(ConnectorError::Upstream { message, .. }) if message.contains("larger than 1 MiB")),
            "{refused:?}"
        );
        let fine = capped_body(get("/small").await.expect("small"), 1024 * 1024).await;
        assert_eq!(fine.expect("small is fine"), b"{\"ok\":true}");
        let parsed: Value = json_body(get("/small").await.expect("small"))
            .await
            .expect("json");
        assert_eq!(parsed["ok"], true);
        let parsed: Value = json_body(get("/utf8").await.expect("utf8"))
            .await
            .expect("json");
        assert_eq!(parsed["name"], "café é\n😀");
        let refused = json_body::<Value>(get("/latin1").await.expect("latin1")).await;
        assert!(
            matches!(&refused, Err(ConnectorError::Upstream { status: 200, message }) if message.contains("unexpected format")),
            "{refused:?}"
        );
    }

    fn headers(retry_after: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            RETRY_AFTER,
            HeaderValue::from_str(retry_after).expect("valid header"),
        );
        map
    }

    #[test]
    fn a_503_with_retry_after_is_a_rate_limit_and_without_it_an_outage() {
        let later = error_for_code(503, "busy".into(), Some(Duration::from_secs(9)));
        assert!(matches!(
            later,
            ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(9)
        ));
        let down = error_for_code(503, "down".into(), None);
        assert!(matches!(down, ConnectorError::Upstream { status: 503, .. }));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(
            parse_retry_after(&headers("120")),
            Some(Duration::from_secs(120))
        );
        let later = SystemTime::now() + Duration::from_secs(90);
        let parsed = parse_retry_after(&headers(&httpdate::fmt_http_date(later))).expect("date");
        assert!(parsed > Duration::from_secs(85) && parsed <= Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(&headers("soon")), None);
        assert_eq!(parse_retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn x_ratelimit_reset_counts_when_retry_after_is_absent() {
        let mut map = HeaderMap::new();
        let reset = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            + 40;
        map.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset.to_string()).expect("valid header"),
        );
        let wait = parse_retry_after(&map).expect("a wait");
        assert!(wait > Duration::from_secs(35) && wait <= Duration::from_secs(40));
        map.insert("x-ratelimit-reset", HeaderValue::from_static("12"));
        assert_eq!(parse_retry_after(&map), Some(Duration::from_secs(12)));
        map.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&map), Some(Duration::from_secs(3)));
        map.insert("x-ratelimit-reset", HeaderValue::from_static("1000000001"));
        map.remove(RETRY_AFTER);
        assert_eq!(parse_retry_after(&map), Some(Duration::ZERO));
    }

    #[test]
    fn reasons_come_from_common_json_error_shapes() {
        let cases = [
            (
                r#"{"error":{"code":404,"message":"File not found: abc."}}"#,
                "File not found: abc.",
            ),
            (
                r#"{"error":"invalid_grant","error_description":"Token has been revoked."}"#,
                "Token has been revoked.",
            ),
            (r#"{"error":"invalid_grant"}"#, "invalid_grant"),
            (
                r#"{"errors":[{"message":"Invalid access token"}]}"#,
                "Invalid access token",
            ),
            ("Service Unavailable\nretry later", "Service Unavailable"),
        ];
        for (body, reason) in cases {
            assert_eq!(
                extract_reason(body.as_bytes()).as_deref(),
                Some(reason),
                "{body}"
            );
        }
    }

    #[test]
    fn html_truncated_and_empty_bodies_give_no_reason() {
        assert_eq!(
            extract_reason(b"<html><body>502 Bad Gateway</body></html>"),
            None
        );
        assert_eq!(extract_reason(br#"{"error": {"message": "cut of"#), None);
        assert_eq!(extract_reason(b"   "), None);
        assert_eq!(extract_reason(br#"{"unrelated": 1}"#), None);
    }

    #[test]
    fn long_reasons_are_cut() {
        let body = format!(r#"{{"message":"{}"}}"#, "a".repeat(1000));
        assert_eq!(
            extract_reason(body.as_bytes()).map(|r| r.len()),
            Some(MAX_REASON_CHARS)
        );
    }

    #[test]
    fn status_codes_map_to_decisions() {
        let code = |status| error_for_code(status, String::new(), None).code();
        assert_eq!(code(401), "auth_expired");
        assert_eq!(code(403), "permission_denied");
        assert_eq!(code(404), "not_found");
        assert_eq!(code(429), "rate_limited");
        assert_eq!(code(400), "upstream");
        assert_eq!(code(503), "upstream");
    }
}
