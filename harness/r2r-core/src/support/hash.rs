//! Content hashes used for input hashes and cache keys.

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A 64-bit seed made from `text` (the first 8 bytes of its SHA-256, little-endian): different
/// texts, such as run ids, get unrelated seeds.
pub fn seed_of(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    u64::from_le_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
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
    fn seeds_of_run_ids_differ_where_byte_sums_collide() {
        // The same bytes in another order: equal sums, different seeds.
        assert_ne!(seed_of("20261206T213358Z"), seed_of("20261206T213385Z"));
        assert_eq!(
            seed_of("abc"),
            u64::from_le_bytes([0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea])
        );
    }

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
