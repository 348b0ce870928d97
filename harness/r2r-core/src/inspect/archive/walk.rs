//! The walk over an outer image archive: its entries, links, JSON documents and layer blobs
//! (decompressed and digest-checked on the way), each layer handed on as a stream.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::blobs::{
    blob_compression, blob_digest, BlobCompression, Expansion, RawBlob, StoredBlob,
};
use super::manifest::{manifest_from_oci_index, parse_manifest, ArchiveIndex};
use super::tar_stream::{drain, read_up_to, walk_tar};
use super::{normalise, ArchiveError, MAX_MANIFEST_BYTES, MAX_ZSTD_WINDOW_LOG};

/// Largest JSON document (an image config) kept from an archive, bytes; larger ones are
/// skipped.
const MAX_JSON_BYTES: u64 = 16 << 20;
/// Most bytes of JSON documents kept from one archive.
const MAX_JSON_TOTAL_BYTES: u64 = 64 << 20;
/// Buffer of a layer stream, bytes.
const LAYER_BUFFER_BYTES: usize = 256 * 1024;

/// Walks an image archive: `manifest.json` and configs are collected, links between entries
/// recorded, and every layer (a tar stream, possibly empty) handed to `on_layer` with its
/// normalised path. Entries and headers are read under the rules of the [`archive`](super) module
/// doc: an error names the entry, and nothing is allocated on a header's word.
pub fn walk_archive(
    reader: impl Read,
    on_layer: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<(), ArchiveError>,
) -> Result<ArchiveIndex, ArchiveError> {
    let mut index = ArchiveIndex::default();
    let mut manifest = None;
    let mut json_bytes = 0;
    let read_error = |entry: &str, source| ArchiveError::Read {
        entry: entry.to_string(),
        source,
    };
    walk_tar(reader, true, &read_error, &mut |entry| {
        let escape = |path: &str| ArchiveError::Escape {
            entry: entry.path.to_string(),
            path: path.to_string(),
        };
        let name = normalise(entry.path).ok_or_else(|| escape(entry.path))?;
        if name.is_empty() && entry.kind != tar::EntryType::Directory {
            return Err(read_error(
                entry.path,
                io::Error::other("an entry that is not a directory names the archive root"),
            ));
        }
        match entry.kind {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = String::from_utf8_lossy(entry.link.unwrap_or_default()).into_owned();
                // A symbolic link's relative target starts from the link's directory; a hard
                // link's, and an absolute one, from the archive's root.
                let joined = match name.rsplit_once('/') {
                    Some((directory, _))
                        if entry.kind == tar::EntryType::Symlink && !target.starts_with('/') =>
                    {
                        format!("{directory}/{target}")
                    }
                    _ => target.clone(),
                };
                let resolved = normalise(&joined).ok_or_else(|| escape(&target))?;
                if resolved.is_empty() {
                    return Err(read_error(
                        &name,
                        io::Error::other("a link without a target"),
                    ));
                }
                index.aliases.insert(name, resolved);
                return Ok(());
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            _ => return Ok(()),
        }
        if name == "manifest.json" {
            if manifest.is_some() {
                return Err(ArchiveError::Manifest(
                    "the archive holds two `manifest.json` entries".into(),
                ));
            }
            if entry.size > MAX_MANIFEST_BYTES {
                return Err(ArchiveError::TooLarge {
                    entry: name,
                    claimed: entry.size,
                    limit: MAX_MANIFEST_BYTES,
                });
            }
            let mut text = Vec::new();
            entry
                .data
                .read_to_end(&mut text)
                .map_err(|source| read_error(&name, source))?;
            manifest = Some(parse_manifest(&text)?);
            return Ok(());
        }
        let digest = blob_digest(&name);
        let consumed = Rc::new(Cell::new(0u64));
        let mut raw = RawBlob {
            inner: &mut *entry.data,
            hasher: digest.map(|_| Sha256::new()),
            consumed: consumed.clone(),
        };
        let mut head = [0u8; 512];
        let length = read_up_to(&mut raw, &mut head).map_err(|source| read_error(&name, source))?;
        let head = &head[..length];
        if head.first() == Some(&b'{') {
            if entry.size <= MAX_JSON_BYTES {
                json_bytes += entry.size;
                if json_bytes > MAX_JSON_TOTAL_BYTES {
                    let reason = format!("JSON documents in the archive come to more than {MAX_JSON_TOTAL_BYTES} bytes");
                    return Err(read_error(&name, io::Error::other(reason)));
                }
                let mut bytes = head.to_vec();
                raw.read_to_end(&mut bytes)
                    .map_err(|source| read_error(&name, source))?;
                index.configs.insert(name.clone(), bytes);
            } else {
                index.unread.insert(name.clone());
            }
        } else {
            match blob_compression(head) {
                Some(BlobCompression::None) => {
                    let mut layer =
                        BufReader::with_capacity(LAYER_BUFFER_BYTES, head.chain(&mut raw));
                    on_layer(&name, &mut layer)?;
                    index.blobs.insert(
                        name.clone(),
                        StoredBlob {
                            compression: BlobCompression::None,
                            stored_bytes: entry.size,
                            digest_checked: digest.is_some(),
                        },
                    );
                }
                Some(compression) => {
                    let source = BufReader::with_capacity(LAYER_BUFFER_BYTES, head.chain(&mut raw));
                    let decoder: Box<dyn Read + '_> = match compression {
                        BlobCompression::Gzip => {
                            Box::new(flate2::bufread::MultiGzDecoder::new(source))
                        }
                        _ => {
                            let mut decoder = zstd::stream::read::Decoder::with_buffer(source)
                                .map_err(|source| read_error(&name, source))?;
                            decoder
                                .window_log_max(MAX_ZSTD_WINDOW_LOG)
                                .map_err(|source| read_error(&name, source))?;
                            Box::new(decoder)
                        }
                    };
                    let mut bounded = Expansion {
                        inner: decoder,
                        consumed,
                        produced: 0,
                        compression,
                    };
                    let mut layer = BufReader::with_capacity(LAYER_BUFFER_BYTES, &mut bounded);
                    on_layer(&name, &mut layer)?;
                    // To its end: a cut or corrupt stream (gzip's checksum) is an error here
                    // even when the tar inside ended early.
                    drain(&mut layer).map_err(|source| read_error(&name, source))?;
                    index.blobs.insert(
                        name.clone(),
                        StoredBlob {
                            compression,
                            stored_bytes: entry.size,
                            digest_checked: digest.is_some(),
                        },
                    );
                }
                None => {
                    index.unread.insert(name.clone());
                }
            }
        }
        if let Some(expected) = digest {
            drain(&mut raw).map_err(|source| read_error(&name, source))?;
            let actual = hex::encode(raw.hasher.take().unwrap_or_default().finalize());
            if actual != expected {
                return Err(ArchiveError::Digest {
                    entry: name,
                    actual: format!("sha256:{actual}"),
                });
            }
        }
        Ok(())
    })?;
    index.manifest = match manifest {
        Some(manifest) => manifest,
        None if index.configs.contains_key("index.json") => manifest_from_oci_index(&index)?,
        None => {
            return Err(ArchiveError::Manifest(
                "no `manifest.json` (nor an OCI `index.json`) in the archive".into(),
            ))
        }
    };
    Ok(index)
}
