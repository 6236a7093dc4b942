//! The standard OpenTelemetry / Application Insights variables. They sit between the defaults
//! and the settings file; an invalid one is an error only while it is in effect.

use super::keys::Key;
use crate::builtins::{COMPOSITE, SAMPLING};
use crate::environment::EnvVar;
use crate::environment::parse_key_values;
use crate::error::{ErrorKind, Problem};
use crate::origin::Origin;
use crate::origin::Setting;
use crate::secret::Secret;

/// A standard variable translated into a settings value (or the problem with it).
#[derive(Debug, Clone)]
pub(crate) struct StandardEntry {
    pub(crate) key: Key,
    /// The spec string it stands for, when valid.
    pub(crate) spec: Result<String, Problem>,
    /// The variable (the one named in errors).
    pub(crate) origin: Origin,
    /// The variables and values, for display: `OTEL_TRACES_SAMPLER=traceidratio`.
    pub(crate) shown: String,
}

#[derive(Debug, Default)]
pub(crate) struct Standard {
    pub(crate) entries: Vec<StandardEntry>,
    pub(crate) service_name: Option<Setting<String>>,
    pub(crate) resource_attributes: Vec<Setting<(String, opentelemetry::Value)>>,
    pub(crate) sdk_disabled: Option<Setting<bool>>,
    pub(crate) connection_string: Option<Setting<Secret>>,
    pub(crate) instrumentation_key: Option<Setting<Secret>>,
    pub(crate) problems: Vec<Problem>,
}

/// The value of a standard variable; empty means unset. Names are exact (upper-case).
fn get<'a>(vars: &'a [EnvVar], name: &str, problems: &mut Vec<Problem>) -> Option<&'a str> {
    let var = vars.iter().rev().find(|v| v.name == name)?;
    match &var.value {
        Ok(v) if v.trim().is_empty() => None,
        Ok(v) => Some(v.as_str()),
        Err(()) => {
            problems.push(
                Problem::new(
                    ErrorKind::InvalidEnvironment,
                    format!("environment variable {name} is not valid UTF-8"),
                )
                .at(Origin::env(name)),
            );
            None
        }
    }
}

pub(crate) fn read(vars: &[EnvVar]) -> Standard {
    let mut out = Standard::default();
    let problems = &mut out.problems;

    if let Some(sampler) = get(vars, "OTEL_TRACES_SAMPLER", problems) {
        let arg = get(vars, "OTEL_TRACES_SAMPLER_ARG", problems);
        let mut shown = format!("OTEL_TRACES_SAMPLER={sampler}");
        if let Some(arg) = arg {
            shown.push_str(&format!(", OTEL_TRACES_SAMPLER_ARG={arg}"));
        }
        out.entries.push(StandardEntry {
            key: Key::Sampler,
            spec: sampler_spec(sampler.trim(), arg.map(str::trim)),
            origin: Origin::env("OTEL_TRACES_SAMPLER"),
            shown,
        });
    }

    if let Some(exporter) = get(vars, "OTEL_TRACES_EXPORTER", problems) {
        out.entries.push(StandardEntry {
            key: Key::Exporter,
            spec: exporter_spec(exporter),
            origin: Origin::env("OTEL_TRACES_EXPORTER"),
            shown: format!("OTEL_TRACES_EXPORTER={exporter}"),
        });
    }

    if let Some(propagators) = get(vars, "OTEL_PROPAGATORS", problems) {
        out.entries.push(StandardEntry {
            key: Key::Propagator,
            spec: propagator_spec(propagators),
            origin: Origin::env("OTEL_PROPAGATORS"),
            shown: format!("OTEL_PROPAGATORS={propagators}"),
        });
    }

    if let Some(name) = get(vars, "OTEL_SERVICE_NAME", problems) {
        out.service_name = Some(Setting {
            value: name.to_string(),
            origin: Origin::env("OTEL_SERVICE_NAME"),
        });
    }

    if let Some(attrs) = get(vars, "OTEL_RESOURCE_ATTRIBUTES", problems) {
        match parse_key_values(attrs, "OTEL_RESOURCE_ATTRIBUTES") {
            Ok(list) => {
                out.resource_attributes = list
                    .into_iter()
                    .map(|(k, v)| Setting {
                        value: (k, opentelemetry::Value::from(v)),
                        origin: Origin::env("OTEL_RESOURCE_ATTRIBUTES"),
                    })
                    .collect()
            }
            Err(message) => problems.push(
                Problem::new(ErrorKind::InvalidEnvironment, message)
                    .at(Origin::env("OTEL_RESOURCE_ATTRIBUTES"))
                    .help("expected comma-separated key=value pairs, values percent-encoded, e.g. deployment.environment=prod,service.version=1.2"),
            ),
        }
    }

    if let Some(disabled) = get(vars, "OTEL_SDK_DISABLED", problems) {
        let value = match disabled.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        match value {
            Some(value) => {
                out.sdk_disabled = Some(Setting {
                    value,
                    origin: Origin::env("OTEL_SDK_DISABLED"),
                })
            }
            None => problems.push(
                Problem::new(
                    ErrorKind::InvalidEnvironment,
                    format!("OTEL_SDK_DISABLED must be true or false, found `{disabled}`"),
                )
                .at(Origin::env("OTEL_SDK_DISABLED"))
                .help("accepted: true, false (any case); empty means unset"),
            ),
        }
    }

    if let Some(cs) = get(vars, "APPLICATIONINSIGHTS_CONNECTION_STRING", problems) {
        out.connection_string = Some(Setting {
            value: Secret::new(cs),
            origin: Origin::env("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        });
    }
    if let Some(key) = get(vars, "APPINSIGHTS_INSTRUMENTATIONKEY", problems) {
        out.instrumentation_key = Some(Setting {
            value: Secret::new(key),
            origin: Origin::env("APPINSIGHTS_INSTRUMENTATIONKEY"),
        });
    }
    out
}

fn sampler_spec(name: &str, arg: Option<&str>) -> Result<String, Problem> {
    let ratio = || -> Result<String, Problem> {
        let Some(arg) = arg else {
            return Ok("1.0".to_string());
        };
        match arg.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(format!("{r:?}")),
            _ => Err(Problem::new(
                ErrorKind::InvalidEnvironment,
                format!(
                    "OTEL_TRACES_SAMPLER_ARG must be a number in 0.0..=1.0 for OTEL_TRACES_SAMPLER={name}, found `{arg}`"
                ),
            )
            .key("SAMPLER")
            .at(Origin::env("OTEL_TRACES_SAMPLER_ARG"))),
        }
    };
    let s = SAMPLING;
    Ok(match name.to_ascii_lowercase().as_str() {
        "always_on" => format!("{s}.ALWAYS_ON"),
        "always_off" => format!("{s}.ALWAYS_OFF"),
        "traceidratio" => format!("{s}.TraceIdRatioBased(rate={})", ratio()?),
        "parentbased_always_on" => format!("{s}.ParentBased(root={s}.ALWAYS_ON)"),
        "parentbased_always_off" => format!("{s}.ParentBased(root={s}.ALWAYS_OFF)"),
        "parentbased_traceidratio" => {
            format!(
                "{s}.ParentBased(root={s}.TraceIdRatioBased(rate={}))",
                ratio()?
            )
        }
        // Microsoft's samplers (SPEC 9), as the Azure Monitor distros name them.
        "microsoft.fixed_percentage" => format!(
            "{}(sampling_ratio={})",
            crate::builtins::AI_SAMPLER,
            ratio()?
        ),
        "microsoft.rate_limited" => {
            let limit = match arg {
                None => "5.0".to_string(),
                Some(a) => match a.parse::<f64>() {
                    Ok(r) if r.is_finite() && r >= 0.0 => format!("{r:?}"),
                    _ => {
                        return Err(Problem::new(
                            ErrorKind::InvalidEnvironment,
                            format!(
                                "OTEL_TRACES_SAMPLER_ARG must be a number of traces per second >= 0 for OTEL_TRACES_SAMPLER={name}, found `{a}`"
                            ),
                        )
                        .key("SAMPLER")
                        .at(Origin::env("OTEL_TRACES_SAMPLER_ARG")));
                    }
                },
            };
            format!(
                "{}(traces_per_second={limit})",
                crate::builtins::RATE_LIMITED_SAMPLER
            )
        }
        "jaeger_remote" | "parentbased_jaeger_remote" | "xray" => {
            return Err(Problem::new(
                ErrorKind::NotAvailable,
                format!("OTEL_TRACES_SAMPLER={name} is not supported by opencensus-settings"),
            )
            .key("SAMPLER")
            .at(Origin::env("OTEL_TRACES_SAMPLER"))
            .help("accepted: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, microsoft.fixed_percentage, microsoft.rate_limited"));
        }
        _ => {
            let accepted = [
                "always_on",
                "always_off",
                "traceidratio",
                "parentbased_always_on",
                "parentbased_always_off",
                "parentbased_traceidratio",
                "microsoft.fixed_percentage",
                "microsoft.rate_limited",
            ];
            let mut p = Problem::new(
                ErrorKind::InvalidEnvironment,
                format!("OTEL_TRACES_SAMPLER has the unknown value `{name}`"),
            )
            .key("SAMPLER")
            .at(Origin::env("OTEL_TRACES_SAMPLER"));
            if let Some(c) = crate::spec::closest(name, accepted.iter().copied()) {
                p = p.help(format!("did you mean `{c}`?"));
            }
            return Err(p.help(format!("accepted: {}", accepted.join(", "))));
        }
    })
}

fn exporter_spec(value: &str) -> Result<String, Problem> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.len() > 1 {
        return Err(Problem::new(
            ErrorKind::NotAvailable,
            format!("OTEL_TRACES_EXPORTER=`{value}` names several exporters; one is supported"),
        )
        .key("EXPORTER")
        .at(Origin::env("OTEL_TRACES_EXPORTER")));
    }
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "otlp" => {
            "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter()".to_string()
        }
        "console" => "opencensus.trace.print_exporter.PrintExporter()".to_string(),
        "none" => "opencensus_settings.exporters.NoExporter()".to_string(),
        other => {
            return Err(Problem::new(
                ErrorKind::InvalidEnvironment,
                format!("OTEL_TRACES_EXPORTER has the unknown value `{other}`"),
            )
            .key("EXPORTER")
            .at(Origin::env("OTEL_TRACES_EXPORTER"))
            .help("accepted: otlp, console, none"));
        }
    })
}

pub(crate) const TRACE_CONTEXT: &str =
    "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()";
pub(crate) const BAGGAGE: &str = "opentelemetry.baggage.propagation.W3CBaggagePropagator()";

/// The spec string of a propagator by its OpenTelemetry name (`OTEL_PROPAGATORS`, and the
/// configuration file's keys; `googlecloud` is ours, for the file only).
pub(crate) fn known_propagator(name: &str) -> Option<&'static str> {
    Some(match name {
        "tracecontext" => TRACE_CONTEXT,
        "baggage" => BAGGAGE,
        "b3" => "opencensus.trace.propagation.b3_format.B3FormatPropagator(inject='single')",
        "b3multi" => "opencensus.trace.propagation.b3_format.B3FormatPropagator(inject='multi')",
        "googlecloud" => {
            "opencensus.trace.propagation.google_cloud_format.GoogleCloudFormatPropagator()"
        }
        _ => return None,
    })
}

fn propagator_spec(value: &str) -> Result<String, Problem> {
    let accepted = ["tracecontext", "baggage", "b3", "b3multi", "none"];
    let mut specs = Vec::new();
    let mut saw_none = false;
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    for item in &items {
        let lower = item.to_ascii_lowercase();
        // `googlecloud` is a name of the configuration file only.
        let known = known_propagator(&lower).filter(|_| lower != "googlecloud");
        let spec = match (known, lower.as_str()) {
            (Some(spec), _) => spec.to_string(),
            (None, "none") => {
                saw_none = true;
                continue;
            }
            (None, other) => {
                let mut p = Problem::new(
                    ErrorKind::InvalidEnvironment,
                    format!("OTEL_PROPAGATORS has the unknown propagator `{other}`"),
                )
                .key("PROPAGATOR")
                .at(Origin::env("OTEL_PROPAGATORS"));
                if let Some(c) = crate::spec::closest(other, accepted.iter().copied()) {
                    p = p.help(format!("did you mean `{c}`?"));
                }
                return Err(p.help(format!(
                    "accepted: a comma-separated list of {}",
                    accepted.join(", ")
                )));
            }
        };
        if !specs.contains(&spec) {
            specs.push(spec);
        }
    }
    if saw_none && !specs.is_empty() {
        return Err(Problem::new(
            ErrorKind::InvalidEnvironment,
            format!("OTEL_PROPAGATORS=`{value}` combines `none` with other propagators"),
        )
        .key("PROPAGATOR")
        .at(Origin::env("OTEL_PROPAGATORS"))
        .help("use `none` alone to disable propagation"));
    }
    Ok(match specs.len() {
        1 => specs.remove(0),
        _ => format!("{COMPOSITE}(propagators=[{}])", specs.join(", ")),
    })
}
