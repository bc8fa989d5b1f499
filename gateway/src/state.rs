//! What every request handler shares: the service clients, the configuration, the decision
//! cache and the lock-out counters.

use std::ops::Deref;
use std::sync::Arc;

use crate::clients::Clients;
use crate::config::GatewayConfig;
use crate::{decisions, lockout};

pub struct Shared {
    pub clients: Clients,
    pub config: GatewayConfig,
    pub decisions: Arc<decisions::DecisionCache>,
    pub lockout: lockout::Lockout,
}

/// Cheap to clone; derefs to [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Connects what the gateway needs besides the services (Redis for the lock-out counters;
    /// without it they are counted in process). The decision cache's subscription runs on its own
    /// task.
    pub async fn new(config: GatewayConfig) -> Result<Self, dtr_trust::TrustError> {
        let clients = Clients::new(&config)?;
        Ok(Self::with_clients(config, clients).await)
    }

    /// The state over clients made elsewhere (in-memory channels in tests).
    pub async fn with_clients(config: GatewayConfig, clients: Clients) -> Self {
        let decisions = decisions::DecisionCache::new(config.invalidation.clone(), config.decision_ttl);
        let redis = config.redis.clone();
        let lockout = lockout::Lockout::new(config.lockout, redis);
        AppState(Arc::new(Shared { clients, config, decisions, lockout }))
    }
}
