//! Where the bytes of an assembly file go: IL, metadata, native code and the rest, read from
//! the PE section table, the CLI header, the metadata tables and the ReadyToRun header.
//!
//! Every byte of a file is counted in exactly one [`Part`], so the parts of a file add up to
//! its size. The structures are located as follows (each clipped to the bytes the file
//! holds; where two overlap, the bytes go to the one that starts first):
//!
//! - `headers`: the DOS and PE headers and the section table (the bytes before the first
//!   section's data);
//! - `metadata`: the CLI header and the ECMA-335 metadata it points at;
//! - `il`: the method bodies (header, IL code, exception clauses) the `MethodDef` table's
//!   RVAs point at, each shared body once;
//! - `resources`: managed resources and the strong-name signature;
//! - `native_code`: the code ranges of the ReadyToRun `RuntimeFunctions` table (method
//!   bodies and their funclets);
//! - `readytorun`: the ReadyToRun header(s) and every section they list (entry-point tables,
//!   fixups, import cells, the runtime functions table itself, debug and EH info, ...);
//! - `signature`: the Authenticode certificate table (shipped files are signed);
//! - `other`: everything else: unwind and GC info (which no table sizes), field data,
//!   relocations, exports, alignment padding.
//!
//! A composite image is split by component where the format says which bytes belong to
//! which component assembly: each component's own ReadyToRun header and its sections, and the
//! native code of the methods its `MethodDefEntryPoints` table lists (the main body of each;
//! funclets, generic instantiations and stubs are not listed per component). The rest of the
//! composite, its shared tables included, is the explicit shared part ([`SHARED`]).

use std::collections::BTreeMap;

use goblin::pe::PE;
use serde::{Deserialize, Serialize};

use crate::inspect::native_format::{decode_unsigned, NativeArray};

/// `RTR` in little-endian.
const READYTORUN_SIGNATURE: u32 = 0x0052_5452;
const SECTION_RUNTIME_FUNCTIONS: u32 = 102;
const SECTION_METHODDEF_ENTRY_POINTS: u32 = 103;
const SECTION_MANIFEST_METADATA: u32 = 112;
const SECTION_COMPONENT_ASSEMBLIES: u32 = 115;
/// Most sections read from one ReadyToRun header.
const MAX_SECTIONS: u32 = 256;
/// Most components read from a composite.
const MAX_COMPONENTS: u32 = 4096;
/// The assembly name of a composite's shared part.
pub const SHARED: &str = "(shared/unattributed)";

/// The kinds of bytes a file is split into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    /// DOS and PE headers, section table.
    Headers,
    /// CLI header and ECMA-335 metadata.
    Metadata,
    /// IL method bodies.
    Il,
    /// Managed resources and strong-name signature.
    Resources,
    /// Precompiled native code (ReadyToRun runtime functions).
    NativeCode,
    /// ReadyToRun headers and sections.
    ReadyToRun,
    /// Authenticode certificate table.
    Signature,
    /// Everything else (unwind and GC info, field data, relocations, padding).
    Other,
}

/// Bytes per [`Part`]; the parts of one file (or one component) add up to its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartBytes {
    /// DOS and PE headers and the section table, bytes.
    pub headers: u64,
    /// CLI header and metadata, bytes.
    pub metadata: u64,
    /// IL method bodies, bytes.
    pub il: u64,
    /// Managed resources and strong-name signature, bytes.
    pub resources: u64,
    /// Native code, bytes.
    pub native_code: u64,
    /// ReadyToRun headers and sections, bytes.
    pub readytorun: u64,
    /// Authenticode certificate table, bytes.
    pub signature: u64,
    /// Everything else, bytes.
    pub other: u64,
}

impl PartBytes {
    /// The sum of every part, bytes.
    pub fn total(&self) -> u64 {
        self.headers
            + self.metadata
            + self.il
            + self.resources
            + self.native_code
            + self.readytorun
            + self.signature
            + self.other
    }

    /// IL, metadata and resources: what the IL assembly brings, bytes.
    pub fn il_metadata(&self) -> u64 {
        self.metadata + self.il + self.resources
    }

    /// Everything but IL + metadata and native code, bytes.
    pub fn rest(&self) -> u64 {
        self.total() - self.il_metadata() - self.native_code
    }

    fn add(&mut self, part: Part, bytes: u64) {
        let slot = match part {
            Part::Headers => &mut self.headers,
            Part::Metadata => &mut self.metadata,
            Part::Il => &mut self.il,
            Part::Resources => &mut self.resources,
            Part::NativeCode => &mut self.native_code,
            Part::ReadyToRun => &mut self.readytorun,
            Part::Signature => &mut self.signature,
            Part::Other => &mut self.other,
        };
        *slot += bytes;
    }

    /// Adds every part of `other`.
    pub fn accumulate(&mut self, other: &PartBytes) {
        self.headers += other.headers;
        self.metadata += other.metadata;
        self.il += other.il;
        self.resources += other.resources;
        self.native_code += other.native_code;
        self.readytorun += other.readytorun;
        self.signature += other.signature;
        self.other += other.other;
    }
}

/// One component's share of a composite image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentShare {
    /// The component assembly's simple name ([`SHARED`] for the unattributed rest).
    pub assembly: String,
    /// Its bytes in the composite.
    pub bytes: PartBytes,
    /// Methods whose main body is attributed to it.
    pub methods: u64,
}

/// The anatomy of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAnatomy {
    /// The file's size, bytes.
    pub file_bytes: u64,
    /// Its bytes by part (they add up to `file_bytes`).
    pub bytes: PartBytes,
    /// For a composite image, its split by component, the shared part last (the shares add
    /// up to `bytes`); empty otherwise.
    pub components: Vec<ComponentShare>,
}

/// Why a file's anatomy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnatomyError {
    /// The PE structure is malformed.
    #[error("malformed PE file: {0}")]
    Malformed(String),
    /// A structure points outside the file.
    #[error("{what} at RVA {rva:#x} lies outside the file")]
    OutOfBounds {
        /// The structure.
        what: &'static str,
        /// Its relative virtual address.
        rva: u32,
    },
    /// A structure's contents are not what its format says.
    #[error("{what}: {reason}")]
    Invalid {
        /// The structure.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The file's view: RVAs mapped to file offsets through the section table.
struct View<'a> {
    bytes: &'a [u8],
    /// (rva, virtual length, file offset, bytes in the file) per section.
    sections: Vec<(u32, u32, u32, u32)>,
}

impl<'a> View<'a> {
    fn new(bytes: &'a [u8], pe: &PE<'_>) -> View<'a> {
        let sections = pe
            .sections
            .iter()
            .map(|section| {
                let raw = section.size_of_raw_data.min(
                    (bytes.len() as u64).saturating_sub(u64::from(section.pointer_to_raw_data))
                        as u32,
                );
                let length = section.virtual_size.max(section.size_of_raw_data);
                (
                    section.virtual_address,
                    length,
                    section.pointer_to_raw_data,
                    raw,
                )
            })
            .collect();
        View { bytes, sections }
    }

    /// The file offset of `rva` and how many bytes from there are in the file (within its
    /// section).
    fn locate(&self, rva: u32) -> Option<(usize, usize)> {
        self.sections
            .iter()
            .find(|(start, length, _, _)| {
                rva >= *start && u64::from(rva) < u64::from(*start) + u64::from(*length)
            })
            .and_then(|(start, _, offset, raw)| {
                let within = rva - start;
                (within < *raw).then(|| ((*offset + within) as usize, (*raw - within) as usize))
            })
    }

    /// The file range `[start, end)` of `size` bytes at `rva`, clipped to the bytes present.
    fn range(&self, rva: u32, size: u64) -> Option<(u64, u64)> {
        let (offset, available) = self.locate(rva)?;
        let length = size.min(available as u64);
        (length > 0).then_some((offset as u64, offset as u64 + length))
    }

    fn slice(&self, what: &'static str, rva: u32, size: usize) -> Result<&'a [u8], AnatomyError> {
        match self.locate(rva) {
            Some((offset, available)) if available >= size => {
                Ok(&self.bytes[offset..offset + size])
            }
            _ => Err(AnatomyError::OutOfBounds { what, rva }),
        }
    }

    /// Everything from `rva` to the end of its section's bytes.
    fn tail(&self, what: &'static str, rva: u32) -> Result<&'a [u8], AnatomyError> {
        let (offset, available) = self
            .locate(rva)
            .ok_or(AnatomyError::OutOfBounds { what, rva })?;
        Ok(&self.bytes[offset..offset + available])
    }

    fn u32_at(&self, what: &'static str, rva: u32) -> Result<u32, AnatomyError> {
        let bytes = self.slice(what, rva, 4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Ranges of the file claimed by parts, with the component they belong to (for composites).
#[derive(Default)]
struct Claims {
    ranges: Vec<(u64, u64, Part, Option<usize>)>,
}

impl Claims {
    fn claim(&mut self, range: Option<(u64, u64)>, part: Part, owner: Option<usize>) {
        if let Some((start, end)) = range {
            if end > start {
                self.ranges.push((start, end, part, owner));
            }
        }
    }

    /// Counts every byte of a file of `length` bytes once: claimed bytes to the claim that
    /// starts first, the rest to [`Part::Other`]. Returns the total and the per-owner split.
    fn count(mut self, length: u64, owners: usize) -> (PartBytes, Vec<PartBytes>, PartBytes) {
        self.ranges.sort_by_key(|(start, end, _, _)| (*start, *end));
        let mut total = PartBytes::default();
        let mut owned = vec![PartBytes::default(); owners];
        let mut shared = PartBytes::default();
        let mut cursor = 0u64;
        for (start, end, part, owner) in self.ranges {
            let end = end.min(length);
            let start = start.max(cursor);
            if end <= start {
                continue;
            }
            let bytes = end - start;
            total.add(part, bytes);
            match owner {
                Some(index) if index < owners => owned[index].add(part, bytes),
                _ => shared.add(part, bytes),
            }
            cursor = end;
        }
        let claimed = total.total();
        total.add(Part::Other, length - claimed);
        shared.add(Part::Other, length - claimed);
        (total, owned, shared)
    }
}

/// The streams and tables of an ECMA-335 metadata blob.
struct Metadata<'a> {
    tables: &'a [u8],
    heap_sizes: u8,
    rows: [u32; 64],
    /// Offset of each present table inside `tables`.
    table_offsets: [usize; 64],
    strings: &'a [u8],
}

#[derive(Clone, Copy)]
enum Column {
    U16,
    U32,
    Str,
    Guid,
    Blob,
    Table(u8),
    Coded(&'static [u8], u32),
}

const NONE: u8 = 0xff;
const TYPE_DEF_OR_REF: Column = Column::Coded(&[0x02, 0x01, 0x1b], 2);
const HAS_CONSTANT: Column = Column::Coded(&[0x04, 0x08, 0x17], 2);
const HAS_CUSTOM_ATTRIBUTE: Column = Column::Coded(
    &[
        0x06, 0x04, 0x01, 0x02, 0x08, 0x09, 0x0a, 0x00, 0x0e, 0x17, 0x14, 0x11, 0x1a, 0x1b, 0x20,
        0x23, 0x26, 0x27, 0x28, 0x2a, 0x2c, 0x2b,
    ],
    5,
);
const HAS_FIELD_MARSHAL: Column = Column::Coded(&[0x04, 0x08], 1);
const HAS_DECL_SECURITY: Column = Column::Coded(&[0x02, 0x06, 0x20], 2);
const MEMBER_REF_PARENT: Column = Column::Coded(&[0x02, 0x01, 0x1a, 0x06, 0x1b], 3);
const HAS_SEMANTICS: Column = Column::Coded(&[0x14, 0x17], 1);
const METHOD_DEF_OR_REF: Column = Column::Coded(&[0x06, 0x0a], 1);
const MEMBER_FORWARDED: Column = Column::Coded(&[0x04, 0x06], 1);
const IMPLEMENTATION: Column = Column::Coded(&[0x26, 0x23, 0x27], 2);
const CUSTOM_ATTRIBUTE_TYPE: Column = Column::Coded(&[NONE, NONE, 0x06, 0x0a, NONE], 3);
const RESOLUTION_SCOPE: Column = Column::Coded(&[0x00, 0x1a, 0x23, 0x01], 2);
const TYPE_OR_METHOD_DEF: Column = Column::Coded(&[0x02, 0x06], 1);

/// The columns of the ECMA-335 tables 0x00-0x2c (II.22).
fn schema(table: usize) -> Option<&'static [Column]> {
    use Column::*;
    Some(match table {
        0x00 => &[U16, Str, Guid, Guid, Guid],
        0x01 => &[RESOLUTION_SCOPE, Str, Str],
        0x02 => &[U32, Str, Str, TYPE_DEF_OR_REF, Table(0x04), Table(0x06)],
        0x03 => &[Table(0x04)],
        0x04 => &[U16, Str, Blob],
        0x05 => &[Table(0x06)],
        0x06 => &[U32, U16, U16, Str, Blob, Table(0x08)],
        0x07 => &[Table(0x08)],
        0x08 => &[U16, U16, Str],
        0x09 => &[Table(0x02), TYPE_DEF_OR_REF],
        0x0a => &[MEMBER_REF_PARENT, Str, Blob],
        0x0b => &[U16, HAS_CONSTANT, Blob],
        0x0c => &[HAS_CUSTOM_ATTRIBUTE, CUSTOM_ATTRIBUTE_TYPE, Blob],
        0x0d => &[HAS_FIELD_MARSHAL, Blob],
        0x0e => &[U16, HAS_DECL_SECURITY, Blob],
        0x0f => &[U16, U32, Table(0x02)],
        0x10 => &[U32, Table(0x04)],
        0x11 => &[Blob],
        0x12 => &[Table(0x02), Table(0x14)],
        0x13 => &[Table(0x14)],
        0x14 => &[U16, Str, TYPE_DEF_OR_REF],
        0x15 => &[Table(0x02), Table(0x17)],
        0x16 => &[Table(0x17)],
        0x17 => &[U16, Str, Blob],
        0x18 => &[U16, Table(0x06), HAS_SEMANTICS],
        0x19 => &[Table(0x02), METHOD_DEF_OR_REF, METHOD_DEF_OR_REF],
        0x1a => &[Str],
        0x1b => &[Blob],
        0x1c => &[U16, MEMBER_FORWARDED, Str, Table(0x1a)],
        0x1d => &[U32, Table(0x04)],
        0x1e => &[U32, U32],
        0x1f => &[U32],
        0x20 => &[U32, U16, U16, U16, U16, U32, Blob, Str, Str],
        0x21 => &[U32],
        0x22 => &[U32, U32, U32],
        0x23 => &[U16, U16, U16, U16, U32, Blob, Str, Str, Blob],
        0x24 => &[U32, Table(0x23)],
        0x25 => &[U32, U32, U32, Table(0x23)],
        0x26 => &[U32, Str, Blob],
        0x27 => &[U32, U32, Str, Str, IMPLEMENTATION],
        0x28 => &[U32, U32, Str, IMPLEMENTATION],
        0x29 => &[Table(0x02), Table(0x02)],
        0x2a => &[U16, U16, TYPE_OR_METHOD_DEF, Str],
        0x2b => &[METHOD_DEF_OR_REF, Blob],
        0x2c => &[Table(0x2a), TYPE_DEF_OR_REF],
        _ => return None,
    })
}

fn invalid_metadata(reason: impl Into<String>) -> AnatomyError {
    AnatomyError::Invalid {
        what: "metadata",
        reason: reason.into(),
    }
}

impl<'a> Metadata<'a> {
    fn parse(blob: &'a [u8]) -> Result<Metadata<'a>, AnatomyError> {
        if le32(blob, 0) != Some(0x424a_5342) {
            return Err(invalid_metadata("no BSJB signature"));
        }
        let version_length = le32(blob, 12).ok_or_else(|| invalid_metadata("cut short"))? as usize;
        let mut at = 16 + version_length;
        let streams = le16(blob, at + 2).ok_or_else(|| invalid_metadata("cut short"))?;
        at += 4;
        let mut tables = None;
        let mut strings: &[u8] = &[];
        for _ in 0..streams {
            let offset = le32(blob, at).ok_or_else(|| invalid_metadata("stream header"))? as usize;
            let size =
                le32(blob, at + 4).ok_or_else(|| invalid_metadata("stream header"))? as usize;
            let name_start = at + 8;
            let name_end = blob[name_start.min(blob.len())..]
                .iter()
                .position(|byte| *byte == 0)
                .map(|position| name_start + position)
                .ok_or_else(|| invalid_metadata("stream name"))?;
            let name = &blob[name_start..name_end];
            at = name_start + (name_end - name_start + 4) / 4 * 4;
            let data = blob
                .get(offset..offset.saturating_add(size))
                .ok_or_else(|| invalid_metadata("stream outside the metadata"))?;
            match name {
                b"#~" | b"#-" => tables = Some(data),
                b"#Strings" => strings = data,
                _ => {}
            }
        }
        let tables = tables.ok_or_else(|| invalid_metadata("no tables stream"))?;
        let heap_sizes = *tables.get(6).ok_or_else(|| invalid_metadata("tables"))?;
        let valid = tables
            .get(8..16)
            .map(|bytes| u64::from_le_bytes(bytes.try_into().unwrap()))
            .ok_or_else(|| invalid_metadata("tables"))?;
        let mut rows = [0u32; 64];
        let mut at = 24;
        for (table, count) in rows.iter_mut().enumerate() {
            if valid & (1 << table) != 0 {
                *count = le32(tables, at).ok_or_else(|| invalid_metadata("row counts"))?;
                at += 4;
            }
        }
        if heap_sizes & 0x40 != 0 {
            at += 4; // extra data
        }
        let mut metadata = Metadata {
            tables,
            heap_sizes,
            rows,
            table_offsets: [usize::MAX; 64],
            strings,
        };
        for table in 0..64 {
            if metadata.rows[table] == 0 {
                continue;
            }
            metadata.table_offsets[table] = at;
            let Some(row) = metadata.row_size(table) else {
                break; // a table without a known schema: the ones after it cannot be located
            };
            at = at.saturating_add(row.saturating_mul(metadata.rows[table] as usize));
        }
        Ok(metadata)
    }

    fn column_size(&self, column: Column) -> usize {
        let wide = |bit: u8| if self.heap_sizes & bit != 0 { 4 } else { 2 };
        match column {
            Column::U16 => 2,
            Column::U32 => 4,
            Column::Str => wide(1),
            Column::Guid => wide(2),
            Column::Blob => wide(4),
            Column::Table(table) => {
                if self.rows[table as usize] < 1 << 16 {
                    2
                } else {
                    4
                }
            }
            Column::Coded(tables, bits) => {
                let most = tables
                    .iter()
                    .filter(|table| **table != NONE)
                    .map(|table| self.rows[*table as usize])
                    .max()
                    .unwrap_or(0);
                if most < 1 << (16 - bits) {
                    2
                } else {
                    4
                }
            }
        }
    }

    fn row_size(&self, table: usize) -> Option<usize> {
        Some(
            schema(table)?
                .iter()
                .map(|column| self.column_size(*column))
                .sum(),
        )
    }

    /// The cells of every row of `table`, as integers.
    fn rows(&self, table: usize) -> Vec<Vec<u32>> {
        let (Some(columns), Some(row_size)) = (schema(table), self.row_size(table)) else {
            return Vec::new();
        };
        let start = self.table_offsets[table];
        if start == usize::MAX {
            return Vec::new();
        }
        let mut result = Vec::new();
        for index in 0..self.rows[table] as usize {
            let mut at = start + index * row_size;
            let mut cells = Vec::with_capacity(columns.len());
            for column in columns {
                let size = self.column_size(*column);
                let value = if size == 2 {
                    le16(self.tables, at).map(u32::from)
                } else {
                    le32(self.tables, at)
                };
                let Some(value) = value else {
                    return result;
                };
                cells.push(value);
                at += size;
            }
            result.push(cells);
        }
        result
    }

    fn string(&self, offset: u32) -> String {
        let data = self.strings.get(offset as usize..).unwrap_or_default();
        let end = data
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(data.len());
        String::from_utf8_lossy(&data[..end]).into_owned()
    }
}

/// The extent of the method body at `rva`, bytes (header, code and exception sections).
fn method_body_length(view: &View<'_>, rva: u32) -> Option<u64> {
    let data = view.tail("method body", rva).ok()?;
    let first = *data.first()?;
    match first & 3 {
        2 => Some(1 + u64::from(first >> 2)),
        3 => {
            let flags = le16(data, 0)?;
            let header = usize::from(flags >> 12) * 4;
            let code = le32(data, 4)? as usize;
            let mut end = header.checked_add(code)?;
            let mut more = flags & 0x8 != 0;
            while more {
                end = end.div_ceil(4) * 4;
                let kind = *data.get(end)?;
                let size = if kind & 0x40 != 0 {
                    let bytes = data.get(end + 1..end + 4)?;
                    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]) as usize
                } else {
                    usize::from(*data.get(end + 1)?)
                };
                if size == 0 {
                    break;
                }
                end += size;
                more = kind & 0x80 != 0;
            }
            (end <= data.len()).then_some(end as u64)
        }
        _ => None,
    }
}

/// A ReadyToRun header: its flags and its sections (type, RVA, size).
struct ReadyToRunHeader {
    rva: u32,
    sections: Vec<(u32, u32, u32)>,
}

impl ReadyToRunHeader {
    /// The core header of a composite component (no signature or version: flags, count,
    /// sections) or the full header (`full`).
    fn read(view: &View<'_>, rva: u32, full: bool) -> Result<ReadyToRunHeader, AnatomyError> {
        let table_at = if full {
            let signature = view.u32_at("ReadyToRun header", rva)?;
            if signature != READYTORUN_SIGNATURE {
                return Err(AnatomyError::Invalid {
                    what: "ReadyToRun header",
                    reason: format!("signature {signature:#x}, not RTR"),
                });
            }
            rva + 8
        } else {
            rva
        };
        let count = view
            .u32_at("ReadyToRun header", table_at + 4)?
            .min(MAX_SECTIONS);
        let table = view.slice(
            "ReadyToRun section table",
            table_at + 8,
            count as usize * 12,
        )?;
        let sections = table
            .chunks_exact(12)
            .map(|entry| {
                (
                    le32(entry, 0).unwrap_or(0),
                    le32(entry, 4).unwrap_or(0),
                    le32(entry, 8).unwrap_or(0),
                )
            })
            .collect();
        Ok(ReadyToRunHeader { rva, sections })
    }

    fn size(&self, full: bool) -> u64 {
        (if full { 16 } else { 8 }) + 12 * self.sections.len() as u64
    }

    fn section(&self, kind: u32) -> Option<(u32, u32)> {
        self.sections
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|(_, rva, size)| (*rva, *size))
    }

    fn claim(&self, view: &View<'_>, claims: &mut Claims, full: bool, owner: Option<usize>) {
        claims.claim(
            view.range(self.rva, self.size(full)),
            Part::ReadyToRun,
            owner,
        );
        for (_, rva, size) in &self.sections {
            claims.claim(view.range(*rva, u64::from(*size)), Part::ReadyToRun, owner);
        }
    }
}

/// The code ranges (begin, end RVA) of a ReadyToRun `RuntimeFunctions` table. x64 entries
/// are 12 bytes (begin, end, unwind data). arm64 entries are 8 bytes (begin, unwind data): the
/// function's length, in 4-byte instructions, is in the unwind data, packed into the entry
/// itself when its low two bits are set (bits 2-12), otherwise in the first word of the unwind
/// record it points at (bits 0-17), read through `word_at`. Other architectures: none read.
fn runtime_functions(
    table: &[u8],
    architecture: crate::inspect::readytorun::CodeArchitecture,
    word_at: impl Fn(u32) -> Option<u32>,
) -> Vec<(u32, u32)> {
    use crate::inspect::readytorun::CodeArchitecture;
    match architecture {
        CodeArchitecture::X64 => table
            .chunks_exact(12)
            .map(|entry| (le32(entry, 0).unwrap_or(0), le32(entry, 4).unwrap_or(0)))
            .collect(),
        CodeArchitecture::Arm64 => table
            .chunks_exact(8)
            .map(|entry| {
                let begin = le32(entry, 0).unwrap_or(0);
                let unwind = le32(entry, 4).unwrap_or(0);
                let instructions = if unwind & 3 != 0 {
                    (unwind >> 2) & 0x7ff
                } else {
                    word_at(unwind).map_or(0, |word| word & 0x3_ffff)
                };
                (begin, begin.saturating_add(instructions * 4))
            })
            .collect(),
        CodeArchitecture::Other(_) => Vec::new(),
    }
}

/// The runtime function indices of a `MethodDefEntryPoints` NativeArray (in `data`, which
/// starts at the array): one per method that has code.
fn method_entry_points(data: &[u8]) -> Vec<u32> {
    let Some(array) = NativeArray::parse(data) else {
        return Vec::new();
    };
    (0..array.slots())
        .filter_map(|index| array.element(index).flatten())
        .filter_map(|offset| decode_unsigned(data, offset))
        .map(|(id, _)| if id & 1 != 0 { id >> 2 } else { id >> 1 })
        .collect()
}

/// Reads the anatomy of a file's bytes. A file that is not a PE file is all
/// [`Part::Other`].
pub fn analyse(bytes: &[u8]) -> Result<FileAnatomy, AnatomyError> {
    let length = bytes.len() as u64;
    let mut plain = FileAnatomy {
        file_bytes: length,
        bytes: PartBytes::default(),
        components: Vec::new(),
    };
    if bytes.len() < 2 || &bytes[..2] != b"MZ" {
        plain.bytes.other = length;
        return Ok(plain);
    }
    let pe = PE::parse(bytes).map_err(|error| AnatomyError::Malformed(error.to_string()))?;
    let view = View::new(bytes, &pe);
    let mut claims = Claims::default();
    let first_section = view
        .sections
        .iter()
        .filter(|(_, _, _, raw)| *raw > 0)
        .map(|(_, _, offset, _)| u64::from(*offset))
        .min()
        .unwrap_or(length);
    claims.claim(Some((0, first_section.min(length))), Part::Headers, None);
    let directories = pe
        .header
        .optional_header
        .map(|optional| optional.data_directories);
    if let Some(certificates) = directories
        .as_ref()
        .and_then(|d| d.get_certificate_table().cloned())
    {
        // The certificate table's "RVA" is a file offset.
        let start = u64::from(certificates.virtual_address);
        claims.claim(
            Some((start, start + u64::from(certificates.size))),
            Part::Signature,
            None,
        );
    }
    let mut runtime_header = None;
    if let Some(export) = pe.exports.iter().find(|e| e.name == Some("RTR_HEADER")) {
        runtime_header = Some(export.rva as u32);
    }
    if let Some(cli) = directories
        .as_ref()
        .and_then(|d| d.get_clr_runtime_header().cloned())
        .filter(|d| d.virtual_address != 0)
    {
        let cli_rva = cli.virtual_address;
        claims.claim(
            view.range(cli_rva, u64::from(cli.size)),
            Part::Metadata,
            None,
        );
        let directory = |at: u32| -> Result<(u32, u32), AnatomyError> {
            Ok((
                view.u32_at("CLI header", cli_rva + at)?,
                view.u32_at("CLI header", cli_rva + at + 4)?,
            ))
        };
        let (metadata_rva, metadata_size) = directory(8)?;
        let (resources_rva, resources_size) = directory(24)?;
        let (strong_name_rva, strong_name_size) = directory(32)?;
        let (native_rva, native_size) = directory(64)?;
        claims.claim(
            view.range(metadata_rva, u64::from(metadata_size)),
            Part::Metadata,
            None,
        );
        for (rva, size) in [
            (resources_rva, resources_size),
            (strong_name_rva, strong_name_size),
        ] {
            if rva != 0 {
                claims.claim(view.range(rva, u64::from(size)), Part::Resources, None);
            }
        }
        if metadata_rva != 0 && metadata_size != 0 {
            let blob = view.slice("metadata", metadata_rva, metadata_size as usize)?;
            let metadata = Metadata::parse(blob)?;
            let mut bodies: Vec<u32> = metadata
                .rows(0x06)
                .iter()
                .map(|row| row[0])
                .filter(|rva| *rva != 0)
                .collect();
            bodies.sort_unstable();
            bodies.dedup();
            for rva in bodies {
                if let Some(body) = method_body_length(&view, rva) {
                    claims.claim(view.range(rva, body), Part::Il, None);
                }
            }
        }
        if runtime_header.is_none() && native_rva != 0 && native_size != 0 {
            runtime_header = Some(native_rva);
        }
    }
    let mut owners = Vec::new();
    let mut methods = Vec::new();
    if let Some(rva) = runtime_header {
        let header = ReadyToRunHeader::read(&view, rva, true)?;
        header.claim(&view, &mut claims, true, None);
        // The native code of every runtime function: x64 entries are begin, end, unwind data;
        // arm64 entries begin and unwind data, whose first word holds the length.
        let architecture =
            crate::inspect::readytorun::code_architecture(pe.header.coff_header.machine);
        let functions: Vec<(u32, u32)> = match header.section(SECTION_RUNTIME_FUNCTIONS) {
            Some((rva, size)) => {
                let table = view.slice("runtime functions", rva, size as usize)?;
                runtime_functions(table, architecture, |unwind| {
                    view.u32_at("unwind data", unwind).ok()
                })
            }
            None => Vec::new(),
        };
        let mut owner_of = vec![None; functions.len()];
        if let Some((rva, size)) = header.section(SECTION_COMPONENT_ASSEMBLIES) {
            let names = header
                .section(SECTION_MANIFEST_METADATA)
                .and_then(|(rva, size)| view.slice("manifest metadata", rva, size as usize).ok())
                .and_then(|blob| Metadata::parse(blob).ok())
                .map(|metadata| {
                    metadata
                        .rows(0x23)
                        .iter()
                        .map(|row| metadata.string(row[6]))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let entries = view.slice("component assemblies", rva, size as usize)?;
            for (index, entry) in entries
                .chunks_exact(16)
                .take(MAX_COMPONENTS as usize)
                .enumerate()
            {
                let core_rva = le32(entry, 8).unwrap_or(0);
                let name = names
                    .get(index)
                    .cloned()
                    .unwrap_or_else(|| format!("component-{index}"));
                owners.push(name);
                methods.push(0u64);
                if core_rva == 0 {
                    continue;
                }
                let core = ReadyToRunHeader::read(&view, core_rva, false)?;
                core.claim(&view, &mut claims, false, Some(index));
                if let Some((rva, _)) = core.section(SECTION_METHODDEF_ENTRY_POINTS) {
                    let data = view.tail("method entry points", rva)?;
                    for function in method_entry_points(data) {
                        if let Some(slot) = owner_of.get_mut(function as usize) {
                            if slot.is_none() {
                                *slot = Some(index);
                                methods[index] += 1;
                            }
                        }
                    }
                }
            }
        }
        for ((begin, end), owner) in functions.iter().zip(&owner_of) {
            if end > begin {
                claims.claim(
                    view.range(*begin, u64::from(end - begin)),
                    Part::NativeCode,
                    *owner,
                );
            }
        }
    }
    let (total, owned, shared) = claims.count(length, owners.len());
    let components = if owners.is_empty() {
        Vec::new()
    } else {
        owners
            .into_iter()
            .zip(owned)
            .zip(methods)
            .map(|((assembly, bytes), methods)| ComponentShare {
                assembly,
                bytes,
                methods,
            })
            .chain(std::iter::once(ComponentShare {
                assembly: SHARED.to_string(),
                bytes: shared,
                methods: 0,
            }))
            .collect()
    };
    Ok(FileAnatomy {
        file_bytes: length,
        bytes: total,
        components,
    })
}

/// Per assembly name, the sum of `anatomies`' parts.
pub fn by_name<'a>(
    anatomies: impl IntoIterator<Item = (&'a str, &'a PartBytes)>,
) -> BTreeMap<String, PartBytes> {
    let mut result: BTreeMap<String, PartBytes> = BTreeMap::new();
    for (name, bytes) in anatomies {
        result
            .entry(name.to_string())
            .or_default()
            .accumulate(bytes);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_functions_are_read_per_architecture() {
        use crate::inspect::readytorun::CodeArchitecture;
        let words =
            |values: &[u32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        // x64: begin, end, unwind.
        let x64 = words(&[0x1000, 0x1040, 0x9000, 0x1040, 0x1100, 0x9010]);
        assert_eq!(
            runtime_functions(&x64, CodeArchitecture::X64, |_| None),
            [(0x1000, 0x1040), (0x1040, 0x1100)]
        );
        // arm64: begin, unwind; the first from its unwind record (0x20 instructions, with
        // other header bits set above bit 17), the second packed into the entry (5
        // instructions in bits 2-12, flag 1).
        let arm64 = words(&[0x2000, 0x9000, 0x2080, (5 << 2) | 1]);
        let record = |rva: u32| (rva == 0x9000).then_some(0x0840_0020 | (1 << 21));
        assert_eq!(
            runtime_functions(&arm64, CodeArchitecture::Arm64, record),
            [(0x2000, 0x2080), (0x2080, 0x2094)]
        );
        // An unreadable unwind record gives an empty range, never a guess.
        assert_eq!(
            runtime_functions(&arm64[..8], CodeArchitecture::Arm64, |_| None),
            [(0x2000, 0x2000)]
        );
        assert!(runtime_functions(&x64, CodeArchitecture::Other(0x14c), |_| None).is_empty());
    }

    #[test]
    fn non_pe_files_are_other_and_garbage_never_panics() {
        let anatomy = analyse(b"\x7fELF......").unwrap();
        assert_eq!(anatomy.bytes.other, 10);
        assert_eq!(anatomy.bytes.total(), anatomy.file_bytes);
        assert!(analyse(b"MZ\0\0").is_err());
    }

    /// Every file of the installed runtime: parts add up, and a ReadyToRun assembly as
    /// shipped has IL, metadata and native code.
    #[test]
    fn the_parts_of_installed_assemblies_add_up() {
        let directory = std::fs::read_dir("/usr/share/dotnet/shared/Microsoft.NETCore.App")
            .expect("the .NET runtime is installed")
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.join("System.Private.CoreLib.dll").is_file())
            .expect("System.Private.CoreLib.dll in the installed runtime");
        for entry in std::fs::read_dir(&directory).unwrap().flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            if let Ok(anatomy) = analyse(&bytes) {
                assert_eq!(
                    anatomy.bytes.total(),
                    bytes.len() as u64,
                    "{:?}",
                    entry.path()
                );
            }
        }
        let corelib =
            analyse(&std::fs::read(directory.join("System.Private.CoreLib.dll")).unwrap()).unwrap();
        assert!(corelib.bytes.il > 1_000_000, "{corelib:?}");
        assert!(corelib.bytes.metadata > 1_000_000, "{corelib:?}");
        assert!(corelib.bytes.native_code > 1_000_000, "{corelib:?}");
        assert!(corelib.bytes.readytorun > 100_000, "{corelib:?}");
    }
}
