//! moto (`python3 -m moto.server`), a real S3-compatible server on a loopback port, for the
//! tests of the S3 storage and the `s3-bucket` connector.

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

/// Start `moto.server` on a free port; `None` (with a notice) when moto is not installed
/// outside CI. Under `CI=true` a missing moto fails the test.
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
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let child = match child {
        Ok(c) => Moto(c),
        Err(e) if ci => panic!("python3 -m moto.server could not start: {e}"),
        Err(e) => {
            eprintln!("skipping: moto server unavailable ({e}); pip install 'moto[server]'");
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
    assert!(!ci, "moto server did not come up on port {port}");
    eprintln!("skipping: moto server did not come up (is moto[server] installed?)");
    None
}
