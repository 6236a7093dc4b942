//! Shared test support.

#[allow(unreachable_pub)]
pub mod ingest;
