//! The one public envelope: CloudEvents 1.0 in JSON (structured mode). Its
//! `id` is the event's place in its source's durable log, so a redelivery
//! carries the same id and a receiver (or JetStream's `Nats-Msg-Id`)
//! de-duplicates on it. Types are versioned: `boomerang.<name>.v1`.
use serde::{Deserialize, Serialize};

/// The CloudEvents version.
pub const SPEC_VERSION: &str = "1.0";

/// What happened, as receivers subscribe to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A reward credited, pending the return window.
    RewardPending,
    /// A reward available to spend.
    RewardAvailable,
    /// A reward taken back (a return).
    RewardReversed,
    /// Points expiring soon.
    PointsExpiringSoon,
    /// Points expired.
    PointsExpired,
    /// A member's tier changed.
    TierChanged,
    /// A member is within reach of the next tier.
    TierThresholdNear,
    /// A voucher issued to a customer.
    VoucherIssued,
    /// A voucher became usable.
    VoucherAvailable,
    /// A voucher expired unused.
    VoucherExpired,
    /// A coupon code redeemed.
    CouponRedeemed,
    /// A referred customer attributed.
    ReferralAttributed,
    /// A referrer rewarded.
    ReferralRewarded,
    /// A campaign started.
    CampaignStarted,
    /// A campaign ended.
    CampaignEnded,
    /// A campaign budget running low.
    BudgetLow,
    /// A checkout hold lapsed unused.
    HoldLapsed,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 17] = [
        Self::RewardPending,
        Self::RewardAvailable,
        Self::RewardReversed,
        Self::PointsExpiringSoon,
        Self::PointsExpired,
        Self::TierChanged,
        Self::TierThresholdNear,
        Self::VoucherIssued,
        Self::VoucherAvailable,
        Self::VoucherExpired,
        Self::CouponRedeemed,
        Self::ReferralAttributed,
        Self::ReferralRewarded,
        Self::CampaignStarted,
        Self::CampaignEnded,
        Self::BudgetLow,
        Self::HoldLapsed,
    ];

    /// The name webhooks filter on, e.g. "reward.pending".
    pub fn name(self) -> &'static str {
        match self {
            Self::RewardPending => "reward.pending",
            Self::RewardAvailable => "reward.available",
            Self::RewardReversed => "reward.reversed",
            Self::PointsExpiringSoon => "points.expiring_soon",
            Self::PointsExpired => "points.expired",
            Self::TierChanged => "tier.changed",
            Self::TierThresholdNear => "tier.threshold_near",
            Self::VoucherIssued => "voucher.issued",
            Self::VoucherAvailable => "voucher.available",
            Self::VoucherExpired => "voucher.expired",
            Self::CouponRedeemed => "coupon.redeemed",
            Self::ReferralAttributed => "referral.attributed",
            Self::ReferralRewarded => "referral.rewarded",
            Self::CampaignStarted => "campaign.started",
            Self::CampaignEnded => "campaign.ended",
            Self::BudgetLow => "budget.low",
            Self::HoldLapsed => "hold.lapsed",
        }
    }

    /// From its name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The CloudEvents `type`: `boomerang.<name>.v1`.
    pub fn type_name(self) -> String {
        format!("boomerang.{}.v1", self.name())
    }
}

/// The public name of a CloudEvents type: `boomerang.reward.pending.v1` ->
/// `reward.pending` (what webhooks filter on and NATS subjects end with).
pub fn short_name(type_name: &str) -> &str {
    let short = type_name.strip_prefix("boomerang.").unwrap_or(type_name);
    short.strip_suffix(".v1").unwrap_or(short)
}

/// One event as delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// "1.0".
    pub specversion: String,
    /// Stable across redeliveries: the source service and the event's
    /// cursor in its log, e.g. "accrual-0.1234".
    pub id: String,
    /// The service it came from, e.g. "/boomerang/accrual".
    pub source: String,
    /// `boomerang.<name>.v1`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The customer it is about, when one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When it happened, RFC 3339 (UTC).
    pub time: String,
    /// "application/json".
    pub datacontenttype: String,
    /// Extension attribute: the tenant.
    pub tenant: String,
    /// The event's fields; amounts are decimal strings with their asset.
    pub data: serde_json::Value,
}

/// Where an event sits in its source's log.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// Source service: "accrual", "wallet", "campaign", "referral".
    pub service: &'a str,
    /// The tenant.
    pub tenant: &'a str,
    /// The event's cursor in that service's log.
    pub cursor: &'a str,
    /// When it happened, unix micros.
    pub at_us: i64,
}

impl CloudEvent {
    /// An event of `kind` from `origin`, about `subject`.
    pub fn new(
        kind: Kind,
        origin: Origin<'_>,
        subject: Option<&str>,
        data: serde_json::Value,
    ) -> Result<Self, String> {
        let time = jiff::Timestamp::from_microsecond(origin.at_us)
            .map_err(|e| format!("event time out of range: {e}"))?;
        Ok(Self {
            specversion: SPEC_VERSION.into(),
            id: format!("{}-{}", origin.service, origin.cursor),
            source: format!("/boomerang/{}", origin.service),
            kind: kind.type_name(),
            subject: subject.filter(|s| !s.is_empty()).map(str::to_owned),
            time: time.to_string(),
            datacontenttype: "application/json".into(),
            tenant: origin.tenant.into(),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_once_and_versioned() {
        let names: std::collections::BTreeSet<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(
            Kind::TierThresholdNear.type_name(),
            "boomerang.tier.threshold_near.v1"
        );
    }

    #[test]
    fn an_event_is_a_cloudevent_with_a_stable_id() -> Result<(), String> {
        let origin = Origin {
            service: "accrual",
            tenant: "acme",
            cursor: "0.1234",
            at_us: 1_781_517_600_000_000,
        };
        let data = serde_json::json!({"amount": {"amount": "5.00", "asset": "EUR"}});
        let e = CloudEvent::new(Kind::RewardPending, origin, Some("ann"), data.clone())?;
        assert_eq!(
            CloudEvent::new(Kind::RewardPending, origin, Some("ann"), data)?,
            e
        );
        let json = serde_json::to_value(&e).map_err(|e| e.to_string())?;
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["id"], "accrual-0.1234");
        assert_eq!(json["type"], "boomerang.reward.pending.v1");
        assert_eq!(json["source"], "/boomerang/accrual");
        assert_eq!(json["subject"], "ann");
        assert_eq!(json["time"], "2026-06-15T10:00:00Z");
        assert_eq!(json["tenant"], "acme");
        let none = CloudEvent::new(
            Kind::CampaignStarted,
            origin,
            Some(""),
            serde_json::json!({}),
        )?;
        assert!(
            serde_json::to_value(&none)
                .map_err(|e| e.to_string())?
                .get("subject")
                .is_none()
        );
        Ok(())
    }
}
