//! `apply`: the steps of a plan published over the versions planned
//! against, a campaign's new coupon batches created and its lifecycle calls
//! made, with idempotency keys from the content (re-running is a no-op).
use boomerang_common::idempotency::derived_key;
use boomerang_proto::campaign::v1::CampaignStatus;
use sha2::{Digest as _, Sha256};
use tonic::{Code, Status};

use super::{
    Kind,
    client::{Platform, said},
    lifecycle::Move,
    plan::Step,
};

/// What [`apply`] did, or where it stopped, each spec as people name it
/// ("program summer").
#[derive(Debug, Default)]
pub struct Applied {
    /// (spec, version published)
    pub published: Vec<(String, u32)>,
    /// (campaign, lifecycle call made)
    pub moved: Vec<(String, Move)>,
    /// (campaign, coupon batch created)
    pub batches: Vec<(String, String)>,
    /// The spec whose publish (or call) failed, why, and whether it may have
    /// been made all the same (the answer was lost, not a refusal).
    pub failed: Option<(String, String, bool)>,
    /// The specs after it, not tried.
    pub not_tried: Vec<String>,
}

/// Publishes every changed step over its planned version, then creates a
/// campaign's new coupon batches and makes its lifecycle calls, in file
/// order, stopping at the first refusal (a spec moved between plan and
/// apply).
///
/// A publish's key is the content, the version it goes over and the live
/// content it replaces: the same change is the same request. A draft
/// campaign keeps its version when edited, so it could go back to content
/// it had; its publish, and every lifecycle call (a campaign can be paused,
/// resumed and paused again), is keyed by this run too. An apply run again
/// plans again from the live state, so what was done is not done twice.
pub async fn apply(client: &mut Platform, steps: &[Step]) -> Applied {
    let mut applied = Applied::default();
    let run = boomerang_common::time::now_micros().to_string();
    for step in steps
        .iter()
        .filter(|s| s.publish || !s.moves.is_empty() || !s.batches.is_empty())
    {
        if applied.failed.is_some() {
            applied.not_tried.push(step.doc.named());
            continue;
        }
        let (id, v) = (&step.doc.id, step.version);
        let subject = match step.doc.kind() {
            Kind::Program => id.clone(),
            Kind::ReferralProgram => "referral-program".into(),
            Kind::Campaign => format!("campaign-{id}"),
        };
        // Readable up to the id's length, hashed beyond (keys are bounded).
        let key = |call: &str, nonce: &str| {
            let content = Sha256::digest(format!("{}:{}:{nonce}", step.digest, step.live));
            let content = &hex::encode(content)[..32];
            derived_key("apply", &[&subject, call, &format!("v{v}"), content])
        };
        if step.publish {
            // What the service normalised (not the file's spelling): the same
            // content is the same request, whatever its formatting.
            let draft = step.spec.status() == Some(CampaignStatus::Draft) && v > 0;
            let key = key("publish", if draft { &run } else { "" });
            match client.publish(key, &step.spec.content(), v).await {
                Ok(spec) => applied.published.push((step.doc.named(), spec.version())),
                Err(status) => {
                    applied.failed = Some(failure(step, &status));
                    continue;
                }
            }
        }
        // Batches before the lifecycle calls: an ended campaign takes none.
        for batch in &step.batches {
            // A batch is made once: its key is its content.
            let content = Sha256::digest(prost::Message::encode_to_vec(batch));
            let content = &hex::encode(content)[..32];
            let key = derived_key("apply", &[&subject, "batch", &batch.batch_id, content]);
            match client.create_batch(key, batch).await {
                Ok(()) => applied
                    .batches
                    .push((step.doc.named(), batch.batch_id.clone())),
                Err(status) => {
                    applied.failed = Some(failure(step, &status));
                    break;
                }
            }
        }
        if applied.failed.is_some() {
            continue;
        }
        for &m in &step.moves {
            let key = key(m.name(), &run);
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
    // A refusal is an answer; anything else may have been made (ABORTED
    // too when the same key is still in progress).
    let in_progress = status.code() == Code::Aborted && status.message().contains("in progress");
    let lost = in_progress
        || !matches!(
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
