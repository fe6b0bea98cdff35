//! What every Prometheus metric means, so `/metrics` carries a `# HELP` line
//! for each, and the process metrics (CPU, memory, open files) every
//! dashboard expects. Installed by [`crate::telemetry::init`] when metrics
//! are served.
use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Describes every metric Boomerang records (a new metric gets its line here).
pub fn describe() {
    describe_counter!(
        "boomerang_grpc_requests_total",
        "gRPC calls answered, by method, status code and layer (gateway: what callers asked; service: what a service served)"
    );
    describe_histogram!(
        "boomerang_grpc_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a gRPC call, by method and layer"
    );
    describe_gauge!(
        "boomerang_upstream_replicas",
        "Replicas an upstream's DNS name resolved to, by upstream"
    );
    describe_counter!(
        "boomerang_upstream_ejections_total",
        "Times a replica was left out after a transport failure, by upstream"
    );
    describe_counter!(
        "boomerang_notify_deliveries_total",
        "Webhook delivery attempts by outcome: delivered, failed (tried again later), dead_letter (out of retry budget)"
    );
    describe_histogram!(
        "boomerang_notify_delivery_lag_seconds",
        Unit::Seconds,
        "From an event to its delivery to a webhook (retries included)"
    );
    describe_gauge!(
        "boomerang_notify_dead_letters",
        "Webhook deliveries parked as dead letters, waiting for a replay"
    );
    describe_counter!(
        "boomerang_notify_published_total",
        "Events notify-svc published on NATS JetStream (acknowledged)"
    );
    describe_gauge!(
        "boomerang_notify_unpublished",
        "Events waiting to be published on NATS JetStream (NATS unreachable when it grows)"
    );
    describe_counter!(
        "boomerang_notify_events_read_total",
        "Events notify-svc read from each followed service's log, by source"
    );
    describe_counter!(
        "boomerang_ledger_postings_total",
        "Ledger postings written, by asset"
    );
    describe_gauge!(
        "boomerang_wallet_liability",
        "Money owed to customers in major units, by tenant, asset and state (pending, available), sampled every 30 s"
    );
    describe_counter!(
        "boomerang_campaign_budget_minor_total",
        "Campaign budget in minor units, by currency and outcome (reserved, confirmed, released)"
    );
    describe_histogram!(
        "boomerang_wallet_group_commit_size",
        "Credits written per wallet transaction (group commit)"
    );
    describe_counter!(
        "boomerang_wallet_group_commit_fallbacks_total",
        "Wallet credit groups that failed as a whole and were written again one credit at a time"
    );
    describe_counter!(
        "boomerang_jobs_total",
        "Durable jobs run, by queue and outcome (done, retry)"
    );
    describe_counter!(
        "boomerang_jobs_parked_total",
        "Jobs parked for an operator (attempts exhausted or refused for good), by queue; see JobService"
    );
    describe_gauge!(
        "boomerang_jobs_backlog",
        "Jobs due and not done, by queue and kind (outbox, timer)"
    );
    describe_gauge!(
        "boomerang_jobs_oldest_due_seconds",
        Unit::Seconds,
        "How long the oldest due job has waited, by queue and kind (for the outbox: the delivery lag)"
    );
    describe_histogram!(
        "boomerang_job_lag_seconds",
        Unit::Seconds,
        "From a job's due time (an outbox message: when it was written) to when a runner took it, by queue"
    );
    describe_gauge!(
        "process_resident_memory_bytes",
        Unit::Bytes,
        "Resident memory of the process"
    );
    describe_gauge!(
        "process_cpu_seconds_total",
        Unit::Seconds,
        "CPU time the process has used, user and system"
    );
    describe_gauge!("process_open_fds", "Open file descriptors of the process");
    describe_gauge!(
        "process_start_time_seconds",
        Unit::Seconds,
        "When the process started, in seconds since the Unix epoch"
    );
}

/// How often process metrics are read.
const PROCESS_SAMPLE: Duration = Duration::from_secs(10);

/// Samples the process metrics every 10 s on the current runtime (Linux
/// `/proc`; elsewhere nothing is recorded).
pub fn sample_process() {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    #[allow(clippy::cast_precision_loss)] // gauges
    let started = crate::time::now_micros() as f64 / 1e6;
    tokio::spawn(async move {
        metrics::gauge!("process_start_time_seconds").set(started);
        loop {
            if let Some(p) = Process::read() {
                metrics::gauge!("process_resident_memory_bytes").set(p.rss_bytes);
                metrics::gauge!("process_cpu_seconds_total").set(p.cpu_seconds);
                metrics::gauge!("process_open_fds").set(p.open_fds);
            }
            tokio::time::sleep(PROCESS_SAMPLE).await;
        }
    });
}

/// One reading of `/proc/self`.
#[derive(Debug, PartialEq)]
struct Process {
    rss_bytes: f64,
    cpu_seconds: f64,
    open_fds: f64,
}

/// Clock ticks per second of `/proc/self/stat` (USER_HZ; 100 on Linux).
const TICKS: f64 = 100.0;
const PAGE: f64 = 4096.0;

impl Process {
    fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        #[allow(clippy::cast_precision_loss)] // gauges
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
        Self::parse(&stat, &statm, open_fds)
    }

    /// utime and stime are fields 14 and 15 of `stat`, counted after the
    /// command name (which may hold spaces, inside parentheses); resident
    /// pages are the second field of `statm`.
    fn parse(stat: &str, statm: &str, open_fds: f64) -> Option<Self> {
        let after_name = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
        // Field 3 (state) is fields[0] here, so utime (14) is fields[11].
        let cpu_seconds = (ticks(11)? + ticks(12)?) / TICKS;
        let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(Self {
            rss_bytes: pages * PAGE,
            cpu_seconds,
            open_fds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_readings_parse_with_spaces_in_the_name() {
        let stat =
            "4242 (wallet svc) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
        let p = Process::parse(stat, "5000 1200 300 1 0 900 0", 7.0);
        assert_eq!(
            p,
            Some(Process {
                rss_bytes: 1200.0 * 4096.0,
                cpu_seconds: 3.0,
                open_fds: 7.0
            })
        );
    }

    #[test]
    fn this_process_reads() {
        assert!(Process::read().is_some_and(|p| p.rss_bytes > 0.0 && p.open_fds > 0.0));
    }
}
