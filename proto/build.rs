//! Compiles every v1 contract once, with protox (pure Rust, no system protoc),
//! and keeps the encoded descriptor set for server reflection.
use std::{env, fs, path::PathBuf};

use prost_types::FileDescriptorSet;

const PROTOS: &[&str] = &[
    "boomerang/common/v1/common.proto",
    "boomerang/wallet/v1/wallet.proto",
    "boomerang/accrual/v1/accrual.proto",
    "boomerang/accrual/v1/checkout.proto",
    "boomerang/accrual/v1/experiments.proto",
    "boomerang/accrual/v1/simulation.proto",
    "boomerang/campaign/v1/campaign.proto",
    "boomerang/campaign/v1/coupons.proto",
    "boomerang/referral/v1/referral.proto",
    "boomerang/notify/v1/notify.proto",
    "boomerang/admin/v1/admin.proto",
    "boomerang/admin/v1/jobs.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds: FileDescriptorSet = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out.join("boomerang_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        // Ordered maps encode deterministically: idempotency hashes the encoded request.
        .btree_map(".")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
