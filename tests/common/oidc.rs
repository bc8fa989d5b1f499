//! A real OpenID provider for the portal's login tests: `tests/oidc/op.mjs` on the npm package
//! `oidc-provider` (installed by scripts/test.sh), with accounts whose claims a test can change
//! between logins.

use std::path::PathBuf;
use std::time::Duration;

use super::{Proc, TempDir, free_port, wait_until};

pub const CLIENT_ID: &str = "dtr-portal";
pub const CLIENT_SECRET: &str = "test-op-client-secret";
/// The right the portal looks for by default.
pub const RIGHT: &str = "Tilslutning: Ret til at administrere aftaler";
/// The claim the portal reads CVR numbers from by default.
pub const CVR_CLAIM: &str = "https://data.gov.dk/model/core/eid/professional/cvr";

pub struct Op {
    pub issuer: String,
    pub port: u16,
    accounts: PathBuf,
    proc: Proc,
    _dir: TempDir,
}

impl Op {
    /// Starts the provider for a portal whose callback is `redirect_uri`, with `accounts` (login
    /// name → claims).
    pub async fn start(redirect_uri: &str, accounts: serde_json::Value) -> Op {
        let module = std::env::var("DTR_TEST_OIDC_PROVIDER").expect(
            "DTR_TEST_OIDC_PROVIDER is not set: run the suite with scripts/test.sh, which installs oidc-provider",
        );
        let dir = TempDir::new();
        let accounts_file = dir.path().join("accounts.json");
        std::fs::write(&accounts_file, accounts.to_string()).unwrap();
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/oidc/op.mjs");
        let env = [
            ("OP_MODULE", module),
            ("OP_PORT", port.to_string()),
            ("OP_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OP_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("OP_REDIRECT_URI", redirect_uri.to_owned()),
            ("OP_ACCOUNTS_FILE", accounts_file.display().to_string()),
        ];
        let proc = Proc::spawn_program("node", "oidc-provider", &[script], &env, dir.path());
        wait_until("the OpenID provider to start", Duration::from_secs(30), || {
            let ready = proc.log().contains("op ready");
            async move { ready }
        })
        .await;
        Op { issuer: format!("http://127.0.0.1:{port}"), port, accounts: accounts_file, proc, _dir: dir }
    }

    /// Replaces the accounts' claims; the next login reads them.
    pub fn set_accounts(&self, accounts: serde_json::Value) {
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }

    /// The portal's environment for this provider.
    pub fn portal_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DTR_OIDC_ISSUER", self.issuer.clone()),
            ("DTR_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("DTR_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ]
    }

    pub fn log(&self) -> String {
        self.proc.log()
    }
}
