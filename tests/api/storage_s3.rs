//! The storage service against a real S3-compatible server (moto, started here on loopback).

use campuscore::services::storage::Storage;
use campuscore_testkit::moto::start_moto;

#[tokio::test]
async fn streamed_uploads_land_in_an_s3_bucket_only_when_complete() {
    campuscore::install_crypto_provider();
    let Some((_moto, port)) = start_moto().await else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let created = campuscore_testkit::http_client()
        .put(format!("{endpoint}/campus-docs"))
        .send()
        .await
        .expect("create bucket");
    assert!(
        created.status().is_success(),
        "bucket created: {}",
        created.status()
    );

    let storage = Storage::from_url_with(
        "s3://campus-docs/tenant-a",
        &[
            ("aws_access_key_id", "testing"),
            ("aws_secret_access_key", "testing"),
            ("aws_region", "us-east-1"),
            ("aws_endpoint", &endpoint),
            ("aws_allow_http", "true"),
        ],
    )
    .expect("s3 storage");
    storage.check_writable().await.expect("writable");

    // 12 MiB goes up as several multipart parts.
    let mut upload = storage
        .begin_upload("knowledge-folders/1/u/big.bin")
        .await
        .expect("begin");
    for i in 0..12u8 {
        upload
            .write(bytes::Bytes::from(vec![i; 1024 * 1024]))
            .await
            .expect("part");
    }
    assert_eq!(
        storage
            .size_of("knowledge-folders/1/u/big.bin")
            .await
            .expect("head"),
        None,
        "invisible until complete"
    );
    let done = upload.finish().await.expect("finish");
    assert_eq!(done.size, 12 * 1024 * 1024);
    assert_eq!(
        storage
            .size_of("knowledge-folders/1/u/big.bin")
            .await
            .expect("head"),
        Some(12 * 1024 * 1024)
    );
    let back = storage
        .read_all("knowledge-folders/1/u/big.bin")
        .await
        .expect("read");
    assert_eq!(back[5 * 1024 * 1024], 5);

    // The prefix is applied under the bucket.
    let listing = campuscore_testkit::http_client()
        .get(format!(
            "{endpoint}/campus-docs?list-type=2&prefix=tenant-a/"
        ))
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("body");
    assert!(
        listing.contains("tenant-a/knowledge-folders/1/u/big.bin"),
        "{listing}"
    );

    let mut aborted = storage
        .begin_upload("knowledge-folders/1/u/gone.bin")
        .await
        .expect("begin");
    aborted
        .write(bytes::Bytes::from(vec![1u8; 6 * 1024 * 1024]))
        .await
        .expect("part");
    aborted.abort().await;
    assert_eq!(
        storage
            .size_of("knowledge-folders/1/u/gone.bin")
            .await
            .expect("head"),
        None
    );
    storage
        .delete("knowledge-folders/1/u/big.bin")
        .await
        .expect("delete");
    assert_eq!(
        storage
            .size_of("knowledge-folders/1/u/big.bin")
            .await
            .expect("head"),
        None
    );
}
