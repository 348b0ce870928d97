//! What the binary prints: progress on stderr (bars on a terminal, plain lines otherwise),
//! the tables of [`r2r_core::console`] and JSON on stdout, errors as `error: ...`
//! with their causes, and the exit codes.

use std::io::IsTerminal;
use std::sync::{Mutex, MutexGuard};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use r2r_core::build::{BuildObserver, BuildStatus, ImageBuild};
use r2r_core::console;
use r2r_core::inspect::verify::ImageVerification;
use r2r_core::measure::startup::StartupObserver;
use r2r_core::measure::startup::{PairStatus, PhaseSummary, PrecisionReport, RunRecord};
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

const BAR: &str = "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}";
const ETA_BAR: &str = "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} ETA {eta} {wide_msg}";

/// A progress bar on stderr; `None` when stderr is not a terminal.
fn bar(total: usize, template: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

fn lock<T>(slot: &Mutex<T>) -> MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Start-up progress: a bar with ETA over the recorded runs and, with a precision target, one
/// line per pair with its current interval half-width.
struct StartupProgress {
    multi: MultiProgress,
    bar: Option<ProgressBar>,
    pairs: Vec<ProgressBar>,
}

impl StartupProgress {
    fn new() -> Self {
        let multi = MultiProgress::new();
        let bar = bar(0, ETA_BAR).map(|bar| multi.add(bar));
        let pairs = Vec::new();
        StartupProgress { multi, bar, pairs }
    }
}

/// The pipeline's observer on a terminal: progress bars (or plain lines) on stderr, tables on
/// stdout, notes on stderr.
#[derive(Default)]
pub struct Console {
    /// The bar of the builds or the verifications under way.
    bar: Mutex<Option<ProgressBar>>,
    /// Start-up's bars, from its start until it stops.
    startup: Mutex<Option<StartupProgress>>,
}

impl Console {
    /// A console observer with no progress shown yet.
    pub fn new() -> Self {
        Console::default()
    }

    fn finish_bar(&self) {
        if let Some(bar) = lock(&self.bar).take() {
            bar.finish_and_clear();
        }
    }

    fn startup<R>(&self, work: impl FnOnce(&mut StartupProgress) -> R) -> R {
        work(lock(&self.startup).get_or_insert_with(StartupProgress::new))
    }
}

impl BuildObserver for Console {
    fn image_started(&self, image: &PlannedImage, index: usize, total: usize) {
        match &*lock(&self.bar) {
            Some(bar) => bar.set_message(image.id.clone()),
            None => eprintln!("[{}/{total}] {}", index + 1, image.id),
        }
    }

    fn line(&self, image: &PlannedImage, line: &str) {
        if let Some(bar) = &*lock(&self.bar) {
            bar.set_message(format!("{}: {}", image.id, line.trim()));
        }
    }

    fn image_finished(&self, image: &PlannedImage, build: &ImageBuild) {
        let mut text = console::image_built(&image.id, build);
        if let BuildStatus::Failed { error } = &build.status {
            text += &format!("\nerror building {}:\n{error}", image.id);
        }
        match &*lock(&self.bar) {
            Some(bar) => {
                bar.println(text);
                bar.inc(1);
            }
            None => eprintln!("      {text}"),
        }
    }
}

impl StartupObserver for Console {
    fn started(&self, total: usize) {
        self.startup(|progress| match &progress.bar {
            Some(bar) => bar.set_length(total as u64),
            None => eprintln!("startup: {total} recorded runs planned"),
        });
    }

    fn run_finished(&self, record: &RunRecord, recorded: bool) {
        let text = console::run_line(record, recorded);
        self.startup(|progress| match &progress.bar {
            Some(bar) => {
                bar.inc(u64::from(recorded));
                bar.set_message(text);
            }
            None if !record.ok => eprintln!("{text}"),
            None => {}
        });
    }

    fn precision(&self, rounds: usize, pairs: &[PairStatus], target: f64) {
        self.startup(|progress| {
            let Some(main) = &progress.bar else {
                eprintln!("{}", console::round_precision(rounds, pairs, target));
                return;
            };
            // The bar grows past its planned rounds when the target needs more.
            if main.position() >= main.length().unwrap_or(0) {
                let per_round = main.position() / rounds.max(1) as u64;
                main.set_length(main.position() + per_round.max(1));
            }
            while progress.pairs.len() < pairs.len() {
                let line = progress.multi.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template("  {prefix:50} {msg}");
                line.set_style(style.expect("valid template"));
                progress.pairs.push(line);
            }
            for (line, pair) in progress.pairs.iter().zip(pairs) {
                line.set_prefix(pair.label());
                line.set_message(console::pair_precision(pair, target));
            }
        });
    }
}

impl r2r_core::run::Observer for Console {
    fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    fn build_started(&self, total: usize) {
        *lock(&self.bar) = bar(total, BAR);
    }

    fn build_finished(&self, builds: &[ImageBuild]) {
        self.finish_bar();
        print!("{}", console::build_summary(builds));
    }

    fn verify_started(&self, total: usize) {
        *lock(&self.bar) = bar(total, BAR);
    }

    fn verifying(&self, image: &str) {
        match &*lock(&self.bar) {
            Some(bar) => bar.set_message(format!("verifying {image}")),
            None => eprintln!("verifying {image}"),
        }
    }

    fn verified(&self, result: &ImageVerification) {
        if let Some(bar) = &*lock(&self.bar) {
            bar.inc(1);
            let verdict = if result.passed() { "ok  " } else { "FAIL" };
            bar.println(format!("{verdict} {}", result.id));
        }
    }

    fn verify_finished(&self, results: &[ImageVerification]) {
        self.finish_bar();
        print!("{}", console::verify_table(results));
    }

    fn sizes_measured(&self, report: &r2r_core::measure::sizes::SizeReport) {
        print!("{}", console::sizes(report));
    }

    fn startup_stopped(&self) {
        if let Some(progress) = lock(&self.startup).take() {
            for bar in progress.pairs.iter().chain(&progress.bar) {
                bar.finish_and_clear();
            }
        }
    }

    fn startup_measured(
        &self,
        summaries: &[PhaseSummary],
        records: &[RunRecord],
        missing: &[String],
    ) {
        print!("{}", console::startup_table(summaries, records));
        for line in missing {
            println!("not measured: {line}");
        }
    }

    fn startup_precision(&self, report: &PrecisionReport) {
        print!("{}", console::precision(report));
    }
}
