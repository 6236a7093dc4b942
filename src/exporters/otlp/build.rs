//! Building the OTLP exporter (feature `otlp`): our HTTP client for `opentelemetry-otlp`, the
//! gRPC metadata, and the factory the registry calls.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

use super::{OtlpConfig, Protocol, configure};
use crate::export_thread::{Hooks, ThreadConfig, ThreadProcessor};
use crate::registry::{ExporterComponent, Factory};

/// Sends exactly the resolved headers (the crate also merges the process's
/// `OTEL_EXPORTER_OTLP_HEADERS`; `headers=` must replace those).
struct HttpSender {
    client: reqwest::Client,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtlpHttpClient")
    }
}

const KEEP: [&str; 5] = [
    "content-type",
    "content-encoding",
    "content-length",
    "user-agent",
    "accept",
];

#[async_trait::async_trait]
impl HttpClient for HttpSender {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (mut parts, body) = request.into_parts();
        let names: Vec<http::HeaderName> = parts.headers.keys().cloned().collect();
        for name in names {
            if !KEEP.contains(&name.as_str()) {
                parts.headers.remove(&name);
            }
        }
        for (k, v) in &self.headers {
            parts.headers.insert(k.clone(), v.clone());
        }
        let request = reqwest::Request::try_from(Request::from_parts(parts, body))?;
        let response = self.client.execute(request).await?;
        let mut builder = Response::builder().status(response.status());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        Ok(builder.body(response.bytes().await?)?)
    }
}

use crate::error::BoxError;

fn header_pairs(
    config: &OtlpConfig,
) -> Result<Vec<(http::HeaderName, http::HeaderValue)>, BoxError> {
    config
        .headers
        .value
        .iter()
        .map(|(k, v)| {
            Ok((
                http::HeaderName::from_bytes(k.as_bytes())?,
                http::HeaderValue::from_str(v.expose())
                    .map_err(|_| format!("the value of header `{k}` is not valid"))?,
            ))
        })
        .collect()
}

fn build_exporter(config: &OtlpConfig) -> Result<opentelemetry_otlp::SpanExporter, BoxError> {
    let headers = header_pairs(config)?;
    match config.protocol.value {
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let client = reqwest::Client::builder()
                .timeout(config.timeout.value)
                .no_proxy()
                .build()?;
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(if config.protocol.value == Protocol::HttpJson {
                    opentelemetry_otlp::Protocol::HttpJson
                } else {
                    opentelemetry_otlp::Protocol::HttpBinary
                })
                .with_endpoint(config.endpoint.value.clone())
                .with_timeout(config.timeout.value)
                .with_http_client(HttpSender { client, headers });
            if config.gzip.value {
                builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
            }
            Ok(builder.build()?)
        }
        Protocol::Grpc => {
            let mut metadata = tonic::metadata::MetadataMap::new();
            for (k, v) in &headers {
                let key = tonic::metadata::MetadataKey::from_bytes(k.as_str().as_bytes())?;
                let value = tonic::metadata::MetadataValue::try_from(v.as_bytes())?;
                metadata.insert(key, value);
            }
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(config.endpoint.value.clone())
                .with_timeout(config.timeout.value)
                // Exactly our metadata: the crate merged the process's OTEL_EXPORTER_OTLP_HEADERS.
                .with_interceptor(move |mut req: tonic::Request<()>| {
                    *req.metadata_mut() = metadata.clone();
                    Ok(req)
                });
            if config.gzip.value {
                builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
            }
            Ok(builder.build()?)
        }
    }
}

pub(super) fn factory(grpc_class: bool) -> Factory {
    Factory::Exporter(Arc::new(move |args| {
        let config = configure(args, grpc_class)?;
        let header_names: Vec<&str> = config
            .headers
            .value
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        let headers_shown = if header_names.is_empty() {
            "none".to_string()
        } else {
            format!("{} (values redacted)", header_names.join(", "))
        };
        let component = ExporterComponent::processor({
            let config = config.clone();
            move |cx| -> Result<ThreadProcessor, BoxError> {
                // `simple`: each span is sent as it ends, one a request, from the export
                // thread (whose runtime the HTTP and gRPC clients need), never the app's.
                let batching = if cx.simple() {
                    ThreadConfig {
                        max_batch_size: 1,
                        ..ThreadConfig::default()
                    }
                } else {
                    cx.batching(ThreadConfig::default())
                };
                ThreadProcessor::spawn_built(
                    "otlp",
                    || build_exporter(&config),
                    batching,
                    cx.export_counters(),
                    Hooks::default(),
                )
            }
        })
        .with_detail(
            "otlp endpoint",
            config.endpoint.value.clone(),
            config.endpoint.origin.clone(),
        )
        .with_detail(
            "otlp protocol",
            config.protocol.value.name(),
            config.protocol.origin.clone(),
        )
        .with_detail("otlp headers", headers_shown, config.headers.origin.clone())
        .with_detail(
            "otlp timeout",
            format!("{:?}", config.timeout.value),
            config.timeout.origin.clone(),
        )
        .with_detail(
            "otlp compression",
            if config.gzip.value { "gzip" } else { "none" },
            config.gzip.origin.clone(),
        );
        Ok(component)
    }))
}
