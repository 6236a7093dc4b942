//! What happened to the telemetry: the counters the export thread and the exporters write, the
//! snapshot users read, and the process-wide count of spans that ended after shutdown.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counts of what happened to the spans handed to the export thread.
#[derive(Debug, Default)]
pub struct ExportCounters {
    pub(crate) queued: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) waited_queue_full: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) stored: AtomicU64,
    pub(crate) resent: AtomicU64,
    pub(crate) dropped_invalid: AtomicU64,
    pub(crate) dropped_quota: AtomicU64,
    pub(crate) dropped_storage_full: AtomicU64,
    pub(crate) dropped_no_storage: AtomicU64,
    pub(crate) dropped_expired: AtomicU64,
    pub(crate) dropped_panic: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

/// A snapshot of [`ExportCounters`]: spans through the export thread, and telemetry items
/// (envelopes: a span and its exception events) through delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExportStats {
    /// Spans accepted into the queue.
    pub queued: u64,
    /// Spans whose batch the exporter took (sent, or kept for later by delivery).
    pub exported: u64,
    /// Spans whose batch the exporter reported as failed.
    pub failed: u64,
    /// Spans dropped because the queue was full: at once when the span ended on an async
    /// runtime's thread (a request never waits for telemetry), after waiting 100 ms for room
    /// on a plain thread.
    pub dropped_queue_full: u64,
    /// Spans whose producer, a plain thread, had to wait for room in the full queue
    /// (back-pressure instead of loss when the exporter falls behind).
    pub waited_queue_full: u64,
    /// Spans handed to the exporter whose export has not finished (after shutdown: lost, as
    /// the grace period ended first).
    pub in_flight: u64,
    /// Items the ingestion service accepted.
    pub delivered: u64,
    /// Items written to local storage to be sent later.
    pub stored: u64,
    /// Stored items delivered later (by this process or the one before).
    pub resent: u64,
    /// Items the service refused as invalid (400); retrying cannot help.
    pub dropped_invalid: u64,
    /// Items refused over quota (402, 439).
    pub dropped_quota: u64,
    /// Items not stored because local storage was full (`storage_max_size`).
    pub dropped_storage_full: u64,
    /// Items that could not be sent before shutdown with local storage off.
    pub dropped_no_storage: u64,
    /// Stored items deleted unsent after `storage_retention_period`.
    pub dropped_expired: u64,
    /// Spans whose exporter panicked (the panic is caught, counted and logged once; the
    /// export thread keeps running).
    pub dropped_panic: u64,
}

impl ExportStats {
    /// Every item lost, whatever the cause.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            + self.dropped_invalid
            + self.dropped_quota
            + self.dropped_storage_full
            + self.dropped_no_storage
            + self.dropped_expired
            + self.dropped_panic
    }
}

impl ExportCounters {
    /// The counts now.
    pub fn snapshot(&self) -> ExportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExportStats {
            queued: get(&self.queued),
            exported: get(&self.exported),
            failed: get(&self.failed),
            dropped_queue_full: get(&self.dropped_queue_full),
            waited_queue_full: get(&self.waited_queue_full),
            in_flight: get(&self.queued)
                .saturating_sub(get(&self.exported))
                .saturating_sub(get(&self.failed)),
            delivered: get(&self.delivered),
            stored: get(&self.stored),
            resent: get(&self.resent),
            dropped_invalid: get(&self.dropped_invalid),
            dropped_quota: get(&self.dropped_quota),
            dropped_storage_full: get(&self.dropped_storage_full),
            dropped_no_storage: get(&self.dropped_no_storage),
            dropped_expired: get(&self.dropped_expired),
            dropped_panic: get(&self.dropped_panic),
        }
    }

    /// The last export error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Remembers `error` as the last export error.
    pub(crate) fn set_last_error(&self, error: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
    }
}

static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// Notes that a globally installed guard was dropped (or shut down).
pub(crate) fn note_shutdown() {
    SHUT_DOWN.store(true, Ordering::Relaxed);
}

/// Whether a globally installed guard was dropped in this process.
#[cfg_attr(
    not(any(feature = "axum", feature = "actix", feature = "reqwest")),
    allow(dead_code)
)]
pub(crate) fn was_shut_down() -> bool {
    SHUT_DOWN.load(Ordering::Relaxed)
}

static LATE_SPANS: AtomicU64 = AtomicU64::new(0);
static LATE_WARNED: AtomicBool = AtomicBool::new(false);

/// How many spans were started or still open after a `Telemetry` guard was dropped (they
/// are not exported). A non-zero count usually means `let _ = init_from_settings()`, which
/// drops the guard at once.
pub fn spans_after_shutdown() -> u64 {
    LATE_SPANS.load(Ordering::Relaxed)
}

/// Counts `n` spans that ended after shutdown; warns once per process.
pub(crate) fn count_late(n: u64) {
    LATE_SPANS.fetch_add(n, Ordering::Relaxed);
    if !LATE_WARNED.swap(true, Ordering::Relaxed) {
        crate::diag::warn(
            "spans ended after the Telemetry guard was dropped are not exported; keep the guard alive \
             for the life of the app (`let _telemetry = init_from_settings()?;`, not `let _ = ...`)",
        );
    }
}

/// A panic's payload as text (what `panic!` was given).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_string())
}

/// Counts `n` spans lost to an exporter's panic; says so now (once a minute).
pub(crate) fn count_panic(counters: &ExportCounters, n: u64, payload: &(dyn std::any::Any + Send)) {
    counters.dropped_panic.fetch_add(n, Ordering::Relaxed);
    let message = panic_message(payload);
    counters.set_last_error(format!("an exporter panicked: {message}"));
    crate::diag::report(
        crate::diag::Kind::Panic,
        format_args!(
            "an exporter panicked ({message}); its {n} spans are counted as dropped_panic and exporting goes on"
        ),
    );
}
