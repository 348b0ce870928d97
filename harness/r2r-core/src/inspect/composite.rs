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

use crate::inspect::native_format::NativeArray;
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
    /// Length of the component's method entry point array (method rows it can index; 0 when
    /// the component has no such section, as a facade without methods).
    pub method_slots: u32,
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
            let sections = read_core_sections(&image, header_rva)?;
            let (compiled_methods, method_slots) = match sections
                .iter()
                .find(|(kind, _, _)| *kind == SECTION_METHOD_DEF_ENTRY_POINTS)
            {
                Some((_, rva, size)) => {
                    let array = image.slice("method entry points", *rva, *size as usize)?;
                    let slots = NativeArray::parse(array).map_or(0, |array| array.slots());
                    (count_native_array(array).unwrap_or(0), slots)
                }
                None => (0, 0),
            };
            components.push(ComponentCode {
                name: names.get(index).cloned().unwrap_or_default(),
                compiled_methods,
                method_slots,
            });
        }
    }
    Ok(Some(CompositeFacts {
        flags: header.flags,
        sections: header.sections.iter().map(|(kind, _, _)| *kind).collect(),
        components,
    }))
}

/// The sections of a component's core header (flags, section count, then the sections: the
/// header without the signature and version of a full ReadyToRun header).
fn read_core_sections(
    image: &Image<'_>,
    rva: u32,
) -> Result<Vec<(u32, u32, u32)>, ReadyToRunError> {
    let fixed = image.slice("component ReadyToRun header", rva, 8)?;
    let count = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]).min(256);
    let table = image.slice("component section table", rva + 8, count as usize * 12)?;
    Ok(table
        .chunks_exact(12)
        .map(|entry| {
            let field = |at: usize| {
                u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]])
            };
            (field(0), field(4), field(8))
        })
        .collect())
}

/// Counts the present elements of a native-format sparse array; `None` when it is malformed.
fn count_native_array(bytes: &[u8]) -> Option<u32> {
    let array = NativeArray::parse(bytes)?;
    (0..array.slots().min(MAX_METHODS)).try_fold(0, |present, index| {
        Some(present + u32::from(array.element(index)?.is_some()))
    })
}

/// The number of method definitions with a body (IL) in a managed assembly's metadata;
/// `None` when the file has none or it cannot be read.
pub fn method_definitions(bytes: &[u8]) -> Option<u32> {
    let pe = PE::parse(bytes).ok()?;
    let image = Image { bytes, pe };
    let cli = image
        .pe
        .header
        .optional_header?
        .data_directories
        .get_clr_runtime_header()
        .cloned()?;
    let header = image.slice("CLI header", cli.virtual_address, 16).ok()?;
    let rva = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let size = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    let metadata = image.slice("metadata", rva, size as usize).ok()?;
    let (rows, (cursor, heap_sizes, _, _)) = table_rows(metadata)?;
    // Method definitions with a body (RVA, the first column, not 0): the rows of Module,
    // TypeRef, TypeDef and Field come first (FieldPtr and MethodPtr only in unoptimised
    // metadata, not read).
    if rows[0x03] != 0 || rows[0x05] != 0 {
        return None;
    }
    let string = if heap_sizes & 1 != 0 { 4 } else { 2 };
    let guid = if heap_sizes & 2 != 0 { 4 } else { 2 };
    let blob = if heap_sizes & 4 != 0 { 4 } else { 2 };
    let coded = |tables: &[usize], tag_bits: u32| {
        let most = tables.iter().map(|t| rows[*t]).max().unwrap_or(0);
        if most < (1 << (16 - tag_bits)) {
            2
        } else {
            4
        }
    };
    let index = |table: usize| if rows[table] < 1 << 16 { 2 } else { 4 };
    let module = 2 + string + 3 * guid;
    let type_ref = coded(&[0x00, 0x1a, 0x23, 0x01], 2) + 2 * string;
    let type_def = 4 + 2 * string + coded(&[0x02, 0x01, 0x1b], 2) + index(0x04) + index(0x06);
    let field = 2 + string + blob;
    let method = 4 + 2 + 2 + string + blob + index(0x08);
    let start = cursor
        + rows[0x00] as usize * module
        + rows[0x01] as usize * type_ref
        + rows[0x02] as usize * type_def
        + rows[0x04] as usize * field;
    let mut with_body = 0;
    for row in 0..rows[0x06] as usize {
        let at = start + row * method;
        let rva = metadata.get(at..at + 4)?;
        if rva != [0, 0, 0, 0] {
            with_body += 1;
        }
    }
    Some(with_body)
}

/// Where a metadata blob's tables begin, its heap sizes byte, and its `#Strings` heap
/// (offset, size).
type TablesAt = (usize, u8, usize, usize);

/// The row counts of a metadata blob's tables, and where they are (see [`TablesAt`]).
fn table_rows(metadata: &[u8]) -> Option<([u32; 64], TablesAt)> {
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
    let (strings, strings_size) = strings.unwrap_or((0, 0));
    let heap_sizes = *metadata.get(tables + 6)?;
    let valid = u64::from(u32_at(tables + 8)?) | (u64::from(u32_at(tables + 12)?) << 32);
    let mut rows = [0u32; 64];
    let mut cursor = tables + 24;
    for (table, count) in rows.iter_mut().enumerate() {
        if valid & (1 << table) != 0 {
            *count = u32_at(cursor)?;
            cursor += 4;
        }
    }
    Some((rows, (cursor, heap_sizes, strings, strings_size)))
}

/// The names of the `AssemblyRef` rows of an ECMA-335 metadata blob whose tables before
/// `AssemblyRef` are at most `Module`, `TypeRef`, `TypeDef` (one row), `ModuleRef`, `TypeSpec`
/// and `Assembly` (as in a composite's manifest: .NET 8 and 10 write `Module`, one `TypeDef`
/// and `Assembly`; .NET 11 adds `TypeRef`, `ModuleRef` and `TypeSpec` rows).
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
    let (rows, (cursor, heap_sizes, strings, strings_size)) = table_rows(metadata)?;
    let string_index = if heap_sizes & 1 != 0 { 4 } else { 2 };
    let guid_index = if heap_sizes & 2 != 0 { 4 } else { 2 };
    let blob_index = if heap_sizes & 4 != 0 { 4 } else { 2 };
    const MODULE: usize = 0x00;
    const TYPE_REF: usize = 0x01;
    const TYPE_DEF: usize = 0x02;
    const MODULE_REF: usize = 0x1A;
    const TYPE_SPEC: usize = 0x1B;
    const ASSEMBLY: usize = 0x20;
    const ASSEMBLY_REF: usize = 0x23;
    let expected = [TYPE_REF, TYPE_DEF, MODULE_REF, TYPE_SPEC, ASSEMBLY];
    // Other tables before AssemblyRef are not expected in a manifest. Coded and table indexes
    // are 2 bytes while the tables they point into are small (under 2^14 rows).
    if (1..ASSEMBLY_REF).any(|table| !expected.contains(&table) && rows[table] != 0)
        || rows[TYPE_DEF] > 1
        || rows.iter().any(|count| *count >= 1 << 14)
    {
        return None;
    }
    let module_row = 2 + string_index + 3 * guid_index;
    // ResolutionScope (coded), TypeName, TypeNamespace.
    let type_ref_row = 2 + 2 * string_index;
    let type_def_row = 4 + 2 * string_index + 2 + 2 + 2;
    let module_ref_row = string_index;
    let type_spec_row = blob_index;
    let assembly_row = 4 + 8 + 4 + blob_index + 2 * string_index;
    let reference_row = 8 + 4 + blob_index + string_index + string_index + blob_index;
    let mut row_at = cursor
        + rows[MODULE] as usize * module_row
        + rows[TYPE_REF] as usize * type_ref_row
        + rows[TYPE_DEF] as usize * type_def_row
        + rows[MODULE_REF] as usize * module_ref_row
        + rows[TYPE_SPEC] as usize * type_spec_row
        + rows[ASSEMBLY] as usize * assembly_row;
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

    /// A manifest metadata blob: the root, a `#~` stream with one `Module` row, one row in each
    /// of `extra` (table, row size), one `Assembly` row and `AssemblyRef` rows naming `names`,
    /// and `#Strings`.
    fn manifest(extra: &[(usize, usize)], names: &[&str]) -> Vec<u8> {
        let mut strings = vec![0u8];
        let offsets: Vec<u16> = names
            .iter()
            .map(|name| {
                let at = strings.len() as u16;
                strings.extend_from_slice(name.as_bytes());
                strings.push(0);
                at
            })
            .collect();
        // Module (1 row), the extra tables (1 row each), Assembly (1 row), AssemblyRef.
        let mut present: Vec<(usize, u32, usize)> = vec![(0x00, 1, 2 + 2 + 3 * 2)];
        present.extend(extra.iter().map(|(table, size)| (*table, 1, *size)));
        present.push((0x20, 1, 4 + 8 + 4 + 2 + 2 * 2));
        present.push((0x23, names.len() as u32, 0));
        present.sort();
        let mut tables = vec![0u8; 6];
        tables.push(0); // heap sizes: 2-byte indexes
        tables.push(1);
        let valid: u64 = present.iter().map(|(table, _, _)| 1u64 << table).sum();
        tables.extend_from_slice(&valid.to_le_bytes());
        tables.extend_from_slice(&0u64.to_le_bytes());
        for (_, count, _) in &present {
            tables.extend_from_slice(&count.to_le_bytes());
        }
        for (table, _, size) in &present {
            if *table != 0x23 {
                tables.extend(std::iter::repeat_n(0u8, *size));
            }
        }
        for offset in &offsets {
            // Version (8), flags (4), public key (blob), name, culture (strings), hash (blob).
            tables.extend_from_slice(&[0; 12]);
            tables.extend_from_slice(&[0, 0]);
            tables.extend_from_slice(&offset.to_le_bytes());
            tables.extend_from_slice(&[0, 0, 0, 0]);
        }
        let header = 16 + 4 + 2 + 2 + (8 + 4) + (8 + 12);
        let mut blob = Vec::new();
        blob.extend_from_slice(&0x424A_5342u32.to_le_bytes());
        blob.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0, 0]);
        blob.extend_from_slice(&4u32.to_le_bytes());
        blob.extend_from_slice(b"v4\0\0");
        blob.extend_from_slice(&[0, 0]);
        blob.extend_from_slice(&2u16.to_le_bytes());
        blob.extend_from_slice(&(header as u32).to_le_bytes());
        blob.extend_from_slice(&(tables.len() as u32).to_le_bytes());
        blob.extend_from_slice(b"#~\0\0");
        blob.extend_from_slice(&((header + tables.len()) as u32).to_le_bytes());
        blob.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        blob.extend_from_slice(b"#Strings\0\0\0\0");
        assert_eq!(blob.len(), header);
        blob.extend(tables);
        blob.extend(strings);
        blob
    }

    #[test]
    fn component_names_are_read_from_the_manifest_of_each_version() {
        let names = ["Microsoft.CSharp", "System.Runtime"];
        // .NET 8 and 10: Module, one TypeDef, Assembly.
        let ten = manifest(&[(0x02, 4 + 2 * 2 + 6)], &names);
        assert_eq!(
            assembly_ref_names(&ten),
            Some(names.map(String::from).to_vec())
        );
        // .NET 11 adds TypeRef, ModuleRef and TypeSpec rows before AssemblyRef.
        let eleven = manifest(
            &[
                (0x01, 2 + 2 * 2),
                (0x02, 4 + 2 * 2 + 6),
                (0x1A, 2),
                (0x1B, 2),
            ],
            &names,
        );
        assert_eq!(
            assembly_ref_names(&eleven),
            Some(names.map(String::from).to_vec())
        );
        // A table a manifest does not have (MethodDef): refused, not misread.
        let odd = manifest(&[(0x06, 14)], &names);
        assert_eq!(assembly_ref_names(&odd), None);
    }

    #[test]
    fn files_that_are_not_composites_have_no_facts() {
        assert_eq!(composite_facts(b"\x7fELF").unwrap(), None);
        assert!(composite_facts(b"MZ\0\0").is_err());
    }
}
