//! What an ingestion answer means (SPEC section 8), as pure functions: the table below, the
//! `Retry-After` rule and the 206 body. No I/O, so every row is a unit test.
//!
//! | answer | meaning |
//! |---|---|
//! | 200 | delivered |
//! | 206 | per item: 400 invalid, 402/439 over quota, any other non-2xx resent; an unreadable body resends the batch |
//! | 307, 308 | follow `Location` (5 hops at most) and keep the new endpoint |
//! | 401, 403 | an auth outage: stored and resent, never dropped (an operator fixes the key or role) |
//! | 408, 429, every 5xx | an outage: backoff, storage, resend |
//! | 413 | split the batch in halves; a single item still too large is invalid |
//! | 402, 439 | over quota: dropped |
//! | 400 and every other status | invalid: dropped (retrying cannot help) |

use std::time::{Duration, SystemTime};

/// `Retry-After` is honoured up to this; a larger value means the normal backoff.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The class of a whole-batch answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Delivered,
    Partial,
    Redirect,
    /// 401/403: the key or credential was refused.
    AuthOutage,
    Outage,
    TooLarge,
    Quota,
    Invalid,
}

/// What a status means for the whole batch.
pub(crate) fn classify(status: u16) -> Class {
    match status {
        200 => Class::Delivered,
        206 => Class::Partial,
        307 | 308 => Class::Redirect,
        401 | 403 => Class::AuthOutage,
        408 | 429 | 500..=599 => Class::Outage,
        413 => Class::TooLarge,
        402 | 439 => Class::Quota,
        _ => Class::Invalid,
    }
}

/// What a per-item status of a 206 means for that item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemClass {
    Invalid,
    Quota,
    Resend,
    /// 2xx: accepted after all.
    Accepted,
}

/// A 206's per-item status.
pub(crate) fn classify_item(status: u64) -> ItemClass {
    match status {
        400 => ItemClass::Invalid,
        402 | 439 => ItemClass::Quota,
        200..=299 => ItemClass::Accepted,
        _ => ItemClass::Resend,
    }
}

/// `Retry-After` as delta-seconds or an HTTP-date, when it asks for at most
/// [`MAX_RETRY_AFTER`]; anything else (larger, negative, in the past, unparseable) is `None`:
/// the normal backoff applies.
pub(crate) fn retry_after(value: Option<&str>, now: SystemTime) -> Option<Duration> {
    let value = value?.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: at most 20 of them fit a u64; more is "far too long".
        Duration::from_secs(value.parse::<u64>().ok()?)
    } else {
        httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .ok()?
    };
    (wait <= MAX_RETRY_AFTER).then_some(wait)
}

/// One item a 206 reported as not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ItemError {
    pub(crate) index: usize,
    pub(crate) class: ItemClass,
}

/// The items of a 206 body that were not accepted; `None` when the body is not the documented
/// `{"errors":[{"index":i,"statusCode":c}, ...]}` (then the batch is resent whole).
pub(crate) fn partial_errors(body: &[u8]) -> Option<Vec<ItemError>> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errors = answer.get("errors")?.as_array()?;
    let mut out = Vec::with_capacity(errors.len());
    for e in errors {
        let index = usize::try_from(e.get("index")?.as_u64()?).ok()?;
        let class = classify_item(e.get("statusCode")?.as_u64()?);
        out.push(ItemError { index, class });
    }
    Some(out)
}

/// The service's own words for a refusal, to quote in a diagnostic: the first error's
/// `message` (or a top-level `message`/`error`), on one line, at most 200 characters, with
/// anything shaped like an instrumentation key redacted. `None` when the body has none.
pub(crate) fn reason(body: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = answer
        .get("errors")
        .and_then(|e| e.as_array())
        .and_then(|errors| {
            errors
                .iter()
                .find_map(|e| e.get("message").and_then(|m| m.as_str()))
        })
        .or_else(|| answer.get("message").and_then(|m| m.as_str()))
        .or_else(|| answer.get("error").and_then(|m| m.as_str()))?;
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let redacted = redact_guids(one_line.trim());
    (!redacted.is_empty()).then_some(redacted)
}

/// Replaces every GUID (8-4-4-4-12 hex digits: what instrumentation keys look like).
fn redact_guids(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    let is_guid_at = |i: usize| -> bool {
        let Some(candidate) = bytes.get(i..i + LEN) else {
            return false;
        };
        let mut at = 0;
        for (n, len) in SHAPE.iter().enumerate() {
            if n > 0 {
                if candidate[at] != b'-' {
                    return false;
                }
                at += 1;
            }
            if !candidate[at..at + len].iter().all(u8::is_ascii_hexdigit) {
                return false;
            }
            at += len;
        }
        true
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if is_guid_at(i) {
            out.push_str("<redacted>");
            i += LEN;
        } else {
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn every_row_of_the_answer_table() {
        let rows: &[(u16, Class)] = &[
            (200, Class::Delivered),
            (206, Class::Partial),
            (307, Class::Redirect),
            (308, Class::Redirect),
            (401, Class::AuthOutage),
            (403, Class::AuthOutage),
            (408, Class::Outage),
            (429, Class::Outage),
            (500, Class::Outage),
            (501, Class::Outage),
            (502, Class::Outage),
            (503, Class::Outage),
            (504, Class::Outage),
            (507, Class::Outage),
            (599, Class::Outage),
            (413, Class::TooLarge),
            (402, Class::Quota),
            (439, Class::Quota),
            (400, Class::Invalid),
            (404, Class::Invalid),
            (409, Class::Invalid),
            (201, Class::Invalid),
            (301, Class::Invalid),
        ];
        for (status, class) in rows {
            assert_eq!(classify(*status), *class, "{status}");
        }
        assert_eq!(classify_item(400), ItemClass::Invalid);
        assert_eq!(classify_item(439), ItemClass::Quota);
        assert_eq!(classify_item(500), ItemClass::Resend);
        assert_eq!(classify_item(401), ItemClass::Resend);
        assert_eq!(classify_item(200), ItemClass::Accepted);
    }

    #[test]
    fn retry_after_is_honoured_up_to_60_s_and_never_overflows() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        assert_eq!(retry_after(Some("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(Some(" 60 "), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_after(Some("0"), now), Some(Duration::ZERO));
        for bad in [
            "61",
            "31536000",
            "10000000000000000000",
            "99999999999999999999999",
            "-5",
            "1.5",
            "",
            "soon",
        ] {
            assert_eq!(retry_after(Some(bad), now), None, "{bad}");
        }
        assert_eq!(retry_after(None, now), None);
        let in_30 = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(Some(&in_30), now),
            Some(Duration::from_secs(30))
        );
        let in_an_hour = httpdate::fmt_http_date(now + Duration::from_secs(3600));
        assert_eq!(retry_after(Some(&in_an_hour), now), None);
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(Some(&past), now), None);
    }

    #[test]
    fn partial_bodies() {
        let body = br#"{"itemsReceived":3,"itemsAccepted":1,"errors":[{"index":0,"statusCode":400,"message":"bad"},{"index":2,"statusCode":503}]}"#;
        assert_eq!(
            partial_errors(body).unwrap(),
            vec![
                ItemError {
                    index: 0,
                    class: ItemClass::Invalid
                },
                ItemError {
                    index: 2,
                    class: ItemClass::Resend
                },
            ]
        );
        for bad in [
            &b"not json"[..],
            b"{}",
            br#"{"errors":{}}"#,
            br#"{"errors":[{"index":-1,"statusCode":400}]}"#,
            br#"{"errors":[{"statusCode":400}]}"#,
        ] {
            assert_eq!(
                partial_errors(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_reason_is_the_services_own_words_on_one_line_with_keys_redacted() {
        let body = br#"{"itemsReceived":1,"itemsAccepted":0,"errors":[{"index":0,"statusCode":400,"message":"Invalid instrumentation key"}]}"#;
        assert_eq!(reason(body).as_deref(), Some("Invalid instrumentation key"));
        let body = br#"{"errors":[{"index":0,"statusCode":400,"message":"key 0d3c4f2a-5b6e-4c7d-8e9f-a0b1c2d3e4f5\nis unknown"}]}"#;
        assert_eq!(reason(body).as_deref(), Some("key <redacted> is unknown"));
        assert_eq!(
            reason(br#"{"message":"Unauthorized"}"#).as_deref(),
            Some("Unauthorized")
        );
        assert_eq!(reason(br#"{"errors":[]}"#), None);
        assert_eq!(reason(b"<html>"), None);
        let long = format!(r#"{{"message":"{}"}}"#, "é".repeat(300));
        assert_eq!(
            reason(long.as_bytes()).map(|r| r.chars().count()),
            Some(200)
        );
    }
}
