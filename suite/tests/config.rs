//! `boomerang up` and `boomerang serve` read the configuration the README
//! documents, as each service's binary does: the file (`--config` or
//! `$BOOMERANG_CONFIG`), then `BOOMERANG_<SERVICE>__*`; a misspelt key fails
//! naming it (`up` used to ignore all of it).
mod support;

use std::process::{Command, Output};

fn boomerang(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Output> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_boomerang"));
    cmd.args(args)
        .env_remove("BOOMERANG_CONFIG")
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd.output()?)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn up_and_serve_refuse_a_misspelt_key_by_name() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().display().to_string();
    let typo = boomerang(
        &["up", "--data-dir", &data],
        &[("BOOMERANG_GATEWAY__RATE_LIMITS__PER_KEY_PER_SEECOND", "3")],
    )?;
    assert!(
        !typo.status.success() && stderr(&typo).contains("per_key_per_seecond"),
        "{}",
        stderr(&typo)
    );

    let file = dir.path().join("boomerang.toml");
    std::fs::write(&file, "[accrual]\nrelay = true\nno_such_key = 1\n")?;
    let path = file.display().to_string();
    for args in [
        vec!["up", "--config", &path, "--data-dir", &data],
        vec!["serve", "accrual", "--config", &path],
    ] {
        let out = boomerang(&args, &[])?;
        assert!(
            !out.status.success() && stderr(&out).contains("no_such_key"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    Ok(())
}

#[test]
fn the_file_and_the_environment_configure_every_service() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("boomerang.toml");
    std::fs::write(
        &file,
        "[gateway.rate_limits]\nper_key_per_second = 7\n\n[wallet.server]\ndefault_timeout_ms = 1234\n",
    )?;
    let configs = boomerang::Configs::load(Some(&file))?;
    assert_eq!(configs.gateway.rate_limits.per_key_per_second, 7);
    assert_eq!(configs.wallet.server.default_timeout_ms, 1234);
    assert_eq!(
        configs.accrual.server.default_timeout_ms,
        accrual_svc::Config::default().server.default_timeout_ms
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boomerang_health_answers_like_the_probes() -> anyhow::Result<()> {
    let (suite, _dbs) = support::start(
        boomerang_common::testing::TestBackend::Sqlite,
        gateway::limits::RateLimitConfig::default(),
    )
    .await?;
    let addr = format!("http://{}", suite.addrs().gateway);
    // Readiness turns SERVING after the first database check.
    let mut ready = None;
    for _ in 0..50 {
        let addr = addr.clone();
        let out = tokio::task::spawn_blocking(move || boomerang(&["health", "--addr", &addr], &[]))
            .await??;
        let done = out.status.success();
        ready = Some(out);
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ready = ready.ok_or_else(|| anyhow::anyhow!("never asked"))?;
    assert!(ready.status.success(), "{}", stderr(&ready));
    let unknown = tokio::task::spawn_blocking(move || {
        boomerang(&["health", "--addr", &addr, "--service", "nope"], &[])
    })
    .await??;
    assert!(!unknown.status.success());
    let nobody =
        tokio::task::spawn_blocking(|| boomerang(&["health", "--addr", "http://127.0.0.1:1"], &[]))
            .await??;
    assert!(!nobody.status.success());
    suite.stop().await
}
