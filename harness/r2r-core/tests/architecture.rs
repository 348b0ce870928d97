//! Rules of the code's shape, checked on the source tree itself (no engine, no build of
//! anything but this test): file sizes, where result file names are written, and import
//! circles between modules.
//!
//! The sources are read as text from `env!("CARGO_MANIFEST_DIR")` (this crate) and its
//! sibling `../r2r` (the binary). A small lexer blanks comments and the insides of string and
//! character literals (keeping every line where it was), so braces, paths and file names are
//! only ever found in code; `#[cfg(test)]` items are cut out the same way, and a file that is
//! a `#[cfg(test)]` module of its own (`#[cfg(test)] mod tests;`, with or without
//! `#[path = "…"]`) is test code as a whole.
//!
//! # The checks
//!
//! - Every `.rs` file of this crate (`src/` and `tests/`) has at most [`MAX_FILE_LINES`] lines.
//! - The binary's `src/` has fewer than [`MAX_BINARY_LINES`] lines in all, its declaration of
//!   the command line (`args.rs`, which grows with every subcommand's flags) aside.
//! - No string literal of production code names a result file (a name ending in `.csv`,
//!   `.json`, `.md` or `.html`) outside this crate's `src/results/`, in this crate or in the
//!   binary; allowed are the [`NOT_RESULT_FILES`] and names that are only a placeholder
//!   (`{}.json`, `{:x}.json`: a blob named by its digest).
//! - No import circle between the top-level modules of this crate, nor between its files.
//!
//! # How the module graph is built
//!
//! Every `.rs` file under `src/` is one module, named by its path as the compiler names it:
//! `src/lib.rs` is `crate`, `src/a/mod.rs` and `src/a.rs` are `crate::a`, `src/a/b.rs` is
//! `crate::a::b`. In the non-test code of each file, every path that starts with `crate::`,
//! `super::` or `self::` is read, in `use` declarations (brace groups expanded) and anywhere
//! in expressions and types (`crate::measure::startup::integer_after(…)`); so are paths that
//! start with a name a `use` of this file bound to a module of the crate
//! (`use crate::inspect::archive::{self, …}` then `archive::parse_export(…)`) or with a child
//! module of the file. `super` and `self` count from the inline module they are written in.
//! A path leads to the file of the longest module it names, and through that module's
//! `use` declarations (re-exports, `pub` or not, since a child may name its parent's private
//! imports) on to the file that defines the item: `crate::inspect::archive::walk_archive`
//! leads to `inspect/archive/walk.rs`, not to `inspect/archive.rs` that re-exports it.
//!
//! - Folder level: the top-level modules of the crate (`build`, `engine`, `inspect`, …). An
//!   edge A -> B when a file under A names a path in B (`crate::B::…`, or a `super::` path
//!   that climbs into B), before re-exports are followed.
//! - File level: one node per file, an edge from a file to each file its paths lead to. An
//!   edge between a module and its own ancestor or descendant (`archive.rs` declaring and
//!   re-exporting `archive/view.rs`, `view.rs` naming `super::ArchiveError`) is not counted:
//!   a parent holds its children, and the children use what the parent defines, by
//!   construction of Rust's modules. Every other edge counts, between siblings of one folder
//!   as much as across folders; since re-exports are followed, a circle cannot hide behind a
//!   parent's `pub use`.
//!
//! A circle is reported as its strongly connected set of modules, one circle through it, and
//! every edge inside the set with the first file and line that makes it.

#[path = "architecture/modules.rs"]
mod modules;
#[path = "architecture/source.rs"]
mod source;

use std::collections::{BTreeMap, BTreeSet};

use modules::{
    circles_report, file_edges, find_cycles, folder_edges, one_circle, paths_of, ModuleGraph,
};
use source::{
    binary_root, core_root, cut_test_items, lex, load_crate, read, relative, rust_files, SourceFile,
};

/// Most lines a source file of this crate may have (its `src/` and its `tests/`).
const MAX_FILE_LINES: usize = 1_200;
/// Most lines the binary's sources (`harness/r2r/src/**/*.rs`) may have together, `args.rs`
/// (clap's declarations only) aside.
const MAX_BINARY_LINES: usize = 1_100;
/// The binary's file of declarations, counted against [`MAX_FILE_LINES`] only.
const ARGUMENTS_FILE: &str = "args.rs";
/// Result file extensions a string literal of production code may not name.
const RESULT_EXTENSIONS: [&str; 4] = ["csv", "json", "md", "html"];
/// File names with a result extension that are not result files, and may be written.
const NOT_RESULT_FILES: [(&str, &str); 3] = [
    // The image list inside a `docker save` archive, read by the archive reader: a file of
    // the engine's export format, not a file r2r writes.
    ("manifest.json", "the image list of a `docker save` archive"),
    // The entry point of an OCI image layout (`podman save --format oci-archive`, the
    // containerd store's `docker save`), read by the archive reader for the same reason.
    ("index.json", "the index of an OCI image layout"),
    // What the .NET SDK writes beside a framework or an app (`<name>.deps.json`), read and
    // edited when images are built; matched as a suffix.
    (".deps.json", "the .NET dependency manifest of an assembly"),
];

#[test]
fn no_source_file_of_the_library_is_over_the_line_limit() {
    let root = core_root();
    let mut over = Vec::new();
    for directory in ["src", "tests"] {
        for path in rust_files(&root.join(directory)) {
            let lines = read(&path).lines().count();
            if lines > MAX_FILE_LINES {
                over.push(format!("{} has {lines} lines", relative(&root, &path)));
            }
        }
    }
    assert!(
        over.is_empty(),
        "r2r-core files over {MAX_FILE_LINES} lines (split them by concern):\n  {}",
        over.join("\n  ")
    );
}

#[test]
fn the_binary_stays_under_its_line_budget() {
    let root = binary_root();
    let files: Vec<(String, usize)> = rust_files(&root.join("src"))
        .iter()
        .filter(|path| !path.ends_with(ARGUMENTS_FILE))
        .map(|path| (relative(&root, path), read(path).lines().count()))
        .collect();
    let arguments = read(&root.join("src").join(ARGUMENTS_FILE)).lines().count();
    assert!(
        arguments < MAX_FILE_LINES,
        "{ARGUMENTS_FILE} has {arguments} lines"
    );
    let total: usize = files.iter().map(|(_, lines)| lines).sum();
    assert!(
        total < MAX_BINARY_LINES,
        "the r2r binary has {total} lines in src/ besides {ARGUMENTS_FILE}, over the budget of {MAX_BINARY_LINES} (the \
         pipeline belongs in r2r-core):\n  {}",
        files
            .iter()
            .map(|(name, lines)| format!("{name}: {lines}"))
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// The result file names a literal holds: words ending in a result extension, whose name is
/// not just the extension.
fn result_file_names(literal: &str) -> Vec<String> {
    let mut names = Vec::new();
    let is_name_char = |c: char| c.is_alphanumeric() || "_-./{}:".contains(c);
    for extension in RESULT_EXTENSIONS {
        let suffix = format!(".{extension}");
        let mut from = 0;
        while let Some(found) = literal[from..].find(&suffix) {
            let dot = from + found;
            let end = dot + suffix.len();
            from = end;
            let after = literal[end..].chars().next();
            if after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let start = literal[..dot]
                .char_indices()
                .rev()
                .take_while(|(_, c)| is_name_char(*c))
                .last()
                .map(|(index, _)| index)
                .unwrap_or(dot);
            if start == dot {
                continue;
            }
            let name = &literal[start..end];
            let file_name = name.rsplit('/').next().unwrap_or(name);
            if file_name.len() == suffix.len() {
                continue;
            }
            let allowed = NOT_RESULT_FILES.iter().any(|(allowed, _)| {
                file_name == *allowed || (allowed.starts_with('.') && file_name.ends_with(allowed))
            });
            // A name that is only a placeholder (`{}.json`, `{:x}.json`: a blob named by its
            // digest) names no particular file.
            let stem = &file_name[..file_name.len() - suffix.len()];
            let placeholder =
                stem.starts_with('{') && stem.ends_with('}') && !stem[1..].contains('{');
            if allowed || placeholder {
                continue;
            }
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn result_file_names_are_written_only_in_the_results_module() {
    let mut found = Vec::new();
    let crates = [(core_root(), Some("src/results/")), (binary_root(), None)];
    for (root, exempt) in crates {
        for file in load_crate(&root) {
            if file.test_only || exempt.is_some_and(|exempt| file.name.starts_with(exempt)) {
                continue;
            }
            let code = &file.lexed.code;
            for literal in &file.lexed.literals {
                // A literal inside cut test code has its quotes blanked too.
                if code.get(literal.offset) != Some(&'"') {
                    continue;
                }
                for name in result_file_names(&literal.value) {
                    let crate_name = root.file_name().unwrap_or_default().to_string_lossy();
                    found.push(format!(
                        "{crate_name}/{}:{} \"{name}\"",
                        file.name, literal.line
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "result file names written as string literals outside r2r-core's src/results/ (name \
         them through the results module; {} are allowed as not being result files):\n  {}",
        NOT_RESULT_FILES
            .iter()
            .map(|(name, why)| format!("`{name}`, {why}"))
            .collect::<Vec<_>>()
            .join("; "),
        found.join("\n  ")
    );
}

#[test]
fn the_top_level_modules_of_the_library_import_no_circle() {
    let graph = ModuleGraph::new(&load_crate(&core_root()));
    let report = circles_report(&folder_edges(&graph));
    assert!(
        report.is_empty(),
        "import circles between r2r-core's top-level modules:{report}"
    );
}

/// The order of r2r-core's top-level modules, lowest first, as `src/lib.rs` states it: each
/// imports only modules before it.
const LAYERS: &[&str] = &[
    "support", "model", "engine", "inspect", "build", "results", "measure", "report", "run",
    "console",
];

#[test]
fn each_top_level_module_imports_only_the_ones_below_it() {
    let graph = ModuleGraph::new(&load_crate(&core_root()));
    let edges = folder_edges(&graph);
    let rank = |module: &str| LAYERS.iter().position(|layer| *layer == module);
    let mut found = Vec::new();
    for (from, targets) in &edges {
        for (to, place) in targets {
            match (rank(from), rank(to)) {
                (Some(low), Some(high)) if high < low => {}
                (None, _) => found.push(format!("{from} is not in the order of src/lib.rs")),
                (_, None) => found.push(format!("{to} is not in the order of src/lib.rs")),
                _ => found.push(format!("{from} -> {to} imports upwards ({place})")),
            }
        }
    }
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "r2r-core's modules must import only those below them ({}):\n  {}",
        LAYERS.join(" < "),
        found.join("\n  ")
    );
}

#[test]
fn the_files_of_the_library_import_no_circle() {
    let graph = ModuleGraph::new(&load_crate(&core_root()));
    let report = circles_report(&file_edges(&graph));
    assert!(
        report.is_empty(),
        "import circles between r2r-core's files (a module and its own parent or children \
         excepted):{report}"
    );
}

fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges {
        graph
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
    }
    graph
}

#[test]
fn the_cycle_finder_finds_a_three_cycle_and_accepts_a_dag() {
    let circle = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "a")]);
    assert_eq!(find_cycles(&circle), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        one_circle(&circle, &["a".into(), "b".into(), "c".into()]),
        vec!["a", "b", "c", "a"]
    );
    let dag = graph(&[("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("e", "d")]);
    assert!(find_cycles(&dag).is_empty());
}

#[test]
fn comments_literals_and_test_items_are_not_code() {
    let text = r##"
use crate::a::{b::{self, C}, d as e};
use crate::g::*;
// use crate::commented::Out;
/* use crate::blocked::Out; */
const NAME: &str = "crate::in_a_string::Out { sizes.csv";
const RAW: &str = r#"a "quoted" run.json"#;
fn f<'l>(x: &'l str) -> char { let _ = crate::f::g::h(x); '{' }
#[cfg(test)]
mod tests {
    use crate::tested::Out;
}
#[cfg(test)]
#[path = "elsewhere_tests.rs"]
mod more_tests;
"##;
    let mut lexed = lex(text);
    let tests = cut_test_items(&mut lexed);
    // An inline `mod tests { … }` is cut out with the rest; only a file of its own is listed.
    assert_eq!(
        tests.modules,
        vec![(
            "more_tests".to_string(),
            Some("elsewhere_tests.rs".to_string())
        )]
    );
    let file = SourceFile {
        name: "src/x.rs".into(),
        module: vec!["crate".into(), "x".into()],
        lexed,
        test_only: false,
    };
    let modules: BTreeSet<Vec<String>> = [vec!["crate".to_string()]].into_iter().collect();
    let written: Vec<String> = paths_of(&file, &modules)
        .iter()
        .map(|path| path.absolute.join("::"))
        .collect();
    assert_eq!(
        written,
        vec![
            "crate::a::b",
            "crate::a::b::C",
            "crate::a::d",
            "crate::g",
            "crate::f::g::h"
        ]
    );
    let literals: Vec<&str> = file
        .lexed
        .literals
        .iter()
        .map(|l| l.value.as_str())
        .collect();
    assert_eq!(
        result_file_names(literals[0])
            .into_iter()
            .chain(result_file_names(literals[1]))
            .collect::<Vec<_>>(),
        vec!["sizes.csv", "run.json"]
    );
    assert!(
        result_file_names("`manifest.json` lists no image; .json; x.jsonl; {:x}.json").is_empty()
    );
}

#[test]
fn paths_lead_through_re_exports_to_the_defining_file() {
    let files: Vec<SourceFile> = [
        ("src/lib.rs", vec!["crate"], "pub mod a; pub mod b;"),
        (
            "src/a.rs",
            vec!["crate", "a"],
            "mod inner; pub use inner::Thing;",
        ),
        (
            "src/a/inner.rs",
            vec!["crate", "a", "inner"],
            "pub struct Thing; fn f() { crate::b::g(); }",
        ),
        (
            "src/b.rs",
            vec!["crate", "b"],
            "use crate::a::{self, Thing}; pub fn g() { a::Thing; }",
        ),
    ]
    .into_iter()
    .map(|(name, module, text)| SourceFile {
        name: name.into(),
        module: module.into_iter().map(str::to_string).collect(),
        lexed: lex(text),
        test_only: false,
    })
    .collect();
    let graph = ModuleGraph::new(&files);
    let edges = file_edges(&graph);
    let targets = |from: &str| {
        edges
            .get(from)
            .map(|to| to.keys().cloned().collect::<Vec<_>>())
    };
    assert_eq!(
        targets("b"),
        Some(vec!["a".to_string(), "a::inner".to_string()]),
        "`use crate::a::{{self, Thing}}` needs `a` itself and, through its re-export, `a::inner`"
    );
    assert_eq!(targets("a::inner"), Some(vec!["b".to_string()]));
    assert!(circles_report(&edges).contains("a::inner -> b -> a::inner"));
    assert_eq!(
        targets("a"),
        None,
        "a parent's edges to its children do not count"
    );
}
