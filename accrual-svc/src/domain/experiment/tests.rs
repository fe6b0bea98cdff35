use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn arm(name: &str, converted: u64, revenues: Vec<i64>) -> Arm {
    Arm {
        variant: name.into(),
        rewarded: name != "control",
        exposed: revenues.len() as u64,
        converted,
        revenues,
    }
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap_or(Decimal::MIN)
}

#[test]
fn a_textbook_rate_difference_is_found() {
    // 100 of 1,000 against 130 of 1,000: pooled rate 0.115, z = 0.03 /
    // sqrt(0.115 * 0.885 * 2 / 1000) = 2.1027, p = 0.03549.
    let control = arm("control", 100, vec![0; 1000]);
    let b = arm("b", 130, vec![0; 1000]);
    let t = compare_rates(&control, &b);
    assert_eq!(t.difference, Some(d("0.03")));
    assert_eq!(t.z, Some(d("2.1027")));
    assert_eq!(t.p_value, Some(d("0.03549")));
    assert_eq!(t.verdict, Verdict::Higher);
    // Unpooled: 0.03 ± 1.96 * sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000).
    let se = (0.1_f64 * 0.9 / 1000.0 + 0.13 * 0.87 / 1000.0).sqrt();
    let (lo, hi) = t.ci.unzip();
    assert_eq!(lo, dec(0.03 - stats::Z_975 * se, 4));
    assert_eq!(hi, dec(0.03 + stats::Z_975 * se, 4));
    // 2.8016 * 0.014267 = 0.0400
    assert_eq!(t.mde, Some(d("0.04")));
}

#[test]
fn small_or_one_sided_arms_are_not_enough_data() {
    let control = arm("control", 3, vec![0; 20]);
    let b = arm("b", 10, vec![0; 40]);
    let t = compare_rates(&control, &b);
    assert_eq!(t.verdict, Verdict::NotEnoughData);
    assert_eq!(
        t.reason,
        "control has 20 customers measured; a test needs 30 per arm"
    );
    // Figures are still given where they are defined.
    assert_eq!(t.difference, Some(d("0.1")));
    assert!(t.p_value.is_some());

    let control = arm("control", 2, vec![0; 300]);
    let t = compare_rates(&control, &arm("b", 30, vec![0; 300]));
    assert_eq!(t.verdict, Verdict::NotEnoughData);
    assert!(
        t.reason
            .starts_with("control has 2 of 300 customers converting")
    );

    let nobody = compare_rates(&arm("control", 0, vec![]), &arm("b", 0, vec![]));
    assert_eq!(nobody.difference, None);
    assert_eq!(nobody.verdict, Verdict::NotEnoughData);
    assert_eq!(
        compare_means(&arm("control", 0, vec![]), &b).difference,
        None
    );
}

#[test]
fn welch_matches_its_formula() {
    // Control: 40 customers at 10.00 or 20.00; arm: 40 at 14.00 or 26.00.
    let control = arm(
        "control",
        0,
        (0..40).map(|i| 1000 + 1000 * (i % 2)).collect(),
    );
    let b = arm("b", 0, (0..40).map(|i| 1400 + 1200 * (i % 2)).collect());
    let t = compare_means(&control, &b);
    // Means 1500 and 2000; variances 250,000 * 40/39 and 360,000 * 40/39.
    let (vc, vv) = (250_000.0 * 40.0 / 39.0, 360_000.0 * 40.0 / 39.0);
    let se = (vc / 40.0 + vv / 40.0_f64).sqrt();
    let df = (vc / 40.0 + vv / 40.0_f64).powi(2)
        / ((vc / 40.0).powi(2) / 39.0 + (vv / 40.0_f64).powi(2) / 39.0);
    assert_eq!(t.difference, Some(500));
    assert_eq!(t.t, dec(500.0 / se, 4));
    assert_eq!(t.df, dec(df, 2));
    assert_eq!(t.p_value, p_value(stats::t_two_sided(500.0 / se, df)));
    let half = stats::t_975(df) * se;
    assert_eq!(
        t.ci,
        Some(((500.0 - half).round() as i64, (500.0 + half).round() as i64))
    );
    assert_eq!(t.verdict, Verdict::Higher);
    assert_eq!(b.revenue_per_customer(), Some(2000));
    assert_eq!(b.conversion_rate(), Some(d("0")));
}

#[test]
fn identical_revenues_cannot_be_tested() {
    let control = arm("control", 0, vec![500; 40]);
    let b = arm("b", 0, vec![500; 40]);
    let t = compare_means(&control, &b);
    assert_eq!(t.difference, Some(0));
    assert_eq!(t.verdict, Verdict::NotEnoughData);
    assert_eq!(
        t.reason,
        "every customer's revenue is the same in both arms"
    );
}

#[test]
fn means_round_half_to_even() {
    assert_eq!(arm("b", 0, vec![1, 2]).revenue_per_customer(), Some(2));
    assert_eq!(arm("b", 0, vec![2, 3]).revenue_per_customer(), Some(2));
    assert_eq!(arm("b", 0, vec![1, 1, 2]).conversion_rate(), Some(d("0")));
    assert_eq!(
        arm("b", 1, vec![1, 1, 2]).conversion_rate(),
        Some(d("0.3333"))
    );
}

fn arms() -> impl Strategy<Value = (Arm, Arm)> {
    let one = |name: &'static str| {
        prop::collection::vec(0_i64..100_000, 0..120).prop_flat_map(move |revenues| {
            let n = revenues.len() as u64;
            (0..=n).prop_map(move |converted| arm(name, converted, revenues.clone()))
        })
    };
    (one("control"), one("b"))
}

proptest! {
    #[test]
    fn swapping_the_arms_mirrors_every_figure((control, b) in arms()) {
        let (r, s) = (compare_rates(&control, &b), compare_rates(&b, &control));
        prop_assert_eq!(r.difference.map(|x| -x), s.difference);
        prop_assert_eq!(r.z.map(|x| -x), s.z);
        prop_assert_eq!(r.p_value, s.p_value);
        let (m, n) = (compare_means(&control, &b), compare_means(&b, &control));
        prop_assert_eq!(m.t.map(|x| -x), n.t);
        prop_assert_eq!(m.p_value, n.p_value);
        prop_assert_eq!(m.df, n.df);
        let flip = |v: Verdict| match v {
            Verdict::Higher => Verdict::Lower,
            Verdict::Lower => Verdict::Higher,
            other => other,
        };
        prop_assert_eq!(flip(r.verdict), s.verdict);
        prop_assert_eq!(flip(m.verdict), n.verdict);
    }

    #[test]
    fn a_verdict_needs_enough_data_and_a_p_value((control, b) in arms()) {
        for (verdict, p) in [
            (compare_rates(&control, &b).verdict, compare_rates(&control, &b).p_value),
            (compare_means(&control, &b).verdict, compare_means(&control, &b).p_value),
        ] {
            if verdict != Verdict::NotEnoughData {
                prop_assert!(control.measured() >= MIN_PER_ARM && b.measured() >= MIN_PER_ARM);
                let p = p.unwrap_or(Decimal::NEGATIVE_ONE);
                prop_assert!(p >= Decimal::ZERO && p <= Decimal::ONE);
            }
        }
    }

    #[test]
    fn the_interval_holds_the_difference((control, b) in arms()) {
        let r = compare_rates(&control, &b);
        if let (Some((lo, hi)), Some(diff)) = (r.ci, r.difference) {
            prop_assert!(lo <= diff && diff <= hi);
        }
        let m = compare_means(&control, &b);
        if let (Some((lo, hi)), Some(diff)) = (m.ci, m.difference) {
            prop_assert!(lo <= diff && diff <= hi, "{lo} {diff} {hi}");
        }
    }
}
