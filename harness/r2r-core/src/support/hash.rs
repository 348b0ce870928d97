//! Content hashes used for input hashes and cache keys.

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An incremental SHA-256 over several named parts; each part is length-prefixed so that
/// different splits of the same bytes hash differently.
#[derive(Default)]
pub struct InputHasher(Sha256);

impl InputHasher {
    /// Adds one named part.
    pub fn part(&mut self, name: &str, bytes: &[u8]) -> &mut Self {
        for piece in [name.as_bytes(), bytes] {
            self.0.update((piece.len() as u64).to_le_bytes());
            self.0.update(piece);
        }
        self
    }

    /// The hex digest.
    pub fn finish(&self) -> String {
        hex::encode(self.0.clone().finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_part_boundaries_matter() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let a = InputHasher::default()
            .part("x", b"ab")
            .part("y", b"c")
            .finish();
        let b = InputHasher::default()
            .part("x", b"a")
            .part("y", b"bc")
            .finish();
        assert_ne!(a, b);
    }
}
