//! The architecture, checked on the sources (`docs/architecture.md` draws it):
//!
//! - **no file-level import cycle** in any crate of the workspace: file A depends on file B when
//!   A names an item that B defines (through `use`, a path in code, or a re-export, followed to
//!   the file that defines the item); a `mod b;` declaration alone is no dependency;
//! - **imports run one way**: within a crate, a top-level module uses only modules of its own
//!   layer or of the layers below it ([`LAYERS`]), and a module of the same layer only when that
//!   makes no cycle.
//!
//! Between crates the compiler already holds the order (Cargo refuses a dependency cycle).
//! Test code (`#[cfg(test)]` items and the modules they declare) is not product code: it may use
//! what it tests. `ARCHITECTURE_GRAPH=1 cargo test --test architecture -- --nocapture` prints
//! every arrow.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The workspace's crates: name as written in paths, and source root.
const CRATES: &[(&str, &str)] = &[
    ("qserv_api", "crates/qserv-api/src"),
    ("qserv_data", "crates/qserv-data/src"),
    ("qserv_operator", "crates/qserv-operator/src"),
    ("qserv_local", "crates/qserv-local/src"),
    ("qserv_fuzz", "crates/qserv-fuzz/src"),
    ("qserv_operator_cli", "src"),
];

/// Each crate's top-level modules by layer, lowest first. A module not listed fails the test:
/// a new module must take its place here (and in `docs/architecture.md`).
const LAYERS: &[(&str, &[&[&str]])] = &[
    (
        "qserv_api",
        &[
            &["angle", "condition", "validation", "cel", "csv_dialect"],
            &["catalog_ingest", "qserv_cluster"],
            &["docs", "manifest"],
        ],
    ),
    ("qserv_data", &[&["catalog"], &["partition"]]),
    (
        "qserv_operator",
        &[
            &["connect_to", "telemetry", "shutdown", "identity", "metrics"],
            &[
                "db",
                "from_spec",
                "import",
                "events",
                "read_only",
                "tolerant",
            ],
            &["qserv"],
            &["load"],
            &["check", "query"],
            &["cluster"],
            &["ingest"],
            &["run"],
        ],
    ),
    (
        "qserv_local",
        &[
            &["container_logs"],
            &["apiserver"],
            &["replication"],
            &["runtime"],
            &["schema_update", "simulators"],
            &["mode"],
            &["demo"],
        ],
    ),
    ("qserv_fuzz", &[]),
    ("qserv_operator_cli", &[]),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A module of one crate, by path from the crate root (`[]` is the root).
type ModPath = Vec<String>;

/// One crate's modules and what they name.
#[derive(Default)]
struct Crate {
    /// Module → the file that holds it (inline modules map to their file).
    files: BTreeMap<ModPath, PathBuf>,
    /// Module → names bound by its `use` items, to the path they stand for (absolute in this
    /// crate, or starting with another crate's name).
    aliases: BTreeMap<ModPath, BTreeMap<String, Vec<String>>>,
    /// Module → the paths it names (made absolute where they start with crate/self/super).
    uses: BTreeMap<ModPath, Vec<Vec<String>>>,
    /// Modules declared under `#[cfg(test)]`, and everything below them.
    test_only: BTreeSet<ModPath>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// Collects the paths and `use` bindings of one module's items.
struct Collector<'a> {
    krate: &'a mut Crate,
    module: ModPath,
    file: PathBuf,
}

impl Collector<'_> {
    fn absolute(&self, segments: Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut iter = segments.into_iter().peekable();
        match iter.peek().map(String::as_str) {
            Some("crate") => {
                iter.next();
                out.push("crate".into());
            }
            Some("self") => {
                iter.next();
                out.push("crate".into());
                out.extend(self.module.iter().cloned());
            }
            Some("super") => {
                let mut base = self.module.clone();
                while iter.peek().map(String::as_str) == Some("super") {
                    iter.next();
                    base.pop();
                }
                out.push("crate".into());
                out.extend(base);
            }
            _ => {
                // Relative to this module: resolved later (a child module, an alias, or an
                // outside crate).
                out.push("crate".into());
                out.extend(self.module.iter().cloned());
                out.push("<rel>".into());
            }
        }
        out.extend(iter);
        out
    }

    fn record(&mut self, segments: Vec<String>) {
        let path = self.absolute(segments);
        self.krate
            .uses
            .entry(self.module.clone())
            .or_default()
            .push(path);
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let full = if name == "self" {
                    prefix.clone()
                } else {
                    let mut f = prefix.clone();
                    f.push(name.clone());
                    f
                };
                let bound = if name == "self" {
                    prefix.last().cloned().unwrap_or_default()
                } else {
                    name
                };
                self.bind(bound, full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.bind(r.rename.to_string(), full);
            }
            syn::UseTree::Glob(_) => self.record(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn bind(&mut self, name: String, full: Vec<String>) {
        let path = self.absolute(full.clone());
        self.krate
            .aliases
            .entry(self.module.clone())
            .or_default()
            .insert(name, path);
        self.record(full);
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        let test = is_cfg_test(attrs);
        match item {
            syn::Item::Mod(m) => {
                let mut child = self.module.clone();
                child.push(m.ident.to_string());
                if test {
                    self.krate.test_only.insert(child.clone());
                }
                if let Some((_, items)) = &m.content {
                    self.krate.files.insert(child.clone(), self.file.clone());
                    if !test {
                        let outer = std::mem::replace(&mut self.module, child);
                        for i in items {
                            self.visit_item(i);
                        }
                        self.module = outer;
                    }
                }
            }
            _ if test => {}
            syn::Item::Use(u) => self.use_tree(&mut Vec::new(), &u.tree),
            _ => syn::visit::visit_item(self, item),
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.record(segments);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Paths inside macro calls (`format!`, `json!`, `matches!`) are seen where they parse as
        // expressions.
        if let Ok(args) = mac.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) {
            for e in &args {
                self.visit_expr(e);
            }
        }
        syn::visit::visit_macro(self, mac);
    }
}

/// The module a source file holds: `a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs`/`main.rs`
/// are the root.
fn module_of(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn read_crate(src: &Path) -> Crate {
    let mut krate = Crate::default();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    for file in &files {
        let module = module_of(src, file);
        // `src/main.rs` and a `src/bin/` are roots of their own: only main.rs is here.
        let text = std::fs::read_to_string(file).unwrap();
        let parsed = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        krate.files.insert(module.clone(), file.clone());
        let mut collector = Collector {
            krate: &mut krate,
            module,
            file: file.clone(),
        };
        for item in &parsed.items {
            collector.visit_item(item);
        }
    }
    // Below a test-only module, everything is test-only.
    let test_roots: Vec<ModPath> = krate.test_only.iter().cloned().collect();
    for m in krate.files.keys() {
        if test_roots.iter().any(|t| m.starts_with(t)) {
            krate.test_only.insert(m.clone());
        }
    }
    krate
}

/// Where `path` (absolute, `crate::...`, possibly with a `<rel>` marker) leads: the file of the
/// deepest module it passes through in this crate, following `use` bindings; `None` when it
/// leaves the crate (another crate, `std`) or names nothing known.
fn resolve(krate: &Crate, path: &[String], depth: usize) -> Option<PathBuf> {
    if depth > 16 {
        return None;
    }
    let mut module: ModPath = Vec::new();
    let mut rest = path.iter().skip(1).peekable(); // "crate"
    let mut relative = false;
    while let Some(seg) = rest.next() {
        if seg == "<rel>" {
            relative = true;
            continue;
        }
        let mut child = module.clone();
        child.push(seg.clone());
        if krate.files.contains_key(&child) {
            module = child;
            relative = false;
            continue;
        }
        // A name bound by a `use` in this module (or, for a relative first segment, in scope).
        if let Some(target) = krate.aliases.get(&module).and_then(|a| a.get(seg)) {
            if target.first().map(String::as_str) == Some("crate") {
                let mut next = target.clone();
                next.extend(rest.cloned());
                return resolve(krate, &next, depth + 1);
            }
            return None;
        }
        if relative {
            // Neither a child module nor a binding: another crate or a prelude name.
            return None;
        }
        break;
    }
    krate.files.get(&module).cloned()
}

/// File → files it depends on (product code only), each with one path that makes the arrow.
fn file_graph(krate: &Crate) -> BTreeMap<PathBuf, BTreeMap<PathBuf, String>> {
    let mut graph: BTreeMap<PathBuf, BTreeMap<PathBuf, String>> = BTreeMap::new();
    for (module, file) in &krate.files {
        if !krate.test_only.contains(module) {
            graph.entry(file.clone()).or_default();
        }
    }
    for (module, paths) in &krate.uses {
        if krate.test_only.contains(module) {
            continue;
        }
        let from = &krate.files[module];
        for path in paths {
            if let Some(to) = resolve(krate, path, 0)
                && &to != from
                && graph.contains_key(&to)
            {
                graph
                    .get_mut(from)
                    .unwrap()
                    .entry(to)
                    .or_insert_with(|| path.join("::").replace("::<rel>", ""));
            }
        }
    }
    graph
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(graph: &BTreeMap<PathBuf, BTreeMap<PathBuf, String>>) -> Vec<Vec<PathBuf>> {
    struct State<'g> {
        graph: &'g BTreeMap<PathBuf, BTreeMap<PathBuf, String>>,
        index: BTreeMap<&'g PathBuf, usize>,
        low: BTreeMap<&'g PathBuf, usize>,
        stack: Vec<&'g PathBuf>,
        on_stack: BTreeSet<&'g PathBuf>,
        next: usize,
        out: Vec<Vec<PathBuf>>,
    }
    fn connect<'g>(s: &mut State<'g>, v: &'g PathBuf) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].keys() {
            if !s.index.contains_key(w) {
                connect(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            connect(&mut state, v);
        }
    }
    state.out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// The layer of `file`'s top-level module in `krate` (None for the crate root file).
fn layer_of(krate_name: &str, src: &Path, file: &Path) -> Option<(usize, String)> {
    let module = module_of(src, file);
    let top = module.first()?;
    let layers = LAYERS.iter().find(|(n, _)| *n == krate_name).unwrap().1;
    let layer = layers
        .iter()
        .position(|l| l.contains(&top.as_str()))
        .unwrap_or_else(|| {
            panic!(
                "{krate_name}: top-level module `{top}` ({}) has no layer in LAYERS",
                rel(file)
            )
        });
    Some((layer, top.clone()))
}

struct Findings {
    cycles: Vec<String>,
    upward: Vec<String>,
    edges: usize,
    files: usize,
}

fn check(crates: &[(&str, PathBuf)]) -> Findings {
    let mut findings = Findings {
        cycles: Vec::new(),
        upward: Vec::new(),
        edges: 0,
        files: 0,
    };
    for (name, src) in crates {
        let krate = read_crate(src);
        let graph = file_graph(&krate);
        findings.files += graph.len();
        for component in cycles(&graph) {
            let files: Vec<String> = component.iter().map(|p| rel(p)).collect();
            findings
                .cycles
                .push(format!("{name}: {}", files.join(" <-> ")));
        }
        for (from, tos) in &graph {
            for (to, via) in tos {
                findings.edges += 1;
                if std::env::var_os("ARCHITECTURE_GRAPH").is_some() {
                    println!("{name}: {} -> {} ({via})", rel(from), rel(to));
                }
                let (Some((lf, mf)), Some((lt, mt))) =
                    (layer_of(name, src, from), layer_of(name, src, to))
                else {
                    continue;
                };
                if lt > lf {
                    findings.upward.push(format!(
                        "{name}: {} ({mf}, layer {lf}) uses {} ({mt}, layer {lt})",
                        rel(from),
                        rel(to)
                    ));
                }
            }
        }
    }
    findings
}

fn workspace() -> Vec<(&'static str, PathBuf)> {
    CRATES
        .iter()
        .map(|(name, src)| (*name, root().join(src)))
        .collect()
}

#[test]
fn no_import_cycles_and_no_upward_arrows() {
    let findings = check(&workspace());
    println!(
        "{} files, {} file-level arrows, {} cycles, {} upward arrows",
        findings.files,
        findings.edges,
        findings.cycles.len(),
        findings.upward.len()
    );
    assert!(
        findings.files > 150 && findings.edges > 400,
        "the graph was not read"
    );
    assert!(
        findings.cycles.is_empty() && findings.upward.is_empty(),
        "import cycles:\n  {}\nupward arrows:\n  {}",
        findings.cycles.join("\n  "),
        findings.upward.join("\n  ")
    );
}

/// The checker finds what it is for: a cycle through a `super::` item, a path through a
/// re-export, an upward arrow, and not a `#[cfg(test)]` module's imports.
#[test]
fn the_checker_sees_cycles_reexports_and_upward_arrows() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let write = |path: &str, text: &str| {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    // qserv_data's layers: catalog (0) below partition (1).
    write("lib.rs", "pub mod catalog;\npub mod partition;\n");
    write(
        "catalog/mod.rs",
        "mod a;\nmod b;\npub use b::Thing;\npub struct Root;\n\
         #[cfg(test)]\nmod tests { use crate::partition::Up; }\n",
    );
    // a -> mod.rs (Root, defined there) and mod.rs -> a? No: mod.rs only declares a. a -> b
    // through the re-export in mod.rs.
    write(
        "catalog/a.rs",
        "use super::Thing;\nfn f() -> super::Root { todo!() }\n",
    );
    write(
        "catalog/b.rs",
        "pub struct Thing;\nfn g() { let _ = crate::catalog::Root; }\n",
    );
    write(
        "partition/mod.rs",
        "pub struct Up;\nfn h() { let _ = crate::catalog::Thing; }\n",
    );
    let krate = read_crate(&src);
    let graph = file_graph(&krate);
    let deps = |f: &str| -> Vec<String> {
        graph[&src.join(f)]
            .keys()
            .map(|p| p.strip_prefix(&src).unwrap().display().to_string())
            .collect()
    };
    assert_eq!(deps("catalog/a.rs"), ["catalog/b.rs", "catalog/mod.rs"]);
    assert_eq!(deps("catalog/b.rs"), ["catalog/mod.rs"]);
    assert_eq!(deps("catalog/mod.rs"), ["catalog/b.rs"]);
    assert_eq!(deps("partition/mod.rs"), ["catalog/b.rs"]);
    let findings = check(&[("qserv_data", src.clone())]);
    assert_eq!(
        findings.cycles.len(),
        1,
        "b.rs <-> mod.rs: {:?}",
        findings.cycles
    );
    assert!(
        findings.cycles[0].contains("catalog/b.rs")
            && findings.cycles[0].contains("catalog/mod.rs")
    );
    assert!(findings.upward.is_empty(), "{:?}", findings.upward);

    // A catalog file using partition is an arrow up (and partition no longer uses catalog).
    write(
        "catalog/b.rs",
        "pub struct Thing;\nfn g() { let _ = crate::partition::Up; }\n",
    );
    write("partition/mod.rs", "pub struct Up;\n");
    let findings = check(&[("qserv_data", src)]);
    assert!(findings.cycles.is_empty(), "{:?}", findings.cycles);
    assert_eq!(findings.upward.len(), 1, "{:?}", findings.upward);
    assert!(
        findings.upward[0].contains("(catalog, layer 0) uses")
            && findings.upward[0].contains("(partition, layer 1)"),
        "{}",
        findings.upward[0]
    );
}
