//! `opencensus.ext.azure.trace_exporter.AzureExporter`: Azure Application Insights, fed by our
//! export thread. Envelopes come from our own writer (`envelope/`) for every span and event;
//! a property test holds its output to `opentelemetry-application-insights`'s, field for field.
//!
//! `compression='gzip'|'none'` (ours): gzip at level 1, the default unless the ingestion
//! endpoint is loopback.
//!
//! | span | envelope |
//! |---|---|
//! | SERVER span | `Microsoft.ApplicationInsights.Request`: `name` `"{METHOD} {route}"`, `url` the full URL, `responseCode`, `success` iff 200..=399 |
//! | gRPC SERVER span | `Microsoft.ApplicationInsights.Request`: `name` `{package.Service}/{Method}`, `responseCode` the gRPC status, `success` iff OK |
//! | CLIENT / INTERNAL span | `Microsoft.ApplicationInsights.RemoteDependency` (an HTTP call: `name` `"{METHOD} {path}"`, `resultCode` "0" without a response) |
//! | `exception` event | `Microsoft.ApplicationInsights.Exception` in the same operation |
//! | trace id / parent span id | `ai.operation.id` / `ai.operation.parentId` |
//! | span name | `ai.operation.name` (the method alone when no route matched) |
//! | `service_name=`, else `OTEL_SERVICE_NAME` | `ai.cloud.role` |
//! | host name (unless `service.instance.id` is set) | `ai.cloud.roleInstance` |
//! | sampler rate x 100 | `sampleRate` |

mod connection;
pub(crate) mod credential;
#[cfg(feature = "azure")]
mod delivery;
#[cfg(feature = "entra")]
mod entra;
#[cfg(feature = "azure")]
mod envelope;
#[cfg(feature = "azure")]
mod exporter;
#[cfg(feature = "azure")]
mod storage;

use std::sync::Arc;
use std::time::Duration;

use crate::error::ErrorKind;
#[cfg(feature = "azure")]
use crate::registry::ExporterComponent;
use crate::registry::{ArgError, Args, ComponentKind, Factory, Param, Registry};
use crate::secret::Secret;

pub(crate) use connection::{ConnectionString, is_guid, parse as parse_connection_string};

/// `export_interval=` at most (seconds): a day.
pub(crate) const MAX_EXPORT_INTERVAL: f64 = 86_400.0;
/// `timeout=` at most (seconds): an hour.
pub(crate) const MAX_TIMEOUT: f64 = 3_600.0;

pub(crate) const NAME: &str = "opencensus.ext.azure.trace_exporter.AzureExporter";

/// The variable Azure Functions and App Service set for Entra ID (`Authorization=AAD[;ClientId=...]`).
pub(crate) const AUTHENTICATION_STRING: &str = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

/// The validated keywords of `AzureExporter(...)`.
#[derive(Clone)]
#[cfg_attr(not(feature = "azure"), allow(dead_code))]
pub(crate) struct AzureConfig {
    pub(crate) connection: ConnectionString,
    pub(crate) connection_origin: String,
    pub(crate) service_name: Option<String>,
    pub(crate) export_interval: Duration,
    pub(crate) max_batch_size: usize,
    pub(crate) timeout: Duration,
    pub(crate) enable_local_storage: bool,
    pub(crate) storage_path: Option<String>,
    pub(crate) storage_max_size: u64,
    pub(crate) storage_retention_period: Duration,
    pub(crate) proxies: Vec<(String, Secret)>,
    /// The Entra ID credential (and where it was given), when tokens are sent.
    pub(crate) credential: Option<(credential::Credential, String)>,
    /// The token scope (`AADAudience=` + `/.default`, or Microsoft's default).
    pub(crate) scope: String,
    /// Bodies go out gzip (`compression='gzip'`, the default unless the endpoint is loopback).
    pub(crate) compress: bool,
}

impl std::fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureConfig")
            .field("connection", &self.connection)
            .field("service_name", &self.service_name)
            .field("export_interval", &self.export_interval)
            .field("max_batch_size", &self.max_batch_size)
            .field("timeout", &self.timeout)
            .field("enable_local_storage", &self.enable_local_storage)
            .field("storage_path", &self.storage_path)
            .field("storage_max_size", &self.storage_max_size)
            .field("storage_retention_period", &self.storage_retention_period)
            .field("proxies", &self.proxies)
            .field("credential", &self.credential)
            .field("scope", &self.scope)
            .field("compress", &self.compress)
            .finish()
    }
}

const PARAMS: [&str; 14] = [
    "credential",
    "connection_string",
    "instrumentation_key",
    "service_name",
    "export_interval",
    "max_batch_size",
    "timeout",
    "enable_local_storage",
    "storage_path",
    "storage_max_size",
    "storage_retention_period",
    "proxies",
    "transport",
    "compression",
];

fn connection_error(e: connection::ConnectionError) -> ArgError {
    ArgError::invalid(format!("invalid connection string: {}", e.message))
}

/// Picks the connection string: `connection_string=`, else `instrumentation_key=`, else
/// `APPLICATIONINSIGHTS_CONNECTION_STRING`, else `APPINSIGHTS_INSTRUMENTATIONKEY`.
fn connection(args: &Args<'_>) -> Result<(ConnectionString, String), ArgError> {
    let cs = args.str("connection_string")?;
    let ikey = args.str("instrumentation_key")?;
    if let (Some(_), Some(_)) = (cs, ikey)
        && let Some(v) = args.get("instrumentation_key")
    {
        return Err(ArgError::invalid(
            "give either connection_string= or instrumentation_key= (deprecated), not both",
        )
        .at(v.span.clone()));
    }
    if let Some(cs) = cs {
        let span = args.get("connection_string").map(|v| v.span.clone());
        return parse_connection_string(cs)
            .map(|c| (c, "connection_string= of EXPORTER".to_string()))
            .map_err(|e| {
                let err = connection_error(e);
                match span {
                    Some(span) => err.at(span),
                    None => err,
                }
            });
    }
    if let Some(ikey) = ikey {
        let span = args.get("instrumentation_key").map(|v| v.span.clone());
        if !is_guid(ikey.trim()) {
            let err = ArgError::invalid(
                "instrumentation_key= is not a GUID (expected 8-4-4-4-12 hex digits); its value is not shown",
            );
            return Err(match span {
                Some(span) => err.at(span),
                None => err,
            });
        }
        return Ok((
            ConnectionString {
                instrumentation_key: Secret::new(ikey.trim()),
                ingestion_endpoint: connection::DEFAULT_ENDPOINT.to_string(),
                aad: false,
                aad_audience: None,
            },
            "instrumentation_key= of EXPORTER".to_string(),
        ));
    }
    let environment = args.environment();
    if let Some(cs) = environment.and_then(|e| e.connection_string()) {
        return parse_connection_string(cs.value.expose())
            .map(|c| (c, cs.origin.to_string()))
            .map_err(|e| connection_error(e).from_origin(cs.origin.clone()));
    }
    if let Some(key) = environment.and_then(|e| e.instrumentation_key()) {
        if !is_guid(key.value.expose().trim()) {
            return Err(ArgError::invalid(
                "APPINSIGHTS_INSTRUMENTATIONKEY is not a GUID (expected 8-4-4-4-12 hex digits); its value is not shown",
            )
            .from_origin(key.origin.clone()));
        }
        return Ok((
            ConnectionString {
                instrumentation_key: Secret::new(key.value.expose().trim()),
                ingestion_endpoint: connection::DEFAULT_ENDPOINT.to_string(),
                aad: false,
                aad_audience: None,
            },
            key.origin.to_string(),
        ));
    }
    Err(ArgError::new(
        ErrorKind::InvalidArgument,
        "AzureExporter has no connection string",
    )
    .at(args.call_span())
    .with_help("give connection_string='InstrumentationKey=<GUID>;IngestionEndpoint=https://...' in the spec")
    .with_help("or set the APPLICATIONINSIGHTS_CONNECTION_STRING environment variable")
    .with_help("(or the legacy instrumentation_key= keyword / APPINSIGHTS_INSTRUMENTATIONKEY variable)"))
}

/// A credential given in code (`Settings::with_azure_credential`), with where it was given.
#[cfg(feature = "entra")]
fn code_credential(args: &Args<'_>) -> Option<(credential::Credential, String)> {
    let (_, origin) = args.environment()?.azure_credential.as_ref()?;
    Some((credential::Credential::Code, origin.to_string()))
}

#[cfg(not(feature = "entra"))]
fn code_credential(_args: &Args<'_>) -> Option<(credential::Credential, String)> {
    None
}

fn configure(args: &Args<'_>) -> Result<AzureConfig, ArgError> {
    if let Some(transport) = args.reference("transport", ComponentKind::Transport)?
        && transport == crate::exporters::SYNC_TRANSPORT
        && let Some(v) = args.get("transport")
    {
        return Err(ArgError::invalid(
            "AzureExporter always batches in the background: transport=SyncTransport is not accepted",
        )
        .at(v.span.clone())
        .with_help("remove transport=, or write transport=opencensus.common.transports.async_.AsyncTransport"));
    }
    let (connection, connection_origin) = connection(args)?;
    let credential = match credential::from_args(args)? {
        Some(c) => Some((c, "credential= of EXPORTER".to_string())),
        None => match args
            .environment()
            .and_then(|e| e.var(AUTHENTICATION_STRING))
        {
            Some(v) => Some((
                credential::from_authentication_string(v).map_err(|m| {
                    ArgError::invalid(format!("{AUTHENTICATION_STRING} is not valid: {m}"))
                        .from_origin(crate::origin::Origin::env(AUTHENTICATION_STRING))
                })?,
                crate::origin::Origin::env(AUTHENTICATION_STRING).to_string(),
            )),
            None => code_credential(args),
        },
    };
    if connection.aad && credential.is_none() {
        return Err(ArgError::new(
            ErrorKind::InvalidArgument,
            "the connection string says Authorization=AAD, but no Microsoft Entra ID credential is given",
        )
        .at(args.call_span())
        .with_help("give credential=ManagedIdentityCredential() (or WorkloadIdentityCredential(), ClientSecretCredential(tenant_id=, client_id=, client_secret=), AzureCliCredential()) in the spec")
        .with_help(format!("or set {AUTHENTICATION_STRING}=Authorization=AAD[;ClientId=<GUID>] (a managed identity)")));
    }
    let scope = match &connection.aad_audience {
        Some(audience) => format!("{audience}/.default"),
        None => credential::DEFAULT_SCOPE.to_string(),
    };
    let service_name = match args.str("service_name")? {
        Some(s) if s.trim().is_empty() => {
            let v = args.get("service_name").map(|v| (*v).clone());
            return Err(match v {
                Some(v) => args.invalid("service_name", "a non-empty name", &v),
                None => ArgError::invalid("service_name is empty"),
            });
        }
        other => other.map(str::to_string),
    };
    let export_interval = args.seconds_in("export_interval", 15.0, MAX_EXPORT_INTERVAL)?;
    let max_batch_size = args.u64_in("max_batch_size", 100, 1..=100_000)? as usize;
    let timeout = args.seconds_in("timeout", 10.0, MAX_TIMEOUT)?;
    let enable_local_storage = args.bool("enable_local_storage")?.unwrap_or(true);
    let storage_path = args.str("storage_path")?.map(str::to_string);
    if let (Some(p), Some(v)) = (&storage_path, args.get("storage_path"))
        && p.trim().is_empty()
    {
        return Err(args.invalid("storage_path", "a directory path", v));
    }
    // SPEC 8: an explicit folder that cannot be used is a settings error, seen by `check` (it
    // only looks; nothing is created).
    if enable_local_storage && let (Some(p), Some(v)) = (&storage_path, args.get("storage_path")) {
        let path = std::path::Path::new(p);
        let problem = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Some("a directory that is not a symbolic link"),
            Ok(m) if !m.is_dir() => Some("a directory (this path is a file)"),
            Ok(_) => None,
            Err(_) => {
                let parent = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                match std::fs::metadata(parent) {
                    Ok(m) if m.is_dir() => None,
                    _ => Some("a directory whose parent exists (it is created, owner-only)"),
                }
            }
        };
        if let Some(expected) = problem {
            return Err(args.invalid("storage_path", expected, v));
        }
    }
    let storage_max_size = args.u64_in("storage_max_size", 50 * 1024 * 1024, 0..=u64::MAX >> 1)?;
    let storage_retention_period = Duration::from_secs(args.u64_in(
        "storage_retention_period",
        7 * 24 * 3600,
        0..=u64::MAX >> 32,
    )?);
    let mut proxies = Vec::new();
    if let Some(dict) = args.str_dict("proxies")? {
        for (scheme, url) in dict {
            let lower = scheme.to_ascii_lowercase();
            if lower != "http" && lower != "https" {
                let v = args
                    .get("proxies")
                    .map(|v| v.span.clone())
                    .unwrap_or(args.call_span());
                return Err(ArgError::invalid(format!(
                    "proxies= keys are 'http' or 'https', found '{scheme}'"
                ))
                .at(v));
            }
            if !proxy_url_is_valid(&url) {
                let v = args
                    .get("proxies")
                    .map(|v| v.span.clone())
                    .unwrap_or(args.call_span());
                return Err(ArgError::invalid(format!(
                    "the '{lower}' proxy is not a valid URL (its value is not shown)"
                ))
                .at(v));
            }
            proxies.push((lower, Secret::new(url)));
        }
    }
    let compress = args
        .gzip("compression")?
        .unwrap_or_else(|| !crate::hostport::is_loopback_url(&connection.ingestion_endpoint));
    Ok(AzureConfig {
        credential,
        scope,
        compress,
        connection,
        connection_origin,
        service_name,
        export_interval,
        max_batch_size,
        timeout,
        enable_local_storage,
        storage_path,
        storage_max_size,
        storage_retention_period,
        proxies,
    })
}

#[cfg(feature = "azure")]
fn proxy_url_is_valid(url: &str) -> bool {
    reqwest::Proxy::all(url).is_ok()
}

/// Without reqwest: what it would accept, roughly (a scheme and a host).
#[cfg(not(feature = "azure"))]
fn proxy_url_is_valid(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty())
}

fn params() -> Vec<Param> {
    PARAMS
        .iter()
        .map(|p| match *p {
            "connection_string" | "instrumentation_key" | "proxies" => Param::secret(*p),
            other => Param::new(other),
        })
        .collect()
}

/// Without the `azure` feature: known, its arguments validated for `check`, not installable.
#[cfg(not(feature = "azure"))]
pub(crate) fn register(r: &mut Registry) {
    credential::register(r);
    r.add_builtin_params(
        NAME,
        params(),
        Factory::Unavailable {
            kind: ComponentKind::Exporter,
            feature: "azure",
            validate: Arc::new(|args| configure(args).map(|_| ())),
        },
    );
}

#[cfg(feature = "azure")]
pub(crate) fn register(r: &mut Registry) {
    credential::register(r);
    r.add_builtin_params(
        NAME,
        params(),
        Factory::Exporter(Arc::new(|args| {
            let config = configure(args)?;
            let endpoint = config.connection.ingestion_endpoint.clone();
            let plain_http = endpoint.to_ascii_lowercase().starts_with("http://");
            let mut component = ExporterComponent::processor({
                let config = config.clone();
                move |cx| exporter::build(config, cx)
            })
            .with_detail("ingestion endpoint", format!("{endpoint}/v2/track"), config.connection_origin.clone())
            .with_detail("instrumentation key", "<redacted>", config.connection_origin.clone())
            .with_detail(
                "compression",
                if config.compress { "gzip" } else { "none" },
                if args.get("compression").is_some() {
                    "compression= of EXPORTER"
                } else if config.compress {
                    "default"
                } else {
                    "default (loopback endpoint)"
                },
            );
            if let Some((credential, origin)) = &config.credential {
                component = component
                    .with_detail("credential", credential.describe(), origin.clone())
                    .with_detail("token scope", config.scope.clone(), config.connection_origin.clone());
                if !cfg!(feature = "entra") {
                    component = component.with_detail(
                        "availability",
                        "valid; needs feature `entra` to run",
                        "this build of opencensus-settings",
                    );
                }
            }
            match &config.service_name {
                Some(name) => {
                    component = component.with_detail("ai.cloud.role", name.clone(), "service_name= of EXPORTER");
                }
                // The report adds the line from the resource's service name (what the
                // envelopes will carry), wherever that comes from.
                None => component.role_from_service_name = true,
            }
            if plain_http && !crate::hostport::is_loopback_url(&endpoint) {
                component = component.with_detail(
                    "warning",
                    "the ingestion endpoint is plain http:// and not loopback: telemetry travels unencrypted",
                    config.connection_origin.clone(),
                );
            }
            // sampleRate is per envelope: spans whose parent decided say so (SPEC 12).
            component.per_span_rate = true;
            Ok(component)
        })),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_detection() {
        assert!(crate::hostport::is_loopback_url("http://127.0.0.1:8080"));
        assert!(crate::hostport::is_loopback_url("http://localhost"));
        assert!(crate::hostport::is_loopback_url("http://[::1]:9"));
        assert!(!crate::hostport::is_loopback_url(
            "http://proxy.internal:8080"
        ));
        assert!(!crate::hostport::is_loopback_url("http://10.0.0.1"));
    }
}
