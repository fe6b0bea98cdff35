//! Ledger results rendered as `boomerang.wallet.v1` messages.
use boomerang_common::{money::wire, time::to_timestamp};
use boomerang_proto::wallet::v1 as pb;

use crate::{
    domain::{
        AccountKind, AccountRef, Layer, Posting, command::Source, hold::HoldStatus, lot::Take,
    },
    ledger::{
        Captured, Credited, HoldView, Posted, Reversed, Transferred, credit_ref, hold_ref,
        transaction_ref,
    },
    repo::{
        events::Event,
        reads::{EntryRow, LotRow},
    },
};

fn to_layer(l: Layer) -> pb::Layer {
    match l {
        Layer::Pending => pb::Layer::Pending,
        Layer::Available => pb::Layer::Available,
        Layer::Held => pb::Layer::Held,
    }
}

fn to_account(a: &AccountRef) -> pb::AccountRef {
    let kind = match a.kind {
        AccountKind::Customer => pb::AccountKind::Customer,
        AccountKind::Funding => pb::AccountKind::Funding,
        AccountKind::Breakage => pb::AccountKind::Breakage,
        AccountKind::Cause => pb::AccountKind::Cause,
        AccountKind::Campaign => pb::AccountKind::Campaign,
        AccountKind::Redemption => pb::AccountKind::Redemption,
    };
    pb::AccountRef {
        kind: kind.into(),
        id: a.id.clone(),
    }
}

fn to_source(s: &Source) -> pb::Source {
    pb::Source {
        kind: s.kind.clone(),
        reference: s.reference.clone(),
        rule_version: s.rule_version.clone(),
        inputs: s.inputs.clone(),
    }
}

impl From<&Posted> for pb::Transaction {
    fn from(t: &Posted) -> Self {
        Self {
            transaction_id: transaction_ref(t.id),
            posted_at: Some(to_timestamp(t.posted_at)),
            postings: t.postings.iter().map(to_posting).collect(),
            source: Some(to_source(&t.source)),
            description: t.description.clone(),
        }
    }
}

fn to_posting(p: &Posting) -> pb::Posting {
    pb::Posting {
        account: Some(to_account(&p.account)),
        layer: to_layer(p.layer).into(),
        amount: Some(wire(p.amount, &p.asset)),
    }
}

impl From<Credited> for pb::CreditResponse {
    fn from(c: Credited) -> Self {
        Self {
            credit_id: credit_ref(c.credit_id),
            transaction: Some((&c.transaction).into()),
            layer: to_layer(c.layer).into(),
            release_at: c.release_at.map(to_timestamp),
            lot_id: if c.expires {
                credit_ref(c.credit_id)
            } else {
                String::new()
            },
        }
    }
}

impl From<Reversed> for pb::ReverseResponse {
    fn from(r: Reversed) -> Self {
        Self {
            transaction: r.transaction.as_ref().map(Into::into),
            reversed_pending: Some(wire(r.from_pending, &r.asset)),
            reversed_available: Some(wire(r.from_available, &r.asset)),
            not_reversed: Some(wire(r.not_reversed, &r.asset)),
        }
    }
}

impl From<&HoldView> for pb::Hold {
    fn from(h: &HoldView) -> Self {
        let status = match h.status {
            HoldStatus::Authorized => pb::HoldStatus::Authorized,
            HoldStatus::Captured => pb::HoldStatus::Captured,
            HoldStatus::Voided => pb::HoldStatus::Voided,
            HoldStatus::Expired => pb::HoldStatus::Expired,
        };
        Self {
            hold_id: hold_ref(h.id),
            customer_id: h.customer.clone(),
            amount: Some(wire(h.amount, &h.asset)),
            captured: Some(wire(h.captured, &h.asset)),
            status: status.into(),
            expires_at: Some(to_timestamp(h.expires_at)),
            reference: h.reference.clone(),
        }
    }
}

fn to_lots(lots: &[Take], asset: &str) -> Vec<pb::LotConsumption> {
    lots.iter()
        .map(|t| pb::LotConsumption {
            lot_id: credit_ref(t.id),
            amount: Some(wire(t.amount, asset)),
        })
        .collect()
}

impl From<Captured> for pb::CaptureResponse {
    fn from(c: Captured) -> Self {
        Self {
            lots: to_lots(&c.lots, &c.hold.asset),
            hold: Some((&c.hold).into()),
            transaction: Some((&c.transaction).into()),
        }
    }
}

impl From<Transferred> for pb::TransferResponse {
    fn from(t: Transferred) -> Self {
        let asset = t
            .transaction
            .postings
            .first()
            .map(|p| p.asset.clone())
            .unwrap_or_default();
        Self {
            lots: to_lots(&t.lots, &asset),
            transaction: Some((&t.transaction).into()),
        }
    }
}

/// A statement line.
pub fn to_entry(e: &EntryRow) -> pb::Entry {
    pb::Entry {
        entry_id: format!("en_{}", e.id),
        transaction_id: transaction_ref(e.transaction_id),
        posted_at: Some(to_timestamp(e.posted_at)),
        layer: Layer::parse(&e.layer)
            .map_or(pb::Layer::Unspecified, to_layer)
            .into(),
        amount: Some(wire(e.amount, &e.asset)),
        running_balance: Some(wire(e.balance_after, &e.asset)),
        source: Some(pb::Source {
            kind: e.source_kind.clone(),
            reference: e.source_ref.clone(),
            rule_version: e.rule_version.clone(),
            inputs: String::new(),
        }),
        description: e.description.clone(),
    }
}

/// An expiring lot.
pub fn to_lot(l: &LotRow) -> pb::Lot {
    pb::Lot {
        lot_id: credit_ref(l.id),
        original: Some(wire(l.amount, &l.asset)),
        remaining: Some(wire(l.remaining, &l.asset)),
        expires_at: Some(to_timestamp(l.expires_at)),
        credit_id: credit_ref(l.id),
    }
}

/// Event type names and their wire enum.
const EVENT_TYPES: [(&str, pb::EventType); 10] = [
    ("credited", pb::EventType::Credited),
    ("reward_available", pb::EventType::RewardAvailable),
    ("reversed", pb::EventType::Reversed),
    ("hold_authorized", pb::EventType::HoldAuthorized),
    ("hold_captured", pb::EventType::HoldCaptured),
    ("hold_released", pb::EventType::HoldReleased),
    ("transferred", pb::EventType::Transferred),
    ("expiring_soon", pb::EventType::ExpiringSoon),
    ("expired", pb::EventType::Expired),
    ("transaction_posted", pb::EventType::TransactionPosted),
];

/// The stored names of wire event types.
pub fn event_kinds(types: &[i32]) -> Vec<&'static str> {
    EVENT_TYPES
        .iter()
        .filter(|(_, t)| types.contains(&(*t as i32)))
        .map(|(k, _)| *k)
        .collect()
}

/// An event on the wire.
pub fn to_event(e: &Event) -> pb::WatchEventsResponse {
    let kind = EVENT_TYPES
        .iter()
        .find(|(k, _)| *k == e.event.kind)
        .map_or(pb::EventType::Unspecified, |(_, t)| *t);
    pb::WatchEventsResponse {
        cursor: format!("{}.{}", e.commit_order, e.seq),
        r#type: kind.into(),
        occurred_at: Some(to_timestamp(e.occurred_at)),
        customer_id: e.event.customer.clone(),
        amount: Some(wire(e.event.amount, &e.event.asset)),
        reference: e.event.reference.clone(),
        source: Some(pb::Source {
            kind: e.event.source_kind.clone(),
            reference: e.event.source_ref.clone(),
            ..pb::Source::default()
        }),
    }
}
