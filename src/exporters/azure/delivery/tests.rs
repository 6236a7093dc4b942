//! The delivery policy in virtual time: a scripted transport answers each track call as a
//! test says, `tokio::time::pause` makes backoff and deadlines take no real time, and local
//! storage is a real folder. Every row of SPEC section 8's table, `Retry-After` forms, 206 edge
//! cases, redirects, 413 and the shutdown deadline; each test takes milliseconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::{Answer, Delivery, Transport, items};
use crate::exporters::azure::storage::Storage;
use crate::stats::{ExportCounters, ExportStats};

/// One scripted answer.
#[derive(Clone, Debug)]
enum Step {
    Answer(Answer),
    /// A connection error.
    Fail,
    /// Never answers (a hung endpoint).
    Hang,
}

fn status(s: u16) -> Step {
    Step::Answer(Answer {
        status: s,
        ..Answer::default()
    })
}

fn with_retry_after(s: u16, value: &str) -> Step {
    Step::Answer(Answer {
        status: s,
        retry_after: Some(value.to_string()),
        ..Answer::default()
    })
}

fn partial(body: &str) -> Step {
    Step::Answer(Answer {
        status: 206,
        body: Bytes::from(body.to_string()),
        ..Answer::default()
    })
}

/// A track call the fake received.
#[derive(Debug, Clone)]
struct Call {
    url: String,
    at: Instant,
    items: usize,
    /// The bearer token sent, if any.
    bearer: Option<String>,
}

#[derive(Default)]
struct Script {
    steps: Mutex<VecDeque<Step>>,
    calls: Mutex<Vec<Call>>,
}

/// Answers from the script, then 200 for ever.
#[derive(Clone, Default)]
struct Fake(Arc<Script>);

impl Transport for Fake {
    async fn post(
        &self,
        url: &str,
        body: Bytes,
        bearer: Option<&crate::secret::Secret>,
    ) -> Result<Answer, String> {
        self.0.calls.lock().unwrap().push(Call {
            url: url.to_string(),
            at: Instant::now(),
            items: items(&body).map_or(0, |v| v.len()),
            bearer: bearer.map(|b| b.expose().to_string()),
        });
        let step = self.0.steps.lock().unwrap().pop_front();
        match step {
            None => Ok(Answer {
                status: 200,
                ..Answer::default()
            }),
            Some(Step::Answer(a)) => Ok(a),
            Some(Step::Fail) => Err("connection refused".into()),
            Some(Step::Hang) => std::future::pending().await,
        }
    }
}

struct Case {
    fake: Fake,
    delivery: Arc<Delivery<Fake>>,
    counters: Arc<ExportCounters>,
    _dir: Option<tempfile::TempDir>,
}

fn case(steps: Vec<Step>, with_storage: bool) -> Case {
    let fake = Fake::default();
    fake.0.steps.lock().unwrap().extend(steps);
    let counters = Arc::new(ExportCounters::default());
    let dir = with_storage.then(|| tempfile::tempdir().unwrap());
    let storage = dir
        .as_ref()
        .map(|d| Storage::open(&d.path().join("s"), 50 << 20, Duration::from_secs(3600)).unwrap());
    let delivery = Delivery::new(
        fake.clone(),
        "https://ingest.example",
        storage,
        counters.clone(),
        false,
    );
    Case {
        fake,
        delivery,
        counters,
        _dir: dir,
    }
}

/// A JSON array of `n` items.
fn batch(n: usize) -> Bytes {
    let items: Vec<serde_json::Value> = (0..n).map(|i| serde_json::json!({ "i": i })).collect();
    Bytes::from(serde_json::to_vec(&items).unwrap())
}

impl Case {
    fn stats(&self) -> ExportStats {
        self.counters.snapshot()
    }

    fn calls(&self) -> Vec<Call> {
        self.fake.0.calls.lock().unwrap().clone()
    }

    /// Drains storage until it is empty (in virtual time, through the outages).
    async fn drain(&self) {
        let storage = self.delivery.storage.as_ref().unwrap();
        for _ in 0..50 {
            let until = super::lock(&self.delivery.backoff).until;
            if let Some(until) = until {
                tokio::time::sleep_until(until).await;
            }
            self.delivery.drain_once(storage).await;
            if storage.take().map(|l| storage.release(l)).is_none() {
                return;
            }
        }
        panic!("storage did not drain");
    }
}

/// Every item is accounted for exactly once, storage drained: delivered (directly or resent)
/// or dropped with a cause. (An item stored and later dropped is counted in `stored` and in
/// its drop, so `stored - resent` is not "waiting"; storage itself says what waits.)
fn accounted(s: &ExportStats, total: u64) {
    assert_eq!(s.delivered + s.dropped(), total, "{s:?}");
}

#[tokio::test(start_paused = true)]
async fn ok_is_delivered() {
    let c = case(vec![], false);
    c.delivery.deliver(batch(3), 3).await;
    assert_eq!(c.stats().delivered, 3);
    assert_eq!(c.calls()[0].url, "https://ingest.example/v2/track");
}

#[tokio::test(start_paused = true)]
async fn refused_keys_are_an_outage_and_never_delete_data() {
    for code in [401, 403] {
        let c = case(vec![status(code), status(code)], true);
        c.delivery.deliver(batch(4), 4).await;
        let s = c.stats();
        assert_eq!((s.stored, s.dropped_invalid), (4, 0), "{code}: {s:?}");
        // Draining: the stored file survives a second refusal, then goes out.
        c.drain().await;
        let s = c.stats();
        assert_eq!(
            (s.delivered, s.resent, s.dropped()),
            (4, 4, 0),
            "{code}: {s:?}"
        );
        accounted(&s, 4);
    }
}

#[tokio::test(start_paused = true)]
async fn transient_answers_back_off_doubling_and_resend() {
    let c = case(
        vec![
            status(503),
            status(500),
            status(507),
            Step::Fail,
            status(429),
            status(408),
        ],
        true,
    );
    c.delivery.deliver(batch(2), 2).await;
    c.drain().await;
    let calls = c.calls();
    assert_eq!(calls.len(), 7);
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1].at - w[0].at).collect();
    // 0.5 s, 1 s, 2 s, 4 s, 8 s, 16 s: doubling (plus the drain's own pacing).
    for (i, gap) in gaps.iter().enumerate() {
        let floor = Duration::from_millis(500) * (1 << i);
        assert!(
            *gap >= floor,
            "gap {i} was {gap:?}, expected at least {floor:?}"
        );
        assert!(
            *gap <= floor + Duration::from_secs(1),
            "gap {i} was {gap:?}"
        );
    }
    let s = c.stats();
    assert_eq!(
        (s.delivered, s.stored, s.resent, s.dropped()),
        (2, 2, 2, 0),
        "{s:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_capped_and_never_panics() {
    for value in [
        "10000000000000000000",
        "31536000",
        "-1",
        "soon",
        "99999999999999999999999999",
    ] {
        let c = case(vec![with_retry_after(429, value)], true);
        c.delivery.deliver(batch(1), 1).await;
        c.drain().await;
        let calls = c.calls();
        assert_eq!(calls.len(), 2, "{value}");
        // The normal backoff (0.5 s), not the value.
        assert!(
            calls[1].at - calls[0].at <= Duration::from_secs(2),
            "{value}"
        );
        assert_eq!(c.stats().delivered, 1);
    }
    let c = case(vec![with_retry_after(503, "7")], true);
    c.delivery.deliver(batch(1), 1).await;
    c.drain().await;
    let calls = c.calls();
    assert!(calls[1].at - calls[0].at >= Duration::from_secs(7));
    assert!(calls[1].at - calls[0].at <= Duration::from_secs(8));
}

#[tokio::test(start_paused = true)]
async fn other_client_errors_and_quota_are_dropped_and_counted() {
    for (code, quota) in [
        (400, false),
        (404, false),
        (409, false),
        (402, true),
        (439, true),
    ] {
        let c = case(vec![status(code)], true);
        c.delivery.deliver(batch(3), 3).await;
        let s = c.stats();
        if quota {
            assert_eq!(s.dropped_quota, 3, "{code}");
        } else {
            assert_eq!(s.dropped_invalid, 3, "{code}");
        }
        assert_eq!(s.stored, 0, "{code}");
        assert_eq!(c.calls().len(), 1, "{code}: never retried");
    }
}

#[tokio::test(start_paused = true)]
async fn partial_answers_resend_only_the_transient_items() {
    let c = case(
        vec![partial(
            r#"{"itemsReceived":5,"itemsAccepted":1,"errors":[{"index":0,"statusCode":400},{"index":1,"statusCode":439},{"index":2,"statusCode":503},{"index":3,"statusCode":500},{"index":2,"statusCode":503},{"index":9,"statusCode":500}]}"#,
        )],
        true,
    );
    c.delivery.deliver(batch(5), 5).await;
    c.drain().await;
    let s = c.stats();
    // Item 4 accepted; 0 invalid; 1 over quota; 2 and 3 resent (the duplicate index counted
    // once); index 9 names no item of the batch. Every item is counted exactly once.
    assert_eq!(s.dropped_quota, 1, "{s:?}");
    assert_eq!(s.dropped_invalid, 1, "{s:?}");
    assert_eq!(c.calls()[1].items, 2);
    assert_eq!(s.delivered, 1 + 2, "{s:?}");
    accounted(&s, 5);
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_partial_answer_resends_the_batch() {
    let c = case(vec![partial("<html>proxy error</html>")], true);
    c.delivery.deliver(batch(3), 3).await;
    c.drain().await;
    let s = c.stats();
    assert_eq!((s.delivered, s.dropped()), (3, 0), "{s:?}");
    assert_eq!(c.calls()[1].items, 3);
}

#[tokio::test(start_paused = true)]
async fn too_large_batches_are_split_and_a_single_too_large_item_dropped() {
    let c = case(
        vec![status(413), status(413), status(200), status(200)],
        false,
    );
    c.delivery.deliver(batch(4), 4).await;
    let items: Vec<usize> = c.calls().iter().map(|c| c.items).collect();
    assert_eq!(items, [4, 2, 1, 1, 2]);
    let s = c.stats();
    assert_eq!((s.delivered, s.dropped_invalid), (4, 0), "{s:?}");

    let c = case(vec![status(413)], false);
    c.delivery.deliver(batch(1), 1).await;
    assert_eq!(c.stats().dropped_invalid, 1);
}

#[tokio::test(start_paused = true)]
async fn redirects_are_followed_and_the_endpoint_kept() {
    let redirect = |to: &str| {
        Step::Answer(Answer {
            status: 308,
            location: Some(to.to_string()),
            ..Answer::default()
        })
    };
    let c = case(vec![redirect("https://eu.ingest.example/v2/track")], false);
    c.delivery.deliver(batch(1), 1).await;
    c.delivery.deliver(batch(1), 1).await;
    let urls: Vec<String> = c.calls().into_iter().map(|c| c.url).collect();
    assert_eq!(
        urls,
        [
            "https://ingest.example/v2/track",
            "https://eu.ingest.example/v2/track",
            "https://eu.ingest.example/v2/track"
        ]
    );
    assert_eq!(c.stats().delivered, 2);

    // A loop of redirects ends as an outage after 5 hops: stored, not dropped.
    let hops: Vec<Step> = (0..6)
        .map(|i| redirect(&format!("https://h{i}.example/t")))
        .collect();
    let c = case(hops, true);
    c.delivery.deliver(batch(2), 2).await;
    assert_eq!(c.calls().len(), 6);
    assert_eq!(c.stats().stored, 2);
}

/// Tokens `t1`, `t2`, ... (one per fetch); `fail` fetches fail first.
struct Tokens {
    fetched: Mutex<u32>,
    fail: Mutex<u32>,
}

impl super::TokenSource for Tokens {
    fn token(
        &self,
        _refresh: bool,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<crate::secret::Secret, String>> + Send + '_>,
    > {
        Box::pin(async move {
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err("token endpoint down".to_string());
            }
            let mut n = self.fetched.lock().unwrap();
            *n += 1;
            Ok(crate::secret::Secret::new(format!("t{n}")))
        })
    }

    fn name(&self) -> &str {
        "TestCredential"
    }
}

fn entra_case(steps: Vec<Step>, fail: u32) -> Case {
    let mut c = case(steps, true);
    let storage = Storage::open(
        &c._dir.as_ref().unwrap().path().join("entra"),
        50 << 20,
        Duration::from_secs(3600),
    )
    .unwrap();
    c.delivery = Delivery::with_auth(
        c.fake.clone(),
        "https://westeurope-5.in.applicationinsights.azure.com",
        Some(storage),
        c.counters.clone(),
        false,
        Some(Arc::new(Tokens {
            fetched: Mutex::new(0),
            fail: Mutex::new(fail),
        })),
    );
    c
}

#[tokio::test(start_paused = true)]
async fn entra_tokens_are_sent_refreshed_on_401_and_kept_from_foreign_hosts() {
    // Every call carries the bearer; a 401 gets one fresh token and one resend.
    let c = entra_case(vec![status(401)], 0);
    c.delivery.deliver(batch(2), 2).await;
    let bearers: Vec<Option<String>> = c.calls().into_iter().map(|c| c.bearer).collect();
    assert_eq!(bearers, [Some("t1".into()), Some("t2".into())]);
    assert_eq!(c.stats().delivered, 2);

    // Refused again after the fresh token: an outage, stored (nothing lost), one refresh only.
    let c = entra_case(vec![status(403), status(403)], 0);
    c.delivery.deliver(batch(1), 1).await;
    assert_eq!(c.calls().len(), 2);
    assert_eq!(c.stats().stored, 1);

    // No token to be had: no call at all, the batch stored.
    let c = entra_case(Vec::new(), 1);
    c.delivery.deliver(batch(3), 3).await;
    assert!(c.calls().is_empty());
    assert_eq!(c.stats().stored, 3);

    // A redirect within Azure Monitor keeps the token; one to another host is not followed.
    let redirect = |to: &str| {
        Step::Answer(Answer {
            status: 308,
            location: Some(to.to_string()),
            ..Answer::default()
        })
    };
    let c = entra_case(
        vec![redirect(
            "https://eastus-8.in.applicationinsights.azure.com/v2/track",
        )],
        0,
    );
    c.delivery.deliver(batch(1), 1).await;
    assert_eq!(c.calls().len(), 2);
    assert_eq!(c.stats().delivered, 1);
    let c = entra_case(
        vec![redirect("https://collector.attacker.example/v2/track")],
        0,
    );
    c.delivery.deliver(batch(1), 1).await;
    assert_eq!(c.calls().len(), 1, "the token never goes to a foreign host");
    assert_eq!(c.stats().stored, 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_bounds_sends_in_flight_and_stores_the_rest() {
    let c = case(vec![Step::Hang], true);
    let d = c.delivery.clone();
    let send = tokio::spawn(async move { d.deliver(batch(3), 3).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = Instant::now();
    c.delivery
        .shut_down_at(std::time::Instant::now() + Duration::from_secs(2));
    send.await.unwrap();
    assert!(Instant::now() - started <= Duration::from_secs(3));
    let s = c.stats();
    assert_eq!(s.stored, 3, "{s:?}");

    // Without storage, what could not be sent is counted, never lost quietly.
    let c = case(vec![Step::Hang], false);
    let d = c.delivery.clone();
    let send = tokio::spawn(async move { d.deliver(batch(8), 8).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    c.delivery
        .shut_down_at(std::time::Instant::now() + Duration::from_secs(1));
    send.await.unwrap();
    assert_eq!(c.stats().dropped_no_storage, 8);
}

#[tokio::test(start_paused = true)]
async fn without_storage_an_outage_waits_in_memory_then_delivers() {
    let c = case(vec![status(503), status(503)], false);
    c.delivery.deliver(batch(2), 2).await;
    let s = c.stats();
    assert_eq!((s.delivered, s.stored, s.dropped()), (2, 0, 0), "{s:?}");
    assert_eq!(c.calls().len(), 3);
}

fn any_step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (100u16..=599).prop_map(status),
        Just(Step::Fail),
        (
            prop::sample::select(vec![206u16, 307, 308, 401, 413, 429, 503]),
            prop::option::of(prop_oneof![
                "[0-9]{1,25}".prop_map(|s| s),
                "-?[0-9]{1,3}".prop_map(|s| s),
                Just("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
                "\\PC{0,20}".prop_map(|s| s),
            ]),
            prop::option::of(prop_oneof![
                Just("https://other.example/v2/track".to_string()),
                Just("/relative".to_string()),
                "\\PC{0,20}".prop_map(|s| s),
            ]),
            prop_oneof![
                prop::collection::vec((0u64..8, prop::sample::select(vec![200u64, 206, 400, 401, 402, 408, 429, 439, 500, 503])), 0..6)
                    .prop_map(|e| serde_json::json!({"errors": e.iter().map(|(i, c)| serde_json::json!({"index": i, "statusCode": c})).collect::<Vec<_>>()}).to_string()),
                "\\PC{0,30}".prop_map(|s| s),
            ],
        )
            .prop_map(|(status, retry_after, location, body)| {
                Step::Answer(Answer {
                    status,
                    retry_after,
                    location,
                    body: Bytes::from(body),
                })
            }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, failure_persistence: None, ..proptest::prelude::ProptestConfig::default() })]

    /// Arbitrary ingestion answers (status, `Retry-After`, `Location`, body) through the policy:
    /// no panic, and every item ends delivered, stored (then resent) or counted as dropped.
    #[test]
    fn arbitrary_answers_lose_nothing_uncounted(
        steps in proptest::collection::vec(any_step(), 0..10),
        n in 1usize..6,
        storage in proptest::prelude::any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let c = case(steps, storage);
            c.delivery.deliver(batch(n), n as u64).await;
            if storage {
                c.drain().await;
            }
            accounted(&c.stats(), n as u64);
        });
    }
}
