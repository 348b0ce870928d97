//! Composite recipes: how the framework composite of an image is compiled.
//!
//! Read from `experiments/recipes.toml` and the assembly lists beside it in
//! `experiments/recipes/`: which assemblies are roots (every method compiled), which are
//! unrooted inputs (`-u`: compiled only where the roots reach them), which stay out of the
//! composite and keep their shipped ReadyToRun code (`-r`), and crossgen2's flags. The recipe
//! `full` is the original one (every assembly a root, `--inputbubble -O`) and the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::framework::Framework;
use crate::model::names;
use crate::model::toml_source::{self, SourceError, Step};

/// The recipe every scenario uses unless it sets `recipes`; results of this recipe carry no
/// recipe suffix, so they stay comparable with runs from before recipes existed.
pub const DEFAULT_RECIPE: &str = "full";

/// crossgen2's optimisation switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Optimize {
    /// `-O`: optimise (blended).
    #[serde(rename = "O")]
    Blended,
    /// `--Os`: optimise for code size.
    #[serde(rename = "Os")]
    Size,
    /// No switch: crossgen2's default (no optimisation).
    None,
}

impl Optimize {
    /// The command-line switch, if any.
    pub fn switch(self) -> Option<&'static str> {
        match self {
            Optimize::Blended => Some("-O"),
            Optimize::Size => Some("--Os"),
            Optimize::None => None,
        }
    }

    /// How the recipe table shows it: `-O`, `--Os`, `none`.
    pub fn word(self) -> &'static str {
        self.switch().unwrap_or("none")
    }
}

/// A recipe as `recipes.toml` writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RecipeEntry {
    summary: String,
    source: String,
    #[serde(default)]
    roots: Option<String>,
    #[serde(default)]
    references: Option<String>,
    #[serde(default)]
    recording: Option<String>,
    #[serde(default)]
    apps: Vec<String>,
    #[serde(default)]
    reference_frameworks: Vec<Framework>,
    optimize: Optimize,
    #[serde(default)]
    inputbubble: bool,
    #[serde(default)]
    instruction_set: Option<String>,
    #[serde(default)]
    mibc: bool,
    #[serde(default)]
    sdk_profile: bool,
    #[serde(default)]
    partial: bool,
    #[serde(default)]
    embed_pgo_data: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipesFile {
    recipes: BTreeMap<String, RecipeEntry>,
}

/// One assembly named by a recipe's list, with where it is named.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ListedAssembly {
    /// The assembly's simple name (file name without `.dll`).
    pub name: String,
    /// `file:line` of the list entry.
    pub at: String,
}

/// How one composite is compiled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Recipe {
    /// The recipe's name (`full`, `official-net8`, ...).
    pub name: String,
    /// One line on what it is.
    pub summary: String,
    /// Where it comes from (the public source it follows).
    pub source: String,
    /// The roots (every method compiled); `None`: every input is a root.
    pub roots: Option<Vec<ListedAssembly>>,
    /// Assemblies left out of the composite, passed with `-r`: they keep their shipped code.
    pub references: Vec<ListedAssembly>,
    /// What the app this recipe is tuned for loaded (`recording`: a list `r2r tune` wrote,
    /// [`crate::model::recording`]); `verify` proves the roots are exactly these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Vec<ListedAssembly>>,
    /// The apps the recipe is made for (`apps`): only their images are built with it.
    /// Empty: every app of the scenario.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<String>,
    /// Frameworks whose every assembly is left out (`-r`) and keeps its shipped code.
    pub reference_frameworks: Vec<Framework>,
    /// Optimisation switch.
    pub optimize: Optimize,
    /// `--inputbubble`: all inputs form one version bubble.
    pub inputbubble: bool,
    /// `--instruction-set:<value>`, if any.
    pub instruction_set: Option<String>,
    /// `-m:<runtime pack>/tools/StandardOptimizationData.mibc`.
    pub mibc: bool,
    /// The runtime pack's profile only where the pack's `data/RuntimeList.xml` lists it as
    /// `PgoData`, as the SDK adds it by default (`PublishReadyToRunUseRuntimePackOptimizationData`);
    /// no profile where the pack lists none.
    #[serde(default)]
    pub sdk_profile: bool,
    /// `--partial`: compile only the methods the profile names.
    pub partial: bool,
    /// `--embed-pgo-data`: keep the profile's instrumentation data in the output.
    pub embed_pgo_data: bool,
}

/// The name of the profile file in the runtime pack's `tools/`.
pub const MIBC_FILE: &str = "StandardOptimizationData.mibc";

impl Recipe {
    /// The frameworks of `include` this recipe compiles into the composite: those it does not
    /// leave as shipped. Empty: the image carries its frameworks as shipped.
    pub fn compiled_frameworks(&self, include: &[Framework]) -> Vec<Framework> {
        include
            .iter()
            .copied()
            .filter(|framework| !self.reference_frameworks.contains(framework))
            .collect()
    }

    /// Whether this is the default recipe (no suffix in names, no key change in caches).
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_RECIPE
    }

    /// Whether the scenario's app `app` is built with this recipe.
    pub fn serves(&self, app: &str) -> bool {
        self.apps.is_empty() || self.apps.iter().any(|name| name == app)
    }

    /// Whether an assembly (simple name) is a root.
    pub fn is_root(&self, assembly: &str) -> bool {
        match &self.roots {
            None => !self.is_reference(assembly),
            Some(roots) => roots.iter().any(|root| root.name == assembly),
        }
    }

    /// Whether an assembly (simple name) is left out with `-r`.
    pub fn is_reference(&self, assembly: &str) -> bool {
        self.references.iter().any(|entry| entry.name == assembly)
    }

    /// The crossgen2 switches of the recipe, apart from inputs and references (`--composite`
    /// first). `mibc` is the profile's path when the recipe uses one.
    pub fn switches(&self, mibc: Option<&Path>) -> Vec<String> {
        let mut switches = vec!["--composite".to_string()];
        if self.inputbubble {
            switches.push("--inputbubble".into());
        }
        if let Some(switch) = self.optimize.switch() {
            switches.push(switch.into());
        }
        if let Some(set) = &self.instruction_set {
            switches.push(format!("--instruction-set:{set}"));
        }
        if let Some(mibc) = mibc {
            switches.push(format!("-m:{}", mibc.display()));
        }
        if self.partial {
            switches.push("--partial".into());
        }
        if self.embed_pgo_data {
            switches.push("--embed-pgo-data".into());
        }
        switches
    }

    /// The option names the recipe passes (for checking them against a crossgen2's help).
    pub fn option_names(&self) -> Vec<&'static str> {
        let mut options = vec!["--composite", "--targetos", "--targetarch", "--out"];
        if self.inputbubble {
            options.push("--inputbubble");
        }
        if self.optimize == Optimize::Size {
            options.push("--Os");
        }
        if self.instruction_set.is_some() {
            options.push("--instruction-set");
        }
        if self.mibc || self.sdk_profile {
            options.push("--mibc");
        }
        if self.partial {
            options.push("--partial");
        }
        if self.embed_pgo_data {
            options.push("--embed-pgo-data");
        }
        if self.roots.is_some() {
            options.push("--unrooted-input-file-paths");
        }
        options
    }

    /// A one-line description of the flags, for tables: `-O, --inputbubble, ...`.
    pub fn flags_text(&self) -> String {
        let mut flags = vec![self.optimize.word().to_string()];
        if self.inputbubble {
            flags.push("--inputbubble".into());
        }
        if let Some(set) = &self.instruction_set {
            flags.push(format!("--instruction-set:{set}"));
        }
        if self.mibc {
            flags.push(format!("-m:{MIBC_FILE}"));
        }
        if self.sdk_profile {
            flags.push("-m: the runtime pack's listed profile, if any (as the SDK)".into());
        }
        if self.partial {
            flags.push("--partial".into());
        }
        if self.embed_pgo_data {
            flags.push("--embed-pgo-data".into());
        }
        flags.join(", ")
    }
}

/// Errors reading the recipes.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A recipe or list is malformed (with file and line).
    #[error(transparent)]
    Invalid(#[from] SourceError),
}

fn read(path: &Path) -> Result<String, RecipeError> {
    std::fs::read_to_string(path).map_err(|source| RecipeError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads an assembly list: one simple assembly name a line; `#` starts a comment.
/// `shown` is the list's path relative to `experiments/`, as entries name it (so that where
/// the project lies does not change a recipe or the cache keys made from it).
fn read_list(path: &Path, shown: &str) -> Result<Vec<ListedAssembly>, RecipeError> {
    let text = read(path)?;
    let mut entries: Vec<ListedAssembly> = Vec::new();
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        let start = offset + line.find(content).unwrap_or(0);
        let here = |message: String| SourceError::at_offset(path, &text, start, message);
        offset += line.len();
        if content.is_empty() {
            continue;
        }
        let name = content.strip_suffix(".dll").unwrap_or(content);
        names::check_file_name(name).map_err(|error| here(format!("assembly {error}")))?;
        if entries.iter().any(|entry| entry.name == name) {
            return Err(here(format!("`{name}` is listed twice")).into());
        }
        entries.push(ListedAssembly {
            name: name.to_string(),
            at: format!("{shown}:{}", index + 1),
        });
    }
    Ok(entries)
}

/// Reads `recipes.toml` and its lists from an `experiments/` directory; without the file,
/// only the default recipe exists.
pub fn load(experiments: &Path) -> Result<BTreeMap<String, Recipe>, RecipeError> {
    let path = experiments.join("recipes.toml");
    if !path.exists() {
        let recipe = full(
            "Every framework assembly a root, one version bubble, optimised",
            "r2r's original composite",
        );
        return Ok(BTreeMap::from([(DEFAULT_RECIPE.to_string(), recipe)]));
    }
    let recipes = parse_file(&path, &experiments.join("recipes"), "recipes/")?;
    if !recipes.contains_key(DEFAULT_RECIPE) {
        return Err(SourceError::whole_file(
            &path,
            format!("the default recipe `{DEFAULT_RECIPE}` is missing"),
        )
        .into());
    }
    Ok(recipes)
}

/// Reads a recipes file of a scenario's own (`recipe-files`, such as the one `r2r tune`
/// writes): the format of `experiments/recipes.toml`, with its lists beside it. Entries name
/// their lists by file name alone, so a directory of recipes can be moved whole.
pub fn load_file(path: &Path) -> Result<BTreeMap<String, Recipe>, RecipeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    parse_file(path, dir, "")
}

/// Reads the recipes of `path`, whose lists are in `lists` and are named `<shown><file>` in
/// the entries' `at`.
fn parse_file(
    path: &Path,
    lists: &Path,
    shown: &str,
) -> Result<BTreeMap<String, Recipe>, RecipeError> {
    let text = read(path)?;
    let file: RecipesFile = toml_source::parse(path, &text)?;
    let at = |recipe: &str, key: Option<&str>, message: String| {
        let mut steps = vec![Step::Key("recipes"), Step::Key(recipe)];
        if let Some(key) = key {
            steps.push(Step::Key(key));
        }
        let offset = toml_source::locate(&text, &steps).unwrap_or(0);
        SourceError::at_offset(path, &text, offset, message)
    };
    let mut recipes = BTreeMap::new();
    for (name, entry) in file.recipes {
        names::check_name(&name).map_err(|error| at(&name, None, format!("recipe {error}")))?;
        let list = |key: &str, file: &Option<String>| -> Result<_, RecipeError> {
            let Some(file) = file else {
                return Ok(None);
            };
            names::check_relative_path(file)
                .map_err(|error| at(&name, Some(key), format!("`{key}`: {error}")))?;
            let list_path = lists.join(file);
            if !list_path.is_file() {
                return Err(at(
                    &name,
                    Some(key),
                    format!("`{key}`: no list at {}", list_path.display()),
                )
                .into());
            }
            Ok(Some(read_list(&list_path, &format!("{shown}{file}"))?))
        };
        let roots = list("roots", &entry.roots)?;
        let references = list("references", &entry.references)?.unwrap_or_default();
        let recorded = list("recording", &entry.recording)?;
        if let Some(roots) = &roots {
            if let Some(both) = references
                .iter()
                .find(|reference| roots.iter().any(|root| root.name == reference.name))
            {
                return Err(at(
                    &name,
                    Some("references"),
                    format!(
                        "`{}` ({}) is both a root and a reference",
                        both.name, both.at
                    ),
                )
                .into());
            }
        }
        if let Some(set) = &entry.instruction_set {
            let valid = !set.is_empty()
                && set.split(',').all(|part| {
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                });
            if !valid {
                return Err(at(
                    &name,
                    Some("instruction-set"),
                    format!("instruction set `{set}` is not a comma-separated list of names"),
                )
                .into());
            }
        }
        if entry.mibc && entry.sdk_profile {
            return Err(at(
                &name,
                Some("sdk-profile"),
                "give `mibc` (always the profile) or `sdk-profile` (where the pack lists it), not both".to_string(),
            )
            .into());
        }
        if (entry.partial || entry.embed_pgo_data) && !entry.mibc {
            return Err(at(
                &name,
                None,
                "`partial` and `embed-pgo-data` need a profile: set `mibc = true`".to_string(),
            )
            .into());
        }
        let recipe = Recipe {
            name: name.clone(),
            summary: entry.summary,
            source: entry.source,
            roots,
            references,
            recorded,
            apps: entry.apps,
            reference_frameworks: entry.reference_frameworks,
            optimize: entry.optimize,
            inputbubble: entry.inputbubble,
            instruction_set: entry.instruction_set,
            mibc: entry.mibc,
            sdk_profile: entry.sdk_profile,
            partial: entry.partial,
            embed_pgo_data: entry.embed_pgo_data,
        };
        if name == DEFAULT_RECIPE && recipe != full(&recipe.summary, &recipe.source) {
            return Err(at(
                &name,
                None,
                "`full` is the original recipe (every assembly a root, `--inputbubble`, `-O`, nothing else); define a new recipe instead of changing it".to_string(),
            )
            .into());
        }
        recipes.insert(name, recipe);
    }
    Ok(recipes)
}

/// The original recipe with the given texts.
fn full(summary: &str, source: &str) -> Recipe {
    Recipe {
        name: DEFAULT_RECIPE.to_string(),
        summary: summary.to_string(),
        source: source.to_string(),
        roots: None,
        references: Vec::new(),
        recorded: None,
        apps: Vec::new(),
        reference_frameworks: Vec::new(),
        optimize: Optimize::Blended,
        inputbubble: true,
        instruction_set: None,
        mibc: false,
        sdk_profile: false,
        partial: false,
        embed_pgo_data: false,
    }
}

/// What crossgen2's `--help` says it accepts: option names and instruction-set names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Crossgen2Abilities {
    /// Long and short option names (`--composite`, `-m`, ...).
    pub options: Vec<String>,
    /// Instruction sets and CPU group names it lists for `--instruction-set`.
    pub instruction_sets: Vec<String>,
}

impl Crossgen2Abilities {
    /// Reads them from crossgen2's `--help` output.
    pub fn from_help(help: &str) -> Crossgen2Abilities {
        let mut options = Vec::new();
        let mut instruction_sets = Vec::new();
        let mut in_groups = false;
        for line in help.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('-') {
                for word in trimmed.split([' ', ',', '\t']) {
                    if word.starts_with('-') && word.len() > 1 {
                        options.push(word.to_string());
                    } else if !word.is_empty() && !word.starts_with('<') {
                        break;
                    }
                }
                in_groups = false;
                continue;
            }
            let names_after = |text: &str| {
                text.split(',')
                    .map(|part| part.trim().to_string())
                    .filter(|part| !part.is_empty() && !part.contains(' '))
                    .collect::<Vec<_>>()
            };
            if let Some(rest) = trimmed
                .strip_prefix("x64:")
                .or_else(|| trimmed.strip_prefix("x86:"))
            {
                instruction_sets.extend(names_after(rest));
            } else if trimmed.contains("predefined groups of instruction sets") {
                in_groups = true;
            } else if in_groups && !trimmed.is_empty() {
                instruction_sets.extend(names_after(trimmed));
                in_groups = false;
            }
        }
        options.sort();
        options.dedup();
        instruction_sets.sort();
        instruction_sets.dedup();
        Crossgen2Abilities {
            options,
            instruction_sets,
        }
    }

    /// The first thing a recipe asks for that this crossgen2 does not know, if any.
    pub fn unknown(&self, recipe: &Recipe) -> Option<String> {
        if let Some(option) = recipe
            .option_names()
            .into_iter()
            .find(|option| !self.options.iter().any(|known| known == option))
        {
            return Some(format!("option `{option}`"));
        }
        if let Some(set) = &recipe.instruction_set {
            for part in set.split(',') {
                let name = part.trim_start_matches(['+', '-']);
                if !self.instruction_sets.iter().any(|known| known == name) {
                    return Some(format!("instruction set `{name}`"));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiments() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
    }

    /// A copy of the project's recipes with `recipes.toml` changed by `edit`.
    fn load_edited(
        edit: impl Fn(String) -> String,
        list: Option<(&str, &str)>,
    ) -> Result<BTreeMap<String, Recipe>, RecipeError> {
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(copy.path().join("recipes")).unwrap();
        for entry in std::fs::read_dir(experiments().join("recipes")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                copy.path().join("recipes").join(entry.file_name()),
            )
            .unwrap();
        }
        if let Some((name, text)) = list {
            std::fs::write(copy.path().join("recipes").join(name), text).unwrap();
        }
        let text = std::fs::read_to_string(experiments().join("recipes.toml")).unwrap();
        std::fs::write(copy.path().join("recipes.toml"), edit(text)).unwrap();
        load(copy.path())
    }

    #[test]
    fn the_project_recipes_load_with_the_official_lists() {
        let recipes = load(&experiments()).unwrap();
        for name in [
            "full",
            "official-net8",
            "official-net8-no-isa",
            "official-net10",
            "partial-pgo",
        ] {
            assert!(recipes.contains_key(name), "{name}");
        }
        let official = &recipes["official-net8"];
        // The .NET 8 list's 38 lines less the one no framework carries; the 12 of #84860 out.
        assert_eq!(official.roots.as_ref().unwrap().len(), 37);
        assert_eq!(official.references.len(), 12);
        assert!(official.is_root("System.Private.CoreLib"));
        assert!(!official.is_root("Microsoft.Extensions.Options"));
        assert!(official.is_reference("Microsoft.Extensions.Options"));
        assert!(!official.is_root("System.Xml"));
        assert_eq!(official.optimize, Optimize::None);
        assert_eq!(
            official.switches(Some(Path::new("/p/x.mibc"))),
            [
                "--composite",
                "--instruction-set:x86-x64-v3",
                "-m:/p/x.mibc"
            ]
        );
        assert_eq!(
            recipes["full"].switches(None),
            ["--composite", "--inputbubble", "-O"]
        );
        assert!(recipes["full"].is_root("System.Xml"));
    }

    #[test]
    fn unknown_keys_and_bad_list_entries_are_refused_with_file_and_line() {
        let error = load_edited(
            |text| text.replacen("inputbubble = true", "input-bubble = true", 1),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("recipes.toml:"), "{error}");
        assert!(error.contains("input-bubble"), "{error}");
        let error = load_edited(
            |text| text,
            Some(("official-net8.roots.txt", "System.Runtime\nSystem/Evil\n")),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("official-net8.roots.txt:2:"), "{error}");
        let error = load_edited(
            |text| text.replacen("optimize = \"O\"", "optimize = \"O3\"", 1),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("recipes.toml:") && error.contains("O3"),
            "{error}"
        );
    }

    #[test]
    fn the_full_recipe_cannot_change_meaning() {
        let error = load_edited(
            |text| text.replacen("inputbubble = true", "inputbubble = false", 1),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("`full` is the original recipe"), "{error}");
    }

    #[test]
    fn crossgen2_help_tells_which_flags_and_instruction_sets_it_knows() {
        let help = "Options:\n  -u, --unrooted-input-file-paths <x>  Input files\n  --instruction-set <instruction-set>  Instruction set(s)\n  -m, --mibc <mibc>  Mibc\n  --composite  Composite\n  --targetos <t>  OS\n  --targetarch <a>  Arch\n  -o, --out <file>  Output\n  --inputbubble  Bubble\n\nx64: base, sse, avx2\n\nThe following CPU names are predefined groups of instruction sets and can be used in --instruction-set too:\nx86-64, x86-64-v2, x86-64-v3, apple-m1\n";
        let abilities = Crossgen2Abilities::from_help(help);
        assert!(abilities.options.contains(&"--mibc".to_string()));
        assert!(abilities
            .instruction_sets
            .contains(&"x86-64-v3".to_string()));
        assert!(abilities.instruction_sets.contains(&"avx2".to_string()));
        let recipes = load(&experiments()).unwrap();
        assert_eq!(
            abilities.unknown(&recipes["official-net8"]).as_deref(),
            Some("instruction set `x86-x64-v3`")
        );
        assert_eq!(abilities.unknown(&recipes["official-net10"]), None);
        assert_eq!(
            abilities.unknown(&recipes["partial-pgo"]).as_deref(),
            Some("option `--partial`")
        );
    }
}
