//! On-demand tokenizer for spec strings.
//!
//! The lexer produces one token at a time so that errors are reported in
//! source order: a bad token late in the text never hides an earlier
//! grammar error. Whitespace and `# comments` between tokens are skipped.

use super::error::SpecError;
use super::value::Span;

/// Multi-character punctuation, tried before the single-character ones.
const PUNCT2: &[&str] = &["**", "//", "==", "!=", "<=", ">=", "<<", ">>", ":=", "->"];
/// Single-character punctuation.
const PUNCT1: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", ":", "=", ".", "+", "-", "*", "/", "%", "@", ";", "<", ">",
    "&", "|", "^", "~", "!",
];

/// What kind of token was read.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// An ASCII identifier (keywords included); its text is the span's text.
    Ident,
    /// A string literal with escapes decoded.
    Str(String),
    /// An unsigned, already validated number literal; its text is the span's text.
    Num {
        /// Whether the literal has a `.` or an exponent.
        float: bool,
    },
    /// Punctuation or an operator.
    Punct(&'static str),
    /// End of input.
    Eof,
}

/// A token and the byte range it covers.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    /// The token kind.
    pub(super) tok: Tok,
    /// Its byte range; for [`Tok::Eof`] an empty range just after the last token.
    pub(super) span: Span,
}

impl Token {
    /// Whether this is the punctuation `p`.
    pub(super) fn is(&self, p: &str) -> bool {
        matches!(self.tok, Tok::Punct(q) if q == p)
    }
}

/// Tokenizer state over a spec string.
#[derive(Debug)]
pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    last_end: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters that make up a (possibly invalid) identifier run for error messages.
fn is_wordish(c: char) -> bool {
    is_ident_continue(c) || (!c.is_ascii() && c.is_alphanumeric())
}

/// A printable description of a single character for messages.
pub(super) fn describe_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() || super::value::is_invisible_format(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("`{c}`")
    }
}

impl<'a> Lexer<'a> {
    /// A lexer positioned at the start of `src`.
    pub(super) fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            last_end: 0,
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_char_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump_char(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span).unwrap_or("")
    }

    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek_char() {
            match c {
                ' ' | '\t' | '\r' | '\n' => self.pos += 1,
                '#' => {
                    while let Some(c) = self.peek_char() {
                        if c == '\n' {
                            break;
                        }
                        self.pos += c.len_utf8();
                    }
                }
                _ => break,
            }
        }
    }

    /// Reads the next token, skipping whitespace and comments.
    pub(super) fn next_token(&mut self) -> Result<Token, SpecError> {
        self.skip_trivia();
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(Token {
                tok: Tok::Eof,
                span: self.last_end..self.last_end,
            });
        };
        let tok = match c {
            c if is_ident_start(c) || (!c.is_ascii() && c.is_alphanumeric()) => {
                self.ident(start)?
            }
            '0'..='9' => self.number(start)?,
            '.' if self.peek_char_at(1).is_some_and(|d| d.is_ascii_digit()) => {
                self.number(start)?
            }
            '\'' | '"' => self.string(start, c)?,
            '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' | '\u{00ab}' | '\u{00bb}' => {
                return Err(SpecError::new(
                    format!("typographic quote `{c}` is not a string delimiter"),
                    start..start + c.len_utf8(),
                )
                .with_help("use a plain ASCII quote: '...' or \"...\""));
            }
            c if !c.is_ascii() && c.is_whitespace() => {
                return Err(SpecError::new(
                    format!(
                        "unexpected non-ASCII whitespace character U+{:04X}",
                        u32::from(c)
                    ),
                    start..start + c.len_utf8(),
                )
                .with_help("replace it with a normal space"));
            }
            _ => self.punct(start, c)?,
        };
        let span = start..self.pos;
        self.last_end = self.pos;
        Ok(Token { tok, span })
    }

    fn punct(&mut self, start: usize, c: char) -> Result<Tok, SpecError> {
        let rest = self.rest();
        if let Some(p) = PUNCT2
            .iter()
            .chain(PUNCT1.iter())
            .find(|p| rest.starts_with(**p))
        {
            self.pos += p.len();
            return Ok(Tok::Punct(p));
        }
        let span = start..start + c.len_utf8();
        let err = SpecError::new(format!("unexpected character {}", describe_char(c)), span);
        Err(if c == '\\' {
            err.with_help(
                "line continuations are not needed: newlines are allowed between any tokens",
            )
        } else {
            err
        })
    }

    fn ident(&mut self, start: usize) -> Result<Tok, SpecError> {
        while self.peek_char().is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        if self.peek_char().is_some_and(is_wordish) {
            while let Some(c) = self.peek_char().filter(|c| is_wordish(*c)) {
                self.pos += c.len_utf8();
            }
            let span = start..self.pos;
            return Err(SpecError::new(
                format!(
                    "identifier `{}` contains non-ASCII characters",
                    self.text(span.clone())
                ),
                span,
            )
            .with_help("names may only use ASCII letters, digits and `_`"));
        }
        if let Some(q @ ('\'' | '"')) = self.peek_char() {
            let span = start..self.pos;
            let prefix = self.text(span.clone());
            let lower = prefix.to_ascii_lowercase();
            let (kind, help) = if lower.contains('f') {
                (
                    " (f-strings are not supported)",
                    "nothing is evaluated here; write a plain string".to_owned(),
                )
            } else if lower.contains('b') {
                (
                    " (byte strings are not supported)",
                    "write a plain string".to_owned(),
                )
            } else if lower.contains('r') {
                (
                    " (raw strings are not supported)",
                    format!("write a plain string and double each backslash, e.g. {q}C:\\\\dir{q}"),
                )
            } else if lower == "u" {
                (
                    "",
                    "remove the prefix; strings are already Unicode".to_owned(),
                )
            } else {
                (
                    "",
                    "separate values with `,`, or remove the prefix".to_owned(),
                )
            };
            return Err(SpecError::new(
                format!("string prefix `{prefix}` is not accepted{kind}"),
                span,
            )
            .with_help(help));
        }
        Ok(Tok::Ident)
    }

    fn eat_digits(&mut self) -> usize {
        let begin = self.pos;
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - begin
    }

    fn number(&mut self, start: usize) -> Result<Tok, SpecError> {
        let int_digits = self.eat_digits();
        let int_text = self.text(start..start + int_digits);
        let mut float = false;
        if self.peek_char() == Some('.') {
            self.pos += 1;
            float = true;
            self.eat_digits();
        }
        if let Some('e' | 'E') = self.peek_char() {
            let after_e = self.peek_char_at(1);
            let has_sign = matches!(after_e, Some('+' | '-'));
            let digit_at = if has_sign { 2 } else { 1 };
            if self
                .peek_char_at(digit_at)
                .is_some_and(|c| c.is_ascii_digit())
            {
                self.pos += digit_at;
                self.eat_digits();
                float = true;
            } else if has_sign || !after_e.is_some_and(is_wordish) {
                self.pos += digit_at;
                let span = start..self.pos;
                return Err(SpecError::new(
                    format!(
                        "invalid number literal `{}`: the exponent has no digits",
                        self.text(span.clone())
                    ),
                    span,
                )
                .with_help("write the exponent's digits, e.g. `1e-4`"));
            }
        }
        if self.peek_char().is_some_and(is_wordish) {
            return Err(self.number_suffix_error(start, int_text));
        }
        // Like Python 3: `0`, `00` and `0.5`/`00.5` are fine, `007` is not.
        let leading_zero = int_text.len() > 1 && int_text.starts_with('0');
        if !float && leading_zero && int_text.bytes().any(|b| b != b'0') {
            let span = start..self.pos;
            return Err(
                SpecError::new("leading zeros in integer literals are not accepted", span)
                    .with_help(format!(
                        "write `{}` (octal literals are not accepted either)",
                        int_text.trim_start_matches('0')
                    )),
            );
        }
        Ok(Tok::Num { float })
    }

    /// Error for a number literal directly followed by letters, digits, `_` or `.`.
    fn number_suffix_error(&mut self, start: usize, int_text: &str) -> SpecError {
        while let Some(c) = self.peek_char().filter(|c| is_wordish(*c) || *c == '.') {
            self.pos += c.len_utf8();
        }
        let span = start..self.pos;
        let text = self.text(span.clone());
        let lower = text.to_ascii_lowercase();
        let cleaned: String = text.chars().filter(|c| *c != '_').collect();
        if text.contains('_') && cleaned.parse::<f64>().is_ok() {
            return SpecError::new("underscores in number literals are not accepted", span)
                .with_help(format!("write `{cleaned}`"));
        }
        let radix = match lower.get(..2) {
            Some("0x") if int_text == "0" => Some((16, "hexadecimal")),
            Some("0o") if int_text == "0" => Some((8, "octal")),
            Some("0b") if int_text == "0" => Some((2, "binary")),
            _ => None,
        };
        if let Some((radix, name)) = radix {
            let digits = text.get(2..).unwrap_or("");
            let err = SpecError::new(format!("{name} literals are not accepted"), span);
            return match i64::from_str_radix(digits, radix) {
                Ok(v) if !digits.starts_with(['+', '-']) => {
                    err.with_help(format!("write the decimal value `{v}`"))
                }
                _ => err.with_help("write the value in decimal"),
            };
        }
        if lower.ends_with('j') {
            return SpecError::new("complex numbers are not accepted", span);
        }
        SpecError::new(format!("invalid number literal `{text}`"), span)
            .with_help("a number may not be directly followed by letters or `.`")
    }

    fn string(&mut self, start: usize, quote: char) -> Result<Tok, SpecError> {
        let triple_delim: &str = if quote == '\'' { "'''" } else { "\"\"\"" };
        let triple = self.rest().starts_with(triple_delim);
        let open_len = if triple { 3 } else { 1 };
        self.pos += open_len;
        let open = start..start + open_len;
        let unterminated = |newline: bool| {
            let err = SpecError::new("unterminated string literal", open.clone());
            if newline {
                err.with_help(format!(
                    "a {quote}...{quote} string cannot span lines; write `\\n` for a newline, \
                     or use a triple-quoted string {triple_delim}...{triple_delim}"
                ))
            } else if triple {
                err.with_help(format!("add the closing `{triple_delim}`"))
            } else {
                err.with_help(format!("add the closing `{quote}`"))
            }
        };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(unterminated(false));
            };
            if triple {
                if self.rest().starts_with(triple_delim) {
                    self.pos += 3;
                    break;
                }
            } else if c == quote {
                self.pos += 1;
                break;
            } else if c == '\n' || c == '\r' {
                return Err(unterminated(true));
            }
            if c == '\\' {
                let esc_start = self.pos;
                self.pos += 1;
                let Some(e) = self.bump_char() else {
                    return Err(unterminated(false));
                };
                self.escape(esc_start, e, &mut out)?;
            } else {
                self.pos += c.len_utf8();
                out.push(c);
            }
        }
        Ok(Tok::Str(out))
    }

    /// Decodes the escape `\e` (the backslash is at `esc_start`, `e` already consumed).
    fn escape(&mut self, esc_start: usize, e: char, out: &mut String) -> Result<(), SpecError> {
        let simple = match e {
            '\n' => None,
            '\r' => {
                if self.peek_char() == Some('\n') {
                    self.pos += 1;
                }
                None
            }
            '\\' | '\'' | '"' => Some(e),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'a' => Some('\u{07}'),
            'b' => Some('\u{08}'),
            'f' => Some('\u{0c}'),
            'v' => Some('\u{0b}'),
            '0' if !self.peek_char().is_some_and(|c| c.is_digit(8)) => Some('\0'),
            '0'..='7' => {
                while self.pos - esc_start < 4 && self.peek_char().is_some_and(|c| c.is_digit(8)) {
                    self.pos += 1;
                }
                let span = esc_start..self.pos;
                return Err(SpecError::new(
                    format!("octal escape `{}` is not accepted", self.text(span.clone())),
                    span,
                )
                .with_help(
                    "write `\\xHH` with the hex value, or double the backslash for a literal `\\`",
                ));
            }
            'x' => Some(self.hex_escape(esc_start, 2)?),
            'u' => Some(self.hex_escape(esc_start, 4)?),
            'U' => Some(self.hex_escape(esc_start, 8)?),
            _ => {
                let span = esc_start..self.pos;
                if e.is_control() || e.is_whitespace() {
                    return Err(SpecError::new(
                        format!(
                            "unknown escape sequence: `\\` followed by {}",
                            describe_char(e)
                        ),
                        span,
                    )
                    .with_help("to include a literal backslash, double it: `\\\\`"));
                }
                let printed = format!("\\{e}");
                let help = if e == 'N' {
                    "named escapes `\\N{...}` are not accepted; write the character itself or \
                     `\\uXXXX`, or double the backslash for a literal `\\`"
                        .to_owned()
                } else {
                    format!("to include a literal backslash, double it: `\\{printed}`")
                };
                return Err(
                    SpecError::new(format!("unknown escape sequence `{printed}`"), span)
                        .with_help(help),
                );
            }
        };
        if let Some(c) = simple {
            out.push(c);
        }
        Ok(())
    }

    fn hex_escape(&mut self, esc_start: usize, n: usize) -> Result<char, SpecError> {
        let kind = self.text(esc_start..self.pos).to_owned();
        let digits_start = self.pos;
        while self.pos - digits_start < n && self.peek_char().is_some_and(|c| c.is_ascii_hexdigit())
        {
            self.pos += 1;
        }
        let span = esc_start..self.pos;
        let digits = self.text(digits_start..self.pos);
        if digits.len() < n {
            return Err(SpecError::new(
                format!("invalid `{kind}` escape: expected {n} hex digits"),
                span,
            )
            .with_help(format!(
                "write exactly {n} hex digits after `{kind}`, or double the backslash for a literal `\\`"
            )));
        }
        let code = u32::from_str_radix(digits, 16).unwrap_or(u32::MAX);
        char::from_u32(code).ok_or_else(|| {
            SpecError::new(
                format!("invalid `{kind}` escape: U+{code:X} is not a valid Unicode code point"),
                span,
            )
            .with_help("surrogates (U+D800..U+DFFF) and values above U+10FFFF are not allowed")
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn lex_all(src: &str) -> Result<Vec<(Tok, Span)>, SpecError> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token()?;
            if t.tok == Tok::Eof {
                out.push((t.tok, t.span));
                return Ok(out);
            }
            out.push((t.tok, t.span));
        }
    }

    #[test]
    fn tokens_and_spans() {
        let toks = lex_all("a.b ( x = 'é' , 1.5e3 ) # c").unwrap();
        let kinds: Vec<Tok> = toks.iter().map(|t| t.0.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Ident,
                Tok::Punct("."),
                Tok::Ident,
                Tok::Punct("("),
                Tok::Ident,
                Tok::Punct("="),
                Tok::Str("é".into()),
                Tok::Punct(","),
                Tok::Num { float: true },
                Tok::Punct(")"),
                Tok::Eof,
            ]
        );
        assert_eq!(toks[6].1, 10..14);
        // Eof sits right after the last token, not after the comment.
        assert_eq!(toks[10].1, 24..24);
    }

    #[test]
    fn operators_are_longest_match() {
        let toks = lex_all("** // == * /").unwrap();
        let kinds: Vec<Tok> = toks.iter().map(|t| t.0.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Punct("**"),
                Tok::Punct("//"),
                Tok::Punct("=="),
                Tok::Punct("*"),
                Tok::Punct("/"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn string_escapes_decode() {
        let table: &[(&str, &str)] = &[
            (r"'\x41\u00e9\n'", "Aé\n"),
            (r"'\U0001F600'", "😀"),
            (
                r#""\\ \' \" \r \t \0 \a \b \f \v""#,
                "\\ ' \" \r \t \0 \x07 \x08 \x0c \x0b",
            ),
            ("'a\\\nb'", "ab"),
            ("'a\\\r\nb'", "ab"),
            ("'''x\n'y'\n\"z\"'''", "x\n'y'\n\"z\""),
            ("\"\"\"a\"\"b\"\"\"", "a\"\"b"),
            ("''", ""),
            ("''''''", ""),
        ];
        for (src, want) in table {
            let toks = lex_all(src).unwrap();
            assert_eq!(toks[0].0, Tok::Str((*want).to_owned()), "lexing {src}");
            assert_eq!(toks[1].0, Tok::Eof, "lexing {src}");
        }
    }

    #[test]
    fn describe_char_is_readable() {
        assert_eq!(describe_char('$'), "`$`");
        assert_eq!(describe_char('\u{a0}'), "U+00A0");
        assert_eq!(describe_char('\u{7}'), "U+0007");
        assert_eq!(describe_char('→'), "`→`");
    }
}
