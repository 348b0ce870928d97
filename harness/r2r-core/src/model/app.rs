//! Apps: the sample apps of `experiments/apps/apps.toml`, and apps a scenario defines itself
//! (a project anywhere on disk, or one made from an SDK template), with how r2r starts each
//! and knows it is ready.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::framework::Framework;

/// The kind of an app, which decides how it is run: on which network, and what "ready" means
/// when the app does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// Runs and exits: ready when it exits (with code 0 unless its rule says otherwise).
    Console,
    /// Serves HTTP on 127.0.0.1 (host network): ready when a path answers. Written `web`
    /// or `webapi`.
    #[serde(alias = "web")]
    Webapi,
    /// Runs until stopped and serves nothing: ready when a log line matches.
    Worker,
}

impl AppKind {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Console => "console",
            AppKind::Webapi => "webapi",
            AppKind::Worker => "worker",
        }
    }

    /// The names a scenario may write, for error messages.
    pub const WRITTEN: &'static str = "console, web (or webapi), worker";
}

/// How r2r knows an app is ready. Every condition given must hold; with `exit` the process
/// must also have exited with that code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyRule {
    /// The process exits with this code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i64>,
    /// `GET` of this path on 127.0.0.1 answers with `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    /// The HTTP status `http` must answer with (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A line of the output (stdout or stderr) matches this regular expression. With
    /// `exit`, the output up to the exit must contain such a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl ReadyRule {
    /// The rule an app of `kind` gets when it gives none.
    pub fn default_for(kind: AppKind) -> ReadyRule {
        match kind {
            AppKind::Console => ReadyRule {
                exit: Some(0),
                ..ReadyRule::default()
            },
            AppKind::Webapi => ReadyRule {
                http: Some("/".into()),
                ..ReadyRule::default()
            },
            // What the .NET generic host logs once every hosted service has started.
            AppKind::Worker => ReadyRule {
                log: Some("Application started".into()),
                ..ReadyRule::default()
            },
        }
    }

    /// The status `http` must answer with.
    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or(200)
    }

    /// Checks the rule makes sense for an app of `kind`; the error says what to change.
    pub fn check(&self, kind: AppKind) -> Result<(), String> {
        if self.status.is_some() && self.http.is_none() {
            return Err("`status` is the answer of `http`; give `http` too".into());
        }
        if self.exit.is_none() && self.http.is_none() && self.log.is_none() {
            return Err("a readiness rule needs `exit`, `http` or `log`".into());
        }
        if self.exit.is_some() && self.http.is_some() {
            return Err(
                "`exit` and `http` exclude each other: an app that has exited answers no request"
                    .into(),
            );
        }
        if let Some(status) = self.status {
            if !(100..=599).contains(&status) {
                return Err(format!("`status` {status} is not an HTTP status (100-599)"));
            }
        }
        if let Some(path) = &self.http {
            check_path(path).map_err(|error| format!("`http`: {error}"))?;
            if kind != AppKind::Webapi {
                return Err(format!(
                    "`http` needs a web app (kind = \"web\"); a {} app runs without a network",
                    kind.name()
                ));
            }
        }
        if let Some(pattern) = &self.log {
            regex::Regex::new(pattern)
                .map_err(|error| format!("`log` is not a regular expression: {error}"))?;
        }
        Ok(())
    }

    /// Whether a line of `output` matches `log` (true when there is no `log`).
    pub fn log_seen(&self, output: &str) -> bool {
        match &self.log {
            None => true,
            Some(pattern) => match regex::Regex::new(pattern) {
                Ok(regex) => output.lines().any(|line| regex.is_match(line)),
                Err(_) => false,
            },
        }
    }

    /// The rule in one line, as a scenario writes it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(code) = self.exit {
            parts.push(format!("exits with {code}"));
        }
        if let Some(pattern) = &self.log {
            parts.push(format!("logs /{pattern}/"));
        }
        if let Some(path) = &self.http {
            parts.push(format!("GET {path} answers {}", self.http_status()));
        }
        parts.join(", then ")
    }
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{path:?} is not a path (it starts with `/`)"));
    }
    if path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '#')
    {
        return Err(format!(
            "{path:?} has a space, a control character or a `#`"
        ));
    }
    Ok(())
}

/// An app r2r can build: a sample of `experiments/apps/`, or a scenario's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// What kind of app it is.
    pub kind: AppKind,
    /// The project file: relative to `experiments/apps/` for a sample; absolute for a
    /// scenario's own app; for a template, where it is made (absent until then).
    #[serde(default)]
    pub project: PathBuf,
    /// The SDK template it is made from (`dotnet new <template>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The assembly name (the `.dll` file without extension).
    pub assembly: String,
    /// Which frameworks the app needs.
    pub frameworks: Vec<Framework>,
    /// How r2r knows it is ready; absent: the kind's rule ([`ReadyRule::default_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<ReadyRule>,
    /// A path requested once the app is ready (web apps): the time to its answer is the
    /// first-request time. It must answer 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The port the app listens on (web apps). Absent: r2r picks a free port on 127.0.0.1
    /// for each run and passes it as `PORT` and `ASPNETCORE_URLS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Arguments after the app's entry point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment variables of its container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Whether it is a scenario's own app (a project or a template), built with its own
    /// settings rather than the samples' shared ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

impl App {
    /// Which placement of a variant it takes (`apps.console` or `apps.webapi` of
    /// `variants.toml`): an app that needs ASP.NET Core stands on the aspnet image, any other
    /// on the runtime image.
    pub fn placement(&self) -> AppKind {
        if self.frameworks.contains(&Framework::Aspnet) {
            AppKind::Webapi
        } else {
            AppKind::Console
        }
    }

    /// How it is started and known to be ready.
    pub fn launch(&self) -> Launch {
        Launch {
            ready: self
                .ready
                .clone()
                .unwrap_or_else(|| ReadyRule::default_for(self.kind)),
            request: self.request.clone(),
            port: self.port,
            args: self.args.clone(),
            env: self.env.clone(),
        }
    }

    /// The project file, for an app of a catalog rooted at `experiments`.
    pub fn project_path(&self, experiments: &Path) -> PathBuf {
        experiments.join("apps").join(&self.project)
    }
}

/// How an app image is started and known to be ready: the app's rule, request, port,
/// arguments and environment, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Launch {
    /// When it is ready.
    pub ready: ReadyRule,
    /// The path requested once ready (web apps), which must answer 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// A fixed port it listens on; absent: r2r picks one per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Arguments after the entry point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Launch {
    /// How the samples were started before apps said so themselves (plans written then
    /// carry no launch): the console app exits 0 after its result line; the web API logs
    /// `r2r-ready`, answers `/`, and is asked for `/releases`.
    pub fn sample(kind: AppKind) -> Launch {
        let ready = match kind {
            AppKind::Console => ReadyRule {
                exit: Some(0),
                log: Some("r2r-console-ok".into()),
                ..ReadyRule::default()
            },
            AppKind::Webapi => ReadyRule {
                log: Some("r2r-ready".into()),
                http: Some("/".into()),
                ..ReadyRule::default()
            },
            AppKind::Worker => ReadyRule::default_for(kind),
        };
        Launch {
            request: (kind == AppKind::Webapi).then(|| "/releases".to_string()),
            ready,
            port: None,
            args: Vec::new(),
            env: BTreeMap::new(),
        }
    }

    /// The environment of one run on `port` (web apps, when r2r picked the port): `PORT`
    /// and `ASPNETCORE_URLS` on 127.0.0.1, then the app's own variables (which win).
    pub fn environment(&self, kind: AppKind, picked_port: Option<u16>) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        if let (AppKind::Webapi, Some(port)) = (kind, picked_port) {
            env.insert("PORT".to_string(), port.to_string());
            env.insert(
                "ASPNETCORE_URLS".to_string(),
                format!("http://127.0.0.1:{port}"),
            );
        }
        env.extend(self.env.clone());
        env
    }
}

/// An app as a scenario defines it inline in `apps` (see [`crate::model::scenario`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineApp {
    /// Its name in the scenario (image tags, tables); default: the project's file stem or
    /// the template's name, in lower case.
    pub name: Option<String>,
    /// The project file, relative to the scenario file (or absolute).
    pub project: Option<PathBuf>,
    /// An SDK template (`dotnet new <template>`) to make the project from at build time.
    pub template: Option<String>,
    /// `console`, `web` or `worker`; default: from the project's SDK (`Microsoft.NET.Sdk.Web`
    /// is web, `Microsoft.NET.Sdk.Worker` a worker, any other a console app).
    pub kind: Option<AppKind>,
    /// The assembly name; default: the project's `AssemblyName`, else its file stem.
    pub assembly: Option<String>,
    /// The frameworks it needs; default: from the project (an ASP.NET Core SDK or framework
    /// reference needs `aspnet`), else from the kind.
    pub frameworks: Option<Vec<Framework>>,
    /// Readiness rule.
    pub ready: Option<ReadyRule>,
    /// Path requested once ready.
    pub request: Option<String>,
    /// Fixed port.
    pub port: Option<u16>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// What a project file says of itself: its SDK and framework references, and its assembly
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFacts {
    /// The `Sdk` attribute of `<Project>`.
    pub sdk: String,
    /// Whether it references `Microsoft.AspNetCore.App`.
    pub references_aspnet: bool,
    /// `<AssemblyName>`, if set to a plain value.
    pub assembly_name: Option<String>,
}

impl ProjectFacts {
    /// Reads the facts from a project file's text (no MSBuild evaluation: imports and
    /// conditions are not followed).
    pub fn read(text: &str) -> ProjectFacts {
        let sdk = text
            .find("<Project")
            .and_then(|start| {
                let tag = &text[start..];
                let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
                let at = tag.find("Sdk=")?;
                let quoted = &tag[at + 4..];
                let quote = quoted.chars().next()?;
                let value = &quoted[1..];
                value.find(quote).map(|end| value[..end].to_string())
            })
            .unwrap_or_default();
        let references_aspnet = text.contains("\"Microsoft.AspNetCore.App\"");
        let assembly_name = text.find("<AssemblyName>").and_then(|start| {
            let value = &text[start + "<AssemblyName>".len()..];
            let value = &value[..value.find('<')?];
            (!value.contains('$') && !value.trim().is_empty()).then(|| value.trim().to_string())
        });
        ProjectFacts {
            sdk,
            references_aspnet,
            assembly_name,
        }
    }

    /// The kind the project's SDK implies.
    pub fn kind(&self) -> AppKind {
        let sdk = self.sdk.to_ascii_lowercase();
        if sdk.contains("microsoft.net.sdk.web") || sdk.contains("microsoft.net.sdk.razor") {
            AppKind::Webapi
        } else if sdk.contains("microsoft.net.sdk.worker") {
            AppKind::Worker
        } else {
            AppKind::Console
        }
    }

    /// Whether it needs ASP.NET Core.
    pub fn needs_aspnet(&self) -> bool {
        self.references_aspnet || self.kind() == AppKind::Webapi
    }
}

/// The frameworks an app of `kind` needs when its project does not say more.
pub fn frameworks_of(kind: AppKind, needs_aspnet: bool) -> Vec<Framework> {
    if needs_aspnet || kind == AppKind::Webapi {
        vec![Framework::Runtime, Framework::Aspnet]
    } else {
        vec![Framework::Runtime]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_facts_come_from_the_project_element_and_references() {
        let web = ProjectFacts::read(
            "<Project Sdk=\"Microsoft.NET.Sdk.Web\">\n<PropertyGroup><AssemblyName>Shop.Api</AssemblyName></PropertyGroup></Project>",
        );
        assert_eq!(web.kind(), AppKind::Webapi);
        assert!(web.needs_aspnet());
        assert_eq!(web.assembly_name.as_deref(), Some("Shop.Api"));
        let worker = ProjectFacts::read("<Project Sdk='Microsoft.NET.Sdk.Worker'></Project>");
        assert_eq!(worker.kind(), AppKind::Worker);
        assert!(!worker.needs_aspnet());
        let console = ProjectFacts::read(
            "<Project Sdk=\"Microsoft.NET.Sdk\"><ItemGroup><FrameworkReference Include=\"Microsoft.AspNetCore.App\" /></ItemGroup><PropertyGroup><AssemblyName>$(Name)</AssemblyName></PropertyGroup></Project>",
        );
        assert_eq!(console.kind(), AppKind::Console);
        assert!(console.needs_aspnet());
        assert_eq!(
            console.assembly_name, None,
            "a computed name is not guessed"
        );
    }

    #[test]
    fn readiness_rules_are_checked_against_the_kind() {
        let rule = |text: &str| -> ReadyRule { toml::from_str(text).unwrap() };
        assert!(rule("exit = 0").check(AppKind::Console).is_ok());
        assert!(rule("http = \"/health\"\nstatus = 204")
            .check(AppKind::Webapi)
            .is_ok());
        let error = rule("http = \"/\"").check(AppKind::Worker).unwrap_err();
        assert!(error.contains("needs a web app"), "{error}");
        let error = rule("exit = 0\nhttp = \"/\"")
            .check(AppKind::Webapi)
            .unwrap_err();
        assert!(error.contains("exclude each other"), "{error}");
        let error = rule("status = 200").check(AppKind::Webapi).unwrap_err();
        assert!(error.contains("give `http`"), "{error}");
        let error = rule("log = \"(unclosed\"")
            .check(AppKind::Worker)
            .unwrap_err();
        assert!(error.contains("regular expression"), "{error}");
        let error = rule("http = \"health\"")
            .check(AppKind::Webapi)
            .unwrap_err();
        assert!(error.contains("not a path"), "{error}");
        assert!(ReadyRule::default().check(AppKind::Console).is_err());
        let unknown = toml::from_str::<ReadyRule>("tcp = 80")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown field `tcp`"), "{unknown}");
    }

    #[test]
    fn a_log_rule_matches_whole_lines_by_regular_expression() {
        let rule = ReadyRule {
            log: Some(r"^info: .*Application started".into()),
            ..ReadyRule::default()
        };
        assert!(rule.log_seen(
            "warn: x\ninfo: Microsoft.Hosting.Lifetime[0] Application started. Press Ctrl+C\n"
        ));
        assert!(!rule.log_seen("warn: Application started\n"));
        assert!(ReadyRule::default().log_seen(""));
    }

    #[test]
    fn a_picked_port_is_passed_and_the_apps_own_variables_win() {
        let mut launch = Launch::sample(AppKind::Webapi);
        launch
            .env
            .insert("ASPNETCORE_URLS".into(), "http://127.0.0.1:9000".into());
        let env = launch.environment(AppKind::Webapi, Some(4321));
        assert_eq!(env["PORT"], "4321");
        assert_eq!(env["ASPNETCORE_URLS"], "http://127.0.0.1:9000");
        assert!(Launch::sample(AppKind::Console)
            .environment(AppKind::Console, None)
            .is_empty());
    }
}
