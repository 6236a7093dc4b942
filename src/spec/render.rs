//! rustc-style rendering of a span of a spec string.

use super::value::{Span, is_invisible_format};

/// How many lines of a multi-line span are shown before `...`.
const MAX_SPAN_LINES: usize = 5;

/// Width in columns of a tab in the rendered snippet.
const TAB_WIDTH: usize = 4;

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// One line of the text: `start..end` is its content without the `\n` (and a `\r` before it).
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
}

fn lines_of(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            let end = if i > start && text.as_bytes().get(i - 1) == Some(&b'\r') {
                i - 1
            } else {
                i
            };
            lines.push(Line { start, end });
            start = i + 1;
        }
    }
    lines.push(Line {
        start,
        end: text.len(),
    });
    lines
}

/// Index of the line containing byte `pos` (positions in a line break belong to the line it ends).
fn line_index(lines: &[Line], pos: usize) -> usize {
    lines.partition_point(|l| l.start <= pos).saturating_sub(1)
}

/// The printed form of a line and the display column at which each byte position starts.
struct PrintedLine {
    text: String,
    /// `(byte position, column)` for each char start, plus the end of the line.
    cols: Vec<(usize, usize)>,
}

impl PrintedLine {
    fn new(text: &str, line: Line, redact: &[(usize, usize)]) -> Self {
        let mut printed = String::new();
        let mut cols = Vec::new();
        let mut col = 0;
        let content = text.get(line.start..line.end).unwrap_or("");
        for (off, c) in content.char_indices() {
            let pos = line.start + off;
            cols.push((pos, col));
            if redact
                .iter()
                .any(|&(s, e)| s < pos + c.len_utf8() && pos < e)
            {
                printed.push('*');
                col += 1;
            } else if c == '\t' {
                printed.push_str(&" ".repeat(TAB_WIDTH));
                col += TAB_WIDTH;
            } else if c.is_control() || is_invisible_format(c) {
                printed.push('\u{fffd}');
                col += 1;
            } else {
                printed.push(c);
                col += 1;
            }
        }
        cols.push((line.end, col));
        Self {
            text: printed,
            cols,
        }
    }

    /// Display column of byte position `pos` (clamped to the line).
    fn col(&self, pos: usize) -> usize {
        let i = self
            .cols
            .partition_point(|&(p, _)| p <= pos)
            .saturating_sub(1);
        self.cols.get(i).map_or(0, |&(_, c)| c)
    }
}

/// Renders a code snippet with a gutter and carets, rustc-style.
///
/// `text` is the whole spec (may be multi-line) and `span` the byte range to
/// underline; an empty span gets one caret at `span.start`, and a span at
/// `text.len()` puts the caret just after the end. Characters overlapping
/// any `redact` range are printed as one `*` each (to hide secrets). `label`
/// is printed after the carets if non-empty.
///
/// Columns are counted in chars, tabs are printed as 4 spaces, and control
/// characters as `U+FFFD`. A span covering several lines underlines each
/// covered line (at most 5, then a `...` line). Invalid ranges never panic:
/// they are clamped to the text and widened to char boundaries. The result has
/// no trailing whitespace on any line and no trailing newline:
///
/// ```text
///    |
///  1 | ProbabilitySampler(rate=1.5)
///    |                         ^^^ label
/// ```
pub fn render_snippet(text: &str, span: Span, redact: &[Span], label: &str) -> String {
    render_snippet_from(text, span, redact, label, 1)
}

/// [`render_snippet`], the gutter numbering `text`'s first line `first_line` (its line in the
/// file it came from), so a multi-line spec string's lines are numbered as the file's.
pub(crate) fn render_snippet_from(
    text: &str,
    span: Span,
    redact: &[Span],
    label: &str,
    first_line: usize,
) -> String {
    let offset = first_line.max(1);
    let start = floor_boundary(text, span.start);
    let end = ceil_boundary(text, span.end.max(span.start)).max(start);
    let redact: Vec<(usize, usize)> = redact
        .iter()
        .filter(|r| r.start < r.end)
        .map(|r| (r.start, r.end))
        .collect();
    let label = label.replace(['\n', '\r'], " ");
    let lines = lines_of(text);
    let first = line_index(&lines, start);
    let last = if end > start {
        line_index(&lines, end - 1)
    } else {
        first
    }
    .max(first);
    let truncated = last - first >= MAX_SPAN_LINES;
    let shown_last = if truncated {
        first + MAX_SPAN_LINES - 1
    } else {
        last
    };
    let width = (shown_last.saturating_add(offset)).to_string().len();
    let blank = " ".repeat(width);
    let mut out: Vec<String> = vec![format!(" {blank} |")];
    for idx in first..=shown_last {
        let Some(&line) = lines.get(idx) else {
            break;
        };
        let printed = PrintedLine::new(text, line, &redact);
        out.push(
            format!(" {:>width$} | {}", idx.saturating_add(offset), printed.text)
                .trim_end()
                .to_owned(),
        );
        let a = start.clamp(line.start, line.end);
        let b = end.clamp(line.start, line.end);
        let col_a = printed.col(a);
        let carets = printed.col(b).saturating_sub(col_a).max(1);
        let mut caret_line = format!(" {blank} | {}{}", " ".repeat(col_a), "^".repeat(carets));
        if idx == shown_last && !label.is_empty() {
            caret_line.push(' ');
            caret_line.push_str(&label);
        }
        out.push(caret_line.trim_end().to_owned());
    }
    if truncated {
        out.push("...".to_owned());
    }
    out.join("\n")
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::single_range_in_vec_init,
    clippy::reversed_empty_ranges
)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_label() {
        let got = render_snippet("ProbabilitySampler(rate=1.5)", 24..27, &[], "label");
        let want =
            "   |\n 1 | ProbabilitySampler(rate=1.5)\n   |                         ^^^ label";
        assert_eq!(got, want);
    }

    #[test]
    fn empty_span_and_end_of_text() {
        assert_eq!(
            render_snippet("A(x", 3..3, &[], ""),
            "   |\n 1 | A(x\n   |    ^"
        );
        assert_eq!(
            render_snippet("A(x", 1..1, &[], ""),
            "   |\n 1 | A(x\n   |  ^"
        );
        assert_eq!(
            render_snippet("", 0..0, &[], "here"),
            "   |\n 1 |\n   | ^ here"
        );
    }

    #[test]
    fn multibyte_and_tabs_align() {
        let text = "é\tA(ü=1)";
        let start = text.find('ü').unwrap();
        let got = render_snippet(text, start..start + 'ü'.len_utf8(), &[], "");
        assert_eq!(got, "   |\n 1 | é    A(ü=1)\n   |        ^");
    }

    #[test]
    fn redaction_hides_chars() {
        let text = "A(key='sécret', x=1)";
        let s = text.find('s').unwrap();
        let e = s + "sécret".len();
        let x = text.find('x').unwrap();
        let got = render_snippet(text, x..x + 1, &[s..e], "");
        assert_eq!(
            got,
            "   |\n 1 | A(key='******', x=1)\n   |                 ^"
        );
        assert!(!got.contains("sécret"));
    }

    #[test]
    fn multi_line_span_and_gutter_width() {
        let text = "A(\n    x=1,\n)";
        let got = render_snippet(text, 0..text.len(), &[], "whole");
        let want = "   |\n 1 | A(\n   | ^^\n 2 |     x=1,\n   | ^^^^^^^^\n 3 | )\n   | ^ whole";
        assert_eq!(got, want);

        let text: String = (1..=12).map(|i| format!("l{i}\n")).collect();
        let start = text.find("l9").unwrap();
        let got = render_snippet(&text, start..text.len(), &[], "x");
        let want = "    |\n  9 | l9\n    | ^^\n 10 | l10\n    | ^^^\n 11 | l11\n    | ^^^\n 12 | l12\n    | ^^^ x";
        assert_eq!(got, want);
    }

    #[test]
    fn long_span_is_truncated() {
        let text: String = (1..=8).map(|i| format!("line{i}\n")).collect();
        let got = render_snippet(&text, 0..text.len(), &[], "lbl");
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 1 + 5 * 2 + 1);
        assert_eq!(lines[1], " 1 | line1");
        assert_eq!(lines[9], " 5 | line5");
        assert_eq!(lines[10], "   | ^^^^^ lbl");
        assert_eq!(lines[11], "...");
    }

    #[test]
    fn invalid_ranges_are_clamped() {
        let text = "é€😀";
        for (s, e) in [(1, 2), (5, 1), (100, 200), (0, 100), (3, 3), (7, 9)] {
            let out = render_snippet(text, s..e, &[2..5, 9..1], "");
            assert!(out.lines().all(|l| l.trim_end() == l));
            assert!(out.contains('^'));
        }
        assert_eq!(
            render_snippet(text, 1..2, &[], ""),
            "   |\n 1 | é€😀\n   | ^"
        );
    }

    #[test]
    fn no_trailing_whitespace_and_crlf() {
        let text = "A(   \r\n\tx=1 \r\n)";
        let got = render_snippet(text, 0..text.len(), &[], "");
        assert!(got.lines().all(|l| l.trim_end() == l), "{got}");
        assert!(!got.contains('\r'));
        assert!(!got.ends_with('\n'));
    }
}
