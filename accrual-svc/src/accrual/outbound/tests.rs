//! Topics, keys and encodings of the outbox messages.
use super::*;

fn tenant() -> anyhow::Result<TenantId> {
    TenantId::parse("acme").map_err(anyhow::Error::msg)
}

#[test]
fn every_message_round_trips_through_its_topic() -> anyhow::Result<()> {
    let reward = RewardRef::new("p", "o-1", 2);
    let messages = [
        // A credit is its request (its reward lives in the job's key).
        Outbound::Credit(RewardCredit {
            reward: RewardRef::default(),
            credit: wpb::CreditRequest {
                customer_id: "c-1".into(),
                ..Default::default()
            },
        }),
        Outbound::ConfirmThenCredit(ConfirmThenCredit {
            reward: RewardRef::default(),
            confirm: cpb::ConfirmBudgetRequest {
                reservation_id: "r-1".into(),
                ..Default::default()
            },
            credit: wpb::CreditRequest::default(),
        }),
        Outbound::ReverseThenRelease(ReverseThenRelease {
            reward: reward.clone(),
            return_id: "r-1".into(),
            reverse: wpb::ReverseRequest::default(),
            release: Some(cpb::ReleaseBudgetRequest::default()),
        }),
        Outbound::Release(Release {
            reward,
            release: wpb::ReleaseCreditRequest::default(),
        }),
        // A notice is its request too (its order lives in the job's key).
        Outbound::ReferralPurchase(ReferralPurchase {
            program: String::new(),
            order: String::new(),
            notice: rpb::OnPurchaseRequest {
                order_id: "p:o-1".into(),
                ..Default::default()
            },
        }),
        Outbound::ReferralReturn(ReferralReturn {
            program: String::new(),
            order: String::new(),
            return_id: String::new(),
            notice: rpb::OnReturnRequest {
                return_id: "r-1".into(),
                ..Default::default()
            },
        }),
        Outbound::Checkout(CheckoutStep {
            session: "s-1".into(),
            step: Some(Step::GiveBack("cr_7".into())),
        }),
    ];
    for m in messages {
        assert_eq!(Outbound::from_payload(m.topic(), &m.to_payload())?, m);
    }
    Ok(())
}

#[test]
fn keys_are_the_ones_accrual_always_derived() -> anyhow::Result<()> {
    let t = tenant()?;
    let reward = RewardRef::new("p", "o-1", 2);
    let credit = Outbound::Credit(RewardCredit {
        reward: reward.clone(),
        credit: wpb::CreditRequest::default(),
    });
    assert_eq!(credit.key(&t), "acc:acme:p:o-1:2");
    assert_eq!(reward.credit_keys(&t)[0], credit.key(&t));
    let welcome = Outbound::Bonus(BonusCredit {
        program: "p".into(),
        customer: "c-1".into(),
        occasion: Occasion {
            kind: "welcome".into(),
            year: String::new(),
        },
        credit: wpb::CreditRequest::default(),
    });
    assert_eq!(welcome.key(&t), "acc:acme:p:c-1:welcome");
    let rejected = Outbound::ReverseThenRelease(ReverseThenRelease {
        reward,
        return_id: String::new(),
        reverse: wpb::ReverseRequest::default(),
        release: None,
    });
    assert_eq!(rejected.key(&t), "acc:acme:p:o-1:rejected:2");
    let capture = Outbound::Checkout(CheckoutStep {
        session: "s-1".into(),
        step: Some(Step::Capture("hd_9".into())),
    });
    assert_eq!(capture.key(&t), "acc:acme:checkout:s-1:capture:hd_9");
    Ok(())
}

#[test]
fn credits_and_notices_keep_what_the_release_before_reads() {
    // A replica of the release before, during a rolling update, delivers
    // these from the same queues with the same decoding.
    let credit = wpb::CreditRequest {
        customer_id: "c-1".into(),
        ..Default::default()
    };
    let bonus = Outbound::Bonus(BonusCredit {
        program: "p".into(),
        customer: "c-1".into(),
        occasion: Occasion {
            kind: "welcome".into(),
            year: String::new(),
        },
        credit: credit.clone(),
    });
    assert_eq!(bonus.topic().name(), "accrual.wallet_credit");
    assert_eq!(bonus.to_payload(), credit.encode_to_vec());
    let confirm = cpb::ConfirmBudgetRequest::default();
    let campaign = Outbound::ConfirmThenCredit(ConfirmThenCredit {
        reward: RewardRef::new("p", "o-1", 0),
        confirm: confirm.clone(),
        credit: credit.clone(),
    });
    let mut old = confirm.encode_length_delimited_to_vec();
    old.extend(credit.encode_length_delimited_to_vec());
    assert_eq!(campaign.topic().name(), "accrual.budget_confirm");
    assert_eq!(campaign.to_payload(), old);
}

#[test]
fn old_payloads_are_still_read() -> anyhow::Result<()> {
    let reverse = wpb::ReverseRequest {
        source: Some(wpb::Source {
            inputs: r#"{"program":"p","order":"o-1","no":3}"#.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let payload = reverse.encode_length_delimited_to_vec();
    let Outbound::ReverseThenRelease(m) =
        Outbound::from_payload(Topic::Legacy(LegacyTopic::WalletReverse), &payload)?
    else {
        anyhow::bail!("not a reversal");
    };
    assert_eq!(m.reward, RewardRef::new("p", "o-1", 3));
    assert!(m.release.is_none());
    let release = wpb::ReleaseCreditRequest {
        source_reference: "p:o-1#3".into(),
        ..Default::default()
    };
    let source = wpb::Source {
        inputs: r#"{"program":"p","order":"o-1","no":3}"#.into(),
        ..Default::default()
    };
    let mut payload = release.encode_length_delimited_to_vec();
    payload.extend(source.encode_length_delimited_to_vec());
    let Outbound::Release(m) =
        Outbound::from_payload(Topic::Legacy(LegacyTopic::WalletRelease), &payload)?
    else {
        anyhow::bail!("not a release");
    };
    assert_eq!(
        (m.reward, m.release),
        (RewardRef::new("p", "o-1", 3), release)
    );
    Ok(())
}
