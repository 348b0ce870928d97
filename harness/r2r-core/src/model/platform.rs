//! The platforms r2r builds images for: `linux/amd64` (x64, the default) and `linux/arm64`.
//!
//! An image for another architecture than the machine's is built the same way (crossgen2
//! compiles for any target from x64, the runtime packs of each architecture come from NuGet,
//! the engine builds `COPY`-only Dockerfiles without running anything), and measured exactly
//! (sizes and anatomy read files, they run nothing); only running it needs the kernel's
//! binfmt_misc and a user-mode emulator, and its start-up is never timed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A platform an image is built for.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Platform {
    /// `linux/amd64`: x64, the platform every image was built for before platforms existed.
    #[default]
    #[serde(rename = "linux/amd64")]
    LinuxAmd64,
    /// `linux/arm64`: 64-bit Arm.
    #[serde(rename = "linux/arm64")]
    LinuxArm64,
}

/// Every platform, in the order reports list them.
pub const ALL: [Platform; 2] = [Platform::LinuxAmd64, Platform::LinuxArm64];

/// A platform name that is none of [`ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {shown}; allowed: {allowed}")]
pub struct UnknownPlatform {
    /// The name as given, quoted for messages.
    pub shown: String,
    /// The allowed names, comma-separated.
    pub allowed: String,
}

impl Platform {
    /// The engine's name: `linux/amd64`, `linux/arm64`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "linux/amd64",
            Platform::LinuxArm64 => "linux/arm64",
        }
    }

    /// The architecture as image configs and Debian name it: `amd64`, `arm64`.
    pub fn architecture(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "amd64",
            Platform::LinuxArm64 => "arm64",
        }
    }

    /// The .NET runtime identifier: `linux-x64`, `linux-arm64`.
    pub fn runtime_identifier(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "linux-x64",
            Platform::LinuxArm64 => "linux-arm64",
        }
    }

    /// crossgen2's `--targetarch`: `x64`, `arm64`.
    pub fn crossgen_arch(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "x64",
            Platform::LinuxArm64 => "arm64",
        }
    }

    /// Whether this is the default platform (x64), whose names, tags, cache keys and results
    /// are those of the images before platforms existed.
    pub fn is_default(&self) -> bool {
        *self == Platform::LinuxAmd64
    }

    /// What the names of this platform's variants, bases and tags end with: nothing for the
    /// default platform, `.arm64` for arm64 variants (`no-composite.arm64`).
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            Platform::LinuxAmd64 => None,
            Platform::LinuxArm64 => Some("arm64"),
        }
    }

    /// The platform of the machine r2r runs on, when it is one of [`ALL`].
    pub fn host() -> Option<Platform> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Platform::LinuxAmd64),
            "aarch64" => Some(Platform::LinuxArm64),
            _ => None,
        }
    }

    /// Whether images of this platform run here only through a user-mode emulator
    /// (binfmt_misc and QEMU): any platform other than the machine's.
    pub fn is_emulated(self) -> bool {
        Platform::host() != Some(self)
    }

    /// The name a plan gives `variant` on this platform: the variant itself on the default
    /// platform, `<variant>.arm64` on arm64.
    pub fn variant_name(self, variant: &str) -> String {
        match self.suffix() {
            None => variant.to_string(),
            Some(suffix) => format!("{variant}.{suffix}"),
        }
    }

    /// Splits a plan variant name into the name without the platform suffix and the
    /// platform (`no-composite.arm64` → `no-composite`, arm64).
    pub fn split_variant(name: &str) -> (&str, Platform) {
        for platform in ALL {
            if let Some(suffix) = platform.suffix() {
                if let Some(rest) = name
                    .strip_suffix(suffix)
                    .and_then(|rest| rest.strip_suffix('.'))
                {
                    return (rest, platform);
                }
            }
        }
        (name, Platform::LinuxAmd64)
    }

    /// The reference a local base is imported as on this platform: the catalog's on the
    /// default platform, `<image>-arm64` on arm64 (`r2r/base:bookworm-slim-arm64`).
    pub fn base_image(self, image: &str) -> String {
        match self.suffix() {
            None => image.to_string(),
            Some(suffix) => format!("{image}-{suffix}"),
        }
    }

    /// Reads a platform name. Accepted: `linux/amd64` and `linux/arm64`, and the runtime
    /// identifiers `linux-x64` and `linux-arm64` (the names .NET gives them).
    pub fn parse(text: &str) -> Result<Platform, UnknownPlatform> {
        ALL.into_iter()
            .find(|platform| platform.name() == text || platform.runtime_identifier() == text)
            .ok_or_else(|| UnknownPlatform {
                shown: crate::model::names::shown(text),
                allowed: ALL.map(Platform::name).join(", "),
            })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(text: &str) -> Result<Platform, UnknownPlatform> {
        Platform::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_both_ways() {
        for platform in ALL {
            assert_eq!(Platform::parse(platform.name()), Ok(platform));
            assert_eq!(Platform::parse(platform.runtime_identifier()), Ok(platform));
            assert_eq!(platform.to_string(), platform.name());
        }
        assert_eq!(Platform::LinuxArm64.crossgen_arch(), "arm64");
        assert_eq!(Platform::LinuxArm64.architecture(), "arm64");
        assert_eq!(Platform::LinuxAmd64.runtime_identifier(), "linux-x64");
    }

    #[test]
    fn a_bad_name_lists_the_allowed_ones() {
        for bad in ["linux/arm", "arm64", "windows/amd64", "", "LINUX/ARM64"] {
            let error = Platform::parse(bad).unwrap_err();
            let text = error.to_string();
            assert!(text.contains("linux/amd64, linux/arm64"), "{bad:?}: {text}");
            assert!(text.contains("unknown platform"), "{text}");
        }
    }

    #[test]
    fn variant_names_and_bases_keep_x64_as_it_was() {
        assert_eq!(
            Platform::LinuxAmd64.variant_name("no-composite"),
            "no-composite"
        );
        assert_eq!(
            Platform::LinuxArm64.variant_name("runtime-composite.official-net10"),
            "runtime-composite.official-net10.arm64"
        );
        assert_eq!(
            Platform::split_variant("runtime-composite.official-net10.arm64"),
            ("runtime-composite.official-net10", Platform::LinuxArm64)
        );
        assert_eq!(
            Platform::split_variant("no-composite"),
            ("no-composite", Platform::LinuxAmd64)
        );
        // A name merely ending in the letters is not a platform suffix.
        assert_eq!(
            Platform::split_variant("xarm64"),
            ("xarm64", Platform::LinuxAmd64)
        );
        assert_eq!(
            Platform::LinuxAmd64.base_image("r2r/base:bookworm-slim"),
            "r2r/base:bookworm-slim"
        );
        assert_eq!(
            Platform::LinuxArm64.base_image("r2r/base:bookworm-slim"),
            "r2r/base:bookworm-slim-arm64"
        );
    }

    #[test]
    fn the_default_is_x64_and_serialises_as_the_engine_name() {
        assert!(Platform::default().is_default());
        assert_eq!(
            serde_json::to_string(&Platform::LinuxArm64).unwrap(),
            "\"linux/arm64\""
        );
        if std::env::consts::ARCH == "x86_64" {
            assert!(Platform::LinuxArm64.is_emulated());
            assert!(!Platform::LinuxAmd64.is_emulated());
        }
    }
}
