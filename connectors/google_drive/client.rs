//! The Drive v3 calls the actions make, and Drive's error model.
//!
//! Every request goes through [`DriveClient::send`], which does what
//! `ActionContext::send_authorized` does (one refresh and one retry on a 401) but maps
//! errors itself: Drive answers several different things with 403 and only the body's
//! `errors[0].reason` tells them apart — `userRateLimitExceeded` / `rateLimitExceeded`
//! mean "back off and retry" (Google asks for exponential backoff, as for 429), while
//! `insufficientPermissions` means the grant lacks a scope and retrying cannot help.
//! The generic mapping would call all of them `PermissionDenied`.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use url::Url;

use super::wire::{self, ErrorInfo};
use crate::sdk::status::{extract_reason, json_body, parse_retry_after};
use crate::{ActionContext, ConnectorError, Credentials, keys};

/// How much of an error body is read.
const MAX_ERROR_BODY: usize = 4096;
/// Total time allowed for one media download or export (the shared client's request
/// timeout is meant for API calls and would cut a large download short).
const MEDIA_TIMEOUT: Duration = Duration::from_secs(6 * 60 * 60);
/// Time allowed until a media response's headers arrive, retries included.
const MEDIA_HEADERS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Drive v3 over the action's HTTP client and credentials.
pub struct DriveClient<'a> {
    ctx: &'a ActionContext,
    /// `{API_BASE_URL}/drive/v3/`.
    base: Url,
}

/// Which collection `files.list` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corpus<'a> {
    /// Let the query decide (Drive's default: the user's files, or a folder's children).
    Default,
    /// One shared drive (`corpora=drive&driveId=…`).
    SharedDrive(&'a str),
    /// My Drive, shared with me and every shared drive the user is a member of.
    AllDrives,
}

/// One `files.list` request.
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    /// The `q` filter.
    pub q: &'a str,
    /// The collection searched.
    pub corpus: Corpus<'a>,
    /// `orderBy`, if any.
    pub order_by: Option<&'a str>,
    /// `pageSize` (1–1000).
    pub page_size: u32,
    /// `pageToken` of a previous page.
    pub page_token: Option<&'a str>,
}

/// A failed response, and whether Google asks to retry it with backoff.
struct Failure {
    error: ConnectorError,
    back_off: bool,
}

impl<'a> DriveClient<'a> {
    /// A client for the context's `API_BASE_URL`.
    pub fn new(ctx: &'a ActionContext) -> Result<Self, ConnectorError> {
        let mut base = ctx.settings.url(keys::API_BASE_URL)?;
        if base.cannot_be_a_base() {
            return Err(ConnectorError::misconfigured(
                "`API_BASE_URL` of connector `google-drive` cannot be a base URL",
            ));
        }
        base.set_query(None);
        base.set_fragment(None);
        if let Ok(mut segments) = base.path_segments_mut() {
            segments.pop_if_empty().extend(["drive", "v3", ""]);
        }
        Ok(Self { ctx, base })
    }

    /// `{base}/drive/v3/{segments…}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// `files.get`: one file's metadata.
    pub async fn get_file(&self, id: &str, fields: &str) -> Result<wire::File, ConnectorError> {
        let url = self.url(&["files", id]);
        let query = [("fields", fields), ("supportsAllDrives", "true")];
        let response = self
            .send(|| self.ctx.http.get(url.clone()).query(&query))
            .await?;
        json_body(response).await
    }

    /// `files.list`: one page.
    pub async fn list_files(
        &self,
        request: &ListRequest<'_>,
    ) -> Result<wire::FileList, ConnectorError> {
        let url = self.url(&["files"]);
        let page_size = request.page_size.to_string();
        let mut query = vec![
            ("q", request.q),
            ("fields", wire::FILE_LIST_FIELDS),
            ("pageSize", page_size.as_str()),
            ("supportsAllDrives", "true"),
            ("includeItemsFromAllDrives", "true"),
        ];
        match request.corpus {
            Corpus::Default => {}
            Corpus::SharedDrive(drive_id) => {
                query.extend([("corpora", "drive"), ("driveId", drive_id)]);
            }
            Corpus::AllDrives => query.push(("corpora", "allDrives")),
        }
        if let Some(order_by) = request.order_by {
            query.push(("orderBy", order_by));
        }
        if let Some(token) = request.page_token {
            query.push(("pageToken", token));
        }
        let response = self
            .send(|| self.ctx.http.get(url.clone()).query(&query))
            .await?;
        json_body(response).await
    }

    /// `drives.list`: one page of the user's shared drives.
    pub async fn list_drives(
        &self,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<wire::DriveList, ConnectorError> {
        let url = self.url(&["drives"]);
        let page_size = page_size.to_string();
        let mut query = vec![
            ("fields", wire::DRIVE_LIST_FIELDS),
            ("pageSize", page_size.as_str()),
        ];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        let response = self
            .send(|| self.ctx.http.get(url.clone()).query(&query))
            .await?;
        json_body(response).await
    }

    /// `drives.get`: one shared drive.
    pub async fn get_drive(&self, id: &str) -> Result<wire::Drive, ConnectorError> {
        let url = self.url(&["drives", id]);
        let query = [("fields", wire::DRIVE_FIELDS)];
        let response = self
            .send(|| self.ctx.http.get(url.clone()).query(&query))
            .await?;
        json_body(response).await
    }

    /// `about.get`: the signed-in user.
    pub async fn about(&self) -> Result<wire::About, ConnectorError> {
        let url = self.url(&["about"]);
        let query = [("fields", wire::ABOUT_FIELDS)];
        let response = self
            .send(|| self.ctx.http.get(url.clone()).query(&query))
            .await?;
        json_body(response).await
    }

    /// `files.get?alt=media`: a binary file's content, as a stream.
    pub async fn media(&self, id: &str) -> Result<Response, ConnectorError> {
        let url = self.url(&["files", id]);
        let query = [("alt", "media"), ("supportsAllDrives", "true")];
        self.send_media(|| self.ctx.http.get(url.clone()).query(&query))
            .await
    }

    /// `files.export`: a Google-native file converted to `mime_type`, as a stream.
    pub async fn export(&self, id: &str, mime_type: &str) -> Result<Response, ConnectorError> {
        let url = self.url(&["files", id, "export"]);
        let query = [("mimeType", mime_type)];
        self.send_media(|| self.ctx.http.get(url.clone()).query(&query))
            .await
    }

    async fn send_media<F>(&self, build: F) -> Result<Response, ConnectorError>
    where
        F: Fn() -> RequestBuilder + Send + Sync,
    {
        let with_timeout = || build().timeout(MEDIA_TIMEOUT);
        tokio::time::timeout(MEDIA_HEADERS_TIMEOUT, self.send(with_timeout))
            .await
            .map_err(|_| ConnectorError::Transport {
                message: "Google Drive did not start sending the file in time".to_owned(),
            })?
    }

    /// Sends the request `build` makes with the current access token.
    ///
    /// - 401: refreshes the credentials once through the token updater and sends again; a
    ///   second 401 (or none to refresh with) is `AuthExpired`.
    /// - 403 `userRateLimitExceeded` / `rateLimitExceeded`: retried with the client's retry
    ///   policy (honouring `Retry-After`), then `RateLimited`. 429 and 5xx are retried by
    ///   the `HttpClient` itself.
    /// - anything else ≥ 400: mapped by [`error_for`].
    async fn send<F>(&self, build: F) -> Result<Response, ConnectorError>
    where
        F: Fn() -> RequestBuilder + Send + Sync,
    {
        let authorized = |credentials: &Credentials| match credentials.access_token() {
            Some(token) => build().bearer_auth(token),
            None => build(),
        };
        let policy = self.ctx.http.retry_policy();
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            let credentials = self.ctx.current_credentials();
            let response = self.ctx.http.send(authorized(&credentials)).await?;
            let status = response.status();
            if status.as_u16() < 400 {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed && self.ctx.token_updater.is_some()
            {
                drop(response);
                self.ctx.refresh_credentials(&credentials).await?;
                refreshed = true;
                continue;
            }
            let Failure { error, back_off } = failure_of(response).await;
            let wait = error.retry_after();
            if !back_off
                || attempt >= policy.max_retries
                || wait.is_some_and(|wait| wait > policy.max_delay)
            {
                return Err(error);
            }
            let delay = wait.unwrap_or_else(|| policy.backoff(attempt));
            attempt += 1;
            tracing::info!(
                connector.slug = self.ctx.settings.slug(),
                retry.attempt = attempt,
                retry.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "Google Drive rate limit: backing off"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

async fn failure_of(mut response: Response) -> Failure {
    let status = response.status().as_u16();
    let retry_after = parse_retry_after(response.headers());
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_ERROR_BODY - body.len())]);
            }
            _ => break,
        }
    }
    let message = extract_reason(&body).unwrap_or_else(|| {
        StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("HTTP error")
            .to_owned()
    });
    let info = ErrorInfo::parse(&body);
    let back_off = status == 403
        && matches!(
            info.reason.as_deref(),
            Some("userRateLimitExceeded" | "rateLimitExceeded")
        );
    Failure {
        error: error_for(status, &info, message, retry_after),
        back_off,
    }
}

/// The `ConnectorError` for a Drive error response.
pub fn error_for(
    status: u16,
    info: &ErrorInfo,
    message: String,
    retry_after: Option<Duration>,
) -> ConnectorError {
    let reason = info.reason.as_deref().unwrap_or_default();
    match (status, reason) {
        (401, _) => ConnectorError::AuthExpired { message },
        (
            403,
            "userRateLimitExceeded"
            | "rateLimitExceeded"
            | "dailyLimitExceeded"
            | "downloadQuotaExceeded",
        )
        | (429, _) => ConnectorError::RateLimited {
            retry_after,
            message,
        },
        (403, "exportSizeLimitExceeded") => ConnectorError::Unsupported {
            message: "the file is too large to export: Google exports at most 10 MB. \
                      Download it from Google Drive in the format you need instead"
                .to_owned(),
        },
        (403, "insufficientPermissions") => ConnectorError::PermissionDenied {
            message: "the connection was not granted read access to Google Drive; \
                      reconnect and allow access to your files"
                .to_owned(),
        },
        (403, "cannotDownloadAbusiveFile") => ConnectorError::PermissionDenied {
            message: "Google flagged this file as malware or spam; only its owner can \
                      download it"
                .to_owned(),
        },
        (403, _) => ConnectorError::PermissionDenied { message },
        (404 | 410, _) => ConnectorError::NotFound { message },
        (400, _) if info.location.as_deref() == Some("pageToken") => ConnectorError::invalid_field(
            "page_token",
            "`page_token`: the page token is invalid or has expired; start from the first page",
        ),
        (400, _) if message.contains("conversion") => ConnectorError::Unsupported { message },
        _ => ConnectorError::Upstream { status, message },
    }
}

/// A `q` string literal: single quotes around `value`, with `\` and `'` escaped.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(reason: &str) -> ErrorInfo {
        ErrorInfo {
            reason: Some(reason.to_owned()),
            location: None,
        }
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_in_queries() {
        assert_eq!(quote("Valentine's Day"), r"'Valentine\'s Day'");
        assert_eq!(quote(r"C:\temp"), r"'C:\\temp'");
        assert_eq!(quote(r"a\'b"), r"'a\\\'b'");
    }

    #[test]
    fn rate_limit_reasons_are_retryable_and_permission_reasons_are_not() {
        let wait = Some(Duration::from_secs(3));
        for r in ["userRateLimitExceeded", "rateLimitExceeded"] {
            let error = error_for(403, &reason(r), "slow down".into(), wait);
            assert!(error.is_retryable(), "{r}");
            assert_eq!(error.retry_after(), wait);
        }
        let error = error_for(403, &reason("insufficientPermissions"), "no".into(), None);
        assert_eq!(error.code(), "permission_denied");
        assert!(!error.is_retryable());
        let error = error_for(403, &reason("forbidden"), "no".into(), None);
        assert_eq!(error.code(), "permission_denied");
        let error = error_for(429, &ErrorInfo::default(), "busy".into(), None);
        assert_eq!(error.code(), "rate_limited");
    }

    #[test]
    fn other_statuses_map_to_their_decisions() {
        let none = ErrorInfo::default();
        assert_eq!(
            error_for(401, &none, "x".into(), None).code(),
            "auth_expired"
        );
        assert_eq!(error_for(404, &none, "x".into(), None).code(), "not_found");
        assert_eq!(error_for(500, &none, "x".into(), None).code(), "upstream");
        let export = error_for(403, &reason("exportSizeLimitExceeded"), "x".into(), None);
        assert_eq!(export.code(), "unsupported");
        assert!(export.to_string().contains("10 MB"));
        let token = ErrorInfo {
            reason: Some("invalid".into()),
            location: Some("pageToken".into()),
        };
        assert!(matches!(
            error_for(400, &token, "Invalid Value".into(), None),
            ConnectorError::InvalidInput { field: Some(f), .. } if f == "page_token"
        ));
    }
}
