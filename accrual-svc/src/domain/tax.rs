//! The tax report: per channel and store, revenue, the cashback that was a
//! price reduction of those purchases, and the taxable base it leaves.
//! Cashback is what was credited in the program currency for a purchase
//! (its wallet entries carry TAX_TREATMENT_DISCOUNT), net of reversals;
//! other assets (points) change no base.
use std::collections::BTreeMap;

/// Whether a reward of `kind` ("base", "campaign", "voucher",
/// "voucher_code") in `asset` is a price reduction of the purchase that
/// earned it: cashback in the program `currency`. Points and vouchers are
/// not (a voucher lowers the price of the order it pays).
pub fn is_discount(asset: &str, kind: &str, currency: &str) -> bool {
    asset == currency && !kind.starts_with("voucher")
}

/// One channel and store, or the total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaxLine {
    /// "online", "store", "app"; "" for purchases from before channels were kept.
    pub channel: String,
    /// The store ("" when none).
    pub store: String,
    /// Purchases.
    pub purchases: i64,
    /// Eligible revenue net of returns, minor units of the currency.
    pub revenue: i64,
    /// Cashback net of reversals, minor units of the currency.
    pub cashback: i64,
    /// Other rewards net of reversals: (asset, minor units).
    pub other: Vec<(String, i64)>,
}

impl TaxLine {
    /// Revenue less cashback.
    pub fn taxable_base(&self) -> i64 {
        self.revenue - self.cashback
    }

    fn add_other(&mut self, asset: &str, minor: i64) {
        match self.other.iter_mut().find(|(a, _)| a == asset) {
            Some((_, n)) => *n += minor,
            None => self.other.push((asset.to_owned(), minor)),
        }
    }
}

/// A channel's place in the report: the enum's order (online, store, app),
/// purchases from before channels were kept first.
fn rank(channel: &str) -> u8 {
    match channel {
        "online" => 1,
        "store" => 2,
        "app" => 3,
        _ => 0,
    }
}

/// Lines per (channel, store), in channel order then store, and their total, from the
/// period's sales (channel, store, purchases, revenue) and rewards
/// (channel, store, asset, credited net of reversals).
pub fn lines(
    currency: &str,
    sales: &[(String, String, i64, i64)],
    rewards: &[(String, String, String, i64)],
) -> (Vec<TaxLine>, TaxLine) {
    let mut by: BTreeMap<(u8, String, String), TaxLine> = BTreeMap::new();
    fn line<'a>(
        by: &'a mut BTreeMap<(u8, String, String), TaxLine>,
        channel: &str,
        store: &str,
    ) -> &'a mut TaxLine {
        by.entry((rank(channel), channel.to_owned(), store.to_owned()))
            .or_insert_with(|| TaxLine {
                channel: channel.to_owned(),
                store: store.to_owned(),
                ..TaxLine::default()
            })
    }
    for (channel, store, purchases, revenue) in sales {
        let l = line(&mut by, channel, store);
        l.purchases += purchases;
        l.revenue += revenue;
    }
    for (channel, store, asset, minor) in rewards {
        let l = line(&mut by, channel, store);
        if asset == currency {
            l.cashback += minor;
        } else {
            l.add_other(asset, *minor);
        }
    }
    let lines: Vec<TaxLine> = by.into_values().collect();
    let mut total = TaxLine::default();
    for l in &lines {
        total.purchases += l.purchases;
        total.revenue += l.revenue;
        total.cashback += l.cashback;
        for (asset, minor) in &l.other {
            total.add_other(asset, *minor);
        }
    }
    (lines, total)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn cashback_lowers_the_base_and_points_do_not() {
        let sales = [
            ("online".into(), String::new(), 2, 25_000),
            ("store".into(), "s1".into(), 1, 5_000),
        ];
        let rewards = [
            ("online".into(), String::new(), "EUR".into(), 2_250),
            ("online".into(), String::new(), "PTS".into(), 250),
            ("store".into(), "s1".into(), "EUR".into(), 250),
        ];
        let (lines, total) = lines("EUR", &sales, &rewards);
        assert_eq!(lines.len(), 2);
        assert!(
            is_discount("EUR", "campaign", "EUR")
                && !is_discount("EUR", "voucher_code", "EUR")
                && !is_discount("PTS", "base", "EUR")
        );
        assert_eq!(
            (
                lines[0].cashback,
                lines[0].taxable_base(),
                lines[0].other.clone()
            ),
            (2_250, 22_750, vec![("PTS".into(), 250)])
        );
        assert_eq!(
            (
                total.purchases,
                total.revenue,
                total.cashback,
                total.taxable_base()
            ),
            (3, 30_000, 2_500, 27_500)
        );
    }

    proptest! {
        /// The total is the sum of the lines, and every base is revenue less cashback.
        #[test]
        fn the_total_adds_up(rows in proptest::collection::vec((0usize..3, 0usize..2, 1i64..10, 0i64..1_000_000, 0i64..100_000, 0i64..5_000), 0..30)) {
            let channels = ["online", "store", "app"];
            let stores = ["", "s1"];
            let sales: Vec<_> = rows.iter().map(|(c, s, n, rev, _, _)| (channels[*c].to_owned(), stores[*s].to_owned(), *n, *rev)).collect();
            let rewards: Vec<_> = rows.iter().flat_map(|(c, s, _, _, cash, pts)| [
                (channels[*c].to_owned(), stores[*s].to_owned(), "EUR".to_owned(), *cash),
                (channels[*c].to_owned(), stores[*s].to_owned(), "PTS".to_owned(), *pts),
            ]).collect();
            let (lines, total) = lines("EUR", &sales, &rewards);
            prop_assert_eq!(total.revenue, rows.iter().map(|r| r.3).sum::<i64>());
            prop_assert_eq!(total.cashback, lines.iter().map(|l| l.cashback).sum::<i64>());
            prop_assert_eq!(total.taxable_base(), total.revenue - total.cashback);
            let points: i64 = rows.iter().map(|r| r.5).sum();
            prop_assert_eq!(total.other.iter().map(|(_, n)| n).sum::<i64>(), points);
        }
    }
}
