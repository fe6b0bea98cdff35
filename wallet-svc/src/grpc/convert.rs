//! Conversions between `boomerang.wallet.v1` messages and the ledger's
//! domain: requests are validated here (every bad field reported at once, as
//! INVALID_ARGUMENT with field violations), responses are rendered here.
use std::collections::BTreeMap;

use boomerang_common::{
    error::{AppError, Violations},
    money::{Amount, Asset, Sign},
};
use boomerang_proto::{common::v1 as pc, wallet::v1 as pb};

use crate::{
    domain::{
        AccountKind, AccountRef, Layer,
        command::{
            Authorize, Capture, Credit, Destination, Leg, PostTransaction, ReleaseHeld, Reverse,
            ReverseTarget, Source, TaxTreatment, Transfer,
        },
        reversal::ClawbackPolicy,
    },
    ledger::parse_ref,
};

/// Largest amount one request may move: 10^12 minor units.
pub const MAX_AMOUNT_MINOR: i64 = boomerang_common::money::MAX_REQUEST_MINOR;
const MAX_ID: usize = boomerang_common::id::MAX_LEN;
const MAX_TEXT: usize = 256;

/// A required id (`common::id`: 1-128 printable characters, no surrounding spaces).
pub fn id(v: &mut Violations, field: &str, value: &str) -> String {
    boomerang_common::id::field(v, field, value)
}

fn text(v: &mut Violations, field: &str, value: &str, max: usize) -> String {
    if value.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    }
    value.to_owned()
}

/// A known asset by code.
pub fn asset(v: &mut Violations, field: &str, code: &str) -> Option<Asset> {
    let found = Asset::builtin(code);
    if found.is_none() {
        v.add(
            field,
            format!(
                "unknown asset {:?}",
                code.chars().take(16).collect::<String>()
            ),
        );
    }
    found
}

/// A required amount (`common::money::field`); `positive` requires > 0,
/// otherwise any non-zero; never more than one request may move.
pub fn money(
    v: &mut Violations,
    field: &str,
    m: Option<&pc::Money>,
    positive: bool,
) -> Option<Amount> {
    if m.is_none() {
        v.add(field, "required");
    }
    let sign = if positive {
        Sign::Positive
    } else {
        Sign::NotZero
    };
    let amount = boomerang_common::money::field(v, field, m, sign)?;
    if amount.minor().abs() > MAX_AMOUNT_MINOR {
        v.add(
            format!("{field}.amount"),
            "exceeds the largest amount one request may move",
        );
        return None;
    }
    Some(amount)
}

/// An optional instant between 1970 and 2200 (`common::time::instant`).
pub fn instant(
    v: &mut Violations,
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Option<i64> {
    boomerang_common::time::instant(v, field, ts)
}

fn source(v: &mut Violations, s: Option<&pb::Source>) -> Source {
    let s = s.cloned().unwrap_or_default();
    Source {
        kind: text(v, "source.kind", &s.kind, 64),
        reference: text(v, "source.reference", &s.reference, MAX_ID),
        rule_version: text(v, "source.rule_version", &s.rule_version, MAX_ID),
        inputs: text(v, "source.inputs", &s.inputs, 4_096),
    }
}

/// A FUNDING or CAMPAIGN account, required.
pub fn funder(v: &mut Violations, field: &str, a: Option<&pb::AccountRef>) -> Option<AccountRef> {
    let Some(a) = a else {
        v.add(field, "required");
        return None;
    };
    let account = account(v, field, Some(a))?;
    if !matches!(account.kind, AccountKind::Funding | AccountKind::Campaign) {
        v.add(format!("{field}.kind"), "FUNDING or CAMPAIGN");
        return None;
    }
    Some(account)
}

fn account(v: &mut Violations, field: &str, a: Option<&pb::AccountRef>) -> Option<AccountRef> {
    let a = a?;
    let kind = match pb::AccountKind::try_from(a.kind) {
        Ok(pb::AccountKind::Customer) => AccountKind::Customer,
        Ok(pb::AccountKind::Funding) => AccountKind::Funding,
        Ok(pb::AccountKind::Breakage) => AccountKind::Breakage,
        Ok(pb::AccountKind::Cause) => AccountKind::Cause,
        Ok(pb::AccountKind::Campaign) => AccountKind::Campaign,
        Ok(pb::AccountKind::Redemption) => AccountKind::Redemption,
        _ => {
            v.add(format!("{field}.kind"), "required");
            return None;
        }
    };
    let id = if kind == AccountKind::Customer || !a.id.is_empty() {
        id(v, &format!("{field}.id"), &a.id)
    } else {
        "default".to_owned()
    };
    Some(AccountRef { kind, id })
}

fn policy(v: &mut Violations, p: i32) -> ClawbackPolicy {
    match pc::ClawbackPolicy::try_from(p) {
        Ok(pc::ClawbackPolicy::OnlyPending) => ClawbackPolicy::OnlyPending,
        Ok(pc::ClawbackPolicy::AllowNegative) => ClawbackPolicy::AllowNegative,
        // The safe default: take back what the customer still has, never more.
        Ok(pc::ClawbackPolicy::WithinBalance | pc::ClawbackPolicy::Unspecified) => {
            ClawbackPolicy::WithinBalance
        }
        Err(_) => {
            v.add("clawback_policy", "unknown policy");
            ClawbackPolicy::WithinBalance
        }
    }
}

impl TryFrom<&pb::CreditRequest> for Credit {
    type Error = AppError;

    fn try_from(r: &pb::CreditRequest) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let customer = id(&mut v, "customer_id", &r.customer_id);
        let amount = money(&mut v, "amount", r.amount.as_ref(), true);
        let funded_by = account(&mut v, "funded_by", r.funded_by.as_ref())
            .unwrap_or_else(AccountRef::default_funding);
        if !matches!(funded_by.kind, AccountKind::Funding | AccountKind::Campaign) {
            v.add(
                "funded_by.kind",
                "rewards are funded by a FUNDING or CAMPAIGN account; use Transfer between customers",
            );
        }
        let release_at = instant(&mut v, "release_at", r.release_at.as_ref());
        let expires_at = instant(&mut v, "expires_at", r.expires_at.as_ref());
        if let (Some(release), Some(expiry)) = (release_at, expires_at)
            && expiry <= release
        {
            v.add("expires_at", "must be after release_at");
        }
        if r.labels.len() > 16 {
            v.add("labels", "at most 16 labels");
        }
        let labels: BTreeMap<String, String> = r
            .labels
            .iter()
            .map(|(k, val)| {
                (
                    text(&mut v, "labels", k, 64),
                    text(&mut v, "labels", val, 64),
                )
            })
            .collect();
        let tax = match v.known("tax_treatment", r.tax_treatment) {
            Some(pb::TaxTreatment::Gift) => TaxTreatment::Gift,
            Some(pb::TaxTreatment::None) => TaxTreatment::None,
            _ => TaxTreatment::Discount,
        };
        let source = source(&mut v, r.source.as_ref());
        let description = text(&mut v, "description", &r.description, MAX_TEXT);
        v.check()?;
        Ok(Self {
            customer,
            amount: amount.ok_or_else(|| AppError::invalid("amount", "required"))?,
            funded_by,
            release_at,
            expires_at,
            source,
            labels,
            tax,
            description,
            hold_release: r.hold_release,
        })
    }
}

impl TryFrom<&pb::ReleaseCreditRequest> for ReleaseHeld {
    type Error = AppError;

    fn try_from(r: &pb::ReleaseCreditRequest) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let customer = id(&mut v, "customer_id", &r.customer_id);
        let source_ref = id(&mut v, "source_reference", &r.source_reference);
        let release_at = instant(&mut v, "release_at", r.release_at.as_ref());
        v.check()?;
        Ok(Self {
            customer,
            source_ref,
            release_at,
        })
    }
}

impl TryFrom<&pb::ReverseRequest> for Reverse {
    type Error = AppError;

    fn try_from(r: &pb::ReverseRequest) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let customer = id(&mut v, "customer_id", &r.customer_id);
        let target = match (r.credit_id.is_empty(), r.source_reference.is_empty()) {
            (false, true) => match parse_ref("cr", &r.credit_id) {
                Some(n) => Some(ReverseTarget::Credit(n)),
                None => {
                    v.add("credit_id", "not a credit id (cr_...)");
                    None
                }
            },
            (true, false) => Some(ReverseTarget::Source(id(
                &mut v,
                "source_reference",
                &r.source_reference,
            ))),
            _ => {
                v.add(
                    "credit_id",
                    "give exactly one of credit_id and source_reference",
                );
                None
            }
        };
        let amount = r
            .amount
            .as_ref()
            .and_then(|m| money(&mut v, "amount", Some(m), true));
        let policy = policy(&mut v, r.clawback_policy);
        let source = source(&mut v, r.source.as_ref());
        v.check()?;
        Ok(Self {
            customer,
            target: target.ok_or_else(|| AppError::invalid("credit_id", "required"))?,
            amount,
            policy,
            source,
        })
    }
}

/// Validates an authorization; `default_ttl` and `max_ttl` in microseconds.
pub fn authorize(
    r: &pb::AuthorizeRequest,
    default_ttl: i64,
    max_ttl: i64,
) -> Result<Authorize, AppError> {
    let mut v = Violations::new();
    let customer = id(&mut v, "customer_id", &r.customer_id);
    let amount = money(&mut v, "amount", r.amount.as_ref(), true);
    let ttl = match &r.ttl {
        None => default_ttl,
        Some(d) => {
            let micros = d
                .seconds
                .saturating_mul(1_000_000)
                .saturating_add(i64::from(d.nanos / 1_000));
            if micros <= 0 || micros > max_ttl {
                v.add(
                    "ttl",
                    format!("must be positive and at most {} s", max_ttl / 1_000_000),
                );
            }
            micros
        }
    };
    let reference = text(&mut v, "reference", &r.reference, MAX_ID);
    v.check()?;
    Ok(Authorize {
        customer,
        amount: amount.ok_or_else(|| AppError::invalid("amount", "required"))?,
        ttl,
        reference,
    })
}

fn hold_id(v: &mut Violations, raw: &str) -> i64 {
    parse_ref("hd", raw).unwrap_or_else(|| {
        v.add("hold_id", "not a hold id (hd_...)");
        0
    })
}

impl TryFrom<&pb::CaptureRequest> for Capture {
    type Error = AppError;

    fn try_from(r: &pb::CaptureRequest) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let hold = hold_id(&mut v, &r.hold_id);
        if r.amount.is_some() {
            // Its form now; that its asset is the hold's once the hold is read.
            money(&mut v, "amount", r.amount.as_ref(), true);
        }
        v.check()?;
        Ok(Self {
            hold,
            amount: r
                .amount
                .as_ref()
                .map(|m| (m.amount.clone(), m.asset.clone())),
        })
    }
}

/// Validates a void: the hold id.
pub fn void(r: &pb::VoidRequest) -> Result<i64, AppError> {
    let mut v = Violations::new();
    let hold = hold_id(&mut v, &r.hold_id);
    text(&mut v, "reason", &r.reason, MAX_TEXT);
    v.check()?;
    Ok(hold)
}

impl TryFrom<&pb::TransferRequest> for Transfer {
    type Error = AppError;

    fn try_from(r: &pb::TransferRequest) -> Result<Self, AppError> {
        let mut v = Violations::new();
        let from = id(&mut v, "from_customer_id", &r.from_customer_id);
        let to = match &r.destination {
            Some(pb::transfer_request::Destination::ToCustomerId(c)) => {
                let c = id(&mut v, "to_customer_id", c);
                if c == from {
                    v.add("to_customer_id", "cannot transfer to oneself");
                }
                Some(Destination::Customer(c))
            }
            Some(pb::transfer_request::Destination::ToCauseId(c)) => {
                Some(Destination::Cause(id(&mut v, "to_cause_id", c)))
            }
            None => {
                v.add("destination", "give to_customer_id or to_cause_id");
                None
            }
        };
        let amount = money(&mut v, "amount", r.amount.as_ref(), true);
        let description = text(&mut v, "description", &r.description, MAX_TEXT);
        v.check()?;
        Ok(Self {
            from,
            to: to.ok_or_else(|| AppError::invalid("destination", "required"))?,
            amount: amount.ok_or_else(|| AppError::invalid("amount", "required"))?,
            description,
        })
    }
}

impl TryFrom<&pb::PostTransactionRequest> for PostTransaction {
    type Error = AppError;

    fn try_from(r: &pb::PostTransactionRequest) -> Result<Self, AppError> {
        let mut v = Violations::new();
        if !(2..=32).contains(&r.postings.len()) {
            v.add("postings", "between 2 and 32 legs");
        }
        let mut legs = Vec::new();
        for (i, p) in r.postings.iter().enumerate() {
            let field = format!("postings[{i}]");
            let account = account(&mut v, &format!("{field}.account"), p.account.as_ref());
            if p.account.is_none() {
                v.add(format!("{field}.account"), "required");
            }
            match pb::Layer::try_from(p.layer) {
                Ok(pb::Layer::Available | pb::Layer::Unspecified) => {}
                _ => v.add(
                    format!("{field}.layer"),
                    "operator transactions move available balances only; pending and held follow their flows",
                ),
            }
            let amount = money(&mut v, &format!("{field}.amount"), p.amount.as_ref(), false);
            if let (Some(account), Some(amount)) = (account, amount) {
                legs.push(Leg {
                    account,
                    layer: Layer::Available,
                    amount,
                });
            }
        }
        let source = source(&mut v, r.source.as_ref());
        let description = text(&mut v, "description", &r.description, MAX_TEXT);
        v.check()?;
        Ok(Self {
            legs,
            source,
            description,
        })
    }
}

/// Parses a WatchEvents cursor ("" is the start).
pub fn cursor(raw: &str) -> Result<(i64, i64), AppError> {
    if raw.is_empty() {
        return Ok((i64::MIN, 0));
    }
    raw.split_once('.')
        .and_then(|(o, s)| Some((o.parse().ok()?, s.parse().ok()?)))
        .ok_or_else(|| AppError::invalid("from_cursor", "not a cursor from this stream"))
}
