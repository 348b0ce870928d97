//! The file checks of an image: what each framework it carries is expected to be compiled as,
//! and whether its files show it; and a host directory read as an image's file system.

use std::collections::{BTreeMap, BTreeSet};

use super::layout::{check_directory, framework_dir, managed_kinds};
use super::{Check, Expectation};
use crate::inspect::archive::{self, ImageFilesystem};
use crate::inspect::readytorun::AssemblyKind;
use crate::model::catalog::{Catalog, Framework, PublishSpec};
use crate::model::plan::{Content, Parent, Plan, PlannedImage};

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

/// The assemblies the recipes of an image's composites leave out with `-r` (they keep their
/// shipped per-assembly code), by simple name, over its chain.
fn kept_as_shipped(plan: &Plan, image: &PlannedImage) -> BTreeSet<String> {
    let mut kept = BTreeSet::new();
    let mut current = Some(image);
    while let Some(step) = current {
        if let Content::Frameworks {
            recipe: Some(recipe),
            ..
        } = &step.content
        {
            kept.extend(recipe.references.iter().map(|listed| listed.name.clone()));
        }
        current = match &step.parent {
            Parent::Image(parent) => plan.image(parent),
            Parent::Base(_) => None,
        };
    }
    kept
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
    let kept = kept_as_shipped(plan, image);
    for (framework, expectation) in expectations(plan, image) {
        let dir = framework_dir(framework, version);
        let (ok, detail, composite) = check_directory(fs, &dir, expectation, &kept);
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
            let Some(definition) = plan.scenario.app(catalog, app) else {
                passed = false;
                details.push(format!("app `{app}` is not defined"));
                return Check {
                    name: "files".into(),
                    passed,
                    detail: details.join("; "),
                };
            };
            let assembly = &definition.assembly;
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
                    let (ok, detail, _) = check_directory(fs, "app", expectation, &BTreeSet::new());
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
                let assembly = plan
                    .scenario
                    .app(catalog, app)
                    .map(|definition| definition.assembly.as_str())
                    .unwrap_or(app);
                let executable = format!("app/{assembly}");
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
