//! What the binary prints: progress on stderr (bars on a terminal, plain lines otherwise),
//! the tables of [`r2r_core::console`] and JSON on stdout, errors as `error: ...`
//! with their causes, and the exit codes.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use r2r_core::build::{BuildObserver, BuildStatus, ImageBuild};
use r2r_core::console;
use r2r_core::inspect::verify::ImageVerification;
use r2r_core::model::plan::PlannedImage;

/// Prints an error chain and returns exit code 2.
pub fn error(error: &anyhow::Error) -> u8 {
    eprintln!("error: {error:#}");
    2
}

/// The exit code of a command's outcome: 0 success, 1 something built or checked failed, 2
/// an error (printed).
pub fn exit_code(result: anyhow::Result<bool>) -> u8 {
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(problem) => error(&problem),
    }
}

/// Prints a value as pretty JSON.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
        let text = console::image_built(&image.id, build);
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
        let text = console::run_line(record, recorded);
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
            eprintln!("{}", console::round_precision(rounds, pairs, target));
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
            line.set_message(console::pair_precision(pair, target));
        }
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
        print!("{}", console::build_summary(builds));
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
        print!("{}", console::verify_table(results));
    }

    fn sizes_measured(&self, report: &r2r_core::measure::sizes::SizeReport) {
        print!("{}", console::sizes(report));
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
        print!("{}", console::startup_table(summaries, records));
        for line in missing {
            println!("not measured: {line}");
        }
    }

    fn startup_precision(&self, report: &r2r_core::measure::startup::PrecisionReport) {
        print!("{}", console::precision(report));
    }
}
