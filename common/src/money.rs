//! The contract's money codec: `boomerang.common.v1.Money` (a decimal string
//! and an asset code) to and from integer minor units.
//!
//! Amounts are never floats. Parsing is strict: more decimals than the
//! asset's scale is an error, never silent rounding. The one place a computed
//! [`Decimal`] becomes an amount is [`Amount::round`], with an explicit mode.
use std::{fmt, str::FromStr};

use rust_decimal::{Decimal, RoundingStrategy};

/// The largest absolute amount in minor units anywhere in Boomerang
/// (10^15: ten trillion euros). Sums of many such values still fit an `i64`.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// The most one request may move, in minor units (10^12: ten billion euros):
/// the wallet refuses more, so every service bounds what it acknowledges by it.
pub const MAX_REQUEST_MINOR: i64 = 1_000_000_000_000;

/// An asset and its scale (decimals in the smallest unit).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asset {
    code: String,
    scale: u32,
}

/// Built-in assets: common ISO 4217 currencies and points.
const BUILTIN: &[(&str, u32)] = &[
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("PLN", 2),
    ("CZK", 2),
    ("HUF", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("PTS", 0),
];

impl Asset {
    /// A built-in asset by code.
    pub fn builtin(code: &str) -> Option<Self> {
        BUILTIN
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, s)| Self::new(c, *s))
    }

    /// An asset with `scale` decimals (0 to 8).
    pub fn new(code: &str, scale: u32) -> Self {
        Self {
            code: code.to_owned(),
            scale: scale.min(8),
        }
    }

    /// Points: scale 0.
    pub fn points() -> Self {
        Self::new("PTS", 0)
    }

    /// The code, e.g. "EUR".
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Decimals of the smallest unit.
    pub fn scale(&self) -> u32 {
        self.scale
    }
}

/// `minor` units of the built-in asset `code` in major units, as a float, for
/// metrics and dashboards only: never compute money with it.
#[allow(clippy::cast_precision_loss)] // a gauge, not an amount
pub fn major_units_for_metrics(minor: i64, code: &str) -> f64 {
    let scale = Asset::builtin(code).map_or(2, |a| a.scale);
    minor as f64 / 10f64.powi(i32::try_from(scale).unwrap_or(2))
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal.
    #[error("{0:?} is not a decimal number like \"12.34\"")]
    Syntax(String),
    /// More decimals than the asset has.
    #[error("{asset} allows at most {scale} decimal(s), got {value:?}")]
    Scale {
        /// The asset.
        asset: String,
        /// Its scale.
        scale: u32,
        /// The value given.
        value: String,
    },
    /// Beyond [`MAX_MINOR`].
    #[error("amount is out of range")]
    Range,
    /// Arithmetic on two different assets.
    #[error("cannot combine {0} with {1}")]
    AssetMismatch(String, String),
    /// The asset code is not known.
    #[error("unknown asset {0:?}")]
    UnknownAsset(String),
}

/// How a computed amount is rounded to the asset's scale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rounding {
    /// Towards zero: never over-credit (the default).
    #[default]
    Down,
    /// Half away from zero.
    HalfUp,
    /// Half to even.
    HalfEven,
    /// Away from zero.
    Up,
}

/// An amount of one asset in integer minor units.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Amount {
    asset: Asset,
    minor: i64,
}

impl Amount {
    /// Zero of `asset`.
    pub fn zero(asset: &Asset) -> Self {
        Self {
            asset: asset.clone(),
            minor: 0,
        }
    }

    /// From minor units, within [`MAX_MINOR`].
    pub fn from_minor(minor: i64, asset: &Asset) -> Result<Self, MoneyError> {
        if minor.checked_abs().is_none_or(|m| m > MAX_MINOR) {
            return Err(MoneyError::Range);
        }
        Ok(Self {
            asset: asset.clone(),
            minor,
        })
    }

    /// Parses a decimal string strictly: `-?digits(.digits)?`, at most the asset's scale.
    pub fn parse(value: &str, asset: &Asset) -> Result<Self, MoneyError> {
        let syntax = || MoneyError::Syntax(value.chars().take(40).collect());
        let (negative, digits) = match value.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !all_digits(int) || !all_digits(frac) || digits.ends_with('.') {
            return Err(syntax());
        }
        if frac.len() > asset.scale as usize {
            return Err(MoneyError::Scale {
                asset: asset.code.clone(),
                scale: asset.scale,
                value: value.chars().take(40).collect(),
            });
        }
        if int.len() > 18 {
            return Err(MoneyError::Range);
        }
        let pow = 10i64.pow(asset.scale);
        let int: i64 = int.parse().map_err(|_| syntax())?;
        let frac_minor: i64 = if frac.is_empty() {
            0
        } else {
            let padded = format!("{frac:0<width$}", width = asset.scale as usize);
            padded.parse().map_err(|_| syntax())?
        };
        let minor = int
            .checked_mul(pow)
            .and_then(|m| m.checked_add(frac_minor))
            .ok_or(MoneyError::Range)?;
        Self::from_minor(if negative { -minor } else { minor }, asset)
    }

    /// Rounds an exact result to the asset's scale: the one rounding point.
    pub fn round(value: Decimal, asset: &Asset, mode: Rounding) -> Result<Self, MoneyError> {
        let strategy = match mode {
            Rounding::Down => RoundingStrategy::ToZero,
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Up => RoundingStrategy::AwayFromZero,
        };
        let rounded = value.round_dp_with_strategy(asset.scale, strategy);
        let minor = rounded
            .checked_mul(Decimal::from(10i64.pow(asset.scale)))
            .and_then(|m| i64::try_from(m.trunc()).ok())
            .ok_or(MoneyError::Range)?;
        Self::from_minor(minor, asset)
    }

    /// The exact value as a decimal.
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.asset.scale)
    }

    /// Minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The asset.
    pub fn asset(&self) -> &Asset {
        &self.asset
    }

    /// True when above zero.
    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }

    /// True when zero.
    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// `self + other`, same asset, within range.
    pub fn checked_add(&self, other: &Self) -> Result<Self, MoneyError> {
        self.same_asset(other)?;
        Self::from_minor(
            self.minor
                .checked_add(other.minor)
                .ok_or(MoneyError::Range)?,
            &self.asset,
        )
    }

    /// `self - other`, same asset, within range.
    pub fn checked_sub(&self, other: &Self) -> Result<Self, MoneyError> {
        self.same_asset(other)?;
        Self::from_minor(
            self.minor
                .checked_sub(other.minor)
                .ok_or(MoneyError::Range)?,
            &self.asset,
        )
    }

    /// The negation.
    pub fn negated(&self) -> Self {
        Self {
            asset: self.asset.clone(),
            minor: -self.minor,
        }
    }

    fn same_asset(&self, other: &Self) -> Result<(), MoneyError> {
        if self.asset == other.asset {
            Ok(())
        } else {
            Err(MoneyError::AssetMismatch(
                self.asset.code.clone(),
                other.asset.code.clone(),
            ))
        }
    }
}

impl Amount {
    /// `minor` units of the built-in asset `code`, within range.
    pub fn of(minor: i64, code: &str) -> Result<Self, MoneyError> {
        let asset = Asset::builtin(code)
            .ok_or_else(|| MoneyError::UnknownAsset(code.chars().take(16).collect()))?;
        Self::from_minor(minor, &asset)
    }

    /// The asset's code, e.g. "EUR".
    pub fn code(&self) -> &str {
        &self.asset.code
    }
}

/// How an amount is stored in JSON documents (program and campaign versions):
/// minor units and the asset code, the same shape the services always stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored<'a> {
    minor: i64,
    #[serde(borrow)]
    asset: std::borrow::Cow<'a, str>,
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            minor: self.minor,
            asset: std::borrow::Cow::Borrowed(&self.asset.code),
        }
        .serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(d)?;
        Self::of(stored.minor, &stored.asset).map_err(serde::de::Error::custom)
    }
}

/// The sign an amount entering a request must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Above zero.
    Positive,
    /// Zero or above.
    NotNegative,
    /// Anything but zero.
    NotZero,
}

/// A wire amount entering a request, validated once: a known asset
/// (`{field}.asset`), a strict decimal within the asset's scale and range
/// (`{field}.amount`), with `sign`. An absent amount is `None` with no
/// violation: the caller says whether it is required.
pub fn field(
    v: &mut crate::error::Violations,
    field: &str,
    m: Option<&Wire>,
    sign: Sign,
) -> Option<Amount> {
    let m = m?;
    let Some(asset) = Asset::builtin(&m.asset) else {
        let code: String = m.asset.chars().take(16).collect();
        v.add(format!("{field}.asset"), format!("unknown asset {code:?}"));
        return None;
    };
    let amount = v.field(&format!("{field}.amount"), Amount::parse(&m.amount, &asset))?;
    let refused = match sign {
        Sign::Positive => (amount.minor <= 0).then_some("must be positive"),
        Sign::NotNegative => (amount.minor < 0).then_some("must not be negative"),
        Sign::NotZero => (amount.minor == 0).then_some("must not be zero"),
    };
    if let Some(why) = refused {
        v.add(format!("{field}.amount"), why);
        return None;
    }
    Some(amount)
}

/// The wire form of an amount: `boomerang.common.v1.Money`.
pub type Wire = boomerang_proto::common::v1::Money;

impl Amount {
    /// A wire amount of a known asset, strictly parsed (scale and range checked).
    pub fn from_wire(m: &Wire) -> Result<Self, MoneyError> {
        let asset = Asset::builtin(&m.asset)
            .ok_or_else(|| MoneyError::UnknownAsset(m.asset.chars().take(16).collect()))?;
        Self::parse(&m.amount, &asset)
    }

    /// The wire form: the decimal string with the asset's decimals, and its code.
    pub fn to_wire(&self) -> Wire {
        Wire {
            amount: self.to_string(),
            asset: self.asset.code.clone(),
        }
    }
}

/// The wire form of `minor` units of the asset `code` (a built-in asset's
/// scale; an unknown code is written with scale 0, never guessed as money).
pub fn wire(minor: i64, code: &str) -> Wire {
    let asset = Asset::builtin(code).unwrap_or_else(|| Asset::new(code, 0));
    Wire {
        amount: Amount::from_minor(minor, &asset)
            .map_or_else(|_| minor.to_string(), |a| a.to_string()),
        asset: code.to_owned(),
    }
}

/// `minor` units of `code` as people read them: "15.00 EUR", "120 PTS"
/// (error messages and sentences for customers; never minor units).
pub fn text(minor: i64, code: &str) -> String {
    let w = wire(minor, code);
    format!("{} {}", w.amount, w.asset)
}

/// Minor units of a wire amount another service answered with: an absent
/// amount is zero; one that does not decode is an error, never zero.
pub fn minor_of(m: Option<&Wire>) -> Result<i64, MoneyError> {
    m.map_or(Ok(0), |m| Amount::from_wire(m).map(|a| a.minor()))
}

impl fmt::Display for Amount {
    /// Always with the asset's decimals: "5.00", "-0.50", "100".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = self.asset.scale;
        if scale == 0 {
            return write!(f, "{}", self.minor);
        }
        let pow = 10u64.pow(scale);
        let abs = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / pow,
            abs % pow,
            width = scale as usize
        )
    }
}

impl FromStr for Rounding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "down" => Ok(Self::Down),
            "half_up" => Ok(Self::HalfUp),
            "half_even" => Ok(Self::HalfEven),
            "up" => Ok(Self::Up),
            other => Err(format!("unknown rounding {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Asset {
        Asset::new("EUR", 2)
    }

    #[test]
    fn parses_strictly() -> Result<(), MoneyError> {
        assert_eq!(Amount::parse("12.34", &eur())?.minor(), 1_234);
        assert_eq!(Amount::parse("12.3", &eur())?.minor(), 1_230);
        assert_eq!(Amount::parse("12", &eur())?.minor(), 1_200);
        assert_eq!(Amount::parse("-0.05", &eur())?.minor(), -5);
        assert_eq!(Amount::parse("100", &Asset::points())?.minor(), 100);
        for bad in [
            "", "-", ".5", "5.", "1e3", "+1", " 1", "1,00", "0x10", "--1", "1.2.3",
        ] {
            assert!(
                matches!(Amount::parse(bad, &eur()), Err(MoneyError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Amount::parse("1.234", &eur()),
            Err(MoneyError::Scale { .. })
        ));
        assert!(matches!(
            Amount::parse("1.5", &Asset::points()),
            Err(MoneyError::Scale { .. })
        ));
        assert_eq!(
            Amount::parse("99999999999999999", &eur()),
            Err(MoneyError::Range)
        );
        Ok(())
    }

    #[test]
    fn formats_with_the_assets_decimals() -> Result<(), MoneyError> {
        assert_eq!(Amount::from_minor(500, &eur())?.to_string(), "5.00");
        assert_eq!(Amount::from_minor(-50, &eur())?.to_string(), "-0.50");
        assert_eq!(
            Amount::from_minor(100, &Asset::points())?.to_string(),
            "100"
        );
        Ok(())
    }

    #[test]
    fn the_wire_codec_round_trips_and_checks_scale() -> Result<(), MoneyError> {
        let five = Amount::from_wire(&wire(500, "EUR"))?;
        assert_eq!((five.minor(), five.asset().code()), (500, "EUR"));
        assert_eq!(five.to_wire(), wire(500, "EUR"));
        assert_eq!(wire(-5, "EUR").amount, "-0.05");
        assert_eq!(wire(100, "PTS").amount, "100");
        let too_fine = Wire {
            amount: "1.234".into(),
            asset: "EUR".into(),
        };
        assert!(matches!(
            Amount::from_wire(&too_fine),
            Err(MoneyError::Scale { .. })
        ));
        let unknown = Wire {
            amount: "1".into(),
            asset: "XYZ".into(),
        };
        assert!(matches!(
            Amount::from_wire(&unknown),
            Err(MoneyError::UnknownAsset(_))
        ));
        assert_eq!(minor_of(None)?, 0);
        assert!(minor_of(Some(&unknown)).is_err());
        Ok(())
    }

    #[test]
    fn stored_amounts_keep_their_json_shape() -> Result<(), Box<dyn std::error::Error>> {
        let a = Amount::of(1_234, "EUR")?;
        let json = serde_json::to_string(&a)?;
        assert_eq!(json, r#"{"minor":1234,"asset":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Amount>(&json)?, a);
        assert!(serde_json::from_str::<Amount>(r#"{"minor":1,"asset":"XYZ"}"#).is_err());
        Ok(())
    }

    #[test]
    fn fields_are_checked_once_with_their_sign() {
        let mut v = crate::error::Violations::new();
        let m = |a: &str, c: &str| Wire {
            amount: a.into(),
            asset: c.into(),
        };
        assert!(field(&mut v, "a", Some(&m("1.00", "EUR")), Sign::Positive).is_some());
        assert!(field(&mut v, "a", None, Sign::Positive).is_none());
        assert!(v.is_empty());
        assert!(field(&mut v, "b", Some(&m("0", "EUR")), Sign::Positive).is_none());
        assert!(field(&mut v, "c", Some(&m("-1", "EUR")), Sign::NotNegative).is_none());
        assert!(field(&mut v, "d", Some(&m("1.001", "EUR")), Sign::NotZero).is_none());
        assert!(field(&mut v, "e", Some(&m("1", "XYZ")), Sign::NotZero).is_none());
        let fields: Vec<&str> = v.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["b.amount", "c.amount", "d.amount", "e.asset"]);
    }

    #[test]
    fn rounds_once_with_the_mode() -> Result<(), MoneyError> {
        let v = Decimal::new(12_345, 3); // 12.345
        assert_eq!(Amount::round(v, &eur(), Rounding::Down)?.minor(), 1_234);
        assert_eq!(Amount::round(v, &eur(), Rounding::HalfUp)?.minor(), 1_235);
        assert_eq!(Amount::round(v, &eur(), Rounding::HalfEven)?.minor(), 1_234);
        assert_eq!(Amount::round(v, &eur(), Rounding::Up)?.minor(), 1_235);
        Ok(())
    }

    #[test]
    fn arithmetic_checks_asset_and_range() -> Result<(), MoneyError> {
        let a = Amount::from_minor(MAX_MINOR, &eur())?;
        assert_eq!(
            a.checked_add(&Amount::from_minor(1, &eur())?),
            Err(MoneyError::Range)
        );
        let pts = Amount::from_minor(1, &Asset::points())?;
        assert!(matches!(
            a.checked_sub(&pts),
            Err(MoneyError::AssetMismatch(..))
        ));
        Ok(())
    }
}
