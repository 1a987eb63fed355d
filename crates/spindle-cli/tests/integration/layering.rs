//! No circles between modules: for every crate of the workspace, the graph of which
//! module uses which (a `use` tree or a path in code naming another module of the
//! crate, or an item in it) has no cycle but the ones allowed below, each for a reason.
//! A file is a module; a parent declaring its children (`mod x;`) is not a use, a
//! parent re-exporting them (`pub use x::Y`) is, as is a child reading its parent's
//! items (`super::Y`): so `mod.rs` and `lib.rs` files stay declarations and re-exports.
//! Test modules (`#[cfg(test)]`), visibility paths (`pub(in crate::x)`) and paths
//! inside macro calls do not count, nor does the crate root (`lib.rs`, `main.rs`):
//! its re-exports would join it to every module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Cycles kept on purpose, as the sets of modules they join (their crate first).
const ALLOWED: &[&[&str]] = &[
    // The schema engine's evaluation is recursive: a kernel (a strategy's file) asks for
    // another column's value, which runs that column's kernel; each strategy's file
    // extends the parser and the evaluator, which dispatch back to it; the layout places
    // rules, which read columns' dependencies through the strategies.
    &[
        "spindle-gen",
        "schema::eval",
        "schema::layout",
        "schema::parse",
        "schema::rules",
        "schema::strategy",
        "schema::strategy::categorical",
        "schema::strategy::derived",
        "schema::strategy::distribution",
        "schema::strategy::hierarchy",
        "schema::strategy::identity",
        "schema::strategy::keys",
        "schema::strategy::per_parent",
        "schema::strategy::records",
        "schema::strategy::temporal",
        "schema::strategy::text",
    ],
    // Retail's plan and what extends it: the tables it builds (`tables.rs`) and the
    // order cap (`cap.rs`: the plan holds the cap's draws, which draw through the plan).
    &["spindle-gen", "retail", "retail::cap", "retail::tables"],
    // The anomaly injector's phases are one `Injector`'s, a file each (the survey, the
    // merge of moved rows, their placement), reading the state the others leave.
    &[
        "spindle-stream",
        "anomaly::injector",
        "anomaly::injector::merge",
        "anomaly::injector::placement",
        "anomaly::injector::survey",
    ],
];

type Module = Vec<String>;

/// Every module of the crate whose sources are under `src`, by path, with its file.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in walk(src) {
        let relative = entry.strip_prefix(src).unwrap().with_extension("");
        let mut path: Module = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if matches!(
            path.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            path.pop();
        }
        out.insert(path, entry);
    }
    out
}

/// The `.rs` files under `dir` (not `bin/`: each binary is a crate of its own).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != "bin") {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The paths one file names: `use` trees whole, paths in code, none in test modules or
/// visibilities.
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                full.push(n.ident.to_string());
                self.0.push(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.0.push(full);
            }
            syn::UseTree::Glob(_) => self.0.push(prefix.clone()),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }
}

impl<'a> Visit<'a> for Paths {
    fn visit_item_use(&mut self, item: &'a syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_item_mod(&mut self, item: &'a syn::ItemMod) {
        let test = item.attrs.iter().any(|a| {
            a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
        });
        if !test {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_visibility(&mut self, _: &'a syn::Visibility) {}

    fn visit_path(&mut self, path: &'a syn::Path) {
        self.0
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }
}

/// The module `path` (named in `from`) leads to: `crate::`, `super::` and `self::`
/// resolved, a first segment that is a child of `from` taken as that child; the longest
/// known module it starts with. `None` for paths outside the crate.
fn target(path: &[String], from: &Module, known: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    let (mut base, mut rest): (Module, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (from.clone(), &path[1..]),
        Some("super") => (from[..from.len().saturating_sub(1)].to_vec(), &path[1..]),
        Some(first) => {
            let mut child = from.clone();
            child.push(first.to_string());
            if !known.contains_key(&child) {
                return None;
            }
            (from.clone(), path)
        }
        None => return None,
    };
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    let full: Module = base.into_iter().chain(rest.iter().cloned()).collect();
    (0..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|m| known.contains_key(m))
}

/// Each module's uses of other modules of the crate under `src`.
fn uses(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules(src);
    let mut graph = BTreeMap::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let mut paths = Paths::default();
        paths.visit_file(&parsed);
        let targets: BTreeSet<Module> = paths
            .0
            .iter()
            .filter_map(|p| target(p, module, &known))
            .filter(|t| t != module && !t.is_empty())
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

/// The strongly connected components of `graph` with more than one module.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    // Two modules are in one component when each reaches the other.
    let reach = |from: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&Module, BTreeSet<Module>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut components: Vec<BTreeSet<Module>> = Vec::new();
    for m in graph.keys() {
        if components.iter().any(|c| c.contains(m)) || !reaches[m].contains(m) {
            continue;
        }
        let component: BTreeSet<Module> = reaches[m]
            .iter()
            .filter(|n| reaches[*n].contains(m))
            .cloned()
            .collect();
        components.push(component);
    }
    components
}

#[test]
fn no_crate_has_a_circle_between_modules_but_the_allowed_ones() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut found = Vec::new();
    for name in [
        "spindle-gen",
        "spindle-sinks",
        "spindle-stream",
        "spindle-sql",
        "spindle-lake",
        "spindle-cli",
        "spindle-py",
    ] {
        for component in cycles(&uses(&crates.join(name).join("src"))) {
            let names: BTreeSet<String> = component.iter().map(|m| m.join("::")).collect();
            let allowed = ALLOWED
                .iter()
                .any(|a| a[0] == name && names.iter().all(|n| a[1..].contains(&n.as_str())));
            if !allowed {
                found.push(format!("{name}: {names:?}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules in a circle:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_circle_is_found_where_there_is_one() {
    // The check itself: two files that use each other are a circle; a parent that only
    // declares its child is not.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(src.join("b.rs"), "pub struct B(super::a::A);\n").unwrap();
    std::fs::create_dir(src.join("c")).unwrap();
    std::fs::write(src.join("c/mod.rs"), "mod d;\n").unwrap();
    std::fs::write(src.join("c/d.rs"), "pub(in crate::c) struct D;\n").unwrap();
    let found = cycles(&uses(src));
    let names: Vec<Vec<String>> = found
        .iter()
        .map(|c| c.iter().map(|m| m.join("::")).collect())
        .collect();
    assert_eq!(names, vec![vec!["a".to_string(), "b".to_string()]]);
}
