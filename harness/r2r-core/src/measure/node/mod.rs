//! A new node, for real: every app image (with everything under it) is pushed to a registry
//! on 127.0.0.1 that r2r starts, and pulled by a second engine that r2r starts empty — at full
//! loopback speed, or through a proxy whose answers share a byte rate the reader chooses (the
//! node's link) — then started to ready and its first response. Each pull lands on a node that
//! holds nothing, or (the `shared` state) one that already holds everything under the app's
//! own layers, as a node does that runs another app of the same variant. Every image is
//! measured once per round, rate and node state, in a shuffled order; the node is emptied
//! before and after each. The registry, the node and the proxies are stopped when the
//! measurement ends, however it ends.

pub mod services;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::engine::{Engine, EngineError, Images};
use crate::measure::registry::{self, RegistryError, StoredLayer};
use crate::measure::startup::{run_once, Cache, StartupOptions, Target};
use crate::measure::stats::{stream_seed, SeededRandom};
use crate::results::node_file::{node_state, NodeRow};

/// A rate of the node's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// No limit: the registry straight over the loopback interface (what is measured is
    /// unpacking, not the network).
    Loopback,
    /// A limit, bits per second.
    Limited(u64),
}

impl Rate {
    /// Its label: `loopback`, `100mbit`, `1gbit`, `2500kbit`.
    pub fn label(&self) -> String {
        match *self {
            Rate::Loopback => "loopback".to_string(),
            Rate::Limited(bits) if bits % 1_000_000_000 == 0 => {
                format!("{}gbit", bits / 1_000_000_000)
            }
            Rate::Limited(bits) if bits % 1_000_000 == 0 => format!("{}mbit", bits / 1_000_000),
            Rate::Limited(bits) => format!("{}kbit", bits / 1000),
        }
    }

    /// Bits per second; `None` for loopback.
    pub fn bits_per_second(&self) -> Option<u64> {
        match *self {
            Rate::Loopback => None,
            Rate::Limited(bits) => Some(bits),
        }
    }
}

/// Parses a rate: `loopback`, or a number with `kbit`, `mbit` or `gbit` (e.g. `100mbit`,
/// `1gbit`, `2.5gbit`).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let text = text.trim().to_ascii_lowercase();
    if text == "loopback" {
        return Ok(Rate::Loopback);
    }
    let units = [("kbit", 1e3), ("mbit", 1e6), ("gbit", 1e9)];
    let refuse = || {
        format!("rate `{text}`: give `loopback` or a number with kbit, mbit or gbit (e.g. 100mbit, 1gbit)")
    };
    let (number, scale) = units
        .iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, *scale)))
        .ok_or_else(refuse)?;
    let value: f64 = number.parse().map_err(|_| refuse())?;
    let bits = (value * scale).round();
    if !(1e5..=1e12).contains(&bits) {
        return Err(format!("rate `{text}`: from 100kbit to 1000gbit"));
    }
    Ok(Rate::Limited(bits as u64))
}

/// The settings of `node`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct NodeSettings {
    /// New node: the link rates to pull at (`loopback`: no limit; e.g. 100mbit, 1gbit)
    #[arg(id = "node_rates", long = "node-rates", value_delimiter = ',', value_parser = parse_rate, default_values = ["loopback", "1gbit", "100mbit"])]
    pub rates: Vec<Rate>,
    /// New node: rounds (every image once per round, rate and node state)
    #[arg(id = "node_rounds", long = "node-rounds", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub rounds: u64,
    /// New node: measure only the empty node (not also one that holds the shared layers)
    #[arg(id = "node_empty_only", long = "node-empty-only")]
    pub empty_only: bool,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            rates: vec![
                Rate::Loopback,
                Rate::Limited(1_000_000_000),
                Rate::Limited(100_000_000),
            ],
            rounds: 5,
            empty_only: false,
        }
    }
}

impl NodeSettings {
    /// The node states measured.
    pub fn states(&self) -> Vec<&'static str> {
        if self.empty_only {
            vec![node_state::EMPTY]
        } else {
            vec![node_state::EMPTY, node_state::SHARED]
        }
    }
}

/// Why the new-node measurement could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A service did not start.
    #[error(transparent)]
    Service(#[from] services::ServiceError),
    /// An image could not be pushed.
    #[error("pushing {image} to the node's registry: {source}")]
    Push {
        /// The image.
        image: String,
        /// Why.
        #[source]
        source: RegistryError,
    },
    /// The rate-limited proxy did not start.
    #[error("starting the {rate} proxy: {source}")]
    Proxy {
        /// Its rate.
        rate: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One image as the node pulls it: its repository in the registry, the layers stored, and
/// what stands under it (pulled before it on a `shared` node).
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The image's target.
    pub target: Target,
    /// Its repository in the registry (`r2r-node/<plan id>`).
    pub repository: String,
    /// Its layers as stored.
    pub layers: Vec<StoredLayer>,
    /// The repository of the image under its own layers.
    pub under: Option<String>,
}

/// A repository name for a plan id or reference: lower case, `[a-z0-9._-]` only.
pub fn repository(name: &str) -> String {
    let cleaned: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!(
        "r2r-node/{}",
        cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric())
    )
}

/// What an engine said while it pulled, each message with when it came (seconds since the
/// pull was asked for).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullEvents(pub Vec<(f64, String, String)>);

/// What a pull's messages say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullFigures {
    /// Layers downloaded.
    pub pulled: usize,
    /// Layers the engine already held.
    pub present: usize,
    /// Compressed bytes of the downloaded layers (from the registry's sizes), bytes.
    pub bytes: u64,
    /// From the request to the last "Download complete", seconds.
    pub download_s: Option<f64>,
    /// From the first "Extracting" to the last "Pull complete", seconds.
    pub extract_s: Option<f64>,
}

impl PullEvents {
    /// The figures of the pull of an image whose stored layers are `layers` (the engine
    /// names a layer by the first 12 hex digits of its blob's digest).
    pub fn figures(&self, layers: &[StoredLayer]) -> PullFigures {
        let mut statuses: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (_, id, status) in &self.0 {
            if !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()) {
                statuses.entry(id).or_default().push(status);
            }
        }
        let present = statuses
            .values()
            .filter(|s| s.iter().any(|s| s.starts_with("Already exists")))
            .count();
        let downloaded: Vec<&str> = statuses
            .iter()
            .filter(|(_, s)| {
                s.iter()
                    .any(|s| s.starts_with("Download complete") || s.starts_with("Pull complete"))
            })
            .filter(|(_, s)| !s.iter().any(|s| s.starts_with("Already exists")))
            .map(|(id, _)| *id)
            .collect();
        let bytes = downloaded
            .iter()
            .filter_map(|id| {
                layers
                    .iter()
                    .find(|layer| layer.digest.trim_start_matches("sha256:").starts_with(id))
            })
            .map(|layer| layer.size_bytes)
            .sum();
        let last = |prefix: &str| {
            self.0
                .iter()
                .filter(|(_, _, status)| status.starts_with(prefix))
                .map(|(at, _, _)| *at)
                .fold(None, |most: Option<f64>, at| {
                    Some(most.map_or(at, |m| m.max(at)))
                })
        };
        let first_extract = self
            .0
            .iter()
            .find(|(_, _, status)| status.starts_with("Extracting"))
            .map(|(at, _, _)| *at);
        PullFigures {
            pulled: downloaded.len(),
            present,
            bytes,
            download_s: last("Download complete"),
            extract_s: first_extract
                .zip(last("Pull complete"))
                .map(|(first, last)| (last - first).max(0.0)),
        }
    }
}

/// Pushes every target, and the image under each app's own layers, to the registry;
/// returns them in the order of `targets`.
pub async fn push_all(
    engine: &dyn Images,
    registry_address: SocketAddr,
    targets: &[Target],
    under: &dyn Fn(&Target) -> Option<String>,
) -> Result<Vec<Pushed>, NodeError> {
    let mut pushed = Vec::new();
    let mut done: BTreeMap<String, ()> = BTreeMap::new();
    for target in targets {
        let repository_name = repository(&target.image);
        let layers = registry::push_and_read(
            engine,
            registry_address,
            &target.reference,
            &repository_name,
            "latest",
        )
        .await
        .map_err(|source| NodeError::Push {
            image: target.reference.clone(),
            source,
        })?;
        let below = under(target);
        if let Some(reference) = &below {
            if done.insert(reference.clone(), ()).is_none() {
                registry::push_and_read(
                    engine,
                    registry_address,
                    reference,
                    &repository(reference),
                    "latest",
                )
                .await
                .map_err(|source| NodeError::Push {
                    image: reference.clone(),
                    source,
                })?;
            }
        }
        pushed.push(Pushed {
            target: target.clone(),
            repository: repository_name,
            layers,
            under: below.map(|reference| repository(&reference)),
        });
    }
    Ok(pushed)
}

/// Removes every image from the node's engine; an error when one stays.
pub async fn empty_node(node: &dyn Images) -> Result<(), String> {
    let text = |error: EngineError| error.to_string();
    for image in node.list_images(&[]).await.map_err(text)? {
        for tag in &image.tags {
            node.remove_image(tag).await.map_err(text)?;
        }
        if image.tags.is_empty() {
            node.remove_image(&image.id).await.map_err(text)?;
        }
    }
    let left = node.list_images(&[]).await.map_err(text)?;
    if let Some(image) = left.first() {
        return Err(format!(
            "the node still holds {} image(s) after emptying it (first: {})",
            left.len(),
            image.tags.first().unwrap_or(&image.id)
        ));
    }
    Ok(())
}

/// Pulls `reference` into the node, timing it by the wall clock and the engine's messages.
pub async fn timed_pull(
    node: &dyn Images,
    reference: &str,
) -> (Result<(), EngineError>, f64, PullEvents) {
    let events = Mutex::new(Vec::new());
    let started = Instant::now();
    let on_progress = |id: &str, status: &str| {
        let at = started.elapsed().as_secs_f64();
        if let Ok(mut events) = events.lock() {
            events.push((at, id.to_string(), status.to_string()));
        }
    };
    let result = node.pull_image_progress(reference, &on_progress).await;
    let seconds = started.elapsed().as_secs_f64();
    let events = events.into_inner().unwrap_or_default();
    (result, seconds, PullEvents(events))
}

/// One image on one new node: empty the node, (pull what stands under it), pull it timed,
/// start it, empty the node. `host` is where the node pulls from (the registry or a proxy).
#[allow(clippy::too_many_arguments)]
pub async fn node_once(
    node: &dyn Engine,
    scenario: &str,
    pushed: &Pushed,
    (host, registry_address): (SocketAddr, SocketAddr),
    (rate, state): (Rate, &str),
    startup: &StartupOptions,
    round: usize,
) -> NodeRow {
    let target = &pushed.target;
    let mut row = NodeRow {
        round,
        app: target.app.clone(),
        image: target.image.clone(),
        variants: target.variants.join(";"),
        rate: rate.label(),
        rate_bits_per_second: rate.bits_per_second(),
        node: state.to_string(),
        layers_pulled: None,
        layers_present: None,
        bytes_pulled: None,
        pull_s: None,
        download_s: None,
        extract_s: None,
        ready_ms: None,
        first_response_ms: None,
        total_s: None,
        error: String::new(),
    };
    if let Err(error) = empty_node(node).await {
        row.error = format!("emptying the node: {error}");
        return row;
    }
    if state == node_state::SHARED {
        if let Some(under) = &pushed.under {
            let reference = format!("{registry_address}/{under}:latest");
            if let Err(error) = node.pull_image(&reference).await {
                row.error = format!("pulling what stands under the app ({reference}): {error}");
                let _ = empty_node(node).await;
                return row;
            }
        }
    }
    let reference = format!("{host}/{}:latest", pushed.repository);
    let (pulled, pull_s, events) = timed_pull(node, &reference).await;
    if let Err(error) = pulled {
        row.error = format!("pull failed: {error}");
        let _ = empty_node(node).await;
        return row;
    }
    let figures = events.figures(&pushed.layers);
    row.layers_pulled = Some(figures.pulled);
    row.layers_present = Some(figures.present);
    row.bytes_pulled = Some(figures.bytes);
    row.pull_s = Some(round4(pull_s));
    row.download_s = figures.download_s.map(round4);
    row.extract_s = figures.extract_s.map(round4);
    let mut on_node = target.clone();
    on_node.reference = reference;
    let mut options = startup.clone();
    options.counters = false;
    let record = run_once(node, scenario, &on_node, Cache::Warm, &options).await;
    if record.ok {
        row.ready_ms = record.total_ms;
        row.first_response_ms = record.first_request_ms;
        row.total_s = record.total_ms.map(|ready| {
            round4(pull_s + (ready + record.first_request_ms.unwrap_or(0.0)) / 1000.0)
        });
    } else {
        row.error = format!("start after the pull failed: {}", record.error);
    }
    if let Err(error) = empty_node(node).await {
        if row.error.is_empty() {
            row.error = format!("emptying the node: {error}");
        }
    }
    row
}

/// Seconds to 0.1 ms.
fn round4(seconds: f64) -> f64 {
    (seconds * 1e4).round() / 1e4
}

/// The order of one round's images: every one once, shuffled by the seed.
pub fn round_order(count: usize, seed: u64, round: usize, rate: &str, state: &str) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    let round_name = round.to_string();
    SeededRandom::new(stream_seed(seed, &["node", &round_name, rate, state])).shuffle(&mut order);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_label_both_ways() {
        assert_eq!(parse_rate("loopback"), Ok(Rate::Loopback));
        assert_eq!(parse_rate("100mbit"), Ok(Rate::Limited(100_000_000)));
        assert_eq!(parse_rate("1Gbit"), Ok(Rate::Limited(1_000_000_000)));
        assert_eq!(parse_rate("2.5gbit"), Ok(Rate::Limited(2_500_000_000)));
        for rate in ["loopback", "100mbit", "1gbit", "250kbit"] {
            assert_eq!(parse_rate(rate).unwrap().label(), rate);
        }
        let error = parse_rate("100mb").unwrap_err();
        assert!(error.contains("kbit, mbit or gbit"), "{error}");
        assert!(parse_rate("1kbit").is_err());
        assert!(parse_rate("fastmbit").is_err());
    }

    #[test]
    fn repositories_are_valid_names() {
        assert_eq!(
            repository("aspnet-composite.webapi"),
            "r2r-node/aspnet-composite.webapi"
        );
        assert_eq!(
            repository("r2r/composite:aspnet-composite-frameworks"),
            "r2r-node/r2r-composite-aspnet-composite-frameworks"
        );
    }

    #[test]
    fn a_pulls_messages_give_layers_bytes_and_phases() {
        let layers = vec![
            StoredLayer {
                digest: "sha256:aaaaaaaaaaaa1111".into(),
                size_bytes: 1000,
            },
            StoredLayer {
                digest: "sha256:bbbbbbbbbbbb2222".into(),
                size_bytes: 20_000,
            },
            StoredLayer {
                digest: "sha256:cccccccccccc3333".into(),
                size_bytes: 300,
            },
        ];
        let event = |at: f64, id: &str, status: &str| (at, id.to_string(), status.to_string());
        let events = PullEvents(vec![
            event(0.01, "latest", "Pulling from r2r-node/x"),
            event(0.02, "aaaaaaaaaaaa", "Already exists"),
            event(0.03, "bbbbbbbbbbbb", "Pulling fs layer"),
            event(0.03, "cccccccccccc", "Pulling fs layer"),
            event(0.50, "cccccccccccc", "Download complete"),
            event(1.20, "bbbbbbbbbbbb", "Downloading"),
            event(2.00, "bbbbbbbbbbbb", "Download complete"),
            event(2.10, "bbbbbbbbbbbb", "Extracting"),
            event(3.00, "bbbbbbbbbbbb", "Pull complete"),
            event(3.10, "cccccccccccc", "Extracting"),
            event(3.20, "cccccccccccc", "Pull complete"),
            event(3.21, "", "Digest: sha256:dd"),
        ]);
        let figures = events.figures(&layers);
        assert_eq!(figures.pulled, 2);
        assert_eq!(figures.present, 1);
        assert_eq!(figures.bytes, 20_300);
        assert_eq!(figures.download_s, Some(2.0));
        assert!((figures.extract_s.unwrap() - 1.1).abs() < 1e-9);
    }

    #[test]
    fn every_round_measures_every_image_once_in_a_seeded_order() {
        let order = round_order(6, 3, 2, "1gbit", "empty");
        assert_eq!(order, round_order(6, 3, 2, "1gbit", "empty"));
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..6).collect::<Vec<_>>());
    }
}
