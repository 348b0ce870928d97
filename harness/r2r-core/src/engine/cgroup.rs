//! What a container did underneath, from its control group: bytes read from block devices,
//! major page faults, peak memory. Pure parsers of the kernel's files (cgroup v1 and v2) and a
//! reader of a cgroup hierarchy mounted on this machine.
//!
//! A container's own cgroup goes with its last process: the runtime removes it the moment the
//! app exits. r2r therefore gives each measured container a parent cgroup of its own (the
//! engine's `CgroupParent`) and reads the parent, whose hierarchical counters keep what its
//! child did after the child is gone: `memory.stat` (`total_pgmajfault` on v1, `pgmajfault` on
//! v2), `memory.max_usage_in_bytes` (v1) or `memory.peak` (v2), and on v2 `io.stat`. cgroup v1's
//! `blkio.throttle.io_service_bytes_recursive` counts live children only (a removed child's
//! bytes are dropped with it), so on v1 the bytes read are sampled while the container runs
//! ([`CounterScope::sample`]); and kernels count v1 block I/O only for devices where
//! throttling is active, so the container gets a read limit far above any disk (1 TiB/s) on the
//! engine's data device.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// cgroup version of a hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupVersion {
    /// Controllers in hierarchies of their own (`/sys/fs/cgroup/memory`, `.../blkio`, ...).
    V1,
    /// The unified hierarchy (`/sys/fs/cgroup` with `cgroup.controllers`).
    V2,
}

/// Counters of one container over its start (each `None` when the host does not report it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceCounters {
    /// Bytes read from block devices, summed over devices.
    pub read_bytes: Option<u64>,
    /// Major page faults (a page had to be read from disk).
    pub major_faults: Option<u64>,
    /// Peak memory charged to the container (anonymous and page cache), bytes.
    pub peak_memory_bytes: Option<u64>,
}

impl ResourceCounters {
    /// The larger of each counter (all three only grow, so the latest sample is the largest).
    pub fn max(self, other: ResourceCounters) -> ResourceCounters {
        let max = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        ResourceCounters {
            read_bytes: max(self.read_bytes, other.read_bytes),
            major_faults: max(self.major_faults, other.major_faults),
            peak_memory_bytes: max(self.peak_memory_bytes, other.peak_memory_bytes),
        }
    }

    /// Whether any counter is known.
    pub fn any(&self) -> bool {
        self.read_bytes.is_some() || self.major_faults.is_some() || self.peak_memory_bytes.is_some()
    }
}

/// Where an engine counts a container: set up by [`crate::engine::Counters::prepare_counters`]
/// before the container is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterScope {
    /// The parent cgroup given to the container (e.g. `/r2r-123-4`), relative to each hierarchy.
    pub cgroup_parent: String,
    /// cgroup version of the counters.
    pub version: CgroupVersion,
    /// Whether a counter vanishes with the container (cgroup v1's block I/O), so that it must
    /// be sampled while the container runs.
    pub sample: bool,
    /// The child group where the engine keeps its own processes for the container, under
    /// [`CounterScope::cgroup_parent`] (podman: `<parent>/conmon`, its monitor and the cleanup
    /// it starts), `None` for engines that keep none there. Its counters are the engine's work,
    /// not the container's: they are taken off, and while the group is absent the parent is
    /// not read at all (see [`Hierarchy::read_without`]).
    pub engine_group: Option<String>,
}

/// Bytes read, from cgroup v1's `blkio.throttle.io_service_bytes` (or `_recursive`): the sum of
/// the `MAJ:MIN Read N` lines. `None` when the file has no such line.
pub fn parse_v1_read_bytes(text: &str) -> Option<u64> {
    let mut total = None;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        if let (Some(device), Some("Read"), Some(value)) =
            (fields.next(), fields.next(), fields.next())
        {
            if device.contains(':') {
                if let Ok(value) = value.parse::<u64>() {
                    total = Some(total.unwrap_or(0) + value);
                }
            }
        }
    }
    total
}

/// Bytes read, from cgroup v2's `io.stat`: the sum of `rbytes=` over devices. `None` when no
/// device line has it (an empty file: nothing read yet is `Some(0)` only if a device is listed).
pub fn parse_v2_read_bytes(text: &str) -> Option<u64> {
    let mut total = None;
    for line in text.lines() {
        for field in line.split_whitespace().skip(1) {
            if let Some(value) = field.strip_prefix("rbytes=") {
                if let Ok(value) = value.parse::<u64>() {
                    total = Some(total.unwrap_or(0) + value);
                }
            }
        }
    }
    total
}

/// The value of `key` in a `memory.stat` (`key value` lines; v1 and v2 alike).
pub fn parse_stat(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

/// Major page faults from a `memory.stat`: v1's hierarchical `total_pgmajfault` (the group and
/// its children, removed ones included) when present, else `pgmajfault` (v2 is hierarchical).
pub fn parse_major_faults(text: &str) -> Option<u64> {
    parse_stat(text, "total_pgmajfault").or_else(|| parse_stat(text, "pgmajfault"))
}

/// A single number file (`memory.peak`, `memory.max_usage_in_bytes`).
pub fn parse_number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A cgroup hierarchy mounted on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Its version.
    pub version: CgroupVersion,
    /// Where it is mounted (`/sys/fs/cgroup`).
    pub root: PathBuf,
}

impl Hierarchy {
    /// The hierarchy under `root` (normally `/sys/fs/cgroup`) that holds the memory controller:
    /// v1 when `root/memory/memory.stat` exists, v2 when `root/cgroup.controllers` lists
    /// `memory`; `None` otherwise (no cgroups, or a v2 hierarchy without controllers).
    pub fn detect(root: &Path) -> Option<Hierarchy> {
        if root.join("memory/memory.stat").is_file() {
            return Some(Hierarchy {
                version: CgroupVersion::V1,
                root: root.to_path_buf(),
            });
        }
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).ok()?;
        controllers
            .split_whitespace()
            .any(|c| c == "memory")
            .then(|| Hierarchy {
                version: CgroupVersion::V2,
                root: root.to_path_buf(),
            })
    }

    fn group(&self, controller: &str, group: &str) -> PathBuf {
        let group = group.trim_start_matches('/');
        match self.version {
            CgroupVersion::V1 => self.root.join(controller).join(group),
            CgroupVersion::V2 => self.root.join(group),
        }
    }

    /// The counters of `group` (a path relative to the hierarchy, e.g. `/r2r-1-2`), its
    /// children included; a file that cannot be read leaves its counter `None`.
    pub fn read(&self, group: &str) -> ResourceCounters {
        let read = |controller: &str, file: &str| {
            std::fs::read_to_string(self.group(controller, group).join(file)).ok()
        };
        match self.version {
            CgroupVersion::V1 => ResourceCounters {
                read_bytes: read("blkio", "blkio.throttle.io_service_bytes_recursive")
                    .as_deref()
                    .and_then(parse_v1_read_bytes),
                major_faults: read("memory", "memory.stat")
                    .as_deref()
                    .and_then(parse_major_faults),
                peak_memory_bytes: read("memory", "memory.max_usage_in_bytes")
                    .as_deref()
                    .and_then(parse_number),
            },
            CgroupVersion::V2 => ResourceCounters {
                read_bytes: read("", "io.stat").as_deref().and_then(parse_v2_read_bytes),
                major_faults: read("", "memory.stat")
                    .as_deref()
                    .and_then(parse_major_faults),
                peak_memory_bytes: read("", "memory.peak").as_deref().and_then(parse_number),
            },
        }
    }

    /// The counters of `group` without those of its child `engine_group` (a path under
    /// `group`): bytes read and major faults of the group less the child's, and peak memory the
    /// highest of its other children (a peak cannot be subtracted). Empty while `engine_group`
    /// does not exist, before the engine made it or after it removed it: the group's counters
    /// then hold the engine's work with nothing to take it off by. A read during which the
    /// child went away is empty too.
    pub fn read_without(&self, group: &str, engine_group: &str) -> ResourceCounters {
        let marker = self.group("memory", engine_group);
        if !marker.is_dir() {
            return ResourceCounters::default();
        }
        let whole = self.read(group);
        let engine = self.read(engine_group);
        let peak = self.children_peak(group, &marker);
        if !marker.is_dir() {
            return ResourceCounters::default();
        }
        // A counter the child lacks was not counted in it (its controller has no such
        // group): nothing of it is in the parent's.
        let less = |all: Option<u64>, part: Option<u64>| {
            all.map(|all| all.saturating_sub(part.unwrap_or(0)))
        };
        ResourceCounters {
            read_bytes: less(whole.read_bytes, engine.read_bytes),
            major_faults: less(whole.major_faults, engine.major_faults),
            peak_memory_bytes: peak,
        }
    }

    /// The highest peak memory of the child groups of `group` but `skip`.
    fn children_peak(&self, group: &str, skip: &Path) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V1 => "memory.max_usage_in_bytes",
            CgroupVersion::V2 => "memory.peak",
        };
        std::fs::read_dir(self.group("memory", group))
            .ok()?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path())
            .filter(|path| path.is_dir() && path != skip)
            .filter_map(|path| std::fs::read_to_string(path.join(file)).ok())
            .filter_map(|text| parse_number(&text))
            .max()
    }

    /// Removes `group` (empty by then) from every hierarchy it was created in, with the child
    /// groups an engine left in it (podman leaves its empty `conmon`), deepest first. Returns
    /// how many of the group's own directories were removed; the first error, if any, after
    /// trying them all.
    pub fn remove(&self, group: &str) -> std::io::Result<usize> {
        let group = group.trim_start_matches('/');
        if group.is_empty() || group.contains("..") {
            return Ok(0);
        }
        let directories: Vec<PathBuf> = match self.version {
            CgroupVersion::V2 => vec![self.root.join(group)],
            CgroupVersion::V1 => std::fs::read_dir(&self.root)?
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.path().join(group))
                .collect(),
        };
        let mut removed = 0;
        let mut first_error = None;
        for directory in directories {
            if !directory.is_dir() {
                continue;
            }
            if let Err(error) = remove_children(&directory) {
                first_error.get_or_insert(error);
            }
            match std::fs::remove_dir(&directory) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(removed),
        }
    }
}

/// The prefix of every counting group r2r makes (`/r2r-<pid>-<start>-<n>`, see
/// [`crate::engine::containers::session`]).
pub const GROUP_PREFIX: &str = "r2r-";

/// A counting group an r2r that is no longer running left behind (killed, or its engine lost
/// under it), with the processes still in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftoverGroup {
    /// The group, relative to the hierarchy (`/r2r-<pid>-...`).
    pub group: String,
    /// Process id of the r2r that made it.
    pub owner: u32,
    /// Processes in the group or its children (in any controller), by id.
    pub processes: Vec<u32>,
}

/// The r2r process id in a counting group's name (`r2r-<pid>-...`).
pub fn group_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(GROUP_PREFIX)?;
    let (pid, tail) = rest.split_once('-')?;
    (!tail.is_empty()).then_some(())?;
    pid.parse().ok()
}

impl Hierarchy {
    /// The directories a group has: one per controller on v1, one on v2.
    fn directories_of(&self, group: &str) -> Vec<PathBuf> {
        let group = group.trim_start_matches('/');
        match self.version {
            CgroupVersion::V2 => vec![self.root.join(group)],
            CgroupVersion::V1 => std::fs::read_dir(&self.root)
                .map(|entries| {
                    entries
                        .filter_map(|entry| entry.ok())
                        .map(|entry| entry.path().join(group))
                        .collect()
                })
                .unwrap_or_default(),
        }
        .into_iter()
        .filter(|directory| directory.is_dir())
        .collect()
    }

    /// The process ids in `group` and its child groups, in any controller, sorted.
    pub fn processes(&self, group: &str) -> Vec<u32> {
        fn collect(directory: &Path, found: &mut Vec<u32>) {
            if let Ok(text) = std::fs::read_to_string(directory.join("cgroup.procs")) {
                found.extend(
                    text.lines()
                        .filter_map(|line| line.trim().parse::<u32>().ok()),
                );
            }
            for entry in std::fs::read_dir(directory).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() && !path.is_symlink() {
                    collect(&path, found);
                }
            }
        }
        let mut found = Vec::new();
        for directory in self.directories_of(group) {
            collect(&directory, &mut found);
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The counting groups of r2r processes that are not running (`alive` says which process
    /// ids are), with the processes in each, by name. A group of a running r2r is its own.
    pub fn leftover_groups(&self, alive: impl Fn(u32) -> bool) -> Vec<LeftoverGroup> {
        let tops: Vec<PathBuf> = match self.version {
            CgroupVersion::V2 => vec![self.root.clone()],
            CgroupVersion::V1 => std::fs::read_dir(&self.root)
                .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default(),
        };
        let mut names: Vec<(String, u32)> = tops
            .iter()
            .filter(|top| top.is_dir() && !top.is_symlink())
            .flat_map(|top| std::fs::read_dir(top).into_iter().flatten().flatten())
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                Some((name.clone(), group_owner(&name)?))
            })
            .filter(|(_, owner)| !alive(*owner))
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|(name, owner)| {
                let group = format!("/{name}");
                LeftoverGroup {
                    processes: self.processes(&group),
                    group,
                    owner,
                }
            })
            .collect()
    }
}

/// Removes the child groups (directories) under a cgroup directory, deepest first; the kernel's
/// files in each go with it.
fn remove_children(directory: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let path = entry?.path();
        if !path.is_dir() || path.is_symlink() {
            continue;
        }
        remove_children(&path)?;
        match std::fs::remove_dir(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

/// The whole block device that holds `path` (e.g. `/dev/vda` for a file on `/dev/vda1`), for a
/// read limit on it: found through `/sys/dev/block/MAJ:MIN`. `None` when it is not on a block
/// device (tmpfs, overlay of a network file system).
pub fn block_device_of(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let device = std::fs::metadata(path).ok()?.dev();
    let (major, minor) = (nix_major(device), nix_minor(device));
    let mut sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    if sys.join("partition").exists() {
        sys = sys.canonicalize().ok()?.parent()?.to_path_buf();
    }
    let uevent = std::fs::read_to_string(sys.join("uevent")).ok()?;
    let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
    let node = PathBuf::from("/dev").join(name);
    node.exists().then_some(node)
}

fn nix_major(device: u64) -> u64 {
    ((device >> 32) & 0xffff_f000) | ((device >> 8) & 0x0000_0fff)
}

fn nix_minor(device: u64) -> u64 {
    ((device >> 12) & 0xffff_ff00) | (device & 0x0000_00ff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/sys/fs/cgroup/blkio/blkio.throttle.io_service_bytes_recursive` of this machine (cgroup
    /// v1, kernel 6.18, one virtio disk).
    const V1_BLKIO: &str = include_str!("testdata/v1-blkio.throttle.io_service_bytes_recursive");
    /// `/sys/fs/cgroup/memory/docker/memory.stat` of the same machine.
    const V1_MEMORY: &str = include_str!("testdata/v1-memory.stat");
    /// `io.stat` as the kernel's cgroup-v2 documentation shows it (two devices).
    const V2_IO: &str = include_str!("testdata/v2-io.stat");
    /// A cgroup v2 `memory.stat` (a 6.x kernel's keys).
    const V2_MEMORY: &str = include_str!("testdata/v2-memory.stat");

    #[test]
    fn cgroup_v1_files_parse() {
        assert_eq!(parse_v1_read_bytes(V1_BLKIO), Some(1_121_583_104));
        // The `Total` lines and other operations are not reads.
        assert_eq!(parse_v1_read_bytes("Total 0\n"), None);
        assert_eq!(
            parse_v1_read_bytes("8:0 Read 10\n8:0 Write 5\n8:16 Read 7\n8:16 Total 12\nTotal 29\n"),
            Some(17)
        );
        // v1 memory.stat has both the group's own count and the hierarchical one; the
        // hierarchical one counts children (removed ones too).
        assert_eq!(parse_stat(V1_MEMORY, "pgmajfault"), Some(0));
        assert_eq!(parse_major_faults(V1_MEMORY), Some(12_755));
        assert_eq!(parse_stat(V1_MEMORY, "total_cache"), Some(204_800));
        assert_eq!(parse_stat(V1_MEMORY, "total_pgfault"), Some(7_827_549));
        assert_eq!(parse_stat(V1_MEMORY, "no_such_key"), None);
        assert_eq!(parse_number("418820096\n"), Some(418_820_096));
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn cgroup_v2_files_parse() {
        assert_eq!(parse_v2_read_bytes(V2_IO), Some(1_459_200 + 90_430_464));
        assert_eq!(parse_v2_read_bytes(""), None);
        assert_eq!(parse_v2_read_bytes("254:0 rbytes=0 wbytes=4096\n"), Some(0));
        assert_eq!(parse_major_faults(V2_MEMORY), Some(27));
        assert_eq!(parse_stat(V2_MEMORY, "file"), Some(35_885_056));
        assert_eq!(
            parse_number(include_str!("testdata/v2-memory.peak")),
            Some(41_099_264)
        );
    }

    #[test]
    fn hierarchies_are_read_and_groups_removed() {
        // A v2 hierarchy laid out in a directory, read like /sys/fs/cgroup.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let group = dir.path().join("r2r-1-1");
        std::fs::create_dir(&group).unwrap();
        std::fs::write(group.join("io.stat"), V2_IO).unwrap();
        std::fs::write(group.join("memory.stat"), V2_MEMORY).unwrap();
        std::fs::write(group.join("memory.peak"), "41099264\n").unwrap();
        let v2 = Hierarchy::detect(dir.path()).unwrap();
        assert_eq!(v2.version, CgroupVersion::V2);
        assert_eq!(
            v2.read("/r2r-1-1"),
            ResourceCounters {
                read_bytes: Some(91_889_664),
                major_faults: Some(27),
                peak_memory_bytes: Some(41_099_264),
            }
        );
        assert_eq!(v2.read("/absent"), ResourceCounters::default());
        // A v2 mount without the memory controller (this machine's /sys/fs/cgroup/unified).
        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("cgroup.controllers"), "\n").unwrap();
        assert_eq!(Hierarchy::detect(empty.path()), None);

        // v1: one directory per controller.
        let dir = tempfile::tempdir().unwrap();
        for controller in ["memory", "blkio", "cpuset"] {
            std::fs::create_dir_all(dir.path().join(controller).join("r2r-1-2")).unwrap();
        }
        std::fs::write(dir.path().join("memory/memory.stat"), V1_MEMORY).unwrap();
        let memory = dir.path().join("memory/r2r-1-2");
        std::fs::write(memory.join("memory.stat"), V1_MEMORY).unwrap();
        std::fs::write(memory.join("memory.max_usage_in_bytes"), "41099264\n").unwrap();
        std::fs::write(
            dir.path()
                .join("blkio/r2r-1-2/blkio.throttle.io_service_bytes_recursive"),
            V1_BLKIO,
        )
        .unwrap();
        let v1 = Hierarchy::detect(dir.path()).unwrap();
        assert_eq!(v1.version, CgroupVersion::V1);
        assert_eq!(
            v1.read("/r2r-1-2"),
            ResourceCounters {
                read_bytes: Some(1_121_583_104),
                major_faults: Some(12_755),
                peak_memory_bytes: Some(41_099_264),
            }
        );
        // Removing: files in the way make rmdir fail (a real cgroup directory holds only
        // kernel files, which rmdir ignores); the empty cpuset group goes, with the empty
        // child group an engine left in it.
        std::fs::create_dir_all(dir.path().join("cpuset/r2r-1-2/conmon/inner")).unwrap();
        assert!(v1.remove("/r2r-1-2").is_err());
        assert!(!dir.path().join("cpuset/r2r-1-2").exists());
        assert_eq!(v1.remove("/../etc").unwrap(), 0);
    }

    /// Writes `text` to `path` under `dir`, making its folders.
    fn write_in(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn an_engine_group_under_the_parent_is_taken_off() {
        // podman's layout on cgroup v1: the container's group and the monitor's `conmon`
        // beside it, under the parent r2r gave.
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| write_in(dir.path(), path, text);
        write("memory/memory.stat", "");
        let blkio = "blkio.throttle.io_service_bytes_recursive";
        write("memory/r2r-1-3/memory.stat", "total_pgmajfault 70\n");
        write("memory/r2r-1-3/memory.max_usage_in_bytes", "90000000\n");
        write(&format!("blkio/r2r-1-3/{blkio}"), "254:0 Read 60000000\n");
        write(
            "memory/r2r-1-3/libpod-ab/memory.stat",
            "total_pgmajfault 27\n",
        );
        write(
            "memory/r2r-1-3/libpod-ab/memory.max_usage_in_bytes",
            "40000000\n",
        );
        write("memory/r2r-1-3/conmon/memory.stat", "total_pgmajfault 43\n");
        write(
            "memory/r2r-1-3/conmon/memory.max_usage_in_bytes",
            "50000000\n",
        );
        write(
            &format!("blkio/r2r-1-3/conmon/{blkio}"),
            "254:0 Read 24000000\n",
        );
        let v1 = Hierarchy::detect(dir.path()).unwrap();
        assert_eq!(
            v1.read_without("/r2r-1-3", "/r2r-1-3/conmon"),
            ResourceCounters {
                read_bytes: Some(36_000_000),
                major_faults: Some(27),
                peak_memory_bytes: Some(40_000_000),
            }
        );
        // The whole parent, as read for other engines, holds the monitor's work.
        assert_eq!(v1.read("/r2r-1-3").major_faults, Some(70));
        // The container gone: no peak of its own, the sums still without the monitor's.
        std::fs::remove_dir_all(dir.path().join("memory/r2r-1-3/libpod-ab")).unwrap();
        let after = v1.read_without("/r2r-1-3", "/r2r-1-3/conmon");
        assert_eq!(after.peak_memory_bytes, None);
        assert_eq!(after.major_faults, Some(27));
        // The monitor's group gone (or not yet made): nothing is known.
        std::fs::remove_dir_all(dir.path().join("memory/r2r-1-3/conmon")).unwrap();
        assert_eq!(
            v1.read_without("/r2r-1-3", "/r2r-1-3/conmon"),
            ResourceCounters::default()
        );
    }

    #[test]
    fn samples_combine_to_the_largest_of_each() {
        let a = ResourceCounters {
            read_bytes: Some(10),
            major_faults: None,
            peak_memory_bytes: Some(5),
        };
        let b = ResourceCounters {
            read_bytes: Some(4),
            major_faults: Some(2),
            peak_memory_bytes: Some(9),
        };
        assert_eq!(
            a.max(b),
            ResourceCounters {
                read_bytes: Some(10),
                major_faults: Some(2),
                peak_memory_bytes: Some(9),
            }
        );
        assert!(!ResourceCounters::default().any());
    }

    #[test]
    fn groups_of_r2r_processes_that_are_gone_are_found_with_their_processes() {
        assert_eq!(group_owner("r2r-4242-1733-7"), Some(4242));
        assert_eq!(group_owner("r2r-4242"), None);
        assert_eq!(group_owner("r2r-x-1"), None);
        assert_eq!(group_owner("system.slice"), None);
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| write_in(dir.path(), path, text);
        write("memory/memory.stat", "");
        // A dead r2r's group with an orphan in a child (podman's conmon, or a container's own
        // group) on one controller and another on the other; a live r2r's group; not r2r's.
        write("memory/r2r-100-5-1/cgroup.procs", "");
        write("memory/r2r-100-5-1/inner/cgroup.procs", "31\n");
        write("pids/r2r-100-5-1/cgroup.procs", "30\n31\n");
        write("memory/r2r-200-5-1/cgroup.procs", "40\n");
        write("memory/docker/cgroup.procs", "50\n");
        let v1 = Hierarchy::detect(dir.path()).unwrap();
        let found = v1.leftover_groups(|pid| pid == 200);
        assert_eq!(
            found,
            vec![LeftoverGroup {
                group: "/r2r-100-5-1".into(),
                owner: 100,
                processes: vec![30, 31],
            }]
        );
        assert_eq!(v1.leftover_groups(|_| true), Vec::new());
        assert_eq!(v1.leftover_groups(|_| false).len(), 2);
    }

    #[test]
    fn the_device_of_the_root_file_system_is_a_block_device_or_none() {
        if let Some(device) = block_device_of(Path::new("/")) {
            use std::os::unix::fs::FileTypeExt;
            let kind = std::fs::metadata(&device).unwrap().file_type();
            assert!(kind.is_block_device(), "{}", device.display());
        }
    }
}
