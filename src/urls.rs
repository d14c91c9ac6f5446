//! Every route of the application, in one place (as the documented Django `urls.py`).

use crate::auth::client_ip::ClientKey;
use crate::views::{
    account, admin, agent, api, assistants, cloud_import, connect, errors, folders, health, home,
    icons, mcp, mcp_consent, mcp_oauth, oidc, query, settings, tokens,
};
use actix_governor::governor::clock::QuantaInstant;
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{Governor, GovernorConfig, GovernorConfigBuilder};
use actix_web::http::Method;
use actix_web::web;
use std::sync::Arc;

/// The per-address limits, built once for the whole server: each worker's app shares
/// their state, so the budget is what it says whatever the number of workers.
#[derive(Clone)]
pub struct Limits {
    login: GovernorConfig<ClientKey, NoOpMiddleware<QuantaInstant>>,
    register: GovernorConfig<ClientKey, NoOpMiddleware<QuantaInstant>>,
}

impl Limits {
    /// Password guessing is slowed per client address (see `auth::client_ip` for which
    /// address that is behind proxies): a burst of 10 attempts, then one every 3 s. Open
    /// client registration the same way, a burst of 10, then one every 6 s: assistants
    /// register once, floods of clients are refused.
    pub fn new(settings: &crate::config::Settings) -> Self {
        let key = ClientKey::new(Arc::new(settings.trusted_proxy_list()));
        let limit = |seconds_per_request: u64| {
            GovernorConfigBuilder::default()
                .seconds_per_request(seconds_per_request)
                .burst_size(10)
                .methods(vec![Method::POST])
                .key_extractor(key.clone())
                .finish()
                .expect("the per-address limits are valid constant configurations")
        };
        Self {
            login: limit(3),
            register: limit(6),
        }
    }

    /// Forget addresses that have not been limited lately (run by the janitor), so the maps
    /// do not grow with every address ever seen.
    pub fn shrink(&self) {
        for config in [&self.login, &self.register] {
            let limiter = config.limiter();
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Register every route on `cfg`.
pub fn configure(cfg: &mut web::ServiceConfig, limits: &Limits) {
    let login_limit = &limits.login;
    let register_limit = &limits.register;

    // The router tries each pattern in turn, and the browse fragment is the request made
    // most (every folder opened, every "load more"): its routes come first. No other pattern
    // matches their paths, so the order changes nothing else.
    cfg.route(
        "/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/browse/",
        web::get().to(cloud_import::browse),
    )
    .route(
        "/api/htmx/knowledge-folders/{folder_id}/cloud-import/",
        web::get().to(cloud_import::services),
    )
    .route(
        "/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/import/",
        web::post().to(cloud_import::import),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/", web::get().to(home::home))
    .service(
        web::resource("/login")
            .wrap(Governor::new(login_limit))
            .route(web::get().to(account::login_page))
            .route(web::post().to(account::login)),
    )
    .route("/logout", web::post().to(account::logout))
    .route("/auth/oidc/start", web::get().to(oidc::start))
    .route("/auth/oidc/callback", web::get().to(oidc::callback))
    .route(
        "/auth/oidc/backchannel-logout",
        web::post().to(oidc::backchannel_logout),
    )
    .route("/auth/link/{token}", web::get().to(oidc::signin_link))
    .route("/setup/{token}", web::get().to(account::setup_page))
    .route("/setup/{token}", web::post().to(account::setup))
    .route("/settings", web::get().to(settings::settings))
    .route(
        "/settings/connect/{slug}",
        web::get().to(connect::manual_form),
    )
    .route(
        "/settings/connect/{slug}",
        web::post().to(connect::manual_submit),
    )
    .route(
        "/settings/connections/{connection_id}/test",
        web::post().to(settings::test_connection),
    )
    .route(
        "/settings/connections/{connection_id}/disconnect",
        web::post().to(settings::disconnect),
    )
    .route(
        "/settings/connections/{connection_id}/agent-writes",
        web::post().to(settings::set_agent_writes),
    )
    .route("/settings/tokens", web::post().to(tokens::create))
    .route(
        "/settings/tokens/{token_id}/revoke",
        web::post().to(tokens::revoke),
    )
    .route(
        "/settings/connections/{connection_id}/query",
        web::get().to(query::page),
    )
    .route(
        "/settings/connections/{connection_id}/query",
        web::post().to(query::run),
    )
    .route(
        "/settings/assistants/{grant_id}/revoke",
        web::post().to(assistants::revoke),
    )
    .route(
        "/.well-known/oauth-protected-resource",
        web::get().to(mcp_oauth::protected_resource),
    )
    .route(
        "/.well-known/oauth-protected-resource/mcp",
        web::get().to(mcp_oauth::protected_resource),
    )
    .route(
        "/.well-known/oauth-authorization-server",
        web::get().to(mcp_oauth::authorization_server),
    )
    .route(
        "/oauth/authorize",
        web::get().to(mcp_consent::authorize_page),
    )
    .route(
        "/oauth/authorize",
        web::post().to(mcp_consent::authorize_decision),
    )
    .route("/oauth/token", web::post().to(mcp_oauth::token))
    .service(
        web::resource("/oauth/register")
            .wrap(Governor::new(register_limit))
            .route(web::post().to(mcp_oauth::register))
            .route(web::method(Method::OPTIONS).to(mcp_oauth::register_preflight)),
    )
    .route("/oauth/revoke", web::post().to(mcp_oauth::revoke))
    .route(
        "/api/connectors/connect/{slug}/start",
        web::get().to(connect::start),
    )
    .route(
        "/api/connectors/{slug}/callback",
        web::get().to(connect::callback),
    )
    .route("/knowledge-folders/", web::get().to(folders::list))
    .route("/knowledge-folders/", web::post().to(folders::create))
    .route(
        "/knowledge-folders/{folder_id}/",
        web::get().to(folders::show),
    )
    .route(
        "/knowledge-folders/{folder_id}/files",
        web::get().to(folders::files),
    )
    .route(
        "/knowledge-folders/{folder_id}/files",
        web::post().to(folders::upload),
    )
    .route("/admin/", web::get().to(admin::dashboard))
    .route("/admin/connectors/", web::get().to(admin::connectors::list))
    .route(
        "/admin/connectors/{slug}/",
        web::get().to(admin::connectors::show),
    )
    .route(
        "/admin/connectors/{slug}/enabled",
        web::post().to(admin::connectors::set_enabled),
    )
    .route(
        "/admin/connectors/{slug}/agent-writes",
        web::post().to(admin::connectors::set_agent_writes),
    )
    .route(
        "/admin/connectors/{slug}/config",
        web::get().to(admin::config::edit),
    )
    .route(
        "/admin/connectors/{slug}/config",
        web::post().to(admin::config::save),
    )
    .route(
        "/admin/connections/",
        web::get().to(admin::connections::list),
    )
    .route(
        "/admin/connections/{connection_id}/",
        web::get().to(admin::connections::show),
    )
    .route(
        "/admin/connections/{connection_id}/revoke",
        web::post().to(admin::connections::revoke),
    )
    .route("/admin/audit/", web::get().to(admin::audit::list))
    .route(
        "/admin/audit/export.csv",
        web::get().to(admin::audit::export),
    )
    .route(
        "/admin/audit/{entry_id}/",
        web::get().to(admin::audit::show),
    )
    .route("/admin/users/", web::get().to(admin::users::list))
    .route(
        "/admin/users/{user_id}/admin",
        web::post().to(admin::users::set_admin),
    )
    .route(
        "/admin/users/{user_id}/active",
        web::post().to(admin::users::set_active),
    )
    .route("/admin/changes/", web::get().to(admin::changes::list))
    .route("/api/v1/connectors", web::get().to(api::list_connectors))
    .route("/api/v1/connectors/{id}/auth", web::post().to(api::auth))
    .route(
        "/api/v1/connectors/{id}/connections",
        web::post().to(api::create_connection),
    )
    .route(
        "/api/v1/connector-credentials",
        web::get().to(api::list_credentials),
    )
    .route(
        "/api/v1/connector-credentials/{credential_id}",
        web::delete().to(api::delete_credential),
    )
    .route(
        "/api/v1/connections/{connection_id}/actions/{action}",
        web::post().to(api::execute),
    )
    .route("/api/v1/agent/tools", web::get().to(agent::tools))
    .route("/api/v1/agent/tools/call", web::post().to(agent::call))
    .service(
        web::resource("/mcp")
            .route(web::post().to(mcp::post))
            .route(web::get().to(mcp::get))
            .route(web::delete().to(mcp::delete)),
    )
    .route(
        "/static/connectors/{file}",
        web::get().to(icons::connector_icon),
    )
    .service(actix_files::Files::new("/static", static_dir()).prefer_utf8(true))
    .default_service(web::to(errors::not_found));
}

/// The vendored static assets next to the crate (or `CAMPUSCORE_STATIC_DIR`).
fn static_dir() -> std::path::PathBuf {
    std::env::var_os("CAMPUSCORE_STATIC_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"))
}
