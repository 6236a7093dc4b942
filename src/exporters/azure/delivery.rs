//! Delivery that loses nothing: the policy behind both envelope paths. Our own path hands us
//! each JSON batch (gzip when `compression` says so); the crate's hands us its gzip batches
//! through our HTTP client, which answers the crate with success once we have taken
//! responsibility, so its own in-memory retry loop never fights ours.
//!
//! - 200: delivered. 206: items with a transient per-item status are kept (resent later), 400
//!   items are dropped as invalid, 402/439 as over quota: all counted.
//! - 408, 429, 500, 502, 503, 504, a connection error or a timeout: ingestion is in an outage
//!   until a backoff (doubling, honouring `Retry-After`) passes; the batch goes to local storage
//!   (or, with storage off, waits in memory), and so does every batch sent during the outage,
//!   without trying the network. A drain task resends stored batches oldest first once the
//!   outage is over, and at start-up (a previous process's telemetry).
//! - With every connection busy, a batch waits up to a second for one; with
//!   `MAX_WAITING` batches already waiting, it goes straight to storage, so a slow service
//!   never holds up the export thread. Stored batches are gzip, written on a blocking thread.
//! - At shutdown, sends stop at the grace deadline and the rest goes to storage.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::storage::Storage;
use crate::stats::ExportCounters;

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const MAX_IN_FLIGHT: usize = 4;
/// How long a batch waits for a free connection before it is spilled to storage.
const BUSY_WAIT: Duration = Duration::from_secs(1);
/// Batches waiting for a connection at most: with this many waiting, the next one goes
/// straight to storage (so a slow service never holds up the export thread).
const MAX_WAITING: usize = 2 * MAX_IN_FLIGHT;

fn transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

fn quota(status: u16) -> bool {
    matches!(status, 402 | 439)
}

/// How one attempt went.
enum Attempt {
    Delivered,
    /// Some items must be sent again (their gzip body and count); the rest are done.
    Retry {
        body: Bytes,
        count: u64,
        after: Option<Duration>,
    },
}

#[derive(Debug)]
struct Backoff {
    until: Option<Instant>,
    delay: Duration,
}

pub(crate) struct Delivery {
    client: reqwest::Client,
    /// Whether bodies go out gzip (`compression=`); stored bodies always are.
    compress: bool,
    track_url: String,
    storage: Option<Storage>,
    counters: Arc<ExportCounters>,
    backoff: std::sync::Mutex<Backoff>,
    permits: Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    shutdown: watch::Sender<Option<Instant>>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

pub(crate) fn count_items(body: &[u8]) -> u64 {
    items(body).map_or(0, |v| v.len() as u64)
}

/// A body is gzip when it starts with gzip's magic bytes; otherwise it is the JSON array
/// itself (which starts with `[`).
pub(crate) fn is_gzip(body: &[u8]) -> bool {
    body.starts_with(&[0x1f, 0x8b])
}

fn items(body: &[u8]) -> Option<Vec<serde_json::Value>> {
    if !is_gzip(body) {
        return serde_json::from_slice(body).ok();
    }
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut raw)
        .ok()?;
    serde_json::from_slice(&raw).ok()
}

/// Gzip at level 1: most of the size gain of level 6 (envelopes repeat themselves) for a
/// fraction of the CPU.
pub(crate) fn gzip(json: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(json).ok()?;
    enc.finish().ok()
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl Delivery {
    pub(crate) fn new(
        client: reqwest::Client,
        endpoint: &str,
        storage: Option<Storage>,
        counters: Arc<ExportCounters>,
        compress: bool,
    ) -> Arc<Delivery> {
        let (shutdown, _) = watch::channel(None);
        Arc::new(Delivery {
            client,
            compress,
            track_url: format!("{endpoint}/v2/track"),
            storage,
            counters,
            backoff: std::sync::Mutex::new(Backoff {
                until: None,
                delay: MIN_BACKOFF,
            }),
            permits: Semaphore::new(MAX_IN_FLIGHT),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            shutdown,
        })
    }

    /// From now on, sends stop at `deadline` and what is left is stored.
    pub(crate) fn shut_down_at(&self, deadline: std::time::Instant) {
        self.shutdown
            .send_replace(Some(Instant::from_std(deadline)));
    }

    fn deadline(&self) -> Option<Instant> {
        *self.shutdown.borrow()
    }

    fn in_outage(&self) -> bool {
        self.backoff
            .lock()
            .ok()
            .and_then(|b| b.until)
            .is_some_and(|until| Instant::now() < until)
    }

    fn outage(&self, after: Option<Duration>) -> Instant {
        let mut b = match self.backoff.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let wait = after.unwrap_or(b.delay).max(MIN_BACKOFF);
        b.delay = (b.delay * 2).min(MAX_BACKOFF);
        let until = Instant::now() + wait;
        b.until = Some(until);
        until
    }

    fn recovered(&self) {
        if let Ok(mut b) = self.backoff.lock() {
            b.until = None;
            b.delay = MIN_BACKOFF;
        }
    }

    fn add(&self, counter: &std::sync::atomic::AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether bodies go out gzip.
    pub(crate) fn compresses(&self) -> bool {
        self.compress
    }

    /// The body for some items, in the encoding this delivery sends.
    fn encode(&self, items: &[serde_json::Value]) -> Option<Bytes> {
        let json = serde_json::to_vec(items).ok()?;
        if self.compress {
            gzip(&json).map(Bytes::from)
        } else {
            Some(Bytes::from(json))
        }
    }

    /// Writes a body to storage, gzip (storage space is what `storage_max_size` limits).
    fn put(storage: &Storage, body: &[u8], count: u64) -> std::io::Result<bool> {
        if is_gzip(body) {
            storage.put(body, count)
        } else {
            let packed = gzip(body).ok_or_else(|| std::io::Error::other("gzip failed"))?;
            storage.put(&packed, count)
        }
    }

    /// Stores a batch on a blocking thread (compressing and `fsync` must not hold up the
    /// export thread, which keeps taking spans meanwhile).
    async fn store(self: &Arc<Self>, body: Bytes, count: Option<u64>) {
        let count = count.unwrap_or_else(|| count_items(&body));
        let me = self.clone();
        let stored = tokio::task::spawn_blocking(move || {
            me.store_now(&body, Some(count));
        })
        .await;
        if stored.is_err() {
            self.add(&self.counters.dropped_storage_full, count);
        }
    }

    /// Stores a batch; counts it as stored, or dropped when storage is off or full.
    fn store_now(&self, body: &[u8], count: Option<u64>) -> bool {
        let count = count.unwrap_or_else(|| count_items(body));
        let c = &self.counters;
        match &self.storage {
            Some(storage) => match Self::put(storage, body, count) {
                Ok(true) => {
                    self.add(&c.stored, count);
                    true
                }
                Ok(false) => {
                    self.add(&c.dropped_storage_full, count);
                    false
                }
                Err(e) => {
                    if let Ok(mut last) = c.last_error.lock() {
                        *last = Some(format!("local storage: {e}"));
                    }
                    self.add(&c.dropped_storage_full, count);
                    false
                }
            },
            None => {
                self.add(&c.dropped_no_storage, count);
                false
            }
        }
    }

    /// One POST; classifies the answer. `count` is the number of items when known (it is
    /// read from the answer on success, and counted from the body only on the failure paths).
    async fn attempt(
        &self,
        body: Bytes,
        count: Option<u64>,
    ) -> Result<Attempt, (Bytes, Option<u64>, Option<Duration>)> {
        let mut request = self
            .client
            .post(&self.track_url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if is_gzip(&body) {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let send = request.body(body.clone()).send();
        let response = match self.deadline() {
            Some(deadline) => tokio::select! {
                r = send => r,
                () = tokio::time::sleep_until(deadline) => return Err((body, count, None)),
            },
            None => send.await,
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                if let Ok(mut last) = self.counters.last_error.lock() {
                    *last = Some(format!("sending to Application Insights: {e}"));
                }
                return Err((body, count, None));
            }
        };
        let status = response.status().as_u16();
        let after = retry_after(&response);
        let c = &self.counters;
        match status {
            200 => {
                let n = match count {
                    Some(n) => n,
                    None => response
                        .bytes()
                        .await
                        .ok()
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                        .and_then(|v| v["itemsAccepted"].as_u64())
                        .unwrap_or_else(|| count_items(&body)),
                };
                self.add(&c.delivered, n);
                Ok(Attempt::Delivered)
            }
            206 => {
                let answer: serde_json::Value = response
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                let errors = answer["errors"].as_array().cloned().unwrap_or_default();
                let all = items(&body).unwrap_or_default();
                let mut again = Vec::new();
                let mut failed = 0u64;
                for e in &errors {
                    let (Some(index), Some(code)) = (e["index"].as_u64(), e["statusCode"].as_u64())
                    else {
                        continue;
                    };
                    failed += 1;
                    let code = code as u16;
                    if transient(code) {
                        if let Some(item) = all.get(index as usize) {
                            again.push(item.clone());
                        }
                    } else if quota(code) {
                        self.add(&c.dropped_quota, 1);
                    } else {
                        self.add(&c.dropped_invalid, 1);
                    }
                }
                let total = count.unwrap_or(all.len() as u64);
                self.add(&c.delivered, total.saturating_sub(failed));
                if again.is_empty() {
                    return Ok(Attempt::Delivered);
                }
                let n = again.len() as u64;
                match self.encode(&again) {
                    Some(body) => Ok(Attempt::Retry {
                        body,
                        count: n,
                        after,
                    }),
                    None => {
                        self.add(&c.dropped_invalid, n);
                        Ok(Attempt::Delivered)
                    }
                }
            }
            s if transient(s) => {
                if let Ok(mut last) = c.last_error.lock() {
                    *last = Some(format!("Application Insights answered {s}"));
                }
                Err((body, count, after))
            }
            s if quota(s) => {
                self.add(
                    &c.dropped_quota,
                    count.unwrap_or_else(|| count_items(&body)),
                );
                Ok(Attempt::Delivered)
            }
            s => {
                if let Ok(mut last) = c.last_error.lock() {
                    *last = Some(format!("Application Insights refused a batch with {s}"));
                }
                self.add(
                    &c.dropped_invalid,
                    count.unwrap_or_else(|| count_items(&body)),
                );
                Ok(Attempt::Delivered)
            }
        }
    }

    /// Takes responsibility for one batch of `count` items (a JSON array, or gzip of one):
    /// send it, or keep it for later.
    pub(crate) async fn deliver_counted(self: &Arc<Self>, mut body: Bytes, mut count: Option<u64>) {
        loop {
            let past_deadline = self.deadline().is_some_and(|d| Instant::now() >= d);
            // During an outage, or with every connection busy, spill straight to storage.
            let permit = if self.in_outage() || past_deadline {
                None
            } else {
                match self.permits.try_acquire() {
                    Ok(p) => Some(p),
                    // Every connection is busy: wait for one a little (a healthy service frees
                    // them in milliseconds); if ingestion is that slow, spill to storage.
                    Err(_) if self.storage.is_some() => {
                        if self.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
                            self.waiting.fetch_sub(1, Ordering::Relaxed);
                            None
                        } else {
                            let permit = tokio::time::timeout(BUSY_WAIT, self.permits.acquire())
                                .await
                                .ok()
                                .and_then(Result::ok);
                            self.waiting.fetch_sub(1, Ordering::Relaxed);
                            permit
                        }
                    }
                    Err(_) => self.permits.acquire().await.ok(),
                }
            };
            let Some(_permit) = permit else {
                if self.storage.is_some() || past_deadline {
                    self.store(body, count).await;
                    return;
                }
                // No storage: wait out the outage in memory.
                let until = self.backoff.lock().ok().and_then(|b| b.until);
                if let Some(until) = until {
                    self.sleep_until(until).await;
                }
                continue;
            };
            match self.attempt(body, count).await {
                Ok(Attempt::Delivered) => {
                    self.recovered();
                    return;
                }
                Ok(Attempt::Retry {
                    body: rest,
                    count: n,
                    after,
                }) => {
                    self.outage(after);
                    body = rest;
                    count = Some(n);
                }
                Err((rest, n, after)) => {
                    self.outage(after);
                    body = rest;
                    count = n;
                }
            }
        }
    }

    async fn sleep_until(&self, until: Instant) {
        match self.deadline() {
            Some(deadline) => tokio::time::sleep_until(until.min(deadline)).await,
            None => tokio::time::sleep_until(until).await,
        }
    }

    /// Resends stored batches whenever ingestion is not in an outage; expires old ones.
    pub(crate) async fn drain_forever(self: Arc<Self>) {
        let Some(storage) = &self.storage else { return };
        loop {
            let expired = storage.expire();
            if expired > 0 {
                self.add(&self.counters.dropped_expired, expired);
            }
            let until = self.backoff.lock().ok().and_then(|b| b.until);
            match until {
                Some(until) if Instant::now() < until => tokio::time::sleep_until(until).await,
                _ => {
                    if !self.drain_once(storage).await {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
            if self.deadline().is_some() {
                return;
            }
        }
    }

    /// At shutdown: resends what waits in storage until the grace deadline (what is left stays
    /// for the next process).
    pub(crate) async fn drain_before_deadline(self: Arc<Self>) {
        if let Some(storage) = &self.storage {
            self.drain_once(storage).await;
        }
    }

    /// Sends stored batches until none is left or ingestion fails; `true` if it sent any.
    async fn drain_once(&self, storage: &Storage) -> bool {
        let mut sent = false;
        while !self.in_outage() && self.deadline().is_none_or(|d| Instant::now() < d) {
            let Some(lease) = storage.take() else { break };
            let count = lease.count;
            let body = Bytes::from(lease.body.clone());
            match self.attempt(body, Some(count)).await {
                Ok(Attempt::Delivered) => {
                    self.add(&self.counters.resent, count);
                    storage.done(lease);
                    self.recovered();
                    sent = true;
                }
                Ok(Attempt::Retry {
                    body,
                    count: n,
                    after,
                }) => {
                    // Store what is left as a new file, drop the old one.
                    self.add(&self.counters.resent, count.saturating_sub(n));
                    if let Some(s) = &self.storage {
                        let _ = Self::put(s, &body, n);
                    }
                    storage.done(lease);
                    self.outage(after);
                }
                Err((_, _, after)) => {
                    storage.release(lease);
                    self.outage(after);
                }
            }
        }
        sent
    }
}
