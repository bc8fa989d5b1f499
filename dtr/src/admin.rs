//! `dtr admin …`: operator (STIL) tasks, done through the services' gRPC APIs so they work
//! against a running system, embedded or distributed. The console proves itself with the admin
//! certificate and signs each call as the operator with the admin token key — both in the PKI
//! directory, readable only by their owner (docs/security.md). Against `dtr up` it finds the
//! services' addresses in the data directory (`endpoints.json`).

use std::path::PathBuf;

use anyhow::{Context, bail};

use dtr_proto::context::{CallerContext, Principal};
use dtr_proto::import::SaetKodeRequest;
use dtr_proto::import::import_service_client::ImportServiceClient;
use dtr_proto::tilslutning::tilslutning_service_client::TilslutningServiceClient;
use dtr_proto::tilslutning::{
    AftaleStatus, BlockSystemRequest, CreateOrganisationRequest, DecideRequest, ListAftalerRequest, Organisation,
    OrganisationType, Side, UnblockSystemRequest,
};
use dtr_trust::{Part, PartCredentials, PkiDir, SignedChannel};

/// Where the services are and where the operator's credential lives.
#[derive(clap::Args)]
pub struct Connection {
    /// The data directory of a running `dtr up`: its `endpoints.json` names the services and
    /// its `pki/` holds the operator's credential.
    #[arg(long, env = "DTR_DATA_DIR", default_value = "./dtr-data")]
    data_dir: PathBuf,
    /// The PKI directory (default: `pki/` in the data directory).
    #[arg(long, env = "DTR_PKI_DIR")]
    pki_dir: Option<PathBuf>,
    /// The tilslutning service's gRPC address (default: from `endpoints.json`, else :50053).
    #[arg(long, env = "DTR_TILSLUTNING_URL")]
    tilslutning_url: Option<String>,
    /// The import service's gRPC address (default: from `endpoints.json`, else :50051).
    #[arg(long, env = "DTR_IMPORT_URL")]
    import_url: Option<String>,
}

/// The addresses `dtr up` writes into its data directory.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub struct Endpoints {
    pub import: String,
    pub export: String,
    pub tilslutning: String,
}

impl Endpoints {
    pub const FILE: &str = "endpoints.json";
}

impl Connection {
    fn pki(&self) -> anyhow::Result<PkiDir> {
        let dir = self.pki_dir.clone().unwrap_or_else(|| self.data_dir.join("pki"));
        crate::pki::PkiArgs { pki_dir: dir }.existing()
    }

    fn discovered(&self) -> Option<Endpoints> {
        let text = std::fs::read_to_string(self.data_dir.join(Endpoints::FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn url(&self, explicit: &Option<String>, found: impl Fn(Endpoints) -> String, default: &str) -> String {
        explicit.clone().or_else(|| self.discovered().map(found)).unwrap_or_else(|| default.to_owned())
    }

    async fn connect(&self, target: Part) -> anyhow::Result<(Operator, SignedChannel)> {
        let operator = Operator::load(&self.pki()?)?;
        let url = match target {
            Part::Import => self.url(&self.import_url, |e| e.import, "https://127.0.0.1:50051"),
            _ => self.url(&self.tilslutning_url, |e| e.tilslutning, "https://127.0.0.1:50053"),
        };
        let channel = operator.credentials.connect(&url, target).await?;
        Ok((operator, channel))
    }
}

/// The operator at this console: the admin part's credentials, acting as the operator.
pub struct Operator {
    pub credentials: PartCredentials,
    pub principal: Principal,
}

impl Operator {
    pub fn load(pki: &PkiDir) -> anyhow::Result<Self> {
        let credentials =
            PartCredentials::load(pki, Part::Admin).context("the operator's credential (admin certificate and key)")?;
        // Who sits at the console, for the audit; the credential is what grants the rights.
        let id = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "admin".to_owned());
        Ok(Operator { credentials, principal: Principal::Operator { id } })
    }

    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        CallerContext::new(self.principal.clone()).request(msg)
    }
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
        #[command(flatten)]
        url: Connection,
        /// Table: kommuner, insttype3, ejerform or lovgrundlag.
        navn: String,
        kode: i32,
        tekst: String,
    },
    /// Registers an organisation: a provider (there is no self sign-up), a kommune, a private
    /// owner, an institution.
    Organisation {
        #[command(flatten)]
        url: Connection,
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
        url: Connection,
        #[arg(long, value_enum)]
        status: Option<Status>,
        #[arg(long, default_value = "")]
        system: String,
    },
    /// Lists data-access agreements (all pages).
    Dataaftaler {
        #[command(flatten)]
        url: Connection,
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
        url: Connection,
        aftale_id: String,
        #[arg(value_enum)]
        beslutning: Beslutning,
        #[arg(long, default_value = "")]
        kommentar: String,
    },
    /// Blocks a system (misuse, unused for 12 months); every call of it is refused.
    Bloker {
        #[command(flatten)]
        url: Connection,
        system_id: String,
        #[arg(long)]
        aarsag: String,
    },
    /// Lifts a block.
    Frigiv {
        #[command(flatten)]
        url: Connection,
        system_id: String,
    },
}

async fn tilslutning(url: &Connection) -> anyhow::Result<(Operator, TilslutningServiceClient<SignedChannel>)> {
    let (operator, channel) = url.connect(Part::Tilslutning).await?;
    Ok((operator, TilslutningServiceClient::new(channel)))
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
        AdminCommand::Kodetabel { url, navn, kode, tekst } => {
            let (operator, channel) = url.connect(Part::Import).await?;
            let mut client = ImportServiceClient::new(channel);
            let req = operator.request(SaetKodeRequest { navn: navn.clone(), kode, tekst });
            let svar = client.saet_kode(req).await.map_err(refused)?;
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
            let (op, mut c) = tilslutning(&url).await?;
            let o = c.create_organisation(op.request(req)).await.map_err(refused)?;
            let o = o.into_inner();
            println!("organisation {} ({}) registered", o.kode, o.navn);
        }
        AdminCommand::Tilslutninger { url, status, system } => {
            let (op, mut c) = tilslutning(&url).await?;
            let mut token = String::new();
            loop {
                let req = ListAftalerRequest {
                    udbydersystem_id: system.clone(),
                    status: status.map(|s| status_pb(s) as i32),
                    med_slettede: matches!(status, Some(Status::Slettet)),
                    side: Some(Side { stoerrelse: 300, token: token.clone() }),
                    ..Default::default()
                };
                let page = c.list_tilslutninger(op.request(req)).await.map_err(refused)?.into_inner();
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
            let (op, mut c) = tilslutning(&url).await?;
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
                let page = c.list_dataaftaler(op.request(req)).await.map_err(refused)?.into_inner();
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
            let (op, mut c) = tilslutning(&url).await?;
            let a = c.decide_tilslutning(op.request(req)).await.map_err(refused)?;
            let a = a.into_inner();
            println!("{} {} {}: {}", a.udbydersystem_id, a.servicekode, a.aftale_id, status_navn(a.status()));
        }
        AdminCommand::Bloker { url, system_id, aarsag } => {
            let req = BlockSystemRequest { udbydersystem_id: system_id, aarsag };
            let (op, mut c) = tilslutning(&url).await?;
            let s = c.block_system(op.request(req)).await.map_err(refused)?.into_inner();
            println!("system {} blocked: {}", s.udbydersystem_id, s.blokeret_aarsag);
        }
        AdminCommand::Frigiv { url, system_id } => {
            let req = UnblockSystemRequest { udbydersystem_id: system_id, kommentar: String::new() };
            let (op, mut c) = tilslutning(&url).await?;
            let s = c.unblock_system(op.request(req)).await.map_err(refused)?.into_inner();
            println!("system {} unblocked", s.udbydersystem_id);
        }
    }
    Ok(())
}
