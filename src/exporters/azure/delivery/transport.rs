//! How a track call is made: [`Transport`] is the seam between the delivery policy and the
//! network. Production posts with reqwest ([`Http`]); the policy tests script the answers and
//! run in virtual time.

use std::future::Future;

use bytes::Bytes;

use super::is_gzip;
use crate::secret::Secret;

/// What one track call got back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) body: Bytes,
}

/// Posts one body to one URL, with a bearer token when Entra ID is in use.
pub(crate) trait Transport: Send + Sync + 'static {
    /// `Err` is a connection error or a timeout, with its description (never a secret).
    fn post(
        &self,
        url: &str,
        body: Bytes,
        bearer: Option<&Secret>,
    ) -> impl Future<Output = Result<Answer, String>> + Send;
}

/// Where bearer tokens come from (Microsoft Entra ID): cached, refreshed before they expire,
/// and fetched again at once when `refresh` (a 401/403 said the token no longer holds).
pub(crate) trait TokenSource: Send + Sync + 'static {
    /// A token; `Err` says why none could be had (never a secret).
    fn token(
        &self,
        refresh: bool,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Secret, String>> + Send + '_>>;
    /// The credential, as messages name it (`ManagedIdentityCredential (system-assigned)`).
    fn name(&self) -> &str;
}

/// The real transport: reqwest (rustls, explicit proxies only, a per-request timeout).
/// Redirects are not followed here: the policy follows 307/308 itself and keeps the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Http(pub(crate) reqwest::Client);

impl Transport for Http {
    async fn post(
        &self,
        url: &str,
        body: Bytes,
        bearer: Option<&Secret>,
    ) -> Result<Answer, String> {
        let mut request = self
            .0
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(token) = bearer {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| "the Entra ID token is not a valid header value".to_string())?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        if is_gzip(&body) {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let response = request.body(body).send().await.map_err(|e| {
            // reqwest's Display names the URL: ours carries no secret (the key is in the body).
            format!("sending to Application Insights: {e}")
        })?;
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let location = header(reqwest::header::LOCATION);
        let status = response.status().as_u16();
        let body = match status {
            206 | 400 => response.bytes().await.unwrap_or_default(),
            _ => Bytes::new(),
        };
        Ok(Answer {
            status,
            retry_after,
            location,
            body,
        })
    }
}
