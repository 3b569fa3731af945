//! The layering of docs/architecture.md, checked on the source: a module may name (`crate::x`)
//! only modules of its own layer or of the layers below.

#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The layer of each top-level module, lowest first.
const LAYERS: &[(&str, u8)] = &[
    ("domain", 1),
    ("locks", 1),
    ("store", 2),
    ("cpu_pool", 2),
    ("metrics", 2),
    ("telemetry", 2),
    ("tls", 2),
    ("http", 3),
    ("settings", 4),
    ("scheduler", 4),
    ("startup", 5),
    ("args", 6),
    ("commands", 6),
];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Every `(file, top-level module)` under `dir`.
fn sources(dir: &Path, top: Option<&str>, out: &mut Vec<(String, String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = top.map_or_else(|| name.clone(), str::to_owned);
        if path.is_dir() {
            sources(&path, Some(&module), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path.display().to_string(), module, text));
        }
    }
}

/// The top-level modules a source text names through `crate::`.
fn named_modules(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(i, _)| {
            text[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn layers_import_only_downwards() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        None,
        &mut files,
    );
    let mut violations = Vec::new();
    for (file, module, text) in &files {
        let Some(own) = layer_of(module) else {
            continue; // lib.rs, main.rs and this file
        };
        for named in named_modules(text) {
            if layer_of(&named).is_some_and(|l| l > own) {
                violations.push(format!("{file} ({module}) names crate::{named}"));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(files.len() > 20, "the source tree was not found");
}
