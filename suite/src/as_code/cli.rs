//! `boomerang get`, `plan`, `apply` and `schema`.
use std::{path::PathBuf, process::ExitCode};

pub use super::client::{Tls, dial};
use super::{
    Format, Kind, apply, batches,
    client::{Platform, Remote, said},
    load_dir, plan, schema, show, spec, write,
};

/// How `get` writes it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Output {
    Yaml,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Get {
    /// What to read.
    pub kind: Kind,
    /// Its id (a program's; the referral program has none).
    pub id: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "yaml")]
    pub output: Output,
    /// A past version instead of the latest.
    #[arg(long, default_value_t = 0)]
    pub version: u32,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(clap::Args, Debug)]
pub struct Plan {
    /// The folder of files (*.yaml, *.yml, *.json; nested folders too).
    #[arg(short = 'f', long = "file", value_name = "DIR")]
    pub dir: PathBuf,
    /// Write the plan (the versions read, the content planned) here, for
    /// `apply --plan-file`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Price each change over the purchases of these last days (0: no
    /// what-if); for a campaign, 30 means over its run until now.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub what_if_days: u32,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(clap::Args, Debug)]
pub struct Apply {
    /// The folder of files.
    #[arg(short = 'f', long = "file", value_name = "DIR")]
    pub dir: PathBuf,
    /// Apply only what this plan showed: refused when the live state moved
    /// or a file changed since.
    #[arg(long, value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn get(args: Get) -> anyhow::Result<ExitCode> {
    let id = match (args.kind.has_id(), args.id) {
        (true, Some(id)) => id,
        (false, None) => String::new(),
        (true, None) => anyhow::bail!("which {}? give its id", args.kind.name()),
        (false, Some(_)) => {
            anyhow::bail!("there is one {} per tenant: give no id", args.kind.name())
        }
    };
    let pool = spec::pool()?;
    let mut client = Platform::connect(&args.remote).await?;
    let Some(found) = client
        .get(args.kind, &id, args.version)
        .await
        .map_err(|s| anyhow::anyhow!(said(&s)))?
    else {
        match args.version {
            0 => eprintln!("{} does not exist", args.kind.named(&id)),
            v => eprintln!("{} has no version {v}", args.kind.named(&id)),
        }
        return Ok(ExitCode::FAILURE);
    };
    let format = match args.output {
        Output::Yaml => Format::Yaml,
        Output::Json => Format::Json,
    };
    let coupons = match args.kind {
        Kind::Campaign => batches::live(&mut client, &id, |_| true)
            .await
            .map_err(|s| anyhow::anyhow!(said(&s)))?,
        _ => Vec::new(),
    };
    print!("{}", write(&pool, &found, &coupons, format)?);
    Ok(ExitCode::SUCCESS)
}

pub fn schema() -> anyhow::Result<ExitCode> {
    print!("{}", schema::generate(&spec::pool()?)?);
    Ok(ExitCode::SUCCESS)
}

pub async fn plan(args: Plan) -> anyhow::Result<ExitCode> {
    let Some((_, steps)) = planned(&args.dir, &args.remote, None, args.what_if_days).await? else {
        return Ok(ExitCode::FAILURE);
    };
    println!("{}", show::Shown(&steps));
    if let Some(out) = &args.out {
        std::fs::write(
            out,
            serde_json::to_string_pretty(&plan::pin(&steps))? + "\n",
        )?;
        println!(
            "Plan written to {}: `boomerang apply --plan-file` applies exactly it.",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn apply(args: Apply) -> anyhow::Result<ExitCode> {
    let pinned = match &args.plan_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let plan: plan::PlanFile = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: not a plan: {e}", file.display()))?;
            if plan.kind != "Plan" || plan.api_version != super::API_VERSION {
                anyhow::bail!("{}: not a {} plan", file.display(), super::API_VERSION);
            }
            Some(plan)
        }
        None => None,
    };
    // The what-if is the plan's to show; apply shows what it applies.
    let what_if = if args.dry_run { 30 } else { 0 };
    let Some((mut client, steps)) =
        planned(&args.dir, &args.remote, pinned.as_ref(), what_if).await?
    else {
        return Ok(ExitCode::FAILURE);
    };
    println!("{}", show::Shown(&steps));
    if args.dry_run {
        println!("Dry run: nothing applied.");
        return Ok(ExitCode::SUCCESS);
    }
    let applied = apply::apply(&mut client, &steps).await;
    for (named, version) in &applied.published {
        println!("{named}: version {version} published");
    }
    for (named, batch) in &applied.batches {
        println!("{named}: coupon batch {batch} created");
    }
    for (named, call) in &applied.moved {
        println!("{named}: {}", call.done());
    }
    if let Some((named, why, lost)) = &applied.failed {
        if *lost {
            eprintln!("{named}: perhaps applied, the answer was lost ({why})");
        } else {
            eprintln!("{named}: not applied: {why}");
        }
        if !applied.not_tried.is_empty() {
            eprintln!("Not tried: {}.", applied.not_tried.join(", "));
        }
        eprintln!("Run apply again: what was published is not published twice.");
        return Ok(ExitCode::FAILURE);
    }
    let mut done = format!("Applied: {} published", applied.published.len());
    if !applied.moved.is_empty() {
        done += &format!(", {} lifecycle call(s)", applied.moved.len());
    }
    if !applied.batches.is_empty() {
        done += &format!(", {} coupon batch(es)", applied.batches.len());
    }
    println!("{done}.");
    Ok(ExitCode::SUCCESS)
}

/// Reads and checks every file, then plans them: the connected client and
/// the steps, or None after printing every problem (nothing is applied).
async fn planned(
    dir: &std::path::Path,
    remote: &Remote,
    pinned: Option<&plan::PlanFile>,
    what_if_days: u32,
) -> anyhow::Result<Option<(Platform, Vec<plan::Step>)>> {
    let pool = spec::pool()?;
    let (docs, mut problems) = load_dir(&pool, dir)?;
    let mut client = Platform::connect(remote).await?;
    // The files read are checked by the service too, so one run shows every
    // problem (against the live versions: this run applies nothing anyway).
    let pinned = pinned.filter(|_| problems.is_empty());
    match plan::plan(&mut client, &pool, docs, pinned, what_if_days).await? {
        Ok(steps) if problems.is_empty() => return Ok(Some((client, steps))),
        Ok(_) => {}
        Err(found) => problems.extend(found),
    }
    problems.sort_by(|a, b| (&a.file, a.problem.line).cmp(&(&b.file, b.problem.line)));
    Ok(report(&problems))
}

fn report<T>(problems: &[super::FileProblem]) -> Option<T> {
    for problem in problems {
        eprintln!("{problem}");
    }
    eprintln!("{} problem(s): nothing was applied.", problems.len());
    None
}
