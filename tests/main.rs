//! The end-to-end suite, one test binary with a module per subject (so the tree links once):
//! SOAP through the real gateway over HTTPS, gRPC straight to the services, both storage backends,
//! the embedded (`dtr up`) and the distributed mode as separate processes. Run it with
//! `scripts/test.sh`, which starts PostgreSQL and Redis for it.

mod common;

mod backup;
mod conformance;
mod demo_data;
mod e2e_distributed;
mod e2e_embedded;
mod export_code_cache;
mod export_extracts;
mod export_lookups;
mod import_anvisningsenhed;
mod import_daginstitution;
mod import_legacy;
mod import_sequence;
mod lookup_http;
mod operations;
mod portal_api;
mod portal_browser;
mod portal_login;
mod portal_oidc;
mod read_your_writes;
mod readme;
mod register_pages;
mod resilience;
mod revalidation;
mod soap_credentials;
mod soap_hostile;
mod soap_http;
mod soap_snapshots;
mod soap_zeep;
mod tilslutning_admin;
mod tilslutning_aftaler;
mod tilslutning_enforcement;
mod tilslutning_notifikationer;
mod tilslutning_personer;
mod tilslutning_systemer;
mod trust_attacks;
