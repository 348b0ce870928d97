//! Which images a start-up measurement runs: the plan's app images, a selection of them, and
//! each app's baseline (the image the others are compared with).

use serde::{Deserialize, Serialize};

use crate::model::app::Launch;
use crate::model::catalog::AppKind;
use crate::model::plan::{Content, Plan};
use crate::results::startup_runs::{Cache, RunRecord};

/// An app image to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Plan id.
    pub image: String,
    /// Reference started.
    pub reference: String,
    /// Variants it belongs to.
    pub variants: Vec<String>,
    /// The app's kind.
    pub kind: AppKind,
    /// The app's name in the scenario (its image's role); images of the same app pair.
    pub app: String,
    /// How it is started and known to be ready.
    pub launch: Launch,
}

/// The app images of a plan.
pub fn targets(plan: &Plan) -> Vec<Target> {
    plan.images
        .iter()
        .filter_map(|image| match &image.content {
            Content::App { kind, launch, .. } => Some(Target {
                image: image.id.clone(),
                reference: image.reference().to_string(),
                variants: image.variants.clone(),
                kind: *kind,
                app: image.role.name().to_string(),
                launch: launch.clone().unwrap_or_else(|| Launch::sample(*kind)),
            }),
            _ => None,
        })
        .collect()
}

/// Why the start-up of an image is not timed on this machine: it is of a platform this
/// machine runs only under emulation (QEMU through binfmt_misc), which slows every instruction
/// by an unknown factor, so its times would say nothing about the platform. `None`: it is
/// timed.
pub fn not_timed_reason(image: &crate::model::plan::PlannedImage) -> Option<String> {
    image.platform.is_emulated().then(|| {
        format!(
            "{} runs on this {} machine only under emulation; start-up is never timed under emulation (measure it on a {} machine)",
            image.platform,
            std::env::consts::ARCH,
            image.platform
        )
    })
}

/// Start-up was asked for images that this machine runs only under emulation, and nothing
/// else.
#[derive(Debug, thiserror::Error)]
#[error("start-up is never timed under emulation: {reason}; images refused: {images}")]
pub struct EmulatedStartup {
    /// Why, naming the platform and the machine.
    pub reason: String,
    /// The images asked for, comma-separated.
    pub images: String,
}

/// Why a selection of images to measure cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("no app image '{image}' in the plan (its app images: {known})")]
pub struct UnknownImage {
    /// The name asked for.
    pub image: String,
    /// The plan's app images, comma-separated.
    pub known: String,
}

/// The targets named in `only` (all with `only` empty), each with its app's baseline, in
/// the plan's order.
pub fn select(
    targets: Vec<Target>,
    variants: &[String],
    only: &[String],
) -> Result<Vec<Target>, UnknownImage> {
    if only.is_empty() {
        return Ok(targets);
    }
    let mut keep = vec![false; targets.len()];
    for name in only {
        let index = targets
            .iter()
            .position(|t| &t.image == name)
            .ok_or_else(|| UnknownImage {
                image: name.clone(),
                known: targets
                    .iter()
                    .map(|t| t.image.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        keep[index] = true;
        if let Some(baseline) = baseline_index(&targets, variants, &targets[index].app) {
            keep[baseline] = true;
        }
    }
    Ok(targets
        .into_iter()
        .zip(keep)
        .filter_map(|(target, kept)| kept.then_some(target))
        .collect())
}

/// The index of `app`'s baseline among `targets`: its image in the first of `variants`
/// that has one; with no variants given, the first target of that app.
pub fn baseline_index(targets: &[Target], variants: &[String], app: &str) -> Option<usize> {
    if variants.is_empty() {
        return targets.iter().position(|t| t.app == app);
    }
    variants.iter().find_map(|variant| {
        targets
            .iter()
            .position(|t| t.app == app && t.variants.contains(variant))
    })
}

impl Target {
    /// A target of a sample app (started as [`Launch::sample`]): `image` is the plan id
    /// `<variant>.<app>`, whose last part names the app.
    pub fn sample(image: &str, reference: &str, variants: &[&str], kind: AppKind) -> Target {
        Target {
            image: image.to_string(),
            reference: reference.to_string(),
            variants: variants.iter().map(|v| v.to_string()).collect(),
            kind,
            app: image.rsplit('.').next().unwrap_or(image).to_string(),
            launch: Launch::sample(kind),
        }
    }

    /// An empty (not yet successful) record of a run of this target under `cache`.
    pub fn record(&self, cache: Cache) -> RunRecord {
        RunRecord::new(&self.image, &self.variants, self.kind, cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_keeps_each_images_baseline() {
        let target = |image: &str, variant: &str, kind| Target {
            image: image.into(),
            reference: format!("r:{image}"),
            variants: vec![variant.into()],
            kind,
            app: image.rsplit('.').next().unwrap().into(),
            launch: Launch::sample(kind),
        };
        let targets = vec![
            target("none.console", "none", AppKind::Console),
            target("none.webapi", "none", AppKind::Webapi),
            target("aspnet.webapi", "aspnet", AppKind::Webapi),
            target("runtime.console", "runtime", AppKind::Console),
        ];
        let variants: Vec<String> = ["none", "runtime", "aspnet"].map(String::from).to_vec();
        let names = |only: &[&str]| -> Vec<String> {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select(targets.clone(), &variants, &only)
                .unwrap()
                .into_iter()
                .map(|t| t.image)
                .collect()
        };
        assert_eq!(names(&["aspnet.webapi"]), ["none.webapi", "aspnet.webapi"]);
        assert_eq!(names(&[]).len(), 4);
        let error = select(targets.clone(), &variants, &["nope".into()]).unwrap_err();
        assert!(
            error.to_string().contains("none.console, none.webapi"),
            "{error}"
        );
        assert_eq!(
            baseline_index(&targets, &[], "webapi"),
            Some(1),
            "without variants: the first of the app"
        );
    }
}
