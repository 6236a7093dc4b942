//! # opencensus-settings
//!
//! What OpenCensus Python gave Django, Flask and Pyramid apps, for Rust web services: every
//! incoming request traced, configured declaratively, on OpenTelemetry.
//!
//! 1. Drop an `opencensus.toml` beside the app (or name one in `OPENCENSUS_SETTINGS`):
//!    ```toml
//!    [OPENCENSUS.TRACE]
//!    SAMPLER = "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)"
//!    EXPORTER = "opencensus.trace.print_exporter.PrintExporter()"
//!    EXCLUDELIST_PATHS = ["_ah/health", "/healthz"]
//!    ```
//! 2. Override any value with `OPENCENSUS__TRACE__<KEY>` variables; the standard
//!    `OTEL_*` variables are honoured below the file.
//! 3. Call [`init_from_settings`] once at start-up and keep the guard:
//!    ```no_run
//!    let _telemetry = opencensus_settings::init_from_settings()?;
//!    # Ok::<(), opencensus_settings::Error>(())
//!    ```
//!
//! Spec strings (`Name(kw=value, ...)`) are parsed by a safe parser (never evaluated) and
//! resolved through a [`Registry`] you can extend with your own samplers, exporters and
//! propagators. Every bad value is an [`Error`] that says what was wrong, where it came from
//! (`file:line` or the variable's real name) and what would be accepted; `opencensus-settings
//! check` prints the same before you deploy.
//!
//! ## Precedence (lowest first)
//! built-in defaults < standard variables (`OTEL_TRACES_SAMPLER`, `OTEL_PROPAGATORS`, ...) <
//! the settings file < `OPENCENSUS__TRACE__*` variables; `OTEL_SDK_DISABLED=true` always wins.
//!
//! ## Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | [`OpencensusLayer`]: the tower layer for axum, hyper and tonic |
//! | `azure` | yes | `AzureExporter`: Azure Application Insights `requests` telemetry |
//! | `otlp` | no | `OTLPSpanExporter`: an OpenTelemetry Collector over OTLP (http/protobuf, gRPC) |
//! | `reqwest` | no | [`client::TracingMiddleware`]: outgoing calls as CLIENT spans, honouring `EXCLUDELIST_HOSTNAMES` |
//! | `actix` | no | [`actix::OpencensusMiddleware`] for actix-web 4 |
//! | `tracing` | no | `tracing` spans in handlers become children of the request span |

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

// The layers, bottom up (docs/architecture.md): leaf types; the registry; the export thread
// and the exporters; the built-in components; the settings; resolve/install/check; the
// middleware. A module imports only from layers below its own.
mod builtins;
mod check;
#[cfg(feature = "reqwest")]
pub mod client;
mod diag;
mod environment;
mod error;
pub mod exclude;
mod export_thread;
mod exporters;
mod hostport;
mod install;
mod live;
#[cfg(any(feature = "axum", feature = "actix"))]
mod middleware;
mod origin;
pub mod propagation;
pub mod registry;
mod reload;
mod report;
mod resolve;
mod samplers;
mod secret;
mod settings;
mod shutdown;
pub mod spec;
mod stats;
#[cfg(any(feature = "axum", feature = "actix", feature = "reqwest"))]
mod tracer;

pub use check::{CheckOutcome, check};
#[cfg(feature = "axum")]
pub use middleware::tower::{OpencensusLayer, OpencensusService, ResponseFuture};
#[cfg(any(feature = "axum", feature = "actix"))]
pub use middleware::{HandlerError, TracedError};

/// The actix-web 4 middleware (feature `actix`).
#[cfg(feature = "actix")]
pub mod actix {
    pub use crate::middleware::actix::{
        ActixResponseFuture, OpencensusActixService, OpencensusMiddleware,
    };
}
pub use environment::Environment;
pub use error::{Error, ErrorKind, Problem};
pub use install::{
    Installed, ReloadStatus, Telemetry, build, init_from_settings, init_with, installed,
};
pub use origin::{Origin, Setting};
pub use registry::Registry;
pub use report::{ReportLine, StartupReport};
pub use samplers::{ApplicationInsightsSampler, RateLimitedSampler, djb2_score};
pub use secret::Secret;
pub use settings::{SamplingRule, Settings, SettingsLoader, Warning};
pub use shutdown::shutdown_signal;
pub use stats::{ExportCounters, ExportStats, spans_after_shutdown};

/// The OpenTelemetry API crate this library is built on (one version across the graph:
/// use this re-export rather than a second dependency).
pub use opentelemetry;
/// The OpenTelemetry SDK crate this library is built on.
pub use opentelemetry_sdk;
/// The Azure SDK for Rust's core and identity crates (feature `entra`), for
/// `Settings::with_azure_credential`.
#[cfg(feature = "entra")]
pub use {azure_core, azure_identity};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
