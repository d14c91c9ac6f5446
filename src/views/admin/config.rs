//! `/admin/connectors/{slug}/config`: the keys a connector declares (with help text and
//! defaults) and free keys. Secret values are write-only: the page shows their mask
//! (`••••1a2b`) beside an always-empty input, so saving without retyping keeps the stored
//! value, and an explicit "clear" checkbox removes it. Values are read from the database on
//! every use, so a change takes effect without a restart. Each save that changes something
//! writes one `admin_audit_log` row, secrets as `sha256:` fingerprints.

use super::fmt_time;
use super::summary::{find_row, summary};
use super::templates::{ConfigField, ConfigPage};
use crate::auth::{AdminUser, csrf};
use crate::error::{AppError, AppResult};
use crate::models::entities::connector;
use crate::services::admin_audit::{self, Change};
use crate::services::connector_config::{self, StoredEntry, valid_key};
use crate::services::oauth;
use crate::state::AppState;
use crate::templates::{PageCtx, flash};
use crate::views::account::html;
use crate::views::see_other;
use actix_session::Session;
use actix_web::{HttpResponse, web};
use campuscore_connectors::{Connector, ConnectorKind};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Longest value accepted for one key.
const MAX_VALUE_LEN: usize = 4096;

/// The declared and the free keys of a connector, as stored now.
pub async fn fields(
    state: &AppState,
    row: &connector::Model,
    plugin: &dyn Connector,
) -> AppResult<(Vec<ConfigField>, Vec<ConfigField>)> {
    let stored = connector_config::stored(&state.db, &state.keyring, row.id).await?;
    Ok(build_fields(plugin, &stored, None, &BTreeMap::new()))
}

/// Fields for the page: from the stored values, or (after a rejected save) from what was
/// posted. A secret's input is always empty.
fn build_fields(
    plugin: &dyn Connector,
    stored: &[StoredEntry],
    posted: Option<&HashMap<String, String>>,
    errors: &BTreeMap<String, String>,
) -> (Vec<ConfigField>, Vec<ConfigField>) {
    let spec = plugin.spec();
    let by_key: HashMap<&str, &StoredEntry> = stored.iter().map(|e| (e.key.as_str(), e)).collect();
    let field =
        |key: &str, label: &str, help: &str, secret: bool, required: bool, declared: bool| {
            let entry = by_key.get(key);
            let name = format!("value_{key}");
            let value = if secret {
                String::new()
            } else {
                match posted {
                    Some(p) => p.get(&name).cloned().unwrap_or_default(),
                    None => entry.and_then(|e| e.plain.clone()).unwrap_or_default(),
                }
            };
            ConfigField {
                key: key.to_owned(),
                label: label.to_owned(),
                help: help.to_owned(),
                secret,
                required,
                declared,
                default: spec.config_default(key).map(|d| d.into_owned()),
                value,
                stored: entry.map(|e| e.shown()),
                updated: entry.map(|e| fmt_time(e.updated_at)),
                error: errors.get(&name).cloned(),
            }
        };
    let declared = spec
        .config_keys
        .iter()
        .map(|k| {
            let secret = k.secret || by_key.get(k.key).is_some_and(|e| e.is_secret);
            field(k.key, k.label, k.help, secret, k.required, true)
        })
        .collect();
    let free = stored
        .iter()
        .filter(|e| spec.config_key(&e.key).is_none())
        .map(|e| field(&e.key, &e.key, "", e.is_secret, false, false))
        .collect();
    (declared, free)
}

async fn registered(
    state: &AppState,
    slug: &str,
) -> AppResult<(connector::Model, Arc<dyn Connector>)> {
    let row = find_row(state, slug).await?;
    let plugin = state.registry.get(&row.slug).cloned().ok_or_else(|| {
        AppError::Conflict(format!(
            "{} is not available in this version; its configuration cannot be edited.",
            row.name
        ))
    })?;
    Ok((row, plugin))
}

#[expect(
    clippy::too_many_arguments,
    reason = "the page has that many parts; one flat call reads best"
)]
async fn render(
    state: &AppState,
    session: &Session,
    admin: &AdminUser,
    row: &connector::Model,
    plugin: &dyn Connector,
    posted: Option<&HashMap<String, String>>,
    errors: BTreeMap<String, String>,
    status: u16,
) -> AppResult<HttpResponse> {
    let stored = connector_config::stored(&state.db, &state.keyring, row.id).await?;
    let (declared, free) = build_fields(plugin, &stored, posted, &errors);
    let connections = 0; // not shown on this page
    let s = summary(state, row, connections, &csrf::token(session)).await?;
    let get = |k: &str| posted.and_then(|p| p.get(k)).cloned().unwrap_or_default();
    let page = ConfigPage {
        ctx: PageCtx::new(session, Some(admin)),
        nav: "connectors",
        redirect_uri: (plugin.spec().kind == ConnectorKind::OAuth2)
            .then(|| oauth::redirect_uri(state, &row.slug)),
        s,
        declared,
        free,
        new_key: get("new_key"),
        // A value for a new secret key is never echoed back.
        new_value: if posted.is_some_and(|p| p.contains_key("new_secret")) {
            String::new()
        } else {
            get("new_value")
        },
        new_secret: posted.is_some_and(|p| p.contains_key("new_secret")),
        errors,
    };
    Ok(html(page, status))
}

/// `GET /admin/connectors/{slug}/config`.
pub async fn edit(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let (row, plugin) = registered(&state, &slug).await?;
    render(
        &state,
        &session,
        &admin,
        &row,
        plugin.as_ref(),
        None,
        BTreeMap::new(),
        200,
    )
    .await
}

/// What a save does to one key.
enum Op {
    Set {
        key: String,
        value: String,
        secret: bool,
    },
    Delete {
        key: String,
    },
}

/// A problem with `value` for `key`, if any.
fn check_value(key: &str, value: &str, secret: bool) -> Option<String> {
    if value.len() > MAX_VALUE_LEN {
        return Some(format!("Use at most {MAX_VALUE_LEN} characters."));
    }
    if value.contains(['\r', '\n', '\0']) {
        return Some("Use a single line.".into());
    }
    if !secret {
        return connector_config::url_value_problem(key, value);
    }
    None
}

/// Work out the changes a posted form asks for, or the field errors that stop it.
fn plan(
    plugin: &dyn Connector,
    stored: &[StoredEntry],
    form: &HashMap<String, String>,
) -> Result<Vec<Op>, BTreeMap<String, String>> {
    let spec = plugin.spec();
    let by_key: HashMap<&str, &StoredEntry> = stored.iter().map(|e| (e.key.as_str(), e)).collect();
    let mut keys: Vec<(&str, bool)> = spec
        .config_keys
        .iter()
        .map(|k| {
            (
                k.key,
                k.secret || by_key.get(k.key).is_some_and(|e| e.is_secret),
            )
        })
        .collect();
    keys.extend(
        stored
            .iter()
            .filter(|e| spec.config_key(&e.key).is_none())
            .map(|e| (e.key.as_str(), e.is_secret)),
    );
    let mut ops = Vec::new();
    let mut errors = BTreeMap::new();
    for (key, secret) in &keys {
        let (key, secret) = (*key, *secret);
        let current = by_key.get(key);
        if form.contains_key(&format!("clear_{key}")) {
            if current.is_some() {
                ops.push(Op::Delete { key: key.into() });
            }
            continue;
        }
        // A field missing from the post (an older form) leaves the key alone.
        let Some(posted) = form.get(&format!("value_{key}")).map(|v| v.trim()) else {
            continue;
        };
        if posted.is_empty() {
            // An empty secret input means "keep"; an emptied plain value means "use the default".
            if !secret && current.is_some() {
                ops.push(Op::Delete { key: key.into() });
            }
            continue;
        }
        if let Some(e) = check_value(key, posted, secret) {
            errors.insert(format!("value_{key}"), e);
            continue;
        }
        if current.and_then(|c| c.plain.as_deref()) != Some(posted) {
            ops.push(Op::Set {
                key: key.into(),
                value: posted.into(),
                secret,
            });
        }
    }
    let new_key = form.get("new_key").map(|k| k.trim()).unwrap_or_default();
    let new_value = form.get("new_value").map(|v| v.trim()).unwrap_or_default();
    let new_secret = form.contains_key("new_secret");
    if !new_key.is_empty() || !new_value.is_empty() {
        if !valid_key(new_key) {
            errors.insert(
                "new_key".into(),
                "Use UPPER_SNAKE_CASE: capital letters, digits and underscores, starting with a letter."
                    .into(),
            );
        } else if keys.iter().any(|(k, _)| *k == new_key) {
            errors.insert(
                "new_key".into(),
                format!("{new_key} is already listed above: change it there."),
            );
        } else if new_value.is_empty() {
            errors.insert("new_value".into(), "Enter a value for the new key.".into());
        } else if let Some(e) = check_value(new_key, new_value, new_secret) {
            errors.insert("new_value".into(), e);
        } else {
            ops.push(Op::Set {
                key: new_key.into(),
                value: new_value.into(),
                secret: new_secret,
            });
        }
    }
    if errors.is_empty() {
        Ok(ops)
    } else {
        Err(errors)
    }
}

/// How a value is recorded in the admin trail.
fn audited(value: Option<&str>, secret: bool) -> Value {
    if secret {
        admin_audit::secret(value)
    } else {
        value.map_or(Value::Null, |v| Value::String(v.to_owned()))
    }
}

/// `POST /admin/connectors/{slug}/config`: apply the form; 422 with field errors (and nothing
/// saved) when any value is bad.
pub async fn save(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    slug: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
) -> AppResult<HttpResponse> {
    let (row, plugin) = registered(&state, &slug).await?;
    let form = form.into_inner();
    let stored = connector_config::stored(&state.db, &state.keyring, row.id).await?;
    let ops = match plan(plugin.as_ref(), &stored, &form) {
        Ok(ops) => ops,
        Err(errors) => {
            return render(
                &state,
                &session,
                &admin,
                &row,
                plugin.as_ref(),
                Some(&form),
                errors,
                422,
            )
            .await;
        }
    };
    if ops.is_empty() {
        flash(&session, "info", "Nothing changed.");
        return Ok(see_other(&crate::paths::admin_connector_config(&row.slug)));
    }
    let by_key: HashMap<&str, &StoredEntry> = stored.iter().map(|e| (e.key.as_str(), e)).collect();
    let mut before = Map::new();
    let mut after = Map::new();
    let mut changed = Vec::new();
    for op in &ops {
        match op {
            Op::Set { key, value, secret } => {
                let old = by_key.get(key.as_str());
                let was_secret = old.is_some_and(|o| o.is_secret) || *secret;
                before.insert(
                    key.clone(),
                    audited(old.and_then(|o| o.plain.as_deref()), was_secret),
                );
                let shown = connector_config::set(
                    &state.db,
                    &state.keyring,
                    &row,
                    plugin.as_ref(),
                    key,
                    value,
                    *secret,
                )
                .await?;
                after.insert(key.clone(), audited(Some(value), shown.is_secret));
                changed.push(key.clone());
            }
            Op::Delete { key } => {
                let old = by_key.get(key.as_str());
                before.insert(
                    key.clone(),
                    audited(
                        old.and_then(|o| o.plain.as_deref()),
                        old.is_some_and(|o| o.is_secret),
                    ),
                );
                connector_config::delete(&state.db, &row, key).await?;
                after.insert(key.clone(), Value::Null);
                changed.push(format!("{key} (removed)"));
            }
        }
    }
    admin_audit::record(
        &state.db,
        Change {
            admin_user_id: admin.id,
            action: "connector_config.update",
            target_type: "connector",
            target_id: row.slug.clone(),
            before: Value::Object(before),
            after: Value::Object(after),
        },
    )
    .await?;
    flash(
        &session,
        "success",
        format!(
            "Saved {}: {}. It applies to the next sign-in or action.",
            row.name,
            changed.join(", ")
        ),
    );
    Ok(see_other(&crate::paths::admin_connector_config(&row.slug)))
}
