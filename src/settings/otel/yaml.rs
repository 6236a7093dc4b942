//! A YAML document as a tree that remembers where every key and value was written, built from
//! `yaml-rust2`'s event parser, with OpenTelemetry's environment substitution applied to the
//! scalar values (never to keys) before their type is decided.
//!
//! Typing follows YAML 1.2's core schema (what the configuration spec's examples assume):
//! `true`/`false`, integers (`12`, `0x1f`, `0o17`), floats (`1.5`, `.inf`), `null`/`~`/empty.
//! A quoted scalar is always a string, whatever it was substituted with.

use std::fmt;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use super::subst::{self, Lookup, SubstError};

/// Where something was written: 1-based line and column, and the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) index: usize,
}

/// A scalar's value, typed after substitution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// What a message calls this type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Int(_) => "an integer",
            Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
        }
    }
}

/// One node of the document.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Scalar {
        value: Scalar,
        /// The text after substitution (what a string field takes).
        text: String,
        /// The text as written, before substitution.
        raw: String,
        quoted: bool,
        /// Substitution changed it.
        substituted: bool,
        pos: Pos,
        /// Bytes of the source it covers on its first line (for the caret).
        len: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        pos: Pos,
    },
    Seq {
        items: Vec<Node>,
        pos: Pos,
    },
}

/// A mapping key as written.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) text: String,
    pub(crate) pos: Pos,
    pub(crate) len: usize,
}

impl Node {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. } | Node::Map { pos, .. } | Node::Seq { pos, .. } => *pos,
        }
    }

    /// The caret's width.
    pub(crate) fn len(&self) -> usize {
        match self {
            Node::Scalar { len, .. } => (*len).max(1),
            _ => 1,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(
            self,
            Node::Scalar {
                value: Scalar::Null,
                ..
            }
        )
    }

    /// What a message calls this node's type.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Scalar { value, .. } => value.type_name(),
            Node::Map { .. } => "a mapping",
            Node::Seq { .. } => "a list",
        }
    }
}

/// A problem found while reading the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReadError {
    pub(crate) message: String,
    pub(crate) pos: Pos,
    pub(crate) len: usize,
    pub(crate) help: Vec<String>,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

/// Nodes at most (aliases included): a document that expands beyond this is refused rather
/// than allowed to take the memory (a "billion laughs" file).
const MAX_NODES: usize = 100_000;
/// Nesting at most.
const MAX_DEPTH: usize = 64;

/// The YAML 1.2 core schema's type for a plain scalar.
pub(crate) fn plain_type(text: &str) -> Scalar {
    let t = text.trim();
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = t.strip_prefix("0x") {
        if !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(i) = i64::from_str_radix(hex, 16)
        {
            return Scalar::Int(i);
        }
        return Scalar::Str(text.to_string());
    }
    if let Some(oct) = t.strip_prefix("0o") {
        if !oct.is_empty()
            && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
            && let Ok(i) = i64::from_str_radix(oct, 8)
        {
            return Scalar::Int(i);
        }
        return Scalar::Str(text.to_string());
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match t.parse::<i64>() {
            Ok(i) => Scalar::Int(i),
            // Too large for an integer: still a number.
            Err(_) => t
                .parse::<f64>()
                .map_or(Scalar::Str(text.to_string()), Scalar::Float),
        };
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let is_float = {
        let b = digits.as_bytes();
        let mut i = 0;
        let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        i += int_digits;
        let mut frac_digits = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            i += frac_digits;
        }
        let mantissa = int_digits > 0 || frac_digits > 0;
        if mantissa && matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'-' | b'+')) {
                i += 1;
            }
            let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if exp == 0 {
                i = usize::MAX;
            } else {
                i += exp;
            }
        }
        mantissa && i == b.len()
    };
    if is_float && let Ok(f) = t.parse::<f64>() {
        return Scalar::Float(f);
    }
    Scalar::Str(text.to_string())
}

/// The width of a scalar in its source line, from its start (for the caret).
fn source_len(source: &str, index: usize, text: &str, style: TScalarStyle) -> usize {
    let rest = source.get(index..).unwrap_or("");
    let line = rest.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let width = match style {
        TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
            let mut chars = line.char_indices();
            match chars.next() {
                // The closing quote on this line, else the line.
                Some((_, quote)) => chars
                    .find(|(_, c)| *c == quote)
                    .map_or(line.len(), |(i, c)| i + c.len_utf8()),
                None => 1,
            }
        }
        TScalarStyle::Plain => {
            // Up to a comment or the end of the line, but no further than the text.
            let end = line.find(" #").unwrap_or(line.len());
            let shown = line.get(..end).unwrap_or(line).trim_end();
            let mut width = shown.len().min(text.len().max(1));
            while !shown.is_char_boundary(width) {
                width += 1;
            }
            width
        }
        _ => 1,
    };
    width.max(1)
}

struct Builder<'a> {
    source: &'a str,
    /// Byte offset of each line's start (for positions of non-ASCII text); empty for ASCII.
    line_starts: Vec<usize>,
    lookup: &'a dyn Lookup,
    anchors: Vec<(usize, Node)>,
    nodes: usize,
    errors: Vec<ReadError>,
}

enum Frame {
    Map {
        entries: Vec<(Key, Node)>,
        pos: Pos,
        pending_key: Option<Key>,
        anchor: usize,
    },
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
}

/// A marker as a position. For non-ASCII text the byte offset is found from the line and the
/// column (characters), not the parser's index (which mixes characters and bytes).
fn pos_of(m: &yaml_rust2::scanner::Marker, source: &str, line_starts: &[usize]) -> Pos {
    let index = if line_starts.is_empty() {
        m.index()
    } else {
        let start = line_starts
            .get(m.line().saturating_sub(1))
            .copied()
            .unwrap_or(source.len());
        let line = source.get(start..).unwrap_or("");
        let line = line.split('\n').next().unwrap_or("");
        start
            + line
                .char_indices()
                .nth(m.col())
                .map_or(line.len(), |(i, _)| i)
    };
    Pos {
        line: m.line(),
        col: m.col() + 1,
        index: index.min(source.len()),
    }
}

impl Builder<'_> {
    fn scalar(&mut self, text: String, style: TScalarStyle, pos: Pos, tagged_str: bool) -> Node {
        let quoted = matches!(
            style,
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
        ) || tagged_str;
        let len = source_len(self.source, pos.index, &text, style);
        let (after, substituted) = match subst::substitute(&text, self.lookup) {
            Ok(s) => {
                let changed = s != text;
                (s, changed)
            }
            Err(SubstError {
                message,
                offset,
                help,
            }) => {
                let mut p = pos;
                // Point into the value when it is plain and on one line (a quoted value's
                // escapes make the source longer than the text).
                if matches!(style, TScalarStyle::Plain)
                    && !text.get(..offset).unwrap_or(&text).contains('\n')
                {
                    p.col += text.get(..offset).map_or(0, |t| t.chars().count());
                    p.index += offset;
                }
                self.errors.push(ReadError {
                    message,
                    pos: p,
                    len: 2,
                    help,
                });
                (text.clone(), false)
            }
        };
        let value = if quoted || matches!(style, TScalarStyle::Literal | TScalarStyle::Folded) {
            Scalar::Str(after.clone())
        } else {
            plain_type(&after)
        };
        Node::Scalar {
            value,
            text: after,
            raw: text,
            quoted,
            substituted,
            pos,
            len,
        }
    }

    /// Adds a finished node to the frame on top (or returns it as the document).
    fn push(&mut self, stack: &mut [Frame], node: Node) -> Option<Node> {
        self.nodes += 1;
        match stack.last_mut() {
            None => Some(node),
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                None
            }
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => {
                match pending_key.take() {
                    Some(key) => entries.push((key, node)),
                    None => match node {
                        Node::Scalar {
                            text,
                            raw,
                            pos,
                            len,
                            ..
                        } => {
                            // Keys are never substituted.
                            let _ = text;
                            *pending_key = Some(Key {
                                text: raw,
                                pos,
                                len,
                            });
                        }
                        other => {
                            self.errors.push(ReadError {
                                message: format!(
                                    "a mapping key must be a plain name, found {}",
                                    other.type_name()
                                ),
                                pos: other.pos(),
                                len: 1,
                                help: Vec::new(),
                            });
                            *pending_key = Some(Key {
                                text: String::new(),
                                pos: other.pos(),
                                len: 1,
                            });
                        }
                    },
                }
                None
            }
        }
    }

    fn is_key_position(stack: &[Frame]) -> bool {
        matches!(
            stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }
}

/// Parses `source` (one document) into a tree, substituting `${...}` in scalar values through
/// `lookup`. An empty document is `None`. Errors are syntax errors (the first one: YAML does
/// not recover) and substitution errors (all of them).
pub(crate) fn parse(source: &str, lookup: &dyn Lookup) -> Result<Option<Node>, Vec<ReadError>> {
    let line_starts: Vec<usize> = if source.is_ascii() {
        Vec::new()
    } else {
        std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect()
    };
    let mut b = Builder {
        source,
        line_starts,
        lookup,
        anchors: Vec::new(),
        nodes: 0,
        errors: Vec::new(),
    };
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(e) => e,
            Err(e) => {
                let m = e.marker();
                return Err(vec![ReadError {
                    message: format!("this is not valid YAML: {}", e.info()),
                    pos: pos_of(m, source, &b.line_starts),
                    len: 1,
                    help: Vec::new(),
                }]);
            }
        };
        let pos = pos_of(&mark, source, &b.line_starts);
        if b.nodes > MAX_NODES {
            return Err(vec![ReadError {
                message: format!(
                    "the document has more than {MAX_NODES} nodes (with its aliases expanded)"
                ),
                pos,
                len: 1,
                help: vec!["a configuration file is far smaller; is this the right file?".into()],
            }]);
        }
        let finished = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(vec![ReadError {
                        message: "the file holds more than one YAML document".into(),
                        pos,
                        len: 3,
                        help: vec![
                            "a configuration file is one document: remove the second `---`".into(),
                        ],
                    }]);
                }
                None
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
            Event::Scalar(text, style, anchor, tag) => {
                // `!!str 12` is the string "12".
                let tagged_str = tag.as_ref().is_some_and(|t| {
                    t.suffix == "str" && (t.handle == "!!" || t.handle.starts_with("tag:yaml.org"))
                });
                let node = if Builder::is_key_position(&stack) {
                    // Keys are kept as written (no substitution).
                    let len = source_len(source, pos.index, &text, style);
                    Node::Scalar {
                        value: Scalar::Str(text.clone()),
                        text: text.clone(),
                        raw: text,
                        quoted: false,
                        substituted: false,
                        pos,
                        len,
                    }
                } else {
                    b.scalar(text, style, pos, tagged_str)
                };
                if anchor > 0 {
                    b.anchors.push((anchor, node.clone()));
                }
                b.push(&mut stack, node)
            }
            Event::Alias(id) => {
                let node = b
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                match node {
                    Some(n) => {
                        b.nodes += count(&n);
                        b.push(&mut stack, n)
                    }
                    None => {
                        return Err(vec![ReadError {
                            message: "an alias names an anchor that is not defined before it"
                                .into(),
                            pos,
                            len: 1,
                            help: Vec::new(),
                        }]);
                    }
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(vec![ReadError {
                        message: format!("the document nests deeper than {MAX_DEPTH} levels"),
                        pos,
                        len: 1,
                        help: Vec::new(),
                    }]);
                }
                let is_seq = matches!(event, Event::SequenceStart(..));
                stack.push(if is_seq {
                    Frame::Seq {
                        items: Vec::new(),
                        pos,
                        anchor,
                    }
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        pos,
                        pending_key: None,
                        anchor,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Frame::Seq { items, pos, anchor }) => (Node::Seq { items, pos }, anchor),
                    Some(Frame::Map {
                        entries,
                        pos,
                        anchor,
                        ..
                    }) => (Node::Map { entries, pos }, anchor),
                    None => continue,
                };
                if anchor > 0 {
                    b.anchors.push((anchor, node.clone()));
                }
                b.push(&mut stack, node)
            }
        };
        if let Some(node) = finished {
            root = Some(node);
        }
    }
    if !b.errors.is_empty() {
        return Err(b.errors);
    }
    // A document that is one empty scalar is an empty file.
    Ok(root.filter(|n| !n.is_null()))
}

fn count(node: &Node) -> usize {
    match node {
        Node::Scalar { .. } => 1,
        Node::Map { entries, .. } => 1 + entries.iter().map(|(_, n)| count(n)).sum::<usize>(),
        Node::Seq { items, .. } => 1 + items.iter().map(count).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "NUM" => Some("123".into()),
            "LIST" => Some("[1, 2]".into()),
            _ => None,
        }
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a:\n  b: 1\n", &env).unwrap().unwrap();
        let Node::Map { entries, .. } = doc else {
            panic!()
        };
        let (k, v) = &entries[0];
        assert_eq!((k.pos.line, k.pos.col), (1, 1));
        let Node::Map { entries, .. } = v else {
            panic!()
        };
        assert_eq!((entries[0].0.pos.line, entries[0].0.pos.col), (2, 3));
        assert_eq!((entries[0].1.pos().line, entries[0].1.pos().col), (2, 6));
    }

    #[test]
    fn core_schema_types() {
        assert_eq!(plain_type("true"), Scalar::Bool(true));
        assert_eq!(plain_type("yes"), Scalar::Str("yes".into()));
        assert_eq!(plain_type("12"), Scalar::Int(12));
        assert_eq!(plain_type("-3"), Scalar::Int(-3));
        assert_eq!(plain_type("0x10"), Scalar::Int(16));
        assert_eq!(plain_type("0o17"), Scalar::Int(15));
        assert_eq!(plain_type("1.0"), Scalar::Float(1.0));
        assert_eq!(plain_type(".5"), Scalar::Float(0.5));
        assert_eq!(plain_type("1e3"), Scalar::Float(1000.0));
        assert_eq!(plain_type("1.2.3"), Scalar::Str("1.2.3".into()));
        assert_eq!(plain_type("~"), Scalar::Null);
        assert_eq!(plain_type(""), Scalar::Null);
        assert_eq!(plain_type("e3"), Scalar::Str("e3".into()));
    }

    #[test]
    fn substituted_values_are_typed_but_never_structure() {
        let doc = parse("a: ${NUM}\nb: \"${NUM}\"\nc: ${LIST}\n", &env)
            .unwrap()
            .unwrap();
        let Node::Map { entries, .. } = doc else {
            panic!()
        };
        let values: Vec<Scalar> = entries
            .iter()
            .map(|(_, n)| match n {
                Node::Scalar { value, .. } => value.clone(),
                _ => panic!("structure"),
            })
            .collect();
        assert_eq!(
            values,
            vec![
                Scalar::Int(123),
                Scalar::Str("123".into()),
                Scalar::Str("[1, 2]".into())
            ]
        );
    }

    #[test]
    fn keys_are_not_substituted() {
        let doc = parse("${NUM}: 1\n", &env).unwrap().unwrap();
        let Node::Map { entries, .. } = doc else {
            panic!()
        };
        assert_eq!(entries[0].0.text, "${NUM}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let errs = parse("a:\n  b: 1\n c: [\n", &env).unwrap_err();
        assert!(errs[0].pos.line >= 2, "{errs:?}");
    }

    #[test]
    fn aliases_expand_within_a_budget() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let errs = parse(&doc, &env).unwrap_err();
        assert!(errs[0].message.contains("more than"), "{errs:?}");
    }

    #[test]
    fn empty_documents_are_none() {
        assert!(parse("", &env).unwrap().is_none());
        assert!(parse("# only a comment\n", &env).unwrap().is_none());
    }
}
