//! Per-request cost of `OpencensusLayer` around a trivial tower service, without network.
//!
//! Four scenarios side by side in one group: the bare service (`no_layer`), a recorded span
//! (`sampled`: AlwaysOn, an exporter that drops batches behind the simple processor), a
//! sampled-out request (`sampled_out`: AlwaysOff) and an excluded path (`excluded`). Every
//! iteration builds its request the same way (path, `host`, `user-agent`, `traceparent`), so the
//! differences are the layer's. The inner service is always ready and its future completes on
//! the first poll, so requests run on the bench thread with a no-op waker. Three more lines
//! measure requests without an incoming `traceparent` (`sampled_out_no_parent` and
//! `excluded_no_parent` against `no_layer_no_parent`), as the load benchmark sends them. The
//! `reloadable` group is the installed pipeline (`init_with`): the live sampler decides first,
//! `live_sampled_out` and `fixed_sampled_out` drop the same unsampled parent (the installed
//! path and a layer's own provider), and `live_sampled` records one.
//!
//! ```text
//! cargo bench --bench layer -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use opencensus_settings::OpencensusLayer;
use opencensus_settings::propagation::TraceContextPropagator;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use tower::{Layer, Service};

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Drops every batch: the cost measured is the span's, not an exporter's.
#[derive(Debug)]
struct DropExporter;

impl SpanExporter for DropExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

fn provider(sampler: Sampler) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(DropExporter)
        .build()
}

/// The request a server would hand the service (origin-form URI, headers as received).
fn request(path_and_query: &'static str) -> http::Request<()> {
    request_with(path_and_query, true)
}

/// The same request, with or without an incoming `traceparent`.
fn request_with(path_and_query: &'static str, traceparent: bool) -> http::Request<()> {
    let mut builder = http::Request::builder()
        .method(http::Method::GET)
        .uri(path_and_query)
        .header(http::header::HOST, "example.com:8080")
        .header(http::header::USER_AGENT, "bench/1.0");
    if traceparent {
        builder = builder.header("traceparent", TRACEPARENT);
    }
    builder.body(()).expect("a valid request")
}

/// Unsampled parents that `ProbabilitySampler(rate=0.5)` keeps and drops, by their trace ids.
const KEPT: &str = "00-0af7651916cd43dd0000000000000001-b7ad6b7169203331-00";
const DROPPED: &str = "00-0af7651916cd43ddffffffffffffffff-b7ad6b7169203331-00";

/// A request with `traceparent` as given.
fn request_parent(path_and_query: &'static str, traceparent: &str) -> http::Request<()> {
    let mut req = request_with(path_and_query, false);
    req.headers_mut().insert(
        "traceparent",
        http::HeaderValue::from_str(traceparent).expect("a valid header"),
    );
    req
}

/// Polls a future that must complete at once (the inner service never waits).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the trivial service completes on the first poll"),
    }
}

/// One request through `service`: ready, call, poll to completion.
fn serve<S, R>(service: &mut S, req: http::Request<()>) -> Result<R, Infallible>
where
    S: Service<http::Request<()>, Response = R, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => match e {},
        Poll::Pending => unreachable!("the trivial service is always ready"),
    }
    now(service.call(req))
}

fn layer(sampler: Sampler) -> OpencensusLayer {
    OpencensusLayer::new()
        .with_tracer_provider(provider(sampler))
        .with_propagator(TraceContextPropagator)
}

fn bench_layer(c: &mut Criterion) {
    let inner = tower::service_fn(|_req: http::Request<()>| async {
        // An empty `String` body: a real `http_body::Body`, and no allocation.
        Ok::<_, Infallible>(http::Response::new(String::new()))
    });

    let mut bare = inner;
    let mut sampled = layer(Sampler::AlwaysOn).layer(inner);
    let mut sampled_out = layer(Sampler::AlwaysOff).layer(inner);
    let mut excluded = layer(Sampler::AlwaysOn)
        .with_exclude_paths(&["healthz"])
        .expect("a valid exclusion list")
        .layer(inner);

    let mut group = c.benchmark_group("layer");
    group.bench_function("no_layer", |b| {
        b.iter(|| black_box(serve(&mut bare, request(black_box("/users/42?x=1")))));
    });
    group.bench_function("sampled", |b| {
        b.iter(|| black_box(serve(&mut sampled, request(black_box("/users/42?x=1")))));
    });
    group.bench_function("sampled_out", |b| {
        b.iter(|| black_box(serve(&mut sampled_out, request(black_box("/users/42?x=1")))));
    });
    group.bench_function("excluded", |b| {
        b.iter(|| black_box(serve(&mut excluded, request(black_box("/healthz")))));
    });
    // Without an incoming trace context there is nothing to extract.
    group.bench_function("no_layer_no_parent", |b| {
        b.iter(|| black_box(serve(&mut bare, request_with(black_box("/healthz"), false))));
    });
    group.bench_function("sampled_out_no_parent", |b| {
        b.iter(|| {
            black_box(serve(
                &mut sampled_out,
                request_with(black_box("/users/42?x=1"), false),
            ))
        });
    });
    group.bench_function("excluded_no_parent", |b| {
        b.iter(|| {
            black_box(serve(
                &mut excluded,
                request_with(black_box("/healthz"), false),
            ))
        });
    });
    group.finish();
}

/// The reloadable path (SPEC 9): settings installed with `init_with`, so the layer reads the
/// live sampler and exclusion list (one atomic load a request), against the same scenarios
/// with a layer of fixed settings (its own provider and list). The installed layer asks the
/// live sampler itself before the SDK is involved; `live_sampled` is a recorded request on
/// that path.
fn bench_live(c: &mut Criterion) {
    let settings = opencensus_settings::Settings::loader()
        .env([
            // Decides an unsampled parent by its trace id: KEPT is sampled, DROPPED is not.
            ("OPENCENSUS__TRACE__SAMPLER", "ProbabilitySampler(rate=0.5)"),
            (
                "OPENCENSUS__TRACE__EXPORTER",
                "opencensus_settings.exporters.NoExporter()",
            ),
            ("OPENCENSUS__TRACE__EXCLUDELIST_PATHS", "healthz"),
        ])
        .current_dir("/nonexistent")
        .executable_dir(None)
        .load()
        .expect("valid settings");
    let _telemetry = opencensus_settings::init_with(settings).expect("installed");
    let inner = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, Infallible>(http::Response::new(String::new()))
    });
    let mut fixed_out = layer(Sampler::AlwaysOff)
        .with_exclude_paths(&["healthz"])
        .expect("a valid exclusion list")
        .layer(inner);
    let mut live = OpencensusLayer::new()
        .with_propagator(TraceContextPropagator)
        .layer(inner);
    let mut group = c.benchmark_group("reloadable");
    group.bench_function("fixed_sampled_out", |b| {
        b.iter(|| {
            black_box(serve(
                &mut fixed_out,
                request_parent(black_box("/users/42?x=1"), DROPPED),
            ))
        });
    });
    group.bench_function("live_sampled_out", |b| {
        b.iter(|| {
            black_box(serve(
                &mut live,
                request_parent(black_box("/users/42?x=1"), DROPPED),
            ))
        });
    });
    // Recorded through the installed pipeline: the live sampler decides before the SDK builds
    // the span (no exporter: the span's own cost).
    group.bench_function("live_sampled", |b| {
        b.iter(|| {
            black_box(serve(
                &mut live,
                request_parent(black_box("/users/42?x=1"), KEPT),
            ))
        });
    });
    group.bench_function("fixed_excluded", |b| {
        b.iter(|| black_box(serve(&mut fixed_out, request(black_box("/healthz")))));
    });
    group.bench_function("live_excluded", |b| {
        b.iter(|| black_box(serve(&mut live, request(black_box("/healthz")))));
    });
    group.finish();
}

criterion_group!(benches, bench_layer, bench_live);
criterion_main!(benches);
