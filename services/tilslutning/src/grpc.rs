//! The gRPC face of the tilslutning service. Operations not listed here answer UNIMPLEMENTED
//! (the generated default) until the tilslutning issue builds them.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use dtr_proto::tilslutning::tilslutning_service_server::TilslutningService;
use dtr_proto::tilslutning::{AuthenticateRequest, AuthenticateResponse};

use crate::credentials;
use crate::store::TilslutningStore;

/// Longest username and password the service looks at; longer ones fail like wrong ones.
const MAX_CREDENTIAL_LEN: usize = 256;

pub struct TilslutningGrpc {
    store: Arc<dyn TilslutningStore>,
}

impl TilslutningGrpc {
    pub fn new(store: Arc<dyn TilslutningStore>) -> Self {
        TilslutningGrpc { store }
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "tilslutning storage failed");
    Status::internal("intern fejl i tilslutningsservicen")
}

#[tonic::async_trait]
impl TilslutningService for TilslutningGrpc {
    async fn authenticate(
        &self,
        request: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let req = request.into_inner();
        let login = if req.brugernavn.len() > MAX_CREDENTIAL_LEN || req.adgangskode.len() > MAX_CREDENTIAL_LEN {
            None
        } else {
            self.store.login(&req.brugernavn).await.map_err(internal)?
        };
        let hashes = login.as_ref().map(|l| l.hashes.clone()).unwrap_or_default();
        let password = req.adgangskode;
        // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
        let ok =
            tokio::task::spawn_blocking(move || credentials::verify(&password, &hashes)).await.map_err(internal)?;
        let answer = match (ok, login) {
            (true, Some(l)) => {
                AuthenticateResponse { ok: true, udbydersystem_id: l.system_id, udbyder_kode: l.udbyder_kode }
            }
            _ => AuthenticateResponse::default(),
        };
        Ok(Response::new(answer))
    }
}
