//! Where the runtime finds a composite's code: the assemblies of a framework directory, the
//! composite file each component names, and whether a directory is compiled as expected.

use std::collections::{BTreeMap, BTreeSet};

use super::Expectation;
use crate::inspect::archive::{self, ImageFilesystem};
use crate::inspect::readytorun::AssemblyKind;
use crate::model::catalog::Framework;

pub(super) fn framework_dir(framework: Framework, version: &str) -> String {
    format!(
        "usr/share/dotnet/shared/{}/{version}",
        framework.shared_name()
    )
}

pub(super) fn managed_kinds<'a>(
    fs: &'a ImageFilesystem,
    dir: &str,
) -> Vec<(&'a str, &'a AssemblyKind)> {
    fs.list(dir)
        .filter(|record| record.path.ends_with(".dll"))
        .filter_map(|record| match &record.assembly {
            Some(Ok(kind)) => Some((record.path.as_str(), kind)),
            _ => None,
        })
        .collect()
}

/// Resolves a component's owner reference (relative to the component's directory).
pub(super) fn resolve_owner(component_path: &str, owner: &str) -> Option<String> {
    let dir = component_path
        .rsplit_once('/')
        .map(|(dir, _)| dir)
        .unwrap_or("");
    archive::normalise(&format!("{dir}/{owner}"))
}

/// Where the runtime finds a component's composite: next to the component, or else among the
/// composites already loaded, of which the first is the one System.Private.CoreLib belongs to
/// (so it lives beside CoreLib).
pub(super) fn locate_owner(
    fs: &ImageFilesystem,
    component_path: &str,
    owner: &str,
) -> Option<String> {
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
/// `kept`: assemblies (simple names) a composite's recipe leaves out with `-r`: in a composite
/// directory they are expected with their own ReadyToRun code, as shipped, not as components.
pub fn check_directory(
    fs: &ImageFilesystem,
    dir: &str,
    expectation: Expectation,
    kept: &BTreeSet<String>,
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
            let mut left_as_shipped = 0;
            for (path, kind) in &kinds {
                let name = path
                    .rsplit('/')
                    .next()
                    .and_then(|file| file.strip_suffix(".dll"))
                    .unwrap_or_default();
                if kept.contains(name) {
                    match kind {
                        AssemblyKind::ReadyToRun { .. } => left_as_shipped += 1,
                        _ => strays.push(format!(
                            "{path} ({}; the recipe leaves it as shipped)",
                            kind.label()
                        )),
                    }
                    continue;
                }
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
            if left_as_shipped > 0 {
                detail.push_str(&format!(
                    "; {left_as_shipped} left as shipped (the recipe's -r)"
                ));
            }
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
