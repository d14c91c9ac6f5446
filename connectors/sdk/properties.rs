//! Property tests over the sdk's parsers of outside input: `Retry-After` (and
//! `X-RateLimit-Reset`), IP literals in every notation the SSRF guard decodes, and the
//! `ALLOWED_HOSTS` entries an administrator types. Each parser must never panic, and must
//! keep the promise its callers rely on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};

use super::ssrf::{AllowList, blocked_reason, parse_ip_literal};
use super::status::parse_retry_after;

fn headers(name: &'static str, value: &[u8]) -> Option<HeaderMap> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut map = HeaderMap::new();
    map.insert(name, value);
    Some(map)
}

/// `a` written as the URL parsers and resolvers also read it: dotted decimal, one 32-bit
/// number (decimal, hex or octal), dotted octal or hex parts, the two- and three-part
/// shorthands, with or without a trailing dot.
fn ipv4_spellings(a: Ipv4Addr) -> Vec<String> {
    let [b0, b1, b2, b3] = a.octets();
    let n = u32::from(a);
    let low16 = u32::from(b2) << 8 | u32::from(b3);
    let low24 = u32::from(b1) << 16 | low16;
    let spellings = vec![
        a.to_string(),
        n.to_string(),
        format!("0x{n:x}"),
        format!("0X{n:X}"),
        format!("0{n:o}"),
        format!("0{b0:o}.0{b1:o}.0{b2:o}.0{b3:o}"),
        format!("0x{b0:x}.0x{b1:x}.0x{b2:x}.0x{b3:x}"),
        format!("{b0}.{low24}"),
        format!("{b0}.{b1}.{low16}"),
        format!("{b0}.0x{low24:x}"),
    ];
    spellings
        .iter()
        .cloned()
        .chain(spellings.iter().map(|s| format!("{s}.")))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn retry_after_never_panics_on_any_header_bytes(
        value in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        for name in ["retry-after", "x-ratelimit-reset"] {
            if let Some(map) = headers(name, &value) {
                let _ = parse_retry_after(&map);
            }
        }
    }

    #[test]
    fn retry_after_seconds_are_taken_as_they_are(seconds in any::<u64>(), pad in 0usize..3) {
        let value = format!("{:pad$}{seconds}{:pad$}", "", "");
        let map = headers("retry-after", value.as_bytes()).expect("header");
        prop_assert_eq!(parse_retry_after(&map), Some(Duration::from_secs(seconds)));
    }

    #[test]
    fn retry_after_dates_are_the_time_until_them_and_past_dates_are_now(
        ahead in 5u64..400_000_000,
        behind in 1u64..1_000_000_000,
    ) {
        let future = SystemTime::now() + Duration::from_secs(ahead);
        let map = headers("retry-after", httpdate::fmt_http_date(future).as_bytes())
            .expect("header");
        let wait = parse_retry_after(&map).expect("an HTTP date is understood");
        // The date has whole seconds and a moment passes between writing and reading it.
        prop_assert!(wait <= Duration::from_secs(ahead), "{:?} > {}s", wait, ahead);
        prop_assert!(wait + Duration::from_secs(3) >= Duration::from_secs(ahead));

        let past = SystemTime::now() - Duration::from_secs(behind);
        let map = headers("retry-after", httpdate::fmt_http_date(past).as_bytes())
            .expect("header");
        prop_assert_eq!(parse_retry_after(&map), Some(Duration::ZERO));
    }

    #[test]
    fn ip_literals_never_panic_on_any_text(host in "\\PC{0,40}") {
        let _ = parse_ip_literal(&host);
    }

    #[test]
    fn ip_literals_in_numeric_shapes_never_panic(
        host in "(\\[)?[0-9a-fA-FxX:.]{0,40}(\\])?",
    ) {
        if let Some(ip) = parse_ip_literal(&host) {
            let _ = blocked_reason(ip);
        }
    }

    #[test]
    fn every_spelling_of_an_ipv4_address_decodes_to_that_address(bits in any::<u32>()) {
        let a = Ipv4Addr::from(bits);
        for spelling in ipv4_spellings(a) {
            prop_assert_eq!(parse_ip_literal(&spelling), Some(IpAddr::V4(a)), "{}", spelling);
        }
    }

    #[test]
    fn loopback_and_private_addresses_are_blocked_however_they_are_written(
        low in any::<u32>(),
        network in prop::sample::select(vec![
            (Ipv4Addr::new(127, 0, 0, 0), 8u32),
            (Ipv4Addr::new(10, 0, 0, 0), 8),
            (Ipv4Addr::new(172, 16, 0, 0), 12),
            (Ipv4Addr::new(192, 168, 0, 0), 16),
            (Ipv4Addr::new(169, 254, 0, 0), 16),
            (Ipv4Addr::new(0, 0, 0, 0), 8),
        ]),
    ) {
        let (base, prefix) = network;
        let a = Ipv4Addr::from(u32::from(base) | (low >> prefix));
        for spelling in ipv4_spellings(a) {
            let ip = parse_ip_literal(&spelling).expect("decodes");
            prop_assert!(blocked_reason(ip).is_some(), "{} ({}) is not blocked", spelling, ip);
        }
        let mapped = a.to_ipv6_mapped();
        for spelling in [format!("[{mapped}]"), format!("::ffff:{a}"), format!("[::ffff:{a}]")] {
            let ip = parse_ip_literal(&spelling).expect("decodes");
            prop_assert!(blocked_reason(ip).is_some(), "{} ({}) is not blocked", spelling, ip);
        }
    }

    #[test]
    fn ipv6_addresses_decode_with_and_without_brackets(bits in any::<u128>()) {
        let a = Ipv6Addr::from(bits);
        prop_assert_eq!(parse_ip_literal(&a.to_string()), Some(IpAddr::V6(a)));
        prop_assert_eq!(parse_ip_literal(&format!("[{a}]")), Some(IpAddr::V6(a)));
    }

    #[test]
    fn allowed_hosts_entries_never_panic_and_a_network_allows_its_own_addresses(
        entries in proptest::collection::vec("\\PC{0,30}", 0..4),
        bits in any::<u32>(),
        prefix in 0u8..=32,
    ) {
        if let Ok(list) = AllowList::parse(&entries) {
            let _ = list.allows_ip(IpAddr::V4(Ipv4Addr::from(bits)));
            for entry in &entries {
                let _ = list.allows_host(entry);
            }
        }
        let a = Ipv4Addr::from(bits);
        let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let network = Ipv4Addr::from(bits & kept);
        let list = AllowList::parse(&[format!("{network}/{prefix}")]).expect("a CIDR entry");
        prop_assert!(list.allows_ip(IpAddr::V4(a)), "{}/{} and {}", network, prefix, a);
        prop_assert!(list.allows_ip(IpAddr::V6(a.to_ipv6_mapped())), "mapped {}", a);
        if prefix > 0 {
            let outside = Ipv4Addr::from(bits ^ (1u32 << (32 - u32::from(prefix))));
            prop_assert!(!list.allows_ip(IpAddr::V4(outside)), "{}/{} and {}", network, prefix, outside);
        }
    }
}
