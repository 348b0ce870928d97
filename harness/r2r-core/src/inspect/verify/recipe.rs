//! Proof from an image's files that its composite was compiled by its recipe.

use std::collections::BTreeMap;

use super::layout::{framework_dir, locate_owner, managed_kinds};
use super::Check;
use crate::inspect::archive::ImageFilesystem;
use crate::inspect::readytorun::AssemblyKind;
use crate::model::catalog::Catalog;
use crate::model::plan::{Content, Plan, PlannedImage};

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
    let compiled = recipe.compiled_frameworks(&spec.include);
    let mut problems: Vec<String> = Vec::new();
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    let mut components: Vec<String> = Vec::new();
    let mut methods: BTreeMap<String, u32> = BTreeMap::new();
    let mut kept = 0;
    let mut referenced: Vec<String> = Vec::new();
    // Every assembly of the frameworks this image compiles, for the recording's check.
    let mut compiled_names: Vec<String> = Vec::new();
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
            if compiled.contains(framework) {
                compiled_names.push(name.clone());
            }
            match kind {
                AssemblyKind::CompositeImage { .. } => {}
                // Left out: as shipped (facades ship without ReadyToRun code).
                AssemblyKind::ReadyToRun { .. } | AssemblyKind::IlOnly if left_out => {
                    kept += 1;
                    if recipe.is_reference(&name) {
                        referenced.push(name.clone());
                    }
                }
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
                    let listed = recipe.roots.as_ref().map_or(String::new(), |list| {
                        format!(" of the recipe's {}", list.len())
                    });
                    facts_text = format!(
                        "; {roots}{listed} roots, {} with method bodies but no entry points of their own{}; fewest entry points: {}; {} unrooted inputs ({unrooted_with_code} with code); header: version bubble {bubble}, partial flag {partial}, profile data {pgo}; instruction set and optimisation are not recorded in the header",
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
    if let Some(recorded) = &recipe.recorded {
        facts_text.push_str(&check_recorded(
            recipe,
            recorded,
            &compiled_names,
            &mut problems,
        ));
    }
    let passed = problems.is_empty();
    referenced.sort();
    let named = if referenced.is_empty() {
        String::new()
    } else {
        format!(
            " (the recipe's -r, {} of its {}: {})",
            referenced.len(),
            recipe.references.len(),
            referenced.join(", ")
        )
    };
    let mut detail = format!(
        "recipe {} ({}): {} components of {}, {kept} assemblies left as shipped{named}{facts_text}",
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

/// The check of a recipe tuned for an app (`recording`): in the frameworks this image
/// compiles, the roots are exactly the assemblies the app loaded. A loaded assembly the recipe
/// does not root is named with its recording line, and so is a root the app did not load.
/// Returns the detail's sentence; problems are added to `problems`.
fn check_recorded(
    recipe: &crate::model::recipe::Recipe,
    recorded: &[crate::model::recipe::ListedAssembly],
    compiled_names: &[String],
    problems: &mut Vec<String>,
) -> String {
    let here: Vec<&crate::model::recipe::ListedAssembly> = recorded
        .iter()
        .filter(|entry| compiled_names.contains(&entry.name))
        .collect();
    let left_out: Vec<String> = here
        .iter()
        .filter(|entry| !recipe.is_root(&entry.name))
        .map(|entry| format!("{} ({})", entry.name, entry.at))
        .collect();
    if !left_out.is_empty() {
        problems.push(format!(
            "{} assembl{} the app loaded but the recipe does not root: {}",
            left_out.len(),
            if left_out.len() == 1 { "y" } else { "ies" },
            left_out.join(", ")
        ));
    }
    let unrecorded: Vec<&str> = compiled_names
        .iter()
        .filter(|name| recipe.is_root(name) && !recorded.iter().any(|entry| &entry.name == *name))
        .map(String::as_str)
        .collect();
    if !unrecorded.is_empty() {
        problems.push(format!(
            "roots the app did not load: {}",
            unrecorded.join(", ")
        ));
    }
    format!(
        "; recording: {} of the {} assemblies the app loaded from these frameworks are roots, {} root(s) it did not load",
        here.len() - left_out.len(),
        here.len(),
        unrecorded.len()
    )
}
