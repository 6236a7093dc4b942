//! `OTLPSpanExporter(endpoint=..., protocol='http/protobuf', headers={...}, timeout=10,
//! compression=None)`: an OpenTelemetry Collector over OTLP, on `opentelemetry-otlp`, fed by our
//! export thread (its own current-thread runtime, so tonic and the async HTTP client work
//! whatever runtime the app has, and shutting down cannot deadlock it).
//!
//! Semantics pinned here:
//! - `endpoint` is the full URL, used verbatim (default `http://localhost:4318/v1/traces`, gRPC
//!   `http://localhost:4317`); `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is also used verbatim,
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` is a base to which http/protobuf appends `/v1/traces`;
//! - `timeout` is in seconds (the `OTEL_EXPORTER_OTLP_*TIMEOUT` variables are milliseconds);
//! - `compression` defaults to none; `'gzip'` compresses;
//! - `headers=` replaces the variables' headers (the crate would merge the process's
//!   `OTEL_EXPORTER_OTLP_HEADERS` in: our HTTP client and gRPC interceptor send exactly the
//!   resolved set) and is redacted in every output;
//! - the gRPC class path with `protocol='http/protobuf'` is an error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

use crate::export_thread::{Hooks, ThreadConfig, ThreadProcessor};
use crate::origin::Origin;
use crate::registry::{ArgError, Args, ExporterComponent, Factory, Param, Registry};
use crate::secret::Secret;

pub(crate) const HTTP_NAME: &str =
    "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter";
pub(crate) const GRPC_NAME: &str =
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    HttpProtobuf,
    Grpc,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        }
    }
}

/// A resolved value and where it came from, for the report.
#[derive(Clone)]
struct From<T> {
    value: T,
    origin: String,
}

#[derive(Clone)]
struct OtlpConfig {
    protocol: From<Protocol>,
    endpoint: From<String>,
    headers: From<Vec<(String, Secret)>>,
    timeout: From<Duration>,
    gzip: From<bool>,
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpConfig")
            .field("protocol", &self.protocol.value)
            .field("endpoint", &self.endpoint.value)
            .field(
                "headers",
                &self
                    .headers
                    .value
                    .iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout.value)
            .field("gzip", &self.gzip.value)
            .finish()
    }
}

fn env<'a>(args: &'a Args<'_>, names: &[&'static str]) -> Option<(&'a str, &'static str)> {
    let environment = args.environment()?;
    names.iter().find_map(|n| {
        environment
            .var(n)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| (v, *n))
    })
}

fn env_error(var: &str, message: String) -> ArgError {
    ArgError::new(crate::error::ErrorKind::InvalidEnvironment, message)
        .from_origin(Origin::env(var))
}

fn parse_protocol(v: &str) -> Option<Protocol> {
    match v.trim().to_ascii_lowercase().as_str() {
        "grpc" => Some(Protocol::Grpc),
        "http/protobuf" => Some(Protocol::HttpProtobuf),
        _ => None,
    }
}

fn parse_headers(v: &str) -> Option<Vec<(String, Secret)>> {
    let pairs = crate::environment::parse_key_values(v, "OTEL_EXPORTER_OTLP_HEADERS").ok()?;
    Some(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect(),
    )
}

fn configure(args: &Args<'_>, grpc_class: bool) -> Result<OtlpConfig, ArgError> {
    const SPEC: &str = "of EXPORTER";
    // protocol
    let protocol = match args.str("protocol")? {
        Some(p) => {
            let Some(proto) = parse_protocol(p) else {
                let v = args.get("protocol").map(|v| (*v).clone());
                return Err(match v {
                    Some(v) => args.invalid("protocol", "'http/protobuf' or 'grpc'", &v),
                    None => ArgError::invalid("protocol must be 'http/protobuf' or 'grpc'"),
                });
            };
            if grpc_class && proto == Protocol::HttpProtobuf {
                let span = args
                    .get("protocol")
                    .map(|v| v.span.clone())
                    .unwrap_or(args.call_span());
                return Err(ArgError::invalid(
                    "the gRPC exporter class (opentelemetry.exporter.otlp.proto.grpc...) cannot use protocol='http/protobuf'",
                )
                .at(span)
                .with_help(format!("use {HTTP_NAME} for http/protobuf")));
            }
            From {
                value: proto,
                origin: format!("protocol= {SPEC}"),
            }
        }
        None if grpc_class => From {
            value: Protocol::Grpc,
            origin: "the gRPC class path".into(),
        },
        None => match env(
            args,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ],
        ) {
            Some((v, var)) => match parse_protocol(v) {
                Some(p) => From {
                    value: p,
                    origin: Origin::env(var).to_string(),
                },
                None => {
                    return Err(env_error(
                        var,
                        format!(
                            "{var} must be grpc or http/protobuf, found `{v}` (http/json is not supported)"
                        ),
                    ));
                }
            },
            None => From {
                value: Protocol::HttpProtobuf,
                origin: "default".into(),
            },
        },
    };
    // endpoint
    let endpoint = match args.str("endpoint")? {
        Some(e) => From {
            value: e.trim().to_string(),
            origin: format!("endpoint= {SPEC}"),
        },
        None => match env(args, &["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]) {
            Some((v, var)) => From {
                value: v.to_string(),
                origin: Origin::env(var).to_string(),
            },
            None => match env(args, &["OTEL_EXPORTER_OTLP_ENDPOINT"]) {
                Some((v, var)) => {
                    let base = v.trim_end_matches('/');
                    let value = match protocol.value {
                        Protocol::HttpProtobuf => format!("{base}/v1/traces"),
                        Protocol::Grpc => base.to_string(),
                    };
                    From {
                        value,
                        origin: Origin::env(var).to_string(),
                    }
                }
                None => From {
                    value: match protocol.value {
                        Protocol::HttpProtobuf => "http://localhost:4318/v1/traces".into(),
                        Protocol::Grpc => "http://localhost:4317".into(),
                    },
                    origin: "default".into(),
                },
            },
        },
    };
    let lower = endpoint.value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    if rest.is_none_or(|r| r.split('/').next().unwrap_or_default().is_empty()) {
        let message = format!(
            "the OTLP endpoint `{}` is not an http:// or https:// URL",
            endpoint.value
        );
        return Err(match args.get("endpoint") {
            Some(v) => ArgError::invalid(message).at(v.span.clone()),
            None => {
                ArgError::invalid(message).with_help(format!("it came from {}", endpoint.origin))
            }
        });
    }
    // headers: the spec's replace the variables'
    let headers = match args.str_dict("headers")? {
        Some(h) => From {
            value: h.into_iter().map(|(k, v)| (k, Secret::new(v))).collect(),
            origin: format!("headers= {SPEC}"),
        },
        None => match env(
            args,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "OTEL_EXPORTER_OTLP_HEADERS",
            ],
        ) {
            Some((v, var)) => match parse_headers(v) {
                Some(h) => From {
                    value: h,
                    origin: Origin::env(var).to_string(),
                },
                None => {
                    return Err(env_error(
                        var,
                        format!(
                            "{var} must be key=value pairs separated by commas (its value is not shown)"
                        ),
                    ));
                }
            },
            None => From {
                value: Vec::new(),
                origin: "default".into(),
            },
        },
    };
    for (k, _) in &headers.value {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(ArgError::invalid(format!(
                "`{k}` is not a valid header name"
            )));
        }
    }
    // timeout: seconds in the spec, milliseconds in the variables
    let timeout = match args.get("timeout") {
        Some(_) => From {
            value: args.seconds_in("timeout", 10.0, 3_600.0)?,
            origin: format!("timeout= {SPEC}"),
        },
        None => match env(
            args,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ],
        ) {
            Some((v, var)) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 && ms <= 3_600_000 => From {
                    value: Duration::from_millis(ms),
                    origin: Origin::env(var).to_string(),
                },
                _ => {
                    return Err(env_error(
                        var,
                        format!(
                            "{var} must be a positive number of milliseconds, at most 3600000 (an hour), found `{v}`"
                        ),
                    ));
                }
            },
            None => From {
                value: Duration::from_secs(10),
                origin: "default".into(),
            },
        },
    };
    // compression
    let gzip = match args.gzip("compression")? {
        Some(value) => From {
            value,
            origin: format!("compression= {SPEC}"),
        },
        None => match env(
            args,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "OTEL_EXPORTER_OTLP_COMPRESSION",
            ],
        ) {
            Some((v, var)) => match v.to_ascii_lowercase().as_str() {
                "gzip" => From {
                    value: true,
                    origin: Origin::env(var).to_string(),
                },
                "none" => From {
                    value: false,
                    origin: Origin::env(var).to_string(),
                },
                _ => {
                    return Err(env_error(
                        var,
                        format!("{var} must be gzip or none, found `{v}`"),
                    ));
                }
            },
            None => From {
                value: false,
                origin: "default".into(),
            },
        },
    };
    Ok(OtlpConfig {
        protocol,
        endpoint,
        headers,
        timeout,
        gzip,
    })
}

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
        Protocol::HttpProtobuf => {
            let client = reqwest::Client::builder()
                .timeout(config.timeout.value)
                .no_proxy()
                .build()?;
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
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

fn factory(grpc_class: bool) -> Factory {
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
                ThreadProcessor::spawn_built(
                    "otlp",
                    || build_exporter(&config),
                    ThreadConfig::default(),
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

pub(crate) fn register(r: &mut Registry) {
    let params = || {
        vec![
            Param::new("endpoint"),
            Param::new("protocol"),
            Param::secret("headers"),
            Param::new("timeout"),
            Param::new("compression"),
        ]
    };
    r.add_builtin_params(HTTP_NAME, params(), factory(false));
    r.add_builtin_params(GRPC_NAME, params(), factory(true));
}
