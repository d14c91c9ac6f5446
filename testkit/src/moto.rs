//! moto (`python3 -m moto.server`), a real S3-compatible server on a loopback port, for the
//! tests of the S3 storage and the `s3-bucket` connector.

use campuscore_test_peers::{Peer, unavailable};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The moto server process; killed when dropped.
pub struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `moto.server` on a free port; `None` when moto is not installed and the run may
/// skip Python's peers (see `campuscore_test_peers`), a failed test when it may not.
pub async fn start_moto() -> Option<(Moto, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => Moto(c),
        Err(e) => {
            unavailable(
                Peer::Python,
                "the S3 storage tests against moto",
                &format!("python3 -m moto.server could not start: {e}"),
            );
            return None;
        }
    };
    for _ in 0..100 {
        if crate::http_client()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .is_ok()
        {
            return Some((child, port));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unavailable(
        Peer::Python,
        "the S3 storage tests against moto",
        &format!("moto's server did not come up on port {port} (is moto[server] installed?)"),
    );
    None
}
