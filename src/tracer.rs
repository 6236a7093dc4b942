//! What the server middleware and the client middleware share: which tracer records (an
//! override, else the installed provider, else the global one), how a span goes into a context,
//! the standard method names, and the one-time "used before init" warning.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::Context;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanBuilder, TraceContextExt, Tracer};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use std::sync::{Arc, OnceLock};

use opentelemetry::propagation::TextMapPropagator;

use crate::install::{Installed, installed};

/// A shared propagator.
pub(crate) type SharedPropagator = Arc<dyn TextMapPropagator + Send + Sync>;

/// What a middleware (server or client) resolved at its first use: its tracer, its propagator
/// (`None`: the global one) and what is installed (for the exclusion lists).
pub(crate) struct Resolution {
    pub(crate) tracer: AnyTracer,
    pub(crate) propagator: Option<SharedPropagator>,
    pub(crate) installed: Option<Arc<Installed>>,
}

/// A middleware's resolved state, made at its first use. It is kept for good once it was
/// resolved against something installed (or the middleware's own provider); made while
/// nothing is installed (the global, no-op tracer), it is kept only until something is, so a
/// request that arrives before `init_from_settings()` does not leave the middleware on a no-op
/// tracer for ever. After that first resolution, a use costs one atomic load.
#[derive(Debug)]
pub(crate) struct Resolving<T> {
    /// Resolved against what is installed: for good.
    cell: Arc<OnceLock<T>>,
    /// Resolved while nothing is installed.
    fallback: Arc<OnceLock<T>>,
}

impl<T> Clone for Resolving<T> {
    fn clone(&self) -> Self {
        Resolving {
            cell: self.cell.clone(),
            fallback: self.fallback.clone(),
        }
    }
}

impl<T> Default for Resolving<T> {
    fn default() -> Self {
        Resolving {
            cell: Arc::new(OnceLock::new()),
            fallback: Arc::new(OnceLock::new()),
        }
    }
}

impl<T> Resolving<T> {
    /// The state, resolving it with `resolve` when needed; `own_provider`: the middleware was
    /// given a provider of its own, so what is installed does not matter.
    pub(crate) fn get(&self, own_provider: bool, resolve: impl FnOnce() -> T) -> &T {
        if let Some(state) = self.cell.get() {
            return state;
        }
        if own_provider || installed().is_some() {
            self.cell.get_or_init(resolve)
        } else {
            self.fallback.get_or_init(resolve)
        }
    }

    /// Whether it was resolved for good.
    #[cfg(feature = "reqwest")]
    pub(crate) fn is_resolved(&self) -> bool {
        self.cell.get().is_some()
    }
}

/// Resolves a middleware's overrides against what is installed now: the override, else the
/// installed one, else the global one. `who` names the middleware in the one-time warning
/// when nothing is installed and no provider was given.
pub(crate) fn resolve(
    who: &str,
    provider: Option<&SdkTracerProvider>,
    propagator: Option<&SharedPropagator>,
) -> Resolution {
    let installed = installed();
    if installed.is_none() && provider.is_none() {
        warn_not_installed(who);
    }
    Resolution {
        tracer: AnyTracer::resolve(provider, installed.as_deref()),
        propagator: propagator
            .cloned()
            .or_else(|| installed.as_ref().map(|i| i.propagator.clone())),
        installed,
    }
}

const SCOPE: &str = "opencensus_settings";

/// The tracer a middleware records with.
pub(crate) enum AnyTracer {
    /// An SDK tracer: no boxing per span.
    Sdk(SdkTracer),
    /// The global tracer (nothing installed, no override).
    Global(BoxedTracer),
}

impl AnyTracer {
    /// The override, else the installed provider, else the global tracer.
    pub(crate) fn resolve(
        provider: Option<&SdkTracerProvider>,
        installed: Option<&Installed>,
    ) -> Self {
        match provider.or_else(|| installed.and_then(|i| i.tracer_provider.as_ref())) {
            Some(p) => AnyTracer::Sdk(opentelemetry::trace::TracerProvider::tracer(p, SCOPE)),
            None => AnyTracer::Global(opentelemetry::global::tracer(SCOPE)),
        }
    }

    /// Starts a span under `parent`; returns its context and whether it records.
    pub(crate) fn start(&self, builder: SpanBuilder, parent: &Context) -> (Context, bool) {
        match self {
            AnyTracer::Sdk(t) => into_context(parent, t.build_with_context(builder, parent)),
            AnyTracer::Global(t) => into_context(parent, t.build_with_context(builder, parent)),
        }
    }
}

/// Puts a new span into the context. A span that does not record goes in as its span context
/// alone (no boxed span, no mutex): its children still see its trace id and sampled flag.
fn into_context<S>(parent: &Context, span: S) -> (Context, bool)
where
    S: opentelemetry::trace::Span + Send + Sync + 'static,
{
    if span.is_recording() {
        (parent.with_span(span), true)
    } else {
        let sc = span.span_context().clone();
        (parent.with_remote_span_context(sc), false)
    }
}

/// The standard HTTP methods as static names (`None`: record `_OTHER`).
pub(crate) fn known_method(method: &str) -> Option<&'static str> {
    Some(match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => return None,
    })
}

static NOT_INSTALLED_WARNED: AtomicBool = AtomicBool::new(false);

/// Warns once per process that `who` ran with nothing installed: before anything was, or
/// after the guard was dropped.
pub(crate) fn warn_not_installed(who: &str) {
    if !NOT_INSTALLED_WARNED.swap(true, Ordering::Relaxed) {
        if crate::stats::was_shut_down() {
            crate::diag::warn(format_args!(
                "{who} serves requests after the Telemetry guard was dropped, so they are not \
                 traced: `let _ = init_from_settings()?` drops the guard at once; bind it with \
                 `let _telemetry = init_from_settings()?;` and keep it for the life of the app"
            ));
        } else {
            crate::diag::warn(format_args!(
                "{who} ran before init_from_settings()/init_with(): it uses the global OpenTelemetry \
                 tracer and propagator and the default exclusion lists"
            ));
        }
    }
}
