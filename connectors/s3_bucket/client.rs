//! `S3Client`: SigV4-signed requests to one bucket, sent through an HTTP client pinned to
//! the SSRF-checked addresses of the endpoint, and S3's error responses read into
//! [`S3Failure`].
//!
//! Only the connection's own access key signs anything: there is no fallback to the
//! server's AWS identity (environment variables, profiles, instance metadata), because no
//! code here looks for one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap, LAST_MODIFIED,
};
use reqwest::{Method, RequestBuilder, Response};
use url::Url;

use super::location::{BucketAddress, ENDPOINT_URL, S3Location};
use super::models::{ErrorBody, ListBucketResult};
use super::sigv4::{self, CanonicalRequest, EMPTY_PAYLOAD_SHA256};
use crate::sdk::status::parse_retry_after;
use crate::ssrf::resolve_checked_for;
use crate::{AllowList, ConnectorError, ConnectorSettings, HttpClient};

/// Largest ListObjectsV2 body read (1,000 keys of 1 KiB each fit with room to spare).
const MAX_LIST_BODY: usize = 16 * 1024 * 1024;
/// Largest error body read.
const MAX_ERROR_BODY: usize = 16 * 1024;
/// Time allowed for a whole object download. The client's 60-second request timeout
/// would cut off any large file; stalls are caught by the idle timeout in `actions.rs`.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(4 * 60 * 60);

/// A client for one connection's bucket.
#[derive(Debug)]
pub struct S3Client {
    http: HttpClient,
    location: S3Location,
    address: BucketAddress,
}

/// Why an S3 call failed.
#[derive(Debug)]
pub enum S3Failure {
    /// S3 answered with an error status (and usually an `<Error>` body).
    Service(ServiceError),
    /// No usable answer: transport failure, or a retryable status the HTTP client gave
    /// up on (already mapped).
    Connector(ConnectorError),
}

/// An S3 error response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status.
    pub status: u16,
    /// S3 error code (`NoSuchKey`…); empty for bodiless (HEAD) responses.
    pub code: String,
    /// S3's message, cut short.
    pub message: String,
    /// The bucket's real region, when S3 said (`<Region>` or `x-amz-bucket-region`).
    pub region: Option<String>,
    /// `Retry-After`, when sent.
    pub retry_after: Option<Duration>,
}

/// What HEAD says about an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectHead {
    /// `Content-Length`.
    pub size: Option<u64>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<DateTime<Utc>>,
    /// `ETag`, quoted as sent.
    pub etag: Option<String>,
    /// Whether the object is encrypted with SSE-KMS or SSE-C (its ETag is then no MD5).
    pub etag_is_not_md5: bool,
    /// User metadata (`x-amz-meta-*`), names without the prefix.
    pub metadata: BTreeMap<String, String>,
}

impl S3Client {
    /// Resolves the endpoint host, checks every address against the SSRF rules and the
    /// connector's `ALLOWED_HOSTS`, and pins the HTTP client to those addresses.
    ///
    /// Plain `http://` is accepted only for a host the admin allowed (by name, or with
    /// every address it resolves to): the signature keeps the secret off the wire, but
    /// object contents and the key id would cross the network in the clear, and nothing
    /// would stop a tampered response. Campus storage on a private address needs an
    /// `ALLOWED_HOSTS` entry anyway, so that is where the admin says "plain HTTP is fine".
    pub async fn connect(
        location: S3Location,
        settings: &ConnectorSettings,
        http: &HttpClient,
    ) -> Result<Self, ConnectorError> {
        let address = location.address();
        let origin = Url::parse(&address.origin).map_err(|e| {
            ConnectorError::invalid_field(location.endpoint_field(), format!("not a URL: {e}"))
        })?;
        let (Some(host), Some(port)) = (origin.host_str(), origin.port_or_known_default()) else {
            return Err(ConnectorError::invalid_field(
                location.endpoint_field(),
                "the endpoint has no host",
            ));
        };
        let allow = AllowList::from_settings(settings)?;
        let addrs = resolve_checked_for(location.endpoint_field(), host, port, &allow)
            .await
            .map_err(|error| match error {
                // The AWS host is made from the region: a name that does not resolve
                // means a region S3 does not have.
                ConnectorError::InvalidInput { field, message }
                    if location.endpoint.is_none() && message.contains("could not be found") =>
                {
                    ConnectorError::InvalidInput {
                        field,
                        message: format!(
                            "Amazon S3 has no endpoint for region `{}` ({message}).",
                            location.region
                        ),
                    }
                }
                other => other,
            })?;
        if origin.scheme() == "http" && !plain_http_allowed(host, &addrs, &allow) {
            return Err(ConnectorError::invalid_field(
                ENDPOINT_URL,
                format!(
                    "{host} must be reached over https://; plain http:// is only allowed for \
                     hosts an administrator lists in ALLOWED_HOSTS"
                ),
            ));
        }
        let http = http.pinned(host, &addrs)?;
        Ok(Self {
            http,
            location,
            address,
        })
    }

    /// The connection this client serves.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// One ListObjectsV2 page of `prefix`, grouped by `/`, with keys decoded.
    pub async fn list_objects(
        &self,
        prefix: &str,
        continuation_token: Option<&str>,
        max_keys: u32,
    ) -> Result<ListBucketResult, S3Failure> {
        let max_keys = max_keys.to_string();
        let mut query = vec![
            ("list-type", "2"),
            ("delimiter", "/"),
            ("encoding-type", "url"),
            ("max-keys", max_keys.as_str()),
            ("prefix", prefix),
        ];
        if let Some(token) = continuation_token {
            query.push(("continuation-token", token));
        }
        let request = self.signed(Method::GET, &self.address.bucket_path(), &query)?;
        let response = self.send(request).await?;
        let body = read_capped(response, MAX_LIST_BODY)
            .await
            .map_err(S3Failure::Connector)?;
        let text =
            String::from_utf8(body).map_err(|_| unexpected("a listing that is not UTF-8"))?;
        ListBucketResult::parse(&text)
            .map_err(|e| unexpected(&format!("a listing it could not read ({e})")))
    }

    /// The object's metadata (HEAD).
    pub async fn head_object(&self, key: &str) -> Result<ObjectHead, S3Failure> {
        let request = self.signed(Method::HEAD, &self.address.object_path(key), &[])?;
        let response = self.send(request).await?;
        Ok(ObjectHead::from_headers(response.headers()))
    }

    /// Starts downloading the object: the successful response, body unread.
    pub async fn get_object(&self, key: &str) -> Result<Response, S3Failure> {
        let request = self
            .signed(Method::GET, &self.address.object_path(key), &[])?
            .timeout(DOWNLOAD_TIMEOUT);
        self.send(request).await
    }

    /// Creates the bucket (test fixtures; `us-east-1` needs no location body).
    #[cfg(test)]
    pub async fn create_bucket(&self) -> Result<(), S3Failure> {
        let request = self.signed(Method::PUT, &self.address.bucket_path(), &[])?;
        self.send(request).await.map(drop)
    }

    /// Uploads `body` of `len` bytes to `key` in one streamed PUT, with extra headers such
    /// as `content-type` or `x-amz-meta-*` (signed too) — for test fixtures.
    #[cfg(test)]
    pub async fn put_object(
        &self,
        key: &str,
        body: reqwest::Body,
        len: u64,
        headers: &[(&str, &str)],
    ) -> Result<(), S3Failure> {
        let request = self
            .signed_with(
                Method::PUT,
                &self.address.object_path(key),
                &[],
                sigv4::UNSIGNED_PAYLOAD,
                headers,
            )?
            .header(CONTENT_LENGTH, len)
            .timeout(DOWNLOAD_TIMEOUT)
            .body(body);
        self.send(request).await.map(drop)
    }

    fn signed(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<RequestBuilder, S3Failure> {
        self.signed_with(method, path, query, EMPTY_PAYLOAD_SHA256, &[])
    }

    /// Builds the URL from the already-encoded `path` and the canonical query, checks the
    /// URL parser kept both byte for byte (so the bytes sent are the bytes signed), and
    /// signs the request and `headers` with the connection's key.
    fn signed_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        payload_sha256: &str,
        headers: &[(&str, &str)],
    ) -> Result<RequestBuilder, S3Failure> {
        let query = sigv4::canonical_query(query);
        let text = if query.is_empty() {
            format!("{}{path}", self.address.origin)
        } else {
            format!("{}{path}?{query}", self.address.origin)
        };
        let url = Url::parse(&text)
            .ok()
            .filter(|url| url.path() == path && url.query().unwrap_or_default() == query)
            .ok_or_else(|| {
                S3Failure::Connector(ConnectorError::InvalidInput {
                    field: None,
                    message: "this key cannot be addressed in a URL".to_owned(),
                })
            })?;
        let host = host_header(&url);
        let mut signed_headers = vec![("host", host.as_str())];
        signed_headers.extend_from_slice(headers);
        let signature = sigv4::sign(
            &CanonicalRequest {
                method: method.as_str(),
                path,
                query: &query,
                headers: &signed_headers,
                payload_sha256,
            },
            &self.location.key,
            &self.location.region,
            "s3",
            Utc::now(),
        );
        let mut request = self
            .http
            .request(method, url)
            .header("x-amz-date", signature.amz_date)
            .header("x-amz-content-sha256", signature.content_sha256)
            .header(AUTHORIZATION, signature.authorization);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Ok(request)
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, S3Failure> {
        let response = self
            .http
            .send(request)
            .await
            .map_err(S3Failure::Connector)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(S3Failure::Service(ServiceError::read(response).await))
        }
    }
}

impl From<ConnectorError> for S3Failure {
    fn from(error: ConnectorError) -> Self {
        Self::Connector(error)
    }
}

/// What an action's caller should do about a failed call on a stored connection.
impl From<S3Failure> for ConnectorError {
    fn from(failure: S3Failure) -> Self {
        let error = match failure {
            // S3 signals throttling with 503 SlowDown; the HTTP client already retried.
            S3Failure::Connector(ConnectorError::Upstream { status: 503, .. }) => {
                return ConnectorError::RateLimited {
                    retry_after: None,
                    message: "the storage service asked to slow down".to_owned(),
                };
            }
            S3Failure::Connector(error) => return error,
            S3Failure::Service(error) => error,
        };
        let message = error.describe();
        match (error.status, error.code.as_str()) {
            (
                _,
                "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "ExpiredToken" | "InvalidToken",
            )
            | (401, _) => ConnectorError::AuthExpired {
                message: format!("S3 no longer accepts the stored access key ({message})"),
            },
            _ if error.is_wrong_region() => ConnectorError::AuthExpired {
                message: match &error.region {
                    Some(region) => format!("the bucket is in region {region}; reconnect with it"),
                    None => format!("the bucket is not in the stored region ({message})"),
                },
            },
            (404, _) | (_, "NoSuchKey" | "NoSuchBucket") => ConnectorError::NotFound { message },
            (403, _) => ConnectorError::PermissionDenied { message },
            (429 | 503, _) | (_, "SlowDown") => ConnectorError::RateLimited {
                retry_after: error.retry_after,
                message,
            },
            (status, _) => ConnectorError::Upstream { status, message },
        }
    }
}

impl ServiceError {
    /// Reads an error response: status, code, message and region hints.
    async fn read(response: Response) -> Self {
        let status = response.status().as_u16();
        let header_region = header_text(response.headers(), "x-amz-bucket-region");
        let retry_after = parse_retry_after(response.headers());
        let body = read_capped(response, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        let parsed = ErrorBody::parse(&String::from_utf8_lossy(&body));
        let message: String = parsed
            .message
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Self {
            status,
            code: parsed.code.unwrap_or_default(),
            message,
            region: parsed.region.or(header_region).filter(|r| !r.is_empty()),
            retry_after,
        }
    }

    /// `Code: message`, or the status alone.
    pub fn describe(&self) -> String {
        match (self.code.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}: {}", self.code, self.message),
            (false, true) => self.code.clone(),
            (true, false) => self.message.clone(),
            (true, true) => format!("HTTP {}", self.status),
        }
    }

    /// Whether S3 refused the request because the bucket is in another region.
    pub fn is_wrong_region(&self) -> bool {
        matches!(
            self.code.as_str(),
            "AuthorizationHeaderMalformed"
                | "PermanentRedirect"
                | "IllegalLocationConstraintException"
        ) || matches!(self.status, 301 | 307)
    }
}

impl ObjectHead {
    fn from_headers(headers: &HeaderMap) -> Self {
        let sse = header_text(headers, "x-amz-server-side-encryption").unwrap_or_default();
        let sse_c = headers.contains_key("x-amz-server-side-encryption-customer-algorithm");
        let metadata = headers
            .iter()
            .filter_map(|(name, value)| {
                let name = name.as_str().strip_prefix("x-amz-meta-")?;
                Some((name.to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Self {
            size: header_text(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse().ok()),
            content_type: header_text(headers, CONTENT_TYPE.as_str()),
            last_modified: header_text(headers, LAST_MODIFIED.as_str())
                .and_then(|v| httpdate::parse_http_date(&v).ok())
                .map(DateTime::<Utc>::from),
            etag: header_text(headers, ETAG.as_str()),
            etag_is_not_md5: sse.starts_with("aws:kms") || sse_c,
            metadata,
        }
    }
}

/// `Host` as the HTTP client sends it: the host, plus the port when it is not the
/// scheme's default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Whether plain HTTP may be used to reach `host`: the admin allowed its name, or every
/// address it resolved to.
pub fn plain_http_allowed(host: &str, addrs: &[SocketAddr], allow: &AllowList) -> bool {
    allow.allows_host(host) || (!addrs.is_empty() && addrs.iter().all(|a| allow.allows_ip(a.ip())))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads at most `limit` bytes of a body; a longer body is an `Upstream` error.
async fn read_capped(mut response: Response, limit: usize) -> Result<Vec<u8>, ConnectorError> {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ConnectorError::Transport {
            message: format!("the response was interrupted: {}", e.without_url()),
        })?
    {
        if body.len() + chunk.len() > limit {
            return Err(ConnectorError::Upstream {
                status,
                message: format!("the storage service sent more than {limit} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn unexpected(what: &str) -> S3Failure {
    S3Failure::Connector(ConnectorError::Upstream {
        status: 200,
        message: format!("the storage service sent {what}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_needs_an_allowed_name_or_allowed_addresses() {
        let public: SocketAddr = "93.184.215.14:80".parse().expect("address");
        let none = AllowList::none();
        assert!(!plain_http_allowed("s3.example.org", &[public], &none));
        let by_name = AllowList::parse(&["s3.example.org"]).expect("list");
        assert!(plain_http_allowed("s3.example.org", &[public], &by_name));
        let by_net = AllowList::parse(&["93.184.215.0/24"]).expect("list");
        assert!(plain_http_allowed("s3.example.org", &[public], &by_net));
        let other: SocketAddr = "93.184.216.34:80".parse().expect("address");
        assert!(!plain_http_allowed(
            "s3.example.org",
            &[public, other],
            &by_net
        ));
        assert!(!plain_http_allowed("s3.example.org", &[], &by_net));
    }

    #[test]
    fn wrong_region_errors_are_recognised() {
        let redirect = ServiceError {
            status: 301,
            code: "PermanentRedirect".to_owned(),
            ..ServiceError::default()
        };
        assert!(redirect.is_wrong_region());
        let head = ServiceError {
            status: 301,
            ..ServiceError::default()
        };
        assert!(head.is_wrong_region());
        let missing = ServiceError {
            status: 404,
            code: "NoSuchBucket".to_owned(),
            ..ServiceError::default()
        };
        assert!(!missing.is_wrong_region());
        assert_eq!(missing.describe(), "NoSuchBucket");
    }
}
