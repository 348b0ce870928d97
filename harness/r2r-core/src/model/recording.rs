//! What an app used: the framework assemblies its process had mapped once it was ready, read
//! from outside the app by `r2r tune` ([`crate::measure::record`]), and kept in the run
//! directory as `tune/<app>.assemblies.txt`.
//!
//! The file is an assembly list in the format of `experiments/recipes/` (one simple assembly
//! name a line, `#` starts a comment), so a recipe names it as its `roots` as it is; its
//! header says where it came from (`# key: value` lines), and each line names the framework
//! the assembly was loaded from:
//!
//! ```text
//! # r2r recording: the framework assemblies `webapi` had mapped when ready
//! # app: webapi
//! # dotnet: 10.0.12
//! # image: r2r/composite:no-composite-webapi
//! # image-id: sha256:3a87...
//! # after: ready (GET / answers 200), then GET /releases
//! Microsoft.AspNetCore.Routing  # Microsoft.AspNetCore.App
//! System.Private.CoreLib  # Microsoft.NETCore.App
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use crate::model::framework::Framework;
use crate::model::names;
use crate::model::toml_source::SourceError;

/// The first line of every recording.
const HEADER: &str = "# r2r recording: the framework assemblies";

/// One framework assembly the app had mapped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordedAssembly {
    /// The simple name (file name without `.dll`).
    pub name: String,
    /// The framework it was loaded from.
    pub framework: Framework,
    /// `file:line` where a recording read back names it; empty for a new recording.
    pub at: String,
}

/// A recording of one app in one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The app's name in the scenario.
    pub app: String,
    /// The exact .NET version of the image's frameworks.
    pub dotnet: String,
    /// The image reference the app ran from.
    pub image: String,
    /// The image's id (`sha256:...`).
    pub image_id: String,
    /// When the mapped files were read (`ready (...), then GET /x`, or `at exit (code 0)`).
    pub after: String,
    /// The framework assemblies, sorted by name.
    pub assemblies: Vec<RecordedAssembly>,
}

impl Recording {
    /// The framework assemblies among a process's mapped files (absolute paths inside the
    /// container): `<anything>/shared/<framework>/<dotnet>/<name>.dll`. Files of another
    /// version or outside the shared frameworks (the app's own, its packages') are left out.
    pub fn assemblies_from_mapped(mapped: &[String], dotnet: &str) -> Vec<RecordedAssembly> {
        let mut found = BTreeSet::new();
        for path in mapped {
            let mut parts = path.rsplit('/');
            let (Some(file), Some(version), Some(shared_name), Some("shared")) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(name) = file.strip_suffix(".dll") else {
                continue;
            };
            let Some(framework) = Framework::from_shared_name(shared_name) else {
                continue;
            };
            if version != dotnet || names::check_file_name(name).is_err() {
                continue;
            }
            found.insert(RecordedAssembly {
                name: name.to_string(),
                framework,
                at: String::new(),
            });
        }
        let mut assemblies: Vec<RecordedAssembly> = found.into_iter().collect();
        assemblies.sort_by(|a, b| a.name.cmp(&b.name));
        assemblies
    }

    /// The file's text (see the module's documentation).
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{HEADER} `{}` had mapped when ready\n# app: {}\n# dotnet: {}\n# image: {}\n# image-id: {}\n# after: {}\n",
            self.app, self.app, self.dotnet, self.image, self.image_id, self.after
        );
        for assembly in &self.assemblies {
            text.push_str(&format!(
                "{}  # {}\n",
                assembly.name,
                assembly.framework.shared_name()
            ));
        }
        text
    }

    /// How many assemblies of `framework` it names.
    pub fn count(&self, framework: Framework) -> usize {
        self.assemblies
            .iter()
            .filter(|assembly| assembly.framework == framework)
            .count()
    }

    /// Reads a recording back; every error names the file and line. A file without the
    /// header's `app`, `dotnet` or `image` is not a recording; an assembly is named once.
    pub fn parse(path: &Path, text: &str) -> Result<Recording, SourceError> {
        let line_error = |line: usize, message: String| {
            let offset: usize = text
                .split_inclusive('\n')
                .take(line.saturating_sub(1))
                .map(str::len)
                .sum();
            SourceError::at_offset(path, text, offset, message)
        };
        if !text.starts_with(HEADER) {
            return Err(line_error(
                1,
                format!("not an r2r recording: the first line is not `{HEADER} ...`"),
            ));
        }
        let mut header = std::collections::BTreeMap::new();
        let mut assemblies: Vec<RecordedAssembly> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let (content, comment) = match line.split_once('#') {
                Some((content, comment)) => (content.trim(), Some(comment.trim())),
                None => (line.trim(), None),
            };
            if content.is_empty() {
                if let Some((key, value)) = comment.and_then(|c| c.split_once(": ")) {
                    header.entry(key.to_string()).or_insert(value.to_string());
                }
                continue;
            }
            let name = content.strip_suffix(".dll").unwrap_or(content);
            names::check_file_name(name)
                .map_err(|error| line_error(number, format!("assembly {error}")))?;
            let framework = match comment {
                Some(shared) => Framework::from_shared_name(shared).ok_or_else(|| {
                    line_error(
                        number,
                        format!(
                            "`{shared}` is not a shared framework; allowed: {}, {}",
                            Framework::Runtime.shared_name(),
                            Framework::Aspnet.shared_name()
                        ),
                    )
                })?,
                None => {
                    return Err(line_error(
                        number,
                        format!("`{name}` names no framework: end the line with `# Microsoft.NETCore.App` or `# Microsoft.AspNetCore.App`"),
                    ))
                }
            };
            if assemblies.iter().any(|seen| seen.name == name) {
                return Err(line_error(number, format!("`{name}` is listed twice")));
            }
            assemblies.push(RecordedAssembly {
                name: name.to_string(),
                framework,
                at: format!("{}:{number}", path.display()),
            });
        }
        let field = |key: &str| -> Result<String, SourceError> {
            header
                .get(key)
                .cloned()
                .ok_or_else(|| line_error(1, format!("the header has no `# {key}: ...` line")))
        };
        if assemblies.is_empty() {
            return Err(line_error(1, "the recording names no assembly".to_string()));
        }
        Ok(Recording {
            app: field("app")?,
            dotnet: field("dotnet")?,
            image: field("image")?,
            image_id: header.get("image-id").cloned().unwrap_or_default(),
            after: header.get("after").cloned().unwrap_or_default(),
            assemblies,
        })
    }

    /// The first assembly that `has` says the framework lacks, as an error at its line.
    pub fn check_against(
        &self,
        path: &Path,
        text: &str,
        has: impl Fn(Framework, &str) -> bool,
    ) -> Result<(), SourceError> {
        for assembly in &self.assemblies {
            if !has(assembly.framework, &assembly.name) {
                let line: usize = assembly
                    .at
                    .rsplit(':')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let offset: usize = text
                    .split_inclusive('\n')
                    .take(line.saturating_sub(1))
                    .map(str::len)
                    .sum();
                return Err(SourceError::at_offset(
                    path,
                    text,
                    offset,
                    format!(
                        "`{}` is not an assembly of {} {}",
                        assembly.name,
                        assembly.framework.shared_name(),
                        self.dotnet
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The recipe files `r2r tune` writes from recordings: `recipes.toml` and the union's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunedRecipes {
    /// The text of `recipes.toml` (format of `experiments/recipes.toml`).
    pub recipes_toml: String,
    /// Lists besides the recordings themselves (file name, text): the union of several apps'.
    pub lists: Vec<(String, String)>,
    /// The recipe names written, in order.
    pub names: Vec<String>,
}

/// The name of the union's recipe (and, with `-pgo`, its profiled twin).
pub const UNION: &str = "tuned-all";

/// The name of the recipe tuned for `app`.
pub fn tuned_name(app: &str) -> String {
    format!("tuned-{app}")
}

/// The file name of `app`'s recording.
pub fn file_name(app: &str) -> String {
    format!("{app}.assemblies.txt")
}

/// Recipes from recordings (each with its file name beside the recipes file). Per app:
/// `tuned-<app>`, whose roots are what the app loaded, compiled whole, the rest of the
/// frameworks unrooted (`-u`: compiled only where the roots reach); and `tuned-<app>-pgo`,
/// the same roots with only the methods of the runtime pack's profile compiled (`--partial`).
/// With more than one app, `tuned-all` and `tuned-all-pgo` root the union, for a framework
/// image the apps share.
pub fn tuned_recipes(recordings: &[Recording]) -> TunedRecipes {
    let mut text = String::from(
        "# Recipes tuned for apps by `r2r tune`, from what each app loaded (the recordings beside\n\
         # this file). Plain recipes in the format of experiments/recipes.toml: edit them, or copy\n\
         # them with their lists into experiments/ to keep them.\n",
    );
    let mut names = Vec::new();
    let mut entry = |name: &str,
                     (summary, source): (String, String),
                     (list, apps): (&str, &[&str]),
                     pgo: bool| {
        let apps: Vec<String> = apps.iter().map(|app| quote(app)).collect();
        text.push_str(&format!(
            "\n[recipes.{name}]\nsummary = {}\nsource = {}\napps = [{}]\nroots = {}\nrecording = {}\noptimize = \"O\"\ninputbubble = true\n",
            quote(&summary),
            quote(&source),
            apps.join(", "),
            quote(list),
            quote(list),
        ));
        if pgo {
            text.push_str("mibc = true\npartial = true\nembed-pgo-data = true\n");
        }
        names.push(name.to_string());
    };
    for recording in recordings {
        let name = tuned_name(&recording.app);
        let counts = format!(
            "{} framework assemblies `{}` loaded ({} of Microsoft.NETCore.App, {} of Microsoft.AspNetCore.App)",
            recording.assemblies.len(),
            recording.app,
            recording.count(Framework::Runtime),
            recording.count(Framework::Aspnet)
        );
        let source = format!(
            "r2r tune: recorded in {} ({}), {}",
            recording.image,
            short_id(&recording.image_id),
            recording.after
        );
        let list = file_name(&recording.app);
        let apps = [recording.app.as_str()];
        entry(
            &name,
            (
                format!("The {counts} as roots, compiled whole; the rest unrooted (-u)"),
                source.clone(),
            ),
            (&list, &apps),
            false,
        );
        entry(
            &format!("{name}-pgo"),
            (
                format!("The {counts} as roots, only the methods of the runtime pack's profile compiled (--partial); the rest unrooted (-u)"),
                source,
            ),
            (&list, &apps),
            true,
        );
    }
    let mut lists = Vec::new();
    if recordings.len() > 1 {
        let mut union: std::collections::BTreeMap<&str, (Framework, Vec<&str>)> =
            std::collections::BTreeMap::new();
        for recording in recordings {
            for assembly in &recording.assemblies {
                union
                    .entry(&assembly.name)
                    .or_insert((assembly.framework, Vec::new()))
                    .1
                    .push(&recording.app);
            }
        }
        let apps: Vec<&str> = recordings.iter().map(|r| r.app.as_str()).collect();
        let mut list = format!(
            "# The union of what {} loaded: the roots of a framework image they share.\n",
            apps.join(", ")
        );
        for (name, (framework, by)) in &union {
            list.push_str(&format!(
                "{name}  # {} ({})\n",
                framework.shared_name(),
                by.join(", ")
            ));
        }
        let file = format!("{UNION}.roots.txt");
        let summary = format!(
            "The {} framework assemblies any of {} loaded as roots",
            union.len(),
            apps.join(", ")
        );
        let source = "r2r tune: the union of the recordings beside this file".to_string();
        entry(
            UNION,
            (
                format!("{summary}, compiled whole; the rest unrooted (-u)"),
                source.clone(),
            ),
            (&file, &apps),
            false,
        );
        entry(
            &format!("{UNION}-pgo"),
            (
                format!("{summary}, only the methods of the runtime pack's profile compiled (--partial); the rest unrooted (-u)"),
                source,
            ),
            (&file, &apps),
            true,
        );
        lists.push((file, list));
    }
    TunedRecipes {
        recipes_toml: text,
        lists,
        names,
    }
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped() -> Vec<String> {
        [
            "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Private.CoreLib.dll",
            "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Runtime.dll",
            "/usr/share/dotnet/shared/Microsoft.AspNetCore.App/10.0.12/Microsoft.AspNetCore.dll",
            "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so",
            "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.11/System.Linq.dll",
            "/app/WebApi.dll",
            "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Runtime.dll",
        ]
        .map(String::from)
        .to_vec()
    }

    fn recording() -> Recording {
        Recording {
            app: "webapi".into(),
            dotnet: "10.0.12".into(),
            image: "r2r/composite:no-composite-webapi".into(),
            image_id: "sha256:abc".into(),
            after: "ready (GET / answers 200)".into(),
            assemblies: Recording::assemblies_from_mapped(&mapped(), "10.0.12"),
        }
    }

    #[test]
    fn only_the_frameworks_assemblies_of_the_version_are_taken_once_each() {
        let names: Vec<(String, Framework)> = recording()
            .assemblies
            .into_iter()
            .map(|a| (a.name, a.framework))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Microsoft.AspNetCore".to_string(), Framework::Aspnet),
                ("System.Private.CoreLib".to_string(), Framework::Runtime),
                ("System.Runtime".to_string(), Framework::Runtime),
            ]
        );
    }

    #[test]
    fn a_recording_reads_back_as_written_and_as_a_recipe_list() {
        let recording = recording();
        let text = recording.to_text();
        let path = Path::new("tune/webapi.assemblies.txt");
        let back = Recording::parse(path, &text).unwrap();
        assert_eq!(back.app, "webapi");
        assert_eq!(back.image_id, "sha256:abc");
        assert_eq!(back.assemblies.len(), 3);
        assert_eq!(back.assemblies[1].at, "tune/webapi.assemblies.txt:8");
        assert_eq!(back.count(Framework::Runtime), 2);
        // Every line that is not a comment is a bare assembly name: a recipe list.
        let bare: Vec<&str> = text
            .lines()
            .map(|line| line.split('#').next().unwrap().trim())
            .filter(|line| !line.is_empty())
            .collect();
        assert_eq!(
            bare,
            [
                "Microsoft.AspNetCore",
                "System.Private.CoreLib",
                "System.Runtime"
            ]
        );
    }

    #[test]
    fn bad_recordings_are_refused_at_their_line() {
        let path = Path::new("r.txt");
        let good = recording().to_text();
        let error = |text: &str| Recording::parse(path, text).unwrap_err().to_string();
        assert!(error("System.Runtime  # Microsoft.NETCore.App\n").contains("r.txt:1"));
        let twice = format!("{good}System.Runtime  # Microsoft.NETCore.App\n");
        let message = error(&twice);
        assert!(
            message.contains("r.txt:10") && message.contains("twice"),
            "{message}"
        );
        let no_framework = format!("{good}System.Linq\n");
        assert!(error(&no_framework).contains("r.txt:10"));
        let other = format!("{good}System.Linq  # Microsoft.WindowsDesktop.App\n");
        assert!(error(&other).contains("not a shared framework"));
        let no_app = good.replace("# app: webapi\n", "");
        assert!(error(&no_app).contains("`# app: ...`"));
    }

    #[test]
    fn tuned_recipes_load_as_recipes_and_root_exactly_the_recordings() {
        let dir = tempfile::tempdir().unwrap();
        let webapi = recording();
        let mut console = recording();
        console.app = "console".into();
        console
            .assemblies
            .retain(|a| a.framework == Framework::Runtime);
        let tuned = tuned_recipes(&[webapi.clone(), console.clone()]);
        for recording in [&webapi, &console] {
            std::fs::write(
                dir.path().join(file_name(&recording.app)),
                recording.to_text(),
            )
            .unwrap();
        }
        for (file, text) in &tuned.lists {
            std::fs::write(dir.path().join(file), text).unwrap();
        }
        let path = dir.path().join("recipes.toml");
        std::fs::write(&path, &tuned.recipes_toml).unwrap();
        let recipes = crate::model::recipe::load_file(&path).unwrap();
        assert_eq!(
            recipes.keys().collect::<Vec<_>>(),
            [
                "tuned-all",
                "tuned-all-pgo",
                "tuned-console",
                "tuned-console-pgo",
                "tuned-webapi",
                "tuned-webapi-pgo"
            ]
        );
        let roots = |name: &str| -> Vec<String> {
            recipes[name]
                .roots
                .as_ref()
                .unwrap()
                .iter()
                .map(|r| r.name.clone())
                .collect()
        };
        assert_eq!(
            roots("tuned-webapi"),
            [
                "Microsoft.AspNetCore",
                "System.Private.CoreLib",
                "System.Runtime"
            ]
        );
        assert_eq!(
            roots("tuned-console"),
            ["System.Private.CoreLib", "System.Runtime"]
        );
        assert_eq!(roots("tuned-all"), roots("tuned-webapi"));
        assert!(recipes["tuned-webapi-pgo"].partial && recipes["tuned-webapi-pgo"].mibc);
        assert!(!recipes["tuned-webapi"].partial);
        assert_eq!(recipes["tuned-webapi"].apps, ["webapi"]);
        assert!(!recipes["tuned-webapi-pgo"].serves("console"));
        assert_eq!(recipes["tuned-all"].apps, ["webapi", "console"]);
        assert_eq!(
            recipes["tuned-webapi"].recorded,
            recipes["tuned-webapi"].roots
        );
        assert_eq!(tuned.names.len(), 6);
        // One app: no union.
        assert_eq!(
            tuned_recipes(&[webapi]).names,
            ["tuned-webapi", "tuned-webapi-pgo"]
        );
    }

    #[test]
    fn an_assembly_the_framework_lacks_is_named_with_its_line() {
        let text = format!(
            "{}System.Bogus  # Microsoft.NETCore.App\n",
            recording().to_text()
        );
        let path = Path::new("tune/webapi.assemblies.txt");
        let read = Recording::parse(path, &text).unwrap();
        let error = read
            .check_against(path, &text, |_, name| name != "System.Bogus")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("webapi.assemblies.txt:10") && error.contains("System.Bogus"),
            "{error}"
        );
        assert!(read.check_against(path, &text, |_, _| true).is_ok());
    }
}
