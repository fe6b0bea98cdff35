//! The binary's command line: `--help` and `--version` print and exit (they
//! used to start serving on the default port), `--check-config` validates and
//! exits, `--config FILE` is read, and a misspelt key fails naming it.
use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Output> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wallet-svc"));
    cmd.args(args)
        .env_remove("BOOMERANG_CONFIG")
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd.output()?)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn help_version_and_config_checks_exit_without_serving() -> anyhow::Result<()> {
    let help = run(&["--help"], &[])?;
    assert!(
        help.status.success() && text(&help).contains("--check-config"),
        "{}",
        text(&help)
    );
    let version = run(&["--version"], &[])?;
    assert!(version.status.success() && text(&version).contains(env!("CARGO_PKG_VERSION")));

    let valid = run(&["--check-config"], &[])?;
    assert!(
        valid.status.success() && text(&valid).contains("valid"),
        "{}",
        text(&valid)
    );
    let typo = run(
        &["--check-config"],
        &[("BOOMERANG_WALLET__SERVER__LISTNE", "x")],
    )?;
    assert!(
        !typo.status.success() && text(&typo).contains("listne"),
        "{}",
        text(&typo)
    );

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("boomerang.toml");
    std::fs::write(&file, "[wallet.ledger]\nno_such_key = 1\n")?;
    let path = file.display().to_string();
    let bad_file = run(&["--config", &path, "--check-config"], &[])?;
    assert!(
        !bad_file.status.success() && text(&bad_file).contains("no_such_key"),
        "{}",
        text(&bad_file)
    );

    let unknown_flag = run(&["--serve-forever"], &[])?;
    assert_eq!(
        unknown_flag.status.code(),
        Some(2),
        "{}",
        text(&unknown_flag)
    );
    Ok(())
}
