//! A purchase's returns in the what-if: what the draft gave it, after each
//! return in turn, as RecordReturn takes it back.
use std::collections::BTreeMap;

use crate::domain::{
    program::Program,
    returns,
    rewards::{self, Offer, Reward},
};

use super::Recorded;

/// `given` (what the draft gave `p` at the purchase) after each of `p`'s
/// returns in turn, as RecordReturn takes back: the order priced again on
/// the units it keeps (by the same rules, tier and offers, no caps), each
/// reward kept at what that earns ([`returns::taken_back`]). The rewards
/// kept, in the same order (some perhaps at nothing), and what each return
/// took back: (when recorded, index of the reward, minor units).
pub fn after_returns(
    program: &Program,
    source_ref: &str,
    p: &Recorded,
    tier: Option<(&str, &str)>,
    offers: &[Offer],
    given: Vec<Reward>,
) -> (Vec<Reward>, Vec<(i64, usize, i64)>) {
    let mut kept: Vec<u32> = p.lines.iter().map(|l| l.quantity).collect();
    let mut reversed = vec![0_i64; given.len()];
    let mut taken = Vec::new();
    for (at, lines) in &p.returns {
        // RecordReturn refused a return of more than was bought.
        if returns::subtract(&p.lines, &mut kept, lines).is_err() {
            break;
        }
        let after = rewards::compute(program, source_ref, &p.lines, &kept, tier, offers);
        for (i, (reward, reversed)) in given.iter().zip(reversed.iter_mut()).enumerate() {
            let (_, take) = returns::taken_back(reward, *reversed, &after.rewards);
            *reversed += take;
            if take > 0 {
                taken.push((*at, i, take));
            }
        }
    }
    let kept = given
        .into_iter()
        .zip(reversed)
        .map(|(reward, reversed)| Reward {
            amount: reward.amount - reversed,
            ..reward
        })
        .collect();
    (kept, taken)
}

/// What returns give back (room under a cap, budget) later than the
/// purchases priced so far, taken in the order it falls due.
#[derive(Clone, Debug)]
pub struct Pending<T> {
    due: BTreeMap<(i64, u64), T>,
    pushed: u64,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Self {
            due: BTreeMap::new(),
            pushed: 0,
        }
    }
}

impl<T> Pending<T> {
    /// `item`, due at `at`.
    pub fn push(&mut self, at: i64, item: T) {
        self.due.insert((at, self.pushed), item);
        self.pushed += 1;
    }

    /// What is due by `at`, in order, taken.
    pub fn take_due(&mut self, at: i64) -> Vec<T> {
        let mut out = Vec::new();
        while let Some(entry) = self.due.first_entry() {
            if entry.key().0 > at {
                break;
            }
            out.push(entry.remove());
        }
        out
    }

    /// As a snapshot keeps it: (due, item) in order.
    pub fn into_vec(self) -> Vec<(i64, T)> {
        self.due
            .into_iter()
            .map(|((at, _), item)| (at, item))
            .collect()
    }

    /// From [`Self::into_vec`].
    pub fn from_vec(items: Vec<(i64, T)>) -> Self {
        let mut pending = Self::default();
        for (at, item) in items {
            pending.push(at, item);
        }
        pending
    }
}
