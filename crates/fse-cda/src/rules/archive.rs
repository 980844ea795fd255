//! Getting a catalogs tree out of an archive or a directory, safely.
//!
//! Only the parts of a catalogs tree are taken (`schema/`, `schematron/`,
//! `terminology/`, `mongo-dump/schematron.json[.gzip]` and a few top-level
//! files), found at the top of the source or one folder down (GitHub puts
//! a repository's archive under `<repo>-<ref>/`). Every entry name is
//! checked: absolute names, `..`, drive letters and links are refused, so
//! nothing is ever written outside the staging folder; sizes and entry
//! counts are bounded.

use std::cell::Cell;
use std::fs;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{Error, Result};

/// Bounds on what an install reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallLimits {
    /// Largest archive accepted (compressed), in bytes.
    pub max_archive_bytes: u64,
    /// Most bytes written out of the source, all files together.
    pub max_unpacked_bytes: u64,
    /// Largest single file taken from the source.
    pub max_file_bytes: u64,
    /// Most entries (files, folders, skipped or not) looked at.
    pub max_entries: u64,
    /// Most bytes decompressed while reading a compressed archive, skipped
    /// entries included (bounds the time spent on a decompression bomb).
    pub max_scanned_bytes: u64,
}

impl Default for InstallLimits {
    /// 512 MiB archive, 512 MiB unpacked, 128 MiB per file, 200,000
    /// entries, 4 GiB decompressed: several times the national repository.
    fn default() -> Self {
        InstallLimits {
            max_archive_bytes: 512 << 20,
            max_unpacked_bytes: 512 << 20,
            max_file_bytes: 128 << 20,
            max_entries: 200_000,
            max_scanned_bytes: 4 << 30,
        }
    }
}

/// Top-level folders of a catalogs tree that are taken whole.
const TREE_DIRS: [&str; 3] = ["schema", "schematron", "terminology"];
/// The Gateway's database dump: only its schematron collection is taken.
const DUMP_DIR: &str = "mongo-dump";
const DUMP_FILES: [&str; 3] = [
    "schematron.json",
    "schematron.json.gzip",
    "schematron.json.gz",
];

/// Whether a file at `rel` (relative to a candidate tree root) is taken.
fn wanted_at_root(rel: &[&str]) -> bool {
    match rel {
        [first, _, ..] if TREE_DIRS.contains(first) => true,
        [dir, file] => *dir == DUMP_DIR && DUMP_FILES.contains(file),
        [file] => is_top_file(file),
        _ => false,
    }
}

fn is_top_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name == "SOURCE_COMMIT" || lower == "readme.md" || lower.ends_with("license.txt")
}

/// Whether a file at `rel` (relative to the source) is taken: the tree's
/// root may be the source itself or one folder down.
fn wanted(rel: &[&str]) -> bool {
    wanted_at_root(rel)
        || rel
            .split_first()
            .is_some_and(|(_, rest)| wanted_at_root(rest))
}

/// Whether a folder at `rel` may hold wanted files.
fn worth_entering(rel: &[&str]) -> bool {
    let under_root = |r: &[&str]| {
        r.first()
            .is_some_and(|f| TREE_DIRS.contains(f) || *f == DUMP_DIR)
    };
    rel.len() <= 1 || under_root(rel) || under_root(&rel[1..])
}

/// The components of an archive entry name, or an error when the name
/// could land outside the destination.
fn safe_components(name: &str) -> Result<Vec<&str>> {
    let unsafe_entry = || Error::ArchiveUnsafeEntry {
        entry: name.chars().take(200).collect(),
    };
    if name.starts_with('/') || name.starts_with('\\') || name.contains('\0') {
        return Err(unsafe_entry());
    }
    let mut parts = Vec::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_entry()),
            // `C:` and the like: a drive on Windows.
            p if p.contains(':') => return Err(unsafe_entry()),
            p => parts.push(p),
        }
    }
    Ok(parts)
}

/// Counts what an extraction writes, against the limits.
struct Budget<'a> {
    limits: &'a InstallLimits,
    entries: u64,
    written: u64,
}

impl Budget<'_> {
    fn entry(&mut self) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(Error::RulesTooLarge {
                what: "entries".into(),
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Copies `reader` into `dest/rel`, within the per-file and total bounds.
    fn write(
        &mut self,
        dest: &Path,
        rel: &[&str],
        declared: u64,
        reader: &mut dyn Read,
    ) -> Result<()> {
        let display = rel.join("/");
        if declared > self.limits.max_file_bytes {
            return Err(Error::RulesTooLarge {
                what: format!("the file {display}"),
                limit: self.limits.max_file_bytes,
            });
        }
        let path = rel.iter().fold(dest.to_path_buf(), |p, c| p.join(c));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
        }
        let mut out = fs::File::create(&path).map_err(|e| io_err("write", &path, e))?;
        let room = self
            .limits
            .max_file_bytes
            .min(self.limits.max_unpacked_bytes.saturating_sub(self.written));
        let copied = io::copy(&mut reader.take(room.saturating_add(1)), &mut out)
            .map_err(|e| unreadable_or(e, &display))?;
        if copied > room {
            let (what, limit) = if room < self.limits.max_file_bytes {
                (
                    "everything unpacked".to_string(),
                    self.limits.max_unpacked_bytes,
                )
            } else {
                (format!("the file {display}"), self.limits.max_file_bytes)
            };
            return Err(Error::RulesTooLarge { what, limit });
        }
        self.written += copied;
        Ok(())
    }
}

/// Extracts the wanted entries of a `.tar.gz`, `.tar` or `.zip` into
/// `dest`, keeping their paths. Returns the commit GitHub records in its
/// archives (the pax comment of a tarball, the comment of a zip), if any.
pub(super) fn extract(bytes: &[u8], dest: &Path, limits: &InstallLimits) -> Result<Option<String>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let hit_limit = Rc::new(Cell::new(false));
        let reader = ScanLimit {
            inner: flate2::read::GzDecoder::new(bytes),
            left: limits.max_scanned_bytes,
            hit: Rc::clone(&hit_limit),
        };
        extract_tar(reader, dest, limits).map_err(|e| {
            if hit_limit.get() {
                Error::RulesTooLarge {
                    what: "the decompressed archive".into(),
                    limit: limits.max_scanned_bytes,
                }
            } else {
                e
            }
        })
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        extract_zip(bytes, dest, limits)
    } else if bytes.get(257..262) == Some(b"ustar") {
        extract_tar(bytes, dest, limits)
    } else {
        Err(Error::ArchiveUnreadable {
            message: "not a .tar.gz, .tar or .zip archive".into(),
        })
    }
}

fn extract_tar(reader: impl Read, dest: &Path, limits: &InstallLimits) -> Result<Option<String>> {
    let mut archive = tar::Archive::new(reader);
    let mut budget = Budget {
        limits,
        entries: 0,
        written: 0,
    };
    let mut commit = None;
    let entries = archive.entries().map_err(|e| unreadable(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| unreadable(&e))?;
        budget.entry()?;
        let kind = entry.header().entry_type();
        if kind == tar::EntryType::XGlobalHeader {
            let mut text = Vec::new();
            (&mut entry)
                .take(64 << 10)
                .read_to_end(&mut text)
                .map_err(|e| unreadable(&e))?;
            commit = pax_comment_commit(&text).or(commit);
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            // Folders are made as files need them; links, devices and
            // FIFOs are never created.
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let rel = safe_components(&name)?;
        if !wanted(&rel) {
            continue;
        }
        let declared = entry.header().size().unwrap_or(0);
        budget.write(dest, &rel, declared, &mut entry)?;
    }
    Ok(commit)
}

/// The commit in a pax global header `comment=<sha>` record (GitHub's).
fn pax_comment_commit(pax: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(pax).ok()?;
    text.lines().find_map(|line| {
        let (_, record) = line.split_once(' ')?;
        let value = record.strip_prefix("comment=")?.trim();
        super::is_commit_id(value).then(|| value.to_ascii_lowercase())
    })
}

fn extract_zip(bytes: &[u8], dest: &Path, limits: &InstallLimits) -> Result<Option<String>> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Error::ArchiveUnreadable {
            message: e.to_string(),
        })?;
    let mut budget = Budget {
        limits,
        entries: 0,
        written: 0,
    };
    if archive.len() as u64 > limits.max_entries {
        return Err(Error::RulesTooLarge {
            what: "entries".into(),
            limit: limits.max_entries,
        });
    }
    let comment = String::from_utf8_lossy(archive.comment())
        .trim()
        .to_ascii_lowercase();
    let commit = super::is_commit_id(&comment).then_some(comment);
    for i in 0..archive.len() {
        budget.entry()?;
        let mut file = archive.by_index(i).map_err(|e| Error::ArchiveUnreadable {
            message: e.to_string(),
        })?;
        let name = file
            .name()
            .map_err(|e| Error::ArchiveUnreadable {
                message: e.to_string(),
            })?
            .into_owned();
        let rel = safe_components(&name)?;
        if file.is_dir() || file.is_symlink() || !file.is_file() || !wanted(&rel) {
            continue;
        }
        let declared = file.size();
        budget.write(dest, &rel, declared, &mut file)?;
    }
    Ok(commit)
}

/// Copies the wanted files of a directory into `dest`. Links are not
/// followed.
pub(super) fn copy_dir(
    source: &Path,
    dest: &Path,
    limits: &InstallLimits,
) -> Result<Option<String>> {
    let mut budget = Budget {
        limits,
        entries: 0,
        written: 0,
    };
    walk(source, &mut Vec::new(), &mut |rel, path| {
        budget.entry()?;
        if !wanted(rel) {
            return Ok(());
        }
        let meta = fs::symlink_metadata(path).map_err(|e| io_err("read", path, e))?;
        let mut file = fs::File::open(path).map_err(|e| io_err("read", path, e))?;
        budget.write(dest, rel, meta.len(), &mut file)
    })?;
    Ok(None)
}

/// Calls `visit` with every regular file under `dir` (relative path as
/// components, absolute path), descending only into folders that may hold
/// wanted files. Links are neither followed nor visited.
fn walk(
    dir: &Path,
    rel: &mut Vec<String>,
    visit: &mut dyn FnMut(&[&str], &Path) -> Result<()>,
) -> Result<()> {
    const MAX_DEPTH: usize = 32;
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| io_err("read", dir, e))?
        .collect::<io::Result<_>>()
        .map_err(|e| io_err("read", dir, e))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let kind = entry
            .file_type()
            .map_err(|e| io_err("read", &entry.path(), e))?;
        rel.push(name);
        let parts: Vec<&str> = rel.iter().map(String::as_str).collect();
        if kind.is_dir() && rel.len() < MAX_DEPTH && worth_entering(&parts) {
            walk(&entry.path(), rel, visit)?;
        } else if kind.is_file() {
            visit(&parts, &entry.path())?;
        }
        rel.pop();
    }
    Ok(())
}

/// Calls `visit` with the `/`-joined relative path of every regular file
/// under `dir`.
pub(super) fn walk_files(
    dir: &Path,
    visit: &mut dyn FnMut(&str, &Path) -> Result<()>,
) -> Result<()> {
    fn inner(
        dir: &Path,
        prefix: &str,
        depth: usize,
        visit: &mut dyn FnMut(&str, &Path) -> Result<()>,
    ) -> Result<()> {
        for entry in fs::read_dir(dir).map_err(|e| io_err("read", dir, e))? {
            let entry = entry.map_err(|e| io_err("read", dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry
                .file_type()
                .map_err(|e| io_err("read", &entry.path(), e))?;
            if kind.is_dir() && depth < 32 {
                inner(&entry.path(), &rel, depth + 1, visit)?;
            } else if kind.is_file() {
                visit(&rel, &entry.path())?;
            }
        }
        Ok(())
    }
    inner(dir, "", 0, visit)
}

/// The catalogs tree in an extracted source: the source itself when it has
/// `schematron/`, else its only sub-folder that has one.
pub(super) fn find_catalogs_root(raw: &Path) -> Option<PathBuf> {
    if raw.join("schematron").is_dir() {
        return Some(raw.to_path_buf());
    }
    let mut candidates = fs::read_dir(raw)
        .ok()?
        .filter_map(io::Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("schematron").is_dir());
    let first = candidates.next()?;
    candidates.next().is_none().then_some(first)
}

/// A reader that fails once it has given `left` bytes, recording that it did.
struct ScanLimit<R> {
    inner: R,
    left: u64,
    hit: Rc<Cell<bool>>,
}

impl<R: Read> Read for ScanLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            self.hit.set(true);
            return Err(io::Error::other("decompressed size limit reached"));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

fn io_err(action: &'static str, path: &Path, source: io::Error) -> Error {
    Error::StoreIo {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn unreadable(e: &io::Error) -> Error {
    Error::ArchiveUnreadable {
        message: e.to_string(),
    }
}

fn unreadable_or(e: io::Error, entry: &str) -> Error {
    Error::ArchiveUnreadable {
        message: format!("{entry}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_that_escape_are_refused() {
        for name in [
            "/etc/passwd",
            "a/../../x",
            "..",
            "\\x",
            "C:/x",
            "a\\..\\x",
            "a\0b",
        ] {
            assert!(
                matches!(safe_components(name), Err(Error::ArchiveUnsafeEntry { .. })),
                "{name:?}"
            );
        }
        assert_eq!(
            safe_components("./a//b/c.sch").unwrap(),
            ["a", "b", "c.sch"]
        );
    }

    #[test]
    fn only_catalog_parts_are_taken_at_the_top_or_one_folder_down() {
        let yes = [
            "schematron/a.sch",
            "repo-main/schematron/a.sch",
            "repo-main/terminology/1.2.csv",
            "schema/POCD/coreschemas/x.xsd",
            "repo-main/mongo-dump/schematron.json.gzip",
            "SOURCE_COMMIT",
            "repo-main/LOINC_short_license.txt",
        ];
        let no = [
            "repo-main/mongo-dump/terminology.json.gzip",
            "repo-main/transform/x.map",
            "a/b/schematron/x.sch",
            "schematron",
            "repo-main/container/Dockerfile",
        ];
        for name in yes {
            assert!(wanted(&safe_components(name).unwrap()), "{name}");
        }
        for name in no {
            assert!(!wanted(&safe_components(name).unwrap()), "{name}");
        }
    }

    #[test]
    fn github_pax_comment_gives_the_commit() {
        let pax = b"52 comment=72228d846c4008653914486b704646abf7941d7a\n";
        assert_eq!(
            pax_comment_commit(pax).as_deref(),
            Some("72228d846c4008653914486b704646abf7941d7a")
        );
        assert_eq!(pax_comment_commit(b"20 comment=hello\n"), None);
    }

    #[test]
    fn garbage_is_not_an_archive() {
        let tmp = tempfile::tempdir().unwrap();
        let err = extract(b"hello world", tmp.path(), &InstallLimits::default()).unwrap_err();
        assert!(matches!(err, Error::ArchiveUnreadable { .. }), "{err}");
    }
}
