//! Scenarios: what to run. A TOML file in `scenarios/` naming the .NET version, the base, the
//! apps, the variants and the measurements; validated against the [`Catalog`] into a typed
//! [`Scenario`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::app::App;
use crate::model::catalog::Catalog;
use crate::model::dotnet_version::{self, VersionRequest};
use crate::model::limits::{self, Budget, Precision};
use crate::model::names;
use crate::model::platform::{self, Platform};
use crate::model::recipe::{self, Recipe};
use crate::model::toml_source::{self, SourceError, Step};

mod apps;
pub mod derive;
use apps::check_apps;
pub use apps::{for_app, AppScenarioRequest, APP_VARIANTS};

/// A measurement a scenario asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measurement {
    /// Image sizes and layer sharing.
    Sizes,
    /// Container cold start.
    Startup,
    /// Pull onto a new node, start there, first response (`r2r measure node`).
    Node,
    /// The first seconds of web apps under load (`r2r measure load`).
    Load,
}

/// The scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    description: Option<String>,
    dotnet: String,
    base: String,
    apps: Vec<toml::Value>,
    variants: Vec<String>,
    #[serde(default)]
    sdk: bool,
    #[serde(default)]
    measure: Vec<Measurement>,
    #[serde(default)]
    recipes: Option<Vec<String>>,
    #[serde(default, rename = "recipe-files")]
    recipe_files: Vec<String>,
    #[serde(default)]
    platforms: Option<Vec<String>>,
    #[serde(default)]
    startup: Option<StartupTable>,
}

/// The scenario file's `[startup]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StartupTable {
    runs: Option<usize>,
    precision: Option<String>,
    max_time: Option<String>,
    max_runs: Option<usize>,
}

/// What a scenario's `[startup]` table asks of `r2r run`'s start-up step where no flag is
/// given: each field replaces that one default of `r2r run` (a flag still wins). Empty when
/// the file has no such table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScenarioStartup {
    /// Recorded rounds, at least (`runs`); with `precision = "off"`, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<usize>,
    /// Precision target (`precision = "5%"`, or `"off"`): a fraction, 0 for off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Budget of time (`max-time = "60s"`, or `"off"`): seconds, 0 for off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_time: Option<Budget>,
    /// Budget of rounds (`max-runs`; 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_runs: Option<usize>,
}

// The fractions and seconds are read by `limits`, which accepts finite values only.
impl Eq for ScenarioStartup {}

impl ScenarioStartup {
    /// Whether the scenario sets none of these.
    pub fn is_empty(&self) -> bool {
        *self == ScenarioStartup::default()
    }
}

/// The base image the runtime-deps images stand on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Base {
    /// A base r2r makes from Debian's packages when it is missing.
    Local {
        /// The catalog name (`slim`, `distroless`, ...).
        name: String,
        /// The image reference it is imported as.
        image: String,
        /// Arguments for `scripts/bootstrap-base.sh`.
        script_args: Vec<String>,
        /// Whether it carries ICU.
        icu: bool,
        /// The platform it is made for (`--arch` of the script); absent for x64.
        #[serde(default, skip_serializing_if = "Platform::is_default")]
        platform: Platform,
    },
    /// An image reference that must be on the machine or pullable.
    Reference {
        /// The image reference, e.g. `mcr.microsoft.com/dotnet/runtime-deps:10.0`.
        image: String,
    },
}

impl Base {
    /// The image reference of the base.
    pub fn image(&self) -> &str {
        match self {
            Base::Local { image, .. } | Base::Reference { image } => image,
        }
    }

    /// The platform the base is for (an image reference: the default; only x64 scenarios
    /// may name one).
    pub fn platform(&self) -> Platform {
        match self {
            Base::Local { platform, .. } => *platform,
            Base::Reference { .. } => Platform::default(),
        }
    }

    /// The same base for `platform`: a local base made by the script with `--arch` and
    /// imported under a reference of its own ([`Platform::base_image`]); an image reference
    /// stays as it is.
    pub fn for_platform(&self, platform: Platform) -> Base {
        match self {
            Base::Local {
                name,
                image,
                script_args,
                icu,
                platform: own,
            } if *own == Platform::default() => {
                let mut script_args = script_args.clone();
                if !platform.is_default() {
                    script_args.extend(["--arch".to_string(), platform.architecture().to_string()]);
                }
                Base::Local {
                    name: name.clone(),
                    image: platform.base_image(image),
                    script_args,
                    icu: *icu,
                    platform,
                }
            }
            other => other.clone(),
        }
    }
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// The scenario's name (the file stem unless the file sets `name`); used in tags, labels
    /// and the results path.
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// What the scenario is for.
    pub description: String,
    /// The exact .NET version, e.g. `10.0.15`: the scenario's `dotnet` resolved at load
    /// time ([`crate::model::dotnet_version`]).
    pub dotnet: String,
    /// The `dotnet` the scenario file gives: an exact version, or a band (`10.0`, `10.0.*`)
    /// that resolved to [`Scenario::dotnet`]. Empty in plans written before bands existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dotnet_request: String,
    /// The base of the runtime-deps images.
    pub base: Base,
    /// The apps to build, by name (a sample's catalog name, or the name of one of
    /// [`Scenario::own_apps`]), in file order.
    pub apps: Vec<String>,
    /// The apps the scenario defines itself (inline tables of `apps`), by name, with
    /// absolute project paths. Not written when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub own_apps: BTreeMap<String, App>,
    /// The variants to build, by catalog name, in file order.
    pub variants: Vec<String>,
    /// Whether to build sdk images on each variant's aspnet image.
    pub sdk: bool,
    /// Measurements to take.
    pub measure: Vec<Measurement>,
    /// Composite recipes (`experiments/recipes.toml`): each variant with a framework
    /// composite is built once per recipe. Default: `["full"]`.
    #[serde(default = "default_recipes")]
    pub recipes: Vec<String>,
    /// Recipes the scenario brings itself (`recipe-files = ["tune/recipes.toml"]`, files in
    /// the format of `experiments/recipes.toml`, relative to the scenario file), by name; the
    /// scenario's `recipes` may name them beside the project's. Not written when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub own_recipes: BTreeMap<String, Recipe>,
    /// The `recipe-files` as the scenario names them (relative to it). Not written when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipe_files: Vec<String>,
    /// The platforms every image is built for, in file order (`platforms = ["linux/amd64",
    /// "linux/arm64"]`). Default: `linux/amd64` alone, which is then not written (a plan of
    /// x64 images reads and writes as before platforms existed).
    #[serde(
        default = "default_platforms",
        skip_serializing_if = "is_default_platforms"
    )]
    pub platforms: Vec<Platform>,
    /// Start-up defaults of `r2r run` for this scenario (`[startup]`); not written when empty.
    #[serde(default, skip_serializing_if = "ScenarioStartup::is_empty")]
    pub startup: ScenarioStartup,
    /// SHA-256 of the scenario file's bytes, hex.
    pub content_hash: String,
}

impl Scenario {
    /// The recipe of this name: the scenario's own ([`Scenario::own_recipes`]) or the
    /// project's.
    pub fn recipe<'a>(&'a self, catalog: &'a Catalog, name: &str) -> Option<&'a Recipe> {
        self.own_recipes
            .get(name)
            .or_else(|| catalog.recipes.get(name))
    }

    /// The major version (`10` for `10.0.12`).
    pub fn dotnet_major(&self) -> u32 {
        self.dotnet
            .split('.')
            .next()
            .and_then(|major| major.parse().ok())
            .unwrap_or(0)
    }

    /// The `dotnet` the scenario asked for (the exact version when the plan does not say).
    pub fn requested_dotnet(&self) -> &str {
        if self.dotnet_request.is_empty() {
            &self.dotnet
        } else {
            &self.dotnet_request
        }
    }

    /// The definition of an app the scenario names: its own, else the catalog's sample.
    pub fn app<'a>(&'a self, catalog: &'a Catalog, name: &str) -> Option<&'a App> {
        self.own_apps.get(name).or_else(|| catalog.apps.get(name))
    }

    /// The target framework moniker of the apps (`net10.0`).
    pub fn target_framework(&self) -> String {
        format!("net{}.0", self.dotnet_major())
    }
}

fn default_recipes() -> Vec<String> {
    vec![crate::model::recipe::DEFAULT_RECIPE.to_string()]
}

fn default_platforms() -> Vec<Platform> {
    vec![Platform::default()]
}

fn is_default_platforms(platforms: &[Platform]) -> bool {
    platforms == [Platform::default()]
}

impl Scenario {
    /// The scenario for one platform only, as `--platform` asks: its images are built for
    /// `platform` alone. On a platform other than the default, the name gets the platform's
    /// suffix (`quick-arm64`), so those runs have results, a `latest`, a lock and tags of their
    /// own and the scenario's x64 runs stay as they are.
    pub fn for_platform(&self, platform: Platform) -> Scenario {
        let mut scenario = self.clone();
        scenario.platforms = vec![platform];
        if let Some(suffix) = platform.suffix() {
            if !self.name.ends_with(&format!("-{suffix}")) {
                scenario.name = format!("{}-{suffix}", self.name);
            }
        }
        scenario
    }

    /// Whether the scenario builds images for `platform`.
    pub fn has_platform(&self, platform: Platform) -> bool {
        self.platforms.contains(&platform)
    }
}

/// Errors finding or reading a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// No file for a scenario name.
    #[error("no scenario `{name}` in {dir} (available: {available})")]
    NotFound {
        /// The name asked for.
        name: String,
        /// Where scenarios were looked for.
        dir: PathBuf,
        /// The scenarios that exist.
        available: String,
    },
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is malformed or names something the catalog does not have.
    #[error(transparent)]
    Invalid(#[from] SourceError),
}

/// Resolves a scenario argument: a path to a file, or a name looked up as
/// `<scenarios_dir>/<name>.toml`.
pub fn resolve_path(argument: &str, scenarios_dir: &Path) -> Result<PathBuf, ScenarioError> {
    let as_path = Path::new(argument);
    if argument.ends_with(".toml") || argument.contains('/') {
        return Ok(as_path.to_path_buf());
    }
    let candidate = scenarios_dir.join(format!("{argument}.toml"));
    if candidate.is_file() {
        return Ok(candidate);
    }
    Err(ScenarioError::NotFound {
        name: argument.to_string(),
        dir: scenarios_dir.to_path_buf(),
        available: available_scenarios(scenarios_dir).join(", "),
    })
}

/// Names of the scenario files in a directory, sorted.
pub fn available_scenarios(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

/// Reads and validates a scenario file (see [`parse`]); [`crate::model::plan::load`] also
/// expands it.
pub fn load(path: &Path, catalog: &Catalog) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(path, &text, catalog)?)
}

/// Validates a scenario's text (the contents of `path`) against the catalog: every name it
/// gives (the scenario name, the base image reference, the .NET version, the apps and
/// variants) is checked by [`crate::model::names`] and the catalog, and every error names the
/// file and line. The names the plan makes from them (tags, labels) are checked when it is
/// expanded: [`crate::model::plan::parse`] does both in one step.
pub fn parse(path: &Path, text: &str, catalog: &Catalog) -> Result<Scenario, SourceError> {
    let file: ScenarioFile = toml_source::parse(path, text)?;
    let at = |steps: &[Step<'_>], message: String| {
        let offset = toml_source::locate(text, steps).unwrap_or(0);
        SourceError::at_offset(path, text, offset, message)
    };
    let at_key = |key: &str, message: String| at(&[Step::Key(key)], message);

    let name = match file.name {
        Some(name) => {
            names::check_name(&name)
                .map_err(|error| at_key("name", format!("scenario name {error}")))?;
            name
        }
        None => {
            let name = name_from_file(path);
            names::check_name(&name).map_err(|error| {
                at_key(
                    "name",
                    format!("the file name gives no usable scenario name; set `name`: {error}"),
                )
            })?;
            name
        }
    };
    let request = VersionRequest::parse(&file.dotnet).map_err(|error| {
        at_key(
            "dotnet",
            format!("{error}; give an exact version (`10.0.12`) or a band to follow (`10.0`)"),
        )
    })?;
    let base = if let Some(local) = catalog.bases.get(&file.base) {
        Base::Local {
            name: file.base.clone(),
            image: local.image.clone(),
            script_args: local.script_args.clone(),
            icu: local.icu,
            platform: Platform::default(),
        }
    } else if file.base.contains(':') || file.base.contains('/') {
        names::check_reference(&file.base)
            .map_err(|error| at_key("base", format!("base {error}")))?;
        Base::Reference {
            image: file.base.clone(),
        }
    } else {
        let names: Vec<&str> = catalog.bases.keys().map(String::as_str).collect();
        return Err(at_key(
            "base",
            format!(
                "unknown base {}; allowed: {}, or an image reference such as mcr.microsoft.com/dotnet/runtime-deps:{}.0",
                names::shown(&file.base),
                names.join(", "),
                file.dotnet.split('.').next().unwrap_or("10")
            ),
        ));
    };
    let (apps, own_apps) = check_apps(path, &file.apps, catalog, &at)?;
    check_list(&file.variants, "variants", catalog.variants.keys(), &at)?;
    let own_recipes = own_recipes(path, &file.recipe_files, catalog, &at)?;
    let recipes = match file.recipes {
        Some(recipes) => {
            let known = catalog.recipes.keys().chain(own_recipes.keys());
            check_list(&recipes, "recipes", known, &at)?;
            recipes
        }
        None => default_recipes(),
    };
    let platforms = match file.platforms {
        Some(names) => check_platforms(&names, &at)?,
        None => default_platforms(),
    };
    if let Base::Reference { image } = &base {
        if platforms.iter().any(|platform| !platform.is_default()) {
            return Err(at_key(
                "platforms",
                format!(
                    "platforms other than linux/amd64 need a local base (one of: {}); `{image}` would be pulled under the same reference for each platform",
                    catalog.bases.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    if file.sdk {
        if let Some(platform) = platforms.iter().find(|platform| !platform.is_default()) {
            return Err(at_key(
                "sdk",
                format!("sdk images copy this machine's .NET SDK (x64); there is none for {platform}: set `sdk = false` or leave {platform} out of `platforms`"),
            ));
        }
    }
    let mut measure = file.measure;
    measure.dedup();
    let startup = match file.startup {
        Some(table) => check_startup(table, &at)?,
        None => ScenarioStartup::default(),
    };
    // Asked last: the packs a version needs depend on the variants, and everything else is
    // checked before a feed is.
    // (every platform's packs: a band resolves to a patch served for all of them).
    let native_aot = catalog.needs_native_aot(&file.variants);
    let mut packs = Vec::new();
    for platform in &platforms {
        for pack in
            dotnet_version::packs_for(platform.runtime_identifier(), "linux-x64", native_aot)
        {
            if !packs.contains(&pack) {
                packs.push(pack);
            }
        }
    }
    let resolved = dotnet_version::resolve(&request, &packs, catalog.versions.as_ref())
        .map_err(|error| at_key("dotnet", error.to_string()))?;

    Ok(Scenario {
        name,
        path: path.to_path_buf(),
        description: file.description.unwrap_or_default(),
        dotnet: resolved.version,
        dotnet_request: file.dotnet,
        base,
        apps,
        own_apps,
        variants: file.variants,
        sdk: file.sdk,
        measure,
        recipes,
        own_recipes,
        recipe_files: file.recipe_files,
        platforms,
        startup,
        content_hash: crate::support::hash::sha256_hex(text.as_bytes()),
    })
}

/// The recipes of a scenario's `recipe-files` (relative to the scenario file), each checked
/// by [`recipe::load_file`]; a name the project's recipes or another file already define is
/// refused at the entry that brings it again.
fn own_recipes(
    path: &Path,
    files: &[String],
    catalog: &Catalog,
    at: &dyn Fn(&[Step<'_>], String) -> SourceError,
) -> Result<BTreeMap<String, Recipe>, SourceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut own: BTreeMap<String, Recipe> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let here = [Step::Key("recipe-files"), Step::Index(index)];
        let file_path = dir.join(file);
        let recipes = match recipe::load_file(&file_path) {
            Ok(recipes) => recipes,
            Err(recipe::RecipeError::Invalid(error)) => return Err(error),
            Err(error) => return Err(at(&here, error.to_string())),
        };
        for (name, found) in recipes {
            if catalog.recipes.contains_key(&name) || own.contains_key(&name) {
                return Err(at(
                    &here,
                    format!(
                        "recipe `{name}` of {} is defined already (experiments/recipes.toml or an earlier file); give it another name",
                        file_path.display()
                    ),
                ));
            }
            own.insert(name, found);
        }
    }
    Ok(own)
}

/// The scenario name a file gives when it sets none: its stem in lower case, with every run
/// of other characters made one `-` (a single `.` and runs of `-` are kept), and no
/// separators at either end.
fn name_from_file(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("scenario")
        .to_lowercase();
    let mut name = String::new();
    let mut separators = String::new();
    for character in stem.chars() {
        if character.is_ascii_lowercase() || character.is_ascii_digit() {
            if !name.is_empty() && !separators.is_empty() {
                let kept = separators == "." || separators.chars().all(|c| c == '-');
                name.push_str(if kept { &separators } else { "-" });
            }
            separators.clear();
            name.push(character);
        } else {
            separators.push(if character == '.' { '.' } else { '-' });
        }
    }
    while name.len() > 64 {
        name.pop();
        while name.ends_with(['-', '.']) {
            name.pop();
        }
    }
    name
}

/// Reads `[startup]`: the precision and the budget of time as the flags take them; an error
/// names the key's line and what is allowed.
fn check_startup(
    table: StartupTable,
    at: &dyn Fn(&[Step<'_>], String) -> SourceError,
) -> Result<ScenarioStartup, SourceError> {
    let key = |name: &'static str| [Step::Key("startup"), Step::Key(name)];
    if table.runs == Some(0) {
        return Err(at(
            &key("runs"),
            "`runs` is 0; give at least 1 recorded round".to_string(),
        ));
    }
    let precision = table
        .precision
        .map(|text| {
            limits::parse_precision(&text)
                .map_err(|error| at(&key("precision"), format!("startup precision {error}")))
        })
        .transpose()?;
    let max_time = table
        .max_time
        .map(|text| {
            limits::parse_budget(&text)
                .map_err(|error| at(&key("max-time"), format!("startup max-time {error}")))
        })
        .transpose()?;
    Ok(ScenarioStartup {
        runs: table.runs,
        precision,
        max_time,
        max_runs: table.max_runs,
    })
}

/// Reads `platforms`: every entry a known platform, none twice, not empty; an error names the
/// entry's line and the allowed values.
fn check_platforms(
    names: &[String],
    at: &dyn Fn(&[Step<'_>], String) -> SourceError,
) -> Result<Vec<Platform>, SourceError> {
    let allowed = platform::ALL.map(Platform::name).join(", ");
    if names.is_empty() {
        return Err(at(
            &[Step::Key("platforms")],
            format!("`platforms` is empty; allowed: {allowed}"),
        ));
    }
    let mut platforms = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let here = [Step::Key("platforms"), Step::Index(index)];
        let platform = Platform::parse(name).map_err(|error| at(&here, error.to_string()))?;
        if platforms.contains(&platform) {
            return Err(at(
                &here,
                format!("`{platform}` is listed twice in `platforms`"),
            ));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

fn check_list<'a>(
    values: &[String],
    key: &str,
    allowed: impl Iterator<Item = &'a String>,
    at: &dyn Fn(&[Step<'_>], String) -> SourceError,
) -> Result<(), SourceError> {
    let allowed: Vec<&String> = allowed.collect();
    let allowed_text = allowed
        .iter()
        .map(|name| name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if values.is_empty() {
        return Err(at(
            &[Step::Key(key)],
            format!("`{key}` is empty; allowed: {allowed_text}"),
        ));
    }
    let singular = key.strip_suffix('s').unwrap_or(key);
    for (index, value) in values.iter().enumerate() {
        let here = [Step::Key(key), Step::Index(index)];
        if !allowed.contains(&value) {
            return Err(at(
                &here,
                format!(
                    "unknown {singular} {}; allowed: {allowed_text}",
                    names::shown(value)
                ),
            ));
        }
        if values[..index].contains(value) {
            return Err(at(&here, format!("`{value}` is listed twice in `{key}`")));
        }
    }
    Ok(())
}

/// Whether a name is safe for tags, labels and paths (see [`names::check_name`]).
pub fn is_valid_name(name: &str) -> bool {
    names::check_name(name).is_ok()
}

/// Whether an image reference follows the Docker reference grammar (see
/// [`names::check_reference`]).
pub fn is_valid_reference(reference: &str) -> bool {
    names::check_reference(reference).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        Catalog::load(&root).expect("the repository's catalog loads")
    }

    /// The catalog with a feed that serves these versions.
    fn serving(versions: &[&str]) -> Catalog {
        let mut packs = dotnet_version::packs(true);
        packs.extend(dotnet_version::packs_for("linux-arm64", "linux-x64", true));
        catalog().with_versions(std::sync::Arc::new(dotnet_version::FixedVersions::serving(
            &packs, versions,
        )))
    }

    const GOOD: &str = r#"
description = "test"
dotnet = "10.0.12"
base = "slim"
apps = ["console"]
variants = ["no-composite", "runtime-composite"]
"#;

    #[test]
    fn a_good_scenario_is_typed() {
        let scenario = parse(Path::new("scenarios/quick.toml"), GOOD, &catalog()).unwrap();
        assert_eq!(scenario.name, "quick");
        assert_eq!(scenario.dotnet_major(), 10);
        assert_eq!(scenario.target_framework(), "net10.0");
        assert_eq!(scenario.base.image(), "r2r/base:bookworm-slim");
        assert_eq!(scenario.variants, ["no-composite", "runtime-composite"]);
        assert!(!scenario.sdk);
    }

    fn error_of(text: &str) -> SourceError {
        parse(
            Path::new("s.toml"),
            text,
            &serving(&["8.0.33", "10.0.12", "10.0.15"]),
        )
        .unwrap_err()
    }

    /// A scenario in a temporary directory beside a project of the user's.
    fn beside_project(apps: &str) -> (tempfile::TempDir, Result<Scenario, SourceError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("shop")).unwrap();
        std::fs::write(
            dir.path().join("shop/Shop.Api.csproj"),
            "<Project Sdk=\"Microsoft.NET.Sdk.Web\"><PropertyGroup><AssemblyName>Shop.Api</AssemblyName></PropertyGroup></Project>",
        )
        .unwrap();
        let path = dir.path().join("mine.toml");
        let text = GOOD.replace("apps = [\"console\"]", &format!("apps = [\n{apps}\n]"));
        let result = parse(&path, &text, &serving(&["10.0.12"]));
        (dir, result)
    }

    #[test]
    fn an_inline_app_takes_its_kind_frameworks_and_assembly_from_the_project() {
        let (dir, scenario) = beside_project(
            "  \"console\",\n  { project = \"shop/Shop.Api.csproj\", ready = { http = \"/health\", status = 204 }, request = \"/products\", env = { FEATURE_X = \"on\" } },",
        );
        let scenario = scenario.unwrap();
        assert_eq!(scenario.apps, ["console", "shop.api"]);
        let app = &scenario.own_apps["shop.api"];
        assert_eq!(app.kind, crate::model::app::AppKind::Webapi);
        assert_eq!(app.assembly, "Shop.Api");
        assert_eq!(
            app.frameworks,
            [
                crate::model::framework::Framework::Runtime,
                crate::model::framework::Framework::Aspnet
            ]
        );
        assert_eq!(app.project, dir.path().join("shop/Shop.Api.csproj"));
        assert!(app.external);
        let launch = app.launch();
        assert_eq!(launch.ready.http.as_deref(), Some("/health"));
        assert_eq!(launch.ready.http_status(), 204);
        assert_eq!(launch.request.as_deref(), Some("/products"));
        // The sample keeps its catalog definition.
        assert!(!scenario.app(&catalog(), "console").unwrap().external);
    }

    #[test]
    fn inline_app_errors_name_the_line_and_the_key() {
        let cases = [
            ("  { project = \"nowhere/App.csproj\" },", 6, "no project file at"),
            ("  { project = \"shop/Shop.Api.csproj\", ready = { tcp = 80 } },", 6, "unknown field `tcp`"),
            ("  { project = \"shop/Shop.Api.csproj\", kind = \"daemon\" },", 6, "unknown variant `daemon`"),
            ("  { template = \"mvc\" },", 6, "needs `kind`"),
            ("  { name = \"console\", template = \"console\", kind = \"console\" },", 6, "is a sample's"),
            ("  { project = \"shop/Shop.Api.csproj\", ready = { http = \"health\" } },", 6, "not a path"),
            ("  { project = \"shop/Shop.Api.csproj\", kind = \"worker\", port = 8080 },", 6, "needs a web app"),
            ("  { project = \"shop/Shop.Api.csproj\" },\n  { project = \"shop/Shop.Api.csproj\" },", 7, "listed twice"),
            ("  { },", 6, "needs `project`"),
            ("  42,", 6, "found a integer"),
        ];
        for (apps, line, message) in cases {
            let (_dir, result) = beside_project(apps);
            let error = result.unwrap_err();
            assert_eq!(error.line, Some(line), "{apps}: {error}");
            assert!(error.to_string().contains(message), "{apps}: {error}");
        }
    }

    #[test]
    fn the_scenario_made_for_one_app_loads_with_that_app() {
        let (dir, _) = beside_project("  \"console\",");
        let project = dir.path().join("shop/Shop.Api.csproj");
        let (name, text) = for_app(
            &project,
            &AppScenarioRequest {
                variants: Some(vec!["no-composite".into(), "aspnet-composite".into()]),
                recipes: Some(vec!["full".into()]),
                dotnet: Some("10.0.12".into()),
                base: None,
            },
        );
        assert_eq!(name, "app-shop.api");
        let path = dir.path().join("made.toml");
        let scenario = parse(&path, &text, &serving(&["10.0.12"])).unwrap();
        assert_eq!(scenario.name, "app-shop.api");
        assert_eq!(scenario.apps, ["shop.api"]);
        assert_eq!(scenario.variants, ["no-composite", "aspnet-composite"]);
        assert_eq!(scenario.own_apps["shop.api"].project, project);
        let (_, defaults) = for_app(&project, &AppScenarioRequest::default());
        assert!(
            defaults.contains("\"selfcontained-composite\"]"),
            "{defaults}"
        );
        assert!(defaults.contains("dotnet = \"10.0\""), "{defaults}");
    }

    #[test]
    fn unknown_variant_names_line_and_allowed_values() {
        let error = error_of(&GOOD.replace("\"runtime-composite\"]", "\"turbo\"]"));
        assert_eq!(error.line, Some(6), "{error}");
        assert!(error.message.contains("unknown variant `turbo`"), "{error}");
        assert!(error.message.contains("aspnet-composite"), "{error}");
        assert!(error.message.contains("selfcontained-composite"), "{error}");
    }

    #[test]
    fn unknown_field_is_located() {
        let error = error_of(&format!("{GOOD}colour = \"red\"\n"));
        assert_eq!(error.line, Some(7), "{error}");
        assert!(error.message.contains("unknown field `colour`"), "{error}");
    }

    #[test]
    fn unknown_dotnet_version_lists_served_versions() {
        let error = error_of(&GOOD.replace("10.0.12", "10.0.99"));
        assert_eq!(error.line, Some(3));
        assert!(
            error.message.contains("10.0.99") && error.message.contains("8.0.33, 10.0.12, 10.0.15"),
            "{error}"
        );
        let error = error_of(&GOOD.replace("10.0.12", "10.x"));
        assert_eq!(error.line, Some(3));
        assert!(error.message.contains("a band to follow"), "{error}");
    }

    #[test]
    fn a_band_resolves_to_the_newest_served_patch_and_keeps_what_was_asked() {
        let catalog = serving(&["10.0.12", "10.0.14", "10.0.15", "9.0.22"]);
        for band in ["10.0", "10.0.*"] {
            let text = GOOD.replace("10.0.12", band);
            let scenario = parse(Path::new("q.toml"), &text, &catalog).unwrap();
            assert_eq!(scenario.dotnet, "10.0.15");
            assert_eq!(scenario.dotnet_request, band);
            assert_eq!(scenario.requested_dotnet(), band);
        }
        let exact = parse(Path::new("q.toml"), GOOD, &catalog).unwrap();
        assert_eq!(
            (exact.dotnet.as_str(), exact.requested_dotnet()),
            ("10.0.12", "10.0.12")
        );
    }

    #[test]
    fn missing_app_and_bad_base_and_bad_toml() {
        let error = error_of(&GOOD.replace("[\"console\"]", "[\"console\", \"gui\"]"));
        assert_eq!(error.line, Some(5));
        assert!(
            error.message.contains("unknown app `gui`") && error.message.contains("webapi"),
            "{error}"
        );

        let error = error_of(&GOOD.replace("\"slim\"", "\"tiny\""));
        assert_eq!(error.line, Some(4));
        assert!(error.message.contains("distroless"), "{error}");

        let error = error_of("dotnet = \n");
        assert_eq!(error.line, Some(1));

        let error = error_of(&GOOD.replace("apps = [\"console\"]\n", ""));
        assert!(error.message.contains("missing field `apps`"), "{error}");
    }

    #[test]
    fn duplicates_and_empty_lists_are_refused() {
        let error = error_of(&GOOD.replace("[\"console\"]", "[\"console\", \"console\"]"));
        assert!(error.message.contains("listed twice"), "{error}");
        let error = error_of(&GOOD.replace("[\"console\"]", "[]"));
        assert!(error.message.contains("empty"), "{error}");
    }

    #[test]
    fn names_and_references_are_checked() {
        assert!(is_valid_name("composite-net8"));
        assert!(!is_valid_name("Bad Name"));
        assert!(!is_valid_name("-x"));
        assert!(is_valid_reference(
            "mcr.microsoft.com/dotnet/runtime-deps:10.0"
        ));
        assert!(!is_valid_reference("evil; rm -rf /"));
        let error = error_of(&format!("name = \"UPPER\"\n{GOOD}"));
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn platforms_default_to_x64_and_are_read_in_order() {
        let scenario = parse(Path::new("scenarios/quick.toml"), GOOD, &catalog()).unwrap();
        assert_eq!(scenario.platforms, [Platform::LinuxAmd64]);
        // The default is not written: an x64 plan reads and writes as before.
        let json = serde_json::to_string(&scenario).unwrap();
        assert!(!json.contains("platforms"), "{json}");
        let text = format!("{GOOD}platforms = [\"linux/arm64\", \"linux/amd64\"]\n");
        let scenario = parse(Path::new("s.toml"), &text, &catalog()).unwrap();
        assert_eq!(
            scenario.platforms,
            [Platform::LinuxArm64, Platform::LinuxAmd64]
        );
        let back: Scenario =
            serde_json::from_str(&serde_json::to_string(&scenario).unwrap()).unwrap();
        assert_eq!(back.platforms, scenario.platforms);
    }

    #[test]
    fn a_startup_table_is_typed_and_written_into_the_plan_only_when_given() {
        let scenario = parse(
            Path::new("quick.toml"),
            &format!("{GOOD}[startup]\nruns = 12\nprecision = \"5%\"\nmax-time = \"1m30s\"\nmax-runs = 0\n"),
            &catalog(),
        )
        .unwrap();
        assert_eq!(
            scenario.startup,
            ScenarioStartup {
                runs: Some(12),
                precision: Some(Precision(Some(0.05))),
                max_time: Some(Budget(Some(std::time::Duration::from_secs(90)))),
                max_runs: Some(0),
            }
        );
        let json = serde_json::to_value(&scenario).unwrap();
        assert_eq!(json["startup"]["max-time"], 90.0);
        let back: Scenario = serde_json::from_value(json).unwrap();
        assert_eq!(back.startup, scenario.startup);

        let plain = parse(Path::new("quick.toml"), GOOD, &catalog()).unwrap();
        assert!(plain.startup.is_empty());
        assert!(serde_json::to_value(&plain)
            .unwrap()
            .get("startup")
            .is_none());
        let off = parse(
            Path::new("quick.toml"),
            &format!("{GOOD}[startup]\nprecision = \"off\"\n"),
            &catalog(),
        )
        .unwrap();
        assert_eq!(off.startup.precision, Some(Precision(None)));
    }

    #[test]
    fn a_bad_startup_value_names_its_line_and_what_is_allowed() {
        let error = error_of(&format!(
            "{GOOD}[startup]\nruns = 10\nprecision = \"fast\"\n"
        ));
        assert_eq!(error.line, Some(9), "{error}");
        assert!(
            error
                .message
                .contains("'fast' is not a percentage (e.g. 2% or off)"),
            "{error}"
        );
        let error = error_of(&format!("{GOOD}[startup]\nmax-time = \"soon\"\n"));
        assert_eq!(error.line, Some(8), "{error}");
        assert!(
            error.message.contains("e.g. 90s, 12m, 1h30m or off"),
            "{error}"
        );
        let error = error_of(&format!("{GOOD}[startup]\nruns = 0\n"));
        assert_eq!(error.line, Some(8), "{error}");
        let error = error_of(&format!("{GOOD}[startup]\nrounds = 5\n"));
        assert_eq!(error.line, Some(8), "{error}");
        assert!(error.message.contains("unknown field `rounds`"), "{error}");
    }

    #[test]
    fn a_bad_platform_names_file_line_and_allowed_values() {
        let error = error_of(&format!(
            "{GOOD}platforms = [\n  \"linux/amd64\",\n  \"linux/riscv64\",\n]\n"
        ));
        assert_eq!(error.line, Some(9), "{error}");
        let text = error.to_string();
        assert!(text.starts_with("s.toml:9:"), "{text}");
        assert!(
            text.contains("unknown platform `linux/riscv64`; allowed: linux/amd64, linux/arm64"),
            "{text}"
        );

        let error = error_of(&format!("{GOOD}platforms = []\n"));
        assert_eq!(error.line, Some(7), "{error}");
        assert!(
            error
                .message
                .contains("empty; allowed: linux/amd64, linux/arm64"),
            "{error}"
        );

        let error = error_of(&format!(
            "{GOOD}platforms = [\"linux/arm64\", \"linux-arm64\"]\n"
        ));
        assert_eq!(error.line, Some(7), "{error}");
        assert!(error.message.contains("listed twice"), "{error}");

        let error = error_of(&format!("{GOOD}platforms = \"linux/arm64\"\n"));
        assert_eq!(error.line, Some(7), "{error}");
    }

    #[test]
    fn arm64_needs_a_local_base() {
        let text = GOOD.replace("\"slim\"", "\"mcr.microsoft.com/dotnet/runtime-deps:10.0\"");
        assert!(parse(Path::new("s.toml"), &text, &catalog()).is_ok());
        let error = error_of(&format!("{text}platforms = [\"linux/arm64\"]\n"));
        assert_eq!(error.line, Some(7), "{error}");
        assert!(error.message.contains("need a local base"), "{error}");
        assert!(error.message.contains("slim"), "{error}");
    }

    #[test]
    fn one_platform_of_a_scenario_gets_a_name_of_its_own() {
        let scenario = parse(Path::new("scenarios/quick.toml"), GOOD, &catalog()).unwrap();
        let arm = scenario.for_platform(Platform::LinuxArm64);
        assert_eq!(arm.name, "quick-arm64");
        assert_eq!(arm.platforms, [Platform::LinuxArm64]);
        assert_eq!(arm.for_platform(Platform::LinuxArm64).name, "quick-arm64");
        let x64 = scenario.for_platform(Platform::LinuxAmd64);
        assert_eq!(x64, scenario);
    }

    #[test]
    fn repository_scenarios_all_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let names = available_scenarios(&dir);
        assert!(
            names.contains(&"quick".to_string()) && names.contains(&"composite".to_string()),
            "{names:?}"
        );
        for name in names {
            let path = resolve_path(&name, &dir).unwrap();
            // Served: the versions they pin, a newer patch for the ones that follow 10.0, and
            // the .NET 11 release quick-net11 follows.
            let catalog = serving(&["8.0.33", "10.0.12", "10.0.15", "11.0.0"]);
            load(&path, &catalog).unwrap_or_else(|error| panic!("{error}"));
        }
    }
}
