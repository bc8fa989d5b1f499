//! Read-your-writes: a read that starts after a write was acknowledged sees that write — through
//! the gateway and straight from every export instance, in the embedded mode and in the
//! distributed mode with two export processes on PostgreSQL. Whatever the export service keeps
//! in memory to answer lookups fast must keep this.

use dtr_proto::export::NummerRequest;
use dtr_proto::export::export_service_client::ExportServiceClient;
use dtr_trust::{Part, SignedChannel};

use crate::common::{self, EXPORT, Soap, VALID_DAGINSTITUTION, cluster, import_ok, wait_until};

const ROUNDS: usize = 25;

/// Renames one daginstitution again and again; after each acknowledged rename every reader
/// answers the new name at once.
async fn renames_are_read_at_once(soap: &Soap, mut readers: Vec<ExportServiceClient<SignedChannel>>) {
    let nummer = import_ok(soap, "InsertDaginstitution", VALID_DAGINSTITUTION).await;
    let navn_element = "<d:daginstitutionsNavn>Skovbørnehaven Egern &amp; Co</d:daginstitutionsNavn>";
    for i in 0..ROUNDS {
        let navn = format!("Omdøbt {i}");
        let renamed = VALID_DAGINSTITUTION.replace(
            navn_element,
            &format!(
                "<d:daginstitutionsNummer>{nummer}</d:daginstitutionsNummer><d:daginstitutionsNavn>{navn}</d:daginstitutionsNavn>"
            ),
        );
        import_ok(soap, "UpdateDaginstitution", &renamed).await;
        let lookup = format!("<d:DagInstitutionsNummer>{nummer}</d:DagInstitutionsNummer>");
        let a = soap.call(EXPORT, "GetDaginstitutionByNummer", &lookup).await;
        assert!(a.body.contains(&format!(">{navn}<")), "round {i}: the gateway's read: {}", a.body);
        for (n, reader) in readers.iter_mut().enumerate() {
            let found = reader
                .get_daginstitution_by_nummer(NummerRequest { nummer: nummer.clone() })
                .await
                .expect("lookup")
                .into_inner()
                .daginstitutioner;
            let got = &found[0].daginstitution.as_ref().unwrap().daginstitutions_navn;
            assert_eq!(got, &navn, "round {i}: export instance {n}");
        }
    }
}

#[tokio::test]
async fn read_your_writes_embedded() {
    let r = cluster::embedded().await;
    let reader = r.part(Part::Admin).connect(&r.export_url, Part::Export).await.unwrap();
    renames_are_read_at_once(&r.soap, vec![ExportServiceClient::new(reader)]).await;
}

/// An export instance of its own on the cluster's database, with its metrics listener.
struct Reader {
    proc: common::Proc,
    client: ExportServiceClient<SignedChannel>,
    metrics: String,
}

async fn start_reader(c: &cluster::Cluster, admin: &dtr_trust::PartCredentials) -> Reader {
    let (port, metrics) = (common::free_port(), format!("127.0.0.1:{}", common::free_port()));
    let mut proc = cluster::spawn_service(
        c,
        "export",
        &[("DTR_GRPC_ADDR", format!("127.0.0.1:{port}")), ("DTR_METRICS_ADDR", metrics.clone())],
    );
    let pki = c.pki.display().to_string();
    let url = format!("https://127.0.0.1:{port}");
    wait_until("an export instance", common::START_LIMIT, || {
        proc.assert_running();
        let (url, pki) = (url.clone(), pki.clone());
        async move {
            std::process::Command::new(env!("CARGO_BIN_EXE_dtr"))
                .args(["healthcheck", "export", "--addr", &url, "--pki-dir", &pki])
                .output()
                .is_ok_and(|o| o.status.success())
        }
    })
    .await;
    let client = ExportServiceClient::new(admin.connect(&url, Part::Export).await.unwrap());
    Reader { proc, client, metrics }
}

impl Reader {
    async fn lookups(&self, result: &str) -> f64 {
        let text = common::metrics::scrape(&self.metrics).await;
        common::metrics::value(
            &text,
            "dtr_cache_requests_total",
            &["cache=\"lookups\"", &format!("result=\"{result}\"")],
        )
    }

    async fn navn(&mut self, nummer: &str) -> String {
        let found = self
            .client
            .get_daginstitution_by_nummer(NummerRequest { nummer: nummer.to_owned() })
            .await
            .expect("lookup")
            .into_inner()
            .daginstitutioner;
        found[0].daginstitution.as_ref().unwrap().daginstitutions_navn.clone()
    }
}

/// Each service its own process on PostgreSQL, two more export instances: both answer lookups
/// from memory (they hold readers' leases), and every acknowledged write is read at once from
/// each of them.
#[tokio::test]
async fn read_your_writes_across_export_instances() {
    let mut c = cluster::start_services().await;
    let soap = cluster::start_gateway(&mut c, &[]).await;
    let admin = dtr_trust::PartCredentials::load(&dtr_trust::PkiDir::new(&c.pki), Part::Admin).unwrap();
    let mut readers = vec![start_reader(&c, &admin).await, start_reader(&c, &admin).await];
    renames_are_read_at_once(&soap, readers.iter().map(|r| r.client.clone()).collect()).await;

    // Lookups with no write between them come from memory in every instance.
    let nummer = "G30000";
    for r in &mut readers {
        let before = r.lookups("hit").await;
        let navn = r.navn(nummer).await;
        for _ in 0..10 {
            assert_eq!(r.navn(nummer).await, navn);
        }
        let hits = r.lookups("hit").await - before;
        assert!(hits >= 10.0, "an instance on PostgreSQL answers repeated lookups from memory: {hits} hits");
    }
}

/// A reader that stops answering (frozen) holds a write up for at most its lease; when it
/// wakes, it does not answer from memory what the write changed.
#[tokio::test]
async fn a_frozen_reader_delays_a_write_by_at_most_its_lease() {
    let mut c = cluster::start_services().await;
    let soap = cluster::start_gateway(&mut c, &[]).await;
    let admin = dtr_trust::PartCredentials::load(&dtr_trust::PkiDir::new(&c.pki), Part::Admin).unwrap();
    let mut reader = start_reader(&c, &admin).await;
    let nummer = import_ok(&soap, "InsertDaginstitution", VALID_DAGINSTITUTION).await;
    let navn = reader.navn(&nummer).await;
    assert_eq!(reader.navn(&nummer).await, navn);
    assert!(reader.lookups("hit").await >= 1.0, "the reader remembers the unit");

    common::faults::signal(reader.proc.pid(), "STOP");
    let renamed = VALID_DAGINSTITUTION.replace(
        "<d:daginstitutionsNavn>Skovbørnehaven Egern &amp; Co</d:daginstitutionsNavn>",
        &format!("<d:daginstitutionsNummer>{nummer}</d:daginstitutionsNummer><d:daginstitutionsNavn>Mens den sov</d:daginstitutionsNavn>"),
    );
    let started = std::time::Instant::now();
    import_ok(&soap, "UpdateDaginstitution", &renamed).await;
    let took = started.elapsed();
    common::faults::signal(reader.proc.pid(), "CONT");
    assert!(
        took >= std::time::Duration::from_millis(500),
        "the write waited for the frozen reader's lease to run out: {took:?}"
    );
    assert!(took < std::time::Duration::from_secs(3), "at most the lease (1 s) and a margin: {took:?}");
    assert_eq!(reader.navn(&nummer).await, "Mens den sov", "the woken reader read the write");
}

/// A writer outside the process (here the test, through the store; in life `dtr import-legacy`
/// or `dtr demo-data` on a running register) is noticed through the change sequence within the
/// poll's interval, though nothing in the process told the lookups.
#[tokio::test]
async fn a_writer_outside_the_process_is_seen_soon() {
    let r = cluster::embedded().await;
    let lookup = "<d:DagInstitutionsNummer>G30000</d:DagInstitutionsNummer>";
    let before = r.soap.call(EXPORT, "GetDaginstitutionByNummer", lookup).await;
    assert!(!before.body.contains("Ændret udefra"), "{}", before.body);
    let store = dtr_registry::storage::connect(&r.db).await.unwrap();
    let aktoer = crate::common::aktoer("udefra", "test");
    let changed = store
        .update_daginstitution("G30000", &aktoer, &|s| {
            let mut data = s.current.clone().expect("G30000 exists").data;
            data.navn = "Ændret udefra".into();
            Ok(data)
        })
        .await
        .unwrap();
    assert!(changed.done().is_ok());
    let started = std::time::Instant::now();
    wait_until("the outside write to be read", std::time::Duration::from_secs(5), || async {
        r.soap.call(EXPORT, "GetDaginstitutionByNummer", lookup).await.body.contains("Ændret udefra")
    })
    .await;
    println!("an outside write was read after {:?}", started.elapsed());
}
