//! Scenario files, the catalog and the names made from them are hostile input: property tests
//! that the parser, the catalog loader and the plan expander never panic, that every error
//! names its place (file and line, or file and key), and that whatever passes gives the engine
//! only names of the Docker reference grammar (or stricter rules).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};
use r2r_core::model::catalog::{AppKind, Catalog};
use r2r_core::model::dotnet_version::{self, FixedVersions};
use r2r_core::model::names;
use r2r_core::model::plan::{self, Plan, PlanError};
use r2r_core::model::scenario::{self, Base, Scenario};

/// A scenario as r2r accepts it: validated and expanded once ([`plan::parse`]).
fn checked_parse(path: &Path, text: &str, catalog: &Catalog) -> Result<Scenario, SourceError> {
    plan::parse(path, text, catalog).map(|plan| plan.scenario)
}
use r2r_core::model::toml_source::SourceError;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The versions the feed of these tests serves (every pack): what the repository's scenarios
/// pin, and newer patches. The properties are about the files, not about a feed.
const SERVED: &[&str] = &["8.0.33", "9.0.22", "10.0.12", "10.0.14", "10.0.15"];

fn served() -> Vec<String> {
    SERVED.iter().map(|v| v.to_string()).collect()
}

/// The repository's catalog, its versions served by [`SERVED`].
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        Catalog::load(&root().join("experiments"))
            .expect("the repository's catalog loads")
            .with_versions(fixed_versions())
    })
}

fn fixed_versions() -> std::sync::Arc<FixedVersions> {
    std::sync::Arc::new(FixedVersions::serving(&dotnet_version::packs(true), SERVED))
}

/// The repository's scenario files: (path as the harness names it, text).
fn real_scenarios() -> &'static [(PathBuf, String)] {
    static FILES: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = root().join("scenarios");
        let mut files: Vec<(PathBuf, String)> = scenario::available_scenarios(&dir)
            .into_iter()
            .map(|name| {
                let path = dir.join(format!("{name}.toml"));
                let text = std::fs::read_to_string(&path).unwrap();
                (path, text)
            })
            .collect();
        files.sort();
        assert!(
            files.len() >= 5,
            "the repository has its scenarios: {files:?}"
        );
        files
    })
}

const CASES: u32 = 384;
const FILE_CASES: u32 = 256;

// --- checks ------------------------------------------------------------------------------

/// An error names the file it is about and a line inside it (or, without a line, a key in
/// backticks), and shows no control characters.
fn assert_located(
    error: &SourceError,
    path: &Path,
    text: Option<&str>,
) -> Result<(), TestCaseError> {
    let shown = error.to_string();
    prop_assert_eq!(&error.path, path, "{}", shown);
    prop_assert!(
        !error.message.trim().is_empty(),
        "an empty message: {}",
        shown
    );
    match error.line {
        Some(line) => {
            prop_assert!(
                shown.starts_with(&format!("{}:{line}:", path.display())),
                "{}",
                shown
            );
            if let Some(text) = text {
                let lines = text.split('\n').count();
                prop_assert!(
                    line >= 1 && line <= lines,
                    "line {} of a {}-line file: {}",
                    line,
                    lines,
                    shown
                );
            }
        }
        None => {
            prop_assert!(
                shown.starts_with(&format!("{}: ", path.display())),
                "{}",
                shown
            );
            prop_assert!(
                error.message.contains('`'),
                "without a line the message names a key: {}",
                shown
            );
        }
    }
    prop_assert!(
        !error.message.chars().any(|c| c.is_control()),
        "control characters in {:?}",
        error.message
    );
    prop_assert!(
        error.message.len() < 2000,
        "a message of {} bytes: {}",
        error.message.len(),
        shown
    );
    Ok(())
}

/// Everything a plan sends to the engine has its allowed form.
fn assert_engine_names(plan: &Plan) -> Result<(), TestCaseError> {
    prop_assert!(
        names::check_reference(plan.scenario.base.image()).is_ok(),
        "{}",
        plan.scenario.base.image()
    );
    prop_assert!(
        names::check_version(&plan.scenario.dotnet).is_ok(),
        "{}",
        plan.scenario.dotnet
    );
    for image in &plan.images {
        prop_assert_eq!(image.tags.len(), image.variants.len());
        for tag in &image.tags {
            prop_assert!(names::check_reference(tag).is_ok(), "{}", tag);
        }
        if let plan::Parent::Base(base) = &image.parent {
            prop_assert!(names::check_reference(base).is_ok(), "{}", base);
        }
        for (key, value) in image.labels(&plan.scenario) {
            prop_assert!(
                names::check_label_key(&key).is_ok() && names::check_label_value(&value).is_ok(),
                "{}={}",
                key,
                value
            );
        }
    }
    Ok(())
}

/// Parses `text` as the scenario file `path`; what parses must expand, with valid names.
fn check_scenario_text(path: &Path, text: &str, catalog: &Catalog) -> Result<bool, TestCaseError> {
    match checked_parse(path, text, catalog) {
        Ok(scenario) => {
            prop_assert!(
                names::check_name(&scenario.name).is_ok(),
                "{}",
                scenario.name
            );
            let plan = plan::try_expand(&scenario, catalog);
            prop_assert!(
                plan.is_ok(),
                "a parsed scenario expands: {}",
                plan.unwrap_err()
            );
            assert_engine_names(&plan.unwrap())?;
            Ok(true)
        }
        Err(error) => {
            assert_located(&error, path, Some(text))?;
            Ok(false)
        }
    }
}

// --- strategies --------------------------------------------------------------------------

const SCENARIO_KEYS: [&str; 8] = [
    "name",
    "description",
    "dotnet",
    "base",
    "apps",
    "variants",
    "sdk",
    "measure",
];

/// A TOML key as written: bare when it can be, quoted otherwise.
fn render_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A TOML basic string holding `value` exactly.
fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(SCENARIO_KEYS.to_vec()).prop_map(String::from),
        1 => "[a-z_-]{1,12}",
        1 => "\\PC{0,8}",
    ]
}

/// Names the catalog knows, names close to them, and names nothing should accept.
fn plausible_name() -> impl Strategy<Value = String> {
    let catalog = catalog();
    let known: Vec<String> = catalog
        .variants
        .keys()
        .chain(catalog.apps.keys())
        .chain(catalog.bases.keys())
        .cloned()
        .chain(served())
        .chain(
            [
                "sizes",
                "startup",
                "quick",
                "mcr.microsoft.com/dotnet/runtime-deps:10.0",
                "r2r/base:bookworm-slim",
                "Quick",
                "10.0",
            ]
            .map(String::from),
        )
        .collect();
    prop_oneof![
        6 => select(known),
        1 => Just(String::new()),
        1 => "\\PC{0,24}",
        1 => "[a-zA-Z0-9:/@._ -]{0,40}",
        1 => "[ -~]{0,30}",
        1 => (1usize..20_000).prop_map(|n| "a".repeat(n)),
        1 => any::<String>(),
    ]
}

/// One TOML value, as text: strings, numbers (huge, negative, non-finite), booleans, dates,
/// arrays, inline tables and deeply nested arrays.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        6 => plausible_name().prop_map(|s| toml_string(&s)),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => "-?[1-9][0-9]{18,40}",
        1 => select(vec!["inf", "-inf", "nan", "1e400", "-0.0", "3.14", "0x7fffffff", "-9223372036854775808"]).prop_map(String::from),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        1 => Just("1979-05-27T07:32:00Z".to_string()),
        1 => (1usize..400).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        1 => "'[^'\n]{0,20}'",
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            proptest::collection::vec((key(), inner), 0..4).prop_map(|pairs| {
                let fields: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{} = {v}", render_key(k)))
                    .collect();
                format!("{{ {} }}", fields.join(", "))
            }),
        ]
    })
}

/// A TOML array of strings.
fn string_array(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_string(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A value the key accepts, made from what the catalog has.
fn good_value(key: &'static str) -> BoxedStrategy<String> {
    let catalog = catalog();
    let some_of = |names: Vec<String>| {
        let count = names.len();
        proptest::sample::subsequence(names, 1..=count)
            .prop_shuffle()
            .prop_map(|items| string_array(&items))
            .boxed()
    };
    match key {
        "dotnet" => select(served()).prop_map(|v| toml_string(&v)).boxed(),
        "base" => select(
            catalog
                .bases
                .keys()
                .cloned()
                .chain(["mcr.microsoft.com/dotnet/runtime-deps:10.0".to_string()])
                .collect::<Vec<_>>(),
        )
        .prop_map(|v| toml_string(&v))
        .boxed(),
        "apps" => some_of(catalog.apps.keys().cloned().collect()),
        "variants" => some_of(catalog.variants.keys().cloned().collect()),
        "measure" => some_of(vec!["sizes".into(), "startup".into()]),
        "sdk" => any::<bool>().prop_map(|b| b.to_string()).boxed(),
        "name" => "[a-z0-9]{1,10}([.-][a-z0-9]{1,10}){0,3}"
            .prop_map(|v| toml_string(&v))
            .boxed(),
        _ => plausible_name().prop_map(|v| toml_string(&v)).boxed(),
    }
}

/// A value for a key: mostly one it accepts, else a near miss or anything at all.
fn value_for(key: &'static str) -> BoxedStrategy<String> {
    let near_miss: BoxedStrategy<String> = match key {
        "apps" | "variants" | "measure" => proptest::collection::vec(plausible_name(), 0..7)
            .prop_map(|items| string_array(&items))
            .boxed(),
        _ => plausible_name().prop_map(|s| toml_string(&s)).boxed(),
    };
    prop_oneof![12 => good_value(key), 2 => near_miss, 1 => value()].boxed()
}

/// A whole document: each scenario key most of the time, sometimes unknown or repeated keys
/// and tables (repeated, too).
fn document() -> impl Strategy<Value = String> {
    let known: Vec<BoxedStrategy<Option<String>>> = SCENARIO_KEYS
        .iter()
        .map(|key| {
            let present = if matches!(*key, "name" | "description" | "sdk" | "measure") {
                0.5
            } else {
                0.93
            };
            proptest::option::weighted(
                present,
                value_for(key).prop_map(move |v| format!("{key} = {v}")),
            )
            .boxed()
        })
        .collect();
    let extra_key = || prop_oneof![1 => key(), 3 => "[a-z_-]{1,12}"];
    let extra_line =
        move || (extra_key(), value()).prop_map(|(k, v)| format!("{} = {v}", render_key(&k)));
    let table = (
        extra_key(),
        proptest::collection::vec(extra_line(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, lines, repeated, array): (String, Vec<String>, bool, bool)| {
                let header = if array {
                    format!("[[{}]]", render_key(&name))
                } else {
                    format!("[{}]", render_key(&name))
                };
                let section = format!("{header}\n{}", lines.join("\n"));
                if repeated {
                    format!("{section}\n{section}")
                } else {
                    section
                }
            },
        );
    let extras =
        prop_oneof![4 => Just(Vec::new()), 1 => proptest::collection::vec(extra_line(), 1..3)];
    let tables = prop_oneof![5 => Just(Vec::new()), 1 => proptest::collection::vec(table, 1..3)];
    (known, extras, tables, any::<bool>()).prop_map(|(known, extra, tables, comments)| {
        let mut lines: Vec<String> = known.into_iter().flatten().collect();
        lines.extend(extra);
        if comments {
            lines.insert(0, "# a scenario written by a property test".to_string());
        }
        lines.extend(tables);
        lines.join("\n") + "\n"
    })
}

/// One edit of a file. Positions are taken modulo the number of lines (or bytes) there are.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapValues(usize, usize),
    ReplaceValue(usize, String),
    Insert(usize, String),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
        (any::<usize>(), value()).prop_map(|(at, value)| Mutation::ReplaceValue(at, value)),
        (
            any::<usize>(),
            prop_oneof![
                "[ -~]{1,12}",
                "\\PC{1,4}",
                Just("\n".to_string()),
                Just("[".to_string()),
                Just("\"".to_string())
            ]
        )
            .prop_map(|(at, text)| Mutation::Insert(at, text)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Applies an edit; line edits keep the lines' endings.
fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let assignments: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains('='))
        .collect();
    match mutation {
        Mutation::DeleteLine(at) => {
            lines.remove(at % lines.len());
        }
        Mutation::DuplicateLine(at) => {
            let line = lines[at % lines.len()].clone();
            lines.insert(at % lines.len(), line);
        }
        Mutation::SwapValues(a, b) if !assignments.is_empty() => {
            let (a, b) = (
                assignments[a % assignments.len()],
                assignments[b % assignments.len()],
            );
            let split = |line: &str| {
                let (key, value) = line.split_once('=').unwrap();
                (key.to_string(), value.to_string())
            };
            let ((key_a, value_a), (key_b, value_b)) = (split(&lines[a]), split(&lines[b]));
            lines[a] = format!("{key_a}={value_b}");
            lines[b] = format!("{key_b}={value_a}");
            for index in [a, b] {
                if !lines[index].ends_with('\n') {
                    lines[index].push('\n');
                }
            }
        }
        Mutation::ReplaceValue(at, value) if !assignments.is_empty() => {
            let index = assignments[at % assignments.len()];
            let key = lines[index].split_once('=').unwrap().0.to_string();
            lines[index] = format!("{key}= {value}\n");
        }
        Mutation::Insert(at, inserted) => {
            let mut bytes = lines.concat().into_bytes();
            let position = at % (bytes.len() + 1);
            bytes.splice(position..position, inserted.bytes());
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Truncate(at) => {
            let bytes = lines.concat().into_bytes();
            return String::from_utf8_lossy(&bytes[..at % (bytes.len() + 1)]).into_owned();
        }
        Mutation::SwapValues(..) | Mutation::ReplaceValue(..) => {}
    }
    lines.concat()
}

fn scenario_struct() -> impl Strategy<Value = Scenario> {
    let base = prop_oneof![
        3 => select(catalog().bases.keys().cloned().collect::<Vec<_>>()).prop_map(|name| {
            let local = &catalog().bases[&name];
            Base::Local { name, image: local.image.clone(), script_args: local.script_args.clone(), icu: local.icu, platform: Default::default() }
        }),
        1 => plausible_name().prop_map(|image| Base::Reference { image }),
    ];
    (
        plausible_name(),
        prop_oneof![3 => select(served()), 1 => plausible_name()],
        base,
        proptest::collection::vec(plausible_name(), 0..4),
        proptest::collection::vec(plausible_name(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(name, dotnet, base, apps, variants, sdk)| Scenario {
            name,
            path: PathBuf::from("scenarios/built-in-memory.toml"),
            description: String::new(),
            dotnet,
            dotnet_request: String::new(),
            base,
            apps,
            own_apps: Default::default(),
            variants,
            sdk,
            measure: Vec::new(),
            recipes: vec!["full".to_string()],
            own_recipes: Default::default(),
            recipe_files: Vec::new(),
            platforms: vec![r2r_core::model::platform::Platform::default()],
            startup: Default::default(),
            content_hash: String::new(),
        })
}

// --- properties --------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    /// Any bytes at all (read leniently as text): no panic, a located error or a valid plan.
    #[test]
    fn parse_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        check_scenario_text(Path::new("scenarios/bytes.toml"), &text, catalog())?;
    }

    /// Any string, control characters and all.
    #[test]
    fn parse_takes_any_string(text in any::<String>()) {
        check_scenario_text(Path::new("scenarios/text.toml"), &text, catalog())?;
    }

    /// TOML documents made of the scenario keys (and others) with values of any type and size.
    #[test]
    fn parse_takes_generated_documents(text in document()) {
        check_scenario_text(Path::new("scenarios/generated.toml"), &text, catalog())?;
    }

    /// The repository's scenarios with lines deleted, duplicated, values swapped or replaced,
    /// text inserted, or cut at any byte.
    #[test]
    fn parse_takes_mutated_repository_scenarios(
        file in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (path, original) = &real_scenarios()[file.index(real_scenarios().len())];
        let text = mutations.iter().fold(original.clone(), |text, mutation| apply(&text, mutation));
        check_scenario_text(path, &text, catalog())?;
    }

    /// The expander on scenarios that never went through the parser: an error names the file
    /// and the key, never a panic; a plan has valid names only.
    #[test]
    fn expand_takes_any_scenario(scenario in scenario_struct()) {
        match plan::try_expand(&scenario, catalog()) {
            Ok(plan) => assert_engine_names(&plan)?,
            Err(error) => {
                let shown = error.to_string();
                match &error {
                    PlanError::Scenario { path, key, index, .. } => {
                        prop_assert_eq!(path, &scenario.path);
                        prop_assert!(["name", "dotnet", "base", "apps", "variants"].contains(key), "{}", shown);
                        prop_assert!(shown.starts_with(&format!("{}: `{key}`: ", path.display())), "{}", shown);
                        if let Some(index) = index {
                            let length = if *key == "apps" { scenario.apps.len() } else { scenario.variants.len() };
                            prop_assert!(*index < length, "{}", shown);
                        }
                    }
                    PlanError::Catalog { .. } => prop_assert!(false, "the repository's catalog is consistent: {}", shown),
                }
                prop_assert!(!shown.chars().any(|c| c.is_control()), "{:?}", shown);
            }
        }
    }

    /// Image references: whatever the input, the check answers; what passes has only the
    /// characters of the grammar and a repository name of at most 255 characters.
    #[test]
    fn reference_check_takes_any_string(text in prop_oneof!["[a-zA-Z0-9:/@._-]{0,80}", any::<String>()]) {
        if names::check_reference(&text).is_ok() {
            prop_assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || ":/@._-".contains(c)), "{}", text);
            let name = text.split('@').next().unwrap();
            let name = match name.rfind(':') {
                Some(colon) if name.rfind('/').is_none_or(|slash| colon > slash) => &name[..colon],
                _ => name,
            };
            prop_assert!(!name.is_empty() && name.len() <= 255, "{}", text);
            prop_assert!(!text.starts_with(['-', '.', '/', ':', '@']), "{}", text);
        }
    }

    /// References made by the grammar pass.
    #[test]
    fn references_of_the_grammar_pass(
        host in proptest::option::of(("[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,5}){1,3}", proptest::option::of(1u32..65536))),
        path in proptest::collection::vec("[a-z0-9]{1,6}(([._]|__|-{1,3})[a-z0-9]{1,6}){0,3}", 1..4),
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"),
        digest in proptest::option::of("[0-9a-f]{64}"),
    ) {
        let mut reference = String::new();
        if let Some((host, port)) = &host {
            reference.push_str(host);
            if let Some(port) = port {
                reference.push_str(&format!(":{port}"));
            }
            reference.push('/');
        }
        // Without a host, a first component with a '.' would be taken for one (as Docker does).
        let mut path = path;
        if host.is_none() && path.len() > 1 {
            path[0] = path[0].replace('.', "_");
        }
        reference.push_str(&path.join("/"));
        if let Some(tag) = &tag {
            reference.push_str(&format!(":{tag}"));
        }
        if let Some(digest) = &digest {
            reference.push_str(&format!("@sha256:{digest}"));
        }
        let name_length = reference.split(['@']).next().unwrap().len() - tag.as_ref().map_or(0, |t| t.len() + 1);
        prop_assume!(name_length <= 255);
        prop_assert_eq!(names::check_reference(&reference), Ok(()), "{}", reference);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: FILE_CASES, ..ProptestConfig::default() })]

    /// `load` reads files of any bytes: text that is not UTF-8 is an error naming the file.
    #[test]
    fn load_takes_any_file(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("any.toml");
        std::fs::write(&path, &bytes).unwrap();
        match plan::load(&path, catalog()).map(|plan| plan.scenario) {
            Ok(scenario) => prop_assert!(plan::try_expand(&scenario, catalog()).is_ok()),
            Err(scenario::ScenarioError::Invalid(error)) => assert_located(&error, &path, std::str::from_utf8(&bytes).ok())?,
            Err(error) => {
                prop_assert!(std::str::from_utf8(&bytes).is_err(), "{}", error);
                prop_assert!(error.to_string().contains(&path.display().to_string()), "{}", error);
            }
        }
    }

    /// The catalog files (variants, apps, .NET versions and bases) mutated the same ways: the
    /// catalog loads or names the file and line; when it loads, the repository's scenarios
    /// parse and expand or fail with a located error, never a panic or an endless loop.
    #[test]
    fn catalog_takes_mutated_files(
        file in 0usize..3,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let experiments = root().join("experiments");
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(copy.path().join("apps")).unwrap();
        let files = ["variants.toml", "apps/apps.toml", "dotnet.toml"];
        let mut texts = Vec::new();
        for (index, name) in files.iter().enumerate() {
            let text = std::fs::read_to_string(experiments.join(name)).unwrap();
            let text = if index == file { mutations.iter().fold(text, |text, mutation| apply(&text, mutation)) } else { text };
            std::fs::write(copy.path().join(name), &text).unwrap();
            texts.push((copy.path().join(name), text));
        }
        match Catalog::load(copy.path()).map(|catalog| catalog.with_versions(fixed_versions())) {
            Err(r2r_core::model::catalog::CatalogError::Invalid(error)) => {
                // The mutated file, or another that refers to what the mutation removed.
                let place = texts.iter().find(|(path, _)| *path == error.path);
                prop_assert!(place.is_some(), "the error names a catalog file: {}", error);
                let (path, text) = place.unwrap();
                assert_located(&error, path, Some(text))?;
            }
            Err(error) => prop_assert!(false, "only the mutated file's content can be wrong: {}", error),
            Ok(mutated) => {
                for (path, text) in real_scenarios() {
                    check_scenario_text(path, text, &mutated)?;
                }
            }
        }
    }
}

// --- examples ----------------------------------------------------------------------------

/// The document strategy reaches the expander: a fair share of its documents are scenarios
/// that parse (otherwise the properties above would test the TOML parser only).
#[test]
fn generated_documents_often_parse() {
    let mut runner = TestRunner::deterministic();
    let strategy = document();
    let mut parsed = 0;
    for _ in 0..300 {
        let text = strategy.new_tree(&mut runner).unwrap().current();
        if checked_parse(Path::new("scenarios/generated.toml"), &text, catalog()).is_ok() {
            parsed += 1;
        }
    }
    assert!(
        parsed >= 30,
        "only {parsed} of 300 generated documents parse"
    );
}

/// The mutation strategy keeps some files valid and breaks others.
#[test]
fn mutations_change_files() {
    let (path, text) = &real_scenarios()[0];
    assert_eq!(apply(text, &Mutation::Truncate(0)), "");
    assert_eq!(apply("ab", &Mutation::Truncate(1)), "a");
    let deleted = apply("a = 1\nb = 2\n", &Mutation::DeleteLine(2));
    assert_eq!(deleted, "b = 2\n");
    assert_eq!(
        apply("a = 1\n", &Mutation::DuplicateLine(0)),
        "a = 1\na = 1\n"
    );
    let swapped = apply("a = 1\nb = \"x\"\n", &Mutation::SwapValues(0, 1));
    assert_eq!(swapped, "a = \"x\"\nb = 1\n");
    assert!(checked_parse(path, text, catalog()).is_ok());
}

fn parse_error(text: &str) -> SourceError {
    checked_parse(Path::new("scenarios/hostile.toml"), text, catalog()).unwrap_err()
}

const GOOD: &str =
    "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\"]\n";

#[test]
fn a_base_reference_outside_the_grammar_is_refused_at_its_line() {
    for base in [
        "evil:latest\nRUN curl x | sh",
        "mcr.microsoft.com/Dotnet/x:1",
        "mcr.microsoft.com/dotnet/runtime-deps:10.0 AS x",
        "x:a b",
        "a//b:1",
        "x@sha256:00",
    ] {
        let error = parse_error(&GOOD.replace("\"slim\"", &toml_string(base)));
        assert_eq!(error.line, Some(2), "{error}");
        let shown = error.to_string();
        assert!(
            shown.starts_with("scenarios/hostile.toml:2:1: base `"),
            "{shown}"
        );
        assert!(
            shown.contains("is not a valid image reference")
                && shown.contains("allowed: [host[:port]/]path[:tag]"),
            "{shown}"
        );
        assert!(!shown.contains('\n'), "{shown}");
    }
    let scenario = checked_parse(
        Path::new("s.toml"),
        &GOOD.replace("\"slim\"", "\"localhost:5000/dotnet/runtime-deps:10.0\""),
        catalog(),
    )
    .unwrap();
    assert_eq!(
        scenario.base,
        Base::Reference {
            image: "localhost:5000/dotnet/runtime-deps:10.0".into()
        }
    );
}

#[test]
fn a_scenario_name_outside_the_grammar_is_refused_at_its_line() {
    for name in [
        "quick-",
        "a..b",
        "Quick",
        "a/b",
        "../x",
        "x y",
        &"a".repeat(65),
    ] {
        let error = parse_error(&format!("# comment\nname = {}\n{GOOD}", toml_string(name)));
        assert_eq!(error.line, Some(2), "{name:?}: {error}");
        assert!(
            error.message.starts_with("scenario name `")
                && error.message.contains("allowed: 1-64 characters"),
            "{error}"
        );
    }
}

#[test]
fn names_from_file_names_are_made_valid() {
    for (file, expected) in [
        ("Quick_.toml", "quick"),
        ("my scenario!.toml", "my-scenario"),
        ("a..b.toml", "a-b"),
        ("x.y.toml", "x.y"),
    ] {
        let scenario = checked_parse(Path::new(file), GOOD, catalog()).unwrap();
        assert_eq!(scenario.name, expected);
    }
    let error = parse_error_at("___.toml");
    assert!(
        error
            .to_string()
            .starts_with("___.toml:1:1: the file name gives no usable scenario name; set `name`"),
        "{error}"
    );
}

fn parse_error_at(file: &str) -> SourceError {
    checked_parse(Path::new(file), GOOD, catalog()).unwrap_err()
}

#[test]
fn a_malformed_dotnet_version_is_refused_before_the_catalog_is_asked() {
    let error = parse_error(&GOOD.replace("10.0.12", "10.0.12\\\"/><Exec Command=\\\"id"));
    assert_eq!(error.line, Some(1));
    assert!(
        error.message.contains("is not a valid .NET version")
            && error.message.contains("MAJOR.MINOR.PATCH"),
        "{error}"
    );
}

#[test]
fn hostile_values_are_shown_escaped_and_cut() {
    let error = parse_error(&GOOD.replace(
        "\"no-composite\"",
        &toml_string(&format!("\u{1b}[2J{}", "x".repeat(5000))),
    ));
    assert_eq!(error.line, Some(4));
    assert!(
        !error.message.contains('\u{1b}') && error.message.len() < 2000,
        "{error}"
    );
}

#[test]
fn hostile_values_in_parser_messages_are_shown_escaped_and_cut() {
    let error = parse_error(&format!(
        "{GOOD}measure = [{}]\n",
        toml_string(&format!("\u{1b}[2J{}", "x".repeat(5000)))
    ));
    assert_eq!(error.line, Some(5));
    assert!(
        error.message.starts_with("unknown variant `\\u{1b}[2Jxxx"),
        "{error}"
    );
    assert!(
        error.message.contains(
            "(4924 more characters)`, expected one of `sizes`, `startup`, `node`, `load`"
        ),
        "{error}"
    );
    let error = parse_error(&format!("{GOOD}sdk = \"{}\"\n", "y".repeat(5000)));
    assert!(
        error.message.starts_with("invalid type: string \"yyy")
            && error.message.ends_with("yyy\", expected a boolean"),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("yyy ... (4593 characters left out) ... yyy"),
        "{error}"
    );
    let error = parse_error(&format!("{GOOD}\"\\u0007\" = 1\n"));
    assert!(
        error.message.starts_with("unknown field `\\u{7}`"),
        "{error}"
    );
}

#[test]
fn a_tag_too_long_for_the_grammar_is_refused_at_the_variant() {
    // A catalog whose variant and app names are valid alone but make a tag over 128 characters.
    let experiments = root().join("experiments");
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(copy.path().join("apps")).unwrap();
    let long_variant = format!("v{}", "x".repeat(63));
    let long_app = format!("a{}", "y".repeat(63));
    let variants = std::fs::read_to_string(experiments.join("variants.toml"))
        .unwrap()
        .replace(
            "[variants.no-composite]",
            &format!("[variants.{long_variant}]"),
        );
    let apps = std::fs::read_to_string(experiments.join("apps/apps.toml"))
        .unwrap()
        .replace("[apps.console]", &format!("[apps.{long_app}]"));
    std::fs::write(copy.path().join("variants.toml"), variants).unwrap();
    std::fs::write(copy.path().join("apps/apps.toml"), apps).unwrap();
    std::fs::copy(
        experiments.join("dotnet.toml"),
        copy.path().join("dotnet.toml"),
    )
    .unwrap();
    let catalog = Catalog::load(copy.path())
        .unwrap()
        .with_versions(fixed_versions());
    assert_eq!(catalog.apps[&long_app].kind, AppKind::Console);
    let text = format!("dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"{long_app}\"]\nvariants = [\"runtime-composite\",\n  \"{long_variant}\"]\n");
    let error = checked_parse(Path::new("s.toml"), &text, &catalog).unwrap_err();
    assert_eq!(error.line, Some(5), "{error}");
    assert!(
        error.message.contains(&format!(
            "the tag of the {long_app} image of variant `{long_variant}`"
        )),
        "{error}"
    );
    assert!(
        error.message.contains("the tag is 129 characters long"),
        "{error}"
    );
}

#[test]
fn catalog_names_are_checked_at_their_lines() {
    let experiments = root().join("experiments");
    let load_with = |file: &str, edit: &dyn Fn(String) -> String| {
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(copy.path().join("apps")).unwrap();
        for name in ["variants.toml", "apps/apps.toml", "dotnet.toml"] {
            let text = std::fs::read_to_string(experiments.join(name)).unwrap();
            std::fs::write(
                copy.path().join(name),
                if name == file { edit(text) } else { text },
            )
            .unwrap();
        }
        let error = Catalog::load(copy.path()).unwrap_err().to_string();
        error.replace(&copy.path().display().to_string(), "experiments")
    };
    let line_of = |file: &str, needle: &str| {
        let text = std::fs::read_to_string(experiments.join(file)).unwrap();
        text.lines().position(|line| line.contains(needle)).unwrap() + 1
    };

    let error = load_with("dotnet.toml", &|t| {
        t.replace(
            "image = \"r2r/base:bookworm-slim\"",
            "image = \"r2r/base:bookworm-slim\\nRUN id\"",
        )
    });
    let line = line_of("dotnet.toml", "image = \"r2r/base:bookworm-slim\"");
    assert!(
        error.starts_with(&format!("experiments/dotnet.toml:{line}:")),
        "{error}"
    );
    assert!(
        error.contains(
            "base `slim`: image `r2r/base:bookworm-slim\\nRUN id` is not a valid image reference"
        ),
        "{error}"
    );

    let error = load_with("dotnet.toml", &|t| {
        t.replace(
            "script-args = [\"slim\"]",
            "script-args = [\"slim; reboot\"]",
        )
    });
    assert!(
        error.contains("base `slim`: script-args `slim; reboot` is not a valid script argument"),
        "{error}"
    );

    let error = load_with("dotnet.toml", &|t| {
        t.replace("[bases.slim]", "[bases.\"../slim\"]")
    });
    assert!(
        error.starts_with(&format!(
            "experiments/dotnet.toml:{}:",
            line_of("dotnet.toml", "[bases.slim]")
        )),
        "{error}"
    );
    assert!(
        error.contains("base `../slim` is not a valid name"),
        "{error}"
    );

    let error = load_with("variants.toml", &|t| {
        t.replace(
            "properties = { PublishAot = \"true\" }",
            "properties = { PublishAot = \"true;Evil=1\" }",
        )
    });
    assert!(
        error.starts_with(&format!(
            "experiments/variants.toml:{}:",
            line_of("variants.toml", "PublishAot")
        )),
        "{error}"
    );
    assert!(error.contains("publish profile `native-aot`: property `true;Evil=1` is not a valid MSBuild property value"), "{error}");

    let error = load_with("variants.toml", &|t| {
        t.replace(
            "[variants.runtime-composite]",
            "[variants.\"Runtime Composite\"]",
        )
    });
    assert!(
        error.starts_with(&format!(
            "experiments/variants.toml:{}:",
            line_of("variants.toml", "[variants.runtime-composite]")
        )),
        "{error}"
    );

    let error = load_with("apps/apps.toml", &|t| {
        t.replace(
            "assembly = \"ConsoleApp\"",
            "assembly = \"ConsoleApp\\\"]\"",
        )
    });
    assert!(error.contains("app `console`: assembly"), "{error}");
    let error = load_with("apps/apps.toml", &|t| {
        t.replace("console/ConsoleApp.csproj", "../../etc/x.csproj")
    });
    assert!(error.contains("app `console`: project"), "{error}");

    // Images that stand on each other, and a variant redefining runtime-deps, are refused
    // (the expander would otherwise never finish ordering them).
    let error = load_with("variants.toml", &|t| {
        t.replacen(
            "images.runtime = { parent = \"runtime-deps\", frameworks = [\"runtime\"] }",
            "images.runtime = { parent = \"aspnet\", frameworks = [\"runtime\"] }",
            1,
        )
    });
    assert!(
        error.starts_with(&format!(
            "experiments/variants.toml:{}:",
            line_of("variants.toml", "[variants.no-composite]")
        )),
        "{error}"
    );
    assert!(
        error.contains(
            "variant `no-composite`: image `runtime` stands on itself through its parents"
        ),
        "{error}"
    );
    let error = load_with("variants.toml", &|t| {
        t.replacen("apps.console = { on = \"runtime\" }", "images.runtime-deps = { parent = \"runtime\", frameworks = [] }\napps.console = { on = \"runtime\" }", 1)
    });
    assert!(
        error.contains("`images.runtime-deps` is the base of every variant"),
        "{error}"
    );
}

#[test]
fn the_expander_reports_what_a_hand_made_catalog_lacks() {
    let mut broken = catalog().clone();
    broken
        .variants
        .get_mut("no-composite")
        .unwrap()
        .images
        .get_mut(&r2r_core::model::catalog::ImageRole::Runtime)
        .unwrap()
        .parent = r2r_core::model::catalog::ImageRole::Aspnet;
    let scenario = checked_parse(Path::new("s.toml"), GOOD, catalog()).unwrap();
    let error = plan::try_expand(&scenario, &broken)
        .unwrap_err()
        .to_string();
    assert!(error.ends_with("variants.toml: variant `no-composite`: images runtime, aspnet stand on images the variant does not define, or on each other"), "{error}");
    let mut unknown = scenario.clone();
    unknown.variants.push("turbo".into());
    let error = plan::try_expand(&unknown, catalog()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "s.toml: `variants`: unknown variant `turbo`"
    );
}

/// The scripts take their arguments as data: a hostile argument is refused before anything
/// runs, and nothing in it is executed.
#[test]
fn scripts_refuse_hostile_arguments_without_running_them() {
    let script = root().join("scripts/bootstrap-base.sh");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    for arguments in [
        vec![
            format!("slim; touch {}", marker.display()),
            "out.tar".to_string(),
        ],
        vec![
            format!("$(touch {})", marker.display()),
            "out.tar".to_string(),
        ],
        vec![
            "slim".to_string(),
            format!("`touch {}`", marker.display()),
            "extra".to_string(),
        ],
        vec![
            format!("--icu=$(touch {})", marker.display()),
            "slim".to_string(),
            "out.tar".to_string(),
        ],
    ] {
        let output = std::process::Command::new("bash")
            .arg(&script)
            .args(&arguments)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("usage:"),
            "{arguments:?}"
        );
        assert!(!marker.exists(), "{arguments:?} ran a command");
    }
    // bench-startup.sh hands its image to hyperfine, which runs it through a shell: it takes
    // only the characters of an image reference (checked before it builds or runs anything).
    let script = root().join("scripts/bench-startup.sh");
    for arguments in [
        vec![format!("r2r/quick:x;touch {}", marker.display())],
        vec!["r2r/quick:x".to_string(), "3;id".to_string()],
    ] {
        let output = std::process::Command::new("bash")
            .arg(&script)
            .args(&arguments)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(2),
            "{arguments:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!marker.exists(), "{arguments:?} ran a command");
    }
}
