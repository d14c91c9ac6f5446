//! Cloud import, as HTMX fragments inside a knowledge folder: the services that can import
//! files (every connector declaring a `FileSource`, so S3 appears beside the drives), a
//! drive browser (breadcrumbs, folders, "load more", search, checkboxes), and the import
//! request, which only queues work (see `services::import_service`).
//!
//! Every failure becomes a fragment a person can act on — reconnect (with the button), rate
//! limited (retry in N s), provider unavailable, nothing selected — swapped into
//! `#cloud-import-errors` so the browser the user is looking at stays where it is.

use super::account::{html, html_sized};
use super::see_other;
use crate::auth::{ClaimedUser, CurrentUser, csrf};
use crate::error::{AppError, AppResult};
use crate::models::ConnectionStatus;
use crate::models::connectors;
use crate::models::entities::{connection, knowledge_folder};
use crate::models::folders;
use crate::paths;
use crate::services::connections::{self, ResolvedConnector};
use crate::services::import_service::{self, Pick, PickValue};
use crate::services::rate_limits;
use crate::services::run_action::{self, Call, Caller, FileCall};
use crate::services::source_files::HumanSize;
use crate::state::AppState;
use crate::templates::flash;
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use campuscore_connectors::files::Breadcrumb;
use campuscore_connectors::{ConnectorError, FileKind, FileList, ListRequest, SearchRequest};
use serde::Deserialize;

/// `GET /api/htmx/knowledge-folders/{folder_id}/cloud-import/`: the services files can be
/// imported from, each with the user's connections (Browse) and Connect.
pub async fn services(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let folder = folders::find_owned(&state.db, user.id, path.into_inner()).await?;
    let catalog = connectors::list_by_name(&state.db).await?;
    let mine = connections::list_mine(&state, user.id).await?;
    let mut services = Vec::new();
    for row in catalog.into_iter().filter(|c| c.is_enabled) {
        let Some(plugin) = state.registry.get(&row.slug).cloned() else {
            continue;
        };
        if plugin.files().is_none() {
            continue;
        }
        let resolved = ResolvedConnector { row, plugin };
        let configured = resolved.is_configured(&state).await?;
        let row = resolved.row;
        let connections = mine
            .iter()
            .filter(|c| c.connector_id == row.id)
            .map(|c| ServiceConnection {
                id: c.id,
                label: c
                    .service_identity
                    .clone()
                    .unwrap_or_else(|| format!("Connection {}", c.id)),
                needs_reconnect: c.status == ConnectionStatus::NeedsReauth,
                browse_url: browse_url(folder.id, c.id, &BrowseQuery::default()),
                reconnect_url: reconnect_url(&row.slug, c.id, folder.id),
            })
            .collect();
        services.push(Service {
            connect_url: paths::connect_start(&row.slug, None, Some(folder.id)),
            name: row.name,
            description: row.description,
            icon: row.icon,
            configured,
            connections,
        });
    }
    Ok(html(ServicesFragment { services }, 200))
}

/// Query parameters of the browser.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct BrowseQuery {
    /// The folder to list (absent: the top level).
    #[serde(default)]
    folder: Option<String>,
    /// The next page of the same listing ("load more").
    #[serde(default)]
    page_token: Option<String>,
    /// Search by name instead of listing.
    #[serde(default)]
    q: Option<String>,
    /// The path to `folder`, for breadcrumbs when the connector does not report one.
    #[serde(default)]
    trail: Option<String>,
}

impl BrowseQuery {
    fn check(&mut self) -> AppResult<()> {
        for v in [
            &mut self.folder,
            &mut self.page_token,
            &mut self.q,
            &mut self.trail,
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        let too_long = |v: &Option<String>, max: usize| v.as_ref().is_some_and(|s| s.len() > max);
        if too_long(&self.folder, 4096)
            || too_long(&self.page_token, 8192)
            || too_long(&self.trail, 8192)
        {
            return Err(AppError::BadRequest(
                "That link is not valid any more.".into(),
            ));
        }
        if let Some(q) = &self.q
            && q.chars().count() > 200
        {
            return Err(AppError::BadRequest(
                "Search for at most 200 characters.".into(),
            ));
        }
        Ok(())
    }
}

/// `GET /api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/browse/`.
pub async fn browse(
    state: web::Data<AppState>,
    session: Session,
    caller: ClaimedUser,
    path: web::Path<(i64, i64)>,
    query: web::Query<BrowseQuery>,
) -> AppResult<HttpResponse> {
    let (folder_id, connection_id) = path.into_inner();
    let mut query = query.into_inner();
    // A browse that will go ahead takes its hit with the read, which also confirms a
    // session served without reading its row (one round trip on PostgreSQL for all three);
    // its audit row, committed by `list` before the answer, flushes the hit to disk.
    let valid = query.check();
    let limit = state.settings.cloud_browse_limit();
    let prepared = Call::prepare_for_files(
        &state,
        caller.claimed(),
        caller.to_confirm(),
        folder_id,
        connection_id,
        valid.is_ok().then_some(&limit),
    )
    .await;
    if matches!(prepared, Err(AppError::Unauthenticated)) {
        // Logged out, expired or deactivated since this process read the session.
        session.purge();
    }
    let (folder, call, go) = prepared?;
    let user = caller.confirmed();
    let (conn, connector) = (call.connection(), call.connector());
    let here = Here {
        folder: &folder,
        conn,
        connector,
        retry_url: browse_url(
            folder.id,
            conn.id,
            &BrowseQuery {
                page_token: None,
                ..query.clone()
            },
        ),
    };
    let listed = async {
        valid?;
        go?;
        list(&state, &user, &call, &query).await
    }
    .await;
    let page = match listed {
        Ok(page) => page,
        Err(e) => return error_fragment(&here, e),
    };
    let view = BrowseView::new(&folder, conn, connector, &query, &page)?;
    let size = view.rendered_size();
    if query.page_token.is_some() {
        return Ok(html_sized(RowsFragment { b: view }, 200, size));
    }
    Ok(html_sized(
        BrowseFragment {
            b: view,
            csrf: csrf::token(&session),
        },
        200,
        size,
    ))
}

/// `POST /api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/import/`:
/// queue the checked files (`file` fields) and answer at once.
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<(i64, i64)>,
    form: web::Form<Vec<(String, String)>>,
) -> AppResult<HttpResponse> {
    let (folder_id, connection_id) = path.into_inner();
    let (folder, call) = file_call(&state, &user, folder_id, connection_id).await?;
    let (conn, connector) = (call.connection(), call.connector());
    let here = Here {
        folder: &folder,
        conn,
        connector,
        retry_url: browse_url(folder.id, conn.id, &BrowseQuery::default()),
    };
    let queued = async {
        let mut picks = Vec::new();
        for (_, value) in form.iter().filter(|(name, _)| name == "file") {
            picks.push(Pick::decode(value).ok_or_else(|| {
                AppError::BadRequest(
                    "The selection could not be read. Reload the list and select again.".into(),
                )
            })?);
        }
        import_service::check_selection(&picks)?;
        connections::signed_in(conn)?;
        rate_limits::check(&state.writes, user.id, &state.settings.cloud_import_limit()).await?;
        import_service::enqueue(state.files(), &folder, conn, &connector.row.slug, &picks).await
    }
    .await;
    let done = match queued {
        Ok(done) => done,
        Err(e) => return error_fragment(&here, e),
    };
    let names: Vec<String> = done.files.iter().map(|f| f.name.clone()).collect();
    let message = match (names.len() - done.already_there, done.already_there) {
        (0, _) => "Those files are already in this folder.".to_owned(),
        (n, 0) => format!("Importing {n} {} from {}.", plural(n), connector.row.name),
        (n, m) => format!(
            "Importing {n} {} from {}; {m} {} already in this folder.",
            plural(n),
            connector.row.name,
            if m == 1 { "was" } else { "were" }
        ),
    };
    if !super::is_htmx(&req) {
        flash(&session, "success", message);
        return Ok(see_other(&paths::folder(folder.id)));
    }
    let body = ImportedFragment {
        message,
        names,
        browse_url: browse_url(folder.id, conn.id, &BrowseQuery::default()),
    }
    .render()
    .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(HttpResponse::Accepted()
        .insert_header(("HX-Trigger", "files-changed"))
        .content_type("text/html; charset=utf-8")
        .body(body))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "file" } else { "files" }
}

/// The caller's folder, and their connection `id` prepared for a call if its connector is a
/// file source.
async fn file_call(
    state: &AppState,
    user: &CurrentUser,
    folder_id: i64,
    id: i64,
) -> AppResult<(knowledge_folder::Model, Call)> {
    let (folder, call, _) = Call::prepare_for_files(state, user, None, folder_id, id, None).await?;
    Ok((folder, call))
}

/// A page of the listing or the search the query asks for.
async fn list(
    state: &AppState,
    user: &CurrentUser,
    prepared: &Call,
    query: &BrowseQuery,
) -> AppResult<FileList> {
    let page_token = query.page_token.clone();
    let call = match &query.q {
        Some(q) => FileCall::Search(SearchRequest {
            query: q.trim().to_owned(),
            page_token,
        }),
        None => FileCall::List(ListRequest {
            folder: query.folder.clone(),
            page_token,
        }),
    };
    run_action::list_files(state, Caller::web(user), prepared, call).await
}

/// Where a fragment is being rendered, for links in error messages.
struct Here<'a> {
    folder: &'a knowledge_folder::Model,
    conn: &'a connection::Model,
    connector: &'a ResolvedConnector,
    retry_url: String,
}

/// A failure as a fragment into `#cloud-import-errors` (with `Retry-After` when there is
/// one); errors that are not the user's to act on go to the app's error handling.
fn error_fragment(here: &Here<'_>, e: AppError) -> AppResult<HttpResponse> {
    let service = here.connector.row.name.clone();
    let mut view = CloudError {
        title: String::new(),
        message: e.user_message(),
        reconnect_url: None,
        retry_url: None,
        retry_after: e.retry_after().map(|d| d.as_secs().max(1)),
        service: service.clone(),
        services_url: services_url(here.folder.id),
    };
    match &e {
        AppError::NotFound | AppError::Internal(_) | AppError::Unavailable(_) => return Err(e),
        AppError::Connector(ConnectorError::AuthExpired { .. }) => {
            view.title = format!("Reconnect {service}");
            view.message = format!(
                "{service} no longer accepts this connection's credentials. Reconnect to keep \
                 browsing and importing."
            );
            view.reconnect_url = Some(reconnect_url(
                &here.connector.row.slug,
                here.conn.id,
                here.folder.id,
            ));
        }
        AppError::RateLimited { .. } => {
            view.title = "Slow down a little".into();
            view.message = "You have made many cloud requests in a short time.".into();
            view.retry_url = Some(here.retry_url.clone());
        }
        AppError::Connector(ConnectorError::RateLimited { .. }) => {
            view.title = format!("{service} is busy");
            view.message = format!("{service} asked us to slow down.");
            view.retry_url = Some(here.retry_url.clone());
        }
        AppError::Connector(ConnectorError::ProviderUnavailable { retry_at, .. }) => {
            view.title = format!("{service} is having trouble");
            view.message = format!(
                "{service} is having trouble; retrying at {retry_at} UTC. Your files are safe."
            );
            view.retry_url = Some(here.retry_url.clone());
        }
        AppError::Connector(ConnectorError::Upstream { .. } | ConnectorError::Transport { .. }) => {
            view.title = format!("{service} is not available");
            view.message = format!(
                "{service} is not responding as expected right now. Your files are safe; try \
                 again in a moment."
            );
            view.retry_url = Some(here.retry_url.clone());
        }
        AppError::Connector(ConnectorError::NotFound { .. }) => {
            view.title = "Not found".into();
            view.message = format!(
                "That folder or file is not in {service} any more, or this account cannot see it."
            );
        }
        AppError::Connector(ConnectorError::PermissionDenied { .. }) => {
            view.title = "No access".into();
        }
        AppError::BadRequest(_) => view.title = "Check your selection".into(),
        _ => view.title = "That did not work".into(),
    }
    let status = e.status_code();
    let body = view
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    let mut res = HttpResponse::build(status);
    res.insert_header(("HX-Retarget", "#cloud-import-errors"))
        .insert_header(("HX-Reswap", "innerHTML"))
        .content_type("text/html; charset=utf-8");
    if let Some(s) = view.retry_after {
        res.insert_header(("Retry-After", s.to_string()));
    }
    Ok(res.body(body))
}

fn services_url(folder_id: i64) -> String {
    paths::cloud_import(folder_id)
}

/// Reconnect `connection_id`, then come back to the knowledge folder.
fn reconnect_url(slug: &str, connection_id: i64, folder_id: i64) -> String {
    paths::connect_start(slug, Some(connection_id), Some(folder_id))
}

fn browse_url(folder_id: i64, connection_id: i64, q: &BrowseQuery) -> String {
    let mut url = paths::cloud_browse(folder_id, connection_id);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("folder", &q.folder),
        ("q", &q.q),
        ("trail", &q.trail),
        ("page_token", &q.page_token),
    ] {
        if let Some(v) = v {
            query.append_pair(k, v);
        }
    }
    let query = query.finish();
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    url
}

/// The links that open a folder from a page whose path is `trail`: [`browse_url`] with
/// `folder=<id>` and `trail=` the path down to that folder, as URL-safe base64 of the JSON
/// `[["id","name"],…]` ([`decode_trail`] reads it back). What every folder on the page
/// shares (the URL up to the id, the path's JSON) is written once, not once per folder.
struct FolderLinks {
    /// `…/browse/?folder=`.
    base: String,
    /// The path's JSON without its closing `]`.
    trail_json: Vec<u8>,
}

impl FolderLinks {
    fn new(folder_id: i64, connection_id: i64, trail: &[Breadcrumb]) -> Self {
        let mut base = paths::cloud_browse(folder_id, connection_id);
        base.push_str("?folder=");
        let mut trail_json = Vec::with_capacity(64 * (trail.len() + 1));
        trail_json.push(b'[');
        for (i, crumb) in trail.iter().enumerate() {
            if i > 0 {
                trail_json.push(b',');
            }
            push_crumb_json(&mut trail_json, &crumb.id, &crumb.name);
        }
        Self { base, trail_json }
    }

    /// The link that opens the folder `id` called `name`.
    fn open(&self, id: &str, name: &str) -> String {
        let mut json = Vec::with_capacity(self.trail_json.len() + id.len() + name.len() + 8);
        json.extend_from_slice(&self.trail_json);
        if json.len() > 1 {
            json.push(b',');
        }
        push_crumb_json(&mut json, id, name);
        json.push(b']');
        let mut url =
            String::with_capacity(self.base.len() + 3 * id.len() + 8 + json.len() * 4 / 3);
        url.push_str(&self.base);
        url.extend(url::form_urlencoded::byte_serialize(id.as_bytes()));
        url.push_str("&trail=");
        // URL-safe base64 holds nothing form encoding would change.
        URL_SAFE_NO_PAD.encode_string(&json, &mut url);
        url
    }
}

/// One step of a trail's JSON, `["id","name"]`.
fn push_crumb_json(json: &mut Vec<u8>, id: &str, name: &str) {
    // Writing JSON into a `Vec` fails only for a value that cannot be JSON; strings can.
    let _ = serde_json::to_writer(&mut *json, &(id, name));
}

fn decode_trail(value: &str) -> Vec<Breadcrumb> {
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<(String, String)>>(&b).ok())
        .unwrap_or_default()
        .into_iter()
        .take(64)
        .map(|(id, name)| Breadcrumb { id, name })
        .collect()
}

/// A listing page, ready to render: its rows borrow the listing's strings, and what is
/// worked out per row (the pick, the size, the time) is written straight into the page.
pub struct BrowseView<'a> {
    service: &'a str,
    icon: &'a str,
    account: &'a str,
    services_url: String,
    import_url: String,
    can_search: bool,
    query: &'a str,
    root_url: String,
    crumbs: Vec<CrumbView>,
    rows: Vec<EntryView<'a>>,
    more_url: Option<String>,
    /// Files on this page that can be imported.
    importable: usize,
}

struct CrumbView {
    name: String,
    url: String,
}

struct EntryView<'a> {
    name: &'a str,
    is_folder: bool,
    open_url: String,
    /// Files only. `Pick::encode_entry`: URL-safe base64, which holds no character HTML
    /// escapes, so the template writes it as it is (escaping 50 of them was a tenth of the
    /// rendering); so are the size and the time, digits and letters.
    pick: Option<PickValue<'a>>,
    can_download: bool,
    icon: &'static str,
    size: Option<HumanSize>,
    modified: Option<Minute>,
    web_link: Option<&'a str>,
}

impl<'a> BrowseView<'a> {
    /// About how many bytes the fragment renders to (a little more than a 50-row My Drive
    /// listing measures: 27 KB), so its buffer is allocated once.
    fn rendered_size(&self) -> usize {
        4096 + 640 * self.rows.len()
    }

    fn new(
        folder: &knowledge_folder::Model,
        conn: &'a connection::Model,
        connector: &'a ResolvedConnector,
        query: &'a BrowseQuery,
        page: &'a FileList,
    ) -> AppResult<Self> {
        let source = connector.plugin.files().ok_or(AppError::NotFound)?;
        let browse = |q: &BrowseQuery| browse_url(folder.id, conn.id, q);
        // The path to the listed folder: the connector's when it reports one, else the
        // trail the links carried here.
        let trail: Vec<Breadcrumb> = if query.q.is_some() {
            Vec::new()
        } else {
            match page.breadcrumbs.clone() {
                Some(crumbs) => crumbs,
                None => query.trail.as_deref().map(decode_trail).unwrap_or_default(),
            }
        };
        let crumbs = trail
            .iter()
            .enumerate()
            .map(|(i, c)| CrumbView {
                name: c.name.clone(),
                url: FolderLinks::new(folder.id, conn.id, &trail[..i]).open(&c.id, &c.name),
            })
            .collect();
        let folders = FolderLinks::new(folder.id, conn.id, &trail);
        let rows: Vec<EntryView> = page
            .files
            .iter()
            .map(|entry| {
                let is_folder = entry.kind == FileKind::Folder;
                let open_url = if is_folder {
                    folders.open(&entry.id, &entry.name)
                } else {
                    String::new()
                };
                EntryView {
                    name: &entry.name,
                    is_folder,
                    open_url,
                    pick: (!is_folder).then(|| Pick::entry_value(entry)),
                    can_download: !is_folder && entry.can_download,
                    icon: source.icon(entry).as_str(),
                    size: entry.size.map(HumanSize),
                    modified: entry.modified_time.map(Minute),
                    web_link: entry
                        .web_link
                        .as_deref()
                        .filter(|l| l.starts_with("https://")),
                }
            })
            .collect();
        let more_url = page.next_page_token.as_ref().map(|token| {
            browse(&BrowseQuery {
                page_token: Some(token.clone()),
                ..query.clone()
            })
        });
        Ok(Self {
            service: &connector.row.name,
            icon: &connector.row.icon,
            account: conn.service_identity.as_deref().unwrap_or_default(),
            services_url: services_url(folder.id),
            import_url: paths::cloud_import_files(folder.id, conn.id),
            can_search: source.actions().search.is_some(),
            query: query.q.as_deref().unwrap_or_default(),
            root_url: browse(&BrowseQuery::default()),
            crumbs,
            importable: rows.iter().filter(|r| r.can_download).count(),
            rows,
            more_url,
        })
    }
}

/// `2026-12-06 14:05`, as `%Y-%m-%d %H:%M` gives it, for `{}`: written digit by digit, since
/// a strftime pattern is parsed again for every row and `format!` with widths costs about as
/// much.
struct Minute(chrono::DateTime<chrono::Utc>);

impl std::fmt::Display for Minute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::{Datelike, Timelike};
        // The naive time once: each accessor of a `DateTime` works it out again.
        let t = self.0.naive_utc();
        let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
            return write!(f, "{}", self.0.format("%Y-%m-%d %H:%M"));
        };
        let mut out = [0u8; 16];
        for (at, value, width) in [
            (0, year, 4),
            (5, t.month(), 2),
            (8, t.day(), 2),
            (11, t.hour(), 2),
            (14, t.minute(), 2),
        ] {
            import_service::fill_digits(&mut out[at..at + width], value);
        }
        (out[4], out[7], out[10], out[13]) = (b'-', b'-', b' ', b':');
        f.write_str(std::str::from_utf8(&out).map_err(|_| std::fmt::Error)?)
    }
}

// ---- templates -------------------------------------------------------------------------

struct Service {
    name: String,
    description: String,
    icon: String,
    configured: bool,
    connect_url: String,
    connections: Vec<ServiceConnection>,
}

struct ServiceConnection {
    id: i64,
    label: String,
    needs_reconnect: bool,
    browse_url: String,
    reconnect_url: String,
}

#[derive(Template)]
#[template(path = "_cloud_services.html")]
struct ServicesFragment {
    services: Vec<Service>,
}

#[derive(Template)]
#[template(path = "_cloud_browse.html")]
struct BrowseFragment<'a> {
    b: BrowseView<'a>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "_cloud_rows.html")]
struct RowsFragment<'a> {
    b: BrowseView<'a>,
}

#[derive(Template)]
#[template(path = "_cloud_imported.html")]
struct ImportedFragment {
    message: String,
    names: Vec<String>,
    browse_url: String,
}

#[derive(Template)]
#[template(path = "_cloud_error.html")]
struct CloudError {
    title: String,
    message: String,
    service: String,
    reconnect_url: Option<String>,
    retry_url: Option<String>,
    retry_after: Option<u64>,
    services_url: String,
}

#[cfg(test)]
#[path = "cloud_import_tests.rs"]
mod tests;
