//! `plan`: each file's spec as the service would store it, against the live
//! version; `apply`: those changes published over the versions planned
//! against, with idempotency keys from the content (re-running is a no-op).
use std::fmt;

use boomerang_proto::accrual::v1 as apb;
use prost_reflect::DescriptorPool;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use super::{
    API_VERSION, Document, FileProblem, Kind, Spec,
    client::{Platform, said},
};

/// What applying one file would do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Unchanged,
    Create,
    /// A new version; the changed fields, one line each.
    Update(Vec<String>),
}

/// One file's part of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    pub doc: Document,
    /// The live version planned against (0: none yet).
    pub version: u32,
    pub action: Action,
    /// The spec as the service normalised it.
    pub spec: Spec,
    /// SHA-256 of the normalised spec: the file's content as the service reads it.
    pub digest: String,
    /// For a new version: what it would have given the purchases recorded
    /// (or why that could not be told).
    pub what_if: Option<Result<apb::SimulateProgramResponse, String>>,
}

/// The plan as `--out` writes it and `--plan-file` reads it: per file, the
/// version planned against and the content planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanFile {
    pub api_version: String,
    pub kind: String,
    pub programs: Vec<Pinned>,
}

/// A spec pinned by a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pinned {
    /// The file's kind (plans written before kinds: Program).
    #[serde(default = "program")]
    pub kind: String,
    /// Its id (empty for a kind with one per tenant).
    pub id: String,
    pub file: String,
    /// The live version planned against (0: none yet).
    pub version: u32,
    /// "create", "update" or "none".
    pub action: String,
    pub digest: String,
}

fn program() -> String {
    Kind::Program.name().into()
}

impl Pinned {
    fn pins(&self, doc: &Document) -> bool {
        self.kind == doc.kind().name() && self.id == doc.id
    }
}

/// Every file checked by the service against the live state (or the
/// versions `pinned`): the steps, or every problem found. Each new version
/// is priced over the purchases of the last `what_if_days` (0: not).
pub async fn plan(
    client: &mut Platform,
    pool: &DescriptorPool,
    docs: Vec<Document>,
    pinned: Option<&PlanFile>,
    what_if_days: u32,
) -> anyhow::Result<Result<Vec<Step>, Vec<FileProblem>>> {
    let mut problems = if let Some(plan) = pinned {
        unplanned(plan, &docs)
    } else {
        Vec::new()
    };
    let mut steps = Vec::new();
    for doc in docs {
        let live = match client.get(doc.kind(), &doc.id, 0).await {
            Ok(live) => live,
            Err(status) => {
                problems.extend(refusal(&doc, &status)?);
                continue;
            }
        };
        let live_version = live.as_ref().map_or(0, Spec::version);
        let pin = pinned.and_then(|p| p.programs.iter().find(|p| p.pins(&doc)));
        let old = live.as_ref().map(|s| s.tree(pool)).transpose()?;
        // A plan applied already (an apply run again) finds the content it
        // planned live, over a later version; the file is still checked.
        let applied = matches!((pin, &old), (Some(pin), Some(old))
            if live_version > pin.version && digest(old) == pin.digest);
        let version = match pin {
            Some(pin) if !applied => pin.version,
            _ => live_version,
        };
        let spec = match client.check(&doc.spec, version).await {
            Ok(spec) => spec,
            Err(status) => {
                problems.extend(refusal(&doc, &status)?);
                continue;
            }
        };
        let new = spec.tree(pool)?;
        let digest = digest(&new);
        if let Some(pin) = pin
            && pin.digest != digest
        {
            problems.push(doc.at("program", "the file changed since the plan: plan again"));
            continue;
        }
        if applied {
            steps.push(Step {
                doc,
                version,
                action: Action::Unchanged,
                spec,
                digest,
                what_if: None,
            });
            continue;
        }
        let action = match &old {
            None => Action::Create,
            Some(old) => {
                let mut changes = Vec::new();
                old.diff(&new, "spec", &mut changes);
                if changes.is_empty() {
                    Action::Unchanged
                } else {
                    Action::Update(changes)
                }
            }
        };
        let what_if = match (&action, &doc.spec) {
            (Action::Update(_), Spec::Program(draft)) if what_if_days > 0 => Some(
                client
                    .simulate(draft, what_if_days)
                    .await
                    .map_err(|s| said(&s)),
            ),
            _ => None,
        };
        steps.push(Step {
            doc,
            version,
            action,
            spec,
            digest,
            what_if,
        });
    }
    Ok(if problems.is_empty() {
        Ok(steps)
    } else {
        Err(problems)
    })
}

/// The content's digest: SHA-256 of the normalised spec.
fn digest(spec: &super::render::Tree) -> String {
    hex::encode(Sha256::digest(spec.json().as_bytes()))
}

/// Files a plan does not name, and specs it names that no file has.
fn unplanned(plan: &PlanFile, docs: &[Document]) -> Vec<FileProblem> {
    let mut problems: Vec<FileProblem> = docs
        .iter()
        .filter(|d| !plan.programs.iter().any(|p| p.pins(d)))
        .map(|d| d.whole("not in the plan: plan again"))
        .collect();
    for pin in plan
        .programs
        .iter()
        .filter(|p| !docs.iter().any(|d| p.pins(d)))
    {
        let named = Kind::parse(&pin.kind)
            .map_or_else(|| format!("{} {}", pin.kind, pin.id), |k| k.named(&pin.id));
        problems.push(FileProblem {
            file: pin.file.clone(),
            problem: super::spec::Problem {
                line: 1,
                field: "id".into(),
                message: format!("{named} is in the plan but in no file: plan again"),
            },
        });
    }
    problems
}

/// The service's refusal of a file: its field violations at their lines, a
/// spec that moved since the plan, or (not the file's fault) an error.
fn refusal(doc: &Document, status: &Status) -> anyhow::Result<Vec<FileProblem>> {
    match status.code() {
        Code::InvalidArgument => {
            let fields = status
                .get_details_bad_request()
                .map(|bad| bad.field_violations)
                .unwrap_or_default();
            if fields.is_empty() {
                return Ok(vec![doc.at("program", status.message())]);
            }
            Ok(fields
                .iter()
                .map(|v| doc.at(&v.field, &v.description))
                .collect())
        }
        Code::FailedPrecondition => Ok(vec![
            doc.whole(&format!("{}; plan again", status.message())),
        ]),
        _ => Err(upstream(status.clone())),
    }
}

fn upstream(status: Status) -> anyhow::Error {
    anyhow::anyhow!("the gateway answered {}", said(&status))
}

/// The plan to keep with `--out`.
pub fn pin(steps: &[Step]) -> PlanFile {
    PlanFile {
        api_version: API_VERSION.into(),
        kind: "Plan".into(),
        programs: steps
            .iter()
            .map(|s| Pinned {
                kind: s.doc.kind().name().into(),
                id: s.doc.id.clone(),
                file: s.doc.file.clone(),
                version: s.version,
                action: match s.action {
                    Action::Unchanged => "none",
                    Action::Create => "create",
                    Action::Update(_) => "update",
                }
                .into(),
                digest: s.digest.clone(),
            })
            .collect(),
    }
}

/// What [`apply`] did, or where it stopped, each spec as people name it
/// ("program summer").
#[derive(Debug, Default)]
pub struct Applied {
    /// (spec, version published)
    pub published: Vec<(String, u32)>,
    /// The spec whose publish failed, why, and whether it may have been
    /// published all the same (the answer was lost, not a refusal).
    pub failed: Option<(String, String, bool)>,
    /// The specs after it, not tried.
    pub not_tried: Vec<String>,
}

/// Publishes every changed step over its planned version, in file order,
/// stopping at the first refusal (a spec moved between plan and apply).
/// The key is the content and the version it goes over: an apply run again
/// replays its answers.
pub async fn apply(client: &mut Platform, steps: &[Step]) -> Applied {
    let mut applied = Applied::default();
    for step in steps.iter().filter(|s| s.action != Action::Unchanged) {
        if applied.failed.is_some() {
            applied.not_tried.push(step.doc.named());
            continue;
        }
        let subject = match step.doc.kind() {
            Kind::Program => step.doc.id.as_str(),
            Kind::ReferralProgram => "referral-program",
        };
        let key = format!("apply-{subject}-v{}-{}", step.version, &step.digest[..32]);
        // What the service normalised (not the file's spelling): the same
        // content is the same request, whatever its formatting.
        match client
            .publish(key, &step.spec.content(), step.version)
            .await
        {
            Ok(spec) => applied.published.push((step.doc.named(), spec.version())),
            Err(status) => {
                // A refusal is an answer; anything else may have published.
                let lost = !matches!(
                    status.code(),
                    Code::InvalidArgument
                        | Code::FailedPrecondition
                        | Code::AlreadyExists
                        | Code::PermissionDenied
                        | Code::Unauthenticated
                        | Code::NotFound
                );
                let why = said(&status);
                applied.failed = Some((step.doc.named(), why, lost));
            }
        }
    }
    applied
}

/// The plan as people read it.
pub struct Shown<'a>(pub &'a [Step]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut create, mut update, mut same) = (0, 0, 0);
        for step in self.0 {
            let (file, named, v) = (&step.doc.file, step.doc.named(), step.version);
            match &step.action {
                Action::Unchanged => {
                    same += 1;
                    writeln!(f, "{file}: {named}: no changes (version {v})")?;
                }
                Action::Create => {
                    create += 1;
                    writeln!(f, "{file}: {named}: created (version 1)")?;
                }
                Action::Update(changes) => {
                    update += 1;
                    writeln!(f, "{file}: {named}: version {v} → {}", v + 1)?;
                    for change in changes {
                        writeln!(f, "    {change}")?;
                    }
                    match &step.what_if {
                        Some(Ok(sim)) => write!(f, "{}", WhatIf(sim))?,
                        Some(Err(why)) => writeln!(f, "    what-if: not available ({why})")?,
                        None => {}
                    }
                }
            }
        }
        if create + update == 0 {
            write!(f, "No changes: the live state matches the files ({same}).")
        } else {
            write!(
                f,
                "Plan: {create} to create, {update} to change, {same} unchanged."
            )
        }
    }
}

/// A what-if as the plan shows it, under the program's changes.
struct WhatIf<'a>(&'a apb::SimulateProgramResponse);

impl fmt::Display for WhatIf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sim = self.0;
        let day = |t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .map(|t| t.to_string().chars().take(10).collect::<String>())
                .unwrap_or_default()
        };
        writeln!(
            f,
            "    what-if over the {} recorded from {} to {}:",
            match sim.purchases {
                1 => "1 purchase".to_owned(),
                n => format!("{n} purchases"),
            },
            day(&sim.from),
            day(&sim.to)
        )?;
        if sim.purchases_by_other_versions > 0 {
            writeln!(
                f,
                "      ({} of them priced by an earlier version: their delta includes its changes)",
                sim.purchases_by_other_versions
            )?;
        }
        for t in &sim.totals {
            writeln!(
                f,
                "      {}: granted {}, would be {} ({})",
                t.asset,
                amount(&t.granted),
                amount(&t.simulated),
                signed(&t.delta)
            )?;
        }
        let slices = |slices: &[apb::SimulationSlice]| {
            slices
                .iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        if s.key.is_empty() { "(none)" } else { &s.key },
                        signed(&s.cost_delta)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let currency = sim.cost_delta.as_ref().map_or("", |m| m.asset.as_str());
        writeln!(f, "      cost: {} {currency}", signed(&sim.cost_delta))?;
        if sim.by_tier.len() > 1 {
            writeln!(f, "      by tier: {}", slices(&sim.by_tier))?;
        }
        writeln!(f, "      by channel: {}", slices(&sim.by_channel))?;
        if !sim.top_customers.is_empty() {
            let top: Vec<_> = sim
                .top_customers
                .iter()
                .map(|c| format!("{} {}", c.customer_id, signed(&c.cost_delta)))
                .collect();
            writeln!(f, "      most changed: {}", top.join(", "))?;
        }
        Ok(())
    }
}

fn amount(m: &Option<boomerang_proto::common::v1::Money>) -> &str {
    m.as_ref().map_or("0", |m| m.amount.as_str())
}

/// A delta with its sign: "+2.50", "-1.00", "0".
fn signed(m: &Option<boomerang_proto::common::v1::Money>) -> String {
    let a = amount(m);
    if a.starts_with('-') || a.trim_start_matches(['0', '.']).is_empty() {
        a.to_owned()
    } else {
        format!("+{a}")
    }
}
