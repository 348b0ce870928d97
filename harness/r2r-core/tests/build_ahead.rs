//! The build makes the base while it prepares the images' content: a base script that waits
//! for the first context to be asked for finishes only if the two overlap (against the
//! in-memory engine; the script and the preparation stand in for debootstrap and crossgen2).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use r2r_core::build::dotnet::Workspace;
use r2r_core::build::{
    self, BuildError, BuildObserver, BuildOptions, BuildStatus, ImageBuild, Preparation,
};
use r2r_core::engine::fake::{layer_tar, FakeEngine};
use r2r_core::model::catalog::Catalog;
use r2r_core::model::plan::{self, Parent, Plan, PlannedImage};

/// A Dockerfile on the parent; the first context asked for leaves `marker` behind.
struct Marking {
    marker: PathBuf,
}

#[async_trait::async_trait]
impl Preparation for Marking {
    async fn prepare(&self, _plan: &Plan) -> Result<(), BuildError> {
        Ok(())
    }

    async fn context(
        &self,
        plan: &Plan,
        image: &PlannedImage,
    ) -> Result<bytes::Bytes, build::PreparationError> {
        std::fs::write(&self.marker, &image.id)?;
        let parent = match &image.parent {
            Parent::Base(reference) => reference.clone(),
            Parent::Image(id) => plan.image(id).unwrap().reference().to_string(),
        };
        Ok(layer_tar(&[
            (
                "Dockerfile",
                format!("FROM {parent}\nCOPY . /\n").as_bytes(),
            ),
            ("content", image.id.as_bytes()),
        ]))
    }
}

/// The progress lines, per image.
#[derive(Default)]
struct Lines(Mutex<Vec<(String, String)>>);

impl BuildObserver for Lines {
    fn image_started(&self, _: &PlannedImage, _: usize, _: usize) {}
    fn line(&self, image: &PlannedImage, line: &str) {
        self.0
            .lock()
            .unwrap()
            .push((image.id.clone(), line.to_string()));
    }
    fn image_finished(&self, _: &PlannedImage, _: &ImageBuild) {}
}

struct Setup {
    directory: tempfile::TempDir,
    catalog: Catalog,
    plan: Plan,
}

fn setup() -> Setup {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let catalog = Catalog::load(&root.join("experiments")).unwrap();
    let plan = plan::load(&root.join("scenarios/quick.toml"), &catalog).unwrap();
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(directory.path().join("scripts")).unwrap();
    // The base script: waits (at most 60 s) for the marker, then writes a one-file rootfs.
    std::fs::write(
        directory.path().join("scripts/bootstrap-base.sh"),
        r#"set -eu
marker="$(dirname "$0")/../marker"
for _ in $(seq 600); do [ -e "$marker" ] && break; sleep 0.1; done
[ -e "$marker" ] || { echo "no content was prepared while the base was made" >&2; exit 1; }
tarball="${@: -1}"
mkdir -p "$tarball.d/etc" && echo PRETTY_NAME=test > "$tarball.d/etc/os-release"
tar -cf "$tarball" -C "$tarball.d" etc
"#,
    )
    .unwrap();
    Setup {
        directory,
        catalog,
        plan,
    }
}

async fn build(setup: &Setup, engine: &FakeEngine, lines: &Lines) -> Vec<ImageBuild> {
    let workspace = Workspace {
        root: setup.directory.path().join("work"),
        experiments: setup.catalog.root.clone(),
        dotnet: PathBuf::from("dotnet"),
    };
    let preparation = Marking {
        marker: setup.directory.path().join("marker"),
    };
    let options = BuildOptions {
        rebuild: false,
        scripts: setup.directory.path().join("scripts"),
    };
    build::build_plan_with(
        engine,
        &setup.plan,
        &setup.catalog,
        &workspace,
        &preparation,
        &options,
        lines,
    )
    .await
    .expect("the base is made and every image built")
}

#[tokio::test]
async fn content_is_prepared_while_the_base_is_made() {
    let setup = setup();
    let engine = FakeEngine::new();
    let lines = Lines::default();
    let results = build(&setup, &engine, &lines).await;
    assert_eq!(results.len(), setup.plan.images.len());
    for result in &results {
        assert!(
            matches!(result.status, BuildStatus::Built { .. }),
            "{}: {:?}",
            result.id,
            result.status
        );
    }
    let lines = lines.0.lock().unwrap().clone();
    let ahead: Vec<&String> = lines
        .iter()
        .filter(|(_, line)| line == "content prepared while the base was made")
        .map(|(id, _)| id)
        .collect();
    // The first image's content was asked for while the script waited for it.
    assert_eq!(ahead.first(), Some(&&setup.plan.images[0].id), "{lines:?}");
}

#[tokio::test]
async fn with_the_base_in_place_content_is_prepared_image_by_image() {
    let setup = setup();
    let engine = FakeEngine::new();
    // The base made once; the second build finds it and prepares nothing ahead.
    build(&setup, &engine, &Lines::default()).await;
    let lines = Lines::default();
    let results = build(&setup, &engine, &lines).await;
    assert!(results
        .iter()
        .all(|result| matches!(result.status, BuildStatus::UpToDate { .. })));
    let lines = lines.0.lock().unwrap().clone();
    let preparing = lines
        .iter()
        .filter(|(_, line)| line == "preparing content")
        .count();
    assert_eq!(preparing, setup.plan.images.len(), "{lines:?}");
}
