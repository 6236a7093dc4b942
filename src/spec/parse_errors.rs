//! What a parse error says: the "expected a value" and "expected `,` ..." messages, with the
//! accepted alternatives, and the errors for the Python constructs we never evaluate.

use super::error::SpecError;
use super::lexer::{Tok, Token};
use super::parser::{ARITHMETIC, After, Expect, OTHER_OPERATORS, Parser, VALUE_KINDS};
use super::value::{Span, Spanned, Value};

impl Parser<'_> {
    pub(super) fn expected_value_error(&self, t: &Token, ctx: &Expect<'_>) -> SpecError {
        let found = self.describe(t);
        let (message, closer) = match ctx {
            Expect::Arg(callee) => (
                format!("expected an argument or `)` in the call to `{callee}`, found {found}"),
                Some("`)`"),
            ),
            Expect::Keyword(kw) => (
                format!("expected a value for keyword argument `{kw}`, found {found}"),
                None,
            ),
            Expect::ListItem => (
                format!("expected a value or `]`, found {found}"),
                Some("`]`"),
            ),
            Expect::TupleItem => (
                format!("expected a value or `)`, found {found}"),
                Some("`)`"),
            ),
            Expect::DictKey => (
                format!("expected a dict key or `}}`, found {found}"),
                Some("`}`"),
            ),
            Expect::DictValue => (
                format!("expected a value after `:` in the dict, found {found}"),
                None,
            ),
        };
        let expected = VALUE_KINDS.iter().copied().chain(closer);
        SpecError::new(message, t.span.clone()).with_expected(expected)
    }

    /// The error for token `t` found right after a complete value (at `prev`)
    /// where `ctx` says what separator or closer was expected.
    pub(super) fn after_value_error(
        &self,
        t: Token,
        prev: Option<&Spanned<Value>>,
        ctx: &After<'_>,
    ) -> SpecError {
        let (expected, generic): (&[&str], String) = {
            let found = self.describe(&t);
            let unexpected = found.strip_prefix("a ").unwrap_or(&found);
            match ctx {
                After::TopLevel { has_parens: true } => (
                    &[],
                    format!(
                        "unexpected {unexpected} after the spec; nothing may follow the closing `)`"
                    ),
                ),
                After::TopLevel { has_parens: false } => (
                    &["`(`"],
                    format!(
                        "unexpected {unexpected} after the spec; nothing may follow the component name"
                    ),
                ),
                After::Args(callee) => (
                    &["`,`", "`)`"],
                    format!("expected `,` or `)` to close the call to `{callee}`, found {found}"),
                ),
                After::List => (
                    &["`,`", "`]`"],
                    format!("expected `,` or `]` to close the list, found {found}"),
                ),
                After::Tuple => (
                    &["`,`", "`)`"],
                    format!("expected `,` or `)` to close the tuple, found {found}"),
                ),
                After::Paren => (
                    &["`,`", "`)`"],
                    format!("expected `,` or `)` to close the parentheses, found {found}"),
                ),
                After::DictKey => (
                    &["`:`"],
                    format!("expected `:` after the dict key, found {found}"),
                ),
                After::DictValue => (
                    &["`,`", "`}`"],
                    format!("expected `,` or `}}` to close the dict, found {found}"),
                ),
            }
        };
        let text = self.text(&t.span);
        let span = t.span.clone();
        let err = match &t.tok {
            Tok::Punct(p) if ARITHMETIC.contains(p) => SpecError::new(
                "arithmetic is not evaluated here; write the result, e.g. `0.5`",
                span,
            ),
            Tok::Punct(p) if OTHER_OPERATORS.contains(p) => SpecError::new(
                format!("operator `{p}` is not evaluated here; write the resulting value"),
                span,
            ),
            Tok::Punct(":=") => {
                SpecError::new("assignment expressions (`:=`) are not accepted", span)
            }
            Tok::Punct(p @ ("." | "(" | "[")) => {
                SpecError::new("attribute access/call on a result is not accepted", span).with_help(
                    match *p {
                        "." => "`.` may only join the parts of a dotted name",
                        "(" => "only a dotted name can be called",
                        _ => "indexing is not evaluated; write the element itself",
                    },
                )
            }
            Tok::Ident if text == "if" => {
                SpecError::new("conditional expressions are not accepted", span)
                    .with_help("write the value you want directly")
            }
            Tok::Ident if text == "for" || text == "async" => {
                SpecError::new("comprehensions are not accepted", span)
                    .with_help("write the items out in a list")
            }
            Tok::Ident if matches!(text, "and" | "or" | "not" | "in" | "is") => {
                boolean_op_error(span)
            }
            Tok::Str(_) if prev.is_some_and(|p| matches!(p.value, Value::Str(_))) => {
                SpecError::new(
                    "adjacent string literals are not concatenated here; write a single string",
                    span,
                )
            }
            Tok::Punct("=") if matches!(ctx, After::Args(_)) => match prev {
                Some(Spanned {
                    value: Value::Ref(name),
                    span: prev_span,
                }) => SpecError::new(
                    format!(
                        "keyword argument name must be a plain identifier, found `{}`",
                        name.value
                    ),
                    prev_span.clone(),
                ),
                _ => SpecError::new(generic, span)
                    .with_help("a keyword argument is written `name=value`"),
            },
            Tok::Punct(":") if matches!(ctx, After::Args(_)) => SpecError::new(generic, span)
                .with_help("keyword arguments are written with `=`, e.g. `rate=0.5`"),
            Tok::Punct("," | "}") if matches!(ctx, After::DictKey) => SpecError::new(generic, span)
                .with_help("set literals `{a, b}` are not accepted; use a list `[a, b]`"),
            _ => SpecError::new(generic, span),
        };
        err.with_expected(expected.iter().copied())
    }
}

pub(super) fn lambda_error(span: Span) -> SpecError {
    SpecError::new("lambdas are not accepted", span)
        .with_help("nothing is evaluated here; refer to a function by its dotted name instead")
}

pub(super) fn unpacking_error(span: Span) -> SpecError {
    SpecError::new("argument unpacking (`*`/`**`) is not accepted", span)
        .with_help("write each argument out, e.g. `name=value`")
}

pub(super) fn boolean_op_error(span: Span) -> SpecError {
    SpecError::new(
        "boolean operators and comparisons are not evaluated here; write the resulting value",
        span,
    )
}
