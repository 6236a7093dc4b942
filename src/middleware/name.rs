//! The request span's name, decided here and nowhere else.
//!
//! - `"{METHOD} {route}"` when a route template matched (`GET /users/{id}`): the template,
//!   never the raw path (its cardinality is unbounded, and it may carry ids and secrets);
//! - `"{METHOD}"` alone when no route matched (a 404 that reached the router's fallback, a
//!   layer outside the router);
//! - `HTTP` in place of the method for methods outside the standard set (so a client cannot
//!   mint span names), as the semantic conventions say.
//!
//! The sampler sees the method alone (a sampled-out request builds no name). A recording span
//! gets its full name: at its start on the installed pipeline (the middleware decided first),
//! by a rename otherwise (a layer's own provider, the global tracer); a nested router's layer
//! (which knows the innermost route) renames it through the same function.

use std::borrow::Cow;

#[cfg(feature = "axum")]
use crate::tracer::known_method;

/// The span name for a request of `method` (as received) that matched `route` (the nested
/// layer's rename, which has the method only as received).
#[cfg(feature = "axum")]
pub(crate) fn span_name(method: &str, route: Option<&str>) -> Cow<'static, str> {
    known_span_name(known_method(method), route)
}

/// [`span_name`] for a method already looked up with `known_method` (`None`: not standard),
/// so the request path looks it up once.
pub(crate) fn known_span_name(
    method: Option<&'static str>,
    route: Option<&str>,
) -> Cow<'static, str> {
    let method = method.unwrap_or("HTTP");
    match route {
        Some(route) => {
            let mut name = String::with_capacity(method.len() + 1 + route.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(route);
            Cow::Owned(name)
        }
        None => Cow::Borrowed(method),
    }
}

#[cfg(test)]
mod tests {
    use super::known_span_name;
    use crate::tracer::known_method;

    fn span_name(method: &str, route: Option<&str>) -> String {
        known_span_name(known_method(method), route).into_owned()
    }

    #[test]
    fn the_naming_rule() {
        assert_eq!(span_name("GET", Some("/users/{id}")), "GET /users/{id}");
        assert_eq!(span_name("POST", None), "POST");
        assert_eq!(span_name("PURGE", Some("/x")), "HTTP /x");
        assert_eq!(span_name("get", None), "HTTP");
    }
}
