//! A scenario's `apps`: the samples' names and the apps a scenario defines itself, and the
//! scenario `r2r run --app` makes for one project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::name_from_file;
use crate::model::app::{self, App, AppKind, InlineApp, ProjectFacts};
use crate::model::catalog::Catalog;
use crate::model::names;
use crate::model::toml_source::{SourceError, Step};

/// Reads `apps`: each entry a sample's catalog name, or a table defining an app of the
/// scenario's own ([`InlineApp`]). Returns the names in file order and the own apps'
/// definitions.
pub(super) fn check_apps(
    path: &Path,
    entries: &[toml::Value],
    catalog: &Catalog,
    at: &dyn Fn(&[Step<'_>], String) -> SourceError,
) -> Result<(Vec<String>, BTreeMap<String, App>), SourceError> {
    let samples = catalog
        .apps
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if entries.is_empty() {
        return Err(at(
            &[Step::Key("apps")],
            format!("`apps` is empty; give sample names ({samples}) or app tables such as {{ project = \"../MyApp/MyApp.csproj\" }}"),
        ));
    }
    let mut names = Vec::new();
    let mut own = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let here = [Step::Key("apps"), Step::Index(index)];
        let name = match entry {
            toml::Value::String(name) => {
                if !catalog.apps.contains_key(name) {
                    return Err(at(
                        &here,
                        format!(
                            "unknown app {}; allowed: {samples}, or a table defining an app ({{ project = \"path/to/App.csproj\" }})",
                            names::shown(name)
                        ),
                    ));
                }
                name.clone()
            }
            toml::Value::Table(table) => {
                let inline: InlineApp = toml::Value::Table(table.clone()).try_into().map_err(
                    |error: toml::de::Error| {
                        at(&here, format!("app {}: {}", index + 1, error.message()))
                    },
                )?;
                let (name, definition) = own_app(path, inline).map_err(|(key, message)| {
                    let mut steps = here.to_vec();
                    if let Some(key) = key {
                        steps.push(Step::Key(key));
                    }
                    at(&steps, message)
                })?;
                if catalog.apps.contains_key(&name) {
                    return Err(at(
                        &here,
                        format!("app name `{name}` is a sample's; give this app another `name`"),
                    ));
                }
                own.insert(name.clone(), definition);
                name
            }
            other => {
                return Err(at(
                    &here,
                    format!(
                        "an app is a sample's name ({samples}) or a table; found a {}",
                        other.type_str()
                    ),
                ))
            }
        };
        if names.contains(&name) {
            return Err(at(&here, format!("app `{name}` is listed twice in `apps`")));
        }
        names.push(name);
    }
    Ok((names, own))
}

/// An inline app resolved against the scenario file at `scenario_path`: its name and
/// definition, or the key at fault and why.
fn own_app(
    scenario_path: &Path,
    inline: InlineApp,
) -> Result<(String, App), (Option<&'static str>, String)> {
    let (project, template, facts) = match (&inline.project, &inline.template) {
        (Some(_), Some(_)) => {
            return Err((
                Some("template"),
                "give `project` or `template`, not both".into(),
            ))
        }
        (None, None) => {
            return Err((
                None,
                "an app table needs `project` (a project file, relative to the scenario) or `template` (an SDK template, e.g. \"mvc\")".into(),
            ))
        }
        (Some(project), None) => {
            let base = scenario_path.parent().unwrap_or(Path::new("."));
            let joined = if project.is_absolute() {
                project.clone()
            } else {
                base.join(project)
            };
            let resolved = std::path::absolute(&joined).unwrap_or(joined);
            let is_project = resolved
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.ends_with("proj"));
            if !is_project {
                return Err((
                    Some("project"),
                    format!(
                        "{} is not a project file (.csproj, .fsproj or .vbproj)",
                        resolved.display()
                    ),
                ));
            }
            let text = std::fs::read_to_string(&resolved).map_err(|error| {
                (
                    Some("project"),
                    format!("no project file at {}: {error}", resolved.display()),
                )
            })?;
            (resolved, None, ProjectFacts::read(&text))
        }
        (None, Some(template)) => {
            names::check_name(template)
                .map_err(|error| (Some("template"), format!("template {error}")))?;
            if inline.kind.is_none() {
                return Err((
                    Some("template"),
                    format!("a template app needs `kind` ({}): its project is made only when it is built", AppKind::WRITTEN),
                ));
            }
            (PathBuf::new(), Some(template.clone()), ProjectFacts::default())
        }
    };
    let stem = match &template {
        Some(template) => template.clone(),
        None => project
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("app")
            .to_string(),
    };
    let name = match (&inline.name, &template) {
        (Some(name), _) => name.clone(),
        (None, Some(template)) => template.clone(),
        (None, None) => name_from_file(&project),
    };
    names::check_name(&name).map_err(|error| {
        (
            Some("name"),
            format!("app name {error}; set `name` to one that is"),
        )
    })?;
    let kind = inline.kind.unwrap_or_else(|| facts.kind());
    let assembly = match (&inline.assembly, &template) {
        (Some(assembly), _) => assembly.clone(),
        (None, Some(template)) => {
            let mut assembly: String = template
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|part| !part.is_empty())
                .map(|part| {
                    let mut chars = part.chars();
                    let first = chars.next().map(|c| c.to_ascii_uppercase());
                    first.into_iter().chain(chars).collect::<String>()
                })
                .collect();
            assembly.push_str("Template");
            assembly
        }
        (None, None) => facts.assembly_name.clone().unwrap_or(stem),
    };
    names::check_file_name(&assembly)
        .map_err(|error| (Some("assembly"), format!("assembly {error}")))?;
    let frameworks = inline
        .frameworks
        .clone()
        .unwrap_or_else(|| app::frameworks_of(kind, facts.needs_aspnet()));
    if !frameworks.contains(&crate::model::framework::Framework::Runtime) {
        return Err((
            Some("frameworks"),
            "`frameworks` must include `runtime`".into(),
        ));
    }
    if let Some(ready) = &inline.ready {
        ready.check(kind).map_err(|error| (Some("ready"), error))?;
    }
    if kind != AppKind::Webapi {
        for (key, given) in [
            ("request", inline.request.is_some()),
            ("port", inline.port.is_some()),
        ] {
            if given {
                return Err((
                    Some(key),
                    format!(
                        "`{key}` needs a web app (kind = \"web\"); this is a {} app",
                        kind.name()
                    ),
                ));
            }
        }
    }
    if let Some(request) = &inline.request {
        if !request.starts_with('/') || request.contains(char::is_whitespace) {
            return Err((
                Some("request"),
                format!("{request:?} is not a path (it starts with `/`, without spaces)"),
            ));
        }
    }
    if inline.port == Some(0) {
        return Err((Some("port"), "`port` is 1-65535".into()));
    }
    for key in inline.env.keys() {
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err((
                Some("env"),
                format!(
                    "environment variable name {} is not a name (letters, digits and `_`)",
                    names::shown(key)
                ),
            ));
        }
    }
    Ok((
        name,
        App {
            kind,
            project,
            template,
            assembly,
            frameworks,
            ready: inline.ready,
            request: inline.request,
            port: inline.port,
            args: inline.args,
            env: inline.env,
            external: true,
        },
    ))
}

/// What `r2r run --app` asks besides the project: each `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct AppScenarioRequest {
    /// Variants; default: the five of the composite experiment.
    pub variants: Option<Vec<String>>,
    /// Composite recipes; default: `full` alone.
    pub recipes: Option<Vec<String>>,
    /// The .NET version or band; default: the newest 10.0 patch served.
    pub dotnet: Option<String>,
    /// The base; default: `slim`.
    pub base: Option<String>,
}

/// The variants `r2r run --app` builds when none are given: the five of the composite
/// experiment.
pub const APP_VARIANTS: [&str; 5] = [
    "no-composite",
    "runtime-composite",
    "aspnet-composite",
    "composed-composite",
    "selfcontained-composite",
];

/// The scenario `r2r run --app` makes for one project: its name (`app-<project stem>`) and
/// the text of its file, which names the project by its absolute path, so it can be run
/// again from anywhere (it is checked when it is loaded, like any scenario file).
pub fn for_app(project: &Path, request: &AppScenarioRequest) -> (String, String) {
    let project = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
    let app = name_from_file(&project);
    let app = if app.is_empty() {
        "app".to_string()
    } else {
        app
    };
    let name = format!("app-{app}");
    let quoted = |text: &str| toml::Value::String(text.to_string()).to_string();
    let list = |items: &[String]| {
        items
            .iter()
            .map(|item| quoted(item))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let variants = request
        .variants
        .clone()
        .unwrap_or_else(|| APP_VARIANTS.map(String::from).to_vec());
    let mut text = format!(
        "# Made by `r2r run --app {}`: the composite variants for this one app.\n\
         name = {}\n\
         description = {}\n\
         dotnet = {}\n\
         base = {}\n\
         apps = [{{ name = {}, project = {} }}]\n\
         variants = [{}]\n",
        project.display(),
        quoted(&name),
        quoted(&format!("{app}: the composite variants")),
        quoted(request.dotnet.as_deref().unwrap_or("10.0")),
        quoted(request.base.as_deref().unwrap_or("slim")),
        quoted(&app),
        quoted(&project.display().to_string()),
        list(&variants),
    );
    if let Some(recipes) = &request.recipes {
        text.push_str(&format!("recipes = [{}]\n", list(recipes)));
    }
    text.push_str("measure = [\"sizes\", \"startup\"]\n");
    (name, text)
}
