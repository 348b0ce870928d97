//! The steps' work: build, verify, sizes, start-up (with its sink appending whole rows to
//! `startup-runs.csv`) and the report.

use std::path::{Path, PathBuf};

use crate::build::dotnet::Workspace;
use crate::build::{self, BuildOptions, HostPreparation, ImageBuild};
use crate::inspect::verify::{self, ImageVerification, VerifyOptions};
use crate::measure::startup::{self, StartupOptions};
use crate::report::document::{self, PlotRef};
use crate::report::plot::{self, Format, PlotOptions};
use crate::results::files;
use crate::results::run_data::RunData;
use crate::results::startup_summary::SummaryRow;
use crate::results::{report_files, summary_file, RunDir};

use super::{Pipeline, RunError};

impl Pipeline<'_> {
    /// Builds the plan's images. `Ok((false, _))` when an image failed or was skipped.
    pub async fn build(&self, rebuild: bool) -> Result<(bool, Vec<ImageBuild>), RunError> {
        let experiments = self.project.root.join("experiments");
        let options = BuildOptions {
            rebuild,
            scripts: self.project.root.join("scripts"),
        };
        let host;
        let (workspace, preparation): (Workspace, &dyn build::Preparation) = match self.preparation
        {
            Some(preparation) => (
                Workspace {
                    root: self.project.work.clone(),
                    experiments,
                    dotnet: PathBuf::from("dotnet"),
                },
                preparation,
            ),
            None => {
                let workspace = Workspace::new(self.project.work.clone(), experiments)
                    .map_err(RunError::other)?;
                host = HostPreparation::new(&self.project.catalog, &workspace);
                (workspace, &host)
            }
        };
        self.observer.build_started(self.plan.images.len());
        let results = build::build_plan_with(
            self.engine,
            self.plan,
            &self.project.catalog,
            &workspace,
            preparation,
            &options,
            self.observer,
        )
        .await?;
        self.observer.build_finished(&results);
        let ok = results.iter().all(|result| result.status.id().is_some());
        Ok((ok, results))
    }

    /// Checks every image; an image that is not built fails its `present` check.
    pub async fn verify(
        &self,
        options: &VerifyOptions,
    ) -> Result<(bool, Vec<ImageVerification>), RunError> {
        let plan = self.plan;
        self.observer.verify_started(plan.images.len());
        let mut results = Vec::new();
        for image in &plan.images {
            self.observer.verifying(&image.id);
            let present = self
                .engine
                .inspect_image(image.reference())
                .await?
                .is_some();
            let result = if present {
                verify::verify_image(self.engine, plan, &self.project.catalog, image, options).await
            } else {
                ImageVerification {
                    id: image.id.clone(),
                    reference: image.reference().to_string(),
                    variants: image.variants.clone(),
                    role: image.role.clone(),
                    checks: vec![verify::Check {
                        name: "present".into(),
                        passed: false,
                        detail: format!(
                            "{} is not built; run `r2r build --scenario {}`",
                            image.reference(),
                            plan.scenario.name
                        ),
                    }],
                    emulated: false,
                    jitted_methods: None,
                }
            };
            self.observer.verified(&result);
            results.push(result);
        }
        verify::cross_checks(plan, &mut results);
        self.observer.verify_finished(&results);
        let ok = results.iter().all(ImageVerification::passed);
        Ok((ok, results))
    }

    /// Measures sizes into `directory` (sizes.csv, layers.csv, sharing.csv, summary.json).
    pub async fn sizes(
        &self,
        registry: Option<std::net::SocketAddr>,
        directory: &Path,
    ) -> Result<bool, RunError> {
        self.observer.note(&format!(
            "measuring sizes of {} images",
            self.plan.images.len()
        ));
        // Layers measured by an earlier run are taken from the cache under the work directory.
        let cache = std::sync::Arc::new(crate::measure::cache::MeasurementCache::open(
            &self
                .project
                .work
                .join(crate::measure::cache::CACHE_DIRECTORY),
        ));
        // The anatomy of the same images (where their bytes go, per assembly) is read from the
        // same export.
        let (report, anatomy) = crate::measure::sizes::measure_plan_with_anatomy(
            self.engine,
            self.plan,
            registry,
            Some(cache),
        )
        .await
        .map_err(RunError::other)?;
        crate::measure::sizes::write(&report, directory).map_err(|error| {
            RunError::context(
                format!("writing size results to {}", directory.display()),
                error,
            )
        })?;
        let run = RunDir::new(directory);
        run.write_rows(&anatomy)
            .map_err(|error| RunError::io("writing", &run.anatomy_csv(), error))?;
        self.observer.sizes_measured(&report);
        self.observer
            .note(&format!("size results written to {}", directory.display()));
        Ok(report.unmeasured.is_empty() && report.registry_errors.is_empty())
    }

    /// Measures start-up into `directory`. Runs are appended to `startup-runs.csv` as they
    /// finish, each row whole; with `resume`, the runs already there count and only the
    /// missing ones are added.
    pub async fn startup(
        &self,
        options: &StartupOptions,
        directory: &Path,
        resume: bool,
    ) -> Result<bool, RunError> {
        let (engine, plan) = (self.engine, self.plan);
        // Baselines (and so the pairs a precision target applies to) come from the plan.
        let mut options = options.clone();
        if options.variants.is_empty() {
            options.variants = plan.scenario.variants.clone();
        }
        let options = &options;
        std::fs::create_dir_all(directory)
            .map_err(|error| RunError::io("creating", directory, error))?;
        let mut targets = Vec::new();
        let mut missing = Vec::new();
        let selected = startup::select(
            startup::targets(plan),
            &plan.scenario.variants,
            &options.only,
        )
        .map_err(RunError::other)?;
        // Images of a platform this machine only emulates are never timed; alone, they are
        // refused.
        let (selected, emulated): (Vec<_>, Vec<_>) = selected.into_iter().partition(|target| {
            plan.image(&target.image)
                .and_then(startup::not_timed_reason)
                .is_none()
        });
        let not_timed: Vec<String> = emulated.iter().map(|t| t.image.clone()).collect();
        if let Some(first) = emulated.first() {
            let reason = plan
                .image(&first.image)
                .and_then(startup::not_timed_reason)
                .unwrap_or_default();
            if selected.is_empty() {
                return Err(RunError::other(startup::EmulatedStartup {
                    reason,
                    images: not_timed.join(", "),
                }));
            }
            self.observer.note(&format!(
                "start-up of {} not timed: {reason}",
                not_timed.join(", ")
            ));
        }
        for target in selected {
            if engine.inspect_image(&target.reference).await?.is_some() {
                targets.push(target);
            } else {
                missing.push(format!(
                    "{} ({} is not built)",
                    target.image, target.reference
                ));
            }
        }
        if options.caches.contains(&startup::Cache::Cold) {
            startup::drop_page_cache().map_err(RunError::other)?;
        }
        // Runs are appended to startup-runs.csv as they finish, each row whole (a full disk
        // cuts the file back to its last whole row): an interruption keeps every finished run.
        let run = RunDir::new(directory);
        let runs_path = run.startup_runs_csv();
        let prior = if resume {
            startup::read_runs(&runs_path).map_err(RunError::other)?
        } else {
            Vec::new()
        };
        let appending = resume && runs_path.is_file();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .truncate(false)
            .open(&runs_path)
            .map_err(|error| RunError::io("opening", &runs_path, error))?;
        if !appending {
            file.set_len(0)
                .map_err(|error| RunError::io("emptying", &runs_path, error))?;
            let header = startup::runs_csv(&[], true).map_err(RunError::other)?;
            files::append_whole(&mut file, &header)
                .map_err(|error| RunError::io("writing", &runs_path, error))?;
        }
        if !prior.is_empty() {
            self.observer.note(&format!(
                "resuming start-up: {} run(s) already recorded",
                prior.len()
            ));
        }
        let mut sink = |record: &startup::RunRecord| -> Result<(), startup::SinkError> {
            let bytes = startup::runs_csv(std::slice::from_ref(record), false)?;
            files::append_whole(&mut file, &bytes)
                .map_err(|error| format!("writing {}: {error}", runs_path.display()).into())
        };
        let measured = startup::measure_until(
            engine,
            &plan.scenario.name,
            &targets,
            options,
            self.observer,
            &mut sink,
            prior,
        )
        .await;
        self.observer.startup_stopped();
        let measured = measured.map_err(|error| {
            RunError::context(
                format!(
                    "start-up measurement stopped; every run recorded before is kept in {}",
                    runs_path.display()
                ),
                error,
            )
        })?;
        let records = &measured.records;
        let summaries =
            startup::summarize(records, &targets, &plan.scenario.variants, options.seed);
        let pairs = startup::pair_statuses(
            records,
            &targets,
            &plan.scenario.variants,
            &options.caches,
            options.seed,
        );
        let precision = startup::PrecisionReport::new(&measured, &pairs, options);
        let rows: Vec<SummaryRow> = summaries.iter().map(SummaryRow::new).collect();
        run.write_rows(&rows)
            .map_err(|error| RunError::io("writing", &run.startup_csv(), error))?;
        let failed_runs = records.iter().filter(|r| !r.ok).count();
        let summary = startup::StartupSummary {
            seed: options.seed,
            warmup: options.warmup,
            min_runs: options.min_runs,
            caches: options.caches.clone(),
            summaries,
            precision,
            failed_runs,
            not_measured: missing,
            not_timed_emulated: not_timed,
        };
        let value = serde_json::to_value(&summary).map_err(RunError::other)?;
        summary_file::update(directory, summary_file::STARTUP, value)
            .map_err(|error| RunError::io("updating the summary in", directory, error))?;
        self.observer
            .startup_measured(&summary.summaries, records, &summary.not_measured);
        self.observer.startup_precision(&summary.precision);
        self.observer.note(&format!(
            "startup results written to {}",
            directory.display()
        ));
        Ok(summary.not_measured.is_empty() && failed_runs == 0)
    }

    /// Plots and report of a finished run. Without a font PNGs are skipped with a note; SVG
    /// plots and the report are still written.
    pub fn report(&self, directory: &Path) -> Result<bool, RunError> {
        let data =
            RunData::load(directory, Some(&self.plan.scenario.name)).map_err(RunError::other)?;
        write_answer(&data)?;
        let formats = match plot::find_font(None) {
            Ok(_) => vec![Format::Svg, Format::Png],
            Err(error) => {
                self.observer.note(&format!("PNG plots skipped: {error}"));
                vec![Format::Svg]
            }
        };
        let outcome = draw_plots(&data, &formats, None, None)?;
        for (name, reason) in &outcome.skipped {
            self.observer
                .note(&format!("plot {name} skipped: {reason}"));
        }
        for path in write_report(&data)? {
            self.observer.note(&format!("report: {}", path.display()));
        }
        Ok(true)
    }
}

/// The title a plot file (by its stem) gets in the report.
fn plot_title(name: &str) -> String {
    match name {
        "sizes" => "Image sizes: uncompressed, gzip and zstd".to_string(),
        "sharing" => "Owned and shared layers per image (gzip)".to_string(),
        "anatomy" => "Where the bytes go: IL + metadata, native code and the rest".to_string(),
        "startup-console" => "Start-up of the console app, create to exit".to_string(),
        "startup-console-time-to-main" => "Console app: start request to Main".to_string(),
        "startup-webapi" => "Start-up of the web API, create to first HTTP 200".to_string(),
        "startup-webapi-time-to-main" => "Web API: start request to Main".to_string(),
        "startup-webapi-first-request" => "Web API: first request once ready".to_string(),
        "startup-phases" => "Start-up phases (medians)".to_string(),
        "size-vs-startup" => "Compressed size against warm start-up".to_string(),
        other if other.starts_with("answer-") => format!(
            "{}: compressed size against paired cold start-up, per image",
            &other["answer-".len()..]
        ),
        other => other.replace('-', " "),
    }
}

/// The SVG plots in `<run>/plots`, in name order, as the report embeds them.
fn plot_refs(directory: &Path) -> Vec<PlotRef> {
    let mut names: Vec<String> = std::fs::read_dir(RunDir::new(directory).plots())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".svg"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let stem = name.trim_end_matches(".svg").to_string();
            PlotRef {
                title: plot_title(&stem),
                path: format!("{}/{name}", report_files::PLOTS),
            }
        })
        .collect()
}

/// Writes `answer.csv` of a loaded run (the report's answer as rows;
/// [`crate::report::answer::rows`]), before the plots that draw it; none when the run
/// measured nothing.
pub fn write_answer(data: &RunData) -> Result<(), RunError> {
    let rows = crate::report::answer::rows(data);
    if rows.is_empty() {
        return Ok(());
    }
    let run = data.run_dir();
    run.write_rows(&rows)
        .map_err(|error| RunError::io("writing", &run.answer_csv(), error))
}

/// Writes `answer.csv`, `report.md` and `report.html` of a loaded run; returns the
/// report's paths.
pub fn write_report(data: &RunData) -> Result<Vec<PathBuf>, RunError> {
    write_answer(data)?;
    document::write(data, &plot_refs(&data.directory)).map_err(|error| {
        RunError::context(
            format!("writing the report into {}", data.directory.display()),
            error,
        )
    })
}

/// What [`draw_plots`] drew and skipped.
pub type ReportOutcome = plot::PlotOutcome;

/// Draws a run's plots into `output` (default `<run>/plots`): SVG always, PNG when asked
/// and a font is found.
pub fn draw_plots(
    data: &RunData,
    formats: &[Format],
    font: Option<PathBuf>,
    output: Option<PathBuf>,
) -> Result<plot::PlotOutcome, RunError> {
    let out = output.unwrap_or_else(|| data.run_dir().plots());
    std::fs::create_dir_all(&out).map_err(|error| RunError::io("creating", &out, error))?;
    plot::plot_run(
        &data.directory,
        &out,
        &PlotOptions {
            formats: formats.to_vec(),
            font,
        },
    )
    .map_err(RunError::other)
}
