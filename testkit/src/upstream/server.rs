//! [`Server`]: a fake's actix-web server on a loopback port, stopped when dropped.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// A running fake's server; stopped when dropped.
pub struct Server {
    handle: ServerHandle,
    base_url: String,
}

impl Server {
    /// Starts a server on `127.0.0.1:<random port>` on the current Tokio runtime that
    /// answers every request with `handler`, which gets the state `state` makes (given the
    /// base URL); `who` names the fake in panics.
    pub fn start<T, F, Fut>(who: &str, state: impl FnOnce(&str) -> T, handler: F) -> (Arc<T>, Self)
    where
        T: Send + Sync + 'static,
        F: Fn(HttpRequest, web::Data<T>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = HttpResponse> + 'static,
    {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{who}: bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{who}: address: {e}"))
            .port();
        let base_url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(state(&base_url));
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(handler.clone()))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap_or_else(|e| panic!("{who}: listen: {e}"))
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        (shared, Self { handle, base_url })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for it.
        drop(self.handle.stop(false));
    }
}
