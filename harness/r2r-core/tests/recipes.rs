//! Composite recipes on real crossgen2 output: the frameworks of .NET 8 (and ASP.NET Core of
//! .NET 10) compiled by each recipe of `experiments/recipes.toml` once, each verified by
//! `check_recipe`; deliberately wrong layouts (a root left with its shipped code, as `-r`
//! leaves it; a component whose composite file is missing; another recipe's output) fail it;
//! recipes this crossgen2 or these frameworks cannot honour are refused at preparation.
//!
//! Needs the .NET SDK and the NuGet feeds (or the packs in the work directory); compiles
//! five framework composites when the work directory does not have them yet.

use std::path::{Path, PathBuf};
use std::time::Instant;

use r2r_core::build::dotnet::{DotnetError, Workspace};
use r2r_core::inspect::archive::ImageFilesystem;
use r2r_core::inspect::readytorun::classify_path;
use r2r_core::inspect::verify::{check_recipe, read_directory};
use r2r_core::model::catalog::{Catalog, CompositeSpec, Framework};
use r2r_core::model::recipe::{ListedAssembly, Recipe};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn workspace() -> Workspace {
    let work = std::env::var_os("R2R_WORK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".r2r/work"));
    Workspace::new(work, root().join("experiments")).expect("the .NET SDK is installed")
}

const NET8: &str = "8.0.33";
const NET10: &str = "10.0.12";

fn both() -> CompositeSpec {
    CompositeSpec {
        include: vec![Framework::Runtime, Framework::Aspnet],
        references: Vec::new(),
    }
}

fn corelib_dir(version: &str) -> String {
    format!("usr/share/dotnet/shared/Microsoft.NETCore.App/{version}")
}

#[test]
#[ignore = "full suite: five framework composites compiled by crossgen2 (.NET 8 and .NET 10), 5-6 minutes on 2 cores"]
fn every_recipe_is_honoured_and_wrong_layouts_fail() {
    let started = Instant::now();
    let catalog = Catalog::load(&root().join("experiments")).unwrap();
    let workspace = workspace();
    let packs8 = workspace.restore_packs(NET8).unwrap();
    let packs10 = workspace.restore_packs(NET10).unwrap();
    let spec = both();
    let mut layouts: Vec<(String, ImageFilesystem)> = Vec::new();
    for name in [
        "full",
        "official-net8",
        "official-net8-no-isa",
        "partial-pgo",
    ] {
        let recipe = &catalog.recipes[name];
        let compile = Instant::now();
        let rootfs = workspace
            .framework_rootfs(
                &packs8,
                &[Framework::Runtime, Framework::Aspnet],
                Some(&spec),
                recipe,
                true,
            )
            .unwrap();
        let fs = read_directory(&rootfs).unwrap();
        let check = check_recipe(&fs, NET8, &spec, recipe);
        eprintln!(
            "{name} on {NET8}: prepared in {:.1?}: {}",
            compile.elapsed(),
            check.detail
        );
        assert!(check.passed, "{name}: {}", check.detail);
        // The file check of each framework directory: one composite, and the recipe's -r
        // assemblies with their shipped code (counted, not failed as strays).
        let kept: std::collections::BTreeSet<String> =
            recipe.references.iter().map(|r| r.name.clone()).collect();
        for framework in ["Microsoft.NETCore.App", "Microsoft.AspNetCore.App"] {
            let dir = format!("usr/share/dotnet/shared/{framework}/{NET8}");
            let expectation = r2r_core::inspect::verify::Expectation::Composite { group: 1 };
            let (passed, detail, _) =
                r2r_core::inspect::verify::check_directory(&fs, &dir, expectation, &kept);
            assert!(passed, "{name} {framework}: {detail}");
            if framework == "Microsoft.AspNetCore.App" && !kept.is_empty() {
                assert!(
                    detail.contains("12 left as shipped (the recipe's -r)"),
                    "{detail}"
                );
            }
        }
        if name.starts_with("official-net8") {
            // .NET 8's list and its twelve -r, named by verify.
            assert!(
                check.detail.contains("37 of the recipe's 37 roots")
                    && check.detail.contains(
                        "the recipe's -r, 12 of its 12: Microsoft.Extensions.Configuration, "
                    ),
                "{name}: {}",
                check.detail
            );
        }
        layouts.push((name.to_string(), fs));
    }
    let official10 = &catalog.recipes["official-net10"];
    let compile = Instant::now();
    let rootfs = workspace
        .framework_rootfs(
            &packs10,
            &[Framework::Runtime, Framework::Aspnet],
            Some(&spec),
            official10,
            true,
        )
        .unwrap();
    let fs10 = read_directory(&rootfs).unwrap();
    let check = check_recipe(&fs10, NET10, &spec, official10);
    eprintln!(
        "official-net10 on {NET10}: prepared in {:.1?}: {}",
        compile.elapsed(),
        check.detail
    );
    assert!(check.passed, "official-net10: {}", check.detail);
    // The runtime kept its shipped code; ASP.NET Core's composite sits beside its components.
    assert!(
        check.detail.contains("aspnetcore-r2r.dll"),
        "{}",
        check.detail
    );

    let layout = |name: &str| layouts.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let official = &catalog.recipes["official-net8"];

    // The roots have code; the official recipe compiles the unrooted inputs only in part.
    let official_fs = layout("official-net8");
    let composite = official_fs
        .files
        .values()
        .find_map(|record| record.composite.as_ref())
        .expect("the official layout has a composite");
    let corelib = composite.component("System.Private.CoreLib").unwrap();
    assert!(corelib.compiled_methods > 10_000, "{corelib:?}");
    let full_fs = layout("full");
    let full_composite = full_fs
        .files
        .values()
        .find_map(|record| record.composite.as_ref())
        .unwrap();
    let unrooted_official: u32 = composite
        .components
        .iter()
        .filter(|c| !official.is_root(&c.name))
        .map(|c| c.compiled_methods)
        .sum();
    let unrooted_full: u32 = full_composite
        .components
        .iter()
        .filter(|c| !official.is_root(&c.name))
        .map(|c| c.compiled_methods)
        .sum();
    assert!(
        unrooted_official < unrooted_full,
        "unrooted inputs: {unrooted_official} methods with code vs {unrooted_full} as roots"
    );

    // A root compiled as `-r` keeps its shipped file: the layout then fails the recipe.
    let mut as_reference = official_fs.clone();
    let shipped = packs8
        .managed_dir(Framework::Runtime)
        .join("System.Text.Json.dll");
    let path = format!("{}/System.Text.Json.dll", corelib_dir(NET8));
    as_reference.files.get_mut(&path).unwrap().assembly =
        Some(Ok(classify_path(&shipped).unwrap()));
    let check = check_recipe(&as_reference, NET8, &spec, official);
    assert!(!check.passed, "{}", check.detail);
    assert!(
        check.detail.contains("root System.Text.Json"),
        "{}",
        check.detail
    );

    // A component whose composite file is missing.
    let mut missing = official_fs.clone();
    let composite_path = missing
        .files
        .iter()
        .find(|(_, record)| record.composite.is_some())
        .map(|(path, _)| path.clone())
        .unwrap();
    missing.files.remove(&composite_path);
    let check = check_recipe(&missing, NET8, &spec, official);
    assert!(!check.passed, "{}", check.detail);
    assert!(check.detail.contains("is missing"), "{}", check.detail);

    // Another recipe's output does not pass as this one's: no profile data section where the
    // recipe embeds it.
    let check = check_recipe(&full_fs, NET8, &spec, &catalog.recipes["partial-pgo"]);
    assert!(
        !check.passed && check.detail.contains("profile data"),
        "{}",
        check.detail
    );
    // A recipe leaving ASP.NET Core's runtime as shipped does not pass a full composite.
    let check = check_recipe(&full_fs, NET8, &spec, official10);
    assert!(!check.passed, "{}", check.detail);

    // Refused at preparation: a flag this crossgen2 does not know, an assembly the
    // frameworks lack (named with the list's file and line).
    let error = workspace.check_recipe(&packs10, official).unwrap_err();
    assert!(
        matches!(&error, DotnetError::Recipe { recipe, .. } if recipe == "official-net8")
            && error.to_string().contains("instruction set `x86-x64-v3`"),
        "{error}"
    );
    let mut unknown: Recipe = official.clone();
    unknown.name = "official-net8-typo".into();
    unknown.roots.as_mut().unwrap().push(ListedAssembly {
        name: "System.Text.Jsno".into(),
        at: "recipes/official-net8.roots.txt:99".into(),
    });
    let error = workspace
        .framework_rootfs(
            &packs8,
            &[Framework::Runtime],
            Some(&CompositeSpec {
                include: vec![Framework::Runtime],
                references: Vec::new(),
            }),
            &unknown,
            false,
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("official-net8-typo")
            && error.contains("System.Text.Jsno")
            && error.contains("recipes/official-net8.roots.txt:99"),
        "{error}"
    );
    eprintln!("recipes test took {:.1?}", started.elapsed());
}
