//! A scenario made from another one (what `r2r tune` runs): the source file's text with a few
//! top-level keys set, its apps narrowed to some of them, and the project paths of its own
//! apps made absolute, so that the new file works wherever it is written. Everything else
//! (comments, the `[startup]` table, every app's rule) stays as the source wrote it.

use std::ops::Range;

use serde::Deserialize;

use super::Scenario;
use crate::model::toml_source::SourceError;

/// What the new scenario changes.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Top-level keys to set, with their values as TOML text (`name`, `variants`, ...): a key
    /// the file has is replaced where it stands, one it lacks is added before its first key.
    pub keys: Vec<(String, String)>,
    /// The apps to keep, by name; empty: all of them.
    pub apps: Vec<String>,
}

/// Quotes a string as a TOML basic string.
pub fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A TOML array of strings.
pub fn string_array<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|item| quoted(item.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

#[derive(Deserialize)]
struct Project {
    project: Option<toml::Spanned<String>>,
}

/// `v = <an app's table>`: where its `project` is.
#[derive(Deserialize)]
struct WrappedApp {
    v: Project,
}

/// `v = <the apps array>`: where each element is.
#[derive(Deserialize)]
struct WrappedApps {
    v: Vec<toml::Spanned<toml::Value>>,
}

/// The text of the scenario `scenario` (read from `text`) with `changes` made.
pub fn derive(scenario: &Scenario, text: &str, changes: &Changes) -> Result<String, SourceError> {
    let path = &scenario.path;
    let invalid = |message: String| SourceError::whole_file(path, message);
    let top: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let spans: std::collections::BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>> =
        toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    // (range in `text`, replacement), applied from the end.
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let first_key = spans
        .keys()
        .filter(|key| !top.get(key.get_ref()).is_some_and(toml::Value::is_table))
        .map(|key| key.span().start)
        .min()
        .unwrap_or(0);
    let line_start = text[..first_key].rfind('\n').map_or(0, |at| at + 1);
    let mut added = String::new();
    for (key, value) in &changes.keys {
        match spans.iter().find(|(k, _)| k.get_ref() == key) {
            Some((k, v)) => edits.push((k.span().start..v.span().end, format!("{key} = {value}"))),
            None => added.push_str(&format!("{key} = {value}\n")),
        }
    }
    if !added.is_empty() {
        edits.push((line_start..line_start, added));
    }
    let (_, apps) = spans
        .iter()
        .find(|(k, _)| k.get_ref() == "apps")
        .ok_or_else(|| invalid("the scenario has no `apps`".into()))?;
    // Spans of a value parsed as `v = <value>` are 4 bytes after where the value stands.
    let elements = toml::from_str::<WrappedApps>(&format!("v = {}", &text[apps.span()]))
        .map_err(|e| invalid(format!("`apps`: {e}")))?
        .v;
    let offset = apps.span().start as isize - 4;
    let mut kept = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let name = &scenario.apps[index];
        if !changes.apps.is_empty() && !changes.apps.contains(name) {
            continue;
        }
        let range = shift(element.span(), offset);
        let mut source = text[range.clone()].to_string();
        if let (toml::Value::Table(_), Some(app)) = (element.get_ref(), scenario.own_apps.get(name))
        {
            let inner = toml::from_str::<WrappedApp>(&format!("v = {source}"))
                .map_err(|e| invalid(e.to_string()))?;
            if let Some(project) = inner.v.project {
                let at = shift(project.span(), -4);
                source.replace_range(at, &quoted(&app.project.display().to_string()));
            }
        }
        kept.push(source);
    }
    if kept.is_empty() {
        return Err(invalid(format!(
            "none of the apps {} is in the scenario",
            changes.apps.join(", ")
        )));
    }
    edits.push((
        apps.span(),
        if kept.iter().any(|app| app.contains('\n')) || kept.len() > 3 {
            format!("[\n  {},\n]", kept.join(",\n  "))
        } else {
            format!("[{}]", kept.join(", "))
        },
    ));
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_string();
    for (range, replacement) in edits {
        out.replace_range(range, &replacement);
    }
    Ok(out)
}

fn shift(range: Range<usize>, by: isize) -> Range<usize> {
    (range.start as isize + by) as usize..(range.end as isize + by) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::Catalog;
    use crate::model::scenario::parse;

    fn catalog() -> Catalog {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        Catalog::load(&root).expect("the repository's catalog loads")
    }

    const SOURCE: &str = r#"# the web API and the console app
description = "test"
dotnet = "10.0.12"
base = "slim"
apps = ["console", "webapi"]
variants = ["no-composite", "runtime-composite"]
measure = ["sizes"]

[startup]
runs = 7
"#;

    #[test]
    fn keys_are_replaced_or_added_apps_narrowed_and_the_rest_kept() {
        let catalog = catalog();
        let path = std::path::Path::new("scenarios/quick.toml");
        let scenario = parse(path, SOURCE, &catalog).unwrap();
        let changes = Changes {
            keys: vec![
                ("name".into(), quoted("quick-tuned")),
                (
                    "variants".into(),
                    string_array(&["no-composite", "aspnet-composite"]),
                ),
                ("recipes".into(), string_array(&["full", "partial-pgo"])),
                ("measure".into(), string_array(&["sizes", "startup"])),
            ],
            apps: vec!["webapi".into()],
        };
        let text = derive(&scenario, SOURCE, &changes).unwrap();
        let derived = parse(path, &text, &catalog).unwrap();
        assert_eq!(derived.name, "quick-tuned");
        assert_eq!(derived.apps, ["webapi"]);
        assert_eq!(derived.variants, ["no-composite", "aspnet-composite"]);
        assert_eq!(derived.recipes, ["full", "partial-pgo"]);
        assert_eq!(derived.startup.runs, Some(7));
        assert!(
            text.starts_with("# the web API and the console app\n"),
            "{text}"
        );
        // A key the source lacks goes before its first key, outside any table.
        assert!(text.find("name = ").unwrap() < text.find("description").unwrap());
    }

    #[test]
    fn an_own_apps_relative_project_becomes_absolute_and_its_rule_stays() {
        let catalog = catalog();
        let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../experiments/apps")
            .canonicalize()
            .unwrap();
        let path = samples.join("scenario.toml");
        let source = SOURCE.replace(
            r#"apps = ["console", "webapi"]"#,
            "apps = [\n  \"console\",\n  { project = \"webapi/WebApi.csproj\", name = \"mine\", ready = { http = \"/\" } },\n]",
        );
        let scenario = parse(&path, &source, &catalog).unwrap();
        let changes = Changes {
            keys: vec![],
            apps: vec!["mine".into()],
        };
        let text = derive(&scenario, &source, &changes).unwrap();
        assert!(text.contains("ready = { http = \"/\" }"), "{text}");
        let elsewhere = std::env::temp_dir().join("elsewhere/scenario.toml");
        let derived = parse(&elsewhere, &text, &catalog).unwrap();
        assert_eq!(derived.apps, ["mine"]);
        assert_eq!(
            derived.own_apps["mine"].project,
            scenario.own_apps["mine"].project
        );
        let unknown = Changes {
            keys: vec![],
            apps: vec!["nope".into()],
        };
        assert!(derive(&scenario, &source, &unknown).is_err());
    }
}
