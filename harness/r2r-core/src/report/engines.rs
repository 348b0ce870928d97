//! The sizes of the same images measured on several engines (Docker with either image store,
//! Podman): the files' content bytes, as the engine accounts them, must be equal, and the
//! compressed sizes (gzip, zstd) within a tolerance of the first engine's, since the engines'
//! exports differ in tar details only.

use crate::results::reading::RunDataError;
use crate::results::rows::SizeRow;

/// The tolerance of the compressed sizes between engines (a fraction: 1%).
pub const TOLERANCE: f64 = 0.01;

/// One engine's sizes: its label and the rows of its `sizes.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSizes {
    /// The engine's label (`docker`, `podman`, ...).
    pub label: String,
    /// Its `sizes.csv`.
    pub sizes: Vec<SizeRow>,
}

/// Why an engine's sizes cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EngineSizesError {
    /// The run is not given as `LABEL=DIR`.
    #[error("'{argument}': give each run as LABEL=DIR")]
    Unlabelled {
        /// The argument as given.
        argument: String,
    },
    /// The run's `sizes.csv` cannot be read.
    #[error(transparent)]
    Read(#[from] RunDataError),
}

impl EngineSizes {
    /// The sizes of a run given as `LABEL=DIR`: the label and the rows of `DIR/sizes.csv`
    /// (none when the run measured no sizes).
    pub fn read(argument: &str) -> Result<EngineSizes, EngineSizesError> {
        let Some((label, directory)) = argument.split_once('=') else {
            return Err(EngineSizesError::Unlabelled {
                argument: argument.to_string(),
            });
        };
        Ok(EngineSizes {
            label: label.to_string(),
            sizes: crate::results::RunDir::new(directory)
                .read_rows()?
                .unwrap_or_default(),
        })
    }
}

/// Several engines' sizes compared: each image of the first engine against every other.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineComparison {
    /// The first engine's label.
    pub reference: String,
    /// Whether the first engine measured no image (a difference: nothing was compared).
    pub measured_none: bool,
    /// Every image of the first engine against each other engine ([`compare`]).
    pub gaps: Vec<SizeGap>,
}

impl EngineComparison {
    /// The engines compared, `tolerance` as a fraction.
    pub fn new(engines: &[EngineSizes], tolerance: f64) -> EngineComparison {
        EngineComparison {
            reference: engines.first().map(|e| e.label.clone()).unwrap_or_default(),
            measured_none: engines.first().is_none_or(|e| e.sizes.is_empty()),
            gaps: compare(engines, tolerance),
        }
    }

    /// How many differences there are: images that do not pass, and a first engine that
    /// measured nothing.
    pub fn differences(&self) -> usize {
        usize::from(self.measured_none) + self.gaps.iter().filter(|gap| !gap.ok).count()
    }
}

/// One image of the first engine, against another engine.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeGap {
    /// Plan id of the image.
    pub image: String,
    /// The first engine's label.
    pub reference: String,
    /// The other engine's label.
    pub engine: String,
    /// The first engine's row.
    pub expected: SizeRow,
    /// The other engine's row (`None`: the image was not measured there).
    pub found: Option<SizeRow>,
    /// The gzip size's change against the first engine's, percent.
    pub gzip_change_percent: Option<f64>,
    /// The zstd size's change against the first engine's, percent.
    pub zstd_change_percent: Option<f64>,
    /// Whether the image passes: measured, equal content, compressed sizes within the
    /// tolerance.
    pub ok: bool,
}

fn change_percent(found: u64, expected: u64) -> Option<f64> {
    (expected > 0).then(|| 100.0 * (found as f64 - expected as f64) / expected as f64)
}

/// Every image of the first engine against each other engine, by image id (sorted), then by
/// the others' order; `tolerance` as a fraction.
pub fn compare(engines: &[EngineSizes], tolerance: f64) -> Vec<SizeGap> {
    let Some((reference, others)) = engines.split_first() else {
        return Vec::new();
    };
    let mut expected: Vec<&SizeRow> = reference.sizes.iter().collect();
    expected.sort_by(|a, b| a.image.cmp(&b.image));
    let mut gaps = Vec::new();
    for row in expected {
        for other in others {
            let found = other.sizes.iter().find(|r| r.image == row.image).cloned();
            let gzip = found
                .as_ref()
                .and_then(|f| change_percent(f.gzip_bytes, row.gzip_bytes));
            let zstd = found
                .as_ref()
                .and_then(|f| change_percent(f.zstd_bytes, row.zstd_bytes));
            let within = |change: Option<f64>| change.is_some_and(|c| c.abs() <= tolerance * 100.0);
            let ok = found
                .as_ref()
                .is_some_and(|f| f.content_bytes == row.content_bytes)
                && within(gzip)
                && within(zstd);
            gaps.push(SizeGap {
                image: row.image.clone(),
                reference: reference.label.clone(),
                engine: other.label.clone(),
                expected: row.clone(),
                found,
                gzip_change_percent: gzip,
                zstd_change_percent: zstd,
                ok,
            });
        }
    }
    gaps
}

impl SizeGap {
    /// One line for people: the content bytes (equal or DIFFERENT), tar bytes, the compressed
    /// sizes' changes, the engines' own sizes, and FAIL when it does not pass.
    pub fn line(&self) -> String {
        let Some(found) = &self.found else {
            return format!("{}: not measured on {}", self.image, self.engine);
        };
        let size = |value: Option<u64>| value.map_or_else(|| "-".to_string(), |v| v.to_string());
        let percent =
            |value: Option<f64>| value.map_or_else(|| "-".to_string(), |v| format!("{v:+.3}%"));
        format!(
            "{}: {} vs {}: content {} vs {} ({}), tar {} vs {}, gzip {}, zstd {}, engine size {} vs {}{}",
            self.image,
            self.engine,
            self.reference,
            found.content_bytes,
            self.expected.content_bytes,
            if found.content_bytes == self.expected.content_bytes {
                "equal"
            } else {
                "DIFFERENT"
            },
            found.tar_bytes,
            self.expected.tar_bytes,
            percent(self.gzip_change_percent),
            percent(self.zstd_change_percent),
            size(found.engine_size_bytes),
            size(self.expected.engine_size_bytes),
            if self.ok { "" } else { "  FAIL" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(image: &str, content: u64, gzip: u64, zstd: u64) -> SizeRow {
        SizeRow {
            image: image.into(),
            reference: format!("r2r/quick:{image}"),
            variants: String::new(),
            role: "console".into(),
            layers: 3,
            engine_size_bytes: Some(content),
            content_bytes: content,
            tar_bytes: content + 10_000,
            gzip_bytes: gzip,
            zstd_bytes: zstd,
            wasted_bytes: 0,
            registry_bytes: None,
            engine_blob_bytes: None,
            engine_blob_compression: String::new(),
        }
    }

    fn engine(label: &str, sizes: Vec<SizeRow>) -> EngineSizes {
        EngineSizes {
            label: label.into(),
            sizes,
        }
    }

    #[test]
    fn equal_content_and_close_compression_pass_and_the_rest_fail() {
        let docker = engine(
            "docker",
            vec![row("b", 1000, 500, 400), row("a", 2000, 1000, 800)],
        );
        let podman = engine(
            "podman",
            vec![row("a", 2000, 1009, 795), row("b", 1001, 500, 400)],
        );
        let containerd = engine("containerd", vec![row("a", 2000, 1011, 800)]);
        let gaps = compare(&[docker, podman, containerd], TOLERANCE);
        let verdicts: Vec<(&str, &str, bool)> = gaps
            .iter()
            .map(|g| (g.image.as_str(), g.engine.as_str(), g.ok))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("a", "podman", true),
                // 1.1% larger gzip: beyond 1%.
                ("a", "containerd", false),
                // One byte of content apart.
                ("b", "podman", false),
                ("b", "containerd", false),
            ]
        );
        assert!(
            gaps[0].line().contains("content 2000 vs 2000 (equal)"),
            "{}",
            gaps[0].line()
        );
        assert!(gaps[0].line().contains("gzip +0.900%, zstd -0.625%"));
        assert!(gaps[1].line().ends_with("FAIL"));
        assert!(gaps[2].line().contains("(DIFFERENT)"));
        assert_eq!(gaps[3].line(), "b: not measured on containerd");
        assert!(compare(&[], TOLERANCE).is_empty());
    }

    #[test]
    fn a_comparison_counts_failed_images_and_an_empty_reference() {
        let docker = engine("docker", vec![row("a", 2000, 1000, 800)]);
        let podman = engine("podman", vec![row("a", 2001, 1000, 800)]);
        let comparison = EngineComparison::new(&[docker.clone(), podman], TOLERANCE);
        assert_eq!(
            (comparison.reference.as_str(), comparison.differences()),
            ("docker", 1)
        );
        let empty = EngineComparison::new(&[engine("docker", Vec::new()), docker], TOLERANCE);
        assert!(empty.measured_none);
        assert_eq!(empty.differences(), 1);
    }

    #[test]
    fn a_run_is_read_as_label_and_directory() {
        let directory = tempfile::tempdir().unwrap();
        let rows = vec![row("a", 2000, 1000, 800)];
        let csv = crate::results::rows::to_csv(&rows).unwrap();
        std::fs::write(directory.path().join("sizes.csv"), csv).unwrap();
        let read = EngineSizes::read(&format!("podman={}", directory.path().display())).unwrap();
        assert_eq!(read, engine("podman", rows));
        let error = EngineSizes::read("no-label").unwrap_err();
        assert_eq!(error.to_string(), "'no-label': give each run as LABEL=DIR");
    }
}
