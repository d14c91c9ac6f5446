//! What the `campuscore-fakes` binary runs: the fake Google Drive and the fake Microsoft
//! Graph with sample files, each with an auto-approving OAuth server, the fake Canvas (whose
//! own sign-in approves at once), and the `campuscore config set` commands that point the
//! app's `google-drive`, `onedrive` and `canvas` connectors at them — so connect → browse →
//! import works on a laptop with no Google, Microsoft or Canvas account. Only tokens the
//! OAuth servers issued are let into the fakes.

mod sample;

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::sync::Arc;

use anyhow::Context as _;

use crate::auto_oauth::{AutoOAuth, Client};
use crate::canvas::FakeCanvas;
use crate::drive::FakeDrive;
use crate::graph::FakeGraph;
use crate::upstream::FakeBooks as _;
pub use sample::{seed_canvas, seed_drive, seed_graph};

/// Where the fakes listen and the client they know (`campuscore-fakes --help`).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "campuscore-fakes",
    about = "Fake Google Drive and OneDrive (Microsoft Graph) with auto-approving OAuth, \
             for trying campuscore without cloud accounts"
)]
pub struct Options {
    /// Address to listen on. The app sends tokens over plain HTTP only to a loopback
    /// address, so keep one.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Port of the fake Google Drive API (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub drive_port: u16,
    /// Port of the fake Microsoft Graph API (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub graph_port: u16,
    /// Port of Google's auto-approving OAuth server (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub google_oauth_port: u16,
    /// Port of Microsoft's auto-approving OAuth server (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub microsoft_oauth_port: u16,
    /// Port of the fake Canvas instance (its API and its sign-in; 0: any free port).
    #[arg(long, default_value_t = 0)]
    pub canvas_port: u16,
    /// Port of the fake Canvas's file store (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub canvas_files_port: u16,
    /// The app's public URL (`CAMPUSCORE_BASE_URL`): the fake Canvas's developer key
    /// accepts redirects to its host only.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub app_url: String,
    /// The OAuth client id the providers accept.
    #[arg(long, default_value = "campuscore-fakes")]
    pub client_id: String,
    /// The OAuth client secret the providers accept.
    #[arg(long, default_value = "fake-client-secret")]
    pub client_secret: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            drive_port: 0,
            graph_port: 0,
            google_oauth_port: 0,
            microsoft_oauth_port: 0,
            canvas_port: 0,
            canvas_files_port: 0,
            app_url: "http://127.0.0.1:8000".to_owned(),
            client_id: "campuscore-fakes".to_owned(),
            client_secret: "fake-client-secret".to_owned(),
        }
    }
}

/// The running fakes; all stopped when dropped.
pub struct Fakes {
    /// The fake Google Drive, with the sample files.
    pub drive: Arc<FakeDrive>,
    /// The fake Microsoft Graph, with the sample files.
    pub graph: Arc<FakeGraph>,
    /// Google's OAuth server (tokens for `drive`).
    pub google: AutoOAuth,
    /// Microsoft's OAuth server (tokens for `graph`).
    pub microsoft: AutoOAuth,
    /// The fake Canvas, with a sample course; its sign-in approves as Dana.
    pub canvas: FakeCanvas,
    client: Client,
}

impl Fakes {
    /// Binds the six ports and starts the servers on the current Tokio runtime.
    pub fn start(options: &Options) -> anyhow::Result<Self> {
        let bind = |port: u16, what: &str| {
            TcpListener::bind((options.bind, port))
                .with_context(|| format!("binding {what} to {}:{port}", options.bind))
        };
        let client = Client {
            id: options.client_id.clone(),
            secret: options.client_secret.clone(),
        };
        let drive = Arc::new(FakeDrive::start_on(bind(
            options.drive_port,
            "the fake Drive",
        )?));
        drive.accept_issued_tokens_only();
        seed_drive(&drive);
        let graph = Arc::new(FakeGraph::start_on(bind(
            options.graph_port,
            "the fake Graph",
        )?));
        graph.accept_issued_tokens_only();
        seed_graph(&graph);
        let google_port = bind(options.google_oauth_port, "Google's OAuth server")?;
        let google = AutoOAuth::start_on(google_port, client.clone(), "google", drive.clone());
        let microsoft_port = bind(options.microsoft_oauth_port, "Microsoft's OAuth server")?;
        let microsoft =
            AutoOAuth::start_on(microsoft_port, client.clone(), "microsoft", graph.clone());
        let canvas = FakeCanvas::start_on(
            bind(options.canvas_port, "the fake Canvas")?,
            bind(options.canvas_files_port, "the fake Canvas file store")?,
        );
        let dana = seed_canvas(&canvas);
        canvas.sign_in_as(dana);
        let redirect = format!(
            "{}/api/connectors/canvas/callback",
            options.app_url.trim_end_matches('/')
        );
        canvas.add_developer_key(&client.id, &client.secret, &redirect);
        Ok(Self {
            drive,
            graph,
            google,
            microsoft,
            canvas,
            client,
        })
    }

    /// The `campuscore config set` commands that point the `google-drive`, `onedrive` and
    /// `canvas` connectors at these fakes, one per line. Each connector appends its own API
    /// path (`/drive/v3/…`, `/v1.0/…`, `/api/v1/…`) to `API_BASE_URL`, so that is the bare
    /// server URL; Canvas signs in on its own instance, so it needs nothing else.
    pub fn config_commands(&self) -> String {
        let google = [
            ("AUTH_URL", self.google.authorize_url()),
            ("TOKEN_URL", self.google.token_url()),
            ("REVOKE_URL", self.google.revoke_url()),
            ("API_BASE_URL", self.drive.base_url().to_owned()),
        ];
        // Microsoft has no revocation endpoint, and the connector has no REVOKE_URL default.
        let microsoft = [
            ("AUTH_URL", self.microsoft.authorize_url()),
            ("TOKEN_URL", self.microsoft.token_url()),
            ("API_BASE_URL", self.graph.base_url().to_owned()),
        ];
        let canvas = [("API_BASE_URL", self.canvas.base_url().to_owned())];
        let mut out = String::new();
        let connectors: [(&str, &[(&str, String)]); 3] = [
            ("google-drive", &google),
            ("onedrive", &microsoft),
            ("canvas", &canvas),
        ];
        for (slug, urls) in connectors {
            let set = format!("campuscore config set {slug}");
            out.push_str(&format!("{set} CLIENT_ID {}\n", self.client.id));
            out.push_str(&format!(
                "{set} CLIENT_SECRET {} --secret\n",
                self.client.secret
            ));
            for (key, url) in urls {
                out.push_str(&format!("{set} {key} {url}\n"));
            }
        }
        out
    }
}
