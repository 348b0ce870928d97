//! Build contexts assembled in memory as tar archives, byte-for-byte reproducible: entries
//! sorted, owner root, fixed modification time, modes reduced to 0755/0644, symbolic links
//! kept as links. The same inputs give the same bytes and so the same input hash.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// Modification time of every entry (2020-01-01T00:00:00Z).
pub const FIXED_MTIME: u64 = 1_577_836_800;

/// An in-memory build context.
#[derive(Default)]
pub struct ContextBuilder {
    entries: BTreeMap<String, Entry>,
}

enum Entry {
    File { bytes: Vec<u8>, executable: bool },
    Directory,
    Symlink { target: PathBuf },
}

/// An error adding a file to a context; names the path.
#[derive(Debug, thiserror::Error)]
#[error("adding {path} to the build context: {source}")]
pub struct ContextError {
    /// The file or directory.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

impl ContextBuilder {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file with the given bytes at `path` (relative, `/`-separated).
    pub fn add_bytes(&mut self, path: &str, bytes: impl Into<Vec<u8>>, executable: bool) {
        self.add_parents(path);
        self.entries.insert(
            path.to_string(),
            Entry::File {
                bytes: bytes.into(),
                executable,
            },
        );
    }

    /// Adds a symbolic link at `path` pointing at `target`.
    pub fn add_symlink(&mut self, path: &str, target: impl Into<PathBuf>) {
        self.add_parents(path);
        self.entries.insert(
            path.to_string(),
            Entry::Symlink {
                target: target.into(),
            },
        );
    }

    /// Adds the tree under `source` at `prefix` (relative, `/`-separated), recursively.
    pub fn add_tree(&mut self, source: &Path, prefix: &str) -> Result<(), ContextError> {
        let error = |source_error: io::Error| ContextError {
            path: source.to_path_buf(),
            source: source_error,
        };
        let mut names: Vec<_> = std::fs::read_dir(source)
            .map_err(error)?
            .collect::<Result<_, _>>()
            .map_err(error)?;
        names.sort_by_key(|entry| entry.file_name());
        self.add_parents(&format!("{prefix}/x"));
        for entry in names {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let target = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let error = |source_error: io::Error| ContextError {
                path: path.clone(),
                source: source_error,
            };
            let metadata = std::fs::symlink_metadata(&path).map_err(error)?;
            if metadata.file_type().is_symlink() {
                let link = std::fs::read_link(&path).map_err(error)?;
                self.add_symlink(&target, link);
            } else if metadata.is_dir() {
                self.add_tree(&path, &target)?;
            } else {
                use std::os::unix::fs::PermissionsExt;
                let bytes = std::fs::read(&path).map_err(error)?;
                self.add_bytes(&target, bytes, metadata.permissions().mode() & 0o111 != 0);
            }
        }
        Ok(())
    }

    fn add_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(index) = path[end..].find('/') {
            end += index;
            self.entries
                .entry(path[..end].to_string())
                .or_insert(Entry::Directory);
            end += 1;
        }
    }

    /// Total bytes of file content.
    pub fn content_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|entry| match entry {
                Entry::File { bytes, .. } => bytes.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// The tar archive.
    pub fn finish(self) -> Result<Bytes, ContextError> {
        let error = |source| ContextError {
            path: PathBuf::from("<context>"),
            source,
        };
        let mut builder = tar::Builder::new(Vec::with_capacity(
            self.content_bytes() as usize + 1024 * self.entries.len(),
        ));
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(FIXED_MTIME);
            header.set_uid(0);
            header.set_gid(0);
            match entry {
                Entry::Directory => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, format!("{path}/"), io::empty())
                        .map_err(error)?;
                }
                Entry::File { bytes, executable } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    header.set_size(bytes.len() as u64);
                    builder
                        .append_data(&mut header, path, bytes.as_slice())
                        .map_err(error)?;
                }
                Entry::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder
                        .append_link(&mut header, path, target)
                        .map_err(error)?;
                }
            }
        }
        Ok(Bytes::from(builder.into_inner().map_err(error)?))
    }
}

/// A template and the values given for it do not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A value was given for a placeholder the template does not have.
    #[error("template {template} has no placeholder {placeholder}")]
    UnusedValue {
        /// The template's name (its path).
        template: String,
        /// The placeholder, `{{name}}`.
        placeholder: String,
    },
    /// The template has a placeholder no value was given for.
    #[error("template {template}: no value for {placeholder}")]
    MissingValue {
        /// The template's name (its path).
        template: String,
        /// The placeholder, as written in the template.
        placeholder: String,
    },
}

/// Fills `{{name}}` placeholders of a template; every placeholder must have a value and every
/// value must be used, so a typo in a template or in code fails loudly.
pub fn render(
    template_name: &str,
    template: &str,
    values: &[(&str, &str)],
) -> Result<String, TemplateError> {
    let mut text = template.to_string();
    for (name, value) in values {
        let placeholder = format!("{{{{{name}}}}}");
        if !text.contains(&placeholder) {
            return Err(TemplateError::UnusedValue {
                template: template_name.to_string(),
                placeholder,
            });
        }
        text = text.replace(&placeholder, value);
    }
    if let Some(start) = text.find("{{") {
        let end = text[start..]
            .find("}}")
            .map(|e| start + e + 2)
            .unwrap_or(text.len());
        return Err(TemplateError::MissingValue {
            template: template_name.to_string(),
            placeholder: text[start..end].to_string(),
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(bytes: &[u8]) -> Vec<(String, tar::EntryType, u32)> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().display().to_string(),
                    header.entry_type(),
                    header.mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn trees_are_packed_reproducibly_with_links_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usr/share/dotnet")).unwrap();
        std::fs::write(dir.path().join("usr/share/dotnet/b.dll"), b"bb").unwrap();
        std::fs::write(dir.path().join("usr/share/dotnet/a.dll"), b"a").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.path().join("usr/share/dotnet/dotnet"), b"\x7fELF").unwrap();
        std::fs::set_permissions(
            dir.path().join("usr/share/dotnet/dotnet"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::os::unix::fs::symlink("../share/dotnet/dotnet", dir.path().join("dotnet-link"))
            .unwrap();

        let build = || {
            let mut context = ContextBuilder::new();
            context.add_bytes("Dockerfile", "FROM scratch\n", false);
            context.add_tree(dir.path(), "rootfs").unwrap();
            context.finish().unwrap()
        };
        let first = build();
        assert_eq!(first, build(), "same inputs, same bytes");
        let entries = listing(&first);
        let names: Vec<&str> = entries.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Dockerfile",
                "rootfs/",
                "rootfs/dotnet-link",
                "rootfs/usr/",
                "rootfs/usr/share/",
                "rootfs/usr/share/dotnet/",
                "rootfs/usr/share/dotnet/a.dll",
                "rootfs/usr/share/dotnet/b.dll",
                "rootfs/usr/share/dotnet/dotnet"
            ]
        );
        let find = |name: &str| entries.iter().find(|(n, _, _)| n == name).unwrap().clone();
        assert_eq!(find("rootfs/dotnet-link").1, tar::EntryType::Symlink);
        assert_eq!(find("rootfs/usr/share/dotnet/dotnet").2, 0o755);
        assert_eq!(find("rootfs/usr/share/dotnet/a.dll").2, 0o644);
    }

    #[test]
    fn missing_directory_is_named() {
        let mut context = ContextBuilder::new();
        let error = context
            .add_tree(Path::new("/no/such/dir"), "x")
            .unwrap_err();
        assert!(error.to_string().contains("/no/such/dir"), "{error}");
    }

    #[test]
    fn render_fills_and_checks_placeholders() {
        assert_eq!(
            render("t", "FROM {{parent}}\n", &[("parent", "a:b")]).unwrap(),
            "FROM a:b\n"
        );
        assert_eq!(
            render("t", "FROM {{parent}} {{other}}", &[("parent", "a")]).unwrap_err(),
            TemplateError::MissingValue {
                template: "t".into(),
                placeholder: "{{other}}".into()
            }
        );
        let error = render("t", "FROM x", &[("parent", "a")]).unwrap_err();
        assert!(matches!(error, TemplateError::UnusedValue { .. }));
        assert!(
            error.to_string().contains("no placeholder {{parent}}"),
            "{error}"
        );
    }
}
