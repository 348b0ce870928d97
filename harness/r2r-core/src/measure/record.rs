//! Recording what an app uses, from outside it: the app runs in its image by its launch
//! rule, and the framework assemblies its process has mapped are read from the host's
//! `/proc` ([`crate::support::mapped`]) — once it is ready and has answered its first request
//! (a web app, a worker), or when it exits (an app whose rule is its exit code: held at its
//! exit, read, let go). The app is not changed and needs to print nothing.

use std::time::Duration;

use crate::engine::{containers, readiness, Engine, EngineError, Network};
use crate::inspect::verify::{container_spec, ready_within, VerifyOptions};
use crate::model::app::{AppKind, Launch};
use crate::model::plan::{Plan, PlannedImage};
use crate::model::recording::Recording;
use crate::support::mapped::{self, MappedError};

/// How long a web app or worker is left after it is ready (and answered its request) before
/// its mapped files are read: what it loads as the answer completes is recorded too.
pub const SETTLE: Duration = Duration::from_millis(300);

/// Why an app could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The app did not become ready by its rule (with what it printed last).
    #[error("`{app}` in {image} did not become ready ({rule}): {reason}")]
    NotReady {
        /// The app.
        app: String,
        /// The image.
        image: String,
        /// The rule.
        rule: String,
        /// What happened instead.
        reason: String,
    },
    /// The engine gives no process r2r can read (an engine on another machine).
    #[error("the engine gives no process id for the container of {image} that this host can read; record on the machine that runs the engine")]
    NoProcess {
        /// The image.
        image: String,
    },
    /// Reading the mapped files failed.
    #[error("reading what `{app}` mapped in {image}")]
    Mapped {
        /// The app.
        app: String,
        /// The image.
        image: String,
        /// Why.
        #[source]
        source: MappedError,
    },
    /// The thread that held the process at its exit failed.
    #[error("the thread holding the app at its exit failed: {0}")]
    Holder(String),
    /// The process mapped no framework assembly of the version (not a framework-dependent
    /// app of this .NET).
    #[error("`{app}` in {image} mapped no assembly of .NET {dotnet}'s shared frameworks (is it framework-dependent, on .NET {dotnet}?)")]
    NoFramework {
        /// The app.
        app: String,
        /// The image.
        image: String,
        /// The version.
        dotnet: String,
    },
}

/// How often an app that ends by itself is started again when it ended before r2r could hold
/// it (a loaded machine can let a short-lived app finish before r2r attaches).
pub const ATTEMPTS: usize = 5;

/// Records `app` (kind and launch rule) in the app image `image` of `plan`: see the module's
/// documentation. The container is removed whatever happens. An app that ends by itself and
/// was gone before r2r could hold it is run again, up to [`ATTEMPTS`] times.
pub async fn record(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    app: (&str, AppKind, &Launch),
    options: &VerifyOptions,
) -> Result<Recording, RecordError> {
    let mut attempt = 1;
    loop {
        match record_once(engine, plan, image, app, options).await {
            Err(RecordError::Mapped {
                source: MappedError::Gone { .. },
                ..
            }) if attempt < ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

async fn record_once(
    engine: &dyn Engine,
    plan: &Plan,
    image: &PlannedImage,
    (app, kind, launch): (&str, AppKind, &Launch),
    options: &VerifyOptions,
) -> Result<Recording, RecordError> {
    let reference = image.reference().to_string();
    let details = engine.inspect_image(&reference).await?;
    let image_id = details.map(|d| d.id).unwrap_or_default();
    let network = match kind {
        AppKind::Webapi => Network::Host,
        AppKind::Console | AppKind::Worker => Network::None,
    };
    let mut spec = container_spec(plan, image, options, network);
    let not_ready = |reason: String| RecordError::NotReady {
        app: app.to_string(),
        image: reference.clone(),
        rule: launch.ready.describe(),
        reason,
    };
    let (port, env) = readiness::port_and_env(kind, launch).map_err(&not_ready)?;
    spec.env = env;
    if !launch.args.is_empty() {
        spec.command = Some(launch.args.clone());
    }
    let id = containers::start(engine, &spec).await?;
    let result = read_when_ready(engine, &id, (app, launch, port), &reference, options).await;
    let output = match &result {
        Err(RecordError::NotReady { .. }) => engine
            .container_logs(&id, containers::LOG_CAP_BYTES)
            .await
            .map(|logs| format!("{}{}", logs.stdout, logs.stderr))
            .unwrap_or_default(),
        _ => String::new(),
    };
    containers::remove(engine, &id).await;
    let (mapped, after) = match result {
        Err(RecordError::NotReady { reason, .. }) => {
            let tail = containers::tail(&output, 4);
            return Err(not_ready(if tail.is_empty() {
                reason
            } else {
                format!("{reason}; output: {tail}")
            }));
        }
        other => other?,
    };
    let assemblies = Recording::assemblies_from_mapped(&mapped, &plan.scenario.dotnet);
    if assemblies.is_empty() {
        return Err(RecordError::NoFramework {
            app: app.to_string(),
            image: reference,
            dotnet: plan.scenario.dotnet.clone(),
        });
    }
    Ok(Recording {
        app: app.to_string(),
        dotnet: plan.scenario.dotnet.clone(),
        image: reference,
        image_id,
        after,
        assemblies,
    })
}

/// Waits for the started container `id` by the rule and reads the mapped files; returns them
/// and when they were read.
async fn read_when_ready(
    engine: &dyn Engine,
    id: &str,
    (app, launch, port): (&str, &Launch, Option<u16>),
    image: &str,
    options: &VerifyOptions,
) -> Result<(Vec<String>, String), RecordError> {
    let no_process = || RecordError::NoProcess {
        image: image.to_string(),
    };
    let mapped_error = |source| RecordError::Mapped {
        app: app.to_string(),
        image: image.to_string(),
        source,
    };
    let not_ready = |reason: String| RecordError::NotReady {
        app: app.to_string(),
        image: image.to_string(),
        rule: launch.ready.describe(),
        reason,
    };
    // An app that ends by itself is held at its exit from the start.
    let held = match launch.ready.exit {
        Some(_) => {
            let pid = engine.container_pid(id).await?.ok_or_else(no_process)?;
            Some(tokio::task::spawn_blocking(move || {
                mapped::mapped_at_exit(pid)
            }))
        }
        None => None,
    };
    let ready = ready_within(engine, id, launch, port, options)
        .await
        .map_err(|error| {
            not_ready(
                error.unwrap_or_else(|| format!("not ready within {:?}", options.run_timeout)),
            )
        });
    if let Some(held) = held {
        // The holder returns once the process has exited (or could not be held).
        let mapped = held
            .await
            .map_err(|error| RecordError::Holder(error.to_string()))?;
        ready?;
        let logs = engine.container_logs(id, containers::LOG_CAP_BYTES).await?;
        readiness::check_output(&launch.ready, &format!("{}{}", logs.stdout, logs.stderr))
            .map_err(&not_ready)?;
        let code = launch.ready.exit.unwrap_or_default();
        return Ok((
            mapped.map_err(mapped_error)?,
            format!("at its exit (code {code})"),
        ));
    }
    ready?;
    tokio::time::sleep(SETTLE).await;
    let pid = engine.container_pid(id).await?.ok_or_else(no_process)?;
    let mapped = mapped::mapped_files(pid)
        .map_err(|source| mapped_error(MappedError::Read { pid, source }))?;
    let request = launch
        .request
        .as_ref()
        .map(|path| format!(", then GET {path}"))
        .unwrap_or_default();
    Ok((
        mapped,
        format!(
            "ready ({}){request}, and {} ms more",
            launch.ready.describe(),
            SETTLE.as_millis()
        ),
    ))
}
