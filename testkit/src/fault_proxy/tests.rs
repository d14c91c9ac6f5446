//! The proxy against a peer that serves a known body: each fault does what it says, and only
//! to the connections it is meant for.

use super::*;
use std::io::ErrorKind;
use std::time::Instant;

const BODY_LEN: usize = 200_000;

fn body() -> Vec<u8> {
    (0..BODY_LEN).map(|i| (i % 251) as u8).collect()
}

/// A peer that, on each connection, reads one line and answers with [`body`], then closes.
async fn peer() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut line = [0u8; 64];
                if stream.read(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let _ = stream.write_all(&body()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, served)
}

/// Asks through the proxy and reads until the end: the bytes received, and how it ended.
async fn fetch(proxy: &FaultProxy) -> (Vec<u8>, std::io::Result<()>) {
    let mut stream = match TcpStream::connect(proxy.addr()).await {
        Ok(stream) => stream,
        Err(e) => return (Vec::new(), Err(e)),
    };
    if let Err(e) = stream.write_all(b"GET\n").await {
        return (Vec::new(), Err(e));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Err(e)),
        }
    }
}

#[tokio::test]
async fn without_a_fault_the_answer_passes_unchanged() {
    let (peer, _) = peer().await;
    let proxy = FaultProxy::start(&peer.to_string()).await;
    let (got, ended) = fetch(&proxy).await;
    ended.expect("a clean end");
    assert_eq!(got, body());
    assert_eq!(proxy.accepted(), 1);
}

#[tokio::test]
async fn a_reset_cuts_the_answer_with_an_error_and_a_truncation_with_a_clean_end() {
    let (peer, _) = peer().await;
    let proxy = FaultProxy::start(&format!("http://{peer}/any/path")).await;

    proxy.set_next(1, Fault::ResetAfter(50_000));
    let (got, ended) = fetch(&proxy).await;
    assert_eq!(got, body()[..50_000]);
    assert_eq!(
        ended.expect_err("a reset is an error").kind(),
        ErrorKind::ConnectionReset
    );

    proxy.set_next(1, Fault::TruncateAfter(70_000));
    let (got, ended) = fetch(&proxy).await;
    ended.expect("a truncation ends cleanly");
    assert_eq!(got, body()[..70_000]);

    // Faults set for the next connections are used up: the third is whole.
    let (got, ended) = fetch(&proxy).await;
    ended.expect("a clean end");
    assert_eq!(got.len(), BODY_LEN);
}

#[tokio::test]
async fn a_stall_pauses_mid_answer_then_delivers_all_of_it() {
    let (peer, _) = peer().await;
    let proxy = FaultProxy::start(&peer.to_string()).await;
    proxy.set(Fault::Stall {
        after: 10_000,
        pause: Duration::from_millis(400),
    });
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    stream.write_all(b"GET\n").await.expect("ask");
    let mut head = vec![0u8; 10_000];
    stream.read_exact(&mut head).await.expect("the first bytes");
    let stalled = Instant::now();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.expect("the rest");
    assert!(
        stalled.elapsed() >= Duration::from_millis(350),
        "the rest came after {:?}",
        stalled.elapsed()
    );
    head.extend(rest);
    assert_eq!(head, body());
}

#[tokio::test]
async fn latency_delays_each_exchange() {
    let (peer, _) = peer().await;
    let proxy = FaultProxy::start(&peer.to_string()).await;
    proxy.set(Fault::Latency(Duration::from_millis(150)));
    let started = Instant::now();
    let (got, ended) = fetch(&proxy).await;
    ended.expect("a clean end");
    assert_eq!(got, body());
    // One pause for the question, at least one for the answer.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    proxy.clear();
    let started = Instant::now();
    fetch(&proxy).await.1.expect("a clean end");
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn slowing_down_reaches_connections_already_open() {
    let (peer, _) = peer().await;
    let proxy = FaultProxy::start(&peer.to_string()).await;
    let mut open = TcpStream::connect(proxy.addr()).await.expect("connect");
    // The connection is relaying before the slow-down starts.
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.slow_down(Duration::from_millis(200));
    let started = Instant::now();
    open.write_all(b"GET\n").await.expect("ask");
    let mut got = Vec::new();
    open.read_to_end(&mut got).await.expect("the answer");
    assert_eq!(got, body());
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    proxy.slow_down(Duration::ZERO);
    let started = Instant::now();
    fetch(&proxy).await.1.expect("a clean end");
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn an_http_status_is_answered_by_the_proxy_without_reaching_the_peer() {
    let (peer, served) = peer().await;
    let proxy = FaultProxy::start(&peer.to_string()).await;
    proxy.set(Fault::HttpStatus(503));
    let client = crate::http_client();
    for _ in 0..3 {
        let answer = client
            .get(format!("{}/drive/v3/files", proxy.base_url()))
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status(), 503);
        assert_eq!(answer.headers()["connection"], "close");
        assert!(
            answer
                .text()
                .await
                .expect("a body")
                .contains("503 Service Unavailable")
        );
    }
    assert_eq!(served.load(Ordering::SeqCst), 0);
    assert_eq!(proxy.accepted(), 3);
}

#[tokio::test]
async fn down_refuses_and_resets_open_connections_and_up_accepts_on_the_same_port() {
    let (peer, _) = peer().await;
    let proxy = FaultProxy::start(&peer.to_string()).await;
    proxy.set(Fault::Stall {
        after: 1_000,
        pause: Duration::from_secs(30),
    });
    let mut open = TcpStream::connect(proxy.addr()).await.expect("connect");
    open.write_all(b"GET\n").await.expect("ask");
    let mut head = vec![0u8; 1_000];
    open.read_exact(&mut head).await.expect("the first bytes");
    proxy.clear();

    proxy.down();
    let mut rest = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(5), open.read_to_end(&mut rest))
        .await
        .expect("the open connection ends at once");
    assert_eq!(cut.expect_err("reset").kind(), ErrorKind::ConnectionReset);
    let refused = TcpStream::connect(proxy.addr())
        .await
        .expect_err("nothing listens while down");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);

    proxy.up().await;
    let (got, ended) = fetch(&proxy).await;
    ended.expect("a clean end");
    assert_eq!(got, body());
}

#[tokio::test]
async fn a_peer_that_is_gone_resets_the_client() {
    let gone = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = gone.local_addr().expect("address");
    drop(gone);
    let proxy = FaultProxy::start(&addr.to_string()).await;
    let (got, ended) = fetch(&proxy).await;
    assert!(got.is_empty());
    assert!(ended.is_err(), "a client of a gone peer sees an error");
}

#[test]
fn rewrite_points_a_url_at_the_proxy_and_keeps_the_rest() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let proxy = FaultProxy::start("127.0.0.1:5432").await;
        let port = proxy.addr().port();
        assert_eq!(
            proxy.rewrite("postgres://postgres@127.0.0.1:5432/app_test?sslmode=disable"),
            format!("postgres://postgres@127.0.0.1:{port}/app_test?sslmode=disable")
        );
        assert_eq!(
            proxy.rewrite("http://localhost:9000/drive/v3/"),
            format!("http://127.0.0.1:{port}/drive/v3/")
        );
    });
}
