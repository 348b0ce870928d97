//! Whether this machine can run programs of another architecture: the kernel's binfmt_misc
//! hands them to a user-mode emulator (Debian's `qemu-user-static` registers
//! `qemu-aarch64` through `binfmt-support`). Containers need the handler's `F` flag (the
//! emulator opened when registered, so it works inside a container's root).

use std::path::Path;

use crate::model::platform::Platform;

/// Where binfmt_misc is mounted.
pub const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";

/// The binfmt_misc handler that runs `platform`'s programs here.
pub fn handler_name(platform: Platform) -> &'static str {
    match platform {
        Platform::LinuxAmd64 => "qemu-x86_64",
        Platform::LinuxArm64 => "qemu-aarch64",
    }
}

/// Why programs of `platform` cannot run here, or `Ok` when they can (natively, or through an
/// enabled binfmt_misc handler with the `F` flag).
pub fn can_run(platform: Platform) -> Result<(), String> {
    can_run_in(Path::new(BINFMT_MISC), platform)
}

/// [`can_run`] against a binfmt_misc directory.
pub fn can_run_in(binfmt_misc: &Path, platform: Platform) -> Result<(), String> {
    if !platform.is_emulated() {
        return Ok(());
    }
    let name = handler_name(platform);
    let path = binfmt_misc.join(name);
    let text = std::fs::read_to_string(&path).map_err(|error| {
        format!(
            "no binfmt_misc handler {} ({error}); `bash scripts/bootstrap-base.sh slim OUT.tar --arch {}` installs Debian's qemu-user-static and binfmt-support and mounts binfmt_misc",
            path.display(),
            platform.architecture()
        )
    })?;
    check_handler(name, &text)
}

/// Checks the text of a binfmt_misc handler file: enabled, and with the `F` flag.
pub fn check_handler(name: &str, text: &str) -> Result<(), String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("enabled") {
        return Err(format!("the binfmt_misc handler {name} is disabled"));
    }
    let flags = text
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .map(str::trim)
        .unwrap_or("");
    if !flags.contains('F') {
        return Err(format!(
            "the binfmt_misc handler {name} lacks the F flag (flags `{flags}`): its emulator is not found inside containers"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDLER: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    #[test]
    fn an_enabled_handler_with_the_f_flag_runs_containers() {
        assert_eq!(check_handler("qemu-aarch64", HANDLER), Ok(()));
        let error =
            check_handler("qemu-aarch64", &HANDLER.replace("enabled", "disabled")).unwrap_err();
        assert!(error.contains("disabled"), "{error}");
        let error = check_handler("qemu-aarch64", &HANDLER.replace("POCF", "POC")).unwrap_err();
        assert!(error.contains("F flag"), "{error}");
    }

    #[test]
    fn a_missing_handler_says_how_to_install_one() {
        let directory = std::env::temp_dir().join(format!("r2r-binfmt-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        if Platform::LinuxArm64.is_emulated() {
            let error = can_run_in(&directory, Platform::LinuxArm64).unwrap_err();
            assert!(error.contains("qemu-user-static"), "{error}");
            std::fs::write(directory.join("qemu-aarch64"), HANDLER).unwrap();
            assert_eq!(can_run_in(&directory, Platform::LinuxArm64), Ok(()));
        }
        assert_eq!(can_run_in(&directory, Platform::host().unwrap()), Ok(()));
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
