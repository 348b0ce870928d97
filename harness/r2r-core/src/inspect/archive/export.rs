//! Images exported through the engine, parsed as the stream arrives; and the reference names
//! an export's tags are compared by.

use std::io::Read;

use super::ArchiveError;

/// Why an image export could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The engine's export stream failed (the parser then only saw a cut stream).
    #[error("{references}: {cause}")]
    Engine {
        /// The images exported, space-separated.
        references: String,
        /// The engine's error (in the message).
        cause: crate::engine::EngineError,
    },
    /// The exported archive could not be read.
    #[error("{references}: {cause}")]
    Archive {
        /// The images exported, space-separated.
        references: String,
        /// What is wrong with the archive (in the message).
        cause: ArchiveError,
    },
    /// The parsing thread panicked or was cancelled.
    #[error("parsing the export of {references}: {cause}")]
    Parser {
        /// The images exported, space-separated.
        references: String,
        /// The join error (in the message).
        cause: tokio::task::JoinError,
    },
}

/// A reference as the engines compare names: `localhost/` (podman's prefix for images built
/// or tagged without a registry), `docker.io/` and `docker.io/library/` (the containerd
/// store's full names) are dropped, so that `r2r/quick:x`, `localhost/r2r/quick:x` and
/// `docker.io/r2r/quick:x` are one name. Used to find an image of a plan among the tags an
/// engine's export gives it.
pub fn familiar_reference(reference: &str) -> &str {
    for prefix in ["localhost/", "docker.io/library/", "docker.io/"] {
        if let Some(rest) = reference.strip_prefix(prefix) {
            return rest;
        }
    }
    reference
}

/// A blocking [`Read`] over chunks arriving on a channel (from an async export stream).
pub struct ChannelReader {
    receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl ChannelReader {
    /// Reads the chunks sent on `receiver` until it closes.
    pub fn new(receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        ChannelReader {
            receiver,
            current: bytes::Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len());
        buffer[..count].copy_from_slice(&self.current.split_to(count));
        Ok(count)
    }
}

/// Exports `references` through the engine as one archive stream and parses it with `parse` on
/// a blocking thread, which reads the chunks from a small bounded channel: memory stays flat
/// whatever the images' size. An export error wins over the parser's (which then only saw a
/// cut stream).
pub async fn parse_export<T: Send + 'static>(
    engine: &dyn crate::engine::Images,
    references: &[String],
    parse: impl FnOnce(ChannelReader) -> Result<T, ArchiveError> + Send + 'static,
) -> Result<T, ExportError> {
    use futures_util::StreamExt;
    let (sender, receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let parser = tokio::task::spawn_blocking(move || parse(ChannelReader::new(receiver)));
    let mut stream = engine.export_images(references);
    let mut export_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                if sender.send(chunk).await.is_err() {
                    break; // the parser stopped early; it has an error to report
                }
            }
            Err(error) => {
                export_error = Some(error);
                break;
            }
        }
    }
    drop(sender);
    let references = references.join(" ");
    let parsed = parser.await.map_err(|cause| ExportError::Parser {
        references: references.clone(),
        cause,
    })?;
    match export_error {
        Some(cause) => Err(ExportError::Engine { references, cause }),
        None => parsed.map_err(|cause| ExportError::Archive { references, cause }),
    }
}
