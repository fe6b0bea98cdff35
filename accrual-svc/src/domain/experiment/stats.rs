//! The distributions the experiment tests need: the standard normal and
//! Student's t, two-sided tail probabilities and the t quantile. Binary
//! floating point, as statistics are estimates; money never passes through
//! here except as an estimate's input.
//!
//! From the regularized incomplete gamma and beta functions (series and
//! Lentz continued fractions) over a Lanczos log-gamma, to about 1e-12.

use std::f64::consts::PI;

/// z with P(|Z| > z) = 0.05.
pub const Z_975: f64 = 1.959_963_984_540_054;
/// z with P(Z < z) = 0.8: the power term of a minimum detectable effect.
pub const Z_80: f64 = 0.841_621_233_572_914_3;

const EPS: f64 = 1e-15;
const TINY: f64 = 1e-300;
const ITERATIONS: u32 = 500;

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Q(a, x) = Γ(a, x) / Γ(a), the upper regularized incomplete gamma.
fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let front = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // Series for P, then 1 - P.
        let (mut ap, mut sum) = (a, 1.0 / a);
        let mut term = sum;
        for _ in 0..ITERATIONS {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * EPS {
                break;
            }
        }
        return 1.0 - sum * front;
    }
    // Continued fraction for Q (modified Lentz).
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..=ITERATIONS {
        let an = -f64::from(i) * (f64::from(i) - a);
        b += 2.0;
        d = nonzero(an * d + b).recip();
        c = nonzero(b + an / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    front * h
}

fn nonzero(v: f64) -> f64 {
    if v.abs() < TINY { TINY } else { v }
}

/// I_x(a, b), the regularized incomplete beta.
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = nonzero(1.0 - qab * x / qap).recip();
    let mut h = d;
    for m in 1..=ITERATIONS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = nonzero(1.0 + even * d).recip();
        c = nonzero(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = nonzero(1.0 + odd * d).recip();
        c = nonzero(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// P(|Z| > |z|) for a standard normal Z: erfc(|z| / √2) = Q(1/2, z²/2).
pub fn normal_two_sided(z: f64) -> f64 {
    gamma_q(0.5, z * z / 2.0).clamp(0.0, 1.0)
}

/// P(|T| > |t|) for Student's T with `df` degrees of freedom (df > 0, not
/// necessarily whole): I_{df/(df+t²)}(df/2, 1/2).
pub fn t_two_sided(t: f64, df: f64) -> f64 {
    beta_inc(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0)
}

/// The t with P(|T| > t) = 0.05 at `df` degrees of freedom (bisection).
pub fn t_975(df: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0e6_f64);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if t_two_sided(mid, df) > 0.05 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn normal_tails_match_known_values() {
        close(normal_two_sided(Z_975), 0.05, 1e-12);
        close(normal_two_sided(1.0), 0.317_310_507_862_914_15, 1e-12);
        close(normal_two_sided(-1.0), 0.317_310_507_862_914_15, 1e-12);
        close(normal_two_sided(3.0), 0.002_699_796_063_260_19, 1e-13);
        close(normal_two_sided(0.0), 1.0, 1e-15);
        // P(Z < Z_80) = 0.8: the two-sided tail is 2 * 0.2.
        close(normal_two_sided(Z_80), 0.4, 1e-12);
    }

    #[test]
    fn t_tails_match_closed_forms() {
        // df = 1 is Cauchy: 1 - 2 atan(t) / pi.
        for t in [0.1, 1.0, 2.5, 12.706] {
            close(t_two_sided(t, 1.0), 1.0 - 2.0 * f64::atan(t) / PI, 1e-12);
        }
        // df = 2: 1 - t / sqrt(t² + 2).
        for t in [0.3, 2.0, 4.302_652_729_749_464, 30.0] {
            close(t_two_sided(t, 2.0), 1.0 - t / (t * t + 2.0).sqrt(), 1e-12);
        }
        // Many degrees of freedom: the normal.
        close(t_two_sided(Z_975, 1.0e7), 0.05, 1e-6);
    }

    #[test]
    fn t_quantiles_match_closed_forms() {
        close(t_975(1.0), (PI * 0.475).tan(), 1e-9);
        close(t_975(2.0), 0.95 / (2.0_f64 * 0.975 * 0.025).sqrt(), 1e-9);
        close(t_975(1.0e7), Z_975, 1e-5);
    }

    proptest! {
        #[test]
        fn tails_are_probabilities_falling_with_the_statistic(
            a in 0.0_f64..40.0, b in 0.0_f64..40.0, df in 1.0_f64..5000.0,
        ) {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            for p in [normal_two_sided(lo), normal_two_sided(hi), t_two_sided(lo, df), t_two_sided(hi, df)] {
                prop_assert!((0.0..=1.0).contains(&p));
            }
            prop_assert!(normal_two_sided(hi) <= normal_two_sided(lo) + 1e-15);
            prop_assert!(t_two_sided(hi, df) <= t_two_sided(lo, df) + 1e-15);
            // The t has heavier tails than the normal.
            prop_assert!(t_two_sided(hi, df) + 1e-12 >= normal_two_sided(hi));
        }

        #[test]
        fn the_t_quantile_inverts_the_tail(df in 1.0_f64..10_000.0) {
            let t = t_975(df);
            prop_assert!((t_two_sided(t, df) - 0.05).abs() < 1e-9);
            prop_assert!(t >= Z_975 - 1e-9);
        }
    }
}
