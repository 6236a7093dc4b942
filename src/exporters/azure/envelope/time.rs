//! Envelope times (RFC 3339, UTC, milliseconds) and durations (`d.hh:mm:ss.ffffff`), written
//! straight into the body in the crate's formats.
//!
//! The date arithmetic is ours (Howard Hinnant's days-to-civil algorithm): `humantime` refuses
//! times before 1970, and `chrono` would be a normal dependency for 30 lines. The property test
//! checks it against the crate's chrono output from 1906 to 9892.

use std::time::{SystemTime, UNIX_EPOCH};

use super::json::uint;

fn two(out: &mut Vec<u8>, v: u64) {
    let mut digits = [0u8; 2];
    put_two(&mut digits, v);
    out.extend_from_slice(&digits);
}

/// `"d.hh:mm:ss.ffffff"` (the crate's format: whole days first, microseconds last).
pub(super) fn write_duration(out: &mut Vec<u8>, start: SystemTime, end: SystemTime) {
    let micros = end.duration_since(start).unwrap_or_default().as_micros();
    let secs = u64::try_from(micros / 1_000_000).unwrap_or(u64::MAX);
    let frac = (micros % 1_000_000) as u64;
    out.push(b'"');
    uint(out, secs / 86_400);
    // `.hh:mm:ss.ffffff"`, written at once.
    let mut tail = *b".00:00:00.000000\"";
    put_two(&mut tail[1..3], secs / 3600 % 24);
    put_two(&mut tail[4..6], secs / 60 % 60);
    put_two(&mut tail[7..9], secs % 60);
    let mut f = frac;
    for d in tail[10..16].iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    out.extend_from_slice(&tail);
}

/// Two decimal digits of `v` (0..=99) into `slot`.
fn put_two(slot: &mut [u8], v: u64) {
    if let [tens, ones] = slot {
        *tens = b'0' + (v / 10 % 10) as u8;
        *ones = b'0' + (v % 10) as u8;
    }
}

/// The civil date (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `"YYYY-MM-DDThh:mm:ss.mmmZ"` (RFC 3339, UTC, milliseconds, as the crate writes it).
pub(super) fn write_time(out: &mut Vec<u8>, t: SystemTime) {
    let (secs, millis) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            u64::from(d.subsec_millis()),
        ),
        Err(e) => {
            let d = e.duration();
            let mut s = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let mut nanos = u64::from(d.subsec_nanos());
            if nanos > 0 {
                s -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            (s, nanos / 1_000_000)
        }
    };
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400) as u64;
    let (year, month, day) = civil(days);
    if (0..=9999).contains(&year) {
        // `"YYYY-MM-DDThh:mm:ss.mmmZ"`, written at once (every year a span can have now).
        let y = year.unsigned_abs();
        let mut t = *b"\"0000-00-00T00:00:00.000Z\"";
        put_two(&mut t[1..3], y / 100);
        put_two(&mut t[3..5], y % 100);
        put_two(&mut t[6..8], month);
        put_two(&mut t[9..11], day);
        put_two(&mut t[12..14], rest / 3600);
        put_two(&mut t[15..17], rest / 60 % 60);
        put_two(&mut t[18..20], rest % 60);
        t[21] = b'0' + (millis / 100) as u8;
        put_two(&mut t[22..24], millis % 100);
        out.extend_from_slice(&t);
        return;
    }
    out.push(b'"');
    if year < 0 {
        out.push(b'-');
    }
    let y = year.unsigned_abs();
    for _ in itoa::Buffer::new().format(y).len()..4 {
        out.push(b'0');
    }
    uint(out, y);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, rest / 3600);
    out.push(b':');
    two(out, rest / 60 % 60);
    out.push(b':');
    two(out, rest % 60);
    out.push(b'.');
    out.push(b'0' + (millis / 100) as u8);
    two(out, millis % 100);
    out.extend_from_slice(b"Z\"");
}
