//! Recursive-descent parser for spec strings (see the grammar in the module docs).

use std::collections::HashMap;

use super::error::SpecError;
use super::lexer::{Lexer, Tok, Token};
use super::parse_errors::{boolean_op_error, lambda_error, unpacking_error};
use super::value::{Arg, Call, Span, Spanned, Value};

/// Maximum nesting of calls, lists, tuples, dicts and parentheses.
pub(super) const MAX_DEPTH: usize = 64;

/// Python keywords: never accepted as names (except `True`/`False`/`None` as values).
pub(super) const PY_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

pub(super) const ARITHMETIC: &[&str] = &["+", "-", "*", "/", "//", "%", "**", "@"];
pub(super) const OTHER_OPERATORS: &[&str] = &[
    "==", "!=", "<", ">", "<=", ">=", "<<", ">>", "&", "|", "^", "~", "!",
];

/// What the value kinds accepted where a value is expected are called in `expected`.
pub(super) const VALUE_KINDS: &[&str] = &[
    "a string", "a number", "`True`", "`False`", "`None`", "a list", "a tuple", "a dict", "a call",
    "a name",
];

/// Whether `s` is a Python keyword (`True`, `False` and `None` included).
pub(super) fn is_keyword(s: &str) -> bool {
    PY_KEYWORDS.contains(&s)
}

/// Parses a spec string such as `opencensus.trace.samplers.ProbabilitySampler(rate=0.5)`.
///
/// Nothing is evaluated. The whole text must be one call (or a bare dotted
/// name, which is a call with `has_parens == false` and no arguments),
/// optionally surrounded by whitespace and comments.
///
/// # Errors
///
/// Returns a [`SpecError`] pointing at the first problem in the text.
pub fn parse(spec: &str) -> Result<Call, SpecError> {
    Parser {
        src: spec,
        lexer: Lexer::new(spec),
        peeked: None,
        depth: 0,
    }
    .parse_spec()
}

/// Where a value was expected, for the "expected a value" message.
#[derive(Debug)]
pub(super) enum Expect<'n> {
    Arg(&'n str),
    Keyword(&'n str),
    ListItem,
    TupleItem,
    DictKey,
    DictValue,
}

/// What was expected after a complete value, for the "expected `,` ..." message.
#[derive(Debug)]
pub(super) enum After<'n> {
    TopLevel { has_parens: bool },
    Args(&'n str),
    List,
    Tuple,
    Paren,
    DictKey,
    DictValue,
}

#[derive(Debug)]
pub(super) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn text(&self, span: &Span) -> &'a str {
        self.src.get(span.clone()).unwrap_or("")
    }

    fn peek(&mut self) -> Result<&Token, SpecError> {
        let tok = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        Ok(self.peeked.insert(tok))
    }

    fn peek_is(&mut self, p: &str) -> Result<bool, SpecError> {
        Ok(self.peek()?.is(p))
    }

    fn bump(&mut self) -> Result<Token, SpecError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    /// A short description of a token for "found ..." (string contents are never shown).
    pub(super) fn describe(&self, t: &Token) -> String {
        let text = self.text(&t.span);
        let short = if text.chars().count() > 24 {
            let cut: String = text.chars().take(24).collect();
            format!("{cut}…")
        } else {
            text.to_owned()
        };
        match &t.tok {
            Tok::Eof => "end of input".to_owned(),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Num { .. } => format!("number `{short}`"),
            Tok::Ident => format!("`{short}`"),
            Tok::Punct(p) => format!("`{p}`"),
        }
    }

    fn line_col(&self, pos: usize) -> (usize, usize) {
        let before = self.src.get(..pos).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (line, col)
    }

    fn enter(&mut self, open: &Span) -> Result<(), SpecError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SpecError::new(
                format!("nesting too deep (more than {MAX_DEPTH} levels of brackets and calls)"),
                open.clone(),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn parse_spec(mut self) -> Result<Call, SpecError> {
        let first = self.bump()?;
        match &first.tok {
            Tok::Eof => {
                return Err(SpecError::new(
                    "empty spec string; expected a component like `ProbabilitySampler(rate=0.5)`",
                    first.span,
                )
                .with_expected(["a component name"]));
            }
            Tok::Ident if self.text(&first.span) == "lambda" => {
                return Err(lambda_error(first.span));
            }
            Tok::Ident if !is_keyword(self.text(&first.span)) => {}
            _ => {
                return Err(SpecError::new(
                    format!(
                        "expected a component name like `ProbabilitySampler(rate=0.5)`, found {}",
                        self.describe(&first)
                    ),
                    first.span,
                )
                .with_expected(["a component name"]));
            }
        }
        let name = self.dotted(first)?;
        let call = if self.peek_is("(")? {
            let open = self.bump()?;
            self.call_rest(name, &open)?
        } else {
            Call {
                span: name.span.clone(),
                name,
                args: Vec::new(),
                has_parens: false,
            }
        };
        let next = self.bump()?;
        if next.tok == Tok::Eof {
            return Ok(call);
        }
        let ctx = After::TopLevel {
            has_parens: call.has_parens,
        };
        if !call.has_parens && next.is(")") {
            return Err(SpecError::new(
                format!(
                    "unmatched `)`; expected `(` to start the arguments of `{}`",
                    call.name.value
                ),
                next.span,
            ));
        }
        Err(self.after_value_error(next, None, &ctx))
    }

    /// Reads the rest of a dotted name whose first identifier is `first`.
    fn dotted(&mut self, first: Token) -> Result<Spanned<String>, SpecError> {
        let mut name = self.text(&first.span).to_owned();
        let start = first.span.start;
        let mut end = first.span.end;
        while self.peek_is(".")? {
            self.bump()?;
            let seg = self.bump()?;
            let text = self.text(&seg.span);
            match seg.tok {
                Tok::Ident if !is_keyword(text) => {
                    name.push('.');
                    name.push_str(text);
                    end = seg.span.end;
                }
                Tok::Ident => {
                    return Err(SpecError::new(
                        format!("`{text}` is a Python keyword and cannot be part of a name"),
                        seg.span,
                    ));
                }
                _ => {
                    return Err(SpecError::new(
                        format!("expected a name after `.`, found {}", self.describe(&seg)),
                        seg.span,
                    )
                    .with_expected(["a name"]));
                }
            }
        }
        Ok(Spanned::new(name, start..end))
    }

    /// Parses the arguments after `(` up to and including `)`.
    fn call_rest(&mut self, name: Spanned<String>, open: &Token) -> Result<Call, SpecError> {
        self.enter(&open.span)?;
        let mut args: Vec<Arg> = Vec::new();
        let mut first_keyword: Option<Spanned<String>> = None;
        // Keyword -> start of its first occurrence, to report repeats in O(1).
        let mut seen: HashMap<String, usize> = HashMap::new();
        let close = loop {
            if self.peek_is(")")? {
                break self.bump()?.span;
            }
            let arg = self.parse_arg(&name.value)?;
            match &arg.keyword {
                None => {
                    if let Some(kw) = &first_keyword {
                        return Err(SpecError::new(
                            format!(
                                "positional argument follows keyword argument `{}`",
                                kw.value
                            ),
                            arg.value.span,
                        )
                        .with_help("put positional arguments before keyword arguments"));
                    }
                }
                Some(kw) => {
                    if let Some(&prev_start) = seen.get(&kw.value) {
                        let (line, col) = self.line_col(prev_start);
                        return Err(SpecError::new(
                            format!(
                                "keyword argument `{}` repeated (first given at line {line}, column {col})",
                                kw.value
                            ),
                            kw.span.clone(),
                        )
                        .with_help("give each keyword argument only once"));
                    }
                    seen.insert(kw.value.clone(), kw.span.start);
                    if first_keyword.is_none() {
                        first_keyword = Some(kw.clone());
                    }
                }
            }
            args.push(arg);
            let sep = self.bump()?;
            if sep.is(")") {
                break sep.span;
            }
            if !sep.is(",") {
                let prev = args.last().map(|a| &a.value);
                return Err(self.after_value_error(sep, prev, &After::Args(&name.value)));
            }
        };
        self.leave();
        Ok(Call {
            span: name.span.start..close.end,
            name,
            args,
            has_parens: true,
        })
    }

    fn parse_arg(&mut self, callee: &str) -> Result<Arg, SpecError> {
        let t = self.bump()?;
        if t.tok == Tok::Ident {
            let text = self.text(&t.span);
            if self.peek_is("=")? {
                if is_keyword(text) {
                    return Err(SpecError::new(
                        format!(
                            "`{text}` is a Python keyword and cannot be a keyword argument name"
                        ),
                        t.span,
                    ));
                }
                self.bump()?;
                let value = self.parse_value(&Expect::Keyword(text))?;
                return Ok(Arg {
                    keyword: Some(Spanned::new(text.to_owned(), t.span)),
                    value,
                });
            }
        }
        let value = self.value_from(t, &Expect::Arg(callee))?;
        Ok(Arg {
            keyword: None,
            value,
        })
    }

    fn parse_value(&mut self, ctx: &Expect<'_>) -> Result<Spanned<Value>, SpecError> {
        let t = self.bump()?;
        self.value_from(t, ctx)
    }

    /// Parses a value whose first token `t` has already been read.
    fn value_from(&mut self, t: Token, ctx: &Expect<'_>) -> Result<Spanned<Value>, SpecError> {
        let Token { tok, span } = t;
        match tok {
            Tok::Str(s) => Ok(Spanned::new(Value::Str(s), span)),
            Tok::Num { float } => self.number(None, &span, float),
            Tok::Punct(sign @ ("+" | "-")) => {
                let n = self.bump()?;
                match n.tok {
                    Tok::Num { float } => {
                        self.number(Some((sign == "-", span.start)), &n.span, float)
                    }
                    _ => Err(SpecError::new(
                        format!(
                            "expected a number after `{sign}`, found {}",
                            self.describe(&n)
                        ),
                        n.span,
                    )
                    .with_expected(["a number"])),
                }
            }
            Tok::Punct("[") => self.list(span),
            Tok::Punct("(") => self.paren(span),
            Tok::Punct("{") => self.dict(span),
            Tok::Punct("*" | "**") => Err(unpacking_error(span)),
            Tok::Punct("~") => Err(SpecError::new(
                "operator `~` is not evaluated here; write the resulting value",
                span,
            )),
            Tok::Ident => match self.text(&span) {
                "True" => Ok(Spanned::new(Value::Bool(true), span)),
                "False" => Ok(Spanned::new(Value::Bool(false), span)),
                "None" => Ok(Spanned::new(Value::None, span)),
                "lambda" => Err(lambda_error(span)),
                "not" => Err(boolean_op_error(span)),
                kw if is_keyword(kw) => Err(SpecError::new(
                    format!("`{kw}` is a Python keyword and cannot be used as a value"),
                    span,
                )),
                _ => {
                    let name = self.dotted(Token {
                        tok: Tok::Ident,
                        span,
                    })?;
                    if self.peek_is("(")? {
                        let open = self.bump()?;
                        let call = self.call_rest(name, &open)?;
                        let span = call.span.clone();
                        Ok(Spanned::new(Value::Call(call), span))
                    } else {
                        let span = name.span.clone();
                        Ok(Spanned::new(Value::Ref(name), span))
                    }
                }
            },
            tok => Err(self.expected_value_error(&Token { tok, span }, ctx)),
        }
    }

    /// Converts the number literal at `n` (validated by the lexer), with an
    /// optional sign `(negative, sign_start)` before it.
    fn number(
        &self,
        sign: Option<(bool, usize)>,
        n: &Span,
        float: bool,
    ) -> Result<Spanned<Value>, SpecError> {
        let text = self.text(n);
        let negative = sign.is_some_and(|s| s.0);
        let span = sign.map_or(n.start, |s| s.1)..n.end;
        if float {
            let f: f64 = text.parse().map_err(|_| {
                SpecError::new(format!("invalid number literal `{text}`"), span.clone())
            })?;
            if !f.is_finite() {
                return Err(SpecError::new("float out of range", span).with_help(
                    "the literal overflows a 64-bit float (the largest is about 1.8e308)",
                ));
            }
            let f = if negative { -f } else { f };
            return Ok(Spanned::new(Value::Float(f), span));
        }
        let out_of_range = || {
            SpecError::new("integer out of range", span.clone()).with_help(format!(
                "integers must be between {} and {}",
                i64::MIN,
                i64::MAX
            ))
        };
        let v: i128 = text.parse().map_err(|_| out_of_range())?;
        let v = if negative { -v } else { v };
        let v = i64::try_from(v).map_err(|_| out_of_range())?;
        Ok(Spanned::new(Value::Int(v), span))
    }

    fn list(&mut self, open: Span) -> Result<Spanned<Value>, SpecError> {
        self.enter(&open)?;
        let mut items = Vec::new();
        let close = loop {
            if self.peek_is("]")? {
                break self.bump()?.span;
            }
            let v = self.parse_value(&Expect::ListItem)?;
            items.push(v);
            let sep = self.bump()?;
            if sep.is("]") {
                break sep.span;
            }
            if !sep.is(",") {
                return Err(self.after_value_error(sep, items.last(), &After::List));
            }
        };
        self.leave();
        Ok(Spanned::new(Value::List(items), open.start..close.end))
    }

    fn paren(&mut self, open: Span) -> Result<Spanned<Value>, SpecError> {
        self.enter(&open)?;
        if self.peek_is(")")? {
            let close = self.bump()?.span;
            self.leave();
            return Ok(Spanned::new(
                Value::Tuple(Vec::new()),
                open.start..close.end,
            ));
        }
        let first = self.parse_value(&Expect::TupleItem)?;
        let sep = self.bump()?;
        if sep.is(")") {
            // `(value)` is just the parenthesised value.
            self.leave();
            return Ok(first);
        }
        if !sep.is(",") {
            return Err(self.after_value_error(sep, Some(&first), &After::Paren));
        }
        let mut items = vec![first];
        let close = loop {
            if self.peek_is(")")? {
                break self.bump()?.span;
            }
            let v = self.parse_value(&Expect::TupleItem)?;
            items.push(v);
            let sep = self.bump()?;
            if sep.is(")") {
                break sep.span;
            }
            if !sep.is(",") {
                return Err(self.after_value_error(sep, items.last(), &After::Tuple));
            }
        };
        self.leave();
        Ok(Spanned::new(Value::Tuple(items), open.start..close.end))
    }

    fn dict(&mut self, open: Span) -> Result<Spanned<Value>, SpecError> {
        self.enter(&open)?;
        let mut entries = Vec::new();
        let close = loop {
            if self.peek_is("}")? {
                break self.bump()?.span;
            }
            let key = self.parse_value(&Expect::DictKey)?;
            let colon = self.bump()?;
            if !colon.is(":") {
                return Err(self.after_value_error(colon, Some(&key), &After::DictKey));
            }
            let value = self.parse_value(&Expect::DictValue)?;
            entries.push((key, value));
            let sep = self.bump()?;
            if sep.is("}") {
                break sep.span;
            }
            if !sep.is(",") {
                let prev = entries.last().map(|(_, v)| v);
                return Err(self.after_value_error(sep, prev, &After::DictValue));
            }
        };
        self.leave();
        Ok(Spanned::new(Value::Dict(entries), open.start..close.end))
    }
}
