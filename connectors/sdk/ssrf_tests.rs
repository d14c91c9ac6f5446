//! SSRF guard tests: address classification, literal parsing, the allow list, the pure
//! address check, resolution, and pinned HTTP clients against a local fake upstream.

use std::collections::HashMap;
use std::fmt;

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::sdk::http::{HttpClient, HttpConfig, RetryPolicy};
use crate::sdk::spec::{AuthScoping, ConfigKey, ConnectorKind, ConnectorSpec};

fn allow(entries: &[&str]) -> AllowList {
    AllowList::parse(entries).expect("the allow list parses")
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("a standard IP address")
}

fn sock(text: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(text), port)
}

/// The field and message of an `InvalidInput`, or a panic naming what came instead.
fn invalid_input<T: fmt::Debug>(result: Result<T, ConnectorError>) -> (String, String) {
    match result {
        Err(ConnectorError::InvalidInput {
            field: Some(field),
            message,
        }) => (field, message),
        other => panic!("expected InvalidInput with a field, got {other:?}"),
    }
}

// --- blocked with the allow list off ------------------------------------------------------

/// Every form named in the requirement, with the reason it is refused.
const BLOCKED: &[(&str, &str)] = &[
    ("127.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("2130706433", "loopback"),
    ("0x7f.0.0.1", "loopback"),
    ("0x7f000001", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("0.0.0.0", "unspecified"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique-local"),
    ("fd12::1", "unique-local"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("[::ffff:7f00:1]", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),
    ("2002:7f00:0001::1", "loopback"),
];

#[tokio::test]
async fn every_blocked_form_is_refused_without_an_allow_list() {
    for &(host, reason) in BLOCKED {
        let literal = parse_ip_literal(host).unwrap_or_else(|| panic!("{host} is a literal"));
        assert_eq!(blocked_reason(literal), Some(reason), "{host}");
        let (field, message) = invalid_input(resolve_checked(host, 5432, &AllowList::none()).await);
        assert_eq!(field, "host", "{host}");
        assert!(
            message.contains(reason) && message.ends_with("ask an administrator to allow it"),
            "{host}: {message}"
        );
    }
}

#[tokio::test]
async fn localhost_is_refused_because_it_resolves_to_loopback() {
    let (field, message) =
        invalid_input(resolve_checked("localhost", 5432, &AllowList::none()).await);
    assert_eq!(field, "host");
    assert!(
        message.starts_with("localhost resolves to a loopback address;"),
        "{message}"
    );
}

#[test]
fn refusals_say_what_the_address_is_in_words() {
    let (_, message) = invalid_input(check_addresses(
        "host",
        "10.1.2.3",
        &[sock("10.1.2.3", 5432)],
        &AllowList::none(),
    ));
    assert_eq!(
        message,
        "10.1.2.3 is a private address; ask an administrator to allow it"
    );
    let (_, message) = invalid_input(check_addresses(
        "host",
        "0x7f.0.0.1",
        &[sock("127.0.0.1", 5432)],
        &AllowList::none(),
    ));
    assert_eq!(
        message,
        "0x7f.0.0.1 is a loopback address (127.0.0.1); ask an administrator to allow it"
    );
    let (_, message) = invalid_input(check_addresses(
        "host",
        "[::]",
        &[sock("::", 5432)],
        &AllowList::none(),
    ));
    assert_eq!(
        message,
        "[::] is an unspecified address; ask an administrator to allow it"
    );
}

#[test]
fn every_other_kind_of_non_public_address_has_a_reason() {
    let cases = [
        ("0.1.2.3", "reserved"),
        ("192.0.0.8", "reserved"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("172.31.255.255", "private"),
        ("100.127.255.255", "carrier-grade NAT"),
        ("169.254.1.1", "link-local"),
        ("169.254.170.2", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fec0::1", "site-local"),
        ("febf::1", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001:2::1", "benchmarking"),
        ("100::1", "reserved"),
        ("4000::1", "reserved"),
        ("::127.0.0.1", "loopback"),
        ("::8.8.8.8", "reserved"),
        ("64:ff9b::10.0.0.1", "private"),
        ("64:ff9b:1::1", "private"),
        ("2002:a00:1::1", "private"),
        // Teredo: server 65.54.227.120, client 127.0.0.1 obfuscated (bits inverted).
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
        ("2001:0:a00:1::1", "private"),
    ];
    for (text, reason) in cases {
        assert_eq!(blocked_reason(ip(text)), Some(reason), "{text}");
    }
}

// --- public addresses -------------------------------------------------------------------

#[tokio::test]
async fn public_addresses_are_allowed_and_returned_as_the_address_to_connect_to() {
    let cases = [
        ("8.8.8.8", "8.8.8.8"),
        ("1.1.1.1", "1.1.1.1"),
        ("2606:4700:4700::1111", "2606:4700:4700::1111"),
        ("[2606:4700:4700::1111]", "2606:4700:4700::1111"),
        ("::ffff:8.8.8.8", "::ffff:8.8.8.8"),
        ("64:ff9b::808:808", "64:ff9b::808:808"),
        ("2002:808:808::1", "2002:808:808::1"),
        ("134744072", "8.8.8.8"),
    ];
    for (host, expected) in cases {
        assert_eq!(blocked_reason(ip(expected)), None, "{host}");
        let addrs = resolve_checked(host, 5432, &AllowList::none())
            .await
            .unwrap_or_else(|e| panic!("{host} is public: {e}"));
        assert_eq!(addrs, [sock(expected, 5432)], "{host}");
    }
}

// --- literal parsing --------------------------------------------------------------------

#[test]
fn odd_spellings_parse_to_the_address_resolvers_would_use() {
    let cases = [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x", "0.0.0.0"),
        ("0", "0.0.0.0"),
        ("10.0x10203", "10.1.2.3"),
        ("4294967295", "255.255.255.255"),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("::1", "::1"),
        ("[fe80::1]", "fe80::1"),
    ];
    for (host, expected) in cases {
        assert_eq!(parse_ip_literal(host), Some(ip(expected)), "{host}");
    }
}

#[test]
fn names_and_malformed_numbers_are_not_ip_literals() {
    for host in [
        "db.campus.edu",
        "localhost",
        "127.0.0.1.nip.io",
        "0x7f.example",
        "4294967296",
        "256.0.0.1",
        "1.2.3.4.5",
        "1..2",
        "08.0.0.1",
        "0x7g.0.0.1",
        "+1.2.3.4",
        "[127.0.0.1]",
        "[::1",
        "::1]",
        "fe80::1%eth0",
        "",
    ] {
        assert_eq!(parse_ip_literal(host), None, "{host:?}");
    }
}

#[test]
fn parse_ip_literal_agrees_with_the_url_parser() {
    let corpus = [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.1",
        "127.0.1",
        "127.0.0.1.",
        "0x",
        "00",
        "10.0x10203",
        "4294967295",
        "[::ffff:7f00:1]",
        "[::1]",
        "db.campus.edu",
        "localhost",
        "0x7f.example",
        "a.0x7g",
    ];
    for host in corpus {
        let from_url = match url::Host::parse(host) {
            Ok(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Ok(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Ok(url::Host::Domain(_)) | Err(_) => None,
        };
        assert_eq!(parse_ip_literal(host), from_url, "{host}");
    }
    // Where the URL parser refuses a numeric host, the guard refuses it too.
    for host in [
        "4294967296",
        "256.0.0.1",
        "1.2.3.4.5",
        "08.0.0.1",
        "0x7g.0.0.1",
    ] {
        assert!(url::Host::parse(host).is_err(), "{host}");
        assert!(parse_host(host).is_err(), "{host}");
    }
}

// --- malformed input --------------------------------------------------------------------

#[tokio::test]
async fn malformed_hosts_are_refused_before_any_lookup() {
    let long_label = format!("{}.campus.edu", "a".repeat(64));
    let hosts = [
        "",
        " db.campus.edu",
        "db.campus.edu ",
        "db campus.edu",
        "db\tcampus.edu",
        "db\ncampus.edu",
        "db\u{0}.campus.edu",
        "user@db.campus.edu",
        "user:pw@10.0.0.1",
        "db.campus.edu/postgres",
        "http://db.campus.edu",
        "db.campus.edu:5432",
        "[::1]:5432",
        "db.campus.edu?x",
        "db.campus.edu#x",
        "db\\campus.edu",
        "%31%32%37.0.0.1",
        "fe80::1%eth0",
        "1.2.3.4.5",
        "256.0.0.1",
        "0x7g.0.0.1",
        "a..b",
        ".",
        &long_label,
        "１２７.０.０.１",
    ];
    for host in hosts {
        let (field, message) = invalid_input(resolve_checked(host, 5432, &AllowList::none()).await);
        assert_eq!(field, "host", "{host:?}");
        assert!(!message.is_empty(), "{host:?}");
    }
}

#[tokio::test]
async fn a_url_or_a_port_in_the_host_gets_a_message_saying_so() {
    let (_, message) =
        invalid_input(resolve_checked("https://db.campus.edu/x", 5432, &AllowList::none()).await);
    assert!(message.contains("without `http://`"), "{message}");
    let (_, message) =
        invalid_input(resolve_checked("db.campus.edu:5432", 5432, &AllowList::none()).await);
    assert!(message.contains("without `:port`"), "{message}");
    let (_, message) =
        invalid_input(resolve_checked("admin@db.campus.edu", 5432, &AllowList::none()).await);
    assert!(message.contains("without a user name"), "{message}");
}

#[tokio::test]
async fn port_zero_is_refused() {
    let (field, message) = invalid_input(resolve_checked("8.8.8.8", 0, &AllowList::none()).await);
    assert_eq!(field, "host");
    assert!(message.contains("port 0"), "{message}");
}

#[tokio::test]
async fn the_caller_names_the_field_to_blame() {
    let (field, _) = invalid_input(
        resolve_checked_for("endpoint_url", "10.0.0.1", 443, &AllowList::none()).await,
    );
    assert_eq!(field, "endpoint_url");
    let (field, _) =
        invalid_input(resolve_checked_for("endpoint_url", "", 443, &AllowList::none()).await);
    assert_eq!(field, "endpoint_url");
}

// --- allow list on ----------------------------------------------------------------------

#[tokio::test]
async fn an_allowed_address_allows_its_odd_spellings_but_not_its_neighbours() {
    let list = allow(&["127.0.0.1"]);
    for host in [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f.0.0.1",
        "0x7f000001",
        "0177.0.0.1",
        "::ffff:127.0.0.1",
        "[::ffff:7f00:1]",
    ] {
        let addrs = resolve_checked(host, 5432, &list)
            .await
            .unwrap_or_else(|e| panic!("{host} is allowed: {e}"));
        assert_eq!(addrs.len(), 1, "{host}");
        assert_eq!(addrs[0].ip().to_canonical(), ip("127.0.0.1"), "{host}");
        assert_eq!(addrs[0].port(), 5432);
    }
    for host in ["127.0.0.2", "127.2", "::1", "10.0.0.1"] {
        invalid_input(resolve_checked(host, 5432, &list).await);
    }
}

#[tokio::test]
async fn an_allowed_loopback_network_covers_ipv4_loopback_but_not_ipv6() {
    let list = allow(&["127.0.0.0/8"]);
    for host in ["127.0.0.1", "127.255.255.254", "127.1", "::ffff:127.9.9.9"] {
        assert!(
            resolve_checked(host, 80, &list).await.is_ok(),
            "{host} is allowed"
        );
    }
    for host in ["::1", "10.0.0.1"] {
        assert!(resolve_checked(host, 80, &list).await.is_err(), "{host}");
    }
}

#[tokio::test]
async fn an_allowed_name_allows_that_name() {
    let addrs = resolve_checked("localhost", 5432, &allow(&["localhost"]))
        .await
        .expect("localhost is allowed by name");
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 5432)
    );
    assert!(allow(&["LocalHost."]).allows_host("localhost"));
    assert!(allow(&["localhost"]).allows_host("LOCALHOST."));
    assert!(!allow(&["localhost"]).allows_host("localhost.evil.com"));
    assert!(allow(&["db_1.campus.edu"]).allows_host("DB_1.campus.edu"));
    assert!(allow(&["bücher.campus.edu"]).allows_host("xn--bcher-kva.campus.edu"));
}

#[test]
fn a_wildcard_matches_subdomains_only() {
    let list = allow(&["*.campus.edu"]);
    assert!(list.allows_host("db.campus.edu"));
    assert!(list.allows_host("a.b.campus.edu"));
    assert!(list.allows_host("DB.Campus.EDU."));
    assert!(!list.allows_host("campus.edu"));
    assert!(!list.allows_host("campus.edu.evil.com"));
    assert!(!list.allows_host("evilcampus.edu"));
    assert!(!list.allows_host(".campus.edu"));
    assert!(check_addresses("host", "db.campus.edu", &[sock("10.1.2.3", 5432)], &list).is_ok());
    invalid_input(check_addresses(
        "host",
        "campus.edu.evil.com",
        &[sock("10.1.2.3", 5432)],
        &list,
    ));
}

#[test]
fn ipv6_networks_and_addresses_can_be_allowed() {
    let list = allow(&["fd00::/8", "[::1]", "::ffff:10.0.0.0/104"]);
    assert!(list.allows_ip(ip("fd12::1")));
    assert!(list.allows_ip(ip("fdff:ffff::1")));
    assert!(!list.allows_ip(ip("fc00::1")));
    assert!(list.allows_ip(ip("::1")));
    assert!(!list.allows_ip(ip("127.0.0.1")));
    assert!(list.allows_ip(ip("10.9.8.7")));
    assert!(list.allows_ip(ip("::ffff:10.9.8.7")));
    assert!(!list.allows_ip(ip("11.0.0.1")));
}

#[test]
fn bad_allow_list_entries_are_rejected_naming_them() {
    let bad = [
        "http://db.campus.edu",
        "db.campus.edu:5432",
        "db.campus.edu/x",
        "user@db.campus.edu",
        "10.0.0.0/33",
        "10.0.0.0/",
        "10.0.0.0/+8",
        "10.0.0.0/-1",
        "fd00::/129",
        "10.0.0.1/8",
        "db.campus.edu/8",
        "2130706433",
        "0x7f.0.0.1",
        "127.1",
        "256.0.0.1",
        "1.2.3.4.5",
        "*",
        "*.",
        "db.*.edu",
        "*db.campus.edu",
        "[::1",
        "fe80::1%eth0",
        "a..b",
        "bad!host",
    ];
    for entry in bad {
        let error = AllowList::parse(&["localhost", entry])
            .expect_err(&format!("{entry} should be rejected"));
        assert!(error.contains(&format!("`{entry}`")), "{entry}: {error}");
    }
    let error = AllowList::parse(&["10.0.0.1/8"]).expect_err("host bits set");
    assert!(error.contains("10.0.0.0/8"), "{error}");
    let error = AllowList::parse(&["2130706433"]).expect_err("non-standard address");
    assert!(error.contains("127.0.0.1"), "{error}");
}

#[test]
fn blank_entries_are_skipped_and_an_empty_list_allows_nothing() {
    let list = allow(&["", "  "]);
    assert!(list.is_empty());
    assert_eq!(list, AllowList::none());
    assert!(!list.allows_ip(ip("127.0.0.1")));
    assert!(!list.allows_host("localhost"));
}

static SPEC: ConnectorSpec = ConnectorSpec {
    slug: "ssrf-example",
    name: "SSRF example",
    description: "Example.",
    icon: "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><circle cx=\"12\" cy=\"12\" r=\"9\"/></svg>",
    kind: ConnectorKind::Manual,
    scoping: AuthScoping::UserSupplied,
    version: "1",
    oauth: None,
    form: &[],
    config_keys: &[ConfigKey::allowed_hosts()],
};

fn settings(allowed: &str) -> ConnectorSettings {
    ConnectorSettings::new(
        &SPEC,
        HashMap::from([("ALLOWED_HOSTS".to_owned(), allowed.to_owned())]),
    )
}

#[test]
fn from_settings_reads_allowed_hosts_and_reports_bad_entries_as_misconfiguration() {
    let list = AllowList::from_settings(&settings("127.0.0.1, *.campus.edu 10.0.0.0/8"))
        .expect("valid ALLOWED_HOSTS");
    assert!(list.allows_ip(ip("127.0.0.1")));
    assert!(list.allows_ip(ip("10.200.0.1")));
    assert!(list.allows_host("db.campus.edu"));
    let unset = ConnectorSettings::new(&SPEC, HashMap::new());
    assert!(
        AllowList::from_settings(&unset)
            .expect("unset is empty")
            .is_empty()
    );
    match AllowList::from_settings(&settings("127.0.0.1,db.campus.edu:5432")) {
        Err(ConnectorError::Misconfigured { message }) => {
            assert!(message.contains("ALLOWED_HOSTS"), "{message}");
            assert!(message.contains("ssrf-example"), "{message}");
            assert!(message.contains("`db.campus.edu:5432`"), "{message}");
        }
        other => panic!("expected Misconfigured, got {other:?}"),
    }
}

#[test]
fn allow_list_debug_shows_its_entries() {
    let list = allow(&["db.campus.edu", "*.campus.edu", "10.0.0.0/8", "::1"]);
    assert_eq!(
        format!("{list:?}"),
        r#"["db.campus.edu", "*.campus.edu", "10.0.0.0/8", "::1/128"]"#
    );
}

// --- the pure check over resolved addresses ------------------------------------------------

#[test]
fn a_name_with_one_private_address_among_public_ones_is_refused() {
    let addrs = [
        sock("8.8.8.8", 5432),
        sock("2606:4700:4700::1111", 5432),
        sock("10.1.2.3", 5432),
    ];
    let (field, message) = invalid_input(check_addresses(
        "host",
        "db.example.edu",
        &addrs,
        &AllowList::none(),
    ));
    assert_eq!(field, "host");
    assert_eq!(
        message,
        "db.example.edu resolves to a private address; ask an administrator to allow it"
    );
    assert!(check_addresses("host", "db.example.edu", &addrs[..2], &AllowList::none()).is_ok());
    // Allowing the private address, or the name, lets the whole set through.
    assert!(check_addresses("host", "db.example.edu", &addrs, &allow(&["10.1.2.3"])).is_ok());
    assert!(
        check_addresses(
            "host",
            "db.example.edu",
            &addrs,
            &allow(&["db.example.edu"])
        )
        .is_ok()
    );
    // Allowing another address does not.
    invalid_input(check_addresses(
        "host",
        "db.example.edu",
        &addrs,
        &allow(&["10.1.2.4"]),
    ));
}

#[test]
fn a_name_with_an_ipv4_mapped_loopback_answer_is_refused() {
    let addrs = [sock("8.8.8.8", 443), sock("::ffff:127.0.0.1", 443)];
    let (_, message) = invalid_input(check_addresses(
        "endpoint_url",
        "s3.example.edu",
        &addrs,
        &AllowList::none(),
    ));
    assert_eq!(
        message,
        "s3.example.edu resolves to a loopback address; ask an administrator to allow it"
    );
}

#[test]
fn cloud_metadata_is_exempted_by_its_address_never_by_a_name() {
    let addrs = [sock("169.254.169.254", 80)];
    let (_, message) = invalid_input(check_addresses(
        "host",
        "meta.campus.edu",
        &addrs,
        &allow(&["*.campus.edu", "meta.campus.edu"]),
    ));
    assert!(message.contains("cloud metadata address"), "{message}");
    assert!(
        check_addresses(
            "host",
            "meta.campus.edu",
            &addrs,
            &allow(&["169.254.169.254"])
        )
        .is_ok()
    );
    assert!(
        check_addresses(
            "host",
            "meta.campus.edu",
            &addrs,
            &allow(&["169.254.0.0/16"])
        )
        .is_ok()
    );
}

#[test]
fn an_empty_answer_is_refused() {
    let (field, _) = invalid_input(check_addresses(
        "host",
        "db.example.edu",
        &[],
        &allow(&["db.example.edu"]),
    ));
    assert_eq!(field, "host");
}

// --- pinned HTTP clients ------------------------------------------------------------------

/// A pinned client for `pinned.test`, checked the way a connector would: the local fake
/// upstream's address goes through `resolve_checked` with `127.0.0.1` allowed.
async fn pinned_to(server: &MockServer, base: &HttpClient) -> HttpClient {
    let port = server.address().port();
    let addrs = resolve_checked("127.0.0.1", port, &allow(&["127.0.0.1"]))
        .await
        .expect("127.0.0.1 is allowed");
    base.pinned("pinned.test", &addrs)
        .expect("the pinned client builds")
}

#[tokio::test]
async fn a_pinned_client_sends_requests_for_the_name_to_the_checked_address() {
    let server = MockServer::start().await;
    let port = server.address().port();
    Mock::given(method("GET"))
        .and(path("/"))
        .and(header("host", format!("pinned.test:{port}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string("reached"))
        .expect(1)
        .mount(&server)
        .await;
    let client = pinned_to(&server, &HttpClient::new(HttpConfig::default())).await;
    let response = client
        .send(client.get(format!("http://pinned.test:{port}/")))
        .await
        .expect("the request reaches the pinned address");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "reached");
    // The trailing-dot spelling of the name is pinned too.
    let response = client
        .client()
        .get(format!("http://pinned.test.:{port}/"))
        .send()
        .await
        .expect("the dotted name reaches the pinned address");
    assert_eq!(response.status(), 404); // the Host header differs, so the mock does not match
}

#[tokio::test]
async fn a_pinned_client_does_not_follow_redirects() {
    let server = MockServer::start().await;
    let port = server.address().port();
    Mock::given(method("GET"))
        .and(path("/start"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("http://pinned.test:{port}/landing")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/landing"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let base = HttpClient::new(HttpConfig::default());
    assert!(base.follows_redirects());
    let client = pinned_to(&server, &base).await;
    assert!(!client.follows_redirects());
    assert!(!client.token_endpoint_client().follows_redirects());
    let response = client
        .send(client.get(format!("http://pinned.test:{port}/start")))
        .await
        .expect("the redirect itself is returned");
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn a_pinned_client_refuses_to_resolve_any_other_name() {
    let server = MockServer::start().await;
    let port = server.address().port();
    Mock::given(path("/"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/probe"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let base = HttpClient::new(HttpConfig::default()).with_retry_policy(RetryPolicy::none());
    // `localhost` does resolve to the fake upstream for an ordinary client…
    let probe = base
        .send(base.get(format!("http://localhost:{port}/probe")))
        .await
        .expect("localhost reaches the fake upstream");
    assert_eq!(probe.status(), 200);
    // …but a pinned client never resolves it.
    let client = pinned_to(&server, &base).await;
    let error = client
        .send(client.get(format!("http://localhost:{port}/")))
        .await
        .expect_err("an unpinned name is not resolved");
    assert!(
        matches!(error, ConnectorError::Transport { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_pinned_client_keeps_the_user_agent_timeouts_and_retry_policy() {
    let server = MockServer::start().await;
    let port = server.address().port();
    Mock::given(method("GET"))
        .and(header("user-agent", "ssrf-test/1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let retry = RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    let base = HttpClient::new(HttpConfig {
        user_agent: "ssrf-test/1".to_owned(),
        retry,
        ..HttpConfig::default()
    });
    let client = pinned_to(&server, &base).await;
    assert_eq!(client.retry_policy(), retry);
    let response = client
        .send(client.get(format!("http://pinned.test:{port}/")))
        .await
        .expect("reached");
    assert_eq!(response.status(), 204);
}

#[test]
fn a_pinned_client_needs_a_host_and_addresses() {
    let base = HttpClient::new(HttpConfig::default());
    assert!(matches!(
        base.pinned("pinned.test", &[]),
        Err(ConnectorError::Misconfigured { .. })
    ));
    assert!(matches!(
        base.pinned("", &[sock("127.0.0.1", 80)]),
        Err(ConnectorError::Misconfigured { .. })
    ));
}
