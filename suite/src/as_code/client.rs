//! The command line's calls through the gateway, with the tenant's API key.
use std::{path::PathBuf, time::Duration};

use boomerang_proto::{
    accrual::v1::{
        self as apb, accrual_service_client::AccrualServiceClient,
        simulation_service_client::SimulationServiceClient,
    },
    campaign::v1::{
        self as cpb, campaign_service_client::CampaignServiceClient,
        coupon_service_client::CouponServiceClient,
    },
    common::v1::PageRequest,
    referral::v1::{self as rpb, referral_service_client::ReferralServiceClient},
};
use tonic::{
    Code, Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig},
};

use super::{Kind, Spec, lifecycle::Move};
use apb::{simulation::Answer, start_simulation_request::What};
use boomerang_common::idempotency::derived_key;
use sha2::{Digest as _, Sha256};

/// Where a command reaches the platform, and as whom.
#[derive(clap::Args, Debug, Clone)]
pub struct Remote {
    /// The gateway, e.g. https://boomerang.example.com:443.
    #[arg(long, env = "BOOMERANG_ADDR", default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// The tenant's API key (better in $BOOMERANG_API_KEY than on a command line).
    #[arg(long, env = "BOOMERANG_API_KEY", hide_env_values = true)]
    pub key: String,
    #[command(flatten)]
    pub tls: Tls,
}

/// How an https:// address is verified.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Tls {
    /// With an https:// address: the CA certificate (PEM) to verify the server with.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// With an https:// address: the name its certificate must carry, when
    /// not the address's host (a probe dialling 127.0.0.1).
    #[arg(long)]
    pub server_name: Option<String>,
}

/// A connected channel to `addr` (verified with `tls` when https://), each
/// call given `timeout`.
pub async fn dial(addr: &str, tls: &Tls, timeout: Duration) -> anyhow::Result<Channel> {
    let mut endpoint = boomerang_common::channel::endpoint("gateway", addr)?.timeout(timeout);
    if addr.starts_with("https://") || tls.ca_file.is_some() {
        // The CA named, else the system's roots.
        let mut config = match &tls.ca_file {
            Some(ca) => {
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(std::fs::read(ca)?))
            }
            None => ClientTlsConfig::new().with_enabled_roots(),
        };
        if let Some(name) = &tls.server_name {
            config = config.domain_name(name);
        }
        endpoint = endpoint.tls_config(config)?;
    }
    Ok(endpoint.connect().await?)
}

/// A refusal or error as the commands print it: `FailedPrecondition: …`.
pub fn said(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Sets `authorization: Bearer <key>` on every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Calls = InterceptedService<Channel, Bearer>;

/// The calls get, plan and apply make, per kind.
pub struct Platform {
    accrual: AccrualServiceClient<Calls>,
    simulation: SimulationServiceClient<Calls>,
    referral: ReferralServiceClient<Calls>,
    campaign: CampaignServiceClient<Calls>,
    coupon: CouponServiceClient<Calls>,
}

impl Platform {
    pub async fn connect(remote: &Remote) -> anyhow::Result<Self> {
        let bearer = Bearer(
            format!("Bearer {}", remote.key.trim())
                .parse()
                .map_err(|_| anyhow::anyhow!("the API key is not a header value"))?,
        );
        // A what-if over a long window reads every purchase in it.
        let channel = dial(&remote.addr, &remote.tls, Duration::from_secs(120)).await?;
        Ok(Self {
            accrual: AccrualServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            simulation: SimulationServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            referral: ReferralServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            campaign: CampaignServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            coupon: CouponServiceClient::with_interceptor(channel, bearer),
        })
    }

    /// The latest version (or `version`) of `id` of `kind`, None when there
    /// is none.
    pub async fn get(
        &mut self,
        kind: Kind,
        id: &str,
        version: u32,
    ) -> Result<Option<Spec>, Status> {
        let found = match kind {
            Kind::Program => {
                let req = apb::GetProgramRequest {
                    program_id: id.to_owned(),
                    version,
                };
                self.accrual
                    .get_program(req)
                    .await
                    .map(|r| r.into_inner().program.map(|p| Spec::Program(Box::new(p))))
            }
            Kind::ReferralProgram => {
                let req = rpb::GetReferralProgramRequest { version };
                self.referral
                    .get_referral_program(req)
                    .await
                    .map(|r| r.into_inner().program.map(Spec::ReferralProgram))
            }
            Kind::Campaign => {
                let req = cpb::GetCampaignRequest {
                    campaign_id: id.to_owned(),
                    terms_at: None,
                };
                self.campaign.get_campaign(req).await.map(|r| {
                    let found = r.into_inner();
                    let status = found.campaign.as_ref().map_or(0, |c| c.status);
                    let wanted = match version {
                        0 => found.campaign,
                        v => found.versions.into_iter().find(|c| c.version == v),
                    };
                    // A past version shown with the campaign's status now.
                    wanted.map(|c| Spec::Campaign(Box::new(cpb::Campaign { status, ..c })))
                })
            }
        };
        match found {
            Err(status) if status.code() == Code::NotFound => Ok(None),
            found => found,
        }
    }

    /// The spec as publishing it over `expected` would store it; nothing written.
    pub async fn check(&mut self, spec: &Spec, expected: u32) -> Result<Spec, Status> {
        self.upsert(String::new(), spec, expected, true).await
    }

    /// Publishes `spec` over version `expected` (0: only if new).
    pub async fn publish(
        &mut self,
        key: String,
        spec: &Spec,
        expected: u32,
    ) -> Result<Spec, Status> {
        self.upsert(key, spec, expected, false).await
    }

    /// What `draft` would have given the purchases of the `days` before
    /// now (the server's default window when 30), priced by a what-if job
    /// whose progress is shown on stderr.
    pub async fn simulate(
        &mut self,
        draft: &apb::Program,
        days: u32,
    ) -> Result<apb::SimulateProgramResponse, Status> {
        let (from, to) = window(days);
        let req = apb::SimulateProgramRequest {
            program: Some(draft.clone()),
            from,
            to,
            top_customers: Some(3),
        };
        let named = format!("program {}", draft.program_id);
        match self.simulate_job(What::Program(req), &named).await? {
            Answer::Program(sim) => Ok(sim),
            Answer::Campaign(_) => Err(Status::internal("a campaign's answer to a program")),
        }
    }

    /// What `campaign` would have given the purchases of `program` its
    /// offer rewarded: over its run until now (the server's default window)
    /// when `days` is 30, else the `days` before now.
    pub async fn simulate_campaign(
        &mut self,
        program: &str,
        campaign: &cpb::Campaign,
        days: u32,
    ) -> Result<apb::SimulateCampaignResponse, Status> {
        let (from, to) = window(days);
        let req = apb::SimulateCampaignRequest {
            program_id: program.to_owned(),
            campaign_id: campaign.campaign_id.clone(),
            spec: campaign.spec.clone(),
            from,
            to,
            top_customers: Some(3),
        };
        let named = format!("campaign {} over program {program}", campaign.campaign_id);
        match self.simulate_job(What::Campaign(req), &named).await? {
            Answer::Campaign(sim) => Ok(sim),
            Answer::Program(_) => Err(Status::internal("a program's answer to a campaign")),
        }
    }

    /// `what` priced by a what-if job (keyed by this run and the question,
    /// so each plan prices the purchases as they are), its progress on
    /// stderr: its answer, or why it has none.
    async fn simulate_job(&mut self, what: What, named: &str) -> Result<Answer, Status> {
        let question = Sha256::digest(prost::Message::encode_to_vec(
            &apb::StartSimulationRequest {
                idempotency_key: String::new(),
                what: Some(what.clone()),
            },
        ));
        let run = boomerang_common::time::now_micros().to_string();
        let idempotency_key = derived_key("plan", &[&run, &hex::encode(question)[..32]]);
        let start = apb::StartSimulationRequest {
            idempotency_key,
            what: Some(what),
        };
        let started = self.simulation.start_simulation(start).await?.into_inner();
        let id = started
            .simulation
            .map(|s| s.simulation_id)
            .ok_or_else(|| Status::internal("the answer was empty"))?;
        let mut progress = Progress::new(named);
        // The job's last move, and when this saw it.
        let mut moved = (None, std::time::Instant::now());
        let mut failures = 0;
        loop {
            let get = apb::GetSimulationRequest {
                simulation_id: id.clone(),
            };
            let job = match self.simulation.get_simulation(get).await {
                Ok(found) => found.into_inner().simulation.unwrap_or_default(),
                // The connection broke: asked again, a few times.
                Err(s) if failures < 5 && matches!(s.code(), Code::Unavailable | Code::Unknown) => {
                    failures += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(s) => return Err(s),
            };
            failures = 0;
            match apb::SimulationState::try_from(job.state) {
                Ok(apb::SimulationState::Succeeded) => {
                    return job
                        .answer
                        .ok_or_else(|| Status::internal("a what-if succeeded without an answer"));
                }
                Ok(apb::SimulationState::Failed) => {
                    return Err(Status::aborted(format!(
                        "the what-if failed: {}",
                        job.error
                    )));
                }
                Ok(apb::SimulationState::Cancelled) => {
                    return Err(Status::cancelled("the what-if was cancelled"));
                }
                Ok(apb::SimulationState::Running) => {
                    progress.show(job.purchases_read, job.purchases_total)
                }
                _ => {
                    return Err(Status::internal(format!(
                        "what-if {id} in an unknown state"
                    )));
                }
            }
            if moved.0 != job.updated_at {
                moved = (job.updated_at, std::time::Instant::now());
            } else if moved.1.elapsed() > STALLED {
                return Err(Status::deadline_exceeded(format!(
                    "what-if {id} has not moved for {} minutes: a run may be parked for an operator (JobService/ListParkedJobs)",
                    STALLED.as_secs() / 60
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn upsert(
        &mut self,
        idempotency_key: String,
        spec: &Spec,
        expected: u32,
        validate_only: bool,
    ) -> Result<Spec, Status> {
        let stored = match spec {
            Spec::Program(program) => {
                let req = apb::UpsertProgramRequest {
                    idempotency_key,
                    program: Some((**program).clone()),
                    validate_only,
                    expected_version: Some(expected),
                };
                let done = self.accrual.upsert_program(req).await?.into_inner();
                done.program.map(|p| Spec::Program(Box::new(p)))
            }
            Spec::ReferralProgram(program) => {
                let req = rpb::UpsertReferralProgramRequest {
                    idempotency_key,
                    program: Some(program.clone()),
                    validate_only,
                    expected_version: Some(expected),
                };
                let done = self
                    .referral
                    .upsert_referral_program(req)
                    .await?
                    .into_inner();
                done.program.map(Spec::ReferralProgram)
            }
            // A campaign that does not exist yet (`expected` 0) is created
            // as a draft; one that does is updated over `expected`.
            Spec::Campaign(c) if expected == 0 => {
                let req = cpb::CreateCampaignRequest {
                    idempotency_key,
                    campaign_id: c.campaign_id.clone(),
                    spec: c.spec.clone(),
                    validate_only,
                };
                let done = self.campaign.create_campaign(req).await?.into_inner();
                done.campaign.map(|c| Spec::Campaign(Box::new(c)))
            }
            Spec::Campaign(c) => {
                let req = cpb::UpdateCampaignRequest {
                    idempotency_key,
                    campaign_id: c.campaign_id.clone(),
                    spec: c.spec.clone(),
                    expected_version: expected,
                    validate_only,
                };
                let done = self.campaign.update_campaign(req).await?.into_inner();
                done.campaign.map(|c| Spec::Campaign(Box::new(c)))
            }
        };
        stored.ok_or_else(|| Status::internal("the answer was empty"))
    }

    /// Campaign `campaign`'s coupon batches, every page.
    pub async fn batches(&mut self, campaign: &str) -> Result<Vec<cpb::CouponBatch>, Status> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let req = cpb::ListCouponBatchesRequest {
                campaign_id: campaign.to_owned(),
                page: Some(PageRequest {
                    page_size: boomerang_common::paging::MAX_PAGE,
                    page_token,
                }),
            };
            let page = self.coupon.list_coupon_batches(req).await?.into_inner();
            all.extend(page.batches);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// The codes of a batch (each with the customer it is assigned to), by
    /// code, every page.
    pub async fn codes(
        &mut self,
        campaign: &str,
        batch: &str,
    ) -> Result<Vec<cpb::GivenCode>, Status> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let req = cpb::ListCouponsRequest {
                campaign_id: campaign.to_owned(),
                batch_id: batch.to_owned(),
                page: Some(PageRequest {
                    page_size: boomerang_common::paging::MAX_PAGE,
                    page_token,
                }),
                ..Default::default()
            };
            let page = self.coupon.list_coupons(req).await?.into_inner();
            all.extend(page.coupons.into_iter().map(|c| cpb::GivenCode {
                code: c.code,
                customer_id: c.customer_id,
            }));
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// The batch as creating `batch` would make it (without a campaign id:
    /// its rules and codes alone); nothing written.
    pub async fn check_batch(
        &mut self,
        batch: &cpb::CreateCouponBatchRequest,
    ) -> Result<cpb::CouponBatch, Status> {
        let req = cpb::CreateCouponBatchRequest {
            idempotency_key: String::new(),
            validate_only: true,
            ..batch.clone()
        };
        let done = self.coupon.create_coupon_batch(req).await?.into_inner();
        done.batch
            .ok_or_else(|| Status::internal("the answer was empty"))
    }

    /// Creates `batch`.
    pub async fn create_batch(
        &mut self,
        idempotency_key: String,
        batch: &cpb::CreateCouponBatchRequest,
    ) -> Result<(), Status> {
        let req = cpb::CreateCouponBatchRequest {
            idempotency_key,
            validate_only: false,
            ..batch.clone()
        };
        self.coupon.create_coupon_batch(req).await.map(drop)
    }

    /// One lifecycle call on campaign `id`.
    pub async fn step(
        &mut self,
        id: &str,
        step: Move,
        idempotency_key: String,
    ) -> Result<(), Status> {
        let campaign_id = id.to_owned();
        let reason = "boomerang apply".to_owned();
        match step {
            Move::Schedule => {
                let req = cpb::ScheduleCampaignRequest {
                    idempotency_key,
                    campaign_id,
                };
                self.campaign.schedule_campaign(req).await.map(drop)
            }
            Move::Pause => {
                let req = cpb::PauseCampaignRequest {
                    idempotency_key,
                    campaign_id,
                    reason,
                };
                self.campaign.pause_campaign(req).await.map(drop)
            }
            Move::Resume => {
                let req = cpb::ResumeCampaignRequest {
                    idempotency_key,
                    campaign_id,
                };
                self.campaign.resume_campaign(req).await.map(drop)
            }
            Move::End => {
                let req = cpb::EndCampaignRequest {
                    idempotency_key,
                    campaign_id,
                    reason,
                };
                self.campaign.end_campaign(req).await.map(drop)
            }
            Move::Archive => {
                let req = cpb::ArchiveCampaignRequest {
                    idempotency_key,
                    campaign_id,
                };
                self.campaign.archive_campaign(req).await.map(drop)
            }
        }
    }
}

/// How long a what-if job may stand still before plan gives up on it.
const STALLED: Duration = Duration::from_secs(600);

/// A what-if's progress on stderr: on a terminal one line kept up to date,
/// elsewhere (a CI log) a line every 5 seconds, once it takes that long.
struct Progress<'a> {
    named: &'a str,
    terminal: bool,
    started: std::time::Instant,
    last: Option<std::time::Instant>,
}

impl<'a> Progress<'a> {
    fn new(named: &'a str) -> Self {
        use std::io::IsTerminal as _;
        Self {
            named,
            terminal: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
            last: None,
        }
    }

    fn show(&mut self, read: u64, total: u64) {
        let every = Duration::from_secs(5);
        let due = match self.last {
            _ if self.terminal => true,
            None => self.started.elapsed() >= every,
            Some(last) => last.elapsed() >= every,
        };
        if !due {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let line = format!(
            "what-if of {}: {read} of {total} purchases read",
            self.named
        );
        if self.terminal {
            eprint!("\r{line}");
        } else {
            eprintln!("{line}");
        }
    }
}

impl Drop for Progress<'_> {
    /// The line cleared for the plan's output, however the job ended.
    fn drop(&mut self) {
        if self.terminal && self.last.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

/// The `days` before now; the server's default window when 30.
fn window(
    days: u32,
) -> (
    Option<prost_types::Timestamp>,
    Option<prost_types::Timestamp>,
) {
    if days == 30 {
        return (None, None);
    }
    let to = boomerang_common::time::now_micros();
    let from = to - i64::from(days) * 86_400_000_000;
    (
        Some(boomerang_common::time::to_timestamp(from)),
        Some(boomerang_common::time::to_timestamp(to)),
    )
}
