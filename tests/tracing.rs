//! `tracing` spans inside a handler become children of the request span (feature `tracing`),
//! and a filter that disables some of them breaks neither the request span nor the linking.
//! Own test binary: it installs a global subscriber.

#![cfg(feature = "tracing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::Router;
use axum::routing::get;
use opencensus_settings::OpencensusLayer;
use opencensus_settings::opentelemetry::trace::TracerProvider as _;
use opencensus_settings::opentelemetry_sdk::trace::{
    InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData,
};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

async fn handler() -> &'static str {
    let outer = tracing::info_span!(target: "app", "load user");
    let _g = outer.enter();
    let noisy = tracing::info_span!(target: "noisy", "cache lookup");
    let _n = noisy.enter();
    let inner = tracing::info_span!(target: "app", "query db");
    let _i = inner.enter();
    "ok"
}

fn wait(exporter: &InMemorySpanExporter, n: usize) -> Vec<SpanData> {
    common::poll_blocking(&format!("{n} spans"), 5, || {
        Some(exporter.get_finished_spans().unwrap()).filter(|s| s.len() >= n)
    })
}

#[tokio::test]
async fn tracing_spans_are_children_of_the_request_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_simple_exporter(exporter.clone())
        .build();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("tracing"))
        .with_filter(filter_fn(|meta| meta.target() != "noisy"));
    tracing_subscriber::registry().with(otel).init();

    let app = Router::new()
        .route("/users/{id}", get(handler))
        .layer(OpencensusLayer::new().with_tracer_provider(provider.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let body = reqwest::get(format!("http://{addr}/users/1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
    let spans = wait(&exporter, 3);
    let by_name = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("no {n}: {spans:#?}"))
    };
    let server = by_name("GET /users/{id}");
    let outer = by_name("load user");
    let inner = by_name("query db");
    assert_eq!(spans.len(), 3, "the filtered span is not exported");
    assert_eq!(outer.parent_span_id, server.span_context.span_id());
    // The disabled span in between does not break the chain: the inner span's parent is outer.
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
    assert_eq!(
        inner.span_context.trace_id(),
        server.span_context.trace_id()
    );
}
