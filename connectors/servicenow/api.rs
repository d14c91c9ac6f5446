//! The Table API of one instance: `GET`/`POST`/`PATCH /api/now/table/{table}` with
//! `sysparm_display_value=all`, `sysparm_exclude_reference_link=true`, `sysparm_fields`,
//! `sysparm_limit`/`sysparm_offset` paging and `X-Total-Count`, and ServiceNow's error
//! bodies (`{"error": {"message", "detail"}, "status": "failure"}`) turned into decisions:
//! 401 → one refresh, then Reconnect; 403 from an ACL → no access, with the instance's
//! words; a write stopped by a business rule or data policy → its reason; 404 → not
//! found; 429 → try again in the time the instance gave (`Retry-After` or
//! `X-RateLimit-Reset`, retried by the shared client first).

use reqwest::header::HeaderName;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::query::Query;
use super::wire::Envelope;
use crate::sdk::status::{error_for_code, json_body, parse_retry_after};
use crate::{ActionContext, ConnectorError, Credentials, keys};

/// How much of an error body is read.
const MAX_ERROR_BODY: usize = 4096;

/// A page of a table.
#[derive(Debug)]
pub struct Rows<T> {
    /// The records.
    pub items: Vec<T>,
    /// `X-Total-Count`: records matching, over all pages.
    pub total: Option<u64>,
}

/// Which rows of a table to read.
#[derive(Debug, Clone)]
pub struct Select {
    /// The encoded query.
    pub query: Query,
    /// `sysparm_fields` (a row type's `FIELDS`).
    pub fields: &'static str,
    /// `sysparm_limit`.
    pub limit: u32,
    /// `sysparm_offset`.
    pub offset: u32,
}

/// Table API requests for one action.
pub struct Instance<'a> {
    ctx: &'a ActionContext,
    base: Url,
}

impl<'a> Instance<'a> {
    /// Reads `API_BASE_URL`: an `http(s)` URL without query, user or fragment.
    pub fn new(ctx: &'a ActionContext) -> Result<Self, ConnectorError> {
        let base = ctx.settings.url(keys::API_BASE_URL)?;
        let plain = matches!(base.scheme(), "https" | "http")
            && base.host_str().is_some()
            && base.username().is_empty()
            && base.query().is_none()
            && base.fragment().is_none();
        if !plain {
            return Err(ConnectorError::misconfigured(
                "`API_BASE_URL` of connector `servicenow` must be the instance's address, such \
                 as https://campus.service-now.com",
            ));
        }
        Ok(Self { ctx, base })
    }

    /// `{API_BASE_URL}{path}`.
    fn url(&self, path: &str) -> Result<Url, ConnectorError> {
        let raw = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&raw).map_err(|e| {
            ConnectorError::misconfigured(format!(
                "cannot build a ServiceNow URL from API_BASE_URL: {e}"
            ))
        })
    }

    /// A page of the instance's own interface, for links.
    pub fn web_link(&self, path_and_query: &str) -> Option<String> {
        self.url(path_and_query).ok().map(String::from)
    }

    /// Sanitized HTML from this instance, with its plain text.
    pub fn rich_text(&self, raw: &str) -> crate::RichText {
        crate::RichText::from_html(raw, &self.base)
    }

    fn table_url(
        &self,
        table: &str,
        sys_id: Option<&str>,
        fields: &str,
    ) -> Result<Url, ConnectorError> {
        let mut url = self.url(&format!("/api/now/table/{table}"))?;
        if let Some(sys_id) = sys_id {
            url.path_segments_mut()
                .map_err(|()| ConnectorError::misconfigured("API_BASE_URL cannot carry a path"))?
                .push(sys_id);
        }
        url.query_pairs_mut()
            .append_pair("sysparm_display_value", "all")
            .append_pair("sysparm_exclude_reference_link", "true")
            .append_pair("sysparm_fields", fields.trim_end_matches(','));
        Ok(url)
    }

    /// Reads a page of `table`.
    pub async fn list<T: DeserializeOwned>(
        &self,
        table: &str,
        select: &Select,
    ) -> Result<Rows<T>, ConnectorError> {
        let mut url = self.table_url(table, None, select.fields)?;
        url.query_pairs_mut()
            .append_pair("sysparm_query", &select.query.encode())
            .append_pair("sysparm_limit", &select.limit.to_string())
            .append_pair("sysparm_offset", &select.offset.to_string());
        let response = self.send(Method::GET, url, None).await?;
        let total = response
            .headers()
            .get(HeaderName::from_static("x-total-count"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body: Envelope<Vec<T>> = json_body(response).await?;
        Ok(Rows {
            items: body.result,
            total,
        })
    }

    /// The first record of `table` matching `query`, if any.
    pub async fn first<T: DeserializeOwned>(
        &self,
        table: &str,
        query: Query,
        fields: &'static str,
    ) -> Result<Option<T>, ConnectorError> {
        let select = Select {
            query,
            fields,
            limit: 1,
            offset: 0,
        };
        Ok(self.list(table, &select).await?.items.into_iter().next())
    }

    /// Reads one record by `sys_id`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        table: &str,
        sys_id: &str,
        fields: &'static str,
    ) -> Result<T, ConnectorError> {
        let url = self.table_url(table, Some(sys_id), fields)?;
        let response = self.send(Method::GET, url, None).await?;
        Ok(json_body::<Envelope<T>>(response).await?.result)
    }

    /// Creates a record.
    pub async fn create<T: DeserializeOwned>(
        &self,
        table: &str,
        body: Value,
        fields: &'static str,
    ) -> Result<T, ConnectorError> {
        let url = self.table_url(table, None, fields)?;
        let response = self.send(Method::POST, url, Some(body)).await?;
        Ok(json_body::<Envelope<T>>(response).await?.result)
    }

    /// Changes a record.
    pub async fn update<T: DeserializeOwned>(
        &self,
        table: &str,
        sys_id: &str,
        body: Value,
        fields: &'static str,
    ) -> Result<T, ConnectorError> {
        let url = self.table_url(table, Some(sys_id), fields)?;
        let response = self.send(Method::PATCH, url, Some(body)).await?;
        Ok(json_body::<Envelope<T>>(response).await?.result)
    }

    /// Sends with the bearer token; a 401 refreshes once and sends again. Writes are sent
    /// once by the shared client (never retried), reads are retried on 429 and 5xx.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Response, ConnectorError> {
        let build = |credentials: &Credentials| -> RequestBuilder {
            let mut request = self
                .ctx
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(token) = credentials.access_token() {
                request = request.bearer_auth(token);
            }
            match &body {
                Some(body) => request.json(body),
                None => request,
            }
        };
        let mut credentials = self.ctx.current_credentials();
        let mut response = self.ctx.http.send(build(&credentials)).await?;
        if response.status() == StatusCode::UNAUTHORIZED && self.ctx.token_updater.is_some() {
            drop(response);
            credentials = self.ctx.refresh_credentials(&credentials).await?;
            response = self.ctx.http.send(build(&credentials)).await?;
        }
        if response.status().is_success() {
            return Ok(response);
        }
        Err(error_of(response, method != Method::GET).await)
    }
}

/// The decision for a ServiceNow error response.
async fn error_of(mut response: Response, write: bool) -> ConnectorError {
    let status = response.status().as_u16();
    let retry_after = parse_retry_after(response.headers());
    let mut raw = Vec::new();
    while raw.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                raw.extend_from_slice(&chunk[..chunk.len().min(MAX_ERROR_BODY - raw.len())])
            }
            _ => break,
        }
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let text = |key: &str| {
        body["error"][key]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (message, detail) = (text("message"), text("detail"));
    let reason = match (&message, &detail) {
        (Some(m), Some(d)) if m != d => format!("{m}: {d}"),
        (Some(m), _) => m.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => String::new(),
    };
    let said = detail.clone().or(message.clone()).unwrap_or_default();
    let acl = said.to_ascii_lowercase().contains("acl")
        || said.to_ascii_lowercase().contains("security constraints");
    match status {
        403 if write && !acl && !said.is_empty() => ConnectorError::InvalidInput {
            field: None,
            message: format!("ServiceNow refused the change: {said}"),
        },
        403 => ConnectorError::PermissionDenied {
            message: if said.is_empty() {
                "ServiceNow's access rules do not allow this".to_owned()
            } else {
                format!("ServiceNow: {said}")
            },
        },
        404 => ConnectorError::NotFound {
            message: "no such record, or ServiceNow's access rules hide it".to_owned(),
        },
        _ => error_for_code(
            status,
            if reason.is_empty() {
                format!("HTTP {status}")
            } else {
                reason
            },
            retry_after,
        ),
    }
}
