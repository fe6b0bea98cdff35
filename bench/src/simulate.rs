//! The what-if over recorded purchases: `n` purchases of the demo program
//! recorded through the gateway (every tenth returned by default), then a richer draft
//! of it priced over them
//! by `SimulationService/SimulateProgram` (timed on its own, after the
//! outbox drained).
use std::time::{Duration, Instant};

use boomerang_proto::accrual::v1::{
    self as pb, accrual_service_client::AccrualServiceClient,
    simulation_service_client::SimulationServiceClient,
};

use tonic::Code;

use crate::{
    Common, authed,
    purchase::{Shop, purchase},
};

/// Members the purchases are spread over.
const MEMBERS: u32 = 1_000;
/// Concurrent recorders.
const RECORDERS: u32 = 32;

/// What `simulate` measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Simulated {
    /// SQLite or PostgreSQL.
    pub backend: String,
    /// Purchases priced.
    pub purchases: u64,
    /// Recording them (not the figure; set-up).
    pub record_seconds: f64,
    /// The SimulateProgram call, through the gateway.
    pub seconds: f64,
    /// Purchases priced per second.
    pub per_second: f64,
    /// The same what-if as a job (StartSimulation, then GetSimulation every
    /// 200 ms until done), from the start to the answer read.
    pub job_seconds: f64,
    /// The draft's cost delta, for a glance that it priced something.
    pub cost_delta: String,
}

/// `simulate`: records `purchases` (one in `returned_every` returned; 0:
/// none), then times one what-if over them.
pub async fn simulate(
    common: &Common,
    purchases: u32,
    returned_every: u32,
) -> anyhow::Result<Simulated> {
    let shop = Shop::open(common, "simulate", MEMBERS).await?;
    let started = Instant::now();
    let mut recording = tokio::task::JoinSet::new();
    for worker in 0..RECORDERS {
        let (channel, auth) = (shop.channel.clone(), shop.auth.clone());
        recording.spawn(async move {
            let client = AccrualServiceClient::new(channel);
            for n in (worker..purchases).step_by(RECORDERS as usize) {
                let order = format!("sim-{n}");
                let req = pb::RecordPurchaseRequest {
                    idempotency_key: order.clone(),
                    purchase: Some(purchase(n % MEMBERS, order.clone())),
                };
                once(&order, || {
                    let (mut c, req) = (client.clone(), authed(&auth, req.clone()));
                    async move { c.record_purchase(req).await }
                })
                .await?;
                if returned_every > 0 && n % returned_every == 0 {
                    let back = pb::RecordReturnRequest {
                        idempotency_key: format!("{order}-r"),
                        program_id: "demo".into(),
                        order_id: order.clone(),
                        return_id: "r".into(),
                        lines: vec![pb::ReturnLine {
                            line_id: "1".into(),
                            quantity: 1,
                        }],
                        occurred_at: None,
                    };
                    once(&order, || {
                        let (mut c, back) = (client.clone(), authed(&auth, back.clone()));
                        async move { c.record_return(back).await }
                    })
                    .await?;
                }
                if n % 10_000 == 0 && n > 0 {
                    eprintln!("simulate: about {n} purchases recorded");
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = recording.join_next().await {
        done??;
    }
    let record_seconds = started.elapsed().as_secs_f64();
    shop.drained().await?;

    let mut accrual = AccrualServiceClient::new(shop.channel.clone());
    let get = pb::GetProgramRequest {
        program_id: "demo".into(),
        version: 0,
    };
    let mut draft = accrual
        .get_program(authed(&shop.auth, get))
        .await?
        .into_inner()
        .program
        .unwrap_or_default();
    if let Some(rule) = draft.earn_rules.first_mut() {
        rule.rate = "7.5".into();
    }
    let ask = pb::SimulateProgramRequest {
        program: Some(draft),
        ..Default::default()
    };
    let mut req = authed(&shop.auth, ask.clone());
    req.set_timeout(Duration::from_secs(600));
    let started = Instant::now();
    let answer = SimulationServiceClient::new(shop.channel.clone())
        .simulate_program(req)
        .await?
        .into_inner();
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        answer.purchases == u64::from(purchases),
        "priced {} of {purchases} purchases",
        answer.purchases
    );
    let job_seconds = as_job(&shop, &answer, ask).await?;
    let out = Simulated {
        backend: shop.env.backend().into(),
        purchases: answer.purchases,
        record_seconds,
        seconds,
        per_second: answer.purchases as f64 / seconds.max(f64::EPSILON),
        job_seconds,
        cost_delta: answer
            .cost_delta
            .map(|m| format!("{} {}", m.amount, m.asset))
            .unwrap_or_default(),
    };
    if common.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!(
            "simulate {:<10} {:>8} purchases priced in {:>6.2} s: {:>8.0} purchases/s; as a job {:.2} s (recorded in {:.0} s; cost delta {})",
            out.backend,
            out.purchases,
            out.seconds,
            out.per_second,
            out.job_seconds,
            out.record_seconds,
            out.cost_delta
        );
    }
    shop.close().await?;
    Ok(out)
}

/// `call` answered; the same request again when the connection broke (the
/// gateway rotates connections): recorded once either way.
async fn once<T, F>(what: &str, mut call: impl FnMut() -> F) -> anyhow::Result<T>
where
    F: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let mut tries = 0;
    loop {
        match call().await {
            Ok(answer) => return Ok(answer),
            Err(status)
                if tries < 3 && matches!(status.code(), Code::Unknown | Code::Unavailable) =>
            {
                tries += 1;
                eprintln!("simulate: {what} again after {status}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => return Err(status.into()),
        }
    }
}

/// `ask` over the window `inline` priced, as a job: its progress on stderr,
/// and the seconds from its start to its answer, which must be `inline`.
async fn as_job(
    shop: &Shop,
    inline: &pb::SimulateProgramResponse,
    ask: pb::SimulateProgramRequest,
) -> anyhow::Result<f64> {
    let mut sims = SimulationServiceClient::new(shop.channel.clone());
    let ask = pb::SimulateProgramRequest {
        from: inline.from,
        to: inline.to,
        ..ask
    };
    let start = pb::StartSimulationRequest {
        idempotency_key: format!("bench-{}", boomerang_common::time::now_micros()),
        what: Some(pb::start_simulation_request::What::Program(ask)),
    };
    let started = Instant::now();
    let job = sims
        .start_simulation(authed(&shop.auth, start))
        .await?
        .into_inner()
        .simulation
        .unwrap_or_default();
    let mut shown = u64::MAX;
    loop {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the what-if job still runs after 10 minutes"
        );
        let get = pb::GetSimulationRequest {
            simulation_id: job.simulation_id.clone(),
        };
        let now = sims
            .get_simulation(authed(&shop.auth, get))
            .await?
            .into_inner()
            .simulation
            .unwrap_or_default();
        if now.purchases_read != shown {
            shown = now.purchases_read;
            eprintln!(
                "simulate: job {}: {} of {} purchases read",
                now.simulation_id, now.purchases_read, now.purchases_total
            );
        }
        match now.state() {
            pb::SimulationState::Running => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            pb::SimulationState::Succeeded => {
                let seconds = started.elapsed().as_secs_f64();
                let same =
                    matches!(&now.answer, Some(pb::simulation::Answer::Program(a)) if a == inline);
                anyhow::ensure!(same, "the job answered otherwise than the call");
                return Ok(seconds);
            }
            other => anyhow::bail!("the what-if job ended {other:?}: {}", now.error),
        }
    }
}
