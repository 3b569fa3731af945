//! The domain: what the API means, with no HTTP and no SQL in it.
//!
//! - [`burst`]: the burst limit (GCRA) and its rate `N/s` or `N/m`;
//! - [`keys`]: the key format, its checksum, generation and hashing;
//! - [`schedule`]: cron schedules and the quota periods they define;
//! - [`quota`]: the quota rule ([`quota::decide`]): granted, exhausted or refused, and why;
//! - [`number`]: the one parser of the integers the API accepts, and of a check's options;
//! - [`check`]: the work a check does (the verdict, the factors or the proof when asked);
//! - [`certificate`]: the one reader of the certificates `/verify-certificate` accepts.
//!
//! Nothing here imports another layer of the crate (see docs/architecture.md).

pub mod burst;
pub mod certificate;
pub mod check;
pub mod keys;
pub mod number;
pub mod quota;
pub mod schedule;
