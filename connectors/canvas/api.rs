//! Talking to a Canvas instance: URLs under `{API_BASE_URL}/api/v1`, `Link`-header paging
//! kept on the instance, and the error rules Canvas needs beyond the shared client's:
//!
//! - **Two kinds of 401.** Canvas answers 401 both for a bad or expired token and for a
//!   user who may not see a thing (a course they are not enrolled in). Only the first
//!   carries `WWW-Authenticate`; it gets the usual single refresh (then Reconnect). One
//!   without it is "no access": the connection stays active.
//! - **Two kinds of throttling.** Newer instances answer 429, which the shared client
//!   retries; older ones answer `403 Forbidden (Rate Limit Exceeded)`, retried here the same
//!   way. Both end as `RateLimited` ("try again"), never as "no access".
//! - **Downloads** follow Canvas's redirect to its file store (another host) without the
//!   `Authorization` header: the redirect is not followed by the client, and the `Location`
//!   is fetched as a new request without credentials.

use std::time::Duration;

use reqwest::header::{LINK, LOCATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::sdk::status::{error_for_status, json_body};
use crate::{ActionContext, ConnectorError, Credentials, HttpClient, keys};

/// Entries per page asked of Canvas (its maximum).
pub const PER_PAGE: &str = "100";

/// Time allowed for a whole download (stalls are caught by the idle timeout).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(4 * 60 * 60);

/// How much of a 403 body is read to tell throttling from a refusal.
const MAX_403_BODY: usize = 1024;

/// A page of a Canvas list and the link to the next one.
#[derive(Debug)]
pub struct Page<T> {
    /// The entries.
    pub items: Vec<T>,
    /// The `rel="next"` link, checked to be on the instance.
    pub next: Option<String>,
}

/// Canvas requests for one action.
pub struct Canvas<'a> {
    ctx: &'a ActionContext,
    /// `API_BASE_URL`.
    base: Url,
}

impl<'a> Canvas<'a> {
    /// Reads `API_BASE_URL`: an `http(s)` URL without query, user or fragment.
    pub fn new(ctx: &'a ActionContext) -> Result<Self, ConnectorError> {
        let base = ctx.settings.url(keys::API_BASE_URL)?;
        let plain = matches!(base.scheme(), "https" | "http")
            && base.host_str().is_some()
            && base.username().is_empty()
            && base.password().is_none()
            && base.query().is_none()
            && base.fragment().is_none();
        if !plain {
            return Err(ConnectorError::misconfigured(
                "`API_BASE_URL` of connector `canvas` must be the instance's address, such as \
                 https://canvas.example.edu",
            ));
        }
        Ok(Self { ctx, base })
    }

    /// `{API_BASE_URL}/api/v1{path}?{query}`; `path` segments must already be safe (ids are
    /// numbers or checked slugs).
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let mut url = self.instance_url(&format!("/api/v1{path}"))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// A list URL: `url` with `per_page=100`.
    pub fn list_url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let mut url = self.url(path, query)?;
        url.query_pairs_mut().append_pair("per_page", PER_PAGE);
        Ok(url)
    }

    /// Course HTML from this instance, sanitized, with its plain text.
    pub fn rich_text(&self, raw: &str) -> crate::RichText {
        crate::RichText::from_html(raw, &self.base)
    }

    /// A page of the instance's web interface (`/courses/12/pages/intro`), for links.
    pub fn web_link(&self, path: &str) -> Option<String> {
        self.instance_url(path).ok().map(String::from)
    }

    fn instance_url(&self, path: &str) -> Result<Url, ConnectorError> {
        let raw = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&raw).map_err(|e| {
            ConnectorError::misconfigured(format!(
                "cannot build a Canvas URL from API_BASE_URL: {e}"
            ))
        })
    }

    /// Whether `url` is on the instance: same scheme, host and port, no credentials.
    pub fn on_instance(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
    }

    /// Whether `url` is an API URL of the instance (`…/api/v1/…`).
    fn is_api_link(&self, url: &Url) -> bool {
        let prefix = format!("{}/api/v1/", self.base.path().trim_end_matches('/'));
        self.on_instance(url) && url.path().starts_with(&prefix) && url.fragment().is_none()
    }

    /// A `page_token` from the caller as the URL to fetch: it must be a Canvas API URL on
    /// the instance, so a token can never send the user's access token elsewhere.
    pub fn page_url(&self, token: &str) -> Result<Url, ConnectorError> {
        Url::parse(token.trim())
            .ok()
            .filter(|url| self.is_api_link(url))
            .ok_or_else(|| {
                ConnectorError::invalid_field(
                    "page_token",
                    "`page_token`: not a next page token from this connector",
                )
            })
    }

    /// GETs `url` and reads the JSON body.
    pub async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, ConnectorError> {
        let response = self
            .send(&self.ctx.http, || self.ctx.http.get(url.clone()))
            .await?;
        json_body(response).await
    }

    /// GETs one page of a list and its `rel="next"` link (which must stay on the instance).
    pub async fn get_page<T: DeserializeOwned>(&self, url: Url) -> Result<Page<T>, ConnectorError> {
        let response = self
            .send(&self.ctx.http, || self.ctx.http.get(url.clone()))
            .await?;
        let next = next_link(response.headers().get_all(LINK).iter());
        let next = match next {
            None => None,
            Some(link) => match Url::parse(&link) {
                Ok(url) if self.is_api_link(&url) => Some(link),
                _ => {
                    return Err(ConnectorError::Upstream {
                        status: 200,
                        message: "Canvas sent a next-page link outside the instance's API"
                            .to_owned(),
                    });
                }
            },
        };
        let items = json_body(response).await?;
        Ok(Page { items, next })
    }

    /// Every page of a list, up to `max_pages` (for short lists such as a course's folders).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        first: Url,
        max_pages: usize,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut items = Vec::new();
        let mut url = Some(first);
        for _ in 0..max_pages {
            let Some(current) = url.take() else { break };
            let page = self.get_page::<T>(current).await?;
            items.extend(page.items);
            url = page.next.and_then(|next| Url::parse(&next).ok());
        }
        Ok(items)
    }

    /// Opens a file's content from its `url`: on the instance, with the bearer token and
    /// without following redirects; Canvas's `302` to its file store is then fetched as a new
    /// request, without `Authorization`. A `url` off the instance (already a file-store link)
    /// is fetched without credentials.
    pub async fn open_download(&self, url: Url) -> Result<Response, ConnectorError> {
        if !self.on_instance(&url) {
            return self.fetch_from_store(url).await;
        }
        let no_redirects = self.ctx.http.token_endpoint_client();
        let response = self
            .send(&no_redirects, || {
                no_redirects.get(url.clone()).timeout(DOWNLOAD_TIMEOUT)
            })
            .await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| response.url().join(v).ok())
            .filter(|_| status.is_redirection());
        drop(response);
        match location {
            Some(location) => self.fetch_from_store(location).await,
            None => Err(ConnectorError::Upstream {
                status: status.as_u16(),
                message: "Canvas answered the download without the file".to_owned(),
            }),
        }
    }

    /// GETs a file-store link without credentials (it carries its own signature).
    async fn fetch_from_store(&self, url: Url) -> Result<Response, ConnectorError> {
        // Plain HTTP only where the instance itself is plain HTTP (a local fake in tests).
        if url.scheme() != "https" && url.scheme() != self.base.scheme() {
            return Err(ConnectorError::Upstream {
                status: 302,
                message: "Canvas sent a download link that is not HTTPS".to_owned(),
            });
        }
        let request = self.ctx.http.get(url).timeout(DOWNLOAD_TIMEOUT);
        self.ctx
            .http
            .send_checked(request)
            .await
            .map_err(|error| match error {
                // The link is signed and short-lived: a refusal means it lapsed, not that the
                // user must reconnect.
                ConnectorError::AuthExpired { .. } | ConnectorError::PermissionDenied { .. } => {
                    ConnectorError::Upstream {
                        status: 403,
                        message: "the file store refused the download link; try again".to_owned(),
                    }
                }
                other => other,
            })
    }

    /// Sends the request `build` makes with the bearer token, applying Canvas's 401 and
    /// 403 rules (see the module docs). 429 and 5xx are retried by `http` itself.
    async fn send<F>(&self, http: &HttpClient, build: F) -> Result<Response, ConnectorError>
    where
        F: Fn() -> RequestBuilder,
    {
        let mut credentials = self.ctx.current_credentials();
        let mut refreshed = false;
        let mut throttled = 0u32;
        let retry = http.retry_policy();
        loop {
            let response = http.send(authorize(build(), &credentials)).await?;
            match response.status() {
                StatusCode::UNAUTHORIZED if response.headers().contains_key(WWW_AUTHENTICATE) => {
                    if refreshed || self.ctx.token_updater.is_none() {
                        return error_for_status(response).await;
                    }
                    drop(response);
                    credentials = self.ctx.refresh_credentials(&credentials).await?;
                    refreshed = true;
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(ConnectorError::PermissionDenied {
                        message: "Canvas does not let this account see that (not enrolled in \
                                  the course, or not visible to students)"
                            .to_owned(),
                    });
                }
                StatusCode::FORBIDDEN => {
                    let body = read_prefix(response, MAX_403_BODY).await;
                    if !body.contains("Rate Limit Exceeded") {
                        let message = crate::sdk::status::extract_reason(body.as_bytes())
                            .unwrap_or_else(|| "Canvas refused the request".to_owned());
                        return Err(ConnectorError::PermissionDenied { message });
                    }
                    if throttled >= retry.max_retries {
                        return Err(ConnectorError::RateLimited {
                            retry_after: None,
                            message: "Canvas is throttling requests (403 Rate Limit Exceeded)"
                                .to_owned(),
                        });
                    }
                    let delay = retry.backoff(throttled);
                    throttled += 1;
                    tracing::info!(
                        connector.slug = "canvas",
                        retry.attempt = throttled,
                        retry.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "throttled by Canvas (403); retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                _ => return error_for_status(response).await,
            }
        }
    }
}

/// Adds the bearer token; without one Canvas answers 401 and the refresh path takes over.
fn authorize(request: RequestBuilder, credentials: &Credentials) -> RequestBuilder {
    match credentials.access_token() {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Up to `limit` bytes of a body, as text.
async fn read_prefix(mut response: Response, limit: usize) -> String {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())])
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The `rel="next"` target of `Link` headers (`<url>; rel="next", <url>; rel="last"`).
pub fn next_link<'h>(
    values: impl Iterator<Item = &'h reqwest::header::HeaderValue>,
) -> Option<String> {
    values
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|part| {
            let (target, params) = part.trim().split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            let is_next = params.split(';').any(|param| {
                let Some((name, value)) = param.trim().split_once('=') else {
                    return false;
                };
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            is_next.then(|| target.to_owned())
        })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn next_link_reads_the_rel_next_target_among_the_others() {
        let header = HeaderValue::from_static(
            "<https://c.example.edu/api/v1/courses?page=1&per_page=100>; rel=\"current\",\
             <https://c.example.edu/api/v1/courses?page=2&per_page=100>; rel=\"next\",\
             <https://c.example.edu/api/v1/courses?page=1&per_page=100>; rel=\"first\"",
        );
        assert_eq!(
            next_link(std::iter::once(&header)).as_deref(),
            Some("https://c.example.edu/api/v1/courses?page=2&per_page=100")
        );
        let last_page = HeaderValue::from_static(
            "<https://c.example.edu/api/v1/courses?page=1>; rel=\"first\"",
        );
        assert_eq!(next_link(std::iter::once(&last_page)), None);
        let two_headers = [
            HeaderValue::from_static("<https://c.example.edu/a>; rel=\"prev\""),
            HeaderValue::from_static("<https://c.example.edu/b>; REL=next"),
        ];
        assert_eq!(
            next_link(two_headers.iter()).as_deref(),
            Some("https://c.example.edu/b")
        );
    }
}
