//! Application Insights connection strings: `;`-separated `Key=Value`, keys case-insensitive.
//! Errors name the segment, never the instrumentation key.

use crate::secret::Secret;

/// The default ingestion endpoint.
pub(crate) const DEFAULT_ENDPOINT: &str = "https://dc.services.visualstudio.com";

/// A parsed connection string.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ConnectionString {
    pub(crate) instrumentation_key: Secret,
    /// Scheme and authority (and path, if any), no trailing slash.
    pub(crate) ingestion_endpoint: String,
    /// `Authorization=AAD`: the resource takes Microsoft Entra ID tokens only.
    pub(crate) aad: bool,
    /// `AADAudience=`: the token audience (default `https://monitor.azure.com`).
    pub(crate) aad_audience: Option<String>,
}

impl std::fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionString")
            .field("instrumentation_key", &self.instrumentation_key)
            .field("ingestion_endpoint", &self.ingestion_endpoint)
            .field("aad", &self.aad)
            .field("aad_audience", &self.aad_audience)
            .finish()
    }
}

/// Why a connection string was refused (the message never contains the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectionError {
    pub(crate) message: String,
}

fn err(message: impl Into<String>) -> ConnectionError {
    ConnectionError {
        message: message.into(),
    }
}

const KNOWN: [&str; 9] = [
    "AADAudience",
    "InstrumentationKey",
    "IngestionEndpoint",
    "EndpointSuffix",
    "Location",
    "Authorization",
    "LiveEndpoint",
    "ApplicationId",
    "ProfilerEndpoint",
];

/// A GUID: 8-4-4-4-12 hex digits, either case.
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn endpoint(value: &str, what: &str) -> Result<String, ConnectionError> {
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return Err(err(format!(
            "{what} must start with https:// or http://, found `{value}`"
        )));
    };
    let rest = value[scheme_len..].trim_end_matches('/');
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(['?', '#', '@', ' ']) || rest.contains(['?', '#']) {
        return Err(err(format!("{what} `{value}` is not a valid URL")));
    }
    Ok(format!("{}{rest}", &value[..scheme_len]))
}

/// Parses a connection string. A trailing `;`, values containing `=`, upper-case GUIDs and a
/// trailing `/` on the endpoint are accepted. `Authorization=AAD` marks a resource that takes
/// Entra ID tokens (a credential must then be given); `AADAudience=` is the token audience.
pub(crate) fn parse(s: &str) -> Result<ConnectionString, ConnectionError> {
    let mut key: Option<String> = None;
    let mut ingestion: Option<String> = None;
    let mut suffix: Option<String> = None;
    let mut location: Option<String> = None;
    let mut aad = false;
    let mut aad_audience: Option<String> = None;
    let mut seen: Vec<String> = Vec::new();
    for (i, segment) in s.split(';').enumerate() {
        if segment.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = segment.split_once('=') else {
            return Err(err(format!(
                "segment {} of the connection string has no `=`; expected Key=Value pairs separated by `;`",
                i + 1
            )));
        };
        let k = k.trim();
        let v = v.trim();
        let Some(canonical) = KNOWN.iter().find(|known| known.eq_ignore_ascii_case(k)) else {
            let mut message = format!("unknown connection string key `{k}`");
            if let Some(close) = crate::spec::closest(k, KNOWN.iter().copied()) {
                message.push_str(&format!(" (did you mean `{close}`?)"));
            }
            message.push_str(&format!("; accepted: {}", KNOWN.join(", ")));
            return Err(err(message));
        };
        if seen.iter().any(|s| s == canonical) {
            return Err(err(format!(
                "connection string key `{canonical}` is given twice"
            )));
        }
        seen.push((*canonical).to_string());
        match *canonical {
            "InstrumentationKey" => {
                if !is_guid(v) {
                    return Err(err(
                        "InstrumentationKey is not a GUID (expected 8-4-4-4-12 hex digits); its value is not shown",
                    ));
                }
                key = Some(v.to_string());
            }
            "IngestionEndpoint" => ingestion = Some(endpoint(v, "IngestionEndpoint")?),
            "EndpointSuffix" => {
                let v = v.trim_matches('.');
                if v.is_empty() || v.contains(['/', ':', ' ']) {
                    return Err(err(format!(
                        "EndpointSuffix `{v}` must be a domain like `applicationinsights.azure.com`"
                    )));
                }
                suffix = Some(v.to_string());
            }
            "Location" => location = Some(v.trim_matches('.').to_string()),
            "Authorization" => {
                if v.eq_ignore_ascii_case("aad") {
                    aad = true;
                } else if !v.eq_ignore_ascii_case("ikey") {
                    return Err(err(format!(
                        "Authorization `{v}` is unknown; accepted: AAD, ikey"
                    )));
                }
            }
            "AADAudience" => {
                let audience = endpoint(v, "AADAudience")?;
                aad_audience = Some(audience);
            }
            _ => {}
        }
    }
    let instrumentation_key = key.ok_or_else(|| {
        err("the connection string has no InstrumentationKey; expected InstrumentationKey=<GUID>;IngestionEndpoint=https://...")
    })?;
    let ingestion_endpoint = match (ingestion, suffix) {
        (Some(e), _) => e,
        (None, Some(suffix)) => match location.filter(|l| !l.is_empty()) {
            Some(location) => format!("https://{location}.dc.{suffix}"),
            None => format!("https://dc.{suffix}"),
        },
        (None, None) => DEFAULT_ENDPOINT.to_string(),
    };
    Ok(ConnectionString {
        instrumentation_key: Secret::new(instrumentation_key),
        ingestion_endpoint,
        aad,
        aad_audience,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn accepted_forms() {
        let cases: &[(String, &str)] = &[
            (format!("InstrumentationKey={KEY}"), DEFAULT_ENDPOINT),
            (format!("InstrumentationKey={KEY};"), DEFAULT_ENDPOINT),
            (
                format!("instrumentationkey={};", KEY.to_uppercase()),
                DEFAULT_ENDPOINT,
            ),
            (
                format!(
                    "InstrumentationKey={KEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
                ),
                "https://westeurope-5.in.applicationinsights.azure.com",
            ),
            (
                format!("InstrumentationKey={KEY};IngestionEndpoint=http://127.0.0.1:9000"),
                "http://127.0.0.1:9000",
            ),
            (
                format!("InstrumentationKey={KEY};EndpointSuffix=ai.contoso.com"),
                "https://dc.ai.contoso.com",
            ),
            (
                format!("InstrumentationKey={KEY};EndpointSuffix=ai.contoso.com;Location=westus2"),
                "https://westus2.dc.ai.contoso.com",
            ),
            (
                format!(
                    "InstrumentationKey={KEY};IngestionEndpoint=https://x.example;LiveEndpoint=https://live.example/;ApplicationId=abc=="
                ),
                "https://x.example",
            ),
            (
                format!("Authorization=ikey;InstrumentationKey={KEY}"),
                DEFAULT_ENDPOINT,
            ),
        ];
        for (cs, endpoint) in cases {
            let parsed = parse(cs).unwrap_or_else(|e| panic!("{cs}: {e:?}"));
            assert_eq!(parsed.ingestion_endpoint, *endpoint, "{cs}");
            assert!(
                parsed
                    .instrumentation_key
                    .expose()
                    .eq_ignore_ascii_case(KEY)
            );
        }
    }

    #[test]
    fn refused_forms_never_show_the_key() {
        let cases = [
            (String::new(), "no InstrumentationKey"),
            (format!("InstrumentationKey={KEY}x"), "not a GUID"),
            (KEY.to_string(), "has no `="),
            (
                format!("InstrumentationKey={KEY};IngestionEndpoint=ftp://x"),
                "must start with https://",
            ),
            (
                format!("InstrumentationKey={KEY};IngestionEndpoint=https://"),
                "not a valid URL",
            ),
            (
                format!("InstrumentationKey={KEY};Authorization=Bearer"),
                "accepted: AAD, ikey",
            ),
            (
                format!("InstrumentationKey={KEY};AADAudience=monitor"),
                "AADAudience must start with https://",
            ),
            (
                format!("InstrumentationKey={KEY};InstrumentationKey={KEY}"),
                "given twice",
            ),
            (
                format!("InstrumentationKey={KEY};IngestionEndpont=https://x"),
                "did you mean `IngestionEndpoint`?",
            ),
        ];
        for (cs, needle) in cases {
            let e = parse(&cs).unwrap_err();
            assert!(e.message.contains(needle), "{cs}: {}", e.message);
            assert!(!e.message.contains("11111111"), "{}", e.message);
        }
        let aad = parse(&format!(
            "InstrumentationKey={KEY};Authorization=aad;AADAudience=https://monitor.azure.us/"
        ))
        .unwrap();
        assert!(aad.aad);
        assert_eq!(
            aad.aad_audience.as_deref(),
            Some("https://monitor.azure.us")
        );
        assert!(!parse(&format!("InstrumentationKey={KEY}")).unwrap().aad);
        assert!(
            !format!("{:?}", parse(&format!("InstrumentationKey={KEY}")).unwrap()).contains("1111")
        );
    }
}
