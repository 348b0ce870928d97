//! The images an archive lists: its `manifest.json`, or for an OCI layout without one, the
//! image manifests its `index.json` leads to.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;

use super::blobs::{blob_digest, StoredBlob};
use super::{normalise, ArchiveError, MAX_LAYERS_PER_IMAGE, MAX_LAYER_REFERENCES, MAX_LINK_HOPS};

/// One image of an archive's `manifest.json`; [`walk_archive`](super::walk_archive) normalises its
/// paths.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    /// Path of the image's config in the archive.
    #[serde(rename = "Config")]
    pub config: String,
    /// The image's tags.
    #[serde(rename = "RepoTags", default)]
    pub tags: Vec<String>,
    /// Paths of the image's layers in the archive, bottom first (the same layer may come
    /// twice: an image can have two identical layers).
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// What walking an archive found besides its layers.
#[derive(Debug, Default)]
pub struct ArchiveIndex {
    /// The images of `manifest.json`, paths normalised.
    pub manifest: Vec<ManifestEntry>,
    /// Small JSON documents (image configs) by normalised path.
    pub configs: HashMap<String, Vec<u8>>,
    /// Entries that are links to another entry (`docker save` links duplicate layers), by
    /// normalised path, to the normalised path they name.
    pub aliases: HashMap<String, String>,
    /// Regular entries that were neither a layer (a tar stream, plain or compressed) nor a JSON
    /// document kept in [`ArchiveIndex::configs`].
    pub unread: BTreeSet<String>,
    /// Every layer handed to the layer reader, by normalised path: how the archive stores it.
    pub blobs: HashMap<String, StoredBlob>,
}

impl ArchiveIndex {
    /// The path a layer's bytes are stored under, following links (at most
    /// [`MAX_LINK_HOPS`]; more is [`ArchiveError::LinkChain`]).
    pub fn resolve<'a>(&'a self, path: &'a str) -> Result<&'a str, ArchiveError> {
        let mut current = path;
        for _ in 0..=MAX_LINK_HOPS {
            match self.aliases.get(current) {
                Some(target) => current = target,
                None => return Ok(current),
            }
        }
        Err(ArchiveError::LinkChain {
            entry: path.to_string(),
            hops: MAX_LINK_HOPS,
        })
    }

    /// The error for a layer of the manifest that was not found as a tar stream.
    pub fn missing_layer(&self, path: &str) -> ArchiveError {
        let stored = self.resolve(path).unwrap_or(path);
        if self.unread.contains(stored) {
            ArchiveError::Manifest(format!(
                "layer `{path}` is in the archive but is neither a tar stream nor a gzip or zstd one"
            ))
        } else {
            ArchiveError::Manifest(format!("layer `{path}` is listed but not in the archive"))
        }
    }
}

/// Parses `manifest.json` and checks it: at least one image, the layer counts bounded, every
/// path normalised (an escape is [`ArchiveError::Escape`]).
pub(super) fn parse_manifest(text: &[u8]) -> Result<Vec<ManifestEntry>, ArchiveError> {
    let mut manifest: Vec<ManifestEntry> = serde_json::from_slice(text).map_err(|error| {
        ArchiveError::Manifest(format!("`manifest.json` is not a list of images: {error}"))
    })?;
    if manifest.is_empty() {
        return Err(ArchiveError::Manifest(
            "`manifest.json` lists no image".into(),
        ));
    }
    let references: usize = manifest.iter().map(|image| image.layers.len()).sum();
    if references > MAX_LAYER_REFERENCES {
        return Err(ArchiveError::Manifest(format!("`manifest.json` lists {references} layers in all, over the limit of {MAX_LAYER_REFERENCES}")));
    }
    let clean = |path: &str| {
        normalise(path).ok_or_else(|| ArchiveError::Escape {
            entry: "manifest.json".into(),
            path: path.to_string(),
        })
    };
    for (position, image) in manifest.iter_mut().enumerate() {
        if image.layers.len() > MAX_LAYERS_PER_IMAGE {
            let count = image.layers.len();
            return Err(ArchiveError::Manifest(format!(
                "`manifest.json` image {position} lists {count} layers, over the limit of {MAX_LAYERS_PER_IMAGE}"
            )));
        }
        image.config = clean(&image.config)?;
        for layer in &mut image.layers {
            *layer = clean(layer)?;
        }
    }
    Ok(manifest)
}

/// Most nested indexes followed from `index.json` to an image manifest.
pub const MAX_INDEX_DEPTH: usize = 4;

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

/// The blob path of a descriptor's digest (`sha256:<hex>` only).
fn descriptor_path(descriptor: &OciDescriptor) -> Result<String, ArchiveError> {
    let path = descriptor
        .digest
        .strip_prefix("sha256:")
        .map(|hex| format!("blobs/sha256/{hex}"))
        .filter(|path| blob_digest(path).is_some());
    path.ok_or_else(|| {
        ArchiveError::Manifest(format!(
            "`index.json`: `{}` is not a sha256 digest",
            descriptor.digest
        ))
    })
}

/// The images of an OCI layout, read through `index.json` (see the [`archive`](super) module doc).
pub(super) fn manifest_from_oci_index(
    index: &ArchiveIndex,
) -> Result<Vec<ManifestEntry>, ArchiveError> {
    fn visit(
        index: &ArchiveIndex,
        document: &[u8],
        name: &str,
        inherited_tags: &[String],
        depth: usize,
        images: &mut Vec<ManifestEntry>,
    ) -> Result<(), ArchiveError> {
        if depth > MAX_INDEX_DEPTH {
            return Err(ArchiveError::Manifest(format!(
                "`{name}`: indexes nested more than {MAX_INDEX_DEPTH} deep"
            )));
        }
        let parsed: OciIndex = serde_json::from_slice(document).map_err(|error| {
            ArchiveError::Manifest(format!("`{name}` is not an OCI index: {error}"))
        })?;
        for descriptor in &parsed.manifests {
            let path = descriptor_path(descriptor)?;
            let mut tags: Vec<String> = [
                "io.containerd.image.name",
                "org.opencontainers.image.ref.name",
            ]
            .iter()
            .filter_map(|key| descriptor.annotations.get(*key))
            .filter(|name| name.contains(':') || name.contains('/'))
            .take(1)
            .cloned()
            .collect();
            if tags.is_empty() {
                tags = inherited_tags.to_vec();
            }
            // Another platform's manifest, or one not exported: not in the archive.
            let Some(bytes) = index.configs.get(&path) else {
                continue;
            };
            let nested = descriptor.media_type.contains("index")
                || descriptor.media_type.contains("manifest.list");
            if nested {
                visit(index, bytes, &path, &tags, depth + 1, images)?;
                continue;
            }
            let manifest: OciManifest = serde_json::from_slice(bytes).map_err(|error| {
                ArchiveError::Manifest(format!("`{path}` is not an image manifest: {error}"))
            })?;
            let layers = manifest
                .layers
                .iter()
                .map(descriptor_path)
                .collect::<Result<Vec<_>, _>>()?;
            if layers.len() > MAX_LAYERS_PER_IMAGE {
                return Err(ArchiveError::Manifest(format!(
                    "`{path}` lists {} layers, over the limit of {MAX_LAYERS_PER_IMAGE}",
                    layers.len()
                )));
            }
            images.push(ManifestEntry {
                config: descriptor_path(&manifest.config)?,
                tags,
                layers,
            });
            let references: usize = images.iter().map(|image| image.layers.len()).sum();
            if references > MAX_LAYER_REFERENCES {
                return Err(ArchiveError::Manifest(format!(
                    "the OCI index lists {references} layers in all, over the limit of {MAX_LAYER_REFERENCES}"
                )));
            }
        }
        Ok(())
    }
    let mut images = Vec::new();
    visit(
        index,
        &index.configs["index.json"],
        "index.json",
        &[],
        0,
        &mut images,
    )?;
    if images.is_empty() {
        return Err(ArchiveError::Manifest(
            "`index.json` leads to no image manifest in the archive".into(),
        ));
    }
    Ok(images)
}
