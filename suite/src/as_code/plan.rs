//! `plan`: each file's spec as the service would store it (and a campaign's
//! coupon batches), against the live version, with the what-if of each
//! change; [`super::apply`] carries it out.
use boomerang_proto::{accrual::v1 as apb, campaign::v1::CampaignStatus};
use prost_reflect::DescriptorPool;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use super::{
    API_VERSION, Document, FileProblem, Kind, Spec,
    batches::{self, Batch},
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
    /// SHA-256 of the normalised spec (and a campaign's status wanted and
    /// coupon batches): the file's content as the service reads it.
    pub digest: String,
    /// The same of the live content planned against (empty: none yet).
    pub live: String,
    /// For a program's new version or a campaign's change: what it would
    /// have given the purchases recorded (or why that could not be told).
    pub what_if: Option<Result<WhatIf, String>>,
    /// A campaign's coupon batches to create, after its publish.
    pub batches: Vec<Batch>,
    /// A campaign's live batches in no file (never removed).
    pub unfiled: Vec<String>,
}

/// A what-if as the plan got it.
#[derive(Debug, Clone)]
pub enum WhatIf {
    Program(Box<apb::SimulateProgramResponse>),
    /// Per program of the plan's files whose purchases received the
    /// campaign's offer.
    Campaign(Vec<apb::SimulateCampaignResponse>),
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
/// versions `pinned`): the steps, or every problem found. Each program's
/// new version and each campaign's change is priced over the purchases of
/// the last `what_if_days` (0: not; see [`Platform::simulate_campaign`]).
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
    let now = boomerang_common::time::now_micros();
    // The programs whose purchases a campaign's what-if prices.
    let programs: Vec<String> = docs
        .iter()
        .filter(|d| d.kind() == Kind::Program)
        .map(|d| d.id.clone())
        .collect();
    for doc in docs {
        let live = match client.get(doc.kind(), &doc.id, 0).await {
            Ok(live) => live,
            Err(status) => {
                problems.extend(refusal(&doc, &status, pinned.is_some())?);
                continue;
            }
        };
        let live_status = live.as_ref().and_then(Spec::status);
        // A campaign's lifecycle wanted, and the calls that reach it.
        let want = doc
            .spec
            .status()
            .filter(|s| *s != CampaignStatus::Unspecified);
        let moves = match want {
            None => Vec::new(),
            Some(want) => match wanted(&doc.spec, live_status, want, now) {
                Ok(moves) => moves,
                Err((field, why)) => {
                    problems.push(doc.problem(field, &why));
                    continue;
                }
            },
        };
        let live_version = live.as_ref().map_or(0, Spec::version);
        let pin = pinned.and_then(|p| p.programs.iter().find(|p| p.pins(&doc)));
        let old = live.as_ref().map(|s| s.tree(pool)).transpose()?;
        // The live content as pinned (a running campaign's status as one,
        // so its start timer is not a move), and as the file would say it.
        let live_pin = old
            .as_ref()
            .map(|old| digest(old, live_status.map(lifecycle::as_pinned), ""))
            .unwrap_or_default();
        // A campaign's coupon batches, checked with its spec (so one run
        // shows the problems of both).
        let (coupons, coupons_ok) = if doc.kind().has_batches() {
            match batches::plan(client, &doc, live.is_some()).await? {
                Ok(planned) => (planned, true),
                Err(found) => {
                    problems.extend(found);
                    (batches::Planned::default(), false)
                }
            }
        } else {
            (batches::Planned::default(), true)
        };
        // The batches as the service would store them are part of the
        // content planned (a file without any digests as before them).
        let coupons_json = if coupons.all.is_empty() {
            String::new()
        } else {
            batches::tree(pool, &coupons.all)?.json()
        };
        // A plan published already (an apply run again, or one stopped
        // before a campaign's lifecycle calls) finds its spec live; the
        // lifecycle calls still wanted are planned from the live status.
        let published = pin.is_some_and(|pin| {
            old.as_ref()
                .is_some_and(|old| digest(old, want, &coupons_json) == pin.digest)
        });
        // (Batches refused leave nothing to compare: their problems say why.)
        let stale =
            |p: &&Pinned| coupons_ok && !published && !p.live.is_empty() && p.live != live_pin;
        if let Some(pin) = pin.filter(stale) {
            let named = doc.named();
            let why = if pin.version == live_version {
                format!("{named} changed since the plan; plan again")
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
            Some(pin) if !published => pin.version,
            _ => live_version,
        };
        let spec = match (&live, &old) {
            // The file says what is live: nothing for the service to check.
            (Some(live), Some(old)) if *old == doc.spec.tree(pool)? => live.clone(),
            _ => match client.check(&doc.spec, version).await {
                Ok(spec) => spec,
                Err(status) => {
                    problems.extend(refusal(&doc, &status, pinned.is_some())?);
                    continue;
                }
            },
        };
        if !coupons_ok {
            continue;
        }
        let new = spec.tree(pool)?;
        let digest = digest(&new, want, &coupons_json);
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
            live: live_pin,
            what_if: None,
            batches: coupons.create,
            unfiled: coupons.unfiled,
        };
        let mut changes = Vec::new();
        match &old {
            None => {
                step.action = Action::Create;
                step.publish = true;
            }
            Some(old) => old.diff(&new, "spec", &mut changes),
        }
        step.publish |= !changes.is_empty();
        if let (Some(want), Some(now), false) = (want, live_status, moves.is_empty()) {
            changes.push(format!(
                "~ status: {} → {}",
                now.as_str_name(),
                want.as_str_name()
            ));
        }
        step.moves = moves;
        if !changes.is_empty() || (!step.batches.is_empty() && step.action != Action::Create) {
            step.action = Action::Update(changes);
        }
        if step.publish && step.action != Action::Create && what_if_days > 0 {
            step.what_if = what_if(client, &step.doc.spec, &programs, what_if_days).await;
        }
        steps.push(step);
    }
    Ok(if problems.is_empty() {
        Ok(steps)
    } else {
        Err(problems)
    })
}

/// What a change would have given the purchases recorded: a program's
/// over its own, a campaign's over those of each program in `programs`
/// that its offer rewarded (a program not yet published has none).
async fn what_if(
    client: &mut Platform,
    spec: &Spec,
    programs: &[String],
    days: u32,
) -> Option<Result<WhatIf, String>> {
    match spec {
        Spec::Program(draft) => Some(
            client
                .simulate(draft, days)
                .await
                .map(|sim| WhatIf::Program(Box::new(sim)))
                .map_err(|s| said(&s)),
        ),
        Spec::Campaign(campaign) => {
            let mut found = Vec::new();
            for program in programs {
                match client.simulate_campaign(program, campaign, days).await {
                    Ok(sim) if sim.purchases > 0 => found.push(sim),
                    Ok(_) => {}
                    Err(s) if s.code() == Code::NotFound => {}
                    Err(s) => return Some(Err(said(&s))),
                }
            }
            Some(Ok(WhatIf::Campaign(found)))
        }
        Spec::ReferralProgram(_) => None,
    }
}

/// The lifecycle calls taking a campaign from `live` (none yet: a draft
/// once created) to `want`, or the file's field that cannot be, and why.
fn wanted(
    spec: &Spec,
    live: Option<CampaignStatus>,
    want: CampaignStatus,
    now: i64,
) -> Result<Vec<Move>, (&'static str, String)> {
    let ends_at = match spec {
        Spec::Campaign(c) => c
            .spec
            .as_ref()
            .and_then(|s| s.schedule.as_ref())
            .and_then(|s| s.ends_at.as_ref())
            .and_then(boomerang_common::time::from_timestamp),
        _ => None,
    };
    let over = ends_at.is_some_and(|end| end <= now);
    let live = live.unwrap_or(CampaignStatus::Draft);
    // A campaign that ran its schedule to the end had its wish.
    if live == CampaignStatus::Ended && lifecycle::running(want) && over {
        return Ok(Vec::new());
    }
    let moves = lifecycle::moves(live, want).map_err(|why| ("status", why))?;
    if moves.contains(&Move::Schedule) && over {
        return Err((
            "spec.schedule.endsAt",
            "in the past: the campaign could not be scheduled".into(),
        ));
    }
    Ok(moves)
}

/// The content's digest: SHA-256 of the normalised spec, of a campaign's
/// status wanted, and of its coupon batches (JSON, empty for none).
fn digest(spec: &Tree, status: Option<CampaignStatus>, coupons: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(spec.json().as_bytes());
    if let Some(status) = status {
        hash.update(format!("\nstatus: {}", status.as_str_name()).as_bytes());
    }
    if !coupons.is_empty() {
        hash.update(format!("\ncouponBatches: {coupons}").as_bytes());
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
/// spec that moved (against a plan file: plan again), or (not the file's
/// fault) an error.
fn refusal(doc: &Document, status: &Status, pinned: bool) -> anyhow::Result<Vec<FileProblem>> {
    let root = doc.kind().violation_root().0;
    match status.code() {
        Code::InvalidArgument => Ok(invalid(status, |field, why| {
            doc.at(if field.is_empty() { root } else { field }, why)
        })),
        // Moved since it was read (ABORTED: a campaign's version), or
        // created by someone else since: a new plan sees it.
        Code::Aborted | Code::AlreadyExists => Ok(vec![
            doc.whole(&format!("{}; plan again", status.message())),
        ]),
        Code::FailedPrecondition if pinned => Ok(vec![
            doc.whole(&format!("{}; plan again", status.message())),
        ]),
        Code::FailedPrecondition => Ok(vec![doc.whole(status.message())]),
        _ => Err(upstream(status.clone())),
    }
}

/// An INVALID_ARGUMENT's field violations, each where `at` places it in the
/// file (the message alone, at `at("")`, when it names no field).
pub(super) fn invalid(status: &Status, at: impl Fn(&str, &str) -> FileProblem) -> Vec<FileProblem> {
    let fields = status
        .get_details_bad_request()
        .map(|bad| bad.field_violations)
        .unwrap_or_default();
    if fields.is_empty() {
        return vec![at("", status.message())];
    }
    fields
        .iter()
        .map(|v| at(&v.field, &v.description))
        .collect()
}

pub(super) fn upstream(status: Status) -> anyhow::Error {
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

#[cfg(test)]
mod tests {
    use boomerang_proto::campaign::v1 as cpb;

    use super::*;

    fn ending(at: i64) -> Spec {
        Spec::Campaign(Box::new(cpb::Campaign {
            spec: Some(cpb::CampaignSpec {
                schedule: Some(cpb::Schedule {
                    ends_at: Some(boomerang_common::time::to_timestamp(at)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    #[test]
    fn a_schedule_run_to_its_end_is_the_wish_granted_and_a_past_one_is_not_scheduled() {
        use CampaignStatus as S;
        let (now, past, future) = (1_000, 999, 2_000);
        assert_eq!(
            wanted(&ending(past), Some(S::Ended), S::Active, now),
            Ok(vec![])
        );
        assert!(wanted(&ending(future), Some(S::Ended), S::Active, now).is_err());
        assert_eq!(
            wanted(&ending(past), None, S::Scheduled, now).map_err(|e| e.0),
            Err("spec.schedule.endsAt")
        );
        assert_eq!(
            wanted(&ending(future), None, S::Scheduled, now),
            Ok(vec![Move::Schedule])
        );
        assert_eq!(
            wanted(&ending(past), Some(S::Active), S::Ended, now),
            Ok(vec![Move::End])
        );
    }
}
