//! Attribute values that repeat from one request to the next (the path, the route template,
//! the host name, the `User-Agent`, the client address), shared as `Arc<str>` from a small
//! cache per thread instead of copied for every request.
//!
//! A copy costs an allocation on the worker and a free on the export thread, which is
//! glibc's slow path (the chunk belongs to another thread's arena, so the worker's own cache
//! of free chunks never refills). A hit costs a hash of the string's ends, one comparison and
//! a reference count.
//!
//! The cache is direct-mapped: a string has one slot, and a different string there replaces
//! it. So it stays bounded (`SLOTS` strings of at most `MAX_LEN` bytes a thread) whatever
//! clients send, a lookup is O(1), and values a client controls cannot make it slow or big.

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::{StringValue, Value};

const SLOTS: usize = 64;
/// Longer values are copied, not cached.
const MAX_LEN: usize = 256;

thread_local! {
    static CACHE: RefCell<[Option<Arc<str>>; SLOTS]> =
        const { RefCell::new([const { None }; SLOTS]) };
}

/// Up to 8 bytes as a little-endian word (zero-padded).
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    w[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(w)
}

/// The slot of `s`: its length and its first and last eight bytes, mixed.
fn slot(s: &str) -> usize {
    let b = s.as_bytes();
    let head = word(b);
    let tail = word(&b[b.len().saturating_sub(8)..]);
    let h = (head ^ tail.rotate_left(29) ^ b.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // The top bits are the best mixed; SLOTS is 2^6.
    (h >> 58) as usize
}

/// `s` as an attribute value: the cached `Arc<str>` when this thread saw it last in its
/// slot, else a new one (cached for the next request).
pub(super) fn shared(s: &str) -> Value {
    if s.len() > MAX_LEN {
        return Value::String(s.to_string().into());
    }
    let arc = CACHE.try_with(|cache| {
        let mut cache = cache.try_borrow_mut().ok()?;
        let entry = cache.get_mut(slot(s))?;
        match entry {
            Some(hit) if **hit == *s => Some(hit.clone()),
            _ => {
                let new: Arc<str> = Arc::from(s);
                *entry = Some(new.clone());
                Some(new)
            }
        }
    });
    match arc {
        Ok(Some(arc)) => Value::String(StringValue::from(arc)),
        // The thread is exiting (its cache is gone), or a lookup is under way on it: a copy.
        Ok(None) | Err(_) => Value::String(s.to_string().into()),
    }
}

/// An IP address as an attribute value (`client.address`): formatted on the stack, then
/// shared like any other repeating value (a client's address repeats for every request of its
/// connections).
pub(super) fn ip(addr: std::net::IpAddr) -> Value {
    use std::fmt::Write as _;
    let mut text = Inline::default();
    match write!(text, "{addr}") {
        Ok(()) => shared(text.as_str()),
        Err(_) => Value::String(addr.to_string().into()),
    }
}

/// Text written into a fixed buffer: the longest IP address std writes (39 bytes) fits with
/// room to spare; longer text is an error, never cut.
struct Inline {
    buf: [u8; 64],
    len: usize,
}

impl Default for Inline {
    fn default() -> Self {
        Inline {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl Inline {
    fn as_str(&self) -> &str {
        // Only whole `str`s were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for Inline {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let room = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Inline, MAX_LEN, SLOTS, ip, shared, slot};

    /// Whether two values are one string in memory.
    fn same(a: &opentelemetry::Value, b: &opentelemetry::Value) -> bool {
        std::ptr::eq(a.as_str().as_ptr(), b.as_str().as_ptr())
    }

    #[test]
    fn values_are_what_was_given_and_repeats_share_one_string() {
        let long = "x".repeat(MAX_LEN + 1);
        for s in ["/", "/users/{id}", "127.0.0.1", "a\u{e9}b", &long] {
            let (first, again) = (shared(s), shared(s));
            assert_eq!(first.as_str(), s);
            assert_eq!(again.as_str(), s);
            // Cached up to MAX_LEN; a longer value is a copy each time.
            assert_eq!(same(&first, &again), s.len() <= MAX_LEN, "{s}");
        }
        // Two strings of one slot replace each other, and each still reads as itself.
        let base = "/api/a";
        let other = (0..10_000)
            .map(|i| format!("/api/{i}"))
            .find(|s| slot(s) == slot(base))
            .unwrap();
        let a = shared(base);
        let b = shared(&other);
        let a_again = shared(base);
        assert_eq!(b.as_str(), other.as_str());
        assert_eq!(a_again.as_str(), base);
        assert!(
            !same(&a, &a_again),
            "the other string took the slot in between"
        );
        // Keys of one shape spread over the slots (a hash that ignored their ends would put
        // them all in a few).
        let mut used = [false; SLOTS];
        for i in 0..1000 {
            used[slot(&format!("/users/{i}"))] = true;
        }
        let spread = used.iter().filter(|u| **u).count();
        assert!(spread >= SLOTS * 3 / 4, "{spread} of {SLOTS} slots used");
    }

    #[test]
    fn an_ip_address_is_written_whole_and_shared() {
        use std::fmt::Write as _;
        use std::net::{IpAddr, Ipv4Addr};
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 168, 100, 200));
        assert_eq!(ip(v4).as_str(), "192.168.100.200");
        assert!(same(&ip(v4), &ip(v4)));
        // The longest text std writes for an address (39 bytes) fits the buffer: it is cached
        // (a formatting error would give a fresh copy each time).
        let long: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"
            .parse()
            .expect("an IPv6 address");
        assert_eq!(ip(long).as_str(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
        assert!(same(&ip(long), &ip(long)));
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
        assert_eq!(ip(mapped).as_str(), "::ffff:10.0.0.1");
        // Text beyond the buffer is an error, never cut.
        let mut text = Inline::default();
        assert!(text.write_str(&"x".repeat(64)).is_ok());
        assert!(text.write_str("y").is_err());
        assert_eq!(text.as_str().len(), 64);
    }
}
