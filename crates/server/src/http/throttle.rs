//! The failed-authentication throttle: GCRA per client, in a table of fixed size.
//!
//! A client is an IPv4 address, or an IPv6 /64 (what one subscriber gets: rotating through its
//! 2^64 addresses gains nothing); IPv4-mapped IPv6 addresses count as the IPv4 address.
//!
//! The table is allocated once and never grows, whatever the number of sources: each client
//! hashes (with a per-process random key, so slots cannot be aimed at) to a set of four slots;
//! a new client takes an empty slot or evicts the one whose budget is closest to full (the
//! least restrictive state), so a client that is actually throttled keeps its state while a
//! flood of one-off addresses recycles slots among themselves. `governor`'s keyed limiter was
//! used before; its store grows with every distinct address until the next prune, which is
//! what an attacker rotating addresses exploits.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::locks::lock;

/// Slots per set.
const WAYS: usize = 4;
/// Independent locks (a client always maps to the same one).
const SHARDS: usize = 16;

/// A client as the throttle counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(u128);

impl Client {
    /// The client of `addr`: an IPv4 address (also when written IPv4-mapped), or an IPv6 /64.
    pub fn of(addr: IpAddr) -> Client {
        match addr {
            IpAddr::V4(v4) => Client(u128::from(v4.to_ipv6_mapped())),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(u128::from(v4.to_ipv6_mapped())),
                None => Client(u128::from(v6) & !u128::from(u64::MAX)),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    client: u128,
    /// GCRA's theoretical arrival time, nanoseconds since the table's epoch; 0: empty.
    tat: u64,
}

/// A fixed-size GCRA table: `burst` failures at once, then one per `period`.
#[derive(Debug)]
pub struct ThrottleTable {
    shards: Vec<Mutex<Vec<Slot>>>,
    sets_per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
    epoch: Instant,
    period: u64,
    tolerance: u64,
}

impl ThrottleTable {
    /// A table for about `capacity` clients (rounded up to whole sets).
    pub fn new(capacity: usize, burst: u32, period: Duration) -> Self {
        let sets_per_shard = capacity.div_ceil(WAYS * SHARDS).max(1);
        let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
        ThrottleTable {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(vec![Slot::default(); sets_per_shard * WAYS]))
                .collect(),
            sets_per_shard,
            hasher: std::collections::hash_map::RandomState::new(),
            epoch: Instant::now(),
            period,
            tolerance: period.saturating_mul(u64::from(burst.max(1)) - 1),
        }
    }

    /// Clients the table can hold.
    pub fn capacity(&self) -> usize {
        SHARDS * self.sets_per_shard * WAYS
    }

    /// Bytes the table occupies (fixed at creation).
    pub fn memory_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<Slot>()
    }

    fn now(&self) -> u64 {
        // +1: a tat of 0 marks an empty slot.
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX) + 1
    }

    /// Run `f` on `client`'s slot (`None` when it has none yet) and the time; `f` returns the
    /// new tat to store, if any.
    fn with_slot<T>(
        &self,
        client: Client,
        f: impl FnOnce(Option<u64>, u64) -> (T, Option<u64>),
    ) -> T {
        let mut h = self.hasher.build_hasher();
        h.write_u128(client.0);
        let hash = usize::try_from(h.finish()).unwrap_or(usize::MAX);
        let shard = &self.shards[hash % SHARDS];
        let set = (hash / SHARDS) % self.sets_per_shard;
        let now = self.now();
        let mut slots = lock(shard);
        let ways = &mut slots[set * WAYS..(set + 1) * WAYS];
        let found = ways.iter().position(|s| s.tat != 0 && s.client == client.0);
        let old = found.map(|i| ways[i].tat).filter(|&tat| tat > now);
        let (out, new_tat) = f(old, now);
        if let Some(tat) = new_tat {
            let i = found.unwrap_or_else(|| {
                // An empty or expired slot, else the least restrictive one.
                (0..WAYS).min_by_key(|&i| ways[i].tat).unwrap_or(0)
            });
            ways[i] = Slot {
                client: client.0,
                tat,
            };
        }
        out
    }

    /// How long `client` must wait before its next failure is allowed; `None` when it may
    /// fail now. Changes nothing.
    pub fn blocked(&self, client: Client) -> Option<Duration> {
        self.with_slot(client, |tat, now| {
            let wait = tat.and_then(|tat| tat.checked_sub(self.tolerance + now));
            (wait.filter(|&w| w > 0).map(Duration::from_nanos), None)
        })
    }

    /// Count one failure of `client`: `Ok` while within the budget, else how long to wait
    /// (and nothing is counted).
    pub fn fail(&self, client: Client) -> Result<(), Duration> {
        self.with_slot(client, |tat, now| {
            let tat = tat.unwrap_or(now).max(now);
            match tat.checked_sub(self.tolerance + now) {
                Some(wait) if wait > 0 => (Err(Duration::from_nanos(wait)), None),
                _ => (Ok(()), Some(tat.saturating_add(self.period))),
            }
        })
    }

    /// Clients with a recent failure (slots whose budget is not yet full again).
    pub fn tracked(&self) -> usize {
        let now = self.now();
        self.shards
            .iter()
            .map(|s| {
                let slots = lock(s);
                slots.iter().filter(|slot| slot.tat > now).count()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn clients_group_ipv6_by_64_and_unmap_ipv4() {
        assert_eq!(
            Client::of(ip("2001:db8::1")),
            Client::of(ip("2001:db8::ffff:2"))
        );
        assert_ne!(
            Client::of(ip("2001:db8::1")),
            Client::of(ip("2001:db8:0:1::1"))
        );
        assert_eq!(
            Client::of(ip("::ffff:203.0.113.9")),
            Client::of(ip("203.0.113.9"))
        );
        assert_ne!(
            Client::of(ip("203.0.113.9")),
            Client::of(ip("203.0.113.10"))
        );
    }

    #[test]
    fn burst_then_one_per_period() {
        let t = ThrottleTable::new(64, 3, Duration::from_secs(3600));
        let c = Client::of(ip("198.51.100.1"));
        assert_eq!(t.blocked(c), None);
        for _ in 0..3 {
            assert_eq!(t.fail(c), Ok(()));
        }
        let wait = t.fail(c).unwrap_err();
        assert!(wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600));
        assert!(t.blocked(c).is_some());
        // Another client is not affected.
        assert_eq!(t.blocked(Client::of(ip("198.51.100.2"))), None);
        assert_eq!(t.tracked(), 1);
    }

    #[test]
    fn a_million_sources_do_not_grow_it_and_the_throttled_one_stays() {
        let t = ThrottleTable::new(65_536, 2, Duration::from_secs(3600));
        let bytes = t.memory_bytes();
        assert!(bytes <= 16 << 20, "{bytes}");
        let attacker = Client::of(ip("192.0.2.1"));
        assert_eq!(t.fail(attacker), Ok(()));
        assert_eq!(t.fail(attacker), Ok(()));
        assert!(t.fail(attacker).is_err());
        for i in 0..1_000_000u32 {
            let _ = t.fail(Client::of(IpAddr::from(std::net::Ipv4Addr::from(
                0x0a00_0000 + i,
            ))));
        }
        assert_eq!(t.memory_bytes(), bytes);
        assert!(t.tracked() <= t.capacity());
        // One-off sources evict each other, not the client that exhausted its budget.
        assert!(t.blocked(attacker).is_some());
    }
}
