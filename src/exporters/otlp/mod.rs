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
#[cfg(not(feature = "otlp"))]
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "otlp")]
mod build;

use crate::origin::Origin;
#[cfg(not(feature = "otlp"))]
use crate::registry::ComponentKind;
use crate::registry::{ArgError, Args, Factory, Param, Registry};
use crate::secret::Secret;

pub(crate) const HTTP_NAME: &str =
    "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter";
pub(crate) const GRPC_NAME: &str =
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

impl Protocol {
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
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
        "http/json" => Some(Protocol::HttpJson),
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
                    Some(v) => {
                        args.invalid("protocol", "'http/protobuf', 'http/json' or 'grpc'", &v)
                    }
                    None => {
                        ArgError::invalid("protocol must be 'http/protobuf', 'http/json' or 'grpc'")
                    }
                });
            };
            if grpc_class && proto != Protocol::Grpc {
                let span = args
                    .get("protocol")
                    .map(|v| v.span.clone())
                    .unwrap_or(args.call_span());
                return Err(ArgError::invalid(
                    "the gRPC exporter class (opentelemetry.exporter.otlp.proto.grpc...) cannot use an http protocol",
                )
                .at(span)
                .with_help(format!("use {HTTP_NAME} for http/protobuf and http/json")));
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
                        format!("{var} must be grpc, http/protobuf or http/json, found `{v}`"),
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
                        Protocol::HttpProtobuf | Protocol::HttpJson => format!("{base}/v1/traces"),
                        Protocol::Grpc => base.to_string(),
                    };
                    From {
                        value,
                        origin: Origin::env(var).to_string(),
                    }
                }
                None => From {
                    value: match protocol.value {
                        Protocol::HttpProtobuf | Protocol::HttpJson => {
                            "http://localhost:4318/v1/traces".into()
                        }
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
        if !is_header_name(k) {
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

/// An HTTP header name (RFC 9110 token), as `http::HeaderName` accepts one.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn params() -> Vec<Param> {
    vec![
        Param::new("endpoint"),
        Param::new("protocol"),
        Param::secret("headers"),
        Param::new("timeout"),
        Param::new("compression"),
    ]
}

/// Registers both OTLP exporters: built by `build` with the `otlp` feature; without it, known
/// (their arguments validated the same way, for `check`) but not installable.
pub(crate) fn register(r: &mut Registry) {
    for (name, grpc_class) in [(HTTP_NAME, false), (GRPC_NAME, true)] {
        r.add_builtin_params(name, params(), factory(grpc_class));
    }
}

#[cfg(feature = "otlp")]
fn factory(grpc_class: bool) -> Factory {
    build::factory(grpc_class)
}

#[cfg(not(feature = "otlp"))]
fn factory(grpc_class: bool) -> Factory {
    Factory::Unavailable {
        kind: ComponentKind::Exporter,
        feature: "otlp",
        validate: Arc::new(move |args| configure(args, grpc_class).map(|_| ())),
    }
}
