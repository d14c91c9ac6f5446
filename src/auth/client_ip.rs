//! Which address a request comes from, for the per-address limits of the login and client
//! registration routes. The peer address is the answer unless the peer is one of the
//! reverse proxies named in `CAMPUSCORE_TRUSTED_PROXIES`; then `X-Forwarded-For` is read from
//! the right, skipping trusted hops, and the first address a trusted proxy saw is the client.
//! Entries left of it were written by the client and are never believed.

use crate::error::AppError;
use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::{KeyExtractor, SimpleKeyExtractionError};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, HttpResponseBuilder};
use campuscore_connectors::AllowList;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The client's address: `peer` itself, or, when `peer` is a trusted proxy, the rightmost
/// address of the `X-Forwarded-For` values (`forwarded_for`, in header order) that is not a
/// trusted proxy. When every hop is trusted, the leftmost; when the hop to read is not an
/// address, the last trusted hop before it (so garbage shares that proxy's budget rather
/// than getting a fresh one).
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted: &AllowList,
) -> Option<IpAddr> {
    let mut nearest = peer?;
    if !trusted.allows_ip(nearest) {
        return Some(nearest);
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return Some(nearest);
        };
        if !trusted.allows_ip(ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// The budget an address draws on: IPv4 addresses one by one, IPv6 by /64 (what one
/// subscriber is given; an attacker holds the whole /64, not one address of it).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(masked))
        }
        v4 => v4,
    }
}

/// The governor key of a request: the bucket of its client address.
#[derive(Clone)]
pub struct ClientKey {
    trusted: Arc<AllowList>,
}

impl ClientKey {
    pub fn new(trusted: Arc<AllowList>) -> Self {
        Self { trusted }
    }
}

impl KeyExtractor for ClientKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>();
        client_ip(req.peer_addr().map(|a| a.ip()), &forwarded, &self.trusted)
            .map(bucket)
            .ok_or_else(|| SimpleKeyExtractionError::new("the client's address is unknown"))
    }

    /// Refused as the app refuses anything too frequent: 429 with `Retry-After`, rendered
    /// in the caller's format by `views::errors`.
    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        HttpResponse::from_error(AppError::RateLimited {
            retry_after: wait.max(std::time::Duration::from_secs(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn proxies() -> AllowList {
        AllowList::parse(&["10.0.0.0/8", "::1"]).expect("list")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let got = client_ip(Some(ip("198.51.100.7")), &["203.0.113.9"], &proxies());
        assert_eq!(got, Some(ip("198.51.100.7")));
        let none = AllowList::none();
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &["203.0.113.9"], &none),
            Some(ip("10.0.0.2")),
            "with no trusted proxies the header is never read"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        // The client forged two entries; the proxy chain appended the real address.
        let got = client_ip(
            Some(ip("10.0.0.2")),
            &["1.2.3.4, 5.6.7.8", "203.0.113.9, 10.0.0.5"],
            &proxies(),
        );
        assert_eq!(got, Some(ip("203.0.113.9")));
        let ported = client_ip(Some(ip("::1")), &["[2001:db8::7]:4711"], &proxies());
        assert_eq!(ported, Some(ip("2001:db8::7")));
    }

    #[test]
    fn garbage_or_all_trusted_hops_never_mint_a_fresh_address() {
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.2")),
                &["203.0.113.9, not-an-ip"],
                &proxies()
            ),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &["10.1.1.1, 10.0.0.3"], &proxies()),
            Some(ip("10.1.1.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &[], &proxies()),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
