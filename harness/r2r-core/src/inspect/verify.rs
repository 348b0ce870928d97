//! Proving that each built image is what its variant claims.
//!
//! Two kinds of evidence per image:
//! - its files, read from the image archive: the composite file is present, every assembly
//!   of a composite framework is a component of it (ReadyToRun header flags), frameworks
//!   "as shipped" are compiled one assembly at a time, the app is where it should be;
//! - its behaviour, in a fresh container: `dotnet --list-runtimes` for framework images, the
//!   app's own output for app images (console: `--network none`; web API: host network, probed
//!   on 127.0.0.1 only), and the number of methods the JIT compiled compared with a run where
//!   ReadyToRun code is disabled, which shows the precompiled code is actually used.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::containers;
use crate::engine::{ContainerSpec, Engine, Network};
use crate::inspect::archive::{self, ImageFilesystem};
use crate::inspect::readytorun::AssemblyKind;
use crate::model::catalog::{AppKind, Catalog, Framework, PublishSpec};
use crate::model::plan::{labels, Content, Parent, Plan, PlannedImage};
use crate::support::probe;

/// One check of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked: `files`, `run`, `precompiled`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// All checks of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageVerification {
    /// The plan id.
    pub id: String,
    /// The image reference checked.
    pub reference: String,
    /// The variants it belongs to.
    pub variants: Vec<String>,
    /// Its role.
    pub role: String,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// Whether its behaviour was checked under emulation (an image of another platform than
    /// the machine's, run through binfmt_misc and QEMU); absent when it ran natively.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emulated: bool,
}

impl ImageVerification {
    /// Whether every check passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|check| check.passed)
    }
}

/// How a framework directory is expected to be compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// Every assembly compiled on its own (as shipped).
    AsShipped,
    /// All assemblies components of one composite; frameworks with the same group share it.
    Composite {
        /// Index of the composite group.
        group: usize,
    },
}

/// Settings of a verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Time-out of one container run.
    pub run_timeout: Duration,
    /// Memory limit of verification containers, bytes.
    pub memory_limit_bytes: i64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            run_timeout: Duration::from_secs(90),
            memory_limit_bytes: 1 << 30,
        }
    }
}

/// The expected compilation of every framework an image carries, walking its chain: the
/// image highest in the chain that lays a framework out decides.
pub fn expectations(plan: &Plan, image: &PlannedImage) -> BTreeMap<Framework, Expectation> {
    let mut result = BTreeMap::new();
    let mut group = 0;
    let mut current = Some(image);
    while let Some(step) = current {
        if let Content::Frameworks {
            frameworks,
            composite,
            recipe,
            ..
        } = &step.content
        {
            let composite_group = composite.as_ref().map(|_| {
                group += 1;
                group
            });
            for framework in frameworks {
                // A recipe may leave some of the composite's frameworks as shipped.
                let compiled = composite.as_ref().is_some_and(|spec| {
                    spec.include.contains(framework)
                        && !recipe
                            .as_ref()
                            .is_some_and(|recipe| recipe.reference_frameworks.contains(framework))
                });
                let expectation = match (compiled, composite_group) {
                    (true, Some(group)) => Expectation::Composite { group },
                    _ => Expectation::AsShipped,
                };
                result.entry(*framework).or_insert(expectation);
            }
        }
        current = match &step.parent {
            Parent::Image(parent) => plan.image(parent),
            Parent::Base(_) => None,
        };
    }
    result
}

fn framework_dir(framework: Framework, version: &str) -> String {
    format!(
        "usr/share/dotnet/shared/{}/{version}",
        framework.shared_name()
    )
}

fn managed_kinds<'a>(fs: &'a ImageFilesystem, dir: &str) -> Vec<(&'a str, &'a AssemblyKind)> {
    fs.list(dir)
        .filter(|record| record.path.ends_with(".dll"))
        .filter_map(|record| match &record.assembly {
            Some(Ok(kind)) => Some((record.path.as_str(), kind)),
            _ => None,
        })
        .collect()
}

/// Resolves a component's owner reference (relative to the component's directory).
fn resolve_owner(component_path: &str, owner: &str) -> Option<String> {
    let dir = component_path
        .rsplit_once('/')
        .map(|(dir, _)| dir)
        .unwrap_or("");
    archive::normalise(&format!("{dir}/{owner}"))
}

/// Where the runtime finds a component's composite: next to the component, or else among the
/// composites already loaded, of which the first is the one System.Private.CoreLib belongs to
/// (so it lives beside CoreLib).
fn locate_owner(fs: &ImageFilesystem, component_path: &str, owner: &str) -> Option<String> {
    let beside = resolve_owner(component_path, owner)?;
    if fs.get(&beside).is_some() {
        return Some(beside);
    }
    let corelib = fs
        .files
        .keys()
        .find(|path| path.ends_with("/System.Private.CoreLib.dll"))?;
    resolve_owner(corelib, owner)
        .filter(|path| fs.get(path).is_some())
        .or(Some(beside))
}

/// Checks one directory against an expectation; returns (passed, detail, composite file).
pub fn check_directory(
    fs: &ImageFilesystem,
    dir: &str,
    expectation: Expectation,
) -> (bool, String, Option<String>) {
    let kinds = managed_kinds(fs, dir);
    if kinds.is_empty() {
        return (false, format!("{dir}: no assemblies"), None);
    }
    let count = |label: &str| {
        kinds
            .iter()
            .filter(|(_, kind)| kind.label() == label)
            .count()
    };
    let summary = format!(
        "{} assemblies (r2r {}, component {}, composite {}, il-only {})",
        kinds.len(),
        count("r2r"),
        count("component"),
        count("composite"),
        count("il-only")
    );
    match expectation {
        Expectation::AsShipped => {
            let passed = count("component") == 0 && count("composite") == 0 && count("r2r") > 0;
            (passed, format!("{dir}: as shipped, {summary}"), None)
        }
        Expectation::Composite { .. } => {
            let mut owners: BTreeMap<String, usize> = BTreeMap::new();
            let mut strays = Vec::new();
            for (path, kind) in &kinds {
                match kind {
                    AssemblyKind::CompositeComponent {
                        owner_composite, ..
                    } => match locate_owner(fs, path, owner_composite) {
                        Some(owner) => *owners.entry(owner).or_default() += 1,
                        None => strays.push(format!(
                            "{path} (owner {owner_composite} escapes the image)"
                        )),
                    },
                    AssemblyKind::CompositeImage { .. } => {}
                    _ => strays.push(format!("{path} ({})", kind.label())),
                }
            }
            let owner = if owners.len() == 1 {
                owners.keys().next().cloned()
            } else {
                None
            };
            let owner_ok = owner.as_ref().is_some_and(|owner| {
                matches!(
                    fs.get(owner).and_then(|record| record.assembly.as_ref()),
                    Some(Ok(AssemblyKind::CompositeImage { .. }))
                )
            });
            let mut detail = format!(
                "{dir}: {summary}; composite {}",
                owner.clone().unwrap_or_else(|| format!("{owners:?}"))
            );
            if !owner_ok {
                detail.push_str(" — composite file missing or not a composite image");
            }
            if !strays.is_empty() {
                detail.push_str(&format!(
                    "; not components: {}",
                    strays
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            (owner_ok && strays.is_empty(), detail, owner)
        }
    }
}

/// The recipe check of an image whose own frameworks are compiled into a composite: see
/// [`check_recipe`]. `None` for other images.
pub fn check_image_recipe(
    plan: &Plan,
    catalog: &Catalog,
    image: &PlannedImage,
    fs: &ImageFilesystem,
) -> Option<Check> {
    let Content::Frameworks {
        composite: Some(spec),
        recipe,
        ..
    } = &image.content
    else {
        return None;
    };
    let recipe = recipe
        .as_ref()
        .unwrap_or(&catalog.recipes[crate::model::recipe::DEFAULT_RECIPE]);
    Some(check_recipe(fs, &plan.scenario.dotnet, spec, recipe))
}

/// Proves that a composite was compiled by `recipe`, from the image's files: every assembly
/// the recipe leaves out (`-r`, single or whole frameworks) kept its own ReadyToRun code;
/// every other assembly of the compiled frameworks is a component of one composite file that
/// is present; every root has compiled methods in that composite; and the composite header's
/// facts match the recipe: embedded profile data (`--embed-pgo-data`). Roots whose method
/// bodies have no entry points of their own are counted, not failed (generic methods are
/// compiled as instantiations elsewhere in the image). The version-bubble and partial flags are reported (crossgen2 sets the former on
/// every composite); the instruction set and the optimisation switch leave no mark in the
/// ReadyToRun header, so the detail says so instead.
pub fn check_recipe(
    fs: &ImageFilesystem,
    version: &str,
    spec: &crate::model::catalog::CompositeSpec,
    recipe: &crate::model::recipe::Recipe,
) -> Check {
    use crate::inspect::composite::{FLAG_PARTIAL, SECTION_PGO_INSTRUMENTATION_DATA};
    use crate::inspect::readytorun::FLAG_MULTIMODULE_VERSION_BUBBLE;
    let compiled = crate::build::dotnet::compiled_frameworks(spec, recipe);
    let mut problems: Vec<String> = Vec::new();
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    let mut components: Vec<String> = Vec::new();
    let mut methods: BTreeMap<String, u32> = BTreeMap::new();
    let mut kept = 0;
    for framework in &spec.include {
        let dir = framework_dir(*framework, version);
        for (path, kind) in managed_kinds(fs, &dir) {
            let name = path
                .rsplit('/')
                .next()
                .unwrap_or(path)
                .trim_end_matches(".dll")
                .to_string();
            let left_out = !compiled.contains(framework) || recipe.is_reference(&name);
            match kind {
                AssemblyKind::CompositeImage { .. } => {}
                // Left out: as shipped (facades ship without ReadyToRun code).
                AssemblyKind::ReadyToRun { .. } | AssemblyKind::IlOnly if left_out => kept += 1,
                AssemblyKind::CompositeComponent {
                    owner_composite, ..
                } if !left_out => {
                    match locate_owner(fs, path, owner_composite)
                        .filter(|owner| fs.get(owner).is_some())
                    {
                        Some(owner) => *owners.entry(owner).or_default() += 1,
                        None => problems.push(format!(
                            "component {name}: its composite {owner_composite} is missing"
                        )),
                    }
                    if let Some(count) = fs.get(path).and_then(|record| record.method_definitions) {
                        methods.insert(name.clone(), count);
                    }
                    components.push(name);
                }
                other if left_out => problems.push(format!(
                    "{name} should keep its shipped ReadyToRun code (-r) but is {}",
                    other.label()
                )),
                other if recipe.is_root(&name) => problems.push(format!(
                    "root {name} is {}, not a component of the composite",
                    other.label()
                )),
                other => problems.push(format!(
                    "{name} is {}, not a component of the composite",
                    other.label()
                )),
            }
        }
    }
    let mut facts_text = String::new();
    match owners.len() {
        0 if compiled.is_empty() => {}
        1 => {
            let owner = owners.keys().next().cloned().unwrap_or_default();
            match fs.get(&owner).and_then(|record| record.composite.as_ref()) {
                None => problems.push(format!("{owner} is not a readable composite image")),
                Some(facts) => {
                    let mut roots = 0;
                    let mut roots_without_entry_points: Vec<String> = Vec::new();
                    let mut fewest: Option<(u32, String)> = None;
                    let mut unrooted_with_code = 0;
                    for name in &components {
                        let component = facts.component(name);
                        let code = component.map(|c| c.compiled_methods);
                        if recipe.is_root(name) {
                            roots += 1;
                            match component {
                                Some(c) if c.compiled_methods > 0 => {
                                    let count = c.compiled_methods;
                                    if fewest.as_ref().is_none_or(|(least, _)| count < *least) {
                                        fewest = Some((count, name.clone()));
                                    }
                                }
                                // Without entry points of its own: a facade, an assembly of
                                // interfaces or of generic methods only (their code is
                                // instantiated elsewhere), or outside a partial profile.
                                Some(_) => {
                                    if methods.get(name).is_some_and(|count| *count > 0) {
                                        roots_without_entry_points.push(name.clone());
                                    }
                                }
                                None => problems.push(format!(
                                    "root {name} is not among the components {owner} lists"
                                )),
                            }
                        } else if code.is_some_and(|count| count > 0) {
                            unrooted_with_code += 1;
                        }
                    }
                    if facts.components.len() != components.len() {
                        problems.push(format!(
                            "{owner} lists {} components, the image has {}",
                            facts.components.len(),
                            components.len()
                        ));
                    }
                    // crossgen2 sets the version-bubble flag on every composite, with or
                    // without --inputbubble: reported, not checked.
                    let bubble = facts.flags & FLAG_MULTIMODULE_VERSION_BUBBLE != 0;
                    let partial = facts.flags & FLAG_PARTIAL != 0;
                    let pgo = facts.sections.contains(&SECTION_PGO_INSTRUMENTATION_DATA);
                    if recipe.embed_pgo_data && !pgo {
                        problems.push("no embedded profile data section (--embed-pgo-data)".into());
                    }
                    facts_text = format!(
                        "; {roots} roots, {} with method bodies but no entry points of their own{}; fewest entry points: {}; {} unrooted inputs ({unrooted_with_code} with code); header: version bubble {bubble}, partial flag {partial}, profile data {pgo}; instruction set and optimisation are not recorded in the header",
                        roots_without_entry_points.len(),
                        if roots_without_entry_points.is_empty() {
                            String::new()
                        } else {
                            format!(" (e.g. {})", roots_without_entry_points.iter().take(3).cloned().collect::<Vec<_>>().join(", "))
                        },
                        fewest
                            .map(|(count, name)| format!("{name} {count} methods"))
                            .unwrap_or_else(|| "none".into()),
                        components.len() - roots,
                    );
                }
            }
        }
        _ => problems.push(format!(
            "components point at {} composites: {:?}",
            owners.len(),
            owners.keys().collect::<Vec<_>>()
        )),
    }
    let passed = problems.is_empty();
    let mut detail = format!(
        "recipe {} ({}): {} components of {}, {kept} assemblies left as shipped{facts_text}",
        recipe.name,
        recipe.flags_text(),
        components.len(),
        owners.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    if !passed {
        detail.push_str(&format!(
            "; NOT HONOURED: {}",
            problems
                .iter()
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    Check {
        name: "recipe".into(),
        passed,
        detail,
    }
}

/// An [`ImageFilesystem`] of a directory on this machine (a prepared root file system):
/// every regular file under it, `.dll` files under `usr/share/dotnet/` and `app/`
/// classified as the image reader would.
pub fn read_directory(root: &std::path::Path) -> std::io::Result<ImageFilesystem> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let metadata = entry.metadata()?;
            let (mut assembly, mut composite, mut method_definitions) = (None, None, None);
            let mut code = None;
            if relative.ends_with(".dll")
                && (relative.starts_with("usr/share/dotnet/") || relative.starts_with("app/"))
            {
                let bytes = std::fs::read(&path)?;
                let kind = crate::inspect::readytorun::classify(&bytes)
                    .map_err(|error| archive::InspectError::Unreadable(error.to_string()));
                if matches!(kind, Ok(AssemblyKind::CompositeImage { .. })) {
                    composite = crate::inspect::composite::composite_facts(&bytes)
                        .ok()
                        .flatten();
                }
                if matches!(kind, Ok(AssemblyKind::CompositeComponent { .. })) {
                    method_definitions = crate::inspect::composite::method_definitions(&bytes);
                }
                code = crate::inspect::readytorun::precompiled_code(&kind, &bytes);
                assembly = Some(kind);
            }
            use std::os::unix::fs::PermissionsExt;
            files.insert(
                relative.clone(),
                archive::FileRecord {
                    path: relative,
                    layer: 0,
                    size_bytes: metadata.len(),
                    file_type: archive::FileType::Regular,
                    mode: metadata.permissions().mode() & 0o7777,
                    code,
                    assembly,
                    composite,
                    method_definitions,
                },
            );
        }
    }
    Ok(ImageFilesystem {
        layers: Vec::new(),
        files,
    })
}

/// Whether a publish leaves IL without ReadyToRun code (trimmed, not republished ReadyToRun).
pub fn trimmed_il(publish: &PublishSpec) -> bool {
    publish.enabled("PublishTrimmed") && !publish.enabled("PublishReadyToRun")
}

/// The file checks of an image, from its archive view.
pub fn check_files(
    plan: &Plan,
    catalog: &Catalog,
    image: &PlannedImage,
    fs: &ImageFilesystem,
) -> Check {
    let version = &plan.scenario.dotnet;
    let mut passed = true;
    let mut details = Vec::new();
    let mut group_files: BTreeMap<usize, String> = BTreeMap::new();
    for (framework, expectation) in expectations(plan, image) {
        let dir = framework_dir(framework, version);
        let (ok, detail, composite) = check_directory(fs, &dir, expectation);
        passed &= ok;
        details.push(detail);
        if let (Expectation::Composite { group }, Some(file)) = (expectation, composite) {
            if let Some(other) = group_files.values().find(|other| **other == file) {
                if group_files.get(&group) != Some(other) {
                    passed = false;
                    details.push(format!(
                        "composite {file} is shared by frameworks expected in different composites"
                    ));
                }
            }
            if let Some(previous) = group_files.insert(group, file.clone()) {
                if previous != file {
                    passed = false;
                    details.push(format!(
                        "frameworks expected in one composite use two: {previous} and {file}"
                    ));
                }
            }
        }
    }
    match &image.content {
        Content::RuntimeDeps => {
            for library in [
                "libstdc++.so.6",
                "libssl.so.3",
                "libz.so.1",
                "libgcc_s.so.1",
            ] {
                let found = fs
                    .files
                    .keys()
                    .any(|path| path.rsplit('/').next() == Some(library));
                passed &= found;
                details.push(format!(
                    "{library} {}",
                    if found { "present" } else { "MISSING" }
                ));
            }
        }
        Content::App {
            app,
            publish,
            composite,
            ..
        } => {
            let assembly = &catalog.apps[app].assembly;
            let app_bytes: u64 = fs.list("app").map(|record| record.size_bytes).sum();
            details.push(format!("app/ {:.3} MB", app_bytes as f64 / 1e6));
            if publish.native {
                // Native AOT: one executable, no assemblies, no managed runtime anywhere.
                let executable = format!("app/{assembly}");
                let present = fs
                    .get(&executable)
                    .is_some_and(|record| record.mode & 0o111 != 0);
                passed &= present;
                details.push(format!(
                    "{executable} {}",
                    if present {
                        "present, executable"
                    } else {
                        "MISSING"
                    }
                ));
                let managed: Vec<&str> = fs
                    .files
                    .keys()
                    .filter(|path| {
                        path.ends_with(".dll")
                            || path.ends_with("/libcoreclr.so")
                            || path.ends_with("/libclrjit.so")
                    })
                    .map(String::as_str)
                    .take(5)
                    .collect();
                passed &= managed.is_empty();
                details.push(if managed.is_empty() {
                    "no managed runtime (no .dll, libcoreclr.so or libclrjit.so)".to_string()
                } else {
                    format!("managed runtime found: {}", managed.join(", "))
                });
            } else {
                let main = format!("app/{assembly}.dll");
                let present = fs.get(&main).is_some();
                passed &= present;
                details.push(format!(
                    "{main} {}",
                    if present { "present" } else { "MISSING" }
                ));
            }
            if publish.self_contained && !publish.native {
                if trimmed_il(publish) && !*composite {
                    // Trimming rewrites the assemblies as IL: no ReadyToRun code is expected.
                    let kinds = managed_kinds(fs, "app");
                    let composites = kinds
                        .iter()
                        .filter(|(_, kind)| {
                            matches!(
                                kind,
                                AssemblyKind::CompositeComponent { .. }
                                    | AssemblyKind::CompositeImage { .. }
                            )
                        })
                        .count();
                    passed &= !kinds.is_empty() && composites == 0;
                    details.push(format!("app: trimmed, {} assemblies", kinds.len()));
                } else {
                    let expectation = if *composite {
                        Expectation::Composite { group: 0 }
                    } else {
                        Expectation::AsShipped
                    };
                    let (ok, detail, _) = check_directory(fs, "app", expectation);
                    passed &= ok;
                    details.push(detail);
                }
            }
        }
        _ => {}
    }
    let self_contained =
        matches!(&image.content, Content::App { publish, .. } if publish.self_contained);
    if !matches!(image.content, Content::RuntimeDeps) && !self_contained {
        let hostfxr = fs
            .get(&format!(
                "usr/share/dotnet/host/fxr/{version}/libhostfxr.so"
            ))
            .is_some();
        if image.platform.is_default() {
            let host = fs.get("usr/share/dotnet/dotnet").is_some() && hostfxr;
            passed &= host;
            details.push(format!(
                "dotnet host {}",
                if host { "present" } else { "MISSING" }
            ));
        } else {
            // No `dotnet` command on this platform: hostfxr, and the app's own app host.
            passed &= hostfxr;
            details.push(format!(
                "hostfxr {} (no dotnet command on {})",
                if hostfxr { "present" } else { "MISSING" },
                image.platform
            ));
            if let Content::App { app, .. } = &image.content {
                let executable = format!("app/{}", catalog.apps[app].assembly);
                let present = fs
                    .get(&executable)
                    .is_some_and(|record| record.mode & 0o111 != 0);
                passed &= present;
                details.push(format!(
                    "app host {executable} {}",
                    if present {
                        "present, executable"
                    } else {
                        "MISSING"
                    }
                ));
            }
        }
    }
    if !image.platform.is_default() {
        let (ok, detail) = check_code_architecture(fs, image.platform);
        passed &= ok;
        details.push(detail);
    }
    Check {
        name: "files".into(),
        passed,
        detail: details.join("; "),
    }
}

/// The precompiled code of an image of another platform than x64 must be that platform's:
/// every ReadyToRun file, component and composite under `/usr/share/dotnet` and `/app` says
/// so in its PE machine field.
fn check_code_architecture(
    fs: &ImageFilesystem,
    platform: crate::model::platform::Platform,
) -> (bool, String) {
    use crate::inspect::readytorun::CodeArchitecture;
    let expected = match platform {
        crate::model::platform::Platform::LinuxAmd64 => CodeArchitecture::X64,
        crate::model::platform::Platform::LinuxArm64 => CodeArchitecture::Arm64,
    };
    let mut matching = 0usize;
    let mut other: Vec<String> = Vec::new();
    for record in fs.files.values() {
        match record.code {
            Some(code) if code == expected => matching += 1,
            Some(code) => other.push(format!("{} ({code:?})", record.path)),
            None => {}
        }
    }
    let ok = other.is_empty();
    let detail = if ok {
        format!(
            "{matching} precompiled files, all {}",
            platform.architecture()
        )
    } else {
        format!(
            "{} precompiled files are not {}: {}",
            other.len(),
            platform.architecture(),
            other.into_iter().take(5).collect::<Vec<_>>().join(", ")
        )
    };
    (ok, detail)
}

/// Reads an image's file system through the engine's export, classifying every `.dll` under
/// `/usr/share/dotnet` and `/app`.
pub async fn read_image(
    engine: &dyn Engine,
    reference: &str,
) -> Result<ImageFilesystem, archive::ExportError> {
    let inspect = |path: &str| {
        path.ends_with(".dll")
            && (path.starts_with("usr/share/dotnet/") || path.starts_with("app/"))
    };
    archive::parse_export(engine, &[reference.to_string()], move |reader| {
        archive::read_image_archive(reader, &inspect)
    })
    .await
}

/// The container verification starts from `image`: labelled, limited, as an unprivileged user
/// on a read-only root.
pub fn container_spec(
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
    network: Network,
) -> ContainerSpec {
    ContainerSpec {
        image: image.reference().to_string(),
        entrypoint: None,
        command: None,
        env: BTreeMap::new(),
        network,
        labels: BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SCENARIO.to_string(), plan.scenario.name.clone()),
            (labels::IMAGE.to_string(), image.id.clone()),
        ]),
        memory_limit_bytes: options.memory_limit_bytes,
        pids_limit: 512,
        user: Some(crate::engine::UNPRIVILEGED_USER.to_string()),
        read_only_root: true,
        cpuset_cpus: None,
        cgroup_parent: None,
        read_bps_limits: Vec::new(),
    }
}

/// Parses `key=<number>` from app output.
pub fn number_after(output: &str, key: &str) -> Option<f64> {
    let start = output.find(key)? + key.len();
    let rest = &output[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Runs the console app once; returns (check, jit method count).
async fn run_console(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
    r2r_disabled: bool,
) -> (Check, Option<f64>) {
    let mut container = container_spec(plan, image, options, Network::None);
    if r2r_disabled {
        container.env.insert("DOTNET_ReadyToRun".into(), "0".into());
    }
    match containers::run_to_exit(engine, &container, options.run_timeout).await {
        Err(error) => (
            Check {
                name: "run".into(),
                passed: false,
                detail: error.to_string(),
            },
            None,
        ),
        Ok(outcome) => {
            let output = format!("{}{}", outcome.logs.stdout, outcome.logs.stderr);
            let ok = outcome.exit_code == Some(0) && output.contains("r2r-console-ok");
            let jit = number_after(&output, "jit_methods=");
            let detail = if ok {
                let key = |name| crate::support::app_output::integer_after(&output, name);
                format!(
                    "exit 0 in {:.0?}; Main to ready {} ms; {} jitted methods",
                    outcome.elapsed,
                    key("r2r-main-ns=")
                        .zip(key("r2r-ready-ns="))
                        .map(|(main, ready)| format!(
                            "{:.1}",
                            crate::measure::startup::interval_ms(main, ready)
                        ))
                        .unwrap_or("?".into()),
                    jit.unwrap_or(f64::NAN)
                )
            } else {
                format!(
                    "exit {:?}; output: {}",
                    outcome.exit_code,
                    containers::tail(&output, 8)
                )
            };
            (
                Check {
                    name: "run".into(),
                    passed: ok,
                    detail,
                },
                jit,
            )
        }
    }
}

/// Runs the web API once: start, wait for HTTP 200 on 127.0.0.1, fetch `/releases`, remove.
async fn run_webapi(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
    r2r_disabled: bool,
) -> (Check, Option<f64>) {
    let fail = |detail: String| {
        (
            Check {
                name: "run".into(),
                passed: false,
                detail,
            },
            None,
        )
    };
    let port = match probe::free_port() {
        Ok(port) => port,
        Err(error) => return fail(format!("no free port on 127.0.0.1: {error}")),
    };
    let mut container = container_spec(plan, image, options, Network::Host);
    container.env.insert("PORT".into(), port.to_string());
    if r2r_disabled {
        container.env.insert("DOTNET_ReadyToRun".into(), "0".into());
    }
    let id = match containers::start(engine, &container).await {
        Ok(id) => id,
        Err(error) => return fail(error.to_string()),
    };
    let ready = probe::wait_for_ok(port, "/", options.run_timeout, Duration::from_millis(20)).await;
    let releases = match ready {
        Some(_) => probe::get(port, "/releases", Duration::from_secs(10))
            .await
            .ok(),
        None => None,
    };
    // The ready line is printed after the listener starts; give the log a moment to flush.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = engine
        .container_logs(&id, containers::LOG_CAP_BYTES)
        .await
        .unwrap_or_default();
    containers::remove(engine, &id).await;
    let output = format!("{}{}", logs.stdout, logs.stderr);
    let jit = number_after(&output, "jit_methods=");
    match (ready, releases) {
        (Some((_, elapsed)), Some(response)) if response.status == 200 && response.body.trim_start().starts_with('[') => (
            Check {
                name: "run".into(),
                passed: true,
                detail: format!(
                    "HTTP 200 on 127.0.0.1:{port} after {elapsed:.0?}; /releases {} bytes of JSON; {} jitted methods",
                    response.body.len(),
                    jit.unwrap_or(f64::NAN)
                ),
            },
            jit,
        ),
        (None, _) => fail(format!("no HTTP 200 on 127.0.0.1:{port} within {:?}; output: {}", options.run_timeout, containers::tail(&output, 8))),
        (_, other) => fail(format!("/releases answered {other:?}")),
    }
}

/// The precompiled-code check: the JIT must compile clearly fewer methods than with
/// ReadyToRun code disabled.
fn precompiled_check(normal: Option<f64>, disabled: Option<f64>) -> Check {
    match (normal, disabled) {
        (Some(normal), Some(disabled)) => Check {
            name: "precompiled".into(),
            passed: normal * 2.0 < disabled,
            detail: format!("{normal} jitted methods vs {disabled} with ReadyToRun disabled"),
        },
        _ => Check {
            name: "precompiled".into(),
            passed: false,
            detail: "the app did not report its jitted method count".into(),
        },
    }
}

/// Verifies one image: files, then behaviour.
pub async fn verify_image(
    engine: &dyn Engine,
    plan: &Plan,
    catalog: &Catalog,
    image: &PlannedImage,
    options: &VerifyOptions,
) -> ImageVerification {
    let mut checks = Vec::new();
    match read_image(engine, image.reference()).await {
        Ok(fs) => {
            checks.push(check_files(plan, catalog, image, &fs));
            if let Some(check) = check_image_recipe(plan, catalog, image, &fs) {
                checks.push(check);
            }
        }
        Err(error) => checks.push(Check {
            name: "files".into(),
            passed: false,
            detail: error.to_string(),
        }),
    }
    let emulated = image.platform.is_emulated();
    let emulated_options;
    let options = if emulated {
        // Every instruction is translated: the same program takes several times as long.
        emulated_options = VerifyOptions {
            run_timeout: options.run_timeout * EMULATION_SLOWDOWN,
            ..options.clone()
        };
        &emulated_options
    } else {
        options
    };
    // What runs a container: app images, and framework and sdk images on x64 (elsewhere they
    // have no `dotnet` command).
    let runs = !matches!(image.content, Content::RuntimeDeps)
        && (!matches!(image.content, Content::Frameworks { .. } | Content::Sdk)
            || image.platform.is_default());
    if runs {
        if let Err(reason) = crate::support::emulation::can_run(image.platform) {
            checks.push(Check {
                name: "run".into(),
                passed: false,
                detail: format!(
                    "not run: this machine cannot run {}: {reason}",
                    image.platform
                ),
            });
            return ImageVerification {
                id: image.id.clone(),
                reference: image.reference().to_string(),
                variants: image.variants.clone(),
                role: image.role.clone(),
                checks,
                emulated,
            };
        }
    }
    match &image.content {
        Content::RuntimeDeps => {}
        // Framework images of another platform than x64 have no `dotnet` command (no NuGet
        // pack carries that platform's muxer): their frameworks run through the apps on them.
        Content::Frameworks { .. } | Content::Sdk if !image.platform.is_default() => {}
        Content::Frameworks {
            frameworks_below, ..
        } => checks.push(list_runtimes(engine, plan, image, options, frameworks_below).await),
        Content::Sdk => {
            checks.push(
                list_runtimes(
                    engine,
                    plan,
                    image,
                    options,
                    &[Framework::Runtime, Framework::Aspnet],
                )
                .await,
            );
            checks.push(sdk_info(engine, plan, image, options).await);
        }
        Content::App {
            kind,
            publish,
            composite,
            ..
        } => {
            let (run, normal) = match kind {
                AppKind::Console => run_console(engine, plan, image, options, false).await,
                AppKind::Webapi => run_webapi(engine, plan, image, options, false).await,
            };
            let passed = run.passed;
            checks.push(run);
            if passed && publish.native {
                // Native code only: the JIT has nothing to compile.
                checks.push(Check {
                    name: "precompiled".into(),
                    passed: normal == Some(0.0),
                    detail: format!(
                        "{} jitted methods (Native AOT: none expected)",
                        normal
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "unknown".into())
                    ),
                });
            } else if passed && (!trimmed_il(publish) || *composite) {
                let (_, disabled) = match kind {
                    AppKind::Console => run_console(engine, plan, image, options, true).await,
                    AppKind::Webapi => run_webapi(engine, plan, image, options, true).await,
                };
                checks.push(precompiled_check(normal, disabled));
            }
        }
    }
    ImageVerification {
        id: image.id.clone(),
        reference: image.reference().to_string(),
        variants: image.variants.clone(),
        role: image.role.clone(),
        checks,
        emulated: emulated && runs,
    }
}

/// How many times longer a container run may take under emulation than natively.
pub const EMULATION_SLOWDOWN: u32 = 5;

/// The size of an app image's `/app`, bytes, as its files check recorded it.
fn app_bytes(verification: &ImageVerification) -> Option<f64> {
    let files = verification
        .checks
        .iter()
        .find(|check| check.name == "files")?;
    let start = files.detail.find("app/ ")? + "app/ ".len();
    files.detail[start..]
        .split(' ')
        .next()?
        .parse::<f64>()
        .ok()
        .map(|mb| mb * 1e6)
}

/// Checks across images: a trimmed app must be smaller than the same app published
/// self-contained without trimming on the same base (when the plan has both).
pub fn cross_checks(plan: &Plan, results: &mut [ImageVerification]) {
    let sizes: BTreeMap<String, f64> = results
        .iter()
        .filter_map(|r| app_bytes(r).map(|bytes| (r.id.clone(), bytes)))
        .collect();
    for result in results.iter_mut() {
        let Some(image) = plan.image(&result.id) else {
            continue;
        };
        let Content::App { app, publish, .. } = &image.content else {
            continue;
        };
        if !publish.enabled("PublishTrimmed") {
            continue;
        }
        let sibling = plan.images.iter().find(|other| {
            matches!(&other.content, Content::App { app: other_app, publish: other_publish, composite: false, .. }
                if other_app == app && other_publish.self_contained && !other_publish.native && !other_publish.enabled("PublishTrimmed"))
                && plan.base_of(other) == plan.base_of(image)
        });
        let Some(sibling) = sibling else { continue };
        let (Some(trimmed), Some(untrimmed)) = (sizes.get(&result.id), sizes.get(&sibling.id))
        else {
            continue;
        };
        result.checks.push(Check {
            name: "trimmed".into(),
            passed: trimmed < untrimmed,
            detail: format!(
                "app/ {:.1} MB trimmed vs {:.1} MB untrimmed ({})",
                trimmed / 1e6,
                untrimmed / 1e6,
                sibling.id
            ),
        });
    }
}

/// `dotnet --info` runs the SDK's own managed code: it must succeed and name the SDK.
async fn sdk_info(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
) -> Check {
    let mut container = container_spec(plan, image, options, Network::None);
    container.entrypoint = Some(vec!["/usr/share/dotnet/dotnet".into()]);
    container.command = Some(vec!["--info".into()]);
    match containers::run_to_exit(engine, &container, options.run_timeout).await {
        Err(error) => Check {
            name: "sdk".into(),
            passed: false,
            detail: error.to_string(),
        },
        Ok(outcome) => {
            let output = format!("{}{}", outcome.logs.stdout, outcome.logs.stderr);
            let version = output
                .lines()
                .map(str::trim)
                .find_map(|line| line.strip_prefix("Version:"))
                .map(str::trim)
                .unwrap_or("")
                .to_string();
            let passed =
                outcome.exit_code == Some(0) && output.contains(".NET SDK") && !version.is_empty();
            let detail = if passed {
                format!("dotnet --info: .NET SDK {version}")
            } else {
                format!(
                    "dotnet --info exit {:?}: {}",
                    outcome.exit_code,
                    containers::tail(&output, 6)
                )
            };
            Check {
                name: "sdk".into(),
                passed,
                detail,
            }
        }
    }
}

async fn list_runtimes(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
    frameworks: &[Framework],
) -> Check {
    let mut container = container_spec(plan, image, options, Network::None);
    container.entrypoint = Some(vec!["/usr/share/dotnet/dotnet".into()]);
    container.command = Some(vec!["--list-runtimes".into()]);
    match containers::run_to_exit(engine, &container, options.run_timeout).await {
        Err(error) => Check {
            name: "run".into(),
            passed: false,
            detail: error.to_string(),
        },
        Ok(outcome) => {
            let expected: Vec<String> = frameworks
                .iter()
                .map(|f| format!("{} {}", f.shared_name(), plan.scenario.dotnet))
                .collect();
            let missing: Vec<&String> = expected
                .iter()
                .filter(|line| !outcome.logs.stdout.contains(line.as_str()))
                .collect();
            let passed = outcome.exit_code == Some(0) && missing.is_empty();
            let detail = if passed {
                format!("dotnet --list-runtimes: {}", expected.join(", "))
            } else {
                format!(
                    "dotnet --list-runtimes exit {:?}, missing {missing:?}; output: {}",
                    outcome.exit_code,
                    containers::tail(
                        &format!("{}{}", outcome.logs.stdout, outcome.logs.stderr),
                        6
                    )
                )
            };
            Check {
                name: "run".into(),
                passed,
                detail,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_from_app_output() {
        let output = "r2r-main-ns=41500000\nr2r-console-ok jit_methods=123 runtime=.NET 10.0.12\n";
        assert_eq!(number_after(output, "r2r-main-ns="), Some(41500000.0));
        assert_eq!(number_after(output, "jit_methods="), Some(123.0));
        assert_eq!(number_after(output, "absent="), None);
    }

    #[test]
    fn owners_resolve_relative_to_the_component() {
        assert_eq!(
            resolve_owner(
                "usr/share/dotnet/shared/Microsoft.AspNetCore.App/10.0.12/A.dll",
                "../../Microsoft.NETCore.App/10.0.12/f.r2r.dll"
            ),
            Some("usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/f.r2r.dll".into())
        );
        assert_eq!(
            resolve_owner("app/A.dll", "app.r2r.dll"),
            Some("app/app.r2r.dll".into())
        );
    }

    fn filesystem(files: &[(&str, AssemblyKind)]) -> ImageFilesystem {
        let mut fs = ImageFilesystem::default();
        for (path, kind) in files {
            fs.files.insert(
                path.to_string(),
                crate::inspect::archive::FileRecord {
                    composite: None,
                    method_definitions: None,
                    code: None,
                    path: path.to_string(),
                    layer: 0,
                    size_bytes: 1,
                    file_type: crate::inspect::archive::FileType::Regular,
                    mode: 0o644,
                    assembly: Some(Ok(kind.clone())),
                },
            );
        }
        fs
    }

    fn component(owner: &str) -> AssemblyKind {
        AssemblyKind::CompositeComponent {
            major: 16,
            minor: 0,
            flags: 0x20,
            owner_composite: owner.into(),
        }
    }

    const COMPOSITE: AssemblyKind = AssemblyKind::CompositeImage {
        major: 16,
        minor: 0,
        flags: 0,
        component_count: 2,
    };
    const R2R: AssemblyKind = AssemblyKind::ReadyToRun {
        major: 16,
        minor: 0,
        flags: 0,
    };

    #[test]
    fn composite_directories_need_every_assembly_to_be_a_component_of_one_composite() {
        let rt = "usr/share/dotnet/shared/Microsoft.NETCore.App/1.0.0";
        let good = filesystem(&[
            (
                &format!("{rt}/System.Private.CoreLib.dll"),
                component("fx.dll"),
            ),
            (&format!("{rt}/System.Runtime.dll"), component("fx.dll")),
            (&format!("{rt}/fx.dll"), COMPOSITE),
        ]);
        let (passed, detail, owner) =
            check_directory(&good, rt, Expectation::Composite { group: 1 });
        assert!(passed, "{detail}");
        assert_eq!(owner.as_deref(), Some(format!("{rt}/fx.dll").as_str()));
        // The same files do not pass as "as shipped".
        assert!(!check_directory(&good, rt, Expectation::AsShipped).0);

        // One assembly left out of the composite fails, and is named.
        let stray = filesystem(&[
            (
                &format!("{rt}/System.Private.CoreLib.dll"),
                component("fx.dll"),
            ),
            (&format!("{rt}/Extra.dll"), R2R),
            (&format!("{rt}/fx.dll"), COMPOSITE),
        ]);
        let (passed, detail, _) = check_directory(&stray, rt, Expectation::Composite { group: 1 });
        assert!(!passed && detail.contains("Extra.dll (r2r)"), "{detail}");

        // A missing composite file fails.
        let mut missing = good.clone();
        missing.files.remove(&format!("{rt}/fx.dll"));
        assert!(!check_directory(&missing, rt, Expectation::Composite { group: 1 }).0);

        // An empty directory fails.
        assert!(
            !check_directory(
                &good,
                "usr/share/dotnet/shared/Microsoft.AspNetCore.App/1.0.0",
                Expectation::AsShipped
            )
            .0
        );
    }

    #[test]
    fn components_in_another_directory_find_the_composite_beside_corelib() {
        let rt = "usr/share/dotnet/shared/Microsoft.NETCore.App/1.0.0";
        let web = "usr/share/dotnet/shared/Microsoft.AspNetCore.App/1.0.0";
        let fs = filesystem(&[
            (
                &format!("{rt}/System.Private.CoreLib.dll"),
                component("both.dll"),
            ),
            (&format!("{rt}/both.dll"), COMPOSITE),
            (
                &format!("{web}/Microsoft.AspNetCore.dll"),
                component("both.dll"),
            ),
        ]);
        let (passed, detail, owner) =
            check_directory(&fs, web, Expectation::Composite { group: 1 });
        assert!(passed, "{detail}");
        assert_eq!(owner.unwrap(), format!("{rt}/both.dll"));
    }

    #[test]
    fn precompiled_needs_a_clear_difference() {
        assert!(precompiled_check(Some(100.0), Some(5000.0)).passed);
        assert!(!precompiled_check(Some(3000.0), Some(5000.0)).passed);
        assert!(!precompiled_check(None, Some(5000.0)).passed);
    }

    #[test]
    fn expectations_follow_the_chain() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let text = "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"webapi\"]\nvariants = [\"runtime-composite\", \"aspnet-composite\", \"composed-composite\"]\n";
        let scenario =
            crate::model::scenario::parse(std::path::Path::new("t.toml"), text, &catalog).unwrap();
        let plan = crate::model::plan::expand(&scenario, &catalog);
        let of = |id: &str| expectations(&plan, plan.image(id).unwrap());
        let runtime_composite = of("runtime-composite.webapi");
        assert!(matches!(
            runtime_composite[&Framework::Runtime],
            Expectation::Composite { .. }
        ));
        assert_eq!(
            runtime_composite[&Framework::Aspnet],
            Expectation::AsShipped
        );
        let single = of("aspnet-composite.webapi");
        assert_eq!(single[&Framework::Runtime], single[&Framework::Aspnet]);
        let composed = of("composed-composite.webapi");
        assert!(matches!(
            composed[&Framework::Aspnet],
            Expectation::Composite { .. }
        ));
        assert_ne!(composed[&Framework::Runtime], composed[&Framework::Aspnet]);
    }
}
