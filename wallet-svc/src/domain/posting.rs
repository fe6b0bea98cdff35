//! Postings: the legs of a transaction, balanced per asset.
use std::collections::BTreeMap;

use super::{AccountRef, Layer, LedgerError};

/// One leg: a signed amount on an account's layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    /// The account.
    pub account: AccountRef,
    /// Its layer.
    pub layer: Layer,
    /// Asset code.
    pub asset: String,
    /// Signed minor units; positive adds to the account.
    pub amount: i64,
}

impl Posting {
    /// A leg.
    pub fn new(account: AccountRef, layer: Layer, asset: &str, amount: i64) -> Self {
        Self {
            account,
            layer,
            asset: asset.to_owned(),
            amount,
        }
    }
}

/// Every asset's postings sum to zero; zero legs are dropped.
pub fn balanced(postings: Vec<Posting>) -> Result<Vec<Posting>, LedgerError> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for p in &postings {
        let sum = sums.entry(p.asset.as_str()).or_default();
        *sum = sum.checked_add(p.amount).ok_or(LedgerError::Overflow)?;
    }
    if let Some((asset, sum)) = sums.into_iter().find(|(_, s)| *s != 0) {
        return Err(LedgerError::Unbalanced {
            asset: asset.to_owned(),
            sum,
        });
    }
    Ok(postings.into_iter().filter(|p| p.amount != 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_asset() {
        let c = AccountRef::customer("c");
        let f = AccountRef::default_funding();
        let ok = vec![
            Posting::new(c.clone(), Layer::Pending, "EUR", 5),
            Posting::new(f.clone(), Layer::Available, "EUR", -5),
            Posting::new(c.clone(), Layer::Available, "PTS", 0),
        ];
        assert_eq!(balanced(ok).map(|p| p.len()), Ok(2));
        let bad = vec![
            Posting::new(c, Layer::Pending, "EUR", 5),
            Posting::new(f, Layer::Available, "PTS", -5),
        ];
        assert!(matches!(balanced(bad), Err(LedgerError::Unbalanced { .. })));
    }
}
