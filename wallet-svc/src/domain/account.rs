//! Accounts and their balance layers.
use super::LedgerError;

/// Kinds of ledger accounts. Only customer accounts hold stored balances and
/// take row locks; system accounts are summed from postings (no hot rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountKind {
    /// A customer's wallet.
    Customer,
    /// Where rewards come from.
    Funding,
    /// Where expired remainders go.
    Breakage,
    /// A cause customers donate to.
    Cause,
    /// A campaign's funding.
    Campaign,
    /// Where spent balance goes.
    Redemption,
}

impl AccountKind {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Funding => "funding",
            Self::Breakage => "breakage",
            Self::Cause => "cause",
            Self::Campaign => "campaign",
            Self::Redemption => "redemption",
        }
    }

    /// From storage.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Customer,
            Self::Funding,
            Self::Breakage,
            Self::Cause,
            Self::Campaign,
            Self::Redemption,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An account within a tenant, in one asset.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRef {
    /// Kind.
    pub kind: AccountKind,
    /// Customer, program, cause or campaign id.
    pub id: String,
}

impl AccountRef {
    /// A customer's account.
    pub fn customer(id: &str) -> Self {
        Self {
            kind: AccountKind::Customer,
            id: id.to_owned(),
        }
    }

    /// A system account.
    pub fn system(kind: AccountKind, id: &str) -> Self {
        Self {
            kind,
            id: id.to_owned(),
        }
    }

    /// The default funding account.
    pub fn default_funding() -> Self {
        Self::system(AccountKind::Funding, "default")
    }

    /// The breakage account.
    pub fn breakage() -> Self {
        Self::system(AccountKind::Breakage, "default")
    }

    /// The redemption account.
    pub fn redemption() -> Self {
        Self::system(AccountKind::Redemption, "default")
    }

    /// Whether it holds stored balances under lock.
    pub fn is_customer(&self) -> bool {
        self.kind == AccountKind::Customer
    }
}

/// The layer of a balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// Earned, inside the return window.
    Pending,
    /// Spendable.
    Available,
    /// Reserved by a hold.
    Held,
}

impl Layer {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Held => "held",
        }
    }

    /// From storage.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Available, Self::Held]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// A customer account's balances, in minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    /// Spendable (net of holds).
    pub available: i64,
    /// Not yet released.
    pub pending: i64,
    /// Reserved by holds.
    pub held: i64,
}

impl Balances {
    /// Adds `delta` to `layer`.
    pub fn apply(&mut self, layer: Layer, delta: i64) -> Result<i64, LedgerError> {
        let slot = match layer {
            Layer::Pending => &mut self.pending,
            Layer::Available => &mut self.available,
            Layer::Held => &mut self.held,
        };
        *slot = slot.checked_add(delta).ok_or(LedgerError::Overflow)?;
        Ok(*slot)
    }

    /// The balance of `layer`.
    pub fn get(&self, layer: Layer) -> i64 {
        match layer {
            Layer::Pending => self.pending,
            Layer::Available => self.available,
            Layer::Held => self.held,
        }
    }

    /// No layer below zero, except available when a clawback allowed it
    /// (`asset` names the balances' asset in the refusal).
    pub fn check(
        &self,
        before: &Self,
        allow_negative_available: bool,
        asset: &str,
    ) -> Result<(), LedgerError> {
        for layer in [Layer::Pending, Layer::Held, Layer::Available] {
            let after = self.get(layer);
            let allowed = layer == Layer::Available && allow_negative_available;
            // A layer already negative (an earlier allowed clawback) may still grow.
            if after < 0 && !allowed && after < before.get(layer) {
                return Err(LedgerError::Insufficient {
                    layer: layer.as_str(),
                    asset: asset.to_owned(),
                    has: before.get(layer),
                    needs: before.get(layer) - after,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_overdraft_unless_allowed() -> Result<(), LedgerError> {
        let before = Balances {
            available: 10,
            ..Balances::default()
        };
        let mut after = before;
        after.apply(Layer::Available, -11)?;
        assert!(after.check(&before, false, "EUR").is_err());
        assert!(after.check(&before, true, "EUR").is_ok());
        let mut fine = before;
        fine.apply(Layer::Available, -10)?;
        assert!(fine.check(&before, false, "EUR").is_ok());
        Ok(())
    }

    #[test]
    fn a_negative_balance_may_be_paid_back() -> Result<(), LedgerError> {
        let before = Balances {
            available: -5,
            ..Balances::default()
        };
        let mut after = before;
        after.apply(Layer::Available, 3)?;
        assert!(after.check(&before, false, "EUR").is_ok());
        Ok(())
    }
}
