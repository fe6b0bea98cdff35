//! A checkout session, pure: where it is, what it asks to hold, what it
//! holds, and which moves each state allows.
use serde::{Deserialize, Serialize};

use super::rewards::{Line, Offer};

/// Where a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Holds are being taken (a retry, a cancel or the lapse finishes them).
    Reserving,
    /// Everything asked is held until the session expires.
    Reserved,
    /// Recorded as a purchase; holds captured and codes redeemed.
    Confirmed,
    /// Cancelled by the caller; holds given back.
    Cancelled,
    /// Expired unconfirmed; holds given back.
    Lapsed,
    /// A hold was refused while reserving; holds given back.
    Refused,
}

impl State {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserving => "reserving",
            Self::Reserved => "reserved",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Lapsed => "lapsed",
            Self::Refused => "refused",
        }
    }

    /// From storage.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Reserving,
            Self::Reserved,
            Self::Confirmed,
            Self::Cancelled,
            Self::Lapsed,
            Self::Refused,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Why a session cannot be confirmed, as the reason callers match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotConfirmable {
    /// Its holds are still being taken.
    NotReserved,
    /// It passed its expiry (whether or not the lapse ran yet).
    Lapsed,
    /// It was cancelled.
    Cancelled,
    /// A hold was refused when it was reserved.
    Refused,
    /// Confirmed already (as another order, when confirming).
    Confirmed,
}

impl NotConfirmable {
    /// The `google.rpc.ErrorInfo` reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotReserved => "CHECKOUT_NOT_RESERVED",
            Self::Lapsed => "CHECKOUT_LAPSED",
            Self::Cancelled => "CHECKOUT_CANCELLED",
            Self::Refused => "CHECKOUT_REFUSED",
            Self::Confirmed => "CHECKOUT_CONFIRMED",
        }
    }

    /// For people.
    pub fn message(self, session: &str) -> String {
        match self {
            Self::NotReserved => {
                format!("checkout {session} is still reserving; send ReserveCheckout again")
            }
            Self::Lapsed => format!("checkout {session} lapsed; reserve a new session"),
            Self::Cancelled => format!("checkout {session} was cancelled"),
            Self::Refused => format!("checkout {session} was refused when reserved"),
            Self::Confirmed => format!("checkout {session} was confirmed as another order"),
        }
    }
}

/// What confirming `order` does to a session in `state` that expires at
/// `expires_at`, at `now`: `Ok(true)` records it, `Ok(false)` answers the
/// confirmation made before (same order).
pub fn confirmable(
    state: State,
    expires_at: i64,
    now: i64,
    confirmed_order: &str,
    order: &str,
) -> Result<bool, NotConfirmable> {
    match state {
        State::Confirmed if confirmed_order == order => Ok(false),
        State::Confirmed => Err(NotConfirmable::Confirmed),
        State::Reserving => Err(NotConfirmable::NotReserved),
        State::Cancelled => Err(NotConfirmable::Cancelled),
        State::Lapsed => Err(NotConfirmable::Lapsed),
        State::Refused => Err(NotConfirmable::Refused),
        State::Reserved if now >= expires_at => Err(NotConfirmable::Lapsed),
        State::Reserved => Ok(true),
    }
}

/// What a session asks to hold, and the purchase it records once confirmed:
/// decided once, when the session is created, so every retry, the lapse and
/// the confirmation act on the same amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Program.
    pub program_id: String,
    /// Member.
    pub customer: String,
    /// Currency.
    pub currency: String,
    /// Channel enum value.
    pub channel: i32,
    /// Store.
    pub store: String,
    /// The lines, each discounted by the codes and its share of the payment
    /// by points and cashback: what the purchase earns on.
    pub lines: Vec<Line>,
    /// The extra rewards of reward codes applied.
    pub coupon_offers: Vec<Offer>,
    /// The codes applied, one use each.
    pub codes: Vec<String>,
    /// Points to hold.
    pub points: i64,
    /// Cashback to hold, minor units of `currency`.
    pub cashback: i64,
    /// How long upstream holds last: the session's TTL and the grace that
    /// lets a confirmation's captures arrive.
    pub hold_ttl_us: i64,
}

/// What a session holds upstream (ids as the wallet and campaign-svc answered).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holds {
    /// (code, redemption id) of each code's use.
    pub coupons: Vec<(String, String)>,
    /// The points hold.
    pub points: Option<String>,
    /// The cashback hold.
    pub cashback: Option<String>,
}

impl Holds {
    /// The wallet holds.
    pub fn wallet(&self) -> impl Iterator<Item = &str> {
        self.points.iter().chain(&self.cashback).map(String::as_str)
    }

    /// The coupon redemptions.
    pub fn redemptions(&self) -> impl Iterator<Item = &str> {
        self.coupons.iter().map(|(_, r)| r.as_str())
    }
}

/// A refusal a refused session answers again on a retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRefusal {
    /// Reason callers match on.
    pub reason: String,
    /// For people.
    pub message: String,
    /// RESOURCE_EXHAUSTED rather than FAILED_PRECONDITION.
    pub limit: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for s in [
            State::Reserving,
            State::Reserved,
            State::Confirmed,
            State::Cancelled,
            State::Lapsed,
            State::Refused,
        ] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("other"), None);
    }

    #[test]
    fn only_a_reserved_unexpired_session_confirms() {
        let c = |state, now, order| confirmable(state, 100, now, "o-1", order);
        assert_eq!(c(State::Reserved, 99, "o-1"), Ok(true));
        assert_eq!(c(State::Reserved, 100, "o-1"), Err(NotConfirmable::Lapsed));
        assert_eq!(c(State::Confirmed, 500, "o-1"), Ok(false));
        assert_eq!(
            c(State::Confirmed, 5, "o-2"),
            Err(NotConfirmable::Confirmed)
        );
        assert_eq!(
            c(State::Cancelled, 5, "o-1"),
            Err(NotConfirmable::Cancelled)
        );
        assert_eq!(
            c(State::Reserving, 5, "o-1"),
            Err(NotConfirmable::NotReserved)
        );
        assert_eq!(c(State::Lapsed, 5, "o-1"), Err(NotConfirmable::Lapsed));
        assert_eq!(c(State::Refused, 5, "o-1"), Err(NotConfirmable::Refused));
    }
}
