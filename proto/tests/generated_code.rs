//! The gRPC code made from the .proto files is committed under `src/generated/`, so building a
//! crate that depends on `proto` (the SDK, every job) runs no code generator. This test makes it
//! again with protox and tonic-prost-build and fails when the committed copy is stale; run it
//! with `MR_UPDATE_PROTO=1` to rewrite the copy after changing a .proto file.

use std::path::Path;

const PROTOS: [&str; 2] = ["proto/dfs.proto", "proto/jobs.proto"];
const GENERATED: [&str; 2] = ["dfs.rs", "jobs.rs"];

#[test]
fn committed_code_matches_the_proto_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().expect("temp dir");
    let descriptors = protox::compile(PROTOS.map(|p| root.join(p)), [root.join("proto")])
        .expect("the .proto files compile");
    tonic_prost_build::configure()
        .bytes(".")
        .out_dir(out.path())
        .compile_fds(descriptors)
        .expect("code generation");
    let update = std::env::var_os("MR_UPDATE_PROTO").is_some();
    let mut stale = Vec::new();
    for name in GENERATED {
        let fresh = std::fs::read_to_string(out.path().join(name)).expect("generated file");
        let committed_path = root.join("src/generated").join(name);
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        if fresh != committed {
            if update {
                std::fs::write(&committed_path, &fresh).expect("rewrite the committed copy");
            } else {
                stale.push(committed_path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated code in {stale:?}: run `MR_UPDATE_PROTO=1 cargo test --release -p proto --test generated_code` and commit the result"
    );
}
