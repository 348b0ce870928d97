//! Classifying .NET assembly files by their ReadyToRun headers.
//!
//! A managed PE file has a CLI header (data directory 14); when it carries precompiled code,
//! the CLI header's `ManagedNativeHeader` points at a ReadyToRun header (signature `RTR`).
//! Its flags say whether the file is a component of a composite image, whose file name is in
//! the `OwnerCompositeExecutable` section. A composite image itself has no CLI header and
//! exports its ReadyToRun header as the symbol `RTR_HEADER`.
//! Every offset read from a file is bounds-checked; nothing is allocated on the file's say-so.

use std::path::{Path, PathBuf};

use goblin::pe::PE;
use serde::{Deserialize, Serialize};

/// `RTR` in little-endian.
const READYTORUN_SIGNATURE: u32 = 0x0052_5452;
/// The file is a component of a composite image.
pub const FLAG_COMPONENT: u32 = 0x0000_0020;
/// The file's version bubble spans several modules (`--inputbubble`).
pub const FLAG_MULTIMODULE_VERSION_BUBBLE: u32 = 0x0000_0040;
const SECTION_COMPONENT_ASSEMBLIES: u32 = 115;
const SECTION_OWNER_COMPOSITE_EXECUTABLE: u32 = 116;
/// Longest owner name read, bytes.
const MAX_NAME_BYTES: usize = 4096;
/// Most sections read from a header.
const MAX_SECTIONS: u32 = 256;

/// The code a ReadyToRun image holds, from its PE machine field. crossgen2 writes the target's
/// machine XOR a value naming the OS (so the Windows loader refuses the file): Linux `0x7B79`,
/// Apple `0x4644`, FreeBSD `0xADC4`, NetBSD `0x1993`, Windows `0`. x64 on Linux is `0xFD1D`,
/// arm64 on Linux `0xD11D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeArchitecture {
    /// x64 (`IMAGE_FILE_MACHINE_AMD64`, `0x8664`): runtime functions of 12 bytes (begin, end,
    /// unwind data).
    X64,
    /// arm64 (`IMAGE_FILE_MACHINE_ARM64`, `0xAA64`): runtime functions of 8 bytes (begin,
    /// unwind data; the length is in the unwind data).
    Arm64,
    /// Any other machine value (IL-only assemblies say i386, `0x14C`).
    Other(u16),
}

/// The OS values crossgen2 XORs into the machine field (Windows, Linux, Apple, FreeBSD, NetBSD).
const MACHINE_OS_OVERRIDES: [u16; 5] = [0, 0x7B79, 0x4644, 0xADC4, 0x1993];

/// Reads the PE machine field of a ReadyToRun image (see [`CodeArchitecture`]).
pub fn code_architecture(machine: u16) -> CodeArchitecture {
    for os in MACHINE_OS_OVERRIDES {
        match machine ^ os {
            0x8664 => return CodeArchitecture::X64,
            0xAA64 => return CodeArchitecture::Arm64,
            _ => {}
        }
    }
    CodeArchitecture::Other(machine)
}

/// The PE machine field of a file (`None`: not a PE file, or cut short).
pub fn pe_machine(bytes: &[u8]) -> Option<u16> {
    let at = u32::from_le_bytes(bytes.get(0x3c..0x40)?.try_into().ok()?) as usize;
    if bytes.get(at..at.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    Some(u16::from_le_bytes(
        bytes.get(at + 4..at + 6)?.try_into().ok()?,
    ))
}

/// The architecture of a classified file's precompiled code: for ReadyToRun files, components
/// and composites, from their machine field; `None` for anything else.
pub fn precompiled_code<E>(
    kind: &Result<AssemblyKind, E>,
    bytes: &[u8],
) -> Option<CodeArchitecture> {
    match kind {
        Ok(
            AssemblyKind::ReadyToRun { .. }
            | AssemblyKind::CompositeComponent { .. }
            | AssemblyKind::CompositeImage { .. },
        ) => pe_machine(bytes).map(code_architecture),
        _ => None,
    }
}

/// What a file is, as far as ReadyToRun is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AssemblyKind {
    /// Not a PE file (an ELF library, text, ...).
    NotPortableExecutable,
    /// A PE file with neither a CLI header nor an `RTR_HEADER` export.
    NativePortableExecutable,
    /// A managed assembly without precompiled code.
    IlOnly,
    /// A managed assembly with its own precompiled code.
    ReadyToRun {
        /// ReadyToRun major version.
        major: u16,
        /// ReadyToRun minor version.
        minor: u16,
        /// ReadyToRun flags.
        flags: u32,
    },
    /// A managed assembly whose precompiled code lives in a composite image.
    CompositeComponent {
        /// ReadyToRun major version.
        major: u16,
        /// ReadyToRun minor version.
        minor: u16,
        /// ReadyToRun flags (with [`FLAG_COMPONENT`]).
        flags: u32,
        /// The composite image's file name, relative to this file's directory.
        owner_composite: String,
    },
    /// A composite image: precompiled code of several component assemblies.
    CompositeImage {
        /// ReadyToRun major version.
        major: u16,
        /// ReadyToRun minor version.
        minor: u16,
        /// ReadyToRun flags.
        flags: u32,
        /// Number of component assemblies.
        component_count: u32,
    },
}

impl AssemblyKind {
    /// A short name: `not-pe`, `native-pe`, `il-only`, `r2r`, `component`, `composite`.
    pub fn label(&self) -> &'static str {
        match self {
            AssemblyKind::NotPortableExecutable => "not-pe",
            AssemblyKind::NativePortableExecutable => "native-pe",
            AssemblyKind::IlOnly => "il-only",
            AssemblyKind::ReadyToRun { .. } => "r2r",
            AssemblyKind::CompositeComponent { .. } => "component",
            AssemblyKind::CompositeImage { .. } => "composite",
        }
    }
}

/// Errors reading ReadyToRun structures.
#[derive(Debug, thiserror::Error)]
pub enum ReadyToRunError {
    /// The PE structure is malformed.
    #[error("malformed PE file: {0}")]
    Malformed(String),
    /// A structure points outside the file.
    #[error("{what} at RVA {rva:#x} (+{size}) lies outside the file")]
    OutOfBounds {
        /// The structure.
        what: &'static str,
        /// Its relative virtual address.
        rva: u32,
        /// Its size.
        size: usize,
    },
    /// The ReadyToRun header's signature is wrong.
    #[error("ReadyToRun header signature is {0:#x}, not RTR")]
    BadSignature(u32),
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Classifying a file failed; names it.
    #[error("{path}: {source}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<ReadyToRunError>,
    },
}

pub(crate) struct Image<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pe: PE<'a>,
}

impl Image<'_> {
    /// The file offset of `size` bytes at `rva`.
    pub(crate) fn slice(
        &self,
        what: &'static str,
        rva: u32,
        size: usize,
    ) -> Result<&[u8], ReadyToRunError> {
        let out = || ReadyToRunError::OutOfBounds { what, rva, size };
        let section = self
            .pe
            .sections
            .iter()
            .find(|section| {
                let start = section.virtual_address;
                let length = section.virtual_size.max(section.size_of_raw_data);
                rva >= start && u64::from(rva) + size as u64 <= u64::from(start) + u64::from(length)
            })
            .ok_or_else(out)?;
        let offset =
            u64::from(section.pointer_to_raw_data) + u64::from(rva - section.virtual_address);
        let end = offset.checked_add(size as u64).ok_or_else(out)?;
        if end > self.bytes.len() as u64 {
            return Err(out());
        }
        Ok(&self.bytes[offset as usize..end as usize])
    }

    fn u32_at(&self, what: &'static str, rva: u32) -> Result<u32, ReadyToRunError> {
        let bytes = self.slice(what, rva, 4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

pub(crate) struct Header {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) flags: u32,
    /// (type, RVA, size) of each section.
    pub(crate) sections: Vec<(u32, u32, u32)>,
}

pub(crate) fn read_header(image: &Image<'_>, rva: u32) -> Result<Header, ReadyToRunError> {
    let fixed = image.slice("ReadyToRun header", rva, 16)?;
    let word =
        |at: usize| u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]);
    let signature = word(0);
    if signature != READYTORUN_SIGNATURE {
        return Err(ReadyToRunError::BadSignature(signature));
    }
    let major = u16::from_le_bytes([fixed[4], fixed[5]]);
    let minor = u16::from_le_bytes([fixed[6], fixed[7]]);
    let flags = word(8);
    let count = word(12).min(MAX_SECTIONS);
    let table = image.slice("ReadyToRun section table", rva + 16, count as usize * 12)?;
    let sections = table
        .chunks_exact(12)
        .map(|entry| {
            let field = |at: usize| {
                u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]])
            };
            (field(0), field(4), field(8))
        })
        .collect();
    Ok(Header {
        major,
        minor,
        flags,
        sections,
    })
}

/// Classifies the bytes of a file.
pub fn classify(bytes: &[u8]) -> Result<AssemblyKind, ReadyToRunError> {
    if bytes.len() < 2 || &bytes[..2] != b"MZ" {
        return Ok(AssemblyKind::NotPortableExecutable);
    }
    let pe = PE::parse(bytes).map_err(|error| ReadyToRunError::Malformed(error.to_string()))?;
    let image = Image { bytes, pe };
    // A composite image exports its header; check that first, as it may also carry a CLI header.
    if let Some(export) = image
        .pe
        .exports
        .iter()
        .find(|export| export.name == Some("RTR_HEADER"))
    {
        let header = read_header(&image, export.rva as u32)?;
        // Each ComponentAssemblies entry: CorHeader (RVA, size) and ReadyToRunHeader (RVA, size).
        let component_count = header
            .sections
            .iter()
            .find(|(kind, _, _)| *kind == SECTION_COMPONENT_ASSEMBLIES)
            .map(|(_, _, size)| size / 16)
            .unwrap_or(0);
        return Ok(AssemblyKind::CompositeImage {
            major: header.major,
            minor: header.minor,
            flags: header.flags,
            component_count,
        });
    }
    let cli = image
        .pe
        .header
        .optional_header
        .and_then(|optional| optional.data_directories.get_clr_runtime_header().cloned());
    if let Some(cli) = cli.filter(|directory| directory.virtual_address != 0) {
        // ManagedNativeHeader: offset 64 of the CLI header (RVA, size).
        let native_rva = image.u32_at("CLI header", cli.virtual_address + 64)?;
        let native_size = image.u32_at("CLI header", cli.virtual_address + 68)?;
        if native_rva == 0 || native_size == 0 {
            return Ok(AssemblyKind::IlOnly);
        }
        let header = read_header(&image, native_rva)?;
        if header.flags & FLAG_COMPONENT != 0 {
            let owner = header
                .sections
                .iter()
                .find(|(kind, _, _)| *kind == SECTION_OWNER_COMPOSITE_EXECUTABLE)
                .map(|(_, rva, size)| {
                    let size = (*size as usize).min(MAX_NAME_BYTES);
                    image.slice("owner composite name", *rva, size).map(|raw| {
                        let end = raw.iter().position(|byte| *byte == 0).unwrap_or(raw.len());
                        String::from_utf8_lossy(&raw[..end]).into_owned()
                    })
                })
                .transpose()?
                .unwrap_or_default();
            return Ok(AssemblyKind::CompositeComponent {
                major: header.major,
                minor: header.minor,
                flags: header.flags,
                owner_composite: owner,
            });
        }
        return Ok(AssemblyKind::ReadyToRun {
            major: header.major,
            minor: header.minor,
            flags: header.flags,
        });
    }
    Ok(AssemblyKind::NativePortableExecutable)
}

/// Classifies a file on disk; errors name the file.
pub fn classify_path(path: &Path) -> Result<AssemblyKind, ReadyToRunError> {
    let bytes = std::fs::read(path).map_err(|source| ReadyToRunError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    classify(&bytes).map_err(|source| ReadyToRunError::InFile {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_fields_of_readytorun_images_name_their_code() {
        // Linux: the machine XOR 0x7B79.
        assert_eq!(code_architecture(0xFD1D), CodeArchitecture::X64);
        assert_eq!(code_architecture(0xD11D), CodeArchitecture::Arm64);
        // Windows and Apple.
        assert_eq!(code_architecture(0x8664), CodeArchitecture::X64);
        assert_eq!(code_architecture(0xAA64 ^ 0x4644), CodeArchitecture::Arm64);
        // IL-only assemblies say i386.
        assert_eq!(code_architecture(0x014C), CodeArchitecture::Other(0x014C));
    }

    #[test]
    fn non_pe_and_truncated_files_never_panic() {
        assert_eq!(
            classify(b"\x7fELF....").unwrap(),
            AssemblyKind::NotPortableExecutable
        );
        assert_eq!(classify(b"").unwrap(), AssemblyKind::NotPortableExecutable);
        assert!(classify(b"MZ\0\0").is_err());
        let mut header = vec![0u8; 256];
        header[..2].copy_from_slice(b"MZ");
        header[0x3c] = 0x80; // e_lfanew pointing at garbage
        assert!(classify(&header).is_err());
    }

    #[test]
    fn every_prefix_of_a_real_assembly_is_handled() {
        let corelib = std::fs::read_dir("/usr/share/dotnet/shared/Microsoft.NETCore.App")
            .expect("the .NET runtime is installed")
            .flatten()
            .map(|entry| entry.path().join("System.Private.CoreLib.dll"))
            .find(|path| path.is_file())
            .expect("System.Private.CoreLib.dll in the installed runtime");
        let bytes = std::fs::read(&corelib).unwrap();
        assert!(matches!(
            classify(&bytes).unwrap(),
            AssemblyKind::ReadyToRun { .. }
        ));
        for length in (0..bytes.len())
            .step_by(bytes.len() / 97 + 1)
            .chain([1, 63, 64, 511, 4095])
        {
            let _ = classify(&bytes[..length.min(bytes.len())]);
        }
        let error = classify_path(Path::new("/no/such.dll")).unwrap_err();
        assert!(error.to_string().contains("/no/such.dll"));
    }
}
