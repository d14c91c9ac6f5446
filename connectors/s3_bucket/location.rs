//! Where a connection's objects live: the credential form parsed and checked
//! ([`S3Location`]), the URL its bucket is reached at ([`BucketAddress`]), and the rules
//! that keep every key and prefix inside the connection's configured prefix.

use serde_json::{Map, Value, json};
use url::Url;

use super::sigv4::{AccessKey, uri_encode};
use crate::{ConnectorError, Credentials};

/// Form field: the access key id.
pub const ACCESS_KEY_ID: &str = "access_key_id";
/// Form field: the secret access key.
pub const SECRET_ACCESS_KEY: &str = "secret_access_key";
/// Form field: the bucket's region.
pub const REGION: &str = "region";
/// Form field: the bucket.
pub const BUCKET: &str = "bucket";
/// Form field: the folder inside the bucket the connection is limited to.
pub const PREFIX: &str = "prefix";
/// Form field: an S3-compatible endpoint (MinIO, Ceph…); AWS when empty.
pub const ENDPOINT_URL: &str = "endpoint_url";

/// Longest object key S3 accepts, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// A connection's bucket and credentials, checked. Built from the form
/// ([`S3Location::from_fields`]) and, identically, from the stored credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The access key pair, exactly as typed.
    pub key: AccessKey,
    /// Signing region (`us-east-1`, or whatever an S3-compatible store expects).
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// The folder the connection is limited to: empty, or ending in `/`.
    pub prefix: String,
    /// A custom endpoint without trailing slash; `None` means AWS.
    pub endpoint: Option<Url>,
}

impl S3Location {
    /// Parses the validated form values; a bad value is `InvalidInput` naming its field.
    pub fn from_fields(fields: &Map<String, Value>) -> Result<Self, ConnectorError> {
        let text = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
        let endpoint = match text(ENDPOINT_URL).trim() {
            "" => None,
            raw => Some(parse_endpoint(raw).map_err(|m| invalid(ENDPOINT_URL, m))?),
        };
        let region = text(REGION).trim();
        check_region(region, endpoint.is_none()).map_err(|m| invalid(REGION, m))?;
        let bucket = text(BUCKET).trim();
        check_bucket(bucket, endpoint.is_none()).map_err(|m| invalid(BUCKET, m))?;
        let prefix = normalize_prefix(text(PREFIX)).map_err(|m| invalid(PREFIX, m))?;
        let id = text(ACCESS_KEY_ID).trim();
        if id.is_empty() || id.len() > 128 || id.contains('/') || has_space_or_control(id) {
            return Err(invalid(
                ACCESS_KEY_ID,
                "Enter the access key ID (such as AKIAIOSFODNN7EXAMPLE), without spaces.",
            ));
        }
        // The secret is used exactly as typed: it is only ever an HMAC key.
        let secret = text(SECRET_ACCESS_KEY);
        if secret.is_empty() {
            return Err(invalid(SECRET_ACCESS_KEY, "Enter the secret access key."));
        }
        Ok(Self {
            key: AccessKey {
                id: id.to_owned(),
                secret: secret.to_owned(),
            },
            region: region.to_owned(),
            bucket: bucket.to_owned(),
            prefix,
            endpoint,
        })
    }

    /// Reads the stored credentials. They were written by [`S3Location::to_credentials`];
    /// if they no longer parse, the user must reconnect (`AuthExpired`).
    pub fn from_credentials(credentials: &Credentials) -> Result<Self, ConnectorError> {
        let fields = credentials
            .as_value()
            .as_object()
            .cloned()
            .unwrap_or_default();
        Self::from_fields(&fields).map_err(|error| ConnectorError::AuthExpired {
            message: format!("the stored S3 connection is incomplete: {error}"),
        })
    }

    /// The credentials to store: the form fields, normalized, in the same shape the form
    /// submits (so a re-check runs [`S3Location::from_fields`] on them unchanged).
    pub fn to_credentials(&self) -> Value {
        let mut value = json!({
            ACCESS_KEY_ID: self.key.id,
            SECRET_ACCESS_KEY: self.key.secret,
            REGION: self.region,
            BUCKET: self.bucket,
            PREFIX: self.prefix,
        });
        if let (Some(endpoint), Some(map)) = (&self.endpoint, value.as_object_mut()) {
            map.insert(ENDPOINT_URL.to_owned(), json!(endpoint_text(endpoint)));
        }
        value
    }

    /// `s3://bucket/prefix`, plus `on host[:port]` for a custom endpoint.
    pub fn identity(&self) -> String {
        let base = format!("s3://{}/{}", self.bucket, self.prefix);
        match &self.endpoint {
            None => base,
            Some(url) => match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{base} on {host}:{port}"),
                (Some(host), None) => format!("{base} on {host}"),
                (None, _) => base,
            },
        }
    }

    /// The form field to blame when the endpoint cannot be reached or is refused: the
    /// endpoint when the user typed one, else the region the AWS host is made from.
    pub fn endpoint_field(&self) -> &'static str {
        if self.endpoint.is_some() {
            ENDPOINT_URL
        } else {
            REGION
        }
    }

    /// The URL the bucket is reached at.
    ///
    /// A custom endpoint is addressed path-style (`{endpoint}/{bucket}/{key}`), which every
    /// S3-compatible store understands. AWS is addressed virtual-hosted style
    /// (`https://{bucket}.s3.{region}.amazonaws.com/{key}`), as the AWS SDKs do, unless
    /// the bucket name has dots: those break the TLS wildcard certificate, so such buckets
    /// go path-style to `https://s3.{region}.amazonaws.com/{bucket}/{key}`.
    pub fn address(&self) -> BucketAddress {
        let bucket = uri_encode(&self.bucket, false);
        match &self.endpoint {
            Some(endpoint) => {
                let mut origin = endpoint.clone();
                origin.set_path("");
                let base = endpoint.path().trim_end_matches('/');
                BucketAddress {
                    origin: endpoint_text(&origin),
                    root: format!("{base}/{bucket}"),
                }
            }
            None => {
                let suffix = if self.region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                let host = format!("s3.{}.{suffix}", self.region);
                if self.bucket.contains('.') {
                    BucketAddress {
                        origin: format!("https://{host}"),
                        root: format!("/{bucket}"),
                    }
                } else {
                    BucketAddress {
                        origin: format!("https://{bucket}.{host}"),
                        root: String::new(),
                    }
                }
            }
        }
    }
}

/// A bucket's URL, split so object paths can be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketAddress {
    /// `scheme://host[:port]`, no trailing slash.
    pub origin: String,
    /// The bucket's path: empty for virtual-hosted style, else `[/base]/{bucket}`; already
    /// encoded, no trailing slash.
    pub root: String,
}

impl BucketAddress {
    /// The path of the bucket itself (what ListObjectsV2 is sent to).
    pub fn bucket_path(&self) -> String {
        if self.root.is_empty() {
            "/".to_owned()
        } else {
            self.root.clone()
        }
    }

    /// The path of the object `key`, encoded byte for byte as it is signed.
    pub fn object_path(&self, key: &str) -> String {
        format!("{}/{}", self.root, super::sigv4::encode_key_path(key))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ConnectorError {
    ConnectorError::invalid_field(field, message)
}

fn has_space_or_control(text: &str) -> bool {
    text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An endpoint URL: `http(s)://host[:port][/base/path]` with nothing else. The base path
/// is re-encoded the way requests are signed, so what is sent is what is signed.
fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let shape = "Enter the endpoint as a URL such as https://s3.campus.edu or \
                 https://minio.campus.edu:9000, without the bucket name.";
    let url = Url::parse(raw).map_err(|_| shape.to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(shape.to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Remove the user name and password from the endpoint URL; \
                    the access key goes in its own fields."
            .to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("Remove the `?…` or `#…` part from the endpoint URL.".to_owned());
    }
    let mut segments = Vec::new();
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| shape.to_owned())?;
        if decoded == "." || decoded == ".." {
            return Err(shape.to_owned());
        }
        segments.push(uri_encode(&decoded, false));
    }
    let mut url = url;
    url.set_path(&segments.join("/"));
    Ok(url)
}

/// The endpoint as stored and shown: the URL without a trailing slash.
fn endpoint_text(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// AWS regions are lowercase words and digits joined by hyphens (`eu-west-1`); an
/// S3-compatible store may use its own name (`garage`, `default`), which only goes into the
/// signature. The AWS host is built from the region, so nothing else is accepted there.
fn check_region(region: &str, aws: bool) -> Result<(), String> {
    let aws_shaped = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    let custom_shaped = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match (aws, aws_shaped, custom_shaped) {
        (true, true, _) | (false, _, true) => Ok(()),
        _ => Err("Enter the bucket's region, such as us-east-1 or eu-west-1.".to_owned()),
    }
}

/// AWS's bucket naming rules for AWS (3–63 lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit); S3-compatible stores also allow uppercase
/// and underscores, so a custom endpoint gets the looser check.
fn check_bucket(bucket: &str, aws: bool) -> Result<(), String> {
    let edges_ok = bucket
        .bytes()
        .next()
        .zip(bucket.bytes().last())
        .is_some_and(|(first, last)| first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric());
    let ok = if aws {
        (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && edges_ok
            && !bucket.contains("..")
    } else {
        (1..=255).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            && edges_ok
    };
    if ok {
        Ok(())
    } else {
        Err(
            "Enter the bucket name only (such as campus-docs), without s3:// or slashes."
                .to_owned(),
        )
    }
}

/// The configured prefix as a folder: leading slashes dropped, a trailing `/` added, so
/// `reports` means the folder `reports/` and never also `reports-2020/`.
pub fn normalize_prefix(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_start_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let folder = if trimmed.ends_with('/') {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/")
    };
    if folder.len() > MAX_KEY_BYTES || folder.chars().any(char::is_control) {
        return Err("The prefix is too long or contains control characters.".to_owned());
    }
    if has_dot_segment(&folder) {
        return Err("The prefix cannot contain `.` or `..` folders.".to_owned());
    }
    Ok(folder)
}

/// Whether a `/`-separated name has a `.` or `..` segment. Such a segment in a URL path
/// would be resolved away by the URL parser (`/bucket/root/../other` becomes
/// `/bucket/other`), so keys and prefixes containing one are refused outright.
fn has_dot_segment(name: &str) -> bool {
    name.split('/')
        .any(|segment| segment == "." || segment == "..")
}

/// Checks that `key` names an object inside the connection's prefix `root`.
pub fn check_key(root: &str, key: &str, field: &str) -> Result<(), ConnectorError> {
    if key.is_empty() || key == root {
        return Err(invalid(field, format!("`{field}`: enter an object key")));
    }
    check_inside(root, key, field)
}

/// Checks that the listing prefix `prefix` stays inside the connection's prefix `root`.
pub fn check_prefix(root: &str, prefix: &str, field: &str) -> Result<(), ConnectorError> {
    check_inside(root, prefix, field)
}

fn check_inside(root: &str, name: &str, field: &str) -> Result<(), ConnectorError> {
    if name.len() > MAX_KEY_BYTES {
        return Err(invalid(
            field,
            format!("`{field}`: S3 keys are at most {MAX_KEY_BYTES} bytes"),
        ));
    }
    if !name.starts_with(root) {
        return Err(invalid(
            field,
            format!("`{field}`: this connection is limited to keys starting with `{root}`"),
        ));
    }
    if has_dot_segment(name) {
        return Err(invalid(
            field,
            format!("`{field}`: `.` and `..` path segments are not allowed"),
        ));
    }
    Ok(())
}

/// The last path segment of a key or folder prefix (`a/b/c.txt` → `c.txt`, `a/b/` → `b`).
pub fn last_segment(key: &str) -> &str {
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
        let mut map = Map::new();
        for (k, v) in [
            (ACCESS_KEY_ID, "AKIAIOSFODNN7EXAMPLE"),
            (SECRET_ACCESS_KEY, "secret"),
            (REGION, "eu-west-1"),
            (BUCKET, "campus-docs"),
        ] {
            map.insert(k.to_owned(), json!(v));
        }
        for (k, v) in pairs {
            map.insert((*k).to_owned(), json!(v));
        }
        map
    }

    fn field_of(result: Result<S3Location, ConnectorError>) -> String {
        match result {
            Err(ConnectorError::InvalidInput {
                field: Some(field), ..
            }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn aws_buckets_are_virtual_hosted_unless_their_name_has_dots() {
        let plain = S3Location::from_fields(&fields(&[])).expect("valid");
        assert_eq!(
            plain.address(),
            BucketAddress {
                origin: "https://campus-docs.s3.eu-west-1.amazonaws.com".to_owned(),
                root: String::new()
            }
        );
        assert_eq!(plain.address().bucket_path(), "/");
        assert_eq!(plain.address().object_path("a b/c.txt"), "/a%20b/c.txt");
        let dotted =
            S3Location::from_fields(&fields(&[(BUCKET, "docs.campus.edu")])).expect("valid");
        assert_eq!(
            dotted.address(),
            BucketAddress {
                origin: "https://s3.eu-west-1.amazonaws.com".to_owned(),
                root: "/docs.campus.edu".to_owned()
            }
        );
        let china = S3Location::from_fields(&fields(&[(REGION, "cn-north-1")])).expect("valid");
        assert!(china.address().origin.ends_with(".amazonaws.com.cn"));
    }

    #[test]
    fn custom_endpoints_are_path_style_under_their_base_path() {
        let minio =
            S3Location::from_fields(&fields(&[(ENDPOINT_URL, "https://minio.campus.edu:9000/")]))
                .expect("valid");
        assert_eq!(
            minio.address(),
            BucketAddress {
                origin: "https://minio.campus.edu:9000".to_owned(),
                root: "/campus-docs".to_owned()
            }
        );
        assert_eq!(
            minio.identity(),
            "s3://campus-docs/ on minio.campus.edu:9000"
        );
        let gateway = S3Location::from_fields(&fields(&[
            (ENDPOINT_URL, "https://gw.campus.edu/storage (s3)/"),
            (BUCKET, "Legacy_Bucket"),
            (REGION, "default"),
        ]))
        .expect("valid");
        assert_eq!(
            gateway.address().object_path("k"),
            "/storage%20%28s3%29/Legacy_Bucket/k"
        );
    }

    #[test]
    fn stored_credentials_parse_back_to_the_same_location() {
        let location = S3Location::from_fields(&fields(&[
            (ENDPOINT_URL, "http://127.0.0.1:9000/"),
            (PREFIX, "/team a/reports"),
        ]))
        .expect("valid");
        assert_eq!(location.prefix, "team a/reports/");
        let stored = Credentials::new(location.to_credentials());
        assert_eq!(
            stored.str_field(ENDPOINT_URL),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            S3Location::from_credentials(&stored).expect("parses"),
            location
        );
        assert!(matches!(
            S3Location::from_credentials(&Credentials::new(json!({"bucket": "b"}))),
            Err(ConnectorError::AuthExpired { .. })
        ));
    }

    #[test]
    fn bad_values_are_blamed_on_their_field() {
        let cases = [
            (ENDPOINT_URL, "ftp://files.campus.edu"),
            (ENDPOINT_URL, "https://user:pw@s3.campus.edu"),
            (ENDPOINT_URL, "https://s3.campus.edu/?x=1"),
            (REGION, "eu-west-1.evil.example"),
            (REGION, "EU-WEST-1"),
            (BUCKET, "s3://campus-docs"),
            (BUCKET, "Campus_Docs"),
            (PREFIX, "team/../other"),
            (ACCESS_KEY_ID, "AKIA EXAMPLE"),
            (SECRET_ACCESS_KEY, ""),
        ];
        for (field, value) in cases {
            assert_eq!(
                field_of(S3Location::from_fields(&fields(&[(field, value)]))),
                field,
                "{field} = {value:?}"
            );
        }
    }

    #[test]
    fn the_secret_is_kept_exactly_as_typed() {
        let location =
            S3Location::from_fields(&fields(&[(SECRET_ACCESS_KEY, " s3cr3t/+= ")])).expect("valid");
        assert_eq!(location.key.secret, " s3cr3t/+= ");
    }

    #[test]
    fn keys_and_prefixes_must_stay_inside_the_root() {
        let root = "team-a/";
        assert!(check_key(root, "team-a/report.pdf", "key").is_ok());
        assert!(check_prefix(root, "team-a/", "prefix").is_ok());
        assert!(check_prefix(root, "team-a/sub/", "prefix").is_ok());
        for key in [
            "team-b/secret.txt",
            "team-a/../team-b/secret.txt",
            "team-a/./x",
            "team-a",
            "team-a/",
            "",
        ] {
            assert!(check_key(root, key, "key").is_err(), "{key}");
        }
        assert!(check_prefix(root, "team", "prefix").is_err());
        assert!(check_prefix(root, "team-a/..", "prefix").is_err());
        assert!(check_key("", "anything/at/all.txt", "key").is_ok());
        assert!(check_key("", "../up", "key").is_err());
    }

    #[test]
    fn last_segments_name_files_and_folders() {
        assert_eq!(last_segment("a/b/c.txt"), "c.txt");
        assert_eq!(last_segment("a/b/"), "b");
        assert_eq!(last_segment("top.txt"), "top.txt");
    }
}
