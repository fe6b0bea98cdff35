//! Webhook signatures the Standard Webhooks way: every delivery carries
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, space-separated when
//! several secrets sign during a rotation). A secret is `whsec_` and the
//! base64 of its bytes.
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;

/// The secret's prefix.
const PREFIX: &str = "whsec_";
/// Random bytes in a new secret.
const SECRET_BYTES: usize = 32;
/// Shortest and longest decoded secret accepted.
const SECRET_LEN: std::ops::RangeInclusive<usize> = 24..=64;

/// A webhook's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)") // never logged
    }
}

/// Why a delivery does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No `v1` signature matches.
    Signature,
    /// The timestamp is too far from now (a replay, or a skewed clock).
    Timestamp,
    /// A header is missing or malformed.
    Malformed,
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses `whsec_<base64>` (the prefix may be left out).
    pub fn parse(text: &str) -> Result<Self, String> {
        let b64 = text.strip_prefix(PREFIX).unwrap_or(text);
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| format!("a secret is {PREFIX} and base64"))?;
        if !SECRET_LEN.contains(&bytes.len()) {
            return Err(format!(
                "a secret is {} to {} bytes",
                SECRET_LEN.start(),
                SECRET_LEN.end()
            ));
        }
        Ok(Self(bytes))
    }

    /// As given to the receiver, once: `whsec_<base64>`.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value of one delivery: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Whether `signatures` (the header, space-separated) holds a `v1`
    /// signature of this secret, compared in constant time, with `timestamp`
    /// within `tolerance_s` of `now_s`.
    pub fn verify(
        &self,
        (id, timestamp, signatures): (&str, &str, &str),
        body: &[u8],
        now_s: i64,
        tolerance_s: i64,
    ) -> Result<(), Refused> {
        let at: i64 = timestamp.parse().map_err(|_| Refused::Malformed)?;
        if (now_s - at).abs() > tolerance_s {
            return Err(Refused::Timestamp);
        }
        let matches = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|tag| self.mac(id, at, body).verify_slice(&tag).is_ok());
        if matches {
            Ok(())
        } else {
            Err(Refused::Signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_the_specifications_example() -> Result<(), String> {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
        let (id, at, body) = (
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        let signed = secret.sign(id, at, body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let header = format!("v1,bm90IGl0 {signed}");
        assert_eq!(
            secret.verify((id, "1614265330", &header), body, at + 60, 300),
            Ok(())
        );
        Ok(())
    }

    #[test]
    fn a_late_or_tampered_delivery_is_refused() {
        let secret = Secret::generate();
        let signed = secret.sign("msg_1", 1_000, b"{}");
        let verify = |body: &[u8], now| secret.verify(("msg_1", "1000", &signed), body, now, 300);
        assert_eq!(verify(b"{}", 1_300), Ok(()));
        assert_eq!(verify(b"{}", 1_301), Err(Refused::Timestamp));
        assert_eq!(verify(b"{ }", 1_000), Err(Refused::Signature));
        let other = Secret::generate();
        assert_eq!(
            other.verify(("msg_1", "1000", &signed), b"{}", 1_000, 300),
            Err(Refused::Signature)
        );
        assert_eq!(
            secret.verify(("msg_1", "soon", &signed), b"{}", 1_000, 300),
            Err(Refused::Malformed)
        );
    }

    #[test]
    fn secrets_round_trip_and_are_bounded() {
        let secret = Secret::generate();
        assert_eq!(Secret::parse(&secret.reveal()).as_ref(), Ok(&secret));
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err());
        assert!(Secret::parse("whsec_%%%").is_err());
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }

    proptest! {
        #[test]
        fn every_signature_verifies_with_its_own_secret_only(body in proptest::collection::vec(any::<u8>(), 0..256), at in 0i64..4_000_000_000) {
            let (secret, other) = (Secret::generate(), Secret::generate());
            let signed = secret.sign("msg_x", at, &body);
            let stamp = at.to_string();
            prop_assert_eq!(secret.verify(("msg_x", &stamp, &signed), &body, at, 0), Ok(()));
            prop_assert_eq!(other.verify(("msg_x", &stamp, &signed), &body, at, 0), Err(Refused::Signature));
        }
    }
}
