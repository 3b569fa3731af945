//! Keys seen valid moments ago, so that admitting a metered request before its body costs no
//! store round trip. The cache only lets a request *send its body*: the atomic consume that
//! follows still decides, so a key revoked a moment ago is refused by it (`401`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::keys::KeyHash;
use crate::locks::lock;

/// How long a key stays "recently valid".
const TTL: Duration = Duration::from_secs(30);

/// A bounded map of key hashes to the time they stop counting as recently valid.
#[derive(Debug)]
pub struct KeyCache {
    entries: Mutex<HashMap<KeyHash, Instant>>,
    capacity: usize,
}

impl KeyCache {
    /// A cache of at most `capacity` keys.
    pub fn new(capacity: usize) -> Self {
        KeyCache {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<KeyHash, Instant>> {
        lock(&self.entries)
    }

    /// Whether `hash` was seen valid within the last [`TTL`].
    pub fn recently_valid(&self, hash: &KeyHash) -> bool {
        self.entries()
            .get(hash)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Remember `hash` as valid now.
    pub fn remember(&self, hash: KeyHash) {
        let now = Instant::now();
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            entries.retain(|_, until| *until > now);
            if entries.len() >= self.capacity {
                entries.clear(); // a flood of distinct valid keys: start over, stay bounded
            }
        }
        entries.insert(hash, now + TTL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_exact() {
        let cache = KeyCache::new(2);
        let (a, b, c) = (KeyHash::of("a"), KeyHash::of("b"), KeyHash::of("c"));
        assert!(!cache.recently_valid(&a));
        cache.remember(a);
        cache.remember(b);
        assert!(cache.recently_valid(&a) && cache.recently_valid(&b));
        cache.remember(c);
        assert!(cache.entries().len() <= 2);
        assert!(cache.recently_valid(&c));
    }
}
