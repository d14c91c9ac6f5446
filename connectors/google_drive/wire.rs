//! Drive API v3 wire types — the JSON the API sends for the fields we ask for — and its
//! error body, `{"error": {"code", "message", "errors": [{"domain", "reason", …}], "status"}}`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{Deserializer, Error, Visitor};
use serde_json::Value;

/// The `File` fields every request asks for (`fields=`): enough for the normalized
/// entry (with its revision: `headRevisionId`, `version`), shortcut resolution and
/// breadcrumbs.
macro_rules! file_fields {
    () => {
        "id,name,mimeType,size,modifiedTime,md5Checksum,sha256Checksum,headRevisionId,version,\
         webViewLink,\
         parents,driveId,ownedByMe,shortcutDetails(targetId,targetMimeType),\
         capabilities(canDownload)"
    };
}

/// `fields=` of `files.get`.
pub const FILE_FIELDS: &str = file_fields!();
/// `fields=` of `files.list`.
pub const FILE_LIST_FIELDS: &str =
    concat!("nextPageToken,incompleteSearch,files(", file_fields!(), ")");
/// `fields=` of a breadcrumb step.
pub const PARENT_FIELDS: &str = "id,name,mimeType,parents,driveId,ownedByMe";
/// `fields=` of `drives.list`.
pub const DRIVE_LIST_FIELDS: &str = "nextPageToken,drives(id,name)";
/// `fields=` of `drives.get`.
pub const DRIVE_FIELDS: &str = "id,name";
/// `fields=` of `about.get`.
pub const ABOUT_FIELDS: &str = "user(displayName,emailAddress)";

/// A file or folder (`File` resource), with the fields of [`FILE_FIELDS`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// The file id.
    pub id: String,
    /// The name (not unique within a folder).
    #[serde(default)]
    pub name: String,
    /// The MIME type; `application/vnd.google-apps.*` for Google-native items.
    #[serde(default)]
    pub mime_type: String,
    /// Size in bytes (Drive sends the int64 as a decimal string); absent for folders and
    /// shortcuts, and when it is not a number.
    #[serde(default, deserialize_with = "int64")]
    pub size: Option<u64>,
    /// The last change by anyone (sent as RFC 3339); absent when it does not read as one.
    #[serde(default, deserialize_with = "time")]
    pub modified_time: Option<DateTime<Utc>>,
    /// MD5 of the content, for binary content only.
    #[serde(default)]
    pub md5_checksum: Option<String>,
    /// SHA-256 of the content, for binary content only (absent on some old files, which
    /// still have an MD5).
    #[serde(default)]
    pub sha256_checksum: Option<String>,
    /// The id of the head revision, for binary content only (not for Google-native files
    /// or shortcuts); it changes only when new content is uploaded.
    #[serde(default)]
    pub head_revision_id: Option<String>,
    /// A monotonically increasing version number, as a decimal string (int64); it changes
    /// with every change to the file on the server, metadata included.
    #[serde(default)]
    pub version: Option<String>,
    /// Link that opens the file in a browser.
    #[serde(default)]
    pub web_view_link: Option<String>,
    /// The parent folder (at most one since 2020; absent when the user cannot see it).
    #[serde(default)]
    pub parents: Vec<String>,
    /// The shared drive the file is in, for shared-drive items.
    #[serde(default)]
    pub drive_id: Option<String>,
    /// Whether the user owns the file (not set for shared-drive items).
    #[serde(default)]
    pub owned_by_me: Option<bool>,
    /// Set on shortcuts.
    #[serde(default)]
    pub shortcut_details: Option<ShortcutDetails>,
    /// What the user may do with the file.
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
}

/// An int64 as Drive sends it, a decimal string (a bare number is taken too); `None` for
/// null and for a string that is not a number. Read from the JSON's own text: a `String`
/// per file only to be parsed and dropped cost more than parsing it.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Int64;
    impl Visitor<'_> for Int64 {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an int64 as a decimal string")
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(s.parse().ok())
        }
        fn visit_u64<E: Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(n))
        }
        fn visit_i64<E: Error>(self, n: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(n).ok())
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Int64)
}

/// An RFC 3339 time ([`crate::files::parse_time`]); `None` for null and for a string that is
/// not one. Read from the JSON's own text, as [`int64`].
fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct Time;
    impl Visitor<'_> for Time {
        type Value = Option<DateTime<Utc>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 time")
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(crate::files::parse_time(s))
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Time)
}

/// `shortcutDetails` of a shortcut.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShortcutDetails {
    /// The file the shortcut points to.
    #[serde(default)]
    pub target_id: Option<String>,
    /// The target's MIME type when the shortcut was made.
    #[serde(default)]
    pub target_mime_type: Option<String>,
}

/// `capabilities`, the part we read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// False when the owner disabled downloading for viewers.
    #[serde(default)]
    pub can_download: Option<bool>,
}

/// A page of `files.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileList {
    /// The files of this page.
    #[serde(default)]
    pub files: Vec<File>,
    /// Token of the next page; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// True when a search over many drives did not look at all of them.
    #[serde(default)]
    pub incomplete_search: bool,
}

/// A shared drive (`Drive` resource).
#[derive(Debug, Clone, Deserialize)]
pub struct Drive {
    /// The drive id (also the id of its top folder).
    pub id: String,
    /// The drive name.
    #[serde(default)]
    pub name: String,
}

/// A page of `drives.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveList {
    /// The shared drives of this page.
    #[serde(default)]
    pub drives: Vec<Drive>,
    /// Token of the next page; absent on the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `about.get` with `fields=user(…)`.
#[derive(Debug, Default, Deserialize)]
pub struct About {
    /// The signed-in user.
    #[serde(default)]
    pub user: Option<User>,
}

/// The signed-in user.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The account's e-mail address.
    #[serde(default)]
    pub email_address: Option<String>,
    /// The account's display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// What a Drive error body says: the first error's `reason` and `location`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ErrorInfo {
    /// `errors[0].reason` (`userRateLimitExceeded`, `insufficientPermissions`, `notFound`…).
    pub reason: Option<String>,
    /// `errors[0].location`: the parameter at fault (`pageToken`, `q`…).
    pub location: Option<String>,
}

impl ErrorInfo {
    /// Reads an error body; anything else (HTML, OAuth-style `{"error": "invalid_token"}`,
    /// a truncated body) gives an empty `ErrorInfo`.
    pub fn parse(body: &[u8]) -> Self {
        let Ok(json) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let first = json.pointer("/error/errors/0");
        let text = |key: &str| {
            first
                .and_then(|e| e.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Self {
            reason: text("reason"),
            location: text("location"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_reason_and_location() {
        let body = br#"{"error":{"code":403,"message":"User Rate Limit Exceeded.","errors":[{"message":"User Rate Limit Exceeded.","domain":"usageLimits","reason":"userRateLimitExceeded"}],"status":"PERMISSION_DENIED"}}"#;
        assert_eq!(
            ErrorInfo::parse(body).reason.as_deref(),
            Some("userRateLimitExceeded")
        );
        let body = br#"{"error":{"code":400,"message":"Invalid Value","errors":[{"domain":"global","reason":"invalid","message":"Invalid Value","locationType":"parameter","location":"pageToken"}]}}"#;
        assert_eq!(
            ErrorInfo::parse(body).location.as_deref(),
            Some("pageToken")
        );
        assert_eq!(
            ErrorInfo::parse(br#"{"error":"invalid_token"}"#),
            ErrorInfo::default()
        );
        assert_eq!(ErrorInfo::parse(b"<html>"), ErrorInfo::default());
    }

    #[test]
    fn file_list_fields_wrap_the_file_fields() {
        assert!(FILE_LIST_FIELDS.starts_with("nextPageToken,incompleteSearch,files(id,name,"));
        assert!(FILE_LIST_FIELDS.ends_with("capabilities(canDownload))"));
        assert!(!FILE_FIELDS.contains(' '));
        assert!(FILE_FIELDS.contains(",headRevisionId,version,"));
    }

    /// Sizes and times are read as they are sent; what does not read as one is absent, and
    /// the rest of the file still reads.
    #[test]
    fn sizes_and_times_are_read_from_their_text() {
        let read = |size: &str, time: &str| {
            let file: File = serde_json::from_str(&format!(
                r#"{{"id":"1","size":{size},"modifiedTime":{time},"name":"a"}}"#
            ))
            .expect("parses");
            assert_eq!(file.name, "a");
            (file.size, file.modified_time.map(|t| t.to_rfc3339()))
        };
        let t = Some("2025-11-20T15:04:05.123+00:00".to_owned());
        assert_eq!(
            read(r#""42""#, r#""2025-11-20T15:04:05.123Z""#),
            (Some(42), t.clone())
        );
        assert_eq!(
            read("42", r#""2025-11-20T17:04:05.123+02:00""#),
            (Some(42), t)
        );
        assert_eq!(
            read(r#""18446744073709551615""#, "null"),
            (Some(u64::MAX), None)
        );
        assert_eq!(read(r#""-1""#, r#""yesterday""#), (None, None));
        assert_eq!(
            read(r#""4\u0032""#, r#""2025-13-01T00:00:00Z""#),
            (Some(42), None)
        );
        assert_eq!(read("null", "\"\""), (None, None));
        assert_eq!(read("-7", r#""2025-11-20T15:04:05Z""#).0, None);
        for bad in [r#"{"id":"1","size":[1]}"#, r#"{"id":"1","modifiedTime":7}"#] {
            assert!(serde_json::from_str::<File>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn files_parse_with_missing_optional_fields() {
        let file: File = serde_json::from_str(
            r#"{"id":"1","name":"a.pdf","mimeType":"application/pdf","size":"42",
                "version":"17","headRevisionId":"0B1rev",
                "shortcutDetails":{"targetId":"2"},"capabilities":{"canDownload":false}}"#,
        )
        .expect("parses");
        assert_eq!(file.size, Some(42));
        assert_eq!(file.version.as_deref(), Some("17"));
        assert_eq!(file.head_revision_id.as_deref(), Some("0B1rev"));
        assert!(file.parents.is_empty());
        assert_eq!(
            file.shortcut_details.and_then(|s| s.target_id).as_deref(),
            Some("2")
        );
        assert_eq!(file.capabilities.and_then(|c| c.can_download), Some(false));
    }
}
