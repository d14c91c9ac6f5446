//! The metadata endpoints: `/me`, drives, items, children, `search(q='…')` and
//! `sharedWithMe`.

#![expect(
    clippy::result_large_err,
    reason = "handlers return the response to send as their error, once per request"
)]

use std::sync::Arc;

use actix_web::HttpResponse;
use serde_json::json;

use super::ROOT;
use super::errors::{access_denied, guid, invalid_request, not_found};
use super::resources::{format_time, identity, item_json, reference_json};
use super::routes::{Address, Call};
use super::select::{
    DRIVE_PROPERTIES, ITEM_PROPERTIES, USER_PROPERTIES, collection, order, page, select, selection,
};
use super::state::{Item, Kind, Shared, State};
use crate::upstream::{Blob, Checksum, Reply, ensure_checksums, fingerprint};

/// The item `address` names, if the user may read it.
pub(super) fn find(state: &State, address: &Address) -> Result<Item, HttpResponse> {
    let (drive_id, id) = match address {
        Address::Mine(id) => (state.my_drive().id.as_str(), id.as_str()),
        Address::InDrive(drive, id) => (drive.as_str(), id.as_str()),
    };
    let Some(drive) = state.drive(drive_id) else {
        return Err(not_found());
    };
    let id = if id == ROOT { drive.root.as_str() } else { id };
    match state.items.get(id) {
        Some(item) if item.drive == drive.id && state.readable(item) => Ok(item.clone()),
        Some(item) if item.drive == drive.id => Err(access_denied()),
        _ => Err(not_found()),
    }
}

/// The hashes files report: `quickXorHash`, and `sha256Hash` unless turned off.
pub(super) fn hashes(sha256: bool) -> &'static [Checksum] {
    if sha256 {
        &[Checksum::QuickXor, Checksum::Sha256]
    } else {
        &[Checksum::QuickXor]
    }
}

pub(super) fn blobs_of<'a>(items: impl IntoIterator<Item = &'a Item>) -> Vec<Arc<Blob>> {
    items
        .into_iter()
        .filter_map(|item| match &item.kind {
            Kind::File { blob, .. } => Some(blob.clone()),
            _ => None,
        })
        .collect()
}

/// Whether a response with this `$select` carries `@microsoft.graph.downloadUrl`.
pub(super) fn wants_download_url(keys: Option<&[String]>) -> bool {
    keys.is_none_or(|keys| keys.iter().any(|k| k == "@microsoft.graph.downloadUrl"))
}

pub(super) fn me(shared: &Shared, call: &Call) -> Result<Reply, HttpResponse> {
    let keys = selection(call, USER_PROPERTIES, "microsoft.graph.user")?;
    let state = shared.lock();
    let context = match &keys {
        Some(keys) => format!("$metadata#users({})/$entity", keys.join(",")),
        None => "$metadata#users/$entity".to_owned(),
    };
    let (given, surname) = state
        .user_name
        .split_once(' ')
        .unwrap_or((state.user_name.as_str(), ""));
    let body = json!({
        "@odata.context": format!("{}/v1.0/{context}", shared.base_url),
        "id": guid(fingerprint(&[&state.user_principal]), 7),
        "displayName": state.user_name,
        "givenName": given,
        "surname": surname,
        "mail": state.user_mail,
        "userPrincipalName": state.user_principal,
        "jobTitle": null,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "businessPhones": [],
    });
    Ok(Reply::Json(select(body, keys.as_deref())))
}

pub(super) fn drive(shared: &Shared, call: &Call, id: Option<&str>) -> Result<Reply, HttpResponse> {
    let keys = selection(call, DRIVE_PROPERTIES, "microsoft.graph.drive")?;
    let state = shared.lock();
    let mine = state.my_drive().id.clone();
    let drive = state.drive(id.unwrap_or(&mine)).ok_or_else(not_found)?;
    if drive.id != mine {
        return Err(access_denied());
    }
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#drives/$entity", shared.base_url),
        "id": drive.id,
        "name": "OneDrive",
        "driveType": "business",
        "createdDateTime": format_time(state.clock),
        "lastModifiedDateTime": format_time(state.clock),
        "webUrl": format!("https://campus-my.sharepoint.com/personal/{}/Documents", drive.site),
        "owner": identity(&drive.owner_name, &drive.owner_email),
        "quota": {"total": 1_099_511_627_776u64, "used": 0, "remaining": 1_099_511_627_776u64,
                  "deleted": 0, "state": "normal"},
    });
    Ok(Reply::Json(select(body, keys.as_deref())))
}

pub(super) async fn get_item(
    shared: &Shared,
    call: &Call,
    address: &Address,
) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    let (item, sha256) = {
        let state = shared.lock();
        (find(&state, address)?, state.sha256)
    };
    ensure_checksums(blobs_of([&item]), hashes(sha256)).await;
    let state = shared.lock();
    let mut body = item_json(shared, &state, &item, wants_download_url(keys.as_deref()));
    body["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#drives('{}')/items/$entity",
        shared.base_url, item.drive
    ));
    Ok(Reply::Json(select(body, keys.as_deref())))
}

pub(super) async fn children(
    shared: &Shared,
    call: &Call,
    address: &Address,
) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    let (items, next, sha256) = {
        let state = shared.lock();
        let folder = find(&state, address)?;
        let mut all: Vec<Item> = state
            .order
            .iter()
            .filter_map(|id| state.items.get(id))
            .filter(|i| i.parent.as_deref() == Some(folder.id.as_str()))
            .cloned()
            .collect();
        order(&state, call, &mut all)?;
        let (items, next) = page(shared, call, &all)?;
        (items, next, state.sha256)
    };
    ensure_checksums(blobs_of(&items), hashes(sha256)).await;
    let state = shared.lock();
    let download = wants_download_url(keys.as_deref());
    let values = items
        .iter()
        .map(|item| select(item_json(shared, &state, item, download), keys.as_deref()))
        .collect();
    Ok(Reply::Json(collection(shared, values, next)))
}

/// A search hit: an item of the searched drive, or a reference to an item shared with the
/// user.
#[derive(Debug, Clone)]
pub(super) enum Hit {
    Own(Item),
    Shared(String, Item),
}

/// Graph's search matches names, metadata and content; here every word of the query must
/// occur in the name, case-insensitively.
pub(super) fn name_matches(name: &str, term: &str) -> bool {
    let name = name.to_lowercase();
    term.to_lowercase()
        .split_whitespace()
        .all(|word| name.contains(word))
}

pub(super) async fn search(
    shared: &Shared,
    call: &Call,
    address: &Address,
    term: &str,
) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    if term.trim().is_empty() {
        return Err(invalid_request("The search query must not be empty."));
    }
    let (hits, next, sha256) = {
        let state = shared.lock();
        let folder = find(&state, address)?;
        let mut all: Vec<Hit> = state
            .order
            .iter()
            .filter_map(|id| state.items.get(id))
            .filter(|i| i.drive == folder.drive && state.is_below(i, &folder.id))
            .filter(|i| name_matches(&i.name, term))
            .map(|i| Hit::Own(i.clone()))
            .collect();
        if folder.parent.is_none() && folder.drive == state.my_drive().id {
            all.extend(state.shared.iter().filter_map(|(reference, id)| {
                let item = state.items.get(id)?;
                name_matches(&item.name, term).then(|| Hit::Shared(reference.clone(), item.clone()))
            }));
        }
        let (hits, next) = page(shared, call, &all)?;
        (hits, next, state.sha256)
    };
    let items = hits.iter().map(|hit| match hit {
        Hit::Own(item) | Hit::Shared(_, item) => item,
    });
    ensure_checksums(blobs_of(items), hashes(sha256)).await;
    let state = shared.lock();
    let download = wants_download_url(keys.as_deref());
    let values = hits
        .iter()
        .map(|hit| {
            let value = match hit {
                Hit::Own(item) => {
                    let mut value = item_json(shared, &state, item, download);
                    value["searchResult"] = json!({});
                    value
                }
                Hit::Shared(reference, item) => reference_json(&state, reference, item, true),
            };
            select(value, keys.as_deref())
        })
        .collect();
    Ok(Reply::Json(collection(shared, values, next)))
}

pub(super) async fn shared_with_me(shared: &Shared, call: &Call) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    let (entries, next, sha256) = {
        let state = shared.lock();
        let all: Vec<(String, Item)> = state
            .shared
            .iter()
            .filter_map(|(reference, id)| Some((reference.clone(), state.items.get(id)?.clone())))
            .collect();
        let (entries, next) = page(shared, call, &all)?;
        (entries, next, state.sha256)
    };
    ensure_checksums(
        blobs_of(entries.iter().map(|(_, item)| item)),
        hashes(sha256),
    )
    .await;
    let state = shared.lock();
    let values = entries
        .iter()
        .map(|(reference, item)| {
            select(
                reference_json(&state, reference, item, false),
                keys.as_deref(),
            )
        })
        .collect();
    Ok(Reply::Json(collection(shared, values, next)))
}
