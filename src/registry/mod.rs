//! Name -> factory: what spec strings mean, and what a factory sees (its arguments, checked
//! against its declared keywords and ranges) and returns. Which components exist is not known
//! here: `builtins` registers the built-in ones into [`Registry::default`], the application
//! its own.

pub(crate) mod args;
mod exporter;
mod redact;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::trace::ShouldSample;

/// OpenCensus's sampler, decided exactly as OpenCensus decides (defined in `samplers`).
pub use crate::samplers::ProbabilitySampler;
pub use args::{ArgError, Args};
pub(crate) use exporter::Processing;
pub use exporter::{BuildContext, ExporterComponent};

use crate::error::ErrorKind;

/// What a component is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ComponentKind {
    /// A sampler (`SAMPLER`).
    Sampler,
    /// An exporter (`EXPORTER`).
    Exporter,
    /// A propagator (`PROPAGATOR`).
    Propagator,
    /// A transport of the Print and File exporters (`transport=`).
    Transport,
    /// A Microsoft Entra ID credential of `AzureExporter` (`credential=`).
    Credential,
}

impl ComponentKind {
    /// `a sampler`, `an exporter`, ...
    pub fn article(self) -> &'static str {
        match self {
            ComponentKind::Sampler => "a sampler",
            ComponentKind::Exporter => "an exporter",
            ComponentKind::Propagator => "a propagator",
            ComponentKind::Transport => "a transport",
            ComponentKind::Credential => "a credential",
        }
    }
}

/// One declared parameter of a component, in positional order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    name: String,
    secret: bool,
}

impl Param {
    /// A parameter.
    pub fn new(name: impl Into<String>) -> Self {
        Param {
            name: name.into(),
            secret: false,
        }
    }

    /// A parameter whose value is a secret: redacted in every output, carets included.
    pub fn secret(name: impl Into<String>) -> Self {
        Param {
            name: name.into(),
            secret: true,
        }
    }

    /// The keyword.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether its value is redacted.
    pub fn is_secret(&self) -> bool {
        self.secret
    }
}

impl From<&str> for Param {
    fn from(name: &str) -> Self {
        Param::new(name)
    }
}

/// A built sampler, and the rate it samples at when it has one (Application Insights'
/// `sampleRate` is `rate x 100`).
pub struct SamplerComponent {
    /// The sampler.
    pub sampler: Box<dyn ShouldSample>,
    /// The fraction of traces it keeps, if it is a plain rate (`None`: unknown, counted as 1.0).
    pub rate: Option<f64>,
}

impl fmt::Debug for SamplerComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamplerComponent")
            .field("sampler", &self.sampler)
            .field("rate", &self.rate)
            .finish()
    }
}

/// A built propagator.
pub type PropagatorComponent = Box<dyn TextMapPropagator + Send + Sync>;

type SamplerFactory = dyn Fn(&Args<'_>) -> Result<SamplerComponent, ArgError> + Send + Sync;
type ExporterFactory = dyn Fn(&Args<'_>) -> Result<ExporterComponent, ArgError> + Send + Sync;
type PropagatorFactory = dyn Fn(&Args<'_>) -> Result<PropagatorComponent, ArgError> + Send + Sync;
/// Validates a component's arguments without building it (for one this build lacks).
pub(crate) type ValidateFn = dyn Fn(&Args<'_>) -> Result<(), ArgError> + Send + Sync;

#[derive(Clone)]
pub(crate) enum Factory {
    Sampler(Arc<SamplerFactory>),
    Exporter(Arc<ExporterFactory>),
    Propagator(Arc<PropagatorFactory>),
    Transport,
    /// A credential: its arguments are read by the component that takes it.
    Credential,
    /// Known, but not usable in this build: the feature it needs, and how to validate its
    /// arguments all the same (`check` reports a valid one as "valid; needs feature").
    #[cfg_attr(all(feature = "azure", feature = "otlp"), allow(dead_code))]
    Unavailable {
        kind: ComponentKind,
        feature: &'static str,
        validate: Arc<ValidateFn>,
    },
}

impl Factory {
    fn kind(&self) -> ComponentKind {
        match self {
            Factory::Sampler(_) => ComponentKind::Sampler,
            Factory::Exporter(_) => ComponentKind::Exporter,
            Factory::Propagator(_) => ComponentKind::Propagator,
            Factory::Transport => ComponentKind::Transport,
            Factory::Credential => ComponentKind::Credential,
            Factory::Unavailable { kind, .. } => *kind,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Component {
    pub(crate) name: String,
    pub(crate) params: Vec<Param>,
    pub(crate) factory: Factory,
}

impl Component {
    /// The class name: the last segment of the full name.
    pub(crate) fn class(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }
}

/// Resolves spec-string names to components: by full OpenCensus path, by class name alone, or by
/// a registered alias.
///
/// ```
/// use opencensus_settings::registry::{Registry, SamplerComponent};
/// use opencensus_settings::opentelemetry_sdk::trace::Sampler;
///
/// let mut registry = Registry::default();
/// registry
///     .register_sampler("myapp.samplers.Sometimes", ["every"], |args| {
///         let every = args.f64_in("every", 10.0, 1.0..=1e9)?;
///         Ok(SamplerComponent { sampler: Box::new(Sampler::TraceIdRatioBased(1.0 / every)), rate: Some(1.0 / every) })
///     })
///     .unwrap();
/// ```
#[derive(Clone)]
pub struct Registry {
    components: Vec<Component>,
    /// full name, class name and aliases -> index
    names: HashMap<String, usize>,
    /// class name -> index (to spot a known class under a wrong module path)
    classes: HashMap<String, usize>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.components.iter().map(|c| &c.name))
            .finish()
    }
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot register `{name}`: {reason}")]
pub struct RegisterError {
    name: String,
    reason: String,
}

fn valid_dotted(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|seg| {
            let mut chars = seg.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

impl Registry {
    /// A registry with no components at all.
    pub fn empty() -> Self {
        Registry {
            components: Vec::new(),
            names: HashMap::new(),
            classes: HashMap::new(),
        }
    }

    fn add(&mut self, component: Component) -> Result<&mut Self, RegisterError> {
        let name = component.name.clone();
        if !valid_dotted(&name) {
            return Err(RegisterError {
                name,
                reason: "a name is dotted identifiers, like `myapp.samplers.MySampler`".into(),
            });
        }
        if self.names.contains_key(&name) {
            return Err(RegisterError {
                name,
                reason: "a component of that name is already registered".into(),
            });
        }
        let index = self.components.len();
        let class = component.class().to_string();
        self.names.insert(name, index);
        // The class name alone resolves too, unless two components share it.
        self.classes.entry(class.clone()).or_insert(index);
        self.names.entry(class).or_insert(index);
        self.components.push(component);
        Ok(self)
    }

    pub(crate) fn add_builtin(&mut self, name: &str, params: &[&str], factory: Factory) {
        self.add_builtin_params(
            name,
            params.iter().map(|p| Param::new(*p)).collect(),
            factory,
        );
    }

    pub(crate) fn add_builtin_params(&mut self, name: &str, params: Vec<Param>, factory: Factory) {
        // Built-in names are constants and valid; a clash would be a bug caught by the tests.
        let _ = self.add(Component {
            name: name.to_string(),
            params,
            factory,
        });
    }

    /// Makes `alias` (a full dotted path, e.g. an older module path) resolve to `target`.
    ///
    /// # Errors
    /// When `target` is unknown, `alias` is taken or not a dotted name.
    pub fn alias(&mut self, alias: &str, target: &str) -> Result<&mut Self, RegisterError> {
        let Some(&index) = self.names.get(target) else {
            return Err(RegisterError {
                name: alias.to_string(),
                reason: format!("the target `{target}` is not registered"),
            });
        };
        if !valid_dotted(alias) {
            return Err(RegisterError {
                name: alias.to_string(),
                reason: "an alias is dotted identifiers".into(),
            });
        }
        if self.names.get(alias).is_some_and(|&i| i != index) {
            return Err(RegisterError {
                name: alias.to_string(),
                reason: "that name is already taken".into(),
            });
        }
        self.names.insert(alias.to_string(), index);
        Ok(self)
    }

    /// Registers a sampler under `name` (a dotted path; its last segment resolves too) with its
    /// parameters in positional order.
    ///
    /// # Errors
    /// When the name is taken or not a dotted name.
    pub fn register_sampler<P, F>(
        &mut self,
        name: &str,
        params: impl IntoIterator<Item = P>,
        factory: F,
    ) -> Result<&mut Self, RegisterError>
    where
        P: Into<Param>,
        F: Fn(&Args<'_>) -> Result<SamplerComponent, ArgError> + Send + Sync + 'static,
    {
        self.add(Component {
            name: name.to_string(),
            params: params.into_iter().map(Into::into).collect(),
            factory: Factory::Sampler(Arc::new(factory)),
        })
    }

    /// Registers an exporter. The factory must not do I/O: it validates its arguments and returns
    /// an [`ExporterComponent`] whose build step runs at install (never in `check`).
    ///
    /// # Errors
    /// When the name is taken or not a dotted name.
    pub fn register_exporter<P, F>(
        &mut self,
        name: &str,
        params: impl IntoIterator<Item = P>,
        factory: F,
    ) -> Result<&mut Self, RegisterError>
    where
        P: Into<Param>,
        F: Fn(&Args<'_>) -> Result<ExporterComponent, ArgError> + Send + Sync + 'static,
    {
        self.add(Component {
            name: name.to_string(),
            params: params.into_iter().map(Into::into).collect(),
            factory: Factory::Exporter(Arc::new(factory)),
        })
    }

    /// Registers a propagator.
    ///
    /// # Errors
    /// When the name is taken or not a dotted name.
    pub fn register_propagator<P, F>(
        &mut self,
        name: &str,
        params: impl IntoIterator<Item = P>,
        factory: F,
    ) -> Result<&mut Self, RegisterError>
    where
        P: Into<Param>,
        F: Fn(&Args<'_>) -> Result<PropagatorComponent, ArgError> + Send + Sync + 'static,
    {
        self.add(Component {
            name: name.to_string(),
            params: params.into_iter().map(Into::into).collect(),
            factory: Factory::Propagator(Arc::new(factory)),
        })
    }

    /// The full names of every registered component of `kind`.
    pub fn names(&self, kind: ComponentKind) -> impl Iterator<Item = &str> {
        self.components
            .iter()
            .filter(move |c| c.factory.kind() == kind)
            .map(|c| c.name.as_str())
    }

    /// Every parameter name marked secret, of any component (for redacting snippets).
    pub(crate) fn secret_params(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .components
            .iter()
            .flat_map(|c| c.params.iter())
            .filter(|p| p.secret)
            .map(|p| p.name.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The component `name` (a full name, class name or alias) names, of any kind.
    pub(crate) fn find(&self, name: &str) -> Option<&Component> {
        self.names.get(name).map(|&i| &self.components[i])
    }

    /// Finds `name` for a value of `kind`, or explains why not.
    pub(crate) fn lookup(&self, name: &str, kind: ComponentKind) -> Result<&Component, ArgError> {
        if let Some(&i) = self.names.get(name) {
            let c = &self.components[i];
            let found = c.factory.kind();
            if found != kind {
                return Err(ArgError::new(
                    ErrorKind::UnknownComponent,
                    format!(
                        "`{}` is {}, but {} is expected here",
                        c.class(),
                        found.article(),
                        kind.article()
                    ),
                )
                .with_help(self.accepted(kind)));
            }
            return Ok(c);
        }
        let class = name.rsplit('.').next().unwrap_or(name);
        if name.contains('.')
            && let Some(&i) = self.classes.get(class)
        {
            let c = &self.components[i];
            if c.factory.kind() == kind {
                return Err(ArgError::new(
                    ErrorKind::UnknownComponent,
                    format!("`{class}` does not live at `{name}`"),
                )
                .with_help(format!("write `{}`", c.name)));
            }
        }
        let lower = name.to_ascii_lowercase();
        if matches!(lower.as_str(), "true" | "false" | "none" | "null") {
            let right = match lower.as_str() {
                "true" => "True",
                "false" => "False",
                _ => "None",
            };
            return Err(ArgError::new(
                ErrorKind::UnknownComponent,
                format!("unknown name `{name}`"),
            )
            .with_help(format!("did you mean `{right}`?")));
        }
        let mut err = ArgError::new(
            ErrorKind::UnknownComponent,
            format!("unknown {} `{name}`", kind_noun(kind)),
        );
        let candidates: Vec<&str> = self
            .names
            .iter()
            .filter(|&(_, &i)| self.components[i].factory.kind() == kind)
            .map(|(n, _)| n.as_str())
            .collect();
        let mut sorted = candidates.clone();
        sorted.sort_unstable();
        let close = if name.contains('.') {
            crate::spec::closest(name, sorted.iter().copied())
        } else {
            crate::spec::closest(name, sorted.iter().copied().filter(|n| !n.contains('.')))
        };
        if let Some(close) = close {
            err = err.with_help(format!("did you mean `{close}`?"));
        }
        if is_python_builtin(name) {
            err = err.with_help(
                "spec strings are parsed, never evaluated: Python builtins are not available",
            );
        }
        Err(err.with_help(self.accepted(kind)))
    }

    fn accepted(&self, kind: ComponentKind) -> String {
        let names: Vec<&str> = self.names(kind).collect();
        format!("known {}s: {}", kind_noun(kind), names.join(", "))
    }
}

fn kind_noun(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Sampler => "sampler",
        ComponentKind::Exporter => "exporter",
        ComponentKind::Propagator => "propagator",
        ComponentKind::Transport => "transport",
        ComponentKind::Credential => "credential",
    }
}

fn is_python_builtin(name: &str) -> bool {
    matches!(
        name,
        "float"
            | "int"
            | "str"
            | "eval"
            | "exec"
            | "open"
            | "__import__"
            | "getattr"
            | "list"
            | "dict"
            | "tuple"
            | "bool"
            | "print"
            | "compile"
            | "globals"
            | "locals"
            | "os.system"
    )
}
