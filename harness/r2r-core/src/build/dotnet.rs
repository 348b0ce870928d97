//! Host-side preparation of what goes into the images, with the local .NET SDK and NuGet:
//! restoring the exact runtime, ASP.NET Core and crossgen2 packs of a version, laying out
//! shared frameworks as an installer would, compiling composites with crossgen2, and
//! publishing the sample apps.
//!
//! Every product is cached in the work directory under a key derived from its inputs, built
//! in a temporary directory and renamed into place when complete, so an interrupted run
//! never leaves a half-made product that a later run would trust.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::model::catalog::{App, CompositeSpec, Framework, PublishSpec};
use crate::model::platform::Platform;
use crate::model::recipe::{Crossgen2Abilities, Recipe, MIBC_FILE};
use crate::support::hash::InputHasher;

/// The runtime identifier of x64 images (the default platform); [`Packs::platform`] says
/// which one a set of packs is for.
pub const RUNTIME_IDENTIFIER: &str = "linux-x64";

/// Name of the composite file of the runtime framework alone.
pub const FRAMEWORK_COMPOSITE_FILE: &str = "framework-r2r.dll";

/// Name of the composite file of a self-contained app.
pub const APP_COMPOSITE_FILE: &str = "app-r2r.dll";

/// How a command that failed ended.
#[derive(Debug)]
pub enum CommandStatus {
    /// It could not be started.
    NotStarted(std::io::Error),
    /// It ran and exited unsuccessfully (or was killed by a signal).
    Exited(std::process::ExitStatus),
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandStatus::NotStarted(error) => error.fmt(f),
            CommandStatus::Exited(status) => status.fmt(f),
        }
    }
}

/// Errors preparing .NET content; each names the command or path involved.
#[derive(Debug, thiserror::Error)]
pub enum DotnetError {
    /// The scenario's .NET is newer than the SDK here, and this step needs an SDK of its own
    /// version (Native AOT, an sdk image).
    #[error(
        "{what} for .NET {version} needs the .NET {major} SDK; this machine has the {sdk} SDK"
    )]
    NeedsNewerSdk {
        /// What cannot be made.
        what: String,
        /// The scenario's .NET version.
        version: String,
        /// The major version of the SDK it needs.
        major: u32,
        /// The SDK here (`dotnet --version`).
        sdk: String,
    },
    /// A command could not be started or failed.
    #[error("`{command}` failed ({status}){hint}\n--- output (last lines) ---\n{output_tail}")]
    Command {
        /// The command line.
        command: String,
        /// How it ended: not started, or its exit status.
        status: CommandStatus,
        /// The last lines of its output.
        output_tail: String,
        /// A hint on what to do, may be empty.
        hint: String,
    },
    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A composite recipe cannot be applied to this version's frameworks or crossgen2.
    #[error("recipe `{recipe}`: {message}")]
    Recipe {
        /// The recipe's name.
        recipe: String,
        /// What is wrong, naming the assembly (with its list's file and line) or the flag.
        message: String,
    },
    /// An app of the user's gave trim warnings: trimming could remove code it needs, so its
    /// trimmed variant is not built.
    #[error(
        "{app} gives {count} trim warning(s) ({codes}), so it is not trimmed (first: {first})"
    )]
    TrimWarnings {
        /// The app's name.
        app: String,
        /// How many warnings.
        count: usize,
        /// The distinct warning codes (`IL2026, IL2104`).
        codes: String,
        /// The first warning's line.
        first: String,
    },
    /// A pack or file expected after a restore is missing.
    #[error("expected {what} at {path}, but it is not there")]
    Missing {
        /// What was expected.
        what: String,
        /// Where.
        path: PathBuf,
    },
}

mod own_app;
pub use own_app::check_trim_warnings;
use own_app::{own_source_files, project_dirs};

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> DotnetError + 'a {
    move |source| DotnetError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The packs of one .NET version, restored from NuGet.
#[derive(Debug, Clone)]
pub struct Packs {
    /// The exact version.
    pub version: String,
    /// The target framework moniker of the packs, e.g. `net10.0` (their folders are named
    /// after it).
    pub target_framework: String,
    /// The target framework the apps are compiled for: the packs' own, or, where the SDK here
    /// is older than the packs, the newest the SDK knows ([`AppCompilation`]).
    pub app_compilation: AppCompilation,
    /// Root of the restored packages (`<packages>/<id lowercase>/<version>/`).
    pub packages: PathBuf,
    /// The crossgen2 command (a native executable, or `dotnet crossgen2.dll`).
    pub crossgen2: Vec<String>,
    /// The platform the runtime packs are for (crossgen2 is always the machine's).
    pub platform: Platform,
}

impl Packs {
    /// Directory of a framework's managed assemblies inside its runtime pack.
    pub fn managed_dir(&self, framework: Framework) -> PathBuf {
        self.pack_root(&self.runtime_pack(framework))
            .join("runtimes")
            .join(self.platform.runtime_identifier())
            .join("lib")
            .join(&self.target_framework)
    }

    /// Directory of a framework's native files inside its runtime pack.
    pub fn native_dir(&self, framework: Framework) -> PathBuf {
        self.pack_root(&self.runtime_pack(framework))
            .join("runtimes")
            .join(self.platform.runtime_identifier())
            .join("native")
    }

    /// The major version (11 of 11.0.0).
    pub fn major(&self) -> u32 {
        self.version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }

    /// The runtime pack of a framework for the packs' platform.
    pub fn runtime_pack(&self, framework: Framework) -> String {
        framework.runtime_pack_for(self.platform.runtime_identifier())
    }

    /// The runtime's profile (`tools/StandardOptimizationData.mibc` of the runtime pack).
    pub fn mibc_path(&self) -> PathBuf {
        self.pack_root(&self.runtime_pack(Framework::Runtime))
            .join("tools")
            .join(MIBC_FILE)
    }

    /// The profile the runtime pack lists as `PgoData` in its `data/RuntimeList.xml` (what
    /// the SDK adds to a ReadyToRun compile by default), when it lists one that exists.
    pub fn listed_profile(&self) -> Option<PathBuf> {
        let root = self.pack_root(&self.runtime_pack(Framework::Runtime));
        let list = std::fs::read_to_string(root.join("data/RuntimeList.xml")).ok()?;
        listed_pgo_data(&list)
            .into_iter()
            .map(|path| root.join(path))
            .find(|path| path.is_file())
    }

    fn pack_root(&self, id: &str) -> PathBuf {
        self.packages
            .join(id.to_ascii_lowercase())
            .join(&self.version)
    }
}

/// The `Path` of every `<File>` of a runtime pack's `RuntimeList.xml` whose `Type` is
/// `PgoData` and which ends in `.mibc` (the SDK's `RuntimePackAsset` of type `pgodata`).
pub fn listed_pgo_data(list: &str) -> Vec<String> {
    let attribute = |element: &str, name: &str| -> Option<String> {
        let start = element.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = element[start..].find('"')? + start;
        Some(element[start..end].to_string())
    };
    list.split("<File")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|element| attribute(element, "Type").as_deref() == Some("PgoData"))
        .filter_map(|element| attribute(element, "Path"))
        .filter(|path| path.ends_with(".mibc"))
        .collect()
}

/// How the apps of a .NET version are compiled with the SDK of this machine.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppCompilation {
    /// The target framework the apps are compiled for (`net10.0`).
    pub target_framework: String,
    /// The SDK that compiles them (`dotnet --version`), when it could be asked.
    pub sdk: Option<String>,
    /// Whether the runtime is newer than the SDK's newest target framework: the apps are
    /// compiled for that framework and pinned to the newer runtime
    /// (`RuntimeFrameworkVersion`), so they run on it; code that needs the newer version's own
    /// APIs cannot be built.
    pub rolled_forward: bool,
}

impl AppCompilation {
    /// The apps of .NET `version` with the SDK `sdk` (its version; `None`: not known, the
    /// packs' own framework is used).
    pub fn new(version: &str, sdk: Option<&str>) -> AppCompilation {
        let major = |text: &str| text.split('.').next().and_then(|m| m.parse::<u32>().ok());
        let runtime = major(version).unwrap_or(0);
        let compiled = match sdk.and_then(major) {
            Some(sdk_major) if sdk_major < runtime => sdk_major,
            _ => runtime,
        };
        AppCompilation {
            target_framework: format!("net{compiled}.0"),
            sdk: sdk.map(str::to_string),
            rolled_forward: compiled < runtime,
        }
    }

    /// One line for the report: "compiled for net10.0 by the 10.0.401 SDK, run on 11.0.0
    /// (RuntimeFrameworkVersion): .NET 11 APIs cannot be used".
    pub fn describe(&self, version: &str) -> String {
        let sdk = self.sdk.as_deref().unwrap_or("local");
        match self.rolled_forward {
            false => format!("compiled for {} by the {sdk} SDK", self.target_framework),
            true => format!(
                "compiled for {} by the {sdk} SDK (no SDK of .NET {version} here) and pinned to run on {version} (RuntimeFrameworkVersion); APIs new in {version} cannot be used",
                self.target_framework
            ),
        }
    }
}

/// The local SDK's version (`dotnet --version` of `dotnet`), asked once per process: a
/// process uses one SDK, so the first `dotnet` asked answers for all.
pub fn sdk_version_of(dotnet: &Path) -> Option<String> {
    static VERSION: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            let output = Command::new(dotnet).arg("--version").output().ok()?;
            let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
            (output.status.success() && !text.is_empty()).then_some(text)
        })
        .clone()
}

/// The work directory and the local SDK.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Where products are cached (e.g. `.r2r/work`).
    pub root: PathBuf,
    /// `experiments/` (app sources).
    pub experiments: PathBuf,
    /// The `dotnet` executable of the local SDK.
    pub dotnet: PathBuf,
}

/// Runs a command, capturing output; a failure carries the output tail.
fn run(command: &mut Command, hint: &str) -> Result<String, DotnetError> {
    let text = format!("{command:?}").replace('"', "");
    tracing::debug!("running {text}");
    let output =
        crate::support::children::output(command).map_err(|error| DotnetError::Command {
            command: text.clone(),
            status: CommandStatus::NotStarted(error),
            output_tail: String::new(),
            hint: hint.to_string(),
        })?;
    let combined = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        return Err(DotnetError::Command {
            command: text,
            status: CommandStatus::Exited(output.status),
            output_tail: crate::engine::containers::tail(&combined, 30),
            hint: hint.to_string(),
        });
    }
    Ok(combined)
}

/// Copies a directory tree, keeping symbolic links and permissions.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), DotnetError> {
    std::fs::create_dir_all(to).map_err(io_error("creating", to))?;
    for entry in std::fs::read_dir(from).map_err(io_error("reading", from))? {
        let entry = entry.map_err(io_error("reading", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_error("reading", &source))?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(io_error("reading link", &source))?;
            std::os::unix::fs::symlink(link, &target).map_err(io_error("linking", &target))?;
        } else if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(io_error("copying to", &target))?;
        }
    }
    Ok(())
}

/// Runs `produce` into a fresh temporary directory and renames it to `<root>/<key>` when it
/// succeeds; returns the cached directory when it already exists.
fn cached(
    root: &Path,
    key: &str,
    produce: impl FnOnce(&Path) -> Result<(), DotnetError>,
) -> Result<PathBuf, DotnetError> {
    let done = root.join(key);
    if done.is_dir() {
        return Ok(done);
    }
    std::fs::create_dir_all(root).map_err(io_error("creating", root))?;
    let temporary = root.join(format!("{key}.partial-{}", std::process::id()));
    if temporary.exists() {
        std::fs::remove_dir_all(&temporary).map_err(io_error("removing", &temporary))?;
    }
    std::fs::create_dir_all(&temporary).map_err(io_error("creating", &temporary))?;
    if let Err(error) = produce(&temporary) {
        let _ = std::fs::remove_dir_all(&temporary);
        return Err(error);
    }
    if let Err(error) = std::fs::rename(&temporary, &done) {
        // Another r2r made the same product meanwhile: its copy is as good as ours.
        if done.is_dir() {
            let _ = std::fs::remove_dir_all(&temporary);
            return Ok(done);
        }
        return Err(io_error("renaming into", &done)(error));
    }
    Ok(done)
}

/// Finds the local SDK's `dotnet`: `DOTNET_HOST_PATH`, then `PATH`, following links.
pub fn find_dotnet() -> Result<PathBuf, DotnetError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::var_os("DOTNET_HOST_PATH")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::split_paths(&path).map(|dir| dir.join("dotnet")));
    for candidate in candidates {
        if candidate.is_file() {
            return std::fs::canonicalize(&candidate).map_err(io_error("resolving", &candidate));
        }
    }
    Err(DotnetError::Missing {
        what: "the .NET SDK's `dotnet` (install the SDK and put it on PATH)".into(),
        path: "PATH".into(),
    })
}

impl Workspace {
    /// A workspace at `root` using the SDK on PATH.
    pub fn new(root: PathBuf, experiments: PathBuf) -> Result<Workspace, DotnetError> {
        Ok(Workspace {
            root,
            experiments,
            dotnet: find_dotnet()?,
        })
    }

    fn dotnet_command(&self) -> Command {
        let mut command = Command::new(&self.dotnet);
        command
            .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
            .env("DOTNET_NOLOGO", "1")
            .env("DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE", "1");
        command
    }

    /// Restores the runtime, ASP.NET Core, app host and crossgen2 packs of `version` for x64.
    pub fn restore_packs(&self, version: &str) -> Result<Packs, DotnetError> {
        self.restore_packs_for(version, Platform::default())
    }

    /// Restores the runtime, ASP.NET Core and app host packs of `version` for `platform`, and
    /// the crossgen2 pack of this machine (x64), which compiles for every platform.
    pub fn restore_packs_for(
        &self,
        version: &str,
        platform: Platform,
    ) -> Result<Packs, DotnetError> {
        let major = version.split('.').next().unwrap_or("0");
        let target_framework = format!("net{major}.0");
        // The SDK refuses a project for a framework newer than it knows (NETSDK1045), also one
        // that only downloads packages: the restore project names the apps' framework.
        let app_compilation = AppCompilation::new(version, sdk_version_of(&self.dotnet).as_deref());
        let restore_framework = app_compilation.target_framework.clone();
        let packages = self.root.join("packages");
        // The packs a version is resolved against, for the platform's runtime identifier
        // (the Native AOT compiler is restored by `dotnet publish` itself).
        let rid = platform.runtime_identifier();
        let ids = crate::model::dotnet_version::packs_for(rid, "linux-x64", false);
        let downloads: String = ids
            .iter()
            .map(|id| format!("    <PackageDownload Include=\"{id}\" Version=\"[{version}]\" />\n"))
            .collect();
        let project = format!(
            "<Project Sdk=\"Microsoft.NET.Sdk\">\n  <PropertyGroup>\n    <TargetFramework>{restore_framework}</TargetFramework>\n  </PropertyGroup>\n  <ItemGroup>\n{downloads}  </ItemGroup>\n</Project>\n"
        );
        let packs = Packs {
            version: version.to_string(),
            target_framework,
            app_compilation,
            packages: packages.clone(),
            crossgen2: Vec::new(),
            platform,
        };
        let all_present = ids
            .iter()
            .all(|id| packs.pack_root(id).join(".nupkg.metadata").is_file());
        if !all_present {
            let directory = match platform.suffix() {
                None => self.root.join(format!("restore-{version}")),
                Some(_) => self.root.join(format!("restore-{version}-{rid}")),
            };
            std::fs::create_dir_all(&directory).map_err(io_error("creating", &directory))?;
            let project_path = directory.join("restore.csproj");
            std::fs::write(&project_path, project).map_err(io_error("writing", &project_path))?;
            run(
                self.dotnet_command().arg("restore").arg(&project_path).arg("--packages").arg(&packages),
                &format!(
                    "\n  the {rid} packs of .NET {version} could not be restored from the NuGet feeds this machine is configured for; \
                     a scenario's `dotnet` is resolved against them (`10.0` follows the newest patch they serve)"
                ),
            )?;
        }
        let tools = packs
            .pack_root(crate::model::dotnet_version::CROSSGEN2_PACK)
            .join("tools");
        let crossgen2 =
            if tools.join("crossgen2").is_file() && !tools.join("crossgen2.dll").is_file() {
                vec![tools.join("crossgen2").display().to_string()]
            } else if tools.join("crossgen2.dll").is_file() {
                vec![
                    self.dotnet.display().to_string(),
                    tools.join("crossgen2.dll").display().to_string(),
                ]
            } else {
                return Err(DotnetError::Missing {
                    what: "crossgen2 in its pack".into(),
                    path: tools,
                });
            };
        for framework in [Framework::Runtime, Framework::Aspnet] {
            let managed = packs.managed_dir(framework);
            if !managed.is_dir() {
                return Err(DotnetError::Missing {
                    what: format!("the {} assemblies", framework.shared_name()),
                    path: managed,
                });
            }
        }
        Ok(Packs { crossgen2, ..packs })
    }

    /// Lays out `frameworks` under `usr/share/dotnet` (plus the host when `with_host`), with
    /// the assemblies of `composite.include` compiled into one composite. Returns the root
    /// file system directory to copy into the image.
    pub fn framework_rootfs(
        &self,
        packs: &Packs,
        frameworks: &[Framework],
        composite: Option<&CompositeSpec>,
        recipe: &Recipe,
        with_host: bool,
    ) -> Result<PathBuf, DotnetError> {
        let mut hasher = InputHasher::default();
        hasher
            .part("kind", b"framework-rootfs-v1")
            .part("version", packs.version.as_bytes())
            .part("frameworks", format!("{frameworks:?}").as_bytes())
            .part("composite", format!("{composite:?}").as_bytes())
            .part("host", &[with_host as u8]);
        // The default platform adds nothing, so x64 products made before platforms are reused.
        if !packs.platform.is_default() {
            hasher.part("platform", packs.platform.name().as_bytes());
        }
        // The default recipe adds nothing, so products made before recipes existed are reused.
        if composite.is_some() && !recipe.is_default() {
            hasher.part("recipe", format!("{recipe:?}").as_bytes());
        }
        let key = hasher.finish();
        cached(&self.root.join("rootfs"), &key[..16], |out| {
            let dotnet_root = out.join("usr/share/dotnet");
            if with_host {
                self.lay_out_host(packs, &dotnet_root)?;
            }
            for framework in frameworks {
                self.lay_out_framework(packs, *framework, &dotnet_root)?;
            }
            if let Some(spec) = composite {
                let started = Instant::now();
                self.compile_framework_composite(packs, spec, recipe, &dotnet_root, out)?;
                tracing::info!(
                    "composite of {:?} (recipe {}) compiled in {:.1?}",
                    spec.include,
                    recipe.name,
                    started.elapsed()
                );
            }
            Ok(())
        })
    }

    fn shared_dir(dotnet_root: &Path, framework: Framework, version: &str) -> PathBuf {
        dotnet_root
            .join("shared")
            .join(framework.shared_name())
            .join(version)
    }

    /// The `dotnet` muxer (from the local SDK install: it is version independent), hostfxr of
    /// the scenario's version, and `/usr/bin/dotnet`.
    ///
    /// On another platform than the machine's only hostfxr: the muxer is not in any NuGet
    /// pack (the SDK's is the machine's architecture), so those images have no `dotnet`
    /// command, and their framework-dependent apps start through their app host
    /// ([`Self::publish_app`]), which finds the frameworks in `/usr/share/dotnet`.
    fn lay_out_host(&self, packs: &Packs, dotnet_root: &Path) -> Result<(), DotnetError> {
        let fxr = dotnet_root.join("host/fxr").join(&packs.version);
        std::fs::create_dir_all(&fxr).map_err(io_error("creating", &fxr))?;
        if !packs.platform.is_default() {
            let hostfxr = packs.native_dir(Framework::Runtime).join("libhostfxr.so");
            return std::fs::copy(&hostfxr, fxr.join("libhostfxr.so"))
                .map(|_| ())
                .map_err(io_error("copying", &hostfxr));
        }
        let muxer = dotnet_root.join("dotnet");
        std::fs::copy(&self.dotnet, &muxer)
            .map_err(io_error("copying the dotnet host to", &muxer))?;
        let hostfxr = packs.native_dir(Framework::Runtime).join("libhostfxr.so");
        std::fs::copy(&hostfxr, fxr.join("libhostfxr.so"))
            .map_err(io_error("copying", &hostfxr))?;
        let bin = dotnet_root.join("../../bin");
        std::fs::create_dir_all(&bin).map_err(io_error("creating", &bin))?;
        std::os::unix::fs::symlink("/usr/share/dotnet/dotnet", bin.join("dotnet"))
            .map_err(io_error("linking", &bin))?;
        Ok(())
    }

    /// A framework's files as the installer lays them out: managed and native files of the
    /// runtime pack (hostfxr excepted), and the framework's `.deps.json`.
    fn lay_out_framework(
        &self,
        packs: &Packs,
        framework: Framework,
        dotnet_root: &Path,
    ) -> Result<(), DotnetError> {
        let target = Self::shared_dir(dotnet_root, framework, &packs.version);
        copy_tree(&packs.managed_dir(framework), &target)?;
        let native = packs.native_dir(framework);
        if native.is_dir() {
            copy_tree(&native, &target)?;
        }
        let hostfxr = target.join("libhostfxr.so");
        if hostfxr.exists() {
            std::fs::remove_file(&hostfxr).map_err(io_error("removing", &hostfxr))?;
        }
        let deps = target.join(format!("{}.deps.json", framework.shared_name()));
        if !deps.exists() {
            let text = framework_deps_json(framework, packs, &target)?;
            std::fs::write(&deps, text).map_err(io_error("writing", &deps))?;
        }
        Ok(())
    }

    /// Compiles the assemblies of `spec.include` (already laid out under `dotnet_root`) into
    /// one composite by `recipe` and puts the rewritten component assemblies back in place.
    ///
    /// The recipe's roots are inputs, the other assemblies of the included frameworks are
    /// unrooted inputs (`-u`), and its references (single assemblies, whole frameworks, and
    /// `spec.references`) are passed with `-r` and keep their shipped code. With
    /// `--compositerootpath` at `shared/`, crossgen2 writes each component under the output
    /// directory at its path relative to `shared/`, and records only the composite's file name
    /// in it. The composite goes into the first compiled framework's directory: the runtime
    /// finds a composite by that name next to the component, or among the composites the
    /// process has already loaded (System.Private.CoreLib's is loaded first), which is how
    /// ASP.NET Core components find a composite in the Microsoft.NETCore.App directory.
    fn compile_framework_composite(
        &self,
        packs: &Packs,
        spec: &CompositeSpec,
        recipe: &Recipe,
        dotnet_root: &Path,
        scratch_parent: &Path,
    ) -> Result<(), DotnetError> {
        let refuse = |message: String| DotnetError::Recipe {
            recipe: recipe.name.clone(),
            message,
        };
        let compiled = compiled_frameworks(spec, recipe);
        let Some(first) = compiled.first().copied() else {
            // Everything the composite would include stays as shipped.
            return Ok(());
        };
        self.check_recipe(packs, recipe)?;
        let shared = dotnet_root.join("shared");
        let output_dir = scratch_parent.join(".crossgen2-out");
        std::fs::create_dir_all(&output_dir).map_err(io_error("creating", &output_dir))?;
        let name = composite_file_name(&compiled);
        let mibc = packs.mibc_path();
        if recipe.mibc && !mibc.is_file() {
            return Err(refuse(format!(
                "the runtime pack of {} has no profile at {}",
                packs.version,
                mibc.display()
            )));
        }
        let profile = match (recipe.mibc, recipe.sdk_profile) {
            (true, _) => Some(mibc),
            (false, true) => {
                let listed = packs.listed_profile();
                tracing::info!(
                    "recipe {}: the runtime pack of {} lists {} as PgoData",
                    recipe.name,
                    packs.version,
                    listed
                        .as_ref()
                        .map_or("no profile".to_string(), |p| p.display().to_string())
                );
                listed
            }
            (false, false) => None,
        };
        let mut arguments: Vec<String> = recipe.switches(profile.as_deref());
        arguments.extend([
            "--targetos:linux".to_string(),
            format!("--targetarch:{}", packs.platform.crossgen_arch()),
            format!("--compositerootpath:{}", shared.display()),
        ]);
        let mut present: Vec<String> = Vec::new();
        for framework in &spec.include {
            let files = managed_files(&Self::shared_dir(dotnet_root, *framework, &packs.version))?;
            let compiled_here = compiled.contains(framework);
            for dll in files {
                let assembly = assembly_name(&dll);
                present.push(assembly.clone());
                let path = dll.display().to_string();
                if !compiled_here || recipe.is_reference(&assembly) {
                    arguments.push(format!("-r:{path}"));
                } else if recipe.is_root(&assembly) {
                    arguments.push(path);
                } else {
                    arguments.push(format!("-u:{path}"));
                }
            }
        }
        let frameworks_text = spec
            .include
            .iter()
            .map(|f| f.shared_name())
            .collect::<Vec<_>>()
            .join(" + ");
        for listed in recipe.roots.iter().flatten().chain(&recipe.references) {
            if !present.contains(&listed.name) && !self.in_any_framework(packs, &listed.name)? {
                return Err(refuse(format!(
                    "assembly `{}` ({}) is not an assembly of .NET {}'s frameworks",
                    listed.name, listed.at, packs.version
                )));
            }
        }
        if !recipe
            .roots
            .iter()
            .flatten()
            .any(|root| present.contains(&root.name))
            && recipe.roots.is_some()
        {
            return Err(refuse(format!(
                "none of its roots is an assembly of {frameworks_text}"
            )));
        }
        for framework in &spec.references {
            // The referenced framework as shipped: crossgen2 reads its metadata only.
            for dll in managed_files(&packs.managed_dir(*framework))? {
                arguments.push(format!("-r:{}", dll.display()));
            }
        }
        arguments.push(format!("--out:{}", output_dir.join(&name).display()));
        self.crossgen2(packs, &arguments, scratch_parent)?;
        let composite = Self::shared_dir(dotnet_root, first, &packs.version).join(&name);
        std::fs::rename(output_dir.join(&name), &composite)
            .map_err(io_error("moving the composite to", &composite))?;
        move_over(&output_dir, &shared)?;
        std::fs::remove_dir_all(&output_dir).map_err(io_error("removing", &output_dir))?;
        Ok(())
    }

    /// Whether an assembly is in the runtime or ASP.NET Core pack of the version.
    fn in_any_framework(&self, packs: &Packs, assembly: &str) -> Result<bool, DotnetError> {
        for framework in [Framework::Runtime, Framework::Aspnet] {
            if packs
                .managed_dir(framework)
                .join(format!("{assembly}.dll"))
                .is_file()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Refuses a recipe whose options or instruction sets this version's crossgen2 does not
    /// list in its `--help`.
    pub fn check_recipe(&self, packs: &Packs, recipe: &Recipe) -> Result<(), DotnetError> {
        let mut command = Command::new(&packs.crossgen2[0]);
        command.args(&packs.crossgen2[1..]).arg("--help");
        let help = run(&mut command, "")?;
        let abilities = Crossgen2Abilities::from_help(&help);
        match abilities.unknown(recipe) {
            None => Ok(()),
            Some(what) => Err(DotnetError::Recipe {
                recipe: recipe.name.clone(),
                message: format!(
                    "the crossgen2 of .NET {} does not know its {what}",
                    packs.version
                ),
            }),
        }
    }

    /// Runs crossgen2 with its arguments in a response file.
    fn crossgen2(
        &self,
        packs: &Packs,
        arguments: &[String],
        scratch: &Path,
    ) -> Result<(), DotnetError> {
        let response = scratch.join(".crossgen2.rsp");
        std::fs::write(&response, arguments.join("\n")).map_err(io_error("writing", &response))?;
        let mut command = Command::new(&packs.crossgen2[0]);
        command
            .args(&packs.crossgen2[1..])
            .arg(format!("@{}", response.display()));
        let started = Instant::now();
        run(&mut command, "")?;
        tracing::info!(
            "crossgen2 ({} inputs) took {:.1?}",
            arguments.len(),
            started.elapsed()
        );
        std::fs::remove_file(&response).map_err(io_error("removing", &response))?;
        Ok(())
    }

    /// Publishes an app. Framework-dependent apps are published as IL, to be run by the
    /// image's `dotnet`; self-contained apps carry the runtime of `packs.version` (Native AOT:
    /// compiled to one native executable, which needs clang), and with `composite` the app and
    /// all framework assemblies become one composite. The profile's MSBuild properties are
    /// passed as they are.
    pub fn publish_app(
        &self,
        packs: &Packs,
        name: &str,
        app: &App,
        publish: &PublishSpec,
        composite: bool,
    ) -> Result<PathBuf, DotnetError> {
        let compilation = &packs.app_compilation;
        if publish.native && compilation.rolled_forward {
            return Err(DotnetError::NeedsNewerSdk {
                what: format!("Native AOT (publish profile `{}`)", publish.profile),
                version: packs.version.clone(),
                major: packs.major(),
                sdk: compilation.sdk.clone().unwrap_or_default(),
            });
        }
        if publish.native && which("clang").is_none() {
            return Err(DotnetError::Missing {
                what: format!("clang, which Native AOT (publish profile `{}`) links with; install Debian's clang and zlib1g-dev", publish.profile),
                path: PathBuf::from("clang on PATH"),
            });
        }
        let mut hasher = InputHasher::default();
        hasher
            .part("kind", b"app-v1")
            .part("version", packs.version.as_bytes())
            .part("framework", compilation.target_framework.as_bytes())
            .part("publish", format!("{publish:?}{composite}").as_bytes());
        if !packs.platform.is_default() {
            hasher.part("platform", packs.platform.name().as_bytes());
        }
        let project = if app.external {
            let project = match &app.template {
                Some(template) => self.make_template(template, &app.assembly)?,
                None => app.project.clone(),
            };
            hasher.part("own-app", project.display().to_string().as_bytes());
            for dir in project_dirs(&project)? {
                for file in own_source_files(&dir)? {
                    let bytes = std::fs::read(&file).map_err(io_error("reading", &file))?;
                    hasher.part(&file.display().to_string(), &bytes);
                }
            }
            for file in ["OwnApp.props", "OwnApp.targets"] {
                let path = self.experiments.join("apps/shared").join(file);
                let bytes = std::fs::read(&path).map_err(io_error("reading", &path))?;
                hasher.part(file, &bytes);
            }
            project
        } else {
            // Every sample source counts (the samples share files in apps/shared/).
            let apps_dir = self.experiments.join("apps");
            for file in source_files(&apps_dir)? {
                let bytes = std::fs::read(&file).map_err(io_error("reading", &file))?;
                let relative = file.strip_prefix(&apps_dir).unwrap_or(&file);
                hasher.part(&relative.display().to_string(), &bytes);
            }
            app.project_path(&self.experiments)
        };
        let key = hasher.finish();
        let name = match packs.platform.suffix() {
            None => name.to_string(),
            Some(suffix) => format!("{name}-{suffix}"),
        };
        cached(
            &self.root.join("apps"),
            &format!("{name}-{}", &key[..16]),
            |out| {
                let build_dir = out.join(".build");
                let publish_dir = out.join("app");
                let mut command = self.dotnet_command();
                command
                    .arg("publish")
                    .arg(&project)
                    .arg("-c")
                    .arg("Release")
                    .arg("-o")
                    .arg(&publish_dir)
                    .arg(format!(
                        "-p:R2rTargetFramework={}",
                        compilation.target_framework
                    ))
                    .args(self.own_app_properties(app, compilation))
                    .arg(format!(
                        "-p:BaseIntermediateOutputPath={}/obj/",
                        build_dir.display()
                    ))
                    .arg(format!("-p:BaseOutputPath={}/bin/", build_dir.display()))
                    .arg("-p:GenerateDocumentationFile=false")
                    .arg("-p:DebugType=none");
                if publish.self_contained {
                    command
                        .arg("-r")
                        .arg(packs.platform.runtime_identifier())
                        .arg("--self-contained")
                        .arg(format!("-p:R2rRuntimeVersion={}", packs.version));
                } else if !packs.platform.is_default() {
                    // No `dotnet` command in these images (see `lay_out_host`): the app host of
                    // the platform, pinned to the scenario's version, starts the app.
                    command
                        .arg("-r")
                        .arg(packs.platform.runtime_identifier())
                        .arg("--no-self-contained")
                        .arg("-p:UseAppHost=true")
                        .arg(format!("-p:R2rRuntimeVersion={}", packs.version));
                } else {
                    command
                        .arg("--no-self-contained")
                        .arg("-p:UseAppHost=false");
                }
                if compilation.rolled_forward {
                    // Compiled for the SDK's framework, run on the newer runtime.
                    command.arg(format!("-p:RuntimeFrameworkVersion={}", packs.version));
                }
                for (property, value) in &publish.properties {
                    command.arg(format!("-p:{property}={value}"));
                }
                let output = run(&mut command, "")?;
                if app.external && publish.enabled("PublishTrimmed") {
                    check_trim_warnings(&name, &output)?;
                }
                std::fs::remove_dir_all(&build_dir).map_err(io_error("removing", &build_dir))?;
                if composite {
                    self.compile_app_composite(packs, &publish_dir, out)?;
                }
                Ok(())
            },
        )
        .map(|dir| dir.join("app"))
    }

    /// The local SDK (its `sdk/<version>` and `sdk-manifests` directories) under
    /// `usr/share/dotnet`, for sdk images. Only an SDK of the scenario's major version can
    /// run on the image's runtime.
    pub fn sdk_rootfs(&self, packs: &Packs) -> Result<(PathBuf, String), DotnetError> {
        let install = self.dotnet.parent().unwrap_or(Path::new("/")).to_path_buf();
        let major = packs.version.split('.').next().unwrap_or("");
        let sdk_root = install.join("sdk");
        let mut versions: Vec<String> = std::fs::read_dir(&sdk_root)
            .map_err(io_error("reading", &sdk_root))?
            .filter_map(|entry| entry.ok()?.file_name().to_str().map(str::to_string))
            .filter(|name| name.split('.').next() == Some(major))
            .collect();
        versions.sort();
        let Some(sdk_version) = versions.pop() else {
            return Err(DotnetError::Missing {
                what: format!("a local .NET SDK {major}.x (sdk images copy the machine's SDK; set `sdk = false` otherwise)"),
                path: sdk_root,
            });
        };
        let key = format!("sdk-{sdk_version}");
        let rootfs = cached(&self.root.join("rootfs"), &key, |out| {
            let target = out.join("usr/share/dotnet");
            copy_tree(
                &sdk_root.join(&sdk_version),
                &target.join("sdk").join(&sdk_version),
            )?;
            let manifests = install.join("sdk-manifests");
            if manifests.is_dir() {
                copy_tree(&manifests, &target.join("sdk-manifests"))?;
            }
            Ok(())
        })?;
        Ok((rootfs, sdk_version))
    }

    /// Compiles every managed assembly of a self-contained publish directory into one
    /// composite, `app-r2r.dll`, next to them.
    fn compile_app_composite(
        &self,
        packs: &Packs,
        publish_dir: &Path,
        scratch: &Path,
    ) -> Result<(), DotnetError> {
        let output_dir = scratch.join(".crossgen2-out");
        std::fs::create_dir_all(&output_dir).map_err(io_error("creating", &output_dir))?;
        let mut arguments: Vec<String> = vec![
            "--composite".into(),
            "--inputbubble".into(),
            "-O".into(),
            "--targetos:linux".into(),
            format!("--targetarch:{}", packs.platform.crossgen_arch()),
        ];
        arguments.extend(
            managed_files(publish_dir)?
                .into_iter()
                .map(|dll| dll.display().to_string()),
        );
        arguments.push(format!(
            "--out:{}",
            output_dir.join(APP_COMPOSITE_FILE).display()
        ));
        self.crossgen2(packs, &arguments, scratch)?;
        move_over(&output_dir, publish_dir)?;
        std::fs::remove_dir_all(&output_dir).map_err(io_error("removing", &output_dir))?;
        Ok(())
    }
}

/// The composite file of a set of frameworks: distinct names, because the runtime identifies
/// a loaded composite by its file name.
pub fn composite_file_name(include: &[Framework]) -> String {
    match include {
        [Framework::Runtime] => FRAMEWORK_COMPOSITE_FILE.to_string(),
        [Framework::Aspnet] => "aspnetcore-r2r.dll".to_string(),
        _ => "framework-aspnetcore-r2r.dll".to_string(),
    }
}

/// The frameworks a composite compiles under a recipe: its `include` without the frameworks
/// the recipe leaves as shipped. Empty: the image carries its frameworks as shipped.
pub fn compiled_frameworks(spec: &CompositeSpec, recipe: &Recipe) -> Vec<Framework> {
    recipe.compiled_frameworks(&spec.include)
}

/// An assembly's simple name: its file name without `.dll`.
pub fn assembly_name(path: &Path) -> String {
    path.file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("")
        .to_string()
}

/// Managed assemblies (`*.dll` that are ECMA-335 images) of a directory, sorted.
fn managed_files(dir: &Path) -> Result<Vec<PathBuf>, DotnetError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error("reading", dir))? {
        let path = entry.map_err(io_error("reading", dir))?.path();
        if path.extension().is_some_and(|ext| ext == "dll") && path.is_file() {
            let bytes = std::fs::read(&path).map_err(io_error("reading", &path))?;
            if matches!(
                crate::inspect::readytorun::classify(&bytes),
                Ok(crate::inspect::readytorun::AssemblyKind::IlOnly
                    | crate::inspect::readytorun::AssemblyKind::ReadyToRun { .. })
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Source files of an app project (for its cache key): everything but build outputs.
fn source_files(dir: &Path) -> Result<Vec<PathBuf>, DotnetError> {
    files_under(dir, |name| name != "bin" && name != "obj")
}

/// Every file under `dir`, sorted, in the directories `enter` lets through (by name).
fn files_under(dir: &Path, enter: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, DotnetError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).map_err(io_error("reading", &current))? {
            let path = entry.map_err(io_error("reading", &current))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if enter(name) {
                    stack.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Moves every file under `from` to the same relative place under `to`, replacing files.
fn move_over(from: &Path, to: &Path) -> Result<(), DotnetError> {
    for entry in std::fs::read_dir(from).map_err(io_error("reading", from))? {
        let entry = entry.map_err(io_error("reading", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if source.is_dir() {
            std::fs::create_dir_all(&target).map_err(io_error("creating", &target))?;
            move_over(&source, &target)?;
        } else {
            std::fs::rename(&source, &target).map_err(io_error("moving to", &target))?;
        }
    }
    Ok(())
}

/// A framework `.deps.json` listing the files of a laid-out framework directory, as the
/// installer's would (the runtime pack does not carry one for Microsoft.NETCore.App).
fn framework_deps_json(
    framework: Framework,
    packs: &Packs,
    dir: &Path,
) -> Result<String, DotnetError> {
    let mut runtime = serde_json::Map::new();
    let mut native = serde_json::Map::new();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io_error("reading", dir))?
        .filter_map(|entry| {
            entry
                .ok()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    for name in names {
        if name.ends_with(".dll") {
            runtime.insert(name, serde_json::json!({}));
        } else if name.ends_with(".so") || name == "createdump" {
            native.insert(name, serde_json::json!({}));
        }
    }
    let version = packs.target_framework.trim_start_matches("net");
    let rid = packs.platform.runtime_identifier();
    let target = format!(".NETCoreApp,Version=v{version}");
    let package = format!("{}/{}", packs.runtime_pack(framework), packs.version);
    let document = serde_json::json!({
        "runtimeTarget": { "name": format!("{target}/{rid}"), "signature": "" },
        "compilationOptions": {},
        "targets": {
            target.clone(): {},
            format!("{target}/{rid}"): {
                package.clone(): { "runtime": runtime, "native": native }
            }
        },
        "libraries": { package: { "type": "package", "serviceable": true, "sha512": "" } }
    });
    Ok(serde_json::to_string_pretty(&document).expect("JSON values serialise"))
}

/// The path of a program on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn trim_warnings_are_counted_once_with_their_codes() {
        let output = "  Restored /src/Shop.csproj\n\
            /src/Program.cs(12,5): warning IL2026: Using member 'Json.Serialize' which has 'RequiresUnreferencedCodeAttribute' [/src/Shop.csproj]\n\
            /src/Program.cs(20,1): warning CS8618: Non-nullable field [/src/Shop.csproj]\n\
            ILLink : Trim analysis warning IL2104: Assembly 'Newtonsoft.Json' produced trim warnings. [/src/Shop.csproj]\n\
            Build succeeded.\n\
            /src/Program.cs(12,5): warning IL2026: Using member 'Json.Serialize' which has 'RequiresUnreferencedCodeAttribute' [/src/Shop.csproj]\n";
        let error = super::check_trim_warnings("shop", output)
            .unwrap_err()
            .to_string();
        assert!(
            error
                .starts_with("shop gives 2 trim warning(s) (IL2026, IL2104), so it is not trimmed"),
            "{error}"
        );
        assert!(error.contains("Program.cs(12,5)"), "{error}");
        assert!(super::check_trim_warnings("shop", "warning CS8618: x\nBuild succeeded.").is_ok());
    }

    use super::{listed_pgo_data, AppCompilation};

    #[test]
    fn apps_of_a_runtime_newer_than_the_sdk_are_compiled_for_the_sdks_framework() {
        let newer = AppCompilation::new("11.0.0", Some("10.0.401"));
        assert_eq!(newer.target_framework, "net10.0");
        assert!(newer.rolled_forward);
        assert!(newer.describe("11.0.0").contains("pinned to run on 11.0.0"));
        let same = AppCompilation::new("10.0.12", Some("10.0.401"));
        assert_eq!(
            (same.target_framework.as_str(), same.rolled_forward),
            ("net10.0", false)
        );
        let older = AppCompilation::new("8.0.33", Some("10.0.401"));
        assert_eq!(
            (older.target_framework.as_str(), older.rolled_forward),
            ("net8.0", false)
        );
        let unknown = AppCompilation::new("11.0.0", None);
        assert_eq!(
            (unknown.target_framework.as_str(), unknown.rolled_forward),
            ("net11.0", false)
        );
    }

    #[test]
    fn a_runtime_list_gives_its_pgo_data_files_only() {
        let with = r#"<FileList TargetFrameworkIdentifier=".NETCoreApp" Name=".NET Runtime">
  <File Type="Managed" Path="runtimes/linux-x64/lib/net10.0/System.Runtime.dll" AssemblyName="System.Runtime" />
  <File Type="PgoData" Path="tools/StandardOptimizationData.mibc" />
  <File Type="PgoData" Path="tools/notes.txt" />
  <File Type="Native" Path="runtimes/linux-x64/native/libcoreclr.so" />
</FileList>"#;
        assert_eq!(
            listed_pgo_data(with),
            vec!["tools/StandardOptimizationData.mibc"]
        );
        // The 10.0.12 pack's list: managed and native files, no profile listed.
        let without = r#"<FileList Name=".NET Runtime">
  <File Type="Managed" Path="runtimes/linux-x64/lib/net10.0/Microsoft.CSharp.dll" />
  <File Type="Native" Path="runtimes/linux-x64/native/createdump" />
</FileList>"#;
        assert!(listed_pgo_data(without).is_empty());
    }
}
