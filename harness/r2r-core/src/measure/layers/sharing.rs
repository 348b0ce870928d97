//! How much of a set of images is stored once: layers shared by chain id, per image and per
//! pair of images.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::figures::{ImageAnalysis, LayerFigures};

/// Per image within a set: its total and how much of it no other image of the set has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMember {
    /// The image (plan id or reference).
    pub image: String,
    /// Sum of the image's layers, bytes.
    pub total_bytes: u64,
    /// Bytes of layers (by chain id) no other image of the set has.
    pub owned_bytes: u64,
    /// Bytes of layers at least one other image of the set has.
    pub shared_bytes: u64,
}

/// How a set of images is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSharing {
    /// The set's name (a variant, or `all`).
    pub set: String,
    /// Which figure the bytes are of: `content`, `tar`, `gzip` or `zstd`.
    pub figure: String,
    /// The images, in the order given.
    pub members: Vec<SetMember>,
    /// Sum of the images' totals, bytes (as if nothing were shared).
    pub sum_bytes: u64,
    /// Bytes stored once: the union of layers by chain id, bytes.
    pub stored_once_bytes: u64,
    /// `sum_bytes - stored_once_bytes`, bytes.
    pub saved_bytes: u64,
    /// Bytes each pair of images shares (row image, column image, bytes), for every ordered
    /// pair of distinct images.
    pub pairwise_shared_bytes: Vec<(String, String, u64)>,
}

/// Computes the sharing of a set of analysed images by one figure.
pub fn sharing(
    set: &str,
    figure_name: &str,
    figure: impl Fn(&LayerFigures) -> u64,
    images: &[(String, &ImageAnalysis)],
) -> SetSharing {
    let chains: Vec<BTreeMap<&str, u64>> = images
        .iter()
        .map(|(_, analysis)| {
            analysis
                .layers
                .iter()
                .map(|layer| (layer.chain_id.as_str(), figure(&layer.figures)))
                .collect()
        })
        .collect();
    let mut holders: HashMap<&str, usize> = HashMap::new();
    for layers in &chains {
        for chain in layers.keys() {
            *holders.entry(chain).or_default() += 1;
        }
    }
    let mut union: BTreeMap<&str, u64> = BTreeMap::new();
    let members: Vec<SetMember> = images
        .iter()
        .zip(&chains)
        .map(|((name, _), layers)| {
            let total: u64 = layers.values().sum();
            let owned: u64 = layers
                .iter()
                .filter(|(chain, _)| holders[*chain] == 1)
                .map(|(_, bytes)| bytes)
                .sum();
            union.extend(layers.iter().map(|(chain, bytes)| (*chain, *bytes)));
            SetMember {
                image: name.clone(),
                total_bytes: total,
                owned_bytes: owned,
                shared_bytes: total - owned,
            }
        })
        .collect();
    let mut pairwise = Vec::new();
    for (i, (a, _)) in images.iter().enumerate() {
        for (j, (b, _)) in images.iter().enumerate() {
            if i != j {
                let shared = chains[i]
                    .iter()
                    .filter(|(chain, _)| chains[j].contains_key(*chain))
                    .map(|(_, bytes)| bytes)
                    .sum();
                pairwise.push((a.clone(), b.clone(), shared));
            }
        }
    }
    let sum_bytes = members.iter().map(|member| member.total_bytes).sum();
    let stored_once_bytes = union.values().sum();
    SetSharing {
        set: set.to_string(),
        figure: figure_name.to_string(),
        members,
        sum_bytes,
        stored_once_bytes,
        saved_bytes: sum_bytes - stored_once_bytes,
        pairwise_shared_bytes: pairwise,
    }
}

/// Distinct chain ids of a set of analyses (for tests and summaries).
pub fn chain_ids<'a>(analyses: impl IntoIterator<Item = &'a ImageAnalysis>) -> BTreeSet<String> {
    analyses
        .into_iter()
        .flat_map(|analysis| analysis.layers.iter().map(|layer| layer.chain_id.clone()))
        .collect()
}
