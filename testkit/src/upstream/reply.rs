//! Requests in, responses out: [`Call`] (what a handler needs from a request), [`Reply`] and
//! [`finish`] — a response, content streamed in [`CHUNK_SIZE`](super::CHUNK_SIZE) chunks, paced, with a
//! [`BodyFault`] applied; one byte range of `Range` (RFC 9110) answered with 206, or 416 —
//! Drive's `alt=media` and SharePoint's download links behave alike.

use std::collections::HashMap;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::Stream;
use serde_json::Value;

use super::bookkeeping::{BodyFault, LoggedRequest, Pace};
use super::content::{Content, to_usize};

/// What the handler needs from a request; `route` is what the fake makes of its path.
pub struct Call<R> {
    pub method: Method,
    pub path: String,
    pub query: String,
    /// The query's parameters, decoded (the first of a repeated one).
    pub params: HashMap<String, String>,
    pub authorization: Option<String>,
    pub range: Option<String>,
    pub route: R,
}

impl<R> Call<R> {
    /// `route` makes the route of the path and the decoded parameters.
    pub fn of(req: &HttpRequest, route: impl FnOnce(&str, &HashMap<String, String>) -> R) -> Self {
        let mut params = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            params
                .entry(key.into_owned())
                .or_insert_with(|| value.into_owned());
        }
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            method: req.method().clone(),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            route: route(req.path(), &params),
            params,
            authorization: header(header::AUTHORIZATION),
            range: header(header::RANGE),
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// Whether parameter `name` is `true` (in any case).
    pub fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn bearer(&self) -> Option<&str> {
        let value = self.authorization.as_deref()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The log entry for this call, answered with `response`.
    pub fn logged<E>(&self, endpoint: Option<E>, response: &HttpResponse) -> LoggedRequest<E> {
        LoggedRequest {
            method: self.method.to_string(),
            path: self.path.clone(),
            query: self.query.clone(),
            authorization: self.authorization.is_some(),
            bearer: self.bearer().map(str::to_owned),
            range: self.range.clone(),
            endpoint,
            status: response.status().as_u16(),
        }
    }
}

/// A response before the body faults and pacing are applied.
pub enum Reply {
    Json(Value),
    Error(HttpResponse),
    Media {
        status: StatusCode,
        content_type: String,
        content: Content,
        start: u64,
        end: u64,
    },
}

/// `content` as a [`Reply::Media`]: all of it, the one byte range `range` (a `Range` header)
/// asks for (206), or 416 for a range past the end. Anything but one `bytes=` range is
/// ignored, as Drive and SharePoint do.
pub fn media_reply(range: Option<&str>, content_type: String, content: Content) -> Reply {
    let len = content.len();
    let (status, start, end) = match range.map(|r| parse_range(r, len)) {
        None | Some(RangeAsked::Ignored) => (StatusCode::OK, 0, len),
        Some(RangeAsked::Bytes(start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(RangeAsked::Unsatisfiable) => {
            let response = HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
                .finish();
            return Reply::Error(response);
        }
    };
    Reply::Media {
        status,
        content_type,
        content,
        start,
        end,
    }
}

/// The response for `reply`: JSON as `json_type` in one piece; media with `Accept-Ranges`,
/// `Content-Range` on a 206, streamed at `pace`; a body with `fault` streamed, cut or
/// damaged as it says.
pub fn finish(reply: Reply, fault: Option<BodyFault>, pace: Pace, json_type: &str) -> HttpResponse {
    let (status, content_type, content, start, end, paced) = match reply {
        Reply::Error(response) => return response,
        Reply::Json(value) => {
            let body = Bytes::from(value.to_string());
            let len = body.len() as u64;
            let json = json_type.to_owned();
            (StatusCode::OK, json, Content::Bytes(body), 0, len, false)
        }
        Reply::Media {
            status,
            content_type,
            content,
            start,
            end,
        } => (status, content_type, content, start, end, true),
    };
    let mut builder = HttpResponse::build(status);
    builder.insert_header((header::CONTENT_TYPE, content_type));
    if status == StatusCode::PARTIAL_CONTENT {
        let range = format!("bytes {start}-{}/{}", end - 1, content.len());
        builder.insert_header((header::CONTENT_RANGE, range));
    }
    if paced {
        builder.insert_header((header::ACCEPT_RANGES, "bytes"));
    }
    let pace = if paced { pace } else { Pace::default() };
    if fault.is_none() && !paced {
        return builder.body(content.to_bytes());
    }
    builder.insert_header((header::CONTENT_LENGTH, end - start));
    builder.streaming(body_stream(content, start, end, fault, pace))
}

/// The bytes `start..end` of `content` in chunks, paced, with `fault` applied.
fn body_stream(
    content: Content,
    start: u64,
    end: u64,
    fault: Option<BodyFault>,
    pace: Pace,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let corrupt_at = (fault == Some(BodyFault::Corrupt)).then(|| start + (end - start) / 2);
    let limit = match fault {
        Some(BodyFault::Truncate(n) | BodyFault::Stall(n)) => Some(start.saturating_add(n)),
        _ => None,
    };
    let chunk = pace.chunk_size();
    futures_util::stream::unfold(Some(start), move |position| {
        let content = content.clone();
        async move {
            let position = position?;
            if limit.is_some_and(|limit| position >= limit && position < end) {
                if let Some(BodyFault::Stall(_)) = fault {
                    futures_util::future::pending::<()>().await;
                }
                let cut = std::io::Error::other("fake upstream: connection cut (Fault::Truncate)");
                return Some((Err(cut), None));
            }
            if position >= end {
                return None;
            }
            let stop = limit.map_or(end, |l| l.min(end));
            let len = to_usize((stop - position).min(chunk as u64));
            let delay = pace.delay(len);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut bytes = content.read(position, len);
            if let Some(at) = corrupt_at.filter(|at| (position..position + len as u64).contains(at))
            {
                let mut owned = bytes.to_vec();
                owned[to_usize(at - position)] ^= 0xFF;
                bytes = Bytes::from(owned);
            }
            Some((Ok(bytes), Some(position + len as u64)))
        }
    })
}

/// Adds `Retry-After: <seconds>`, when a fault asks for it.
pub fn set_retry_after(response: &mut HttpResponse, seconds: Option<u64>) {
    if let Some(seconds) = seconds {
        let value = header::HeaderValue::from(seconds);
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// A `Range` header, for a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeAsked {
    /// Not one byte range: serve everything.
    Ignored,
    /// `start..end`.
    Bytes(u64, u64),
    /// 416.
    Unsatisfiable,
}

fn parse_range(header: &str, len: u64) -> RangeAsked {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAsked::Ignored;
    };
    if spec.contains(',') {
        return RangeAsked::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsked::Ignored;
    };
    let (start, end) = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(last)) if last >= start => (start, last.saturating_add(1).min(len)),
        (Ok(start), Err(_)) if last.is_empty() => (start, len),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => (len.saturating_sub(suffix), len),
        _ => return RangeAsked::Ignored,
    };
    if start >= len {
        RangeAsked::Unsatisfiable
    } else {
        RangeAsked::Bytes(start, end)
    }
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
