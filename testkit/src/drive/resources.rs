//! The `File` resource as Drive returns it, with every field the fake knows.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::content::export_formats;
use super::list_query::format_time;
use super::tree::{Kind, Node};
use crate::upstream::{Checksum, fingerprint, splitmix64};

/// A `File` resource with every field the fake knows; checksums only when `digests` says
/// (and they were computed beforehand).
pub(super) fn file_json(node: &Node, md5: bool, sha256: bool) -> Value {
    let mut file = Map::new();
    let mut put = |key: &str, value: Value| {
        file.insert(key.to_owned(), value);
    };
    put("kind", json!("drive#file"));
    put("id", json!(node.id));
    put("name", json!(node.name));
    put("mimeType", json!(node.mime));
    put("starred", json!(node.starred));
    put("trashed", json!(node.trashed));
    put("explicitlyTrashed", json!(node.trashed));
    if let Some(parent) = &node.parent {
        put("parents", json!([parent]));
    }
    put("spaces", json!(["drive"]));
    put("version", json!(node.version.to_string()));
    put("webViewLink", json!(web_view_link(node)));
    put(
        "iconLink",
        json!(format!(
            "https://drive-thirdparty.googleusercontent.com/16/type/{}",
            node.mime
        )),
    );
    put("hasThumbnail", json!(false));
    put("viewedByMe", json!(node.owned_by_me));
    put("createdTime", json!(format_time(node.created)));
    put("modifiedTime", json!(format_time(node.modified)));
    if node.shared_with_me {
        put("sharedWithMeTime", json!(format_time(node.created)));
    }
    put(
        "shared",
        json!(node.shared_with_me || node.drive_id.is_some()),
    );
    match &node.drive_id {
        Some(drive_id) => {
            put("driveId", json!(drive_id));
            put("teamDriveId", json!(drive_id));
        }
        None => put("ownedByMe", json!(node.owned_by_me)),
    }
    put(
        "capabilities",
        json!({
            "canDownload": node.can_download,
            "canCopy": node.can_download && !matches!(node.kind, Kind::Folder),
            "canEdit": node.owned_by_me,
            "canListChildren": matches!(node.kind, Kind::Folder),
            "canReadRevisions": node.owned_by_me,
            "canRename": node.owned_by_me,
            "canShare": node.owned_by_me,
            "canTrash": node.owned_by_me,
        }),
    );
    put("viewersCanCopyContent", json!(node.can_download));
    put("copyRequiresWriterPermission", json!(!node.can_download));
    put("writersCanShare", json!(true));
    match &node.kind {
        Kind::File(blob) => {
            let size = blob.content.len().to_string();
            put("size", json!(size));
            put("quotaBytesUsed", json!(size));
            put("originalFilename", json!(node.name));
            if let Some((_, extension)) = node.name.rsplit_once('.') {
                put("fileExtension", json!(extension));
                put("fullFileExtension", json!(extension));
            }
            put("headRevisionId", json!(head_revision_id(node)));
            put(
                "webContentLink",
                json!(format!(
                    "https://drive.google.com/uc?id={}&export=download",
                    node.id
                )),
            );
            if md5 {
                put("md5Checksum", json!(blob.checksum(Checksum::Md5)));
            }
            if sha256 {
                put("sha256Checksum", json!(blob.checksum(Checksum::Sha256)));
            }
        }
        Kind::Native { .. } => {
            put("quotaBytesUsed", json!("0"));
            let links: Map<String, Value> = export_formats(&node.mime)
                .iter()
                .map(|mime| {
                    let link = format!(
                        "https://docs.google.com/feeds/download/export?id={}&exportFormat={mime}",
                        node.id
                    );
                    ((*mime).to_owned(), json!(link))
                })
                .collect();
            if !links.is_empty() {
                put("exportLinks", Value::Object(links));
            }
        }
        Kind::Shortcut {
            target,
            target_mime,
        } => put(
            "shortcutDetails",
            json!({"targetId": target, "targetMimeType": target_mime}),
        ),
        Kind::Folder => put("quotaBytesUsed", json!("0")),
    }
    Value::Object(file)
}

pub(super) fn head_revision_id(node: &Node) -> String {
    let bytes = splitmix64(fingerprint(&[&node.id]) ^ node.revision).to_le_bytes();
    format!("0B{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub(super) fn web_view_link(node: &Node) -> String {
    let id = &node.id;
    match node.mime.strip_prefix("application/vnd.google-apps.") {
        Some("folder") => format!("https://drive.google.com/drive/folders/{id}"),
        Some("document") => format!("https://docs.google.com/document/d/{id}/edit?usp=drivesdk"),
        Some("spreadsheet") => {
            format!("https://docs.google.com/spreadsheets/d/{id}/edit?usp=drivesdk")
        }
        Some("presentation") => {
            format!("https://docs.google.com/presentation/d/{id}/edit?usp=drivesdk")
        }
        Some("drawing") => format!("https://docs.google.com/drawings/d/{id}/edit?usp=drivesdk"),
        _ => format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
    }
}
