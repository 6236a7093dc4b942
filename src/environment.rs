//! The environment one load of the settings saw: a snapshot of the process's variables (or a
//! loader's explicit ones), and the standard Application Insights variables read from it.
//! Factories and exporters read variables through this, never from the process, so a
//! loader's explicit environment holds for them too.

use std::fmt;
use std::sync::Arc;

use crate::origin::Setting;
use crate::secret::Secret;

/// One environment variable of the snapshot; `Err` when it is not UTF-8.
#[derive(Debug, Clone)]
pub(crate) struct EnvVar {
    pub(crate) name: String,
    pub(crate) value: Result<String, ()>,
}

/// The variables a load saw, and the standard ones it read (connection string, key).
#[derive(Clone, Default)]
pub struct Environment {
    pub(crate) vars: Arc<Vec<EnvVar>>,
    pub(crate) connection_string: Option<Setting<Secret>>,
    pub(crate) instrumentation_key: Option<Setting<Secret>>,
    /// A Microsoft Entra ID credential given in code (`Settings::with_azure_credential`), and
    /// where.
    #[cfg(feature = "entra")]
    pub(crate) azure_credential: Option<(
        Arc<dyn azure_core::credentials::TokenCredential>,
        crate::origin::Origin,
    )>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: names only.
        f.debug_struct("Environment")
            .field(
                "vars",
                &self.vars.iter().map(|v| &v.name).collect::<Vec<_>>(),
            )
            .field("connection_string", &self.connection_string)
            .field("instrumentation_key", &self.instrumentation_key)
            .finish()
    }
}

impl Environment {
    /// The value of a variable as this load saw it (`None` when unset or not UTF-8).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|v| v.name == name)
            .and_then(|v| v.value.as_ref().ok())
            .map(String::as_str)
    }

    /// `APPLICATIONINSIGHTS_CONNECTION_STRING`, when set (redacted in every output).
    pub fn connection_string(&self) -> Option<&Setting<Secret>> {
        self.connection_string.as_ref()
    }

    /// `APPINSIGHTS_INSTRUMENTATIONKEY` (the legacy variable), when set.
    pub fn instrumentation_key(&self) -> Option<&Setting<Secret>> {
        self.instrumentation_key.as_ref()
    }
}

/// A `key=value,key2=value2` list (W3C baggage style, values percent-decoded), as in
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`; errors name `var`.
pub(crate) fn parse_key_values(value: &str, var: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, item) in value.split(',').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("{var} item {} (`{item}`) has no `=`", i + 1));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("{var} item {} has an empty key", i + 1));
        }
        let v = percent_decode(v.trim()).ok_or_else(|| {
            format!(
                "{var} item {} (`{k}`) has an invalid percent-encoding",
                i + 1
            )
        })?;
        out.push((k.to_string(), v));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
