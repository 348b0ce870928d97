//! The plan: a scenario expanded into the images to build, in dependency order.
//!
//! Each variant defines a chain of images; images that are the same in several variants (same
//! content on the same parent, such as the runtime-deps image or the composite runtime image
//! of variants 2-4) are planned once and tagged for every variant that uses them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::catalog::{AppKind, Catalog, CompositeSpec, Framework, ImageRole, PublishSpec};
use crate::scenario::Scenario;

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
    },
}

/// One image to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedImage {
    /// Unique id within the plan, e.g. `runtime-composite.runtime`.
    pub id: String,
    /// Role name: `runtime-deps`, `runtime`, `aspnet`, `sdk`, or the app kind.
    pub role: String,
    /// Variants (scenario order) this image belongs to.
    pub variants: Vec<String>,
    /// What it stands on.
    pub parent: Parent,
    /// What it adds.
    pub content: Content,
    /// Tags, one per variant: `r2r/<scenario>:<variant>-<role>`.
    pub tags: Vec<String>,
}

impl PlannedImage {
    /// The first tag, used to refer to the image.
    pub fn reference(&self) -> &str {
        &self.tags[0]
    }

    /// Labels that identify the image (the input hash is added at build time).
    pub fn labels(&self, scenario: &Scenario) -> BTreeMap<String, String> {
        BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SCENARIO.to_string(), scenario.name.clone()),
            (labels::VARIANTS.to_string(), self.variants.join(",")),
            (labels::ROLE.to_string(), self.role.clone()),
            (labels::IMAGE.to_string(), self.id.clone()),
            (labels::DOTNET.to_string(), scenario.dotnet.clone()),
        ])
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
    pub fn bases(&self, catalog: &Catalog) -> Vec<crate::scenario::Base> {
        let mut bases = vec![self.scenario.base.clone()];
        for image in &self.images {
            let Parent::Base(reference) = &image.parent else { continue };
            if bases.iter().any(|base| base.image() == reference) {
                continue;
            }
            if let Some((name, local)) = catalog.bases.iter().find(|(_, local)| &local.image == reference) {
                bases.push(crate::scenario::Base::Local {
                    name: name.clone(),
                    image: local.image.clone(),
                    script_args: local.script_args.clone(),
                    icu: local.icu,
                });
            }
        }
        bases
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
        let _ = writeln!(
            out,
            "scenario {} (.NET {}, base {}, {} images)",
            scenario.name,
            scenario.dotnet,
            scenario.base.image(),
            self.images.len()
        );
        for (index, image) in self.images.iter().enumerate() {
            let parent = match &image.parent {
                Parent::Base(reference) => reference.clone(),
                Parent::Image(id) => id.clone(),
            };
            let _ = writeln!(out, "{:>3}. {}  on {}", index + 1, image.id, parent);
            let _ = writeln!(out, "     adds: {}", describe_content(&image.content));
            let _ = writeln!(out, "     tags: {}", image.tags.join(", "));
        }
        out
    }
}

fn framework_list(frameworks: &[Framework]) -> String {
    frameworks.iter().map(|f| f.shared_name()).collect::<Vec<_>>().join(" + ")
}

fn describe_content(content: &Content) -> String {
    match content {
        Content::RuntimeDeps => "runtime-deps settings".to_string(),
        Content::Frameworks { frameworks, composite, with_host, .. } => {
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
        Content::App { app, publish, composite, .. } => format!(
            "app {app}, {}{}{}",
            publish.profile,
            publish.properties.iter().map(|(k, v)| format!(" {k}={v}")).collect::<String>(),
            if *composite { ", app + runtime in one composite" } else { "" }
        ),
    }
}

/// Expands a scenario into a plan.
pub fn expand(scenario: &Scenario, catalog: &Catalog) -> Plan {
    let mut builder = Builder { scenario, images: Vec::new(), keys: BTreeMap::new() };
    for variant_name in &scenario.variants {
        let variant = &catalog.variants[variant_name];
        // A variant may stand on a base of its own (e.g. distroless beside the full base).
        let base = match &variant.base {
            Some(name) => catalog.bases[name].image.clone(),
            None => scenario.base.image().to_string(),
        };
        let deps = builder.add(variant_name, "runtime-deps", Parent::Base(base), Content::RuntimeDeps);
        let mut by_role: BTreeMap<ImageRole, String> = BTreeMap::from([(ImageRole::RuntimeDeps, deps)]);
        // Framework images in an order where parents come first.
        let mut pending: Vec<ImageRole> = variant.images.keys().copied().collect();
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|role| {
                let image = &variant.images[role];
                let Some(parent) = by_role.get(&image.parent).cloned() else { return true };
                let content = Content::Frameworks {
                    frameworks: image.frameworks.clone(),
                    composite: image.composite.clone(),
                    with_host: image.parent == ImageRole::RuntimeDeps,
                    frameworks_below: catalog.frameworks_below(variant, *role),
                };
                let id = builder.add(variant_name, role.name(), Parent::Image(parent), content);
                by_role.insert(*role, id);
                false
            });
            assert!(pending.len() < before, "catalog check guarantees that every parent exists");
        }
        if scenario.sdk {
            if let Some(aspnet) = by_role.get(&ImageRole::Aspnet).cloned() {
                builder.add(variant_name, "sdk", Parent::Image(aspnet), Content::Sdk);
            }
        }
        for app_name in &scenario.apps {
            let app = &catalog.apps[app_name];
            let Some(placement) = variant.apps.get(&app.kind) else { continue };
            let parent = by_role[&placement.on].clone();
            let content = Content::App {
                app: app_name.clone(),
                kind: app.kind,
                publish: catalog.publish_spec(placement),
                composite: placement.composite,
            };
            builder.add(variant_name, app_name, Parent::Image(parent), content);
        }
    }
    Plan { scenario: scenario.clone(), images: builder.images }
}

struct Builder<'a> {
    scenario: &'a Scenario,
    images: Vec<PlannedImage>,
    /// Canonical content key -> image id, to plan identical images once.
    keys: BTreeMap<String, String>,
}

impl Builder<'_> {
    fn add(&mut self, variant: &str, role: &str, parent: Parent, content: Content) -> String {
        let key = format!("{role}|{parent:?}|{content:?}");
        let tag = format!("r2r/{}:{variant}-{role}", self.scenario.name);
        if let Some(id) = self.keys.get(&key) {
            let image = self.images.iter_mut().find(|image| &image.id == id).expect("key points at an image");
            if !image.variants.iter().any(|v| v == variant) {
                image.variants.push(variant.to_string());
                image.tags.push(tag);
            }
            return id.clone();
        }
        let id = match (&content, &parent) {
            // One runtime-deps per base: the scenario's is `runtime-deps`, another base's is
            // named after the variant that asks for it.
            (Content::RuntimeDeps, Parent::Base(base)) if *base == self.scenario.base.image() => role.to_string(),
            (Content::RuntimeDeps, _) => format!("{variant}.{role}"),
            _ => format!("{variant}.{role}"),
        };
        self.keys.insert(key, id.clone());
        self.images.push(PlannedImage {
            id: id.clone(),
            role: role.to_string(),
            variants: vec![variant.to_string()],
            parent,
            content,
            tags: vec![tag],
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
        let scenario = crate::scenario::parse(Path::new("t.toml"), &text, &catalog).unwrap();
        expand(&scenario, &catalog)
    }

    fn assert_parents_first(plan: &Plan) {
        for (index, image) in plan.images.iter().enumerate() {
            if let Parent::Image(parent) = &image.parent {
                let position = plan.images.iter().position(|i| &i.id == parent).expect("parent planned");
                assert!(position < index, "{} planned before its parent {parent}", image.id);
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
        assert_eq!(plan.images[0].tags, ["r2r/t:no-composite-runtime-deps", "r2r/t:runtime-composite-runtime-deps"]);
        assert_parents_first(&plan);
    }

    #[test]
    fn full_matrix_dedups_the_composite_runtime_and_places_apps() {
        let plan = plan_for(
            &["no-composite", "runtime-composite", "aspnet-composite", "composed-composite", "selfcontained-composite"],
            &["console", "webapi"],
            true,
        );
        assert_parents_first(&plan);
        let runtime = plan.image("runtime-composite.runtime").unwrap();
        assert_eq!(runtime.variants, ["runtime-composite", "aspnet-composite", "composed-composite"]);
        // The aspnet composite stands on runtime-deps; the composed one on the composite runtime.
        assert_eq!(plan.image("aspnet-composite.aspnet").unwrap().parent, Parent::Image("runtime-deps".into()));
        assert_eq!(
            plan.image("composed-composite.aspnet").unwrap().parent,
            Parent::Image("runtime-composite.runtime".into())
        );
        // The console app on the composite runtime is one image for three variants.
        assert_eq!(plan.image("runtime-composite.console").unwrap().tags.len(), 3);
        // Self-contained apps stand on runtime-deps; that variant has no sdk (no aspnet image).
        assert_eq!(plan.image("selfcontained-composite.webapi").unwrap().parent, Parent::Image("runtime-deps".into()));
        assert!(plan.image("selfcontained-composite.sdk").is_none());
        assert!(plan.image("aspnet-composite.sdk").is_some());
        let dependents = plan.dependents_of("runtime-composite.runtime");
        assert!(dependents.contains(&"composed-composite.webapi".to_string()), "{dependents:?}");
        assert!(!dependents.contains(&"aspnet-composite.webapi".to_string()), "{dependents:?}");
        assert!(plan.describe().contains("composite of Microsoft.AspNetCore.App referencing Microsoft.NETCore.App"));
    }

    #[test]
    fn variants_on_their_own_base_get_their_own_runtime_deps() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let scenario = crate::scenario::load(&root.join("scenarios/size-report-net10.toml"), &catalog).unwrap();
        let plan = expand(&scenario, &catalog);
        assert_parents_first(&plan);
        let deps: Vec<(&str, &str)> = plan
            .images
            .iter()
            .filter(|i| i.role == "runtime-deps")
            .map(|i| (i.id.as_str(), match &i.parent { Parent::Base(base) => base.as_str(), Parent::Image(_) => "" }))
            .collect();
        assert_eq!(
            deps,
            [
                ("runtime-deps", "r2r/base:bookworm-slim"),
                ("framework-dependent-distroless.runtime-deps", "r2r/base:bookworm-distroless"),
                ("framework-dependent-distroless-icu.runtime-deps", "r2r/base:bookworm-distroless-icu"),
            ]
        );
        let aot = plan.image("native-aot-distroless.console").unwrap();
        assert_eq!(plan.base_of(aot), "r2r/base:bookworm-distroless");
        assert!(matches!(&aot.content, Content::App { publish, .. } if publish.native));
        let bases: Vec<String> = plan.bases(&catalog).iter().map(|b| b.image().to_string()).collect();
        assert_eq!(bases, ["r2r/base:bookworm-slim", "r2r/base:bookworm-distroless", "r2r/base:bookworm-distroless-icu"]);
        // 3 runtime-deps, runtime + aspnet on each of the 3 bases, 10 variants x 2 apps.
        assert_eq!(plan.images.len(), 3 + 3 * 2 + 10 * 2);
    }
}
