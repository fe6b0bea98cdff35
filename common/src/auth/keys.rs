//! The platform key: one Ed25519 key every Boomerang process holds, to sign
//! the credentials it sends and to verify the ones it receives.
use std::{collections::HashMap, fmt, path::Path};

use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair as _},
};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// Where the key is, and how long a credential lives (`[<service>.internal_auth]`).
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InternalAuthConfig {
    /// A PKCS#8 PEM file holding the Ed25519 key (`boomerang keygen`; the
    /// chart mounts its Secret).
    pub key_file: String,
    /// The PEM itself, instead of a file (`boomerang up` and tests).
    pub key: String,
    /// Other keys whose credentials are accepted, never used to sign (PEM
    /// files, private or public): the next key before a rotation, the last
    /// one after it (docs/architecture.md).
    pub accepted_key_files: Vec<String>,
    /// How long a credential this process mints is valid.
    pub ttl_ms: u64,
}

impl Default for InternalAuthConfig {
    fn default() -> Self {
        Self {
            key_file: String::new(),
            key: String::new(),
            accepted_key_files: Vec::new(),
            ttl_ms: 60_000,
        }
    }
}

// Never print the key.
impl fmt::Debug for InternalAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalAuthConfig")
            .field("key_file", &self.key_file)
            .field(
                "key",
                &if self.key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("accepted_key_files", &self.accepted_key_files)
            .field("ttl_ms", &self.ttl_ms)
            .finish()
    }
}

impl InternalAuthConfig {
    /// With `pem` as the key.
    pub fn with_key(pem: String) -> Self {
        Self {
            key: pem,
            ..Self::default()
        }
    }

    /// Whether a key is given (inline or as a file).
    pub fn is_set(&self) -> bool {
        !self.key.is_empty() || !self.key_file.is_empty()
    }

    /// Checks values that types cannot, and that a key given is one (read
    /// now, so `--check-config` catches a bad path; a missing key fails at start).
    pub fn validate(&self) -> Result<(), String> {
        if !(1_000..=3_600_000).contains(&self.ttl_ms) {
            return Err("internal_auth.ttl_ms must be between 1000 and 3600000".into());
        }
        if self.is_set() {
            Keys::load(self).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The signing key and every key credentials may be signed with, by key id.
pub struct Keys {
    kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").field("kid", &self.kid).finish()
    }
}

impl Keys {
    /// The keys `cfg` names; a missing or bad key fails at start.
    pub fn load(cfg: &InternalAuthConfig) -> anyhow::Result<Self> {
        let pem = match (cfg.key.is_empty(), cfg.key_file.is_empty()) {
            (false, _) => cfg.key.clone(),
            (true, false) => read(&cfg.key_file, "internal_auth.key_file")?,
            (true, true) => anyhow::bail!(
                "internal_auth.key_file is not set: services accept only calls carrying a \
                 credential signed with the platform key; make one with `boomerang keygen`"
            ),
        };
        let mut keys = Self::from_pem(&pem).map_err(|e| anyhow::anyhow!("internal_auth: {e}"))?;
        for file in &cfg.accepted_key_files {
            let raw = read(file, "internal_auth.accepted_key_files")?;
            let public = public_key(&raw).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            keys.verifying
                .insert(kid(&public), DecodingKey::from_ed_der(&public));
        }
        Ok(keys)
    }

    /// From a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let (label, der) = decode_pem(pem)?;
        anyhow::ensure!(
            label == "PRIVATE KEY",
            "the key must be a PKCS#8 PRIVATE KEY"
        );
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = kid(&public);
        let verifying = HashMap::from([(kid.clone(), DecodingKey::from_ed_der(&public))]);
        Ok(Self {
            kid,
            signing: EncodingKey::from_ed_der(&der),
            verifying,
        })
    }

    /// The id of the signing key (in every credential's header).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(super) fn signing(&self) -> &EncodingKey {
        &self.signing
    }

    pub(super) fn verifying(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }
}

/// A new Ed25519 key as PKCS#8 PEM (what `boomerang keygen` prints).
pub fn generate_pem() -> anyhow::Result<String> {
    let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|e| anyhow::anyhow!("generating a key: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

fn read(file: &str, key: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(Path::new(file)).map_err(|e| anyhow::anyhow!("{key} {file:?}: {e}"))
}

/// A key id: the first 8 bytes of the public key's SHA-256, in hex.
fn kid(public: &[u8]) -> String {
    hex::encode(&sha2::Sha256::digest(public)[..8])
}

/// The raw public key of a PEM private (PKCS#8) or public (SPKI) Ed25519 key.
fn public_key(pem: &str) -> anyhow::Result<Vec<u8>> {
    let (label, der) = decode_pem(pem)?;
    match label.as_str() {
        "PRIVATE KEY" => Ok(Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?
            .public_key()
            .as_ref()
            .to_vec()),
        // SubjectPublicKeyInfo of Ed25519: a 12-byte prefix, then the 32-byte key.
        "PUBLIC KEY" if der.len() == 44 && der.starts_with(&SPKI_ED25519) => Ok(der[12..].to_vec()),
        _ => anyhow::bail!("expected an Ed25519 PRIVATE KEY or PUBLIC KEY"),
    }
}

const SPKI_ED25519: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The label and bytes of the first PEM block.
fn decode_pem(pem: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let mut lines = pem.lines().map(str::trim).skip_while(|l| l.is_empty());
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or_else(|| anyhow::anyhow!("not PEM (no BEGIN line)"))?
        .to_owned();
    let body: String = lines.take_while(|l| !l.starts_with("-----END ")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| anyhow::anyhow!("bad PEM body: {e}"))?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_have_stable_ids() -> anyhow::Result<()> {
        let pem = generate_pem()?;
        let a = Keys::from_pem(&pem)?;
        let b = Keys::from_pem(&pem)?;
        assert_eq!(a.kid(), b.kid());
        assert_ne!(a.kid(), Keys::from_pem(&generate_pem()?)?.kid());
        Ok(())
    }

    #[test]
    fn keys_without_their_public_half_load() -> anyhow::Result<()> {
        // PKCS#8 v1, as `openssl genpkey -algorithm ed25519` and Helm's
        // `genPrivateKey "ed25519"` write them (a throwaway test key).
        let v1 = "-----BEGIN PRIVATE KEY-----\n\
                  MC4CAQAwBQYDK2VwBCIEIFLN5KdGOx1lFYbaFXL2oxu2DE9GtnOo7L7c2YPM3KHL\n\
                  -----END PRIVATE KEY-----\n";
        assert_eq!(Keys::from_pem(v1)?.kid().len(), 16);
        Ok(())
    }

    #[test]
    fn missing_and_bad_keys_fail_at_start() -> anyhow::Result<()> {
        let none = Keys::load(&InternalAuthConfig::default()).err();
        assert!(none.is_some_and(|e| e.to_string().contains("boomerang keygen")));
        assert!(Keys::from_pem("not a key").is_err());
        let rsa_like = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(Keys::from_pem(rsa_like).is_err());
        Ok(())
    }

    #[test]
    fn the_key_never_prints() {
        let cfg = InternalAuthConfig::with_key("-----BEGIN PRIVATE KEY-----".into());
        assert!(!format!("{cfg:?}").contains("BEGIN"));
    }

    #[test]
    fn accepted_keys_verify_too() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let old = dir.path().join("old.pem");
        let old_pem = generate_pem()?;
        std::fs::write(&old, &old_pem)?;
        let cfg = InternalAuthConfig {
            key: generate_pem()?,
            accepted_key_files: vec![old.display().to_string()],
            ..InternalAuthConfig::default()
        };
        let keys = Keys::load(&cfg)?;
        let old_kid = Keys::from_pem(&old_pem)?.kid().to_owned();
        assert!(keys.verifying(&old_kid).is_some());
        assert!(keys.verifying(keys.kid()).is_some());
        Ok(())
    }
}
