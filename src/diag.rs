//! The library's own diagnostics (SPEC 12): never silent. Each line goes through `tracing`
//! (target `opencensus_settings`) when a subscriber is installed, and to stderr, one line,
//! when none is (the README never makes a subscriber a requirement). Failures are reported
//! when they happen, each kind at most once a minute, with how many more of that kind the
//! minute held.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What went wrong, for rate limiting: one line per kind per [`WINDOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// Most kinds are delivery's, which needs the `azure` feature.
#[cfg_attr(not(feature = "azure"), allow(dead_code))]
pub(crate) enum Kind {
    /// The service refused the key or credential (401, 403).
    Refused,
    /// The service could not be reached, or answered that it is unavailable.
    Outage,
    /// Items refused as invalid (400, 413), or corrupt files in storage.
    Invalid,
    /// Items refused over quota (402, 439).
    Quota,
    /// Spans dropped because the export queue was full.
    QueueFull,
    /// Items not stored: storage full or failing.
    StorageFull,
    /// Items lost at shutdown with storage off.
    NoStorage,
    /// Stored items deleted unsent after the retention period.
    Expired,
    /// An exporter panicked.
    Panic,
    /// Anything else worth one line.
    Other,
}

const KINDS: usize = 10;

impl Kind {
    fn index(self) -> usize {
        self as usize
    }

    /// The kind's name, as the `kind` field of the `tracing` event.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Refused => "refused",
            Kind::Outage => "outage",
            Kind::Invalid => "invalid",
            Kind::Quota => "quota",
            Kind::QueueFull => "queue_full",
            Kind::StorageFull => "storage_full",
            Kind::NoStorage => "no_storage",
            Kind::Expired => "expired",
            Kind::Panic => "panic",
            Kind::Other => "other",
        }
    }
}

/// The rate limit: one line per kind per window.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// Per kind: when the next line may be written (milliseconds on [`now_ms`]'s clock, 0 = now),
/// and how many lines were held back since the last one.
pub(crate) struct Limiter {
    next: [AtomicU64; KINDS],
    held: [AtomicU64; KINDS],
}

impl Limiter {
    pub(crate) const fn new() -> Self {
        Limiter {
            next: [const { AtomicU64::new(0) }; KINDS],
            held: [const { AtomicU64::new(0) }; KINDS],
        }
    }

    /// Whether a line of `kind` may be written at `now` (ms); when it may, how many were held
    /// back before it.
    pub(crate) fn allow(&self, kind: Kind, now: u64) -> Option<u64> {
        let i = kind.index();
        let next = self.next[i].load(Ordering::Relaxed);
        let window = u64::try_from(WINDOW.as_millis()).unwrap_or(u64::MAX);
        if now >= next
            && self.next[i]
                .compare_exchange(
                    next,
                    now.saturating_add(window).max(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            Some(self.held[i].swap(0, Ordering::Relaxed))
        } else {
            self.held[i].fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

static LIMITER: Limiter = Limiter::new();

/// Milliseconds since the first diagnostic of the process (monotonic).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A failure of `kind`, reported now unless a line of the same kind went out in the last
/// minute (then counted, and the count added to the next line).
pub(crate) fn report(kind: Kind, message: impl fmt::Display) {
    if let Some(held) = LIMITER.allow(kind, now_ms()) {
        if held > 0 {
            emit(
                kind,
                format_args!("{message} ({held} more like this in the last minute)"),
            );
        } else {
            emit(kind, format_args!("{message}"));
        }
    }
}

/// A warning that is not rate limited (callers write it once).
pub(crate) fn warn(message: impl fmt::Display) {
    emit(Kind::Other, format_args!("{message}"));
}

/// Whether a `tracing` subscriber would see our lines (a scoped or a global one).
pub(crate) fn has_subscriber() -> bool {
    !tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>())
}

fn emit(kind: Kind, message: fmt::Arguments<'_>) {
    if has_subscriber() {
        if kind == Kind::Other {
            tracing::warn!(target: "opencensus_settings", "{message}");
        } else {
            tracing::warn!(target: "opencensus_settings", kind = kind.name(), "{message}");
        }
    } else {
        // One line each: a message's own line breaks would split it in a log collector.
        let line = message.to_string().replace(['\n', '\r'], " ");
        eprintln!("opencensus-settings warning: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_minute_with_the_count_held_back() {
        let l = Limiter::new();
        assert_eq!(l.allow(Kind::Outage, 0), Some(0));
        assert_eq!(l.allow(Kind::Outage, 1_000), None);
        assert_eq!(l.allow(Kind::Outage, 59_999), None);
        // Another kind is not held back by the first.
        assert_eq!(l.allow(Kind::Refused, 59_999), Some(0));
        assert_eq!(l.allow(Kind::Outage, 60_000), Some(2));
        assert_eq!(l.allow(Kind::Outage, 60_001), None);
        assert_eq!(l.allow(Kind::Outage, 200_000), Some(1));
        assert_eq!(l.allow(Kind::Outage, 200_000), None);
    }

    #[test]
    fn kinds_have_distinct_slots() {
        let all = [
            Kind::Refused,
            Kind::Outage,
            Kind::Invalid,
            Kind::Quota,
            Kind::QueueFull,
            Kind::StorageFull,
            Kind::NoStorage,
            Kind::Expired,
            Kind::Panic,
            Kind::Other,
        ];
        assert_eq!(all.len(), KINDS);
        for (i, k) in all.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
