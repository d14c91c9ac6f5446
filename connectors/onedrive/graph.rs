//! Talking to Microsoft Graph: how item ids address items (`ItemRef`), the request URLs,
//! `@odata.nextLink` paging links (kept on the API host), authorized GETs with one refresh
//! on a 401, and the two-step `/content` download.
//!
//! Ids. An item is unique only within its drive, and items shared with the user live in
//! other people's drives, so an entry's id is `{driveId}:{itemId}` and is addressed as
//! `/drives/{driveId}/items/{itemId}`. Graph drive ids (`b!…` base64url on OneDrive for
//! Business and SharePoint, hex on OneDrive Personal) never contain `:`; item ids may
//! contain `!`, which is why `!` is not the separator. An id without `:` is an item of the
//! user's own drive (`/me/drive/items/{id}`), and two virtual folders exist: `root` (My
//! files) and `shared-with-me`.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::LOCATION;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;
use url::Url;

use super::connector::check_tenant;
use crate::sdk::ssrf::resolve_checked_for;
use crate::sdk::status::json_body;
use crate::{ActionContext, AllowList, ConnectorError, Credentials, HttpClient, keys};

/// Virtual folder: the root of the user's own drive ("My files").
pub const ROOT_ID: &str = "root";
/// Virtual folder: the items other people shared with the user.
pub const SHARED_ID: &str = "shared-with-me";
/// Longest id accepted.
pub const MAX_ID_LEN: usize = 1024;

/// Time allowed for a whole download: the client's 60-second request timeout would cut off
/// any large file; stalls are caught by [`crate::DOWNLOAD_IDLE_TIMEOUT`].
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(4 * 60 * 60);

/// Characters escaped in the `q` of `search(q='…')`: everything but unreserved characters
/// and the (doubled) single quote, which OData reads after percent-decoding.
const SEARCH_TERM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'\'');

/// What an id from the caller points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRef {
    /// `root`: the user's own drive's root folder.
    MyRoot,
    /// `shared-with-me`: the virtual folder of items shared with the user.
    SharedWithMe,
    /// An item of the user's own drive, by item id alone.
    MyItem(String),
    /// An item in a given drive.
    InDrive {
        /// The drive's id.
        drive_id: String,
        /// The item's id within the drive.
        item_id: String,
    },
}

impl ItemRef {
    /// An item in `drive_id`.
    pub fn in_drive(drive_id: &str, item_id: &str) -> Self {
        Self::InDrive {
            drive_id: drive_id.to_owned(),
            item_id: item_id.to_owned(),
        }
    }

    /// Parses an id the caller sent in `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ConnectorError> {
        let raw = raw.trim();
        match raw {
            ROOT_ID => return Ok(Self::MyRoot),
            SHARED_ID => return Ok(Self::SharedWithMe),
            _ => {}
        }
        let invalid = || {
            ConnectorError::invalid_field(
                field,
                format!(
                    "`{field}`: not a OneDrive item id (expected `root`, `shared-with-me` or an \
                     `id` from `list_files`)"
                ),
            )
        };
        if raw.len() > MAX_ID_LEN {
            return Err(invalid());
        }
        match raw.split_once(':') {
            Some((drive, item)) if is_id_part(drive) && is_id_part(item) => {
                Ok(Self::in_drive(drive, item))
            }
            None if is_id_part(raw) => Ok(Self::MyItem(raw.to_owned())),
            _ => Err(invalid()),
        }
    }

    /// The id to hand back to callers.
    pub fn to_id(&self) -> String {
        match self {
            Self::MyRoot => ROOT_ID.to_owned(),
            Self::SharedWithMe => SHARED_ID.to_owned(),
            Self::MyItem(id) => id.clone(),
            Self::InDrive { drive_id, item_id } => compose_id(drive_id, item_id),
        }
    }

    /// The Graph path of the item (after `/v1.0`); `None` for `shared-with-me`, which is a
    /// listing, not an item.
    pub fn item_path(&self) -> Option<String> {
        match self {
            Self::MyRoot => Some("/me/drive/root".to_owned()),
            Self::SharedWithMe => None,
            Self::MyItem(id) => Some(format!("/me/drive/items/{id}")),
            Self::InDrive { drive_id, item_id } => {
                Some(format!("/drives/{drive_id}/items/{item_id}"))
            }
        }
    }

    /// The drive the item is in, when the id says.
    pub fn drive_id(&self) -> Option<&str> {
        match self {
            Self::InDrive { drive_id, .. } => Some(drive_id),
            _ => None,
        }
    }
}

/// `{driveId}:{itemId}`.
pub fn compose_id(drive_id: &str, item_id: &str) -> String {
    format!("{drive_id}:{item_id}")
}

/// Drive and item ids are ASCII letters, digits and `!-_.~=+` (so they go into a URL path
/// unescaped); a part made only of dots would be a `..` path segment.
fn is_id_part(part: &str) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!-_.~=+".contains(c))
        && !part.chars().all(|c| c == '.')
}

/// The `search(q='…')` function segment for `term`: single quotes doubled (OData string
/// literal), then percent-encoded.
pub fn search_segment(term: &str) -> String {
    let literal = term.replace('\'', "''");
    format!("search(q='{}')", utf8_percent_encode(&literal, SEARCH_TERM))
}

/// Graph requests for one action.
pub struct Graph<'a> {
    ctx: &'a ActionContext,
    /// `API_BASE_URL`, without trailing slash.
    base: Url,
}

impl<'a> Graph<'a> {
    /// Checks the connector configuration and reads `API_BASE_URL`.
    pub fn new(ctx: &'a ActionContext) -> Result<Self, ConnectorError> {
        check_tenant(&ctx.settings)?;
        let base = ctx.settings.url(keys::API_BASE_URL)?;
        Ok(Self { ctx, base })
    }

    /// `{API_BASE_URL}/v1.0{path_and_query}`; the path must already be escaped.
    pub fn url(&self, path_and_query: &str) -> Result<Url, ConnectorError> {
        let raw = format!(
            "{}/v1.0{path_and_query}",
            self.base.as_str().trim_end_matches('/')
        );
        Url::parse(&raw).map_err(|e| {
            ConnectorError::misconfigured(format!(
                "cannot build a Graph URL from API_BASE_URL: {e}"
            ))
        })
    }

    /// A `page_token` from the caller as the URL to fetch: it must be a Graph drive URL on
    /// the API host, so a token can never send the user's access token elsewhere.
    pub fn next_page(&self, token: &str) -> Result<Url, ConnectorError> {
        Url::parse(token.trim())
            .ok()
            .filter(|url| self.is_drive_link(url))
            .ok_or_else(|| {
                ConnectorError::invalid_field(
                    "page_token",
                    "`page_token`: not a next page token from this connector",
                )
            })
    }

    /// The `@odata.nextLink` of a page, as the next page token; a link off the API host is
    /// an upstream fault, reported rather than handed out.
    pub fn next_page_token(&self, link: Option<String>) -> Result<Option<String>, ConnectorError> {
        let Some(link) = link.filter(|l| !l.trim().is_empty()) else {
            return Ok(None);
        };
        match Url::parse(&link) {
            Ok(url) if self.is_drive_link(&url) => Ok(Some(link)),
            _ => Err(ConnectorError::Upstream {
                status: 200,
                message: "the service sent a next-page link outside the Microsoft Graph API"
                    .to_owned(),
            }),
        }
    }

    /// Same scheme, host and port as `API_BASE_URL`, no credentials, under
    /// `{base path}/v1.0/`, and about drives (`…/drive/…` or `…/drives/…`).
    fn is_drive_link(&self, url: &Url) -> bool {
        let base = &self.base;
        let prefix = format!("{}/v1.0/", base.path().trim_end_matches('/'));
        let same_origin = url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default();
        let about_drives = url.path().strip_prefix(&prefix).is_some_and(|rest| {
            rest.split('/')
                .any(|segment| segment == "drive" || segment == "drives")
        });
        same_origin
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none()
            && about_drives
    }

    /// GETs `url` with the bearer token (refreshed once on a 401) and reads the JSON body.
    pub async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, ConnectorError> {
        let response = self
            .ctx
            .send_authorized(|credentials| authorize(self.ctx.http.get(url.clone()), credentials))
            .await
            .map_err(throttled)?;
        json_body(response).await
    }

    /// Opens the content of the item at `item_path`: `GET …/content` answers 302 with a
    /// short-lived pre-authenticated URL on another host, fetched here without the
    /// `Authorization` header (the redirect is not followed by the client, so the bearer
    /// token never leaves the API host) through the SSRF-checked, pinned client of
    /// [`Graph::download_client`]. A 200 is streamed as it is.
    pub async fn open_content(&self, item_path: &str) -> Result<Response, ConnectorError> {
        let url = self.url(&format!("{item_path}/content"))?;
        let no_redirects = self.ctx.http.token_endpoint_client();
        let response = self
            .ctx
            .send_authorized(|credentials| {
                authorize(no_redirects.get(url.clone()), credentials).timeout(DOWNLOAD_TIMEOUT)
            })
            .await
            .map_err(throttled)?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| response.url().join(v).ok())
            .filter(|_| response.status().is_redirection());
        let Some(location) = location else {
            return Err(ConnectorError::Upstream {
                status,
                message: "the service answered the download without a download link".to_owned(),
            });
        };
        // Plain HTTP only where the API itself is plain HTTP (a local fake in tests).
        if location.scheme() != "https" && location.scheme() != self.base.scheme() {
            return Err(ConnectorError::Upstream {
                status,
                message: "the service sent a download link that is not HTTPS".to_owned(),
            });
        }
        drop(response);
        let http = self.download_client(&location, status).await?;
        let request = http.get(location).timeout(DOWNLOAD_TIMEOUT);
        let download =
            http.send_checked(request)
                .await
                .map_err(|error| match error {
                    // The link carries its own short-lived authorization: a refusal means it
                    // expired or was revoked, not that the user must reconnect.
                    ConnectorError::AuthExpired { .. }
                    | ConnectorError::PermissionDenied { .. } => ConnectorError::Upstream {
                        status: 403,
                        message: "the download link was refused; try again".to_owned(),
                    },
                    other => throttled(other),
                })?;
        if download.status().is_redirection() {
            // Not followed: it could lead anywhere, past the check of the link's host.
            return Err(ConnectorError::Upstream {
                status: download.status().as_u16(),
                message: "the download link redirected again; that is not followed".to_owned(),
            });
        }
        Ok(download)
    }
}

impl Graph<'_> {
    /// The client that fetches a download link. The link names a host the API chose, so it
    /// is treated like a host a user typed: it must pass the SSRF guard (`ALLOWED_HOSTS`
    /// exempts), and the download connects only to the addresses checked, following no
    /// further redirect. The API's own host (`API_BASE_URL`, an administrator's choice, as
    /// a local fake uses) is reached as the API is, also without following redirects.
    async fn download_client(&self, link: &Url, status: u16) -> Result<HttpClient, ConnectorError> {
        let port = link.port_or_known_default();
        if link.host() == self.base.host() && port == self.base.port_or_known_default() {
            return Ok(self.ctx.http.token_endpoint_client());
        }
        let refused = |why: String| ConnectorError::Upstream {
            status,
            message: format!("the service sent a download link this app may not fetch: {why}"),
        };
        let (Some(host), Some(port)) = (link.host_str(), port) else {
            return Err(refused("it names no host".to_owned()));
        };
        let allow = AllowList::from_settings(&self.ctx.settings)?;
        let addrs = resolve_checked_for("download link", host, port, &allow)
            .await
            .map_err(|error| match error {
                ConnectorError::InvalidInput { message, .. } => refused(message),
                other => other,
            })?;
        self.ctx.http.pinned(host, &addrs)
    }
}

/// Adds the bearer token; without one Graph answers 401 and the refresh path takes over.
fn authorize(request: RequestBuilder, credentials: &Credentials) -> RequestBuilder {
    match credentials.access_token() {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// SharePoint and OneDrive throttle with 429, with 503 and `Retry-After` (which the shared
/// client already takes for a rate limit), and with 509 when a tenant's bandwidth is used up.
/// A 503 that does not say when to come back is an outage, as from any service (a load
/// balancer's own answer while the service is away), and stays one.
fn throttled(error: ConnectorError) -> ConnectorError {
    match error {
        ConnectorError::Upstream {
            status: 509,
            message,
        } => ConnectorError::RateLimited {
            retry_after: None,
            message,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_into_virtual_folders_own_items_and_drive_items() {
        let parse = |raw| ItemRef::parse("file_id", raw);
        assert_eq!(parse("root").ok(), Some(ItemRef::MyRoot));
        assert_eq!(parse("shared-with-me").ok(), Some(ItemRef::SharedWithMe));
        assert_eq!(
            parse("01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K").ok(),
            Some(ItemRef::MyItem("01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K".into()))
        );
        let shared =
            parse("b!t18F8ybsHUq1z3LTz8xvZqP8zaSWjkFNhsME-Fepo75dTf9vQKfeRblBZjoSQrd7:01ABC")
                .expect("a drive item");
        assert_eq!(
            shared.item_path().as_deref(),
            Some(
                "/drives/b!t18F8ybsHUq1z3LTz8xvZqP8zaSWjkFNhsME-Fepo75dTf9vQKfeRblBZjoSQrd7/items/01ABC"
            )
        );
        let personal = parse("987def:987def!654").expect("a personal drive item");
        assert_eq!(personal.to_id(), "987def:987def!654");
        assert_eq!(personal.drive_id(), Some("987def"));
    }

    #[test]
    fn ids_that_could_escape_the_item_path_are_refused() {
        for raw in [
            "",
            ":",
            "d:",
            ":i",
            "..",
            "d:..",
            "a/b",
            "d:i/../../me",
            "d:i?x=1",
            "d:i#f",
            "a b",
            "d:i:j",
            "é",
        ] {
            let error = ItemRef::parse("folder_id", raw).expect_err(raw);
            assert!(
                matches!(&error, ConnectorError::InvalidInput { field: Some(f), .. } if f == "folder_id"),
                "{raw}: {error:?}"
            );
        }
        assert!(ItemRef::parse("file_id", &"a".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn search_terms_double_quotes_and_are_percent_encoded() {
        assert_eq!(
            search_segment("O'Brien notes #1/2 100%"),
            "search(q='O''Brien%20notes%20%231%2F2%20100%25')"
        );
        assert_eq!(search_segment("ünï"), "search(q='%C3%BCn%C3%AF')");
    }
}
