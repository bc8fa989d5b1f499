//! Agreement life cycles over gRPC on PostgreSQL and SQLite: a provider requests connections and
//! data access, STIL and the owners decide along the allowed transitions (every refused one
//! changes nothing), bulk decisions, history with actor, time, from, to and comment, listing
//! with paging and deleted records on request — and the gateway obeys the outcome at once.

use crate::common;
use common::grpc::som;

use dtr_proto::tilslutning::{
    AftaleStatus, BulkDecideRequest, DecideRequest, ListAftalerRequest, RequestDataaftalerRequest,
    RequestTilslutningRequest, Side,
};
use dtr_tilslutning::store::NewSystem;

use common::cluster::{self, Running};
use common::{IMPORT, payload, xml_text};

type Client = common::grpc::Tilslutning;

async fn decide_data(c: &mut Client, org: &str, id: &str, til: AftaleStatus) -> Result<AftaleStatus, tonic::Code> {
    let req = DecideRequest { aftale_id: id.into(), til: til as i32, kommentar: format!("til {til:?}") };
    match c.decide_dataaftale(som(org, req)).await {
        Ok(a) => Ok(a.into_inner().aftale_status()),
        Err(s) => Err(s.code()),
    }
}

async fn scenario(r: Running) {
    let mut c = r.tilslutning().await;
    let store = dtr_tilslutning::connect(&r.db).await.unwrap();
    let hash = dtr_tilslutning::credentials::hash_password("z-hemmelighed").unwrap();
    // The provider of the demo (embedded) or the tests' provider (distributed).
    let provider = store_provider(&r).await;
    store
        .create_system(&NewSystem {
            id: "sys-z",
            navn: "Z",
            udbyder_kode: &provider,
            brugernavn: "z-bruger",
            password_hash: &hash,
        })
        .await
        .unwrap();
    let z = r.soap.with_login("z-bruger", "z-hemmelighed");
    let insert = payload::daginstitution(payload::KOEBENHAVN, "Livscyklus");
    let write = || z.call(IMPORT, "InsertDaginstitution", &insert);

    // The provider requests a connection; only STIL decides; a repeated request returns it.
    let req = || RequestTilslutningRequest {
        udbydersystem_id: "sys-z".into(),
        servicekode: "ImportService".into(),
        kommentar: "vi vil importere".into(),
    };
    let other = c.request_tilslutning(som("ANDEN", req())).await.unwrap_err();
    assert_eq!(other.code(), tonic::Code::PermissionDenied, "another provider cannot request for the system");
    let t = c.request_tilslutning(som(&provider, req())).await.unwrap().into_inner();
    assert_eq!(t.status(), AftaleStatus::Venter);
    assert_eq!(c.request_tilslutning(som(&provider, req())).await.unwrap().into_inner().aftale_id, t.aftale_id);
    let decide_t =
        |til: AftaleStatus| DecideRequest { aftale_id: t.aftale_id.clone(), til: til as i32, kommentar: "STIL".into() };
    assert_eq!(
        c.decide_tilslutning(som(&provider, decide_t(AftaleStatus::Godkendt))).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    let t2 = c.decide_tilslutning(som("STIL", decide_t(AftaleStatus::Godkendt))).await.unwrap().into_inner();
    assert_eq!(t2.status(), AftaleStatus::Godkendt);
    let refused = c.decide_tilslutning(som("STIL", decide_t(AftaleStatus::Venter))).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("GODKENDT til VENTER"), "{}", refused.message());

    // Data access for two owners at once; each owner decides its own.
    let d = c
        .request_dataaftaler(som(
            &provider,
            RequestDataaftalerRequest {
                udbydersystem_id: "sys-z".into(),
                servicekode: "ImportService".into(),
                ejer_koder: vec!["101".into(), "147".into()],
                kommentar: "pladsanvisning".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .dataaftaler;
    assert_eq!(d.iter().map(|a| a.aftale_status()).collect::<Vec<_>>(), vec![AftaleStatus::Venter; 2]);
    let (kbh, frb) = (d[0].aftale_id.clone(), d[1].aftale_id.clone());
    assert_eq!(xml_text(&write().await.body, "ErrorCode"), Some("IPL000015"), "waiting is not approved");
    assert_eq!(
        decide_data(&mut c, "147", &kbh, AftaleStatus::Godkendt).await,
        Err(tonic::Code::PermissionDenied),
        "only the owner decides"
    );

    // Every transition from every status: allowed ones go through, refused ones change nothing.
    let cases = [
        (AftaleStatus::Venter, AftaleStatus::Venter, false),
        (AftaleStatus::Venter, AftaleStatus::Afvist, true),
        (AftaleStatus::Afvist, AftaleStatus::Afvist, false),
        (AftaleStatus::Afvist, AftaleStatus::Venter, true),
        (AftaleStatus::Venter, AftaleStatus::Godkendt, true),
        (AftaleStatus::Godkendt, AftaleStatus::Godkendt, false),
        (AftaleStatus::Godkendt, AftaleStatus::Venter, true),
        (AftaleStatus::Venter, AftaleStatus::Godkendt, true),
        (AftaleStatus::Godkendt, AftaleStatus::Afvist, true),
        (AftaleStatus::Afvist, AftaleStatus::Godkendt, true),
    ];
    for (fra, til, ok) in cases {
        let got = decide_data(&mut c, "101", &kbh, til).await;
        if ok {
            assert_eq!(got, Ok(til), "{fra:?} → {til:?}");
        } else {
            assert_eq!(got, Err(tonic::Code::FailedPrecondition), "{fra:?} → {til:?} is refused");
        }
    }
    // Approved: the gateway lets the write through at once.
    let ok = write().await;
    assert_eq!(xml_text(&ok.body, "status"), Some("OK"), "{}", ok.body);
    // Revoked: refused at once.
    assert_eq!(decide_data(&mut c, "101", &kbh, AftaleStatus::Afvist).await, Ok(AftaleStatus::Afvist));
    assert_eq!(xml_text(&write().await.body, "ErrorCode"), Some("IPL000015"));

    // History: actor, time, from, to, comment for every change, refused ones absent.
    let list = |ejer: &str, med_slettede: bool, side: Option<Side>| ListAftalerRequest {
        udbydersystem_id: "sys-z".into(),
        ejer_kode: ejer.into(),
        med_slettede,
        side,
        ..Default::default()
    };
    let a = c.list_dataaftaler(som("101", list("101", false, None))).await.unwrap().into_inner().aftaler;
    assert_eq!(a.len(), 1);
    let h = &a[0].historik;
    assert_eq!(h.len(), 9, "the request and eight decisions");
    assert_eq!(h[0].aktoer, provider);
    assert_eq!(h[0].fra(), AftaleStatus::Unspecified);
    assert_eq!(h[0].til(), AftaleStatus::Venter);
    assert_eq!(h[0].kommentar, "pladsanvisning");
    assert_eq!((h[1].aktoer.as_str(), h[1].fra(), h[1].til()), ("101", AftaleStatus::Venter, AftaleStatus::Afvist));
    assert!(h.iter().all(|l| l.tidspunkt.is_some()));

    // SLETTET is final and listed only on request; a new request makes a new agreement.
    assert_eq!(decide_data(&mut c, "147", &frb, AftaleStatus::Slettet).await, Ok(AftaleStatus::Slettet));
    assert_eq!(decide_data(&mut c, "147", &frb, AftaleStatus::Venter).await, Err(tonic::Code::FailedPrecondition));
    assert!(c.list_dataaftaler(som("147", list("147", false, None))).await.unwrap().into_inner().aftaler.is_empty());
    assert_eq!(c.list_dataaftaler(som("147", list("147", true, None))).await.unwrap().into_inner().aftaler.len(), 1);

    // Bulk: the owner approves every waiting agreement of its own at once.
    let ejere: Vec<String> = (1..=5).map(|i| format!("{}", 150 + i)).collect();
    c.request_dataaftaler(som(
        &provider,
        RequestDataaftalerRequest {
            udbydersystem_id: "sys-z".into(),
            servicekode: "ImportService".into(),
            ejer_koder: ejere.clone(),
            kommentar: String::new(),
        },
    ))
    .await
    .unwrap();
    let bulk = |ejer: &str, til: AftaleStatus| BulkDecideRequest {
        ejer_kode: ejer.into(),
        til: til as i32,
        kommentar: "alle".into(),
    };
    assert_eq!(
        c.bulk_decide_dataaftaler(som("151", bulk("152", AftaleStatus::Godkendt))).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    let done = c.bulk_decide_dataaftaler(som("153", bulk("153", AftaleStatus::Godkendt))).await.unwrap().into_inner();
    assert_eq!(done.dataaftaler.len(), 1);
    assert_eq!(done.dataaftaler[0].aftale_status(), AftaleStatus::Godkendt);
    assert_eq!(
        c.bulk_decide_dataaftaler(som("153", bulk("153", AftaleStatus::Venter))).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );

    // Paging: 2 a page through the system's agreements, then the end; over 300 is refused.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let req = ListAftalerRequest {
            udbydersystem_id: "sys-z".into(),
            med_slettede: true,
            side: Some(Side { stoerrelse: 2, token: token.clone() }),
            ..Default::default()
        };
        let page = c.list_dataaftaler(som(&provider, req)).await.unwrap().into_inner();
        assert!(page.aftaler.len() <= 2);
        seen.extend(page.aftaler.into_iter().map(|a| a.aftale_id));
        if page.naeste_side.is_empty() {
            break;
        }
        token = page.naeste_side;
    }
    assert_eq!(seen.len(), 2 + 5, "every agreement once");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len());
    let big = ListAftalerRequest { side: Some(Side { stoerrelse: 301, token: String::new() }), ..Default::default() };
    assert_eq!(c.list_dataaftaler(som(&provider, big)).await.unwrap_err().code(), tonic::Code::InvalidArgument);
}

/// The provider the test's system belongs to: the demo's in the embedded mode, the one
/// `cluster::seed_system` registers in the distributed mode.
async fn store_provider(r: &Running) -> String {
    if r.db.starts_with("sqlite:") { "DEMO01".into() } else { "UDB1".into() }
}

#[tokio::test]
async fn agreement_life_cycles_postgres() {
    scenario(cluster::distributed().await).await;
}

#[tokio::test]
async fn agreement_life_cycles_sqlite() {
    scenario(cluster::embedded().await).await;
}
