//! The actix-web 4 adapter: [`OpencensusMiddleware`].

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::{Begin, HandlerError, LazyShared, Overrides, RequestSpan, RequestView};

/// actix-web middleware: one OpenTelemetry SERVER span per request, named
/// `"{METHOD} {route}"` from actix's `match_pattern()`, with the behaviour of
/// [`OpencensusLayer`](crate::OpencensusLayer) (exclusion, propagation, errors, panics).
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use opencensus_settings::actix::OpencensusMiddleware;
///
/// # async fn run() -> std::io::Result<()> {
/// let _telemetry = opencensus_settings::init_from_settings().expect("valid settings");
/// HttpServer::new(|| {
///     App::new()
///         .wrap(OpencensusMiddleware::new())
///         .route("/", web::get().to(|| async { "Hello World!" }))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await
/// # }
/// ```
///
/// A handler error (`Result<_, E>` with `E: ResponseError`) is recorded from the error actix
/// attaches to the response.
#[derive(Clone, Debug, Default)]
pub struct OpencensusMiddleware {
    overrides: Overrides,
}

impl OpencensusMiddleware {
    /// Middleware using what `init_from_settings()` / `init_with()` installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this propagator instead of the configured one.
    pub fn with_propagator<P>(mut self, propagator: P) -> Self
    where
        P: TextMapPropagator + Send + Sync + 'static,
    {
        self.overrides.set_propagator(propagator);
        self
    }

    /// Records into this provider instead of the installed one (tests), without global state.
    pub fn with_tracer_provider(mut self, provider: SdkTracerProvider) -> Self {
        self.overrides.provider = Some(provider);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for OpencensusMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = OpencensusActixService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // Each worker's service resolves once, at its first request.
        let shared = LazyShared::new(self.overrides.clone());
        ready(Ok(OpencensusActixService { service, shared }))
    }
}

/// The service made by [`OpencensusMiddleware`].
#[derive(Debug)]
pub struct OpencensusActixService<S> {
    service: S,
    shared: LazyShared,
}

struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

fn version(v: actix_web::http::Version) -> &'static str {
    use actix_web::http::Version;
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "unknown",
    }
}

impl<S, B> Service<ServiceRequest> for OpencensusActixService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = ActixResponseFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if super::in_outer_request() {
            // An outer middleware of ours traces (or excluded) this request already.
            return ActixResponseFuture {
                inner: self.service.call(req).with_current_context(),
                span: None,
            };
        }
        let shared = self.shared.get();
        let pattern = req.match_pattern();
        let headers = req.headers();
        let host = headers
            .get(actix_web::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        let scheme = if req.app_config().secure() {
            "https"
        } else {
            "http"
        };
        let query = req.query_string();
        let view = RequestView {
            method: req.method().as_str(),
            path: req.path(),
            query: (!query.is_empty()).then_some(query),
            scheme,
            host,
            route: pattern.as_deref(),
            peer: req.peer_addr(),
            version: version(req.version()),
            user_agent: headers
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|h| h.to_str().ok()),
            headers: &Headers(headers),
            grpc: false,
        };
        let (cx, span) = match shared.begin(&view) {
            Begin::Excluded(cx) => (cx, None),
            Begin::Traced(traced) => (traced.cx, traced.span),
        };
        let future = {
            let _guard = cx.clone().attach();
            self.service.call(req)
        };
        ActixResponseFuture {
            inner: future.with_context(cx),
            span,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`OpencensusActixService`].
    pub struct ActixResponseFuture<F> {
        #[pin]
        inner: WithContext<F>,
        span: Option<RequestSpan>,
    }
}

impl<F> fmt::Debug for ActixResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActixResponseFuture")
            .finish_non_exhaustive()
    }
}

impl<F, B> Future for ActixResponseFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        super::poll_request(this.inner, this.span, cx, |span, result| match result {
            Ok(response) => {
                let recorded = response
                    .response()
                    .extensions()
                    .get::<HandlerError>()
                    .cloned();
                let error = recorded.or_else(|| response.response().error().map(actix_error));
                span.finish(Some(response.status().as_u16()), error.as_ref());
            }
            Err(error) => {
                // The response actix will send for it says what it is (a TracedError puts
                // its record there); only on the error path.
                let answer = error.error_response();
                let recorded = answer.extensions().get::<HandlerError>().cloned();
                let status = answer.status().as_u16();
                span.finish(
                    Some(status),
                    Some(&recorded.unwrap_or_else(|| actix_error(error))),
                );
            }
        })
    }
}

/// An actix error as recorded: typed by the name its `Debug` starts with (what
/// `#[derive(Debug)]` writes: `DbDown`, `DbDown(..)`, `DbDown { .. }`), so the Failures view
/// keeps errors of different types apart; `actix_web::Error` when `Debug` names no type.
fn actix_error(error: &actix_web::Error) -> HandlerError {
    let debug = format!("{:?}", error.as_response_error());
    HandlerError::new(debug_type_name(&debug), error.to_string())
}

/// The type name a `Debug` text starts with: a path of identifiers whose last segment starts
/// with an uppercase letter, followed by nothing, `(`, ` {` or `<`.
fn debug_type_name(debug: &str) -> String {
    let end = debug
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(debug.len());
    let (name, rest) = debug.split_at(end);
    let last = name.rsplit("::").next().unwrap_or(name);
    let type_like = last.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && !name.starts_with(':')
        && !name.ends_with(':')
        && (rest.is_empty()
            || rest.starts_with('(')
            || rest.starts_with(" {")
            || rest.starts_with('<'));
    if type_like {
        name.to_string()
    } else {
        "actix_web::Error".to_string()
    }
}

/// actix-web: the response is `E`'s own, carrying the error for the middleware to record.
impl<E> actix_web::ResponseError for super::TracedError<E>
where
    E: actix_web::ResponseError + 'static,
{
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = self.0.error_response();
        response.extensions_mut().insert(self.record());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::debug_type_name;

    #[test]
    fn the_type_name_is_read_from_a_derived_debug() {
        for (debug, want) in [
            ("DbDown", "DbDown"),
            ("DbDown(\"x\")", "DbDown"),
            ("DbDown { code: 3 }", "DbDown"),
            ("my_app::DbDown", "my_app::DbDown"),
            ("Json<T>", "Json"),
            ("db down", "actix_web::Error"),
            ("\"text\"", "actix_web::Error"),
            ("", "actix_web::Error"),
            ("Overflow: 3", "actix_web::Error"),
            ("a::", "actix_web::Error"),
        ] {
            assert_eq!(debug_type_name(debug), want, "{debug}");
        }
    }
}
