//! The fake ServiceNow against ServiceNow's documented behaviour, over plain HTTP: record
//! shapes, paging, ACLs, write rules and throttling here; encoded queries, OAuth and the
//! knowledge and catalog tables have their own files.

mod catalog;
mod connector;
mod oauth;
mod query;
mod table;

use reqwest::StatusCode;
use serde_json::Value;

use super::*;

/// A client that does not follow redirects (the OAuth tests look at the 302s).
fn client() -> reqwest::Client {
    crate::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET` a path on the instance (or an absolute URL) with `token` as bearer.
async fn get(now: &FakeServiceNow, path_or_url: &str, token: Option<&str>) -> reqwest::Response {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_owned()
    } else {
        format!("{}{path_or_url}", now.base_url())
    };
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the fake answers")
}

/// `GET /api/now/table/{table}` with these parameters; the status and the JSON body.
async fn list(
    now: &FakeServiceNow,
    table: &str,
    params: &[(&str, &str)],
    token: &str,
) -> (StatusCode, Value) {
    let response = client()
        .get(format!("{}/api/now/table/{table}", now.base_url()))
        .query(params)
        .bearer_auth(token)
        .send()
        .await
        .expect("answers");
    (response.status(), json_of(response).await)
}

/// `method` with a JSON body on a Table API path.
async fn write(
    now: &FakeServiceNow,
    method: reqwest::Method,
    path: &str,
    body: &Value,
    token: &str,
) -> (StatusCode, Value) {
    let response = client()
        .request(method, format!("{}{path}", now.base_url()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("answers");
    (response.status(), json_of(response).await)
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The values of `field` in a list answer's `result`.
fn column(body: &Value, field: &str) -> Vec<String> {
    body["result"]
        .as_array()
        .expect("a result array")
        .iter()
        .map(|r| r[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// An instance with an ITIL agent (`grace`), two end users (`ada`, `alan`), a group, and
/// one incident per end user.
struct Campus {
    now: FakeServiceNow,
    ada: String,
    alan: String,
    grace: String,
    group: String,
    ada_incident: (String, String),
    alan_incident: (String, String),
}

impl Campus {
    fn token(&self, user: &str) -> String {
        self.now.issue_tokens(user).0
    }
}

async fn campus() -> Campus {
    let now = FakeServiceNow::start().await;
    let ada = now.add_user("ada", "Ada Lovelace", "ada@campus.example");
    let alan = now.add_user("alan", "Alan Turing", "alan@campus.example");
    let grace = now.add_user("grace", "Grace Hopper", "grace@campus.example");
    now.set_roles(&grace, &["itil"]);
    let group = now.add_group("Service Desk");
    let ada_incident = now.add_incident(&ada, "Wi-Fi drops in the library", "Every ten minutes");
    let alan_incident = now.add_incident(&alan, "Printer jams", "Room 101");
    now.assign_incident(&ada_incident.0, Some(&grace), Some(&group));
    Campus {
        now,
        ada,
        alan,
        grace,
        group,
        ada_incident,
        alan_incident,
    }
}

#[tokio::test]
async fn every_api_request_needs_a_valid_access_token() {
    let c = campus().await;
    let path = "/api/now/table/incident";
    for token in [None, Some("not-a-token")] {
        let response = get(&c.now, path, token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&response, "www-authenticate").as_deref(),
            Some("BASIC realm=\"Service-now\"")
        );
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/json;charset=UTF-8")
        );
        let body = json_of(response).await;
        assert_eq!(body["error"]["message"], "User Not Authenticated");
        assert_eq!(
            body["error"]["detail"],
            "Required to provide Auth information"
        );
        assert_eq!(body["status"], "failure");
    }
    // A refresh token is no access token; an expired access token is refused.
    let (access, refresh) = c.now.issue_tokens(&c.ada);
    assert_eq!(
        get(&c.now, path, Some(&refresh)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&c.now, path, Some(&access)).await.status(),
        StatusCode::OK
    );
    c.now.expire_access_tokens();
    assert_eq!(
        get(&c.now, path, Some(&access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        c.now
            .requests()
            .iter()
            .any(|r| r.status == 401 && r.endpoint == Some(Endpoint::Api))
    );
}

#[tokio::test]
async fn throttled_requests_answer_429_with_the_rate_limit_headers() {
    let c = campus().await;
    let token = c.token(&c.ada);
    c.now.set_retry_after(std::time::Duration::from_secs(42));
    c.now.throttle_next(2);
    // Rate-limit rules count per user: a request without a token is not counted.
    assert_eq!(
        get(&c.now, "/api/now/table/incident", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for _ in 0..2 {
        let before = c.now.now().timestamp();
        let response = get(&c.now, "/api/now/table/incident", Some(&token)).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&response, "retry-after").as_deref(), Some("42"));
        assert_eq!(
            header(&response, "x-ratelimit-limit"),
            Some(RATE_LIMIT_PER_HOUR.to_string())
        );
        assert_eq!(
            header(&response, "x-ratelimit-remaining").as_deref(),
            Some("0")
        );
        let reset: i64 = header(&response, "x-ratelimit-reset")
            .expect("reset")
            .parse()
            .expect("epoch");
        assert!(
            (before + 42..=before + 44).contains(&reset),
            "{reset} vs {before}"
        );
        assert!(header(&response, "x-ratelimit-rule").is_some());
        let body = json_of(response).await;
        assert_eq!(body["error"]["message"], "Too Many Requests");
        assert_eq!(body["status"], "failure");
    }
    assert_eq!(
        get(&c.now, "/api/now/table/incident", Some(&token))
            .await
            .status(),
        StatusCode::OK
    );
    c.now.fail_next(503);
    let response = get(&c.now, "/api/now/table/incident", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(response).await["status"], "failure");
    assert_eq!(c.now.pending_faults(Endpoint::Api), 0);
}
