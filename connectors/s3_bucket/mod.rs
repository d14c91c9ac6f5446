//! `s3-bucket`: browse and import the objects of an S3 bucket (AWS, or S3-compatible storage
//! such as MinIO and Ceph) with the user's own access key.
//!
//! A thin client rather than the AWS SDK: SigV4 signing (`sigv4.rs`), three S3 calls
//! (`client.rs`: ListObjectsV2, HEAD and GET object) over an HTTP client pinned to the
//! endpoint's SSRF-checked addresses, and the ListObjectsV2 XML (`models.rs`). The form and
//! the rules that keep keys inside the configured prefix live in `location.rs`.

mod actions;
mod client;
mod connector;
mod location;
mod models;
mod sigv4;
#[cfg(test)]
mod tests;

inventory::submit! {
    crate::ConnectorRegistration::of::<connector::S3Bucket>()
}
