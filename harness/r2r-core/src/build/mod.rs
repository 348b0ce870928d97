//! Building a plan: the base first (made from Debian's packages when it is a local base and
//! missing), then every image in dependency order. A failed image is reported with its log
//! tail; the images above it are skipped and every other image is still built.

pub mod context;
pub mod dotnet;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::build::dotnet::{Packs, Workspace};
use crate::engine::{BuildRequest, EngineError, Images};
use crate::model::catalog::Catalog;
use crate::model::plan::{labels, Content, Parent, Plan, PlannedImage};
use crate::model::platform::Platform;
use crate::model::scenario::Base;
use crate::support::hash::InputHasher;
use context::ContextBuilder;

/// How one image's build ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum BuildStatus {
    /// Built now.
    Built {
        /// The image id.
        id: String,
    },
    /// An image with the same input hash already existed.
    UpToDate {
        /// The image id.
        id: String,
    },
    /// The build failed.
    Failed {
        /// Why, with the log tail.
        error: String,
    },
    /// Not built because an image below it failed.
    Skipped {
        /// The failed image below.
        because: String,
    },
}

impl BuildStatus {
    /// The image id when the image exists.
    pub fn id(&self) -> Option<&str> {
        match self {
            BuildStatus::Built { id } | BuildStatus::UpToDate { id } => Some(id),
            _ => None,
        }
    }

    /// A one-word name.
    pub fn word(&self) -> &'static str {
        match self {
            BuildStatus::Built { .. } => "built",
            BuildStatus::UpToDate { .. } => "up-to-date",
            BuildStatus::Failed { .. } => "FAILED",
            BuildStatus::Skipped { .. } => "skipped",
        }
    }
}

/// The outcome of building one planned image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBuild {
    /// The plan id.
    pub id: String,
    /// The tags it carries.
    pub tags: Vec<String>,
    /// How it ended.
    pub status: BuildStatus,
    /// SHA-256 of the image's inputs, hex (empty when not computed).
    pub input_hash: String,
    /// Size of the build context, bytes.
    pub context_bytes: u64,
    /// Wall time of preparing and building, seconds.
    pub seconds: f64,
}

/// Receives progress while a plan is built.
pub trait BuildObserver: Send + Sync {
    /// An image's turn has come (`index` from 0 of `total`).
    fn image_started(&self, image: &PlannedImage, index: usize, total: usize);
    /// A step or output line while the image is prepared or built.
    fn line(&self, image: &PlannedImage, line: &str);
    /// The image is done.
    fn image_finished(&self, image: &PlannedImage, build: &ImageBuild);
}

/// Settings of a build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Rebuild even when the input hash is unchanged.
    pub rebuild: bool,
    /// The `scripts/` directory (for the base bootstrap).
    pub scripts: PathBuf,
}

/// Errors that stop a whole build (per-image failures are in [`ImageBuild`]).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The base could not be made or found.
    #[error("base image {image}: {message}")]
    Base {
        /// The base reference.
        image: String,
        /// Why.
        message: String,
    },
    /// The engine failed outside a single image's build.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The packs could not be restored.
    #[error(transparent)]
    Dotnet(#[from] crate::build::dotnet::DotnetError),
}

/// Why an image's build context could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    /// The image's parent is not in the plan.
    #[error("unknown parent {0}")]
    UnknownParent(String),
    /// The app carries its own copy of assemblies that a composite below it contains: the
    /// runtime would refuse to start it (an MVID mismatch between the app's copy and the
    /// one embedded in the composite), so the image is not built.
    #[error("app `{app}` carries its own {assemblies}, which the composite {composite} below it also contains; .NET would stop at start-up with \"MVID mismatch\", so this variant is refused for this app (measure it on a variant without that composite, or let the app use the framework's copy)")]
    Collision {
        /// The app's name.
        app: String,
        /// The colliding assemblies, comma-separated file names.
        assemblies: String,
        /// The composite's file name.
        composite: String,
    },
    /// The image's app is neither the scenario's nor a sample.
    #[error("unknown app {0}")]
    UnknownApp(String),
    /// A Dockerfile template could not be read.
    #[error("reading {path}: {cause}")]
    Template {
        /// The template file.
        path: PathBuf,
        /// The cause (in the message).
        cause: std::io::Error,
    },
    /// A Dockerfile template and its values do not match.
    #[error(transparent)]
    Render(#[from] context::TemplateError),
    /// Preparing the .NET content (packs, publish, composite) failed.
    #[error(transparent)]
    Dotnet(#[from] crate::build::dotnet::DotnetError),
    /// A file could not be added to the context.
    #[error(transparent)]
    Context(#[from] context::ContextError),
}

/// Makes sure the scenario's base image exists: a local base is bootstrapped from Debian's
/// packages with `scripts/bootstrap-base.sh` and imported; an image reference is pulled.
pub async fn ensure_base(
    engine: &dyn Images,
    base: &Base,
    workspace: &Workspace,
    scripts: &Path,
) -> Result<(), BuildError> {
    if let Some(details) = engine.inspect_image(base.image()).await? {
        let platform = base.platform();
        if !platform.is_default()
            && !details.architecture.is_empty()
            && details.architecture != platform.architecture()
        {
            return Err(BuildError::Base {
                image: base.image().to_string(),
                message: format!(
                    "the image's config says {}, not {}; remove it (it is made again from the tarball)",
                    details.architecture,
                    platform.architecture()
                ),
            });
        }
        return Ok(());
    }
    match base {
        Base::Reference { image } => {
            engine
                .pull_image(image)
                .await
                .map_err(|error| BuildError::Base {
                    image: image.clone(),
                    message: error.to_string(),
                })
        }
        Base::Local {
            name,
            image,
            script_args,
            platform,
            ..
        } => {
            let directory = workspace.root.join("bases");
            std::fs::create_dir_all(&directory).map_err(|error| BuildError::Base {
                image: image.clone(),
                message: format!("creating {}: {error}", directory.display()),
            })?;
            let tarball = match platform.suffix() {
                None => directory.join(format!("{name}.tar")),
                Some(suffix) => directory.join(format!("{name}-{suffix}.tar")),
            };
            if !tarball.is_file() {
                let script = scripts.join("bootstrap-base.sh");
                tracing::info!("making base {image} with {}", script.display());
                // On a blocking thread, not the runtime's: while the script runs, a Ctrl-C or
                // SIGTERM must still be seen (and stop the script).
                let mut command = std::process::Command::new("bash");
                command.arg(&script).args(script_args).arg(&tarball);
                let status = tokio::task::spawn_blocking(move || {
                    crate::support::children::status(&mut command)
                })
                .await
                .unwrap_or_else(|error| Err(std::io::Error::other(error.to_string())))
                .map_err(|error| BuildError::Base {
                    image: image.clone(),
                    message: format!("running {}: {error}", script.display()),
                })?;
                if !status.success() {
                    return Err(BuildError::Base {
                        image: image.clone(),
                        message: format!(
                            "{} {} {} failed ({status})",
                            script.display(),
                            script_args.join(" "),
                            tarball.display()
                        ),
                    });
                }
            }
            let changes = vec![
                format!("LABEL {}=true", labels::MANAGED),
                format!("LABEL {}=base", labels::ROLE),
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ];
            engine
                .import_rootfs(&tarball, image, &changes, *platform)
                .await?;
            Ok(())
        }
    }
}

/// Why one image's content could not be prepared (any preparation's own error).
pub type PreparationError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Host-side preparation of image content: what [`build_plan_with`] asks for before it hands
/// a context to the engine. [`HostPreparation`] restores the NuGet packs and runs crossgen2 and
/// `dotnet publish`; a test can put anything cheaper in its place.
#[async_trait::async_trait]
pub trait Preparation: Send + Sync {
    /// Readies what every image of the plan shares (the packs); called once, before the first
    /// image.
    async fn prepare(&self, plan: &Plan) -> Result<(), BuildError>;
    /// The build context of one image: an uncompressed tar with a `Dockerfile` at its root.
    async fn context(
        &self,
        plan: &Plan,
        image: &PlannedImage,
    ) -> Result<bytes::Bytes, PreparationError>;
    /// The simple names of a framework's managed assemblies in the prepared packs (after
    /// [`Preparation::prepare`]), for checking a list against them; `None` where the
    /// preparation cannot tell (the default).
    fn framework_assemblies(
        &self,
        framework: crate::model::framework::Framework,
    ) -> Option<std::collections::BTreeSet<String>> {
        let _ = framework;
        None
    }
}

/// The real preparation: packs restored with the host's .NET SDK, content prepared in the
/// workspace ([`assemble_context`]).
pub struct HostPreparation {
    catalog: Catalog,
    workspace: Workspace,
    packs: std::sync::OnceLock<BTreeMap<Platform, Packs>>,
}

impl HostPreparation {
    /// Preparation from a catalog into a workspace.
    pub fn new(catalog: &Catalog, workspace: &Workspace) -> HostPreparation {
        HostPreparation {
            catalog: catalog.clone(),
            workspace: workspace.clone(),
            packs: std::sync::OnceLock::new(),
        }
    }
}

#[async_trait::async_trait]
impl Preparation for HostPreparation {
    async fn prepare(&self, plan: &Plan) -> Result<(), BuildError> {
        let workspace = self.workspace.clone();
        let version = plan.scenario.dotnet.clone();
        let platforms = plan.scenario.platforms.clone();
        let packs = tokio::task::spawn_blocking(move || {
            platforms
                .into_iter()
                .map(|platform| {
                    workspace
                        .restore_packs_for(&version, platform)
                        .map(|packs| (platform, packs))
                })
                .collect::<Result<BTreeMap<Platform, Packs>, _>>()
        })
        .await
        .expect("restore task does not panic")?;
        let _ = self.packs.set(packs);
        Ok(())
    }

    fn framework_assemblies(
        &self,
        framework: crate::model::framework::Framework,
    ) -> Option<std::collections::BTreeSet<String>> {
        let packs = self.packs.get()?.get(&Platform::default())?;
        let entries = std::fs::read_dir(packs.managed_dir(framework)).ok()?;
        Some(
            entries
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".dll").map(str::to_string)
                })
                .collect(),
        )
    }

    async fn context(
        &self,
        plan: &Plan,
        image: &PlannedImage,
    ) -> Result<bytes::Bytes, PreparationError> {
        let packs = self
            .packs
            .get()
            .and_then(|packs| packs.get(&image.platform))
            .cloned()
            .ok_or_else(|| format!("the {} packs are not restored", image.platform))?;
        let (image, plan, catalog, workspace) = (
            image.clone(),
            plan.clone(),
            self.catalog.clone(),
            self.workspace.clone(),
        );
        tokio::task::spawn_blocking(move || {
            assemble_context(&plan, &catalog, &workspace, &packs, &image)
        })
        .await
        .map_err(|error| format!("preparing content panicked: {error}"))?
        .map_err(PreparationError::from)
    }
}

/// Builds every image of the plan. Per-image failures are recorded, not returned.
pub async fn build_plan(
    engine: &dyn Images,
    plan: &Plan,
    catalog: &Catalog,
    workspace: &Workspace,
    options: &BuildOptions,
    observer: &dyn BuildObserver,
) -> Result<Vec<ImageBuild>, BuildError> {
    let preparation = HostPreparation::new(catalog, workspace);
    build_plan_with(
        engine,
        plan,
        catalog,
        workspace,
        &preparation,
        options,
        observer,
    )
    .await
}

/// [`build_plan`] with the content preparation given. The bases are made or pulled while
/// `preparation` is readied and asked for the images' contexts in plan order (a local base
/// takes tens of seconds of downloads and dpkg, a framework composite as long of crossgen2);
/// once the bases are there, no further context is started ahead, and the images are built in
/// plan order.
pub async fn build_plan_with(
    engine: &dyn Images,
    plan: &Plan,
    catalog: &Catalog,
    workspace: &Workspace,
    preparation: &dyn Preparation,
    options: &BuildOptions,
    observer: &dyn BuildObserver,
) -> Result<Vec<ImageBuild>, BuildError> {
    let bases_made = std::sync::atomic::AtomicBool::new(false);
    let bases = async {
        let mut base_ids: BTreeMap<String, String> = BTreeMap::new();
        let result = async {
            for base in plan.bases(catalog) {
                ensure_base(engine, &base, workspace, &options.scripts).await?;
                let id = engine
                    .inspect_image(base.image())
                    .await?
                    .map(|details| details.id)
                    .unwrap_or_default();
                base_ids.insert(base.image().to_string(), id);
            }
            Ok::<_, BuildError>(())
        }
        .await;
        bases_made.store(true, std::sync::atomic::Ordering::SeqCst);
        result.map(|()| base_ids)
    };
    let ahead = async {
        preparation.prepare(plan).await?;
        let mut ahead: Vec<Prepared> = Vec::new();
        for image in &plan.images {
            if bases_made.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let started = Instant::now();
            let context = preparation.context(plan, image).await;
            ahead.push(Prepared {
                context,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok::<_, BuildError>(ahead)
    };
    let (base_ids, ahead) = tokio::join!(bases, ahead);
    let base_ids = base_ids?;
    let mut ahead = ahead?.into_iter();

    let mut results: Vec<ImageBuild> = Vec::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for (index, image) in plan.images.iter().enumerate() {
        observer.image_started(image, index, plan.images.len());
        let started = Instant::now();
        let prepared = ahead.next();
        let parent_id = match &image.parent {
            Parent::Base(reference) => Ok(base_ids.get(reference).cloned().unwrap_or_default()),
            Parent::Image(parent) => ids.get(parent).cloned().ok_or_else(|| parent.clone()),
        };
        let mut build = ImageBuild {
            id: image.id.clone(),
            tags: image.tags.clone(),
            status: BuildStatus::Skipped {
                because: String::new(),
            },
            input_hash: String::new(),
            context_bytes: 0,
            seconds: 0.0,
        };
        let ahead_seconds = prepared.as_ref().map_or(0.0, |prepared| prepared.seconds);
        match parent_id {
            Err(parent) => build.status = BuildStatus::Skipped { because: parent },
            Ok(parent_id) => match build_one(
                engine,
                plan,
                preparation,
                image,
                prepared.map(|prepared| prepared.context),
                &parent_id,
                options,
                observer,
                &mut build,
            )
            .await
            {
                Ok(id) => {
                    ids.insert(image.id.clone(), id);
                }
                Err(error) => build.status = BuildStatus::Failed { error },
            },
        }
        // An image's time includes its content's, whenever that was prepared.
        build.seconds = started.elapsed().as_secs_f64() + ahead_seconds;
        observer.image_finished(image, &build);
        results.push(build);
    }
    Ok(results)
}

/// A context prepared while the bases were made, and how long that took, seconds.
struct Prepared {
    context: Result<bytes::Bytes, PreparationError>,
    seconds: f64,
}

#[allow(clippy::too_many_arguments)]
async fn build_one(
    engine: &dyn Images,
    plan: &Plan,
    preparation: &dyn Preparation,
    image: &PlannedImage,
    prepared: Option<Result<bytes::Bytes, PreparationError>>,
    parent_id: &str,
    options: &BuildOptions,
    observer: &dyn BuildObserver,
    build: &mut ImageBuild,
) -> Result<String, String> {
    let context = match prepared {
        Some(context) => {
            observer.line(image, "content prepared while the base was made");
            context
        }
        None => {
            observer.line(image, "preparing content");
            preparation.context(plan, image).await
        }
    }
    .map_err(|error| error.to_string())?;
    build.context_bytes = context.len() as u64;
    let mut labels = image.labels(&plan.scenario);
    let input_hash = InputHasher::default()
        .part("context", &context)
        .part("parent", parent_id.as_bytes())
        .part("labels", format!("{labels:?}").as_bytes())
        .finish();
    build.input_hash = input_hash.clone();
    labels.insert(labels::INPUT_HASH.to_string(), input_hash.clone());

    let existing = engine
        .inspect_image(image.reference())
        .await
        .map_err(|error| error.to_string())?;
    let id = match existing {
        Some(details)
            if !options.rebuild && details.labels.get(labels::INPUT_HASH) == Some(&input_hash) =>
        {
            build.status = BuildStatus::UpToDate {
                id: details.id.clone(),
            };
            details.id
        }
        _ => {
            observer.line(
                image,
                &format!("building ({} MB context)", context.len() / 1_000_000),
            );
            let request = BuildRequest {
                reference: image.reference().to_string(),
                context,
                labels,
                platform: image.platform,
            };
            let on_line = |line: &str| observer.line(image, line);
            let id = engine
                .build_image(request, &on_line)
                .await
                .map_err(|error| error.to_string())?;
            build.status = BuildStatus::Built { id: id.clone() };
            id
        }
    };
    if !image.platform.is_default() {
        // The image config must name the platform (the engine's builder takes it from the
        // base), or the engine would run and report it as an image of its own architecture.
        let architecture = engine
            .inspect_image(&id)
            .await
            .map_err(|error| error.to_string())?
            .map(|details| details.architecture)
            .unwrap_or_default();
        if architecture != image.platform.architecture() {
            return Err(format!(
                "the engine made a `{architecture}` image, not {}",
                image.platform
            ));
        }
    }
    for tag in &image.tags[1..] {
        engine
            .tag_image(&id, tag)
            .await
            .map_err(|error| error.to_string())?;
    }
    Ok(id)
}

/// The Dockerfile template of `name` from `experiments/dockerfiles/`.
fn template(catalog: &Catalog, name: &str) -> Result<(String, String), AssembleError> {
    let path = catalog
        .root
        .join("dockerfiles")
        .join(format!("{name}.Dockerfile"));
    let text = std::fs::read_to_string(&path).map_err(|cause| AssembleError::Template {
        path: path.clone(),
        cause,
    })?;
    Ok((path.display().to_string(), text))
}

/// Prepares an image's content on the host and packs its build context.
pub fn assemble_context(
    plan: &Plan,
    catalog: &Catalog,
    workspace: &Workspace,
    packs: &Packs,
    image: &PlannedImage,
) -> Result<bytes::Bytes, AssembleError> {
    let parent = match &image.parent {
        Parent::Base(reference) => reference.clone(),
        Parent::Image(id) => plan
            .image(id)
            .map(|parent| parent.reference().to_string())
            .ok_or_else(|| AssembleError::UnknownParent(id.clone()))?,
    };
    let mut context = ContextBuilder::new();
    let dockerfile = match &image.content {
        Content::RuntimeDeps => {
            // Local bases without ICU run globalization-invariant; official images set their own.
            let base = plan
                .bases(catalog)
                .into_iter()
                .find(|base| base.image() == parent);
            let globalization = match base {
                Some(crate::model::scenario::Base::Local { icu: false, .. }) => {
                    " \\\n    DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true"
                }
                _ => "",
            };
            let (name, text) = template(catalog, "runtime-deps")?;
            context::render(
                &name,
                &text,
                &[("parent", &parent), ("globalization", globalization)],
            )?
        }
        Content::Frameworks {
            frameworks,
            composite,
            with_host,
            recipe,
            ..
        } => {
            let recipe = recipe
                .as_ref()
                .unwrap_or(&catalog.recipes[crate::model::recipe::DEFAULT_RECIPE]);
            let rootfs = workspace.framework_rootfs(
                packs,
                frameworks,
                composite.as_ref(),
                recipe,
                *with_host,
            )?;
            context.add_tree(&rootfs, "rootfs")?;
            let (name, text) = template(catalog, "frameworks")?;
            context::render(
                &name,
                &text,
                &[("parent", &parent), ("version", &packs.version)],
            )?
        }
        Content::Sdk => {
            let (rootfs, sdk_version) = workspace.sdk_rootfs(packs)?;
            context.add_tree(&rootfs, "rootfs")?;
            let (name, text) = template(catalog, "sdk")?;
            context::render(
                &name,
                &text,
                &[("parent", &parent), ("sdk_version", &sdk_version)],
            )?
        }
        Content::App {
            app,
            publish,
            composite,
            ..
        } => {
            let definition = plan
                .scenario
                .app(catalog, app)
                .ok_or_else(|| AssembleError::UnknownApp(app.clone()))?;
            let published = workspace.publish_app(packs, app, definition, publish, *composite)?;
            if !publish.self_contained {
                for (file, components) in composites_below(plan, catalog, workspace, packs, image)?
                {
                    let carried = carried_components(&published, &components);
                    if !carried.is_empty() {
                        return Err(AssembleError::Collision {
                            app: app.clone(),
                            assemblies: carried.join(", "),
                            composite: file,
                        });
                    }
                }
            }
            context.add_tree(&published, "app")?;
            // Self-contained apps, and framework-dependent ones on a platform whose images
            // have no `dotnet` command, start through their app host.
            let entrypoint = if publish.self_contained || !image.platform.is_default() {
                format!("[\"/app/{}\"]", definition.assembly)
            } else {
                format!("[\"dotnet\", \"/app/{}.dll\"]", definition.assembly)
            };
            let (name, text) = template(catalog, "app")?;
            context::render(
                &name,
                &text,
                &[("parent", &parent), ("entrypoint", &entrypoint)],
            )?
        }
    };
    context.add_bytes("Dockerfile", dockerfile, false);
    Ok(context.finish()?)
}

/// The framework composites an image stands on: each composite's file name and component
/// assembly names, read from the composite files of the images below it (as built in the
/// workspace).
pub fn composites_below(
    plan: &Plan,
    catalog: &Catalog,
    workspace: &Workspace,
    packs: &Packs,
    image: &PlannedImage,
) -> Result<Vec<(String, Vec<String>)>, AssembleError> {
    let mut found = Vec::new();
    let mut parent = image.parent.clone();
    while let Parent::Image(id) = parent {
        let Some(below) = plan.image(&id) else {
            return Err(AssembleError::UnknownParent(id));
        };
        if let Content::Frameworks {
            frameworks,
            composite: Some(spec),
            with_host,
            recipe,
            ..
        } = &below.content
        {
            let recipe = recipe
                .as_ref()
                .unwrap_or(&catalog.recipes[crate::model::recipe::DEFAULT_RECIPE]);
            let rootfs =
                workspace.framework_rootfs(packs, frameworks, Some(spec), recipe, *with_host)?;
            let shared = rootfs.join("usr/share/dotnet/shared");
            for framework in frameworks {
                let dir = shared.join(framework.shared_name()).join(&packs.version);
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !name.ends_with("-r2r.dll") {
                        continue;
                    }
                    let bytes = std::fs::read(entry.path()).map_err(|source| {
                        crate::build::dotnet::DotnetError::Io {
                            action: "reading",
                            path: entry.path(),
                            source,
                        }
                    })?;
                    if let Ok(Some(facts)) = crate::inspect::composite::composite_facts(&bytes) {
                        let components = facts.components.into_iter().map(|c| c.name).collect();
                        found.push((name, components));
                    }
                }
            }
        }
        parent = below.parent.clone();
    }
    Ok(found)
}

/// The assemblies of a published app (`*.dll` in `published`) that are also `components`
/// of a composite, as file names, sorted.
pub fn carried_components(published: &Path, components: &[String]) -> Vec<String> {
    let mut carried: Vec<String> = std::fs::read_dir(published)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".dll")?;
            components
                .iter()
                .any(|component| component == stem)
                .then_some(name)
        })
        .collect();
    carried.sort();
    carried
}

/// Seconds as a short human string.
pub fn seconds_text(seconds: f64) -> String {
    format!("{:.1?}", Duration::from_secs_f64(seconds))
}
