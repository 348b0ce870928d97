//! The settings of a start-up measurement, as given on the command line of `r2r run`,
//! `r2r measure startup` and `r2r compare --paired-runs`, with every default in this file.
//!
//! [`StartupSettings`] is what a person asks for (a flag not given stays `None`);
//! [`StartupSettings::options`] turns it, with the defaults of the command
//! ([`StartupDefaults`]), into the [`StartupOptions`] the measurement runs with. It
//! destructures the settings completely, so a new setting that is not handled there does not
//! compile: adding a setting touches this file and the place in the measurement that uses it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::Network;
use crate::measure::startup::{Cache, Readiness, StartupOptions};
pub use crate::model::limits::{parse_budget, parse_precision, Budget, Precision};
use crate::model::scenario::ScenarioStartup;

/// Recorded runs per image and cache mode when `--runs` is not given.
pub const DEFAULT_MIN_RUNS: usize = 10;
/// Unrecorded warm-up runs per image and cache mode.
pub const DEFAULT_WARMUP: usize = 1;
/// Seed of the run order and of the bootstrap.
pub const DEFAULT_SEED: u64 = 1;
/// Seconds a run may take to become ready.
pub const DEFAULT_READY_TIMEOUT_SECONDS: f64 = 30.0;
/// `r2r run`'s precision target when neither `--precision` nor `--runs` is given (±3%).
pub const RUN_PRECISION: f64 = 0.03;
/// `r2r run`'s budget of time when `--max-time` is not given.
pub const RUN_MAX_TIME: Duration = Duration::from_secs(15 * 60);
/// `r2r run`'s budget of rounds when `--max-runs` is not given.
pub const RUN_MAX_RUNS: usize = 100;
/// The fewest rounds of a paired comparison (a paired interval needs two).
pub const PAIRED_MIN_RUNS: usize = 2;
/// Memory limit of every start-up container, bytes (not a setting).
pub const CONTAINER_MEMORY_LIMIT_BYTES: i64 = 1 << 30;

/// Which cache modes to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheModes {
    /// Drop the page cache before every run (needs root).
    Cold,
    /// Leave the page cache alone.
    Warm,
    /// Both, interleaved.
    Both,
}

impl CacheModes {
    /// The cache modes this choice names.
    pub fn caches(self) -> Vec<Cache> {
        match self {
            CacheModes::Cold => vec![Cache::Cold],
            CacheModes::Warm => vec![Cache::Warm],
            CacheModes::Both => vec![Cache::Cold, Cache::Warm],
        }
    }
}

/// The web API's readiness signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadySignal {
    /// First HTTP 200 on 127.0.0.1.
    Http,
    /// The app's ready line in its output.
    Log,
}

/// The console app's network in start-up runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsoleNetwork {
    /// No network.
    None,
    /// The host's network.
    Host,
}

/// What a person asks of a start-up measurement. Flattened into the start-up commands; the
/// doc comments are their help. Under `r2r run`, a scenario's `[startup]` table replaces the
/// `run` defaults of runs, precision, max-time and max-runs ([`StartupDefaults::with_scenario`]).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct StartupSettings {
    /// Recorded start-up runs per image and cache mode: exactly this many when given alone,
    /// at least this many with --precision [default: 10; `run`: at least 10, until ±3% or the
    /// budget]
    #[arg(long)]
    pub runs: Option<usize>,
    /// Unrecorded warm-up start-up runs per image and cache mode.
    #[arg(long, default_value_t = DEFAULT_WARMUP)]
    pub warmup: usize,
    /// Keep adding rounds until this many seconds have passed.
    #[arg(long, default_value_t = 0.0)]
    pub min_seconds: f64,
    /// Cache modes of the start-up runs [default: `measure startup`: both; `run`: both where
    /// the page cache can be dropped, which needs root, warm only otherwise]
    #[arg(long, value_enum)]
    pub cache: Option<CacheModes>,
    /// Seed of the start-up run order and of the bootstrap [default: `run`: made from the run
    /// id; otherwise 1]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Start-up precision: keep adding whole rounds past --runs until every image's paired
    /// 95% interval against its baseline (total time, each cache mode) is within ±PCT of its
    /// speed-up, or a budget (--max-time, --max-runs) is spent; `off`: exactly --runs rounds
    /// [default: off; `run`: 3%, or off when --runs is given]
    #[arg(long, value_name = "PCT", value_parser = parse_precision)]
    pub precision: Option<Precision>,
    /// Start-up budget of time: no round starts after this (e.g. 90s, 15m, 1h; `off`: none)
    /// [default: 15m with a precision target, none without]
    #[arg(long, value_name = "DURATION", value_parser = parse_budget)]
    pub max_time: Option<Budget>,
    /// Start-up budget of rounds (recorded runs per image and cache mode; 0: none)
    /// [default: 100 with a precision target, none without]
    #[arg(long, value_name = "N")]
    pub max_runs: Option<usize>,
    /// Measure start-up of these images only (plan ids, comma-separated); each one's
    /// baseline is measured too.
    #[arg(long, value_name = "IMAGE,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Seconds a start-up run may take to become ready.
    #[arg(long, default_value_t = DEFAULT_READY_TIMEOUT_SECONDS)]
    pub timeout: f64,
    /// The web API's readiness signal: the first HTTP 200 on 127.0.0.1, or its ready line in
    /// the logs.
    #[arg(long, value_enum, default_value = "http")]
    pub ready: ReadySignal,
    /// Run the app containers on these CPUs (`1`, `2-3`, `0,2`) and keep r2r off them.
    #[arg(long, value_name = "CPUS")]
    pub cpuset: Option<String>,
    /// Idle milliseconds before every start-up run (after its page-cache drop).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub pause_ms: u64,
    /// The console app's network: none (as `docker run --network none`) or host. The web API
    /// always uses host networking.
    #[arg(long, value_enum, default_value = "none")]
    pub console_network: ConsoleNetwork,
    /// Do not count bytes read, major faults and peak memory (no parent cgroup per run, no
    /// sampling).
    #[arg(long)]
    pub no_counters: bool,
}

impl Default for StartupSettings {
    /// Nothing given: what the flags mean when they are left out.
    fn default() -> Self {
        StartupSettings {
            runs: None,
            warmup: DEFAULT_WARMUP,
            min_seconds: 0.0,
            cache: None,
            seed: None,
            precision: None,
            max_time: None,
            max_runs: None,
            only: Vec::new(),
            timeout: DEFAULT_READY_TIMEOUT_SECONDS,
            ready: ReadySignal::Http,
            cpuset: None,
            pause_ms: 0,
            console_network: ConsoleNetwork::None,
            no_counters: false,
        }
    }
}

/// The cache modes measured when `--cache` is not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultCaches {
    /// Cold and warm.
    Both,
    /// Cold and warm where the page cache can be dropped (root), warm only otherwise.
    WhereDroppable,
    /// These (e.g. those of the run a paired comparison belongs to).
    These(Vec<Cache>),
}

/// What a command does with a setting that is not given.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupDefaults {
    /// Recorded runs per image and cache mode, at least.
    pub min_runs: usize,
    /// Precision target (a fraction) when neither `--precision` nor `--runs` is given.
    pub precision: Option<f64>,
    /// Budget of time of a precision target (none without one).
    pub max_time: Option<Duration>,
    /// Budget of rounds of a precision target (none without one).
    pub max_runs: Option<usize>,
    /// Cache modes.
    pub caches: DefaultCaches,
    /// Seed when `--seed` is not given.
    pub seed: u64,
}

impl StartupDefaults {
    /// `r2r run`: at least [`DEFAULT_MIN_RUNS`] rounds until [`RUN_PRECISION`] or a budget
    /// ([`RUN_MAX_TIME`], [`RUN_MAX_RUNS`]); cold runs where the page cache can be dropped.
    pub fn run() -> StartupDefaults {
        StartupDefaults {
            min_runs: DEFAULT_MIN_RUNS,
            precision: Some(RUN_PRECISION),
            max_time: Some(RUN_MAX_TIME),
            max_runs: Some(RUN_MAX_RUNS),
            caches: DefaultCaches::WhereDroppable,
            seed: DEFAULT_SEED,
        }
    }

    /// These defaults with a scenario's `[startup]` table in place of those it sets.
    pub fn with_scenario(self, scenario: &ScenarioStartup) -> StartupDefaults {
        let ScenarioStartup {
            runs,
            precision,
            max_time,
            max_runs,
        } = scenario;
        StartupDefaults {
            min_runs: runs.unwrap_or(self.min_runs),
            precision: precision.map_or(self.precision, |precision| precision.0),
            max_time: max_time.map_or(self.max_time, |budget| budget.0),
            max_runs: match max_runs {
                Some(0) => None,
                Some(max) => Some(*max),
                None => self.max_runs,
            },
            caches: self.caches,
            seed: self.seed,
        }
    }

    /// These defaults with `seed` (e.g. [`crate::support::hash::seed_of`] the run id).
    pub fn with_seed(self, seed: u64) -> StartupDefaults {
        StartupDefaults { seed, ..self }
    }

    /// `r2r measure startup`: exactly [`DEFAULT_MIN_RUNS`] rounds, cold and warm; with
    /// `--precision`, the budgets of `run` ([`RUN_MAX_TIME`], [`RUN_MAX_RUNS`]), so that an
    /// image that never resolves cannot keep it running for ever.
    pub fn measure() -> StartupDefaults {
        StartupDefaults {
            min_runs: DEFAULT_MIN_RUNS,
            precision: None,
            max_time: Some(RUN_MAX_TIME),
            max_runs: Some(RUN_MAX_RUNS),
            caches: DefaultCaches::Both,
            seed: DEFAULT_SEED,
        }
    }

    /// `r2r compare --paired-runs`: exactly the rounds asked for, in the cache modes of the
    /// run compared (`caches`; warm when it has none).
    pub fn paired(caches: Vec<Cache>) -> StartupDefaults {
        StartupDefaults {
            caches: DefaultCaches::These(if caches.is_empty() {
                vec![Cache::Warm]
            } else {
                caches
            }),
            ..StartupDefaults::measure()
        }
    }
}

impl StartupSettings {
    /// The settings of a paired comparison (`compare --paired-runs N [--paired-cache C]`):
    /// `runs` rounds (at least [`PAIRED_MIN_RUNS`]), seeded by the run compared.
    pub fn paired(runs: usize, cache: Option<CacheModes>, run_id: &str) -> StartupSettings {
        StartupSettings {
            runs: Some(runs.max(PAIRED_MIN_RUNS)),
            cache,
            seed: Some(crate::support::hash::seed_of(run_id)),
            ..StartupSettings::default()
        }
    }

    /// The options a measurement runs with: these settings, and `defaults` where one is not
    /// given. `variants` are the scenario's (an app's baseline is its image in the first of
    /// them); `cold_possible` is asked only under [`DefaultCaches::WhereDroppable`].
    pub fn options(
        &self,
        defaults: &StartupDefaults,
        variants: Vec<String>,
        cold_possible: impl FnOnce() -> bool,
    ) -> StartupOptions {
        let StartupSettings {
            runs,
            warmup,
            min_seconds,
            cache,
            seed,
            precision,
            max_time,
            max_runs,
            only,
            timeout,
            ready,
            cpuset,
            pause_ms,
            console_network,
            no_counters,
        } = self;
        // `--runs` alone asks for exactly that many rounds. The default budgets bound a
        // precision target only: exactly N rounds are N rounds.
        let target = match (precision, runs) {
            (Some(precision), _) => precision.0,
            (None, Some(_)) => None,
            (None, None) => defaults.precision,
        };
        let caches = match (cache, &defaults.caches) {
            (Some(cache), _) => cache.caches(),
            (None, DefaultCaches::Both) => CacheModes::Both.caches(),
            (None, DefaultCaches::WhereDroppable) if cold_possible() => CacheModes::Both.caches(),
            (None, DefaultCaches::WhereDroppable) => CacheModes::Warm.caches(),
            (None, DefaultCaches::These(caches)) => caches.clone(),
        };
        StartupOptions {
            warmup: *warmup,
            min_runs: runs.unwrap_or(defaults.min_runs).max(1),
            min_duration: Duration::from_secs_f64(min_seconds.max(0.0)),
            caches,
            seed: seed.unwrap_or(defaults.seed),
            ready_timeout: Duration::from_secs_f64(timeout.max(0.1)),
            readiness: match ready {
                ReadySignal::Http => Readiness::Http,
                ReadySignal::Log => Readiness::LogLine,
            },
            memory_limit_bytes: CONTAINER_MEMORY_LIMIT_BYTES,
            precision: target,
            max_duration: match max_time {
                Some(budget) => budget.0,
                None if target.is_some() => defaults.max_time,
                None => None,
            },
            max_runs: match max_runs {
                Some(0) => None,
                Some(max) => Some(*max),
                None if target.is_some() => defaults.max_runs,
                None => None,
            },
            variants,
            only: only.clone(),
            cpuset: cpuset.clone(),
            pause: Duration::from_millis(*pause_ms),
            console_network: match console_network {
                ConsoleNetwork::None => Network::None,
                ConsoleNetwork::Host => Network::Host,
            },
            counters: !no_counters,
        }
    }
}

impl Default for StartupOptions {
    /// `r2r measure startup` with no flag given: the defaults of
    /// [`StartupSettings`], for every app of the plan.
    fn default() -> Self {
        StartupSettings::default().options(&StartupDefaults::measure(), Vec::new(), || true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        startup: StartupSettings,
    }

    fn parse(arguments: &[&str]) -> StartupSettings {
        Command::try_parse_from(std::iter::once("r2r").chain(arguments.iter().copied()))
            .unwrap()
            .startup
    }

    #[test]
    fn no_flag_given_is_the_default() {
        assert_eq!(parse(&[]), StartupSettings::default());
    }

    #[test]
    fn precisions_and_budgets_read_as_people_write_them() {
        assert_eq!(parse_precision("2%").unwrap(), Precision(Some(0.02)));
        assert_eq!(parse_precision("3").unwrap(), Precision(Some(0.03)));
        assert_eq!(parse_precision("off").unwrap(), Precision(None));
        assert_eq!(parse_precision("0%").unwrap(), Precision(None));
        assert!(parse_precision("two").is_err());
        assert!(parse_precision("150%").is_err());
        let secs = |s: u64| Budget(Some(Duration::from_secs(s)));
        assert_eq!(parse_budget("90s").unwrap(), secs(90));
        assert_eq!(parse_budget("12m").unwrap(), secs(720));
        assert_eq!(parse_budget("1h30m").unwrap(), secs(5400));
        assert_eq!(parse_budget("45").unwrap(), secs(45));
        assert_eq!(parse_budget("off").unwrap(), Budget(None));
        assert!(parse_budget("12 minutes").is_err());
        assert!(parse_budget("m").is_err());
    }

    #[test]
    fn run_keeps_adding_rounds_unless_runs_is_given_alone() {
        let run = StartupDefaults::run();
        let options = StartupSettings::default().options(&run, Vec::new(), || false);
        assert_eq!(options.min_runs, 10);
        assert_eq!(options.precision, Some(0.03));
        assert_eq!(options.max_duration, Some(RUN_MAX_TIME));
        assert_eq!(options.max_runs, Some(100));
        assert_eq!(options.caches, vec![Cache::Warm], "no root: warm only");
        let exact = parse(&["--runs", "4", "--max-runs", "0", "--max-time", "off"]).options(
            &run,
            Vec::new(),
            || true,
        );
        assert_eq!(
            (exact.min_runs, exact.precision, exact.max_duration),
            (4, None, None)
        );
        assert_eq!(exact.max_runs, None);
        assert_eq!(exact.caches, vec![Cache::Cold, Cache::Warm]);
        let both = parse(&["--runs", "4", "--precision", "2%"]).options(&run, Vec::new(), || true);
        assert_eq!((both.min_runs, both.precision), (4, Some(0.02)));
    }

    #[test]
    fn measure_startup_runs_exactly_its_rounds_with_every_flag_applied() {
        let options = parse(&[
            "--cache",
            "warm",
            "--timeout",
            "5",
            "--ready",
            "log",
            "--cpuset",
            "1",
            "--pause-ms",
            "250",
            "--console-network",
            "host",
            "--no-counters",
            "--only",
            "a,b",
            "--min-seconds",
            "2",
        ])
        .options(&StartupDefaults::measure(), vec!["v".into()], || {
            panic!("not asked")
        });
        assert_eq!(
            (options.min_runs, options.precision, options.max_runs),
            (10, None, None)
        );
        assert_eq!(options.caches, vec![Cache::Warm]);
        assert_eq!(options.ready_timeout, Duration::from_secs(5));
        assert_eq!(options.readiness, Readiness::LogLine);
        assert_eq!(options.cpuset.as_deref(), Some("1"));
        assert_eq!(options.pause, Duration::from_millis(250));
        assert_eq!(options.console_network, Network::Host);
        assert!(!options.counters);
        assert_eq!(options.only, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(options.min_duration, Duration::from_secs(2));
        assert_eq!(options.variants, vec!["v".to_string()]);
    }

    #[test]
    fn paired_rounds_are_at_least_two_in_the_run_s_cache_modes() {
        let settings = StartupSettings::paired(1, None, "ab");
        let options = settings.options(
            &StartupDefaults::paired(vec![Cache::Cold]),
            Vec::new(),
            || true,
        );
        assert_eq!(options.min_runs, 2);
        assert_eq!(options.caches, vec![Cache::Cold]);
        assert_eq!(options.seed, crate::support::hash::seed_of("ab"));
        assert_ne!(
            StartupSettings::paired(1, None, "ba").seed,
            settings.seed,
            "ids of the same bytes get different seeds"
        );
        assert_eq!(options.precision, None);
        let none = StartupDefaults::paired(Vec::new());
        assert_eq!(none.caches, DefaultCaches::These(vec![Cache::Warm]));
    }

    #[test]
    fn settings_are_recorded_as_json_and_read_back() {
        for arguments in [
            &["--max-time", "90s", "--precision", "2%"][..],
            &["--max-time", "off", "--precision", "off", "--cache", "cold"],
            &[],
        ] {
            let settings = parse(arguments);
            let json = serde_json::to_value(&settings).unwrap();
            let back: StartupSettings = serde_json::from_value(json).unwrap();
            assert_eq!(back, settings, "{arguments:?}");
        }
        let json =
            serde_json::to_value(parse(&["--max-time", "90s", "--precision", "off"])).unwrap();
        assert_eq!(json["max_time"], serde_json::json!(90.0));
        assert_eq!(json["precision"], serde_json::json!(0.0));
    }

    #[test]
    fn a_scenario_table_replaces_only_the_run_defaults_it_sets() {
        let scenario = ScenarioStartup {
            precision: Some(Precision(Some(0.05))),
            max_time: Some(Budget(Some(Duration::from_secs(45)))),
            ..ScenarioStartup::default()
        };
        let defaults = StartupDefaults::run().with_scenario(&scenario);
        assert_eq!(defaults.precision, Some(0.05));
        assert_eq!(defaults.max_time, Some(Duration::from_secs(45)));
        assert_eq!(defaults.min_runs, DEFAULT_MIN_RUNS);
        assert_eq!(defaults.max_runs, Some(RUN_MAX_RUNS));
        // A flag still wins over the scenario.
        let options = parse(&["--precision", "2%", "--max-time", "off"]).options(
            &defaults,
            Vec::new(),
            || true,
        );
        assert_eq!(options.precision, Some(0.02));
        assert_eq!(options.max_duration, None);
        // `runs` with precision off: exactly that many rounds; max-runs 0: no budget.
        let exact = StartupDefaults::run().with_scenario(&ScenarioStartup {
            runs: Some(20),
            precision: Some(Precision(None)),
            max_runs: Some(0),
            ..ScenarioStartup::default()
        });
        let options = StartupSettings::default().options(&exact, Vec::new(), || true);
        assert_eq!((options.min_runs, options.precision), (20, None));
        assert_eq!(options.max_runs, None);
        assert_eq!(
            StartupDefaults::run().with_scenario(&ScenarioStartup::default()),
            StartupDefaults::run()
        );
    }
}
