//! Delivery that loses nothing: the policy between the envelope writer and ingestion. The
//! meaning of every answer is in `answer` (SPEC section 8's table); this module acts on it,
//! through a [`Transport`] (reqwest in production, a scripted fake in the virtual-time tests).
//!
//! - Delivered, dropped (invalid, over quota) or partly resent, every item is counted.
//! - An outage (408, 429, 5xx, 401/403, a connection error, a timeout) backs off, doubling from
//!   0.5 s to 60 s, honouring `Retry-After` up to 60 s; the batch goes to local storage (or, with
//!   storage off, waits in memory), and so does every batch sent during the outage, without
//!   trying the network. A drain task resends stored batches oldest first once the outage is
//!   over, and at start-up (a previous process's telemetry).
//! - 307/308 are followed (5 hops at most) and the new endpoint kept; 413 splits the batch.
//! - With every connection busy, a batch waits up to a second for one; when the service is
//!   slow (its last answer took over 250 ms) and `MAX_WAITING` batches already wait, it goes
//!   straight to storage, so a slow service never holds up the export thread, while a healthy
//!   service's burst never touches the disk. Stored batches are gzip, written on a blocking
//!   thread.
//! - At shutdown, sends stop at the grace deadline (sends in flight too) and the rest goes to
//!   storage.

mod answer;
#[cfg(test)]
mod tests;
mod transport;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::storage::Storage;
use crate::diag::{self, Kind};
use crate::stats::ExportCounters;
use answer::{Class, ItemClass};
pub(crate) use transport::{Answer, Http, TokenSource, Transport};

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const MAX_IN_FLIGHT: usize = 4;
/// How long a batch waits for a free connection before it is spilled to storage.
const BUSY_WAIT: Duration = Duration::from_secs(1);
/// Batches waiting for a connection at most: with this many waiting, the next one goes
/// straight to storage (so a slow service never holds up the export thread).
const MAX_WAITING: usize = 2 * MAX_IN_FLIGHT;
/// A service whose last track call took longer than this is slow: with `MAX_WAITING` batches
/// already waiting for a connection, the next one goes to storage. A healthy service's burst
/// waits for a connection instead (storage is for outages, not bursts).
const SLOW_SEND: Duration = Duration::from_millis(250);
/// Redirects followed for one call at most.
const MAX_REDIRECTS: usize = 5;

/// The host of a URL (lower case, no port, no userinfo).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    crate::hostport::split_host(authority).0
}

/// Azure Monitor's own hosts, as Microsoft's exporters list them: a redirect between two of
/// them may carry the token.
const AZURE_MONITOR_SUFFIXES: [&str; 8] = [
    ".livediagnostics.monitor.azure.com",
    ".monitor.azure.com",
    ".services.visualstudio.com",
    ".applicationinsights.azure.com",
    ".monitor.azure.us",
    ".applicationinsights.azure.us",
    ".monitor.azure.cn",
    ".applicationinsights.azure.cn",
];

/// Whether a redirect from `from` to `to` may carry the bearer token: the same host, or both
/// under Azure Monitor's suffixes.
fn redirect_keeps_token(from: &str, to: &str) -> bool {
    let azure = |h: &str| {
        let h = h.to_ascii_lowercase();
        AZURE_MONITOR_SUFFIXES.iter().any(|s| h.ends_with(s))
    };
    from.eq_ignore_ascii_case(to) || (azure(from) && azure(to))
}

/// The service's reason, quoted for a diagnostic (`: "..."`), or nothing.
fn said(body: &[u8]) -> String {
    answer::reason(body).map_or_else(String::new, |r| format!(": \"{r}\""))
}

/// How one attempt went.
#[derive(Debug)]
enum Attempt {
    /// Done with the batch: `delivered` items accepted, the rest dropped and counted.
    Done { delivered: u64 },
    /// Some items must be sent again (their body and count); `delivered` were accepted.
    Retry {
        body: Bytes,
        count: u64,
        delivered: u64,
        after: Option<Duration>,
    },
    /// 413: send these halves separately.
    Split(Vec<(Bytes, u64)>),
    /// An outage: the whole batch again later.
    Outage {
        body: Bytes,
        after: Option<Duration>,
    },
}

#[derive(Debug)]
struct Backoff {
    until: Option<Instant>,
    delay: Duration,
}

pub(crate) struct Delivery<T: Transport = Http> {
    transport: T,
    /// Whether bodies go out gzip (`compression=`); stored bodies always are.
    compress: bool,
    /// The track URL; a 307/308 replaces it for the rest of the process.
    track_url: Mutex<String>,
    storage: Option<Storage>,
    counters: Arc<ExportCounters>,
    backoff: Mutex<Backoff>,
    permits: Semaphore,
    waiting: AtomicUsize,
    shutdown: watch::Sender<Option<Instant>>,
    /// Logged once per process: a redirect was followed.
    redirected: AtomicBool,
    /// How long the last answered track call took, in microseconds.
    last_send_micros: AtomicU64,
    /// Bearer tokens (Microsoft Entra ID), when the resource takes them.
    auth: Option<Arc<dyn TokenSource>>,
}

impl<T: Transport> std::fmt::Debug for Delivery<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
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

fn lock<V>(m: &Mutex<V>) -> MutexGuard<'_, V> {
    // Nothing panics while holding these locks; if something ever did, the data is still
    // consistent (plain values), so keep going rather than lose the policy.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T: Transport> Delivery<T> {
    #[cfg(test)]
    pub(crate) fn new(
        transport: T,
        endpoint: &str,
        storage: Option<Storage>,
        counters: Arc<ExportCounters>,
        compress: bool,
    ) -> Arc<Self> {
        Self::with_auth(transport, endpoint, storage, counters, compress, None)
    }

    /// Delivery to `endpoint`, sending bearer tokens from `auth` (Entra ID) when given.
    pub(crate) fn with_auth(
        transport: T,
        endpoint: &str,
        storage: Option<Storage>,
        counters: Arc<ExportCounters>,
        compress: bool,
        auth: Option<Arc<dyn TokenSource>>,
    ) -> Arc<Self> {
        let (shutdown, _) = watch::channel(None);
        Arc::new(Delivery {
            transport,
            compress,
            track_url: Mutex::new(format!("{endpoint}/v2/track")),
            storage,
            counters,
            backoff: Mutex::new(Backoff {
                until: None,
                delay: MIN_BACKOFF,
            }),
            permits: Semaphore::new(MAX_IN_FLIGHT),
            waiting: AtomicUsize::new(0),
            shutdown,
            redirected: AtomicBool::new(false),
            last_send_micros: AtomicU64::new(0),
            auth,
        })
    }

    /// From now on, sends stop at `deadline` (those in flight too) and what is left is stored.
    pub(crate) fn shut_down_at(&self, deadline: std::time::Instant) {
        self.shutdown
            .send_replace(Some(Instant::from_std(deadline)));
    }

    fn deadline(&self) -> Option<Instant> {
        *self.shutdown.borrow()
    }

    fn past_deadline(&self) -> bool {
        self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// Resolves at the shutdown deadline, once there is one.
    async fn until_deadline(&self) {
        let mut rx = self.shutdown.subscribe();
        loop {
            let deadline = *rx.borrow_and_update();
            if let Some(deadline) = deadline {
                return tokio::time::sleep_until(deadline).await;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    fn in_outage(&self) -> bool {
        lock(&self.backoff)
            .until
            .is_some_and(|until| Instant::now() < until)
    }

    fn outage(&self, after: Option<Duration>) -> Instant {
        let mut b = lock(&self.backoff);
        let wait = after.unwrap_or(b.delay).max(MIN_BACKOFF);
        b.delay = (b.delay * 2).min(MAX_BACKOFF);
        let until = Instant::now() + wait;
        b.until = Some(until);
        until
    }

    fn recovered(&self) {
        let mut b = lock(&self.backoff);
        b.until = None;
        b.delay = MIN_BACKOFF;
    }

    fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` items lost to `kind`, remembers why, and says so now (once a minute per
    /// kind): loss is never only a number read at shutdown.
    fn lose(&self, counter: &AtomicU64, n: u64, kind: Kind, why: String) {
        // Said before it is counted: whoever sees the count can rely on the line.
        let items = if n == 1 { "item" } else { "items" };
        diag::report(kind, format_args!("{n} telemetry {items} dropped: {why}"));
        self.counters.set_last_error(why);
        self.add(counter, n);
    }

    /// Remembers a failure that keeps the telemetry (stored or retried) and says so now (once
    /// a minute per kind).
    fn failed(&self, kind: Kind, why: String) {
        let keeps = if self.storage.is_some() {
            "telemetry is stored and resent when it is accepted"
        } else {
            "telemetry waits in memory (local storage is off) and is resent"
        };
        diag::report(kind, format_args!("{why}; {keeps}"));
        self.counters.set_last_error(why);
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
    async fn store(self: &Arc<Self>, body: Bytes, count: u64) {
        let me = self.clone();
        let stored = tokio::task::spawn_blocking(move || {
            me.store_now(&body, count);
        })
        .await;
        if stored.is_err() {
            self.add(&self.counters.dropped_storage_full, count);
        }
    }

    /// Stores a batch; counts it as stored, or dropped when storage is off or full.
    fn store_now(&self, body: &[u8], count: u64) -> bool {
        let c = &self.counters;
        match &self.storage {
            Some(storage) => match Self::put(storage, body, count) {
                Ok(true) => {
                    self.add(&c.stored, count);
                    true
                }
                Ok(false) => {
                    self.lose(
                        &c.dropped_storage_full,
                        count,
                        Kind::StorageFull,
                        "local storage is full (storage_max_size)".into(),
                    );
                    false
                }
                Err(e) => {
                    self.lose(
                        &c.dropped_storage_full,
                        count,
                        Kind::StorageFull,
                        format!("local storage: {e}"),
                    );
                    false
                }
            },
            None => {
                self.lose(
                    &c.dropped_no_storage,
                    count,
                    Kind::NoStorage,
                    "they could not be sent before shutdown and local storage is off".into(),
                );
                false
            }
        }
    }

    /// One track call (following redirects), its answer acted on: counted, and what is left
    /// to do returned.
    async fn attempt(&self, body: Bytes, count: u64) -> Attempt {
        let c = &self.counters;
        let mut url = lock(&self.track_url).clone();
        // Entra ID: a token before the call (fetched on this, the export thread's, runtime;
        // never on a request's path). None to be had is an outage: the batch is kept.
        let mut bearer = match &self.auth {
            Some(auth) => match auth.token(false).await {
                Ok(t) => Some(t),
                Err(e) => {
                    self.failed(
                        Kind::Refused,
                        format!("no Microsoft Entra ID token from {}: {e}", auth.name()),
                    );
                    return Attempt::Outage { body, after: None };
                }
            },
            None => None,
        };
        let mut refreshed = false;
        let configured_host = host_of(&url).to_string();
        let mut hop = 0;
        while hop <= MAX_REDIRECTS {
            let sent = Instant::now();
            let answer = tokio::select! {
                biased;
                r = self.transport.post(&url, body.clone(), bearer.as_ref()) => r,
                // Shutdown bounds sends in flight too: what is not acknowledged is stored.
                () = self.until_deadline() => return Attempt::Outage { body, after: None },
            };
            let took = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.last_send_micros.store(took, Ordering::Relaxed);
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    self.failed(
                        Kind::Outage,
                        format!("Application Insights could not be reached: {e}"),
                    );
                    return Attempt::Outage { body, after: None };
                }
            };
            let after =
                answer::retry_after(answer.retry_after.as_deref(), std::time::SystemTime::now());
            match answer::classify(answer.status) {
                Class::Delivered => {
                    self.add(&c.delivered, count);
                    return Attempt::Done { delivered: count };
                }
                Class::Partial => return self.partial(body, count, &answer, after),
                Class::Redirect => {
                    let next = answer.location.filter(|l| {
                        let l = l.to_ascii_lowercase();
                        l.starts_with("https://") || l.starts_with("http://")
                    });
                    // With a token, a redirect is followed only within Azure Monitor's own
                    // hosts: a `Location` must not get the token sent to anyone else.
                    let next = next.filter(|n| {
                        bearer.is_none() || redirect_keeps_token(&configured_host, host_of(n))
                    });
                    match next {
                        Some(next) if hop < MAX_REDIRECTS => {
                            hop += 1;
                            if !self.redirected.swap(true, Ordering::Relaxed) {
                                diag::warn(format_args!(
                                    "Application Insights redirected the track call ({}); the new endpoint is kept for this process",
                                    answer.status
                                ));
                            }
                            *lock(&self.track_url) = next.clone();
                            url = next;
                            continue;
                        }
                        _ => {
                            self.failed(
                                Kind::Outage,
                                format!(
                                    "Application Insights answered {} without a usable Location (or after {MAX_REDIRECTS} redirects)",
                                    answer.status
                                ),
                            );
                            return Attempt::Outage { body, after };
                        }
                    }
                }
                Class::AuthOutage if !refreshed && let Some(auth) = &self.auth => {
                    // The token no longer holds (rotated, revoked): one fresh token, one resend.
                    refreshed = true;
                    match auth.token(true).await {
                        Ok(t) => {
                            bearer = Some(t);
                            continue;
                        }
                        Err(e) => {
                            self.failed(
                                Kind::Refused,
                                format!(
                                    "Application Insights refused the Entra ID token ({}) and no new one came from {}: {e}",
                                    answer.status,
                                    auth.name()
                                ),
                            );
                            return Attempt::Outage { body, after };
                        }
                    }
                }
                Class::AuthOutage => {
                    self.failed(
                        Kind::Refused,
                        format!(
                            "Application Insights answered {}{}: the key or credential was refused",
                            answer.status,
                            said(&answer.body)
                        ),
                    );
                    return Attempt::Outage { body, after };
                }
                Class::Outage => {
                    self.failed(
                        Kind::Outage,
                        format!(
                            "Application Insights answered {}{}",
                            answer.status,
                            said(&answer.body)
                        ),
                    );
                    return Attempt::Outage { body, after };
                }
                Class::TooLarge => {
                    let all = items(&body).unwrap_or_default();
                    if all.len() <= 1 {
                        self.lose(
                            &c.dropped_invalid,
                            count,
                            Kind::Invalid,
                            "Application Insights refused an item as too large (413)".into(),
                        );
                        return Attempt::Done { delivered: 0 };
                    }
                    let (a, b) = all.split_at(all.len() / 2);
                    let halves: Vec<(Bytes, u64)> = [a, b]
                        .iter()
                        .filter_map(|h| self.encode(h).map(|body| (body, h.len() as u64)))
                        .collect();
                    return Attempt::Split(halves);
                }
                Class::Quota => {
                    self.lose(
                        &c.dropped_quota,
                        count,
                        Kind::Quota,
                        format!(
                            "Application Insights answered {} (over quota){}",
                            answer.status,
                            said(&answer.body)
                        ),
                    );
                    return Attempt::Done { delivered: 0 };
                }
                Class::Invalid => {
                    self.lose(
                        &c.dropped_invalid,
                        count,
                        Kind::Invalid,
                        format!(
                            "Application Insights refused the batch with {}{}",
                            answer.status,
                            said(&answer.body)
                        ),
                    );
                    return Attempt::Done { delivered: 0 };
                }
            }
        }
        Attempt::Outage { body, after: None }
    }

    /// A 206: per item, invalid and over-quota items are dropped (counted), the others resent.
    fn partial(
        &self,
        body: Bytes,
        count: u64,
        answer: &Answer,
        after: Option<Duration>,
    ) -> Attempt {
        let c = &self.counters;
        let (Some(errors), Some(all)) = (answer::partial_errors(&answer.body), items(&body)) else {
            // An answer we cannot read: resend the whole batch rather than guess.
            self.failed(
                Kind::Outage,
                "Application Insights answered 206 with an unreadable body".into(),
            );
            return Attempt::Outage { body, after };
        };
        let mut seen = BTreeSet::new();
        let mut again = Vec::new();
        let mut not_accepted = 0u64;
        let (mut invalid, mut quota) = (0u64, 0u64);
        for e in errors {
            // An index the batch does not have names no item: every item is still counted
            // once (accepted unless an error names it).
            let Some(item) = all.get(e.index) else {
                continue;
            };
            if !seen.insert(e.index) || e.class == ItemClass::Accepted {
                continue;
            }
            not_accepted += 1;
            match e.class {
                ItemClass::Resend => again.push(item.clone()),
                ItemClass::Quota => quota += 1,
                ItemClass::Invalid | ItemClass::Accepted => invalid += 1,
            }
        }
        if invalid > 0 {
            self.lose(
                &c.dropped_invalid,
                invalid,
                Kind::Invalid,
                format!(
                    "Application Insights refused {invalid} of {count} items as invalid (206){}",
                    said(&answer.body)
                ),
            );
        }
        if quota > 0 {
            self.lose(
                &c.dropped_quota,
                quota,
                Kind::Quota,
                format!("Application Insights refused {quota} of {count} items over quota (206)"),
            );
        }
        let delivered = count.saturating_sub(not_accepted);
        self.add(&c.delivered, delivered);
        if again.is_empty() {
            return Attempt::Done { delivered };
        }
        let n = again.len() as u64;
        match self.encode(&again) {
            Some(body) => Attempt::Retry {
                body,
                count: n,
                delivered,
                after,
            },
            None => {
                self.lose(
                    &c.dropped_invalid,
                    n,
                    Kind::Invalid,
                    "items to resend could not be encoded".into(),
                );
                Attempt::Done { delivered }
            }
        }
    }

    /// Takes responsibility for one batch of `count` items (a JSON array, or gzip of one):
    /// send it, or keep it for later.
    pub(crate) async fn deliver(self: &Arc<Self>, mut body: Bytes, mut count: u64) {
        loop {
            let past_deadline = self.past_deadline();
            // During an outage, or with every connection busy, spill straight to storage.
            let permit = if self.in_outage() || past_deadline {
                None
            } else {
                match self.permits.try_acquire() {
                    Ok(p) => Some(p),
                    // Every connection is busy: wait for one a little (a healthy service frees
                    // them in milliseconds); if ingestion is that slow, spill to storage.
                    Err(_) if self.storage.is_some() => {
                        let slow = self.last_send_micros.load(Ordering::Relaxed)
                            > u64::try_from(SLOW_SEND.as_micros()).unwrap_or(u64::MAX);
                        if self.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING && slow {
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
                    Err(_) => tokio::select! {
                        p = self.permits.acquire() => p.ok(),
                        () = self.until_deadline() => None,
                    },
                }
            };
            let Some(_permit) = permit else {
                if self.storage.is_some() || self.past_deadline() {
                    self.store(body, count).await;
                    return;
                }
                // No storage: wait out the outage in memory (never past the deadline).
                let until = lock(&self.backoff).until;
                if let Some(until) = until {
                    tokio::select! {
                        () = tokio::time::sleep_until(until) => {}
                        () = self.until_deadline() => {}
                    }
                }
                continue;
            };
            match self.attempt(body, count).await {
                Attempt::Done { .. } => {
                    self.recovered();
                    return;
                }
                Attempt::Retry {
                    body: rest,
                    count: n,
                    after,
                    ..
                } => {
                    self.outage(after);
                    body = rest;
                    count = n;
                }
                Attempt::Split(halves) => {
                    drop(_permit);
                    for (half, n) in halves {
                        Box::pin(self.deliver(half, n)).await;
                    }
                    return;
                }
                Attempt::Outage { body: rest, after } => {
                    self.outage(after);
                    body = rest;
                }
            }
        }
    }

    /// Resends stored batches whenever ingestion is not in an outage; expires old ones.
    pub(crate) async fn drain_forever(self: Arc<Self>) {
        let Some(storage) = &self.storage else { return };
        loop {
            let expired = storage.expire();
            if expired > 0 {
                self.lose(
                    &self.counters.dropped_expired,
                    expired,
                    Kind::Expired,
                    "they waited in local storage longer than storage_retention_period".into(),
                );
            }
            let until = lock(&self.backoff).until;
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

    /// Stores what a drained file left to do as a new file; counts it if storage refuses.
    fn restore(&self, storage: &Storage, body: &[u8], count: u64) {
        match Self::put(storage, body, count) {
            Ok(true) => {}
            Ok(false) => self.lose(
                &self.counters.dropped_storage_full,
                count,
                Kind::StorageFull,
                "local storage is full (storage_max_size)".into(),
            ),
            Err(e) => self.lose(
                &self.counters.dropped_storage_full,
                count,
                Kind::StorageFull,
                format!("local storage: {e}"),
            ),
        }
    }

    /// Sends stored batches until none is left or ingestion fails; `true` if it sent any. A
    /// stored file is deleted only when its items were delivered or dropped by the answer table.
    async fn drain_once(&self, storage: &Storage) -> bool {
        let mut sent = false;
        while !self.in_outage() && !self.past_deadline() {
            let lease = storage.take();
            let corrupt = storage.take_corrupt();
            if corrupt > 0 {
                self.lose(
                    &self.counters.dropped_invalid,
                    corrupt,
                    Kind::Invalid,
                    "local storage held a corrupt file; it was set aside (*.corrupt)".into(),
                );
            }
            let Some(lease) = lease else { break };
            let count = lease.count;
            let body = Bytes::from(lease.body.clone());
            match self.attempt(body, count).await {
                Attempt::Done { delivered } => {
                    self.add(&self.counters.resent, delivered);
                    storage.done(lease);
                    self.recovered();
                    sent = true;
                }
                Attempt::Retry {
                    body,
                    count: n,
                    delivered,
                    after,
                } => {
                    self.add(&self.counters.resent, delivered);
                    self.restore(storage, &body, n);
                    storage.done(lease);
                    self.outage(after);
                }
                Attempt::Split(halves) => {
                    for (half, n) in halves {
                        self.restore(storage, &half, n);
                    }
                    storage.done(lease);
                }
                Attempt::Outage { after, .. } => {
                    storage.release(lease);
                    self.outage(after);
                }
            }
        }
        sent
    }
}
