//! Strict, allocation-free parsers and formatters for trace-context headers:
//! W3C `traceparent` / `tracestate`, Zipkin B3 (single `b3` header and the
//! `X-B3-*` headers) and Google's `X-Cloud-Trace-Context`.
//!
//! The types here are framework-neutral (no OpenTelemetry types). Parsers
//! return `None` for anything invalid, meaning "start a fresh trace".
//! Surrounding optional whitespace (space and tab only) is ignored everywhere.
//! Formatters append to the given `String` (they never clear it).

/// Parsed trace context, framework-neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedContext {
    /// Trace id (never all zero when produced by a parser).
    pub(crate) trace_id: [u8; 16],
    /// Span id (never all zero when produced by a parser).
    pub(crate) span_id: [u8; 8],
    /// Whether the caller sampled the trace. Formatters use this field, not
    /// `flags`, to write the sampled bit.
    pub(crate) sampled: bool,
    /// The trace flags as received (`traceparent`: all 8 bits; other formats:
    /// `1` if sampled, else `0`).
    pub(crate) flags: u8,
}

/// Sampling decision carried by B3 headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B3Sampling {
    /// `1` (or `true` in `X-B3-Sampled`): sampled.
    Accept,
    /// `0` (or `false` in `X-B3-Sampled`): not sampled.
    Deny,
    /// `d` in `b3`, or `X-B3-Flags: 1`: sampled and debug.
    Debug,
    /// No decision given: the receiver decides.
    Defer,
}

/// A parsed B3 context. A 64-bit trace id is left-padded with zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct B3 {
    /// Trace id (a 16-hex-digit id occupies the last 8 bytes).
    pub(crate) trace_id: [u8; 16],
    /// Span id.
    pub(crate) span_id: [u8; 8],
    /// Sampling decision.
    pub(crate) sampling: B3Sampling,
}

impl B3 {
    /// Whether the context is sampled: `Accept` or `Debug`.
    #[must_use]
    pub(crate) fn sampled(&self) -> bool {
        matches!(self.sampling, B3Sampling::Accept | B3Sampling::Debug)
    }

    /// Converts to a [`ParsedContext`] (`flags` = `1` if sampled, else `0`;
    /// `Defer` becomes "not sampled").
    #[must_use]
    pub(crate) fn to_context(self) -> ParsedContext {
        let sampled = self.sampled();
        ParsedContext {
            trace_id: self.trace_id,
            span_id: self.span_id,
            sampled,
            flags: u8::from(sampled),
        }
    }
}

/// Trims optional whitespace: space and tab only.
fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// A nibble's value per byte, `INVALID` for a byte that is no hex digit of the table's case.
const INVALID: u8 = 0xff;

const fn hex_table(upper: bool) -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        if upper {
            t[b'A' as usize + i] = 10 + i as u8;
        }
        i += 1;
    }
    t
}

/// Lower-case hex digits only (W3C).
static HEX_LOWER: [u8; 256] = hex_table(false);
/// Hex digits of either case (B3, Google's header).
static HEX_ANY: [u8; 256] = hex_table(true);

/// Decodes exactly `2 * out.len()` hex digits into `out` by `table` (which digits the header
/// accepts): one table lookup a digit, and one test for the whole run (no branch per nibble).
fn decode_hex_into(src: &[u8], out: &mut [u8], table: &[u8; 256]) -> Option<()> {
    if src.len() != out.len() * 2 {
        return None;
    }
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(src.chunks_exact(2)) {
        let [hi, lo] = *pair else {
            return None;
        };
        let (hi, lo) = (table[usize::from(hi)], table[usize::from(lo)]);
        // INVALID has the high bits set; a valid nibble never does.
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(())
}

/// Decodes exactly `2 * N` hex digits.
fn decode_hex<const N: usize>(src: &[u8], table: &[u8; 256]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    decode_hex_into(src, &mut out, table)?;
    Some(out)
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Lower-case hex digit for a nibble (`0..=15`).
fn hex_char(nibble: u8) -> char {
    char::from(if nibble < 10 {
        b'0' + nibble
    } else {
        b'a' + (nibble - 10)
    })
}

/// Appends lower-case hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(hex_char(b >> 4));
        out.push(hex_char(b & 0x0f));
    }
}

/// Appends an unsigned decimal number.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    for &b in buf.get(start..).unwrap_or_default() {
        out.push(char::from(b));
    }
}

/// Length of `00-{32}-{16}-{2}`.
const TRACEPARENT_LEN: usize = 55;

/// Parses a W3C `traceparent` header.
///
/// Exactly `version-traceid-spanid-flags` with 2-32-16-2 lower-case hex
/// digits. Version `ff` is invalid; version `00` has exactly four fields;
/// versions `01`-`fe` may carry more fields after a `-`, which are ignored.
/// All-zero ids are invalid. `sampled` is bit 0 of the flags. No allocation.
#[must_use]
pub(crate) fn parse_traceparent(value: &str) -> Option<ParsedContext> {
    let bytes = trim_ows(value).as_bytes();
    let head = bytes.get(..TRACEPARENT_LEN)?;
    let tail = bytes.get(TRACEPARENT_LEN..)?;
    let [version] = decode_hex::<1>(head.get(0..2)?, &HEX_LOWER)?;
    if version == 0xff {
        return None;
    }
    if head.get(2) != Some(&b'-') || head.get(35) != Some(&b'-') || head.get(52) != Some(&b'-') {
        return None;
    }
    // Version 00 has exactly four fields; later versions may append `-...`.
    let extra_ok = match tail.first() {
        None => true,
        Some(&b) => version != 0 && b == b'-',
    };
    if !extra_ok {
        return None;
    }
    let trace_id = decode_hex::<16>(head.get(3..35)?, &HEX_LOWER)?;
    let span_id = decode_hex::<8>(head.get(36..52)?, &HEX_LOWER)?;
    let [flags] = decode_hex::<1>(head.get(53..55)?, &HEX_LOWER)?;
    if is_zero(&trace_id) || is_zero(&span_id) {
        return None;
    }
    Some(ParsedContext {
        trace_id,
        span_id,
        sampled: flags & 1 != 0,
        flags,
    })
}

/// Appends `00-{32 hex}-{16 hex}-{01|00}` (lower case, version `00`; the
/// flags carry only the sampled bit, taken from `ctx.sampled`).
pub(crate) fn format_traceparent(ctx: &ParsedContext, out: &mut String) {
    out.reserve(TRACEPARENT_LEN);
    out.push_str("00-");
    push_hex(out, &ctx.trace_id);
    out.push('-');
    push_hex(out, &ctx.span_id);
    out.push_str(if ctx.sampled { "-01" } else { "-00" });
}

/// Maximum number of `tracestate` list members.
const TRACESTATE_MAX_MEMBERS: usize = 32;

fn is_key_char(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
}

/// `first` (checked by `first_ok`) followed by key chars, `1..=max` bytes.
fn valid_key_part(part: &str, max: usize, first_ok: fn(u8) -> bool) -> bool {
    let bytes = part.as_bytes();
    match bytes.split_first() {
        Some((&first, rest)) => {
            bytes.len() <= max && first_ok(first) && rest.iter().all(|&b| is_key_char(b))
        }
        None => false,
    }
}

fn valid_tracestate_key(key: &str) -> bool {
    match key.split_once('@') {
        None => valid_key_part(key, 256, |b| b.is_ascii_lowercase()),
        Some((tenant, system)) => {
            valid_key_part(tenant, 241, |b| {
                b.is_ascii_lowercase() || b.is_ascii_digit()
            }) && valid_key_part(system, 14, |b| b.is_ascii_lowercase())
        }
    }
}

fn valid_tracestate_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=256).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && bytes.last() != Some(&b' ')
}

/// Parses and validates W3C `tracestate` header lines (several lines are
/// combined as if joined with `,`).
///
/// Members are `key=value`; empty members and optional whitespace around
/// members are skipped; at most 32 members; duplicate keys, bad keys or bad
/// values make the whole header invalid (`None`). Returns the members joined
/// by `,` without whitespace; no members at all gives `Some("")`.
#[must_use]
pub(crate) fn parse_tracestate<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut keys: [&str; TRACESTATE_MAX_MEMBERS] = [""; TRACESTATE_MAX_MEMBERS];
    let mut count = 0usize;
    let mut out = String::new();
    for line in lines {
        for member in line.split(',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let (key, value) = member.split_once('=')?;
            if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
                return None;
            }
            if keys.get(..count)?.contains(&key) {
                return None;
            }
            *keys.get_mut(count)? = key;
            if count > 0 {
                out.push(',');
            }
            count += 1;
            out.push_str(member);
        }
    }
    Some(out)
}

/// B3 trace id: 32 or 16 hex digits of either case (16 are left-padded).
fn decode_b3_trace_id(s: &str) -> Option<[u8; 16]> {
    let mut id = [0u8; 16];
    match s.len() {
        32 => decode_hex_into(s.as_bytes(), &mut id, &HEX_ANY)?,
        16 => decode_hex_into(s.as_bytes(), id.get_mut(8..)?, &HEX_ANY)?,
        _ => return None,
    }
    (!is_zero(&id)).then_some(id)
}

/// B3 span id: 16 hex digits of either case, not all zero.
fn decode_b3_span_id(s: &str) -> Option<[u8; 8]> {
    let id = decode_hex::<8>(s.as_bytes(), &HEX_ANY)?;
    (!is_zero(&id)).then_some(id)
}

/// Parses the single `b3` header: `{traceid}-{spanid}[-{sampling}[-{parentspanid}]]`.
///
/// Trace id: 32 or 16 hex digits (16 are left-padded with zeros); span and
/// parent span ids: 16 hex digits; hex of either case is accepted (B3 is
/// lenient in practice); all-zero ids (parent included) are invalid. Sampling:
/// `1` Accept, `0` Deny, `d` Debug, absent Defer. A sampling-only header
/// (`0`, `1`, `d`) carries no ids and therefore returns `None`.
#[must_use]
pub(crate) fn parse_b3_single(value: &str) -> Option<B3> {
    let mut fields = trim_ows(value).split('-');
    let trace_id = decode_b3_trace_id(fields.next()?)?;
    let span_id = decode_b3_span_id(fields.next()?)?;
    let sampling = match fields.next() {
        None => B3Sampling::Defer,
        Some("1") => B3Sampling::Accept,
        Some("0") => B3Sampling::Deny,
        Some("d") => B3Sampling::Debug,
        Some(_) => return None,
    };
    if let Some(parent) = fields.next() {
        decode_b3_span_id(parent)?;
    }
    if fields.next().is_some() {
        return None;
    }
    Some(B3 {
        trace_id,
        span_id,
        sampling,
    })
}

/// Parses the multi-header B3 form: `X-B3-TraceId`, `X-B3-SpanId`,
/// `X-B3-Sampled`, `X-B3-Flags`.
///
/// Both ids are required (same rules as [`parse_b3_single`]). `X-B3-Sampled`:
/// `1`/`true` Accept, `0`/`false` Deny (case-insensitive), absent Defer.
/// `X-B3-Flags`: `1` Debug (overrides `X-B3-Sampled`), `0` or absent nothing.
/// Any other `X-B3-Sampled` / `X-B3-Flags` value (including empty) is invalid.
#[must_use]
pub(crate) fn parse_b3_multi(
    trace_id: Option<&str>,
    span_id: Option<&str>,
    sampled: Option<&str>,
    flags: Option<&str>,
) -> Option<B3> {
    let trace_id = decode_b3_trace_id(trim_ows(trace_id?))?;
    let span_id = decode_b3_span_id(trim_ows(span_id?))?;
    let mut sampling = match sampled.map(trim_ows) {
        None => B3Sampling::Defer,
        Some(s) if s == "1" || s.eq_ignore_ascii_case("true") => B3Sampling::Accept,
        Some(s) if s == "0" || s.eq_ignore_ascii_case("false") => B3Sampling::Deny,
        Some(_) => return None,
    };
    match flags.map(trim_ows) {
        None | Some("0") => {}
        Some("1") => sampling = B3Sampling::Debug,
        Some(_) => return None,
    }
    Some(B3 {
        trace_id,
        span_id,
        sampling,
    })
}

/// Appends a single `b3` header: `{32 hex}-{16 hex}-{1|0}` (from `ctx.sampled`).
pub(crate) fn format_b3_single(ctx: &ParsedContext, out: &mut String) {
    out.reserve(51);
    push_hex(out, &ctx.trace_id);
    out.push('-');
    push_hex(out, &ctx.span_id);
    out.push_str(if ctx.sampled { "-1" } else { "-0" });
}

/// Parses a decimal span id: 1-20 digits, non-zero, at most `u64::MAX`.
fn parse_decimal_span_id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (n != 0).then_some(n)
}

/// Parses `X-Cloud-Trace-Context`: `TRACE_ID/SPAN_ID;o=N` or `TRACE_ID/SPAN_ID`.
///
/// Trace id: exactly 32 hex digits of either case, not all zero. Span id:
/// 1-20 decimal digits, non-zero, at most `u64::MAX` (stored big-endian).
/// `;o=1` sampled, `;o=0` or no option not sampled; anything else is invalid.
#[must_use]
pub(crate) fn parse_google(value: &str) -> Option<ParsedContext> {
    let (trace, rest) = trim_ows(value).split_once('/')?;
    let (span, sampled) = match rest.split_once(';') {
        None => (rest, false),
        Some((span, "o=1")) => (span, true),
        Some((span, "o=0")) => (span, false),
        Some(_) => return None,
    };
    let trace_id = decode_hex::<16>(trace.as_bytes(), &HEX_ANY)?;
    if is_zero(&trace_id) {
        return None;
    }
    let span_id = parse_decimal_span_id(span)?.to_be_bytes();
    Some(ParsedContext {
        trace_id,
        span_id,
        sampled,
        flags: u8::from(sampled),
    })
}

/// Appends `X-Cloud-Trace-Context`: `{32 hex}/{decimal span id};o={1|0}`
/// (from `ctx.sampled`).
pub(crate) fn format_google(ctx: &ParsedContext, out: &mut String) {
    out.reserve(58);
    push_hex(out, &ctx.trace_id);
    out.push('/');
    push_decimal(out, u64::from_be_bytes(ctx.span_id));
    out.push_str(if ctx.sampled { ";o=1" } else { ";o=0" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: &str = "0af7651916cd43dd8448eb211c80319c";
    const S: &str = "b7ad6b7169203331";
    const P: &str = "00f067aa0ba902b7";

    fn ids(trace: &str, span: &str) -> ([u8; 16], [u8; 8]) {
        let mut t = [0u8; 16];
        let padded = format!("{trace:0>32}");
        decode_hex_into(padded.as_bytes(), &mut t, &HEX_ANY).expect("test trace id");
        let s = decode_hex::<8>(span.as_bytes(), &HEX_ANY).expect("test span id");
        (t, s)
    }

    fn ctx(trace: &str, span: &str, flags: u8) -> ParsedContext {
        let (trace_id, span_id) = ids(trace, span);
        ParsedContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
            flags,
        }
    }

    #[test]
    fn traceparent_valid() {
        let ff = "ffffffffffffffffffffffffffffffff";
        let one = "00000000000000000000000000000001";
        let cases: Vec<(String, ParsedContext)> = vec![
            (format!("00-{T}-{S}-01"), ctx(T, S, 1)),
            (format!("00-{T}-{S}-00"), ctx(T, S, 0)),
            (format!("00-{T}-{S}-02"), ctx(T, S, 2)),
            (format!("00-{T}-{S}-03"), ctx(T, S, 3)),
            (format!("00-{T}-{S}-09"), ctx(T, S, 9)),
            (format!("00-{T}-{S}-0f"), ctx(T, S, 0x0f)),
            (format!("00-{T}-{S}-10"), ctx(T, S, 0x10)),
            (format!("00-{T}-{S}-11"), ctx(T, S, 0x11)),
            (format!("00-{T}-{S}-80"), ctx(T, S, 0x80)),
            (format!("00-{T}-{S}-fe"), ctx(T, S, 0xfe)),
            (format!("00-{T}-{S}-ff"), ctx(T, S, 0xff)),
            (format!(" 00-{T}-{S}-01"), ctx(T, S, 1)),
            (format!("00-{T}-{S}-01 "), ctx(T, S, 1)),
            (format!("\t00-{T}-{S}-01\t"), ctx(T, S, 1)),
            (format!(" \t 00-{T}-{S}-01 \t "), ctx(T, S, 1)),
            (format!("01-{T}-{S}-01"), ctx(T, S, 1)),
            (format!("01-{T}-{S}-01-extra"), ctx(T, S, 1)),
            (format!("01-{T}-{S}-00-what-ever-else"), ctx(T, S, 0)),
            (format!("01-{T}-{S}-01-"), ctx(T, S, 1)),
            (format!("02-{T}-{S}-00"), ctx(T, S, 0)),
            (format!("cc-{T}-{S}-01"), ctx(T, S, 1)),
            (format!("fe-{T}-{S}-00-x"), ctx(T, S, 0)),
            (
                format!("00-{one}-0000000000000001-01"),
                ctx(one, "0000000000000001", 1),
            ),
            (
                format!("00-{ff}-ffffffffffffffff-01"),
                ctx(ff, "ffffffffffffffff", 1),
            ),
            (
                format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{P}-01"),
                ctx("4bf92f3577b34da6a3ce929d0e0e4736", P, 1),
            ),
            (
                "00-10000000000000000000000000000000-1000000000000000-00".to_owned(),
                ctx("10000000000000000000000000000000", "1000000000000000", 0),
            ),
        ];
        assert!(cases.len() >= 25);
        for (input, expected) in &cases {
            assert_eq!(parse_traceparent(input), Some(*expected), "{input:?}");
        }
    }

    #[test]
    fn traceparent_invalid() {
        let zeros32 = "0".repeat(32);
        let upper_t = T.to_ascii_uppercase();
        let upper_s = S.to_ascii_uppercase();
        let cases: Vec<String> = vec![
            String::new(),
            " ".into(),
            "\t \t".into(),
            "00-1-2-01".into(),
            format!("00-{T}-{S}"),
            format!("00-{T}-{S}-"),
            format!("00-{T}-{S}-1"),
            format!("00-{T}-{S}-001"),
            format!("00-{upper_t}-{S}-01"),
            format!("00-{T}-{upper_s}-01"),
            format!("00-{T}-{S}-0F"),
            format!("0A-{T}-{S}-01"),
            format!("ff-{T}-{S}-01"),
            format!("ff-{T}-{S}-01-extra"),
            format!("ff-{}-ffffffffffffffff-ff", "f".repeat(32)),
            format!("00-{T}-{S}-01-extra"),
            format!("00-{T}-{S}-01-"),
            format!("00-{T}-{S}-01 extra"),
            format!("00-{zeros32}-{S}-01"),
            format!("00-{T}-0000000000000000-01"),
            format!("00-{zeros32}-0000000000000000-00"),
            format!("+0-{T}-{S}-01"),
            format!("00-+{}-{S}-01", &T[1..]),
            format!("00-{T}--{}-01", &S[1..]),
            format!("00-{T}-{S}-+1"),
            format!("00-{T}-{S}--1"),
            format!("00_{T}_{S}_01"),
            format!("00 {T} {S} 01"),
            format!("00-{T}-{S}-01\n"),
            format!("\n00-{T}-{S}-01"),
            format!("00-{T}-{S}-0g"),
            format!("00-{}-{S}-01", &T[..31]),
            format!("00-{T}0-{S}-01"),
            format!("00-{T}-{}-01", &S[..15]),
            format!("00-{T}-{S}0-01"),
            format!("00-{T}-{S}-0é"),
            format!("00-{}é-{S}-01", &T[..30]),
            format!("00-{}g-{S}-01", &T[..31]),
            format!("0-{T}-{S}-01"),
            format!("000-{T}-{S}-01"),
            format!("01-{T}-{S}-01x"),
            format!("01-{T}-{S}-0"),
            format!("zz-{T}-{S}-01"),
            format!("0x-{T}-{S}-01"),
            format!("-00-{T}-{S}-01"),
            format!("00-{T}-{S}-0 "),
            format!("00-{T}-{S}-01\u{a0}"),
        ];
        assert!(cases.len() >= 40);
        for input in &cases {
            assert_eq!(parse_traceparent(input), None, "{input:?}");
        }
    }

    #[test]
    fn traceparent_format() {
        let mut out = String::from("x=");
        format_traceparent(&ctx(T, S, 0xff), &mut out);
        assert_eq!(out, format!("x=00-{T}-{S}-01"));
        out.clear();
        format_traceparent(&ctx(T, S, 0x10), &mut out);
        assert_eq!(out, format!("00-{T}-{S}-00"));
    }

    #[test]
    fn tracestate_table() {
        let key256 = format!("a{}", "b".repeat(255));
        let key257 = format!("a{}", "b".repeat(256));
        let tenant241 = format!("1{}@sys", "t".repeat(240));
        let tenant242 = format!("1{}@sys", "t".repeat(241));
        let value256 = "v".repeat(256);
        let value257 = "v".repeat(257);
        let members32: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        let joined32 = members32.join(",");
        let joined33 = format!("{joined32},k32=v");
        let (k256, k257) = (format!("{key256}=v"), format!("{key257}=v"));
        let (t241, t242) = (format!("{tenant241}=v"), format!("{tenant242}=v"));
        let (v256, v257) = (format!("k={value256}"), format!("k={value257}"));
        let cases: Vec<(Vec<&str>, Option<String>)> = vec![
            (vec!["congo=t61rcWkgMzE"], Some("congo=t61rcWkgMzE".into())),
            (
                vec!["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"],
                Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into()),
            ),
            (vec!["rojo=1", "congo=2"], Some("rojo=1,congo=2".into())),
            (vec!["rojo=1 , congo=2"], Some("rojo=1,congo=2".into())),
            (vec![" , ,rojo=1,,"], Some("rojo=1".into())),
            (vec!["\trojo=1\t"], Some("rojo=1".into())),
            (vec!["", "rojo=1", ""], Some("rojo=1".into())),
            (vec![], Some(String::new())),
            (vec![""], Some(String::new())),
            (vec!["rojo=a b"], Some("rojo=a b".into())),
            (vec!["rojo= 1"], Some("rojo= 1".into())),
            (vec!["k-_*/9=v"], Some("k-_*/9=v".into())),
            (vec!["tenant@system=1"], Some("tenant@system=1".into())),
            (vec!["1tenant@sys=1"], Some("1tenant@sys=1".into())),
            (
                vec!["t@abcdefghijklmn=1"],
                Some("t@abcdefghijklmn=1".into()),
            ),
            (vec!["t@abcdefghijklmno=1"], None),
            (vec!["t@1sys=1"], None),
            (vec!["@sys=1"], None),
            (vec!["t@=1"], None),
            (vec!["a@b@c=1"], None),
            (vec!["rojo=1,rojo=2"], None),
            (vec!["rojo=1", "rojo=2"], None),
            (vec!["Rojo=1"], None),
            (vec!["1rojo=1"], None),
            (vec!["rojo="], None),
            (vec!["rojo"], None),
            (vec!["=v"], None),
            (vec!["rojo=a=b"], None),
            (vec!["rojo=é"], None),
            (vec!["rojo=1\u{7f}"], None),
            (vec!["ro jo=1"], None),
            (vec!["rojo=1", "bad"], None),
            (vec![&k256], Some(k256.clone())),
            (vec![&k257], None),
            (vec![&t241], Some(t241.clone())),
            (vec![&t242], None),
            (vec![&v256], Some(v256.clone())),
            (vec![&v257], None),
            (vec![&joined32], Some(joined32.clone())),
            (vec![&joined33], None),
        ];
        for (lines, expected) in cases {
            assert_eq!(
                parse_tracestate(lines.iter().copied()),
                expected,
                "{lines:?}"
            );
        }
    }

    #[test]
    fn b3_single_table() {
        let b3 = |trace: &str, span: &str, sampling| {
            let (trace_id, span_id) = ids(trace, span);
            Some(B3 {
                trace_id,
                span_id,
                sampling,
            })
        };
        let t16 = "463ac35c9f6413ad";
        let upper_t = T.to_ascii_uppercase();
        let cases: Vec<(String, Option<B3>)> = vec![
            (format!("{T}-{S}-1"), b3(T, S, B3Sampling::Accept)),
            (format!("{T}-{S}-0"), b3(T, S, B3Sampling::Deny)),
            (format!("{T}-{S}-d"), b3(T, S, B3Sampling::Debug)),
            (format!("{T}-{S}"), b3(T, S, B3Sampling::Defer)),
            (format!("{T}-{S}-1-{P}"), b3(T, S, B3Sampling::Accept)),
            (format!("{t16}-{S}-1"), b3(t16, S, B3Sampling::Accept)),
            (
                format!("{upper_t}-{}-1", S.to_ascii_uppercase()),
                b3(T, S, B3Sampling::Accept),
            ),
            (format!(" {T}-{S}-1\t"), b3(T, S, B3Sampling::Accept)),
            ("1".into(), None),
            ("0".into(), None),
            ("d".into(), None),
            (String::new(), None),
            (format!("{T}-{S}-2"), None),
            (format!("{T}-{S}-true"), None),
            (format!("{T}-{S}-"), None),
            (format!("{T}-{S}-1-{P}-x"), None),
            (format!("{T}-{S}-1-00f0"), None),
            (format!("{T}-{S}-1-0000000000000000"), None),
            (format!("{}-{S}-1", "0".repeat(32)), None),
            (format!("{}-{S}-1", "0".repeat(16)), None),
            (format!("{T}-0000000000000000-1"), None),
            (format!("{}-{S}-1", &T[..20]), None),
            (format!("{T}-{}-1", &S[..15]), None),
            (format!("{T}-{S}-1 x"), None),
            (format!("{T}x-{S}-1"), None),
        ];
        for (input, expected) in &cases {
            assert_eq!(parse_b3_single(input), *expected, "{input:?}");
        }
        assert!(parse_b3_single(&format!("{T}-{S}-d")).is_some_and(|b| b.sampled()));
        assert!(parse_b3_single(&format!("{T}-{S}")).is_some_and(|b| !b.sampled()));
    }

    #[test]
    fn b3_multi_table() {
        let t16 = "463ac35c9f6413ad";
        let sampling = |t: Option<&str>, s: Option<&str>, sm: Option<&str>, f: Option<&str>| {
            parse_b3_multi(t, s, sm, f).map(|b| b.sampling)
        };
        use B3Sampling::*;
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            Option<B3Sampling>,
        );
        let cases: Vec<Row<'_>> = vec![
            (Some(T), Some(S), Some("1"), None, Some(Accept)),
            (Some(T), Some(S), Some("true"), None, Some(Accept)),
            (Some(T), Some(S), Some("TRUE"), None, Some(Accept)),
            (Some(T), Some(S), Some("0"), None, Some(Deny)),
            (Some(T), Some(S), Some("false"), None, Some(Deny)),
            (Some(T), Some(S), None, None, Some(Defer)),
            (Some(T), Some(S), Some("0"), Some("1"), Some(Debug)),
            (Some(T), Some(S), None, Some("1"), Some(Debug)),
            (Some(T), Some(S), Some("1"), Some("0"), Some(Accept)),
            (Some(t16), Some(S), Some(" 1 "), None, Some(Accept)),
            (None, Some(S), Some("1"), None, None),
            (Some(T), None, Some("1"), None, None),
            (Some(T), Some(S), Some("yes"), None, None),
            (Some(T), Some(S), Some(""), None, None),
            (Some(T), Some(S), Some("d"), None, None),
            (Some(T), Some(S), None, Some("2"), None),
            (Some("0"), Some(S), None, None, None),
            (Some(T), Some("0000000000000000"), None, None, None),
        ];
        for (t, s, sm, f, expected) in cases {
            assert_eq!(sampling(t, s, sm, f), expected, "{t:?} {s:?} {sm:?} {f:?}");
        }
        let padded = parse_b3_multi(Some(t16), Some(S), None, None).map(|b| b.trace_id);
        assert_eq!(padded, Some(ids(t16, S).0));
        assert_eq!(padded.map(|t| t[..8] == [0; 8]), Some(true));
    }

    #[test]
    fn b3_format() {
        let mut out = String::new();
        format_b3_single(&ctx(T, S, 1), &mut out);
        assert_eq!(out, format!("{T}-{S}-1"));
        out.clear();
        format_b3_single(&ctx(T, S, 0), &mut out);
        assert_eq!(out, format!("{T}-{S}-0"));
    }

    #[test]
    fn google_table() {
        let g = |trace: &str, span: u64, sampled: bool| {
            let (trace_id, _) = ids(trace, "0000000000000001");
            Some(ParsedContext {
                trace_id,
                span_id: span.to_be_bytes(),
                sampled,
                flags: u8::from(sampled),
            })
        };
        let upper_t = T.to_ascii_uppercase();
        let cases: Vec<(String, Option<ParsedContext>)> = vec![
            (format!("{T}/12345;o=1"), g(T, 12345, true)),
            (format!("{T}/12345;o=0"), g(T, 12345, false)),
            (format!("{T}/12345"), g(T, 12345, false)),
            (
                format!("{T}/18446744073709551615;o=1"),
                g(T, u64::MAX, true),
            ),
            (format!("{upper_t}/1;o=1"), g(T, 1, true)),
            (format!("{T}/1"), g(T, 1, false)),
            (format!(" {T}/1;o=1\t"), g(T, 1, true)),
            (format!("{T}/00000000000000000001"), g(T, 1, false)),
            (format!("{T}/18446744073709551616"), None),
            (format!("{T}/123456789012345678901"), None),
            (format!("{T}/000000000000000000001"), None),
            (format!("{T}/0"), None),
            (format!("{T}/0;o=1"), None),
            (format!("{T}/"), None),
            (format!("{T}/;o=1"), None),
            (format!("{T}/12;o=2"), None),
            (format!("{T}/12;o="), None),
            (format!("{T}/12;o=1x"), None),
            (format!("{T}/12;O=1"), None),
            (format!("{T}/12;o=1;x"), None),
            (format!("{T}/12 ;o=1"), None),
            (format!("{T}/12; o=1"), None),
            (format!("{T} /12"), None),
            (format!("{}/12", "0".repeat(32)), None),
            (format!("{}/12", &T[..31]), None),
            (format!("{T}0/12"), None),
            (format!("{T}/-12"), None),
            (format!("{T}/+12"), None),
            (format!("{T}12"), None),
            (String::new(), None),
        ];
        for (input, expected) in &cases {
            assert_eq!(parse_google(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn google_format() {
        let mut out = String::new();
        let mut c = ctx(T, "ffffffffffffffff", 1);
        format_google(&c, &mut out);
        assert_eq!(out, format!("{T}/18446744073709551615;o=1"));
        out.clear();
        c.span_id = 42u64.to_be_bytes();
        c.sampled = false;
        format_google(&c, &mut out);
        assert_eq!(out, format!("{T}/42;o=0"));
    }

    fn valid_context() -> impl Strategy<Value = ParsedContext> {
        (
            proptest::array::uniform16(any::<u8>()).prop_filter("non-zero", |t| !is_zero(t)),
            proptest::array::uniform8(any::<u8>()).prop_filter("non-zero", |s| !is_zero(s)),
            any::<bool>(),
        )
            .prop_map(|(trace_id, span_id, sampled)| ParsedContext {
                trace_id,
                span_id,
                sampled,
                flags: u8::from(sampled),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_strings_never_panic(s in ".{0,80}|[0-9a-fA-F/;o=d -]{0,80}", t in ".{0,40}") {
            let _ = parse_traceparent(&s);
            let _ = parse_tracestate([s.as_str(), t.as_str()]);
            let _ = parse_b3_single(&s);
            let _ = parse_b3_multi(Some(&s), Some(&t), Some(&s), Some(&t));
            let _ = parse_google(&s);
        }

        #[test]
        fn traceparent_round_trip(c in valid_context()) {
            let mut out = String::new();
            format_traceparent(&c, &mut out);
            prop_assert_eq!(parse_traceparent(&out), Some(c));
        }

        #[test]
        fn b3_round_trip(c in valid_context()) {
            let mut out = String::new();
            format_b3_single(&c, &mut out);
            let parsed = parse_b3_single(&out);
            prop_assert_eq!(parsed.map(|b| b.to_context()), Some(c));
        }

        #[test]
        fn google_round_trip(c in valid_context()) {
            let mut out = String::new();
            format_google(&c, &mut out);
            prop_assert_eq!(parse_google(&out), Some(c));
        }
    }
}
