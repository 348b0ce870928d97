//! `r2r tune`: a composite made for an app. The app runs in its as-shipped image and what it
//! loads is recorded ([`crate::measure::record`]); recipes are made from the recordings
//! ([`crate::model::recording::tuned_recipes`]); and one run measures them beside the app as
//! shipped and the other recipes: a scenario made from the source one
//! ([`crate::model::scenario::derive`]), written with the recordings into the run directory,
//! so the run can be made again from its own `scenario.toml`.
//!
//! Nothing is written before every recording is made and checked: a run directory holds the
//! whole `tune/` and its scenario, or does not exist.

use std::path::{Path, PathBuf};

use crate::build::Preparation;
use crate::inspect::verify::VerifyOptions;
use crate::model::app::{AppKind, Launch};
use crate::model::framework::Framework;
use crate::model::plan::{self, Content, Plan, PlannedImage, PlannedRole};
use crate::model::recording::{self, Recording};
use crate::model::scenario::derive::{self, quoted, string_array};
use crate::results::{runs, tune_files, RunDir};

use super::{Pipeline, RunError, RunSettings};

/// The variant whose recipes a tuning compares unless it says otherwise: the runtime and
/// ASP.NET Core in one composite (a console app's image: the runtime alone).
pub const DEFAULT_VARIANT: &str = "aspnet-composite";

/// The variant an app is recorded in: as shipped.
pub const AS_SHIPPED: &str = "no-composite";

/// What `r2r tune` is asked.
#[derive(Debug, Clone, Default)]
pub struct TuneRequest {
    /// The apps to tune for, by name in the scenario; empty: all of them.
    pub apps: Vec<String>,
    /// A run directory whose `tune/` recordings are used instead of recording again.
    pub from: Option<PathBuf>,
    /// An as-shipped app image (built by r2r for this scenario) to record instead of building.
    pub image: Option<String>,
    /// The recipes the tuned ones are measured against; empty: `full`, the official recipe
    /// of the version (`official-net<major>`, else `official-net10`) and `partial-pgo`.
    pub compare: Vec<String>,
    /// The composite variant; `None`: [`DEFAULT_VARIANT`].
    pub variant: Option<String>,
    /// Only record and write the recipes (and the scenario that would measure them).
    pub record_only: bool,
    /// How long one app may take to become ready while it is recorded; zero: 90 s.
    pub timeout: std::time::Duration,
    /// How the measuring run goes (start-up settings; `only` defaults to the compared images).
    pub settings: RunSettings,
}

/// What a tuning did.
#[derive(Debug, Clone)]
pub struct TuneOutcome {
    /// The run directory (`tune/`, `scenario.toml`, and the measurement's files).
    pub directory: PathBuf,
    /// The recordings, one per app.
    pub recordings: Vec<Recording>,
    /// The recipes written.
    pub recipes: Vec<String>,
    /// The images timed against their app as shipped.
    pub compared: Vec<String>,
    /// Whether the measuring run passed every step (`None`: not measured).
    pub measured: Option<bool>,
}

impl Pipeline<'_> {
    /// Tunes composites for the apps of this pipeline's scenario (see the module's
    /// documentation).
    pub async fn tune(&self, request: &TuneRequest) -> Result<TuneOutcome, RunError> {
        let scenario = &self.plan.scenario;
        let apps = pick_apps(self.plan, &request.apps)?;
        let variant = request.variant.as_deref().unwrap_or(DEFAULT_VARIANT);
        let catalog = &self.project.catalog;
        match catalog.variants.get(variant) {
            Some(found) if plan::has_framework_composite(found) => {}
            _ => {
                let allowed: Vec<&str> = catalog
                    .variants
                    .iter()
                    .filter(|(_, v)| plan::has_framework_composite(v))
                    .map(|(name, _)| name.as_str())
                    .collect();
                return Err(RunError::other(format!(
                    "`{variant}` is not a variant with a framework composite; allowed: {}",
                    allowed.join(", ")
                )));
            }
        }
        let compare = comparisons(self, &request.compare)?;
        let text = std::fs::read_to_string(&scenario.path)
            .map_err(|error| RunError::io("reading", &scenario.path, error))?;
        let tuned_name = format!("{}-tuned", scenario.name);

        let timeout = match request.timeout {
            zero if zero.is_zero() => VerifyOptions::default().run_timeout,
            timeout => timeout,
        };
        let recordings = match (&request.from, &request.image) {
            (Some(from), _) => self.recordings_from(from, &apps).await?,
            (None, Some(image)) => vec![self.record_image(image, &apps, timeout).await?],
            (None, None) => {
                self.record_as_shipped(&text, &tuned_name, &apps, timeout)
                    .await?
            }
        };
        let tuned = recording::tuned_recipes(&recordings);
        let mut recipes = compare.clone();
        recipes.extend(tuned.names.iter().cloned());
        let recorded_apps: Vec<String> = recordings.iter().map(|r| r.app.clone()).collect();
        let changes = derive::Changes {
            keys: vec![
                ("name".into(), quoted(&tuned_name)),
                (
                    "description".into(),
                    quoted(&format!(
                        "Composites tuned by r2r tune for {} against the app as shipped and the recipes {}",
                        recorded_apps.join(", "),
                        compare.join(", ")
                    )),
                ),
                ("variants".into(), string_array(&[AS_SHIPPED, variant])),
                ("recipes".into(), string_array(&recipes)),
                (
                    "recipe-files".into(),
                    string_array(&[tune_files::recipes_from_scenario()]),
                ),
                ("measure".into(), string_array(&["sizes", "startup"])),
            ],
            apps: recorded_apps.clone(),
        };
        let derived = derive::derive(scenario, &text, &changes).map_err(RunError::other)?;

        // Everything is known: the run directory is made whole, or not at all.
        let directory = self
            .project
            .results
            .join(&tuned_name)
            .join(runs::new_run_id());
        let run_dir = RunDir::new(&directory);
        let made = (|| -> Result<Plan, RunError> {
            std::fs::create_dir_all(&directory)
                .map_err(|error| RunError::io("creating", &directory, error))?;
            tune_files::write(&run_dir, &recordings, &tuned)
                .map_err(|error| RunError::io("writing", &run_dir.tune_dir(), error))?;
            crate::results::files::write_atomically(&run_dir.scenario_toml(), derived.as_bytes())
                .map_err(|error| RunError::io("writing", &run_dir.scenario_toml(), error))?;
            plan::load(&run_dir.scenario_toml(), catalog).map_err(RunError::other)
        })();
        let tuned_plan = match made {
            Ok(plan) => plan,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&directory);
                return Err(error);
            }
        };
        let compared = compared_images(
            &tuned_plan,
            &recorded_apps,
            variant,
            (&compare, &tuned.names),
        );
        let mut outcome = TuneOutcome {
            directory: directory.clone(),
            recordings,
            recipes: tuned.names.clone(),
            compared: compared.clone(),
            measured: None,
        };
        if request.record_only {
            return Ok(outcome);
        }
        let mut settings = request.settings.clone();
        settings.directory = Some(directory);
        settings.resume = None;
        if settings.startup.only.is_empty() {
            settings.startup.only = compared;
        }
        let pipeline = Pipeline {
            engine: self.engine,
            plan: &tuned_plan,
            project: self.project,
            preparation: self.preparation,
            observer: self.observer,
        };
        outcome.measured = Some(pipeline.run(&settings).await?);
        Ok(outcome)
    }

    /// Builds the as-shipped images of `apps` (a scenario made from this one with the
    /// as-shipped variant alone) and records each app in its image.
    async fn record_as_shipped(
        &self,
        text: &str,
        name: &str,
        apps: &[String],
        timeout: std::time::Duration,
    ) -> Result<Vec<Recording>, RunError> {
        let changes = derive::Changes {
            keys: vec![
                ("name".into(), quoted(name)),
                ("variants".into(), string_array(&[AS_SHIPPED])),
                ("measure".into(), "[]".into()),
            ],
            apps: apps.to_vec(),
        };
        let derived =
            derive::derive(&self.plan.scenario, text, &changes).map_err(RunError::other)?;
        let dir = self.project.work.join("scenarios");
        std::fs::create_dir_all(&dir).map_err(|error| RunError::io("creating", &dir, error))?;
        let path = dir.join(format!("{name}.record.toml"));
        crate::results::files::write_atomically(&path, derived.as_bytes())
            .map_err(|error| RunError::io("writing", &path, error))?;
        let record_plan = plan::load(&path, &self.project.catalog).map_err(RunError::other)?;
        let pipeline = Pipeline {
            engine: self.engine,
            plan: &record_plan,
            project: self.project,
            preparation: self.preparation,
            observer: self.observer,
        };
        let (_, builds) = pipeline.build(false).await?;
        let mut recordings = Vec::new();
        for app in apps {
            let image = app_image(&record_plan, app, AS_SHIPPED).ok_or_else(|| {
                RunError::other(format!("the plan has no as-shipped image of `{app}`"))
            })?;
            if let Some(failed) = builds
                .iter()
                .find(|build| build.id == image.id && build.status.id().is_none())
            {
                let why = match &failed.status {
                    crate::build::BuildStatus::Failed { error } => error.clone(),
                    crate::build::BuildStatus::Skipped { because } => {
                        format!("{because}, below it, failed")
                    }
                    _ => String::new(),
                };
                return Err(RunError::other(format!(
                    "the as-shipped image of `{app}` ({}) was not built: {why}",
                    image.reference(),
                )));
            }
            self.observer
                .note(&format!("recording `{app}` in {}", image.reference()));
            let recording = record_one(self, &record_plan, image, timeout).await?;
            self.observer.note(&format!(
                "`{app}` loaded {} framework assemblies ({} of Microsoft.NETCore.App, {} of Microsoft.AspNetCore.App), {}",
                recording.assemblies.len(),
                recording.count(Framework::Runtime),
                recording.count(Framework::Aspnet),
                recording.after
            ));
            recordings.push(recording);
        }
        self.check_recordings(recordings.iter().map(|r| (None, r)))
            .await?;
        Ok(recordings)
    }

    /// Records the app of an as-shipped image r2r built for this scenario.
    async fn record_image(
        &self,
        reference: &str,
        apps: &[String],
        timeout: std::time::Duration,
    ) -> Result<Recording, RunError> {
        use crate::model::plan::labels;
        let details =
            self.engine.inspect_image(reference).await?.ok_or_else(|| {
                RunError::other(format!("image {reference} is not on the engine"))
            })?;
        let label = |key: &str| details.labels.get(key).cloned().unwrap_or_default();
        let scenario = &self.plan.scenario.name;
        if label(labels::SCENARIO) != *scenario {
            return Err(RunError::other(format!(
                "{reference} was not built by r2r for scenario `{scenario}` (its label {} is `{}`)",
                labels::SCENARIO,
                label(labels::SCENARIO)
            )));
        }
        let variants = label(labels::VARIANTS);
        if variants != AS_SHIPPED {
            return Err(RunError::other(format!(
                "{reference} is built by variant `{variants}`, not as shipped: r2r tune records an app in its as-shipped image (variant `{AS_SHIPPED}`)"
            )));
        }
        let image = self
            .plan
            .images
            .iter()
            .find(|image| image.id == label(labels::IMAGE))
            .filter(|image| matches!(image.content, Content::App { .. }))
            .ok_or_else(|| {
                RunError::other(format!(
                    "{reference} is not an app image of scenario `{scenario}` (image `{}`)",
                    label(labels::IMAGE)
                ))
            })?;
        let PlannedRole::App(app) = &image.role else {
            unreachable!("app content has an app role")
        };
        if !apps.contains(app) {
            return Err(RunError::other(format!(
                "{reference} holds `{app}`, not one of the apps asked for ({})",
                apps.join(", ")
            )));
        }
        let mut image = image.clone();
        image.tags = vec![reference.to_string()];
        let recording = record_one(self, self.plan, &image, timeout).await?;
        self.check_recordings([(None, &recording)]).await?;
        Ok(recording)
    }

    /// Reads the recordings of `apps` from the run directory `from`, checked against this
    /// scenario's .NET version and frameworks.
    async fn recordings_from(
        &self,
        from: &Path,
        apps: &[String],
    ) -> Result<Vec<Recording>, RunError> {
        if !tune_files::has_recordings(from) {
            return Err(RunError::other(format!(
                "{} has no recording (tune/*.assemblies.txt): make one with `r2r tune --scenario {}`",
                from.display(),
                self.plan.scenario.name
            )));
        }
        let read = tune_files::read(&RunDir::new(from), apps).map_err(RunError::other)?;
        for (path, _, recording) in &read {
            if recording.dotnet != self.plan.scenario.dotnet {
                return Err(RunError::other(format!(
                    "{}: recorded on .NET {}, the scenario is .NET {}",
                    path.display(),
                    recording.dotnet,
                    self.plan.scenario.dotnet
                )));
            }
        }
        self.check_recordings(
            read.iter()
                .map(|(path, text, r)| (Some((path.as_path(), text.as_str())), r)),
        )
        .await?;
        Ok(read
            .into_iter()
            .map(|(_, _, recording)| recording)
            .collect())
    }

    /// Refuses a recording that names an assembly the version's frameworks lack (at its
    /// line, when it was read from a file).
    async fn check_recordings<'r>(
        &self,
        recordings: impl IntoIterator<Item = (Option<(&'r Path, &'r str)>, &'r Recording)>,
    ) -> Result<(), RunError> {
        let experiments = self.project.root.join("experiments");
        let host;
        let preparation: &dyn Preparation = match self.preparation {
            Some(preparation) => preparation,
            None => {
                let workspace =
                    crate::build::dotnet::Workspace::new(self.project.work.clone(), experiments)
                        .map_err(RunError::other)?;
                host = crate::build::HostPreparation::new(&self.project.catalog, &workspace);
                &host
            }
        };
        preparation.prepare(self.plan).await?;
        let (Some(runtime), Some(aspnet)) = (
            preparation.framework_assemblies(Framework::Runtime),
            preparation.framework_assemblies(Framework::Aspnet),
        ) else {
            return Ok(());
        };
        let has = |framework: Framework, name: &str| match framework {
            Framework::Runtime => runtime.contains(name),
            Framework::Aspnet => aspnet.contains(name),
        };
        for (source, recording) in recordings {
            let text;
            let (path, text) = match source {
                Some(found) => found,
                None => {
                    text = recording.to_text();
                    (Path::new(&recording.image), text.as_str())
                }
            };
            let checked = Recording::parse(path, text).map_err(RunError::other)?;
            checked
                .check_against(path, text, has)
                .map_err(RunError::other)?;
        }
        Ok(())
    }
}

/// Records the app of `image` (an app image of `plan`) by its launch rule.
async fn record_one(
    pipeline: &Pipeline<'_>,
    plan: &Plan,
    image: &PlannedImage,
    timeout: std::time::Duration,
) -> Result<Recording, RunError> {
    let Content::App { kind, launch, .. } = &image.content else {
        unreachable!("only app images are recorded")
    };
    let PlannedRole::App(app) = &image.role else {
        unreachable!("app content has an app role")
    };
    let launch: Launch = launch.clone().unwrap_or_else(|| Launch::sample(*kind));
    let kind: AppKind = *kind;
    crate::measure::record::record(
        pipeline.engine,
        plan,
        image,
        (app, kind, &launch),
        &VerifyOptions {
            run_timeout: timeout,
            ..VerifyOptions::default()
        },
    )
    .await
    .map_err(RunError::other)
}

/// The apps asked for, checked against the scenario's (all of them when none is asked for).
fn pick_apps(plan: &Plan, asked: &[String]) -> Result<Vec<String>, RunError> {
    let known = &plan.scenario.apps;
    if asked.is_empty() {
        return Ok(known.clone());
    }
    for app in asked {
        if !known.contains(app) {
            return Err(RunError::other(format!(
                "scenario `{}` has no app `{app}`; allowed: {}",
                plan.scenario.name,
                known.join(", ")
            )));
        }
        if app == "all" {
            return Err(RunError::other(format!(
                "an app named `all` would share its recipe name with the union ({})",
                recording::UNION
            )));
        }
    }
    Ok(asked.to_vec())
}

/// The recipes to compare against: those asked for (each must exist), or the defaults that
/// exist in the project.
fn comparisons(pipeline: &Pipeline<'_>, asked: &[String]) -> Result<Vec<String>, RunError> {
    let recipes = &pipeline.project.catalog.recipes;
    if !asked.is_empty() {
        if let Some(unknown) = asked.iter().find(|name| !recipes.contains_key(*name)) {
            return Err(RunError::other(format!(
                "unknown recipe `{unknown}`; allowed: {}",
                recipes.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        return Ok(asked.to_vec());
    }
    let major = pipeline.plan.scenario.dotnet_major();
    let official = [format!("official-net{major}"), "official-net10".to_string()]
        .into_iter()
        .find(|name| recipes.contains_key(name));
    Ok(["full".to_string()]
        .into_iter()
        .chain(official)
        .chain(["partial-pgo".to_string()])
        .filter(|name| recipes.contains_key(name))
        .collect())
}

/// The app image of `app` in plan variant `variant`.
fn app_image<'p>(plan: &'p Plan, app: &str, variant: &str) -> Option<&'p PlannedImage> {
    plan.images.iter().find(|image| {
        matches!(image.content, Content::App { .. })
            && image.platform.is_default()
            && image.role == PlannedRole::App(app.to_string())
            && image.variants.iter().any(|v| v == variant)
    })
}

/// The images a tuning times, per app: as shipped, and the app on the composite of every
/// recipe compared, of its own tuned ones and of the union's (the variant's own name for
/// `full`); not on the recipes tuned for the other apps.
fn compared_images(
    plan: &Plan,
    apps: &[String],
    variant: &str,
    (compare, tuned): (&[String], &[String]),
) -> Vec<String> {
    let mut images = Vec::new();
    for app in apps {
        let own = recording::tuned_name(app);
        let mine = tuned.iter().filter(|recipe| {
            **recipe == own
                || recipe.strip_prefix(own.as_str()) == Some("-pgo")
                || recipe.starts_with(recording::UNION)
        });
        let variants = std::iter::once(AS_SHIPPED.to_string()).chain(
            compare
                .iter()
                .chain(mine)
                .map(|recipe| plan::recipe_variant(variant, recipe)),
        );
        for name in variants {
            if let Some(image) = app_image(plan, app, &name) {
                if !images.contains(&image.id) {
                    images.push(image.id.clone());
                }
            }
        }
    }
    images
}
