//! The tar walk every archive and layer read goes through: headers bounded, each entry read to
//! exactly the size it claims, a cut stream an error naming its entry.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use super::ArchiveError;

/// Most bytes the tar reader may read between two entries: padding, the header, and the
/// extension entries (GNU long names, PAX records) that the tar crate reads into memory.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// What a tar reader's input ([`Metered`]) and the loop driving it share.
struct MeterState {
    /// Bytes the tar reader may still read.
    allowance: Cell<u64>,
    /// Whether the stream ended since the meter was armed.
    ended: Cell<bool>,
}

/// A handle on a [`MeterState`].
#[derive(Clone)]
struct Meter(Rc<MeterState>);

impl Meter {
    fn new() -> Meter {
        Meter(Rc::new(MeterState {
            allowance: Cell::new(u64::MAX),
            ended: Cell::new(false),
        }))
    }

    /// From now on, at most `bytes` may be read; forgets an earlier end of stream.
    fn arm(&self, bytes: u64) {
        self.0.allowance.set(bytes);
        self.0.ended.set(false);
    }

    /// Lifts the limit; says whether the stream ended since [`Meter::arm`].
    fn disarm(&self) -> bool {
        self.0.allowance.set(u64::MAX);
        self.0.ended.get()
    }
}

/// The input of a tar reader: reads at most the meter's allowance, and notes the end of the
/// stream. Armed while the tar reader looks for the next entry, it bounds what the tar crate
/// reads (and holds in memory) of extension entries on its own.
struct Metered<R> {
    inner: R,
    meter: Meter,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let state = &self.meter.0;
        let allowance = state.allowance.get();
        if allowance == 0 && !buffer.is_empty() {
            return Err(io::Error::other(format!(
                "more than {MAX_HEADER_BYTES} bytes of headers (long names, PAX records) before one entry"
            )));
        }
        let limit = buffer
            .len()
            .min(usize::try_from(allowance).unwrap_or(usize::MAX));
        let count = self.inner.read(&mut buffer[..limit])?;
        if count == 0 && limit > 0 {
            state.ended.set(true);
        }
        state.allowance.set(allowance.saturating_sub(count as u64));
        Ok(count)
    }
}

/// The data of one entry, read to exactly the size its header claims: the stream ending
/// first is an [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error naming the entry, not a
/// short file.
struct Exact<'n, R> {
    inner: R,
    name: &'n str,
    size: u64,
    remaining: u64,
}

impl<R: Read> Read for Exact<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buffer.is_empty() {
            return Ok(0);
        }
        let limit = buffer
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let count = self.inner.read(&mut buffer[..limit])?;
        if count == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "cut short: `{}` claims {} bytes but its stream ends after {}",
                    self.name,
                    self.size,
                    self.size - self.remaining
                ),
            ));
        }
        self.remaining -= count as u64;
        Ok(count)
    }
}

/// Reads and drops what is left of `reader`.
pub(super) fn drain(reader: &mut dyn Read) -> io::Result<()> {
    let mut buffer = [0u8; 32 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Fills `buffer` from `reader` as far as the stream allows; returns how much was read.
pub(super) fn read_up_to(reader: &mut dyn Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// One entry of a tar stream, as [`walk_tar`] hands it over.
pub(crate) struct TarEntry<'e> {
    /// The name as written (lossy UTF-8), not normalised.
    pub(crate) path: &'e str,
    /// The link target as written, for links.
    pub(crate) link: Option<&'e [u8]>,
    /// The entry type.
    pub(crate) kind: tar::EntryType,
    /// Permission bits (0 if unreadable).
    pub(crate) mode: u32,
    /// The size the header claims, bytes.
    pub(crate) size: u64,
    /// The entry's data, which fails rather than end before `size` bytes (empty for a
    /// sparse file, which is never read).
    pub(crate) data: &'e mut dyn Read,
}

/// Reads a tar stream entry by entry, under the rules of the [`archive`](super) module doc: the
/// headers before each entry are bounded, each entry's data is drained to its claimed size (an
/// early end is an error naming it), and with `require_end_marker` a stream that stops without the
/// end-of-archive marker is an error too. `error` builds the error for an entry name.
pub(crate) fn walk_tar(
    reader: impl Read,
    require_end_marker: bool,
    error: &dyn Fn(&str, io::Error) -> ArchiveError,
    visit: &mut dyn FnMut(TarEntry<'_>) -> Result<(), ArchiveError>,
) -> Result<(), ArchiveError> {
    let meter = Meter::new();
    let mut archive = tar::Archive::new(Metered {
        inner: reader,
        meter: meter.clone(),
    });
    let mut entries = archive
        .entries()
        .map_err(|source| error("<first header>", source))?;
    let mut previous: Option<String> = None;
    let header_name = |previous: &Option<String>| match previous {
        Some(name) => format!("<header after {name}>"),
        None => "<first header>".to_string(),
    };
    // Bytes of the previous entry left for the tar reader to skip (a sparse file's).
    let mut owed = 0;
    loop {
        meter.arm(MAX_HEADER_BYTES.saturating_add(owed));
        let next = entries.next();
        let ended = meter.disarm();
        let mut entry = match next {
            None if ended && require_end_marker => {
                let cut = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream stops without an end-of-archive marker: it was cut",
                );
                return Err(error(&header_name(&previous), cut));
            }
            None => return Ok(()),
            Some(Err(source)) => return Err(error(&header_name(&previous), source)),
            Some(Ok(entry)) => entry,
        };
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = entry.link_name_bytes().map(|bytes| bytes.into_owned());
        let (kind, mode, size) = (
            entry.header().entry_type(),
            entry.header().mode().unwrap_or(0),
            entry.size(),
        );
        // A sparse file reads as the size its header claims, mostly zeros the tar crate makes
        // up: it is not read at all (a hole of a petabyte would take forever to drain), and
        // the tar reader skips the bytes actually stored before the next header.
        let sparse = kind == tar::EntryType::GNUSparse;
        owed = if sparse {
            entry.header().entry_size().unwrap_or(0)
        } else {
            0
        };
        let readable = if sparse { 0 } else { size };
        let mut data = Exact {
            inner: &mut entry,
            name: &path,
            size: readable,
            remaining: readable,
        };
        visit(TarEntry {
            path: &path,
            link: link.as_deref(),
            kind,
            mode,
            size,
            data: &mut data,
        })?;
        drain(&mut data).map_err(|source| error(&path, source))?;
        previous = Some(path);
    }
}
