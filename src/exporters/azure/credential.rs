//! Microsoft Entra ID credentials of `AzureExporter` (SPEC 11): what `credential=` and
//! `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` name, checked without any network (so `check`
//! can say which credential will be used and from where). Building one needs the `entra`
//! feature (the Azure SDK for Rust's `azure_identity`).

use crate::registry::{ArgError, Args, ComponentKind, Factory, Param, Registry};
use crate::secret::Secret;

/// The credential classes, under their `azure.identity` names (as Python's `azure.identity`).
pub(crate) const MANAGED: &str = "azure.identity.ManagedIdentityCredential";
pub(crate) const WORKLOAD: &str = "azure.identity.WorkloadIdentityCredential";
pub(crate) const CLIENT_SECRET: &str = "azure.identity.ClientSecretCredential";
pub(crate) const CLI: &str = "azure.identity.AzureCliCredential";

/// The token scope without `AADAudience=` (Microsoft's exporters use this exact string).
pub(crate) const DEFAULT_SCOPE: &str = "https://monitor.azure.com//.default";

/// A credential, as configured.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "entra"), allow(dead_code))]
pub(crate) enum Credential {
    /// A managed identity: system-assigned, or user-assigned by client id.
    ManagedIdentity { client_id: Option<String> },
    /// AKS workload identity (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE`, set by the webhook).
    WorkloadIdentity,
    /// An app registration's secret.
    ClientSecret {
        tenant_id: String,
        client_id: String,
        client_secret: Secret,
    },
    /// The signed-in Azure CLI (development).
    AzureCli,
    /// Given in code (`Settings::with_azure_credential`).
    Code,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Credential {
    /// What the report shows: the class and the identity, never a secret.
    pub(crate) fn describe(&self) -> String {
        match self {
            Credential::ManagedIdentity { client_id: None } => {
                "ManagedIdentityCredential (system-assigned)".to_string()
            }
            Credential::ManagedIdentity {
                client_id: Some(id),
            } => format!("ManagedIdentityCredential (user-assigned, client id {id})"),
            Credential::WorkloadIdentity => {
                "WorkloadIdentityCredential (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE)"
                    .to_string()
            }
            Credential::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => format!(
                "ClientSecretCredential (tenant {tenant_id}, client id {client_id}, secret redacted)"
            ),
            Credential::AzureCli => "AzureCliCredential".to_string(),
            Credential::Code => "a TokenCredential given in code".to_string(),
        }
    }
}

/// Registers the credential classes (their parameters, so a misspelt keyword gets a
/// suggestion and `client_secret` is redacted everywhere).
pub(crate) fn register(r: &mut Registry) {
    r.add_builtin_params(MANAGED, vec![Param::new("client_id")], Factory::Credential);
    r.add_builtin_params(WORKLOAD, Vec::new(), Factory::Credential);
    r.add_builtin_params(
        CLIENT_SECRET,
        vec![
            Param::new("tenant_id"),
            Param::new("client_id"),
            Param::secret("client_secret"),
        ],
        Factory::Credential,
    );
    r.add_builtin_params(CLI, Vec::new(), Factory::Credential);
}

fn required(args: &Args<'_>, name: &str, class: &str) -> Result<String, ArgError> {
    match args.str(name)? {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(ArgError::invalid(format!("{class} needs {name}=")).at(args.call_span())),
    }
}

/// `credential=` of `AzureExporter`, if given.
pub(crate) fn from_args(args: &Args<'_>) -> Result<Option<Credential>, ArgError> {
    args.nested("credential", ComponentKind::Credential, |name, c| {
        Ok(match name {
            MANAGED => Credential::ManagedIdentity {
                client_id: c.str("client_id")?.map(|s| s.trim().to_string()),
            },
            WORKLOAD => Credential::WorkloadIdentity,
            CLIENT_SECRET => Credential::ClientSecret {
                tenant_id: required(c, "tenant_id", "ClientSecretCredential")?,
                client_id: required(c, "client_id", "ClientSecretCredential")?,
                client_secret: Secret::new(required(c, "client_secret", "ClientSecretCredential")?),
            },
            _ => Credential::AzureCli,
        })
    })
}

/// `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` (`Authorization=AAD[;ClientId=...]`, as Azure
/// Functions and App Service set it): a managed identity.
pub(crate) fn from_authentication_string(value: &str) -> Result<Credential, String> {
    let mut aad = false;
    let mut client_id = None;
    for segment in value.split(';').filter(|s| !s.trim().is_empty()) {
        let Some((k, v)) = segment.split_once('=') else {
            return Err(format!(
                "`{}` is not Key=Value; expected Authorization=AAD[;ClientId=<GUID>]",
                segment.trim()
            ));
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "authorization" if v.trim().eq_ignore_ascii_case("aad") => aad = true,
            "authorization" => {
                return Err(format!(
                    "Authorization `{}` is unknown; accepted: AAD",
                    v.trim()
                ));
            }
            "clientid" => client_id = Some(v.trim().to_string()),
            other => {
                return Err(format!(
                    "unknown key `{other}`; accepted: Authorization, ClientId"
                ));
            }
        }
    }
    if !aad {
        return Err("it has no Authorization=AAD".to_string());
    }
    Ok(Credential::ManagedIdentity { client_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authentication_string_names_a_managed_identity() {
        assert_eq!(
            from_authentication_string("Authorization=AAD"),
            Ok(Credential::ManagedIdentity { client_id: None })
        );
        assert_eq!(
            from_authentication_string("authorization=aad;ClientId=abc;"),
            Ok(Credential::ManagedIdentity {
                client_id: Some("abc".into())
            })
        );
        for bad in [
            "ClientId=abc",
            "Authorization=ikey",
            "Authorization=AAD;Secret=x",
            "AAD",
        ] {
            assert!(from_authentication_string(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_never_show_the_secret() {
        let c = Credential::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: Secret::new("hunter2"),
        };
        assert!(!c.describe().contains("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
