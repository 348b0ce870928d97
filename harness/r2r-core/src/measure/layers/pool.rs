//! The compressor pool: each layer spooled once to an unlinked temporary file, and a gzip and a
//! zstd job per layer on threads that read the spool at their own pace.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use super::compress::{Codec, COMPRESS_BLOCK_BYTES};

/// What a [`Spool`]'s writer and readers share.
#[derive(Default)]
struct SpoolState {
    /// Bytes written so far.
    written: u64,
    /// Whether the writer is done (the layer ended, or reading it failed).
    closed: bool,
}

/// One layer's bytes in an unlinked temporary file: written once by the reading thread, read
/// by each compressor at its own pace (a reader that catches up with the writer waits).
pub(super) struct Spool {
    file: std::fs::File,
    state: Mutex<SpoolState>,
    grown: Condvar,
}

impl Spool {
    pub(super) fn new(directory: &Path) -> std::io::Result<Spool> {
        std::fs::create_dir_all(directory)?;
        Ok(Spool {
            file: tempfile::tempfile_in(directory)?,
            state: Mutex::new(SpoolState::default()),
            grown: Condvar::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SpoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(super) fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        let offset = self.lock().written;
        self.file.write_all_at(bytes, offset)?;
        self.lock().written = offset + bytes.len() as u64;
        self.grown.notify_all();
        Ok(())
    }

    pub(super) fn close(&self) -> u64 {
        let mut state = self.lock();
        state.closed = true;
        self.grown.notify_all();
        state.written
    }

    /// Bytes written so far, bytes.
    pub(super) fn written(&self) -> u64 {
        self.lock().written
    }

    /// Fills `block` from `offset`, waiting for the writer until the whole block is written or
    /// the layer has ended; how many bytes it holds (fewer only at the end, 0 past it).
    pub(super) fn read_block(&self, offset: u64, block: &mut [u8]) -> std::io::Result<usize> {
        let wanted = offset + block.len() as u64;
        let available = {
            let mut state = self.lock();
            while state.written < wanted && !state.closed {
                state = self
                    .grown
                    .wait(state)
                    .unwrap_or_else(|poison| poison.into_inner());
            }
            state.written.saturating_sub(offset).min(block.len() as u64) as usize
        };
        self.file.read_exact_at(&mut block[..available], offset)?;
        Ok(available)
    }
}

/// The compressed sizes of one layer, filled in by its jobs.
#[derive(Default)]
pub(super) struct Slot {
    /// gzip and zstd results, once known.
    results: Mutex<[Option<std::io::Result<u64>>; 2]>,
}

impl Slot {
    pub(super) fn take(&self) -> std::io::Result<(u64, u64)> {
        let mut results = self
            .results
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut take = |index: usize| {
            results[index]
                .take()
                .unwrap_or_else(|| Err(std::io::Error::other("the compressor did not finish")))
        };
        Ok((take(0)?, take(1)?))
    }
}

/// Bytes of spooled layers whose jobs have not ended.
#[derive(Default)]
pub(super) struct Backlog {
    bytes: Mutex<u64>,
    shrunk: Condvar,
}

impl Backlog {
    pub(super) fn add(&self, bytes: u64) {
        *self
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) += bytes;
    }

    fn remove(&self, bytes: u64) {
        let mut backlog = self
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *backlog = backlog.saturating_sub(bytes);
        self.shrunk.notify_all();
    }

    pub(super) fn wait_below(&self, limit: u64) {
        let mut backlog = self
            .bytes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        while *backlog > limit {
            backlog = self
                .shrunk
                .wait(backlog)
                .unwrap_or_else(|poison| poison.into_inner());
        }
    }
}

/// One compression of one spooled layer.
struct Job {
    codec: Codec,
    spool: Arc<Spool>,
    slot: Arc<Slot>,
    /// Jobs of the layer still running (the last one frees its bytes from the backlog).
    running: Arc<std::sync::atomic::AtomicUsize>,
}

impl Job {
    /// Compresses the layer, reading it block by block into `block` (the worker's buffer of
    /// [`COMPRESS_BLOCK_BYTES`]).
    fn run(self, backlog: &Backlog, block: &mut [u8]) {
        let spool = &self.spool;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut encoder = self.codec.encoder()?;
            let mut offset = 0;
            loop {
                let count = spool.read_block(offset, block)?;
                if count == 0 {
                    break;
                }
                encoder.block(&block[..count])?;
                offset += count as u64;
            }
            encoder.finish()
        }))
        .unwrap_or_else(|_| Err(std::io::Error::other("the compressor panicked")));
        let index = match self.codec {
            Codec::Gzip => 0,
            Codec::Zstd => 1,
        };
        self.slot
            .results
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())[index] = Some(result);
        if self
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            backlog.remove(spool.written());
        }
    }
}

/// Compressor threads, one per core, taking jobs in the order given.
pub(super) struct Pool {
    sender: Option<std::sync::mpsc::Sender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
    pub(super) backlog: Arc<Backlog>,
}

impl Pool {
    pub(super) fn new() -> Pool {
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2)
            .clamp(1, 4);
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let backlog = Arc::new(Backlog::default());
        let workers = (0..threads)
            .map(|_| {
                let receiver = receiver.clone();
                let backlog = backlog.clone();
                std::thread::spawn(move || {
                    let mut block = vec![0; COMPRESS_BLOCK_BYTES];
                    loop {
                        let job = receiver
                            .lock()
                            .unwrap_or_else(|poison| poison.into_inner())
                            .recv();
                        match job {
                            Ok(job) => job.run(&backlog, &mut block),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        Pool {
            sender: Some(sender),
            workers,
            backlog,
        }
    }

    /// Queues a layer's gzip and zstd jobs.
    pub(super) fn submit(&self, spool: &Arc<Spool>, slot: &Arc<Slot>) {
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(2));
        for codec in [Codec::Gzip, Codec::Zstd] {
            let job = Job {
                codec,
                spool: spool.clone(),
                slot: slot.clone(),
                running: running.clone(),
            };
            if let Some(sender) = &self.sender {
                // Fails only when every worker is gone; the slot then reports it.
                let _ = sender.send(job);
            }
        }
    }

    /// Waits for every queued job.
    pub(super) fn finish(mut self) {
        self.sender = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
