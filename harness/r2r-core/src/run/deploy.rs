//! The steps of what a deployment pays: `node` (pull onto a new node, start, first response)
//! and `load` (the first seconds under load). Each writes its rows whole after every image, so
//! a failure keeps what was measured before it; every service they start is stopped when the
//! step ends, however it ends.

use std::path::Path;

use crate::measure::load::{self, LoadSettings};
use crate::measure::node::services::{NodeEngine, Registry};
use crate::measure::node::{self, NodeError, NodeSettings};
use crate::measure::startup::{self, StartupOptions, Target};
use crate::model::plan::Parent;
use crate::results::RunDir;
use crate::support::throttle::Throttle;

use super::{Pipeline, RunError};

impl Pipeline<'_> {
    /// The plan's app images that are built (the others are named in a note and left out),
    /// limited to the start-up selection `only` (with their baselines).
    async fn built_targets(&self, only: &[String], what: &str) -> Result<Vec<Target>, RunError> {
        let selected = startup::select(
            startup::targets(self.plan),
            &self.plan.scenario.variants,
            only,
        )
        .map_err(RunError::other)?;
        let mut targets = Vec::new();
        for target in selected {
            let emulated = self
                .plan
                .image(&target.image)
                .and_then(startup::not_timed_reason);
            if let Some(reason) = emulated {
                self.observer
                    .note(&format!("{what}: {} left out: {reason}", target.image));
            } else if self
                .engine
                .inspect_image(&target.reference)
                .await?
                .is_some()
            {
                targets.push(target);
            } else {
                self.observer.note(&format!(
                    "{what}: {} left out: {} is not built",
                    target.image, target.reference
                ));
            }
        }
        Ok(targets)
    }

    /// What stands under an app image's own layers: its parent in the plan, or the base.
    fn under(&self, target: &Target) -> Option<String> {
        let image = self.plan.image(&target.image)?;
        Some(match &image.parent {
            Parent::Image(id) => self.plan.image(id)?.reference().to_string(),
            Parent::Base(base) => base.clone(),
        })
    }

    /// `node`: see [`crate::measure::node`]. `Ok(false)` when a row has an error.
    pub async fn node(
        &self,
        settings: &NodeSettings,
        startup: &StartupOptions,
        directory: &Path,
    ) -> Result<bool, RunError> {
        std::fs::create_dir_all(directory)
            .map_err(|error| RunError::io("creating", directory, error))?;
        let targets = self.built_targets(&startup.only, "node").await?;
        if targets.is_empty() {
            return Err(RunError::other("node: no built app image to pull"));
        }
        let mut registry = Registry::start()
            .await
            .map_err(NodeError::from)
            .map_err(RunError::other)?;
        self.observer.note(&format!(
            "node: registry on {}; pushing {} image(s)",
            registry.address,
            targets.len()
        ));
        let under = |target: &Target| self.under(target);
        let pushed = node::push_all(self.engine, registry.address, &targets, &under)
            .await
            .map_err(RunError::other)?;
        let node = NodeEngine::start()
            .await
            .map_err(NodeError::from)
            .map_err(RunError::other)?;
        self.observer.note(&format!(
            "node: an empty engine on {}",
            node.socket.display()
        ));
        let mut hosts = Vec::new();
        for rate in &settings.rates {
            let host = match rate.bits_per_second() {
                None => (*rate, registry.address, None),
                Some(bits) => {
                    let throttle = Throttle::start(registry.address, bits as f64 / 8.0)
                        .await
                        .map_err(|source| NodeError::Proxy {
                            rate: rate.label(),
                            source,
                        })
                        .map_err(RunError::other)?;
                    (*rate, throttle.address, Some(throttle))
                }
            };
            hosts.push(host);
        }
        let run = RunDir::new(directory);
        let mut rows = Vec::new();
        let mut ok = true;
        for round in 1..=settings.rounds as usize {
            for (rate, host, _) in &hosts {
                for state in settings.states() {
                    let order =
                        node::round_order(pushed.len(), startup.seed, round, &rate.label(), state);
                    for index in order {
                        let image = &pushed[index];
                        let row = node::node_once(
                            &node.engine,
                            &self.plan.scenario.name,
                            image,
                            (*host, registry.address),
                            (*rate, state),
                            startup,
                            round,
                        )
                        .await;
                        self.observer.note(&describe_node_row(&row));
                        let failed = !row.error.is_empty();
                        ok &= !failed;
                        rows.push(row);
                        run.write_rows(&rows)
                            .map_err(|error| RunError::io("writing", &run.node_csv(), error))?;
                        // A registry that went away fails every pull after: stop at once.
                        if failed {
                            if let Some(down) = registry.down().await {
                                return Err(RunError::other(format!(
                                    "node: {down}; the {} row(s) measured before are kept in {}",
                                    rows.len() - 1,
                                    run.node_csv().display()
                                )));
                            }
                        }
                    }
                }
            }
        }
        // The proxies, the node's engine and the registry stop here, in that order.
        drop(hosts);
        drop(node);
        drop(registry);
        self.observer.note(&format!(
            "node results written to {}",
            run.node_csv().display()
        ));
        Ok(ok)
    }

    /// `load`: see [`crate::measure::load`]. `Ok(false)` when a run has an error.
    pub async fn load(
        &self,
        settings: &LoadSettings,
        startup: &StartupOptions,
        directory: &Path,
    ) -> Result<bool, RunError> {
        std::fs::create_dir_all(directory)
            .map_err(|error| RunError::io("creating", directory, error))?;
        let generator = load::generator().map_err(RunError::other)?;
        let targets = load::loaded(self.built_targets(&startup.only, "load").await?);
        if targets.is_empty() {
            return Err(RunError::other(load::LoadError::NoWebApp));
        }
        let script_directory = tempfile::tempdir().map_err(RunError::other)?;
        let script = script_directory.path().join("buckets.lua");
        std::fs::write(&script, load::SCRIPT)
            .map_err(|error| RunError::io("writing", &script, error))?;
        let run = RunDir::new(directory);
        let (mut seconds, mut runs) = (Vec::new(), Vec::new());
        let mut ok = true;
        for round in 1..=settings.rounds as usize {
            for index in load::round_order(&targets, startup.seed, round) {
                let (rows, row) = load::load_once(
                    self.engine,
                    &self.plan.scenario.name,
                    &targets[index],
                    (settings, startup),
                    (&generator, &script),
                    round,
                )
                .await;
                self.observer.note(&describe_load_row(&row));
                ok &= row.error.is_empty();
                seconds.extend(rows);
                runs.push(row);
                run.write_rows(&seconds)
                    .map_err(|error| RunError::io("writing", &run.load_csv(), error))?;
                run.write_rows(&runs)
                    .map_err(|error| RunError::io("writing", &run.load_runs_csv(), error))?;
            }
        }
        self.observer.note(&format!(
            "load results written to {}",
            run.load_csv().display()
        ));
        Ok(ok)
    }
}

/// One line of progress for a node row.
fn describe_node_row(row: &crate::results::node_file::NodeRow) -> String {
    let head = format!(
        "node: round {} {} {} {}",
        row.round, row.rate, row.node, row.image
    );
    if !row.error.is_empty() {
        return format!("{head}: {}", row.error);
    }
    format!(
        "{head}: {:.1} MB in {:.2} s, ready + first response {:.0} ms, total {:.2} s",
        row.bytes_pulled.unwrap_or(0) as f64 / 1e6,
        row.pull_s.unwrap_or(f64::NAN),
        row.ready_ms.unwrap_or(f64::NAN) + row.first_response_ms.unwrap_or(0.0),
        row.total_s.unwrap_or(f64::NAN)
    )
}

/// One line of progress for a load run.
fn describe_load_row(row: &crate::results::load_file::LoadRunRow) -> String {
    let head = format!("load: round {} {}", row.round, row.image);
    if !row.error.is_empty() {
        return format!("{head}: {}", row.error);
    }
    format!(
        "{head}: {} requests in {} s, first 5 s {:.0}/s, final {:.0}/s, p99 {:.1} ms",
        row.requests.unwrap_or(0),
        row.seconds,
        row.first_5s_rps.unwrap_or(f64::NAN),
        row.final_rps.unwrap_or(f64::NAN),
        row.latency_p99_ms.unwrap_or(f64::NAN)
    )
}
