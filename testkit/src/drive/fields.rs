//! Field masks: the `fields` parameter (`a,b(c,d),e/f`, `*`), the fields each resource has,
//! and the defaults Drive returns without a mask.

#![expect(
    clippy::result_large_err,
    reason = "handlers return the response to send as their error, once per request"
)]

use std::collections::BTreeMap;

use serde_json::Value;

use super::errors::error;
use super::routes::Call;
use actix_web::HttpResponse;

/// `orderBy` keys Drive accepts (comma-separated, like the field lists below).
pub(super) const ORDER_KEYS: &str = concat!(
    "createdTime,folder,modifiedByMeTime,modifiedTime,name,name_natural,",
    "quotaBytesUsed,recency,sharedWithMeTime,starred,viewedByMeTime",
);
/// The `File` resource's fields: a mask naming another one is refused.
pub(super) const FILE_FIELDS: &str = concat!(
    "kind,id,name,mimeType,description,starred,trashed,explicitlyTrashed,",
    "trashingUser,trashedTime,parents,properties,appProperties,spaces,version,",
    "webContentLink,webViewLink,iconLink,hasThumbnail,thumbnailLink,",
    "thumbnailVersion,viewedByMe,viewedByMeTime,createdTime,modifiedTime,",
    "modifiedByMeTime,modifiedByMe,sharedWithMeTime,sharingUser,owners,driveId,",
    "teamDriveId,lastModifyingUser,shared,ownedByMe,capabilities,",
    "viewersCanCopyContent,copyRequiresWriterPermission,writersCanShare,",
    "permissions,permissionIds,hasAugmentedPermissions,folderColorRgb,",
    "originalFilename,fullFileExtension,fileExtension,md5Checksum,sha1Checksum,",
    "sha256Checksum,size,quotaBytesUsed,headRevisionId,contentHints,",
    "imageMediaMetadata,videoMediaMetadata,isAppAuthorized,exportLinks,",
    "shortcutDetails,contentRestrictions,resourceKey,linkShareMetadata,labelInfo,",
    "inheritedPermissionsDisabled,downloadRestrictions",
);
pub(super) const FILE_LIST_FIELDS: &str = "kind,nextPageToken,incompleteSearch,files";
pub(super) const DRIVE_FIELDS: &str = concat!(
    "kind,id,name,themeId,colorRgb,backgroundImageFile,backgroundImageLink,",
    "capabilities,createdTime,hidden,restrictions,orgUnitId",
);
pub(super) const DRIVE_LIST_FIELDS: &str = "kind,nextPageToken,drives";
pub(super) const ABOUT_FIELDS: &str = concat!(
    "kind,user,storageQuota,importFormats,exportFormats,maxImportSizes,",
    "maxUploadSize,appInstalled,folderColorPalette,driveThemes,canCreateDrives,",
    "canCreateTeamDrives,teamDriveThemes",
);

/// A `fields` selector: everything, or these keys (each with its own selector).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mask {
    All,
    Keys(BTreeMap<String, Mask>),
}

impl Mask {
    pub(super) fn parse(text: &str) -> Result<Self, String> {
        let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut position = 0;
        let mask = Self::parse_list(&chars, &mut position)?;
        if position == chars.len() {
            Ok(mask)
        } else {
            Err(chars[position..].iter().collect())
        }
    }

    pub(super) fn parse_list(chars: &[char], position: &mut usize) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        loop {
            let start = *position;
            while *position < chars.len() && !matches!(chars[*position], ',' | '(' | ')') {
                *position += 1;
            }
            let path: String = chars[start..*position].iter().collect();
            if path.is_empty() || path.split('/').any(str::is_empty) {
                return Err(path);
            }
            let sub = if chars.get(*position) == Some(&'(') {
                *position += 1;
                let sub = Self::parse_list(chars, position)?;
                if chars.get(*position) != Some(&')') {
                    return Err(path);
                }
                *position += 1;
                sub
            } else {
                Self::All
            };
            let nested = path.rsplit('/').fold(sub, |inner, key| {
                Self::Keys(BTreeMap::from([(key.to_owned(), inner)]))
            });
            if let Self::Keys(top) = nested {
                for (key, mask) in top {
                    let merged = match keys.remove(&key) {
                        Some(existing) => Self::merge(existing, mask),
                        None => mask,
                    };
                    keys.insert(key, merged);
                }
            }
            if chars.get(*position) == Some(&',') {
                *position += 1;
            } else {
                return Ok(Self::Keys(keys));
            }
        }
    }

    pub(super) fn merge(a: Self, b: Self) -> Self {
        match (a, b) {
            (Self::Keys(mut a), Self::Keys(b)) => {
                for (key, mask) in b {
                    let merged = match a.remove(&key) {
                        Some(existing) => Self::merge(existing, mask),
                        None => mask,
                    };
                    a.insert(key, merged);
                }
                Self::Keys(a)
            }
            _ => Self::All,
        }
    }

    pub(super) fn selects(&self, key: &str) -> bool {
        match self {
            Self::All => true,
            Self::Keys(keys) => keys.contains_key(key) || keys.contains_key("*"),
        }
    }

    pub(super) fn sub(&self, key: &str) -> Self {
        match self {
            Self::All => Self::All,
            Self::Keys(keys) => keys.get(key).cloned().unwrap_or(Self::All),
        }
    }

    /// The first key not in `allowed` (`*` is always allowed).
    pub(super) fn unknown_key(&self, allowed: &str) -> Option<String> {
        match self {
            Self::All => None,
            Self::Keys(keys) => keys
                .keys()
                .find(|k| *k != "*" && !allowed.split(',').any(|a| a == k.as_str()))
                .cloned(),
        }
    }

    pub(super) fn apply(&self, value: Value) -> Value {
        match (self, value) {
            (Self::All, value) => value,
            (Self::Keys(keys), value) if keys.contains_key("*") => value,
            (Self::Keys(keys), Value::Object(object)) => Value::Object(
                object
                    .into_iter()
                    .filter_map(|(k, v)| keys.get(&k).map(|mask| (k, mask.apply(v))))
                    .collect(),
            ),
            (mask @ Self::Keys(_), Value::Array(items)) => {
                Value::Array(items.into_iter().map(|v| mask.apply(v)).collect())
            }
            (_, value) => value,
        }
    }
}

/// The `fields` mask of a request, or `default`; `Err` is the 400 to answer.
pub(super) fn mask_of(
    call: &Call,
    default: &str,
    allowed: &str,
    nested: Option<(&str, &str)>,
) -> Result<Mask, HttpResponse> {
    let text = call.param("fields").unwrap_or(default);
    let invalid = |selection: &str| {
        let message = format!("Invalid field selection {selection}");
        error(
            400,
            "invalidParameter",
            &message,
            Some(("parameter", "fields")),
        )
    };
    let mask = Mask::parse(text).map_err(|bad| invalid(&bad))?;
    if let Some(bad) = mask.unknown_key(allowed) {
        return Err(invalid(&bad));
    }
    if let Some((key, inner)) = nested
        && let Some(bad) = mask.sub(key).unknown_key(inner)
    {
        return Err(invalid(&bad));
    }
    Ok(mask)
}
