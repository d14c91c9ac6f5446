//! Microsoft Graph wire types (the `driveItem` resource and its facets, collections with
//! `@odata.nextLink`, the `user` fields we read) and their mapping to the sdk's normalized
//! file model ([`FileEntry`]), which the actions return as is.
//!
//! Everything on the wire is optional and unknown properties are ignored: Graph adds
//! properties freely, OneDrive Personal and OneDrive for Business fill different ones, and
//! `$select` trims the rest.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::graph::{ItemRef, compose_id};
use crate::{Checksum, FileEntry, FileKind};

/// MIME type of folder entries (the same as the other drive connectors).
pub const FOLDER_MIME: &str = "inode/directory";
/// MIME type of OneNote notebooks (`package` items of type `oneNote`).
pub const ONENOTE_MIME: &str = "application/msonenote";
/// MIME type when neither Graph nor the file name says.
pub const FALLBACK_MIME: &str = "application/octet-stream";

/// The `driveItem` properties every request selects (`$select`): enough for the normalized
/// model (`cTag`/`eTag` for its revision), nothing the connector does not use.
pub const ITEM_SELECT: &str = "id,name,size,file,folder,package,remoteItem,parentReference,\
                               lastModifiedDateTime,webUrl,malware,cTag,eTag";

// ---------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------

/// A page of a collection: `value` plus, when more pages exist, `@odata.nextLink`.
#[derive(Debug, Clone, Deserialize)]
pub struct Collection<T> {
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// Absolute URL of the next page; opaque (it carries `$skiptoken`).
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// A `driveItem`: a file, folder, package (OneNote notebook) or a reference to an item in
/// another drive (`remoteItem`: shared items, shortcuts, search hits outside the drive).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveItem {
    /// Item id, unique within its drive.
    #[serde(default)]
    pub id: Option<String>,
    /// File or folder name.
    #[serde(default)]
    pub name: Option<String>,
    /// Size in bytes (for folders: of everything inside).
    #[serde(default)]
    pub size: Option<i64>,
    /// Present on files.
    #[serde(default)]
    pub file: Option<FileFacet>,
    /// Present on folders.
    #[serde(default)]
    pub folder: Option<IgnoredAny>,
    /// Present on packages (OneNote notebooks); such items have neither `file` nor `folder`.
    #[serde(default)]
    pub package: Option<PackageFacet>,
    /// Present when the item lives in another drive.
    #[serde(default)]
    pub remote_item: Option<RemoteItem>,
    /// The parent folder and the drive the item lives in.
    #[serde(default)]
    pub parent_reference: Option<ItemReference>,
    /// RFC 3339 time of the last change.
    #[serde(default)]
    pub last_modified_date_time: Option<String>,
    /// URL that opens the item in the browser.
    #[serde(default)]
    pub web_url: Option<String>,
    /// Present when Microsoft detected malware in the file.
    #[serde(default)]
    pub malware: Option<IgnoredAny>,
    /// Entity tag of the content: changes when the bytes do, not on a rename or a move.
    /// Not returned for folders on OneDrive for Business and SharePoint.
    #[serde(default)]
    pub c_tag: Option<String>,
    /// Entity tag of the whole item: changes with the content and with the metadata.
    #[serde(default)]
    pub e_tag: Option<String>,
}

/// The `remoteItem` facet: the item as it exists in its own drive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteItem {
    /// Item id in the remote drive.
    #[serde(default)]
    pub id: Option<String>,
    /// Name in the remote drive (optional on the wire).
    #[serde(default)]
    pub name: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<i64>,
    /// Present on files.
    #[serde(default)]
    pub file: Option<FileFacet>,
    /// Present on folders.
    #[serde(default)]
    pub folder: Option<IgnoredAny>,
    /// Present on packages.
    #[serde(default)]
    pub package: Option<PackageFacet>,
    /// Parent in the remote drive; `driveId` addresses the item.
    #[serde(default)]
    pub parent_reference: Option<ItemReference>,
    /// RFC 3339 time of the last change.
    #[serde(default)]
    pub last_modified_date_time: Option<String>,
    /// URL that opens the item in the browser.
    #[serde(default)]
    pub web_url: Option<String>,
}

/// An `itemReference`: where an item lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemReference {
    /// The drive's id.
    #[serde(default)]
    pub drive_id: Option<String>,
    /// The parent folder's id (absent on a drive's root).
    #[serde(default)]
    pub id: Option<String>,
}

/// The `file` facet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileFacet {
    /// MIME type as OneDrive determined it.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Content hashes; which ones exist depends on the service.
    #[serde(default)]
    pub hashes: Option<Hashes>,
}

/// The `hashes` resource. OneDrive for Business and SharePoint give only `quickXorHash`
/// (base64 of 20 bytes); OneDrive Personal gives `sha1Hash`/`sha256Hash` (hex) on older
/// items.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hashes {
    /// SHA-1, hex.
    #[serde(default)]
    pub sha1_hash: Option<String>,
    /// SHA-256, hex.
    #[serde(default)]
    pub sha256_hash: Option<String>,
    /// QuickXorHash, base64.
    #[serde(default)]
    pub quick_xor_hash: Option<String>,
}

/// The `package` facet.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PackageFacet {
    /// `oneNote` is the only defined value; others may appear.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

impl PackageFacet {
    /// Whether the package is a OneNote notebook.
    pub fn is_onenote(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("oneNote"))
    }
}

/// The fields of `GET /me?$select=userPrincipalName,mail`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    /// Primary SMTP address; absent for some accounts.
    #[serde(default)]
    pub mail: Option<String>,
    /// Sign-in name (`alice@campus.edu`).
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Mapping to the normalized model
// ---------------------------------------------------------------------------------------

/// What an item is, looking through a `remoteItem` to the item it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemShape {
    /// A folder.
    Folder,
    /// A downloadable file.
    File,
    /// A package; `true` for a OneNote notebook.
    Package { onenote: bool },
    /// None of the facets were returned.
    Unknown,
}

impl DriveItem {
    /// The facets that decide what the item is: the remote item's when there is one.
    pub fn shape(&self) -> ItemShape {
        let remote = self.remote_item.as_ref();
        let folder = remote
            .and_then(|r| r.folder.as_ref())
            .or(self.folder.as_ref());
        let file = remote.and_then(|r| r.file.as_ref()).or(self.file.as_ref());
        let package = remote
            .and_then(|r| r.package.as_ref())
            .or(self.package.as_ref());
        match (package, folder, file) {
            (Some(package), _, _) => ItemShape::Package {
                onenote: package.is_onenote(),
            },
            (None, Some(_), _) => ItemShape::Folder,
            (None, None, Some(_)) => ItemShape::File,
            (None, None, None) => ItemShape::Unknown,
        }
    }

    /// Where to address the item: the remote item in its own drive when this is a
    /// reference, else this item in `drive_hint` (the drive that was listed) or in the
    /// drive its `parentReference` names.
    pub fn item_ref(&self, drive_hint: Option<&str>) -> Option<ItemRef> {
        if let Some(remote) = &self.remote_item {
            let drive = remote
                .parent_reference
                .as_ref()
                .and_then(|p| p.drive_id.as_deref());
            if let (Some(drive), Some(id)) = (drive, remote.id.as_deref()) {
                return Some(ItemRef::in_drive(drive, id));
            }
        }
        let id = self.id.as_deref()?;
        let drive = self
            .parent_reference
            .as_ref()
            .and_then(|p| p.drive_id.as_deref())
            .or(drive_hint);
        Some(match drive {
            Some(drive) => ItemRef::in_drive(drive, id),
            None => ItemRef::MyItem(id.to_owned()),
        })
    }

    fn file_facet(&self) -> Option<&FileFacet> {
        self.remote_item
            .as_ref()
            .and_then(|r| r.file.as_ref())
            .or(self.file.as_ref())
    }

    /// The entry for this item. `listed_in` is the virtual folder the item was listed in
    /// (it becomes the entry's `parent_id`); `drive_hint` the drive that was listed.
    ///
    /// Ids are `{driveId}:{itemId}` (see `graph.rs`); folders have the MIME type
    /// `inode/directory`, OneNote notebooks `application/msonenote` (they are files that
    /// cannot be downloaded); checksums are `sha256:`, `sha1:` or (business drives)
    /// `quickxor:` hex.
    pub fn normalize(&self, listed_in: Option<&str>, drive_hint: Option<&str>) -> FileEntry {
        let remote = self.remote_item.as_ref();
        let name = remote
            .and_then(|r| r.name.clone())
            .or_else(|| self.name.clone())
            .unwrap_or_default();
        let shape = self.shape();
        let kind = match shape {
            ItemShape::Folder => FileKind::Folder,
            _ => FileKind::File,
        };
        let mime_type = match shape {
            ItemShape::Folder => FOLDER_MIME.to_owned(),
            ItemShape::Package { onenote: true } => ONENOTE_MIME.to_owned(),
            ItemShape::Package { onenote: false } => FALLBACK_MIME.to_owned(),
            ItemShape::File | ItemShape::Unknown => mime_for(
                &name,
                self.file_facet().and_then(|f| f.mime_type.as_deref()),
            ),
        };
        let size = remote
            .and_then(|r| r.size)
            .or(self.size)
            .and_then(|s| u64::try_from(s).ok())
            .filter(|_| kind == FileKind::File);
        let modified_time = remote
            .and_then(|r| r.last_modified_date_time.as_deref())
            .or(self.last_modified_date_time.as_deref())
            .and_then(crate::files::parse_time);
        let checksum = self
            .file_facet()
            .and_then(|f| f.hashes.as_ref())
            .and_then(Hashes::checksum);
        let web_link = remote
            .and_then(|r| r.web_url.clone())
            .or_else(|| self.web_url.clone());
        let id = self
            .item_ref(drive_hint)
            .map(|r| r.to_id())
            .unwrap_or_default();
        let parent_id = match listed_in {
            Some(virtual_folder) => Some(virtual_folder.to_owned()),
            None => self.parent_id(),
        };
        let revision = self.revision().filter(|_| kind == FileKind::File);
        FileEntry {
            id,
            name,
            kind,
            mime_type,
            size,
            modified_time,
            checksum,
            revision,
            web_link,
            parent_id,
            can_download: shape == ItemShape::File && self.malware.is_none(),
        }
    }

    /// The content tag (`cTag`), else the item's entity tag (`eTag`, which also changes
    /// on metadata changes: never missing a content change, at worst reporting one that
    /// was not), without the quotes Graph may put around it. None for a reference to
    /// another drive's item: its tags describe the reference, not the content, and
    /// `remoteItem` carries neither (`get_file` of the entry's id, which addresses the item
    /// in its own drive, has them).
    fn revision(&self) -> Option<String> {
        if self.remote_item.is_some() {
            return None;
        }
        fn tag(value: Option<&str>) -> Option<&str> {
            Some(value?.trim().trim_matches('"')).filter(|t| !t.is_empty())
        }
        tag(self.c_tag.as_deref())
            .or_else(|| tag(self.e_tag.as_deref()))
            .map(str::to_owned)
    }

    /// `{driveId}:{parentId}` of the item (of the remote item for references).
    fn parent_id(&self) -> Option<String> {
        let parent = match &self.remote_item {
            Some(remote) => remote.parent_reference.as_ref(),
            None => self.parent_reference.as_ref(),
        }?;
        Some(compose_id(
            parent.drive_id.as_deref()?,
            parent.id.as_deref()?,
        ))
    }
}

impl Hashes {
    /// `sha256:<hex>`, else `sha1:<hex>`, else `quickxor:<hex>` (the base64 digest as hex),
    /// lowercase; values that are not digests of the right length are ignored rather than
    /// passed on as a checksum nobody can match.
    pub fn checksum(&self) -> Option<Checksum> {
        let hex = |algorithm: &str, value: Option<&str>| {
            value.and_then(|v| Checksum::from_hex(algorithm, v.trim()))
        };
        hex("sha256", self.sha256_hash.as_deref())
            .or_else(|| hex("sha1", self.sha1_hash.as_deref()))
            .or_else(|| {
                use base64::Engine as _;
                let text = self.quick_xor_hash.as_deref()?.trim();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()?;
                Checksum::from_bytes("quickxor", &bytes)
            })
    }
}

/// Graph's MIME type unless it is missing or generic, else a guess from the extension.
pub fn mime_for(name: &str, graph_mime: Option<&str>) -> String {
    match graph_mime.map(str::trim).filter(|m| !m.is_empty()) {
        Some(mime) if mime != FALLBACK_MIME => mime.to_owned(),
        _ => mime_guess::from_path(name)
            .first_raw()
            .unwrap_or(FALLBACK_MIME)
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(value: serde_json::Value) -> DriveItem {
        serde_json::from_value(value).expect("a driveItem")
    }

    #[test]
    fn files_are_normalized_with_their_drive_in_the_id() {
        let entry = item(json!({
            "id": "01ABC",
            "name": "Syllabus.pdf",
            "size": 1234,
            "file": {"mimeType": "application/pdf", "hashes": {
                "quickXorHash": "dGVzdA==",
                "sha1Hash": "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"
            }},
            "parentReference": {"driveId": "b!drive", "id": "01PARENT"},
            "lastModifiedDateTime": "2026-01-12T17:50:30.72Z",
            "webUrl": "https://contoso-my.sharepoint.com/personal/a/Documents/Syllabus.pdf",
            "cTag": "\"c:{86EB4C8E-D20D-46B9-AD41-23B8868DDA8A},2\"",
            "eTag": "\"{86EB4C8E-D20D-46B9-AD41-23B8868DDA8A},5\""
        }))
        .normalize(None, None);
        assert_eq!(entry.id, "b!drive:01ABC");
        assert_eq!(entry.kind, FileKind::File);
        assert_eq!(entry.mime_type, "application/pdf");
        assert_eq!(entry.size, Some(1234));
        assert_eq!(
            entry.checksum.as_ref().map(Checksum::as_str),
            Some("sha1:a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")
        );
        assert_eq!(entry.parent_id.as_deref(), Some("b!drive:01PARENT"));
        assert_eq!(
            entry.revision.as_deref(),
            Some("c:{86EB4C8E-D20D-46B9-AD41-23B8868DDA8A},2"),
            "the content tag, without quotes"
        );
        assert_eq!(
            entry.modified_time.map(|t| t.to_rfc3339()),
            Some("2026-01-12T17:50:30.720+00:00".to_owned())
        );
        assert!(entry.can_download);
    }

    #[test]
    fn folders_packages_and_malware_are_not_downloadable() {
        let folder = item(
            json!({"id": "1", "name": "Notes", "size": 99, "folder": {"childCount": 2},
                        "eTag": "\"{F0},3\""}),
        )
        .normalize(Some("root"), Some("d"));
        assert_eq!(
            (folder.kind, folder.mime_type.as_str(), folder.size),
            (FileKind::Folder, FOLDER_MIME, None)
        );
        assert_eq!(
            (folder.id.as_str(), folder.parent_id.as_deref()),
            ("d:1", Some("root"))
        );
        assert!(!folder.can_download);
        assert_eq!(folder.revision, None, "folders have no revision");
        let notebook = item(json!({"id": "2", "name": "Lab", "package": {"type": "oneNote"}}))
            .normalize(None, Some("d"));
        assert_eq!(
            (notebook.kind, notebook.mime_type.as_str()),
            (FileKind::File, ONENOTE_MIME)
        );
        assert!(!notebook.can_download);
        let infected = item(json!({"id": "3", "name": "x.exe", "file": {}, "malware": {}}))
            .normalize(None, Some("d"));
        assert!(!infected.can_download);
    }

    #[test]
    fn remote_items_are_addressed_in_their_own_drive() {
        let entry = item(json!({
            "id": "1312abc",
            "cTag": "\"c:{REFERENCE},1\"",
            "remoteItem": {
                "id": "987def!654",
                "name": "January Service Review.pptx",
                "file": {},
                "size": 145362,
                "parentReference": {"driveId": "987def", "id": "987def!321"}
            }
        }))
        .normalize(Some("shared-with-me"), None);
        assert_eq!(entry.id, "987def:987def!654");
        assert_eq!(entry.name, "January Service Review.pptx");
        assert_eq!(
            entry.mime_type,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        );
        assert_eq!(entry.parent_id.as_deref(), Some("shared-with-me"));
        assert_eq!(entry.size, Some(145362));
        assert_eq!(
            entry.revision, None,
            "the reference's tag is not the content's"
        );
        assert!(entry.can_download);
    }

    #[test]
    fn without_a_content_tag_the_entity_tag_is_the_revision() {
        let entry = item(json!({"id": "9", "name": "a.txt", "file": {}, "eTag": "aYzpFNDU2,7"}))
            .normalize(None, Some("d"));
        assert_eq!(entry.revision.as_deref(), Some("aYzpFNDU2,7"));
        let untagged =
            item(json!({"id": "9", "name": "a.txt", "file": {}})).normalize(None, Some("d"));
        assert_eq!(untagged.revision, None);
    }

    #[test]
    fn checksums_prefer_sha256_and_ignore_malformed_hashes() {
        let hashes =
            |v: serde_json::Value| -> Hashes { serde_json::from_value(v).expect("hashes") };
        let sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(
            hashes(json!({"sha256Hash": sha256, "sha1Hash": "a".repeat(40)})).checksum(),
            Checksum::from_hex("sha256", sha256)
        );
        assert_eq!(
            hashes(json!({"sha1Hash": "wmgPQ6jrSeMX7JP1XmstQEGM2fc="})).checksum(),
            None
        );
        assert_eq!(hashes(json!({"quickXorHash": "AAAA"})).checksum(), None);
        assert_eq!(
            hashes(json!({"quickXorHash": "SgAAAAAAAAAAAAAAAQAAAAAAAAA="})).checksum(),
            Checksum::parse("quickxor:4a00000000000000000000000100000000000000"),
            "business drives only have QuickXorHash"
        );
    }
}
