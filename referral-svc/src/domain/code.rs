//! Referral codes: human-friendly, no ambiguous characters, matched case-insensitively.
use rand::Rng as _;

/// Letters and digits that cannot be confused (no 0/O, 1/I/L).
pub const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A new random code of 8 characters (31^8, about 8.5e11 codes).
pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A code as given, canonical (upper case), or why not.
pub fn canonical(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_uppercase();
    if !(4..=24).contains(&code.len()) {
        return Err("4 to 24 characters".into());
    }
    if !code.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err("letters and digits without 0, O, 1, I or L".into());
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_canonical_and_vanity_codes_are_checked() {
        for _ in 0..100 {
            let c = generate();
            assert_eq!(canonical(&c.to_lowercase()).as_deref(), Ok(c.as_str()));
        }
        assert_eq!(canonical("summer25").as_deref(), Ok("SUMMER25"));
        assert!(canonical("HELLO").is_err(), "L is ambiguous");
        assert!(canonical("AB").is_err());
    }
}
