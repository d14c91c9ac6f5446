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
        Self::start_on(who, listener, state, handler)
    }

    /// [`Server::start`] on a socket the caller bound (the `campuscore-fakes` binary binds
    /// the ports it is asked for). The base URL is the socket's address.
    pub fn start_on<T, F, Fut>(
        who: &str,
        listener: TcpListener,
        state: impl FnOnce(&str) -> T,
        handler: F,
    ) -> (Arc<T>, Self)
    where
        T: Send + Sync + 'static,
        F: Fn(HttpRequest, web::Data<T>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = HttpResponse> + 'static,
    {
        let base_url = base_url_of(who, &listener);
        let shared = Arc::new(state(&base_url));
        let data = web::Data::from(shared.clone());
        let routes = move |config: &mut web::ServiceConfig| {
            config
                .app_data(data.clone())
                .default_service(web::to(handler.clone()));
        };
        (shared, Self::serve(who, listener, routes))
    }

    /// A server on `listener` whose app `routes` configures: for endpoints that need more
    /// of a request than [`Server::start`]'s handlers get (a form body, several routes).
    pub fn serve<R>(who: &str, listener: TcpListener, routes: R) -> Self
    where
        R: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let base_url = base_url_of(who, &listener);
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(2)
            .disable_signals()
            .shutdown_timeout(0)
            .listen(listener)
            .unwrap_or_else(|e| panic!("{who}: listen: {e}"))
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { handle, base_url }
    }

    /// `http://<address>:<port>` (`http://127.0.0.1:<port>` unless bound elsewhere).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

fn base_url_of(who: &str, listener: &TcpListener) -> String {
    let address = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{who}: address: {e}"));
    format!("http://{address}")
}

impl Drop for Server {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for it.
        drop(self.handle.stop(false));
    }
}
