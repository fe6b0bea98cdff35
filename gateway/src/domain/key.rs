//! API key secrets: `bmr_<prefix>_<secret>`, 32 random bytes, shown once.
//!
//! Stored as sha256 of the whole key. A slow password hash (argon2) protects
//! low-entropy secrets against guessing; a 256-bit random secret cannot be
//! guessed, so sha256 is as safe and keeps authentication to microseconds.
use rand::RngCore as _;
use sha2::{Digest, Sha256};

const PREFIX_LEN: usize = 8;

/// A freshly generated key.
#[derive(Debug)]
pub struct NewKey {
    /// The full secret, for the caller only.
    pub secret: String,
    /// The public prefix, to recognise the key in lists.
    pub prefix: String,
    /// What is stored.
    pub hash: Vec<u8>,
}

/// Generates a key.
pub fn generate() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let body = hex::encode(bytes);
    let prefix = body[..PREFIX_LEN].to_owned();
    let secret = format!("bmr_{prefix}_{}", &body[PREFIX_LEN..]);
    let hash = hash(&secret);
    NewKey {
        secret,
        prefix,
        hash,
    }
}

/// The stored form of a presented secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The bearer token of an `authorization` header value, if well-formed.
pub fn bearer(header: &str) -> Option<&str> {
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty() && token.len() <= 8_192).then_some(token)
}

/// Whether a bearer token is one of our API keys (else perhaps a JWT).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with("bmr_") && token.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_recognisable() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(&format!("bmr_{}_", a.prefix)));
        assert_eq!(hash(&a.secret), a.hash);
        assert_eq!(
            bearer(&format!("Bearer {}", a.secret)),
            Some(a.secret.as_str())
        );
        assert_eq!(bearer("Basic abc"), None);
        assert!(!is_api_key("nope"));
        assert!(is_api_key(&a.secret));
    }
}
