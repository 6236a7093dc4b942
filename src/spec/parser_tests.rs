//! The parser's table tests: valid specs and their canonical form, invalid ones and their
//! messages and spans.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::parser::*;
use super::value::*;

/// Valid specs and their canonical rendering.
pub(super) const VALID: &[(&str, &str)] = &[
    (
        "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
        "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
    ),
    ("ProbabilitySampler(0.5)", "ProbabilitySampler(0.5)"),
    (
        "ProbabilitySampler(rate=.5)",
        "ProbabilitySampler(rate=0.5)",
    ),
    (
        "ProbabilitySampler(rate=1e-4)",
        "ProbabilitySampler(rate=0.0001)",
    ),
    (
        "ProbabilitySampler(rate=5e-1)",
        "ProbabilitySampler(rate=0.5)",
    ),
    ("ProbabilitySampler(rate=1)", "ProbabilitySampler(rate=1)"),
    (
        "opencensus.trace.samplers.AlwaysOnSampler()",
        "opencensus.trace.samplers.AlwaysOnSampler()",
    ),
    (
        "opencensus.trace.samplers.AlwaysOnSampler",
        "opencensus.trace.samplers.AlwaysOnSampler()",
    ),
    (
        "opencensus.trace.print_exporter.PrintExporter()",
        "opencensus.trace.print_exporter.PrintExporter()",
    ),
    (
        r#"opencensus.trace.file_exporter.FileExporter(file_name='traces.json', file_mode="a")"#,
        "opencensus.trace.file_exporter.FileExporter(file_name='traces.json', file_mode='a')",
    ),
    (
        "opencensus.trace.exporters.file_exporter.FileExporter(transport=opencensus.common.transports.async_.AsyncTransport)",
        "opencensus.trace.exporters.file_exporter.FileExporter(transport=opencensus.common.transports.async_.AsyncTransport)",
    ),
    (
        "opencensus.ext.azure.trace_exporter.AzureExporter(\n    service_name='foobar',\n)",
        "opencensus.ext.azure.trace_exporter.AzureExporter(service_name='foobar')",
    ),
    (
        r#"AzureExporter(connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000000", proxies={'https': 'http://proxy:8080'})"#,
        "AzureExporter(connection_string='InstrumentationKey=00000000-0000-0000-0000-000000000000', proxies={'https': 'http://proxy:8080'})",
    ),
    (
        "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()",
        "opencensus.trace.propagation.trace_context_http_header_format.TraceContextPropagator()",
    ),
    (
        "opencensus.trace.propagation.b3_format.B3FormatPropagator()",
        "opencensus.trace.propagation.b3_format.B3FormatPropagator()",
    ),
    (
        "opencensus.trace.propagation.google_cloud_format.GoogleCloudFormatPropagator()",
        "opencensus.trace.propagation.google_cloud_format.GoogleCloudFormatPropagator()",
    ),
    (
        "A(x='''line1\nit's \"q\"\n'line3' ''')",
        r#"A(x='line1\nit\'s "q"\n\'line3\' ')"#,
    ),
    (
        r#"A(x="""a""b""", y="""'x'""")"#,
        r#"A(x='a""b', y='\'x\'')"#,
    ),
    (
        "A(  # first\n  x=1,  # one\n  # standalone\n  y=2,\n)  # end",
        "A(x=1, y=2)",
    ),
    ("A(1, 2,)", "A(1, 2)"),
    ("A(x=(1,))", "A(x=(1,))"),
    ("A(x=())", "A(x=())"),
    ("A(x=(1, 2))", "A(x=(1, 2))"),
    ("A(x=(1, 2,))", "A(x=(1, 2))"),
    ("A(x=(1))", "A(x=1)"),
    ("A(x=((1,),))", "A(x=((1,),))"),
    ("A(b=B(c=C()))", "A(b=B(c=C()))"),
    ("A(x=None)", "A(x=None)"),
    ("A(x=True, y=False)", "A(x=True, y=False)"),
    ("A(x=-1, y=+2.5)", "A(x=-1, y=2.5)"),
    (r"A(s='\x41\u00e9\n')", r"A(s='Aé\n')"),
    (r#"A(s="it's")"#, r"A(s='it\'s')"),
    (r#"A(s='say \"hi\"')"#, r#"A(s='say "hi"')"#),
    (
        "  opencensus . trace\n . samplers.ProbabilitySampler ( rate = 0.5 )  ",
        "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
    ),
    (
        "A(x=[1, 2, 3], y=[], z=[1,])",
        "A(x=[1, 2, 3], y=[], z=[1])",
    ),
    (
        "A(x={}, y={'a': 1, 'b': [2, 3],})",
        "A(x={}, y={'a': 1, 'b': [2, 3]})",
    ),
    ("A(x=1E4, y=1., z=00.5)", "A(x=10000.0, y=1.0, z=0.5)"),
    ("A(x=0, y=00, z=-0.0, w=+0)", "A(x=0, y=0, z=-0.0, w=0)"),
    (
        "A(x=9223372036854775807, y=-9223372036854775808)",
        "A(x=9223372036854775807, y=-9223372036854775808)",
    ),
    (
        "A(x=true, y=null, z=false, w=none)",
        "A(x=true, y=null, z=false, w=none)",
    ),
    ("A(1, 'two', x=3)", "A(1, 'two', x=3)"),
    ("A(x=B, y=c.d.E)", "A(x=B, y=c.d.E)"),
    ("A(x=[B(), C(d=1)])", "A(x=[B(), C(d=1)])"),
    (
        "A(x={'k': (1, 'a'), 2: None})",
        "A(x={'k': (1, 'a'), 2: None})",
    ),
    ("\tA()\n", "A()"),
    ("# leading comment\nA() # trailing comment", "A()"),
    ("A(s='a\\\nb')", "A(s='ab')"),
    (r"A(s='\\d')", r"A(s='\\d')"),
    (
        "A(x=1e+16, y=1.5e-7, z=1e-5)",
        "A(x=1e+16, y=1.5e-07, z=1e-05)",
    ),
    (r#"A(s="", t='''''')"#, "A(s='', t='')"),
    (r"A(s='\U0001F600 é')", "A(s='😀 é')"),
    ("_private._A9(x_1=1)", "_private._A9(x_1=1)"),
    ("A(x=[[[[1]]]])", "A(x=[[[[1]]]])"),
    ("A(rate = 0.5 , )", "A(rate=0.5)"),
    (r"A(s='\t\r\a\0')", r"A(s='\t\r\x07\x00')"),
    ("A(x='a' , y=(  ))", "A(x='a', y=())"),
    ("A(match=1, case=2, type=3)", "A(match=1, case=2, type=3)"),
    ("A(x={(1, 2): [None]})", "A(x={(1, 2): [None]})"),
    ("A\n", "A()"),
    ("A(x='é€😀', y='\u{202e}')", r"A(x='é€😀', y='\u202e')"),
    ("A(x=- 1, y=- .5)", "A(x=-1, y=-0.5)"),
];

/// Invalid specs with the exact message and span of the error.
const INVALID: &[(&str, &str, Span)] = &[
    (
        "A(rate=1/2)",
        "arithmetic is not evaluated here; write the result, e.g. `0.5`",
        8..9,
    ),
    (
        "A(x=1+1)",
        "arithmetic is not evaluated here; write the result, e.g. `0.5`",
        5..6,
    ),
    (
        "A(x=2*3)",
        "arithmetic is not evaluated here; write the result, e.g. `0.5`",
        5..6,
    ),
    (
        "A(x=2 - 1)",
        "arithmetic is not evaluated here; write the result, e.g. `0.5`",
        6..7,
    ),
    (
        "A(x=5 % 2)",
        "arithmetic is not evaluated here; write the result, e.g. `0.5`",
        6..7,
    ),
    (
        "A(x=2**8)",
        "arithmetic is not evaluated here; write the result, e.g. `0.5`",
        5..7,
    ),
    (
        "A(**{})",
        "argument unpacking (`*`/`**`) is not accepted",
        2..4,
    ),
    (
        "A(*args)",
        "argument unpacking (`*`/`**`) is not accepted",
        2..3,
    ),
    ("A(x=lambda: 1)", "lambdas are not accepted", 4..10),
    ("lambda: 1", "lambdas are not accepted", 0..6),
    (
        "A(x=1 if c else 2)",
        "conditional expressions are not accepted",
        6..8,
    ),
    (
        "Foo().bar",
        "attribute access/call on a result is not accepted",
        5..6,
    ),
    (
        "Foo()()",
        "attribute access/call on a result is not accepted",
        5..6,
    ),
    (
        "Foo()[0]",
        "attribute access/call on a result is not accepted",
        5..6,
    ),
    (
        "A(x=B().c)",
        "attribute access/call on a result is not accepted",
        7..8,
    ),
    (
        "A(x=[1, 2][0])",
        "attribute access/call on a result is not accepted",
        10..11,
    ),
    (
        "A(x='a'.upper())",
        "attribute access/call on a result is not accepted",
        7..8,
    ),
    (
        "A(x=f'x')",
        "string prefix `f` is not accepted (f-strings are not supported)",
        4..5,
    ),
    (
        "A(x=r'x')",
        "string prefix `r` is not accepted (raw strings are not supported)",
        4..5,
    ),
    (
        "A(x=b'x')",
        "string prefix `b` is not accepted (byte strings are not supported)",
        4..5,
    ),
    ("A(x=u'x')", "string prefix `u` is not accepted", 4..5),
    (
        "A(x=1_000)",
        "underscores in number literals are not accepted",
        4..9,
    ),
    ("A(x=0x10)", "hexadecimal literals are not accepted", 4..8),
    ("A(x=0o17)", "octal literals are not accepted", 4..8),
    ("A(x=0b101)", "binary literals are not accepted", 4..9),
    (
        "A(x=007)",
        "leading zeros in integer literals are not accepted",
        4..7,
    ),
    ("A(x=1e999)", "float out of range", 4..9),
    ("A(x=-1e999)", "float out of range", 4..10),
    ("A(x=99999999999999999999)", "integer out of range", 4..24),
    ("A(x=-9223372036854775809)", "integer out of range", 4..24),
    (
        "A(x=1e)",
        "invalid number literal `1e`: the exponent has no digits",
        4..6,
    ),
    ("A(x=1j)", "complex numbers are not accepted", 4..6),
    ("A(x='abc)", "unterminated string literal", 4..5),
    ("A(x=\"abc)", "unterminated string literal", 4..5),
    ("A(x='''abc)", "unterminated string literal", 4..7),
    ("A(x=\"\"\"abc)", "unterminated string literal", 4..7),
    ("A(x='ab\ncd')", "unterminated string literal", 4..5),
    ("A(x=\"ab\r\ncd\")", "unterminated string literal", 4..5),
    ("A(x='ab\\", "unterminated string literal", 4..5),
    (r"A(x='\d')", r"unknown escape sequence `\d`", 5..7),
    (r"A(x='\N{DASH}')", r"unknown escape sequence `\N`", 5..7),
    (r"A(x='\012')", r"octal escape `\012` is not accepted", 5..9),
    (
        r"A(x='\ud800')",
        r"invalid `\u` escape: U+D800 is not a valid Unicode code point",
        5..11,
    ),
    (
        r"A(x='\U00110000')",
        r"invalid `\U` escape: U+110000 is not a valid Unicode code point",
        5..15,
    ),
    (
        r"A(x='\u12')",
        r"invalid `\u` escape: expected 4 hex digits",
        5..9,
    ),
    (
        r"A(x='\x4')",
        r"invalid `\x` escape: expected 2 hex digits",
        5..8,
    ),
    (
        "A(x=1, 2)",
        "positional argument follows keyword argument `x`",
        7..8,
    ),
    (
        "A(x=1, x=2)",
        "keyword argument `x` repeated (first given at line 1, column 3)",
        7..8,
    ),
    (
        "A(\n  x=1,\n  y=2,\n  x=3)",
        "keyword argument `x` repeated (first given at line 2, column 3)",
        19..20,
    ),
    (
        "A(x=1",
        "expected `,` or `)` to close the call to `A`, found end of input",
        5..5,
    ),
    (
        "ProbabilitySampler(rate=0.5;",
        "expected `,` or `)` to close the call to `ProbabilitySampler`, found `;`",
        27..28,
    ),
    (
        "A(x=",
        "expected a value for keyword argument `x`, found end of input",
        4..4,
    ),
    (
        "A(x=)",
        "expected a value for keyword argument `x`, found `)`",
        4..5,
    ),
    (
        "A(,)",
        "expected an argument or `)` in the call to `A`, found `,`",
        2..3,
    ),
    (
        "A(x=1,,)",
        "expected an argument or `)` in the call to `A`, found `,`",
        6..7,
    ),
    (
        "A)",
        "unmatched `)`; expected `(` to start the arguments of `A`",
        1..2,
    ),
    (
        "A(x=1) trailing",
        "unexpected `trailing` after the spec; nothing may follow the closing `)`",
        7..15,
    ),
    (
        "A(x=1);",
        "unexpected `;` after the spec; nothing may follow the closing `)`",
        6..7,
    ),
    (
        "A B",
        "unexpected `B` after the spec; nothing may follow the component name",
        2..3,
    ),
    (
        "",
        "empty spec string; expected a component like `ProbabilitySampler(rate=0.5)`",
        0..0,
    ),
    (
        "   \n\t ",
        "empty spec string; expected a component like `ProbabilitySampler(rate=0.5)`",
        0..0,
    ),
    (
        "# only a comment",
        "empty spec string; expected a component like `ProbabilitySampler(rate=0.5)`",
        0..0,
    ),
    ("A.(x)", "expected a name after `.`, found `(`", 2..3),
    ("A..B()", "expected a name after `.`, found `.`", 2..3),
    (
        "A.if()",
        "`if` is a Python keyword and cannot be part of a name",
        2..4,
    ),
    (
        "1()",
        "expected a component name like `ProbabilitySampler(rate=0.5)`, found number `1`",
        0..1,
    ),
    (
        "'str'",
        "expected a component name like `ProbabilitySampler(rate=0.5)`, found a string",
        0..5,
    ),
    (
        "None",
        "expected a component name like `ProbabilitySampler(rate=0.5)`, found `None`",
        0..4,
    ),
    (
        "A(x=[1,2)",
        "expected `,` or `]` to close the list, found `)`",
        8..9,
    ),
    ("A(x=[,])", "expected a value or `]`, found `,`", 5..6),
    (
        "A(x={1 2})",
        "expected `:` after the dict key, found number `2`",
        7..8,
    ),
    (
        "A(x={1, 2})",
        "expected `:` after the dict key, found `,`",
        6..7,
    ),
    (
        "A(x={'a': 1 'b': 2})",
        "expected `,` or `}` to close the dict, found a string",
        12..15,
    ),
    (
        "A(x=(1 2))",
        "expected `,` or `)` to close the parentheses, found number `2`",
        7..8,
    ),
    (
        "A(x=(1, 2 3))",
        "expected `,` or `)` to close the tuple, found number `3`",
        10..11,
    ),
    (
        "A(ráte=1)",
        "identifier `ráte` contains non-ASCII characters",
        2..7,
    ),
    (
        "Sämpler()",
        "identifier `Sämpler` contains non-ASCII characters",
        0..8,
    ),
    (
        "A(a.b=1)",
        "keyword argument name must be a plain identifier, found `a.b`",
        2..5,
    ),
    (
        "A(x: 1)",
        "expected `,` or `)` to close the call to `A`, found `:`",
        3..4,
    ),
    (
        "A(x='a' 'b')",
        "adjacent string literals are not concatenated here; write a single string",
        8..11,
    ),
    (
        "A(x=[i for i in y])",
        "comprehensions are not accepted",
        7..10,
    ),
    (
        "A(x=not True)",
        "boolean operators and comparisons are not evaluated here; write the resulting value",
        4..7,
    ),
    (
        "A(x=1 and 2)",
        "boolean operators and comparisons are not evaluated here; write the resulting value",
        6..9,
    ),
    (
        "A(x=1 == 1)",
        "operator `==` is not evaluated here; write the resulting value",
        6..8,
    ),
    ("A(x=-y)", "expected a number after `-`, found `y`", 5..6),
    (
        "A(x=\u{201c}x\u{201d})",
        "typographic quote `\u{201c}` is not a string delimiter",
        4..7,
    ),
    (
        "A(x=1)\u{a0}",
        "unexpected non-ASCII whitespace character U+00A0",
        6..8,
    ),
    ("A(x=$)", "unexpected character `$`", 4..5),
    (
        "A(class=1)",
        "`class` is a Python keyword and cannot be a keyword argument name",
        2..7,
    ),
    (
        "A(x=if)",
        "`if` is a Python keyword and cannot be used as a value",
        4..6,
    ),
    (
        "A(x=1.5.3)",
        "expected `,` or `)` to close the call to `A`, found number `.3`",
        7..9,
    ),
    (
        "A(x=1)(",
        "attribute access/call on a result is not accepted",
        6..7,
    ),
    ("A(x=\"it's)", "unterminated string literal", 4..5),
    (
        "A() 'x'",
        "unexpected string after the spec; nothing may follow the closing `)`",
        4..7,
    ),
    (
        "A(x=1 := 2)",
        "assignment expressions (`:=`) are not accepted",
        6..8,
    ),
    (
        "A(x=-\n1=2)",
        "expected `,` or `)` to close the call to `A`, found `=`",
        7..8,
    ),
];

#[test]
fn valid_specs_parse_to_canonical_form() {
    assert!(VALID.len() >= 40);
    let mut failures = Vec::new();
    for (spec, want) in VALID {
        match parse(spec) {
            Ok(call) => {
                let got = call.to_string();
                if got != *want {
                    failures.push(format!("{spec:?}: got {got:?}, want {want:?}"));
                }
            }
            Err(e) => failures.push(format!("{spec:?}: error {e:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_specs_report_message_and_span() {
    assert!(INVALID.len() >= 40);
    let mut failures = Vec::new();
    for (spec, msg, span) in INVALID {
        match parse(spec) {
            Ok(call) => failures.push(format!("{spec:?}: parsed as {call}")),
            Err(e) => {
                if e.message != *msg || e.span != *span {
                    failures.push(format!(
                        "{spec:?}: got ({:?}, {:?}), want ({msg:?}, {span:?})",
                        e.message, e.span
                    ));
                }
                if e.message.ends_with('.') || e.message.contains('\n') {
                    failures.push(format!("{spec:?}: message style {:?}", e.message));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["[", "(", "{", "B("] {
        let spec = format!("A(x={})", open.repeat(100_000));
        let err = parse(&spec).unwrap_err();
        assert_eq!(
            err.message,
            "nesting too deep (more than 64 levels of brackets and calls)"
        );
        // The call is level 1, so the 64th opener is the first too many.
        let start = 4 + 63 * open.len() + open.len() - 1;
        assert_eq!(err.span, start..start + 1, "opener {open}");
    }
    let ok = format!("A(x={}1{})", "[".repeat(63), "]".repeat(63));
    assert!(parse(&ok).is_ok());
    let too_deep = format!("A(x={}1{})", "[".repeat(64), "]".repeat(64));
    assert!(parse(&too_deep).is_err());
}

#[test]
fn structure_and_spans() {
    let spec = "opencensus.trace.samplers.AlwaysOnSampler";
    let call = parse(spec).unwrap();
    assert!(!call.has_parens);
    assert!(call.args.is_empty());
    assert_eq!(call.name.value, spec);
    assert_eq!(call.span, 0..spec.len());

    let spec = " a . b ( 1 , k = c . d , z = E ( ) ) ";
    let call = parse(spec).unwrap();
    assert!(call.has_parens);
    assert_eq!(call.name, Spanned::new("a.b".to_owned(), 1..6));
    assert_eq!(call.span, 1..spec.len() - 1);
    assert_eq!(call.args.len(), 3);
    assert_eq!(call.args[0].keyword, None);
    assert_eq!(call.args[0].value, Spanned::new(Value::Int(1), 9..10));
    let k = &call.args[1];
    assert_eq!(k.keyword, Some(Spanned::new("k".to_owned(), 13..14)));
    assert_eq!(
        k.value,
        Spanned::new(Value::Ref(Spanned::new("c.d".to_owned(), 17..22)), 17..22)
    );
    let Value::Call(inner) = &call.args[2].value.value else {
        panic!("expected a call");
    };
    assert_eq!(inner.name.value, "E");
    assert!(inner.has_parens);
    assert_eq!(inner.span, 29..34);
    assert_eq!(call.args[2].value.span, 29..34);

    let call = parse("A(x=-1.5, y=[1, 'é'], z={'k': (None,)})").unwrap();
    let x = &call.keyword_arg("x").unwrap().value;
    assert_eq!(x.value, Value::Float(-1.5));
    assert_eq!(x.span, 4..8);
    let y = &call.keyword_arg("y").unwrap().value;
    assert_eq!(y.span, 12..21);
    assert_eq!(
        y.value,
        Value::List(vec![
            Spanned::new(Value::Int(1), 13..14),
            Spanned::new(Value::Str("é".into()), 16..20),
        ])
    );
    let z = &call.keyword_arg("z").unwrap().value;
    assert_eq!(
        z.value,
        Value::Dict(vec![(
            Spanned::new(Value::Str("k".into()), 26..29),
            Spanned::new(
                Value::Tuple(vec![Spanned::new(Value::None, 32..36)]),
                31..38
            ),
        )])
    );
}

#[test]
fn helps_and_expected_lists() {
    let help = |s: &str| parse(s).unwrap_err().help.unwrap_or_default();
    assert_eq!(help("A(x=0x10)"), "write the decimal value `16`");
    assert_eq!(help("A(x=1_000.5)"), "write `1000.5`");
    assert_eq!(
        help("A(x=007)"),
        "write `7` (octal literals are not accepted either)"
    );
    assert_eq!(
        help(r"A(x='\d')"),
        r"to include a literal backslash, double it: `\\d`"
    );
    assert!(help("A(x='a\nb')").contains("triple-quoted"));
    assert!(help("A(x={1, 2})").contains("set literals"));
    assert!(help("A(x: 1)").contains("`=`"));
    let err = parse("A(x=1 2)").unwrap_err();
    assert_eq!(err.expected, vec!["`,`", "`)`"]);
    let err = parse("A(x=)").unwrap_err();
    assert!(err.expected.iter().any(|e| e == "a string"));
    assert_eq!(err.to_string(), err.message);
}

#[test]
fn many_arguments_parse_in_linear_time() {
    let args: Vec<String> = (0..50_000).map(|i| format!("k{i}={i}")).collect();
    let spec = format!("A({})", args.join(", "));
    assert_eq!(parse(&spec).unwrap().args.len(), 50_000);
    let spec = format!("A({}, k7=1)", args.join(", "));
    let err = parse(&spec).unwrap_err();
    assert_eq!(
        err.message,
        "keyword argument `k7` repeated (first given at line 1, column 45)"
    );
    assert_eq!(&spec[err.span], "k7");
}

#[test]
fn secrets_in_strings_are_not_echoed_in_messages() {
    let err = parse("A(x=1 'InstrumentationKey=secret')").unwrap_err();
    assert!(!err.message.contains("secret"), "{}", err.message);
}
