//! JSON primitives for the envelope writer: strings escaped straight into the body, cut to a
//! byte limit at a character boundary, and integers through `itoa` (no allocation).

use opentelemetry::Value;

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

/// `s` cut to at most `max` bytes, at a character boundary (the crate cuts at the byte count
/// and panics inside a multi-byte character).
pub(super) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Which bytes need an escape in a JSON string: `"`, `\\` and the control characters.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Appends `s` as the inside of a JSON string. Runs that need no escape (nearly all of a
/// span's text) are found with one table lookup a byte and copied at once.
pub(super) fn escape(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !NEEDS_ESCAPE[usize::from(b)] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes one JSON string of at most `max` bytes (before escaping) from several pieces.
pub(super) struct Limited<'o> {
    out: &'o mut Vec<u8>,
    left: usize,
}

impl<'o> Limited<'o> {
    pub(super) fn open(out: &'o mut Vec<u8>, max: usize) -> Limited<'o> {
        out.push(b'"');
        Limited { out, left: max }
    }

    pub(super) fn str(&mut self, s: &str) {
        if self.left == 0 {
            return;
        }
        let s = cut(s, self.left);
        self.left -= s.len();
        escape(self.out, s);
    }

    pub(super) fn int(&mut self, v: i64) {
        let mut buf = itoa::Buffer::new();
        self.str(buf.format(v));
    }

    /// A value as the crate prints it (`Value::as_str`), without allocating for the common
    /// kinds.
    pub(super) fn value(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.str(s.as_str()),
            Value::I64(i) => self.int(*i),
            Value::Bool(b) => self.str(if *b { "true" } else { "false" }),
            other => self.str(&other.as_str()),
        }
    }

    /// Lower-case hex of up to 16 bytes (an id), written at once.
    pub(super) fn hex(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= 16, "ids are 8 or 16 bytes");
        let mut digits = [0u8; 32];
        let mut n = 0;
        for (pair, b) in digits.chunks_exact_mut(2).zip(bytes) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
            n += 2;
        }
        let take = n.min(self.left);
        self.out.extend_from_slice(&digits[..take]);
        self.left -= take;
    }

    pub(super) fn close(self) {
        self.out.push(b'"');
    }
}

/// One JSON string of at most `max` bytes.
pub(super) fn json_str(out: &mut Vec<u8>, s: &str, max: usize) {
    let mut w = Limited::open(out, max);
    w.str(s);
    w.close();
}

/// One JSON string of a value, at most `max` bytes.
pub(super) fn json_value(out: &mut Vec<u8>, v: &Value, max: usize) {
    let mut w = Limited::open(out, max);
    w.value(v);
    w.close();
}

/// A non-negative integer's decimal digits.
pub(super) fn uint(out: &mut Vec<u8>, v: u64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}
