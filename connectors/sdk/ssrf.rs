//! The SSRF guard: connectors that reach a host a user typed (PostgreSQL `host`, S3
//! `endpoint_url`) must not become a way into the campus network or the cloud metadata
//! service.
//!
//! The rule: resolve the host once, check **every** address it resolves to, and connect
//! only to those checked addresses.
//!
//! ```ignore
//! let allow = AllowList::from_settings(&ctx.settings)?;           // ALLOWED_HOSTS
//! let addrs = resolve_checked(&params.host, params.port, &allow).await?;
//! // PostgreSQL: open the TcpStream to `addrs` yourself (never to the name).
//! // HTTP: `ctx.http.pinned(host, &addrs)?` — requests to `host` go only to `addrs`.
//! ```
//!
//! - [`blocked_reason`] says why an address is refused: loopback, private, link-local,
//!   cloud metadata, carrier-grade NAT, unique-local, multicast, reserved… IPv6 forms that
//!   embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are judged
//!   by the embedded address too.
//! - [`parse_ip_literal`] reads a host the way resolvers and URL parsers do, so odd
//!   spellings (`2130706433`, `0x7f.0.0.1`, `0177.0.0.1`, `127.1`) are checked as the
//!   address they are, not passed to DNS.
//! - [`AllowList`] is the admin's `ALLOWED_HOSTS`: host names (`db.campus.edu`), suffix
//!   wildcards (`*.campus.edu`), addresses (`127.0.0.1`, `::1`) and networks
//!   (`10.0.0.0/8`, `fd00::/8`). An allowed *name* exempts all of its addresses except
//!   cloud metadata ones, which only an address or network entry can exempt.
//! - [`resolve_checked`] (field `host`) and [`resolve_checked_for`] (any form field, e.g.
//!   `endpoint_url`) validate the host, resolve it and apply [`check_addresses`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::error::ConnectorError;
use super::settings::ConnectorSettings;
use super::spec::keys;

mod allow;
pub use allow::AllowList;

/// The reason [`blocked_reason`] gives for cloud metadata endpoints.
pub const CLOUD_METADATA: &str = "cloud metadata";

/// Longest wait for the system resolver.
const DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// IPv4 cloud metadata endpoints: AWS/GCP/Azure/OpenStack IMDS, AWS ECS task metadata,
/// Alibaba Cloud, Azure WireServer, Oracle Cloud.
const CLOUD_METADATA_V4: [Ipv4Addr; 5] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
    Ipv4Addr::new(192, 0, 0, 192),
];

/// AWS IMDS over IPv6 (`fd00:ec2::254`).
const CLOUD_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254);

// ---------------------------------------------------------------------------------------
// Address classification
// ---------------------------------------------------------------------------------------

/// Why an address is refused, if it is: `"loopback"`, `"private"`, `"link-local"`,
/// `"cloud metadata"`, `"carrier-grade NAT"`, `"unique-local"`, `"site-local"`,
/// `"unspecified"`, `"multicast"`, `"broadcast"`, `"reserved"`, `"documentation"`,
/// `"benchmarking"`. `None` means the address is publicly routable.
///
/// IPv6 addresses that embed an IPv4 address — IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo
/// `2001::/32` (server and de-obfuscated client) — are refused for the embedded address's
/// reason. IPv6 outside global unicast `2000::/3` is `"reserved"` unless listed above.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => ipv4_reason(v4),
        IpAddr::V6(v6) => ipv6_reason(v6),
    }
}

fn ipv4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    if CLOUD_METADATA_V4.contains(&ip) {
        return Some(CLOUD_METADATA);
    }
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        (0, ..) => "reserved", // "this network"
        (127, ..) => "loopback",
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "carrier-grade NAT",
        (192, 0, 0) | (192, 88, 99) => "reserved", // IETF assignments, 6to4 relay anycast
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, ..) => "multicast",
        _ if ip.is_broadcast() => "broadcast",
        (240..=255, ..) => "reserved",
        _ => return None,
    };
    Some(reason)
}

fn ipv6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if ip == CLOUD_METADATA_V6 {
        return Some(CLOUD_METADATA);
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return ipv4_reason(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // IPv4-compatible ::a.b.c.d (deprecated; never legitimately used).
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(ipv4_reason(embedded(hi, lo)).unwrap_or("reserved")),
        // NAT64 well-known prefix 64:ff9b::/96.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => ipv4_reason(embedded(hi, lo)),
        // Local-use NAT64 64:ff9b:1::/48 translates into the site's own networks.
        [0x64, 0xff9b, 1, ..] => Some("private"),
        // Discard-only 100::/64.
        [0x100, 0, 0, 0, ..] => Some("reserved"),
        // 6to4 2002:AABB:CCDD::/48.
        [0x2002, hi, lo, ..] => ipv4_reason(embedded(hi, lo)),
        // Teredo 2001:0::/32: server address, then the obfuscated client address.
        [0x2001, 0, server_hi, server_lo, _, _, client_hi, client_lo] => {
            ipv4_reason(embedded(server_hi, server_lo))
                .or_else(|| ipv4_reason(embedded(!client_hi, !client_lo)))
        }
        [0x2001, 0xdb8, ..] => Some("documentation"),
        [0x3fff, second, ..] if second >> 12 == 0 => Some("documentation"), // 3fff::/20
        [0x2001, 2, 0, ..] => Some("benchmarking"),
        [0x2001, second, ..] if second & 0xfff0 == 0x10 => Some("reserved"), // ORCHID
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("site-local"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("unique-local"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("multicast"),
        [first, ..] if first & 0xe000 != 0x2000 => Some("reserved"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Literal parsing
// ---------------------------------------------------------------------------------------

/// Parses `host` as an IP address the way resolvers (`inet_aton`) and URL parsers (WHATWG)
/// read it: IPv4 with one to four parts, each decimal, octal (`0177`) or hex (`0x7f`), the
/// last part filling the remaining bytes (`127.1`, `2130706433`), an optional trailing
/// dot; IPv6 with or without brackets, including the dotted tail (`::ffff:127.0.0.1`).
/// `None` for anything else — a DNS name, or something invalid.
pub fn parse_ip_literal(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')?
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6);
    }
    if host.contains(':') {
        return host.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    parse_ipv4_loose(host).map(IpAddr::V4)
}

fn parse_ipv4_loose(host: &str) -> Option<Ipv4Addr> {
    let host = strip_one_trailing_dot(host);
    if host.is_empty() {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|part| parse_ipv4_part(part))
        .collect::<Option<Vec<u64>>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) || *last >= 1u64 << (8 * (5 - numbers.len())) {
        return None;
    }
    let value = leading
        .iter()
        .zip([24u32, 16, 8])
        .fold(*last, |acc, (&n, shift)| acc | (n << shift));
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

/// One IPv4 part: `0x…` hex (bare `0x` is 0), `0…` octal, else decimal.
fn parse_ipv4_part(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            if hex.is_empty() {
                return Some(0);
            }
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Whether the last label of `host` is numeric (decimal or `0x` hex): URL parsers then
/// insist on an IPv4 address, and resolvers may read it as one, so such a host is never
/// sent to DNS as a name.
fn ends_in_number(host: &str) -> bool {
    let last = strip_one_trailing_dot(host)
        .rsplit('.')
        .next()
        .unwrap_or("");
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    last.strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn strip_one_trailing_dot(host: &str) -> &str {
    host.strip_suffix('.').unwrap_or(host)
}

/// A host name checked for shape and turned into its lowercase ASCII (punycode) form.
/// The trailing dot, if any, is kept (it changes how the resolver searches).
fn normalize_name(raw: &str) -> Result<String, String> {
    let invalid = || format!("`{raw}` is not a valid host name");
    if let Some(message) = shape_error(raw) {
        return Err(message);
    }
    if raw
        .chars()
        .any(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(invalid());
    }
    let ascii = match url::Host::parse(raw) {
        Ok(url::Host::Domain(domain)) => domain.to_ascii_lowercase(),
        _ => return Err(invalid()),
    };
    let bare = strip_one_trailing_dot(&ascii);
    if bare.is_empty()
        || bare.len() > 253
        || bare
            .split('.')
            .any(|label| label.is_empty() || label.len() > 63)
    {
        return Err(invalid());
    }
    Ok(ascii)
}

/// A message for the usual ways of typing something other than a host: a URL, user info,
/// a path, a port.
fn shape_error(raw: &str) -> Option<String> {
    if raw.contains("://") {
        Some(format!(
            "`{raw}` is a URL; enter only the host name, without `http://` or a path"
        ))
    } else if raw.contains('@') {
        Some(format!(
            "`{raw}` contains `@`; enter only the host name, without a user name"
        ))
    } else if raw.contains(['/', '\\', '?', '#']) {
        Some(format!(
            "`{raw}` is not a host name; enter it without a path"
        ))
    } else if raw.matches(':').count() == 1 && !raw.starts_with('[') {
        Some(format!(
            "`{raw}` contains a port; enter the host name without `:port`"
        ))
    } else {
        None
    }
}

/// A host as typed, checked for shape: an address to use as is, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Literal(IpAddr),
    Name(String),
}

fn parse_host(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("a host name or IP address is required".to_owned());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{}` contains spaces or control characters; enter only the host name",
            host.escape_debug()
        ));
    }
    if host.contains('%') {
        return Err(format!("`{host}` is not a valid host name or IP address"));
    }
    if let Some(ip) = parse_ip_literal(host) {
        return Ok(Host::Literal(ip));
    }
    if let Some(message) = shape_error(host) {
        return Err(message);
    }
    if host.contains(['[', ']', ':']) || ends_in_number(host) {
        return Err(format!("`{host}` is not a valid IP address"));
    }
    normalize_name(host).map(Host::Name)
}

// ---------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------

/// [`resolve_checked_for`] blaming the form field `host` (PostgreSQL).
pub async fn resolve_checked(
    host: &str,
    port: u16,
    allow: &AllowList,
) -> Result<Vec<SocketAddr>, ConnectorError> {
    resolve_checked_for("host", host, port, allow).await
}

/// Resolves `host` (an IP literal in any spelling [`parse_ip_literal`] reads, or a DNS
/// name) and checks **every** address with [`check_addresses`]. Returns the checked
/// addresses, with `port`: connect to these and never resolve the name again (for HTTP,
/// through [`HttpClient::pinned`](super::http::HttpClient::pinned)).
///
/// Errors are `InvalidInput` blaming `field` — the form field the host came from (`host`
/// for PostgreSQL, `endpoint_url` for S3) — for: an empty host; whitespace, control
/// characters, `@` (user info), a scheme, a path or a `:port` in it; an invalid address or
/// name; port 0; a name that does not resolve; a refused address. A resolver that does
/// not answer within 10 seconds is `Transport`.
pub async fn resolve_checked_for(
    field: &str,
    host: &str,
    port: u16,
    allow: &AllowList,
) -> Result<Vec<SocketAddr>, ConnectorError> {
    let parsed =
        parse_host(host).map_err(|message| ConnectorError::invalid_field(field, message))?;
    if port == 0 {
        return Err(ConnectorError::invalid_field(
            field,
            "port 0 is not a valid port",
        ));
    }
    let (shown, addrs) = match parsed {
        Host::Literal(ip) => (host.to_owned(), vec![SocketAddr::new(ip, port)]),
        Host::Name(name) => {
            let addrs = lookup(field, &name, port).await?;
            (strip_one_trailing_dot(&name).to_owned(), addrs)
        }
    };
    check_addresses(field, &shown, &addrs, allow)?;
    Ok(addrs)
}

/// The pure check [`resolve_checked_for`] applies to what `host` resolved to: if any
/// address is refused by [`blocked_reason`] and neither that address nor the host name is
/// allowed, the whole host is refused (`InvalidInput` blaming `field`), so a name with one
/// public and one private address cannot be used. Cloud metadata addresses are exempted
/// only by an address or network entry, never by a name. An empty list is refused too.
pub fn check_addresses(
    field: &str,
    host: &str,
    addrs: &[SocketAddr],
    allow: &AllowList,
) -> Result<(), ConnectorError> {
    if addrs.is_empty() {
        return Err(ConnectorError::invalid_field(
            field,
            format!("{host} has no IP addresses"),
        ));
    }
    let name_allowed = allow.allows_host(host);
    let refused = addrs.iter().map(SocketAddr::ip).find_map(|ip| {
        let reason = blocked_reason(ip)?;
        let exempt = allow.allows_ip(ip) || (name_allowed && reason != CLOUD_METADATA);
        (!exempt).then_some((ip, reason))
    });
    match refused {
        None => Ok(()),
        Some((ip, reason)) => Err(ConnectorError::invalid_field(
            field,
            refusal_message(host, ip, reason),
        )),
    }
}

fn refusal_message(host: &str, ip: IpAddr, reason: &str) -> String {
    let article = if reason.starts_with(['a', 'e', 'i', 'o']) || reason == "unspecified" {
        "an"
    } else {
        "a"
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let what = match parse_ip_literal(host) {
        Some(_) if bare == ip.to_string() => format!("{host} is {article} {reason} address"),
        Some(_) => format!("{host} is {article} {reason} address ({ip})"),
        // The address a name resolves to stays in the operator's log: telling users would
        // let anyone map the campus's internal DNS through this form.
        None => {
            tracing::info!(ssrf.host = host, ssrf.ip = %ip, ssrf.reason = reason, "user-supplied host refused");
            format!("{host} resolves to {article} {reason} address")
        }
    };
    format!("{what}; ask an administrator to allow it")
}

/// Resolves `name` with the system resolver (off the async threads, with a time limit).
async fn lookup(field: &str, name: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectorError> {
    let query = name.to_owned();
    let task = tokio::task::spawn_blocking(move || {
        (query.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect::<Vec<_>>)
    });
    let shown = strip_one_trailing_dot(name);
    let found = match tokio::time::timeout(DNS_TIMEOUT, task).await {
        Err(_) => {
            return Err(ConnectorError::Transport {
                message: format!("looking up {shown} timed out"),
            });
        }
        Ok(Err(join)) => {
            return Err(ConnectorError::Transport {
                message: format!("looking up {shown} failed: {join}"),
            });
        }
        Ok(Ok(Err(_))) => {
            return Err(ConnectorError::invalid_field(
                field,
                format!("{shown} could not be found; check the host name"),
            ));
        }
        Ok(Ok(Ok(found))) => found,
    };
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(found.len());
    for addr in found {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    Ok(addrs)
}

// ---------------------------------------------------------------------------------------
// Pinned HTTP clients
// ---------------------------------------------------------------------------------------

/// DNS resolver of [`HttpClient::pinned`](super::http::HttpClient::pinned) clients: the
/// pinned name is answered by reqwest's overrides before this is asked, so any name that
/// reaches it is one nobody checked, and is refused.
pub(crate) struct RefuseUnpinned;

impl reqwest::dns::Resolve for RefuseUnpinned {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!(
            "{} is not the host this client was pinned to; refusing to resolve it",
            name.as_str()
        );
        Box::pin(async move { Err(message.into()) })
    }
}

#[cfg(test)]
#[path = "ssrf_tests.rs"]
mod tests;
