//! CPU placement: the app containers on some CPUs (`--cpuset`), r2r itself on the others, so
//! that the harness's own work (following output, polling, sampling counters) does not take
//! CPU time from the starting app.

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// Why r2r could not keep itself off the app's CPUs.
#[derive(Debug, thiserror::Error)]
pub enum AffinityError {
    /// The CPU list is not `N`, `N-M` or a comma-separated list of them.
    #[error("CPU list '{0}': expected CPU numbers and ranges such as 1, 2-3 or 0,2")]
    Syntax(String),
    /// The app's CPUs are every CPU r2r may run on: there is none left for r2r.
    #[error("the app's CPUs {app} are all the CPUs r2r may use ({allowed}): r2r cannot be kept off them")]
    NoneLeft {
        /// The app's CPU list.
        app: String,
        /// The CPUs r2r may run on.
        allowed: String,
    },
    /// A CPU of the list is not one r2r may run on (offline, or outside its own set).
    #[error("CPU {cpu} of '{app}' is not available here (available: {allowed})")]
    Unavailable {
        /// The CPU.
        cpu: usize,
        /// The app's CPU list.
        app: String,
        /// The CPUs r2r may run on.
        allowed: String,
    },
    /// The kernel refused.
    #[error("setting r2r's CPU affinity: {0}")]
    Kernel(#[from] nix::Error),
}

/// The CPUs of a list such as `1`, `2-3`, `0,2-3` (sorted, without duplicates).
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, AffinityError> {
    let syntax = || AffinityError::Syntax(list.to_string());
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let part = part.trim();
        let (low, high) = part.split_once('-').unwrap_or((part, part));
        let low: usize = low.trim().parse().map_err(|_| syntax())?;
        let high: usize = high.trim().parse().map_err(|_| syntax())?;
        if low > high || high >= CpuSet::count() {
            return Err(syntax());
        }
        cpus.extend(low..=high);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

fn list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The CPUs this process may run on now.
pub fn allowed_cpus() -> Result<Vec<usize>, AffinityError> {
    let set = sched_getaffinity(Pid::from_raw(0))?;
    Ok((0..CpuSet::count())
        .filter(|cpu| set.is_set(*cpu).unwrap_or(false))
        .collect())
}

/// The CPUs left for r2r when the app runs on `app`: the ones r2r may use, without the app's.
pub fn harness_cpus(app: &[usize], allowed: &[usize]) -> Result<Vec<usize>, AffinityError> {
    let app_list = list(app);
    if let Some(cpu) = app.iter().find(|cpu| !allowed.contains(cpu)) {
        return Err(AffinityError::Unavailable {
            cpu: *cpu,
            app: app_list,
            allowed: list(allowed),
        });
    }
    let rest: Vec<usize> = allowed
        .iter()
        .copied()
        .filter(|cpu| !app.contains(cpu))
        .collect();
    if rest.is_empty() {
        return Err(AffinityError::NoneLeft {
            app: app_list,
            allowed: list(allowed),
        });
    }
    Ok(rest)
}

/// Keeps every thread of this process (and the threads and children it starts later, which
/// inherit it) off the app's CPUs `app_list`. Returns the CPUs r2r runs on.
pub fn keep_off(app_list: &str) -> Result<Vec<usize>, AffinityError> {
    let app = parse_cpu_list(app_list)?;
    let rest = harness_cpus(&app, &allowed_cpus()?)?;
    let mut set = CpuSet::new();
    for cpu in &rest {
        set.set(*cpu)?;
    }
    // sched_setaffinity sets one thread: set every thread this process has.
    let tasks: Vec<i32> = std::fs::read_dir("/proc/self/task")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    sched_setaffinity(Pid::from_raw(0), &set)?;
    for task in tasks {
        // A thread may have ended since the listing.
        match sched_setaffinity(Pid::from_raw(task), &set) {
            Ok(()) | Err(nix::Error::ESRCH) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_and_the_rest_is_left_for_r2r() {
        assert_eq!(parse_cpu_list("1").unwrap(), vec![1]);
        assert_eq!(parse_cpu_list("0,2-3,2").unwrap(), vec![0, 2, 3]);
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("").is_err());
        assert_eq!(harness_cpus(&[1], &[0, 1]).unwrap(), vec![0]);
        assert_eq!(harness_cpus(&[2, 3], &[0, 1, 2, 3]).unwrap(), vec![0, 1]);
        let none = harness_cpus(&[0, 1], &[0, 1]).unwrap_err().to_string();
        assert!(none.contains("cannot be kept off"), "{none}");
        assert!(matches!(
            harness_cpus(&[5], &[0, 1]),
            Err(AffinityError::Unavailable { cpu: 5, .. })
        ));
    }

    /// After keep_off, every thread of the process runs only on the CPUs left (the test puts
    /// them back afterwards for the other tests).
    #[test]
    fn keeping_off_moves_every_thread() {
        let allowed = allowed_cpus().unwrap();
        if allowed.len() < 2 {
            assert!(keep_off(&list(&allowed)).is_err());
            return;
        }
        let app = allowed[allowed.len() - 1];
        let worker =
            std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(300)));
        let status = std::thread::spawn(move || {
            let rest = keep_off(&app.to_string()).unwrap();
            assert!(!rest.contains(&app));
            for entry in std::fs::read_dir("/proc/self/task").unwrap() {
                let tid: i32 = entry
                    .unwrap()
                    .file_name()
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let set = sched_getaffinity(Pid::from_raw(tid)).unwrap();
                assert!(
                    !set.is_set(app).unwrap(),
                    "thread {tid} may still run on CPU {app}"
                );
            }
            // Put the test process back for the other tests.
            let mut all = CpuSet::new();
            for cpu in &allowed {
                all.set(*cpu).unwrap();
            }
            for entry in std::fs::read_dir("/proc/self/task").unwrap() {
                let tid: i32 = entry
                    .unwrap()
                    .file_name()
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let _ = sched_setaffinity(Pid::from_raw(tid), &all);
            }
        })
        .join();
        worker.join().unwrap();
        status.unwrap();
    }
}
