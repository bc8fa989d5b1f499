//! `dtr admin …`: operator tasks, done through the services' gRPC APIs so they work against a
//! running system, embedded or distributed.

use anyhow::{Context, bail};

use dtr_proto::context::CallerContext;
use dtr_proto::import::SaetKodeRequest;
use dtr_proto::import::import_service_client::ImportServiceClient;

#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// Adds a code to a code table or renames one (`dtr admin kodetabel insttype3 6099 "…"`).
    /// Export answers show the change on their next read.
    Kodetabel {
        /// The import service's gRPC address (`dtr up` prints it).
        #[arg(long, env = "DTR_IMPORT_URL", default_value = "http://127.0.0.1:50051")]
        import_url: String,
        /// Table: kommuner, insttype3, ejerform or lovgrundlag.
        navn: String,
        kode: i32,
        tekst: String,
    },
}

pub async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Kodetabel { import_url, navn, kode, tekst } => {
            let mut client = ImportServiceClient::connect(import_url.clone())
                .await
                .with_context(|| format!("could not reach the import service at {import_url}"))?;
            let ctx = CallerContext {
                system: "dtr-admin".into(),
                organisation: None,
                correlation_id: uuid::Uuid::new_v4().to_string(),
                regelsaet: Default::default(),
            };
            let svar = client.saet_kode(ctx.request(SaetKodeRequest { navn: navn.clone(), kode, tekst })).await?;
            let svar = svar.into_inner();
            if !svar.ok {
                let fejl: Vec<String> =
                    svar.fejl.iter().map(|f| format!("{} {}: {}", f.kode, f.felt, f.besked)).collect();
                bail!("refused:\n  {}", fejl.join("\n  "));
            }
            println!("{navn} {kode} saved");
            Ok(())
        }
    }
}
