//! Microsoft Entra ID tokens for the track calls (feature `entra`): a credential of the Azure
//! SDK for Rust (`azure_identity`), its token cached and fetched again five minutes before it
//! expires, or at once when the service refused it. Fetching runs on the export thread's
//! runtime, never on a request's path.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use tokio::sync::Mutex;

use super::credential::Credential;
use super::delivery::TokenSource;
use crate::error::BoxError;
use crate::secret::Secret;

/// Refresh this long before the token expires.
const EARLY: i64 = 5 * 60;

/// A credential and its cached token.
pub(crate) struct EntraToken {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    name: String,
    /// The token and when it expires (Unix seconds).
    cached: Mutex<Option<(Secret, i64)>>,
    /// One fetch at most this long (the exporter's `timeout=`): a token endpoint that does not
    /// answer is an outage like any other.
    timeout: std::time::Duration,
}

impl EntraToken {
    /// Builds the credential (no network: tokens are fetched when needed).
    // `..Default::default()` keeps building if the SDK's options gain fields.
    #[allow(clippy::needless_update)]
    pub(crate) fn new(
        credential: &Credential,
        scope: &str,
        timeout: std::time::Duration,
        environment: &crate::environment::Environment,
    ) -> Result<Self, BoxError> {
        // Delivery retries with its own backoff (and stores meanwhile): no retries in here.
        let client_options = azure_core::http::ClientOptions {
            retry: azure_core::http::RetryOptions::none(),
            ..Default::default()
        };
        let built: Arc<dyn TokenCredential> = match credential {
            Credential::ManagedIdentity { client_id } => {
                let options = azure_identity::ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id
                        .clone()
                        .map(azure_identity::UserAssignedId::ClientId),
                    client_options,
                    ..Default::default()
                };
                azure_identity::ManagedIdentityCredential::new(Some(options))?
            }
            Credential::WorkloadIdentity => azure_identity::WorkloadIdentityCredential::new(None)?,
            Credential::ClientSecret {
                tenant_id,
                client_id,
                client_secret,
            } => azure_identity::ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                azure_core::credentials::Secret::new(client_secret.expose().to_string()),
                Some(azure_identity::ClientSecretCredentialOptions {
                    client_options,
                    ..Default::default()
                }),
            )?,
            Credential::AzureCli => azure_identity::AzureCliCredential::new(None)?,
            Credential::Code => match &environment.azure_credential {
                Some((c, _)) => c.clone(),
                None => return Err("the credential given in code is gone".into()),
            },
        };
        Ok(EntraToken {
            credential: built,
            scope: scope.to_string(),
            name: credential.describe(),
            cached: Mutex::new(None),
            timeout,
        })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl TokenSource for EntraToken {
    fn token(
        &self,
        refresh: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Secret, String>> + Send + '_>>
    {
        Box::pin(async move {
            let mut cached = self.cached.lock().await;
            if !refresh
                && let Some((token, expires)) = cached.as_ref()
                && *expires - EARLY > now()
            {
                return Ok(token.clone());
            }
            let scopes = [self.scope.as_str()];
            let fetched =
                tokio::time::timeout(self.timeout, self.credential.get_token(&scopes, None))
                    .await
                    .map_err(|_| {
                        format!(
                            "the token endpoint did not answer within {:?}",
                            self.timeout
                        )
                    })?
                    .map_err(|e| e.to_string())?;
            let token = Secret::new(fetched.token.secret().to_string());
            *cached = Some((token.clone(), fetched.expires_on.unix_timestamp()));
            Ok(token)
        })
    }

    fn name(&self) -> &str {
        &self.name
    }
}
