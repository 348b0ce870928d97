//! What the binary prints: progress on stderr (bars on a terminal, plain lines otherwise),
//! tables and JSON on stdout, errors as `error: ...` with their causes.

use std::io::IsTerminal;

use comfy_table::{Cell, Color, Table};
use indicatif::{ProgressBar, ProgressStyle};
use r2r_core::build::{seconds_text, BuildObserver, BuildStatus, ImageBuild};
use r2r_core::inspect::verify::ImageVerification;
use r2r_core::model::plan::PlannedImage;

/// Prints an error chain and returns exit code 2.
pub fn error(error: &anyhow::Error) -> u8 {
    eprintln!("error: {error:#}");
    2
}

/// Prints a value as pretty JSON; returns exit code 0.
pub fn json(value: &impl serde::Serialize) -> u8 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(problem) => error(&problem.into()),
    }
}

fn bar(total: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// Build progress: a bar with the current image and its last output line.
pub struct BuildProgress {
    bar: Option<ProgressBar>,
}

impl BuildProgress {
    /// A progress display for `total` images.
    pub fn new(total: usize) -> Self {
        BuildProgress { bar: bar(total) }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl BuildObserver for BuildProgress {
    fn image_started(&self, image: &PlannedImage, index: usize, total: usize) {
        match &self.bar {
            Some(bar) => bar.set_message(image.id.clone()),
            None => eprintln!("[{}/{total}] {}", index + 1, image.id),
        }
    }

    fn line(&self, image: &PlannedImage, line: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {}", image.id, line.trim()));
        }
    }

    fn image_finished(&self, image: &PlannedImage, build: &ImageBuild) {
        let text = format!(
            "{} {} ({})",
            build.status.word(),
            image.id,
            seconds_text(build.seconds)
        );
        match &self.bar {
            Some(bar) => {
                bar.println(text);
                bar.inc(1);
            }
            None => eprintln!("      {text}"),
        }
        if let BuildStatus::Failed { error } = &build.status {
            let message = format!("error building {}:\n{error}", image.id);
            match &self.bar {
                Some(bar) => bar.println(message),
                None => eprintln!("{message}"),
            }
        }
    }
}

/// Verification progress.
pub struct VerifyProgress {
    bar: Option<ProgressBar>,
}

impl VerifyProgress {
    /// A progress display for `total` images.
    pub fn new(total: usize) -> Self {
        VerifyProgress { bar: bar(total) }
    }

    /// An image's checks start.
    pub fn start(&self, id: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("verifying {id}")),
            None => eprintln!("verifying {id}"),
        }
    }

    /// An image's checks are done.
    pub fn done(&self, result: &ImageVerification) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.println(format!(
                "{} {}",
                if result.passed() { "ok  " } else { "FAIL" },
                result.id
            ));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Prints the build summary table; failures are listed with their first error line.
pub fn print_build_summary(results: &[ImageBuild]) {
    let mut table = Table::new();
    table
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(["image", "status", "context MB", "time", "tags"]);
    for result in results {
        let status = Cell::new(result.status.word()).fg(match result.status {
            BuildStatus::Built { .. } | BuildStatus::UpToDate { .. } => Color::Green,
            _ => Color::Red,
        });
        table.add_row(vec![
            Cell::new(&result.id),
            status,
            Cell::new(format!("{:.1}", result.context_bytes as f64 / 1e6)),
            Cell::new(seconds_text(result.seconds)),
            Cell::new(result.tags.join("\n")),
        ]);
    }
    println!("{table}");
    let failed: Vec<&ImageBuild> = results
        .iter()
        .filter(|r| matches!(r.status, BuildStatus::Failed { .. }))
        .collect();
    let skipped = results
        .iter()
        .filter(|r| matches!(r.status, BuildStatus::Skipped { .. }))
        .count();
    if !failed.is_empty() || skipped > 0 {
        println!(
            "{} failed, {skipped} skipped because an image below them failed:",
            failed.len()
        );
        for result in failed {
            if let BuildStatus::Failed { error } = &result.status {
                println!("  {}: {}", result.id, error.lines().next().unwrap_or(""));
            }
        }
    }
}

/// Prints the verification table.
pub fn print_verify_table(results: &[ImageVerification]) {
    let mut table = Table::new();
    table
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(["image", "variants", "check", "result", "detail"]);
    table.set_width(200);
    for result in results {
        for (index, check) in result.checks.iter().enumerate() {
            let (id, variants) = if index == 0 {
                (result.id.clone(), result.variants.join("\n"))
            } else {
                (String::new(), String::new())
            };
            table.add_row(vec![
                Cell::new(id),
                Cell::new(variants),
                Cell::new(&check.name),
                Cell::new(if check.passed { "pass" } else { "FAIL" }).fg(if check.passed {
                    Color::Green
                } else {
                    Color::Red
                }),
                Cell::new(&check.detail),
            ]);
        }
    }
    println!("{table}");
    let failed = results.iter().filter(|r| !r.passed()).count();
    println!(
        "{} of {} images verified{}",
        results.len() - failed,
        results.len(),
        if failed > 0 {
            format!(", {failed} FAILED")
        } else {
            String::new()
        }
    );
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// Prints the per-image sizes and, per set, the Image | Total | Owned | Shared table.
pub fn print_sizes(report: &r2r_core::measure::sizes::SizeReport) {
    let mut table = Table::new();
    table
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header([
            "image",
            "layers",
            "engine MB",
            "uncompressed MB",
            "gzip MB",
            "zstd MB",
            "wasted MB",
            "registry MB",
        ]);
    for image in &report.images {
        table.add_row(vec![
            image.image.clone(),
            image.layers.to_string(),
            image.engine_size_bytes.map(megabytes).unwrap_or_default(),
            megabytes(image.content_bytes),
            megabytes(image.gzip_bytes),
            megabytes(image.zstd_bytes),
            megabytes(image.wasted_bytes),
            image.registry_bytes.map(megabytes).unwrap_or_default(),
        ]);
    }
    println!("{table}");
    for set in report.sets.iter().filter(|set| set.figure == "content") {
        let mut table = Table::new();
        table.set_header(["image", "total MB", "owned MB", "shared MB"]);
        for member in &set.members {
            table.add_row(vec![
                member.image.clone(),
                megabytes(member.total_bytes),
                megabytes(member.owned_bytes),
                megabytes(member.shared_bytes),
            ]);
        }
        println!(
            "set {}: {} MB as separate images, {} MB stored once (saves {} MB)\n{table}",
            set.set,
            megabytes(set.sum_bytes),
            megabytes(set.stored_once_bytes),
            megabytes(set.saved_bytes)
        );
    }
    for missing in &report.unmeasured {
        println!("not measured: {}: {}", missing.image, missing.reason);
    }
    for error in &report.registry_errors {
        println!("registry: {error}");
    }
}

/// Startup progress: a bar with ETA over the recorded runs and, with a precision target, one
/// line per pair with its current interval half-width.
pub struct StartupProgress {
    multi: indicatif::MultiProgress,
    bar: Option<ProgressBar>,
    pairs: std::sync::Mutex<Vec<ProgressBar>>,
}

impl StartupProgress {
    /// A progress display (hidden when stderr is not a terminal).
    pub fn new() -> Self {
        let multi = indicatif::MultiProgress::new();
        let bar = bar(0).map(|bar| multi.add(bar));
        StartupProgress {
            multi,
            bar,
            pairs: Default::default(),
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        for pair in self
            .pairs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            pair.finish_and_clear();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One pair's precision for the progress display: "±4.2% of ±3.0% (n = 12)".
fn pair_progress_text(pair: &r2r_core::measure::startup::PairStatus, target: f64) -> String {
    let effect = &pair.effect;
    if !effect.half_width.is_finite() {
        return format!("too few rounds (n = {})", effect.rounds);
    }
    format!(
        "{} ±{:.1}% (target ±{:.1}%), speed-up {:.3}, n = {}",
        if effect.resolved_to(target) {
            "resolved"
        } else {
            "open    "
        },
        effect.half_width * 100.0,
        target * 100.0,
        effect.speedup,
        effect.rounds
    )
}

impl r2r_core::measure::startup::StartupObserver for StartupProgress {
    fn started(&self, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} ETA {eta} {wide_msg}",
                )
                .expect("valid template"),
            );
        } else {
            eprintln!("startup: {total} recorded runs planned");
        }
    }

    fn run_finished(&self, record: &r2r_core::measure::startup::RunRecord, recorded: bool) {
        let text = format!(
            "{} {} {} {}",
            if recorded { "run" } else { "warm-up" },
            record.image,
            record.cache.name(),
            match record.total_ms {
                Some(ms) if record.ok => format!("{ms:.0} ms"),
                _ => format!("FAILED: {}", record.error.lines().next().unwrap_or("")),
            }
        );
        match &self.bar {
            Some(bar) => {
                if recorded {
                    bar.inc(1);
                }
                bar.set_message(text);
            }
            None if !record.ok => eprintln!("{text}"),
            None => {}
        }
    }

    fn precision(
        &self,
        rounds: usize,
        pairs: &[r2r_core::measure::startup::PairStatus],
        target: f64,
    ) {
        let Some(main) = &self.bar else {
            let resolved = pairs
                .iter()
                .filter(|p| p.effect.resolved_to(target))
                .count();
            let widest = pairs
                .iter()
                .filter(|p| !p.effect.resolved_to(target))
                .max_by(|a, b| a.effect.half_width.total_cmp(&b.effect.half_width));
            eprintln!(
                "startup round {rounds}: {resolved} of {} pairs within ±{:.1}%{}",
                pairs.len(),
                target * 100.0,
                widest
                    .map(|p| format!(
                        "; widest: {} ±{:.1}%",
                        p.label(),
                        p.effect.half_width * 100.0
                    ))
                    .unwrap_or_default()
            );
            return;
        };
        // The bar grows past its planned rounds when the target needs more.
        let planned = main.length().unwrap_or(0);
        if main.position() >= planned {
            let per_round = main.position() / rounds.max(1) as u64;
            main.set_length(main.position() + per_round.max(1));
        }
        let mut lines = self.pairs.lock().unwrap_or_else(|p| p.into_inner());
        while lines.len() < pairs.len() {
            let line = self.multi.add(ProgressBar::new_spinner());
            line.set_style(
                ProgressStyle::with_template("  {prefix:50} {msg}").expect("valid template"),
            );
            lines.push(line);
        }
        for (line, pair) in lines.iter().zip(pairs) {
            line.set_prefix(pair.label());
            line.set_message(pair_progress_text(pair, target));
        }
    }
}

/// Prints why the start-up measurement stopped and, with a precision target, which pairs
/// stayed wider than it.
pub fn print_precision(report: &r2r_core::measure::startup::PrecisionReport) {
    let Some(target) = report.target_pct else {
        return;
    };
    println!(
        "start-up: {} round(s) in {:.0} s; stopped because {}; target ±{target:.1}%",
        report.rounds,
        report.elapsed_seconds,
        report.stopped.describe()
    );
    if report.unresolved.is_empty() {
        println!("every pair is resolved to ±{target:.1}%");
    } else {
        println!(
            "unresolved (interval wider than ±{target:.1}%): {} of {}",
            report.unresolved.len(),
            report.pairs.len()
        );
        for pair in report.pairs.iter().filter(|p| !p.resolved) {
            println!(
                "  {} vs {} ({}): {}",
                pair.image,
                pair.baseline,
                pair.cache.name(),
                pair.describe
            );
        }
    }
}

/// Prints the startup table: per image and cache mode, total time to ready with its 95%
/// confidence interval, the phases' medians, and how many times faster than the baseline.
pub fn print_startup(
    summaries: &[r2r_core::measure::startup::PhaseSummary],
    records: &[r2r_core::measure::startup::RunRecord],
) {
    let mut table = Table::new();
    table
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header([
            "image",
            "cache",
            "runs",
            "total ms (mean ± sd)",
            "95% CI",
            "median",
            "create",
            "start→ready",
            "first request",
            "start→Main",
            "Main→ready",
            "vs baseline (paired by round)",
            "p",
            "unpaired ratio",
        ]);
    let median = |image: &str, cache: r2r_core::measure::startup::Cache, phase: &str| {
        summaries
            .iter()
            .find(|s| s.image == image && s.cache == cache && s.phase == phase)
            .map(|s| format!("{:.1}", s.summary.median))
            .unwrap_or_default()
    };
    for s in summaries.iter().filter(|s| s.phase == "total") {
        let m = &s.summary;
        let (paired, p_value, relative) = if s.image == s.baseline {
            ("baseline".to_string(), String::new(), String::new())
        } else {
            (
                s.paired
                    .as_ref()
                    .map(|p| p.describe())
                    .unwrap_or_else(|| "no paired rounds".to_string()),
                s.paired
                    .as_ref()
                    .filter(|p| p.rounds >= 2)
                    .map(|p| format!("{:.3}", p.p_value))
                    .unwrap_or_default(),
                format!(
                    "{:.2} ± {:.2} (SE, n = {}/{})",
                    s.times_faster, s.times_faster_error, m.count, s.baseline_runs
                ),
            )
        };
        table.add_row(vec![
            s.image.clone(),
            s.cache.name().to_string(),
            format!(
                "{}{}",
                m.count,
                if s.failures > 0 {
                    format!(" (+{} failed)", s.failures)
                } else {
                    String::new()
                }
            ),
            format!(
                "{:.1} ± {:.1}{}",
                m.mean,
                m.standard_deviation,
                if m.outliers.is_empty() {
                    String::new()
                } else {
                    format!(" ({} outliers)", m.outliers.len())
                }
            ),
            format!("{:.1} – {:.1} (n = {})", m.ci95_low, m.ci95_high, m.count),
            format!("{:.1}", m.median),
            median(&s.image, s.cache, "create"),
            median(&s.image, s.cache, "start_to_ready"),
            median(&s.image, s.cache, "first_request"),
            median(&s.image, s.cache, "time_to_main"),
            median(&s.image, s.cache, "main_to_ready"),
            paired,
            p_value,
            relative,
        ]);
    }
    println!("{table}");
    for failed in records.iter().filter(|r| !r.ok).take(5) {
        println!(
            "failed run: {} {} #{}: {}",
            failed.image,
            failed.cache.name(),
            failed.run,
            failed.error
        );
    }
}

/// The pipeline's observer on a terminal: progress bars (or plain lines) on stderr, tables on
/// stdout, notes on stderr.
#[derive(Default)]
pub struct Console {
    build: std::sync::Mutex<Option<BuildProgress>>,
    verify: std::sync::Mutex<Option<VerifyProgress>>,
    startup: std::sync::Mutex<Option<StartupProgress>>,
}

impl Console {
    /// A console observer with no progress shown yet.
    pub fn new() -> Self {
        Console::default()
    }
}

fn with<T, R>(slot: &std::sync::Mutex<Option<T>>, work: impl FnOnce(&T) -> R) -> Option<R> {
    slot.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_ref()
        .map(work)
}

fn take<T>(slot: &std::sync::Mutex<Option<T>>) -> Option<T> {
    slot.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
}

impl BuildObserver for Console {
    fn image_started(&self, image: &PlannedImage, index: usize, total: usize) {
        with(&self.build, |p| p.image_started(image, index, total));
    }

    fn line(&self, image: &PlannedImage, line: &str) {
        with(&self.build, |p| p.line(image, line));
    }

    fn image_finished(&self, image: &PlannedImage, build: &ImageBuild) {
        with(&self.build, |p| p.image_finished(image, build));
    }
}

impl r2r_core::measure::startup::StartupObserver for Console {
    fn started(&self, total: usize) {
        let mut slot = self
            .startup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.get_or_insert_with(StartupProgress::new).started(total);
    }

    fn run_finished(&self, record: &r2r_core::measure::startup::RunRecord, recorded: bool) {
        with(&self.startup, |p| p.run_finished(record, recorded));
    }

    fn precision(
        &self,
        rounds: usize,
        pairs: &[r2r_core::measure::startup::PairStatus],
        target: f64,
    ) {
        let mut slot = self
            .startup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.get_or_insert_with(StartupProgress::new)
            .precision(rounds, pairs, target);
    }
}

impl r2r_core::run::Observer for Console {
    fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    fn build_started(&self, total: usize) {
        *self.build.lock().unwrap_or_else(|p| p.into_inner()) = Some(BuildProgress::new(total));
    }

    fn build_finished(&self, builds: &[ImageBuild]) {
        if let Some(progress) = take(&self.build) {
            progress.finish();
        }
        print_build_summary(builds);
    }

    fn verify_started(&self, total: usize) {
        *self.verify.lock().unwrap_or_else(|p| p.into_inner()) = Some(VerifyProgress::new(total));
    }

    fn verifying(&self, image: &str) {
        with(&self.verify, |p| p.start(image));
    }

    fn verified(&self, result: &ImageVerification) {
        with(&self.verify, |p| p.done(result));
    }

    fn verify_finished(&self, results: &[ImageVerification]) {
        if let Some(progress) = take(&self.verify) {
            progress.finish();
        }
        print_verify_table(results);
    }

    fn sizes_measured(&self, report: &r2r_core::measure::sizes::SizeReport) {
        print_sizes(report);
    }

    fn startup_stopped(&self) {
        if let Some(progress) = take(&self.startup) {
            progress.finish();
        }
    }

    fn startup_measured(
        &self,
        summaries: &[r2r_core::measure::startup::PhaseSummary],
        records: &[r2r_core::measure::startup::RunRecord],
        missing: &[String],
    ) {
        print_startup(summaries, records);
        for line in missing {
            println!("not measured: {line}");
        }
    }

    fn startup_precision(&self, report: &r2r_core::measure::startup::PrecisionReport) {
        print_precision(report);
    }
}

/// `r2r diff`: each image's totals by part, then the assemblies that changed.
pub fn print_diff(
    a: &str,
    b: &str,
    a_rows: &[r2r_core::measure::anatomy::AnatomyRow],
    b_rows: &[r2r_core::measure::anatomy::AnatomyRow],
    differences: &[r2r_core::measure::anatomy::DiffRow],
) {
    use r2r_core::measure::anatomy::image_totals;
    let mut totals = Table::new();
    totals.set_header([
        "image",
        "files MB",
        "IL + metadata MB",
        "native code MB",
        "rest MB",
    ]);
    for (image, bytes) in image_totals(a_rows).iter().chain(&image_totals(b_rows)) {
        totals.add_row(vec![
            image.clone(),
            megabytes(bytes.total()),
            megabytes(bytes.il_metadata()),
            megabytes(bytes.native_code),
            megabytes(bytes.rest()),
        ]);
    }
    println!("{totals}");
    if differences.is_empty() {
        println!("no assembly differs between {a} and {b}");
        return;
    }
    let signed = |bytes: i64| format!("{:+.3}", bytes as f64 / 1e6);
    let mut table = Table::new();
    table
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header([
            "assembly",
            &format!("{a} MB"),
            &format!("{b} MB"),
            "Δ MB",
            "Δ IL + metadata MB",
            "Δ native code MB",
            "Δ rest MB",
        ]);
    for row in differences {
        table.add_row(vec![
            row.assembly.clone(),
            megabytes(row.a_bytes),
            megabytes(row.b_bytes),
            signed(row.delta_bytes),
            signed(row.delta_il_metadata_bytes),
            signed(row.delta_native_code_bytes),
            signed(row.delta_rest_bytes),
        ]);
    }
    println!("{table}");
    let total: i64 = differences.iter().map(|row| row.delta_bytes).sum();
    println!(
        "{} assemblies differ; {b} minus {a}: {} MB",
        differences.len(),
        signed(total)
    );
}
