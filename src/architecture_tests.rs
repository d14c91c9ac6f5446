//! The layering ARCHITECTURE.md describes, checked on the source itself: which module of
//! `src/` names which (through `use` and `crate::…`/`super::…` paths), that no two files
//! import each other through any chain, and that the lower layers never reach up into the
//! web layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`services::queue`) → the `src/` modules its code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.to_string_lossy().ends_with("_tests.rs")
        {
            out.push(path);
        }
    }
}

/// `src/services/queue.rs` → `services::queue`; `src/views/admin/mod.rs` → `views::admin`.
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(src_dir()).expect("under src/");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests` (tests may
/// reach anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("\nmod tests") {
        Some(at) => text[..at]
            .rfind("#[cfg(test)]")
            .map_or(text, |cfg| &text[..cfg]),
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names that starts at `crate` or `super`, with `use` groups expanded
/// (`use crate::{a::b, c}` → `crate::a::b`, `crate::c`).
fn named_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let starts = (rest.starts_with("crate::") || rest.starts_with("super::"))
            && (i == 0 || !ident(bytes[i - 1]) && bytes[i - 1] != ':');
        if !starts {
            i += 1;
            continue;
        }
        // Read the path, expanding one level of braces at a time.
        let mut end = i;
        let mut depth = 0;
        while end < bytes.len() {
            let c = bytes[end];
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                _ if depth == 0 && !(ident(c) || c == ':') => break,
                _ => {}
            }
            end += 1;
        }
        let text: String = bytes[i..end].iter().collect();
        expand(&text, &mut paths);
        i = end.max(i + 1);
    }
    paths
}

fn expand(text: &str, out: &mut Vec<String>) {
    let Some(open) = text.find('{') else {
        out.push(text.trim().to_owned());
        return;
    };
    let prefix = &text[..open];
    let inner = &text[open + 1..text.rfind('}').unwrap_or(text.len())];
    let mut depth = 0;
    let mut start = 0;
    let mut items = Vec::new();
    for (at, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
        let item = item.split(" as ").next().unwrap_or(item);
        if item == "self" {
            out.push(prefix.trim_end_matches("::").to_owned());
        } else {
            expand(&format!("{prefix}{item}"), out);
        }
    }
}

/// The longest known module a path from module `from` lands in (`super` is the parent of
/// `from`, whether `from` is a file or a folder's `mod.rs`).
fn resolve(from: &str, path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = from.split("::").filter(|s| !s.is_empty()).collect();
    match segments.first() {
        Some(&"crate") => {
            base.clear();
            segments.remove(0);
        }
        Some(&"super") => {
            while segments.first() == Some(&"super") {
                base.pop();
                segments.remove(0);
            }
        }
        _ => return None,
    }
    (1..=segments.len()).rev().find_map(|n| {
        let mut candidate = base.clone();
        candidate.extend(&segments[..n]);
        let candidate = candidate.join("::");
        modules.contains(&candidate).then_some(candidate)
    })
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let from = module_of(file);
        let text = std::fs::read_to_string(file).expect("readable");
        let edges = graph.entry(from.clone()).or_default();
        for path in named_paths(&code_of(&text)) {
            if let Some(to) = resolve(&from, &path, &modules)
                && to != from
                && !from.starts_with(&format!("{to}::"))
                && !to.is_empty()
            {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A chain of imports from `start` back to itself, if there is one.
fn cycle_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_file_of_src_imports_itself_through_a_chain() {
    let graph = graph();
    assert!(graph.len() > 40, "the source was not read: {graph:?}");
    assert!(
        graph["services::run_action"].contains("services::connections"),
        "imports are not being found"
    );
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_through(&graph, module))
        .map(|cycle| cycle.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn models_and_services_never_reach_up_into_the_web_layer() {
    let web = [
        "state",
        "views",
        "urls",
        "auth",
        "templates",
        "startup",
        "workers",
        "cli",
    ];
    let graph = graph();
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        let lower = ["models", "services", "crypto", "paths"]
            .iter()
            .any(|layer| from == layer || from.starts_with(&format!("{layer}::")));
        for to in targets {
            let top = to.split("::").next().unwrap_or_default();
            if lower && web.contains(&top) {
                wrong.push(format!("{from} → {to}"));
            }
            if from.starts_with("models") && top == "services" {
                wrong.push(format!("{from} → {to}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_queue_knows_no_service_and_no_app_state() {
    let graph = graph();
    let queue = &graph["services::queue"];
    assert!(
        queue
            .iter()
            .all(|to| !to.starts_with("services") && to != "state"),
        "services::queue imports {queue:?}"
    );
}

/// What only a query module of `src/models/` may write: a SeaORM query started on an entity,
/// or an active model built or saved. (Spelled in pieces so that grepping `src/` for the
/// calls finds none here.)
const SEAORM_CALLS: [&str; 6] = [
    concat!("Entity", "::find"),
    concat!("Entity", "::insert"),
    concat!("Entity", "::update"),
    concat!("Entity", "::delete"),
    "ActiveModel {",
    "into_active_model(",
];

/// `path:line: code` for every SeaORM call in `text` (outside comments and its test module).
fn seaorm_calls(path: &str, text: &str) -> Vec<String> {
    code_of(text)
        .lines()
        .enumerate()
        .filter(|(_, line)| SEAORM_CALLS.iter().any(|call| line.contains(call)))
        .map(|(at, line)| format!("{path}:{}: {}", at + 1, line.trim()))
        .collect()
}

#[test]
fn every_seaorm_query_lives_in_a_query_module_of_models() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let root = src_dir().parent().expect("the crate root").to_path_buf();
    let mut outside = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).expect("under the crate root");
        let path = relative.to_string_lossy().replace('\\', "/");
        if path.starts_with("src/models/") || path == "src/architecture_tests.rs" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("readable");
        outside.extend(seaorm_calls(&path, &text));
    }
    assert!(
        outside.is_empty(),
        "SeaORM calls outside src/models/ (add a query to src/models/<table>.rs and call \
         it):\n{}",
        outside.join("\n")
    );
}

#[test]
fn seaorm_calls_are_found_with_their_line_outside_comments_and_tests() {
    let text = "use x;\n// user::Entity::FIND()\nlet u = user::Entity::FIND_by_id(1);\n\
                #[cfg(test)]\nmod tests {\n    user::Entity::DELETE_many();\n}\n"
        .replace("FIND", "find")
        .replace("DELETE", "delete");
    assert_eq!(
        seaorm_calls("src/views/x.rs", &text),
        [format!(
            "src/views/x.rs:3: let u = user::Entity::{}_by_id(1);",
            "find"
        )]
    );
}

#[test]
fn use_groups_and_super_paths_resolve_to_modules() {
    let modules: BTreeSet<String> = ["a", "a::b", "a::c", "d"].map(String::from).into();
    let mut paths = Vec::new();
    expand("crate::a::{b::X, c::{self, Y}}", &mut paths);
    assert_eq!(paths, ["crate::a::b::X", "crate::a::c", "crate::a::c::Y"]);
    assert_eq!(
        resolve("a::b", "super::c::Z", &modules),
        Some("a::c".into())
    );
    assert_eq!(resolve("a", "super::d", &modules), Some("d".into()));
    assert_eq!(
        named_paths("use crate::{a::b, d};\nlet x = super::c::f();"),
        ["crate::a::b", "crate::d", "super::c::f"]
    );
}
