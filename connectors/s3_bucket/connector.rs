//! The `s3-bucket` spec and its live credential check.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::actions::S3Actions;
use super::client::{S3Client, S3Failure};
use super::location::{
    ACCESS_KEY_ID, BUCKET, ENDPOINT_URL, PREFIX, REGION, S3Location, SECRET_ACCESS_KEY,
};
use crate::{
    ActionContext, AuthScoping, ConfigKey, ConnectorDef, ConnectorError, ConnectorKind,
    ConnectorSettings, ConnectorSpec, FieldKind, FormField, HttpClient, NormalizedCredentials,
};

/// The `s3-bucket` connector.
#[derive(Debug, Default)]
pub struct S3Bucket {
    actions: S3Actions,
}

const fn field(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    kind: FieldKind,
    required: bool,
) -> FormField {
    FormField {
        name,
        label,
        help,
        kind,
        required,
        default: None,
        placeholder: None,
    }
}

#[async_trait]
impl ConnectorDef for S3Bucket {
    const SPEC: ConnectorSpec = ConnectorSpec {
        slug: "s3-bucket",
        name: "S3 bucket",
        description: "Browse and import files from an Amazon S3 bucket, or from S3-compatible \
                      storage such as MinIO or Ceph, with your own access key.",
        icon: include_str!("icon.svg"),
        kind: ConnectorKind::Manual,
        scoping: AuthScoping::UserSupplied,
        version: "1",
        oauth: None,
        form: &[
            FormField {
                placeholder: Some("AKIAIOSFODNN7EXAMPLE"),
                ..field(
                    ACCESS_KEY_ID,
                    "Access key ID",
                    "The ID of an access key that may list and read the bucket.",
                    FieldKind::Text,
                    true,
                )
            },
            field(
                SECRET_ACCESS_KEY,
                "Secret access key",
                "Used only to sign requests; it is never sent to the storage service.",
                FieldKind::Password,
                true,
            ),
            FormField {
                default: Some("us-east-1"),
                placeholder: Some("us-east-1"),
                ..field(
                    REGION,
                    "Region",
                    "The bucket's AWS region. S3-compatible storage often accepts us-east-1.",
                    FieldKind::Text,
                    true,
                )
            },
            FormField {
                placeholder: Some("campus-docs"),
                ..field(BUCKET, "Bucket", "The bucket name.", FieldKind::Text, true)
            },
            FormField {
                placeholder: Some("reports/2026/"),
                ..field(
                    PREFIX,
                    "Folder (prefix)",
                    "Optional: limit the connection to this folder of the bucket.",
                    FieldKind::Text,
                    false,
                )
            },
            FormField {
                placeholder: Some("https://minio.campus.edu:9000"),
                ..field(
                    ENDPOINT_URL,
                    "Endpoint URL",
                    "Optional: the address of S3-compatible storage (MinIO, Ceph). \
                     Leave empty for Amazon S3.",
                    FieldKind::Url,
                    false,
                )
            },
        ],
        config_keys: &[ConfigKey::allowed_hosts()],
    };

    type Actions = S3Actions;

    fn actions(&self) -> &S3Actions {
        &self.actions
    }

    fn files(&self) -> Option<&dyn crate::FileSource> {
        Some(&self.actions)
    }

    /// Lists one key of the prefix with the given credentials (ListObjectsV2,
    /// `max-keys=1`): that proves the key, the secret, the region, the bucket and the list
    /// permission at once. Each refusal is blamed on the field to fix.
    async fn test_credentials(
        &self,
        settings: &ConnectorSettings,
        http: &HttpClient,
        fields: Map<String, Value>,
    ) -> Result<NormalizedCredentials, ConnectorError> {
        let location = S3Location::from_fields(&fields)?;
        let client = S3Client::connect(location.clone(), settings, http).await?;
        client
            .list_objects(&location.prefix, None, 1)
            .await
            .map_err(|failure| credential_error(&location, failure))?;
        let mut warnings = Vec::new();
        if location
            .endpoint
            .as_ref()
            .is_some_and(|url| url.scheme() == "http")
        {
            warnings.push(
                "The endpoint uses plain http://: file contents travel unencrypted.".to_owned(),
            );
        }
        Ok(NormalizedCredentials {
            credentials: location.to_credentials(),
            identity: Some(location.identity()),
            warnings,
        })
    }

    async fn fetch_identity(&self, ctx: &ActionContext) -> Result<Option<String>, ConnectorError> {
        Ok(Some(
            S3Location::from_credentials(&ctx.credentials)?.identity(),
        ))
    }
}

/// A failed check, phrased for the form.
fn credential_error(location: &S3Location, failure: S3Failure) -> ConnectorError {
    let error = match failure {
        // A typed endpoint that cannot be reached is probably mistyped; AWS being
        // unreachable is an outage, not something to fix in the form.
        S3Failure::Connector(ConnectorError::Transport { message })
            if location.endpoint.is_some() =>
        {
            return ConnectorError::invalid_field(
                ENDPOINT_URL,
                format!("The storage service could not be reached ({message})."),
            );
        }
        S3Failure::Connector(other) => return other,
        S3Failure::Service(error) => error,
    };
    let bucket = &location.bucket;
    match error.code.as_str() {
        "SignatureDoesNotMatch" => ConnectorError::invalid_field(
            SECRET_ACCESS_KEY,
            "The secret access key does not match the access key ID.",
        ),
        "InvalidAccessKeyId" => ConnectorError::invalid_field(
            ACCESS_KEY_ID,
            "The storage service does not know this access key ID.",
        ),
        "ExpiredToken" | "InvalidToken" => ConnectorError::invalid_field(
            ACCESS_KEY_ID,
            "Temporary (session) credentials are not supported; use a long-term access key.",
        ),
        "NoSuchBucket" => ConnectorError::invalid_field(
            BUCKET,
            format!("There is no bucket named `{bucket}` at this endpoint."),
        ),
        _ if error.is_wrong_region() => ConnectorError::invalid_field(
            REGION,
            match &error.region {
                Some(region) => format!("The bucket is in region {region}; enter that region."),
                None => format!(
                    "The bucket is not in region {}; enter the bucket's region.",
                    location.region
                ),
            },
        ),
        "AccessDenied" | "AllAccessDisabled" => ConnectorError::invalid_field(
            BUCKET,
            format!(
                "Access denied: this key may not list `{bucket}`{}. It needs the \
                 s3:ListBucket and s3:GetObject permissions there.",
                if location.prefix.is_empty() {
                    String::new()
                } else {
                    format!(" under `{}`", location.prefix)
                }
            ),
        ),
        _ => ConnectorError::from(S3Failure::Service(error)),
    }
}
