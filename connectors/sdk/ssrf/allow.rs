//! The admin's exemptions from the SSRF guard (`ALLOWED_HOSTS`): host names, suffix
//! wildcards, addresses and networks.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    ConnectorError, ConnectorSettings, ends_in_number, keys, normalize_name, parse_ip_literal,
    shape_error, strip_one_trailing_dot,
};

/// Hosts and networks an admin exempts from the block (the `ALLOWED_HOSTS` config key).
///
/// Entries: a host name (`db.campus.edu`, matched case-insensitively, trailing dot
/// ignored), a suffix wildcard (`*.campus.edu` matches `db.campus.edu` and
/// `a.b.campus.edu`, not `campus.edu` itself), an IP address (`127.0.0.1`, `::1`,
/// `[::1]`) or a CIDR network (`10.0.0.0/8`, `fd00::/8`). IPv4 entries also match the
/// IPv4-mapped IPv6 form of their addresses (`::ffff:127.0.0.1`), which reaches the same
/// host. Addresses must be written in the standard form: `2130706433` is rejected rather
/// than guessed at.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    names: Vec<String>,
    suffixes: Vec<String>,
    networks: Vec<Network>,
}

impl AllowList {
    /// Parses entries (blank entries are skipped). A bad entry is an error naming it.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut list = Self::none();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            list.add(entry)?;
        }
        Ok(list)
    }

    /// The connector's `ALLOWED_HOSTS`; a bad entry is `Misconfigured`.
    pub fn from_settings(settings: &ConnectorSettings) -> Result<Self, ConnectorError> {
        Self::parse(&settings.allowed_hosts()).map_err(|reason| {
            ConnectorError::misconfigured(format!(
                "`{}` of connector `{}`: {reason}",
                keys::ALLOWED_HOSTS,
                settings.slug()
            ))
        })
    }

    /// An empty list: nothing is exempt.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.suffixes.is_empty() && self.networks.is_empty()
    }

    /// Whether `ip` is inside an allowed address or network.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(ip))
    }

    /// Whether the host name `host` is allowed by a name or wildcard entry (IP literals
    /// never match a name entry; use [`AllowList::allows_ip`]).
    pub fn allows_host(&self, host: &str) -> bool {
        if parse_ip_literal(host).is_some() {
            return false;
        }
        let host = strip_one_trailing_dot(host).to_ascii_lowercase();
        self.names.contains(&host)
            || self.suffixes.iter().any(|suffix| {
                host.strip_suffix(suffix.as_str())
                    .is_some_and(|head| head.ends_with('.') && head.len() > 1)
            })
    }

    fn add(&mut self, entry: &str) -> Result<(), String> {
        if (entry.contains("://") || entry.contains('@'))
            && let Some(message) = shape_error(entry)
        {
            return Err(message);
        }
        if let Some((addr, prefix)) = entry.split_once('/') {
            self.networks.push(parse_network(entry, addr, prefix)?);
            return Ok(());
        }
        if let Some(ip) = parse_strict_ip(entry) {
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            self.networks.push(Network::new(ip, prefix));
            return Ok(());
        }
        if let Some(ip) = parse_ip_literal(entry) {
            return Err(format!(
                "`{entry}` is not a standard IP address; write it as `{ip}`"
            ));
        }
        if let Some(message) = shape_error(entry) {
            return Err(message);
        }
        if entry.contains(['[', ']', ':']) || ends_in_number(entry) {
            return Err(format!("`{entry}` is not a valid IP address"));
        }
        let (wildcard, name) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        if name.contains('*') {
            return Err(format!(
                "`{entry}`: only a leading `*.` wildcard is supported (e.g. `*.campus.edu`)"
            ));
        }
        let name = if wildcard {
            normalize_name(name).map_err(|_| format!("`{entry}` is not a valid host name"))?
        } else {
            normalize_name(name)?
        };
        let name = strip_one_trailing_dot(&name).to_owned();
        if wildcard {
            self.suffixes.push(name);
        } else {
            self.names.push(name);
        }
        Ok(())
    }
}

impl fmt::Debug for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names.iter().cloned();
        let suffixes = self.suffixes.iter().map(|s| format!("*.{s}"));
        let networks = self.networks.iter().map(ToString::to_string);
        f.debug_list()
            .entries(names.chain(suffixes).chain(networks))
            .finish()
    }
}

/// An IP address in standard notation, IPv6 optionally in brackets.
fn parse_strict_ip(text: &str) -> Option<IpAddr> {
    match text.strip_prefix('[') {
        Some(inner) => inner
            .strip_suffix(']')?
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6),
        None => text.parse().ok(),
    }
}

fn parse_network(entry: &str, addr: &str, prefix: &str) -> Result<Network, String> {
    let ip = parse_strict_ip(addr)
        .ok_or_else(|| format!("`{entry}` is not a network: `{addr}` is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| prefix.parse::<u8>().ok())
        .flatten()
        .filter(|p| *p <= max)
        .ok_or_else(|| {
            format!("`{entry}` is not a network: the prefix length must be 0 to {max}")
        })?;
    let net = Network::new(ip, prefix);
    if net.addr != ip.to_canonical() {
        return Err(format!(
            "`{entry}` has bits set after the prefix; did you mean `{net}`?"
        ));
    }
    Ok(net)
}

/// An address and prefix length; the address has no bits set after the prefix.
/// IPv4-mapped IPv6 networks (`::ffff:0:0/96` and longer) are stored as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn new(ip: IpAddr, prefix: u8) -> Self {
        let (ip, prefix) = match ip {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                (ip.to_canonical(), prefix - 96)
            }
            _ => (ip, prefix),
        };
        Self {
            addr: mask(ip, prefix),
            prefix,
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & kept))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & kept))
        }
    }
}
