//! What the section readers share: problems and warnings with `file:line:column`, a caret
//! under the value, secrets redacted; strict mappings (unknown keys with a did-you-mean, keys
//! the schema has that we do not implement as warnings); typed scalars by the schema's rules.

use std::ops::Range;
use std::path::Path;

use super::yaml::{Key, Node, Pos, Scalar};
use crate::error::{ErrorKind, Problem};
use crate::origin::Origin;
use crate::settings::Warning;

pub(crate) struct Ctx<'a> {
    pub(crate) path: &'a Path,
    pub(crate) source: &'a str,
    pub(crate) problems: Vec<Problem>,
    pub(crate) warnings: Vec<Warning>,
    /// Byte ranges of the source that are secrets (never shown).
    pub(crate) secrets: Vec<Range<usize>>,
}

/// A mapping's entries, read once each.
pub(crate) struct Fields<'n> {
    entries: Vec<(&'n Key, &'n Node)>,
    pub(crate) pos: Pos,
}

impl<'n> Fields<'n> {
    pub(crate) fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.text == name)
            .map(|(_, n)| *n)
    }

    /// The entries in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'n Key, &'n Node)> + '_ {
        self.entries.iter().copied()
    }
}

/// `a.b` + `c` = `a.b.c`.
pub(crate) fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

impl Ctx<'_> {
    pub(crate) fn origin(&self, pos: Pos) -> Origin {
        Origin::Position {
            path: self.path.to_path_buf(),
            line: pos.line,
            column: pos.col,
        }
    }

    /// The `file:line` origin a value shows in `check`.
    pub(crate) fn line_origin(&self, pos: Pos) -> Origin {
        Origin::File {
            path: self.path.to_path_buf(),
            line: pos.line,
        }
    }

    pub(crate) fn secret(&mut self, node: &Node) {
        let start = node.pos().index;
        let end = start + node.len();
        self.secrets.push(start..end);
    }

    /// A problem at `pos`, with the source line and a caret `len` wide.
    pub(crate) fn problem(
        &self,
        kind: ErrorKind,
        at: &str,
        pos: Pos,
        len: usize,
        message: impl Into<String>,
    ) -> Problem {
        let mut index = pos.index.min(self.source.len());
        while !self.source.is_char_boundary(index) {
            index -= 1;
        }
        let before = self.source.get(..index).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let rest = self.source.get(line_start..).unwrap_or("");
        let line_end = rest
            .find('\n')
            .map_or(self.source.len(), |i| line_start + i);
        let line = self
            .source
            .get(line_start..line_end)
            .unwrap_or("")
            .trim_end_matches('\r');
        let start = index.saturating_sub(line_start).min(line.len());
        let mut end = (start + len.max(1)).min(line.len()).max(start);
        while !line.is_char_boundary(end) {
            end += 1;
        }
        let redact: Vec<Range<usize>> = self
            .secrets
            .iter()
            .filter(|r| r.start < line_start + line.len() && r.end > line_start)
            .map(|r| {
                r.start.saturating_sub(line_start).min(line.len())
                    ..(r.end.saturating_sub(line_start)).min(line.len())
            })
            .collect();
        let mut p = Problem::new(kind, message).at(self.origin(pos));
        if !at.is_empty() {
            p = p.key(at.to_string());
        }
        if !line.trim().is_empty() {
            p = p
                .snippet(line.to_string(), start..end, redact)
                .first_line(pos.line);
        }
        p
    }

    pub(crate) fn error(
        &mut self,
        kind: ErrorKind,
        at: &str,
        node: &Node,
        message: impl Into<String>,
        help: &[&str],
    ) {
        let mut p = self.problem(kind, at, node.pos(), node.len(), message);
        for h in help {
            p = p.help(*h);
        }
        self.problems.push(p);
    }

    pub(crate) fn error_at_key(
        &mut self,
        kind: ErrorKind,
        at: &str,
        key: &Key,
        message: impl Into<String>,
        help: Vec<String>,
    ) {
        let mut p = self.problem(kind, at, key.pos, key.len, message);
        for h in help {
            p = p.help(h);
        }
        self.problems.push(p);
    }

    pub(crate) fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.warnings.push(Warning {
            message: message.into(),
            origin: Some(self.line_origin(pos)),
        });
    }

    /// Reads a mapping (null reads as empty when `nullable`): reports unknown keys (with a
    /// did-you-mean among `known` and `unimplemented`), warns once for each key of
    /// `unimplemented` that has a value, and refuses a key given twice.
    pub(crate) fn fields<'n>(
        &mut self,
        node: &'n Node,
        at: &str,
        known: &[&str],
        unimplemented: &[&str],
        nullable: bool,
    ) -> Option<Fields<'n>> {
        let (entries, pos) = match node {
            Node::Map { entries, pos } => (entries, *pos),
            n if n.is_null() && nullable => {
                return Some(Fields {
                    entries: Vec::new(),
                    pos: n.pos(),
                });
            }
            other => {
                let expected = if nullable {
                    "a mapping (or nothing)"
                } else {
                    "a mapping"
                };
                self.error(
                    ErrorKind::InvalidValue,
                    at,
                    other,
                    format!("`{at}` must be {expected}, found {}", other.type_name()),
                    &[],
                );
                return None;
            }
        };
        let mut out = Vec::new();
        for (i, (key, value)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(k, _)| k.text == key.text) {
                self.error_at_key(
                    ErrorKind::InvalidValue,
                    &join(at, &key.text),
                    key,
                    format!("`{}` is given twice {}", key.text, place(at)),
                    vec!["give each key once".into()],
                );
                continue;
            }
            if known.contains(&key.text.as_str()) {
                out.push((key, value));
            } else if unimplemented.contains(&key.text.as_str()) {
                if !value.is_null() {
                    self.warn(
                        key.pos,
                        format!(
                            "`{}` is in the configuration schema but not implemented by opencensus-settings: it is ignored",
                            join(at, &key.text)
                        ),
                    );
                }
            } else {
                let mut help = Vec::new();
                let all = known.iter().chain(unimplemented.iter()).copied();
                if let Some(c) = crate::spec::closest(&key.text, all) {
                    help.push(format!("did you mean `{c}`?"));
                }
                help.push(format!("accepted {}: {}", place(at), known.join(", ")));
                self.error_at_key(
                    ErrorKind::UnknownKey,
                    &join(at, &key.text),
                    key,
                    format!("unknown key `{}` {}", key.text, place(at)),
                    help,
                );
            }
        }
        Some(Fields { entries: out, pos })
    }

    /// A mapping with exactly one key, naming a component (`{always_on: }`): the name, its key
    /// and its body. `known` are the names we build; `elsewhere` are names the schema (or
    /// another SDK) has that this library does not.
    pub(crate) fn one_of<'n>(
        &mut self,
        node: &'n Node,
        at: &str,
        what: &str,
        known: &[&str],
        elsewhere: &[&str],
    ) -> Option<(&'n str, &'n Key, &'n Node)> {
        let Node::Map { entries, .. } = node else {
            self.error(
                ErrorKind::InvalidValue,
                at,
                node,
                format!(
                    "`{at}` must be a mapping with one key naming the {what}, found {}",
                    node.type_name()
                ),
                &[&format!("accepted: {}", known.join(", "))],
            );
            return None;
        };
        match entries.as_slice() {
            [(key, body)] => {
                let name = key.text.as_str();
                if known.contains(&name) {
                    return Some((name, key, body));
                }
                let inner = join(at, name);
                if elsewhere.contains(&name) {
                    self.error_at_key(
                        ErrorKind::NotAvailable,
                        &inner,
                        key,
                        format!("the {what} `{name}` is not implemented by opencensus-settings"),
                        vec![format!("implemented: {}", known.join(", "))],
                    );
                } else {
                    let mut help = Vec::new();
                    if let Some(c) = crate::spec::closest(name, known.iter().copied()) {
                        help.push(format!("did you mean `{c}`?"));
                    }
                    help.push(format!("accepted: {}", known.join(", ")));
                    self.error_at_key(
                        ErrorKind::UnknownComponent,
                        &inner,
                        key,
                        format!("unknown {what} `{name}` in `{at}`"),
                        help,
                    );
                }
                None
            }
            [] => {
                self.error(
                    ErrorKind::InvalidValue,
                    at,
                    node,
                    format!("`{at}` is empty: name one {what}"),
                    &[&format!("accepted: {}", known.join(", "))],
                );
                None
            }
            [_, (second, _), ..] => {
                self.error_at_key(
                    ErrorKind::InvalidValue,
                    at,
                    second,
                    format!("`{at}` names more than one {what}: give exactly one"),
                    vec![format!("accepted: {}", known.join(", "))],
                );
                None
            }
        }
    }

    fn type_error(&mut self, at: &str, node: &Node, expected: &str) {
        let mut help: Vec<String> = Vec::new();
        if let Node::Scalar {
            substituted: true,
            raw,
            text,
            ..
        } = node
        {
            let start = node.pos().index;
            let secret = self
                .secrets
                .iter()
                .any(|r| r.start <= start && start < r.end.max(r.start + 1));
            if secret {
                help.push(format!("`{raw}` was substituted (the value is not shown)"));
            } else {
                help.push(format!("`{raw}` was substituted with `{text}`"));
            }
        }
        if let Node::Scalar {
            value: Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_),
            quoted: false,
            ..
        } = node
            && expected.contains("string")
        {
            help.push("quote it to make it a string".into());
        }
        let help: Vec<&str> = help.iter().map(String::as_str).collect();
        self.error(
            ErrorKind::InvalidValue,
            at,
            node,
            format!("`{at}` must be {expected}, found {}", node.type_name()),
            &help,
        );
    }

    /// A string (null: `None`).
    pub(crate) fn string(&mut self, node: &Node, at: &str) -> Option<String> {
        match node {
            Node::Scalar {
                value: Scalar::Null,
                ..
            } => None,
            Node::Scalar {
                value: Scalar::Str(s),
                ..
            } => Some(s.clone()),
            other => {
                self.type_error(at, other, "a string");
                None
            }
        }
    }

    /// A string that must be given (null is an error, like a wrong type).
    pub(crate) fn required_string(&mut self, node: &Node, at: &str) -> Option<String> {
        if node.is_null() {
            self.error(
                ErrorKind::InvalidValue,
                at,
                node,
                format!("`{at}` is empty: give a string"),
                &["an undefined `${VAR}` alone is empty"],
            );
            return None;
        }
        self.string(node, at)
    }

    /// A boolean (null: `None`).
    pub(crate) fn boolean(&mut self, node: &Node, at: &str) -> Option<bool> {
        match node {
            Node::Scalar {
                value: Scalar::Null,
                ..
            } => None,
            Node::Scalar {
                value: Scalar::Bool(b),
                ..
            } => Some(*b),
            other => {
                self.type_error(at, other, "true or false");
                None
            }
        }
    }

    /// An integer in `min..=max` (null: `None`).
    pub(crate) fn integer(&mut self, node: &Node, at: &str, min: i64, max: i64) -> Option<i64> {
        match node {
            Node::Scalar {
                value: Scalar::Null,
                ..
            } => None,
            Node::Scalar {
                value: Scalar::Int(i),
                ..
            } => {
                if (min..=max).contains(i) {
                    Some(*i)
                } else {
                    let range = if max == i64::MAX {
                        format!("at least {min}")
                    } else {
                        format!("{min}..={max}")
                    };
                    self.error(
                        ErrorKind::InvalidValue,
                        at,
                        node,
                        format!("`{at}` is out of range: {i} (accepted: {range})"),
                        &[],
                    );
                    None
                }
            }
            other => {
                let expected = format!("an integer (at least {min})");
                self.type_error(at, other, &expected);
                None
            }
        }
    }

    /// A number in `0.0..=1.0`-like ranges (an integer is a number; null: `None`).
    pub(crate) fn number(&mut self, node: &Node, at: &str, min: f64, max: f64) -> Option<f64> {
        let v = match node {
            Node::Scalar {
                value: Scalar::Null,
                ..
            } => return None,
            Node::Scalar {
                value: Scalar::Int(i),
                ..
            } => *i as f64,
            Node::Scalar {
                value: Scalar::Float(f),
                ..
            } => *f,
            other => {
                self.type_error(at, other, &format!("a number in {min}..={max}"));
                return None;
            }
        };
        if v.is_finite() && (min..=max).contains(&v) {
            Some(v)
        } else {
            self.error(
                ErrorKind::InvalidValue,
                at,
                node,
                format!("`{at}` is out of range: {v} (accepted: {min}..={max})"),
                &[],
            );
            None
        }
    }

    /// A list (never null; at least one item).
    pub(crate) fn list<'n>(&mut self, node: &'n Node, at: &str) -> Option<&'n [Node]> {
        match node {
            Node::Seq { items, .. } if !items.is_empty() => Some(items),
            Node::Seq { .. } => {
                self.error(
                    ErrorKind::InvalidValue,
                    at,
                    node,
                    format!("`{at}` is an empty list: give at least one entry, or remove the key"),
                    &[],
                );
                None
            }
            other => {
                self.type_error(at, other, "a list");
                None
            }
        }
    }

    /// A list of strings.
    pub(crate) fn strings(&mut self, node: &Node, at: &str) -> Option<Vec<String>> {
        let items = self.list(node, at)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}[{i}]");
            match self.string(item, &here) {
                Some(s) => out.push(s),
                None => {
                    if item.is_null() {
                        self.error(
                            ErrorKind::InvalidValue,
                            &here,
                            item,
                            format!("`{here}` is empty"),
                            &[],
                        );
                    }
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

/// `in `a.b`` or `at the top level`.
fn place(at: &str) -> String {
    if at.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{at}`")
    }
}
