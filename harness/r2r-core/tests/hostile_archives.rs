//! The image-archive reader (`archive`) and the size analysis (`sizes`) against hostile
//! archives built in memory: path traversal, absolute paths, links out, lying manifests,
//! sizes claimed but never delivered, archives cut anywhere. Each case checks the exact error
//! and the entry it names; a counting allocator checks that no header's claim is allocated,
//! and a watched directory that nothing is written.
//!
//! The tests of this binary run one at a time (see [`serial`]): two of them measure the
//! whole process's allocations and one changes the current directory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::ErrorKind;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use proptest::prelude::*;
use r2r_core::inspect::archive::{
    normalise, read_image_archive, walk_archive, ArchiveError, FileType, ImageFilesystem,
    MAX_LAYERS_PER_IMAGE, MAX_LINK_HOPS, MAX_MANIFEST_BYTES,
};
use r2r_core::inspect::readytorun::AssemblyKind;
use r2r_core::measure::layers::analyze_archive;
use tar::EntryType;

#[path = "hostile_archives/compressed.rs"]
mod compressed;

// ---------------------------------------------------------------------------------------
// A counting allocator: current and peak bytes of the whole process.

struct CountingAllocator;

static CURRENT_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT_BYTES.fetch_add(bytes, Ordering::SeqCst) + bytes;
    PEAK_BYTES.fetch_max(now, Ordering::SeqCst);
}

fn shrank(bytes: usize) {
    CURRENT_BYTES.fetch_sub(bytes, Ordering::SeqCst);
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size > layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `work` and returns its result with the most bytes allocated at once meanwhile, over
/// what was allocated before.
fn peak_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT_BYTES.load(Ordering::SeqCst);
    PEAK_BYTES.store(base, Ordering::SeqCst);
    let result = work();
    (
        result,
        PEAK_BYTES.load(Ordering::SeqCst).saturating_sub(base),
    )
}

/// Holds the whole binary to one test at a time (a failed test must not stop the others).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------
// Tar streams written byte by byte, so that names and sizes can lie.

const GIB: u64 = 1 << 30;
const LAYER: &str = "l0/layer.tar";

/// A tar stream under construction; headers are GNU (sizes of 8 GiB and more are written in
/// base-256) and names are copied raw into the header, so `..` gets through.
struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Tar {
        Tar(Vec::new())
    }

    fn header(name: &str, kind: EntryType, size: u64, link: &str) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        let old = header.as_old_mut();
        assert!(
            name.len() <= old.name.len() && link.len() <= old.linkname.len(),
            "name too long for a raw header: {name}"
        );
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(size);
        header.set_entry_type(kind);
        header.set_cksum();
        header
    }

    /// Appends a header and `data`, padded to a block.
    fn put(mut self, header: &tar::Header, data: &[u8]) -> Tar {
        self.0.extend_from_slice(header.as_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().next_multiple_of(512), 0);
        self
    }

    fn file(self, name: &str, data: &[u8]) -> Tar {
        self.put(
            &Tar::header(name, EntryType::Regular, data.len() as u64, ""),
            data,
        )
    }

    fn directory(self, name: &str) -> Tar {
        self.put(&Tar::header(name, EntryType::Directory, 0, ""), b"")
    }

    fn symlink(self, name: &str, target: &str) -> Tar {
        self.put(&Tar::header(name, EntryType::Symlink, 0, target), b"")
    }

    fn hardlink(self, name: &str, target: &str) -> Tar {
        self.put(&Tar::header(name, EntryType::Link, 0, target), b"")
    }

    /// Appends an entry whose header claims `claimed` bytes, followed by only `data`: the
    /// stream ends there.
    fn claiming(mut self, name: &str, kind: EntryType, claimed: u64, data: &[u8]) -> Vec<u8> {
        self.0
            .extend_from_slice(Tar::header(name, kind, claimed, "").as_bytes());
        self.0.extend_from_slice(data);
        self.0
    }

    /// Appends the end-of-archive marker.
    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0; 1024]);
        self.0
    }
}

fn manifest(config: &str, layers: &[&str]) -> Vec<u8> {
    serde_json::json!([{ "Config": config, "RepoTags": ["hostile:latest"], "Layers": layers }])
        .to_string()
        .into_bytes()
}

const CONFIG: &[u8] = br#"{"history":[{"created_by":"ADD rootfs"}]}"#;

/// An archive (not finished) with the manifest, a config and the given layers, in that order.
fn image_with(manifest_bytes: &[u8], layers: &[(&str, &[u8])]) -> Tar {
    let mut tar = Tar::new()
        .file("manifest.json", manifest_bytes)
        .file("c.json", CONFIG);
    for (name, bytes) in layers {
        tar = tar.file(name, bytes);
    }
    tar
}

/// A complete archive of one image with one layer.
fn image(layer: &[u8]) -> Vec<u8> {
    image_with(&manifest("c.json", &[LAYER]), &[(LAYER, layer)]).finish()
}

fn read(bytes: &[u8]) -> Result<ImageFilesystem, ArchiveError> {
    read_image_archive(bytes, &|path| path.ends_with(".dll"))
}

fn sizes(bytes: &[u8]) -> Result<usize, ArchiveError> {
    analyze_archive(bytes).map(|images| images.len())
}

/// A small layer that both readers accept.
fn plain_layer() -> Vec<u8> {
    Tar::new()
        .directory("app/")
        .file("app/a.txt", b"hello")
        .finish()
}

fn assert_layer_escape(error: ArchiveError, expected_entry: &str, expected_path: &str) {
    match error {
        ArchiveError::LayerEscape { layer, entry, path } => {
            assert_eq!(
                (layer.as_str(), entry.as_str(), path.as_str()),
                (LAYER, expected_entry, expected_path)
            );
        }
        other => panic!("expected a layer escape at `{expected_entry}`, got: {other}"),
    }
}

fn assert_escape(error: ArchiveError, expected_entry: &str, expected_path: &str) {
    match error {
        ArchiveError::Escape { entry, path } => assert_eq!(
            (entry.as_str(), path.as_str()),
            (expected_entry, expected_path)
        ),
        other => panic!("expected an archive escape at `{expected_entry}`, got: {other}"),
    }
}

/// An outer-archive read error naming `expected_entry`, cut short (`UnexpectedEof`).
fn assert_cut(error: ArchiveError, expected_entry: &str) {
    match &error {
        ArchiveError::Read { entry, source } => {
            assert_eq!(entry, expected_entry, "{error}");
            assert_eq!(source.kind(), ErrorKind::UnexpectedEof, "{error}");
        }
        other => panic!("expected `{expected_entry}` cut short, got: {other}"),
    }
}

/// A layer read error at `expected_entry`, cut short.
fn assert_layer_cut(error: ArchiveError, expected_entry: &str) {
    match &error {
        ArchiveError::Layer {
            layer,
            entry,
            source,
        } => {
            assert_eq!(
                (layer.as_str(), entry.as_str()),
                (LAYER, expected_entry),
                "{error}"
            );
            assert_eq!(source.kind(), ErrorKind::UnexpectedEof, "{error}");
        }
        other => panic!("expected layer entry `{expected_entry}` cut short, got: {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// Paths.

#[test]
fn a_layer_entry_climbing_out_of_the_image_is_refused_by_both_readers() {
    let _serial = serial();
    for hostile in [
        "../../etc/passwd",
        "app/../../escape",
        "/../escape",
        "./.././x",
    ] {
        let bytes = image(
            &Tar::new()
                .file("app/ok", b"1")
                .file(hostile, b"owned")
                .finish(),
        );
        assert_layer_escape(read(&bytes).unwrap_err(), hostile, hostile);
        assert_layer_escape(
            analyze_archive(bytes.as_slice()).unwrap_err(),
            hostile,
            hostile,
        );
    }
}

#[test]
fn an_absolute_layer_path_is_a_path_from_the_image_root() {
    let _serial = serial();
    let layer = Tar::new()
        .file("/etc/hostname", b"box")
        .file("//usr/./lib/../bin/tool", b"t")
        .finish();
    let view = read(&image(&layer)).unwrap();
    let paths: Vec<&str> = view.files.keys().map(String::as_str).collect();
    assert_eq!(paths, ["etc/hostname", "usr/bin/tool"]);
    assert_eq!(view.get("/etc/hostname").unwrap().size_bytes, 3);
    assert_eq!(sizes(&image(&layer)).unwrap(), 1);
}

#[test]
fn an_outer_entry_climbing_out_of_the_archive_is_refused() {
    let _serial = serial();
    let bytes = image_with(&manifest("c.json", &[LAYER]), &[(LAYER, &plain_layer())])
        .file("../../escape", b"x")
        .finish();
    assert_escape(read(&bytes).unwrap_err(), "../../escape", "../../escape");
    assert_escape(
        analyze_archive(bytes.as_slice()).unwrap_err(),
        "../../escape",
        "../../escape",
    );
}

#[test]
fn an_absolute_outer_entry_is_a_path_from_the_archive_root() {
    let _serial = serial();
    let bytes = image_with(
        &manifest("c.json", &[LAYER]),
        &[("/l0/./layer.tar", &plain_layer())],
    )
    .finish();
    let view = read(&bytes).unwrap();
    assert_eq!(view.layers, [LAYER]);
    assert!(view.get("app/a.txt").is_some());
}

#[test]
fn normalise_resolves_dots_and_refuses_escapes() {
    assert_eq!(
        normalise("/usr/./share//dotnet/"),
        Some("usr/share/dotnet".into())
    );
    assert_eq!(normalise("a/b/../../c"), Some("c".into()));
    assert_eq!(normalise("a/b/../../../c"), None);
    assert_eq!(normalise("/.."), None);
}

#[test]
fn a_whiteout_or_a_file_without_a_name_is_refused() {
    let _serial = serial();
    for (name, kind) in [
        ("etc/.wh..", EntryType::Regular),
        ("etc/.wh.", EntryType::Regular),
        ("./", EntryType::Regular),
    ] {
        let layer = Tar::new()
            .put(&Tar::header(name, kind, 0, ""), b"")
            .finish();
        match read(&image(&layer)).unwrap_err() {
            ArchiveError::Layer { layer, entry, .. } => {
                assert_eq!((layer.as_str(), entry.as_str()), (LAYER, name))
            }
            other => panic!("expected `{name}` refused, got: {other}"),
        }
    }
    // The root as a directory is fine.
    let layer = Tar::new().directory("./").file("a", b"1").finish();
    assert_eq!(read(&image(&layer)).unwrap().files.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Links.

#[test]
fn a_hard_link_in_a_layer_climbing_out_is_an_error_not_an_empty_target() {
    let _serial = serial();
    let layer = Tar::new()
        .file("etc/passwd", b"root")
        .hardlink("app/shadow", "../../etc/shadow")
        .finish();
    assert_layer_escape(
        read(&image(&layer)).unwrap_err(),
        "app/shadow",
        "../../etc/shadow",
    );
    assert_layer_escape(
        analyze_archive(image(&layer).as_slice()).unwrap_err(),
        "app/shadow",
        "../../etc/shadow",
    );

    // An absolute hard link target is a path from the image root.
    let layer = Tar::new()
        .file("etc/passwd", b"root")
        .hardlink("app/passwd", "/etc/./passwd")
        .finish();
    let view = read(&image(&layer)).unwrap();
    assert_eq!(
        view.get("app/passwd").unwrap().file_type,
        FileType::Hardlink {
            target: "etc/passwd".into()
        }
    );
}

#[test]
fn symbolic_links_in_a_layer_are_recorded_as_written_and_never_followed() {
    let _serial = serial();
    let layer = Tar::new()
        .symlink("usr/bin/dotnet", "/usr/share/dotnet/dotnet")
        .symlink("up", "../../../../etc")
        .symlink("evil", "/")
        .file("evil/etc/passwd", b"not written anywhere")
        .file("up/shadow", b"nor this")
        .finish();
    let view = read(&image(&layer)).unwrap();
    assert_eq!(
        view.get("usr/bin/dotnet").unwrap().file_type,
        FileType::Symlink {
            target: "/usr/share/dotnet/dotnet".into()
        }
    );
    assert_eq!(
        view.get("up").unwrap().file_type,
        FileType::Symlink {
            target: "../../../../etc".into()
        }
    );
    // Paths under a link stay paths under the link's name: nothing is resolved through it.
    assert_eq!(
        view.get("evil/etc/passwd").unwrap().file_type,
        FileType::Regular
    );
    assert_eq!(view.get("up/shadow").unwrap().size_bytes, 8);
    assert!(view.get("etc/passwd").is_none() && view.get("shadow").is_none());
}

#[test]
fn outer_links_climbing_out_of_the_archive_are_refused() {
    let _serial = serial();
    let base = || image_with(&manifest("c.json", &[LAYER]), &[(LAYER, &plain_layer())]);
    let bytes = base()
        .symlink("l1/layer.tar", "../../../etc/shadow")
        .finish();
    assert_escape(
        read(&bytes).unwrap_err(),
        "l1/layer.tar",
        "../../../etc/shadow",
    );
    let bytes = base().hardlink("l1/layer.tar", "../l0/layer.tar").finish();
    assert_escape(
        analyze_archive(bytes.as_slice()).unwrap_err(),
        "l1/layer.tar",
        "../l0/layer.tar",
    );
}

#[test]
fn outer_links_between_layers_resolve_inside_the_archive() {
    let _serial = serial();
    let layers = ["l1/layer.tar", "l2/layer.tar", "l3/layer.tar"];
    let bytes = image_with(&manifest("c.json", &layers), &[(LAYER, &plain_layer())])
        .symlink("l1/layer.tar", "../l0/layer.tar")
        .symlink("l2/layer.tar", "/l0/layer.tar")
        .hardlink("l3/layer.tar", "./l0/layer.tar")
        .finish();
    let view = read(&bytes).unwrap();
    assert_eq!(view.layers, layers);
    assert_eq!(view.get("app/a.txt").unwrap().layer, 2);
    assert_eq!(sizes(&bytes).unwrap(), 1);
}

/// An archive whose manifest's one layer is `a0`, a chain of `links` hard links ending at the
/// real layer.
fn chain_of_links(links: usize) -> Vec<u8> {
    let mut tar = image_with(&manifest("c.json", &["a0"]), &[(LAYER, &plain_layer())]);
    for hop in 0..links {
        let target = if hop + 1 == links {
            LAYER.to_string()
        } else {
            format!("a{}", hop + 1)
        };
        tar = tar.hardlink(&format!("a{hop}"), &target);
    }
    tar.finish()
}

#[test]
fn chains_of_outer_links_are_capped() {
    let _serial = serial();
    assert!(read(&chain_of_links(MAX_LINK_HOPS))
        .unwrap()
        .get("app/a.txt")
        .is_some());
    for error in [
        read(&chain_of_links(MAX_LINK_HOPS + 1)).unwrap_err(),
        analyze_archive(chain_of_links(MAX_LINK_HOPS + 1).as_slice()).unwrap_err(),
    ] {
        match error {
            ArchiveError::LinkChain { entry, hops } => {
                assert_eq!((entry.as_str(), hops), ("a0", MAX_LINK_HOPS))
            }
            other => panic!("expected a link chain error, got: {other}"),
        }
    }
}

#[test]
fn a_loop_of_outer_links_ends_in_an_error() {
    let _serial = serial();
    let bytes = image_with(
        &manifest("c.json", &["x/layer.tar"]),
        &[(LAYER, &plain_layer())],
    )
    .symlink("x/layer.tar", "../y/layer.tar")
    .symlink("y/layer.tar", "../x/layer.tar")
    .finish();
    // On another thread, so that a reader looping forever fails the test instead of hanging it.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send((
            read(&bytes).map(|_| ()),
            analyze_archive(bytes.as_slice()).map(|_| ()),
        ));
    });
    let (view, analysis) = receiver
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the readers return");
    for error in [view.unwrap_err(), analysis.unwrap_err()] {
        match error {
            ArchiveError::LinkChain { entry, hops } => {
                assert_eq!((entry.as_str(), hops), ("x/layer.tar", MAX_LINK_HOPS))
            }
            other => panic!("expected a link chain error, got: {other}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Manifests that lie.

fn manifest_error(error: ArchiveError) -> String {
    match error {
        ArchiveError::Manifest(message) => message,
        other => panic!("expected a manifest error, got: {other}"),
    }
}

#[test]
fn a_listed_layer_missing_from_the_archive_is_named() {
    let _serial = serial();
    let bytes = image_with(
        &manifest("c.json", &[LAYER, "gone/layer.tar"]),
        &[(LAYER, &plain_layer())],
    )
    .finish();
    assert_eq!(
        manifest_error(read(&bytes).unwrap_err()),
        "layer `gone/layer.tar` is listed but not in the archive"
    );
    assert_eq!(
        manifest_error(analyze_archive(bytes.as_slice()).unwrap_err()),
        "layer `gone/layer.tar` is listed but not in the archive"
    );
    // A listed layer that is there but is neither a tar nor a compressed one (a zip, say) is
    // told apart.
    let bytes = image_with(
        &manifest("c.json", &[LAYER]),
        &[(LAYER, b"PK\x03\x04 a zip archive")],
    )
    .finish();
    assert_eq!(
        manifest_error(read(&bytes).unwrap_err()),
        "layer `l0/layer.tar` is in the archive but is neither a tar stream nor a gzip or zstd one"
    );
}

#[test]
fn a_layer_listed_twice_is_applied_twice() {
    let _serial = serial();
    let bytes = image_with(
        &manifest("c.json", &[LAYER, LAYER]),
        &[(LAYER, &plain_layer())],
    )
    .finish();
    let view = read(&bytes).unwrap();
    assert_eq!(view.layers, [LAYER, LAYER]);
    assert_eq!(view.get("app/a.txt").unwrap().layer, 1);
    let images = analyze_archive(bytes.as_slice()).unwrap();
    let layers = &images[0].analysis.layers;
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0].figures, layers[1].figures);
    assert_ne!(layers[0].chain_id, layers[1].chain_id);
}

#[test]
fn manifest_paths_climbing_out_are_refused() {
    let _serial = serial();
    let bytes = image_with(
        &manifest("c.json", &["../../l0/layer.tar"]),
        &[(LAYER, &plain_layer())],
    )
    .finish();
    assert_escape(
        read(&bytes).unwrap_err(),
        "manifest.json",
        "../../l0/layer.tar",
    );
    let bytes = image_with(&manifest("../c.json", &[LAYER]), &[(LAYER, &plain_layer())]).finish();
    assert_escape(
        analyze_archive(bytes.as_slice()).unwrap_err(),
        "manifest.json",
        "../c.json",
    );
    // A `..` that stays inside is only a detour.
    let bytes = image_with(
        &manifest("c.json", &["x/../l0/layer.tar"]),
        &[(LAYER, &plain_layer())],
    )
    .finish();
    assert_eq!(read(&bytes).unwrap().layers, [LAYER]);
}

#[test]
fn a_manifest_that_is_not_json_is_named() {
    let _serial = serial();
    for text in [
        &b"not json at all"[..],
        b"{\"Config\": 1}",
        b"[]",
        &[b'['; 4096],
    ] {
        let bytes = image_with(text, &[(LAYER, &plain_layer())]).finish();
        let message = manifest_error(read(&bytes).unwrap_err());
        assert!(message.contains("manifest.json"), "{message}");
    }
}

#[test]
fn an_enormous_manifest_is_refused_before_it_is_read() {
    let _serial = serial();
    let mut huge = manifest("c.json", &[LAYER]);
    huge.resize(MAX_MANIFEST_BYTES as usize + 1, b' ');
    let bytes = image_with(&huge, &[(LAYER, &plain_layer())]).finish();
    match read(&bytes).unwrap_err() {
        ArchiveError::TooLarge {
            entry,
            claimed,
            limit,
        } => assert_eq!(
            (entry.as_str(), claimed, limit),
            ("manifest.json", huge.len() as u64, MAX_MANIFEST_BYTES)
        ),
        other => panic!("expected the manifest refused, got: {other}"),
    }
    let layers = vec![LAYER; MAX_LAYERS_PER_IMAGE + 1];
    let bytes = image_with(&manifest("c.json", &layers), &[(LAYER, &plain_layer())]).finish();
    let message = manifest_error(read(&bytes).unwrap_err());
    assert!(
        message.contains("manifest.json")
            && message.contains(&format!("{} layers", MAX_LAYERS_PER_IMAGE + 1)),
        "{message}"
    );
}

#[test]
fn two_manifests_are_refused() {
    let _serial = serial();
    let bytes = image_with(&manifest("c.json", &[LAYER]), &[(LAYER, &plain_layer())])
        .file("./manifest.json", b"[]")
        .finish();
    assert!(manifest_error(read(&bytes).unwrap_err()).contains("two `manifest.json`"));
}

// ---------------------------------------------------------------------------------------
// Truncation.

#[test]
fn an_archive_cut_anywhere_fails_naming_an_entry() {
    let _serial = serial();
    let layer = Tar::new()
        .directory("app/")
        .file("app/a.txt", b"hello")
        .file("app/b.dll", &[7; 3000])
        .finish();
    let bytes = image(&layer);
    let whole = read(&bytes).unwrap();
    let names = ["manifest.json", "c.json", LAYER, "<first header>"];
    // The stream is complete once the first block of the end-of-archive marker is in.
    let complete_from = bytes.len() - 512;
    for cut in 0..bytes.len() {
        match read(&bytes[..cut]) {
            Ok(view) => {
                assert!(
                    cut >= complete_from,
                    "a stream cut at {cut} of {} was accepted",
                    bytes.len()
                );
                assert_eq!(view, whole);
            }
            Err(error) => {
                assert!(cut < complete_from, "cut at {cut}: {error}");
                let message = error.to_string();
                assert!(
                    names.iter().any(|name| message.contains(name)),
                    "cut at {cut}: {message}"
                );
            }
        }
    }
    for cut in (0..complete_from).step_by(97) {
        let message = analyze_archive(&bytes[..cut]).unwrap_err().to_string();
        assert!(
            names.iter().any(|name| message.contains(name)),
            "cut at {cut}: {message}"
        );
    }
}

#[test]
fn a_cut_names_the_entry_that_was_cut() {
    let _serial = serial();
    let layer = plain_layer();
    // Inside the manifest.
    let bytes = Tar::new().claiming("manifest.json", EntryType::Regular, 300, b"[{\"Config\"");
    assert_cut(read(&bytes).unwrap_err(), "manifest.json");
    // Inside a layer: the layer's reader sees the cut first.
    let bytes = image(&layer);
    let layer_start = 5 * 512;
    match read(&bytes[..layer_start + 700]).unwrap_err() {
        ArchiveError::Layer { layer, source, .. } => {
            assert_eq!(layer, LAYER);
            assert_eq!(source.kind(), ErrorKind::UnexpectedEof);
            assert!(source.to_string().contains(LAYER), "{source}");
        }
        other => panic!("expected the layer cut, got: {other}"),
    }
    // Between two entries: no end-of-archive marker.
    let bytes = image_with(&manifest("c.json", &[LAYER]), &[(LAYER, &layer)]).0;
    assert_cut(read(&bytes).unwrap_err(), "<header after l0/layer.tar>");
    assert_cut(
        analyze_archive(bytes.as_slice()).unwrap_err(),
        "<header after l0/layer.tar>",
    );
}

#[test]
fn a_layer_whose_last_file_is_cut_names_the_file() {
    let _serial = serial();
    let cut_layer = Tar::new().file("app/a.txt", b"1").claiming(
        "app/lib.dll",
        EntryType::Regular,
        4096,
        b"MZ only a little",
    );
    let bytes = image(&cut_layer);
    assert_layer_cut(read(&bytes).unwrap_err(), "app/lib.dll");
    assert_layer_cut(
        read_image_archive(bytes.as_slice(), &|_| false).unwrap_err(),
        "app/lib.dll",
    );
    assert_layer_cut(
        analyze_archive(bytes.as_slice()).unwrap_err(),
        "app/lib.dll",
    );
}

/// A 12-byte numeric header field in base-256 (for values past what octal holds).
fn base256(value: u64) -> [u8; 12] {
    let mut field = [0; 12];
    field[4..].copy_from_slice(&value.to_be_bytes());
    field[0] = 0x80;
    field
}

#[test]
fn a_sparse_file_with_a_huge_hole_is_not_expanded() {
    let _serial = serial();
    // 2 MiB stored at offset 1 PiB: read through, it would be a petabyte of zeros. The
    // stored bytes are more than the headers' allowance, and must still be skipped.
    let (hole, stored) = (1 << 50, 2 << 20);
    let mut header = Tar::header("app/sparse", EntryType::GNUSparse, stored, "");
    let gnu = header.as_gnu_mut().unwrap();
    gnu.sparse[0].offset = base256(hole);
    gnu.sparse[0].numbytes = base256(stored);
    gnu.realsize = base256(hole + stored);
    header.set_cksum();
    let layer = Tar::new()
        .put(&header, &vec![b'x'; stored as usize])
        .file("app/after", b"next")
        .finish();
    let bytes = image(&layer);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send((read(&bytes), sizes(&bytes)));
    });
    let (view, images) = receiver
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the readers return");
    let view = view.unwrap();
    assert_eq!(view.get("app/sparse").unwrap().file_type, FileType::Other);
    assert_eq!(view.get("app/after").unwrap().size_bytes, 4);
    assert_eq!(images.unwrap(), 1);
}

// ---------------------------------------------------------------------------------------
// Sizes claimed, never delivered: no allocation on the archive's word.

const EIGHT_GIB: u64 = 8 * GIB;

/// Checks the error of one case.
type ErrorCheck = Box<dyn Fn(ArchiveError)>;
/// Well under the smallest claim below (15 MiB), and some times what reading really needs
/// (about 1 MiB: buffers of 256 KiB).
const PEAK_LIMIT: usize = 8 << 20;

#[test]
fn claimed_sizes_are_never_allocated() {
    let _serial = serial();
    let valid_start = || Tar::new().file("manifest.json", &manifest("c.json", &[LAYER]));
    // More than the first block, so that the reader gets past looking at the entry's start.
    let mut long_config = CONFIG.to_vec();
    long_config.resize(2000, b' ');
    let cases: Vec<(&str, Vec<u8>, ErrorCheck)> = vec![
        (
            "manifest.json claims 8 GiB",
            Tar::new().claiming("manifest.json", EntryType::Regular, EIGHT_GIB, b"[{}]"),
            Box::new(|error| match error {
                ArchiveError::TooLarge { entry, claimed, .. } => {
                    assert_eq!((entry.as_str(), claimed), ("manifest.json", EIGHT_GIB))
                }
                other => panic!("expected the manifest refused, got: {other}"),
            }),
        ),
        (
            "a config claims 8 GiB",
            valid_start().claiming("c.json", EntryType::Regular, EIGHT_GIB, &long_config),
            Box::new(|error| assert_cut(error, "c.json")),
        ),
        (
            "a config claims 15 MiB",
            valid_start().claiming("c.json", EntryType::Regular, 15 << 20, &long_config),
            Box::new(|error| assert_cut(error, "c.json")),
        ),
        (
            "a layer claims 8 GiB",
            valid_start().claiming(LAYER, EntryType::Regular, EIGHT_GIB, &plain_layer()),
            Box::new(|error| match &error {
                // The image reader drains the layer entry; the size analysis reads the layer's
                // stream to its end itself, and so meets the cut inside the layer.
                ArchiveError::Read { entry, source }
                | ArchiveError::Layer {
                    layer: entry,
                    source,
                    ..
                } => {
                    assert_eq!(entry, LAYER, "{error}");
                    assert_eq!(source.kind(), ErrorKind::UnexpectedEof, "{error}");
                }
                other => panic!("expected the layer cut, got: {other}"),
            }),
        ),
        (
            "a layer's .dll claims 8 GiB",
            image(&Tar::new().claiming("app/big.dll", EntryType::Regular, EIGHT_GIB, b"MZ")),
            Box::new(|error| assert_layer_cut(error, "app/big.dll")),
        ),
        (
            "a layer's .dll claims 900 MiB, under the inspection limit",
            image(&Tar::new().claiming("app/big.dll", EntryType::Regular, 900 << 20, b"MZ")),
            Box::new(|error| assert_layer_cut(error, "app/big.dll")),
        ),
        (
            "a GNU long name claims 8 GiB",
            Tar::new().claiming(
                "././@LongLink",
                EntryType::GNULongName,
                EIGHT_GIB,
                b"app/a-very-long-name",
            ),
            Box::new(|error| match error {
                ArchiveError::Read { entry, .. } => assert_eq!(entry, "<first header>"),
                other => panic!("expected the header refused, got: {other}"),
            }),
        ),
    ];
    for (case, bytes, check) in cases {
        let (result, peak) = peak_during(|| read(&bytes));
        assert!(
            peak < PEAK_LIMIT,
            "{case}: {peak} bytes allocated at the peak"
        );
        check(result.unwrap_err());
        let (result, peak) = peak_during(|| analyze_archive(bytes.as_slice()));
        assert!(
            peak < PEAK_LIMIT,
            "{case}, sizes: {peak} bytes allocated at the peak"
        );
        check(result.unwrap_err());
    }
}

#[test]
fn headers_read_into_memory_are_bounded() {
    let _serial = serial();
    // Long names and PAX records that are really there, 4 MiB of each: the tar crate would
    // hold them whole; the reader stops at its limit.
    let mut name = vec![b'n'; 4 << 20];
    name.push(0);
    let long_name = Tar::new()
        .put(
            &Tar::header(
                "././@LongLink",
                EntryType::GNULongName,
                name.len() as u64,
                "",
            ),
            &name,
        )
        .file("x", b"1")
        .finish();
    let record = format!("{} path=", 4 << 20);
    let mut pax = record.into_bytes();
    pax.resize((4 << 20) + 10, b'p');
    let pax_header = Tar::new()
        .put(
            &Tar::header("PaxHeader/x", EntryType::XHeader, pax.len() as u64, ""),
            &pax,
        )
        .file("x", b"1")
        .finish();
    for (case, layer) in [("long name", long_name), ("PAX record", pax_header)] {
        let bytes = image(&layer);
        let base = CURRENT_BYTES.load(Ordering::SeqCst);
        let (result, peak) = peak_during(|| read(&bytes));
        assert!(
            peak < 4 << 20,
            "{case}: {peak} bytes allocated at the peak (base {base})"
        );
        match result.unwrap_err() {
            ArchiveError::Layer {
                layer,
                entry,
                source,
            } => {
                assert_eq!(
                    (layer.as_str(), entry.as_str()),
                    (LAYER, "<first header>"),
                    "{case}"
                );
                assert!(
                    source.to_string().contains("bytes of headers"),
                    "{case}: {source}"
                );
            }
            other => panic!("{case}: expected the header refused, got: {other}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The file system.

/// Every path under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            found.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if path.is_dir() && !path.is_symlink() {
                pending.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Restores the current directory when dropped.
struct CurrentDirectory(std::path::PathBuf);

impl Drop for CurrentDirectory {
    fn drop(&mut self) {
        std::env::set_current_dir(&self.0).unwrap();
    }
}

#[test]
fn reading_hostile_archives_writes_nothing() {
    let _serial = serial();
    // Everything the archives name, relative or absolute, points into `watched`; the readers
    // run from `watched/a/b`.
    let watched = tempfile::tempdir().unwrap();
    let root = watched.path().canonicalize().unwrap();
    let inside = root.join("a/b");
    std::fs::create_dir_all(&inside).unwrap();
    let absolute = |name: &str| format!("{}/{name}", root.display());
    let _restore = CurrentDirectory(std::env::current_dir().unwrap());
    std::env::set_current_dir(&inside).unwrap();

    let accepted_layer = Tar::new()
        .file(&absolute("absolute-file"), b"x")
        .directory(&absolute("absolute-directory/"))
        .symlink("out", &root.display().to_string())
        .file("out/through-symlink", b"x")
        .symlink("up", "../../escape-link")
        .file("up/through-relative-symlink", b"x")
        .hardlink("hard", &absolute("absolute-file"))
        .file("app/x.dll", b"not a PE file")
        .finish();
    let archives = [
        image(&accepted_layer),
        image(&Tar::new().file("../../escape", b"x").finish()),
        image(&Tar::new().hardlink("h", "../../escape-hard").finish()),
        image_with(&manifest("c.json", &[LAYER]), &[(LAYER, &plain_layer())])
            .file("../../escape", b"x")
            .finish(),
        image_with(&manifest("c.json", &[LAYER]), &[(LAYER, &plain_layer())])
            .file(&absolute("outer-absolute"), b"x")
            .finish(),
        image_with(
            &manifest("../../escape", &["../../escape"]),
            &[(LAYER, &plain_layer())],
        )
        .finish(),
        image_with(&manifest("c.json", &[LAYER]), &[(LAYER, &plain_layer())])
            .symlink("l1/layer.tar", "../../../escape")
            .finish(),
    ];
    let mut outcomes = Vec::new();
    for bytes in &archives {
        outcomes.push((read(bytes).is_ok(), sizes(bytes).is_ok()));
    }
    assert_eq!(
        outcomes,
        [
            (true, true),
            (false, false),
            (false, false),
            (false, false),
            (true, true),
            (false, false),
            (false, false)
        ]
    );
    let view = read(&archives[0]).unwrap();
    assert!(
        view.get(&absolute("absolute-file")).is_some() && view.get("out/through-symlink").is_some()
    );
    assert_eq!(
        view.get("app/x.dll").unwrap().assembly,
        Some(Ok(AssemblyKind::NotPortableExecutable))
    );
    assert_eq!(
        tree(&root),
        ["a", "a/b"],
        "the readers wrote to the file system"
    );
}

// ---------------------------------------------------------------------------------------
// Whatever the bytes, no panic.

fn sample_archive() -> Vec<u8> {
    let layer = Tar::new()
        .directory("app/")
        .file("app/a.dll", b"MZ\x90\x00")
        .symlink("app/link", "/usr/bin/x")
        .hardlink("app/hard", "app/a.dll")
        .file("app/.wh.gone", b"")
        .finish();
    image(&layer)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_archives_never_panic(changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12)) {
        let _serial = serial();
        let mut bytes = sample_archive();
        for (index, value) in changes {
            let position = index.index(bytes.len());
            bytes[position] = value;
        }
        let (outcome, peak) = peak_during(|| {
            let view = read(&bytes).map(|_| ());
            let analysis = sizes(&bytes).map(|_| ());
            let index = walk_archive(bytes.as_slice(), &mut |_, layer| {
                std::io::copy(layer, &mut std::io::sink()).map(|_| ()).map_err(|source| ArchiveError::Read { entry: "test".into(), source })
            });
            (view, analysis, index.map(|_| ()))
        });
        prop_assert!(peak < PEAK_LIMIT, "{} bytes allocated at the peak", peak);
        // An error always says which entry it was reading.
        for error in [outcome.0.err(), outcome.1.err(), outcome.2.err()].into_iter().flatten() {
            prop_assert!(error.to_string().contains('`'), "{}", error);
        }
    }
}
