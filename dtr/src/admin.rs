//! `dtr admin …`: operator (STIL) tasks, done through the services' gRPC APIs so they work
//! against a running system, embedded or distributed.

use anyhow::{Context, bail};
use tonic::transport::Channel;

use dtr_proto::context::CallerContext;
use dtr_proto::import::SaetKodeRequest;
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_proto::tilslutning::{
    AftaleStatus, BlockSystemRequest, CreateOrganisationRequest, DecideRequest, ListAftalerRequest, Organisation,
    OrganisationType, Side, UnblockSystemRequest,
};

/// The operator's organisation kode: what the admin commands act as.
const OPERATOER: &str = "STIL";

#[derive(clap::Args)]
pub struct TilslutningUrl {
    /// The tilslutning service's gRPC address (`dtr up` prints it).
    #[arg(long, env = "DTR_TILSLUTNING_URL", default_value = "http://127.0.0.1:50053")]
    tilslutning_url: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Type {
    Udbyder,
    Kommune,
    PrivatEjer,
    Institution,
    Dagtilbud,
    Restinstitution,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Beslutning {
    Godkend,
    Afvis,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Status {
    Venter,
    Godkendt,
    Afvist,
    Slettet,
}

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
    /// Registers an organisation: a provider (there is no self sign-up), a kommune, a private
    /// owner, an institution.
    Organisation {
        #[command(flatten)]
        url: TilslutningUrl,
        #[arg(long)]
        kode: String,
        #[arg(long)]
        navn: String,
        #[arg(long, value_enum)]
        r#type: Type,
        #[arg(long, default_value = "")]
        cvr: String,
        #[arg(long, default_value = "")]
        pnr: String,
    },
    /// Lists connection agreements (all pages), e.g. the waiting ones: `--status venter`.
    Tilslutninger {
        #[command(flatten)]
        url: TilslutningUrl,
        #[arg(long, value_enum)]
        status: Option<Status>,
        #[arg(long, default_value = "")]
        system: String,
    },
    /// Lists data-access agreements (all pages).
    Dataaftaler {
        #[command(flatten)]
        url: TilslutningUrl,
        #[arg(long, value_enum)]
        status: Option<Status>,
        #[arg(long, default_value = "")]
        system: String,
        #[arg(long, default_value = "")]
        ejer: String,
    },
    /// Decides a connection request: `dtr admin beslut <aftale-id> godkend`.
    Beslut {
        #[command(flatten)]
        url: TilslutningUrl,
        aftale_id: String,
        #[arg(value_enum)]
        beslutning: Beslutning,
        #[arg(long, default_value = "")]
        kommentar: String,
    },
    /// Blocks a system (misuse, unused for 12 months); every call of it is refused.
    Bloker {
        #[command(flatten)]
        url: TilslutningUrl,
        system_id: String,
        #[arg(long)]
        aarsag: String,
    },
    /// Lifts a block.
    Frigiv {
        #[command(flatten)]
        url: TilslutningUrl,
        system_id: String,
    },
}

fn som_operatoer<T>(msg: T) -> tonic::Request<T> {
    let mut ctx = CallerContext::internal("dtr-admin");
    ctx.organisation = Some(OPERATOER.into());
    ctx.correlation_id = uuid::Uuid::new_v4().to_string();
    ctx.request(msg)
}

async fn tilslutning(url: &TilslutningUrl) -> anyhow::Result<TilslutningServiceClient<Channel>> {
    TilslutningServiceClient::connect(url.tilslutning_url.clone())
        .await
        .with_context(|| format!("could not reach the tilslutning service at {}", url.tilslutning_url))
}

fn status_pb(s: Status) -> AftaleStatus {
    match s {
        Status::Venter => AftaleStatus::Venter,
        Status::Godkendt => AftaleStatus::Godkendt,
        Status::Afvist => AftaleStatus::Afvist,
        Status::Slettet => AftaleStatus::Slettet,
    }
}

fn status_navn(s: AftaleStatus) -> &'static str {
    match s {
        AftaleStatus::Venter => "VENTER",
        AftaleStatus::Godkendt => "GODKENDT",
        AftaleStatus::Afvist => "AFVIST",
        AftaleStatus::Slettet => "SLETTET",
        AftaleStatus::Unspecified => "?",
    }
}

/// A refused gRPC call, said as the service worded it.
fn refused(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{} ({:?})", s.message(), s.code())
}

pub async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Kodetabel { import_url, navn, kode, tekst } => {
            let mut client = ImportServiceClient::connect(import_url.clone())
                .await
                .with_context(|| format!("could not reach the import service at {import_url}"))?;
            let svar = client.saet_kode(som_operatoer(SaetKodeRequest { navn: navn.clone(), kode, tekst })).await?;
            let svar = svar.into_inner();
            if !svar.ok {
                let fejl: Vec<String> =
                    svar.fejl.iter().map(|f| format!("{} {}: {}", f.kode, f.felt, f.besked)).collect();
                bail!("refused:\n  {}", fejl.join("\n  "));
            }
            println!("{navn} {kode} saved");
        }
        AdminCommand::Organisation { url, kode, navn, r#type, cvr, pnr } => {
            let type_ = match r#type {
                Type::Udbyder => OrganisationType::Udbyder,
                Type::Kommune => OrganisationType::Kommune,
                Type::PrivatEjer => OrganisationType::PrivatEjer,
                Type::Institution => OrganisationType::Institution,
                Type::Dagtilbud => OrganisationType::Dagtilbud,
                Type::Restinstitution => OrganisationType::Restinstitution,
            };
            let org = Organisation { kode, navn, cvr, pnr, r#type: type_ as i32, ..Default::default() };
            let req = CreateOrganisationRequest { organisation: Some(org) };
            let o = tilslutning(&url).await?.create_organisation(som_operatoer(req)).await.map_err(refused)?;
            let o = o.into_inner();
            println!("organisation {} ({}) registered", o.kode, o.navn);
        }
        AdminCommand::Tilslutninger { url, status, system } => {
            let mut c = tilslutning(&url).await?;
            let mut token = String::new();
            loop {
                let req = ListAftalerRequest {
                    udbydersystem_id: system.clone(),
                    status: status.map(|s| status_pb(s) as i32),
                    med_slettede: matches!(status, Some(Status::Slettet)),
                    side: Some(Side { stoerrelse: 300, token: token.clone() }),
                    ..Default::default()
                };
                let page = c.list_tilslutninger(som_operatoer(req)).await.map_err(refused)?.into_inner();
                for a in &page.aftaler {
                    println!("{}  {}  {}  {}", a.aftale_id, a.udbydersystem_id, a.servicekode, status_navn(a.status()));
                }
                if page.naeste_side.is_empty() {
                    break;
                }
                token = page.naeste_side;
            }
        }
        AdminCommand::Dataaftaler { url, status, system, ejer } => {
            let mut c = tilslutning(&url).await?;
            let mut token = String::new();
            loop {
                let req = ListAftalerRequest {
                    udbydersystem_id: system.clone(),
                    ejer_kode: ejer.clone(),
                    status: status.map(|s| status_pb(s) as i32),
                    med_slettede: matches!(status, Some(Status::Slettet)),
                    side: Some(Side { stoerrelse: 300, token: token.clone() }),
                    ..Default::default()
                };
                let page = c.list_dataaftaler(som_operatoer(req)).await.map_err(refused)?.into_inner();
                for a in &page.aftaler {
                    let status = status_navn(a.aftale_status());
                    println!("{}  {}  {}  {}  {status}", a.aftale_id, a.udbydersystem_id, a.servicekode, a.ejer_kode);
                }
                if page.naeste_side.is_empty() {
                    break;
                }
                token = page.naeste_side;
            }
        }
        AdminCommand::Beslut { url, aftale_id, beslutning, kommentar } => {
            let til = match beslutning {
                Beslutning::Godkend => AftaleStatus::Godkendt,
                Beslutning::Afvis => AftaleStatus::Afvist,
            };
            let req = DecideRequest { aftale_id, til: til as i32, kommentar };
            let a = tilslutning(&url).await?.decide_tilslutning(som_operatoer(req)).await.map_err(refused)?;
            let a = a.into_inner();
            println!("{} {} {}: {}", a.udbydersystem_id, a.servicekode, a.aftale_id, status_navn(a.status()));
        }
        AdminCommand::Bloker { url, system_id, aarsag } => {
            let req = BlockSystemRequest { udbydersystem_id: system_id, aarsag };
            let s = tilslutning(&url).await?.block_system(som_operatoer(req)).await.map_err(refused)?.into_inner();
            println!("system {} blocked: {}", s.udbydersystem_id, s.blokeret_aarsag);
        }
        AdminCommand::Frigiv { url, system_id } => {
            let req = UnblockSystemRequest { udbydersystem_id: system_id, kommentar: String::new() };
            let s = tilslutning(&url).await?.unblock_system(som_operatoer(req)).await.map_err(refused)?.into_inner();
            println!("system {} unblocked", s.udbydersystem_id);
        }
    }
    Ok(())
}
