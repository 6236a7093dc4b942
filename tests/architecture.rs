//! The layering of docs/architecture.md, checked against the code: every `crate::` path in a
//! top-level module of src/ must point at a lower layer (or at one of the few same-layer
//! imports the table allows), and no two top-level modules may import each other, directly or
//! through others. Test code is not counted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The table of docs/architecture.md: module -> layer.
const LAYERS: &[(&str, u8)] = &[
    ("origin", 0),
    ("secret", 0),
    ("diag", 0),
    ("spec", 0),
    ("error", 0),
    ("environment", 0),
    ("report", 0),
    ("stats", 0),
    ("hostport", 0),
    ("exclude", 0),
    ("propagation", 0),
    ("samplers", 0),
    ("shutdown", 0),
    ("live", 0),
    ("export_thread", 1),
    ("registry", 2),
    ("exporters", 3),
    ("builtins", 4),
    ("settings", 5),
    ("resolve", 6),
    ("install", 6),
    ("check", 6),
    ("reload", 6),
    ("tracer", 7),
    ("middleware", 7),
    ("client", 7),
];

/// Imports within one layer that the table allows (leaf types may use each other freely).
const SAME_LAYER: &[(&str, &str)] = &[
    ("install", "resolve"),
    ("check", "resolve"),
    ("install", "reload"),
    ("reload", "resolve"),
    ("middleware", "tracer"),
    ("client", "tracer"),
];

fn strip(source: &str) -> String {
    // Test sections are not architecture.
    let code = match source.find("#[cfg(test)]\nmod tests") {
        Some(i) => &source[..i],
        None => source,
    };
    code.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every top-level module and the top-level modules its code names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap();
            let name = path.file_name().unwrap().to_str().unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_str()
                .unwrap();
            if path.extension().is_none_or(|e| e != "rs")
                || first == "bin"
                || first == "lib.rs"
                || name.ends_with("tests.rs")
                || name.ends_with("_test.rs")
            {
                continue;
            }
            let module = first.trim_end_matches(".rs").to_string();
            let code = strip(&std::fs::read_to_string(&path).unwrap());
            let set = out.entry(module.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                    group
                        .split('}')
                        .next()
                        .unwrap()
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap())
                        .collect()
                } else {
                    vec![
                        rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .next()
                            .unwrap(),
                    ]
                };
                for n in names {
                    if !n.is_empty() && n != module && n.chars().next().unwrap().is_lowercase() {
                        set.insert(n.to_string());
                    }
                }
            }
        }
    }
    out
}

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| panic!("module `{module}` is not in docs/architecture.md's table"))
}

#[test]
fn every_import_points_down_the_layers() {
    let mut wrong = Vec::new();
    for (module, targets) in imports() {
        for target in &targets {
            let (from, to) = (layer(&module), layer(target));
            let allowed = to < from
                || (to == from
                    && (from == 0 || SAME_LAYER.contains(&(module.as_str(), target.as_str()))));
            if !allowed {
                wrong.push(format!(
                    "{module} (layer {from}) imports {target} (layer {to})"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against docs/architecture.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_top_level_module_imports_one_that_imports_it_back() {
    let graph = imports();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = stack.pop() {
            assert!(m != start, "`{start}` reaches itself through its imports");
            if seen.insert(m.clone())
                && let Some(next) = graph.get(m)
            {
                stack.extend(next.iter());
            }
        }
    }
}

#[test]
fn the_table_names_every_module_and_the_doc_lists_the_table() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    for module in imports().keys() {
        layer(module);
        assert!(
            doc.contains(&format!("`{module}")),
            "docs/architecture.md does not name `{module}`"
        );
    }
}
