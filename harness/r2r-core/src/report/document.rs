//! `report.md` and `report.html` of a run directory: the size tables in the shapes of the
//! published reports (.NET 8: image kind, base, uncompressed, compressed, ratio; .NET 10: name,
//! publish type, distroless, globalization, compressed; dotnet-docker#1821: total, owned,
//! shared), the start-up table with confidence intervals and ratios, build times, and the
//! plots. Both documents come from one list of [`Section`]s, so they always agree.

pub use crate::report::{Table, MB};
use std::fmt::Write as _;
use std::path::Path;

use crate::model::plan::{Content, PlannedImage};
use crate::model::scenario::Base;
use crate::results::anatomy::{AnatomyKind, AnatomyRow};
use crate::results::run_data::RunData;
use crate::results::verify_file;

/// A plot file to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotRef {
    /// Caption.
    pub title: String,
    /// Path relative to the report (e.g. `plots/sizes.svg`).
    pub path: String,
}

/// A part of the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    /// A table.
    Table(Table),
    /// A plot.
    Plot(PlotRef),
    /// A paragraph of plain text.
    Text(String),
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / MB)
}

fn base_name(base: &Base) -> String {
    match base {
        Base::Local { name, image, .. } => format!("{name} ({image})"),
        Base::Reference { image } => image.clone(),
    }
}

fn is_distroless(base_image: &str) -> bool {
    base_image.contains("distroless") || base_image.contains("chiseled")
}

/// Whether an app runs with globalization on: the sample apps are invariant unless the
/// publish settings say `InvariantGlobalization=false`.
fn globalization(image: &PlannedImage) -> bool {
    matches!(&image.content, Content::App { publish, .. } if publish.properties.get("InvariantGlobalization").is_some_and(|v| v.eq_ignore_ascii_case("false")))
}

/// What the app image stands on, e.g. `runtime-composite.aspnet`, or the base for a
/// self-contained app.
fn publish_type(image: &PlannedImage) -> String {
    match &image.content {
        Content::App {
            publish, composite, ..
        } => {
            let composite = if *composite { ", composite" } else { "" };
            format!("{}{composite}", publish.profile)
        }
        _ => image.role.to_string(),
    }
}

fn app_images(data: &RunData) -> Vec<&PlannedImage> {
    data.plan
        .images
        .iter()
        .filter(|image| matches!(image.content, Content::App { .. }))
        .collect()
}

/// The baseline image of an app image: the same app's image in the scenario's first variant
/// that has it on the same platform (arm64 images against arm64 ones).
fn baseline_of<'a>(data: &'a RunData, of: &PlannedImage) -> Option<&'a PlannedImage> {
    data.plan.scenario.variants.iter().find_map(|variant| {
        data.plan.images.iter().find(|image| {
            image.role == of.role
                && image.platform == of.platform
                && image.variants.contains(variant)
                && matches!(image.content, Content::App { .. })
        })
    })
}

/// With images of several platforms: every app image's sizes per platform, side by side
/// (the same variant and app), and the ratio of each platform's compressed size to the
/// first platform's. Sizes are exact (read from the images' layers), so platforms compare
/// as any two images do; start-up is only timed on the machine's own platform.
fn platform_table(data: &RunData) -> Option<Table> {
    use crate::model::platform::Platform;
    let platforms = &data.plan.scenario.platforms;
    if platforms.len() < 2 {
        return None;
    }
    let first = platforms[0];
    let mut headers = vec!["Variant".to_string(), "App".to_string()];
    for platform in platforms {
        headers.push(format!("{platform} uncompressed (MB)"));
        headers.push(format!("{platform} compressed (MB)"));
    }
    for platform in &platforms[1..] {
        headers.push(format!(
            "{} / {} compressed",
            platform.architecture(),
            first.architecture()
        ));
    }
    let mut rows = Vec::new();
    for image in app_images(data)
        .into_iter()
        .filter(|image| image.platform == first)
    {
        let variant = image.variants.first().cloned().unwrap_or_default();
        let (plain, _) = Platform::split_variant(&variant);
        let mut row = vec![plain.to_string(), image.role.to_string()];
        let mut gzip = Vec::new();
        for platform in platforms {
            let name = platform.variant_name(plain);
            let size = data
                .plan
                .images
                .iter()
                .find(|other| {
                    other.role == image.role
                        && other.platform == *platform
                        && other.variants.contains(&name)
                })
                .and_then(|other| data.size_row(&other.id));
            row.push(size.map(|s| mb(s.content_bytes)).unwrap_or_default());
            row.push(size.map(|s| mb(s.gzip_bytes)).unwrap_or_default());
            gzip.push(size.map(|s| s.gzip_bytes));
        }
        for other in &gzip[1..] {
            row.push(match (gzip[0], other) {
                (Some(base), Some(other)) if base > 0 => {
                    format!("{:.3}", *other as f64 / base as f64)
                }
                _ => String::new(),
            });
        }
        rows.push(row);
    }
    Some(Table {
        title: "Sizes by platform".into(),
        note: "Each app image of the scenario on every platform it is built for, side by side: the same variant and app, the same .NET version and base (each platform's own build of it); compressed = gzip level 6 of the layers. Exact: read from the images' layers, whatever machine built them. Images of a platform this machine only emulates are not timed.".into(),
        headers,
        rows,
    })
}

fn parent_name(image: &PlannedImage) -> String {
    match &image.parent {
        crate::model::plan::Parent::Image(id) => id.clone(),
        crate::model::plan::Parent::Base(reference) => reference.clone(),
    }
}

/// What the report says about the platforms of a run with images of several (or another)
/// platform: which ones, and how their behaviour was verified (natively, under emulation,
/// from `verify.json`), and that start-up under emulation is never timed.
fn platforms_text(data: &RunData) -> String {
    let scenario = &data.plan.scenario;
    let names: Vec<&str> = scenario.platforms.iter().map(|p| p.name()).collect();
    let mut text = format!("Platforms: {}.", names.join(", "));
    let verifications: Vec<crate::inspect::verify::ImageVerification> =
        verify_file::read(&data.run_dir())
            .ok()
            .flatten()
            .unwrap_or_default();
    for platform in &scenario.platforms {
        let ids: Vec<&str> = data
            .plan
            .images
            .iter()
            .filter(|image| image.platform == *platform)
            .map(|image| image.id.as_str())
            .collect();
        let checked: Vec<_> = verifications
            .iter()
            .filter(|v| ids.contains(&v.id.as_str()) && v.checks.iter().any(|c| c.name == "run"))
            .collect();
        let emulated = checked.iter().filter(|v| v.emulated).count();
        let passed = checked.iter().filter(|v| v.passed()).count();
        if checked.is_empty() {
            let _ = write!(text, " {platform}: behaviour not verified in this run.");
        } else if emulated > 0 {
            let _ = write!(
                text,
                " {platform}: behaviour verified under emulation (QEMU through binfmt_misc on this {} machine): {passed} of {} images passed; start-up is never timed under emulation.",
                std::env::consts::ARCH,
                checked.len()
            );
        } else {
            let _ = write!(
                text,
                " {platform}: behaviour verified natively: {passed} of {} images passed.",
                checked.len()
            );
        }
    }
    text
}

/// The sections of a run's report, in order.
pub fn sections(data: &RunData, plots: &[PlotRef]) -> Vec<Section> {
    let mut sections = Vec::new();
    let info = &data.info;
    let scenario = &data.plan.scenario;
    let mut about = format!(
        "Scenario `{}`{}, run {}: .NET {}{}, base {}, {} variant(s).",
        scenario.name,
        if scenario.description.is_empty() {
            String::new()
        } else {
            format!(" ({})", scenario.description)
        },
        info.run_id,
        scenario.dotnet,
        match &info.dotnet.requested {
            Some(band) if *band != scenario.dotnet =>
                format!(" (`{band}`: the newest patch the NuGet feed served)"),
            _ => String::new(),
        },
        base_name(&scenario.base),
        scenario.variants.len()
    );
    if let Some(apps) = &info.dotnet.apps {
        let _ = write!(about, " Apps {}.", apps.describe(&scenario.dotnet));
    }
    let machine = &info.machine;
    let _ = write!(
        about,
        " Machine: {}, {} cores, {:.1} GiB, kernel {}.",
        machine.cpu,
        machine.cores,
        machine.memory_bytes as f64 / 1024f64.powi(3),
        machine.kernel
    );
    if !machine.architecture.is_empty() {
        let _ = write!(about, " Platform: {}.", machine.platform());
    }
    if let Some(engine) = &info.engine {
        let store = if engine.image_store.is_empty() {
            &engine.storage_driver
        } else {
            &engine.image_store
        };
        let cgroup = if engine.cgroup_version.is_empty() {
            String::new()
        } else {
            format!(", cgroup v{}", engine.cgroup_version)
        };
        let _ = write!(
            about,
            " Engine: {}{} (API {}, {store}{cgroup}).",
            if engine.engine.is_empty() {
                String::new()
            } else {
                format!("{} ", engine.engine)
            },
            engine.version,
            engine.negotiated_api_version,
        );
    }
    if let Some(git) = &info.git {
        let _ = write!(
            about,
            " Project commit {}{}.",
            &git.commit[..git.commit.len().min(12)],
            if git.dirty {
                " (with local changes)"
            } else {
                ""
            }
        );
    }
    if let Some(startup) = &info.startup {
        let _ = write!(about, " Start-up: {}.", startup.describe());
    }
    sections.push(Section::Text(about));
    if scenario.platforms != [crate::model::platform::Platform::default()] {
        sections.push(Section::Text(platforms_text(data)));
    }
    sections.extend(
        crate::report::answer::tables(data)
            .into_iter()
            .map(Section::Table),
    );

    if !data.sizes.is_empty() {
        sections.extend(size_tables(data));
        if let Some(table) = platform_table(data) {
            sections.push(Section::Table(table));
        }
        if let Some(table) = crate::report::published_rows::table(data) {
            sections.push(Section::Table(table));
        }
    }
    if let Ok(Some(rows)) = data.run_dir().read_rows::<AnatomyRow>() {
        if !rows.is_empty() {
            sections.extend(anatomy_tables(data, &rows));
        }
    }
    if !data.startup.is_empty() {
        sections.push(Section::Table(startup_table(data)));
    }
    sections.extend(
        crate::report::deploy::tables(data)
            .into_iter()
            .map(Section::Table),
    );
    if !data.builds.is_empty() {
        sections.push(Section::Table(build_table(data)));
    }
    sections.extend(plots.iter().cloned().map(Section::Plot));
    sections
}

fn size_tables(data: &RunData) -> Vec<Section> {
    let apps = app_images(data);
    // Whether the engine keeps its layer blobs compressed (the containerd image store): then
    // their own size is known exactly and shown beside the computed ones.
    let engine_blobs = data.sizes.iter().any(|row| row.engine_blob_bytes.is_some());
    let mut kind_rows = Vec::new();
    let mut deployment_rows = Vec::new();
    for image in &apps {
        let Some(size) = data.size_row(&image.id) else {
            continue;
        };
        let ratio = baseline_of(data, image)
            .and_then(|baseline| data.size_row(&baseline.id))
            .map(|baseline| format!("{:.2}", size.gzip_bytes as f64 / baseline.gzip_bytes as f64))
            .unwrap_or_default();
        let base = if is_distroless(data.plan.base_of(image)) {
            format!("{} (distroless)", parent_name(image))
        } else {
            parent_name(image)
        };
        let mut row = vec![
            image.id.clone(),
            base,
            mb(size.content_bytes),
            mb(size.gzip_bytes),
            mb(size.zstd_bytes),
            ratio,
        ];
        if engine_blobs {
            row.push(size.engine_blob_bytes.map(mb).unwrap_or_default());
        }
        kind_rows.push(row);
        let yes_no = |flag: bool| if flag { "yes" } else { "no" }.to_string();
        let build = data
            .builds
            .iter()
            .find(|b| b.id == image.id)
            .map(|b| format!("{:.1}", b.seconds))
            .unwrap_or_default();
        let start = |cache: &str| {
            data.startup_row(&image.id, cache, "total")
                .map(|r| format!("{:.0}", r.median_ms))
                .unwrap_or_default()
        };
        deployment_rows.push(vec![
            image.id.clone(),
            publish_type(image),
            yes_no(is_distroless(data.plan.base_of(image))),
            yes_no(globalization(image)),
            mb(size.gzip_bytes),
            build,
            start("cold"),
            start("warm"),
        ]);
    }
    let mut headers: Vec<String> = [
        "Image kind",
        "Base",
        "Uncompressed (MB)",
        "Compressed (MB)",
        "zstd (MB)",
        "Ratio",
    ]
    .map(String::from)
    .to_vec();
    let mut note = "Per app image (the shape of the .NET 8 size report); compressed = gzip level 6 of the layers, as a registry stores them; ratio = compressed size against the scenario's first variant's image of the same app.".to_string();
    if engine_blobs {
        headers.push("Engine's blobs (MB)".into());
        note.push_str(" Exact: uncompressed (the files), and the engine's blobs (the compressed layer blobs the engine keeps and pushes, as its export holds them). Estimated: compressed and zstd, computed here from the layer tars (what a registry stores when the engine compresses at those levels).");
    } else {
        note.push_str(" Exact: uncompressed (the files). Estimated: compressed and zstd, computed here from the layer tars (the engine keeps its layers uncompressed and compresses them when it pushes).");
    }
    let mut sections = vec![
        Section::Table(Table {
            title: "Image sizes".into(),
            note,
            headers,
            rows: kind_rows,
        }),
        Section::Table(Table {
            title: "Deployment types".into(),
            note: "The shape of the .NET 10 size report, with what it did not have: the image's build time (preparing its content and building it; shared images below it not counted) and its median start-up, create to ready.".into(),
            headers: ["Name", "Publish type", "Distroless", "Globalization", "Compressed (MB)", "Build (s)", "Start-up cold (ms)", "Start-up warm (ms)"].map(String::from).to_vec(),
            rows: deployment_rows,
        }),
    ];
    let owned: Vec<Vec<String>> = data
        .sharing
        .iter()
        .filter(|row| row.set == "all" && row.figure == "content")
        .map(|row| {
            vec![
                row.image.clone(),
                mb(row.total_bytes),
                format!("{:.2}", row.owned_bytes as f64 / MB),
                mb(row.shared_bytes),
            ]
        })
        .collect();
    if !owned.is_empty() {
        sections.push(Section::Table(Table {
            title: "Layer sharing".into(),
            note: "Every image of the scenario (the shape of dotnet-docker#1821): owned = layers no other image has; uncompressed.".into(),
            headers: ["Image", "Total (MB)", "Owned (MB)", "Shared (MB)"].map(String::from).to_vec(),
            rows: owned,
        }));
    }
    let mut sets = Vec::new();
    for variant in &data.plan.scenario.variants {
        let rows: Vec<_> = data
            .sharing
            .iter()
            .filter(|row| &row.set == variant)
            .collect();
        let content = rows.iter().find(|row| row.figure == "content");
        let gzip = rows.iter().find(|row| row.figure == "gzip");
        if let (Some(content), Some(gzip)) = (content, gzip) {
            let images = rows.iter().filter(|row| row.figure == "content").count();
            sets.push(vec![
                variant.clone(),
                images.to_string(),
                mb(content.set_sum_bytes),
                mb(content.set_stored_once_bytes),
                mb(gzip.set_stored_once_bytes),
            ]);
        }
    }
    if !sets.is_empty() {
        sections.push(Section::Table(Table {
            title: "Stored once per variant".into(),
            note: "All images of a variant (runtime-deps, frameworks, apps) as a registry or a machine stores them: shared layers once.".into(),
            headers: ["Variant", "Images", "Sum as separate images (MB)", "Stored once (MB)", "Stored once, gzip (MB)"].map(String::from).to_vec(),
            rows: sets,
        }));
    }
    sections
}

/// Most assemblies listed per image in the anatomy differences table.
const ANATOMY_DIFF_ROWS: usize = 8;

/// Where each image's bytes go, and which assemblies make each app image differ from its
/// baseline (`anatomy.csv`).
fn anatomy_tables(data: &RunData, rows: &[crate::measure::anatomy::AnatomyRow]) -> Vec<Section> {
    use crate::measure::anatomy::{self, GROUPS};
    let mut headers = vec!["image".to_string(), "files MB".to_string()];
    headers.extend(GROUPS.iter().map(|group| format!("{group} MB")));
    headers.push("composite, unattributed MB".into());
    let table_rows = anatomy::image_groups(rows)
        .into_iter()
        .map(|(image, groups)| {
            let shared: u64 = rows
                .iter()
                .filter(|row| row.image == image && row.kind == AnatomyKind::CompositeShared)
                .map(|row| row.bytes)
                .sum();
            let mut cells = vec![image, mb(groups.iter().sum())];
            cells.extend(groups.iter().map(|bytes| mb(*bytes)));
            cells.push(mb(shared));
            cells
        })
        .collect();
    let mut sections = vec![Section::Table(Table {
        title: "Where the bytes go".into(),
        note: format!(
            "Every regular file of each image, read from its PE sections, CLI header, metadata and ReadyToRun header ({}): IL + metadata (method bodies, metadata, resources), native code (runtime functions), ReadyToRun tables, the rest of the assemblies (headers, unwind and GC info, signatures, padding) and the files that are not assemblies; they add up to the files' bytes. The last column is the part of the composite images that no single component owns (generic instantiations, funclets, stubs, shared tables), included in the groups before it.",
            crate::results::anatomy::FILE
        ),
        headers,
        rows: table_rows,
    })];
    let mut diff_rows = Vec::new();
    for image in app_images(data) {
        let Some(baseline) = baseline_of(data, image) else {
            continue;
        };
        if baseline.id == image.id {
            continue;
        }
        let of = |id: &str| -> Vec<anatomy::AnatomyRow> {
            rows.iter().filter(|row| row.image == id).cloned().collect()
        };
        let (a, b) = (of(&baseline.id), of(&image.id));
        if a.is_empty() || b.is_empty() {
            continue;
        }
        for change in anatomy::diff(&a, &b).into_iter().take(ANATOMY_DIFF_ROWS) {
            let signed = |bytes: i64| format!("{:+.2}", bytes as f64 / MB);
            diff_rows.push(vec![
                image.id.clone(),
                baseline.id.clone(),
                change.assembly,
                signed(change.delta_bytes),
                signed(change.delta_il_metadata_bytes),
                signed(change.delta_native_code_bytes),
                signed(change.delta_rest_bytes),
            ]);
        }
    }
    if !diff_rows.is_empty() {
        sections.push(Section::Table(Table {
            title: "Which assemblies make the difference".into(),
            note: format!("Per app image, the {ANATOMY_DIFF_ROWS} assemblies whose bytes changed most against the baseline (the same app in the scenario's first variant); an assembly's file and its share of a composite count together (`r2r diff` lists them all)."),
            headers: [
                "image",
                "baseline",
                "assembly",
                "Δ MB",
                "Δ IL + metadata MB",
                "Δ native code MB",
                "Δ rest MB",
            ]
            .iter()
            .map(|header| header.to_string())
            .collect(),
            rows: diff_rows,
        }));
    }
    sections
}

fn startup_table(data: &RunData) -> Table {
    let mut rows = Vec::new();
    // Holm's correction over the report's paired comparisons (every image and cache mode).
    let tested: Vec<(&str, &str, f64)> = data
        .startup
        .iter()
        .filter(|row| row.phase == "total" && row.image != row.baseline)
        .filter_map(|row| Some((row.image.as_str(), row.cache.as_str(), row.paired_p_value?)))
        .collect();
    let p_values: Vec<f64> = tested.iter().map(|t| t.2).collect();
    let adjusted = crate::measure::stats::holm_adjusted(&p_values);
    let holm = |image: &str, cache: &str| {
        tested
            .iter()
            .zip(&adjusted)
            .find(|(t, _)| t.0 == image && t.1 == cache)
            .map(|(_, p)| *p)
    };
    for row in data.startup.iter().filter(|row| row.phase == "total") {
        let first = data
            .startup_row(&row.image, &row.cache, "first_request")
            .map(|r| format!("{:.1}", r.median_ms))
            .unwrap_or_default();
        let main = data
            .startup_row(&row.image, &row.cache, "time_to_main")
            .map(|r| format!("{:.0}", r.median_ms))
            .unwrap_or_default();
        let (paired, relative) = if row.image == row.baseline {
            ("baseline".to_string(), String::new())
        } else {
            let paired = if row.paired_text.is_empty() {
                "no paired rounds".to_string()
            } else {
                match (row.paired_p_value, holm(&row.image, &row.cache)) {
                    (Some(p), Some(adjusted)) => {
                        let changed = matches!(row.paired_verdict.as_str(), "faster" | "slower");
                        let family = tested.len();
                        let lost = if changed && adjusted >= crate::measure::paired::ALPHA {
                            format!("; not significant over the {family} comparisons")
                        } else {
                            String::new()
                        };
                        format!("{}; p = {p:.3}, Holm {adjusted:.3}{lost}", row.paired_text)
                    }
                    _ => row.paired_text.clone(),
                }
            };
            let relative = if row.times_faster.is_finite() {
                format!(
                    "{:.2} ± {:.2} ({})",
                    row.times_faster,
                    row.times_faster_error,
                    if row.baseline_runs > 0 {
                        format!("SE; n = {} / {}", row.runs, row.baseline_runs)
                    } else {
                        format!("n = {}", row.runs)
                    }
                )
            } else {
                String::new()
            };
            (paired, relative)
        };
        rows.push(vec![
            row.image.clone(),
            row.cache.clone(),
            format!(
                "{}{}",
                row.runs,
                if row.failures > 0 {
                    format!(" ({} failed)", row.failures)
                } else {
                    String::new()
                }
            ),
            format!("{:.1}", row.median_ms),
            format!(
                "{:.1} ({:.1} – {:.1}, n = {}{})",
                row.mean_ms,
                row.ci95_low_ms,
                row.ci95_high_ms,
                row.runs,
                if (row.runs as usize) < crate::measure::stats::MIN_BOOTSTRAP_SAMPLES {
                    ", t on logs"
                } else {
                    ""
                }
            ),
            format!("{:.1}", row.stddev_ms),
            format!("{:.1}", row.p95_ms),
            main,
            first,
            paired,
            relative,
        ]);
    }
    Table {
        title: "Start-up".into(),
        note: "Create to ready (console: to a clean exit; web API: to the first HTTP 200 on 127.0.0.1), a fresh container per run; cold = page cache dropped before each run; warm = right after a run of the same image. Mean with its studentized-bootstrap 95% interval and n (below 10 runs, Student's t interval of the logs, marked \"t on logs\"); time to Main from the start request (CLOCK_MONOTONIC); against the first variant's image of the same app: paired by round (every round runs each image once, in a shuffled order, so the two runs of a round share the machine's state): the geometric mean of the per-round ratios with its bootstrap-t 95% interval over rounds, and Wilcoxon's signed-rank p with its Holm-adjusted value over all the table's paired comparisons (a difference whose adjusted p is not below 0.05 is marked \"not significant over the N comparisons\"); \"no difference resolved (±x%)\" when the interval contains 1. Unpaired: the ratio of means ± one standard error, as if the series were independent.".into(),
        headers: ["Image", "Cache", "Runs", "Median (ms)", "Mean (95% CI) (ms)", "SD (ms)", "p95 (ms)", "Time to Main (ms)", "First request (ms)", "Vs baseline, paired", "Ratio of means (unpaired)"].map(String::from).to_vec(),
        rows,
    }
}

fn build_table(data: &RunData) -> Table {
    Table {
        title: "Build".into(),
        note: "Wall time of preparing (NuGet packs, crossgen2, publish) and building each image; up-to-date images were not rebuilt.".into(),
        headers: ["Image", "Status", "Build time (s)", "Context (MB)"].map(String::from).to_vec(),
        rows: data
            .builds
            .iter()
            .map(|build| vec![build.id.clone(), build.status.word().to_string(), format!("{:.1}", build.seconds), mb(build.context_bytes)])
            .collect(),
    }
}

fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown.
pub fn markdown(data: &RunData, sections: &[Section]) -> String {
    let mut out = format!("# r2r report: {}\n\n", data.plan.scenario.name);
    for section in sections {
        match section {
            Section::Text(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Section::Plot(plot) => {
                let _ = writeln!(out, "![{}]({})\n", plot.title, plot.path);
            }
            Section::Table(table) => {
                let _ = writeln!(out, "## {}\n\n{}\n", table.title, table.note);
                let _ = writeln!(
                    out,
                    "| {} |",
                    table
                        .headers
                        .iter()
                        .map(|h| markdown_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(
                    out,
                    "|{}",
                    table.headers.iter().map(|_| "---|").collect::<String>()
                );
                for row in &table.rows {
                    let _ = writeln!(
                        out,
                        "| {} |",
                        row.iter()
                            .map(|c| markdown_cell(c))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1200px;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:3px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#eee}\
figure{margin:1em 0}figure svg,figure img{max-width:100%;height:auto}p.note{color:#555}";

/// The report as one self-contained HTML page: SVG plots are inlined (read from
/// `report_dir`), so the page needs no other file and no script.
pub fn html(data: &RunData, sections: &[Section], report_dir: &Path) -> String {
    let title = format!("r2r report: {}", data.plan.scenario.name);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape_html(&title),
        escape_html(&title)
    );
    for section in sections {
        match section {
            Section::Text(text) => {
                let _ = writeln!(out, "<p>{}</p>", escape_html(&text.replace('`', "")));
            }
            Section::Plot(plot) => {
                let inline = plot
                    .path
                    .ends_with(".svg")
                    .then(|| std::fs::read_to_string(report_dir.join(&plot.path)).ok())
                    .flatten()
                    .map(|svg| match svg.find("<svg") {
                        Some(start) => svg[start..].to_string(),
                        None => String::new(),
                    })
                    .filter(|svg| !svg.is_empty());
                match inline {
                    Some(svg) => {
                        let _ = writeln!(
                            out,
                            "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
                            escape_html(&plot.title)
                        );
                    }
                    None => {
                        let _ =
                            writeln!(out, "<p>(plot {} not found)</p>", escape_html(&plot.path));
                    }
                }
            }
            Section::Table(table) => {
                let _ = writeln!(
                    out,
                    "<h2>{}</h2>\n<p class=\"note\">{}</p>\n<table>\n<thead><tr>",
                    escape_html(&table.title),
                    escape_html(&table.note)
                );
                for header in &table.headers {
                    let _ = write!(out, "<th>{}</th>", escape_html(header));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in &table.rows {
                    out.push_str("<tr>");
                    for cell in row {
                        let _ = write!(out, "<td>{}</td>", escape_html(cell));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Writes `report.md` and `report.html` into the run directory; returns their paths.
pub fn write(data: &RunData, plots: &[PlotRef]) -> std::io::Result<Vec<std::path::PathBuf>> {
    let sections = sections(data, plots);
    let run = data.run_dir();
    let md_path = run.report_md();
    let html_path = run.report_html();
    crate::results::files::write_atomically(&md_path, markdown(data, &sections).as_bytes())?;
    crate::results::files::write_atomically(
        &html_path,
        html(data, &sections, &data.directory).as_bytes(),
    )?;
    Ok(vec![md_path, html_path])
}
