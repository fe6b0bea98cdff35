//! An experiment, pure: a campaign's arms, the customers each was shown to
//! (exposed at their first purchase the campaign applied to), and whether
//! an arm's conversion (bought again within the window) and revenue per
//! customer differ from the control's.
//!
//! Counts and sums are exact; rates and means are exact decimals rounded
//! once for display; test statistics, p-values, intervals and minimum
//! detectable effects are estimates in binary floating point ([`stats`]).
use rust_decimal::{Decimal, RoundingStrategy, prelude::FromPrimitive as _};

pub mod stats;

/// A campaign with variants that applied to a purchase: the customer's arm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposure {
    /// The campaign.
    pub campaign_id: String,
    /// The customer's arm.
    pub variant: String,
    /// Whether that arm gives a reward (one that does not is a control).
    pub rewarded: bool,
}

/// Customers measured per arm before a test is run.
pub const MIN_PER_ARM: u64 = 30;
/// Customers converting, and not converting, per arm before the z-test is
/// trusted (its normal approximation needs them).
pub const MIN_EVENTS: u64 = 5;

/// One arm's customers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arm {
    /// Variant name.
    pub variant: String,
    /// Whether it gives a reward.
    pub rewarded: bool,
    /// Customers exposed in the period, measured or not.
    pub exposed: u64,
    /// Measured customers who bought again within their window.
    pub converted: u64,
    /// Revenue of each measured customer in their window, minor units.
    pub revenues: Vec<i64>,
}

impl Arm {
    /// Customers measured.
    pub fn measured(&self) -> u64 {
        self.revenues.len() as u64
    }

    /// Their revenue, minor units.
    pub fn revenue(&self) -> i64 {
        self.revenues.iter().fold(0, |a, r| a.saturating_add(*r))
    }

    /// converted / measured, exact to four places.
    pub fn conversion_rate(&self) -> Option<Decimal> {
        rate(self.converted, self.measured()).map(|r| r.round_dp(4).normalize())
    }

    /// revenue / measured, half to even in minor units.
    pub fn revenue_per_customer(&self) -> Option<i64> {
        let n = self.measured();
        (n > 0).then(|| {
            let mean = Decimal::from(self.revenue()) / Decimal::from(n);
            mean.round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
                .try_into()
                .unwrap_or(i64::MAX)
        })
    }
}

fn rate(a: u64, n: u64) -> Option<Decimal> {
    (n > 0).then(|| Decimal::from(a) / Decimal::from(n))
}

/// What a test concludes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Too few customers (see the reason).
    NotEnoughData,
    /// Not different at the 5% level.
    NoDifference,
    /// Higher than the control.
    Higher,
    /// Lower than the control.
    Lower,
}

fn verdict(p: f64, difference: f64) -> Verdict {
    match p < 0.05 {
        false => Verdict::NoDifference,
        true if difference > 0.0 => Verdict::Higher,
        true => Verdict::Lower,
    }
}

/// A decimal to `dp` places; none when not finite.
fn dec(x: f64, dp: u32) -> Option<Decimal> {
    Decimal::from_f64(x).map(|d| d.round_dp(dp).normalize())
}

/// A p-value to four significant digits (a small one is not shown as 0
/// while a decimal can hold it).
fn p_value(p: f64) -> Option<Decimal> {
    Decimal::from_f64(p)
        .and_then(|d| d.round_sf(4))
        .map(|d| d.normalize())
}

/// Minor units, half to even; none when not finite or out of range.
fn minor(x: f64) -> Option<i64> {
    let r = x.round_ties_even();
    (r.is_finite() && r.abs() < 9.0e18).then_some(r as i64)
}

/// Two-proportion z-test of conversion, arm against control.
#[derive(Clone, Debug, PartialEq)]
pub struct RateTest {
    /// Arm rate less control rate (both measured).
    pub difference: Option<Decimal>,
    /// 95% interval of the difference, unpooled standard error.
    pub ci: Option<(Decimal, Decimal)>,
    /// z, pooled standard error.
    pub z: Option<Decimal>,
    /// Two-sided p.
    pub p_value: Option<Decimal>,
    /// Minimum detectable absolute difference (5% two-sided, 80% power).
    pub mde: Option<Decimal>,
    /// Conclusion.
    pub verdict: Verdict,
    /// Why not enough data.
    pub reason: String,
}

/// Welch's t-test of revenue per customer, arm against control.
#[derive(Clone, Debug, PartialEq)]
pub struct MeanTest {
    /// Arm mean less control mean, minor units.
    pub difference: Option<i64>,
    /// 95% interval, minor units.
    pub ci: Option<(i64, i64)>,
    /// t.
    pub t: Option<Decimal>,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: Option<Decimal>,
    /// Two-sided p.
    pub p_value: Option<Decimal>,
    /// Minimum detectable difference, minor units.
    pub mde: Option<i64>,
    /// Conclusion.
    pub verdict: Verdict,
    /// Why not enough data.
    pub reason: String,
}

/// Why `arms` are too small for any test, if they are.
fn too_few(arms: [&Arm; 2]) -> Option<String> {
    arms.iter().find(|a| a.measured() < MIN_PER_ARM).map(|a| {
        format!(
            "{} has {} customers measured; a test needs {MIN_PER_ARM} per arm",
            a.variant,
            a.measured()
        )
    })
}

/// The z-test of `arm` against `control`.
pub fn compare_rates(control: &Arm, arm: &Arm) -> RateTest {
    let (nc, nv) = (control.measured(), arm.measured());
    let (xc, xv) = (control.converted, arm.converted);
    let difference = rate(xv, nv)
        .zip(rate(xc, nc))
        .map(|(v, c)| (v - c).round_dp(4).normalize());
    let mut reason = too_few([control, arm]).unwrap_or_default();
    if reason.is_empty()
        && let Some(a) = [control, arm]
            .into_iter()
            .find(|a| a.converted < MIN_EVENTS || a.measured() - a.converted < MIN_EVENTS)
    {
        reason = format!(
            "{} has {} of {} customers converting; a test needs at least {MIN_EVENTS} converting and {MIN_EVENTS} not in each arm",
            a.variant,
            a.converted,
            a.measured()
        );
    }
    let mut test = RateTest {
        difference,
        ci: None,
        z: None,
        p_value: None,
        mde: None,
        verdict: Verdict::NotEnoughData,
        reason,
    };
    if nc == 0 || nv == 0 {
        return test;
    }
    let (nc, nv, xc, xv) = (nc as f64, nv as f64, xc as f64, xv as f64);
    let (pc, pv) = (xc / nc, xv / nv);
    let diff = pv - pc;
    let pooled = (xc + xv) / (nc + nv);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nv)).sqrt();
    let se = (pc * (1.0 - pc) / nc + pv * (1.0 - pv) / nv).sqrt();
    if se > 0.0 {
        let half = stats::Z_975 * se;
        test.ci = dec(diff - half, 4).zip(dec(diff + half, 4));
    }
    if se_pooled > 0.0 {
        let z = diff / se_pooled;
        let p = stats::normal_two_sided(z);
        test.z = dec(z, 4);
        test.p_value = p_value(p);
        test.mde = dec((stats::Z_975 + stats::Z_80) * se_pooled, 4);
        if test.reason.is_empty() {
            test.verdict = verdict(p, diff);
        }
    } else if test.reason.is_empty() {
        test.reason = "nobody or everybody converted in both arms".into();
    }
    test
}

/// Mean and sample variance (Welford), for n >= 2.
fn mean_var(xs: &[i64]) -> (f64, f64) {
    let (mut mean, mut m2) = (0.0, 0.0);
    for (i, x) in xs.iter().enumerate() {
        let x = *x as f64;
        let delta = x - mean;
        mean += delta / (i + 1) as f64;
        m2 += delta * (x - mean);
    }
    (mean, m2 / (xs.len() as f64 - 1.0))
}

/// Welch's t-test of `arm`'s revenue per customer against `control`'s.
pub fn compare_means(control: &Arm, arm: &Arm) -> MeanTest {
    let exact_mean = |a: &Arm| {
        let n = a.measured();
        (n > 0).then(|| Decimal::from(a.revenue()) / Decimal::from(n))
    };
    let difference = exact_mean(arm).zip(exact_mean(control)).and_then(|(v, c)| {
        (v - c)
            .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
            .try_into()
            .ok()
    });
    let mut test = MeanTest {
        difference,
        ci: None,
        t: None,
        df: None,
        p_value: None,
        mde: None,
        verdict: Verdict::NotEnoughData,
        reason: too_few([control, arm]).unwrap_or_default(),
    };
    if control.revenues.len() < 2 || arm.revenues.len() < 2 {
        return test;
    }
    let (nc, nv) = (control.revenues.len() as f64, arm.revenues.len() as f64);
    let ((mc, vc), (mv, vv)) = (mean_var(&control.revenues), mean_var(&arm.revenues));
    let (wc, wv) = (vc / nc, vv / nv);
    let se = (wc + wv).sqrt();
    if se <= 0.0 || !se.is_finite() {
        if test.reason.is_empty() {
            test.reason = "every customer's revenue is the same in both arms".into();
        }
        return test;
    }
    let diff = mv - mc;
    let t = diff / se;
    let df = (wc + wv).powi(2) / (wc * wc / (nc - 1.0) + wv * wv / (nv - 1.0));
    let p = stats::t_two_sided(t, df);
    let half = stats::t_975(df) * se;
    test.t = dec(t, 4);
    test.df = dec(df, 2);
    test.p_value = p_value(p);
    test.ci = minor(diff - half).zip(minor(diff + half));
    test.mde = minor((stats::Z_975 + stats::Z_80) * se);
    if test.reason.is_empty() {
        test.verdict = verdict(p, diff);
    }
    test
}

#[cfg(test)]
mod tests;
