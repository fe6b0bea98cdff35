//! `report`: pgbench's reference credit and every scenario in one run on
//! one machine, printed as one table of ratios and targets (the table in
//! docs/PERFORMANCE.md). Figures, never assertions.
use std::{fmt::Write as _, path::PathBuf, process::Command};

use crate::{Common, campaign, checkout, drive::Run, events, mixed, purchase, wallet};

/// Drops the reference's tables (as `schema.sql` does first).
const DROP_REFERENCE: &str =
    "DROP TABLE IF EXISTS ref_outbox, ref_entries, ref_transactions, ref_accounts";
/// The reference schema and script (`bench/perf/`), as pgbench runs them.
const SCHEMA: &str = include_str!("../perf/schema.sql");
const REFERENCE: &str = include_str!("../perf/wallet-credit.sql");

/// What `report` takes.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// PostgreSQL for pgbench and the services, e.g. postgres://postgres@127.0.0.1:5432/test.
    #[arg(long)]
    database_url: String,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Warm-up seconds per run.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Every run as JSON lines here too.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

fn run_cmd(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().map_err(|e| anyhow::anyhow!("{cmd:?}: {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// pgbench's tps for the reference credit at `clients`.
fn pgbench(url: &str, dir: &std::path::Path, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    let script = dir.join("wallet-credit.sql");
    let out = run_cmd(Command::new("pgbench").args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
        "-D",
        "customers=100000",
        "-f",
        &script.display().to_string(),
        url,
    ]))?;
    out.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {out}"))
}

struct Row {
    workload: String,
    clients: usize,
    measured: String,
    ratio: String,
    target: &'static str,
    met: bool,
}

/// Runs everything and prints the table.
pub async fn report(args: ReportArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("schema.sql"), SCHEMA)?;
    std::fs::write(dir.path().join("wallet-credit.sql"), REFERENCE)?;
    let url = args.database_url.as_str();
    run_cmd(
        Command::new("psql")
            .args([url, "-q", "-f"])
            .arg(dir.path().join("schema.sql")),
    )?;
    let common = |database_url: &str, clients: Vec<usize>, rate: f64| Common {
        database_url: database_url.to_owned(),
        clients,
        seconds: args.seconds,
        warmup: args.warmup,
        rate,
        json: false,
        no_group_commit: false,
        budget_slots: campaign_svc::domain::budget::SLOTS,
        address: None,
        key_file: None,
    };
    let mut runs: Vec<Run> = Vec::new();
    let mut reference = Vec::new();
    for clients in [32, 64] {
        let tps = pgbench(url, dir.path(), clients, args.seconds)?;
        println!("pgbench reference credit ({clients} clients): {tps:.0} tps");
        reference.push((clients, tps));
    }
    // The reference's tables go once measured, as the scenarios' schemas do.
    run_cmd(Command::new("psql").args([url, "-q", "-c", DROP_REFERENCE]))?;
    let ref_at = |clients: usize| {
        reference
            .iter()
            .find(|(c, _)| *c == clients)
            .map_or(f64::NAN, |(_, t)| *t)
    };
    let mut rows = Vec::new();

    let credits = wallet::credit(&common(url, vec![32, 64], 0.0), 100_000).await?;
    for (r, (target, wanted)) in credits.iter().zip([(">= 150%", 1.5), (">= 200%", 2.0)]) {
        let ratio = r.per_second / ref_at(r.clients);
        rows.push(Row {
            workload: "wallet Credit over gRPC (PostgreSQL)".into(),
            clients: r.clients,
            measured: format!("{:.0}/s, p99 {:.1} ms", r.per_second, r.p99_ms),
            ratio: format!("{:.0}%", ratio * 100.0),
            target,
            met: ratio >= wanted && r.failed() == 0,
        });
    }
    runs.extend(credits);

    let bought = purchase::purchases(&common(url, vec![1, 32, 64], 0.0), 1_000).await?;
    for r in &bought {
        let delivered = r.extra.get("delivered_per_s").copied().unwrap_or(0.0);
        let ratio = delivered / ref_at(r.clients);
        let (target, met) = match r.clients {
            1 => ("p50 < 5 ms", r.p50_ms < 5.0),
            32 => (">= 50%", ratio >= 0.5),
            _ => ("", true),
        };
        rows.push(Row {
            workload: "RecordPurchase via gateway, outbox delivered (PostgreSQL)".into(),
            clients: r.clients,
            measured: format!(
                "{delivered:.0}/s delivered ({:.0}/s answered), p50 {:.2} ms, p99 {:.1} ms",
                r.per_second, r.p50_ms, r.p99_ms
            ),
            ratio: if r.clients == 1 {
                String::new()
            } else {
                format!("{:.0}%", ratio * 100.0)
            },
            target,
            met: met && r.failed() == 0,
        });
    }
    let half = bought
        .iter()
        .find(|r| r.clients == 32)
        .and_then(|r| r.extra.get("delivered_per_s"))
        .map_or(100.0, |d| d / 2.0);
    runs.extend(bought);
    let paced = purchase::purchases(&common(url, vec![32], half), 1_000).await?;
    for r in &paced {
        rows.push(Row {
            workload: format!("RecordPurchase at half that rate ({half:.0}/s offered)"),
            clients: r.clients,
            measured: format!("{:.0}/s, p99 {:.1} ms", r.per_second, r.p99_ms),
            ratio: String::new(),
            target: "p99 < 50 ms",
            met: r.p99_ms < 50.0 && r.failed() == 0,
        });
    }
    runs.extend(paced);

    let sqlite = purchase::purchases(&common("", vec![32], 0.0), 1_000).await?;
    for r in &sqlite {
        let delivered = r.extra.get("delivered_per_s").copied().unwrap_or(0.0);
        rows.push(Row {
            workload: "RecordPurchase via gateway, outbox delivered (SQLite)".into(),
            clients: r.clients,
            measured: format!(
                "{delivered:.0}/s delivered ({:.0}/s answered), p99 {:.1} ms",
                r.per_second, r.p99_ms
            ),
            ratio: String::new(),
            target: ">= 2,000/s",
            met: delivered >= 2_000.0 && r.failed() == 0,
        });
    }
    runs.extend(sqlite);

    let hot = purchase::hot_campaign(&common(url, vec![32], 0.0), 1_000).await?;
    for r in &hot {
        let delivered = r.extra.get("delivered_per_s").copied().unwrap_or(0.0);
        rows.push(Row {
            workload: "RecordPurchase, every purchase reserving from one campaign budget".into(),
            clients: r.clients,
            measured: format!("{delivered:.0}/s delivered, p99 {:.1} ms", r.p99_ms),
            ratio: format!("{:.0}%", delivered / ref_at(r.clients) * 100.0),
            target: "",
            met: r.failed() == 0,
        });
    }
    runs.extend(hot);
    let mut reserved = Vec::new();
    for slots in [campaign_svc::domain::budget::SLOTS, 1] {
        let opts = Common {
            budget_slots: slots,
            ..common(url, vec![32], 0.0)
        };
        reserved.extend(campaign::reserve(&opts).await?);
    }
    if let [split, one] = reserved.as_slice() {
        let times = split.per_second / one.per_second;
        rows.push(Row {
            workload: format!(
                "ReserveBudget on one budget: {} slots against one row",
                campaign_svc::domain::budget::SLOTS
            ),
            clients: split.clients,
            measured: format!(
                "{:.0}/s against {:.0}/s (p99 {:.1} ms against {:.1} ms)",
                split.per_second, one.per_second, split.p99_ms, one.p99_ms
            ),
            ratio: format!("{times:.1}x"),
            target: ">= 5x",
            met: times >= 5.0 && split.failed() + one.failed() == 0,
        });
    }
    runs.extend(reserved);
    let day = mixed::mixed(&common(url, vec![32], 0.0), 1_000).await?;
    for r in &day {
        let delivered = r.extra.get("delivered_per_s").copied().unwrap_or(0.0);
        rows.push(Row {
            workload: "mixed: 70% purchase, 10% return, 15% checkout redeem, 5% read".into(),
            clients: r.clients,
            measured: format!(
                "{delivered:.0}/s delivered, p50 {:.1} ms, p99 {:.1} ms",
                r.p50_ms, r.p99_ms
            ),
            ratio: format!("{:.0}%", delivered / ref_at(r.clients) * 100.0),
            target: "",
            met: r.failed() == 0,
        });
    }
    runs.extend(day);

    let carts = checkout::evaluate(&common(url, vec![1, 8], 0.0), 1_000).await?;
    for r in &carts {
        rows.push(Row {
            workload:
                "EvaluateCart via gateway: 20 lines, 3 codes, points and cashback (PostgreSQL)"
                    .into(),
            clients: r.clients,
            measured: format!(
                "{:.0}/s, p50 {:.2} ms, p99 {:.1} ms",
                r.per_second, r.p50_ms, r.p99_ms
            ),
            ratio: String::new(),
            target: if r.clients == 1 { "p50 < 5 ms" } else { "" },
            met: (r.clients != 1 || r.p50_ms < 5.0) && r.failed() == 0,
        });
    }
    runs.extend(carts);

    let out = events::events(&common(url, vec![1], 0.0), 2_500).await?;
    for r in &out {
        rows.push(Row {
            workload: format!("{} from a backlog of 5,000 (PostgreSQL)", r.scenario),
            clients: 1,
            measured: format!("{:.0} events/s", r.per_second),
            ratio: format!("{:.0}%", r.per_second / ref_at(32) * 100.0),
            target: "",
            met: r.failed() == 0,
        });
    }
    runs.extend(out);

    // Paced well below capacity: what the gateway adds to a call, not the
    // queue of a saturated 2-core machine.
    let overhead = purchase::gateway_overhead(&common("", vec![8], 1_000.0)).await?;
    if let Some(via) = overhead.iter().find(|r| r.scenario == "gateway-overhead") {
        let p50 = via.extra.get("added_p50_ms").copied().unwrap_or(f64::NAN);
        let p99 = via.extra.get("added_p99_ms").copied().unwrap_or(f64::NAN);
        rows.push(Row {
            workload: "gateway added latency (GetBalance, 1,000 calls/s offered)".into(),
            clients: via.clients,
            measured: format!("+{p50:.3} ms p50, +{p99:.3} ms p99"),
            ratio: String::new(),
            target: "<= 0.3 ms p50, <= 1 ms p99",
            met: p50 <= 0.3 && p99 <= 1.0,
        });
    }
    runs.extend(overhead);

    let peak = peak_rss_mb();
    rows.push(Row {
        workload: "peak RSS of the whole run (five services and the load generator in one process)"
            .into(),
        clients: 64,
        measured: format!("{peak:.0} MB"),
        ratio: String::new(),
        target: "< 200 MB per service",
        met: peak < 200.0,
    });
    let idle = idle_rss_mb().await;
    rows.push(Row {
        workload: "idle RSS per service (`boomerang serve <service>`, SQLite)".into(),
        clients: 0,
        measured: match &idle {
            Ok(each) => each
                .iter()
                .map(|(s, mb)| format!("{s} {mb:.0} MB"))
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("not measured: {e}"),
        },
        ratio: String::new(),
        target: "< 60 MB",
        met: idle.is_ok_and(|each| each.iter().all(|(_, mb)| *mb < 60.0)),
    });

    print!("{}", table(url, &reference, &rows)?);
    if let Some(path) = &args.json_out {
        let lines: Vec<String> = runs
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()?;
        std::fs::write(path, lines.join("\n") + "\n")?;
    }
    Ok(())
}

fn table(url: &str, reference: &[(usize, f64)], rows: &[Row]) -> anyhow::Result<String> {
    let commit = run_cmd(Command::new("git").args(["rev-parse", "--short", "HEAD"]))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let dirty =
        run_cmd(Command::new("git").args(["status", "--porcelain", "--untracked-files=no"]))
            .is_ok_and(|s| !s.trim().is_empty());
    let pg = run_cmd(Command::new("psql").args([url, "-tAc", "SHOW server_version"]))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let machine = run_cmd(Command::new("uname").args(["-srm"]))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let date = run_cmd(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let mut out = String::new();
    writeln!(
        out,
        "\n{date}, commit {commit}{}, {machine}, {cores} cores, PostgreSQL {pg}, release build\n",
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    )?;
    let refs: Vec<String> = reference
        .iter()
        .map(|(c, t)| format!("{t:.0} tps at {c} clients"))
        .collect();
    writeln!(
        out,
        "Reference (pgbench, 5-statement credit): {}\n",
        refs.join(", ")
    )?;
    writeln!(
        out,
        "| workload | clients | measured | of reference | target | met |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for r in rows {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.clients,
            r.measured,
            r.ratio,
            r.target,
            if r.target.is_empty() {
                ""
            } else if r.met {
                "yes"
            } else {
                "**no**"
            }
        )?;
    }
    Ok(out)
}

/// The process's peak resident set (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1_024.0)
}

/// Resident set (VmRSS) of process `pid`, in MB.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()?;
    Some(kb / 1_024.0)
}

/// Each service as its own process (`boomerang serve`, the binary built next
/// to this one), on SQLite in a temporary folder: its RSS once serving.
async fn idle_rss_mb() -> anyhow::Result<Vec<(&'static str, f64)>> {
    let exe = std::env::current_exe()?;
    let boomerang = exe.with_file_name("boomerang");
    anyhow::ensure!(
        boomerang.exists(),
        "no {} (cargo build --release -p boomerang)",
        boomerang.display()
    );
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("internal.key");
    std::fs::write(&key, run_cmd(Command::new(&boomerang).arg("keygen"))?)?;
    let mut each = Vec::new();
    for service in ["gateway", "wallet", "accrual", "campaign", "referral"] {
        let upper = service.to_uppercase();
        let mut child = Command::new(&boomerang)
            .args(["serve", service])
            .current_dir(dir.path())
            .env(format!("BOOMERANG_{upper}__INTERNAL_AUTH__KEY_FILE"), &key)
            .env(format!("BOOMERANG_{upper}__SERVER__LISTEN"), "127.0.0.1:0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        // Migrated and serving within a few seconds; then idle.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let mb = rss_mb(child.id());
        child.kill()?;
        child.wait()?;
        each.push((
            service,
            mb.ok_or_else(|| anyhow::anyhow!("{service} exited"))?,
        ));
    }
    Ok(each)
}
