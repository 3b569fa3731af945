//! API key format: `pk_` + base58(20 random bytes from the OS CSPRNG ‖ 4-byte checksum).
//!
//! The checksum is the first four bytes of SHA-256 over the random part, so a mistyped or
//! made-up key is refused before any store lookup, and secret scanners can recognise the
//! `pk_` form. The store keeps only [`KeyHash`] (SHA-256 of the whole key string) and the
//! non-secret [`display_prefix`].

use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Fixed, recognisable prefix of every key.
pub const KEY_PREFIX: &str = "pk_";
/// Bytes of entropy in a key (160 bits).
pub const RANDOM_LEN: usize = 20;
const CHECKSUM_LEN: usize = 4;
/// Longest string that can possibly be a key; anything longer is refused without decoding.
const MAX_KEY_LEN: usize = 48;
/// Characters of the key kept as its non-secret display prefix (`pk_` + 5).
pub const DISPLAY_PREFIX_LEN: usize = 8;

/// SHA-256 of a key: what the store keeps and looks keys up by. Its `Debug` output is redacted.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(<redacted>)")
    }
}

impl KeyHash {
    /// The hash of a key string (format not checked).
    pub fn of(key: &str) -> Self {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// A stored hash read back (`None` unless exactly 32 bytes).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(KeyHash)
    }
}

/// A newly generated key: the secret (shown once), its hash and its display prefix.
pub struct GeneratedKey {
    /// The full secret key. Never log or store it.
    pub secret: String,
    /// SHA-256 of `secret`.
    pub hash: KeyHash,
    /// Non-secret prefix for identification, e.g. `pk_AbCdE`.
    pub display_prefix: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("display_prefix", &self.display_prefix)
            .finish_non_exhaustive()
    }
}

/// The OS random number generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RngError(String);

fn checksum(random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(random);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// Generate a new key from the operating system's CSPRNG.
pub fn generate() -> Result<GeneratedKey, RngError> {
    let mut random = [0u8; RANDOM_LEN];
    SysRng
        .try_fill_bytes(&mut random)
        .map_err(|e| RngError(e.to_string()))?;
    let mut body = Vec::with_capacity(RANDOM_LEN + CHECKSUM_LEN);
    body.extend_from_slice(&random);
    body.extend_from_slice(&checksum(&random));
    let secret = format!("{KEY_PREFIX}{}", bs58::encode(body).into_string());
    Ok(GeneratedKey {
        hash: KeyHash::of(&secret),
        display_prefix: display_prefix(&secret),
        secret,
    })
}

/// Check a candidate key's form and checksum without any lookup; `Some(hash)` when well formed.
pub fn verify_format(candidate: &str) -> Option<KeyHash> {
    if candidate.len() > MAX_KEY_LEN {
        return None;
    }
    let encoded = candidate.strip_prefix(KEY_PREFIX)?;
    let mut decoded = [0u8; RANDOM_LEN + CHECKSUM_LEN];
    let n = bs58::decode(encoded).onto(&mut decoded[..]).ok()?;
    if n != RANDOM_LEN + CHECKSUM_LEN {
        return None;
    }
    let (random, sum) = decoded.split_at(RANDOM_LEN);
    if !bool::from(checksum(random).ct_eq(sum)) {
        return None;
    }
    Some(KeyHash::of(candidate))
}

/// The non-secret display prefix of a key (`pk_` and the next five characters).
pub fn display_prefix(key: &str) -> String {
    key.chars().take(DISPLAY_PREFIX_LEN).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_keys_verify_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(KEY_PREFIX));
        assert_eq!(verify_format(&a.secret), Some(a.hash));
        assert_eq!(a.display_prefix.len(), DISPLAY_PREFIX_LEN);
        assert!(a.secret.starts_with(&a.display_prefix));
    }

    #[test]
    fn typos_are_refused() {
        let k = generate().unwrap().secret;
        let mut chars: Vec<char> = k.chars().collect();
        let i = chars.len() - 3;
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(verify_format(&typo), None);
        assert_eq!(verify_format(&k[..k.len() - 1]), None);
        assert_eq!(verify_format("pk_"), None);
        assert_eq!(verify_format("secret"), None);
        assert_eq!(verify_format(&k.replacen("pk_", "sk_", 1)), None);
        assert_eq!(verify_format(&"pk_1".repeat(100)), None);
    }
}
