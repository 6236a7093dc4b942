//! The parsed representation of a spec string and its canonical rendering.

use std::fmt::{self, Write as _};

/// Byte range into the spec text.
pub type Span = std::ops::Range<usize>;

/// A value together with the byte range of the spec text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The parsed value.
    pub value: T,
    /// Byte range of the value in the spec text.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `value` with `span`.
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// A literal, container, nested call or reference appearing as an argument.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A string literal (escapes already decoded).
    Str(String),
    /// An integer literal that fits in `i64`.
    Int(i64),
    /// A finite floating point literal.
    Float(f64),
    /// `True` or `False`.
    Bool(bool),
    /// `None`.
    None,
    /// `[a, b, ...]`.
    List(Vec<Spanned<Value>>),
    /// `()`, `(a,)`, `(a, b, ...)`.
    Tuple(Vec<Spanned<Value>>),
    /// `{k: v, ...}`, in source order (duplicates are kept).
    Dict(Vec<(Spanned<Value>, Spanned<Value>)>),
    /// A nested call such as `AsyncTransport()`.
    Call(Call),
    /// A dotted name not followed by `(`, segments joined with `.` and no whitespace.
    Ref(Spanned<String>),
}

/// A call `dotted.Name(args...)`; at the top level the parentheses may be omitted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Call {
    /// The dotted name, segments joined with `.` and no whitespace.
    pub name: Spanned<String>,
    /// The arguments, positional ones first.
    pub args: Vec<Arg>,
    /// Whether the call was written with parentheses (only a top-level call may lack them).
    pub has_parens: bool,
    /// Byte range of the whole call, from the name to the closing `)`.
    pub span: Span,
}

/// One argument of a [`Call`]: positional (`keyword` is `None`) or `keyword=value`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Arg {
    /// The keyword of a keyword argument.
    pub keyword: Option<Spanned<String>>,
    /// The argument's value.
    pub value: Spanned<Value>,
}

impl Value {
    /// A short name of the value's type for messages: `"string"`, `"integer"`,
    /// `"float"`, `"boolean"`, `"None"`, `"list"`, `"tuple"`, `"dict"`, `"call"`
    /// or `"reference"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Bool(_) => "boolean",
            Value::None => "None",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Call(_) => "call",
            Value::Ref(_) => "reference",
        }
    }
}

impl Call {
    /// The keyword argument named `keyword`, if present.
    pub fn keyword_arg(&self, keyword: &str) -> Option<&Arg> {
        self.args.iter().find(|a| {
            a.keyword
                .as_ref()
                .is_some_and(|k| k.value.as_str() == keyword)
        })
    }

    /// The positional arguments, in order.
    pub fn positional_args(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| a.keyword.is_none())
    }
}

/// Writes `s` as a single-quoted Python string literal that [`parse`](super::parse)
/// reads back as the same string.
pub(super) fn write_str_literal(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\'' => out.write_str("\\'")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if c.is_control() || is_invisible_format(c) => {
                let code = u32::from(c);
                if code <= 0xff {
                    write!(out, "\\x{code:02x}")?;
                } else if code <= 0xffff {
                    write!(out, "\\u{code:04x}")?;
                } else {
                    write!(out, "\\U{code:08x}")?;
                }
            }
            c => out.write_char(c)?,
        }
    }
    out.write_char('\'')
}

/// Bidirectional overrides, zero-width characters and line/paragraph separators:
/// printed escaped so a rendered value cannot hide or reorder text.
pub(super) fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{00ad}'
    )
}

/// Writes a finite float like Python's `repr`: the shortest digits that round-trip,
/// fixed notation for exponents in `-4..16` (always with a `.`), otherwise
/// scientific notation with a signed two-digit-minimum exponent (`1e-05`, `1e+16`).
pub(super) fn write_float(out: &mut impl fmt::Write, f: f64) -> fmt::Result {
    if !f.is_finite() {
        // Not produced by the parser; rendered the way Python spells them.
        let s = if f.is_nan() {
            "nan"
        } else if f > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return out.write_str(s);
    }
    // `{:e}` gives the shortest round-trip digits, e.g. "-1.2345e-7", "0e0".
    let sci = format!("{f:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if neg {
        out.write_char('-')?;
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            if digits.len() <= int_len {
                out.write_str(&digits)?;
                for _ in digits.len()..int_len {
                    out.write_char('0')?;
                }
                out.write_str(".0")
            } else {
                let (i, frac) = digits.split_at(int_len);
                write!(out, "{i}.{frac}")
            }
        } else {
            out.write_str("0.")?;
            for _ in 0..(-exp - 1) {
                out.write_char('0')?;
            }
            out.write_str(&digits)
        }
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        out.write_str(first)?;
        if !rest.is_empty() {
            write!(out, ".{rest}")?;
        }
        let sign = if exp < 0 { '-' } else { '+' };
        write!(out, "e{sign}{:02}", exp.unsigned_abs())
    }
}

fn write_seq(f: &mut fmt::Formatter<'_>, items: &[Spanned<Value>]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{}", item.value)?;
    }
    Ok(())
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write_str_literal(f, s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write_float(f, *x),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::None => f.write_str("None"),
            Value::List(items) => {
                f.write_char('[')?;
                write_seq(f, items)?;
                f.write_char(']')
            }
            Value::Tuple(items) => {
                f.write_char('(')?;
                write_seq(f, items)?;
                if items.len() == 1 {
                    f.write_char(',')?;
                }
                f.write_char(')')
            }
            Value::Dict(entries) => {
                f.write_char('{')?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", k.value, v.value)?;
                }
                f.write_char('}')
            }
            Value::Call(call) => write!(f, "{call}"),
            Value::Ref(name) => f.write_str(&name.value),
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name.value)?;
        f.write_char('(')?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if let Some(k) = &arg.keyword {
                write!(f, "{}=", k.value)?;
            }
            write!(f, "{}", arg.value.value)?;
        }
        f.write_char(')')
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sp<T>(v: T) -> Spanned<T> {
        Spanned::new(v, 0..0)
    }

    fn float(f: f64) -> String {
        Value::Float(f).to_string()
    }

    #[test]
    fn floats_render_like_python_repr() {
        let table: &[(f64, &str)] = &[
            (0.5, "0.5"),
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.1, "0.1"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (1e300, "1e+300"),
            (-2.5, "-2.5"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (100.0, "100.0"),
            (0.3, "0.3"),
            (1.0 / 3.0, "0.3333333333333333"),
        ];
        for (f, want) in table {
            assert_eq!(float(*f), *want, "rendering {f:?}");
            assert_eq!(float(*f).parse::<f64>().unwrap().to_bits(), f.to_bits());
        }
    }

    #[test]
    fn strings_render_single_quoted_with_escapes() {
        let table: &[(&str, &str)] = &[
            ("abc", "'abc'"),
            ("it's", r"'it\'s'"),
            ("say \"hi\"", r#"'say "hi"'"#),
            ("a\\b", r"'a\\b'"),
            ("l1\nl2\r\t", r"'l1\nl2\r\t'"),
            ("\0\x07\x7f", r"'\x00\x07\x7f'"),
            ("é€😀", "'é€😀'"),
            ("\u{202e}x\u{85}", r"'\u202ex\x85'"),
        ];
        for (s, want) in table {
            assert_eq!(Value::Str((*s).to_owned()).to_string(), *want);
        }
    }

    #[test]
    fn containers_and_calls_render_canonically() {
        let tuple1 = Value::Tuple(vec![sp(Value::Int(1))]);
        assert_eq!(tuple1.to_string(), "(1,)");
        assert_eq!(Value::Tuple(vec![]).to_string(), "()");
        let list = Value::List(vec![sp(Value::Int(1)), sp(Value::Bool(false))]);
        assert_eq!(list.to_string(), "[1, False]");
        let dict = Value::Dict(vec![
            (sp(Value::Str("a".into())), sp(Value::None)),
            (sp(Value::Int(2)), sp(Value::Float(2.0))),
        ]);
        assert_eq!(dict.to_string(), "{'a': None, 2: 2.0}");
        let call = Call {
            name: sp("a.B".to_owned()),
            args: vec![
                Arg {
                    keyword: None,
                    value: sp(Value::Ref(sp("x.y".to_owned()))),
                },
                Arg {
                    keyword: Some(sp("k".to_owned())),
                    value: sp(list),
                },
            ],
            has_parens: false,
            span: 0..0,
        };
        assert_eq!(call.to_string(), "a.B(x.y, k=[1, False])");
        assert_eq!(Value::Call(call.clone()).to_string(), call.to_string());
        assert_eq!(
            call.keyword_arg("k").map(|a| a.value.value.type_name()),
            Some("list")
        );
        assert_eq!(call.positional_args().count(), 1);
    }

    #[test]
    fn type_names() {
        let table = [
            (Value::Str(String::new()), "string"),
            (Value::Int(0), "integer"),
            (Value::Float(0.0), "float"),
            (Value::Bool(true), "boolean"),
            (Value::None, "None"),
            (Value::List(vec![]), "list"),
            (Value::Tuple(vec![]), "tuple"),
            (Value::Dict(vec![]), "dict"),
            (
                Value::Call(Call {
                    name: sp("A".into()),
                    args: vec![],
                    has_parens: true,
                    span: 0..0,
                }),
                "call",
            ),
            (Value::Ref(sp("a.b".into())), "reference"),
        ];
        for (v, want) in table {
            assert_eq!(v.type_name(), want);
        }
    }
}
