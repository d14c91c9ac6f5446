//! `files.list` (corpora, paging with opaque page tokens bound to the query, ordering) and
//! `files.get` (metadata, checksums only when a mask asks for them).

#![expect(
    clippy::result_large_err,
    reason = "handlers return the response to send as their error, once per request"
)]

use std::sync::Arc;

use actix_web::HttpResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::errors::{error, invalid_parameter, not_found};
use super::fields::{FILE_FIELDS, FILE_LIST_FIELDS, ORDER_KEYS, mask_of};
use super::list_query::Parser;
use super::resources::file_json;
use super::routes::Call;
use super::tree::{Kind, Node, Shared, State};
use crate::upstream::{Blob, Checksum, Reply, ensure_checksums, fingerprint};

/// An opaque token for the page starting at `offset` of the listing `fingerprint` names.
pub(super) fn page_token(offset: usize, fingerprint: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("~!!~{offset}:{fingerprint:016x}"))
}

pub(super) fn page_offset(token: &str, fingerprint: u64) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (offset, print) = decoded.strip_prefix("~!!~")?.split_once(':')?;
    (print == format!("{fingerprint:016x}")).then(|| offset.parse().ok())?
}

/// `orderBy` as (key, descending) pairs; `None` if a key is unknown.
pub(super) fn parse_order(text: &str) -> Option<Vec<(String, bool)>> {
    text.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|key| {
            let (key, desc) = match key.split_once(' ') {
                Some((key, dir)) if dir.trim().eq_ignore_ascii_case("desc") => (key, true),
                Some((key, dir)) if dir.trim().eq_ignore_ascii_case("asc") => (key, false),
                Some(_) => return None,
                None => (key, false),
            };
            ORDER_KEYS
                .split(',')
                .any(|k| k == key)
                .then(|| (key.to_owned(), desc))
        })
        .collect()
}

pub(super) fn compare(a: &Node, b: &Node, order: &[(String, bool)]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (key, desc) in order {
        let ordering = match key.as_str() {
            "folder" => {
                let folder = |n: &Node| !matches!(n.kind, Kind::Folder);
                folder(a).cmp(&folder(b))
            }
            "name" => a.name.cmp(&b.name),
            "name_natural" => natural(&a.name, &b.name),
            "modifiedTime" | "modifiedByMeTime" | "recency" => a.modified.cmp(&b.modified),
            "createdTime" => a.created.cmp(&b.created),
            "quotaBytesUsed" => size_of(a).cmp(&size_of(b)),
            "starred" => b.starred.cmp(&a.starred),
            _ => Ordering::Equal,
        };
        let ordering = if *desc { ordering.reverse() } else { ordering };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

pub(super) fn size_of(node: &Node) -> u64 {
    match &node.kind {
        Kind::File(blob) => blob.content.len(),
        _ => 0,
    }
}

/// Case-insensitive, with digit runs compared as numbers ("file 2" < "file 12").
pub(super) fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, String)> {
        let mut parts: Vec<(bool, String)> = Vec::new();
        for c in s.to_lowercase().chars() {
            let digit = c.is_ascii_digit();
            match parts.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => parts.push((digit, c.to_string())),
            }
        }
        parts
    }
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        let ordering = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    a.len().cmp(&b.len())
}

pub(super) async fn list_files(shared: &Shared, call: &Call) -> Reply {
    let mask = match mask_of(
        call,
        "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)",
        FILE_LIST_FIELDS,
        Some(("files", FILE_FIELDS)),
    ) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let page_size = match call.param("pageSize").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return Reply::Error(invalid_parameter("pageSize")),
    };
    let Some(query) = Parser::parse(call.param("q").unwrap_or_default()) else {
        return Reply::Error(invalid_parameter("q"));
    };
    let Some(order) = parse_order(call.param("orderBy").unwrap_or_default()) else {
        return Reply::Error(invalid_parameter("orderBy"));
    };
    let all_drives = call.flag("includeItemsFromAllDrives");
    let corpora = call.param("corpora").unwrap_or("user");
    let drive_id = call.param("driveId");
    let corpus: fn(&Node, Option<&str>) -> bool = match (corpora, drive_id) {
        ("user" | "domain", None) => |n, _| n.drive_id.is_none(),
        ("drive", Some(_)) => |n, d| n.drive_id.as_deref() == d,
        ("allDrives", None) => |_, _| true,
        ("drive", None) | ("user" | "domain" | "allDrives", Some(_)) => {
            let message =
                "The driveId parameter must be specified if and only if corpora is set to drive.";
            return Reply::Error(error(
                400,
                "badRequest",
                message,
                Some(("parameter", "driveId")),
            ));
        }
        _ => return Reply::Error(invalid_parameter("corpora")),
    };
    if (corpora == "drive" || corpora == "allDrives") && !all_drives {
        let message = "The includeItemsFromAllDrives parameter must be set to true when \
                       corpora is drive or allDrives.";
        return Reply::Error(error(
            400,
            "badRequest",
            message,
            Some(("parameter", "includeItemsFromAllDrives")),
        ));
    }
    let spaces = call.param("spaces").unwrap_or("drive");
    if !spaces
        .split(',')
        .all(|s| matches!(s.trim(), "drive" | "appDataFolder"))
    {
        return Reply::Error(invalid_parameter("spaces"));
    }
    let print = fingerprint(&[
        call.param("q").unwrap_or_default(),
        corpora,
        drive_id.unwrap_or_default(),
        call.param("orderBy").unwrap_or_default(),
        spaces,
        if all_drives { "all" } else { "" },
    ]);
    let offset = match call.param("pageToken") {
        None => 0,
        Some(token) => match page_offset(token, print) {
            Some(offset) => offset,
            None => return Reply::Error(invalid_parameter("pageToken")),
        },
    };
    let (page, next) = {
        let state = shared.lock();
        let mut matches: Vec<&Node> = state
            .order
            .iter()
            .filter_map(|id| state.nodes.get(id))
            .filter(|n| n.parent.is_some() && spaces.contains("drive"))
            .filter(|n| corpus(n, drive_id) && (all_drives || n.drive_id.is_none()))
            .filter(|n| query.matches(n))
            .collect();
        matches.sort_by(|a, b| compare(a, b, &order));
        let page: Vec<Node> = matches
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|n| (*n).clone())
            .collect();
        let next =
            (offset + page_size < matches.len()).then(|| page_token(offset + page_size, print));
        (page, next)
    };
    let file_mask = mask.sub("files");
    let (md5, sha256) = (
        file_mask.selects("md5Checksum"),
        file_mask.selects("sha256Checksum"),
    );
    ensure_checksums(blobs_of(&page), &checksums(md5, sha256)).await;
    let mut body = json!({
        "kind": "drive#fileList",
        "incompleteSearch": false,
        "files": page.iter().map(|n| file_json(n, md5, sha256)).collect::<Vec<_>>(),
    });
    if let Some(next) = next {
        body["nextPageToken"] = json!(next);
    }
    Reply::Json(mask.apply(body))
}

/// The checksums a `fields` mask asks for.
pub(super) fn checksums(md5: bool, sha256: bool) -> Vec<Checksum> {
    [(md5, Checksum::Md5), (sha256, Checksum::Sha256)]
        .into_iter()
        .filter_map(|(wanted, checksum)| wanted.then_some(checksum))
        .collect()
}

pub(super) fn blobs_of(nodes: &[Node]) -> Vec<Arc<Blob>> {
    nodes
        .iter()
        .filter_map(|n| match &n.kind {
            Kind::File(blob) => Some(blob.clone()),
            _ => None,
        })
        .collect()
}

/// The item `id` as the caller may see it: shared-drive items need `supportsAllDrives`.
pub(super) fn visible(state: &State, call: &Call, id: &str) -> Result<Node, HttpResponse> {
    match state.node(id) {
        Some(node) if node.drive_id.is_none() || call.flag("supportsAllDrives") => Ok(node.clone()),
        _ => Err(not_found(id)),
    }
}

pub(super) async fn get_file(shared: &Shared, call: &Call, id: &str) -> Reply {
    let mask = match mask_of(call, "kind,id,name,mimeType", FILE_FIELDS, None) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let node = match visible(&shared.lock(), call, id) {
        Ok(node) => node,
        Err(response) => return Reply::Error(response),
    };
    let (md5, sha256) = (mask.selects("md5Checksum"), mask.selects("sha256Checksum"));
    let node_blobs = blobs_of(std::slice::from_ref(&node));
    ensure_checksums(node_blobs, &checksums(md5, sha256)).await;
    Reply::Json(mask.apply(file_json(&node, md5, sha256)))
}
