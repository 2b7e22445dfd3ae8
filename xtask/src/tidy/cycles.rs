//! (g) `module-cycle`: no `use crate::…` circle between the modules of one crate.
//!
//! Each file is a module path (`src/foo.rs`, `src/foo/mod.rs` → `foo`;
//! `src/foo/bar.rs` → `foo::bar`; `lib.rs`/`main.rs` → the root). Every
//! `crate::a::b…` path in product code (in `use` trees, braces expanded, and in
//! expressions), and every `super::…` path made absolute, is resolved to the longest known module it names. A path into
//! one's own ancestors or descendants is no edge (a parent re-exporting its
//! children is normal). Otherwise both ends are collapsed to the two sibling
//! modules under their common parent (`telegram::poller` → `telegram::commands`
//! stays as is; `node` → `session::output` becomes `node` → `session`), and
//! cycles in that graph are found with Tarjan's algorithm.
//!
//! Known blind spot: an item reached through a re-export at an ancestor
//! (`use crate::BusError`) is an edge to that ancestor, so it is not seen.

use std::collections::{BTreeMap, BTreeSet};

use super::source::{Kind, Source, Tok};
use super::Violation;

/// The module path of `rel` (path inside the crate's `src/`), as segments.
pub fn module_path(rel: &str) -> Vec<String> {
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segs: Vec<String> = rel.split('/').map(str::to_string).collect();
    if segs.len() == 1 && (segs[0] == "lib" || segs[0] == "main") {
        return Vec::new();
    }
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    segs
}

/// Every `crate::…` path (and `super::…` path, resolved from `module`) in
/// product code of `src`, as a path from the crate root, with its line.
pub fn crate_paths(src: &Source, module: &[String]) -> Vec<(Vec<String>, usize)> {
    let toks: Vec<&Tok> = src.product_toks();
    let mut out = Vec::new();
    for i in 0..toks.len() {
        // Only where a path starts: not `$crate::`, not `a::super::`.
        let mid_path = i > 0 && (toks[i - 1].is_punct('$') || toks[i - 1].is_punct(':'));
        if mid_path || !super::rules::path_sep(&toks, i + 1) {
            continue;
        }
        if toks[i].is_ident("crate") {
            let mut j = i + 3;
            use_tree(&toks, &mut j, Vec::new(), toks[i].line, &mut out);
        } else if toks[i].is_ident("super") {
            let mut prefix = module.to_vec();
            let mut j = i;
            while toks.get(j).is_some_and(|t| t.is_ident("super"))
                && super::rules::path_sep(&toks, j + 1)
            {
                prefix.pop();
                j += 3;
            }
            use_tree(&toks, &mut j, prefix, toks[i].line, &mut out);
        }
    }
    out
}

/// Parses a path or use tree at `toks[*j]` under `prefix`, collecting full paths.
fn use_tree(
    toks: &[&Tok],
    j: &mut usize,
    prefix: Vec<String>,
    line: usize,
    out: &mut Vec<(Vec<String>, usize)>,
) {
    let mut path = prefix;
    loop {
        match toks.get(*j).map(|t| &t.kind) {
            Some(Kind::Ident(seg)) => {
                path.push(seg.clone());
                *j += 1;
                if super::rules::path_sep(toks, *j) {
                    *j += 2;
                    continue;
                }
                out.push((path, line));
                return;
            }
            Some(Kind::Open('{')) => {
                *j += 1;
                loop {
                    match toks.get(*j).map(|t| &t.kind) {
                        None | Some(Kind::Close(_)) => {
                            *j += 1;
                            return;
                        }
                        Some(Kind::Punct(',')) => *j += 1,
                        Some(_) => {
                            let before = *j;
                            use_tree(toks, j, path.clone(), line, out);
                            // Skip `as name` and anything unparsed up to the next item.
                            while let Some(t) = toks.get(*j) {
                                if t.is_punct(',') || matches!(t.kind, Kind::Close(_)) {
                                    break;
                                }
                                *j += 1;
                            }
                            if *j == before {
                                *j += 1;
                            }
                        }
                    }
                }
            }
            _ => {
                // `crate::*` or a path ending in a glob: the module itself.
                out.push((path, line));
                return;
            }
        }
    }
}

/// One crate's module-level edges: (from, to) → first file:line that makes it.
pub type Edges = BTreeMap<(String, String), (String, usize)>;

/// Builds the collapsed sibling graph of one crate from `(module path, source)`.
pub fn edges(files: &[(Vec<String>, &Source)]) -> Edges {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges = Edges::new();
    for (from, src) in files {
        for (path, line) in crate_paths(src, from) {
            // The longest prefix of `path` that is a module of this crate.
            let to: Vec<String> = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p))
                .unwrap_or_default();
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // ancestor or descendant (or itself)
            }
            let a = from[..=common].join("::");
            let b = to[..=common].join("::");
            edges.entry((a, b)).or_insert((src.path.clone(), line));
        }
    }
    edges
}

/// The cycles (strongly connected components of two or more modules) in `edges`:
/// each as its members and one closed path `a → b → … → a` through the first.
pub fn cycles(edges: &Edges) -> Vec<(Vec<String>, Vec<String>)> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        graph.entry(a).or_default().push(b);
        graph.entry(b).or_default();
    }
    let mut tarjan = Tarjan {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        sccs: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v) {
            tarjan.visit(v);
        }
    }
    tarjan
        .sccs
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            let members = scc.iter().map(|s| s.to_string()).collect();
            (members, cycle_path(&graph, &scc))
        })
        .collect()
}

struct Tarjan<'g> {
    graph: &'g BTreeMap<&'g str, Vec<&'g str>>,
    index: BTreeMap<&'g str, usize>,
    low: BTreeMap<&'g str, usize>,
    stack: Vec<&'g str>,
    on_stack: BTreeSet<&'g str>,
    next: usize,
    sccs: Vec<BTreeSet<&'g str>>,
}

impl<'g> Tarjan<'g> {
    fn visit(&mut self, v: &'g str) {
        self.index.insert(v, self.next);
        self.low.insert(v, self.next);
        self.next += 1;
        self.stack.push(v);
        self.on_stack.insert(v);
        for &w in &self.graph[v] {
            if !self.index.contains_key(w) {
                self.visit(w);
                let low = self.low[v].min(self.low[w]);
                self.low.insert(v, low);
            } else if self.on_stack.contains(w) {
                let low = self.low[v].min(self.index[w]);
                self.low.insert(v, low);
            }
        }
        if self.low[v] == self.index[v] {
            let mut scc = BTreeSet::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(w);
                scc.insert(w);
                if w == v {
                    break;
                }
            }
            self.sccs.push(scc);
        }
    }
}

/// A closed walk from the component's first module back to itself (BFS, so shortest).
fn cycle_path(graph: &BTreeMap<&str, Vec<&str>>, scc: &BTreeSet<&str>) -> Vec<String> {
    let start = *scc.iter().next().expect("non-empty component");
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &graph[v] {
            if !scc.contains(w) {
                continue;
            }
            if w == start {
                // Walk back from `v` to `start`, then read it forwards and close the loop.
                let mut back = vec![v];
                while let Some(&p) = parent.get(back[back.len() - 1]) {
                    back.push(p);
                }
                let mut path: Vec<String> = back.iter().rev().map(|s| s.to_string()).collect();
                path.push(start.to_string());
                return path;
            }
            if w != start && !parent.contains_key(w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    scc.iter().map(|s| s.to_string()).collect()
}

/// (g) for one crate: `files` are `(path inside src/, source)`.
pub fn module_cycles(files: &[(String, &Source)]) -> Vec<Violation> {
    let with_paths: Vec<(Vec<String>, &Source)> = files
        .iter()
        .map(|(rel, s)| (module_path(rel), *s))
        .collect();
    let edges = edges(&with_paths);
    cycles(&edges)
        .into_iter()
        .map(|(members, cycle)| {
            let (a, b) = (&cycle[0], &cycle[1]);
            let (file, line) = edges[&(a.clone(), b.clone())].clone();
            let hops: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let (f, l) = &edges[&(w[0].clone(), w[1].clone())];
                    format!("{} → {} ({f}:{l})", w[0], w[1])
                })
                .collect();
            Violation {
                file,
                line,
                rule: "module-cycle",
                message: format!(
                    "module cycle among {{{}}}, e.g. {}: {}; move what they share into a leaf module they all import",
                    members.join(", "),
                    cycle.join(" → "),
                    hops.join(", ")
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> Vec<Violation> {
        let parsed: Vec<(String, Source)> = files
            .iter()
            .map(|(rel, text)| (rel.to_string(), Source::parse(rel, text).unwrap()))
            .collect();
        let refs: Vec<(String, &Source)> = parsed.iter().map(|(r, s)| (r.clone(), s)).collect();
        module_cycles(&refs)
    }

    #[test]
    fn module_paths() {
        assert_eq!(module_path("lib.rs"), Vec::<String>::new());
        assert_eq!(module_path("foo.rs"), ["foo"]);
        assert_eq!(module_path("foo/mod.rs"), ["foo"]);
        assert_eq!(module_path("foo/bar.rs"), ["foo", "bar"]);
    }

    #[test]
    fn use_trees_expand() {
        let s = Source::parse(
            "a.rs",
            "use crate::{a::{B, c::D}, e as f, g::*};\nfn x() { crate::h::i(); $crate::z; }",
        )
        .unwrap();
        let paths = |s: &Source, module: &[String]| -> Vec<String> {
            crate_paths(s, module)
                .into_iter()
                .map(|(p, _)| p.join("::"))
                .collect()
        };
        assert_eq!(paths(&s, &[]), ["a::B", "a::c::D", "e", "g", "h::i"]);
        let s = Source::parse(
            "t/b.rs",
            "use super::{c::X, Y};\nfn x() { super::super::z::f(); a::super::q(); }",
        )
        .unwrap();
        let module = ["t".to_string(), "b".to_string()];
        assert_eq!(paths(&s, &module), ["t::c::X", "t::Y", "z::f"]);
    }

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        let v = crate_of(&[
            ("lib.rs", "mod node; mod ops; mod watcher;"),
            ("node.rs", "use crate::ops::handle;"),
            ("ops.rs", "use crate::watcher::W;"),
            ("watcher.rs", "fn a() { crate::node::Shared::new(); }"),
        ]);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "module-cycle");
        assert!(
            v[0].message.contains("node → ops → watcher → node"),
            "{}",
            v[0].message
        );
    }

    #[test]
    fn parents_children_and_leaves_are_no_cycle() {
        let v = crate_of(&[
            (
                "lib.rs",
                "pub use crate::telegram::Bot; use crate::state::S;",
            ),
            ("state.rs", "use crate::Error;"),
            (
                "telegram/mod.rs",
                "pub use crate::telegram::poller::run; use crate::state::S;",
            ),
            (
                "telegram/poller.rs",
                "use crate::telegram::bot::Bot; use crate::telegram::X;",
            ),
            ("telegram/bot.rs", "use crate::state::S;"),
            ("telegram/commands.rs", "use crate::telegram::bot::Bot;"),
        ]);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn submodules_collapse_to_their_top_level_sibling() {
        let v = crate_of(&[
            ("session/mod.rs", ""),
            ("session/output.rs", "use crate::ops::Reply;"),
            ("ops/mod.rs", ""),
            ("ops/send.rs", "use crate::session::lifecycle::Phase;"),
            ("session/lifecycle.rs", ""),
        ]);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].message.contains("ops → session → ops"),
            "{}",
            v[0].message
        );
    }
}
