//! A purchase without `occurred_at` happened now (the README's walkthrough
//! sends none, so it cannot go stale); one before 2000 or in the future is
//! refused by name.
use accrual_svc::grpc::convert::purchase;
use boomerang_proto::{accrual::v1 as pb, common::v1::Money};

const NOW: i64 = 1_767_225_600_000_000;

fn order(occurred_at: Option<prost_types::Timestamp>) -> pb::Purchase {
    pb::Purchase {
        program_id: "demo".into(),
        order_id: "o-1".into(),
        customer_id: "alice".into(),
        currency: "EUR".into(),
        lines: vec![pb::PurchaseLine {
            line_id: "1".into(),
            sku: "shoe".into(),
            category: "shoes".into(),
            unit_price: Some(Money {
                amount: "90.00".into(),
                asset: "EUR".into(),
            }),
            quantity: 1,
            discount: None,
        }],
        occurred_at,
        channel: boomerang_proto::common::v1::Channel::Online as i32,
        ..Default::default()
    }
}

#[test]
fn a_purchase_without_a_time_happened_now() -> anyhow::Result<()> {
    let input = purchase(Some(&order(None)), Vec::new(), NOW)?;
    assert_eq!(input.occurred_at_us, NOW);
    let stale = prost_types::Timestamp {
        seconds: 631_152_000,
        nanos: 0,
    }; // 1990
    let refused = purchase(Some(&order(Some(stale))), Vec::new(), NOW)
        .err()
        .map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("purchase.occurred_at")),
        "{refused:?}"
    );
    Ok(())
}

#[test]
fn a_purchase_names_its_channel() {
    let unsaid = pb::Purchase {
        channel: 0,
        ..order(None)
    };
    let refused = purchase(Some(&unsaid), Vec::new(), NOW)
        .err()
        .map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("purchase.channel") && e.contains("required")),
        "{refused:?}"
    );
    let unknown = pb::Purchase {
        channel: 9,
        ..order(None)
    };
    assert!(purchase(Some(&unknown), Vec::new(), NOW).is_err());
}
