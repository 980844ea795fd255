//! The official validation rules on the user's machine: install, check,
//! list, activate, and pick the rules directory to validate with.
//!
//! A *catalogs tree* is a directory laid out like the national
//! `it-fse-catalogs` repository: `schematron/*.sch` with
//! `schematron/index.json` (which file serves which `template_id_root`, at
//! which version), `terminology/*.csv`, `schema/` (the XSD sets, read only at
//! code generation) and `SOURCE_COMMIT`.
//!
//! [`RulesStore::install`] takes such a tree from a directory, or from a
//! `.tar.gz`, `.tar` or `.zip` archive — GitHub's archive of the national
//! repository included, whose content sits under one top-level folder and
//! which has no `index.json` (it is then derived from the repository's
//! `mongo-dump/schematron.json[.gzip]`, the Gateway's own database) — checks
//! it ([`check_tree`]: the index agrees with the files, every schematron
//! compiles) and stores it, versioned, under the user's data directory:
//!
//! ```text
//! $FSE_DATA_DIR (default: <data dir>/fse2)
//! └── rules/
//!     ├── active                      the id of the active set
//!     ├── 2026-11-26-72228d846c40/    one installed set: a catalogs tree
//!     │   ├── fse-rules.json          its manifest
//!     │   ├── schematron/ terminology/ schema/ SOURCE_COMMIT
//!     └── ...
//! ```
//!
//! Archives are untrusted input: entries that are absolute, climb with
//! `..`, or are links are refused, and sizes and entry counts are bounded
//! ([`InstallLimits`]). Nothing is written outside a staging folder of the
//! store until the tree has passed its checks.
//!
//! Downloading is not done here (only `fse-transport` speaks HTTP): fetch
//! the bytes there and hand them to [`RulesStore::install_archive`].

mod archive;
mod index;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub use archive::InstallLimits;
pub use index::{CheckReport, IndexEntry, check_tree};

/// The environment variable naming the data directory (`rules/` lives in it).
pub const DATA_DIR_ENV: &str = "FSE_DATA_DIR";
/// The environment variable naming a rules directory to validate with.
pub const RULES_ENV: &str = "FSE_RULES";
/// The manifest file inside an installed set.
pub const MANIFEST_FILE: &str = "fse-rules.json";

const ACTIVE_FILE: &str = "active";
const STAGING_PREFIX: &str = ".staging-";

/// What is known about an installed rule set (its `fse-rules.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The set's id, also its folder name: install date and short version
    /// (`2026-11-26-72228d846c40`).
    pub id: String,
    /// Where it came from: a URL, an archive or a directory, as given.
    pub source: String,
    /// The `it-fse-catalogs` commit, when the source says (its
    /// `SOURCE_COMMIT`, or the commit GitHub writes into its archives).
    pub source_commit: Option<String>,
    /// SHA-256 of the installed tree (paths and contents), hex.
    pub content_sha256: String,
    /// When it was installed, RFC 3339, UTC.
    pub installed_at: String,
    /// Schematron files (the index's live entries).
    pub schematrons: usize,
    /// Terminology files.
    pub terminology_files: usize,
}

/// An installed rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledSet {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its catalogs tree: pass this to `Validator::from_rules_dir`.
    pub path: PathBuf,
    /// Whether it is the active set.
    pub active: bool,
}

/// What [`RulesStore::install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOutcome {
    /// The set now active.
    pub set: InstalledSet,
    /// False when the same content was already installed (it is then only
    /// made active again).
    pub newly_installed: bool,
    /// The checks' findings that do not prevent use.
    pub check: CheckReport,
}

/// Where a rules directory was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesOrigin {
    /// `--rules` on the command line.
    Flag,
    /// The `FSE_RULES` environment variable.
    Env,
    /// The active installed set, with its id.
    Installed(String),
}

/// The rules directory to validate with: `flag` (`--rules`), else `env`
/// (`FSE_RULES`), else the active set of `store`.
///
/// # Errors
/// [`Error::NoRules`] when none of the three gives one (with the store's
/// location, so the user knows where `fse rules install` puts them), or the
/// store's errors.
pub fn resolve_rules_dir(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    store: &RulesStore,
) -> Result<(PathBuf, RulesOrigin)> {
    if let Some(dir) = flag {
        return Ok((dir.to_path_buf(), RulesOrigin::Flag));
    }
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(dir), RulesOrigin::Env));
    }
    match store.active()? {
        Some(set) => Ok((set.path, RulesOrigin::Installed(set.manifest.id))),
        None => Err(Error::NoRules {
            store: store.root().to_path_buf(),
        }),
    }
}

/// The installed rule sets, in `<data dir>/rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesStore {
    root: PathBuf,
}

impl RulesStore {
    /// The store kept in `root` (the folder that holds the sets).
    pub fn at(root: impl Into<PathBuf>) -> RulesStore {
        RulesStore { root: root.into() }
    }

    /// The store of this user: `$FSE_DATA_DIR/rules`, else
    /// `<data dir>/fse2/rules` (`~/.local/share/fse2/rules` on Linux).
    ///
    /// # Errors
    /// [`Error::NoDataDir`] when neither is known.
    pub fn for_user() -> Result<RulesStore> {
        Self::for_data_dir(std::env::var_os(DATA_DIR_ENV).as_deref())
    }

    /// As [`for_user`](Self::for_user), with the value of `FSE_DATA_DIR`
    /// given (`None`: unset).
    ///
    /// # Errors
    /// [`Error::NoDataDir`] when neither is known.
    pub fn for_data_dir(data_dir_env: Option<&OsStr>) -> Result<RulesStore> {
        let data = match data_dir_env.filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => dirs::data_dir().ok_or(Error::NoDataDir)?.join("fse2"),
        };
        Ok(RulesStore::at(data.join("rules")))
    }

    /// The folder holding the sets.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Installs from a directory or an archive file (`.tar.gz`, `.tar`,
    /// `.zip`, recognised by content), then makes the set active.
    ///
    /// # Errors
    /// When the source cannot be read, is unsafe or too large, holds no
    /// catalogs tree, or fails [`check_tree`].
    pub fn install(&self, source: &Path, limits: &InstallLimits) -> Result<InstallOutcome> {
        let meta = fs::metadata(source).map_err(|e| io_err("read", source, e))?;
        let label = source.display().to_string();
        if meta.is_dir() {
            self.install_with(&label, limits, |raw| archive::copy_dir(source, raw, limits))
        } else {
            if meta.len() > limits.max_archive_bytes {
                return Err(Error::RulesTooLarge {
                    what: format!("the archive {label}"),
                    limit: limits.max_archive_bytes,
                });
            }
            let mut bytes = Vec::new();
            fs::File::open(source)
                .and_then(|f| f.take(limits.max_archive_bytes + 1).read_to_end(&mut bytes))
                .map_err(|e| io_err("read", source, e))?;
            self.install_archive(&bytes, &label, limits)
        }
    }

    /// Installs from the bytes of an archive (`.tar.gz`, `.tar` or `.zip`),
    /// as downloaded from `source`, then makes the set active.
    ///
    /// # Errors
    /// As [`install`](Self::install).
    pub fn install_archive(
        &self,
        bytes: &[u8],
        source: &str,
        limits: &InstallLimits,
    ) -> Result<InstallOutcome> {
        if bytes.len() as u64 > limits.max_archive_bytes {
            return Err(Error::RulesTooLarge {
                what: format!("the archive {source}"),
                limit: limits.max_archive_bytes,
            });
        }
        self.install_with(source, limits, |raw| archive::extract(bytes, raw, limits))
    }

    fn install_with(
        &self,
        source: &str,
        limits: &InstallLimits,
        fill: impl FnOnce(&Path) -> Result<Option<String>>,
    ) -> Result<InstallOutcome> {
        fs::create_dir_all(&self.root).map_err(|e| io_err("create", &self.root, e))?;
        let staging = Staging::new(&self.root)?;
        let raw = staging.path.join("raw");
        let tree = staging.path.join("tree");
        fs::create_dir_all(&raw).map_err(|e| io_err("create", &raw, e))?;
        let archive_commit = fill(&raw)?;
        let found = archive::find_catalogs_root(&raw).ok_or_else(|| Error::NoCatalogsTree {
            origin: source.to_string(),
        })?;
        index::assemble(&found, &tree, limits)?;
        let check = check_tree(&tree)?;

        let source_commit = read_source_commit(&tree).or(archive_commit);
        if let Some(commit) = &source_commit {
            let file = tree.join("SOURCE_COMMIT");
            if !file.exists() {
                fs::write(&file, format!("{commit}\n")).map_err(|e| io_err("write", &file, e))?;
            }
        }
        let content_sha256 = tree_hash(&tree)?;
        if let Some(existing) = self
            .list()?
            .into_iter()
            .find(|s| s.manifest.content_sha256 == content_sha256)
        {
            self.activate(&existing.manifest.id)?;
            let set = InstalledSet {
                active: true,
                ..existing
            };
            return Ok(InstallOutcome {
                set,
                newly_installed: false,
                check,
            });
        }

        let now = time::OffsetDateTime::now_utc();
        let short = match &source_commit {
            Some(c) => c.chars().take(12).collect::<String>(),
            None => content_sha256.chars().take(12).collect::<String>(),
        };
        let date = format!(
            "{:04}-{:02}-{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        let id = self.free_id(&format!("{date}-{short}"));
        let manifest = Manifest {
            id: id.clone(),
            source: source.to_string(),
            source_commit,
            content_sha256,
            installed_at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| now.unix_timestamp().to_string()),
            schematrons: check.schematrons,
            terminology_files: check.terminology_files,
        };
        let manifest_path = tree.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::StoreJson {
            path: manifest_path.clone(),
            source: e,
        })?;
        fs::write(&manifest_path, json).map_err(|e| io_err("write", &manifest_path, e))?;
        let dest = self.root.join(&id);
        fs::rename(&tree, &dest).map_err(|e| io_err("move into place", &dest, e))?;
        drop(staging);
        self.activate(&id)?;
        Ok(InstallOutcome {
            set: InstalledSet {
                manifest,
                path: dest,
                active: true,
            },
            newly_installed: true,
            check,
        })
    }

    fn free_id(&self, base: &str) -> String {
        if !self.root.join(base).exists() {
            return base.to_string();
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|id| !self.root.join(id).exists())
            .unwrap_or_default()
    }

    /// Every installed set, oldest first.
    ///
    /// # Errors
    /// When the store cannot be read. A folder without a readable manifest
    /// is not a set and is skipped.
    pub fn list(&self) -> Result<Vec<InstalledSet>> {
        let active = self.active_id()?;
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &self.root, e)),
        };
        let mut sets = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err("read", &self.root, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            let Ok(bytes) = fs::read(entry.path().join(MANIFEST_FILE)) else {
                continue;
            };
            let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
                continue;
            };
            if manifest.id != name {
                continue;
            }
            let is_active = active.as_deref() == Some(name);
            sets.push(InstalledSet {
                manifest,
                path: entry.path(),
                active: is_active,
            });
        }
        sets.sort_by(|a, b| {
            (&a.manifest.installed_at, &a.manifest.id)
                .cmp(&(&b.manifest.installed_at, &b.manifest.id))
        });
        Ok(sets)
    }

    /// The active set, if one is installed and marked active.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn active(&self) -> Result<Option<InstalledSet>> {
        Ok(self.list()?.into_iter().find(|s| s.active))
    }

    fn active_id(&self) -> Result<Option<String>> {
        let path = self.root.join(ACTIVE_FILE);
        match fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    /// Makes the set `id` the active one.
    ///
    /// # Errors
    /// [`Error::UnknownRuleSet`] when no such set is installed; I/O errors.
    pub fn activate(&self, id: &str) -> Result<()> {
        let valid_name = !id.is_empty() && !id.starts_with('.') && !id.contains(['/', '\\']);
        if !valid_name || !self.root.join(id).join(MANIFEST_FILE).is_file() {
            return Err(Error::UnknownRuleSet { id: id.to_string() });
        }
        // Write then rename, so a reader never sees a half-written id.
        let tmp = self
            .root
            .join(format!("{STAGING_PREFIX}active-{}", std::process::id()));
        fs::write(&tmp, format!("{id}\n")).map_err(|e| io_err("write", &tmp, e))?;
        let path = self.root.join(ACTIVE_FILE);
        fs::rename(&tmp, &path).map_err(|e| io_err("write", &path, e))
    }
}

/// A scratch folder inside the store, removed when dropped.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn new(root: &Path) -> Result<Staging> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = root.join(format!("{STAGING_PREFIX}{}-{nanos}", std::process::id()));
        fs::create_dir(&path).map_err(|e| io_err("create", &path, e))?;
        Ok(Staging { path })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Best effort: a leftover staging folder is ignored by `list`.
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::StoreIo {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The commit in a tree's `SOURCE_COMMIT` (its first word), if any.
fn read_source_commit(tree: &Path) -> Option<String> {
    let text = fs::read_to_string(tree.join("SOURCE_COMMIT")).ok()?;
    let word = text.split_whitespace().next()?;
    is_commit_id(word).then(|| word.to_ascii_lowercase())
}

/// Whether `s` looks like a git commit id (7 to 64 hex digits).
fn is_commit_id(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// SHA-256 over every file of `tree` (sorted relative paths, lengths and
/// contents), so the same rules give the same hash wherever they came from.
fn tree_hash(tree: &Path) -> Result<String> {
    let mut files = Vec::new();
    archive::walk_files(tree, &mut |rel, _| {
        files.push(rel.to_string());
        Ok(())
    })?;
    files.sort();
    let mut hasher = Sha256::new();
    for rel in files {
        if rel == MANIFEST_FILE {
            continue;
        }
        let path = tree.join(&rel);
        let bytes = fs::read(&path).map_err(|e| io_err("read", &path, e))?;
        hasher.update((rel.len() as u64).to_le_bytes());
        hasher.update(rel.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hex_string(&hasher.finalize()))
}

fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_hex_of_git_lengths() {
        assert!(is_commit_id("72228d846c4008653914486b704646abf7941d7a"));
        assert!(is_commit_id("72228d8"));
        assert!(!is_commit_id("72228d"));
        assert!(!is_commit_id("not-a-commit"));
    }

    #[test]
    fn flag_wins_over_env_and_env_over_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RulesStore::at(tmp.path().join("rules"));
        let (dir, origin) =
            resolve_rules_dir(Some(Path::new("/a")), Some(OsStr::new("/b")), &store).unwrap();
        assert_eq!(
            (dir.as_path(), origin),
            (Path::new("/a"), RulesOrigin::Flag)
        );
        let (dir, origin) = resolve_rules_dir(None, Some(OsStr::new("/b")), &store).unwrap();
        assert_eq!((dir.as_path(), origin), (Path::new("/b"), RulesOrigin::Env));
        let err = resolve_rules_dir(None, Some(OsStr::new("")), &store).unwrap_err();
        assert!(matches!(err, Error::NoRules { .. }), "{err}");
        assert!(err.to_string().contains("fse rules install"), "{err}");
    }

    #[test]
    fn data_dir_env_overrides_the_platform_dir() {
        let store = RulesStore::for_data_dir(Some(OsStr::new("/x/data"))).unwrap();
        assert_eq!(store.root(), Path::new("/x/data/rules"));
    }

    #[test]
    fn activating_an_unknown_or_path_like_id_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let store = RulesStore::at(tmp.path());
        for id in ["nope", "../x", "", ".staging-1"] {
            assert!(
                matches!(store.activate(id), Err(Error::UnknownRuleSet { .. })),
                "{id}"
            );
        }
    }
}
