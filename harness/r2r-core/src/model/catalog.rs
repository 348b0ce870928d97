//! The experiment catalog: what can be built.
//!
//! Read from `experiments/`: `variants.toml` (each variant's images, which frameworks go into
//! which composite, which image each stands on), `apps/apps.toml` (the sample apps) and
//! `dotnet.toml` (the local bases). Which .NET versions exist is asked of NuGet
//! ([`crate::model::dotnet_version`]).
//! The catalog is data; the plan expander turns it and a scenario into images to build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::dotnet_version::VersionSource;
use crate::model::feed::NugetFeeds;
use crate::model::names::{self, NameError};
use crate::model::toml_source::{self, SourceError, Step};

pub use crate::model::app::{App, AppKind};
pub use crate::model::framework::Framework;

/// The role an image plays in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageRole {
    /// The base with the native dependencies of .NET, no .NET itself.
    RuntimeDeps,
    /// The .NET runtime image.
    Runtime,
    /// The ASP.NET Core runtime image.
    Aspnet,
    /// The SDK image (optional, large).
    Sdk,
}

impl ImageRole {
    /// The kebab-case name used in tags, labels and tables.
    pub fn name(self) -> &'static str {
        match self {
            ImageRole::RuntimeDeps => "runtime-deps",
            ImageRole::Runtime => "runtime",
            ImageRole::Aspnet => "aspnet",
            ImageRole::Sdk => "sdk",
        }
    }
}

/// Which frameworks are compiled into one composite image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositeSpec {
    /// Frameworks whose assemblies are inputs of the composite (one version bubble).
    pub include: Vec<Framework>,
    /// Frameworks passed as references only (`-r`), compiled elsewhere.
    #[serde(default)]
    pub references: Vec<Framework>,
}

/// One framework image of a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkImage {
    /// The role of the image this one stands on.
    pub parent: ImageRole,
    /// The frameworks this image adds on top of its parent.
    pub frameworks: Vec<Framework>,
    /// The composite compiled from (some of) those frameworks, if any; without one the
    /// frameworks are copied as shipped (each assembly compiled on its own).
    #[serde(default)]
    pub composite: Option<CompositeSpec>,
}

/// A way to publish an app (`[publish.<name>]` in `variants.toml`): MSBuild properties on
/// `dotnet publish`, and what the output is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PublishProfile {
    /// One line on what the profile is.
    pub summary: String,
    /// Self-contained (`-r linux-x64 --self-contained`, runtime pinned to the scenario's
    /// version): the app starts through its own executable. Otherwise framework-dependent: IL
    /// run by the image's `dotnet`.
    #[serde(default)]
    pub self_contained: bool,
    /// The output is native code with no managed runtime and no assemblies (Native AOT).
    #[serde(default)]
    pub native: bool,
    /// MSBuild properties passed as `-p:Name=Value`.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// The resolved publish settings of one app image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub struct PublishSpec {
    /// The profile's name.
    pub profile: String,
    /// Self-contained (runs through its own executable).
    pub self_contained: bool,
    /// Native AOT: no managed runtime, no assemblies.
    pub native: bool,
    /// MSBuild properties (profile's, then the placement's).
    pub properties: BTreeMap<String, String>,
}

impl PublishSpec {
    /// Whether a property is set to `true`.
    pub fn enabled(&self, property: &str) -> bool {
        self.properties
            .get(property)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }
}

/// Where and how an app is placed in a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPlacement {
    /// The role of the image the app image stands on.
    pub on: ImageRole,
    /// The publish profile (a `[publish.<name>]` of `variants.toml`).
    #[serde(default = "default_publish")]
    pub publish: String,
    /// MSBuild properties on top of the profile's (e.g. `InvariantGlobalization = "false"`).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Whether app and framework are compiled into one composite (self-contained only).
    #[serde(default)]
    pub composite: bool,
}

fn default_publish() -> String {
    "framework-dependent".to_string()
}

/// One variant of the experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// One line on what the variant is.
    pub summary: String,
    /// A local base (`[bases.<name>]` of `dotnet.toml`) this variant's runtime-deps image
    /// stands on instead of the scenario's base.
    #[serde(default)]
    pub base: Option<String>,
    /// Framework images by role (`runtime`, `aspnet`).
    #[serde(default)]
    pub images: BTreeMap<ImageRole, FrameworkImage>,
    /// App placements by app kind (`console`, `webapi`).
    pub apps: BTreeMap<AppKind, AppPlacement>,
}

/// A local base made from Debian's packages when no registry can be reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LocalBase {
    /// The image reference the base is imported as.
    pub image: String,
    /// Arguments to `scripts/bootstrap-base.sh` (before the output path).
    pub script_args: Vec<String>,
    /// Whether the base carries ICU; without it .NET runs globalization-invariant.
    pub icu: bool,
    /// One line on what is in it.
    pub summary: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantsFile {
    publish: BTreeMap<String, PublishProfile>,
    variants: BTreeMap<String, Variant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsFile {
    apps: BTreeMap<String, App>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DotnetFile {
    bases: BTreeMap<String, LocalBase>,
}

/// Everything `experiments/` defines.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The `experiments/` directory the catalog was read from.
    pub root: PathBuf,
    /// Variants by name, in name order.
    pub variants: BTreeMap<String, Variant>,
    /// Publish profiles by name.
    pub publish: BTreeMap<String, PublishProfile>,
    /// Apps by name.
    pub apps: BTreeMap<String, App>,
    /// Where .NET versions come from: the NuGet feeds this machine is configured for and
    /// the packs restored here ([`crate::model::feed::NugetFeeds`] of the project's
    /// `.r2r/work` unless replaced, e.g. with [`Catalog::with_versions`]).
    pub versions: Arc<dyn VersionSource>,
    /// Local bases by name (`slim`, `distroless`, ...).
    pub bases: BTreeMap<String, LocalBase>,
    /// Composite recipes by name (`recipes.toml`).
    pub recipes: BTreeMap<String, crate::model::recipe::Recipe>,
}

/// Errors reading the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A catalog file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A catalog file is malformed or inconsistent.
    #[error(transparent)]
    Invalid(#[from] SourceError),
    /// The recipes cannot be read.
    #[error(transparent)]
    Recipes(#[from] crate::model::recipe::RecipeError),
}

/// One catalog file and its text, for located errors.
#[derive(Clone, Copy)]
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// An error at what `place` names in the file (the file's first line when it is not found).
    fn at(&self, place: &[Step<'_>], message: String) -> SourceError {
        let offset = toml_source::locate(self.text, place).unwrap_or(0);
        SourceError::at_offset(self.path, self.text, offset, message)
    }

    /// Turns a failed name check into an error at `place`, its message after `context`.
    fn check(
        &self,
        place: &[Step<'_>],
        checked: Result<(), NameError>,
        context: &str,
    ) -> Result<(), SourceError> {
        checked.map_err(|error| self.at(place, format!("{context}{error}")))
    }
}

fn read(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl Catalog {
    /// The catalog with another source of .NET versions (the feeds of another work
    /// directory, or fixed answers).
    pub fn with_versions(mut self, versions: Arc<dyn VersionSource>) -> Catalog {
        self.versions = versions;
        self
    }

    /// Whether any of `variants` publishes an app with Native AOT (which needs the ILCompiler
    /// packs).
    pub fn needs_native_aot(&self, variants: &[String]) -> bool {
        variants
            .iter()
            .filter_map(|name| self.variants.get(name))
            .flat_map(|variant| variant.apps.values())
            .any(|placement| {
                self.publish
                    .get(&placement.publish)
                    .is_some_and(|profile| profile.native)
            })
    }

    /// Reads the catalog from an `experiments/` directory and checks it for consistency.
    pub fn load(root: &Path) -> Result<Catalog, CatalogError> {
        let variants_path = root.join("variants.toml");
        let variants_text = read(&variants_path)?;
        let variants: VariantsFile = toml_source::parse(&variants_path, &variants_text)?;
        let apps_path = root.join("apps").join("apps.toml");
        let apps_text = read(&apps_path)?;
        let apps: AppsFile = toml_source::parse(&apps_path, &apps_text)?;
        let dotnet_path = root.join("dotnet.toml");
        let dotnet_text = read(&dotnet_path)?;
        let dotnet: DotnetFile = toml_source::parse(&dotnet_path, &dotnet_text)?;
        let recipes = crate::model::recipe::load(root)?;
        let catalog = Catalog {
            root: root.to_path_buf(),
            recipes,
            variants: variants.variants,
            publish: variants.publish,
            apps: apps.apps,
            versions: Arc::new(NugetFeeds::for_work_dir(
                &root.parent().unwrap_or(root).join(".r2r/work"),
            )),
            bases: dotnet.bases,
        };
        let variants_source = Source {
            path: &variants_path,
            text: &variants_text,
        };
        catalog.check_names(
            variants_source,
            Source {
                path: &apps_path,
                text: &apps_text,
            },
            Source {
                path: &dotnet_path,
                text: &dotnet_text,
            },
        )?;
        catalog.check(variants_source)?;
        Ok(catalog)
    }

    /// Checks every name the catalog gives to tags, labels, file names and command lines
    /// (see [`crate::model::names`]).
    fn check_names(
        &self,
        variants: Source<'_>,
        apps: Source<'_>,
        dotnet: Source<'_>,
    ) -> Result<(), SourceError> {
        for (name, profile) in &self.publish {
            variants.check(
                &[Step::Key("publish"), Step::Key(name)],
                names::check_name(name),
                "publish profile ",
            )?;
            for (property, value) in &profile.properties {
                let place = [
                    Step::Key("publish"),
                    Step::Key(name),
                    Step::Key("properties"),
                    Step::Key(property),
                ];
                variants.check(
                    &place,
                    names::check_property(property, value),
                    &format!("publish profile `{name}`: property "),
                )?;
            }
        }
        for (name, variant) in &self.variants {
            variants.check(
                &[Step::Key("variants"), Step::Key(name)],
                names::check_name(name),
                "variant ",
            )?;
            for (kind, placement) in &variant.apps {
                for (property, value) in &placement.properties {
                    let place = [
                        Step::Key("variants"),
                        Step::Key(name),
                        Step::Key("apps"),
                        Step::Key(kind.name()),
                        Step::Key("properties"),
                        Step::Key(property),
                    ];
                    let context = format!("variant `{name}`: app `{}`: property ", kind.name());
                    variants.check(&place, names::check_property(property, value), &context)?;
                }
            }
        }
        for (name, app) in &self.apps {
            apps.check(
                &[Step::Key("apps"), Step::Key(name)],
                names::check_name(name),
                "app ",
            )?;
            let place = [Step::Key("apps"), Step::Key(name), Step::Key("assembly")];
            apps.check(
                &place,
                names::check_file_name(&app.assembly),
                &format!("app `{name}`: assembly "),
            )?;
            let place = [Step::Key("apps"), Step::Key(name), Step::Key("project")];
            let project = app.project.to_str().unwrap_or("\u{fffd}");
            apps.check(
                &place,
                names::check_relative_path(project),
                &format!("app `{name}`: project "),
            )?;
        }
        for (name, base) in &self.bases {
            dotnet.check(
                &[Step::Key("bases"), Step::Key(name)],
                names::check_name(name),
                "base ",
            )?;
            let place = [Step::Key("bases"), Step::Key(name), Step::Key("image")];
            dotnet.check(
                &place,
                names::check_reference(&base.image),
                &format!("base `{name}`: image "),
            )?;
            for (index, argument) in base.script_args.iter().enumerate() {
                let place = [
                    Step::Key("bases"),
                    Step::Key(name),
                    Step::Key("script-args"),
                    Step::Index(index),
                ];
                dotnet.check(
                    &place,
                    names::check_script_argument(argument),
                    &format!("base `{name}`: script-args "),
                )?;
            }
        }
        Ok(())
    }

    /// Checks that every variant's images stand on images that exist, not on each other in a
    /// circle, and that composites only include frameworks their image carries.
    fn check(&self, source: Source<'_>) -> Result<(), SourceError> {
        for (name, variant) in &self.variants {
            let at =
                |message: String| source.at(&[Step::Key("variants"), Step::Key(name)], message);
            if variant.images.contains_key(&ImageRole::RuntimeDeps) {
                return Err(at(format!(
                    "variant `{name}`: `images.runtime-deps` is the base of every variant, not an image a variant defines"
                )));
            }
            for role in variant.images.keys() {
                // Every chain of parents must reach runtime-deps within as many steps as there are images.
                let mut current = *role;
                let mut steps = 0;
                while let Some(image) = variant.images.get(&current) {
                    current = image.parent;
                    steps += 1;
                    if steps > variant.images.len() {
                        return Err(at(format!(
                            "variant `{name}`: image `{}` stands on itself through its parents",
                            role.name()
                        )));
                    }
                }
            }
            if let Some(base) = &variant.base {
                if !self.bases.contains_key(base) {
                    return Err(at(format!(
                        "variant `{name}`: unknown base `{base}`; allowed: {}",
                        self.bases.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            let available = |role: ImageRole| {
                role == ImageRole::RuntimeDeps || variant.images.contains_key(&role)
            };
            for (role, image) in &variant.images {
                if !available(image.parent) || image.parent == *role {
                    return Err(at(format!(
                        "variant `{name}`: image `{}` stands on `{}`, which the variant does not define",
                        role.name(),
                        image.parent.name()
                    )));
                }
                if let Some(composite) = &image.composite {
                    if let Some(missing) = composite
                        .include
                        .iter()
                        .find(|f| !image.frameworks.contains(f))
                    {
                        return Err(at(format!(
                            "variant `{name}`: the composite of image `{}` includes `{}`, which the image does not carry",
                            role.name(),
                            missing.shared_name()
                        )));
                    }
                }
            }
            for (app, placement) in &variant.apps {
                if !available(placement.on) {
                    return Err(at(format!(
                        "variant `{name}`: app `{}` stands on `{}`, which the variant does not define",
                        app.name(),
                        placement.on.name()
                    )));
                }
                let Some(profile) = self.publish.get(&placement.publish) else {
                    return Err(at(format!(
                        "variant `{name}`: app `{}`: unknown publish profile `{}`; allowed: {}",
                        app.name(),
                        placement.publish,
                        self.publish.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                };
                if placement.composite && (!profile.self_contained || profile.native) {
                    return Err(at(format!(
                        "variant `{name}`: app `{}`: `composite = true` needs a self-contained, non-native publish profile",
                        app.name()
                    )));
                }
                if !profile.self_contained && placement.on == ImageRole::RuntimeDeps {
                    return Err(at(format!(
                        "variant `{name}`: app `{}`: a framework-dependent app cannot stand on runtime-deps, which has no .NET",
                        app.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The publish settings of an app placement: its profile with the placement's own
    /// properties on top.
    pub fn publish_spec(&self, placement: &AppPlacement) -> PublishSpec {
        let profile = &self.publish[&placement.publish];
        let mut properties = profile.properties.clone();
        properties.extend(placement.properties.clone());
        PublishSpec {
            profile: placement.publish.clone(),
            self_contained: profile.self_contained,
            native: profile.native,
            properties,
        }
    }

    /// The frameworks an image of `role` carries in `variant`, including those of the images
    /// below it.
    pub fn frameworks_below(&self, variant: &Variant, role: ImageRole) -> Vec<Framework> {
        let mut frameworks = Vec::new();
        let mut current = role;
        // At most one step per image, so parents in a circle (which the catalog check
        // refuses) cannot loop forever.
        for _ in 0..=variant.images.len() {
            let Some(image) = variant.images.get(&current) else {
                break;
            };
            frameworks.extend(image.frameworks.iter().copied());
            current = image.parent;
        }
        frameworks.sort();
        frameworks.dedup();
        frameworks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }

    /// A copy of the project's catalog with `variants.toml` changed by `edit`.
    fn load_edited(edit: impl Fn(String) -> String) -> Result<Catalog, CatalogError> {
        let experiments = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(copy.path().join("apps")).unwrap();
        std::fs::copy(
            experiments.join("apps/apps.toml"),
            copy.path().join("apps/apps.toml"),
        )
        .unwrap();
        std::fs::copy(
            experiments.join("dotnet.toml"),
            copy.path().join("dotnet.toml"),
        )
        .unwrap();
        std::fs::copy(
            experiments.join("recipes.toml"),
            copy.path().join("recipes.toml"),
        )
        .unwrap();
        copy_dir(&experiments.join("recipes"), &copy.path().join("recipes"));
        let text = std::fs::read_to_string(experiments.join("variants.toml")).unwrap();
        std::fs::write(copy.path().join("variants.toml"), edit(text)).unwrap();
        Catalog::load(copy.path())
    }

    #[test]
    fn publish_profiles_merge_with_placement_properties() {
        let catalog = load_edited(|text| text).unwrap();
        let placement = &catalog.variants["native-aot-distroless-icu"].apps[&AppKind::Console];
        let spec = catalog.publish_spec(placement);
        assert_eq!(spec.profile, "native-aot");
        assert!(spec.self_contained && spec.native);
        assert!(spec.enabled("PublishAot"));
        assert_eq!(spec.properties["InvariantGlobalization"], "false");
        let trimmed = catalog
            .publish_spec(&catalog.variants["self-contained-trimmed"].apps[&AppKind::Webapi]);
        assert!(trimmed.enabled("PublishTrimmed") && !trimmed.native);
        let default =
            catalog.publish_spec(&catalog.variants["no-composite"].apps[&AppKind::Console]);
        assert_eq!(default.profile, "framework-dependent");
        assert!(!default.self_contained && default.properties.is_empty());
    }

    #[test]
    fn an_unknown_publish_profile_is_named_with_the_allowed_ones() {
        let error = load_edited(|text| text.replace("publish = \"native-aot\" }\napps.webapi = { on = \"runtime-deps\", publish = \"native-aot\" }\n\n[variants.native-aot-distroless]", "publish = \"aot\" }\napps.webapi = { on = \"runtime-deps\", publish = \"native-aot\" }\n\n[variants.native-aot-distroless]"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown publish profile `aot`"), "{error}");
        assert!(
            error.contains(
                "allowed: framework-dependent, native-aot, self-contained, self-contained-trimmed"
            ),
            "{error}"
        );
        assert!(
            error.contains("variants.toml:"),
            "the place is named: {error}"
        );
    }

    #[test]
    fn an_unknown_base_and_impossible_placements_are_refused() {
        let error =
            load_edited(|text| text.replacen("base = \"distroless\"", "base = \"alpine\"", 1))
                .unwrap_err()
                .to_string();
        assert!(
            error.contains("unknown base `alpine`")
                && error.contains("allowed: distroless, distroless-icu, slim, slim-icu"),
            "{error}"
        );
        let error = load_edited(|text| {
            text.replace(
                "apps.console = { on = \"runtime-deps\", publish = \"self-contained\" }",
                "apps.console = { on = \"runtime-deps\" }",
            )
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("a framework-dependent app cannot stand on runtime-deps"),
            "{error}"
        );
        let error = load_edited(|text| text.replace("apps.console = { on = \"runtime-deps\", publish = \"native-aot\" }\napps.webapi = { on = \"runtime-deps\", publish = \"native-aot\" }\n\n[variants.native-aot-distroless]", "apps.console = { on = \"runtime-deps\", publish = \"native-aot\", composite = true }\napps.webapi = { on = \"runtime-deps\", publish = \"native-aot\" }\n\n[variants.native-aot-distroless]"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`composite = true` needs a self-contained, non-native publish profile"),
            "{error}"
        );
    }
}
