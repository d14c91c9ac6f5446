//! The `driveItem` resource as Graph returns it (tags, facets, parent reference, download
//! URL), references to items in other drives, and the download links handed out.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::errors::guid;

use super::state::{Item, Kind, Link, Shared, State};
use crate::upstream::{BodyFault, Checksum, fingerprint, splitmix64};

pub(super) fn tag_guid(item: &Item) -> String {
    let seed = fingerprint(&[&item.id]);
    guid(splitmix64(seed), splitmix64(seed ^ 0xA5A5)).to_uppercase()
}

pub(super) fn e_tag(item: &Item) -> String {
    format!("\"{{{}}},{}\"", tag_guid(item), item.entity_version)
}

pub(super) fn c_tag(item: &Item) -> String {
    format!("\"c:{{{}}},{}\"", tag_guid(item), item.content_version)
}

pub(super) fn format_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(super) fn web_url(state: &State, item: &Item) -> String {
    let site = state.drive(&item.drive).map_or("", |d| d.site.as_str());
    let path: String = state
        .path_of(item)
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{}", s.replace(' ', "%20")))
        .collect();
    format!("https://campus-my.sharepoint.com/personal/{site}/Documents{path}")
}

pub(super) fn identity(name: &str, email: &str) -> Value {
    json!({"user": {"displayName": name, "email": email}})
}

/// The facets that say what an item is, with its size.
pub(super) fn facets(state: &State, item: &Item, object: &mut Map<String, Value>) {
    object.insert("size".to_owned(), json!(state.size(item)));
    match &item.kind {
        Kind::Folder => {
            object.insert(
                "folder".to_owned(),
                json!({"childCount": state.child_count(&item.id)}),
            );
        }
        Kind::File { blob, mime } => {
            let mut hashes = Map::new();
            if let Some(quick_xor) = blob.computed(Checksum::QuickXor) {
                hashes.insert("quickXorHash".to_owned(), json!(quick_xor));
            }
            if state.sha256
                && let Some(sha256) = blob.computed(Checksum::Sha256)
            {
                hashes.insert("sha256Hash".to_owned(), json!(sha256.to_ascii_uppercase()));
            }
            object.insert(
                "file".to_owned(),
                json!({"mimeType": mime, "hashes": hashes}),
            );
        }
        Kind::Notebook => {
            object.insert("package".to_owned(), json!({"type": "oneNote"}));
        }
    }
}

/// A `driveItem` of the drive it lives in; `download_url` adds a fresh
/// `@microsoft.graph.downloadUrl` to files (only when `$select` does not leave it out:
/// each is a new link).
pub(super) fn item_json(shared: &Shared, state: &State, item: &Item, download_url: bool) -> Value {
    let drive = state.drive(&item.drive);
    let mut object = Map::new();
    object.insert("id".to_owned(), json!(item.id));
    object.insert("name".to_owned(), json!(item.name));
    object.insert("eTag".to_owned(), json!(e_tag(item)));
    object.insert("cTag".to_owned(), json!(c_tag(item)));
    object.insert(
        "createdDateTime".to_owned(),
        json!(format_time(item.created)),
    );
    object.insert(
        "lastModifiedDateTime".to_owned(),
        json!(format_time(item.modified)),
    );
    object.insert("webUrl".to_owned(), json!(web_url(state, item)));
    if let Some(drive) = drive {
        let who = identity(&drive.owner_name, &drive.owner_email);
        object.insert("createdBy".to_owned(), who.clone());
        object.insert("lastModifiedBy".to_owned(), who);
    }
    object.insert(
        "fileSystemInfo".to_owned(),
        json!({"createdDateTime": format_time(item.created),
               "lastModifiedDateTime": format_time(item.modified)}),
    );
    let mut parent = json!({"driveType": "business", "driveId": item.drive});
    if let Some(parent_id) = &item.parent {
        let parent_path = state
            .items
            .get(parent_id)
            .map(|p| state.path_of(p))
            .unwrap_or_default();
        let prefix = if drive.is_some_and(|d| d.id == state.my_drive().id) {
            "/drive/root:".to_owned()
        } else {
            format!("/drives/{}/root:", item.drive)
        };
        parent["id"] = json!(parent_id);
        parent["path"] = json!(format!("{prefix}{parent_path}"));
    } else {
        object.insert("root".to_owned(), json!({}));
    }
    object.insert("parentReference".to_owned(), parent);
    facets(state, item, &mut object);
    if item.malware {
        object.insert(
            "malware".to_owned(),
            json!({"description": "Trojan:Win32/Fake.A"}),
        );
    }
    if download_url && matches!(item.kind, Kind::File { .. }) {
        object.insert(
            "@microsoft.graph.downloadUrl".to_owned(),
            json!(issue_link(shared, state, item, None)),
        );
    }
    Value::Object(object)
}

/// A reference to `item` (in another drive) as `sharedWithMe` and search list it.
pub(super) fn reference_json(
    state: &State,
    reference_id: &str,
    item: &Item,
    search_hit: bool,
) -> Value {
    let mut remote = Map::new();
    remote.insert("id".to_owned(), json!(item.id));
    remote.insert("name".to_owned(), json!(item.name));
    remote.insert(
        "createdDateTime".to_owned(),
        json!(format_time(item.created)),
    );
    remote.insert(
        "lastModifiedDateTime".to_owned(),
        json!(format_time(item.modified)),
    );
    remote.insert("webUrl".to_owned(), json!(web_url(state, item)));
    let mut parent = json!({"driveType": "business", "driveId": item.drive});
    if let Some(parent_id) = &item.parent {
        parent["id"] = json!(parent_id);
    }
    remote.insert("parentReference".to_owned(), parent);
    if let Some(drive) = state.drive(&item.drive) {
        remote.insert(
            "shared".to_owned(),
            json!({"owner": identity(&drive.owner_name, &drive.owner_email),
                   "scope": "users"}),
        );
        remote.insert(
            "createdBy".to_owned(),
            identity(&drive.owner_name, &drive.owner_email),
        );
    }
    facets(state, item, &mut remote);
    let mut object = json!({
        "id": reference_id,
        "name": item.name,
        "webUrl": web_url(state, item),
        "remoteItem": remote,
    });
    if search_hit {
        object["searchResult"] = json!({});
    }
    object
}

/// Makes a download link for `item`, valid for the configured time.
pub(super) fn issue_link(
    shared: &Shared,
    state: &State,
    item: &Item,
    fault: Option<BodyFault>,
) -> String {
    static ISSUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = ISSUED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let words = [splitmix64(n ^ fingerprint(&[&item.id])), splitmix64(n)];
    let token = URL_SAFE_NO_PAD.encode(
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
    let link = Link {
        item: item.id.clone(),
        expires: Instant::now() + state.link_ttl,
        fault,
    };
    shared.links().insert(token.clone(), link);
    let site = state.drive(&item.drive).map_or("", |d| d.site.as_str());
    format!(
        "{}/personal/{site}/_layouts/15/download.aspx?UniqueId={}&tempauth={token}",
        state.download_base.as_deref().unwrap_or(&shared.base_url),
        tag_guid(item)
    )
}
