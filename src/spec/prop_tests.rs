//! Property tests: `parse` and `render_snippet` never panic, error spans are
//! valid char ranges, and the canonical rendering round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::parser::is_keyword;
use super::parser_tests::VALID;
use super::{Arg, Call, Span, Spanned, Value, parse, render_snippet};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        ..ProptestConfig::default()
    }
}

fn span_ok(text: &str, span: &Span) -> bool {
    span.start <= span.end
        && span.end <= text.len()
        && text.is_char_boundary(span.start)
        && text.is_char_boundary(span.end)
        && text.get(span.clone()).is_some()
}

/// Checks every span in a parsed value.
fn value_spans_ok(text: &str, v: &Spanned<Value>) -> bool {
    span_ok(text, &v.span)
        && match &v.value {
            Value::List(items) | Value::Tuple(items) => {
                items.iter().all(|i| value_spans_ok(text, i))
            }
            Value::Dict(entries) => entries
                .iter()
                .all(|(k, v)| value_spans_ok(text, k) && value_spans_ok(text, v)),
            Value::Call(c) => call_spans_ok(text, c),
            Value::Ref(r) => span_ok(text, &r.span),
            _ => true,
        }
}

fn call_spans_ok(text: &str, c: &Call) -> bool {
    span_ok(text, &c.span)
        && span_ok(text, &c.name.span)
        && c.args.iter().all(|a| {
            a.keyword.as_ref().is_none_or(|k| span_ok(text, &k.span))
                && value_spans_ok(text, &a.value)
        })
}

/// Parses `text` and checks the invariants that hold for any input.
fn check_any(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Ok(call) => {
            prop_assert!(call_spans_ok(text, &call), "bad span in {call:?}");
            let canonical = call.to_string();
            let again = parse(&canonical);
            prop_assert!(again.is_ok(), "canonical {canonical:?} fails: {again:?}");
            prop_assert_eq!(again.map(|c| c.to_string()).unwrap_or_default(), canonical);
        }
        Err(err) => {
            prop_assert!(
                span_ok(text, &err.span),
                "bad error span {:?} in {text:?}",
                err.span
            );
            prop_assert!(!err.message.is_empty() && !err.message.contains('\n'));
            let rendered = render_snippet(text, err.span, &[], "label");
            prop_assert!(rendered.contains('^'));
        }
    }
    Ok(())
}

/// Fragments that steer random text towards the interesting parts of the grammar.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "A", "b.c", "(", ")", "[", "]", "{", "}", ",", ":", "=", ".", "'", "\"", "'''",
            "\"\"\"", "\\", "\\u", "\\x4", "\\N", "#", "\n", " ", "\t", "1", "0", "-", "+",
            "1e", "e", ".5", "_", "0x", "*", "**", "/", "True", "None", "lambda", "if", "f",
            "é", "😀", "\u{a0}", "\u{201c}", "\r",
        ])
        .prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let ch = prop_oneof![
        3 => prop::sample::select(vec![
            '(', ')', '[', ']', '{', '}', ',', '=', '.', '\'', '"', '\\', '#', '\n', ' ', '1',
            '-', 'e', '_', '*', 'é', ':',
        ]),
        1 => any::<char>(),
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), ch).prop_map(|(i, c)| Mutation::Replace(i, c)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    match *m {
        Mutation::Delete(i) if n > 0 => {
            chars.remove(i % n);
        }
        Mutation::Insert(i, c) => chars.insert(i % (n + 1), c),
        Mutation::Replace(i, c) if n > 0 => chars[i % n] = c,
        Mutation::Truncate(i) => chars.truncate(i % (n + 1)),
        _ => {}
    }
    chars.into_iter().collect()
}

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,6}".prop_filter("not a keyword", |s| !is_keyword(s))
}

fn dotted() -> impl Strategy<Value = String> {
    prop::collection::vec(ident(), 1..4).prop_map(|v| v.join("."))
}

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(v, 0..0)
}

fn make_call(name: String, pos: Vec<Value>, kw: Vec<(String, Value)>) -> Call {
    let mut args: Vec<Arg> = pos
        .into_iter()
        .map(|v| Arg {
            keyword: None,
            value: sp(v),
        })
        .collect();
    for (k, v) in kw {
        if !args
            .iter()
            .any(|a| a.keyword.as_ref().is_some_and(|x| x.value == k))
        {
            args.push(Arg {
                keyword: Some(sp(k)),
                value: sp(v),
            });
        }
    }
    Call {
        name: sp(name),
        args,
        has_parens: true,
        span: 0..0,
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        prop::collection::vec(any::<char>(), 0..12)
            .prop_map(|c| Value::Str(c.into_iter().collect())),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::None),
        dotted().prop_map(|d| Value::Ref(sp(d))),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let items = prop::collection::vec(inner.clone(), 0..4);
        prop_oneof![
            items
                .clone()
                .prop_map(|v| Value::List(v.into_iter().map(sp).collect())),
            items.prop_map(|v| Value::Tuple(v.into_iter().map(sp).collect())),
            prop::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(|v| {
                Value::Dict(v.into_iter().map(|(k, v)| (sp(k), sp(v))).collect())
            }),
            (
                dotted(),
                prop::collection::vec(inner.clone(), 0..3),
                prop::collection::vec((ident(), inner), 0..3)
            )
                .prop_map(|(n, p, k)| Value::Call(make_call(n, p, k))),
        ]
    })
}

fn call() -> impl Strategy<Value = Call> {
    (
        dotted(),
        prop::collection::vec(value(), 0..3),
        prop::collection::vec((ident(), value()), 0..3),
    )
        .prop_map(|(n, p, k)| make_call(n, p, k))
}

/// Resets all spans so parsed and generated trees can be compared.
fn strip_value(v: &Value) -> Value {
    match v {
        Value::List(items) => {
            Value::List(items.iter().map(|i| sp(strip_value(&i.value))).collect())
        }
        Value::Tuple(items) => {
            Value::Tuple(items.iter().map(|i| sp(strip_value(&i.value))).collect())
        }
        Value::Dict(entries) => Value::Dict(
            entries
                .iter()
                .map(|(k, v)| (sp(strip_value(&k.value)), sp(strip_value(&v.value))))
                .collect(),
        ),
        Value::Call(c) => Value::Call(strip_call(c)),
        Value::Ref(r) => Value::Ref(sp(r.value.clone())),
        other => other.clone(),
    }
}

fn strip_call(c: &Call) -> Call {
    Call {
        name: sp(c.name.value.clone()),
        args: c
            .args
            .iter()
            .map(|a| Arg {
                keyword: a.keyword.as_ref().map(|k| sp(k.value.clone())),
                value: sp(strip_value(&a.value.value)),
            })
            .collect(),
        has_parens: c.has_parens,
        span: 0..0,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_unicode_never_panics(text in prop::collection::vec(any::<char>(), 0..64)) {
        let text: String = text.into_iter().collect();
        check_any(&text)?;
    }

    #[test]
    fn token_soup_never_panics(text in soup()) {
        check_any(&text)?;
        check_any(&format!("A(x={text})"))?;
    }

    #[test]
    fn mutated_corpus_never_panics(
        idx in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let (spec, _) = VALID[idx.index(VALID.len())];
        let text = mutations.iter().fold(spec.to_owned(), |t, m| mutate(&t, m));
        check_any(&text)?;
    }

    #[test]
    fn canonical_display_round_trips(call in call()) {
        let text = call.to_string();
        let parsed = parse(&text);
        prop_assert!(parsed.is_ok(), "{text:?} fails: {parsed:?}");
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.to_string(), text.clone());
        prop_assert_eq!(strip_call(&parsed), strip_call(&call), "{}", text);
    }

    #[test]
    fn render_snippet_never_panics(
        text in prop::collection::vec(
            prop_oneof![4 => any::<char>(), 1 => Just('\n'), 1 => Just('\t'), 1 => Just('é')],
            0..80,
        ),
        start in 0usize..100,
        len in 0usize..100,
        reversed in any::<bool>(),
        redact in prop::collection::vec((0usize..100, 0usize..100), 0..3),
        label in "[a-z ]{0,8}",
    ) {
        let text: String = text.into_iter().collect();
        let span = if reversed { start + len..start } else { start..start + len };
        let redact: Vec<Span> = redact.into_iter().map(|(a, b)| a..b).collect();
        let out = render_snippet(&text, span, &redact, &label);
        prop_assert!(out.contains('^'));
        prop_assert!(!out.ends_with('\n'));
        for line in out.split('\n') {
            prop_assert_eq!(line.trim_end(), line);
        }
    }
}

#[test]
fn corpus_round_trips() {
    for (spec, _) in VALID {
        check_any(spec).unwrap();
    }
}
