//! The plan: a scenario expanded into the images to build, in dependency order.
//!
//! Each variant defines a chain of images; images that are the same in several variants (same
//! content on the same parent, such as the runtime-deps image or the composite runtime image
//! of variants 2-4) are planned once and tagged for every variant that uses them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::app::Launch;
use crate::model::catalog::{
    AppKind, Catalog, CompositeSpec, Framework, ImageRole, PublishSpec, Variant,
};
use crate::model::platform::Platform;
use crate::model::recipe::Recipe;
use crate::model::scenario::{self, Scenario, ScenarioError};
use crate::model::toml_source::{self, SourceError, Step};

/// Label keys r2r puts on every image and container it makes.
pub mod labels {
    /// Marks an object as made by r2r (value `true`); `r2r clean` removes exactly these.
    pub const MANAGED: &str = "r2r.managed";
    /// The scenario name.
    pub const SCENARIO: &str = "r2r.scenario";
    /// Comma-separated variants the image belongs to.
    pub const VARIANTS: &str = "r2r.variants";
    /// The image's role (`runtime-deps`, `runtime`, `aspnet`, `sdk`, `console`, `webapi`, `base`).
    pub const ROLE: &str = "r2r.role";
    /// The plan id of the image.
    pub const IMAGE: &str = "r2r.image";
    /// SHA-256 of everything the image is built from (context, parent image id, labels).
    pub const INPUT_HASH: &str = "r2r.input-hash";
    /// The .NET version.
    pub const DOTNET: &str = "r2r.dotnet";
    /// The platform (`linux/arm64`); only on images of a platform other than x64, so x64
    /// images keep the labels (and input hashes) they had before platforms existed.
    pub const PLATFORM: &str = "r2r.platform";
}

/// What an image stands on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "reference", rename_all = "kebab-case")]
pub enum Parent {
    /// The scenario's base image (local or official).
    Base(String),
    /// Another image of the plan, by id.
    Image(String),
}

/// What an image adds on top of its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "adds", rename_all = "kebab-case")]
pub enum Content {
    /// The runtime-deps layer: environment settings for .NET on the base.
    RuntimeDeps,
    /// Shared frameworks, as shipped or compiled into a composite.
    Frameworks {
        /// The frameworks this image adds.
        frameworks: Vec<Framework>,
        /// The composite compiled from them, if any.
        composite: Option<CompositeSpec>,
        /// Whether this image adds the `dotnet` host (true when it stands on runtime-deps).
        with_host: bool,
        /// All frameworks below and in this image, for references.
        frameworks_below: Vec<Framework>,
        /// The recipe the composite is compiled by; absent for the default recipe (`full`)
        /// and for images without a composite.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipe: Option<Recipe>,
    },
    /// The SDK on an aspnet image.
    Sdk,
    /// A sample app.
    App {
        /// The app's catalog name.
        app: String,
        /// Its kind.
        kind: AppKind,
        /// How it is published.
        publish: PublishSpec,
        /// Whether app and framework form one composite.
        composite: bool,
        /// How it is started and known to be ready; absent in plans written before apps
        /// said so (the samples' way then: [`Launch::sample`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        launch: Option<Launch>,
    },
}

/// The role an image of the plan plays: a framework image of a chain, or an app's image.
/// Written as its name (`runtime-deps`, `runtime`, `aspnet`, `sdk`, or the app's catalog
/// name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlannedRole {
    /// A framework image of a chain.
    Framework(ImageRole),
    /// The image of the app of this catalog name.
    App(String),
}

impl PlannedRole {
    /// The name used in tags, labels, tables and result files.
    pub fn name(&self) -> &str {
        match self {
            PlannedRole::Framework(role) => role.name(),
            PlannedRole::App(app) => app,
        }
    }

    /// Whether this is the base of a chain: the native dependencies of .NET.
    pub fn is_runtime_deps(&self) -> bool {
        *self == PlannedRole::Framework(ImageRole::RuntimeDeps)
    }
}

impl std::fmt::Display for PlannedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One image to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedImage {
    /// Unique id within the plan, e.g. `runtime-composite.runtime`.
    pub id: String,
    /// Its role: a framework image, or an app's image.
    pub role: PlannedRole,
    /// Variants (scenario order) this image belongs to.
    pub variants: Vec<String>,
    /// What it stands on.
    pub parent: Parent,
    /// What it adds.
    pub content: Content,
    /// Tags, one per variant: `r2r/<scenario>:<variant>-<role>` (see [`image_tag`]).
    pub tags: Vec<String>,
    /// The platform it is built for; absent (x64) in plans before platforms existed.
    #[serde(default, skip_serializing_if = "Platform::is_default")]
    pub platform: Platform,
}

/// The name a variant has in a plan, its results and its tags under a recipe:
/// `<variant>.<recipe>`, or the variant's own name under the default recipe.
pub fn recipe_variant(variant: &str, recipe: &str) -> String {
    if recipe == crate::model::recipe::DEFAULT_RECIPE {
        variant.to_string()
    } else {
        format!("{variant}.{recipe}")
    }
}

/// Splits a plan variant name into the catalog variant and the recipe (`full` when it has
/// no recipe suffix). `None` when the name is neither a catalog variant nor one with a known
/// recipe after its last `.`.
pub fn split_recipe_variant<'a>(catalog: &Catalog, name: &'a str) -> Option<(&'a str, &'a str)> {
    split_variant_with(catalog, &BTreeMap::new(), name)
}

/// [`split_recipe_variant`], knowing a scenario's own recipes beside the project's.
fn split_variant_with<'a>(
    catalog: &Catalog,
    own: &BTreeMap<String, Recipe>,
    name: &'a str,
) -> Option<(&'a str, &'a str)> {
    if catalog.variants.contains_key(name) {
        return Some((name, crate::model::recipe::DEFAULT_RECIPE));
    }
    let (variant, recipe) = name.rsplit_once('.')?;
    let known = catalog.recipes.contains_key(recipe) || own.contains_key(recipe);
    (catalog.variants.contains_key(variant) && known).then_some((variant, recipe))
}

/// Whether a variant has a framework composite (and so is built once per recipe).
pub fn has_framework_composite(variant: &Variant) -> bool {
    variant
        .images
        .values()
        .any(|image| image.composite.is_some())
}

/// The tag r2r gives the image of `role` in `variant` of a scenario.
pub fn image_tag(scenario: &str, variant: &str, role: &str) -> String {
    format!("r2r/{scenario}:{variant}-{role}")
}

impl PlannedImage {
    /// The first tag, used to refer to the image.
    pub fn reference(&self) -> &str {
        &self.tags[0]
    }

    /// Labels that identify the image (the input hash is added at build time).
    pub fn labels(&self, scenario: &Scenario) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SCENARIO.to_string(), scenario.name.clone()),
            (labels::VARIANTS.to_string(), self.variants.join(",")),
            (labels::ROLE.to_string(), self.role.to_string()),
            (labels::IMAGE.to_string(), self.id.clone()),
            (labels::DOTNET.to_string(), scenario.dotnet.clone()),
        ]);
        if !self.platform.is_default() {
            labels.insert(labels::PLATFORM.to_string(), self.platform.to_string());
        }
        labels
    }
}

/// A scenario expanded into images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// Images in dependency order: every parent comes before its children.
    pub images: Vec<PlannedImage>,
}

impl Plan {
    /// Looks an image up by id.
    pub fn image(&self, id: &str) -> Option<&PlannedImage> {
        self.images.iter().find(|image| image.id == id)
    }

    /// The base image reference an image's chain stands on.
    pub fn base_of<'a>(&'a self, image: &'a PlannedImage) -> &'a str {
        let mut current = image;
        loop {
            match &current.parent {
                Parent::Base(reference) => return reference,
                Parent::Image(id) => match self.image(id) {
                    Some(parent) => current = parent,
                    None => return self.scenario.base.image(),
                },
            }
        }
    }

    /// Every base the plan stands on: the scenario's first, then the variants' own (local
    /// bases of the catalog), each once.
    /// On a platform other than x64 they are the same bases made for that platform
    /// ([`crate::model::scenario::Base::for_platform`]).
    pub fn bases(&self, catalog: &Catalog) -> Vec<crate::model::scenario::Base> {
        let mut bases: Vec<crate::model::scenario::Base> = self
            .scenario
            .platforms
            .iter()
            .map(|platform| self.scenario.base.for_platform(*platform))
            .collect();
        for image in &self.images {
            let Parent::Base(reference) = &image.parent else {
                continue;
            };
            if bases.iter().any(|base| base.image() == reference) {
                continue;
            }
            if let Some((name, local)) = catalog
                .bases
                .iter()
                .find(|(_, local)| image.platform.base_image(&local.image) == *reference)
            {
                let base = crate::model::scenario::Base::Local {
                    name: name.clone(),
                    image: local.image.clone(),
                    script_args: local.script_args.clone(),
                    icu: local.icu,
                    platform: Platform::default(),
                };
                bases.push(base.for_platform(image.platform));
            }
        }
        bases
    }

    /// Whether the plan has images of a platform this machine runs only through an emulator.
    pub fn has_emulated_images(&self) -> bool {
        self.images.iter().any(|image| image.platform.is_emulated())
    }

    /// The ids of an image and all images above it that depend on it.
    pub fn dependents_of(&self, id: &str) -> Vec<String> {
        let mut found = vec![id.to_string()];
        for image in &self.images {
            if let Parent::Image(parent) = &image.parent {
                if found.contains(parent) && !found.contains(&image.id) {
                    found.push(image.id.clone());
                }
            }
        }
        found
    }

    /// A human-readable listing of the plan.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let scenario = &self.scenario;
        let platforms = if scenario.platforms == [Platform::default()] {
            String::new()
        } else {
            format!(
                ", platforms {}",
                scenario
                    .platforms
                    .iter()
                    .map(|platform| platform.name())
                    .collect::<Vec<_>>()
                    .join(" + ")
            )
        };
        let _ = writeln!(
            out,
            "scenario {} (.NET {}{}, base {}{platforms}, {} images)",
            scenario.name,
            scenario.dotnet,
            if scenario.requested_dotnet() == scenario.dotnet {
                String::new()
            } else {
                format!(", the newest {} served", scenario.requested_dotnet())
            },
            scenario.base.image(),
            self.images.len()
        );
        for (index, image) in self.images.iter().enumerate() {
            let parent = match &image.parent {
                Parent::Base(reference) => reference.clone(),
                Parent::Image(id) => id.clone(),
            };
            let _ = writeln!(out, "{:>3}. {}  on {}", index + 1, image.id, parent);
            let mut adds = describe_content(&image.content);
            if !image.platform.is_default() {
                // No `dotnet` command on other platforms (see `build::dotnet`): hostfxr only.
                adds = adds.replace(" + dotnet host", " + hostfxr");
            }
            let _ = writeln!(out, "     adds: {adds}");
            let _ = writeln!(out, "     tags: {}", image.tags.join(", "));
        }
        out
    }
}

fn framework_list(frameworks: &[Framework]) -> String {
    frameworks
        .iter()
        .map(|f| f.shared_name())
        .collect::<Vec<_>>()
        .join(" + ")
}

fn describe_content(content: &Content) -> String {
    match content {
        Content::RuntimeDeps => "runtime-deps settings".to_string(),
        Content::Frameworks {
            frameworks,
            composite,
            with_host,
            ..
        } => {
            let mut text = framework_list(frameworks);
            if *with_host {
                text.push_str(" + dotnet host");
            }
            match composite {
                None => text.push_str(", as shipped"),
                Some(spec) => {
                    let _ = write!(text, ", composite of {}", framework_list(&spec.include));
                    if !spec.references.is_empty() {
                        let _ = write!(text, " referencing {}", framework_list(&spec.references));
                    }
                }
            }
            text
        }
        Content::Sdk => "the .NET SDK".to_string(),
        Content::App {
            app,
            publish,
            composite,
            ..
        } => format!(
            "app {app}, {}{}{}",
            publish.profile,
            publish
                .properties
                .iter()
                .map(|(k, v)| format!(" {k}={v}"))
                .collect::<String>(),
            if *composite {
                ", app + runtime in one composite"
            } else {
                ""
            }
        ),
    }
}

/// Why a scenario cannot be expanded against a catalog. Each error names the file and the key
/// it comes from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The scenario names something the catalog does not have, or a name made from it is not
    /// valid (a tag, a label).
    #[error("{}: `{key}`: {message}", path.display())]
    Scenario {
        /// The scenario file.
        path: PathBuf,
        /// The scenario key the problem comes from (`name`, `dotnet`, `base`, `apps`, `variants`).
        key: &'static str,
        /// The element of the key's array, when the key is an array.
        index: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The catalog is inconsistent (which [`Catalog::load`] refuses, so only a catalog made
    /// some other way gets here).
    #[error("{}: {message}", path.display())]
    Catalog {
        /// The catalog file the problem is in.
        path: PathBuf,
        /// What is wrong, naming the variant, app or base.
        message: String,
    },
}

/// Reads a scenario file, validates it against the catalog and expands it: the one way from
/// a file to a plan.
pub fn load(path: &Path, catalog: &Catalog) -> Result<Plan, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(path, &text, catalog)?)
}

/// Validates a scenario's text (see [`scenario::parse`]) and expands it; a name the plan
/// makes that the engine would refuse (a tag, a label) is reported at the scenario key it
/// came from, with the file and line.
pub fn parse(path: &Path, text: &str, catalog: &Catalog) -> Result<Plan, SourceError> {
    let scenario = scenario::parse(path, text, catalog)?;
    try_expand(&scenario, catalog).map_err(|error| match error {
        PlanError::Scenario {
            key,
            index,
            message,
            ..
        } => {
            let steps = match index {
                Some(index) => vec![Step::Key(key), Step::Index(index)],
                None => vec![Step::Key(key)],
            };
            let offset = toml_source::locate(text, &steps).unwrap_or(0);
            SourceError::at_offset(path, text, offset, message)
        }
        PlanError::Catalog { path, message } => SourceError::whole_file(&path, message),
    })
}

/// Expands a scenario into a plan.
///
/// # Panics
///
/// When the scenario was not validated against this catalog, or makes a name the engine would
/// refuse; [`load`] and [`parse`] check both, and [`try_expand`] is the version that returns
/// the problem instead.
pub fn expand(scenario: &Scenario, catalog: &Catalog) -> Plan {
    try_expand(scenario, catalog)
        .unwrap_or_else(|error| panic!("a validated scenario expands: {error}"))
}

/// Expands a scenario into a plan, checking every name the plan sends to the engine: image
/// references (tags and bases) against the Docker reference grammar, label keys and values,
/// and the .NET version.
pub fn try_expand(scenario: &Scenario, catalog: &Catalog) -> Result<Plan, PlanError> {
    let in_scenario =
        |key: &'static str, index: Option<usize>, message: String| PlanError::Scenario {
            path: scenario.path.clone(),
            key,
            index,
            message,
        };
    let variants_file = catalog.root.join("variants.toml");
    let in_catalog = |path: &PathBuf, message: String| PlanError::Catalog {
        path: path.clone(),
        message,
    };

    if let Err(error) = crate::model::names::check_name(&scenario.name) {
        return Err(in_scenario("name", None, error.to_string()));
    }
    if let Err(error) = crate::model::names::check_version(&scenario.dotnet) {
        return Err(in_scenario("dotnet", None, error.to_string()));
    }
    if let Err(error) = crate::model::names::check_reference(scenario.base.image()) {
        return Err(in_scenario(
            "base",
            None,
            format!("the base image: {error}"),
        ));
    }
    for (index, recipe) in scenario.recipes.iter().enumerate() {
        if scenario.recipe(catalog, recipe).is_none() {
            return Err(in_scenario(
                "recipes",
                Some(index),
                format!("unknown recipe {}", crate::model::names::shown(recipe)),
            ));
        }
    }
    if let crate::model::scenario::Base::Reference { image } = &scenario.base {
        if let Some(platform) = scenario.platforms.iter().find(|p| !p.is_default()) {
            return Err(in_scenario(
                "platforms",
                None,
                format!("{platform} needs a local base, not the image reference `{image}`"),
            ));
        }
    }
    // Each variant with a framework composite once per recipe, and every variant once per
    // platform (platform by platform: x64's variants first, under their own names); a name
    // that already carries a recipe or a platform (a plan read back from a run) stays as it is.
    let mut expanded: Vec<(usize, String, &str, Option<&Recipe>, Platform)> = Vec::new();
    // (index in the scenario's `variants`, plan name, catalog name, recipe unless default,
    // platform)
    for (variant_index, variant_name, platform) in scenario.platforms.iter().flat_map(|platform| {
        scenario
            .variants
            .iter()
            .enumerate()
            .map(move |(index, name)| (index, name, *platform))
    }) {
        let (unsuffixed, named_platform) = Platform::split_variant(variant_name);
        if named_platform.suffix().is_some() && named_platform != platform {
            continue;
        }
        let Some((catalog_name, recipe_name)) =
            split_variant_with(catalog, &scenario.own_recipes, unsuffixed)
        else {
            return Err(in_scenario(
                "variants",
                Some(variant_index),
                format!(
                    "unknown variant {}",
                    crate::model::names::shown(variant_name)
                ),
            ));
        };
        let variant = &catalog.variants[catalog_name];
        let recipe_of = |name: &str| {
            let recipe = scenario
                .recipe(catalog, name)
                .expect("the scenario's recipes were checked above");
            (!recipe.is_default()).then_some(recipe)
        };
        if catalog_name != unsuffixed || !has_framework_composite(variant) {
            let name = platform.variant_name(unsuffixed);
            if expanded.iter().any(|(_, other, ..)| *other == name) {
                continue;
            }
            expanded.push((
                variant_index,
                name,
                catalog_name,
                recipe_of(recipe_name),
                platform,
            ));
        } else {
            for recipe in &scenario.recipes {
                let name = platform.variant_name(&recipe_variant(catalog_name, recipe));
                if !expanded.iter().any(|(_, other, ..)| *other == name) {
                    expanded.push((
                        variant_index,
                        name,
                        catalog_name,
                        recipe_of(recipe),
                        platform,
                    ));
                }
            }
        }
    }
    let mut expanded_scenario = scenario.clone();
    expanded_scenario.variants = expanded.iter().map(|(_, name, ..)| name.clone()).collect();
    let scenario = &expanded_scenario;
    let mut builder = Builder {
        scenario,
        images: Vec::new(),
        keys: BTreeMap::new(),
    };
    for (_, variant_name, catalog_name, recipe, platform) in &expanded {
        let variant_name = variant_name.as_str();
        let platform = *platform;
        let variant = &catalog.variants[*catalog_name];
        // A variant may stand on a base of its own (e.g. distroless beside the full base).
        let base = match &variant.base {
            Some(name) => match catalog.bases.get(name) {
                Some(local) => {
                    crate::model::names::check_reference(&local.image).map_err(|error| {
                        in_catalog(
                            &catalog.root.join("dotnet.toml"),
                            format!("base `{name}`: {error}"),
                        )
                    })?;
                    platform.base_image(&local.image)
                }
                None => {
                    return Err(in_catalog(
                        &variants_file,
                        format!("variant `{variant_name}`: unknown base `{name}`"),
                    ))
                }
            },
            None => scenario.base.for_platform(platform).image().to_string(),
        };
        if variant.images.contains_key(&ImageRole::RuntimeDeps) {
            return Err(in_catalog(
                &variants_file,
                format!("variant `{variant_name}`: `images.runtime-deps` is the base of every variant, not an image a variant defines"),
            ));
        }
        let deps = builder.add(
            variant_name,
            PlannedRole::Framework(ImageRole::RuntimeDeps),
            Parent::Base(base),
            Content::RuntimeDeps,
            platform,
        );
        let mut by_role: BTreeMap<ImageRole, String> =
            BTreeMap::from([(ImageRole::RuntimeDeps, deps)]);
        // Framework images in an order where parents come first.
        let mut pending: Vec<ImageRole> = variant.images.keys().copied().collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|role| {
                let image = &variant.images[role];
                let Some(parent) = by_role.get(&image.parent).cloned() else {
                    return true;
                };
                // A recipe that leaves every framework of the composite as shipped leaves the
                // image without one (the same image as the variant's without a composite).
                let composite = image.composite.clone().filter(|spec| match recipe {
                    Some(recipe) => !recipe.compiled_frameworks(&spec.include).is_empty(),
                    None => true,
                });
                let content = Content::Frameworks {
                    recipe: composite.as_ref().and(recipe.cloned()),
                    frameworks: image.frameworks.clone(),
                    composite,
                    with_host: image.parent == ImageRole::RuntimeDeps,
                    frameworks_below: catalog.frameworks_below(variant, *role),
                };
                let id = builder.add(
                    variant_name,
                    PlannedRole::Framework(*role),
                    Parent::Image(parent),
                    content,
                    platform,
                );
                by_role.insert(*role, id);
                false
            });
            if pending.len() == before {
                let roles: Vec<&str> = pending.iter().map(|role| role.name()).collect();
                return Err(in_catalog(
                    &variants_file,
                    format!("variant `{variant_name}`: images {} stand on images the variant does not define, or on each other", roles.join(", ")),
                ));
            }
        }
        if scenario.sdk {
            if let Some(aspnet) = by_role.get(&ImageRole::Aspnet).cloned() {
                builder.add(
                    variant_name,
                    PlannedRole::Framework(ImageRole::Sdk),
                    Parent::Image(aspnet),
                    Content::Sdk,
                    platform,
                );
            }
        }
        for (app_index, app_name) in scenario.apps.iter().enumerate() {
            let Some(app) = scenario.app(catalog, app_name) else {
                return Err(in_scenario(
                    "apps",
                    Some(app_index),
                    format!("unknown app {}", crate::model::names::shown(app_name)),
                ));
            };
            let Some(placement) = variant.apps.get(&app.placement()) else {
                continue;
            };
            // A recipe made for some apps (a tuned one) builds their images alone.
            if recipe.is_some_and(|recipe| !recipe.serves(app_name)) {
                continue;
            }
            let Some(parent) = by_role.get(&placement.on).cloned() else {
                return Err(in_catalog(
                    &variants_file,
                    format!("variant `{variant_name}`: app `{}` stands on `{}`, which the variant does not define", app.placement().name(), placement.on.name()),
                ));
            };
            if !catalog.publish.contains_key(&placement.publish) {
                return Err(in_catalog(
                    &variants_file,
                    format!(
                        "variant `{variant_name}`: app `{}`: unknown publish profile `{}`",
                        app.placement().name(),
                        placement.publish
                    ),
                ));
            }
            let content = Content::App {
                app: app_name.clone(),
                kind: app.kind,
                publish: catalog.publish_spec(placement),
                composite: placement.composite,
                launch: Some(app.launch()),
            };
            builder.add(
                variant_name,
                PlannedRole::App(app_name.to_string()),
                Parent::Image(parent),
                content,
                platform,
            );
        }
    }
    let plan = Plan {
        scenario: scenario.clone(),
        images: builder.images,
    };
    check_names(&plan)?;
    Ok(plan)
}

/// Checks every tag and label of a plan; a problem is put on the scenario key it comes from.
fn check_names(plan: &Plan) -> Result<(), PlanError> {
    let scenario = &plan.scenario;
    let variant_index = |variant: &str| scenario.variants.iter().position(|v| v == variant);
    for image in &plan.images {
        for (variant, tag) in image.variants.iter().zip(&image.tags) {
            if let Err(error) = crate::model::names::check_reference(tag) {
                return Err(PlanError::Scenario {
                    path: scenario.path.clone(),
                    key: "variants",
                    index: variant_index(variant),
                    message: format!(
                        "the tag of the {} image of variant `{variant}`: {error}",
                        image.role
                    ),
                });
            }
        }
        for (key, value) in image.labels(scenario) {
            let problem = crate::model::names::check_label_key(&key)
                .and_then(|()| crate::model::names::check_label_value(&value));
            if let Err(error) = problem {
                let scenario_key = match key.as_str() {
                    labels::SCENARIO => "name",
                    labels::DOTNET => "dotnet",
                    _ => "variants",
                };
                return Err(PlanError::Scenario {
                    path: scenario.path.clone(),
                    key: scenario_key,
                    index: image
                        .variants
                        .first()
                        .and_then(|variant| variant_index(variant)),
                    message: format!("label `{key}` of image `{}`: {error}", image.id),
                });
            }
        }
    }
    Ok(())
}

struct Builder<'a> {
    scenario: &'a Scenario,
    images: Vec<PlannedImage>,
    /// Canonical content key -> image id, to plan identical images once.
    keys: BTreeMap<String, String>,
}

impl Builder<'_> {
    fn add(
        &mut self,
        variant: &str,
        role: PlannedRole,
        parent: Parent,
        content: Content,
        platform: Platform,
    ) -> String {
        let mut key = format!("{role}|{parent:?}|{content:?}");
        if !platform.is_default() {
            key.push_str(&format!("|{platform}"));
        }
        let tag = image_tag(&self.scenario.name, variant, role.name());
        if let Some(id) = self.keys.get(&key) {
            let image = self
                .images
                .iter_mut()
                .find(|image| &image.id == id)
                .expect("key points at an image");
            if !image.variants.iter().any(|v| v == variant) {
                image.variants.push(variant.to_string());
                image.tags.push(tag);
            }
            return id.clone();
        }
        let id = match (&content, &parent) {
            // One runtime-deps per base: the scenario's is `runtime-deps`, another base's is
            // named after the variant that asks for it.
            (Content::RuntimeDeps, Parent::Base(base))
                if *base == self.scenario.base.for_platform(platform).image() =>
            {
                platform.variant_name(role.name())
            }
            (Content::RuntimeDeps, _) => format!("{variant}.{role}"),
            _ => format!("{variant}.{role}"),
        };
        self.keys.insert(key, id.clone());
        self.images.push(PlannedImage {
            id: id.clone(),
            role,
            variants: vec![variant.to_string()],
            parent,
            content,
            tags: vec![tag],
            platform,
        });
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan_for(variants: &[&str], apps: &[&str], sdk: bool) -> Plan {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let text = format!(
            "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = {apps:?}\nvariants = {variants:?}\nsdk = {sdk}\n"
        );
        let scenario = parse(Path::new("t.toml"), &text, &catalog)
            .unwrap()
            .scenario;
        expand(&scenario, &catalog)
    }

    fn assert_parents_first(plan: &Plan) {
        for (index, image) in plan.images.iter().enumerate() {
            if let Parent::Image(parent) = &image.parent {
                let position = plan
                    .images
                    .iter()
                    .position(|i| &i.id == parent)
                    .expect("parent planned");
                assert!(
                    position < index,
                    "{} planned before its parent {parent}",
                    image.id
                );
            }
        }
    }

    #[test]
    fn quick_plan_shares_runtime_deps() {
        let plan = plan_for(&["no-composite", "runtime-composite"], &["console"], false);
        let ids: Vec<&str> = plan.images.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "runtime-deps",
                "no-composite.runtime",
                "no-composite.aspnet",
                "no-composite.console",
                "runtime-composite.runtime",
                "runtime-composite.aspnet",
                "runtime-composite.console"
            ]
        );
        assert_eq!(
            plan.images[0].tags,
            [
                "r2r/t:no-composite-runtime-deps",
                "r2r/t:runtime-composite-runtime-deps"
            ]
        );
        assert_parents_first(&plan);
    }

    #[test]
    fn full_matrix_dedups_the_composite_runtime_and_places_apps() {
        let plan = plan_for(
            &[
                "no-composite",
                "runtime-composite",
                "aspnet-composite",
                "composed-composite",
                "selfcontained-composite",
            ],
            &["console", "webapi"],
            true,
        );
        assert_parents_first(&plan);
        let runtime = plan.image("runtime-composite.runtime").unwrap();
        assert_eq!(
            runtime.variants,
            [
                "runtime-composite",
                "aspnet-composite",
                "composed-composite"
            ]
        );
        // The aspnet composite stands on runtime-deps; the composed one on the composite runtime.
        assert_eq!(
            plan.image("aspnet-composite.aspnet").unwrap().parent,
            Parent::Image("runtime-deps".into())
        );
        assert_eq!(
            plan.image("composed-composite.aspnet").unwrap().parent,
            Parent::Image("runtime-composite.runtime".into())
        );
        // The console app on the composite runtime is one image for three variants.
        assert_eq!(
            plan.image("runtime-composite.console").unwrap().tags.len(),
            3
        );
        // Self-contained apps stand on runtime-deps; that variant has no sdk (no aspnet image).
        assert_eq!(
            plan.image("selfcontained-composite.webapi").unwrap().parent,
            Parent::Image("runtime-deps".into())
        );
        assert!(plan.image("selfcontained-composite.sdk").is_none());
        assert!(plan.image("aspnet-composite.sdk").is_some());
        let dependents = plan.dependents_of("runtime-composite.runtime");
        assert!(
            dependents.contains(&"composed-composite.webapi".to_string()),
            "{dependents:?}"
        );
        assert!(
            !dependents.contains(&"aspnet-composite.webapi".to_string()),
            "{dependents:?}"
        );
        assert!(plan
            .describe()
            .contains("composite of Microsoft.AspNetCore.App referencing Microsoft.NETCore.App"));
    }

    fn plan_of(text: &str) -> Plan {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let scenario = parse(Path::new("t.toml"), text, &catalog).unwrap().scenario;
        expand(&scenario, &catalog)
    }

    #[test]
    fn arm64_images_sit_beside_the_x64_ones_unchanged() {
        let x64 = plan_for(&["no-composite", "runtime-composite"], &["console"], false);
        let both = plan_of(
            "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"console\"]\nvariants = [\"no-composite\", \"runtime-composite\"]\nsdk = false\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n",
        );
        assert_parents_first(&both);
        // The x64 half is the x64 plan, image for image (ids, tags, labels, content).
        assert_eq!(both.images[..x64.images.len()], x64.images[..]);
        for image in &x64.images {
            assert_eq!(image.labels(&both.scenario), image.labels(&x64.scenario));
        }
        let arm: Vec<&PlannedImage> = both.images[x64.images.len()..].iter().collect();
        let ids: Vec<&str> = arm.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "runtime-deps.arm64",
                "no-composite.arm64.runtime",
                "no-composite.arm64.aspnet",
                "no-composite.arm64.console",
                "runtime-composite.arm64.runtime",
                "runtime-composite.arm64.aspnet",
                "runtime-composite.arm64.console"
            ]
        );
        assert!(arm.iter().all(|i| i.platform == Platform::LinuxArm64));
        assert_eq!(
            arm[0].parent,
            Parent::Base("r2r/base:bookworm-slim-arm64".into())
        );
        assert_eq!(
            arm[3].tags,
            ["r2r/t:no-composite.arm64-console"],
            "arm64 tags are distinct"
        );
        assert_eq!(
            arm[3].labels(&both.scenario).get(labels::PLATFORM),
            Some(&"linux/arm64".to_string())
        );
        assert_eq!(
            both.scenario.variants,
            [
                "no-composite",
                "runtime-composite",
                "no-composite.arm64",
                "runtime-composite.arm64"
            ]
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let bases = both.bases(&catalog);
        assert_eq!(bases.len(), 2);
        assert_eq!(bases[1].image(), "r2r/base:bookworm-slim-arm64");
        assert_eq!(bases[1].platform(), Platform::LinuxArm64);
        assert!(
            matches!(&bases[1], crate::model::scenario::Base::Local { script_args, .. }
            if script_args == &["slim", "--arch", "arm64"])
        );
        // A plan read back from a run (its variants already expanded) expands the same.
        let again = expand(&both.scenario, &catalog);
        assert_eq!(again.images, both.images);
        // As JSON, x64 images carry no platform; arm64 ones do, and read back.
        let json = serde_json::to_string(&both).unwrap();
        let back: Plan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, both);
        let x64_json = serde_json::to_string(&x64).unwrap();
        assert!(!x64_json.contains("platform"), "{x64_json}");
    }

    #[test]
    fn one_platform_alone_has_its_own_name_and_base() {
        let plan = plan_of(
            "dotnet = \"10.0.12\"\nbase = \"distroless\"\napps = [\"console\"]\nvariants = [\"no-composite\"]\n",
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let arm = expand(&plan.scenario.for_platform(Platform::LinuxArm64), &catalog);
        assert_eq!(arm.scenario.name, "t-arm64");
        assert_eq!(arm.images[0].id, "runtime-deps.arm64");
        assert_eq!(
            arm.images[0].parent,
            Parent::Base("r2r/base:bookworm-distroless-arm64".into())
        );
        assert_eq!(
            arm.images.last().unwrap().tags,
            ["r2r/t-arm64:no-composite.arm64-console"]
        );
        let bases = arm.bases(&catalog);
        assert_eq!(bases.len(), 1, "{bases:?}");
        assert!(arm.has_emulated_images() == cfg!(target_arch = "x86_64"));
    }

    #[test]
    fn variants_on_their_own_base_get_their_own_runtime_deps() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let scenario = load(&root.join("scenarios/size-report-net10.toml"), &catalog)
            .unwrap()
            .scenario;
        let plan = expand(&scenario, &catalog);
        assert_parents_first(&plan);
        let deps: Vec<(&str, &str)> = plan
            .images
            .iter()
            .filter(|i| i.role.is_runtime_deps())
            .map(|i| {
                (
                    i.id.as_str(),
                    match &i.parent {
                        Parent::Base(base) => base.as_str(),
                        Parent::Image(_) => "",
                    },
                )
            })
            .collect();
        assert_eq!(
            deps,
            [
                ("runtime-deps", "r2r/base:bookworm-slim"),
                (
                    "framework-dependent-distroless.runtime-deps",
                    "r2r/base:bookworm-distroless"
                ),
                (
                    "framework-dependent-distroless-icu.runtime-deps",
                    "r2r/base:bookworm-distroless-icu"
                ),
            ]
        );
        let aot = plan.image("native-aot-distroless.console").unwrap();
        assert_eq!(plan.base_of(aot), "r2r/base:bookworm-distroless");
        assert!(matches!(&aot.content, Content::App { publish, .. } if publish.native));
        let bases: Vec<String> = plan
            .bases(&catalog)
            .iter()
            .map(|b| b.image().to_string())
            .collect();
        assert_eq!(
            bases,
            [
                "r2r/base:bookworm-slim",
                "r2r/base:bookworm-distroless",
                "r2r/base:bookworm-distroless-icu"
            ]
        );
        // 3 runtime-deps, runtime + aspnet on each of the 3 bases, 10 variants x 2 apps.
        assert_eq!(plan.images.len(), 3 + 3 * 2 + 10 * 2);
    }
}
