//! Apps of the user's: a project anywhere on disk, or one made from an SDK template. What
//! they are published with, which of their files count for the input hash, and the refusal
//! of a trimmed publish that gave trim warnings.

use std::path::{Path, PathBuf};

use super::{
    cached, files_under, io_error, run, sdk_version_of, AppCompilation, DotnetError, Workspace,
};
use crate::model::app::App;

impl Workspace {
    /// The MSBuild properties an app of the user's is published with: its target framework
    /// set to the scenario's (whatever the project says), and the settings of
    /// `apps/shared/OwnApp.props` and `.targets` imported into it.
    pub(super) fn own_app_properties(
        &self,
        app: &App,
        compilation: &AppCompilation,
    ) -> Vec<String> {
        if !app.external {
            return Vec::new();
        }
        let shared = self.experiments.join("apps/shared");
        vec![
            format!("-p:TargetFramework={}", compilation.target_framework),
            format!(
                "-p:CustomAfterMicrosoftCommonProps={}",
                shared.join("OwnApp.props").display()
            ),
            format!(
                "-p:CustomAfterMicrosoftCommonTargets={}",
                shared.join("OwnApp.targets").display()
            ),
        ]
    }

    /// Makes a project from an SDK template (`dotnet new <template> -n <assembly>`) once per
    /// template, name and SDK, under the workspace's `templates/`; returns its project file.
    /// A template the SDK does not have fails with the SDK's own message.
    pub fn make_template(&self, template: &str, assembly: &str) -> Result<PathBuf, DotnetError> {
        let sdk = sdk_version_of(&self.dotnet).unwrap_or_else(|| "unknown".to_string());
        let dir = cached(
            &self.root.join("templates"),
            &format!("{template}-{assembly}-sdk{sdk}"),
            |out| {
                let mut command = self.dotnet_command();
                command
                    .arg("new")
                    .arg(template)
                    .arg("-n")
                    .arg(assembly)
                    .arg("-o")
                    .arg(out.join("project"))
                    .arg("--no-restore");
                run(&mut command, "")?;
                Ok(())
            },
        )?;
        let project = dir.join("project").join(format!("{assembly}.csproj"));
        if !project.is_file() {
            return Err(DotnetError::Missing {
                what: format!("the project `dotnet new {template}` makes"),
                path: project,
            });
        }
        Ok(project)
    }
}

/// The directories whose files an app of the user's is built from: its project's, and
/// those of the projects it references (`<ProjectReference Include="...">`, one level).
pub(super) fn project_dirs(project: &Path) -> Result<Vec<PathBuf>, DotnetError> {
    let dir = project.parent().unwrap_or(Path::new("/")).to_path_buf();
    let text = std::fs::read_to_string(project).map_err(io_error("reading", project))?;
    let mut dirs = vec![dir.clone()];
    for part in text.split("<ProjectReference").skip(1) {
        let Some(include) = part.split("Include=\"").nth(1) else {
            continue;
        };
        let Some(path) = include.split('"').next() else {
            continue;
        };
        let referenced = dir.join(path.replace('\\', "/"));
        if let Some(parent) = referenced.parent() {
            let parent = parent.to_path_buf();
            if !dirs.iter().any(|known| parent.starts_with(known)) {
                dirs.push(parent);
            }
        }
    }
    Ok(dirs)
}

/// The source files of an app of the user's under `dir`: every file but those in build
/// output (`bin`, `obj`) and in hidden or package directories (`.git`, `node_modules`).
pub(super) fn own_source_files(dir: &Path) -> Result<Vec<PathBuf>, DotnetError> {
    files_under(dir, |name| {
        !matches!(name, "bin" | "obj" | "node_modules") && !name.starts_with('.')
    })
}

/// Refuses a trimmed publish that gave trim warnings (`warning IL2xxx`, `IL3xxx`).
pub fn check_trim_warnings(app: &str, output: &str) -> Result<(), DotnetError> {
    // MSBuild prints each warning where it happens and again in its summary.
    let mut warnings: Vec<&str> = Vec::new();
    for line in output.lines().map(str::trim) {
        let trim_warning = line
            .split("warning IL")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('2') || rest.starts_with('3'));
        if trim_warning && !warnings.contains(&line) {
            warnings.push(line);
        }
    }
    let mut codes: Vec<String> = warnings
        .iter()
        .filter_map(|line| {
            let rest = line.split("warning ").nth(1)?;
            Some(rest.split(':').next()?.trim().to_string())
        })
        .collect();
    codes.sort();
    codes.dedup();
    match warnings.first() {
        None => Ok(()),
        Some(first) => Err(DotnetError::TrimWarnings {
            app: app.to_string(),
            count: warnings.len(),
            codes: codes.join(", "),
            first: first.trim().chars().take(300).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {}
