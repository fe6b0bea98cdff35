//! Coupon codes: their spelling, patterns that generate them, the rules a
//! batch's codes follow, and whether a code can be used at an instant.
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::spec::{Conditions, Money};

/// Longest code and pattern.
pub const MAX_CODE: usize = 64;
/// Most codes one batch generates.
pub const MAX_GENERATED: u32 = 1_000_000;
/// Most codes one request gives.
pub const MAX_GIVEN: usize = 10_000;
/// Digits a pattern's `#` draws from: no 0 or 1 (O, I, L look alike).
pub const DIGITS: &[u8] = b"23456789";
/// Letters a pattern's `?` draws from: no I, L or O.
pub const LETTERS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ";

/// A code as stored and compared: upper-case `A-Z`, `0-9` and `-`, 1 to 64
/// characters. Codes are case-insensitive: `bf26-x` is `BF26-X`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(String);

impl Code {
    /// Parses what a customer typed (surrounding spaces ignored).
    pub fn parse(typed: &str) -> Result<Self, String> {
        let code = typed.trim().to_ascii_uppercase();
        if code.is_empty() || code.len() > MAX_CODE {
            return Err(format!("1 to {MAX_CODE} characters"));
        }
        if !code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("only letters, digits and \"-\"".into());
        }
        Ok(Self(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One position of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Literal(u8),
    Digit,
    Letter,
    Either,
}

/// How codes are generated: `#` a digit, `?` a letter, `*` either, anything
/// else (`A-Z`, `0-9`, `-`) as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(Vec<Part>);

impl Pattern {
    /// Parses a pattern such as `BF26-####-????`.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() || pattern.len() > MAX_CODE {
            return Err(format!("1 to {MAX_CODE} characters"));
        }
        let parts = pattern
            .bytes()
            .map(|b| match b.to_ascii_uppercase() {
                b'#' => Ok(Part::Digit),
                b'?' => Ok(Part::Letter),
                b'*' => Ok(Part::Either),
                c if c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-' => {
                    Ok(Part::Literal(c))
                }
                _ => Err("only letters, digits, \"-\" and the placeholders #, ? and *".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parts.iter().all(|p| matches!(p, Part::Literal(_))) {
            return Err("needs at least one placeholder (#, ? or *)".into());
        }
        Ok(Self(parts))
    }

    /// How many distinct codes it can make (saturating).
    pub fn combinations(&self) -> u128 {
        self.0.iter().fold(1u128, |n, p| {
            n.saturating_mul(match p {
                Part::Literal(_) => 1,
                Part::Digit => DIGITS.len() as u128,
                Part::Letter => LETTERS.len() as u128,
                Part::Either => (DIGITS.len() + LETTERS.len()) as u128,
            })
        })
    }

    /// Whether it can make `count` codes without collisions slowing it down:
    /// it must allow at least twice as many.
    pub fn allows(&self, count: u32) -> bool {
        self.combinations() >= 2 * u128::from(count)
    }

    /// One code, drawn uniformly.
    pub fn generate(&self, rng: &mut impl Rng) -> Code {
        let pick = |rng: &mut dyn rand::RngCore, from: &[u8]| {
            from.get(rng.random_range(0..from.len()))
                .copied()
                .unwrap_or(b'X')
        };
        let code: String = self
            .0
            .iter()
            .map(|p| {
                char::from(match p {
                    Part::Literal(c) => *c,
                    Part::Digit => pick(rng, DIGITS),
                    Part::Letter => pick(rng, LETTERS),
                    Part::Either => {
                        let n = rng.random_range(0..DIGITS.len() + LETTERS.len());
                        DIGITS
                            .get(n)
                            .or_else(|| LETTERS.get(n - DIGITS.len()))
                            .copied()
                            .unwrap_or(b'X')
                    }
                })
            })
            .collect();
        Code(code)
    }
}

/// What part of the cart a discount applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The order's eligible amount.
    Order,
    /// The lines matching the conditions' categories.
    MatchingLines,
}

/// What one use of a code gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CouponEffect {
    /// A percent off (decimal string, 0 < p <= 100).
    PercentOff {
        /// e.g. "10".
        percent: String,
        /// Order or matching lines.
        scope: Scope,
    },
    /// A fixed amount off.
    AmountOff {
        /// In the order's currency.
        amount: Money,
        /// Order or matching lines.
        scope: Scope,
    },
    /// Extra cashback or points on the order, a percent of what is paid.
    ExtraReward {
        /// Asset credited.
        asset: String,
        /// e.g. "5".
        percent: String,
    },
    /// A fixed extra reward on the order.
    FixedReward {
        /// The amount.
        amount: Money,
    },
}

/// The rules every code of a batch follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Uses of each code; 0 unlimited.
    pub max_uses: u32,
    /// Uses of each code by one customer; 0 unlimited.
    pub per_customer: u32,
    /// First instant of use (micros); None: the campaign's start.
    pub valid_from: Option<i64>,
    /// First instant no longer usable (micros); None: the campaign's end.
    pub valid_until: Option<i64>,
    /// What the cart must meet (checked at checkout).
    pub conditions: Conditions,
    /// What a use gives.
    pub effect: CouponEffect,
    /// A released redemption gives its use back.
    pub uses_given_back: bool,
}

/// Whether a code can be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Uses left, within its validity.
    Available,
    /// Every use reserved or redeemed.
    UsedUp,
    /// Before its validity.
    NotYetValid,
    /// After its validity.
    Expired,
    /// A voucher voided (its earning order was returned).
    Voided,
}

impl State {
    /// A code's state at `now`, with `held` uses reserved or redeemed.
    pub fn at(rules: &Rules, held: i64, voided: bool, now: i64) -> Self {
        if voided {
            Self::Voided
        } else if rules.valid_from.is_some_and(|from| now < from) {
            Self::NotYetValid
        } else if rules.valid_until.is_some_and(|until| now >= until) {
            Self::Expired
        } else if rules.max_uses > 0 && held >= i64::from(rules.max_uses) {
            Self::UsedUp
        } else {
            Self::Available
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn codes_are_case_insensitive_and_bounded() {
        assert_eq!(Code::parse(" bf26-ab ").map(|c| c.0), Ok("BF26-AB".into()));
        assert!(Code::parse("").is_err());
        assert!(Code::parse(&"A".repeat(65)).is_err());
        assert!(Code::parse("BF 26").is_err());
        assert!(Code::parse("BF26_1").is_err());
    }

    #[test]
    fn patterns_count_their_codes() {
        let p = Pattern::parse("BF26-####-????").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.combinations(), 8u128.pow(4) * 23u128.pow(4));
        assert!(p.allows(1_000_000));
        assert!(!Pattern::parse("A#").is_ok_and(|p| p.allows(5)));
        assert!(Pattern::parse("BF26").is_err());
        assert!(Pattern::parse("BF26-#_").is_err());
    }

    #[test]
    fn generated_codes_never_use_look_alikes() {
        let p = Pattern::parse("**********").unwrap_or_else(|e| panic!("{e}"));
        let mut rng = rand::rng();
        for _ in 0..1_000 {
            let code = p.generate(&mut rng);
            assert!(
                !code.as_str().contains(['0', '1', 'I', 'L', 'O']),
                "{code:?}"
            );
            assert_eq!(Code::parse(code.as_str()).as_ref(), Ok(&code));
        }
    }

    proptest! {
        #[test]
        fn a_generated_code_fits_its_pattern(pattern in "[A-Z0-9#?*-]{1,20}") {
            prop_assume!(pattern.contains(['#', '?', '*']));
            let p = Pattern::parse(&pattern).unwrap_or_else(|e| panic!("{e}"));
            let code = p.generate(&mut rand::rng());
            prop_assert_eq!(code.as_str().len(), pattern.len());
            for (c, p) in code.as_str().bytes().zip(pattern.bytes()) {
                match p {
                    b'#' => prop_assert!(DIGITS.contains(&c)),
                    b'?' => prop_assert!(LETTERS.contains(&c)),
                    b'*' => prop_assert!(DIGITS.contains(&c) || LETTERS.contains(&c)),
                    _ => prop_assert_eq!(c, p),
                }
            }
        }

        #[test]
        fn a_small_pattern_reaches_every_code(_seed in 0u8..4) {
            // "#?" has 8 x 23 codes; drawing many times meets them all.
            let p = Pattern::parse("#?").unwrap_or_else(|e| panic!("{e}"));
            let mut rng = rand::rng();
            let seen: BTreeSet<Code> = (0..20_000).map(|_| p.generate(&mut rng)).collect();
            prop_assert_eq!(seen.len() as u128, p.combinations());
        }
    }

    #[test]
    fn state_follows_validity_then_uses() {
        let rules = Rules {
            max_uses: 2,
            per_customer: 0,
            valid_from: Some(10),
            valid_until: Some(20),
            conditions: Conditions::default(),
            effect: CouponEffect::PercentOff {
                percent: "10".into(),
                scope: Scope::Order,
            },
            uses_given_back: false,
        };
        assert_eq!(State::at(&rules, 0, false, 9), State::NotYetValid);
        assert_eq!(State::at(&rules, 1, false, 10), State::Available);
        assert_eq!(State::at(&rules, 2, false, 15), State::UsedUp);
        assert_eq!(State::at(&rules, 0, false, 20), State::Expired);
        assert_eq!(State::at(&rules, 0, true, 15), State::Voided);
    }
}
