//! Who a campaign applies to: conditions, experiment variants, stacking.
use boomerang_common::arms;

use super::spec::{Conditions, Money, Stacking, Variant};

/// A purchase context.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// "online", "store", "app"; None matches only campaigns without channel conditions.
    pub channel: Option<String>,
    /// Categories in the order.
    pub categories: Vec<String>,
    /// Segment.
    pub segment: String,
    /// Tier.
    pub tier: String,
    /// Customer.
    pub customer: String,
    /// Store.
    pub store: String,
    /// Eligible order amount.
    pub order_amount: Option<Money>,
    /// First purchase.
    pub first_purchase: bool,
}

fn any_or(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == value)
}

/// Whether the conditions hold for the context.
pub fn matches(c: &Conditions, ctx: &Context) -> bool {
    let channel = c.channels.is_empty()
        || ctx
            .channel
            .as_ref()
            .is_some_and(|ch| c.channels.contains(ch));
    let categories =
        c.categories.is_empty() || ctx.categories.iter().any(|x| c.categories.contains(x));
    let amount = match (&c.min_order_amount, &ctx.order_amount) {
        (None, _) => true,
        (Some(min), Some(order)) => order.code() == min.code() && order.minor() >= min.minor(),
        (Some(_), None) => false,
    };
    channel
        && categories
        && amount
        && any_or(&c.stores, &ctx.store)
        && any_or(&c.segments, &ctx.segment)
        && any_or(&c.tiers, &ctx.tier)
        && (!c.first_purchase_only || ctx.first_purchase)
}

/// The customer's arm: a stable hash of (campaign, customer) over the
/// weights ([`arms::pick`]).
pub fn variant_for<'v>(
    campaign_id: &str,
    customer: &str,
    variants: &'v [Variant],
) -> Option<&'v Variant> {
    let weights: Vec<u32> = variants.iter().map(|v| v.weight).collect();
    arms::pick(campaign_id, customer, &weights).and_then(|i| variants.get(i))
}

/// A candidate for stacking.
pub trait Candidate {
    /// Priority (higher wins among exclusives).
    fn priority(&self) -> i32;
    /// Stacking mode.
    fn stacking(&self) -> Stacking;
    /// Stable tie-break (campaign id).
    fn id(&self) -> &str;
}

/// Keeps every stackable campaign and the single best exclusive one
/// (highest priority; ties go to the smaller id), highest priority first.
pub fn stack<C: Candidate>(mut candidates: Vec<C>) -> Vec<C> {
    candidates.sort_by(|a, b| {
        b.priority()
            .cmp(&a.priority())
            .then_with(|| a.id().cmp(b.id()))
    });
    let mut exclusive_taken = false;
    candidates.retain(|c| match c.stacking() {
        Stacking::Stackable => true,
        Stacking::Exclusive if !exclusive_taken => {
            exclusive_taken = true;
            true
        }
        Stacking::Exclusive => false,
    });
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    struct C(&'static str, i32, Stacking);
    impl Candidate for C {
        fn priority(&self) -> i32 {
            self.1
        }
        fn stacking(&self) -> Stacking {
            self.2
        }
        fn id(&self) -> &str {
            self.0
        }
    }

    #[test]
    fn one_exclusive_wins_and_stackables_stay() {
        let picked = stack(vec![
            C("low-exclusive", 1, Stacking::Exclusive),
            C("stackable", 0, Stacking::Stackable),
            C("high-exclusive", 5, Stacking::Exclusive),
        ]);
        let ids: Vec<&str> = picked.iter().map(|c| c.0).collect();
        assert_eq!(ids, vec!["high-exclusive", "stackable"]);
    }

    #[test]
    fn variants_are_stable_and_split_by_weight() {
        let variants = vec![
            Variant {
                name: "a".into(),
                weight: 30,
                effect: None,
            },
            Variant {
                name: "b".into(),
                weight: 70,
                effect: None,
            },
        ];
        let mut a = 0;
        for i in 0..10_000 {
            let customer = format!("c-{i}");
            let v = variant_for("camp-1", &customer, &variants).map(|v| v.name.clone());
            assert_eq!(
                v,
                variant_for("camp-1", &customer, &variants).map(|v| v.name.clone())
            );
            if v.as_deref() == Some("a") {
                a += 1;
            }
        }
        assert!((2_800..=3_200).contains(&a), "{a} of 10000 in the 30% arm");
    }

    #[test]
    fn conditions_match_channel_category_amount() {
        let c = Conditions {
            channels: vec!["online".into()],
            categories: vec!["shoes".into()],
            min_order_amount: Money::of(10_000, "EUR").ok(),
            ..Conditions::default()
        };
        let mut ctx = Context {
            channel: Some("online".into()),
            categories: vec!["shoes".into(), "socks".into()],
            order_amount: Money::of(10_000, "EUR").ok(),
            ..Context::default()
        };
        assert!(matches(&c, &ctx));
        ctx.channel = Some("store".into());
        assert!(!matches(&c, &ctx));
        ctx.channel = Some("online".into());
        ctx.order_amount = Money::of(9_999, "EUR").ok();
        assert!(!matches(&c, &ctx));
    }
}
