//! The money codec: whatever a caller sends as an amount, decoding never
//! panics; what decodes is within bounds, has exactly its asset's decimals
//! when rendered, and renders back to itself. Rounding any decimal never
//! panics, stays within bounds, and rounding down never rounds up.
#![no_main]

use boomerang_common::money::{Amount, Asset, MAX_MINOR, Rounding};
use boomerang_proto::common::v1::Money;
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

const ASSETS: [&str; 6] = ["EUR", "PTS", "JPY", "USD", "XXX", ""];

fuzz_target!(|input: (&str, u8, i64, (u32, u32, u32, bool, u8))| {
    let (amount, pick, minor, (lo, mid, hi, negative, scale)) = input;
    let code = ASSETS[usize::from(pick) % ASSETS.len()];
    let wire = Money {
        amount: amount.to_owned(),
        asset: code.to_owned(),
    };
    if let Ok(a) = Amount::from_wire(&wire) {
        assert!(a.minor().abs() <= MAX_MINOR, "{a:?} out of bounds");
        let back = a.to_wire();
        let decimals = back.amount.split_once('.').map_or(0, |(_, d)| d.len());
        assert_eq!(
            u32::try_from(decimals).ok(),
            Some(a.asset().scale()),
            "{back:?}"
        );
        assert_eq!(Amount::from_wire(&back).as_ref(), Ok(&a));
    }
    let Some(asset) = Asset::builtin(code) else {
        return;
    };
    if let Ok(a) = Amount::from_minor(minor, &asset) {
        assert_eq!(Amount::from_wire(&a.to_wire()).as_ref(), Ok(&a));
    }
    let value = Decimal::from_parts(lo, mid, hi, negative, u32::from(scale) % 29);
    for mode in [
        Rounding::Down,
        Rounding::HalfUp,
        Rounding::HalfEven,
        Rounding::Up,
    ] {
        if let Ok(r) = Amount::round(value, &asset, mode) {
            assert!(r.minor().abs() <= MAX_MINOR);
            if mode == Rounding::Down {
                assert!(
                    r.to_decimal().abs() <= value.abs(),
                    "{value} rounded down to {r:?}"
                );
            }
        }
    }
});
