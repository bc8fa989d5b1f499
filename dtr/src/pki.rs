//! `dtr pki …`: the deployment's CA, the parts' certificates and token keys, and client
//! certificates for internal consumers (docs/security.md). `dtr up` runs `init` by itself.

use std::path::PathBuf;

use anyhow::Context;
use dtr_trust::PkiDir;

/// Where the PKI lives; every command that talks gRPC reads its certificate and key from here.
#[derive(clap::Args, Clone, Debug)]
pub struct PkiArgs {
    /// The PKI directory (`dtr pki init` creates it; `dtr up` keeps it in its data directory).
    #[arg(long, env = "DTR_PKI_DIR", default_value = "./dtr-data/pki")]
    pub pki_dir: PathBuf,
}

impl PkiArgs {
    pub fn dir(&self) -> PkiDir {
        PkiDir::new(&self.pki_dir)
    }

    /// The PKI directory, which must have been made.
    pub fn existing(&self) -> anyhow::Result<PkiDir> {
        let pki = self.dir();
        if !pki.ca_cert().exists() {
            anyhow::bail!(
                "no PKI in {} (run `dtr pki init --pki-dir {}` first, or point DTR_PKI_DIR at it)",
                self.pki_dir.display(),
                self.pki_dir.display()
            );
        }
        Ok(pki)
    }
}

#[derive(clap::Subcommand)]
pub enum PkiCommand {
    /// Creates the CA, each part's certificate and token key: whatever is missing (existing
    /// files are kept, so it is safe to run at every start).
    Init {
        #[command(flatten)]
        pki: PkiArgs,
    },
    /// Issues a client certificate for an internal consumer that reads over gRPC; the name is
    /// its identity (`<name>.consumer.dtr.internal`).
    Consumer {
        #[command(flatten)]
        pki: PkiArgs,
        /// Lower-case letters, digits and hyphens.
        name: String,
    },
}

pub fn run(cmd: PkiCommand) -> anyhow::Result<()> {
    match cmd {
        PkiCommand::Init { pki } => {
            let written = pki.dir().init().context("creating the PKI")?;
            if written.is_empty() {
                println!("PKI in {} is complete; nothing written", pki.pki_dir.display());
            }
            for f in written {
                println!("wrote {}", f.display());
            }
        }
        PkiCommand::Consumer { pki, name } => {
            let (cert, key) = pki.existing()?.issue_consumer(&name).context("issuing the certificate")?;
            println!(
                "certificate {}\nkey         {}\nCA          {}",
                cert.display(),
                key.display(),
                pki.dir().ca_cert().display()
            );
        }
    }
    Ok(())
}
