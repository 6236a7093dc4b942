//! The signal a service stops on: SIGTERM (Kubernetes, systemd, App Service, `docker stop`) or
//! Ctrl-C. Serve with `axum::serve(...).with_graceful_shutdown(shutdown_signal())` and let the
//! guard drop after it: what was recorded before the signal is then delivered (or stored)
//! within the grace period, instead of dying with the process.

/// Resolves when the process receives SIGTERM or Ctrl-C (SIGINT); on other platforms, Ctrl-C.
/// The library installs no handler of its own: this future is the only one, and only while it
/// is awaited. Needs a Tokio runtime with its I/O driver (`#[tokio::main]` has one).
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, app)
///     .with_graceful_shutdown(opencensus_settings::shutdown_signal())
///     .await
/// # }
/// ```
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No way to listen for Ctrl-C: rely on SIGTERM alone.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!(target: "opencensus_settings", "shutdown signal received: stopping, then flushing telemetry");
}
