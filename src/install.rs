//! Validate everything, then install: the global tracer provider, the global propagator and
//! the settings the middleware reads. The [`Telemetry`] guard flushes and shuts down on drop.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use opentelemetry::trace::noop::{NoopSpan, NoopTracer, NoopTracerProvider};
use opentelemetry::trace::{SpanBuilder, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope, global};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};

use crate::error::{Error, ErrorKind, Problem};
use crate::exclude::{HostExcludeList, PathExcludeList};
use crate::live::{Live, LiveCell, LiveIds, LiveSampler};
use crate::registry::BuildContext;
pub use crate::reload::ReloadStatus;
use crate::reload::{Poller, Reloader};
use crate::report::StartupReport;
use crate::resolve::{Resolved, resolve};
use crate::settings::{Settings, SettingsLoader};
use crate::stats::{ExportCounters, ExportStats, count_late};
use arc_swap::ArcSwap;

/// What the middleware reads from the installed settings.
#[derive(Debug)]
#[non_exhaustive]
pub struct Installed {
    /// `EXCLUDELIST_PATHS`, compiled.
    pub exclude_paths: PathExcludeList,
    /// `EXCLUDELIST_HOSTNAMES`, compiled.
    pub exclude_hostnames: HostExcludeList,
    /// The configured sampler's rate, when it has one.
    pub sample_rate: Option<f64>,
    /// Whether `OTEL_SDK_DISABLED=true` is in effect.
    pub disabled: bool,
    /// The configured propagator (also installed as the global one).
    pub propagator: Arc<dyn opentelemetry::propagation::TextMapPropagator + Send + Sync>,
    /// The installed SDK provider (`None` when disabled).
    pub tracer_provider: Option<SdkTracerProvider>,
    /// What a reload may change (sampler, rules, exclusion lists): what requests read.
    #[cfg_attr(
        not(any(feature = "axum", feature = "actix", feature = "reqwest")),
        allow(dead_code)
    )]
    pub(crate) live: LiveCell,
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static CURRENT: RwLock<Option<Arc<Installed>>> = RwLock::new(None);

/// The settings installed by [`init_from_settings`] / [`init_with`], while the guard lives.
pub fn installed() -> Option<Arc<Installed>> {
    CURRENT.read().ok().and_then(|g| g.clone())
}
/// Loads the settings (file + environment, see [`Settings::load`]), validates every value,
/// and only then installs the global tracer provider, the global propagator and the exclusion
/// lists the middleware reads.
///
/// ```no_run
/// fn main() -> Result<(), opencensus_settings::Error> {
///     let _telemetry = opencensus_settings::init_from_settings()?; // flushes on drop
///     // ... run the app ...
///     Ok(())
/// }
/// ```
///
/// # Errors
/// Every problem of the settings together; [`ErrorKind::AlreadyInstalled`] while another guard
/// is alive; [`ErrorKind::Install`] when an exporter cannot be built (a file that cannot be
/// opened). Nothing global is touched when it fails.
pub fn init_from_settings() -> Result<Telemetry, Error> {
    let (settings, mut problems) = SettingsLoader::new().load_collecting();
    match resolve(&settings) {
        Ok(resolved) if problems.is_empty() => install(settings, resolved),
        Ok(_) => Err(Error::from_problems(problems)),
        Err((more, _)) => {
            problems.extend(more);
            Err(Error::from_problems(problems))
        }
    }
}

/// Installs settings built in code (the Flask-style set-up) or loaded with a custom
/// [`SettingsLoader`] / registry. Same validation and guarantees as [`init_from_settings`].
///
/// ```no_run
/// use opencensus_settings::{Settings, init_with};
/// let _telemetry = init_with(
///     Settings::default()
///         .with_sampler("opencensus.trace.samplers.AlwaysOnSampler()")
///         .with_exporter("opencensus.trace.print_exporter.PrintExporter()"),
/// )?;
/// # Ok::<(), opencensus_settings::Error>(())
/// ```
///
/// # Errors
/// As [`init_from_settings`].
pub fn init_with(settings: Settings) -> Result<Telemetry, Error> {
    match resolve(&settings) {
        Ok(resolved) => install(settings, resolved),
        Err((problems, _)) => Err(Error::from_problems(problems)),
    }
}

/// Builds everything [`init_with`] builds (tracer provider, exporter, export thread) without
/// touching any global: for tests, and for several providers in one process. Give the provider
/// to the middleware with `OpencensusLayer::new().with_tracer_provider(...)`. Dropping the guard
/// flushes and shuts down, as for [`init_with`].
///
/// # Errors
/// As [`init_with`] (never [`ErrorKind::AlreadyInstalled`]).
pub fn build(settings: Settings) -> Result<Telemetry, Error> {
    match resolve(&settings) {
        Ok(resolved) => construct(settings, resolved, false),
        Err((problems, _)) => Err(Error::from_problems(problems)),
    }
}

fn install(settings: Settings, resolved: Resolved) -> Result<Telemetry, Error> {
    construct(settings, resolved, true)
}

fn construct(settings: Settings, resolved: Resolved, global: bool) -> Result<Telemetry, Error> {
    if global
        && INSTALLED
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    {
        return Err(Problem::new(
            ErrorKind::AlreadyInstalled,
            "opencensus-settings is already installed: a Telemetry guard is alive",
        )
        .help("drop the first guard before installing again; install once, at start-up")
        .into());
    }
    let disabled = settings.sdk_disabled();
    let sample_rate = resolved.sampler.rate;
    // The rules match what a span starts with: the middleware then gives it its attributes
    // before the sampler decides.
    let attributes_at_start = !resolved.rules.is_empty();
    let export_counters = Arc::new(ExportCounters::default());
    let per_span_rate = resolved.exporter.per_span_rate;
    let live: LiveCell = Arc::new(ArcSwap::from_pointee(Live {
        sampler: crate::resolve::compose_sampler(
            resolved.sampler,
            resolved.rules,
            resolved.rules_inherit,
            per_span_rate,
            false,
        ),
        exclude_paths: resolved.exclude_paths.clone(),
        exclude_hostnames: resolved.exclude_hostnames.clone(),
        attributes_at_start,
    }));
    let reloader = Arc::new(Reloader::new(settings.clone(), live.clone(), per_span_rate));
    let every = settings.reload_interval().value;
    let poller = if settings.file().is_some() && !every.is_zero() {
        Poller::start(reloader.clone(), every)
    } else {
        None
    };
    let provider = if disabled {
        None
    } else {
        let cx = BuildContext {
            environment: settings.environment(),
            sample_rate,
            counters: export_counters.clone(),
            processing: settings.processing.as_ref().map(|p| p.value),
        };
        let processor = match resolved.exporter.build(&cx) {
            Ok(p) => p,
            Err(err) => {
                if global {
                    INSTALLED.store(false, Ordering::SeqCst);
                }
                let p = Problem::new(
                    ErrorKind::Install,
                    format!("cannot build the exporter: {err}"),
                )
                .key("EXPORTER")
                .at(settings.exporter().origin.clone())
                .caused_by_boxed(err);
                return Err(p.into());
            }
        };
        let counting = Arc::new(Counting::default());
        Some((
            SdkTracerProvider::builder()
                .with_span_limits(
                    settings
                        .span_limits
                        .as_ref()
                        .map(|l| l.value)
                        .unwrap_or_default(),
                )
                .with_sampler(LiveSampler(live.clone()))
                .with_id_generator(LiveIds::default())
                .with_resource(resolved.resource)
                .with_span_processor(CountingProcessor {
                    inner: processor,
                    counts: counting.clone(),
                })
                .build(),
            counting,
        ))
    };

    let propagator: Arc<dyn opentelemetry::propagation::TextMapPropagator + Send + Sync> =
        Arc::from(resolved.propagator);
    let installed = Arc::new(Installed {
        exclude_paths: resolved.exclude_paths,
        exclude_hostnames: resolved.exclude_hostnames,
        sample_rate,
        disabled,
        propagator: propagator.clone(),
        tracer_provider: provider.as_ref().map(|(p, _)| p.clone()),
        live,
    });
    let report = resolved.report;
    if global {
        global::set_text_map_propagator(PropagatorHandle(propagator));
        set_global(match &provider {
            Some((p, _)) => GlobalState::Sdk(p.clone()),
            None => GlobalState::Disabled,
        });
        if let Ok(mut current) = CURRENT.write() {
            *current = Some(installed.clone());
        }
        tracing::info!(target: "opencensus_settings", "opencensus-settings installed\n{report}");
    }
    let (provider, counts) = match provider {
        Some((p, c)) => (Some(p), Some(c)),
        None => (None, None),
    };
    Ok(Telemetry {
        provider,
        counts,
        settings,
        report,
        grace: Duration::from_secs(5),
        done: false,
        export_counters,
        global,
        installed,
        reloader,
        poller,
    })
}

/// The installed tracing. Keep it alive for the life of the app: dropping it flushes what is
/// pending (within a grace period, 5 s by default) and shuts the exporter down.
#[must_use = "dropping the Telemetry guard shuts tracing down at once: bind it with `let _telemetry = ...`"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    counts: Option<Arc<Counting>>,
    settings: Settings,
    report: StartupReport,
    grace: Duration,
    done: bool,
    export_counters: Arc<ExportCounters>,
    global: bool,
    installed: Arc<Installed>,
    reloader: Arc<Reloader>,
    poller: Option<Poller>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("settings", &self.settings)
            .field("disabled", &self.provider.is_none())
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// The start-up report: the file used, each component and its origin, secrets redacted.
    pub fn report(&self) -> &StartupReport {
        &self.report
    }

    /// What the export thread did with the spans so far (exporters that batch in the
    /// background, such as `AzureExporter`, report here).
    pub fn export_stats(&self) -> ExportStats {
        self.export_counters.snapshot()
    }

    /// The effective settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What the middleware reads: exclusion lists, propagator, provider.
    pub fn installed(&self) -> &Arc<Installed> {
        &self.installed
    }

    /// The installed SDK tracer provider (`None` when `OTEL_SDK_DISABLED=true`).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// A `tracing` layer that turns `tracing` spans into OpenTelemetry spans of the installed
    /// provider, so `tracing` spans inside a handler become children of the request span
    /// (feature `tracing`). `None` when `OTEL_SDK_DISABLED=true`; an `Option` of a layer is a
    /// layer, so `registry().with(telemetry.tracing_layer())` works either way.
    #[cfg(feature = "tracing")]
    pub fn tracing_layer<S>(
        &self,
    ) -> Option<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        use opentelemetry::trace::TracerProvider as _;
        self.provider
            .as_ref()
            .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("tracing")))
    }

    /// Reads the settings file again now, as `RELOAD_INTERVAL` does: a valid change to
    /// `SAMPLER`, `SAMPLING_RULES`, `EXCLUDELIST_PATHS` or `EXCLUDELIST_HOSTNAMES` applies to
    /// new requests at once; an invalid file keeps the running settings. Call it from your own
    /// SIGHUP handler or admin endpoint (the library installs no signal handler).
    pub fn reload(&self) -> ReloadStatus {
        self.reloader.reload()
    }

    /// What the last reload (polled or asked for) did.
    pub fn reload_status(&self) -> ReloadStatus {
        self.reloader.status()
    }

    /// Sets how long dropping the guard may wait for pending telemetry (default 5 s).
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Exports everything ended so far, now.
    ///
    /// # Errors
    /// When the exporter reports a failure.
    pub fn force_flush(&self) -> Result<(), Error> {
        match &self.provider {
            Some(p) => p.force_flush().map_err(|e| {
                Problem::new(ErrorKind::Install, format!("flush failed: {e}"))
                    .caused_by(e)
                    .into()
            }),
            None => Ok(()),
        }
    }

    /// Flushes and shuts down now (what dropping the guard does), and returns the final
    /// counts: what was delivered, stored for later, or dropped and why.
    pub fn shutdown(mut self) -> ExportStats {
        self.shutdown_inner();
        self.export_counters.snapshot()
    }

    fn shutdown_inner(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        // No reload after this point.
        self.poller.take();
        if let Some(provider) = self.provider.take() {
            if self.global {
                // Spans started after this point go to a provider that counts them.
                set_global(GlobalState::Late);
            }
            if let Err(err) = provider.shutdown_with_timeout(self.grace) {
                crate::diag::warn(format_args!("tracing shutdown: {err}"));
            }
            let stats = self.export_counters.snapshot();
            if stats.in_flight > 0 {
                crate::diag::warn(format_args!(
                    "{} spans were still being exported when the shutdown grace period ({:?}) ended; they are lost",
                    stats.in_flight, self.grace
                ));
            }
            if stats.failed > 0 || stats.dropped() > 0 {
                let mut causes = Vec::new();
                for (name, n) in [
                    ("queue_full", stats.dropped_queue_full),
                    ("invalid", stats.dropped_invalid),
                    ("quota", stats.dropped_quota),
                    ("storage_full", stats.dropped_storage_full),
                    ("no_storage", stats.dropped_no_storage),
                    ("expired", stats.dropped_expired),
                    ("panic", stats.dropped_panic),
                ] {
                    if n > 0 {
                        causes.push(format!("{name}={n}"));
                    }
                }
                let last = self
                    .export_counters
                    .last_error()
                    .map_or_else(String::new, |e| format!("; last error: {e}"));
                crate::diag::warn(format_args!(
                    "telemetry was lost: {} items dropped ({}), {} spans failed to export; {} delivered, {} stored{last}",
                    stats.dropped(),
                    if causes.is_empty() {
                        "none".to_string()
                    } else {
                        causes.join(", ")
                    },
                    stats.failed,
                    stats.delivered,
                    stats.stored,
                ));
            } else if stats.stored > stats.resent {
                tracing::info!(
                    target: "opencensus_settings",
                    "{} telemetry items wait in local storage; the next process with the same key sends them",
                    stats.stored - stats.resent
                );
            }
            if let Some(counts) = &self.counts {
                let open = counts
                    .started
                    .load(Ordering::Relaxed)
                    .saturating_sub(counts.ended.load(Ordering::Relaxed));
                if open > 0 {
                    count_late(open);
                }
            }
        } else if self.global {
            set_global(GlobalState::Late);
        }
        if self.global {
            crate::stats::note_shutdown();
            if let Ok(mut current) = CURRENT.write() {
                *current = None;
            }
            INSTALLED.store(false, Ordering::SeqCst);
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown_inner();
    }
}

#[derive(Debug, Default)]
struct Counting {
    started: AtomicU64,
    ended: AtomicU64,
}

/// Counts spans in and out of the exporter's processor, so spans still open at shutdown are
/// counted rather than silently lost.
#[derive(Debug)]
struct CountingProcessor {
    inner: Box<dyn SpanProcessor>,
    counts: Arc<Counting>,
}

impl SpanProcessor for CountingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.counts.started.fetch_add(1, Ordering::Relaxed);
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.counts.ended.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// The global propagator: a shared handle so the middleware can use the same one.
#[derive(Debug, Clone)]
struct PropagatorHandle(Arc<dyn opentelemetry::propagation::TextMapPropagator + Send + Sync>);

impl opentelemetry::propagation::TextMapPropagator for PropagatorHandle {
    fn inject_context(
        &self,
        cx: &Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(
        &self,
        cx: &Context,
        extractor: &dyn opentelemetry::propagation::Extractor,
    ) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        self.0.fields()
    }
}

/// What the global tracer provider hands out.
#[derive(Debug, Clone)]
enum GlobalState {
    Sdk(SdkTracerProvider),
    /// `OTEL_SDK_DISABLED=true`.
    Disabled,
    /// After shutdown: spans are counted, not recorded.
    Late,
}

static GLOBAL: RwLock<Option<GlobalState>> = RwLock::new(None);

/// Makes `state` what the global tracer provider hands out. OpenTelemetry's global provider
/// is set once per process, to a [`GlobalProvider`] that reads [`GLOBAL`]; later installs and
/// shutdowns only swap the state (each `set_tracer_provider` logs "Global tracer provider is
/// set", which at shutdown said the opposite of what happened).
fn set_global(state: GlobalState) {
    // An install (re)claims the global provider, in case the app set one of its own since;
    // a shutdown only swaps the state behind it.
    let installing = !matches!(state, GlobalState::Late);
    let first = match GLOBAL.write() {
        Ok(mut g) => g.replace(state).is_none(),
        Err(_) => return,
    };
    if first || installing {
        global::set_tracer_provider(GlobalProvider);
    }
}

/// The process's global tracer provider: the installed one, or what stands in for it.
#[derive(Debug, Clone, Copy)]
struct GlobalProvider;

impl TracerProvider for GlobalProvider {
    type Tracer = global::BoxedTracer;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Self::Tracer {
        let state = GLOBAL.read().ok().and_then(|g| g.clone());
        match state {
            Some(GlobalState::Sdk(p)) => {
                global::BoxedTracer::new(Box::new(p.tracer_with_scope(scope)))
            }
            Some(GlobalState::Disabled) | None => global::BoxedTracer::new(Box::new(
                NoopTracerProvider::new().tracer_with_scope(scope),
            )),
            Some(GlobalState::Late) => global::BoxedTracer::new(Box::new(LateTracer)),
        }
    }
}

/// The global tracer after shutdown: records nothing, counts what it is asked to record.
#[derive(Debug, Clone, Copy)]
struct LateTracer;

impl Tracer for LateTracer {
    type Span = NoopSpan;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        if !parent_cx.is_telemetry_suppressed() {
            count_late(1);
        }
        NoopTracer::new().build_with_context(builder, parent_cx)
    }
}
