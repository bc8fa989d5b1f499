//! What the gateway is told at start: where the services are, limits, caching and lock-out.

use std::time::Duration;

use crate::soap::Limits;
use crate::{decisions, lockout};

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub import_url: String,
    pub export_url: String,
    pub tilslutning_url: String,
    /// Public base URL (`https://host:port`) for WSDL addresses; else taken from the request.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-Host`/`-Proto` are believed; anyone else's are ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub max_body_bytes: usize,
    pub limits: Limits,
    /// Longest a backend call may take.
    pub backend_timeout: Duration,
    /// Longest a streamed answer (a full extract) may go without a record.
    pub stream_idle_timeout: Duration,
    /// Where the decision cache learns of tilslutning changes; `None` caches nothing.
    pub invalidation: decisions::Invalidation,
    /// Longest a cached decision lives even without a change message; zero caches nothing.
    pub decision_ttl: Duration,
    /// Redis for the lock-out counters shared by several gateways; else counted in process.
    pub redis: Option<dtr_redislink::RedisLink>,
    pub lockout: lockout::LockoutPolicy,
    /// The gateway's certificate and token key: how it reaches the services and vouches for
    /// the systems it has verified.
    pub credentials: dtr_trust::PartCredentials,
    /// The services, when they run in this process (`dtr up`): called without a socket.
    pub local: Option<dtr_trust::LocalServices>,
}

impl GatewayConfig {
    pub fn new(
        import_url: String,
        export_url: String,
        tilslutning_url: String,
        credentials: dtr_trust::PartCredentials,
    ) -> Self {
        GatewayConfig {
            credentials,
            import_url,
            export_url,
            tilslutning_url,
            public_url: None,
            trusted_proxies: Vec::new(),
            max_body_bytes: 10 * 1024 * 1024,
            limits: Limits::default(),
            backend_timeout: Duration::from_secs(5),
            stream_idle_timeout: Duration::from_secs(10),
            invalidation: decisions::Invalidation::None,
            decision_ttl: Duration::from_secs(5),
            redis: None,
            lockout: lockout::LockoutPolicy::default(),
            local: None,
        }
    }
}
