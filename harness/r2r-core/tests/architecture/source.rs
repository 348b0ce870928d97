//! The source files of a crate as the checks read them: lexed (comments and the insides of
//! literals blanked, lines kept), `#[cfg(test)]` items cut out, each file with its module.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub(crate) fn core_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn binary_root() -> PathBuf {
    core_root().join("../r2r")
}

/// Every `.rs` file under `directory`, sorted.
pub(crate) fn rust_files(directory: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![directory.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .unwrap_or_else(|error| panic!("reading {}: {error}", current.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// `path` relative to `root`, with `/`.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A string literal of a file.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    /// Where its opening quote is, in characters.
    pub(crate) offset: usize,
    /// Its line, from 1.
    pub(crate) line: usize,
    /// Its contents, as written (escapes not processed).
    pub(crate) value: String,
}

/// A file with its comments and literals blanked.
#[derive(Debug)]
pub(crate) struct Lexed {
    /// The file's characters; comments and the insides of literals are spaces (newlines
    /// kept).
    pub(crate) code: Vec<char>,
    /// Its string literals.
    pub(crate) literals: Vec<Literal>,
    /// Offsets where lines start.
    line_starts: Vec<usize>,
}

impl Lexed {
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|start| *start <= offset)
    }
}

pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Blanks comments and literal contents of Rust source `text`.
pub(crate) fn lex(text: &str) -> Lexed {
    let source: Vec<char> = text.chars().collect();
    let mut code = source.clone();
    let mut literals = Vec::new();
    let mut line_starts = vec![0];
    for (index, c) in source.iter().enumerate() {
        if *c == '\n' {
            line_starts.push(index + 1);
        }
    }
    let line_of = |offset: usize| line_starts.partition_point(|start| *start <= offset);
    let blank = |code: &mut Vec<char>, from: usize, to: usize| {
        for c in code.iter_mut().take(to.min(source.len())).skip(from) {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let at = |index: usize| source.get(index).copied().unwrap_or('\0');
    let mut i = 0;
    while i < source.len() {
        let c = source[i];
        let previous_is_ident = i > 0 && is_ident_char(source[i - 1]);
        if c == '/' && at(i + 1) == '/' {
            let end = (i..source.len())
                .find(|&j| source[j] == '\n')
                .unwrap_or(source.len());
            blank(&mut code, i, end);
            i = end;
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            let mut j = i;
            while j < source.len() {
                if source[j] == '/' && at(j + 1) == '*' {
                    depth += 1;
                    j += 2;
                } else if source[j] == '*' && at(j + 1) == '/' {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut code, i, j);
            i = j;
        } else if !previous_is_ident && (c == 'r' || (c == 'b' && at(i + 1) == 'r')) && {
            // A raw string: r"…", r#"…"#, br"…".
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            while at(j) == '#' {
                j += 1;
            }
            at(j) == '"'
        } {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            let open = j;
            let mut k = open + 1;
            let close = loop {
                if k >= source.len() {
                    break source.len();
                }
                if source[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#') {
                    break k;
                }
                k += 1;
            };
            literals.push(Literal {
                offset: open,
                line: line_of(open),
                value: source[open + 1..close.min(source.len())].iter().collect(),
            });
            blank(&mut code, open + 1, close);
            i = close + 1 + hashes;
        } else if c == '"' {
            let mut k = i + 1;
            while k < source.len() && source[k] != '"' {
                if source[k] == '\\' {
                    k += 1;
                }
                k += 1;
            }
            literals.push(Literal {
                offset: i,
                line: line_of(i),
                value: source[i + 1..k.min(source.len())].iter().collect(),
            });
            blank(&mut code, i + 1, k);
            i = k + 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), or else a lifetime or label.
            if at(i + 1) == '\\' {
                let mut k = i + 3;
                while k < source.len() && source[k] != '\'' {
                    k += 1;
                }
                blank(&mut code, i + 1, k);
                i = k + 1;
            } else if at(i + 2) == '\'' {
                blank(&mut code, i + 1, i + 2);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    Lexed {
        code,
        literals,
        line_starts,
    }
}

/// Index just past the bracket group opening at `open` (`(`, `[` or `{`), in blanked code.
fn past_group(code: &[char], open: usize) -> usize {
    let mut depth = 0usize;
    for (index, c) in code.iter().enumerate().skip(open) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return index + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// What cutting the test code out of a file found.
#[derive(Debug, Default)]
pub(crate) struct TestItems {
    /// The whole file is test code (`#![cfg(test)]`).
    whole_file: bool,
    /// `#[cfg(test)] mod name;` declarations: the module name and its `#[path]`, if any.
    pub(crate) modules: Vec<(String, Option<String>)>,
}

/// Blanks every `#[cfg(test)]` item of `lexed.code`.
pub(crate) fn cut_test_items(lexed: &mut Lexed) -> TestItems {
    let mut found = TestItems::default();
    let text: String = lexed.code.iter().collect();
    if text.contains("#![cfg(test)]") {
        found.whole_file = true;
    }
    let code = &mut lexed.code;
    let attribute: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + attribute.len() <= code.len() {
        if code[i..i + attribute.len()] != attribute[..] {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + attribute.len();
        let mut path = None;
        // Further attributes of the same item.
        loop {
            while j < code.len() && code[j].is_whitespace() {
                j += 1;
            }
            if j + 1 < code.len() && code[j] == '#' && code[j + 1] == '[' {
                let end = past_group(code, j + 1);
                let attribute: String = code[j..end].iter().collect();
                if attribute.replace(' ', "").starts_with("#[path=") {
                    path = lexed
                        .literals
                        .iter()
                        .find(|literal| literal.offset > j && literal.offset < end)
                        .map(|literal| literal.value.clone());
                }
                j = end;
            } else {
                break;
            }
        }
        let item_start = j;
        let mut depth = 0i32;
        let mut end = code.len();
        while j < code.len() {
            match code[j] {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                ';' if depth == 0 => {
                    end = j + 1;
                    break;
                }
                '{' if depth == 0 => {
                    end = past_group(code, j);
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let item: String = code[item_start..end].iter().collect();
        let words: Vec<&str> = item
            .split(|c: char| !is_ident_char(c))
            .filter(|word| !word.is_empty())
            .collect();
        if item.trim_end().ends_with(';') {
            if let Some(position) = words.iter().position(|word| *word == "mod") {
                if let Some(name) = words.get(position + 1) {
                    found.modules.push((name.to_string(), path));
                }
            }
        }
        for c in code.iter_mut().take(end).skip(start) {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end;
    }
    found
}

/// One source file of a crate.
#[derive(Debug)]
pub(crate) struct SourceFile {
    /// Path relative to the crate's root, e.g. `src/inspect/archive.rs`.
    pub(crate) name: String,
    /// Its module path, e.g. `["crate", "inspect", "archive"]`.
    pub(crate) module: Vec<String>,
    /// Its text, lexed, test items blanked.
    pub(crate) lexed: Lexed,
    /// Whether it is test code as a whole.
    pub(crate) test_only: bool,
}

/// The module a file under `src/` is, by its path.
fn module_of(relative_to_src: &str) -> Vec<String> {
    let mut segments: Vec<String> = relative_to_src
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if matches!(
        segments.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segments.pop();
    }
    let mut module = vec!["crate".to_string()];
    module.extend(segments);
    module
}

/// Every file under `crate_root/src`, lexed, with its module and whether it is test code.
pub(crate) fn load_crate(crate_root: &Path) -> Vec<SourceFile> {
    let source_root = crate_root.join("src");
    let mut files: Vec<SourceFile> = Vec::new();
    let mut test_modules: Vec<Vec<String>> = Vec::new();
    let mut test_paths: BTreeSet<PathBuf> = BTreeSet::new();
    for path in rust_files(&source_root) {
        let text = read(&path);
        let mut lexed = lex(&text);
        let tests = cut_test_items(&mut lexed);
        let module = module_of(&relative(&source_root, &path));
        for (name, attribute_path) in &tests.modules {
            match attribute_path {
                Some(relative_path) => {
                    let directory = path.parent().unwrap_or(&source_root);
                    test_paths.insert(normalise_path(&directory.join(relative_path)));
                }
                None => {
                    let mut child = module.clone();
                    child.push(name.clone());
                    test_modules.push(child);
                }
            }
        }
        files.push(SourceFile {
            name: relative(crate_root, &path),
            module,
            lexed,
            test_only: tests.whole_file || test_paths.contains(&normalise_path(&path)),
        });
    }
    for file in &mut files {
        let path = normalise_path(&crate_root.join(&file.name));
        if test_paths.contains(&path)
            || test_modules
                .iter()
                .any(|test| file.module.starts_with(test))
        {
            file.test_only = true;
        }
    }
    files
}

/// `path` with `.` and `..` resolved as text.
fn normalise_path(path: &Path) -> PathBuf {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other.as_os_str().to_os_string()),
        }
    }
    parts.iter().collect()
}
