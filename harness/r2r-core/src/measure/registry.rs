//! What a real registry stores: images are pushed to a registry on 127.0.0.1 (Debian's
//! `docker-registry`, started by `scripts/registry.sh`) and the compressed layer sizes are
//! read back from their manifests.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::engine::{EngineError, Images};
use crate::support::probe;

/// Errors talking to the registry; each names the registry and what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The address is not a loopback address or not `host:port`.
    #[error(
        "registry address `{0}`: give 127.0.0.1:PORT (only a registry on this machine is used)"
    )]
    Address(String),
    /// The registry did not answer.
    #[error(
        "registry {address} does not answer ({message}); start one with `bash scripts/registry.sh`"
    )]
    Unreachable {
        /// The registry.
        address: SocketAddr,
        /// What failed.
        message: String,
    },
    /// A push failed.
    #[error("pushing to {address}: {source}")]
    Push {
        /// The registry.
        address: SocketAddr,
        /// The engine's error (boxed: it is large, and every other error of this type small).
        #[source]
        source: Box<EngineError>,
    },
    /// The manifest could not be read.
    #[error("manifest of {reference}: {message}")]
    Manifest {
        /// The pushed reference.
        reference: String,
        /// What was wrong.
        message: String,
    },
}

/// Parses a registry address, accepting loopback addresses only.
pub fn parse_address(text: &str) -> Result<SocketAddr, RegistryError> {
    let text = text.trim_start_matches("http://").trim_end_matches('/');
    let text = text.replacen("localhost:", "127.0.0.1:", 1);
    let address: SocketAddr = text
        .parse()
        .map_err(|_| RegistryError::Address(text.to_string()))?;
    if !address.ip().is_loopback() {
        return Err(RegistryError::Address(text));
    }
    Ok(address)
}

#[derive(Deserialize)]
struct Manifest {
    layers: Vec<ManifestLayer>,
}

#[derive(Deserialize)]
struct ManifestLayer {
    size: u64,
    digest: String,
}

/// One layer as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLayer {
    /// Digest of the compressed blob.
    pub digest: String,
    /// Size of the compressed blob, bytes.
    pub size_bytes: u64,
}

/// Checks that the registry answers its API.
pub async fn check(address: SocketAddr) -> Result<(), RegistryError> {
    let response = probe::request(address, "/v2/", &[], Duration::from_secs(5))
        .await
        .map_err(|error| RegistryError::Unreachable {
            address,
            message: error.to_string(),
        })?;
    if response.status != 200 {
        return Err(RegistryError::Unreachable {
            address,
            message: format!("GET /v2/ answered {}", response.status),
        });
    }
    Ok(())
}

/// Pushes `image` as `<address>/<repository>:<tag>` and returns the layers the registry
/// stores for it, bottom first. The extra tag is removed afterwards.
pub async fn push_and_read(
    engine: &dyn Images,
    address: SocketAddr,
    image: &str,
    repository: &str,
    tag: &str,
) -> Result<Vec<StoredLayer>, RegistryError> {
    let reference = format!("{address}/{repository}:{tag}");
    engine
        .tag_image(image, &reference)
        .await
        .map_err(|source| RegistryError::Push {
            address,
            source: Box::new(source),
        })?;
    let pushed = engine
        .push_image(&reference)
        .await
        .map_err(|source| RegistryError::Push {
            address,
            source: Box::new(source),
        });
    let _ = engine.remove_image(&reference).await;
    pushed?;
    let path = format!("/v2/{repository}/manifests/{tag}");
    let accept = [("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")];
    let response = probe::request(address, &path, &accept, Duration::from_secs(30))
        .await
        .map_err(|error| RegistryError::Manifest {
            reference: reference.clone(),
            message: error.to_string(),
        })?;
    if response.status != 200 {
        return Err(RegistryError::Manifest {
            reference,
            message: format!("GET {path} answered {}", response.status),
        });
    }
    let manifest: Manifest =
        serde_json::from_str(&response.body).map_err(|error| RegistryError::Manifest {
            reference: reference.clone(),
            message: error.to_string(),
        })?;
    Ok(manifest
        .layers
        .into_iter()
        .map(|layer| StoredLayer {
            digest: layer.digest,
            size_bytes: layer.size,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_registries_are_accepted() {
        assert_eq!(parse_address("127.0.0.1:5000").unwrap().port(), 5000);
        assert_eq!(parse_address("localhost:5001").unwrap().port(), 5001);
        assert!(parse_address("http://127.0.0.1:5000/").is_ok());
        assert!(matches!(
            parse_address("10.0.0.5:5000"),
            Err(RegistryError::Address(_))
        ));
        assert!(matches!(
            parse_address("registry.example:5000"),
            Err(RegistryError::Address(_))
        ));
    }
}
