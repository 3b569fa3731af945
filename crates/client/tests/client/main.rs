//! prime-client's integration tests: the real client binary against a real prime-server
//! (in-process, from the test kit) on a real port. One test binary, one module per concern.
#![allow(clippy::unwrap_used)]

mod batch;
mod cli;
mod common;
mod factor;
mod prove;
mod tls;
mod verify;
