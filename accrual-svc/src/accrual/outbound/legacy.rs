//! Reading the reversals and releases a binary from before `RewardRef` enqueued.
use boomerang_proto::{campaign::v1 as cpb, wallet::v1 as wpb};
use prost::Message;

use super::{LegacyTopic, Outbound, Release, ReverseThenRelease, RewardRef};

/// The reward an old reversal or release carried as JSON.
#[derive(serde::Deserialize)]
struct OldRewardRef {
    program: String,
    order: String,
    no: i64,
}

fn reward(source: Option<&wpb::Source>) -> RewardRef {
    source
        .and_then(|s| serde_json::from_str::<OldRewardRef>(&s.inputs).ok())
        .map(|r| RewardRef::new(&r.program, &r.order, r.no))
        .unwrap_or_default()
}

fn unpack<A: Message + Default, B: Message + Default>(
    mut payload: &[u8],
) -> anyhow::Result<(A, Option<B>)> {
    let first = A::decode_length_delimited(&mut payload)?;
    let then = if payload.is_empty() {
        None
    } else {
        Some(B::decode_length_delimited(&mut payload)?)
    };
    Ok((first, then))
}

/// An old payload of `topic` as the message it meant (the job keeps its
/// stored key; a reversal's return id is not needed to deliver it).
pub(super) fn decode(topic: LegacyTopic, payload: &[u8]) -> anyhow::Result<Outbound> {
    Ok(match topic {
        LegacyTopic::WalletReverse => {
            let (reverse, release) =
                unpack::<wpb::ReverseRequest, cpb::ReleaseBudgetRequest>(payload)?;
            Outbound::ReverseThenRelease(ReverseThenRelease {
                reward: reward(reverse.source.as_ref()),
                return_id: String::new(),
                reverse,
                release,
            })
        }
        LegacyTopic::WalletRelease => {
            let (release, source) = unpack::<wpb::ReleaseCreditRequest, wpb::Source>(payload)?;
            Outbound::Release(Release {
                reward: reward(source.as_ref()),
                release,
            })
        }
    })
}
