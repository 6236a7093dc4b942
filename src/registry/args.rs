//! Binding a call's arguments to a component's declared parameters, and typed access to them.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::{Component, ComponentKind, Factory, PropagatorComponent, Registry, SamplerComponent};

use crate::environment::Environment;
use crate::error::ErrorKind;
use crate::spec::{Call, Span, Spanned, Value};

/// The longest duration any setting takes, in seconds (ten years): beyond it a duration is a
/// mistake, and `Duration` arithmetic would overflow further on.
pub(crate) const MAX_SECONDS: f64 = 315_360_000.0;

/// A problem with a component or one of its arguments; rendered with a caret under `span`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) span: Option<Span>,
    pub(crate) help: Vec<String>,
    /// Where the bad value came from when it is not the spec string (an environment variable).
    pub(crate) origin: Option<crate::origin::Origin>,
}

impl ArgError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ArgError {
            kind,
            message: message.into(),
            span: None,
            help: Vec::new(),
            origin: None,
        }
    }

    /// Says the bad value came from `origin` (for example an environment variable), not from
    /// the spec string.
    pub fn from_origin(mut self, origin: crate::origin::Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// A component that is known but cannot be used here (for example an unsupported mode).
    pub fn not_available(message: impl Into<String>) -> Self {
        ArgError::new(ErrorKind::NotAvailable, message)
    }

    /// An invalid argument (for components registered by applications).
    pub fn invalid(message: impl Into<String>) -> Self {
        ArgError::new(ErrorKind::InvalidArgument, message)
    }

    /// Adds a line saying what would be accepted.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    /// Points the error at a span of the spec string (if it has none yet).
    pub fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ArgError {}

/// The arguments of one call, bound to the component's parameters (positional ones in declared
/// order; `None` means "the default" and is dropped).
pub struct Args<'a> {
    component: &'a Component,
    call: &'a Call,
    bound: Vec<(usize, &'a Spanned<Value>)>,
    registry: &'a Registry,
    environment: Option<&'a Environment>,
}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("the string {}", Value::Str(s.clone())),
        Value::Int(i) => i.to_string(),
        Value::Float(_) => value.to_string(),
        Value::Bool(b) => format!("{} (a boolean)", if *b { "True" } else { "False" }),
        Value::None => "None".to_string(),
        other => format!("a {} `{other}`", other.type_name()),
    }
}

impl<'a> Args<'a> {
    pub(crate) fn bind(
        registry: &'a Registry,
        component: &'a Component,
        call: &'a Call,
        environment: Option<&'a Environment>,
    ) -> Result<Self, ArgError> {
        let params = &component.params;
        let class = component.class();
        let accepted = || {
            if params.is_empty() {
                format!("`{class}` takes no arguments")
            } else {
                format!(
                    "`{class}` accepts: {}",
                    params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        };
        let mut bound: Vec<(usize, &'a Spanned<Value>)> = Vec::new();
        let mut given: Vec<usize> = Vec::new();
        for (position, arg) in call.args.iter().enumerate() {
            let (index, span) = match &arg.keyword {
                None => {
                    if position >= params.len() {
                        return Err(ArgError::new(
                            ErrorKind::InvalidArgument,
                            format!(
                                "`{class}` takes {} positional argument{}, found {}",
                                params.len(),
                                if params.len() == 1 { "" } else { "s" },
                                call.args.iter().filter(|a| a.keyword.is_none()).count()
                            ),
                        )
                        .at(arg.value.span.clone())
                        .with_help(accepted()));
                    }
                    (position, arg.value.span.clone())
                }
                Some(kw) => {
                    let Some(index) = params.iter().position(|p| p.name == kw.value) else {
                        let mut err = ArgError::new(
                            ErrorKind::InvalidArgument,
                            format!("unknown keyword `{}` for {class}", kw.value),
                        )
                        .at(kw.span.clone());
                        if let Some(close) =
                            crate::spec::closest(&kw.value, params.iter().map(|p| p.name.as_str()))
                        {
                            err = err.with_help(format!("did you mean `{close}`?"));
                        }
                        return Err(err.with_help(accepted()));
                    };
                    (index, kw.span.clone())
                }
            };
            if given.contains(&index) {
                return Err(ArgError::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "`{}` of {class} is given twice (positionally and by keyword)",
                        params[index].name
                    ),
                )
                .at(span));
            }
            given.push(index);
            if !matches!(arg.value.value, Value::None) {
                bound.push((index, &arg.value));
            }
        }
        Ok(Args {
            component,
            call,
            bound,
            registry,
            environment,
        })
    }

    /// The environment of the settings being resolved (their variables, the standard
    /// Application Insights ones), when resolving settings rather than a lone spec.
    pub fn environment(&self) -> Option<&Environment> {
        self.environment
    }

    /// The component's class name (`ProbabilitySampler`).
    pub fn class(&self) -> &str {
        self.component.class()
    }

    /// The component's full name.
    pub fn component_name(&self) -> &str {
        &self.component.name
    }

    /// The span of the whole call in the spec string.
    pub fn call_span(&self) -> Span {
        self.call.span.clone()
    }

    /// The value given for `name`, if any (`None` values count as not given).
    pub fn get(&self, name: &str) -> Option<&'a Spanned<Value>> {
        let index = self.component.params.iter().position(|p| p.name == name)?;
        self.bound
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, v)| *v)
    }

    /// An error about the value of `name`, pointing at it.
    pub fn invalid(&self, name: &str, expected: &str, value: &Spanned<Value>) -> ArgError {
        let shown = if self.is_secret(name) {
            "a value (redacted)".to_string()
        } else {
            describe_value(&value.value)
        };
        ArgError::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid value for keyword `{name}` of {}: expected {expected}, found {shown}",
                self.class()
            ),
        )
        .at(value.span.clone())
    }

    fn is_secret(&self, name: &str) -> bool {
        self.component
            .params
            .iter()
            .any(|p| p.name == name && p.secret)
    }

    /// A number (integer or float; `True`/`False` are not numbers here).
    ///
    /// # Errors
    /// When the value is not a number.
    pub fn f64(&self, name: &str) -> Result<Option<f64>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.value {
            Value::Int(i) => Ok(Some(i as f64)),
            Value::Float(f) => Ok(Some(f)),
            _ => {
                let mut err = self.invalid(name, "a number", v);
                if let Value::Str(s) = &v.value
                    && s.trim().parse::<f64>().is_ok()
                {
                    err = err.with_help(format!(
                        "write the number without quotes: {name}={}",
                        s.trim()
                    ));
                }
                Err(err)
            }
        }
    }

    /// A number within `range`, or `default` when not given.
    ///
    /// # Errors
    /// When the value is not a number or out of range (NaN is always out of range).
    pub fn f64_in(
        &self,
        name: &str,
        default: f64,
        range: RangeInclusive<f64>,
    ) -> Result<f64, ArgError> {
        let expected = format!("a number in {range:?}");
        match self.f64(name) {
            Ok(None) => Ok(default),
            Ok(Some(x)) if range.contains(&x) => Ok(x),
            Ok(Some(_)) => {
                let v = self.get(name).map(|v| (*v).clone()).unwrap_or(Spanned {
                    value: Value::None,
                    span: self.call.span.clone(),
                });
                Err(self.invalid(name, &expected, &v))
            }
            Err(_) => {
                let v = self.get(name).map(|v| (*v).clone()).unwrap_or(Spanned {
                    value: Value::None,
                    span: self.call.span.clone(),
                });
                let mut err = self.invalid(name, &expected, &v);
                if let Value::Str(s) = &v.value
                    && s.trim().parse::<f64>().is_ok()
                {
                    err = err.with_help(format!(
                        "write the number without quotes: {name}={}",
                        s.trim()
                    ));
                }
                Err(err)
            }
        }
    }

    /// A positive number of seconds (float), or `default`.
    ///
    /// # Errors
    /// When the value is not a number greater than zero.
    pub fn seconds(&self, name: &str, default: f64) -> Result<f64, ArgError> {
        self.seconds_in(name, default, MAX_SECONDS)
            .map(|d| d.as_secs_f64())
    }

    /// A number of seconds greater than 0 and at most `max`, or `default`, as a `Duration`
    /// (never a panic, whatever the number).
    ///
    /// # Errors
    /// When the value is not a number in `(0, max]`; the message names the range.
    pub fn seconds_in(&self, name: &str, default: f64, max: f64) -> Result<Duration, ArgError> {
        let max = max.min(MAX_SECONDS);
        match self.f64(name)? {
            None => Ok(Duration::from_secs_f64(default.clamp(0.0, max))),
            Some(x) if x > 0.0 && x <= max => Ok(Duration::from_secs_f64(x)),
            Some(_) => {
                let v = self.get(name).map(|v| (*v).clone()).unwrap_or(Spanned {
                    value: Value::None,
                    span: self.call.span.clone(),
                });
                Err(self.invalid(
                    name,
                    &format!("a number of seconds greater than 0 and at most {max}"),
                    &v,
                ))
            }
        }
    }

    /// A non-negative integer, or `default`.
    ///
    /// # Errors
    /// When the value is not an integer in `range`.
    pub fn u64_in(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        match v.value {
            Value::Int(i) if i >= 0 && range.contains(&(i as u64)) => Ok(i as u64),
            _ => Err(self.invalid(name, &format!("an integer in {range:?}"), v)),
        }
    }

    /// A string.
    ///
    /// # Errors
    /// When the value is not a string.
    pub fn str(&self, name: &str) -> Result<Option<&'a str>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match &v.value {
            Value::Str(s) => Ok(Some(s.as_str())),
            _ => Err(self.invalid(name, "a string in quotes", v)),
        }
    }

    /// A boolean (`True` / `False`).
    ///
    /// # Errors
    /// When the value is not `True` or `False` (`true` gets a "did you mean True").
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match &v.value {
            Value::Bool(b) => Ok(Some(*b)),
            Value::Ref(r) if r.value == "true" || r.value == "false" => {
                let right = if r.value == "true" { "True" } else { "False" };
                Err(self
                    .invalid(name, "True or False", v)
                    .with_help(format!("did you mean `{right}`?")))
            }
            _ => Err(self.invalid(name, "True or False", v)),
        }
    }

    /// A `compression=` keyword: `'gzip'` is `true`; `'none'` and `None` are `false`.
    #[cfg_attr(not(any(feature = "azure", feature = "otlp")), allow(dead_code))]
    pub(crate) fn gzip(&self, name: &str) -> Result<Option<bool>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match &v.value {
            Value::None => Ok(Some(false)),
            Value::Str(s) if s == "gzip" => Ok(Some(true)),
            Value::Str(s) if s == "none" => Ok(Some(false)),
            _ => Err(self.invalid(name, "'gzip', 'none' or None", v)),
        }
    }

    /// A dict of string keys to string values.
    ///
    /// # Errors
    /// When the value is not such a dict.
    pub fn str_dict(&self, name: &str) -> Result<Option<Vec<(String, String)>>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let Value::Dict(items) = &v.value else {
            return Err(self.invalid(name, "a dict like {'key': 'value'}", v));
        };
        let mut out = Vec::with_capacity(items.len());
        for (k, val) in items {
            match (&k.value, &val.value) {
                (Value::Str(k), Value::Str(val)) => out.push((k.clone(), val.clone())),
                _ => return Err(self.invalid(name, "a dict of strings to strings", v)),
            }
        }
        Ok(Some(out))
    }

    /// A component reference (`transport=opencensus.common.transports.async_.AsyncTransport`, or a
    /// call without arguments) of `kind`: its full name.
    ///
    /// # Errors
    /// When the value is not a reference to a known component of `kind`.
    pub fn reference(&self, name: &str, kind: ComponentKind) -> Result<Option<&'a str>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let (dotted, span) = match &v.value {
            Value::Ref(r) => (r.value.as_str(), r.span.clone()),
            Value::Call(c) if c.args.is_empty() => (c.name.value.as_str(), c.name.span.clone()),
            _ => return Err(self.invalid(name, kind.article(), v)),
        };
        let component = self.registry.lookup(dotted, kind).map_err(|e| e.at(span))?;
        Ok(Some(component.name.as_str()))
    }

    /// A nested component of `kind` (`credential=ManagedIdentityCredential(client_id='...')`),
    /// its arguments bound and checked, handed to `read` with its full name.
    ///
    /// # Errors
    /// When the value is not such a call, or its arguments are not the component's.
    pub(crate) fn nested<T>(
        &self,
        name: &str,
        kind: ComponentKind,
        read: impl FnOnce(&str, &Args<'_>) -> Result<T, ArgError>,
    ) -> Result<Option<T>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let call = as_call(v).ok_or_else(|| self.invalid(name, kind.article(), v))?;
        let component = self
            .registry
            .lookup(&call.name.value, kind)
            .map_err(|e| e.at(call.name.span.clone()))?;
        let args = Args::bind(self.registry, component, &call, self.environment)?;
        read(&component.name, &args).map(Some)
    }

    /// A nested sampler (`root=TraceIdRatioBased(rate=0.5)` or a bare reference).
    ///
    /// # Errors
    /// As for a top-level sampler.
    pub fn sampler(&self, name: &str) -> Result<Option<SamplerComponent>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let call = as_call(v).ok_or_else(|| self.invalid(name, "a sampler", v))?;
        match build(
            self.registry,
            &call,
            ComponentKind::Sampler,
            self.environment,
        )? {
            Built::Sampler(s) => Ok(Some(s)),
            _ => Err(self.invalid(name, "a sampler", v)),
        }
    }

    /// A list of nested propagators.
    ///
    /// # Errors
    /// When the value is not a list (or tuple) of propagators.
    pub fn propagators(&self, name: &str) -> Result<Option<Vec<PropagatorComponent>>, ArgError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let (Value::List(items) | Value::Tuple(items)) = &v.value else {
            return Err(self.invalid(name, "a list of propagators", v));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let call =
                as_call(item).ok_or_else(|| self.invalid(name, "a list of propagators", item))?;
            match build(
                self.registry,
                &call,
                ComponentKind::Propagator,
                self.environment,
            )? {
                Built::Propagator(p) => out.push(p),
                _ => return Err(self.invalid(name, "a list of propagators", item)),
            }
        }
        Ok(Some(out))
    }

    /// The canonical form of this call: full name, keyword arguments, secrets redacted.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.component.name);
        out.push('(');
        let mut bound: Vec<&(usize, &Spanned<Value>)> = self.bound.iter().collect();
        bound.sort_by_key(|(i, _)| *i);
        for (n, (index, value)) in bound.into_iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            let param = &self.component.params[*index];
            out.push_str(&param.name);
            out.push('=');
            if param.secret {
                out.push_str("'<redacted>'");
            } else {
                out.push_str(&value.value.to_string());
            }
        }
        out.push(')');
        out
    }
}

fn as_call(v: &Spanned<Value>) -> Option<Call> {
    match &v.value {
        Value::Call(c) => Some(c.clone()),
        Value::Ref(r) => Some(Call {
            name: r.clone(),
            args: Vec::new(),
            has_parens: false,
            span: v.span.clone(),
        }),
        _ => None,
    }
}

/// A built component and the canonical description of its call.
pub(crate) enum Built {
    Sampler(SamplerComponent),
    Exporter(super::ExporterComponent),
    Propagator(PropagatorComponent),
    /// A component only named by another (a transport, a credential): nothing to build.
    Named,
}

/// Resolves and builds one call (no I/O: exporters are only configured).
pub(crate) fn build(
    registry: &Registry,
    call: &Call,
    kind: ComponentKind,
    environment: Option<&Environment>,
) -> Result<Built, ArgError> {
    build_described(registry, call, kind, environment, false).map(|(b, _)| b)
}

pub(crate) fn build_described(
    registry: &Registry,
    call: &Call,
    kind: ComponentKind,
    environment: Option<&Environment>,
    checking: bool,
) -> Result<(Built, String), ArgError> {
    let component = registry
        .lookup(&call.name.value, kind)
        .map_err(|e| e.at(call.name.span.clone()))?;
    // Known but not in this build: to install, say so before judging its arguments; to
    // check, judge them (SPEC 10: valid, and needing a feature to run, is not unknown).
    if let Factory::Unavailable {
        feature, validate, ..
    } = &component.factory
    {
        if !checking {
            return Err(not_available(component, feature, call));
        }
        let args = Args::bind(registry, component, call, environment)?;
        validate(&args).map_err(|e| e.at(call.span.clone()))?;
        let description = args.describe();
        return Ok((
            Built::Exporter(super::ExporterComponent::needs_feature(
                component.class(),
                feature,
            )),
            description,
        ));
    }
    let args = Args::bind(registry, component, call, environment)?;
    let description = args.describe();
    let built = match &component.factory {
        Factory::Sampler(f) => Built::Sampler(f(&args).map_err(|e| e.at(call.span.clone()))?),
        Factory::Exporter(f) => Built::Exporter(f(&args).map_err(|e| e.at(call.span.clone()))?),
        Factory::Propagator(f) => Built::Propagator(f(&args).map_err(|e| e.at(call.span.clone()))?),
        Factory::Transport | Factory::Credential => Built::Named,
        Factory::Unavailable { feature, .. } => {
            return Err(not_available(component, feature, call));
        }
    };
    Ok((built, description))
}

fn not_available(component: &Component, feature: &str, call: &Call) -> ArgError {
    ArgError::new(
        ErrorKind::NotAvailable,
        format!(
            "`{}` is not available in this build: build opencensus-settings with the `{feature}` feature",
            component.class()
        ),
    )
    .at(call.name.span.clone())
}
