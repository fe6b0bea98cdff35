//! `plan`: each file's program as the service would store it, against the
//! live version; `apply`: those changes published over the versions planned
//! against, with idempotency keys from the content (re-running is a no-op).
use std::fmt;

use boomerang_proto::accrual::v1 as apb;
use prost_reflect::DescriptorPool;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use super::{API_VERSION, Document, FileProblem, client::Programs, document};

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
    /// The program as the service normalised it.
    pub program: apb::Program,
    /// SHA-256 of the normalised spec: the file's content as the service reads it.
    pub digest: String,
}

/// The plan as `--out` writes it and `--plan-file` reads it: per program,
/// the version planned against and the content planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanFile {
    pub api_version: String,
    pub kind: String,
    pub programs: Vec<Pinned>,
}

/// A program pinned by a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pinned {
    pub id: String,
    pub file: String,
    /// The live version planned against (0: none yet).
    pub version: u32,
    /// "create", "update" or "none".
    pub action: String,
    pub digest: String,
}

/// Every file checked by the service against the live state (or the
/// versions `pinned`): the steps, or every problem found.
pub async fn plan(
    client: &mut Programs,
    pool: &DescriptorPool,
    docs: Vec<Document>,
    pinned: Option<&PlanFile>,
) -> anyhow::Result<Result<Vec<Step>, Vec<FileProblem>>> {
    let mut problems = if let Some(plan) = pinned {
        unplanned(plan, &docs)
    } else {
        Vec::new()
    };
    let mut steps = Vec::new();
    for doc in docs {
        let live = client.get(&doc.id, 0).await.map_err(upstream)?;
        let live_version = live.as_ref().map_or(0, |p| p.version);
        let pin = pinned.and_then(|p| p.programs.iter().find(|p| p.id == doc.id));
        let version = pin.map_or(live_version, |p| p.version);
        let old = live
            .as_ref()
            .map(|p| document(pool, p))
            .transpose()?
            .map(|(_, tree)| tree);
        if let (Some(pin), Some(old), Some(live)) = (pin, &old, &live)
            && live_version > pin.version
            && digest(old) == pin.digest
        {
            // This plan was applied already (an apply run again): nothing to do.
            steps.push(Step {
                doc,
                version: live_version,
                action: Action::Unchanged,
                program: live.clone(),
                digest: pin.digest.clone(),
            });
            continue;
        }
        let program = match client.check(&doc.program, version).await {
            Ok(program) => program,
            Err(status) => {
                problems.extend(refusal(&doc, &status, version, live_version)?);
                continue;
            }
        };
        let (_, new) = document(pool, &program)?;
        let digest = digest(&new);
        if let Some(pin) = pin
            && pin.digest != digest
        {
            problems.push(doc.at("program", "the file changed since the plan: plan again"));
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
        steps.push(Step {
            doc,
            version,
            action,
            program,
            digest,
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

/// Files a plan does not name, and programs it names that no file has.
fn unplanned(plan: &PlanFile, docs: &[Document]) -> Vec<FileProblem> {
    let mut problems: Vec<FileProblem> = docs
        .iter()
        .filter(|d| !plan.programs.iter().any(|p| p.id == d.id))
        .map(|d| d.at("program.program_id", "not in the plan: plan again"))
        .collect();
    for pin in plan
        .programs
        .iter()
        .filter(|p| !docs.iter().any(|d| d.id == p.id))
    {
        problems.push(FileProblem {
            file: pin.file.clone(),
            problem: super::spec::Problem {
                line: 1,
                field: "id".into(),
                message: format!(
                    "program `{}` is in the plan but in no file: plan again",
                    pin.id
                ),
            },
        });
    }
    problems
}

/// The service's refusal of a file: its field violations at their lines, a
/// program that moved since the plan, or (not the file's fault) an error.
fn refusal(
    doc: &Document,
    status: &Status,
    version: u32,
    live: u32,
) -> anyhow::Result<Vec<FileProblem>> {
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
        Code::FailedPrecondition => Ok(vec![doc.at(
            "program.program_id",
            &format!("planned against version {version}, now at version {live}: plan again"),
        )]),
        _ => Err(upstream(status.clone())),
    }
}

fn upstream(status: Status) -> anyhow::Error {
    anyhow::anyhow!(
        "the gateway answered {:?}: {}",
        status.code(),
        status.message()
    )
}

/// The plan to keep with `--out`.
pub fn pin(steps: &[Step]) -> PlanFile {
    PlanFile {
        api_version: API_VERSION.into(),
        kind: "Plan".into(),
        programs: steps
            .iter()
            .map(|s| Pinned {
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

/// What [`apply`] did, or where it stopped.
#[derive(Debug, Default)]
pub struct Applied {
    /// (program, version published)
    pub published: Vec<(String, u32)>,
    /// The program whose publish failed, and why; later ones were not tried.
    pub failed: Option<(String, String)>,
}

/// Publishes every changed step over its planned version, in file order,
/// stopping at the first refusal (a program moved between plan and apply).
/// The key is the content and the version it goes over: an apply run again
/// replays its answers.
pub async fn apply(client: &mut Programs, steps: &[Step]) -> Applied {
    let mut applied = Applied::default();
    for step in steps.iter().filter(|s| s.action != Action::Unchanged) {
        let key = format!(
            "apply-{}-v{}-{}",
            step.doc.id,
            step.version,
            &step.digest[..32]
        );
        // What the service normalised (not the file's spelling): the same
        // content is the same request, whatever its formatting.
        let program = apb::Program {
            version: 0,
            published_at: None,
            ..step.program.clone()
        };
        match client.publish(key, &program, step.version).await {
            Ok(program) => applied
                .published
                .push((step.doc.id.clone(), program.version)),
            Err(status) => {
                applied.failed = Some((
                    step.doc.id.clone(),
                    format!("{:?}: {}", status.code(), status.message()),
                ));
                break;
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
            let (file, id, v) = (&step.doc.file, &step.doc.id, step.version);
            match &step.action {
                Action::Unchanged => {
                    same += 1;
                    writeln!(f, "{file}: program {id}: no changes (version {v})")?;
                }
                Action::Create => {
                    create += 1;
                    writeln!(f, "{file}: program {id}: created (version 1)")?;
                }
                Action::Update(changes) => {
                    update += 1;
                    writeln!(f, "{file}: program {id}: version {v} → {}", v + 1)?;
                    for change in changes {
                        writeln!(f, "    {change}")?;
                    }
                }
            }
        }
        if create + update == 0 {
            write!(f, "No changes: the live programs match the files ({same}).")
        } else {
            write!(
                f,
                "Plan: {create} to create, {update} to change, {same} unchanged."
            )
        }
    }
}
