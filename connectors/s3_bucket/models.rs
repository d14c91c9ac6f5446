//! S3's XML wire types: the ListObjectsV2 result and the error body, as S3 and
//! S3-compatible stores send them.

use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// The body of a ListObjectsV2 response (`<ListBucketResult>`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBucketResult {
    /// Whether more results follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Objects of this page.
    #[serde(default)]
    pub contents: Vec<ObjectEntry>,
    /// "Folders": the key prefixes up to the next delimiter.
    #[serde(default)]
    pub common_prefixes: Vec<CommonPrefix>,
    /// Opaque token for the next page, when truncated.
    #[serde(default)]
    pub next_continuation_token: Option<String>,
    /// `url` when keys and prefixes are percent-encoded (we always ask for that).
    #[serde(default)]
    pub encoding_type: Option<String>,
}

/// One `<Contents>` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectEntry {
    /// The object key.
    pub key: String,
    /// ISO 8601 time of the last change.
    #[serde(default)]
    pub last_modified: Option<String>,
    /// Entity tag, quoted as S3 sends it.
    #[serde(rename = "ETag", default)]
    pub etag: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
}

/// One `<CommonPrefixes>` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommonPrefix {
    /// The folder's key prefix, ending in the delimiter.
    pub prefix: String,
}

/// The body of an S3 error response (`<Error>`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// Machine-readable code (`NoSuchKey`, `SignatureDoesNotMatch`…).
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// The region the bucket is in, on region errors (`AuthorizationHeaderMalformed`).
    #[serde(default)]
    pub region: Option<String>,
}

impl ListBucketResult {
    /// Parses a ListObjectsV2 body, decoding the keys and prefixes when S3 URL-encoded them
    /// (`encoding-type=url` encodes them like a form: `+` is a space).
    pub fn parse(xml: &str) -> Result<Self, String> {
        let mut result: Self = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
        if result.encoding_type.as_deref() == Some("url") {
            for object in &mut result.contents {
                object.key = url_decode(&object.key)?;
            }
            for prefix in &mut result.common_prefixes {
                prefix.prefix = url_decode(&prefix.prefix)?;
            }
        }
        result.next_continuation_token = result
            .next_continuation_token
            .filter(|token| !token.is_empty());
        Ok(result)
    }
}

impl ErrorBody {
    /// Parses an error body; anything that is not an `<Error>` document gives an empty one.
    pub fn parse(xml: &str) -> Self {
        quick_xml::de::from_str(xml).unwrap_or_default()
    }
}

fn url_decode(text: &str) -> Result<String, String> {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| format!("a key in the listing is not UTF-8: {text}"))
}

/// The MD5 of an object from its ETag: S3's ETag is the hex MD5 of the content for objects
/// uploaded in one part without SSE-KMS or SSE-C; multipart ETags end in `-N` and are not
/// an MD5. `None` when the ETag is not 32 hex digits.
pub fn md5_from_etag(etag: &str) -> Option<crate::Checksum> {
    crate::Checksum::from_hex("md5", etag.trim().trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like AWS's documented ListObjectsV2 response, with `encoding-type=url`.
    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>campus-docs</Name>
  <Prefix>reports%2F</Prefix>
  <KeyCount>3</KeyCount>
  <MaxKeys>3</MaxKeys>
  <Delimiter>%2F</Delimiter>
  <IsTruncated>true</IsTruncated>
  <EncodingType>url</EncodingType>
  <Contents>
    <Key>reports%2FQ1+summary+%28final%29.pdf</Key>
    <LastModified>2026-01-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>reports%2F2024%2F</Prefix></CommonPrefixes>
  <Contents>
    <Key>reports%2Fbig+%2B+%C3%BC.bin</Key>
    <LastModified>2026-01-13T08:00:00.000Z</LastModified>
    <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
    <Size>94371840</Size>
  </Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>"#;

    #[test]
    fn a_list_page_parses_and_decodes_keys() {
        let page = ListBucketResult::parse(PAGE).expect("parses");
        assert!(page.is_truncated);
        let keys: Vec<_> = page.contents.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            ["reports/Q1 summary (final).pdf", "reports/big + ü.bin"]
        );
        assert_eq!(page.common_prefixes[0].prefix, "reports/2024/");
        assert_eq!(page.contents[0].size, Some(434_234));
        assert_eq!(
            page.contents[0].etag.as_deref(),
            Some("\"fba9dede5f27731c9771645a39863328\"")
        );
        assert_eq!(
            page.next_continuation_token.as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
    }

    #[test]
    fn an_empty_last_page_parses() {
        let page = ListBucketResult::parse(
            "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>\
             <IsTruncated>false</IsTruncated><NextContinuationToken></NextContinuationToken>\
             </ListBucketResult>",
        )
        .expect("parses");
        assert!(!page.is_truncated);
        assert!(page.contents.is_empty() && page.common_prefixes.is_empty());
        assert_eq!(page.next_continuation_token, None);
    }

    #[test]
    fn error_bodies_give_code_message_and_region() {
        let error = ErrorBody::parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region><RequestId>R</RequestId></Error>"#,
        );
        assert_eq!(error.code.as_deref(), Some("AuthorizationHeaderMalformed"));
        assert_eq!(error.region.as_deref(), Some("eu-west-1"));
        assert!(error.message.is_some_and(|m| m.contains("expecting")));
        assert!(ErrorBody::parse("<html>gateway</html>").code.is_none());
        assert!(ErrorBody::parse("").code.is_none());
    }

    #[test]
    fn only_single_part_etags_are_md5_checksums() {
        assert_eq!(
            md5_from_etag("\"FBA9DEDE5F27731C9771645A39863328\""),
            crate::Checksum::parse("md5:fba9dede5f27731c9771645a39863328")
        );
        assert_eq!(
            md5_from_etag("\"3858f62230ac3c915f300c664312c11f-9\""),
            None
        );
        assert_eq!(md5_from_etag(""), None);
    }
}
