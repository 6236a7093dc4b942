//! Trace-context propagation: strict header parsers (W3C, B3, Google Cloud).

pub mod headers;
