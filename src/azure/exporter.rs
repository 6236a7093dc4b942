//! The exporter itself: our own envelope path for the spans nearly every request makes
//! (`envelope.rs`), and `opentelemetry-application-insights` with our HTTP client for the rest
//! (spans with events or links), wrapped so that its envelopes match SPEC section 7 where the
//! crate alone does not. Both paths hand their bodies to the same [`Delivery`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_application_insights::Exporter;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::AzureConfig;
use super::delivery::{self, Delivery};
use super::envelope::{self, EnvelopeWriter};
use super::storage::Storage;
use crate::export_thread::{Hooks, ThreadConfig, ThreadProcessor};
use crate::registry::BuildContext;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Builds the reqwest client: rustls with the platform's roots, a per-request timeout, explicit
/// proxies only (no proxy taken from the environment behind the settings' back).
fn reqwest_client(config: &AzureConfig) -> Result<reqwest::Client, BoxError> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .user_agent(concat!("opencensus-settings/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    for (scheme, url) in &config.proxies {
        let proxy = match scheme.as_str() {
            "http" => reqwest::Proxy::http(url.expose()),
            _ => reqwest::Proxy::https(url.expose()),
        }
        .map_err(|_| format!("the '{scheme}' proxy is not a valid URL"))?;
        builder = builder.proxy(proxy);
    }
    Ok(builder.build()?)
}

/// The HTTP client the crate sends through: it hands every batch to [`Delivery`], which owns
/// the retry policy and local storage, and answers the crate with success once delivery has
/// taken responsibility, so the crate's own retry loop never runs.
pub(crate) struct Client {
    delivery: Arc<Delivery>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AzureHttpClient")
    }
}

#[async_trait::async_trait]
impl HttpClient for Client {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.delivery.deliver(request.into_body()).await;
        Ok(Response::builder().status(200).body(Bytes::from_static(
            b"{\"itemsReceived\":0,\"itemsAccepted\":0,\"errors\":[]}",
        ))?)
    }
}

/// Writes envelopes for the common spans itself; adjusts the others before the crate turns
/// them into envelopes.
pub(crate) struct AzureSpanExporter {
    inner: Exporter<Client>,
    writer: EnvelopeWriter,
    delivery: Arc<Delivery>,
    /// The last body's size: the next buffer starts at it, so it is allocated once.
    size_hint: std::sync::atomic::AtomicUsize,
    service_name: Option<String>,
    host: String,
}

impl fmt::Debug for AzureSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The crate's own Debug prints the instrumentation key: never delegate to it.
        f.debug_struct("AzureSpanExporter")
            .field("service_name", &self.service_name)
            .finish_non_exhaustive()
    }
}

fn status_code(span: &SpanData) -> Option<i64> {
    let find = |key: &str| {
        span.attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == key)
    };
    find("http.response.status_code")
        .or_else(|| find("http.status_code"))
        .and_then(|kv| match &kv.value {
            Value::I64(i) => Some(*i),
            Value::String(s) => s.as_str().parse().ok(),
            _ => None,
        })
}

/// What the crate does not do on its own (SPEC section 7):
/// - `success` is false for 4xx and 5xx (the crate looks at the span status alone);
/// - `ai.operation.name` is the request name even without a route (the method alone);
/// - a request that ended without a response (a panic, an inner error) reports 500.
pub(crate) fn adjust(span: &mut SpanData) {
    if !matches!(span.span_kind, SpanKind::Server | SpanKind::Consumer) {
        return;
    }
    match status_code(span) {
        Some(code) if code >= 400 && !matches!(span.status, Status::Error { .. }) => {
            span.status = Status::error("");
        }
        None if matches!(span.status, Status::Error { .. }) => {
            span.attributes
                .push(KeyValue::new("http.response.status_code", 500i64));
        }
        _ => {}
    }
    span.attributes
        .push(KeyValue::new("ai.operation.name", span.name.to_string()));
}

impl AzureSpanExporter {
    /// One body for the spans our path takes; the others are returned.
    fn write_batch(&self, batch: Vec<SpanData>) -> (Option<(Bytes, u64)>, Vec<SpanData>) {
        use std::sync::atomic::Ordering;
        let mut rest = Vec::new();
        let mut body = Vec::with_capacity(self.size_hint.load(Ordering::Relaxed));
        body.push(b'[');
        let mut count = 0u64;
        for span in batch {
            if !envelope::fast_path(&span) {
                rest.push(span);
                continue;
            }
            if count > 0 {
                body.push(b',');
            }
            self.writer.write(&span, &mut body);
            count += 1;
        }
        body.push(b']');
        if count == 0 {
            return (None, rest);
        }
        self.size_hint
            .store(body.len() + body.len() / 8, Ordering::Relaxed);
        let body = if self.delivery.compresses() {
            match delivery::gzip(&body) {
                Some(packed) => Bytes::from(packed),
                None => Bytes::from(body),
            }
        } else {
            Bytes::from(body)
        };
        (Some((body, count)), rest)
    }
}

impl SpanExporter for AzureSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let (ours, mut rest) = self.write_batch(batch);
        if let Some((body, count)) = ours {
            self.delivery.deliver_counted(body, Some(count)).await;
        }
        if rest.is_empty() {
            return Ok(());
        }
        for span in &mut rest {
            adjust(span);
        }
        self.inner.export(rest).await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        // ai.cloud.role: the exporter's service_name= beats OTEL_SERVICE_NAME;
        // ai.cloud.roleInstance: the host name unless service.instance.id is set.
        let mut attrs: Vec<KeyValue> = resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        if let Some(name) = &self.service_name {
            attrs.retain(|kv| kv.key.as_str() != "service.name");
            attrs.push(KeyValue::new("service.name", name.clone()));
        }
        if !attrs
            .iter()
            .any(|kv| kv.key.as_str() == "service.instance.id")
            && !self.host.is_empty()
        {
            attrs.push(KeyValue::new("service.instance.id", self.host.clone()));
        }
        let adjusted = Resource::builder_empty().with_attributes(attrs).build();
        self.writer.set_resource(&adjusted);
        self.inner.set_resource(&adjusted);
    }
}

/// The machine's host name (for `ai.cloud.roleInstance`).
pub(crate) fn host_name() -> String {
    let from_file = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default()
}

/// A hash that stays the same across builds and Rust versions (FNV-1a), so the next process
/// with the same key finds the same storage folder.
fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The storage folder: `storage_path=`, else the temp dir plus a folder named by a hash of the
/// instrumentation key and the endpoint.
pub(crate) fn storage_dir(config: &AzureConfig) -> std::path::PathBuf {
    match &config.storage_path {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::temp_dir().join(format!(
            "opencensus-settings-{:016x}",
            stable_hash(&format!(
                "{}|{}",
                config
                    .connection
                    .instrumentation_key
                    .expose()
                    .to_ascii_lowercase(),
                config.connection.ingestion_endpoint
            ))
        )),
    }
}

/// Builds the exporter and its export thread (install time: never in `check`).
pub(crate) fn build(
    config: AzureConfig,
    cx: &BuildContext<'_>,
) -> Result<ThreadProcessor, BoxError> {
    let endpoint = config.connection.ingestion_endpoint.clone();
    if endpoint.to_ascii_lowercase().starts_with("http://") && !super::is_loopback(&endpoint) {
        tracing::warn!(
            target: "opencensus_settings",
            "AzureExporter sends to a plain http:// endpoint that is not loopback ({endpoint}): telemetry travels unencrypted"
        );
    }
    let storage = if config.enable_local_storage {
        Some(Storage::open(
            &storage_dir(&config),
            config.storage_max_size,
            config.storage_retention_period,
        )?)
    } else {
        None
    };
    let counters = cx.counters();
    let delivery = Delivery::new(
        reqwest_client(&config)?,
        &endpoint,
        storage,
        counters.clone(),
        config.compress,
    );
    let client = Client {
        delivery: delivery.clone(),
    };
    let connection_string = format!(
        "InstrumentationKey={}",
        config.connection.instrumentation_key.expose()
    );
    // The endpoint given here only builds the envelopes' target: delivery posts to the
    // configured endpoint itself, http:// included (the crate would rewrite it to https://).
    #[allow(deprecated)]
    let exporter = Exporter::new_from_connection_string(connection_string, client)
        .map_err(|_| "the instrumentation key was refused by opentelemetry-application-insights")?
        .with_endpoint(&endpoint)?;
    // sampleRate is rate x 100; an unknown rate or rate 0 counts each item once (100).
    let rate = cx.sample_rate().filter(|r| *r > 0.0).unwrap_or(1.0);
    let exporter = exporter.with_sample_rate(rate);
    let wrapped = AzureSpanExporter {
        inner: exporter,
        writer: EnvelopeWriter::new(config.connection.instrumentation_key.expose(), rate * 100.0),
        delivery: delivery.clone(),
        size_hint: std::sync::atomic::AtomicUsize::new(64 * 1024),
        service_name: config.service_name.clone(),
        host: host_name(),
    };
    let drain = delivery.clone();
    let finish = delivery.clone();
    let on_shutdown = delivery.clone();
    let processor = ThreadProcessor::spawn(
        "azure",
        wrapped,
        ThreadConfig {
            max_batch_size: config.max_batch_size,
            export_interval: config.export_interval,
            max_queue_size: crate::export_thread::QUEUE_SPANS,
        },
        counters,
        Hooks {
            background: Some(Box::pin(async move { drain.drain_forever().await })),
            on_shutdown: Some(Box::new(move |deadline| on_shutdown.shut_down_at(deadline))),
            finish: Some(Box::pin(
                async move { finish.drain_before_deadline().await },
            )),
        },
    )?;
    Ok(processor)
}
