//! The paths a file's code names, made absolute; the crate's module graph at folder and at
//! file level; and the circles in a graph.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::source::{is_ident_char, SourceFile};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSeparator,
    Punct(char),
}

/// The tokens of blanked code, each with its offset.
fn tokens(code: &[char]) -> Vec<(Token, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_ident_char(c) {
            let start = i;
            while i < code.len() && is_ident_char(code[i]) {
                i += 1;
            }
            let word: String = code[start..i].iter().collect();
            let word = word.strip_prefix("r#").map(str::to_string).unwrap_or(word);
            found.push((Token::Ident(word), start));
        } else if c == ':' && code.get(i + 1) == Some(&':') {
            found.push((Token::PathSeparator, i));
            i += 2;
        } else {
            found.push((Token::Punct(c), i));
            i += 1;
        }
    }
    found
}

/// One path read from code: its segments as written, the name a `use` binds it to, and
/// where it starts.
#[derive(Debug, Clone, PartialEq)]
struct WrittenPath {
    segments: Vec<String>,
    binding: Option<String>,
    offset: usize,
}

/// Reads the path (or `use` tree) starting at token `start`; the paths and the index of the
/// first token after it. `prefix` is the group's prefix inside a brace group.
fn read_tree(
    tokens: &[(Token, usize)],
    start: usize,
    prefix: &[String],
    in_use: bool,
    paths: &mut Vec<WrittenPath>,
) -> usize {
    let mut segments = prefix.to_vec();
    let mut i = start;
    let offset = tokens.get(start).map(|(_, offset)| *offset).unwrap_or(0);
    loop {
        match tokens.get(i) {
            Some((Token::Ident(word), _)) => {
                segments.push(word.clone());
                i += 1;
            }
            Some((Token::Punct('{'), _)) if in_use => {
                // A brace group: each member with this prefix.
                i += 1;
                loop {
                    match tokens.get(i) {
                        Some((Token::Punct('}'), _)) => return i + 1,
                        Some((Token::Punct(','), _)) => i += 1,
                        None => return i,
                        Some(_) => {
                            let next = read_tree(tokens, i, &segments, in_use, paths);
                            i = if next == i { i + 1 } else { next };
                        }
                    }
                }
            }
            Some((Token::Punct('*'), _)) => {
                // A glob needs the module it empties.
                if segments.len() > prefix.len() {
                    paths.push(WrittenPath {
                        segments,
                        binding: None,
                        offset,
                    });
                }
                return i + 1;
            }
            _ => break,
        }
        match tokens.get(i) {
            Some((Token::PathSeparator, _)) => i += 1,
            _ => break,
        }
    }
    if segments.len() == prefix.len() {
        return i;
    }
    let mut binding = None;
    if in_use {
        if let Some((Token::Ident(word), _)) = tokens.get(i) {
            if word == "as" {
                if let Some((Token::Ident(alias), _)) = tokens.get(i + 1) {
                    binding = Some(alias.clone());
                    i += 2;
                }
            }
        }
        if binding.is_none() {
            let last = segments.last().cloned().unwrap_or_default();
            binding = Some(if last == "self" {
                // `use a::b::{self}` binds `b`.
                segments.pop();
                segments.last().cloned().unwrap_or_default()
            } else {
                last
            });
        }
    }
    paths.push(WrittenPath {
        segments,
        binding,
        offset,
    });
    i
}

/// A path as the crate names it, from the module it is written in.
#[derive(Debug, Clone)]
pub(crate) struct PathUse {
    /// The absolute path (`crate::…`).
    pub(crate) absolute: Vec<String>,
    /// The name a `use` binds it to, for `use` declarations.
    pub(crate) binding: Option<String>,
    /// Its line.
    pub(crate) line: usize,
    /// As written.
    pub(crate) written: String,
}

/// Every path of a file's non-test code that names something of the crate, made absolute.
/// `modules`: every module that is a file.
pub(crate) fn paths_of(file: &SourceFile, modules: &BTreeSet<Vec<String>>) -> Vec<PathUse> {
    let tokens = tokens(&file.lexed.code);
    // Inline modules: (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let current: Vec<String> = file
            .module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        match &tokens[i].0 {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
                continue;
            }
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, level)| *level == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Punct('{'), _))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            _ => {}
        }
        let follows_separator = i > 0 && tokens[i - 1].0 == Token::PathSeparator;
        let in_use = matches!(&tokens[i].0, Token::Ident(word) if word == "use");
        let start = if in_use { i + 1 } else { i };
        let Some((Token::Ident(first), _)) = tokens.get(start) else {
            i += 1;
            continue;
        };
        let child = {
            let mut child = current.clone();
            child.push(first.clone());
            modules.contains(&child)
        };
        let rooted = matches!(first.as_str(), "crate" | "super" | "self")
            || aliases.contains_key(first)
            || child;
        let path_follows =
            in_use || tokens.get(start + 1).map(|(token, _)| token) == Some(&Token::PathSeparator);
        if follows_separator || !rooted || !path_follows {
            i += 1;
            continue;
        }
        let mut written = Vec::new();
        let next = read_tree(&tokens, start, &[], in_use, &mut written);
        for path in written {
            let Some(absolute) = absolute_path(&path.segments, &current, &aliases, modules) else {
                continue;
            };
            if let Some(binding) = &path.binding {
                if modules.contains(&absolute) {
                    aliases.insert(binding.clone(), absolute.clone());
                }
            }
            found.push(PathUse {
                absolute,
                binding: path.binding.clone(),
                line: file.lexed.line_of(path.offset),
                written: path.segments.join("::"),
            });
        }
        i = next.max(i + 1);
    }
    found
}

/// `segments` written in module `current`, made absolute; `None` when it names nothing of
/// the crate (another crate, a local item).
fn absolute_path(
    segments: &[String],
    current: &[String],
    aliases: &HashMap<String, Vec<String>>,
    modules: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let first = segments.first()?;
    let mut rest = &segments[1..];
    let mut absolute: Vec<String> = match first.as_str() {
        "crate" => vec!["crate".to_string()],
        "self" => current.to_vec(),
        "super" => {
            let mut base = current.to_vec();
            base.pop();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            base
        }
        name => {
            let mut child = current.to_vec();
            child.push(name.to_string());
            if modules.contains(&child) {
                child
            } else {
                aliases.get(name)?.clone()
            }
        }
    };
    if absolute.is_empty() {
        return None;
    }
    absolute.extend(rest.iter().cloned());
    Some(absolute)
}

/// The crate's modules and what they import.
pub(crate) struct ModuleGraph {
    /// Every file module.
    modules: BTreeSet<Vec<String>>,
    /// Per module, its non-test paths.
    paths: BTreeMap<Vec<String>, (String, Vec<PathUse>)>,
    /// Per module, the names its `use` declarations bind, to their absolute paths.
    bindings: HashMap<Vec<String>, HashMap<String, Vec<String>>>,
}

impl ModuleGraph {
    pub(crate) fn new(files: &[SourceFile]) -> ModuleGraph {
        let production: Vec<&SourceFile> = files.iter().filter(|file| !file.test_only).collect();
        let modules: BTreeSet<Vec<String>> =
            production.iter().map(|file| file.module.clone()).collect();
        let mut paths = BTreeMap::new();
        let mut bindings: HashMap<Vec<String>, HashMap<String, Vec<String>>> = HashMap::new();
        for file in production {
            let found = paths_of(file, &modules);
            for path in &found {
                if let Some(binding) = &path.binding {
                    bindings
                        .entry(file.module.clone())
                        .or_default()
                        .insert(binding.clone(), path.absolute.clone());
                }
            }
            paths.insert(file.module.clone(), (file.name.clone(), found));
        }
        ModuleGraph {
            modules,
            paths,
            bindings,
        }
    }

    /// The file module an absolute path leads to, through re-exports.
    fn target(&self, absolute: &[String]) -> Vec<String> {
        let mut path = absolute.to_vec();
        for _ in 0..16 {
            let length = (1..=path.len())
                .rev()
                .find(|length| self.modules.contains(&path[..*length]))
                .unwrap_or(1);
            let module = path[..length].to_vec();
            let Some(name) = path.get(length) else {
                return module;
            };
            match self.bindings.get(&module).and_then(|names| names.get(name)) {
                Some(bound) if bound.as_slice() != &path[..=length] => {
                    let mut next = bound.clone();
                    next.extend(path[length + 1..].iter().cloned());
                    path = next;
                }
                _ => return module,
            }
        }
        path
    }
}

/// An edge of a graph with the first place that makes it.
pub(crate) type Edges = BTreeMap<String, BTreeMap<String, String>>;

fn display(module: &[String]) -> String {
    if module.len() == 1 {
        "crate".to_string()
    } else {
        module[1..].join("::")
    }
}

/// The folder-level graph: top-level module -> top-level module.
pub(crate) fn folder_edges(graph: &ModuleGraph) -> Edges {
    let mut edges = Edges::new();
    for (module, (file, paths)) in &graph.paths {
        let Some(from) = module.get(1) else { continue };
        for path in paths {
            let Some(to) = path.absolute.get(1) else {
                continue;
            };
            if to != from && graph.modules.contains(&path.absolute[..2]) {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to.clone())
                    .or_insert_with(|| format!("{file}:{} `{}`", path.line, path.written));
            }
        }
    }
    edges
}

/// The file-level graph, without edges between a module and its ancestors or descendants.
pub(crate) fn file_edges(graph: &ModuleGraph) -> Edges {
    let mut edges = Edges::new();
    for (module, (file, paths)) in &graph.paths {
        for path in paths {
            let target = graph.target(&path.absolute);
            if target.starts_with(module) || module.starts_with(&target) {
                continue;
            }
            edges
                .entry(display(module))
                .or_default()
                .entry(display(&target))
                .or_insert_with(|| format!("{file}:{} `{}`", path.line, path.written));
        }
    }
    edges
}

/// The strongly connected sets of more than one node (Tarjan's algorithm), each sorted.
pub(crate) fn find_cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        edges: &'g BTreeMap<String, BTreeSet<String>>,
        index: HashMap<&'g str, usize>,
        low: HashMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        state.index.insert(node, state.next);
        state.low.insert(node, state.next);
        state.next += 1;
        state.stack.push(node);
        state.on_stack.insert(node);
        let edges = state.edges;
        for target in edges.get(node).into_iter().flatten() {
            let target = target.as_str();
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut members = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                members.push(member.to_string());
                if member == node {
                    break;
                }
            }
            if members.len() > 1 {
                members.sort();
                state.found.push(members);
            }
        }
    }
    let mut state = State {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    let nodes: BTreeSet<&str> = edges
        .iter()
        .flat_map(|(from, targets)| {
            std::iter::once(from.as_str()).chain(targets.iter().map(String::as_str))
        })
        .collect();
    for node in nodes {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found.sort();
    state.found
}

/// One circle through the first member of `members`, following edges inside the set.
pub(crate) fn one_circle(
    edges: &BTreeMap<String, BTreeSet<String>>,
    members: &[String],
) -> Vec<String> {
    let inside: BTreeSet<&String> = members.iter().collect();
    let start = &members[0];
    // Breadth first from the start's successors back to the start.
    let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for target in edges.get(node).into_iter().flatten() {
            if !inside.contains(target) {
                continue;
            }
            if target == start {
                let mut circle = vec![node.clone()];
                let mut current = node;
                while current != start {
                    current = previous[current];
                    circle.push(current.clone());
                }
                circle.reverse();
                circle.push(start.clone());
                return circle;
            }
            if !previous.contains_key(target) {
                previous.insert(target, node);
                queue.push_back(target);
            }
        }
    }
    members.to_vec()
}

/// The report of every circle of `edges`; empty when there is none.
pub(crate) fn circles_report(edges: &Edges) -> String {
    let plain: BTreeMap<String, BTreeSet<String>> = edges
        .iter()
        .map(|(from, targets)| (from.clone(), targets.keys().cloned().collect()))
        .collect();
    let mut report = String::new();
    for members in find_cycles(&plain) {
        let circle = one_circle(&plain, &members);
        report.push_str(&format!(
            "\ncircle among {{{}}}: {}\n  edges inside it:\n",
            members.join(", "),
            circle.join(" -> ")
        ));
        for from in &members {
            for (to, place) in edges.get(from).into_iter().flatten() {
                if members.contains(to) {
                    report.push_str(&format!("    {from} -> {to}  ({place})\n"));
                }
            }
        }
    }
    report
}
