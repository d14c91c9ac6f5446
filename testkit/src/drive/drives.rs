//! Shared drives (`drives.list`, `drives.get`) and `about.get`.

use serde_json::{Value, json};

use super::errors::{error, invalid_parameter};
use super::fields::{ABOUT_FIELDS, DRIVE_FIELDS, DRIVE_LIST_FIELDS, mask_of};
use super::files::{page_offset, page_token};
use super::list_query::format_time;
use super::routes::Call;
use super::tree::{Shared, SharedDrive};
use crate::upstream::{Reply, fingerprint};

pub(super) fn drive_json(drive: &SharedDrive) -> Value {
    json!({
        "kind": "drive#drive",
        "id": drive.id,
        "name": drive.name,
        "createdTime": format_time(drive.created),
        "hidden": false,
        "capabilities": {"canDownload": true, "canListChildren": true},
        "restrictions": {"copyRequiresWriterPermission": false, "domainUsersOnly": false},
    })
}

pub(super) fn list_drives(shared: &Shared, call: &Call) -> Reply {
    let mask = match mask_of(
        call,
        "kind,nextPageToken,drives(kind,id,name)",
        DRIVE_LIST_FIELDS,
        Some(("drives", DRIVE_FIELDS)),
    ) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let page_size = match call.param("pageSize").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return Reply::Error(invalid_parameter("pageSize")),
    };
    let print = fingerprint(&["drives", call.param("q").unwrap_or_default()]);
    let offset = match call.param("pageToken") {
        None => 0,
        Some(token) => match page_offset(token, print) {
            Some(offset) => offset,
            None => return Reply::Error(invalid_parameter("pageToken")),
        },
    };
    let state = shared.lock();
    let drives: Vec<Value> = state
        .drives
        .iter()
        .skip(offset)
        .take(page_size)
        .map(drive_json)
        .collect();
    let mut body = json!({"kind": "drive#driveList", "drives": drives});
    if offset + page_size < state.drives.len() {
        body["nextPageToken"] = json!(page_token(offset + page_size, print));
    }
    Reply::Json(mask.apply(body))
}

pub(super) fn get_drive(shared: &Shared, call: &Call, id: &str) -> Reply {
    let mask = match mask_of(call, "kind,id,name", DRIVE_FIELDS, None) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let state = shared.lock();
    match state.drives.iter().find(|d| d.id == id) {
        Some(drive) => Reply::Json(mask.apply(drive_json(drive))),
        None => {
            let message = format!("Shared drive not found: {id}");
            Reply::Error(error(
                404,
                "notFound",
                &message,
                Some(("parameter", "driveId")),
            ))
        }
    }
}

pub(super) fn about(shared: &Shared, call: &Call) -> Reply {
    if call.param("fields").is_none() {
        let message = "The 'fields' parameter is required for this method.";
        return Reply::Error(error(
            400,
            "required",
            message,
            Some(("parameter", "fields")),
        ));
    }
    let mask = match mask_of(call, "", ABOUT_FIELDS, None) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let state = shared.lock();
    let body = json!({
        "kind": "drive#about",
        "user": {
            "kind": "drive#user",
            "displayName": state.user_name,
            "emailAddress": state.user_email,
            "me": true,
            "permissionId": "00112233445566778899",
        },
        "storageQuota": {"limit": "16106127360", "usage": "0"},
        "canCreateDrives": true,
        "maxUploadSize": "5242880000000",
    });
    Reply::Json(mask.apply(body))
}
