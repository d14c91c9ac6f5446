//! Content: `files.get?alt=media` (ranges, abuse and download restrictions) and
//! `files.export` (the export table, the size limit).

use actix_web::http::StatusCode;

use super::EXPORT_LIMIT;
use super::errors::{error, not_found};
use super::files::visible;
use super::routes::Call;
use super::tree::{Kind, Shared};
use crate::upstream::{Content, Reply, fingerprint, media_reply};

/// The export MIME types of a Google-native type (Drive's "Export MIME types" table).
pub(super) fn export_formats(mime: &str) -> &'static [&'static str] {
    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    match mime.strip_prefix("application/vnd.google-apps.") {
        Some("document") => &[
            DOCX,
            "application/vnd.oasis.opendocument.text",
            "application/rtf",
            "application/pdf",
            "text/plain",
            "application/zip",
            "application/epub+zip",
            "text/markdown",
        ],
        Some("spreadsheet") => &[
            XLSX,
            "application/x-vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/pdf",
            "text/csv",
            "text/tab-separated-values",
            "application/zip",
        ],
        Some("presentation") => &[
            PPTX,
            "application/vnd.oasis.opendocument.presentation",
            "application/pdf",
            "text/plain",
            "image/jpeg",
            "image/png",
            "image/svg+xml",
        ],
        Some("drawing") => &[
            "application/pdf",
            "image/jpeg",
            "image/png",
            "image/svg+xml",
        ],
        Some("script") => &["application/vnd.google-apps.script+json"],
        _ => &[],
    }
}

pub(super) fn media(shared: &Shared, call: &Call, id: &str) -> Reply {
    let node = match visible(&shared.lock(), call, id) {
        Ok(node) => node,
        Err(response) => return Reply::Error(response),
    };
    let Kind::File(blob) = &node.kind else {
        let message = "Only files with binary content can be downloaded. Use Export with Docs \
                       Editors files.";
        return Reply::Error(error(
            403,
            "fileNotDownloadable",
            message,
            Some(("parameter", "alt")),
        ));
    };
    if node.abusive && !(node.owned_by_me && call.flag("acknowledgeAbuse")) {
        let message = "This file has been identified as malware or spam and cannot be \
                       downloaded.";
        return Reply::Error(error(
            403,
            "cannotDownloadAbusiveFile",
            message,
            Some(("parameter", "acknowledgeAbuse")),
        ));
    }
    if !node.can_download {
        let message = "The user does not have sufficient permissions to download this file.";
        return Reply::Error(error(403, "cannotDownloadFile", message, None));
    }
    media_reply(
        call.range.as_deref(),
        node.mime.clone(),
        blob.content.clone(),
    )
}

pub(super) fn export(shared: &Shared, call: &Call, id: &str) -> Reply {
    let Some(mime) = call.param("mimeType").filter(|m| !m.is_empty()) else {
        let message = "Required parameter: mimeType";
        return Reply::Error(error(
            400,
            "required",
            message,
            Some(("parameter", "mimeType")),
        ));
    };
    let node = match shared.lock().node(id) {
        Some(node) => node.clone(),
        None => return Reply::Error(not_found(id)),
    };
    let Kind::Native { export_size } = node.kind else {
        let message = "Export only supports Docs Editors files.";
        return Reply::Error(error(403, "fileNotExportable", message, None));
    };
    if !export_formats(&node.mime).contains(&mime) {
        let message = "The requested conversion is not supported.";
        return Reply::Error(error(
            400,
            "badRequest",
            message,
            Some(("parameter", "convertTo")),
        ));
    }
    if export_size > EXPORT_LIMIT {
        let message = "This file is too large to be exported.";
        return Reply::Error(error(403, "exportSizeLimitExceeded", message, None));
    }
    let seed = fingerprint(&[&node.id, mime]) ^ node.version;
    Reply::Media {
        status: StatusCode::OK,
        content_type: mime.to_owned(),
        content: Content::synthetic(export_size, seed),
        start: 0,
        end: export_size,
    }
}
