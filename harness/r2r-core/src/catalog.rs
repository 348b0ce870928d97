//! The experiment catalog: what can be built.
//!
//! Read from `experiments/`: `variants.toml` (each variant's images, which frameworks go into
//! which composite, which image each stands on), `apps/apps.toml` (the sample apps) and
//! `dotnet.toml` (the .NET versions whose packs are known to be served, and the local bases).
//! The catalog is data; the plan expander turns it and a scenario into images to build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::toml_source::{self, SourceError};

/// A shared framework that an image can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    /// `Microsoft.NETCore.App`, the .NET runtime.
    Runtime,
    /// `Microsoft.AspNetCore.App`, ASP.NET Core.
    Aspnet,
}

impl Framework {
    /// The shared framework's directory name under `shared/`.
    pub fn shared_name(self) -> &'static str {
        match self {
            Framework::Runtime => "Microsoft.NETCore.App",
            Framework::Aspnet => "Microsoft.AspNetCore.App",
        }
    }

    /// The NuGet runtime pack that carries this framework for linux-x64.
    pub fn runtime_pack(self) -> &'static str {
        match self {
            Framework::Runtime => "Microsoft.NETCore.App.Runtime.linux-x64",
            Framework::Aspnet => "Microsoft.AspNetCore.App.Runtime.linux-x64",
        }
    }
}

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

/// How an app is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Publish {
    /// Framework-dependent: the app's own assemblies, run by the image's `dotnet`.
    FrameworkDependent,
    /// Self-contained: app and runtime in the app's directory, no shared framework needed.
    SelfContained,
}

/// Where and how an app is placed in a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPlacement {
    /// The role of the image the app image stands on.
    pub on: ImageRole,
    /// How the app is published.
    #[serde(default = "default_publish")]
    pub publish: Publish,
    /// Whether app and framework are compiled into one composite (self-contained only).
    #[serde(default)]
    pub composite: bool,
}

fn default_publish() -> Publish {
    Publish::FrameworkDependent
}

/// One variant of the experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// One line on what the variant is.
    pub summary: String,
    /// Framework images by role (`runtime`, `aspnet`).
    #[serde(default)]
    pub images: BTreeMap<ImageRole, FrameworkImage>,
    /// App placements by app kind (`console`, `webapi`).
    pub apps: BTreeMap<AppKind, AppPlacement>,
}

/// The kind of a sample app, which decides how it is run and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// Prints a line and exits 0.
    Console,
    /// Serves HTTP on 127.0.0.1 at the port in `PORT`.
    Webapi,
}

impl AppKind {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Console => "console",
            AppKind::Webapi => "webapi",
        }
    }
}

/// A sample app of `experiments/apps/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// What kind of app it is.
    pub kind: AppKind,
    /// The project file, relative to `experiments/apps/`.
    pub project: PathBuf,
    /// The assembly name (the `.dll` file without extension).
    pub assembly: String,
    /// Which frameworks the app needs.
    pub frameworks: Vec<Framework>,
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
    versions: Vec<String>,
    bases: BTreeMap<String, LocalBase>,
}

/// Everything `experiments/` defines.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The `experiments/` directory the catalog was read from.
    pub root: PathBuf,
    /// Variants by name, in name order.
    pub variants: BTreeMap<String, Variant>,
    /// Apps by name.
    pub apps: BTreeMap<String, App>,
    /// Supported .NET versions (exact patch versions).
    pub dotnet_versions: Vec<String>,
    /// Local bases by name (`slim`, `distroless`, ...).
    pub bases: BTreeMap<String, LocalBase>,
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
}

fn read(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Read { path: path.to_path_buf(), source })
}

impl Catalog {
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
        let catalog = Catalog {
            root: root.to_path_buf(),
            variants: variants.variants,
            apps: apps.apps,
            dotnet_versions: dotnet.versions,
            bases: dotnet.bases,
        };
        catalog.check(&variants_path, &variants_text)?;
        Ok(catalog)
    }

    /// Checks that every variant's images stand on images that exist and that composites
    /// only include frameworks their image carries.
    fn check(&self, path: &Path, text: &str) -> Result<(), SourceError> {
        for (name, variant) in &self.variants {
            let at = |message: String| {
                let offset = toml_source::key_offset(text, &format!("[variants.{name}")).unwrap_or(0);
                SourceError::at_offset(path, text, offset, message)
            };
            let available = |role: ImageRole| role == ImageRole::RuntimeDeps || variant.images.contains_key(&role);
            for (role, image) in &variant.images {
                if !available(image.parent) || image.parent == *role {
                    return Err(at(format!(
                        "variant `{name}`: image `{}` stands on `{}`, which the variant does not define",
                        role.name(),
                        image.parent.name()
                    )));
                }
                if let Some(composite) = &image.composite {
                    if let Some(missing) = composite.include.iter().find(|f| !image.frameworks.contains(f)) {
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
                if placement.composite && placement.publish != Publish::SelfContained {
                    return Err(at(format!(
                        "variant `{name}`: app `{}`: `composite = true` needs `publish = \"self-contained\"`",
                        app.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The frameworks an image of `role` carries in `variant`, including those of the images
    /// below it.
    pub fn frameworks_below(&self, variant: &Variant, role: ImageRole) -> Vec<Framework> {
        let mut frameworks = Vec::new();
        let mut current = role;
        while let Some(image) = variant.images.get(&current) {
            frameworks.extend(image.frameworks.iter().copied());
            current = image.parent;
        }
        frameworks.sort();
        frameworks.dedup();
        frameworks
    }
}
