//! Who is asking: the client IP (trusting `X-Forwarded-For` only from configured proxies)
//! and user agent, for rate limits and the security activity log (`ClientInfo`).

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, USER_AGENT};
use actix_web::{FromRequest, HttpRequest, web};
use ipnet::IpNet;
use sha2::{Digest, Sha256};

pub use crate::domain::activity::ClientInfo;
use crate::web::state::AppState;

const MAX_USER_AGENT_CHARS: usize = 300;

/// The client's IP address.
///
/// `X-Forwarded-For` is only believed when the direct peer is a trusted proxy (an
/// address or range in `TRUSTED_PROXIES`). Then the header is read from the right, the
/// end our own proxies appended: the first address that is not a trusted proxy is the
/// client. Reading stops at the first entry that does not parse: whatever stands left
/// of it came from nobody we trust, so the last trusted hop is taken instead. Without
/// this rule anyone could send any `X-Forwarded-For` to get a fresh rate-limit bucket.
///
/// Every address is made canonical first (`to_canonical`): a dual-stack listener on
/// `[::]` sees an IPv4 peer as `::ffff:a.b.c.d`, which would match no IPv4 range in
/// `TRUSTED_PROXIES` and, grouped as IPv6, would put every IPv4 client in one bucket.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.into_iter().rev() {
        let Some(ip) = parse_forwarded_entry(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<std::net::SocketAddr>().map(|addr| addr.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The salted SHA-256 of an address (or a range, as the rate limit's buckets are), hex:
/// what the activity log and the rate limit keep instead of the address itself. The
/// salt comes from `SESSION_KEY`, so the hash cannot be reversed by trying every IPv4
/// address without it.
pub fn salted_hash(salt: &[u8], address: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(address.as_bytes());
    hex::encode(hasher.finalize())
}

/// What the activity log records about `req`.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ClientInfo::default();
        };
        let ip = client_ip(
            req.peer_addr().map(|addr| addr.ip()),
            req.headers(),
            &state.trusted_proxies,
        );
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect()
            });
        ClientInfo {
            ip_hash: ip.map(|ip| salted_hash(&state.ip_hash_salt, &ip.to_string())),
            user_agent,
        }
    }
}

impl FromRequest for ClientInfo {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(client_info(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(xff: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_str(xff).unwrap(),
        );
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(entries: &[&str]) -> Vec<IpNet> {
        entries.iter().map(|entry| entry.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let found = client_ip(Some(ip("203.0.113.9")), &headers("1.2.3.4"), &[]);
        assert_eq!(found, Some(ip("203.0.113.9")));
        let found = client_ip(
            Some(ip("203.0.113.9")),
            &headers("1.2.3.4"),
            &nets(&["10.0.0.0/8"]),
        );
        assert_eq!(found, Some(ip("203.0.113.9")));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.2/32", "10.0.0.3/32"]);
        // The client may prepend anything; only what our proxies appended counts.
        let found = client_ip(
            Some(ip("10.0.0.2")),
            &headers("6.6.6.6, 198.51.100.7, 10.0.0.3"),
            &trusted,
        );
        assert_eq!(found, Some(ip("198.51.100.7")));
    }

    #[test]
    fn trusted_proxies_may_be_cidr_ranges_of_either_family() {
        let trusted = nets(&["10.0.0.0/8", "fd00::/8"]);
        let found = client_ip(
            Some(ip("fd12::7")),
            &headers("198.51.100.7, 10.1.2.3, fd00::9"),
            &trusted,
        );
        assert_eq!(found, Some(ip("198.51.100.7")));
        // 11.0.0.1 is outside 10.0.0.0/8: it is the client, not another hop.
        let found = client_ip(
            Some(ip("10.9.9.9")),
            &headers("198.51.100.7, 11.0.0.1"),
            &trusted,
        );
        assert_eq!(found, Some(ip("11.0.0.1")));
    }

    #[test]
    fn reading_stops_at_the_first_entry_that_does_not_parse() {
        let trusted = nets(&["10.0.0.0/8"]);
        // Garbage left of the client does not matter: the client is found first.
        let found = client_ip(
            Some(ip("10.0.0.2")),
            &headers("not-an-ip, 198.51.100.7"),
            &trusted,
        );
        assert_eq!(found, Some(ip("198.51.100.7")));
        // Garbage right of an address: nothing left of it is believed; the last trusted
        // hop (here 10.0.0.5, appended by our own proxy) is the best we know.
        let found = client_ip(
            Some(ip("10.0.0.2")),
            &headers("6.6.6.6, junk, 10.0.0.5"),
            &trusted,
        );
        assert_eq!(found, Some(ip("10.0.0.5")));
        let found = client_ip(Some(ip("10.0.0.2")), &headers("not-an-ip"), &trusted);
        assert_eq!(found, Some(ip("10.0.0.2")));
    }

    #[test]
    fn a_mapped_ipv4_peer_is_the_ipv4_client_it_stands_for() {
        // What a listener on [::] sees when 198.51.100.7 connects over IPv4.
        let found = client_ip(Some(ip("::ffff:198.51.100.7")), &HeaderMap::new(), &[]);
        assert_eq!(found, Some(ip("198.51.100.7")));
    }

    #[test]
    fn a_mapped_ipv4_proxy_matches_its_ipv4_range_in_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8"]);
        let found = client_ip(
            Some(ip("::ffff:10.0.0.2")),
            &headers("6.6.6.6, 198.51.100.7"),
            &trusted,
        );
        assert_eq!(found, Some(ip("198.51.100.7")));
        // A mapped entry in the header is canonical too: a trusted hop is skipped, and
        // the client found is plain IPv4.
        let found = client_ip(
            Some(ip("::ffff:10.0.0.2")),
            &headers("::ffff:198.51.100.8, ::ffff:10.0.0.3"),
            &trusted,
        );
        assert_eq!(found, Some(ip("198.51.100.8")));
    }

    #[test]
    fn forwarded_entries_may_carry_a_port() {
        let trusted = nets(&["10.0.0.0/8"]);
        for (xff, client) in [
            ("198.51.100.7:51234", "198.51.100.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
        ] {
            let found = client_ip(Some(ip("10.0.0.2")), &headers(xff), &trusted);
            assert_eq!(found, Some(ip(client)), "{xff}");
        }
    }
}
