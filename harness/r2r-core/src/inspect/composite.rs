//! What a composite image records about how it was compiled: its header flags, which
//! sections it has, and per component assembly (named from the manifest metadata) how many
//! methods have compiled code.
//!
//! The component at index `i` of the `ComponentAssemblies` section is the assembly of row
//! `i + 1` of the `AssemblyRef` table of the composite's manifest metadata (as the runtime
//! reads it). A component's compiled methods are the entries of its `MethodDefEntryPoints`
//! section, a native-format sparse array indexed by method row.

use goblin::pe::PE;
use serde::{Deserialize, Serialize};

use crate::inspect::readytorun::{read_header, Image, ReadyToRunError};

/// `--partial`: the image holds code for some methods only.
pub const FLAG_PARTIAL: u32 = 0x0000_0004;
const SECTION_METHOD_DEF_ENTRY_POINTS: u32 = 103;
const SECTION_MANIFEST_METADATA: u32 = 112;
const SECTION_COMPONENT_ASSEMBLIES: u32 = 115;
/// The section `--embed-pgo-data` adds.
pub const SECTION_PGO_INSTRUMENTATION_DATA: u32 = 117;
/// Most components read.
const MAX_COMPONENTS: usize = 4096;
/// Most method slots counted per component.
const MAX_METHODS: u32 = 1 << 22;

/// One component assembly of a composite image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentCode {
    /// The assembly's simple name (from the manifest metadata; empty when unreadable).
    pub name: String,
    /// Methods with compiled code in the composite (count).
    pub compiled_methods: u32,
}

/// What a composite image records about its compilation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeFacts {
    /// ReadyToRun header flags of the composite.
    pub flags: u32,
    /// Section types present in the composite's header.
    pub sections: Vec<u32>,
    /// Component assemblies, in the composite's order.
    pub components: Vec<ComponentCode>,
}

impl CompositeFacts {
    /// A component by simple name.
    pub fn component(&self, name: &str) -> Option<&ComponentCode> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// Reads the facts of a composite image (a file that exports `RTR_HEADER`); `None` when the
/// file is not a composite image.
pub fn composite_facts(bytes: &[u8]) -> Result<Option<CompositeFacts>, ReadyToRunError> {
    if bytes.len() < 2 || &bytes[..2] != b"MZ" {
        return Ok(None);
    }
    let pe = PE::parse(bytes).map_err(|error| ReadyToRunError::Malformed(error.to_string()))?;
    let image = Image { bytes, pe };
    let Some(export) = image
        .pe
        .exports
        .iter()
        .find(|export| export.name == Some("RTR_HEADER"))
    else {
        return Ok(None);
    };
    let header = read_header(&image, export.rva as u32)?;
    let section = |kind: u32| {
        header
            .sections
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|(_, rva, size)| (*rva, *size))
    };
    let names = match section(SECTION_MANIFEST_METADATA) {
        Some((rva, size)) => {
            let metadata = image.slice("manifest metadata", rva, size as usize)?;
            assembly_ref_names(metadata).unwrap_or_default()
        }
        None => Vec::new(),
    };
    let mut components = Vec::new();
    if let Some((rva, size)) = section(SECTION_COMPONENT_ASSEMBLIES) {
        let count = (size as usize / 16).min(MAX_COMPONENTS);
        let table = image.slice("component assemblies", rva, count * 16)?;
        for (index, entry) in table.chunks_exact(16).enumerate() {
            let header_rva = u32::from_le_bytes([entry[8], entry[9], entry[10], entry[11]]);
            let component = read_header(&image, header_rva)?;
            let compiled_methods = match component
                .sections
                .iter()
                .find(|(kind, _, _)| *kind == SECTION_METHOD_DEF_ENTRY_POINTS)
            {
                Some((_, rva, size)) => {
                    let array = image.slice("method entry points", *rva, *size as usize)?;
                    count_native_array(array).unwrap_or(0)
                }
                None => 0,
            };
            components.push(ComponentCode {
                name: names.get(index).cloned().unwrap_or_default(),
                compiled_methods,
            });
        }
    }
    Ok(Some(CompositeFacts {
        flags: header.flags,
        sections: header.sections.iter().map(|(kind, _, _)| *kind).collect(),
        components,
    }))
}

/// Decodes one unsigned number of the native format at `offset`; returns it and the offset
/// after it.
fn decode_unsigned(bytes: &[u8], offset: usize) -> Option<(u32, usize)> {
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

/// Counts the present elements of a native-format sparse array (blocks of 16 elements, each
/// a small tree of nodes).
fn count_native_array(bytes: &[u8]) -> Option<u32> {
    const BLOCK: u32 = 16;
    let (header, base) = decode_unsigned(bytes, 0)?;
    let elements = (header >> 2).min(MAX_METHODS);
    let index_size = header & 3;
    let mut present = 0;
    for index in 0..elements {
        let block = (index / BLOCK) as usize;
        let read = |at: usize, width: usize| {
            bytes.get(at..at + width).map(|raw| {
                raw.iter()
                    .rev()
                    .fold(0usize, |acc, b| (acc << 8) | *b as usize)
            })
        };
        let mut offset = match index_size {
            0 => read(base + block, 1)?,
            1 => read(base + 2 * block, 2)?,
            _ => read(base + 4 * block, 4)?,
        } + base;
        let mut found = false;
        let mut bit = BLOCK >> 1;
        loop {
            if bit == 0 {
                found = true;
                break;
            }
            let (value, next) = decode_unsigned(bytes, offset)?;
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
            if value & 3 == 0 && (value >> 2) == (index & (BLOCK - 1)) {
                found = true;
            }
            break;
        }
        if found {
            present += 1;
        }
    }
    Some(present)
}

/// The names of the `AssemblyRef` rows of an ECMA-335 metadata blob whose tables before
/// `AssemblyRef` are at most `Module` and `Assembly` (as in a composite's manifest).
fn assembly_ref_names(metadata: &[u8]) -> Option<Vec<String>> {
    let u16_at = |at: usize| {
        metadata
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        metadata
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if u32_at(0)? != 0x424A_5342 {
        return None;
    }
    let version_length = u32_at(12)? as usize;
    let mut at = 16 + version_length + 2;
    let streams = u16_at(at)?;
    at += 2;
    let (mut tables, mut strings) = (None, None);
    for _ in 0..streams {
        let offset = u32_at(at)? as usize;
        let size = u32_at(at + 4)? as usize;
        let name_start = at + 8;
        let name_end = name_start + metadata.get(name_start..)?.iter().position(|b| *b == 0)?;
        let name = &metadata[name_start..name_end];
        at = name_start + ((name_end - name_start) / 4 + 1) * 4;
        match name {
            b"#~" | b"#-" => tables = Some((offset, size)),
            b"#Strings" => strings = Some((offset, size)),
            _ => {}
        }
    }
    let (tables, _) = tables?;
    let (strings, strings_size) = strings?;
    let heap_sizes = *metadata.get(tables + 6)?;
    let string_index = if heap_sizes & 1 != 0 { 4 } else { 2 };
    let guid_index = if heap_sizes & 2 != 0 { 4 } else { 2 };
    let blob_index = if heap_sizes & 4 != 0 { 4 } else { 2 };
    let valid = u64::from(u32_at(tables + 8)?) | (u64::from(u32_at(tables + 12)?) << 32);
    let mut rows = [0u32; 64];
    let mut cursor = tables + 24;
    for (table, count) in rows.iter_mut().enumerate() {
        if valid & (1 << table) != 0 {
            *count = u32_at(cursor)?;
            cursor += 4;
        }
    }
    const MODULE: usize = 0x00;
    const ASSEMBLY: usize = 0x20;
    const ASSEMBLY_REF: usize = 0x23;
    if (1..ASSEMBLY_REF).any(|table| table != ASSEMBLY && rows[table] != 0) {
        return None;
    }
    let module_row = 2 + string_index + 3 * guid_index;
    let assembly_row = 4 + 8 + 4 + blob_index + 2 * string_index;
    let reference_row = 8 + 4 + blob_index + string_index + string_index + blob_index;
    let mut row_at =
        cursor + rows[MODULE] as usize * module_row + rows[ASSEMBLY] as usize * assembly_row;
    let mut names = Vec::new();
    for _ in 0..rows[ASSEMBLY_REF].min(MAX_COMPONENTS as u32) {
        let name_field = row_at + 12 + blob_index;
        let index = if string_index == 4 {
            u32_at(name_field)? as usize
        } else {
            u16_at(name_field)? as usize
        };
        let heap = metadata.get(strings..strings + strings_size)?;
        let text = heap.get(index..)?;
        let end = text.iter().position(|b| *b == 0)?;
        names.push(String::from_utf8_lossy(&text[..end]).into_owned());
        row_at += reference_row;
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_numbers_decode_in_all_widths() {
        assert_eq!(decode_unsigned(&[0x04], 0), Some((2, 1)));
        assert_eq!(decode_unsigned(&[0x01 | (5 << 2), 1], 0), Some((5 | 64, 2)));
        assert_eq!(decode_unsigned(&[0x0f, 1, 0, 0, 0], 0), Some((1, 5)));
        assert_eq!(decode_unsigned(&[0x1f, 1, 0, 0, 0], 0), None);
        assert_eq!(decode_unsigned(&[0x01], 0), None);
        assert_eq!(decode_unsigned(&[], 0), None);
    }

    #[test]
    fn an_array_with_one_element_present_counts_one() {
        // Header: 1 element, 1-byte block index; block 0 at offset 0 after the index; the
        // block holds a leaf for element 0 (value 0 << 2 with low bits 00).
        let bytes = [(1 << 2) << 1, 1, 0, 0x2a];
        assert_eq!(count_native_array(&bytes), Some(1));
        // The same array, the leaf naming element 3 instead: element 0 is absent.
        let bytes = [(1 << 2) << 1, 1, (3 << 2) << 1];
        assert_eq!(count_native_array(&bytes), Some(0));
        assert_eq!(count_native_array(&[]), None);
    }

    #[test]
    fn files_that_are_not_composites_have_no_facts() {
        assert_eq!(composite_facts(b"\x7fELF").unwrap(), None);
        assert!(composite_facts(b"MZ\0\0").is_err());
    }
}
