//! [`FaultProxy`]: a TCP proxy on a loopback port in front of a peer — a fake upstream, the
//! PostgreSQL server — that breaks the network between the app and the peer on command.
//!
//! The fakes inject faults a server sends (an error status, a body cut short by the server).
//! The proxy adds what the network and the boxes in between do: latency, a connection reset
//! in the middle of a body, a body truncated by a clean close, a stall, a load balancer that
//! answers 502/503 itself while its backends are away, and the peer being gone altogether
//! (connections refused, open ones severed) and coming back on the same port.
//!
//! A fault applies to connections accepted after it is set; open connections keep what they
//! had. An HTTP client keeps connections open between requests, so a test that wants the
//! very next request to meet a fault calls [`FaultProxy::sever`] as well.
//!
//! ```ignore
//! let proxy = FaultProxy::start(drive.base_url()).await;
//! // point the connector at proxy.base_url() instead of the fake's
//! proxy.set(Fault::ResetAfter(64 * 1024));
//! proxy.sever();
//! // ... the next download is reset after 64 KiB
//! proxy.down();   // connections refused, open ones reset
//! proxy.up();     // the same port accepts again
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Waits this long before forwarding each chunk, in both directions.
    Latency(Duration),
    /// Forwards this many bytes of the peer's answer, then resets the connection (RST).
    ResetAfter(u64),
    /// Forwards this many bytes of the peer's answer, then closes the connection cleanly
    /// (FIN), as a proxy that gave up would: the client sees a short body, not an error.
    TruncateAfter(u64),
    /// Forwards `after` bytes of the peer's answer, then sends nothing for `pause` while
    /// keeping the connection open, then carries on.
    Stall {
        /// Bytes forwarded before the stall.
        after: u64,
        /// How long nothing is sent.
        pause: Duration,
    },
    /// Answers every request on the connection itself with this HTTP status and a short
    /// HTML page (`Connection: close`), never reaching the peer: a load balancer whose
    /// backends are away.
    HttpStatus(u16),
    /// Accepts the connection and resets it at once.
    Reset,
}

/// A running proxy; stops (and severs every connection) when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<Plan>,
    /// Bumped to sever every open connection.
    severed: watch::Sender<u64>,
    accepted: AtomicU64,
    /// Milliseconds every chunk on every connection waits ([`FaultProxy::slow_down`]).
    slow_ms: AtomicU64,
}

impl Shared {
    fn slow(&self) -> Duration {
        Duration::from_millis(self.slow_ms.load(Ordering::SeqCst))
    }
}

#[derive(Default)]
struct Plan {
    /// Faults for the next connections, one each, before `standing`.
    next: VecDeque<Fault>,
    /// The fault for every other new connection.
    standing: Option<Fault>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:<random port>` in front of `upstream`, given as an
    /// address (`127.0.0.1:5432`) or a URL with a host and port (`http://127.0.0.1:8123/x`).
    pub async fn start(upstream: &str) -> Self {
        let upstream = parse_upstream(upstream);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fault proxy: bind a loopback port");
        let addr = listener.local_addr().expect("fault proxy: local address");
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(Plan::default()),
            severed: watch::channel(0).0,
            accepted: AtomicU64::new(0),
            slow_ms: AtomicU64::new(0),
        });
        let acceptor = tokio::spawn(accept_loop(listener, shared.clone()));
        Self {
            addr,
            shared,
            acceptor: Mutex::new(Some(acceptor)),
        }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `url` with its host and port replaced by the proxy's (for a database URL or a fake's
    /// URL with a path).
    pub fn rewrite(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("fault proxy: {url}: {e}"));
        parsed
            .set_host(Some(&self.addr.ip().to_string()))
            .expect("fault proxy: set host");
        parsed
            .set_port(Some(self.addr.port()))
            .expect("fault proxy: set port");
        parsed.to_string()
    }

    /// Every new connection meets `fault` until [`FaultProxy::clear`].
    pub fn set(&self, fault: Fault) {
        self.plan().standing = Some(fault);
    }

    /// The next `count` new connections meet `fault`, before any standing fault.
    pub fn set_next(&self, count: usize, fault: Fault) {
        let mut plan = self.plan();
        plan.next.extend(std::iter::repeat_n(fault, count));
    }

    /// No more faults for new connections.
    pub fn clear(&self) {
        let mut plan = self.plan();
        plan.next.clear();
        plan.standing = None;
    }

    /// Every chunk on every connection, open or new, waits `delay` before it is forwarded
    /// (on top of a connection's own [`Fault::Latency`]): the peer has become slow for
    /// everyone, as a database under a heavy query does. `Duration::ZERO` ends it.
    pub fn slow_down(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.slow_ms.store(ms, Ordering::SeqCst);
    }

    /// Resets every open connection (both sides see the connection reset).
    pub fn sever(&self) {
        self.shared.severed.send_modify(|n| *n += 1);
    }

    /// The peer is gone: the port refuses connections and every open one is reset.
    pub fn down(&self) {
        if let Some(acceptor) = self.acceptor().take() {
            acceptor.abort();
        }
        self.sever();
    }

    /// The peer is back: the same port accepts connections again. Binding can race with
    /// the listener just closed by [`FaultProxy::down`], so it is retried for a second.
    pub async fn up(&self) {
        if self.acceptor().is_some() {
            return;
        }
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("fault proxy: rebind {}: {e}", self.addr),
            }
        };
        *self.acceptor() = Some(tokio::spawn(accept_loop(listener, self.shared.clone())));
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.shared.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acceptor(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.acceptor.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor().take() {
            acceptor.abort();
        }
        self.sever();
    }
}

fn parse_upstream(upstream: &str) -> SocketAddr {
    if let Ok(addr) = upstream.parse() {
        return addr;
    }
    let url = url::Url::parse(upstream)
        .unwrap_or_else(|e| panic!("fault proxy: upstream {upstream}: {e}"));
    let addrs = url
        .socket_addrs(|| None)
        .unwrap_or_else(|e| panic!("fault proxy: upstream {upstream}: {e}"));
    *addrs
        .first()
        .unwrap_or_else(|| panic!("fault proxy: upstream {upstream} has no address"))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let fault = {
            let mut plan = shared.plan.lock().unwrap_or_else(|e| e.into_inner());
            plan.next.pop_front().or_else(|| plan.standing.clone())
        };
        let severed = shared.severed.subscribe();
        tokio::spawn(connection(client, shared.clone(), fault, severed));
    }
}

/// Closes `stream` with a reset instead of a clean close.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn connection(
    mut client: TcpStream,
    shared: Arc<Shared>,
    fault: Option<Fault>,
    mut severed: watch::Receiver<u64>,
) {
    let _ = client.set_nodelay(true);
    let ending = tokio::select! {
        _ = severed.changed() => Ending::Reset,
        ending = relay(&mut client, &shared, fault) => ending,
    };
    match ending {
        Ending::Reset => reset(client),
        Ending::Close => {
            let _ = client.shutdown().await;
        }
    }
}

/// Carries `client`'s bytes to the peer and the peer's answers back, meeting `fault` on the
/// way; says how the client's connection is to end.
async fn relay(client: &mut TcpStream, shared: &Shared, fault: Option<Fault>) -> Ending {
    match fault {
        Some(Fault::Reset) => return Ending::Reset,
        Some(Fault::HttpStatus(status)) => {
            answer_every_request(client, status).await;
            return Ending::Close;
        }
        _ => {}
    }
    let Ok(mut peer) = TcpStream::connect(shared.upstream).await else {
        // The peer itself is gone: the client sees its connection reset.
        return Ending::Reset;
    };
    let _ = peer.set_nodelay(true);
    let latency = match fault {
        Some(Fault::Latency(d)) => d,
        _ => Duration::ZERO,
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut peer_read, mut peer_write) = peer.split();
    let requests = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pause(latency + shared.slow()).await;
            if peer_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = peer_write.shutdown().await;
    };
    let answers = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent: u64 = 0;
        let mut cut = match &fault {
            Some(Fault::ResetAfter(n) | Fault::TruncateAfter(n)) => Some(*n),
            Some(Fault::Stall { after, .. }) => Some(*after),
            _ => None,
        };
        loop {
            let n = match peer_read.read(&mut buf).await {
                Ok(0) | Err(_) => break Ending::Close,
                Ok(n) => n,
            };
            pause(latency + shared.slow()).await;
            let mut chunk = &buf[..n];
            if let Some(limit) = cut
                && sent + chunk.len() as u64 >= limit
            {
                let head = usize::try_from(limit - sent).unwrap_or(usize::MAX);
                if client_write.write_all(&chunk[..head]).await.is_err() {
                    break Ending::Close;
                }
                let _ = client_write.flush().await;
                sent = limit;
                match &fault {
                    Some(Fault::ResetAfter(_)) => break Ending::Reset,
                    Some(Fault::Stall { pause: stall, .. }) => {
                        tokio::time::sleep(*stall).await;
                        cut = None;
                        chunk = &chunk[head..];
                    }
                    _ => break Ending::Close,
                }
            }
            if client_write.write_all(chunk).await.is_err() {
                break Ending::Close;
            }
            sent += chunk.len() as u64;
        }
    };
    tokio::pin!(requests, answers);
    tokio::select! {
        () = &mut requests => {
            // The client is done sending; its answers may still be on the way.
            answers.await
        }
        ending = &mut answers => ending,
    }
}

enum Ending {
    Close,
    Reset,
}

async fn pause(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// Reads each request's head (its body, if any, is not read: the answer closes the
/// connection) and answers it with `status`, as a load balancer whose backends are away.
async fn answer_every_request(client: &mut TcpStream, status: u16) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            break;
        }
    }
    let reason = match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    let body = format!(
        "<!DOCTYPE html><html><head><title>{status} {reason}</title></head>\
         <body><h1>{status} {reason}</h1><p>The server is temporarily unable to service \
         your request. Please try again later.</p></body></html>"
    );
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(answer.as_bytes()).await;
}

#[cfg(test)]
mod tests;
