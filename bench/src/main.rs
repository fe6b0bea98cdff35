//! Load generator for Boomerang. Reports figures (throughput, latency
//! percentiles, errors by code); it never asserts timings. `report` runs
//! pgbench's reference and every scenario in one run and prints the table of
//! docs/PERFORMANCE.md.
use boomerang_bench::{
    Common, campaign, checkout, events, mixed, purchase, report, simulate, wallet,
};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "boomerang-bench",
    version,
    about = "Load generator for Boomerang"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Pending cashback credits (what accrual sends per purchase) to random
    /// customers, against an in-process wallet-svc over real gRPC on loopback.
    WalletCredit {
        #[command(flatten)]
        common: Common,
        /// Distinct customers credited at random.
        #[arg(long, default_value_t = 100_000)]
        customers: u32,
    },
    /// A hold and its capture (spending at checkout) on random customers,
    /// each credited first; one call is both.
    WalletCapture {
        #[command(flatten)]
        common: Common,
        /// Distinct customers.
        #[arg(long, default_value_t = 10_000)]
        customers: u32,
    },
    /// RecordPurchase of the demo program through the gateway, every service
    /// in-process, each run until its rewards reached the wallet.
    Purchase {
        #[command(flatten)]
        common: Common,
        /// Members buying at random.
        #[arg(long, default_value_t = 1_000)]
        members: u32,
    },
    /// As `purchase`, every purchase also earning 1% extra from one campaign
    /// and so reserving from its one budget.
    PurchaseHotCampaign {
        #[command(flatten)]
        common: Common,
        /// Members buying at random.
        #[arg(long, default_value_t = 1_000)]
        members: u32,
    },
    /// Budget reservations alone, on one campaign, against an in-process
    /// campaign-svc (`--budget-slots 1` is the single-row design).
    CampaignReserve {
        #[command(flatten)]
        common: Common,
    },
    /// 70% purchases, 10% returns, 15% checkout redemptions (hold and
    /// capture), 5% balance reads, through the gateway, until delivered.
    Mixed {
        #[command(flatten)]
        common: Common,
        /// Members at random.
        #[arg(long, default_value_t = 1_000)]
        members: u32,
    },
    /// EvaluateCart through the gateway: 20 lines, three codes, points and
    /// cashback asked.
    EvaluateCart {
        #[command(flatten)]
        common: Common,
        /// Members at random.
        #[arg(long, default_value_t = 1_000)]
        members: u32,
    },
    /// A batch of single-use codes generated from a pattern by campaign-svc's
    /// durable job, until READY (progress every second).
    CouponBatch {
        #[command(flatten)]
        common: Common,
        /// Codes to generate (1 to 1,000,000).
        #[arg(long, default_value_t = 1_000_000)]
        codes: u32,
    },
    /// The what-if: purchases of the demo program recorded through the
    /// gateway, then SimulateProgram of a richer draft over them, timed.
    Simulate {
        #[command(flatten)]
        common: Common,
        /// Purchases recorded, then priced.
        #[arg(long, default_value_t = 100_000)]
        purchases: u32,
        /// One purchase in this many is returned (0: none).
        #[arg(long, default_value_t = 10)]
        returned_every: u32,
    },
    /// What notify-svc delivers per second from a backlog (two events per
    /// purchase): to one local webhook and to NATS JetStream (127.0.0.1:4222).
    Events {
        #[command(flatten)]
        common: Common,
        /// Purchases making the backlog.
        #[arg(long, default_value_t = 2_500)]
        purchases: u32,
    },
    /// What the gateway adds: GetBalance directly and through the gateway.
    GatewayOverhead {
        #[command(flatten)]
        common: Common,
    },
    /// pgbench's reference credit and every scenario in one run: the table
    /// of docs/PERFORMANCE.md, with ratios and targets.
    Report(report::ReportArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::WalletCredit { common, customers } => {
            wallet::credit(&common, customers).await.map(drop)
        }
        Scenario::WalletCapture { common, customers } => {
            wallet::capture(&common, customers).await.map(drop)
        }
        Scenario::Purchase { common, members } => {
            purchase::purchases(&common, members).await.map(drop)
        }
        Scenario::PurchaseHotCampaign { common, members } => {
            purchase::hot_campaign(&common, members).await.map(drop)
        }
        Scenario::CampaignReserve { common } => campaign::reserve(&common).await.map(drop),
        Scenario::Mixed { common, members } => mixed::mixed(&common, members).await.map(drop),
        Scenario::EvaluateCart { common, members } => {
            checkout::evaluate(&common, members).await.map(drop)
        }
        Scenario::CouponBatch { common, codes } => {
            campaign::coupon_batch(&common, codes).await.map(drop)
        }
        Scenario::Simulate {
            common,
            purchases,
            returned_every,
        } => simulate::simulate(&common, purchases, returned_every)
            .await
            .map(drop),
        Scenario::Events { common, purchases } => {
            events::events(&common, purchases).await.map(drop)
        }
        Scenario::GatewayOverhead { common } => purchase::gateway_overhead(&common).await.map(drop),
        Scenario::Report(args) => report::report(args).await,
    }
}
