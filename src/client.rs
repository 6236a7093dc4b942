//! Outgoing HTTP calls (feature `reqwest`): placeholder, written next.
