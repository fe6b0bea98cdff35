//! The load driver: N clients in closed loop for a fixed time after a
//! warm-up, every call's latency in an HDR histogram, errors by gRPC code.
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use hdrhistogram::Histogram;
use serde::Serialize;

/// One call of a scenario: worker number and call number in, done or a status out.
pub type Op =
    Arc<dyn Fn(usize, u64) -> BoxFuture<'static, Result<(), tonic::Status>> + Send + Sync>;

/// How long and how wide.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Concurrent clients.
    pub clients: usize,
    /// Not measured, first.
    pub warmup: Duration,
    /// Measured.
    pub measured: Duration,
    /// Calls per second offered by all clients together (paced: each client
    /// starts its calls on a fixed schedule); `None`: each calls again as soon
    /// as answered.
    pub rate: Option<f64>,
}

/// What one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// Scenario name.
    pub scenario: String,
    /// SQLite or PostgreSQL (or the address run against).
    pub backend: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Measured seconds.
    pub seconds: f64,
    /// Calls answered OK in the measured time.
    pub ok: u64,
    /// OK calls per second.
    pub per_second: f64,
    /// Latency percentiles of OK calls, milliseconds.
    pub p50_ms: f64,
    /// 90th.
    pub p90_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// 99.9th.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Failed calls by gRPC code.
    pub errors: BTreeMap<String, u64>,
    /// The first message seen of each failing code.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub first_errors: BTreeMap<String, String>,
    /// Scenario-specific figures (e.g. when the outbox was delivered).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

impl Run {
    /// Total failed calls.
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    /// One line for people.
    pub fn line(&self) -> String {
        let errors = if self.errors.is_empty() {
            "no errors".to_owned()
        } else {
            let each: Vec<String> = self
                .errors
                .iter()
                .map(|(c, n)| {
                    let first = self.first_errors.get(c).map_or("", String::as_str);
                    format!("{c} {n} (first: {first:?})")
                })
                .collect();
            format!("errors: {}", each.join(", "))
        };
        let extra: Vec<String> = self
            .extra
            .iter()
            .map(|(k, v)| format!(", {k} {v:.1}"))
            .collect();
        format!(
            "{} ({}, {} clients, {:.0} s): {:.0}/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms{}; {errors}",
            self.scenario,
            self.backend,
            self.clients,
            self.seconds,
            self.per_second,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            extra.concat(),
        )
    }
}

/// Runs `op` from `load.clients` workers until the time is up.
pub async fn drive(scenario: &str, backend: &str, load: Load, op: Op) -> anyhow::Result<Run> {
    let started = Instant::now();
    let end = load.warmup + load.measured;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..load.clients {
        let op = op.clone();
        workers.spawn(async move {
            let mut latencies = Histogram::<u64>::new(3)?;
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let mut first: BTreeMap<String, String> = BTreeMap::new();
            let mut n = 0u64;
            // Paced clients start staggered, one interval apart in all.
            let interval = load
                .rate
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(load.clients as f64 / r));
            while started.elapsed() < end {
                n += 1;
                if let Some(every) = interval {
                    let due = every.mul_f64(n as f64 - 1.0 + worker as f64 / load.clients as f64);
                    tokio::time::sleep_until((started + due).into()).await;
                }
                let sent = Instant::now();
                let result = op(worker, n).await;
                if started.elapsed() <= load.warmup || started.elapsed() > end {
                    continue;
                }
                match result {
                    Ok(()) => {
                        let us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                        latencies.record(us.max(1))?;
                    }
                    Err(status) => {
                        let code = format!("{:?}", status.code());
                        first
                            .entry(code.clone())
                            .or_insert_with(|| status.message().chars().take(200).collect());
                        *errors.entry(code).or_default() += 1;
                    }
                }
            }
            anyhow::Ok((latencies, errors, first))
        });
    }
    let mut all = Histogram::<u64>::new(3)?;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_errors: BTreeMap<String, String> = BTreeMap::new();
    while let Some(done) = workers.join_next().await {
        let (latencies, errs, first) = done??;
        all.add(latencies)?;
        for (code, message) in first {
            first_errors.entry(code).or_insert(message);
        }
        for (code, n) in errs {
            *errors.entry(code).or_default() += n;
        }
    }
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1_000.0;
    let seconds = load.measured.as_secs_f64();
    Ok(Run {
        scenario: scenario.to_owned(),
        backend: backend.to_owned(),
        clients: load.clients,
        seconds,
        ok: all.len(),
        per_second: all.len() as f64 / seconds,
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: all.max() as f64 / 1_000.0,
        errors,
        first_errors,
        extra: BTreeMap::new(),
    })
}
