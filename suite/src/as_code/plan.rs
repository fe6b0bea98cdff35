//! `plan`: each file's spec as the service would store it, against the live
//! version; `apply`: those changes published over the versions planned
//! against, with idempotency keys from the content (re-running is a no-op).
use boomerang_proto::{accrual::v1 as apb, campaign::v1::CampaignStatus};
use prost_reflect::DescriptorPool;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use super::{
    API_VERSION, Document, FileProblem, Kind, Spec,
    client::{Platform, said},
    lifecycle::{self, Move},
    render::Tree,
};

/// What applying one file would do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Unchanged,
    Create,
    /// A change: the changed fields (and a campaign's status), one line each.
    Update(Vec<String>),
}

/// One file's part of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    pub doc: Document,
    /// The live version planned against (0: none yet).
    pub version: u32,
    pub action: Action,
    /// The spec as the service normalised it (with the version it would
    /// get), or as live when the file says the same.
    pub spec: Spec,
    /// Whether the spec is published (not only a campaign's lifecycle).
    pub publish: bool,
    /// A campaign's lifecycle calls, after the spec.
    pub moves: Vec<Move>,
    /// SHA-256 of the normalised spec (and a campaign's status wanted): the
    /// file's content as the service reads it.
    pub digest: String,
    /// The same of the live content planned against (empty: none yet).
    pub live: String,
    /// For a program's new version: what it would have given the purchases
    /// recorded (or why that could not be told).
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
    /// The digest of the live content planned against (a draft campaign is
    /// edited in place, so its version alone does not tell it moved).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub live: String,
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
/// versions `pinned`): the steps, or every problem found. Each new program
/// version is priced over the purchases of the last `what_if_days` (0: not).
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
        // A campaign's lifecycle wanted, and the calls that reach it (a new
        // campaign is created a draft).
        let want = doc
            .spec
            .status()
            .filter(|s| *s != CampaignStatus::Unspecified);
        let moves = match want {
            None => Vec::new(),
            Some(want) => {
                let now = live.as_ref().and_then(Spec::status);
                match lifecycle::moves(now.unwrap_or(CampaignStatus::Draft), want) {
                    Ok(moves) => moves,
                    Err(why) => {
                        problems.push(doc.problem("status", &why));
                        continue;
                    }
                }
            }
        };
        // The live state as the file would say it: a status already met
        // (scheduled and active are one wish) is the one the file names.
        let reached = |s: &Spec| match (want, s.status()) {
            (Some(want), _) if moves.is_empty() => Some(want),
            (Some(_), now) => now,
            (None, _) => None,
        };
        let live_version = live.as_ref().map_or(0, Spec::version);
        let pin = pinned.and_then(|p| p.programs.iter().find(|p| p.pins(&doc)));
        let old = live.as_ref().map(|s| s.tree(pool)).transpose()?;
        let old_digest = match (&live, &old) {
            (Some(live), Some(old)) => digest(old, reached(live)),
            _ => String::new(),
        };
        // A plan applied already (an apply run again) finds the content it
        // planned live; the file is still checked.
        let applied = pin.is_some_and(|pin| !old_digest.is_empty() && old_digest == pin.digest);
        if let Some(pin) = pin.filter(|p| !applied && !p.live.is_empty() && p.live != old_digest) {
            let named = doc.named();
            let why = if pin.version == live_version {
                format!("{named} changed since the plan (edited in place); plan again")
            } else {
                format!(
                    "{named} is at version {live_version}, not {}: it changed since the plan; plan again",
                    pin.version
                )
            };
            problems.push(doc.whole(&why));
            continue;
        }
        let version = match pin {
            Some(pin) if !applied => pin.version,
            _ => live_version,
        };
        let file_tree = doc.spec.tree(pool)?;
        let spec = match &live {
            // The file says what is live: nothing for the service to check.
            Some(live) if old.as_ref() == Some(&file_tree) && live_version == version => {
                live.clone()
            }
            _ => match client.check(&doc.spec, version).await {
                Ok(spec) => spec,
                Err(status) => {
                    problems.extend(refusal(&doc, &status)?);
                    continue;
                }
            },
        };
        let new = spec.tree(pool)?;
        let digest = digest(&new, want);
        if let Some(pin) = pin
            && pin.digest != digest
        {
            problems.push(doc.at(
                doc.kind().violation_root().0,
                "the file changed since the plan: plan again",
            ));
            continue;
        }
        let mut step = Step {
            doc,
            version,
            action: Action::Unchanged,
            spec,
            publish: false,
            moves: Vec::new(),
            digest,
            live: old_digest,
            what_if: None,
        };
        if applied {
            steps.push(step);
            continue;
        }
        let Some(old) = &old else {
            step.action = Action::Create;
            step.publish = true;
            step.moves = moves;
            steps.push(step);
            continue;
        };
        let mut changes = Vec::new();
        old.diff(&new, "spec", &mut changes);
        step.publish = !changes.is_empty();
        if let (Some(want), Some(now)) = (want, live.as_ref().and_then(Spec::status))
            && !moves.is_empty()
        {
            changes.push(format!(
                "~ status: {} → {}",
                now.as_str_name(),
                want.as_str_name()
            ));
        }
        step.moves = moves;
        if !changes.is_empty() {
            step.action = Action::Update(changes);
        }
        if let (true, Spec::Program(draft)) = (step.publish && what_if_days > 0, &step.doc.spec) {
            step.what_if = Some(
                client
                    .simulate(draft, what_if_days)
                    .await
                    .map_err(|s| said(&s)),
            );
        }
        steps.push(step);
    }
    Ok(if problems.is_empty() {
        Ok(steps)
    } else {
        Err(problems)
    })
}

/// The content's digest: SHA-256 of the normalised spec, and of a
/// campaign's status wanted.
fn digest(spec: &Tree, status: Option<CampaignStatus>) -> String {
    let mut hash = Sha256::new();
    hash.update(spec.json().as_bytes());
    if let Some(status) = status {
        hash.update(format!("\nstatus: {}", status.as_str_name()).as_bytes());
    }
    hex::encode(hash.finalize())
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
    let root = doc.kind().violation_root().0;
    match status.code() {
        Code::InvalidArgument => {
            let fields = status
                .get_details_bad_request()
                .map(|bad| bad.field_violations)
                .unwrap_or_default();
            if fields.is_empty() {
                return Ok(vec![doc.at(root, status.message())]);
            }
            Ok(fields
                .iter()
                .map(|v| doc.at(&v.field, &v.description))
                .collect())
        }
        // Moved since it was read (ABORTED: a campaign's version), or
        // created by someone else since.
        Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => Ok(vec![
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
                live: s.live.clone(),
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
    /// (campaign, lifecycle call made)
    pub moved: Vec<(String, Move)>,
    /// The spec whose publish (or call) failed, why, and whether it may have
    /// been made all the same (the answer was lost, not a refusal).
    pub failed: Option<(String, String, bool)>,
    /// The specs after it, not tried.
    pub not_tried: Vec<String>,
}

/// Publishes every changed step over its planned version, then a
/// campaign's lifecycle calls, in file order, stopping at the first refusal
/// (a spec moved between plan and apply). The keys are the content and the
/// version it goes over: an apply run again replays its answers.
pub async fn apply(client: &mut Platform, steps: &[Step]) -> Applied {
    let mut applied = Applied::default();
    for step in steps.iter().filter(|s| s.publish || !s.moves.is_empty()) {
        if applied.failed.is_some() {
            applied.not_tried.push(step.doc.named());
            continue;
        }
        let (id, v, d) = (&step.doc.id, step.version, &step.digest[..32]);
        let subject = match step.doc.kind() {
            Kind::Program => id.clone(),
            Kind::ReferralProgram => "referral-program".into(),
            Kind::Campaign => format!("campaign-{id}"),
        };
        if step.publish {
            // What the service normalised (not the file's spelling): the same
            // content is the same request, whatever its formatting.
            let key = format!("apply-{subject}-v{v}-{d}");
            match client.publish(key, &step.spec.content(), v).await {
                Ok(spec) => applied.published.push((step.doc.named(), spec.version())),
                Err(status) => {
                    applied.failed = Some(failure(step, &status));
                    continue;
                }
            }
        }
        for &m in &step.moves {
            let key = format!("apply-{subject}-{}-v{v}-{d}", m.name());
            match client.step(id, m, key).await {
                Ok(()) => applied.moved.push((step.doc.named(), m)),
                Err(status) => {
                    applied.failed = Some(failure(step, &status));
                    break;
                }
            }
        }
    }
    applied
}

/// A failed call: who, why, and whether it may have been made all the same.
fn failure(step: &Step, status: &Status) -> (String, String, bool) {
    // A refusal is an answer; anything else may have been made.
    let lost = !matches!(
        status.code(),
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::AlreadyExists
            | Code::Aborted
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::NotFound
    );
    (step.doc.named(), said(status), lost)
}
