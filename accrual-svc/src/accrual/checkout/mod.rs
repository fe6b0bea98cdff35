//! Checkout: a member's cart with its coupon codes, points and cashback,
//! evaluated with no side effects (what each code takes off, what balances
//! can pay, what the member earns on what is left); [`sessions`] hold what a
//! cart uses until it [`endings`]: confirmed into a purchase, cancelled or
//! lapsed.
pub mod endings;
pub mod sessions;

use std::collections::BTreeSet;

use boomerang_common::{error::AppError, tenant::TenantId};
use tracing::instrument;

use super::{Accrual, PurchaseInput, Recorded};
use crate::{
    domain::{
        checkout::{self, CartLine, Conversion, Paid, Refusal, Shopper},
        rewards::Line,
    },
    repo,
};

/// Points' asset.
pub(crate) const POINTS: &str = "PTS";

/// A cart as asked.
#[derive(Clone, Debug, Default)]
pub struct CartInput {
    /// Program.
    pub program_id: String,
    /// Member.
    pub customer: String,
    /// Currency.
    pub currency: String,
    /// Channel enum value.
    pub channel: i32,
    /// "online", "store", "app", if given.
    pub channel_name: Option<String>,
    /// Store.
    pub store: String,
    /// Lines (no discount of their own).
    pub lines: Vec<Line>,
    /// Codes, upper-case, as given.
    pub codes: Vec<String>,
    /// Points asked to pay with.
    pub points: i64,
    /// Cashback asked to pay with, minor units.
    pub cashback: i64,
}

/// Why a code gives nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// No such code.
    Unknown,
    /// Validity over.
    Expired,
    /// Validity not begun.
    NotYetValid,
    /// Every use taken.
    UsedUp,
    /// Every use of this customer taken.
    UsedUpByCustomer,
    /// Someone else's.
    NotYours,
    /// Below its minimum order.
    BelowMinimum,
    /// Does not combine.
    NotCombinable,
    /// Conditions not met.
    ConditionsNotMet,
    /// Campaign not running.
    CampaignNotRunning,
    /// Given twice.
    Duplicate,
    /// A voucher voided.
    Voided,
}

impl Why {
    const ALL: [Self; 12] = [
        Self::Unknown,
        Self::Expired,
        Self::NotYetValid,
        Self::UsedUp,
        Self::UsedUpByCustomer,
        Self::NotYours,
        Self::BelowMinimum,
        Self::NotCombinable,
        Self::ConditionsNotMet,
        Self::CampaignNotRunning,
        Self::Duplicate,
        Self::Voided,
    ];

    /// From campaign-svc's reason; one it does not say is conditions not met.
    fn of_reason(reason: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|w| w.reason().0 == reason)
            .unwrap_or(Self::ConditionsNotMet)
    }

    /// The `google.rpc.ErrorInfo` reason a reservation refused for it
    /// answers (campaign-svc's, for what campaign-svc decides), and whether
    /// a limit was reached (RESOURCE_EXHAUSTED) rather than a state.
    pub fn reason(self) -> (&'static str, bool) {
        match self {
            Self::Unknown => ("COUPON_UNKNOWN", false),
            Self::Expired => ("COUPON_EXPIRED", false),
            Self::NotYetValid => ("COUPON_NOT_YET_VALID", false),
            Self::UsedUp => ("COUPON_USED_UP", true),
            Self::UsedUpByCustomer => ("COUPON_USED_UP_BY_CUSTOMER", true),
            Self::NotYours => ("COUPON_NOT_YOURS", false),
            Self::BelowMinimum => ("COUPON_BELOW_MINIMUM", false),
            Self::NotCombinable => ("COUPON_NOT_COMBINABLE", false),
            Self::ConditionsNotMet => ("COUPON_CONDITIONS_NOT_MET", false),
            Self::CampaignNotRunning => ("CAMPAIGN_NOT_RUNNING", false),
            Self::Duplicate => ("COUPON_DUPLICATE", false),
            Self::Voided => ("COUPON_VOIDED", false),
        }
    }

    fn of_refusal(r: Refusal) -> Self {
        match r {
            Refusal::BelowMinimum => Self::BelowMinimum,
            Refusal::NotCombinable => Self::NotCombinable,
            Refusal::ConditionsNotMet => Self::ConditionsNotMet,
        }
    }

    fn message(self, code: &str) -> String {
        match self {
            Self::BelowMinimum => format!("the cart is below the minimum order of {code}"),
            Self::NotCombinable => {
                format!("{code} does not combine with the codes applied before it")
            }
            Self::ConditionsNotMet => format!("the cart does not meet the conditions of {code}"),
            Self::Duplicate => format!("{code} is given twice"),
            _ => String::new(),
        }
    }
}

/// What became of one code.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The code.
    pub code: String,
    /// Its campaign.
    pub campaign: String,
    /// Why not, when refused.
    pub why: Option<Why>,
    /// For people.
    pub message: String,
    /// Its discount on the order.
    pub discount: i64,
}

/// A line after the codes.
#[derive(Clone, Debug)]
pub struct LineOutcome {
    /// The line.
    pub line_id: String,
    /// Subtotal.
    pub subtotal: i64,
    /// (code, amount) of each code that took something off it.
    pub discounts: Vec<(String, i64)>,
}

/// A cart evaluated.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Currency.
    pub currency: String,
    /// Each line.
    pub lines: Vec<LineOutcome>,
    /// Each code: applied ones in the order applied, then the refused ones.
    pub codes: Vec<Verdict>,
    /// Lines' subtotals.
    pub subtotal: i64,
    /// Codes' discount.
    pub discount: i64,
    /// Points held, cashback held.
    pub held: (i64, i64),
    /// What balances pay.
    pub paid: Paid,
    /// Left to pay.
    pub to_pay: i64,
    /// What the member earns on what is left.
    pub earn: Recorded,
    /// The purchase the preview priced: each line less its codes' discounts
    /// and its share of the payment, with the rewards of reward codes.
    pub purchase: PurchaseInput,
}

impl Accrual {
    /// Evaluates a member's cart: the codes under their conditions and
    /// stacking, then points (whole blocks) and cashback, then what the
    /// member earns on what is left to pay. Holds nothing anywhere.
    #[instrument(name = "boomerang.accrual.checkout.evaluate", skip_all,
                 fields(tenant = %tenant, program = %cart.program_id), err(level = "info"))]
    pub async fn evaluate(
        &self,
        tenant: &TenantId,
        cart: CartInput,
    ) -> Result<Evaluation, AppError> {
        let mut conn = self.db().pool().acquire().await?;
        let standing = repo::standing(
            &mut conn,
            tenant.as_str(),
            &cart.program_id,
            &cart.customer,
            None,
        )
        .await?;
        let first_purchase = !standing.bought_before;
        let (_, program) = self
            .program_for(
                &mut conn,
                tenant,
                &cart.program_id,
                &standing,
                (&cart.currency, "cart.currency"),
            )
            .await?;
        let now = self.clock().now();
        let auto = program.auto_enroll;
        let row = standing.member_or_newcomer(&cart.program_id, &cart.customer, auto, now)?;
        let member = self
            .judge(&mut conn, tenant, &cart.program_id, program.clone(), row)
            .await?;
        drop(conn);

        let mut seen = BTreeSet::new();
        let (unique, twice): (Vec<String>, Vec<String>) = cart
            .codes
            .iter()
            .cloned()
            .partition(|c| seen.insert(c.clone()));
        let checks = self
            .upstream()
            .check_coupons(tenant, unique, &cart.customer, &cart.currency)
            .await?;
        let held = self.upstream().available(tenant, &cart.customer).await?;
        let holding = |asset: &str| held.iter().find(|(a, _)| a == asset).map_or(0, |(_, n)| *n);
        let held = (holding(POINTS), holding(&cart.currency));

        let lines: Vec<CartLine> = cart
            .lines
            .iter()
            .map(|l| CartLine {
                line_id: l.line_id.clone(),
                category: l.category.clone(),
                subtotal: l.unit_price.saturating_mul(i64::from(l.quantity)),
            })
            .collect();
        let shopper = Shopper {
            channel: cart.channel_name.clone(),
            store: cart.store.clone(),
            segment: member.member.segment.clone(),
            tier: member.tier.clone().unwrap_or_default(),
            first_purchase,
        };
        let mut verdicts = Vec::new();
        let mut refused = Vec::new();
        let mut offers = Vec::new();
        let mut rewards = Vec::new();
        for check in checks {
            match (check.refusal, check.offer) {
                (None, Some(offer)) => {
                    if let Some(r) = check.reward {
                        rewards.push((offer.code.clone(), r));
                    }
                    offers.push(offer);
                }
                (refusal, _) => {
                    let (reason, message) = refusal.unwrap_or_default();
                    refused.push(Verdict {
                        code: check.code,
                        campaign: check.campaign,
                        why: Some(Why::of_reason(&reason)),
                        message,
                        discount: 0,
                    });
                }
            }
        }
        let campaigns: Vec<(String, String)> = offers
            .iter()
            .map(|o| (o.code.clone(), o.campaign.clone()))
            .collect();
        let outcome = checkout::apply(&lines, &shopper, offers);
        let campaign_of = |code: &str| {
            campaigns
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, k)| k.clone())
                .unwrap_or_default()
        };
        for a in &outcome.applied {
            verdicts.push(Verdict {
                code: a.code.clone(),
                campaign: a.campaign.clone(),
                why: None,
                message: String::new(),
                discount: a.total(),
            });
        }
        for (code, r) in &outcome.refused {
            let why = Why::of_refusal(*r);
            verdicts.push(Verdict {
                code: code.clone(),
                campaign: campaign_of(code),
                why: Some(why),
                message: why.message(code),
                discount: 0,
            });
        }
        verdicts.extend(refused);
        verdicts.extend(twice.into_iter().map(|code| Verdict {
            message: Why::Duplicate.message(&code),
            campaign: campaign_of(&code),
            code,
            why: Some(Why::Duplicate),
            discount: 0,
        }));

        let subtotal: i64 = lines.iter().map(|l| l.subtotal).sum();
        let line_discounts = outcome.line_discounts(lines.len());
        let discount: i64 = line_discounts.iter().sum();
        let conversion = program.conversion.as_ref().map(|c| Conversion {
            points: c.points,
            value: c.value.minor(),
        });
        let paid = checkout::pay(
            subtotal - discount,
            conversion,
            (held.0, cart.points),
            (held.1, cart.cashback),
        );
        let to_pay = subtotal - discount - paid.points_value - paid.cashback_used;

        // Earned on what is left to pay: the codes' discounts and the
        // balances' payment as each line's discount.
        let left: Vec<i64> = lines
            .iter()
            .zip(&line_discounts)
            .map(|(l, d)| l.subtotal - d)
            .collect();
        let payment = checkout::spread(paid.points_value + paid.cashback_used, &left);
        let applied: BTreeSet<&str> = outcome.applied.iter().map(|a| a.code.as_str()).collect();
        let input = PurchaseInput {
            program_id: cart.program_id.clone(),
            order_id: "cart".into(),
            customer: cart.customer.clone(),
            currency: cart.currency.clone(),
            lines: cart
                .lines
                .iter()
                .zip(line_discounts.iter().zip(&payment))
                .map(|(l, (d, p))| Line {
                    discount: d + p,
                    ..l.clone()
                })
                .collect(),
            channel: cart.channel,
            store: cart.store.clone(),
            occurred_at_us: self.clock().now(),
            request_hash: Vec::new(),
            coupon_offers: rewards
                .into_iter()
                .filter(|(code, _)| applied.contains(code.as_str()))
                .map(|(_, r)| r)
                .collect(),
        };
        let earn = self.preview(tenant, &input).await?;
        let line_outcomes = lines
            .iter()
            .enumerate()
            .map(|(i, l)| LineOutcome {
                line_id: l.line_id.clone(),
                subtotal: l.subtotal,
                discounts: outcome
                    .applied
                    .iter()
                    .filter_map(|a| {
                        let d = a.per_line.get(i).copied().unwrap_or(0);
                        (d > 0).then(|| (a.code.clone(), d))
                    })
                    .collect(),
            })
            .collect();
        Ok(Evaluation {
            purchase: input,
            currency: cart.currency,
            lines: line_outcomes,
            codes: verdicts,
            subtotal,
            discount,
            held,
            paid,
            to_pay,
            earn,
        })
    }
}
