//! What a terminal shows of a command's outcome: its tables and summary lines, as text. Every
//! table fits [`WIDTH`] columns (long cells wrap); wide detail (every phase, every counter)
//! stays in the result files and the report.

use std::path::Path;

use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Table, Width};

use crate::build::{seconds_text, BuildStatus, ImageBuild};
use crate::inspect::verify::ImageVerification;
use crate::measure::anatomy::{image_totals, AnatomyRow, DiffRow};
use crate::measure::paired::{PairedEffect, Verdict as Paired};
use crate::measure::sizes::SizeReport;
use crate::measure::startup::{PairStatus, PhaseSummary, PrecisionReport, RunRecord};
use crate::report::compare::{self, Basis, PublishedGap};
use crate::report::engines::EngineComparison;
use crate::report::merge::MergeOutcome;
use crate::report::nightly::MergeNight;
use crate::report::show::RunView;
use crate::results::calibration::CoverageRow;
use crate::run::compare::{BaselineComparison, KeptBaseline};

/// The widest a table may be, in columns.
pub const WIDTH: u16 = 120;

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(header.iter().copied());
    table
}

/// `text` with every line wider than [`WIDTH`] broken between words (continued two columns
/// further in); a single word wider than that stays whole.
fn fit(text: String) -> String {
    let width = usize::from(WIDTH);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        out.push_str(indent);
        let mut used = indent.chars().count();
        let mut first = true;
        for word in body.split(' ').filter(|w| !w.is_empty()) {
            let length = word.chars().count();
            if !first && used + 1 + length > width {
                out.push('\n');
                out.push_str(indent);
                out.push_str("  ");
                used = indent.chars().count() + 2;
            } else if !first {
                out.push(' ');
                used += 1;
            }
            out.push_str(word);
            used += length;
            first = false;
        }
        out.push('\n');
    }
    out
}

/// The table as text, its first column (the names) kept whole up to 40 columns: the other
/// columns wrap first.
fn render(table: Table) -> String {
    render_keeping(table, &[0])
}

/// The table as text, the cells of `columns` kept whole up to 40 columns each (the first of
/// them narrower when they would not fit together): the other columns wrap first.
fn render_keeping(mut table: Table, columns: &[usize]) -> String {
    let longest = |table: &Table, index: usize| {
        table
            .row_iter()
            .chain(table.header())
            .filter_map(|row| row.cell_iter().nth(index))
            .flat_map(|cell| {
                cell.content()
                    .lines()
                    .map(|l| l.chars().count())
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(0)
    };
    // Content and padding of each kept column.
    let mut widths: Vec<usize> = columns
        .iter()
        .map(|&index| longest(&table, index).min(40) + 2)
        .collect();
    // What the others need at least (a few columns of content and padding), and the borders.
    let others = table.column_count().saturating_sub(columns.len()) * 8;
    let borders = table.column_count() + 1;
    let needed = widths.iter().sum::<usize>() + others + borders;
    if let Some(first) = widths.first_mut() {
        let over = needed.saturating_sub(usize::from(WIDTH));
        *first = first.saturating_sub(over).max(12);
    }
    for (&index, width) in columns.iter().zip(widths) {
        if let Some(column) = table.column_mut(index) {
            let width = u16::try_from(width).unwrap_or(WIDTH);
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
        }
    }
    format!("{table}\n")
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

fn pass_fail(ok: bool, text: &str) -> Cell {
    Cell::new(text).fg(if ok { Color::Green } else { Color::Red })
}

/// The build's table, then the failed images with their first error line.
pub fn build_summary(results: &[ImageBuild]) -> String {
    let mut table = table(&["image", "status", "context MB", "time", "tags"]);
    for result in results {
        let ok = matches!(
            result.status,
            BuildStatus::Built { .. } | BuildStatus::UpToDate { .. }
        );
        table.add_row(vec![
            Cell::new(&result.id),
            pass_fail(ok, result.status.word()),
            Cell::new(megabytes(result.context_bytes)),
            Cell::new(seconds_text(result.seconds)),
            Cell::new(result.tags.join("\n")),
        ]);
    }
    let mut text = render(table);
    let failed: Vec<(&str, &str)> = results
        .iter()
        .filter_map(|r| match &r.status {
            BuildStatus::Failed { error } => Some((r.id.as_str(), error.as_str())),
            _ => None,
        })
        .collect();
    let skipped = results
        .iter()
        .filter(|r| matches!(r.status, BuildStatus::Skipped { .. }))
        .count();
    if !failed.is_empty() || skipped > 0 {
        text += &format!(
            "{} failed, {skipped} skipped because an image below them failed:\n",
            failed.len()
        );
        for (id, error) in failed {
            text += &format!("  {id}: {}\n", error.lines().next().unwrap_or(""));
        }
    }
    fit(text)
}

/// The verification table (one row per check), then how many images passed.
pub fn verify_table(results: &[ImageVerification]) -> String {
    let mut table = table(&["image", "variants", "check", "result", "detail"]);
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
                pass_fail(check.passed, if check.passed { "pass" } else { "FAIL" }),
                Cell::new(&check.detail),
            ]);
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    fit(format!(
        "{table}\n{} of {} images verified{}\n",
        results.len() - failed,
        results.len(),
        if failed > 0 {
            format!(", {failed} FAILED")
        } else {
            String::new()
        }
    ))
}

/// Per image its sizes (MB), then per set of images the Image | Total | Owned | Shared table.
pub fn sizes(report: &SizeReport) -> String {
    let mut table = table(&[
        "image",
        "layers",
        "engine MB",
        "content MB",
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
    let mut text = render(table);
    for set in report.sets.iter().filter(|set| set.figure == "content") {
        let mut table = self::table(&["image", "total MB", "owned MB", "shared MB"]);
        for member in &set.members {
            table.add_row(vec![
                member.image.clone(),
                megabytes(member.total_bytes),
                megabytes(member.owned_bytes),
                megabytes(member.shared_bytes),
            ]);
        }
        text += &format!(
            "set {}: {} MB as separate images, {} MB stored once (saves {} MB)\n{}",
            set.set,
            megabytes(set.sum_bytes),
            megabytes(set.stored_once_bytes),
            megabytes(set.saved_bytes),
            render(table)
        );
    }
    for missing in &report.unmeasured {
        text += &format!("not measured: {}: {}\n", missing.image, missing.reason);
    }
    for error in &report.registry_errors {
        text += &format!("registry: {error}\n");
    }
    fit(text)
}

/// A paired comparison in a few words: "1.063× faster (1.030–1.090)".
pub fn paired_words(effect: &PairedEffect) -> String {
    match effect.verdict {
        Paired::TooFewRounds => "too few rounds".to_string(),
        Paired::NoDifference => format!("no difference (±{:.1}%)", effect.half_width * 100.0),
        Paired::Faster => format!(
            "{:.3}× faster ({:.3}–{:.3})",
            effect.speedup, effect.ci95_low, effect.ci95_high
        ),
        Paired::Slower => format!(
            "{:.3}× slower ({:.3}–{:.3})",
            1.0 / effect.speedup,
            1.0 / effect.ci95_high,
            1.0 / effect.ci95_low
        ),
    }
}

/// Per image and cache mode: total time to ready (mean ± sd, its 95% interval) and the
/// paired comparison with the baseline image, then the first failed runs. Every phase is in
/// `startup.csv` and the report.
pub fn startup_table(summaries: &[PhaseSummary], records: &[RunRecord]) -> String {
    let mut table = table(&[
        "image",
        "cache",
        "runs",
        "total ms",
        "95% CI",
        "vs baseline (paired, 95% CI)",
        "p",
    ]);
    for s in summaries.iter().filter(|s| s.phase == "total") {
        let m = &s.summary;
        let (paired, p_value) = if s.image == s.baseline {
            ("baseline".to_string(), String::new())
        } else {
            (
                s.paired
                    .as_ref()
                    .map(paired_words)
                    .unwrap_or_else(|| "no paired rounds".to_string()),
                s.paired
                    .as_ref()
                    .filter(|p| p.rounds >= 2)
                    .map(|p| format!("{:.3}", p.p_value))
                    .unwrap_or_default(),
            )
        };
        let failures = if s.failures > 0 {
            format!(" (+{} failed)", s.failures)
        } else {
            String::new()
        };
        table.add_row(vec![
            s.image.clone(),
            s.cache.name().to_string(),
            format!("{}{failures}", m.count),
            format!("{:.1} ± {:.1}", m.mean, m.standard_deviation),
            format!(
                "{:.1}–{:.1}{}",
                m.ci95_low,
                m.ci95_high,
                if m.count < crate::measure::stats::MIN_BOOTSTRAP_SAMPLES {
                    " (t on logs)"
                } else {
                    ""
                }
            ),
            paired,
            p_value,
        ]);
    }
    let mut text = render(table);
    for failed in records.iter().filter(|r| !r.ok).take(5) {
        text += &format!(
            "failed run: {} {} #{}: {}\n",
            failed.image,
            failed.cache.name(),
            failed.run,
            failed.error
        );
    }
    fit(text)
}

/// Why the start-up measurement stopped and which pairs stayed wider than the target (empty
/// without a target).
pub fn precision(report: &PrecisionReport) -> String {
    let Some(target) = report.target_pct else {
        return String::new();
    };
    let mut text = format!(
        "start-up: {} round(s) in {:.0} s; stopped because {}; target ±{target:.1}%\n",
        report.rounds,
        report.elapsed_seconds,
        report.stopped.describe()
    );
    if report.unresolved.is_empty() {
        text += &format!("every pair is resolved to ±{target:.1}%\n");
        return fit(text);
    }
    text += &format!(
        "unresolved (interval wider than ±{target:.1}%): {} of {}\n",
        report.unresolved.len(),
        report.pairs.len()
    );
    for pair in report.pairs.iter().filter(|p| !p.resolved) {
        text += &format!(
            "  {} vs {} ({}): {}\n",
            pair.image,
            pair.baseline,
            pair.cache.name(),
            pair.describe
        );
    }
    fit(text)
}

/// `r2r diff`: each image's totals by part, then the assemblies that changed.
pub fn diff(
    a: &str,
    b: &str,
    a_rows: &[AnatomyRow],
    b_rows: &[AnatomyRow],
    differences: &[DiffRow],
) -> String {
    let mut totals = table(&[
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
    let mut text = render(totals);
    if differences.is_empty() {
        text += &format!("no assembly differs between {a} and {b}\n");
        return fit(text);
    }
    let signed = |bytes: i64| format!("{:+.3}", bytes as f64 / 1e6);
    let mut table = table(&[
        "assembly",
        "A MB",
        "B MB",
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
    let total: i64 = differences.iter().map(|row| row.delta_bytes).sum();
    text += &format!(
        "A: {a}, B: {b}\n{}{} assemblies differ; {b} minus {a}: {} MB\n",
        render(table),
        differences.len(),
        signed(total)
    );
    fit(text)
}

/// `r2r compare --baseline`: the .NET version change (if any), every metric compared (start-up
/// verdicts marked with what they come from: `*` separate runs, `°` the same run), and how
/// many regressed or improved.
pub fn baseline_comparison(comparison: &BaselineComparison) -> String {
    let mut text = String::new();
    if let Some(versions) = &comparison.version_change {
        text += &format!(
            ".NET {}: sizes that changed with it are marked VERSION CHANGE (what the new version \
             brings, not a regression of the same build; they do not fail the comparison)\n",
            compare::version_change_words(versions)
        );
    }
    let mut table = table(&[
        "image", "metric", "baseline", "current", "change", "p", "verdict",
    ]);
    // Bytes are whole numbers; times have a decimal.
    let number = |v: Option<f64>, unit: &str| match v {
        Some(v) if unit == "bytes" => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    };
    for change in &comparison.changes {
        table.add_row([
            change.image.clone(),
            change.metric.clone(),
            number(change.baseline, &change.unit),
            number(change.current, &change.unit),
            change
                .change
                .map(|c| format!("{:+.2}%", c * 100.0))
                .unwrap_or_default(),
            change
                .p_value
                .map(|p| format!("{p:.3}"))
                .unwrap_or_default(),
            format!(
                "{}{}",
                change.verdict.word().to_uppercase(),
                basis_mark(change.basis)
            ),
        ]);
    }
    text += &render_keeping(table, &[0, 1, 2, 3, 4, 5, 6]);
    for basis in [Basis::SeparateRuns, Basis::SameRun] {
        if comparison.changes.iter().any(|c| c.basis == basis) {
            text += &format!("{} start-up: {}\n", basis_mark(basis), basis.words());
        }
    }
    let paired = comparison.paired();
    if paired > 0 {
        text += &format!(
            "° p: Wilcoxon's signed-rank test, Holm-adjusted over the {paired} paired start-up \
             row(s) of this comparison (a 5% chance in all of calling any change that is not \
             there)\n"
        );
    }
    let drift_only = comparison.drift_only();
    if drift_only > 0 {
        text += &format!(
            "{drift_only} start-up change(s) between separate runs not tested (the machine's \
             drift between runs is in them; never failing): measure both in one run with \
             --paired-runs N\n"
        );
    }
    text += &format!(
        "{} regression(s), {} improvement(s){} against {}\n",
        comparison.regressions(),
        comparison.improvements(),
        match &comparison.version_change {
            Some(versions) => format!(
                ", {} size change(s) with .NET {}",
                comparison.version_changes(),
                compare::version_change_words(versions)
            ),
            None => String::new(),
        },
        comparison.baseline.display()
    );
    fit(text)
}

/// The mark of a comparison's basis after its verdict (its words go under the table).
fn basis_mark(basis: Basis) -> &'static str {
    match basis {
        Basis::Exact => "",
        Basis::SeparateRuns => "*",
        Basis::SameRun => "°",
    }
}

/// `r2r compare --published`: each published figure beside ours.
pub fn published_gaps(gaps: &[PublishedGap]) -> String {
    let mut table = table(&[
        "comparison",
        "kind",
        "figure",
        "published",
        "ours",
        "gap",
        "our images",
    ]);
    for gap in gaps {
        table.add_row([
            gap.id.clone(),
            gap.kind.to_string(),
            gap.figure.clone(),
            format!("{:.3}", gap.published),
            gap.ours
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "-".into()),
            gap.gap_percent
                .map(|v| format!("{v:+.1}%"))
                .unwrap_or_default(),
            gap.ours_images.clone(),
        ]);
    }
    fit(render(table))
}

/// A built image for the progress display: "built runtime-composite.runtime (12.3 s)".
pub fn image_built(id: &str, build: &ImageBuild) -> String {
    format!(
        "{} {id} ({})",
        build.status.word(),
        seconds_text(build.seconds)
    )
}

/// A start-up run for the progress display: "run no-composite.console warm 123 ms", or its
/// first error line.
pub fn run_line(record: &RunRecord, recorded: bool) -> String {
    format!(
        "{} {} {} {}",
        if recorded { "run" } else { "warm-up" },
        record.image,
        record.cache.name(),
        match record.total_ms {
            Some(ms) if record.ok => format!("{ms:.0} ms"),
            _ => format!("FAILED: {}", record.error.lines().next().unwrap_or("")),
        }
    )
}

/// One pair's precision for the progress display: "open     ±4.2% (target ±3.0%), speed-up
/// 1.063, n = 12".
pub fn pair_precision(pair: &PairStatus, target: f64) -> String {
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

/// The precision after a round, in one line: how many pairs are within the target, and the
/// widest of the others.
pub fn round_precision(rounds: usize, pairs: &[PairStatus], target: f64) -> String {
    let resolved = pairs
        .iter()
        .filter(|p| p.effect.resolved_to(target))
        .count();
    let widest = pairs
        .iter()
        .filter(|p| !p.effect.resolved_to(target))
        .max_by(|a, b| a.effect.half_width.total_cmp(&b.effect.half_width));
    format!(
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
    )
}

/// What `r2r keep-baseline` prints: each image kept and its tag, each image not kept (no
/// longer the one run `run_id` built), and how many were kept.
pub fn kept_baseline(kept: &KeptBaseline, run_id: &str) -> String {
    let mut text = String::new();
    for (image, kept_as) in &kept.kept {
        text += &format!("{image} kept as {kept_as}\n");
    }
    for (image, reference) in &kept.not_kept {
        text += &format!("{image}: {reference} is not the image run {run_id} built (rebuilt since, or missing); not kept\n");
    }
    let count = kept.kept.len();
    text + &format!("{count} image(s) of run {run_id} kept as the baseline\n")
}

/// What `r2r show` prints of a run directory: the run and its steps, then one line of counts.
pub fn run_view(view: &RunView) -> String {
    let mut text = format!("directory: {}\n", view.directory.display());
    if let Some(run) = &view.run {
        text += &format!(
            "run: {} of scenario {} (.NET {})\n",
            run.run_id, run.scenario, run.dotnet.runtime
        );
        for (step, state) in &run.steps {
            text += &format!("step {step}: {}\n", state.status.name());
        }
    }
    text + &format!(
        "build: {}/{}  verify: {}/{}  sizes: {} image(s)  start-up: {}/{} runs ok\n",
        view.builds.passed,
        view.builds.total,
        view.verify.passed,
        view.verify.total,
        view.sizes.len(),
        view.startup_runs_total.ok,
        view.startup_runs_total.runs
    )
}

/// What `r2r compare-engines` prints: a line per image and engine, then the verdict.
pub fn engine_comparison(comparison: &EngineComparison) -> String {
    let mut text = String::new();
    if comparison.measured_none {
        text += &format!("compare: {} measured no image\n", comparison.reference);
    }
    for gap in &comparison.gaps {
        text += &format!("compare: {}\n", gap.line());
    }
    match comparison.differences() {
        0 => text + "compare: the same sizes on every engine\n",
        differences => text + &format!("compare: {differences} difference(s)\n"),
    }
}

/// What `r2r calibrate` prints: per image and cache mode, the coverage of the paired 95%
/// interval in resampled A/A rounds with its own interval, and the comparisons as recorded.
/// With `minimum`, a last line when the pooled coverage is demonstrably below it.
pub fn calibration(rows: &[CoverageRow], minimum: f64) -> String {
    let mut out = table(&[
        "image",
        "cache",
        "A/A rounds",
        "covered",
        "coverage (95% CI)",
        "rank test p < 0.05",
        "as recorded",
        "pooled change",
    ]);
    let number =
        |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
    for row in rows {
        out.add_row(vec![
            row.image.clone(),
            row.cache.clone(),
            format!("{} in {}", row.recorded_rounds, row.comparisons),
            format!("{} of {}", row.covered, row.resamples),
            format!(
                "{} ({}–{})",
                number(row.coverage.0),
                number(row.coverage_low.0),
                number(row.coverage_high.0)
            ),
            format!("{} of {}", row.rank_test_rejected, row.resamples),
            format!("{} of {}", row.comparisons_covered, row.comparisons_tested),
            row.pooled_change_percent
                .0
                .map_or("-".into(), |v| format!("{v:+.2}%")),
        ]);
    }
    let rounds = rows.first().map_or(0, |r| r.rounds_per_resample);
    let below = match crate::report::calibration::meets(rows, minimum) {
        true => String::new(),
        false => format!(
            "calibrate: the pooled coverage is below {:.1}% (its interval ends at {})\n",
            minimum * 100.0,
            number(rows.last().and_then(|row| row.coverage_high.0))
        ),
    };
    format!(
        "{out}\nEach resample: {rounds} A/A rounds drawn without replacement; \"covered\": its 95% interval \
         of the ratio contains 1.00 (a correct interval covers about 95%). \"as recorded\": each \
         comparison's own interval, rounds as they were taken.\n{below}"
    )
}

/// What a merge prints: each machine's platform and, compared with a baseline merge
/// (`against` names it), the machines it lacks and the regressions.
pub fn merge_summary(
    columns: &[(String, String)],
    outcome: &MergeOutcome,
    against: Option<&str>,
) -> String {
    let mut text = String::new();
    for (machine, platform) in columns {
        text += &format!("{machine}: {platform}\n");
    }
    if let Some(against) = against {
        for machine in &outcome.without_baseline {
            text += &format!("{machine}: the baseline has no run of this machine\n");
        }
        text += &format!(
            "{} regression(s), {} size change(s) with a .NET version change, against {against}\n",
            outcome.regressions, outcome.version_changes
        );
    }
    text
}

/// What `r2r nightly-merge` prints of a night written into `directory`: the merge's summary,
/// whether it became the baseline, the merges removed and where it was written.
pub fn merge_night(night: &MergeNight, directory: &Path) -> String {
    let against = night.compared_with.as_ref().map(|id| format!("merge {id}"));
    let mut text = merge_summary(&night.columns, &night.outcome, against.as_deref());
    let id = &night.id;
    if against.is_none() {
        text += &format!("nightly-merge: no baseline yet; merge {id} becomes the baseline\n");
    } else if night.became_baseline {
        text += &format!("nightly-merge: merge {id} accepted as the baseline\n");
    }
    for pruned in &night.pruned {
        text += &format!("nightly-merge: removed merge {pruned}\n");
    }
    text + &format!("merged into {}\n", directory.join(id).display())
}

/// What `r2r tune` did: each recording, the recipes written, and where to look next.
pub fn tuned(outcome: &crate::run::tune::TuneOutcome) -> String {
    let mut text = String::new();
    for recording in &outcome.recordings {
        text.push_str(&format!(
            "{}: {} framework assemblies loaded ({}), in {}\n",
            recording.app,
            recording.assemblies.len(),
            recording.after,
            recording.image
        ));
    }
    let directory = outcome.directory.display();
    text.push_str(&format!(
        "recipes {} written to {directory}/tune/recipes.toml\n",
        outcome.recipes.join(", ")
    ));
    match outcome.measured {
        None => text.push_str(&format!(
            "measure them with: r2r run --scenario {directory}/scenario.toml --only {}\n",
            outcome.compared.join(",")
        )),
        Some(_) => text.push_str(&format!(
            "the answer per app opens {directory}/{} (as data: {})\n",
            crate::results::report_files::MARKDOWN,
            crate::results::answer_file::FILE
        )),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LONG: &str = "aspnet-composite-distroless.official-net8-no-isa.webapi";
    const OTHER: &str = "selfcontained-trimmed-composite.console";

    fn from<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    fn assert_fits(name: &str, text: &str) {
        assert!(!text.trim().is_empty(), "{name}: empty");
        for line in text.lines() {
            let width = line.chars().count();
            assert!(
                width <= usize::from(WIDTH),
                "{name}: a line of {width} columns:\n{line}\n\n{text}"
            );
        }
    }

    fn summary(mean: f64) -> serde_json::Value {
        json!({"count": 100, "mean": mean, "standard_deviation": 123.456, "standard_error": 1.2,
               "median": mean, "min": 1.0, "max": 9999.9, "p95": 9000.1, "ci95_low": mean - 10.5,
               "ci95_high": mean + 10.5, "outliers": [1, 2, 3]})
    }

    fn phase(image: &str, baseline: &str, verdict: &str) -> PhaseSummary {
        from(json!({
            "image": image, "variants": "runtime-composite;aspnet-composite", "app": "webapi",
            "cache": "cold", "phase": "total", "summary": summary(12345.6), "failures": 12,
            "baseline": baseline, "baseline_runs": 100, "times_faster": 1.234,
            "times_faster_error": 0.012,
            "paired": {"rounds": 100, "speedup": 1.0634, "ci95_low": 1.0301, "ci95_high": 1.0912,
                       "half_width": 0.0312, "p_value": 0.0001, "minimal_detectable": 0.01,
                       "verdict": verdict}
        }))
    }

    #[test]
    fn long_lines_break_between_words() {
        let long = format!("  {}", "word ".repeat(40));
        let text = fit(long.clone());
        assert!(text.lines().count() > 1);
        assert!(text
            .lines()
            .all(|l| l.chars().count() <= 120 && l.starts_with("  ")));
        assert_eq!(text.split_whitespace().count(), 40);
        assert_eq!(fit("short\n".into()), "short\n");
    }

    #[test]
    fn progress_lines_say_which_pairs_are_resolved() {
        let effect = |half_width: f64| -> PairedEffect {
            from(
                json!({"rounds": 12, "speedup": 1.0634, "ci95_low": 1.03, "ci95_high": 1.09,
                        "half_width": half_width, "p_value": 0.01, "minimal_detectable": null,
                        "verdict": "faster"}),
            )
        };
        let pair = |image: &str, half_width: f64| PairStatus {
            image: image.into(),
            baseline: OTHER.into(),
            cache: crate::measure::startup::Cache::Warm,
            effect: effect(half_width),
        };
        let pairs = [pair(LONG, 0.042), pair("runtime-composite.console", 0.01)];
        assert_eq!(
            pair_precision(&pairs[0], 0.03),
            "open     ±4.2% (target ±3.0%), speed-up 1.063, n = 12"
        );
        assert!(pair_precision(&pairs[1], 0.03).starts_with("resolved ±1.0%"));
        let line = round_precision(5, &pairs, 0.03);
        assert!(
            line.starts_with("startup round 5: 1 of 2 pairs within ±3.0%; widest: "),
            "{line}"
        );
        assert!(line.contains(LONG) && line.ends_with("±4.2%"), "{line}");
    }

    #[test]
    fn every_table_fits_120_columns_with_long_names() {
        let tags = vec![
            format!("r2r/composite-recipes-net10:{LONG}"),
            format!("r2r/composite-recipes-net10:{LONG}-runtime-deps"),
        ];
        let builds: Vec<ImageBuild> = vec![
            from(
                json!({"id": LONG, "tags": tags, "status": {"status": "built", "id": "sha256:0123"},
                        "input_hash": "ab", "context_bytes": 123_456_789_012u64, "seconds": 1234.5}),
            ),
            from(
                json!({"id": OTHER, "tags": tags, "status": {"status": "failed",
                        "error": "the build failed: ".repeat(20)},
                        "input_hash": "", "context_bytes": 0, "seconds": 0.1}),
            ),
        ];
        assert_fits("build", &build_summary(&builds));

        let verifications: Vec<ImageVerification> = vec![from(json!({
            "id": LONG, "reference": tags[0], "variants": ["aspnet-composite", "official-net8"],
            "role": "app", "emulated": false,
            "checks": [{"name": "composite image of the framework assemblies", "passed": false,
                        "detail": "System.Private.CoreLib.dll: no ReadyToRun header; ".repeat(8)}]
        }))];
        assert_fits("verify", &verify_table(&verifications));

        let image = |name: &str| {
            json!({"image": name, "reference": tags[0], "variants": ["a"], "role": "app",
                   "layers": 12, "engine_size_bytes": 123_456_789_012u64,
                   "content_bytes": 123_456_789_012u64, "tar_bytes": 123_456_789_012u64,
                   "gzip_bytes": 123_456_789_012u64, "zstd_bytes": 123_456_789_012u64,
                   "wasted_bytes": 123_456_789_012u64, "registry_bytes": 123_456_789_012u64,
                   "engine_blob_bytes": null, "engine_blob_compression": ""})
        };
        let member = |name: &str| {
            json!({"image": name, "total_bytes": 123_456_789_012u64,
                   "owned_bytes": 123_456_789_012u64, "shared_bytes": 123_456_789_012u64})
        };
        let report: SizeReport = from(json!({
            "scenario": "composite-recipes-net10", "images": [image(LONG), image(OTHER)],
            "layers": [],
            "sets": [{"set": "aspnet-composite-distroless", "figure": "content",
                      "members": [member(LONG), member(OTHER)], "sum_bytes": 1u64,
                      "stored_once_bytes": 1u64, "saved_bytes": 1u64,
                      "pairwise_shared_bytes": []}],
            "unmeasured": [{"image": LONG, "reason": "not built"}],
            "registry": null, "registry_errors": []
        }));
        assert_fits("sizes", &sizes(&report));

        let summaries = vec![
            phase(OTHER, OTHER, "faster"),
            phase(LONG, OTHER, "faster"),
            phase(LONG, OTHER, "no-difference"),
        ];
        let text = startup_table(&summaries, &[]);
        assert_fits("startup", &text);
        assert!(text.contains("1.063×"), "{text}");
        println!("{text}");

        let precision_report: PrecisionReport = from(json!({
            "target_pct": 3.0, "max_seconds": 900.0, "max_runs": 100, "stopped": "max-time",
            "rounds": 40, "elapsed_seconds": 901.0, "unresolved": [LONG],
            "pairs": [{"image": LONG, "baseline": OTHER, "cache": "warm", "rounds": 40,
                       "half_width_pct": 4.2, "resolved": false,
                       "describe": "no difference resolved (±4.2%, n = 40)"}]
        }));
        assert_fits("precision", &precision(&precision_report));

        let row = |image: &str| -> AnatomyRow {
            from(
                json!({"image": image, "path": "/usr/share/dotnet/shared/Microsoft.AspNetCore.App/10.0.0/Microsoft.AspNetCore.Server.Kestrel.Core.dll",
                        "assembly": "Microsoft.AspNetCore.Server.Kestrel.Core", "kind": "r2r",
                        "bytes": 123_456_789u64, "il_metadata_bytes": 1u64, "native_code_bytes": 1u64,
                        "rest_bytes": 1u64, "headers_bytes": 1u64, "metadata_bytes": 1u64,
                        "il_bytes": 1u64, "resources_bytes": 1u64, "readytorun_bytes": 1u64,
                        "signature_bytes": 1u64, "other_bytes": 1u64, "methods": 12}),
            )
        };
        let difference: DiffRow = from(json!({
            "assembly": "Microsoft.Extensions.DependencyInjection.Abstractions.Extended",
            "a_bytes": 123_456_789u64, "b_bytes": 123_456_789u64, "delta_bytes": -123_456_789i64,
            "delta_il_metadata_bytes": -123_456_789i64, "delta_native_code_bytes": 123_456_789i64,
            "delta_rest_bytes": 0
        }));
        assert_fits(
            "diff",
            &diff(LONG, OTHER, &[row(LONG)], &[row(OTHER)], &[difference]),
        );

        let change = |basis: &str| {
            json!({"image": LONG, "metric": "startup_warm_total_ms", "unit": "ms",
                   "baseline": 123_456.7, "current": 123_456.7, "change": 0.1234,
                   "p_value": 0.0001, "verdict": "version-change", "basis": basis})
        };
        let comparison = BaselineComparison {
            changes: vec![from(change("separate-runs")), from(change("same-run"))],
            version_change: Some(("10.0.12".into(), "10.0.13".into())),
            baseline: std::path::PathBuf::from(format!(
                "/home/runner/work/r2r/r2r/results/composite-recipes-net10/{}",
                "20260101T000000Z-abcdef"
            )),
            file: std::path::PathBuf::new(),
        };
        assert_fits("compare", &baseline_comparison(&comparison));

        let gaps: Vec<PublishedGap> = vec![from(json!({
            "id": "aspnet-composite-vs-official-images-on-distroless", "description": "long",
            "kind": "ratio", "figure": "gzip size of the set, stored once in a registry",
            "published": 1.234, "ours": 1.2, "gap_percent": -12.3, "source": "blog",
            "ours_images": format!("{LONG} / {OTHER}")
        }))];
        assert_fits("published", &published_gaps(&gaps));
    }

    #[test]
    fn a_run_view_is_a_line_a_step_and_a_line_of_counts() {
        let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run-composite");
        let text = run_view(&crate::report::show::view(&recorded).unwrap());
        assert!(
            text.contains("run: 20261124T203435Z of scenario "),
            "{text}"
        );
        assert!(text.contains("\nstep build: "), "{text}");
        assert!(
            text.lines().last().unwrap().starts_with("build: "),
            "{text}"
        );
    }

    #[test]
    fn an_engine_comparison_ends_with_its_verdict() {
        let mut comparison = EngineComparison {
            reference: "docker".into(),
            measured_none: false,
            gaps: Vec::new(),
        };
        assert_eq!(
            engine_comparison(&comparison),
            "compare: the same sizes on every engine\n"
        );
        comparison.measured_none = true;
        assert_eq!(
            engine_comparison(&comparison),
            "compare: docker measured no image\ncompare: 1 difference(s)\n"
        );
    }

    #[test]
    fn a_merge_night_says_what_became_of_the_baseline() {
        let mut night = MergeNight {
            id: "20261202T020000Z".into(),
            columns: vec![("x64".into(), "linux/amd64".into())],
            compared_with: None,
            outcome: MergeOutcome {
                written: Vec::new(),
                regressions: 1,
                version_changes: 0,
                without_baseline: vec!["arm64".into()],
            },
            became_baseline: true,
            pruned: vec!["20261130T020000Z".into()],
            exit_code: 1,
        };
        assert_eq!(
            merge_night(&night, Path::new("/n")),
            "x64: linux/amd64\n\
             nightly-merge: no baseline yet; merge 20261202T020000Z becomes the baseline\n\
             nightly-merge: removed merge 20261130T020000Z\n\
             merged into /n/20261202T020000Z\n"
        );
        night.compared_with = Some("20261201T020000Z".into());
        night.pruned.clear();
        assert_eq!(
            merge_night(&night, Path::new("/n")),
            "x64: linux/amd64\n\
             arm64: the baseline has no run of this machine\n\
             1 regression(s), 0 size change(s) with a .NET version change, against merge 20261201T020000Z\n\
             nightly-merge: merge 20261202T020000Z accepted as the baseline\n\
             merged into /n/20261202T020000Z\n"
        );
    }

    #[test]
    fn kept_images_are_listed_then_counted() {
        let kept = KeptBaseline {
            kept: vec![("console".into(), "r2r/quick:console-baseline".into())],
            not_kept: vec![("webapi".into(), "r2r/quick:webapi".into())],
        };
        assert_eq!(
            kept_baseline(&kept, "20261201T020000Z"),
            "console kept as r2r/quick:console-baseline\n\
             webapi: r2r/quick:webapi is not the image run 20261201T020000Z built (rebuilt since, or missing); not kept\n\
             1 image(s) of run 20261201T020000Z kept as the baseline\n"
        );
    }
}
