//! Load generator for Boomerang: scenarios over real gRPC against
//! in-process services, a closed- or open-loop driver, and `report`, which
//! runs pgbench's reference beside every scenario and prints the table of
//! docs/PERFORMANCE.md. Figures, never assertions on timings.
pub mod campaign;
pub mod checkout;
pub mod drive;
pub mod env;
pub mod events;
pub mod mixed;
pub mod purchase;
pub mod report;
pub mod simulate;
pub mod wallet;

use std::time::Duration;

use drive::{Load, Run};
use tonic::{
    Request,
    metadata::{Ascii, MetadataValue},
};

/// `message` with the caller's `authorization` (`Bearer ...`).
pub fn authed<T>(auth: &MetadataValue<Ascii>, message: T) -> Request<T> {
    let mut req = Request::new(message);
    req.metadata_mut().insert("authorization", auth.clone());
    req
}

/// What every scenario takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// `postgres://...` (fresh schemas per run) or empty for SQLite files in a temporary folder.
    #[arg(long, default_value = "")]
    pub database_url: String,
    /// Concurrent clients, one run per value.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,64")]
    pub clients: Vec<usize>,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Warm-up seconds per run, not measured.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Calls per second offered by all clients together (paced); 0: closed
    /// loop, each client calls again when answered.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// One JSON object per run instead of a line of text.
    #[arg(long)]
    pub json: bool,
    /// Write each wallet credit in its own transaction (group commit off),
    /// for an A/B in one run.
    #[arg(long)]
    pub no_group_commit: bool,
    /// Rows each campaign budget is split over (1: the single-row design).
    #[arg(long, default_value_t = campaign_svc::domain::budget::SLOTS)]
    pub budget_slots: u32,
    /// Call a running service here (e.g. http://127.0.0.1:50061) instead of
    /// starting one in this process (wallet scenarios; with `--key-file`).
    #[arg(long)]
    pub address: Option<String>,
    /// The platform key (PEM) the running service accepts, to mint its
    /// callers' credentials (`boomerang keygen`, or `<data-dir>/internal.key` of `up`).
    #[arg(long)]
    pub key_file: Option<std::path::PathBuf>,
}

impl Common {
    /// The load of one run.
    pub fn load(&self, clients: usize) -> Load {
        Load {
            clients: clients.max(1),
            warmup: Duration::from_secs(self.warmup),
            measured: Duration::from_secs(self.seconds.max(1)),
            rate: (self.rate > 0.0).then_some(self.rate),
        }
    }

    /// Prints a run as asked, and hands it on.
    pub fn report(&self, run: Run) -> Run {
        if self.json {
            match serde_json::to_string(&run) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("run not printable: {e}"),
            }
        } else {
            println!("{}", run.line());
        }
        run
    }
}
