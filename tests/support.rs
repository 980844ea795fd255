//! Support for tests across the workspace: where the reference corpus is.
//!
//! The corpus lives beside the repository (`../shared/corpus`) or where
//! `FSE_CORPUS` says. A test that needs it and does not find it prints one
//! line and passes, unless `FSE_REQUIRE_CORPUS=1`, where it fails.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map_or_else(|| here.to_path_buf(), Path::to_path_buf)
}

/// Whether a missing corpus is a failure (`FSE_REQUIRE_CORPUS=1`).
pub fn corpus_required() -> bool {
    std::env::var("FSE_REQUIRE_CORPUS").is_ok_and(|v| v == "1")
}

/// The corpus directory, or `None` (after printing a skip line) when it is
/// absent and not required. `test` names the caller in the skip line.
///
/// # Panics
/// When the corpus is absent and `FSE_REQUIRE_CORPUS=1`.
pub fn corpus(test: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("FSE_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                repo_root().join(p)
            }
        }
        None => repo_root().join("../shared/corpus"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !corpus_required(),
        "{test}: corpus not found at {} and FSE_REQUIRE_CORPUS=1",
        dir.display()
    );
    println!("{test}: skipped, corpus not found at {}", dir.display());
    None
}

/// The `fse` binary, built once per test process.
///
/// `FSE_BIN` names one explicitly. Otherwise `cargo build -p fse-cli --bin
/// fse` runs once (a no-op when it is up to date), for the profile of the
/// running test, into the same target directory, and its path is returned.
/// (`CARGO_BIN_EXE_fse` exists only for the tests of fse-cli itself.)
///
/// # Panics
/// When the build fails or the binary is not where cargo puts it.
pub fn fse_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("FSE_BIN") {
            return PathBuf::from(bin);
        }
        // <target>/<profile>/deps/<test executable>
        let exe = std::env::current_exe().unwrap_or_default();
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let target_dir = profile_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug")
            .to_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(cargo);
        command.args(["build", "--quiet", "-p", "fse-cli", "--bin", "fse"]);
        if profile != "debug" {
            command.args([
                "--profile",
                if profile == "release" {
                    "release"
                } else {
                    &profile
                },
            ]);
        }
        // The variables cargo sets for a running test would reach build
        // scripts that watch them (ring watches CARGO_MANIFEST_DIR) and
        // make this build, and the next `cargo test`, rebuild half the tree.
        for (key, _) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            let set_by_cargo_for_tests = [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .iter()
            .any(|p| key.starts_with(p));
            if set_by_cargo_for_tests {
                command.env_remove(key);
            }
        }
        let status = command
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", &target_dir)
            .status()
            .unwrap_or_else(|e| panic!("running cargo to build the fse binary: {e}"));
        assert!(status.success(), "cargo build -p fse-cli --bin fse failed");
        let bin = profile_dir.join(format!("fse{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "the fse binary is not at {}", bin.display());
        bin
    })
    .clone()
}
