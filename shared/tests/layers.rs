//! The layers of `shared/src` (docs/architecture.md) hold: each layer's code names only the
//! layers it may use. Test code (`#[cfg(test)]` items and modules) may reach further: a parser's
//! test signs its payload with the edge's signature code, a use case's test runs on the memory
//! store.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const LAYERS: [&str; 7] = ["domain", "inbound", "ports", "app", "render", "adapters", "http"];

/// What each layer may use besides itself.
fn allowed(layer: &str) -> &'static [&'static str] {
    match layer {
        "domain" => &[],
        "inbound" | "ports" | "render" => &["domain"],
        // The template check parses the bundled sample webhooks with the real parsers.
        "app" => &["domain", "inbound", "ports", "render"],
        "adapters" => &["domain", "ports"],
        "http" => &["domain", "inbound", "ports", "app", "render"],
        other => panic!("unknown layer {other}"),
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's text without its `#[cfg(test)]` items: the attribute's item is skipped to its
/// `;` or to the `}` that closes it. Files declared as `#[cfg(test)] mod x;` are listed in
/// `test_only`.
fn without_tests(text: &str, test_only: &mut Vec<String>) -> String {
    let mut kept = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            kept.push_str(line);
            kept.push('\n');
            continue;
        }
        let Some(item) = lines.next() else { break };
        if let Some(module) = item.trim().strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
            test_only.push(format!("{module}.rs"));
            continue;
        }
        let mut depth = braces(item);
        if depth == 0 && !item.trim_end().ends_with('{') {
            continue;
        }
        for line in lines.by_ref() {
            depth += braces(line);
            if depth <= 0 {
                break;
            }
        }
    }
    kept
}

fn braces(line: &str) -> i64 {
    line.chars().map(|c| i64::from(c == '{') - i64::from(c == '}')).sum()
}

/// Every `crate::<layer>` a layer's code names, with where.
fn uses_by_layer() -> BTreeMap<&'static str, Vec<(String, String)>> {
    let mut uses = BTreeMap::new();
    for layer in LAYERS {
        let mut files = Vec::new();
        rust_files(&src().join(layer), &mut files);
        files.sort();
        let mut test_only = Vec::new();
        let texts: Vec<(PathBuf, String)> = files
            .into_iter()
            .map(|path| {
                let text = without_tests(&fs::read_to_string(&path).unwrap(), &mut test_only);
                (path, text)
            })
            .collect();
        let mut found = Vec::new();
        for (path, text) in texts {
            if test_only.iter().any(|name| path.ends_with(name)) {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                // Doc links name other layers to point at them, not to use them.
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for other in LAYERS {
                    if other != layer && line.contains(&format!("crate::{other}")) {
                        let at = format!("{}:{}", path.strip_prefix(src()).unwrap().display(), n + 1);
                        found.push((other.to_owned(), at));
                    }
                }
            }
        }
        uses.insert(layer, found);
    }
    uses
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let mut violations = Vec::new();
    for (layer, uses) in uses_by_layer() {
        for (other, at) in uses {
            if !allowed(layer).contains(&other.as_str()) {
                violations.push(format!("{layer} uses {other} at {at}"));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

/// The check sees what it must: the edge does use the use cases, and a test module's imports
/// are left out.
#[test]
fn the_check_reads_uses_and_skips_tests() {
    let uses = uses_by_layer();
    assert!(uses["http"].iter().any(|(other, _)| other == "app"));
    let mut test_only = Vec::new();
    let text = "use crate::domain::x;\n#[cfg(test)]\nmod tests {\n    use crate::http::y;\n    fn f() { }\n}\n#[cfg(test)]\nmod fixtures;\nuse crate::ports::z;\n";
    let kept = without_tests(text, &mut test_only);
    assert_eq!(kept, "use crate::domain::x;\nuse crate::ports::z;\n");
    assert_eq!(test_only, ["fixtures.rs"]);
}
