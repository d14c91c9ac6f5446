//! `HttpClient` against a fake upstream: retries, `Retry-After`, non-idempotent requests,
//! redirects of the token client and the mapping of error statuses.

use std::time::{Duration, Instant};

use campuscore_connectors::{
    ConnectorError, HttpClient, HttpConfig, RetryPolicy, error_for_status,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client() -> HttpClient {
    let retry = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
    };
    HttpClient::new(HttpConfig {
        retry,
        ..HttpConfig::default()
    })
}

/// Mounts `status` for the first `times` requests to `route`, then 200.
async fn flaky(server: &MockServer, route: &str, status: ResponseTemplate, times: u64) {
    Mock::given(path(route))
        .respond_with(status)
        .up_to_n_times(times)
        .mount(server)
        .await;
    Mock::given(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .map(|r| r.len())
        .unwrap_or_default()
}

#[tokio::test]
async fn get_is_retried_after_a_503() {
    let server = MockServer::start().await;
    flaky(&server, "/files", ResponseTemplate::new(503), 1).await;
    let response = client()
        .send(client().get(format!("{}/files", server.uri())))
        .await
        .expect("succeeds");
    assert_eq!(response.status(), 200);
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn retry_after_seconds_are_waited_for_before_retrying_a_429() {
    let server = MockServer::start().await;
    flaky(
        &server,
        "/files",
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
        1,
    )
    .await;
    let started = Instant::now();
    let http = client();
    let response = http
        .send(http.get(format!("{}/files", server.uri())))
        .await
        .expect("succeeds");
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_max_delay_is_returned_without_waiting() {
    let server = MockServer::start().await;
    flaky(
        &server,
        "/files",
        ResponseTemplate::new(429).insert_header("Retry-After", "3600"),
        1,
    )
    .await;
    let started = Instant::now();
    let http = client();
    let result = http.send(http.get(format!("{}/files", server.uri()))).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(result, Err(ConnectorError::RateLimited { retry_after: Some(wait), .. }) if wait == Duration::from_secs(3600)),
        "{result:?}"
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn post_is_not_retried_after_a_503() {
    let server = MockServer::start().await;
    flaky(
        &server,
        "/upload",
        ResponseTemplate::new(503).set_body_string("maintenance"),
        1,
    )
    .await;
    let http = client();
    let result = http
        .send(http.post(format!("{}/upload", server.uri())).body("data"))
        .await;
    assert!(
        matches!(&result, Err(ConnectorError::Upstream { status: 503, message }) if message == "maintenance"),
        "{result:?}"
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn retries_stop_after_max_retries_with_an_upstream_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let http = client();
    let result = http.send(http.get(format!("{}/files", server.uri()))).await;
    assert!(
        matches!(result, Err(ConnectorError::Upstream { status: 502, .. })),
        "{result:?}"
    );
    assert_eq!(requests(&server).await, 4);
}

#[tokio::test]
async fn exhausted_retries_on_429_are_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429))
        .mount(&server)
        .await;
    let http = client().with_retry_policy(RetryPolicy {
        max_retries: 1,
        ..client().retry_policy()
    });
    let result = http.send(http.get(server.uri())).await;
    assert!(
        matches!(
            result,
            Err(ConnectorError::RateLimited {
                retry_after: None,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported_as_transport_errors() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = unused.local_addr().expect("addr").port();
    drop(unused);
    let http = client();
    let result = http
        .send(http.get(format!("http://127.0.0.1:{port}/x?access_token=secret")))
        .await;
    match result {
        Err(ConnectorError::Transport { message }) => {
            assert!(message.contains("127.0.0.1"), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[tokio::test]
async fn token_endpoint_client_does_not_follow_a_302() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/elsewhere", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let token_client = client().token_endpoint_client();
    let response = token_client
        .send(token_client.post(format!("{}/token", server.uri())))
        .await
        .expect("response");
    assert_eq!(response.status(), 302);
    assert_eq!(requests(&server).await, 1);

    let api = client();
    let followed = api
        .send(api.get(format!("{}/token", server.uri())))
        .await
        .expect("response");
    assert_eq!(followed.status(), 200, "API clients do follow redirects");
}

#[tokio::test]
async fn error_statuses_map_to_decisions_with_a_short_reason() {
    let server = MockServer::start().await;
    let cases: [(u16, ResponseTemplate); 6] = [
        (
            401,
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"message": "Invalid Credentials"}})),
        ),
        (403, ResponseTemplate::new(403).set_body_string("forbidden")),
        (
            404,
            ResponseTemplate::new(404).set_body_string("<html>gone</html>"),
        ),
        (
            418,
            ResponseTemplate::new(418).set_body_string("x".repeat(10_000)),
        ),
        (500, ResponseTemplate::new(500)),
        (
            429,
            ResponseTemplate::new(429).insert_header("Retry-After", "12"),
        ),
    ];
    for (status, template) in cases {
        Mock::given(path(format!("/s{status}")))
            .respond_with(template)
            .mount(&server)
            .await;
    }
    let http = client().with_retry_policy(RetryPolicy::none());
    let mut errors = Vec::new();
    for status in [401, 403, 404, 418, 500, 429] {
        let response = http
            .client()
            .post(format!("{}/s{status}", server.uri()))
            .send()
            .await
            .expect("response");
        errors.push(
            error_for_status(response)
                .await
                .expect_err("an error status"),
        );
    }
    let codes: Vec<_> = errors.iter().map(ConnectorError::code).collect();
    assert_eq!(
        codes,
        [
            "auth_expired",
            "permission_denied",
            "not_found",
            "upstream",
            "upstream",
            "rate_limited"
        ]
    );
    assert_eq!(
        errors[0].to_string(),
        "authorization expired: Invalid Credentials"
    );
    assert!(matches!(&errors[2], ConnectorError::NotFound { message } if message == "Not Found"));
    assert!(
        matches!(&errors[3], ConnectorError::Upstream { status: 418, message } if message.len() == 200)
    );
    assert_eq!(errors[5].retry_after(), Some(Duration::from_secs(12)));

    let ok = http
        .send(http.get(format!("{}/missing-route-is-404", server.uri())))
        .await
        .expect("response");
    assert!(matches!(
        error_for_status(ok).await,
        Err(ConnectorError::NotFound { .. })
    ));
}

/// A server that reads the first request and closes the connection without answering (as
/// a server closing an idle keep-alive socket just as a request arrives), then answers the
/// next connection's request with 200. Returns its address and how many requests it read.
async fn closes_first_connection() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                drop(socket);
                continue;
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    (address, seen)
}

#[tokio::test]
async fn a_get_whose_connection_closes_before_any_response_is_sent_again() {
    let (address, seen) = closes_first_connection().await;
    let response = client()
        .send(client().get(format!("{address}/files")))
        .await
        .expect("succeeds on the second connection");
    assert_eq!(response.status(), 200);
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_post_whose_connection_closes_is_not_sent_again() {
    let (address, seen) = closes_first_connection().await;
    let error = client()
        .send(client().post(format!("{address}/token")).body("grant"))
        .await
        .expect_err("a POST is sent once");
    assert!(
        matches!(error, ConnectorError::Transport { .. }),
        "{error:?}"
    );
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_503_that_says_when_to_come_back_is_throttling_and_never_counts_against_the_breaker() {
    let server = MockServer::start().await;
    Mock::given(path("/throttled"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "60"))
        .mount(&server)
        .await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let http = client();
    let scoped = http.for_connector("onedrive");
    for _ in 0..3 {
        let error = scoped
            .send(scoped.get(format!("{}/throttled", server.uri())))
            .await
            .expect_err("throttled");
        assert!(
            matches!(error, ConnectorError::RateLimited { .. }),
            "{error:?}"
        );
    }
    assert!(
        http.breakers().snapshot().is_empty(),
        "throttling is no failure: {:?}",
        http.breakers().snapshot()
    );
    let error = scoped
        .send(scoped.get(format!("{}/down", server.uri())))
        .await
        .expect_err("down");
    assert!(
        matches!(error, ConnectorError::Upstream { status: 503, .. }),
        "{error:?}"
    );
    let failures: usize = http
        .breakers()
        .snapshot()
        .iter()
        .map(|b| b.recent_failures)
        .sum();
    assert_eq!(failures, 4, "the first try and three retries each failed");
}
