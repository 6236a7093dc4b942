//! The exporter itself: spans written by the envelope writer (`envelope/`), bodies handed to
//! [`Delivery`], and the export thread that feeds it.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::AzureConfig;
use super::delivery::{self, Delivery};
use super::envelope::EnvelopeWriter;
use super::storage::Storage;
use crate::export_thread::{Hooks, ThreadConfig, ThreadProcessor};
use crate::registry::BuildContext;

use crate::error::BoxError;

/// Builds the reqwest client: rustls with the platform's roots, a per-request timeout, explicit
/// proxies only (no proxy taken from the environment behind the settings' back).
fn reqwest_client(config: &AzureConfig) -> Result<reqwest::Client, BoxError> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .user_agent(concat!("opencensus-settings/", env!("CARGO_PKG_VERSION")))
        // The delivery policy follows 307/308 itself (and keeps the new endpoint).
        .redirect(reqwest::redirect::Policy::none())
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

/// The Application Insights span exporter: every span and its events written by our envelope
/// writer into one body per batch, handed to [`Delivery`] (which owns retries and storage).
pub(crate) struct AzureSpanExporter {
    writer: EnvelopeWriter,
    delivery: Arc<Delivery>,
    /// The last body's size: the next buffer starts at it, so it is allocated once.
    size_hint: std::sync::atomic::AtomicUsize,
    service_name: Option<String>,
    host: String,
}

impl fmt::Debug for AzureSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureSpanExporter")
            .field("service_name", &self.service_name)
            .finish_non_exhaustive()
    }
}

impl AzureSpanExporter {
    /// One body (a JSON array, gzip when delivery compresses) and its item count.
    fn write_batch(&self, batch: &[SpanData]) -> Option<(Bytes, u64)> {
        use std::sync::atomic::Ordering;
        let mut body = Vec::with_capacity(self.size_hint.load(Ordering::Relaxed));
        body.push(b'[');
        let mut count = 0u64;
        for span in batch {
            if count > 0 {
                body.push(b',');
            }
            count += self.writer.write(span, &mut body);
        }
        body.push(b']');
        if count == 0 {
            return None;
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
        Some((body, count))
    }
}

impl SpanExporter for AzureSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if let Some((body, count)) = self.write_batch(&batch) {
            self.delivery.deliver(body, count).await;
        }
        Ok(())
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

/// The bearer tokens of the configured credential (feature `entra`).
#[cfg(feature = "entra")]
fn token_source(
    config: &AzureConfig,
    cx: &BuildContext<'_>,
) -> Result<Option<Arc<dyn super::delivery::TokenSource>>, BoxError> {
    match &config.credential {
        Some((credential, _)) => Ok(Some(Arc::new(super::entra::EntraToken::new(
            credential,
            &config.scope,
            config.timeout,
            cx.environment(),
        )?))),
        None => Ok(None),
    }
}

/// Without the `entra` feature a credential cannot be used: said at install (`check` says it
/// is valid and needs the feature).
#[cfg(not(feature = "entra"))]
fn token_source(
    config: &AzureConfig,
    _cx: &BuildContext<'_>,
) -> Result<Option<Arc<dyn super::delivery::TokenSource>>, BoxError> {
    match &config.credential {
        Some((credential, origin)) => Err(format!(
            "{} (from {origin}) needs Microsoft Entra ID: build opencensus-settings with the `entra` feature",
            credential.describe()
        )
        .into()),
        None => Ok(None),
    }
}

/// Builds the exporter and its export thread (install time: never in `check`).
pub(crate) fn build(
    config: AzureConfig,
    cx: &BuildContext<'_>,
) -> Result<ThreadProcessor, BoxError> {
    let endpoint = config.connection.ingestion_endpoint.clone();
    if endpoint.to_ascii_lowercase().starts_with("http://")
        && !crate::hostport::is_loopback_url(&endpoint)
    {
        crate::diag::warn(format_args!(
            "AzureExporter sends to a plain http:// endpoint that is not loopback ({endpoint}): telemetry travels unencrypted"
        ));
    }
    let storage = if config.enable_local_storage {
        let dir = storage_dir(&config);
        match Storage::open(
            &dir,
            config.storage_max_size,
            config.storage_retention_period,
        ) {
            Ok(storage) => Some(storage),
            // An explicit storage_path that cannot be used is the user's error.
            Err(e) if config.storage_path.is_some() => return Err(e.into()),
            // The default folder (in the temp dir) is ours to choose: never a reason for the
            // app not to start. Without storage, what cannot be sent is counted.
            Err(e) => {
                crate::diag::warn(format_args!(
                    "AzureExporter runs without local storage: {e}; telemetry that cannot be sent is counted as dropped_no_storage (give storage_path= to choose a folder)"
                ));
                None
            }
        }
    } else {
        None
    };
    let counters = cx.export_counters();
    let auth = token_source(&config, cx)?;
    let delivery = Delivery::with_auth(
        delivery::Http(reqwest_client(&config)?),
        &endpoint,
        storage,
        counters.clone(),
        config.compress,
        auth,
    );
    // sampleRate is rate x 100; an unknown rate or rate 0 counts each item once (100).
    let rate = cx.sample_rate().filter(|r| *r > 0.0).unwrap_or(1.0);
    let wrapped = AzureSpanExporter {
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
        // OpenTelemetry's file gives the batching to the processor; else the keywords.
        cx.batching(ThreadConfig {
            max_batch_size: config.max_batch_size,
            export_interval: config.export_interval,
            // At least two full batches, so a healthy exporter never fills the queue.
            max_queue_size: crate::export_thread::QUEUE_SPANS.max(2 * config.max_batch_size),
        }),
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
