//! Names that reach the Docker engine or a command line, checked before they get there.
//!
//! Scenario and catalog files are input r2r does not trust: every image reference, tag, label
//! and argument made from them is checked here when the files are loaded, so nothing later has
//! to quote or escape. Image references follow the Docker reference grammar; everything else
//! follows a rule stricter than what the engine or the tool accepts, so a name that passes is
//! also safe in a file name, a Dockerfile line, a label filter and an MSBuild `-p:` switch.
//!
//! Where it stops: this module only says yes or no (and why); the callers say where the name
//! came from (file and line).

use std::fmt;

/// What kind of name a [`NameError`] is about; each kind has one allowed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// An image reference: `[host[:port]/]path[:tag][@sha256:<hex>]`.
    Reference,
    /// The tag part of an image reference.
    Tag,
    /// A name r2r gives things (scenario, variant, app, base, publish profile).
    Name,
    /// A label key.
    LabelKey,
    /// A label value.
    LabelValue,
    /// A .NET version such as `10.0.12`.
    Version,
    /// An argument of `scripts/bootstrap-base.sh`.
    ScriptArgument,
    /// An MSBuild property name (`-p:Name=...`).
    PropertyName,
    /// An MSBuild property value (`-p:...=Value`).
    PropertyValue,
    /// A file name without directories (an app's assembly name).
    FileName,
    /// A relative path inside the experiments directory (an app's project file).
    RelativePath,
}

impl NameKind {
    /// What the kind is called in messages.
    pub fn what(self) -> &'static str {
        match self {
            NameKind::Reference => "image reference",
            NameKind::Tag => "image tag",
            NameKind::Name => "name",
            NameKind::LabelKey => "label key",
            NameKind::LabelValue => "label value",
            NameKind::Version => ".NET version",
            NameKind::ScriptArgument => "script argument",
            NameKind::PropertyName => "MSBuild property name",
            NameKind::PropertyValue => "MSBuild property value",
            NameKind::FileName => "file name",
            NameKind::RelativePath => "relative path",
        }
    }

    /// The allowed form, as shown in messages.
    pub fn form(self) -> &'static str {
        match self {
            NameKind::Reference => {
                "[host[:port]/]path[:tag][@sha256:<64 hex digits>], at most 255 characters before the tag; path: \
                 components of a-z and 0-9 joined by '.', '_', '__' or dashes, separated by '/'; host: letters, \
                 digits, '-' and '.'; tag: 1-128 of A-Z a-z 0-9 '_' '.' '-', not starting with '.' or '-'"
            }
            NameKind::Tag => "1-128 characters of A-Z a-z 0-9 '_' '.' '-', not starting with '.' or '-'",
            NameKind::Name => {
                "1-64 characters of a-z, 0-9, '-' and '.', starting and ending with a letter or digit, \
                 with no '.' next to another '.' or a '-'"
            }
            NameKind::LabelKey => "1-128 characters of a-z and 0-9 joined by single '.' or '-'",
            NameKind::LabelValue => "at most 1024 printable ASCII characters, no spaces, quotes, '\\', '`' or '$'",
            NameKind::Version => "MAJOR.MINOR.PATCH of 1-5 digits each, optionally -PRERELEASE (dot-separated A-Z a-z 0-9 '-')",
            NameKind::ScriptArgument => "1-64 characters of A-Z a-z 0-9 '_' '.' '-'",
            NameKind::PropertyName => "1-128 characters of A-Z a-z 0-9 '_' '-', starting with a letter or '_'",
            NameKind::PropertyValue => "at most 256 characters of A-Z a-z 0-9 '_' '.' '+' '-'",
            NameKind::FileName => "1-128 characters of A-Z a-z 0-9 '_' '.' '-', not starting with '.' or '-'",
            NameKind::RelativePath => "'/'-separated file names (1-128 of A-Z a-z 0-9 '_' '.' '-', not starting with '.' or '-')",
        }
    }
}

/// A name that does not have its allowed form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a valid {}: {problem}; allowed: {}", shown(value), kind.what(), kind.form())]
pub struct NameError {
    /// What kind of name it is.
    pub kind: NameKind,
    /// The name as given.
    pub value: String,
    /// What is wrong with it.
    pub problem: String,
}

impl NameError {
    fn new(kind: NameKind, value: &str, problem: impl Into<String>) -> NameError {
        NameError {
            kind,
            value: value.to_string(),
            problem: problem.into(),
        }
    }
}

/// Longest part of a hostile value that messages show.
const SHOWN_CHARACTERS: usize = 80;

/// A value for a message: in backticks, anything but printable ASCII escaped, cut after
/// [`SHOWN_CHARACTERS`] characters so a huge value does not flood the terminal.
pub fn shown(value: &str) -> String {
    struct Shown<'a>(&'a str);
    impl fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut characters = self.0.chars();
            for character in characters.by_ref().take(SHOWN_CHARACTERS) {
                if character == '`' {
                    f.write_str("\\`")?;
                } else if !(character.is_ascii_graphic() || character == ' ') {
                    write!(f, "{}", character.escape_default())?;
                } else {
                    write!(f, "{character}")?;
                }
            }
            let rest = characters.count();
            if rest > 0 {
                write!(f, "... ({rest} more characters)")?;
            }
            Ok(())
        }
    }
    format!("`{}`", Shown(value))
}

fn is_lower_alphanumeric(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Checks one path component of a repository name: `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`.
/// Returns what is wrong, if anything.
fn path_component_problem(component: &str) -> Option<String> {
    if component.is_empty() {
        return Some("a path component is empty".to_string());
    }
    let bytes = component.as_bytes();
    let mut index = 0;
    loop {
        // An alphanumeric run.
        let start = index;
        while index < bytes.len() && is_lower_alphanumeric(bytes[index] as char) {
            index += 1;
        }
        if index == start {
            let at = component[index..].chars().next().unwrap_or(' ');
            return Some(if at.is_ascii_uppercase() {
                format!(
                    "path component {} has an upper-case letter",
                    shown(component)
                )
            } else if index == 0 {
                format!(
                    "path component {} does not start with a-z or 0-9",
                    shown(component)
                )
            } else {
                format!(
                    "path component {} has {} where a-z or 0-9 must follow a separator",
                    shown(component),
                    shown(&at.to_string())
                )
            });
        }
        if index == bytes.len() {
            return None;
        }
        // A separator: '.', '_', '__' or any number of '-'.
        match bytes[index] {
            b'.' => index += 1,
            b'_' => {
                index += if bytes.get(index + 1) == Some(&b'_') {
                    2
                } else {
                    1
                }
            }
            b'-' => {
                while index < bytes.len() && bytes[index] == b'-' {
                    index += 1;
                }
            }
            _ => {
                let at = component[index..].chars().next().unwrap_or(' ');
                return Some(if at.is_ascii_uppercase() {
                    format!(
                        "path component {} has an upper-case letter",
                        shown(component)
                    )
                } else {
                    format!(
                        "path component {} has the character {}",
                        shown(component),
                        shown(&at.to_string())
                    )
                });
            }
        }
        if index == bytes.len() {
            return Some(format!(
                "path component {} ends with a separator",
                shown(component)
            ));
        }
    }
}

/// Checks a registry host with an optional port. IPv6 addresses are not accepted.
fn domain_problem(domain: &str) -> Option<String> {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Some(format!(
                "registry port {} is not a number from 1 to 65535",
                shown(port)
            ));
        }
    }
    for part in host.split('.') {
        let bytes = part.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-';
        if !valid {
            return Some(format!("registry host {} is not a host name", shown(host)));
        }
    }
    None
}

fn tag_problem(tag: &str) -> Option<String> {
    let Some(first) = tag.chars().next() else {
        return Some("the tag is empty".to_string());
    };
    if tag.len() > 128 {
        return Some(format!(
            "the tag is {} characters long",
            tag.chars().count()
        ));
    }
    if !(first.is_ascii_alphanumeric() || first == '_') {
        return Some(format!("the tag starts with {}", shown(&first.to_string())));
    }
    if let Some(bad) = tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
    {
        return Some(format!(
            "the tag has the character {}",
            shown(&bad.to_string())
        ));
    }
    None
}

/// Checks an image reference against the Docker reference grammar (IPv6 registry hosts and
/// digests other than SHA-256 are refused; upper case is never taken for a registry host).
pub fn check_reference(reference: &str) -> Result<(), NameError> {
    let problem = reference_problem(reference);
    match problem {
        None => Ok(()),
        Some(problem) => Err(NameError::new(NameKind::Reference, reference, problem)),
    }
}

fn reference_problem(reference: &str) -> Option<String> {
    if reference.is_empty() {
        return Some("it is empty".to_string());
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        let valid = digest.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !valid {
            return Some(format!(
                "the digest {} is not sha256: and 64 lower-case hex digits",
                shown(digest)
            ));
        }
    }
    let last_slash = rest.rfind('/');
    let (name, tag) = match rest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&rest[..colon], Some(&rest[colon + 1..]))
        }
        _ => (rest, None),
    };
    if let Some(problem) = tag.and_then(tag_problem) {
        return Some(problem);
    }
    if name.is_empty() {
        return Some("the repository name is empty".to_string());
    }
    if name.len() > 255 {
        return Some(format!(
            "the repository name is {} characters long",
            name.chars().count()
        ));
    }
    let mut components = name.split('/').peekable();
    let first = components.next().unwrap_or_default();
    let has_domain =
        components.peek().is_some() && (first.contains(['.', ':']) || first == "localhost");
    if has_domain {
        if let Some(problem) = domain_problem(first) {
            return Some(problem);
        }
    } else if let Some(problem) = path_component_problem(first) {
        return Some(problem);
    }
    components.find_map(path_component_problem)
}

/// Checks the tag part of an image reference (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
pub fn check_tag(tag: &str) -> Result<(), NameError> {
    match tag_problem(tag) {
        None => Ok(()),
        Some(problem) => Err(NameError::new(NameKind::Tag, tag, problem)),
    }
}

/// Checks a name r2r puts into tags, labels and paths: a repository path component of
/// `[a-z0-9.-]`, at most 64 characters.
pub fn check_name(name: &str) -> Result<(), NameError> {
    let problem = if name.len() > 64 {
        Some(format!("it is {} characters long", name.chars().count()))
    } else if let Some(bad) = name
        .chars()
        .find(|c| !(is_lower_alphanumeric(*c) || *c == '.' || *c == '-'))
    {
        Some(format!("it has the character {}", shown(&bad.to_string())))
    } else {
        path_component_problem(name)
            .map(|problem| problem.replacen("path component", "the name", 1))
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(NameError::new(NameKind::Name, name, problem)),
    }
}

/// Checks a label key: lower-case alphanumeric words joined by single `.` or `-`, as in
/// `r2r.input-hash`.
pub fn check_label_key(key: &str) -> Result<(), NameError> {
    let valid = !key.is_empty()
        && key.len() <= 128
        && key
            .split(['.', '-'])
            .all(|word| !word.is_empty() && word.chars().all(is_lower_alphanumeric));
    if valid {
        Ok(())
    } else {
        Err(NameError::new(
            NameKind::LabelKey,
            key,
            "it does not have the allowed form",
        ))
    }
}

/// Checks a label value: printable ASCII without spaces or characters that quote or expand
/// in a shell, at most 1024 bytes.
pub fn check_label_value(value: &str) -> Result<(), NameError> {
    let problem = if value.len() > 1024 {
        Some(format!("it is {} bytes long", value.len()))
    } else {
        value
            .chars()
            .find(|c| !c.is_ascii_graphic() || "\"'\\`$".contains(*c))
            .map(|bad| format!("it has the character {}", shown(&bad.to_string())))
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(NameError::new(NameKind::LabelValue, value, problem)),
    }
}

/// Checks a .NET version: `MAJOR.MINOR.PATCH[-PRERELEASE]`.
pub fn check_version(version: &str) -> Result<(), NameError> {
    let (release, prerelease) = match version.split_once('-') {
        Some((release, prerelease)) => (release, Some(prerelease)),
        None => (version, None),
    };
    let numbers: Vec<&str> = release.split('.').collect();
    let release_valid = numbers.len() == 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()));
    let prerelease_valid = prerelease.is_none_or(|text| {
        text.len() <= 64
            && text.split('.').all(|part| {
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    });
    if release_valid && prerelease_valid {
        Ok(())
    } else {
        Err(NameError::new(
            NameKind::Version,
            version,
            "it does not have the allowed form",
        ))
    }
}

/// Checks an argument for `scripts/bootstrap-base.sh`.
pub fn check_script_argument(argument: &str) -> Result<(), NameError> {
    let valid = !argument.is_empty()
        && argument.len() <= 64
        && argument
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(NameError::new(
            NameKind::ScriptArgument,
            argument,
            "it does not have the allowed form",
        ))
    }
}

/// Checks an MSBuild property for a `-p:Name=Value` switch: no `;` or `,` (which would start
/// another property), no `%`, `$` or `@` (which MSBuild expands), no quotes or spaces.
pub fn check_property(name: &str, value: &str) -> Result<(), NameError> {
    let name_valid = name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_valid {
        return Err(NameError::new(
            NameKind::PropertyName,
            name,
            "it does not have the allowed form",
        ));
    }
    let value_valid = value.len() <= 256
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if !value_valid {
        return Err(NameError::new(
            NameKind::PropertyValue,
            value,
            format!("the value of `{name}` does not have the allowed form"),
        ));
    }
    Ok(())
}

fn file_name_valid(name: &str) -> bool {
    name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Checks a file name without directories, such as an assembly name that goes into an
/// image's entry point.
pub fn check_file_name(name: &str) -> Result<(), NameError> {
    if file_name_valid(name) {
        Ok(())
    } else {
        Err(NameError::new(
            NameKind::FileName,
            name,
            "it does not have the allowed form",
        ))
    }
}

/// Checks a relative path that must stay below the directory it is relative to: file names
/// separated by `/`, none of them `..` (nor anything else starting with a dot).
pub fn check_relative_path(path: &str) -> Result<(), NameError> {
    if !path.is_empty() && path.split('/').all(file_name_valid) {
        Ok(())
    } else {
        Err(NameError::new(
            NameKind::RelativePath,
            path,
            "it does not have the allowed form",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_of_the_grammar_are_accepted() {
        for reference in [
            "r2r/base:bookworm-slim",
            "r2r/quick:no-composite-runtime-deps",
            "mcr.microsoft.com/dotnet/runtime-deps:10.0",
            "mcr.microsoft.com/dotnet/runtime-deps:10.0-bookworm-slim",
            "localhost:5000/r2r/x:1",
            "127.0.0.1:5000/a_b/c__d/e---f.g:TAG_1.x-y",
            "debian",
            "debian:bookworm",
            "registry.example.com/a/b/c",
            "ubuntu@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ubuntu:24.04@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(check_reference(reference), Ok(()), "{reference}");
        }
        assert!(check_reference(&format!("a:{}", "t".repeat(128))).is_ok());
    }

    #[test]
    fn references_outside_the_grammar_are_refused_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("evil; rm -rf /", "character"),
            ("Upper/case", "upper-case"),
            ("DEBIAN", "upper-case"),
            ("a//b", "empty"),
            ("/a", "empty"),
            ("a/", "empty"),
            ("a..b", "must follow a separator"),
            ("a._b", "must follow a separator"),
            ("a___b", "must follow a separator"),
            ("a-", "ends with a separator"),
            ("-a", "does not start"),
            ("a:", "tag is empty"),
            ("a:-x", "tag starts with"),
            ("a:.x", "tag starts with"),
            ("a:x y", "character"),
            ("a:x\nFROM evil", "character"),
            ("a:b:c", "character"),
            ("a@sha256:abc", "digest"),
            ("a@md5:0123456789abcdef0123456789abcdef", "digest"),
            (
                "a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                "digest",
            ),
            ("host:99999/a", "port"),
            ("host:/a", "port"),
            ("-host.com/a", "host"),
            ("ho_st.com/a", "host"),
            ("[::1]:5000/a", "registry"),
            ("a b.com/x", "host"),
            ("mcr.microsoft.com/dotnet/Runtime", "upper-case"),
        ];
        for (reference, reason) in cases {
            let error = check_reference(reference).expect_err(reference);
            let text = error.to_string();
            assert!(text.contains(reason), "{reference:?}: {text}");
            assert!(
                text.contains("not a valid image reference")
                    && text.contains("allowed: [host[:port]/]path"),
                "{text}"
            );
        }
        assert!(check_reference(&format!("a:{}", "t".repeat(129)))
            .unwrap_err()
            .to_string()
            .contains("129 characters"));
        assert!(check_reference(&"a".repeat(256))
            .unwrap_err()
            .to_string()
            .contains("256 characters"));
        assert!(check_reference(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn tags_follow_the_grammar() {
        assert!(check_tag("no-composite-runtime-deps").is_ok());
        assert!(check_tag("_x.Y-9").is_ok());
        assert!(check_tag("").is_err());
        assert!(check_tag(".x").is_err());
        assert!(check_tag("x/y").is_err());
        assert!(check_tag(&"x".repeat(129)).is_err());
    }

    #[test]
    fn names_are_path_components_of_a_small_alphabet() {
        for name in [
            "quick",
            "composite-net8",
            "size-report-net10",
            "a.b",
            "a--b",
            "x",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        for name in [
            "",
            "-x",
            "x-",
            ".x",
            "x.",
            "a..b",
            "a.-b",
            "a_b",
            "Upper",
            "a b",
            "a/b",
            "..",
            &"a".repeat(65),
        ] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        let error = check_name("Bad Name").unwrap_err().to_string();
        assert!(error.starts_with("`Bad Name` is not a valid name: it has the character `B`; allowed: 1-64 characters"), "{error}");
    }

    #[test]
    fn labels_versions_arguments_and_properties() {
        assert!(check_label_key("r2r.input-hash").is_ok());
        assert!(
            check_label_key("r2r..x").is_err()
                && check_label_key("R2R").is_err()
                && check_label_key("").is_err()
        );
        assert!(
            check_label_value("no-composite,runtime-composite").is_ok()
                && check_label_value("").is_ok()
        );
        for value in ["a b", "a\nb", "$(id)", "`id`", "a\"b", &"x".repeat(1025)] {
            assert!(check_label_value(value).is_err(), "{value:?}");
        }
        for version in [
            "10.0.12",
            "8.0.33",
            "10.0.0-preview.7.25380.108",
            "10.0.0-rc-1",
        ] {
            assert_eq!(check_version(version), Ok(()), "{version}");
        }
        for version in [
            "",
            "10",
            "10.0",
            "10.0.x",
            "10.0.12\n",
            "10.0.12/../..",
            "10.0.12-",
            "10.0.12-a..b",
            "1.2.3.4",
            "123456.0.0",
            "10.0.1\"/>",
        ] {
            assert!(check_version(version).is_err(), "{version:?}");
        }
        assert!(check_script_argument("--icu").is_ok() && check_script_argument("slim").is_ok());
        assert!(
            check_script_argument("").is_err()
                && check_script_argument("a b").is_err()
                && check_script_argument("$(x)").is_err()
        );
        assert!(check_property("PublishAot", "true").is_ok() && check_property("_X-y", "").is_ok());
        assert!(check_property("1x", "true").is_err() && check_property("A B", "x").is_err());
        for value in [
            "true;Evil=1",
            "a,b",
            "$(Path)",
            "%(x)",
            "@(x)",
            "a b",
            "a\"b",
        ] {
            let error = check_property("InvariantGlobalization", value)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("value of `InvariantGlobalization`"),
                "{error}"
            );
        }
        assert!(
            check_file_name("ConsoleApp").is_ok()
                && check_file_name("../x").is_err()
                && check_file_name("a\"]").is_err()
        );
        assert!(check_relative_path("console/ConsoleApp.csproj").is_ok());
        for path in [
            "",
            "/etc/passwd",
            "../x.csproj",
            "a/../../b",
            "a//b",
            "a/./b",
        ] {
            assert!(check_relative_path(path).is_err(), "{path:?}");
        }
    }

    #[test]
    fn shown_values_are_escaped_and_cut() {
        assert_eq!(shown("a\nb"), "`a\\nb`");
        assert_eq!(shown("a`b"), "`a\\`b`");
        let long = shown(&"x".repeat(100));
        assert!(long.ends_with("... (20 more characters)`"), "{long}");
        let error = check_reference(&format!("a:\u{1b}[31m{}", "y".repeat(500)))
            .unwrap_err()
            .to_string();
        assert!(!error.contains('\u{1b}') && error.len() < 1000, "{error}");
    }
}
