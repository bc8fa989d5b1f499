//! Compiles the contracts with the pure-Rust `protox`, so a build needs no `protoc`.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["dtr/registry.proto", "dtr/import.proto", "dtr/export.proto", "dtr/tilslutning.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(out.join("dtr_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        // Operations a later issue implements answer UNIMPLEMENTED until then.
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
