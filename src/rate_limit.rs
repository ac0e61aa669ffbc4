//! The per-client-IP limit on starting and finishing logins (actix-governor), for one
//! process. One limiter is shared by all workers (the config holds it behind an `Arc`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_governor::{GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError};
use actix_web::dev::ServiceRequest;
use ipnet::IpNet;

use crate::client_info::client_ip;
use crate::config::SecuritySettings;

/// The limiter's configuration, with its state: `Governor::new(&rate_limit)` on a route.
pub type RateLimit = actix_governor::GovernorConfig<
    ClientIpKey,
    actix_governor::governor::middleware::NoOpMiddleware<
        actix_governor::governor::clock::QuantaInstant,
    >,
>;

/// Settings that cannot make a limiter (a period of zero).
#[derive(Debug, thiserror::Error)]
#[error("invalid rate limit settings")]
pub struct InvalidRateLimit;

/// `RATE_LIMIT_PER_MINUTE` per client, with `RATE_LIMIT_BURST` at once.
pub fn rate_limit(
    settings: &SecuritySettings,
    trusted_proxies: Arc<Vec<IpNet>>,
) -> Result<RateLimit, InvalidRateLimit> {
    let per_minute = u64::from(settings.rate_limit_per_minute);
    GovernorConfigBuilder::default()
        .key_extractor(ClientIpKey { trusted_proxies })
        .period(Duration::from_nanos(
            (60_000_000_000 / per_minute.max(1)).max(1),
        ))
        .burst_size(settings.rate_limit_burst)
        .finish()
        .ok_or(InvalidRateLimit)
}

/// The limiter keeps a bucket per client address; every minute this forgets the ones
/// that are full again, so memory does not grow with every address ever seen.
pub fn sweep_every_minute(rate_limit: &RateLimit) {
    let limiter = rate_limit.limiter().clone();
    actix_web::rt::spawn(async move {
        let mut every_minute = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

/// One bucket per IPv4 address, but per IPv6 /64: a single client usually holds a
/// whole /64 and could otherwise take a fresh bucket for every request.
pub fn rate_limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
    }
}

/// Rate-limit key: the client IP as `client_info::client_ip` resolves it.
#[derive(Debug, Clone)]
pub struct ClientIpKey {
    pub trusted_proxies: Arc<Vec<IpNet>>,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        client_ip(
            req.peer_addr().map(|addr| addr.ip()),
            req.headers(),
            &self.trusted_proxies,
        )
        .map(rate_limit_key)
        .ok_or_else(|| SimpleKeyExtractionError::new("could not tell the client's address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_slash_64() {
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2:aaaa::1")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2:bbbb::9")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(rate_limit_key(ip("198.51.100.7")), ip("198.51.100.7"));
    }
}
