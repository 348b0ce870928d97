//! Proving that each built image is what its variant claims.
//!
//! Two kinds of evidence per image:
//! - its files, read from the image archive: the composite file is present, every assembly
//!   of a composite framework is a component of it (ReadyToRun header flags), frameworks
//!   "as shipped" are compiled one assembly at a time, the app is where it should be;
//! - its behaviour, in a fresh container: `dotnet --list-runtimes` for framework images, the
//!   app's own output for app images (console: `--network none`; web API: host network, probed
//!   on 127.0.0.1 only), and the number of methods the JIT compiled compared with a run where
//!   ReadyToRun code is disabled, which shows the precompiled code is actually used.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::containers;
use crate::engine::readiness;
use crate::engine::{ContainerSpec, Engine, Network};
use crate::inspect::archive::{self, ImageFilesystem};
use crate::model::app::Launch;
use crate::model::catalog::{AppKind, Catalog, Framework};
use crate::model::plan::{labels, Content, Plan, PlannedImage, PlannedRole};

/// One check of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked: `files`, `run`, `precompiled`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// All checks of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageVerification {
    /// The plan id.
    pub id: String,
    /// The image reference checked.
    pub reference: String,
    /// The variants it belongs to.
    pub variants: Vec<String>,
    /// Its role.
    pub role: crate::model::plan::PlannedRole,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// Whether its behaviour was checked under emulation (an image of another platform than
    /// the machine's, run through binfmt_misc and QEMU); absent when it ran natively.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emulated: bool,
    /// Methods the JIT compiled until the app was ready (and answered its first request),
    /// count, in the run check; absent for images that run no app, or where not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitted_methods: Option<u64>,
}

impl ImageVerification {
    /// Whether every check passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|check| check.passed)
    }
}

/// How a framework directory is expected to be compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// Every assembly compiled on its own (as shipped).
    AsShipped,
    /// All assemblies components of one composite; frameworks with the same group share it.
    Composite {
        /// Index of the composite group.
        group: usize,
    },
}

/// Settings of a verification.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Time-out of one container run.
    pub run_timeout: Duration,
    /// Memory limit of verification containers, bytes.
    pub memory_limit_bytes: i64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            run_timeout: Duration::from_secs(90),
            memory_limit_bytes: 1 << 30,
        }
    }
}

mod files;
mod layout;
mod recipe;

pub use files::{check_files, expectations, read_directory, trimmed_il};
pub use layout::check_directory;
pub use recipe::{check_image_recipe, check_recipe};

/// Reads an image's file system through the engine's export, classifying every `.dll` under
/// `/usr/share/dotnet` and `/app`.
pub async fn read_image(
    engine: &dyn Engine,
    reference: &str,
) -> Result<ImageFilesystem, archive::ExportError> {
    let inspect = |path: &str| {
        path.ends_with(".dll")
            && (path.starts_with("usr/share/dotnet/") || path.starts_with("app/"))
    };
    archive::parse_export(engine, &[reference.to_string()], move |reader| {
        archive::read_image_archive(reader, &inspect)
    })
    .await
}

/// The container verification starts from `image`: labelled, limited, as an unprivileged user
/// on a read-only root.
pub fn container_spec(
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
    network: Network,
) -> ContainerSpec {
    ContainerSpec {
        image: image.reference().to_string(),
        entrypoint: None,
        command: None,
        env: BTreeMap::new(),
        network,
        labels: BTreeMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SCENARIO.to_string(), plan.scenario.name.clone()),
            (labels::IMAGE.to_string(), image.id.clone()),
        ]),
        memory_limit_bytes: options.memory_limit_bytes,
        pids_limit: 512,
        user: Some(crate::engine::UNPRIVILEGED_USER.to_string()),
        read_only_root: true,
        cpuset_cpus: None,
        cgroup_parent: None,
        read_bps_limits: Vec::new(),
    }
}

/// Parses `key=<number>` from app output.
pub fn number_after(output: &str, key: &str) -> Option<f64> {
    let start = output.find(key)? + key.len();
    let rest = &output[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Waits for the started container `id` to be ready by `launch`'s rule (a path polled every
/// 20 ms), for `options.run_timeout` at most: `Err(None)` when that time ran out, `Err(Some)`
/// with why it will not be ready.
pub async fn ready_within(
    engine: &dyn Engine,
    id: &str,
    launch: &Launch,
    port: Option<u16>,
    options: &VerifyOptions,
) -> Result<readiness::Ready, Option<String>> {
    let waited = tokio::time::timeout(
        options.run_timeout,
        readiness::wait_ready(
            engine,
            id,
            launch,
            port,
            crate::model::startup::Readiness::Http,
            Duration::from_millis(20),
            options.memory_limit_bytes,
        ),
    )
    .await;
    match waited {
        Err(_) => Err(None),
        Ok(result) => result.map_err(Some),
    }
}

/// Runs an app image once by its launch rule ([`readiness::wait_ready`]): start, wait until
/// ready (and its first request, if it has one), read the output, remove. Returns the check
/// and the number of methods the JIT compiled: the samples report theirs
/// (`jit_methods=`); for any other app the runtime lists each method it compiles
/// (`DOTNET_JitDisasmSummary=1`), and the lines are counted.
async fn run_app(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    (kind, launch): (AppKind, &Launch),
    options: &VerifyOptions,
    r2r_disabled: bool,
) -> (Check, Option<f64>) {
    let fail = |detail: String| {
        (
            Check {
                name: "run".into(),
                passed: false,
                detail,
            },
            None,
        )
    };
    let network = match kind {
        AppKind::Webapi => Network::Host,
        AppKind::Console | AppKind::Worker => Network::None,
    };
    let mut container = container_spec(plan, image, options, network);
    let port = match readiness::port_and_env(kind, launch) {
        Ok((port, env)) => {
            container.env = env;
            port
        }
        Err(error) => return fail(error),
    };
    if !launch.args.is_empty() {
        container.command = Some(launch.args.clone());
    }
    container
        .env
        .insert("DOTNET_JitDisasmSummary".into(), "1".into());
    if r2r_disabled {
        container.env.insert("DOTNET_ReadyToRun".into(), "0".into());
    }
    let started = std::time::Instant::now();
    let id = match containers::start(engine, &container).await {
        Ok(id) => id,
        Err(error) => return fail(error.to_string()),
    };
    let ready = ready_within(engine, &id, launch, port, options).await;
    let elapsed = started.elapsed();
    if launch.ready.exit.is_none() {
        // A line printed just after readiness; give the log a moment to flush.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = engine
        .container_logs(&id, containers::LOG_CAP_BYTES)
        .await
        .unwrap_or_default();
    containers::remove(engine, &id).await;
    let output = format!("{}{}", logs.stdout, logs.stderr);
    let jit = number_after(&output, "jit_methods=").or_else(|| {
        let listed = output.matches("JIT compiled ").count();
        (listed > 0 || launch.ready.exit.is_some()).then_some(listed as f64)
    });
    let tail = || {
        let kept: String = output
            .lines()
            .filter(|line| !line.contains("JIT compiled "))
            .collect::<Vec<_>>()
            .join("\n");
        containers::tail(&kept, 8)
    };
    let ready = match ready {
        Err(None) => {
            return fail(format!(
                "not ready ({}) within {:?}; output: {}",
                launch.ready.describe(),
                options.run_timeout,
                tail()
            ))
        }
        Err(Some(error)) => return fail(format!("{error}; output: {}", tail())),
        Ok(ready) => ready,
    };
    if let Err(missing) = readiness::check_output(&launch.ready, &output) {
        return fail(format!("{missing}; output: {}", tail()));
    }
    let key = |name| crate::support::app_output::integer_after(&output, name);
    let main_to_ready = key("r2r-main-ns=")
        .zip(key("r2r-ready-ns="))
        .map(|(main, ready)| {
            format!(
                "; Main to ready {:.1} ms",
                crate::support::app_output::interval_ms(main, ready)
            )
        })
        .unwrap_or_default();
    let request = match (&launch.request, ready.first_request) {
        (Some(path), Some(took)) => format!("; GET {path} 200 in {took:.0?}"),
        _ => String::new(),
    };
    let on = port
        .map(|port| format!(" on 127.0.0.1:{port}"))
        .unwrap_or_default();
    (
        Check {
            name: "run".into(),
            passed: true,
            detail: format!(
                "ready ({}){on} after {elapsed:.0?}{main_to_ready}{request}; {} jitted methods",
                launch.ready.describe(),
                jit.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
            ),
        },
        jit,
    )
}

/// The precompiled-code check: the JIT must compile clearly fewer methods than with
/// ReadyToRun code disabled: at most `share` of them. The samples' code is small and
/// precompiled code leaves them at most half (`SAMPLE_SHARE`); an app of the user's may bring
/// much code of its own as IL only (its NuGet packages ship no ReadyToRun code, Razor views
/// are compiled at run time), so for it precompiled code must spare a tenth at least
/// (`OWN_APP_SHARE`).
fn precompiled_check(normal: Option<f64>, disabled: Option<f64>, share: f64) -> Check {
    match (normal, disabled) {
        (Some(normal), Some(disabled)) => Check {
            name: "precompiled".into(),
            passed: normal < disabled * share,
            detail: format!(
                "{normal} jitted methods vs {disabled} with ReadyToRun disabled ({:.0}%; below {:.0}% passes)",
                100.0 * normal / disabled.max(1.0),
                100.0 * share
            ),
        },
        _ => Check {
            name: "precompiled".into(),
            passed: false,
            detail: "the app did not report its jitted method count".into(),
        },
    }
}

/// The share of the methods jitted without ReadyToRun code that a sample may jit with it.
pub const SAMPLE_SHARE: f64 = 0.5;
/// The same for an app of the user's (see [`precompiled_check`]).
pub const OWN_APP_SHARE: f64 = 0.9;

/// Verifies one image: files, then behaviour.
pub async fn verify_image(
    engine: &dyn Engine,
    plan: &Plan,
    catalog: &Catalog,
    image: &PlannedImage,
    options: &VerifyOptions,
) -> ImageVerification {
    let mut checks = Vec::new();
    let mut jitted_methods = None;
    match read_image(engine, image.reference()).await {
        Ok(fs) => {
            checks.push(check_files(plan, catalog, image, &fs));
            if let Some(check) = check_image_recipe(plan, catalog, image, &fs) {
                checks.push(check);
            }
        }
        Err(error) => checks.push(Check {
            name: "files".into(),
            passed: false,
            detail: error.to_string(),
        }),
    }
    let emulated = image.platform.is_emulated();
    let emulated_options;
    let options = if emulated {
        // Every instruction is translated: the same program takes several times as long.
        emulated_options = VerifyOptions {
            run_timeout: options.run_timeout * EMULATION_SLOWDOWN,
            ..options.clone()
        };
        &emulated_options
    } else {
        options
    };
    // What runs a container: app images, and framework and sdk images on x64 (elsewhere they
    // have no `dotnet` command).
    let runs = !matches!(image.content, Content::RuntimeDeps)
        && (!matches!(image.content, Content::Frameworks { .. } | Content::Sdk)
            || image.platform.is_default());
    if runs {
        if let Err(reason) = crate::model::emulation::can_run(image.platform) {
            checks.push(Check {
                name: "run".into(),
                passed: false,
                detail: format!(
                    "not run: this machine cannot run {}: {reason}",
                    image.platform
                ),
            });
            return ImageVerification {
                id: image.id.clone(),
                reference: image.reference().to_string(),
                variants: image.variants.clone(),
                role: image.role.clone(),
                checks,
                emulated,
                jitted_methods: None,
            };
        }
    }
    match &image.content {
        Content::RuntimeDeps => {}
        // Framework images of another platform than x64 have no `dotnet` command (no NuGet
        // pack carries that platform's muxer): their frameworks run through the apps on them.
        Content::Frameworks { .. } | Content::Sdk if !image.platform.is_default() => {}
        Content::Frameworks {
            frameworks_below, ..
        } => checks.push(list_runtimes(engine, plan, image, options, frameworks_below).await),
        Content::Sdk => {
            checks.push(
                list_runtimes(
                    engine,
                    plan,
                    image,
                    options,
                    &[Framework::Runtime, Framework::Aspnet],
                )
                .await,
            );
            checks.push(sdk_info(engine, plan, image, options).await);
        }
        Content::App {
            kind,
            publish,
            composite,
            launch,
            ..
        } => {
            let launch = launch.clone().unwrap_or_else(|| Launch::sample(*kind));
            let app = (*kind, &launch);
            let (run, normal) = run_app(engine, plan, image, app, options, false).await;
            jitted_methods = normal.map(|n| n as u64);
            let passed = run.passed;
            checks.push(run);
            if passed && publish.native {
                // Native code only: the JIT has nothing to compile.
                checks.push(Check {
                    name: "precompiled".into(),
                    passed: normal == Some(0.0),
                    detail: format!(
                        "{} jitted methods (Native AOT: none expected)",
                        normal
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "unknown".into())
                    ),
                });
            } else if passed && (!trimmed_il(publish) || *composite) {
                let (_, disabled) = run_app(engine, plan, image, app, options, true).await;
                let own = matches!(&image.role, PlannedRole::App(name) if plan.scenario.own_apps.contains_key(name));
                let share = if own { OWN_APP_SHARE } else { SAMPLE_SHARE };
                checks.push(precompiled_check(normal, disabled, share));
            }
        }
    }
    ImageVerification {
        id: image.id.clone(),
        reference: image.reference().to_string(),
        variants: image.variants.clone(),
        role: image.role.clone(),
        checks,
        emulated: emulated && runs,
        jitted_methods,
    }
}

/// How many times longer a container run may take under emulation than natively.
pub const EMULATION_SLOWDOWN: u32 = 5;

/// The size of an app image's `/app`, bytes, as its files check recorded it.
fn app_bytes(verification: &ImageVerification) -> Option<f64> {
    let files = verification
        .checks
        .iter()
        .find(|check| check.name == "files")?;
    let start = files.detail.find("app/ ")? + "app/ ".len();
    files.detail[start..]
        .split(' ')
        .next()?
        .parse::<f64>()
        .ok()
        .map(|mb| mb * 1e6)
}

/// Checks across images: a trimmed app must be smaller than the same app published
/// self-contained without trimming on the same base (when the plan has both).
pub fn cross_checks(plan: &Plan, results: &mut [ImageVerification]) {
    let sizes: BTreeMap<String, f64> = results
        .iter()
        .filter_map(|r| app_bytes(r).map(|bytes| (r.id.clone(), bytes)))
        .collect();
    for result in results.iter_mut() {
        let Some(image) = plan.image(&result.id) else {
            continue;
        };
        let Content::App { app, publish, .. } = &image.content else {
            continue;
        };
        if !publish.enabled("PublishTrimmed") {
            continue;
        }
        let sibling = plan.images.iter().find(|other| {
            matches!(&other.content, Content::App { app: other_app, publish: other_publish, composite: false, .. }
                if other_app == app && other_publish.self_contained && !other_publish.native && !other_publish.enabled("PublishTrimmed"))
                && plan.base_of(other) == plan.base_of(image)
        });
        let Some(sibling) = sibling else { continue };
        let (Some(trimmed), Some(untrimmed)) = (sizes.get(&result.id), sizes.get(&sibling.id))
        else {
            continue;
        };
        result.checks.push(Check {
            name: "trimmed".into(),
            passed: trimmed < untrimmed,
            detail: format!(
                "app/ {:.1} MB trimmed vs {:.1} MB untrimmed ({})",
                trimmed / 1e6,
                untrimmed / 1e6,
                sibling.id
            ),
        });
    }
}

/// `dotnet --info` runs the SDK's own managed code: it must succeed and name the SDK.
async fn sdk_info(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
) -> Check {
    let mut container = container_spec(plan, image, options, Network::None);
    container.entrypoint = Some(vec!["/usr/share/dotnet/dotnet".into()]);
    container.command = Some(vec!["--info".into()]);
    match containers::run_to_exit(engine, &container, options.run_timeout).await {
        Err(error) => Check {
            name: "sdk".into(),
            passed: false,
            detail: error.to_string(),
        },
        Ok(outcome) => {
            let output = format!("{}{}", outcome.logs.stdout, outcome.logs.stderr);
            let version = output
                .lines()
                .map(str::trim)
                .find_map(|line| line.strip_prefix("Version:"))
                .map(str::trim)
                .unwrap_or("")
                .to_string();
            let passed =
                outcome.exit_code == Some(0) && output.contains(".NET SDK") && !version.is_empty();
            let detail = if passed {
                format!("dotnet --info: .NET SDK {version}")
            } else {
                format!(
                    "dotnet --info exit {:?}: {}",
                    outcome.exit_code,
                    containers::tail(&output, 6)
                )
            };
            Check {
                name: "sdk".into(),
                passed,
                detail,
            }
        }
    }
}

async fn list_runtimes(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    options: &VerifyOptions,
    frameworks: &[Framework],
) -> Check {
    let mut container = container_spec(plan, image, options, Network::None);
    container.entrypoint = Some(vec!["/usr/share/dotnet/dotnet".into()]);
    container.command = Some(vec!["--list-runtimes".into()]);
    match containers::run_to_exit(engine, &container, options.run_timeout).await {
        Err(error) => Check {
            name: "run".into(),
            passed: false,
            detail: error.to_string(),
        },
        Ok(outcome) => {
            let expected: Vec<String> = frameworks
                .iter()
                .map(|f| format!("{} {}", f.shared_name(), plan.scenario.dotnet))
                .collect();
            let missing: Vec<&String> = expected
                .iter()
                .filter(|line| !outcome.logs.stdout.contains(line.as_str()))
                .collect();
            let passed = outcome.exit_code == Some(0) && missing.is_empty();
            let detail = if passed {
                format!("dotnet --list-runtimes: {}", expected.join(", "))
            } else {
                format!(
                    "dotnet --list-runtimes exit {:?}, missing {missing:?}; output: {}",
                    outcome.exit_code,
                    containers::tail(
                        &format!("{}{}", outcome.logs.stdout, outcome.logs.stderr),
                        6
                    )
                )
            };
            Check {
                name: "run".into(),
                passed,
                detail,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::layout::resolve_owner;
    use super::*;
    use crate::inspect::readytorun::AssemblyKind;

    #[test]
    fn numbers_are_read_from_app_output() {
        let output = "r2r-main-ns=41500000\nr2r-console-ok jit_methods=123 runtime=.NET 10.0.12\n";
        assert_eq!(number_after(output, "r2r-main-ns="), Some(41500000.0));
        assert_eq!(number_after(output, "jit_methods="), Some(123.0));
        assert_eq!(number_after(output, "absent="), None);
    }

    #[test]
    fn owners_resolve_relative_to_the_component() {
        assert_eq!(
            resolve_owner(
                "usr/share/dotnet/shared/Microsoft.AspNetCore.App/10.0.12/A.dll",
                "../../Microsoft.NETCore.App/10.0.12/f.r2r.dll"
            ),
            Some("usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/f.r2r.dll".into())
        );
        assert_eq!(
            resolve_owner("app/A.dll", "app.r2r.dll"),
            Some("app/app.r2r.dll".into())
        );
    }

    fn filesystem(files: &[(&str, AssemblyKind)]) -> ImageFilesystem {
        let mut fs = ImageFilesystem::default();
        for (path, kind) in files {
            fs.files.insert(
                path.to_string(),
                crate::inspect::archive::FileRecord {
                    composite: None,
                    method_definitions: None,
                    code: None,
                    path: path.to_string(),
                    layer: 0,
                    size_bytes: 1,
                    file_type: crate::inspect::archive::FileType::Regular,
                    mode: 0o644,
                    assembly: Some(Ok(kind.clone())),
                },
            );
        }
        fs
    }

    fn component(owner: &str) -> AssemblyKind {
        AssemblyKind::CompositeComponent {
            major: 16,
            minor: 0,
            flags: 0x20,
            owner_composite: owner.into(),
        }
    }

    const COMPOSITE: AssemblyKind = AssemblyKind::CompositeImage {
        major: 16,
        minor: 0,
        flags: 0,
        component_count: 2,
    };
    const R2R: AssemblyKind = AssemblyKind::ReadyToRun {
        major: 16,
        minor: 0,
        flags: 0,
    };

    #[test]
    fn composite_directories_need_every_assembly_to_be_a_component_of_one_composite() {
        let rt = "usr/share/dotnet/shared/Microsoft.NETCore.App/1.0.0";
        let good = filesystem(&[
            (
                &format!("{rt}/System.Private.CoreLib.dll"),
                component("fx.dll"),
            ),
            (&format!("{rt}/System.Runtime.dll"), component("fx.dll")),
            (&format!("{rt}/fx.dll"), COMPOSITE),
        ]);
        let (passed, detail, owner) = check_directory(
            &good,
            rt,
            Expectation::Composite { group: 1 },
            &Default::default(),
        );
        assert!(passed, "{detail}");
        assert_eq!(owner.as_deref(), Some(format!("{rt}/fx.dll").as_str()));
        // The same files do not pass as "as shipped".
        assert!(!check_directory(&good, rt, Expectation::AsShipped, &Default::default()).0);

        // One assembly left out of the composite fails, and is named.
        let stray = filesystem(&[
            (
                &format!("{rt}/System.Private.CoreLib.dll"),
                component("fx.dll"),
            ),
            (&format!("{rt}/Extra.dll"), R2R),
            (&format!("{rt}/fx.dll"), COMPOSITE),
        ]);
        let (passed, detail, _) = check_directory(
            &stray,
            rt,
            Expectation::Composite { group: 1 },
            &Default::default(),
        );
        assert!(!passed && detail.contains("Extra.dll (r2r)"), "{detail}");

        // A missing composite file fails.
        let mut missing = good.clone();
        missing.files.remove(&format!("{rt}/fx.dll"));
        assert!(
            !check_directory(
                &missing,
                rt,
                Expectation::Composite { group: 1 },
                &Default::default()
            )
            .0
        );

        // An empty directory fails.
        assert!(
            !check_directory(
                &good,
                "usr/share/dotnet/shared/Microsoft.AspNetCore.App/1.0.0",
                Expectation::AsShipped,
                &Default::default()
            )
            .0
        );

        // The same stray passes when the recipe leaves it out (`-r`), and is counted; left
        // out but compiled into the composite anyway, it fails and is named.
        let kept = std::collections::BTreeSet::from(["Extra".to_string()]);
        let (passed, detail, _) =
            check_directory(&stray, rt, Expectation::Composite { group: 1 }, &kept);
        assert!(
            passed && detail.contains("1 left as shipped (the recipe's -r)"),
            "{detail}"
        );
        let kept = std::collections::BTreeSet::from(["System.Runtime".to_string()]);
        let (passed, detail, _) =
            check_directory(&good, rt, Expectation::Composite { group: 1 }, &kept);
        assert!(
            !passed
                && detail
                    .contains("System.Runtime.dll (component; the recipe leaves it as shipped)"),
            "{detail}"
        );
    }

    #[test]
    fn components_in_another_directory_find_the_composite_beside_corelib() {
        let rt = "usr/share/dotnet/shared/Microsoft.NETCore.App/1.0.0";
        let web = "usr/share/dotnet/shared/Microsoft.AspNetCore.App/1.0.0";
        let fs = filesystem(&[
            (
                &format!("{rt}/System.Private.CoreLib.dll"),
                component("both.dll"),
            ),
            (&format!("{rt}/both.dll"), COMPOSITE),
            (
                &format!("{web}/Microsoft.AspNetCore.dll"),
                component("both.dll"),
            ),
        ]);
        let (passed, detail, owner) = check_directory(
            &fs,
            web,
            Expectation::Composite { group: 1 },
            &Default::default(),
        );
        assert!(passed, "{detail}");
        assert_eq!(owner.unwrap(), format!("{rt}/both.dll"));
    }

    #[test]
    fn precompiled_needs_a_clear_difference() {
        assert!(precompiled_check(Some(100.0), Some(5000.0), SAMPLE_SHARE).passed);
        assert!(!precompiled_check(Some(3000.0), Some(5000.0), SAMPLE_SHARE).passed);
        assert!(precompiled_check(Some(3000.0), Some(5000.0), OWN_APP_SHARE).passed);
        assert!(!precompiled_check(Some(4600.0), Some(5000.0), OWN_APP_SHARE).passed);
        assert!(!precompiled_check(None, Some(5000.0), SAMPLE_SHARE).passed);
    }

    #[test]
    fn expectations_follow_the_chain() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let catalog = Catalog::load(&root.join("experiments")).unwrap();
        let text = "dotnet = \"10.0.12\"\nbase = \"slim\"\napps = [\"webapi\"]\nvariants = [\"runtime-composite\", \"aspnet-composite\", \"composed-composite\"]\n";
        let scenario =
            crate::model::scenario::parse(std::path::Path::new("t.toml"), text, &catalog).unwrap();
        let plan = crate::model::plan::expand(&scenario, &catalog);
        let of = |id: &str| expectations(&plan, plan.image(id).unwrap());
        let runtime_composite = of("runtime-composite.webapi");
        assert!(matches!(
            runtime_composite[&Framework::Runtime],
            Expectation::Composite { .. }
        ));
        assert_eq!(
            runtime_composite[&Framework::Aspnet],
            Expectation::AsShipped
        );
        let single = of("aspnet-composite.webapi");
        assert_eq!(single[&Framework::Runtime], single[&Framework::Aspnet]);
        let composed = of("composed-composite.webapi");
        assert!(matches!(
            composed[&Framework::Aspnet],
            Expectation::Composite { .. }
        ));
        assert_ne!(composed[&Framework::Runtime], composed[&Framework::Aspnet]);
    }
}
