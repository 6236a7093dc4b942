//! Parser for OpenCensus (Python) configuration "spec strings".
//!
//! A spec string names a component and its constructor arguments the way an
//! OpenCensus Python configuration does, for example
//! `opencensus.trace.samplers.ProbabilitySampler(rate=0.5)`. The text is
//! **never evaluated**: [`parse`] accepts only this safe subset and reports
//! anything else (arithmetic, lambdas, f-strings, unpacking, ...) as a
//! [`SpecError`] with a byte [`Span`] that [`render_snippet`] can underline.
//!
//! ```text
//! spec    = ws call ws                          ; nothing else may follow
//! call    = dotted ws "(" ws [args] ws ")"      ; at top level the "()" may be omitted
//! dotted  = ident *( ws "." ws ident )           ; ident = [A-Za-z_][A-Za-z0-9_]*
//! args    = arg *( ws "," ws arg ) [ ws "," ]   ; positional before keyword, no repeats
//! arg     = ident ws "=" ws value / value
//! value   = string / number / "True" / "False" / "None" / list / tuple / dict / call / dotted
//! list    = "[" [ value *("," value) [","] ] "]"
//! tuple   = "(" ")" / "(" value "," ")" / "(" value ("," value)+ [","] ")"
//! dict    = "{" [ value ":" value *("," value ":" value) [","] ] "}"
//! string  = '...' / "..." / '''...''' / """..."""   with backslash escapes
//! number  = ["+" / "-"] int / float                 ; 1, 0.5, .5, 1., 5e-1, 1E4
//! ws      = spaces, tabs, CR/LF, "# comment" to end of line
//! ```
//!
//! Inside arguments a dotted name not followed by `(` is a [`Value::Ref`].
//! Nesting is limited to 64 levels, and no input makes the parser panic.

mod error;
mod lexer;
mod parse_errors;
mod parser;
#[cfg(test)]
mod parser_tests;
pub(crate) mod render;
mod value;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod snapshots_test;

pub use error::SpecError;
pub use parser::parse;
pub use render::render_snippet;
pub use value::{Arg, Call, Span, Spanned, Value};

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions) over chars.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    // Three rolling rows: two back (for transpositions), previous, current.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut d = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca) {
                d = d.min(prev2[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn lowercase_chars(s: &str) -> Vec<char> {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// The candidate closest to `name`, for "did you mean ...?" hints.
///
/// Uses the case-insensitive optimal-string-alignment distance (Levenshtein
/// plus adjacent transpositions). A candidate qualifies only if its distance
/// is at most `max(1, chars(name) / 3)`; among qualifying candidates the
/// smallest distance wins, ties going to the first in iteration order.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let target = lowercase_chars(name);
    let limit = (target.len() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let cand = lowercase_chars(candidate);
        if cand.len().abs_diff(target.len()) > limit {
            continue;
        }
        let d = osa_distance(&target, &cand);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn dist(a: &str, b: &str) -> usize {
        osa_distance(&lowercase_chars(a), &lowercase_chars(b))
    }

    #[test]
    fn distances() {
        let table = [
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
            ("rate", "rtae", 1),
            ("ca", "abc", 3),
            ("Rate", "rate", 0),
            ("flaw", "lawn", 2),
            ("héllo", "hello", 1),
        ];
        for (a, b, want) in table {
            assert_eq!(dist(a, b), want, "{a} vs {b}");
            assert_eq!(dist(b, a), want, "{b} vs {a}");
        }
    }

    #[test]
    fn closest_picks_best_within_limit() {
        let names = ["ProbabilitySampler", "AlwaysOnSampler", "AlwaysOffSampler"];
        assert_eq!(
            closest("ProbabiltySampler", names),
            Some("ProbabilitySampler")
        );
        assert_eq!(closest("alwaysonsampler", names), Some("AlwaysOnSampler"));
        assert_eq!(closest("AlwaysOffSamplr", names), Some("AlwaysOffSampler"));
        assert_eq!(closest("Tracer", names), None);
        // Short names still allow one edit.
        assert_eq!(closest("true", ["True", "False", "None"]), Some("True"));
        assert_eq!(closest("nul", ["None"]), None);
        assert_eq!(closest("rtae", ["rate"]), Some("rate"));
        // Ties go to the first candidate.
        assert_eq!(closest("ab", ["ac", "ad"]), Some("ac"));
        assert_eq!(closest("x", std::iter::empty()), None);
        // Limit is a third of the name's length.
        assert_eq!(closest("abcdefghi", ["abcdefxyz"]), Some("abcdefxyz"));
        assert_eq!(closest("abcdefghi", ["abcdewxyz"]), None);
    }
}
