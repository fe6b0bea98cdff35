//! Each service's own events, as read from its log, into the public
//! envelope: which of them customers hear of, under which [`Kind`], with
//! which data. Amounts stay as their services said them: decimal strings
//! with their asset. An event nobody outside hears of maps to nothing.
use boomerang_proto::{
    accrual::v1 as apb, campaign::v1 as cpb, common::v1::Money, referral::v1 as rpb,
    wallet::v1 as wpb,
};
use serde_json::{Value, json};

use super::envelope::{CloudEvent, Kind, Origin};

fn money(m: Option<&Money>) -> Value {
    m.map_or(
        Value::Null,
        |m| json!({"amount": m.amount, "asset": m.asset}),
    )
}

fn at(ts: Option<&prost_types::Timestamp>) -> Value {
    ts.and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
        .map_or(Value::Null, |t| Value::String(t.to_string()))
}

fn points(m: Option<&Money>) -> bool {
    m.is_some_and(|m| m.asset == "PTS")
}

/// An accrual event (`origin.service` "accrual").
pub fn accrual(
    origin: Origin<'_>,
    e: &apb::WatchEventsResponse,
) -> Result<Option<CloudEvent>, String> {
    use apb::EventType as T;
    let (kind, data) = match T::try_from(e.r#type) {
        Ok(T::RewardPending) => (
            Kind::RewardPending,
            json!({
                "program_id": e.program_id, "order_id": e.reference,
                "amount": money(e.amount.as_ref()), "available_at": at(e.release_at.as_ref()),
            }),
        ),
        Ok(T::TierChanged) => (
            Kind::TierChanged,
            json!({"program_id": e.program_id, "tier_id": e.tier_id, "previous_tier_id": e.previous_tier_id}),
        ),
        Ok(T::TierThresholdReached) => (
            Kind::TierThresholdNear,
            json!({
                "program_id": e.program_id, "tier_id": e.tier_id,
                "still_needed": money(e.amount.as_ref()), "message": e.message,
            }),
        ),
        Ok(T::CheckoutLapsed) => (
            Kind::HoldLapsed,
            json!({"program_id": e.program_id, "session_id": e.reference}),
        ),
        _ => return Ok(None),
    };
    CloudEvent::new(kind, origin, Some(&e.customer_id), data).map(Some)
}

/// A wallet event (`origin.service` "wallet"). Expiry is told for points.
pub fn wallet(
    origin: Origin<'_>,
    e: &wpb::WatchEventsResponse,
) -> Result<Option<CloudEvent>, String> {
    use wpb::EventType as T;
    let amount = e.amount.as_ref();
    let source = e.source.clone().unwrap_or_default();
    let kind = match T::try_from(e.r#type) {
        Ok(T::RewardAvailable) => Kind::RewardAvailable,
        Ok(T::Reversed) => Kind::RewardReversed,
        Ok(T::ExpiringSoon) if points(amount) => Kind::PointsExpiringSoon,
        Ok(T::Expired) if points(amount) => Kind::PointsExpired,
        _ => return Ok(None),
    };
    let data = json!({
        "amount": money(amount), "reference": e.reference,
        "source": {"kind": source.kind, "reference": source.reference},
    });
    CloudEvent::new(kind, origin, Some(&e.customer_id), data).map(Some)
}

/// A campaign-svc event (`origin.service` "campaign").
pub fn campaign(
    origin: Origin<'_>,
    e: &cpb::WatchEventsResponse,
) -> Result<Option<CloudEvent>, String> {
    use cpb::EventType as T;
    let (kind, data) = match T::try_from(e.r#type) {
        Ok(T::VoucherIssued) => (
            Kind::VoucherIssued,
            json!({
                "campaign_id": e.campaign_id, "code": e.code, "value": money(e.amount.as_ref()),
                "valid_from": at(e.valid_from.as_ref()), "valid_until": at(e.valid_until.as_ref()),
                "message": e.message,
            }),
        ),
        Ok(t @ (T::VoucherAvailable | T::VoucherExpired)) => (
            if t == T::VoucherAvailable {
                Kind::VoucherAvailable
            } else {
                Kind::VoucherExpired
            },
            json!({
                "campaign_id": e.campaign_id, "code": e.code, "value": money(e.amount.as_ref()),
                "valid_until": at(e.valid_until.as_ref()), "message": e.message,
            }),
        ),
        Ok(T::CouponRedeemed) => (
            Kind::CouponRedeemed,
            json!({"campaign_id": e.campaign_id, "code": e.code, "order_id": e.order_id}),
        ),
        Ok(t @ (T::CampaignStarted | T::CampaignEnded)) => (
            if t == T::CampaignStarted {
                Kind::CampaignStarted
            } else {
                Kind::CampaignEnded
            },
            json!({
                "campaign_id": e.campaign_id, "name": e.message,
                "starts_at": at(e.valid_from.as_ref()), "ends_at": at(e.valid_until.as_ref()),
            }),
        ),
        Ok(T::BudgetLow) => (
            Kind::BudgetLow,
            json!({
                "campaign_id": e.campaign_id, "left": money(e.amount.as_ref()),
                "total": money(e.budget_total.as_ref()), "message": e.message,
            }),
        ),
        _ => return Ok(None),
    };
    CloudEvent::new(kind, origin, Some(&e.customer_id), data).map(Some)
}

/// A referral-svc event (`origin.service` "referral"). A reward taken back
/// is told by wallet-svc (`reward.reversed`), as every other.
pub fn referral(
    origin: Origin<'_>,
    e: &rpb::WatchEventsResponse,
) -> Result<Option<CloudEvent>, String> {
    use rpb::EventType as T;
    let (kind, data) = match T::try_from(e.r#type) {
        Ok(T::ReferralAttributed) => (
            Kind::ReferralAttributed,
            json!({
                "referral_id": e.referral_id, "code": e.code, "referrer_id": e.referrer_id,
                "referee_id": e.referee_id, "message": e.message,
            }),
        ),
        Ok(T::ReferralRewarded) => (
            Kind::ReferralRewarded,
            json!({
                "referral_id": e.referral_id, "referrer_id": e.referrer_id,
                "referee_id": e.referee_id, "beneficiary": e.beneficiary, "order_id": e.order_id,
                "amount": money(e.amount.as_ref()), "available_at": at(e.release_at.as_ref()),
                "message": e.message,
            }),
        ),
        _ => return Ok(None),
    };
    CloudEvent::new(kind, origin, Some(&e.customer_id), data).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(service: &str) -> Origin<'_> {
        Origin {
            service,
            tenant: "acme",
            cursor: "0.7",
            at_us: 1_781_517_600_000_000,
        }
    }

    fn eur(amount: &str) -> Option<Money> {
        Some(Money {
            amount: amount.into(),
            asset: "EUR".into(),
        })
    }

    #[test]
    fn a_pending_reward_says_what_and_when() -> Result<(), String> {
        let e = apb::WatchEventsResponse {
            r#type: apb::EventType::RewardPending as i32,
            program_id: "demo".into(),
            customer_id: "ann".into(),
            reference: "o-1".into(),
            amount: eur("6.00"),
            release_at: Some(prost_types::Timestamp {
                seconds: 1_782_727_200,
                nanos: 0,
            }),
            ..Default::default()
        };
        let ce = accrual(origin("accrual"), &e)?.ok_or("mapped")?;
        assert_eq!(
            (ce.kind.as_str(), ce.subject.as_deref()),
            ("boomerang.reward.pending.v1", Some("ann"))
        );
        assert_eq!(ce.data["amount"], json!({"amount": "6.00", "asset": "EUR"}));
        assert_eq!(ce.data["available_at"], "2026-06-29T10:00:00Z");
        Ok(())
    }

    #[test]
    fn only_what_customers_hear_of_is_mapped() -> Result<(), String> {
        let enrolled = apb::WatchEventsResponse {
            r#type: apb::EventType::MemberEnrolled as i32,
            ..Default::default()
        };
        assert_eq!(accrual(origin("accrual"), &enrolled)?, None);
        let cash_expiring = wpb::WatchEventsResponse {
            r#type: wpb::EventType::ExpiringSoon as i32,
            amount: eur("1.00"),
            ..Default::default()
        };
        assert_eq!(wallet(origin("wallet"), &cash_expiring)?, None);
        let points_expiring = wpb::WatchEventsResponse {
            amount: Some(Money {
                amount: "120".into(),
                asset: "PTS".into(),
            }),
            ..cash_expiring
        };
        let ce = wallet(origin("wallet"), &points_expiring)?.ok_or("mapped")?;
        assert_eq!(ce.kind, Kind::PointsExpiringSoon.type_name());
        let issued = cpb::WatchEventsResponse {
            r#type: cpb::EventType::VoucherIssued as i32,
            code: "V-AB23-CD45-EF67".into(),
            amount: eur("5.00"),
            ..Default::default()
        };
        let ce = campaign(origin("campaign"), &issued)?.ok_or("mapped")?;
        assert_eq!(
            (ce.id.as_str(), ce.data["code"].as_str()),
            ("campaign-0.7", Some("V-AB23-CD45-EF67"))
        );
        Ok(())
    }

    /// Every kind the mapping makes, once each.
    fn one_of_each() -> Result<Vec<CloudEvent>, String> {
        let a = |t: apb::EventType| apb::WatchEventsResponse {
            r#type: t as i32,
            customer_id: "ann".into(),
            amount: eur("1.00"),
            ..Default::default()
        };
        let pts = Some(Money {
            amount: "10".into(),
            asset: "PTS".into(),
        });
        let w = |t: wpb::EventType| wpb::WatchEventsResponse {
            r#type: t as i32,
            customer_id: "ann".into(),
            amount: pts.clone(),
            ..Default::default()
        };
        let c = |t: cpb::EventType| cpb::WatchEventsResponse {
            r#type: t as i32,
            customer_id: "ann".into(),
            ..Default::default()
        };
        let mut all = Vec::new();
        for t in [
            apb::EventType::RewardPending,
            apb::EventType::TierChanged,
            apb::EventType::TierThresholdReached,
            apb::EventType::CheckoutLapsed,
        ] {
            all.push(accrual(origin("accrual"), &a(t))?);
        }
        for t in [
            wpb::EventType::RewardAvailable,
            wpb::EventType::Reversed,
            wpb::EventType::ExpiringSoon,
            wpb::EventType::Expired,
        ] {
            all.push(wallet(origin("wallet"), &w(t))?);
        }
        for t in [
            cpb::EventType::VoucherIssued,
            cpb::EventType::VoucherAvailable,
            cpb::EventType::VoucherExpired,
            cpb::EventType::CouponRedeemed,
            cpb::EventType::CampaignStarted,
            cpb::EventType::CampaignEnded,
            cpb::EventType::BudgetLow,
        ] {
            all.push(campaign(origin("campaign"), &c(t))?);
        }
        for t in [
            rpb::EventType::ReferralAttributed,
            rpb::EventType::ReferralRewarded,
        ] {
            let e = rpb::WatchEventsResponse {
                r#type: t as i32,
                customer_id: "ann".into(),
                ..Default::default()
            };
            all.push(referral(origin("referral"), &e)?);
        }
        all.into_iter()
            .map(|e| e.ok_or_else(|| "unmapped".to_owned()))
            .collect()
    }

    /// Each published schema (`schemas/<name>.v1.json`) names the event's
    /// type, and every field it requires is in what the mapping makes.
    #[test]
    fn every_mapped_kind_has_its_schema_and_fills_it() -> Result<(), String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let events = one_of_each()?;
        let kinds: std::collections::BTreeSet<&str> =
            events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds.len(), events.len(), "one of each");
        let files = std::fs::read_dir(&dir).map_err(|e| e.to_string())?.count();
        assert_eq!(
            files,
            events.len(),
            "a schema for each mapped kind, and no other"
        );
        for e in events {
            let name = e
                .kind
                .trim_start_matches("boomerang.")
                .trim_end_matches(".v1");
            let text = std::fs::read_to_string(dir.join(format!("{name}.v1.json")))
                .map_err(|x| format!("{name}: {x}"))?;
            let schema: Value = serde_json::from_str(&text).map_err(|x| format!("{name}: {x}"))?;
            assert_eq!(schema["properties"]["type"]["const"], e.kind.as_str());
            let event = serde_json::to_value(&e).map_err(|x| x.to_string())?;
            let required = |at: &Value| at["required"].as_array().cloned().unwrap_or_default();
            for key in required(&schema) {
                assert!(
                    event.get(key.as_str().unwrap_or_default()).is_some(),
                    "{name}: {key}"
                );
            }
            for key in required(&schema["properties"]["data"]) {
                assert!(
                    event["data"]
                        .get(key.as_str().unwrap_or_default())
                        .is_some(),
                    "{name}: data.{key}"
                );
            }
        }
        Ok(())
    }
}
