//! The NativeFormat encoding that ReadyToRun images use for their lookup tables: variable-length
//! unsigned numbers and sparse arrays (`NativeArray`) of blocks of 16 elements, each block a
//! small binary tree of nodes.

/// Elements per block of a [`NativeArray`].
const BLOCK: u32 = 16;

/// Decodes the variable-length unsigned number at `offset` of `bytes` (1 to 5 bytes, the low
/// bits of the first byte say how many); returns it and the offset after it. `None` when the
/// bytes end early or the first byte announces a width the format does not have.
pub(crate) fn decode_unsigned(bytes: &[u8], offset: usize) -> Option<(u32, usize)> {
    let byte = |at: usize| bytes.get(offset + at).map(|b| u32::from(*b));
    let first = byte(0)?;
    if first & 1 == 0 {
        Some((first >> 1, offset + 1))
    } else if first & 2 == 0 {
        Some(((first >> 2) | (byte(1)? << 6), offset + 2))
    } else if first & 4 == 0 {
        Some((
            (first >> 3) | (byte(1)? << 5) | (byte(2)? << 13),
            offset + 3,
        ))
    } else if first & 8 == 0 {
        Some((
            (first >> 4) | (byte(1)? << 4) | (byte(2)? << 12) | (byte(3)? << 20),
            offset + 4,
        ))
    } else if first & 16 == 0 {
        Some((
            byte(1)? | (byte(2)? << 8) | (byte(3)? << 16) | (byte(4)? << 24),
            offset + 5,
        ))
    } else {
        None
    }
}

/// A sparse array in NativeFormat, read in place from the bytes that start at its header.
pub(crate) struct NativeArray<'a> {
    bytes: &'a [u8],
    /// Offset of the block index (just after the header).
    base: usize,
    /// Number of element slots.
    slots: u32,
    /// Width of one block-index entry: 0 = 1 byte, 1 = 2 bytes, otherwise 4 bytes.
    index_width: u32,
}

impl<'a> NativeArray<'a> {
    /// The array whose header starts at the first byte of `bytes`; `None` when the header
    /// cannot be read.
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<Self> {
        let (header, base) = decode_unsigned(bytes, 0)?;
        Some(Self {
            bytes,
            base,
            slots: header >> 2,
            index_width: header & 3,
        })
    }

    /// The number of element slots the header announces (present or not).
    pub(crate) fn slots(&self) -> u32 {
        self.slots
    }

    /// Where element `index` starts: `Some(Some(offset))` (an offset into the array's bytes)
    /// when it is present, `Some(None)` when the slot is empty, `None` when the bytes are
    /// malformed on the way to it.
    pub(crate) fn element(&self, index: u32) -> Option<Option<usize>> {
        let block = (index / BLOCK) as usize;
        let width = match self.index_width {
            0 => 1,
            1 => 2,
            _ => 4,
        };
        let at = self.base + width * block;
        let raw = self.bytes.get(at..at + width)?;
        let relative = raw
            .iter()
            .rev()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        let mut offset = self.base + relative;
        let mut bit = BLOCK >> 1;
        while bit > 0 {
            let (value, next) = decode_unsigned(self.bytes, offset)?;
            if index & bit != 0 {
                if value & 2 != 0 {
                    offset += (value >> 2) as usize;
                    bit >>= 1;
                    continue;
                }
            } else if value & 1 != 0 {
                offset = next;
                bit >>= 1;
                continue;
            }
            // A leaf: the element is here only if it names this index.
            return Some((value & 3 == 0 && (value >> 2) == index & (BLOCK - 1)).then_some(next));
        }
        Some(Some(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_numbers_decode_in_every_width() {
        assert_eq!(decode_unsigned(&[0x04], 0), Some((2, 1)));
        assert_eq!(decode_unsigned(&[0x01 | (5 << 2), 1], 0), Some((5 | 64, 2)));
        assert_eq!(
            decode_unsigned(&[0x03 | (1 << 3), 1, 1], 0),
            Some((1 | 32 | 8192, 3))
        );
        assert_eq!(
            decode_unsigned(&[0x07 | (1 << 4), 1, 0, 1], 0),
            Some((1 | 16 | (1 << 20), 4))
        );
        assert_eq!(decode_unsigned(&[0x0f, 1, 0, 0, 0], 0), Some((1, 5)));
        assert_eq!(decode_unsigned(&[0x0f, 0, 0, 0], 0), None);
        assert_eq!(decode_unsigned(&[0x1f, 1, 0, 0, 0], 0), None);
        assert_eq!(decode_unsigned(&[0x01], 0), None);
        assert_eq!(decode_unsigned(&[], 0), None);
        assert_eq!(decode_unsigned(&[0, 0x06], 1), Some((3, 2)));
    }

    #[test]
    fn an_array_with_one_element_finds_it_and_only_it() {
        // Header: one slot, one-byte block index; block 0 starts one byte after the index;
        // four nodes "a left child follows" (index 0 has bits 8, 4, 2 and 1 clear), then the
        // element itself: the number 7.
        let bytes = [4 << 1, 1, 1 << 1, 1 << 1, 1 << 1, 1 << 1, 7 << 1];
        let array = NativeArray::parse(&bytes).unwrap();
        assert_eq!(array.slots(), 1);
        let at = array.element(0).unwrap().unwrap();
        assert_eq!(decode_unsigned(&bytes, at), Some((7, at + 1)));
        // Index 1 goes right at the last node, which has no right child: empty.
        assert_eq!(array.element(1), Some(None));
        // A leaf node that names the index ends the walk early and finds it.
        let leaf = [4 << 1, 1, 0, 7 << 1];
        let array = NativeArray::parse(&leaf).unwrap();
        assert_eq!(array.element(0), Some(Some(3)));
        assert_eq!(array.element(3), Some(None));
        // A block whose index entry lies past the end: malformed.
        assert_eq!(array.element(128), None);
    }
}
