//! `s3-bucket` through the same `Connector` interface the app uses, against a real
//! S3-compatible server: moto, started once for this test binary on a free loopback port
//! with signature checking on, and users made through its IAM API. A few wiremock
//! upstreams give the answers moto cannot (a bucket in another region, throttling).
//!
//! Without moto (`python3 -m pip install 'moto[server]>=5'`) the moto tests are skipped and
//! named in the run's closing line, except where the run requires its peers (`cargo xtask
//! test`, `CI=true`), where they fail (`campuscore_test_peers`).

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde_json::{Map, Value, json};
use wiremock::matchers::{header_regex, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::actions::{ObjectInfo, ObjectList};
use super::client::S3Client;
use super::connector::S3Bucket;
use super::location::S3Location;
use super::sigv4::AccessKey;
use crate::sdk::testing;
use crate::{
    ActionContext, ActionOutput, AuthScoping, Connector, ConnectorDef, ConnectorError,
    ConnectorKind, ConnectorSettings, Credentials, DefinedConnector, FileKind, FileList, Tag,
};

// ---------------------------------------------------------------------------------------
// The moto server
// ---------------------------------------------------------------------------------------

/// Starts moto's server in-process on a free port, makes two IAM users (one allowed
/// `s3:*`, one allowed nothing), switches authentication on, prints the port and keys as
/// one JSON line, and runs until its stdin closes (when the test process exits).
const MOTO_SCRIPT: &str = r#"
import json, logging, os, sys
try:
    import boto3, flask
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.server import ThreadedMotoServer
except ImportError as error:
    print(json.dumps({"missing": str(error)}), flush=True)
    sys.exit(0)

# moto checks a signature against the URL as Flask rebuilds it, with `%2F` and non-ASCII
# escapes in the query and `%2B` in the path decoded (getmoto/moto#5948), so a correctly
# signed `delimiter=%2F` is refused. Check it against the request line as sent, as S3 does.
_check = ActionAuthenticatorMixin._authenticate_and_authorize_action
def _check_as_sent(self, iam_request_cls, resource="*"):
    sent = flask.request.environ.get("RAW_URI") or flask.request.environ.get("REQUEST_URI")
    rebuilt = self.uri
    if sent:
        scheme, _, rest = rebuilt.partition("://")
        self.uri = scheme + "://" + rest.split("/", 1)[0] + sent
    try:
        return _check(self, iam_request_cls, resource)
    finally:
        self.uri = rebuilt
ActionAuthenticatorMixin._authenticate_and_authorize_action = _check_as_sent

logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server.get_host_and_port()[1]
iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")

def user(name, actions):
    iam.create_user(UserName=name)
    if actions:
        iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}

tester = user("campuscore-tester", "s3:*")
nobody = user("campuscore-nobody", None)
# From here on every request needs a valid signature from a known key.
settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
ActionAuthenticatorMixin.request_count = 0
print(json.dumps({"port": port, "tester": tester, "nobody": nobody}), flush=True)
sys.stdin.read()
os._exit(0)
"#;

/// The running moto server.
struct Moto {
    /// `http://127.0.0.1:{port}`.
    endpoint: String,
    /// A key allowed `s3:*`.
    tester: AccessKey,
    /// A valid key allowed nothing.
    nobody: AccessKey,
    /// Kept open so the server lives as long as the test process.
    _process: Mutex<(Child, ChildStdin)>,
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

fn moto() -> Option<&'static Moto> {
    MOTO.get_or_init(start_moto).as_ref()
}

fn start_moto() -> Option<Moto> {
    let spawned = Command::new("python3")
        .args(["-c", MOTO_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => return skip(&format!("python3 could not start ({error})")),
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return skip("python3's pipes could not be opened");
    };
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_default();
    let info: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
    let key = |who: &str| {
        Some(AccessKey {
            id: info[who]["id"].as_str()?.to_owned(),
            secret: info[who]["secret"].as_str()?.to_owned(),
        })
    };
    match (info["port"].as_u64(), key("tester"), key("nobody")) {
        (Some(port), Some(tester), Some(nobody)) => Some(Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            tester,
            nobody,
            _process: Mutex::new((child, stdin)),
        }),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            let why = info["missing"]
                .as_str()
                .map_or("moto's server did not start".to_owned(), |m| {
                    format!("moto is not installed ({m})")
                });
            skip(&why)
        }
    }
}

fn skip(why: &str) -> Option<Moto> {
    campuscore_test_peers::unavailable(
        campuscore_test_peers::Peer::Python,
        "the s3-bucket connector tests against moto",
        why,
    );
    None
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn connector() -> DefinedConnector<S3Bucket> {
    DefinedConnector::new(S3Bucket::default())
}

/// Settings with `ALLOWED_HOSTS` set, or none.
fn settings(allowed_hosts: Option<&str>) -> ConnectorSettings {
    let overrides = allowed_hosts
        .map(|hosts| HashMap::from([("ALLOWED_HOSTS".to_owned(), hosts.to_owned())]))
        .unwrap_or_default();
    ConnectorSettings::new(&S3Bucket::SPEC, overrides)
}

/// A submitted form, as `validate_form` hands it to `test_credentials`.
fn form(endpoint: &str, key: &AccessKey, bucket: &str, prefix: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    for (name, value) in [
        ("access_key_id", key.id.as_str()),
        ("secret_access_key", key.secret.as_str()),
        ("region", "us-east-1"),
        ("bucket", bucket),
        ("prefix", prefix),
        ("endpoint_url", endpoint),
    ] {
        if !value.is_empty() {
            fields.insert(name.to_owned(), json!(value));
        }
    }
    fields
}

/// A bucket name no other test uses.
fn unique_bucket(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("cc-{label}-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

/// A fresh bucket and a client for it (as the tester, loopback allowed).
async fn new_bucket(moto: &Moto, label: &str) -> (String, S3Client) {
    let bucket = unique_bucket(label);
    let location = S3Location::from_fields(&form(&moto.endpoint, &moto.tester, &bucket, ""))
        .expect("a valid location");
    let client = S3Client::connect(
        location,
        &settings(Some("127.0.0.1")),
        &testing::quick_http(1),
    )
    .await
    .expect("loopback is allowed");
    client.create_bucket().await.expect("bucket created");
    (bucket, client)
}

async fn put(client: &S3Client, key: &str, body: &'static [u8], headers: &[(&str, &str)]) {
    client
        .put_object(key, reqwest::Body::from(body), body.len() as u64, headers)
        .await
        .unwrap_or_else(|e| panic!("upload of {key} failed: {e:?}"));
}

/// An action context for a stored connection.
fn ctx(moto: &Moto, key: &AccessKey, bucket: &str, prefix: &str) -> ActionContext {
    let location = S3Location::from_fields(&form(&moto.endpoint, key, bucket, prefix))
        .expect("a valid location");
    ActionContext::new(
        Credentials::new(location.to_credentials()),
        settings(Some("127.0.0.1")),
        testing::quick_http(1),
    )
}

async fn run(
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> Result<ActionOutput, ConnectorError> {
    connector().execute_action(action, ctx, params).await
}

async fn run_as<T: serde::de::DeserializeOwned>(
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> T {
    let output = run(ctx, action, params)
        .await
        .unwrap_or_else(|e| panic!("{action} failed: {e:?}"))
        .into_json()
        .expect("a JSON result");
    serde_json::from_value(output).expect("the declared output shape")
}

fn field_error(result: Result<impl std::fmt::Debug, ConnectorError>) -> (String, String) {
    match result {
        Err(ConnectorError::InvalidInput {
            field: Some(field),
            message,
        }) => (field, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

// ---------------------------------------------------------------------------------------
// Contract
// ---------------------------------------------------------------------------------------

#[test]
fn the_spec_uses_the_documented_names() {
    let spec = S3Bucket::SPEC;
    assert_eq!(spec.slug, "s3-bucket");
    assert_eq!(spec.kind, ConnectorKind::Manual);
    assert_eq!(spec.scoping, AuthScoping::UserSupplied);
    let fields: Vec<_> = spec.form.iter().map(|f| f.name).collect();
    assert_eq!(
        fields,
        [
            "access_key_id",
            "secret_access_key",
            "region",
            "bucket",
            "prefix",
            "endpoint_url"
        ]
    );
    assert_eq!(spec.secret_form_fields(), ["secret_access_key"]);
    assert!(spec.config_key("ALLOWED_HOSTS").is_some());
    let connector = connector();
    let actions: Vec<_> = connector
        .actions()
        .iter()
        .map(|a| (a.name, a.tags.to_vec(), a.downloads))
        .collect();
    assert_eq!(
        actions,
        [
            ("list_objects", vec![Tag::FileBrowse, Tag::Read], false),
            ("head_object", vec![Tag::Read], false),
            ("download_object", vec![Tag::FileDownload], true),
        ]
    );
    assert!(connector.has_tag(Tag::FileBrowse) && connector.has_tag(Tag::FileDownload));
    // The flattened sdk fields and the ETag appear side by side in the schemas.
    let list = connector.action("list_objects").expect("list_objects");
    let entry = &list.output_schema["$defs"]["BucketEntry"]["properties"];
    let head = connector.action("head_object").expect("head_object");
    for field in [
        "id",
        "kind",
        "checksum",
        "revision",
        "parent_id",
        "can_download",
        "etag",
    ] {
        assert!(entry[field].is_object(), "listing entries have `{field}`");
        assert!(
            head.output_schema["properties"][field].is_object(),
            "head_object has `{field}`"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn right_credentials_connect_with_the_bucket_as_identity() {
    let Some(moto) = moto() else { return };
    let (bucket, _) = new_bucket(moto, "identity").await;
    let checked = connector()
        .test_credentials(
            &settings(Some("127.0.0.1")),
            &testing::quick_http(1),
            form(&moto.endpoint, &moto.tester, &bucket, "/reports"),
        )
        .await
        .expect("the credentials work");
    let port = moto.endpoint.rsplit(':').next().expect("a port");
    assert_eq!(
        checked.identity.as_deref(),
        Some(format!("s3://{bucket}/reports/ on 127.0.0.1:{port}").as_str())
    );
    assert_eq!(checked.credentials["prefix"], "reports/");
    assert_eq!(checked.credentials["secret_access_key"], moto.tester.secret);
    assert!(
        checked.warnings.iter().any(|w| w.contains("http://")),
        "{:?}",
        checked.warnings
    );
    // The stored credentials pass the same check again (the app's re-check does this).
    let again = connector()
        .test_credentials(
            &settings(Some("127.0.0.1")),
            &testing::quick_http(1),
            checked.credentials.as_object().cloned().expect("an object"),
        )
        .await
        .expect("still valid");
    assert_eq!(again.credentials, checked.credentials);
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_on_the_secret_access_key_field() {
    let Some(moto) = moto() else { return };
    let (bucket, _) = new_bucket(moto, "secret").await;
    let wrong = AccessKey {
        secret: format!("{}x", moto.tester.secret),
        ..moto.tester.clone()
    };
    let (field, message) = field_error(
        connector()
            .test_credentials(
                &settings(Some("127.0.0.1")),
                &testing::quick_http(1),
                form(&moto.endpoint, &wrong, &bucket, ""),
            )
            .await,
    );
    assert_eq!(field, "secret_access_key");
    assert!(message.contains("does not match"), "{message}");
}

#[tokio::test]
async fn an_unknown_key_a_missing_bucket_and_a_key_without_rights_name_their_field() {
    let Some(moto) = moto() else { return };
    let (bucket, _) = new_bucket(moto, "fields").await;
    let check = |key: AccessKey, bucket: String| async move {
        field_error(
            connector()
                .test_credentials(
                    &settings(Some("127.0.0.1")),
                    &testing::quick_http(1),
                    form(&moto.endpoint, &key, &bucket, "team"),
                )
                .await,
        )
    };
    let unknown = AccessKey {
        id: "AKIAUNKNOWNKEY000000".to_owned(),
        ..moto.tester.clone()
    };
    let (field, _) = check(unknown, bucket.clone()).await;
    assert_eq!(field, "access_key_id");

    let (field, message) = check(moto.tester.clone(), unique_bucket("absent")).await;
    assert_eq!(field, "bucket");
    assert!(message.contains("no bucket named"), "{message}");

    let (field, message) = check(moto.nobody.clone(), bucket).await;
    assert_eq!(field, "bucket");
    assert!(
        message.contains("Access denied") && message.contains("under `team/`"),
        "{message}"
    );
}

#[tokio::test]
async fn a_loopback_endpoint_is_refused_unless_allowed_hosts_lists_it() {
    let Some(moto) = moto() else { return };
    let (bucket, _) = new_bucket(moto, "ssrf").await;
    let port = moto.endpoint.rsplit(':').next().expect("a port");
    for endpoint in [
        moto.endpoint.clone(),
        format!("http://2130706433:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let (field, message) = field_error(
            connector()
                .test_credentials(
                    &settings(None),
                    &testing::quick_http(1),
                    form(&endpoint, &moto.tester, &bucket, ""),
                )
                .await,
        );
        assert_eq!(field, "endpoint_url", "{endpoint}");
        assert!(message.contains("loopback"), "{endpoint}: {message}");
    }
    // A stored connection whose endpoint is no longer allowed must be reconnected.
    let mut stored = ctx(moto, &moto.tester, &bucket, "");
    stored.settings = settings(None);
    let result = run(&stored, "list_objects", Value::Null).await;
    assert!(
        matches!(&result, Err(ConnectorError::AuthExpired { message }) if message.contains("loopback")),
        "{result:?}"
    );
    // The admin allows the campus host: the same form connects.
    connector()
        .test_credentials(
            &settings(Some("127.0.0.1")),
            &testing::quick_http(1),
            form(&moto.endpoint, &moto.tester, &bucket, ""),
        )
        .await
        .expect("allowed");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_blamed_on_the_endpoint_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let key = AccessKey {
        id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret: "secret".to_owned(),
    };
    let (field, message) = field_error(
        connector()
            .test_credentials(
                &settings(Some("127.0.0.1")),
                &testing::quick_http(1),
                form(&format!("http://127.0.0.1:{port}"), &key, "campus-docs", ""),
            )
            .await,
    );
    assert_eq!(field, "endpoint_url");
    assert!(message.contains("could not be reached"), "{message}");
}

// ---------------------------------------------------------------------------------------
// Browsing and metadata
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn list_objects_pages_through_2500_entries_without_duplicates_or_gaps() {
    let Some(moto) = moto() else { return };
    let (bucket, client) = new_bucket(moto, "paging").await;
    // 2,450 files directly in `archive/` and 50 folders of one file each: 2,500 entries.
    let files: Vec<String> = (0..2450)
        .map(|i| format!("archive/file-{i:04}.txt"))
        .collect();
    let folders: Vec<String> = (0..50).map(|i| format!("archive/folder-{i:02}/")).collect();
    let mut uploads: Vec<String> = files.clone();
    uploads.extend(folders.iter().map(|f| format!("{f}inside.txt")));
    uploads.push("archive-not-this/outside.txt".to_owned());
    let started = Instant::now();
    let failures: Vec<_> = futures_util::stream::iter(uploads.iter())
        .map(|key| client.put_object(key, reqwest::Body::from("x"), 1, &[]))
        .buffer_unordered(8)
        .filter_map(|r| async move { r.err() })
        .collect()
        .await;
    assert!(failures.is_empty(), "{failures:?}");
    eprintln!(
        "uploaded {} objects in {:?}",
        uploads.len(),
        started.elapsed()
    );

    let ctx = ctx(moto, &moto.tester, &bucket, "archive");
    let mut pages = Vec::new();
    let mut entries = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page: ObjectList = run_as(
            &ctx,
            "list_objects",
            json!({"page_size": 1000, "page_token": token}),
        )
        .await;
        assert_eq!(page.prefix, "archive/");
        pages.push(page.files.len());
        entries.extend(page.files);
        token = page.next_page_token;
        if token.is_none() || pages.len() > 5 {
            break;
        }
    }
    assert_eq!(pages, [1000, 1000, 500]);
    let ids: BTreeSet<&str> = entries.iter().map(|e| e.file.id.as_str()).collect();
    assert_eq!(ids.len(), 2500, "no duplicates");
    let expected: BTreeSet<&str> = files.iter().chain(&folders).map(String::as_str).collect();
    assert_eq!(
        ids, expected,
        "none missing, nothing from outside the prefix"
    );

    let folder = &entries
        .iter()
        .find(|e| e.file.id == "archive/folder-07/")
        .expect("a folder entry")
        .file;
    assert_eq!(folder.kind, FileKind::Folder);
    assert_eq!(folder.name, "folder-07");
    assert_eq!(folder.mime_type, "inode/directory");
    let file = &entries
        .iter()
        .find(|e| e.file.id == "archive/file-0042.txt")
        .expect("a file entry")
        .file;
    assert_eq!(file.kind, FileKind::File);
    assert_eq!(file.name, "file-0042.txt");
    assert_eq!(file.mime_type, "text/plain");
    assert_eq!(file.size, Some(1));
    assert_eq!(
        file.checksum,
        crate::Checksum::from_hex("md5", &md5_hex(b"x"))
    );
    assert!(file.modified_time.is_some());

    // A folder's id lists the folder.
    let inside: FileList = run_as(
        &ctx,
        "list_objects",
        json!({"prefix": "archive/folder-07/"}),
    )
    .await;
    let ids: Vec<_> = inside.files.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["archive/folder-07/inside.txt"]);
    assert_eq!(inside.next_page_token, None);
}

/// What the app reads of an entry: `(id, kind, checksum, revision, can_download)`.
type Seen<'a> = (&'a str, FileKind, Option<&'a str>, Option<&'a str>, bool);

/// What the app reads of a page, entry by entry.
fn summary(list: &FileList) -> Vec<Seen<'_>> {
    list.files
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.kind,
                f.checksum.as_ref().map(crate::Checksum::as_str),
                f.revision.as_deref(),
                f.can_download,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_listing_reads_as_the_sdk_file_list_with_etags_as_revisions() {
    let Some(moto) = moto() else { return };
    let (bucket, client) = new_bucket(moto, "model").await;
    put(&client, "top.txt", b"top", &[]).await;
    put(&client, "docs/a.txt", b"alpha", &[]).await;
    put(&client, "docs/sub/b.txt", b"beta", &[]).await;
    let ctx = ctx(moto, &moto.tester, &bucket, "");
    let list = |params: Value| {
        let ctx = &ctx;
        async move {
            run(ctx, "list_objects", params)
                .await
                .expect("list_objects")
                .into_json()
                .expect("a JSON result")
        }
    };

    let output = list(json!({"prefix": "docs/"})).await;
    let page: FileList = serde_json::from_value(output.clone()).expect("reads as a FileList");
    let (md5, checksum) = (md5_hex(b"alpha"), format!("md5:{}", md5_hex(b"alpha")));
    assert_eq!(
        summary(&page),
        [
            ("docs/sub/", FileKind::Folder, None, None, false),
            (
                "docs/a.txt",
                FileKind::File,
                Some(checksum.as_str()),
                Some(md5.as_str()),
                true
            ),
        ]
    );
    let parents: Vec<_> = page.files.iter().map(|f| f.parent_id.as_deref()).collect();
    assert_eq!(parents, [Some("docs/"), Some("docs/")]);
    assert_eq!((page.files[0].size, page.files[1].size), (None, Some(5)));
    assert_eq!((page.next_page_token, page.breadcrumbs), (None, None));
    // S3's own fields ride along next to the shared ones.
    assert_eq!(output["prefix"], "docs/");
    assert_eq!(output["files"][1]["etag"], md5);

    let top: FileList =
        serde_json::from_value(list(Value::Null).await).expect("reads as a FileList");
    let (top_md5, top_checksum) = (md5_hex(b"top"), format!("md5:{}", md5_hex(b"top")));
    assert_eq!(
        summary(&top),
        [
            ("docs/", FileKind::Folder, None, None, false),
            (
                "top.txt",
                FileKind::File,
                Some(top_checksum.as_str()),
                Some(top_md5.as_str()),
                true
            ),
        ]
    );
    assert!(
        top.files.iter().all(|f| f.parent_id.is_none()),
        "the top of the bucket has no folder id"
    );
}

#[tokio::test]
async fn head_object_reports_type_size_time_checksum_and_metadata() {
    let Some(moto) = moto() else { return };
    let (bucket, client) = new_bucket(moto, "head").await;
    let pdf = "docs/Q1 summary (final) Zoë & co = 1.pdf";
    put(&client, pdf, b"%PDF-1.7 fake", &[]).await;
    put(
        &client,
        "docs/notes",
        b"# notes",
        &[
            ("content-type", "text/markdown"),
            ("x-amz-meta-owner", "registrar"),
        ],
    )
    .await;
    let ctx = ctx(moto, &moto.tester, &bucket, "docs/");

    let listed: FileList = run_as(&ctx, "list_objects", Value::Null).await;
    let ids: Vec<_> = listed.files.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [pdf, "docs/notes"]);

    let info: ObjectInfo = run_as(&ctx, "head_object", json!({"key": pdf})).await;
    assert_eq!(info.object.etag, Some(md5_hex(b"%PDF-1.7 fake")));
    let file = &info.object.file;
    assert_eq!(file.id, pdf);
    assert_eq!(file.name, "Q1 summary (final) Zoë & co = 1.pdf");
    assert_eq!(file.kind, FileKind::File);
    assert_eq!(file.mime_type, "application/pdf");
    assert_eq!(file.size, Some(13));
    assert_eq!(
        file.checksum,
        crate::Checksum::from_hex("md5", &md5_hex(b"%PDF-1.7 fake"))
    );
    assert_eq!(file.revision, Some(md5_hex(b"%PDF-1.7 fake")));
    assert_eq!(file.parent_id.as_deref(), Some("docs/"));
    assert!(file.can_download);
    let age = chrono::Utc::now() - file.modified_time.expect("a modification time");
    assert!(age < chrono::Duration::minutes(10), "{age}");

    let notes: ObjectInfo = run_as(&ctx, "head_object", json!({"key": "docs/notes"})).await;
    assert_eq!(notes.object.file.mime_type, "text/markdown");
    assert_eq!(
        notes.metadata.get("owner").map(String::as_str),
        Some("registrar")
    );

    let missing = run(&ctx, "head_object", json!({"key": "docs/gone.txt"})).await;
    assert!(
        matches!(&missing, Err(ConnectorError::NotFound { message }) if message.contains("docs/gone.txt")),
        "{missing:?}"
    );
    let missing = run(&ctx, "download_object", json!({"key": "docs/gone.txt"})).await;
    assert!(
        matches!(missing, Err(ConnectorError::NotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn the_configured_prefix_cannot_be_escaped() {
    let Some(moto) = moto() else { return };
    let (bucket, client) = new_bucket(moto, "escape").await;
    for key in [
        "team-a/report.txt",
        "team-a/sub/x.txt",
        "team-b/secret.txt",
        "team-a-archive/old.txt",
        "top.txt",
    ] {
        put(&client, key, b"data", &[]).await;
    }
    let ctx = ctx(moto, &moto.tester, &bucket, "team-a");
    let root: FileList = run_as(&ctx, "list_objects", json!({})).await;
    let ids: Vec<_> = root.files.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["team-a/sub/", "team-a/report.txt"]);

    for (action, params, field) in [
        ("list_objects", json!({"prefix": "team-b/"}), "prefix"),
        ("list_objects", json!({"prefix": ""}), "prefix"),
        (
            "list_objects",
            json!({"prefix": "team-a/../team-b/"}),
            "prefix",
        ),
        ("head_object", json!({"key": "team-b/secret.txt"}), "key"),
        ("head_object", json!({"key": "top.txt"}), "key"),
        (
            "download_object",
            json!({"key": "team-a/../team-b/secret.txt"}),
            "key",
        ),
        (
            "download_object",
            json!({"key": "team-a/./../team-b/secret.txt"}),
            "key",
        ),
        (
            "download_object",
            json!({"key": "team-a-archive/old.txt"}),
            "key",
        ),
    ] {
        let (blamed, message) = field_error(run(&ctx, action, params.clone()).await);
        assert_eq!(blamed, field, "{action} {params}: {message}");
    }
    let inside = run(&ctx, "download_object", json!({"key": "team-a/report.txt"}))
        .await
        .expect("inside the prefix")
        .into_download()
        .expect("a download");
    assert_eq!(inside.name, "report.txt");
}

#[tokio::test]
async fn stored_credentials_that_stop_working_mean_reconnect() {
    let Some(moto) = moto() else { return };
    let (bucket, _) = new_bucket(moto, "revoked").await;
    let revoked = AccessKey {
        secret: "rotated-away".to_owned(),
        ..moto.tester.clone()
    };
    let revoked = ctx(moto, &revoked, &bucket, "");
    let result = run(&revoked, "list_objects", Value::Null).await;
    assert!(
        matches!(&result, Err(ConnectorError::AuthExpired { message }) if message.contains("SignatureDoesNotMatch")),
        "{result:?}"
    );
    let denied = ctx(moto, &moto.nobody, &bucket, "");
    let result = run(&denied, "list_objects", Value::Null).await;
    assert!(
        matches!(result, Err(ConnectorError::PermissionDenied { .. })),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Streaming a large object
// ---------------------------------------------------------------------------------------

const BIG_SIZE: u64 = 200 * 1024 * 1024;
const BLOCK: usize = 1024 * 1024;

/// Block `n` of the large object: a fixed pseudo-random MiB with `n` in its first bytes.
fn block(n: u64) -> Bytes {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        (0..BLOCK)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    });
    let mut data = pattern.clone();
    data[..8].copy_from_slice(&n.to_le_bytes());
    Bytes::from(data)
}

/// Peak resident memory of this process (`VmHWM`), on Linux.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test]
async fn download_object_streams_a_200_mib_object_in_small_chunks() {
    let Some(moto) = moto() else { return };
    let (bucket, client) = new_bucket(moto, "big").await;
    let key = "media/lecture-recording.mp4";
    let blocks = BIG_SIZE / BLOCK as u64;
    let upload = futures_util::stream::iter(0..blocks).map(|n| Ok::<_, std::io::Error>(block(n)));
    let started = Instant::now();
    client
        .put_object(key, reqwest::Body::wrap_stream(upload), BIG_SIZE, &[])
        .await
        .expect("uploaded");
    eprintln!("uploaded 200 MiB in {:?}", started.elapsed());

    let ctx = ctx(moto, &moto.tester, &bucket, "media");
    // Reset the peak to the current size (Linux), so the peak afterwards is the download's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let peak_before = peak_rss_bytes();
    let started = Instant::now();
    let download = run(&ctx, "download_object", json!({"key": key}))
        .await
        .expect("download starts")
        .into_download()
        .expect("a streamed download");
    assert_eq!(download.name, "lecture-recording.mp4");
    assert_eq!(download.mime_type, "video/mp4");
    assert_eq!(download.size, Some(BIG_SIZE));
    let checksum = download.checksum.clone().expect("a checksum");

    let mut stream = download.stream;
    let (mut total, mut chunks, mut largest) = (0u64, 0u64, 0usize);
    let mut md5 = Md5::new();
    let mut expected = (u64::MAX, Bytes::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("a chunk");
        md5.update(&chunk);
        // Compare with the uploaded bytes, block by block.
        let mut done = 0usize;
        while done < chunk.len() {
            let offset = total + done as u64;
            let n = offset / BLOCK as u64;
            if expected.0 != n {
                expected = (n, block(n));
            }
            let within = (offset % BLOCK as u64) as usize;
            let take = (BLOCK - within).min(chunk.len() - done);
            assert!(
                chunk[done..done + take] == expected.1[within..within + take],
                "bytes differ at offset {offset}"
            );
            done += take;
        }
        total += chunk.len() as u64;
        chunks += 1;
        largest = largest.max(chunk.len());
    }
    let elapsed = started.elapsed();
    let growth = peak_before
        .zip(peak_rss_bytes())
        .map(|(before, after)| after.saturating_sub(before));
    eprintln!(
        "downloaded 200 MiB in {elapsed:?}: {chunks} chunks, largest {largest} bytes, \
         peak memory {peak_before:?} → {:?} bytes",
        peak_rss_bytes()
    );
    assert_eq!(total, BIG_SIZE);
    assert_eq!(
        Some(checksum),
        crate::Checksum::from_bytes("md5", &md5.finalize())
    );
    assert!(largest <= BLOCK, "chunks are small: largest {largest}");
    assert!(chunks >= BIG_SIZE / BLOCK as u64, "{chunks} chunks");
    if let Some(growth) = growth {
        assert!(
            growth < 100 * 1024 * 1024,
            "the download was not streamed: peak memory grew by {growth} bytes"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Answers moto does not give (wiremock on loopback)
// ---------------------------------------------------------------------------------------

fn example_key() -> AccessKey {
    AccessKey {
        id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
    }
}

async fn check_against(
    upstream: &MockServer,
) -> Result<crate::NormalizedCredentials, ConnectorError> {
    connector()
        .test_credentials(
            &settings(Some("127.0.0.1")),
            &testing::quick_http(1),
            form(&upstream.uri(), &example_key(), "campus-docs", "team"),
        )
        .await
}

#[tokio::test]
async fn the_check_is_one_signed_list_request_of_the_prefix() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/campus-docs"))
        .and(query_param("list-type", "2"))
        .and(query_param("prefix", "team/"))
        .and(query_param("delimiter", "/"))
        .and(query_param("max-keys", "1"))
        .and(query_param("encoding-type", "url"))
        .and(header_regex(
            "authorization",
            r"^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/\d{8}/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=[0-9a-f]{64}$",
        ))
        .and(header_regex("x-amz-date", r"^\d{8}T\d{6}Z$"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "<ListBucketResult><Name>campus-docs</Name><KeyCount>0</KeyCount>\
             <IsTruncated>false</IsTruncated></ListBucketResult>",
        ))
        .expect(1)
        .mount(&upstream)
        .await;
    let checked = check_against(&upstream).await.expect("accepted");
    assert!(
        checked
            .identity
            .is_some_and(|i| i.starts_with("s3://campus-docs/team/ on 127.0.0.1:"))
    );
}

#[tokio::test]
async fn a_bucket_in_another_region_is_blamed_on_the_region_with_the_right_one() {
    let upstream = MockServer::start().await;
    Mock::given(path("/campus-docs"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>\
             <Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is \
             malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>\
             <Region>eu-west-1</Region></Error>",
        ))
        .mount(&upstream)
        .await;
    let (field, message) = field_error(check_against(&upstream).await);
    assert_eq!(field, "region");
    assert!(message.contains("eu-west-1"), "{message}");

    let redirect = MockServer::start().await;
    Mock::given(path("/campus-docs"))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header("x-amz-bucket-region", "ap-southeast-2")
                .insert_header("location", "https://elsewhere.example/")
                .set_body_string("<Error><Code>PermanentRedirect</Code></Error>"),
        )
        .mount(&redirect)
        .await;
    let (field, message) = field_error(check_against(&redirect).await);
    assert_eq!(field, "region");
    assert!(message.contains("ap-southeast-2"), "{message}");
}

#[tokio::test]
async fn slow_down_answers_are_rate_limits() {
    let upstream = MockServer::start().await;
    Mock::given(path("/campus-docs/team/big.bin"))
        .respond_with(ResponseTemplate::new(503).set_body_string(
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
        ))
        .expect(2)
        .mount(&upstream)
        .await;
    let location = S3Location::from_fields(&form(
        &upstream.uri(),
        &example_key(),
        "campus-docs",
        "team",
    ))
    .expect("valid");
    let ctx = ActionContext::new(
        Credentials::new(location.to_credentials()),
        settings(Some("127.0.0.1")),
        testing::quick_http(1),
    );
    let result = run(&ctx, "download_object", json!({"key": "team/big.bin"})).await;
    assert!(
        matches!(result, Err(ConnectorError::RateLimited { .. })),
        "{result:?}"
    );
}
