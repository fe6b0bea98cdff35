//! The command line every service binary takes: `--help`, `--version`,
//! `--config FILE` (instead of `$BOOMERANG_CONFIG`) and `--check-config`
//! (validate and exit). Environment variables still win over the file.
use std::path::{Path, PathBuf};

use clap::{CommandFactory as _, FromArgMatches as _, Parser};

#[derive(Debug, Parser)]
struct ServiceArgs {
    /// Configuration file: TOML, or JSON when it ends in .json (overrides
    /// $BOOMERANG_CONFIG); BOOMERANG_<SERVICE>__* variables win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Load and validate the configuration, print where it failed or that it
    /// is valid, and exit.
    #[arg(long)]
    check_config: bool,
}

/// Parses the command line of binary `name` and loads its configuration
/// with `load`; `None` when the process should exit now (`--check-config`).
/// `--help` and `--version` print and exit; a bad flag exits with status 2.
pub fn config<C>(
    name: &'static str,
    version: &'static str,
    about: &'static str,
    load: impl FnOnce(Option<&Path>) -> anyhow::Result<C>,
) -> anyhow::Result<Option<C>> {
    let matches = ServiceArgs::command()
        .name(name)
        .version(version)
        .about(about)
        .get_matches();
    let args = ServiceArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let cfg = load(args.config.as_deref())?;
    if args.check_config {
        println!("{name}: the configuration is valid");
        return Ok(None);
    }
    Ok(Some(cfg))
}
