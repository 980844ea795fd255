//! Installing rule sets: from directories and archives built here, from the
//! official catalogs of the corpus, and refusing unsafe or broken sources.
// Fixture builders outside #[test] functions unwrap too: a failure there is a broken test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;

use fse_cda::Error;
use fse_cda::rules::{InstallLimits, RulesOrigin, RulesStore, check_tree, resolve_rules_dir};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const LAB_ROOT: &str = "2.16.840.1.113883.2.9.10.1.1";

fn schematron(id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="hl7" uri="urn:hl7-org:v3"/>
  <pattern id="all">
    <rule context="hl7:ClinicalDocument">
      <assert test="count(hl7:realmCode[@code='IT'])=1">{id}| realmCode must be IT</assert>
    </rule>
  </pattern>
</schema>
"#
    )
}

const TERMINOLOGY: &str = "version,code,description,release_date\n1.0,N,normal,2020-01-01\n";

/// A record of the Gateway's schematron collection, as mongoexport writes it.
fn dump_record(
    name: &str,
    version: &str,
    root: &str,
    deleted: bool,
    content: Option<&str>,
) -> serde_json::Value {
    use base64::Engine as _;
    let mut record = serde_json::json!({
        "_id": {"$oid": "652405859e11453bd8b61475"},
        "name_schematron": name,
        "version": version,
        "template_id_root": root,
        "deleted": deleted,
        "last_update_date": {"$date": "2026-03-20T11:55:21.719Z"},
    });
    if let Some(content) = content {
        record["content_schematron"] = serde_json::json!({
            "$binary": {"base64": base64::engine::general_purpose::STANDARD.encode(content), "subType": "00"}
        });
    }
    record
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The files of a small repository snapshot, GitHub-style: no index.json,
/// an older schematron the dump has retired, a current one whose file is
/// only in the dump, and things that are not rules.
fn repository_files() -> Vec<(String, Vec<u8>)> {
    let dump = serde_json::Value::Array(vec![
        dump_record("schematronFSE_LAB_v26.sch", "26", LAB_ROOT, true, None),
        dump_record("schematronFSE_LAB_v27.1.sch", "27.1", LAB_ROOT, false, None),
        dump_record(
            "schematron_CC_v1.0.sch",
            "1.0",
            "2.16.840.1.113883.2.9.10.1.18.1",
            false,
            Some(&schematron("ERRORE-2")),
        ),
    ]);
    vec![
        ("README.md".into(), b"# it-fse-catalogs\n".to_vec()),
        (
            "schematron/schematronFSE_LAB_v26.sch".into(),
            schematron("ERRORE-0").into_bytes(),
        ),
        (
            "schematron/schematronFSE_LAB_v27.1.sch".into(),
            schematron("ERRORE-1").into_bytes(),
        ),
        (
            "terminology/2.16.840.1.113883.5.25.csv".into(),
            TERMINOLOGY.as_bytes().to_vec(),
        ),
        (
            "schema/POCD_MT000040UV02/CDA.xsd".into(),
            b"<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'/>".to_vec(),
        ),
        (
            "mongo-dump/schematron.json.gzip".into(),
            gzip(&serde_json::to_vec(&dump).unwrap()),
        ),
        ("mongo-dump/terminology.json.gzip".into(), gzip(b"[]")),
        ("container/Dockerfile".into(), b"FROM mongo\n".to_vec()),
    ]
}

fn tar_gz(top: &str, files: &[(String, Vec<u8>)], pax_commit: Option<&str>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    if let Some(commit) = pax_commit {
        let record = format!("comment={commit}\n");
        let record = format!("{} {record}", record.len() + 3);
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::XGlobalHeader);
        header.set_path("pax_global_header").unwrap();
        header.set_size(record.len() as u64);
        header.set_cksum();
        builder.append(&header, record.as_bytes()).unwrap();
    }
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{top}{name}"), data.as_slice())
            .unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

fn zip_archive(top: &str, files: &[(String, Vec<u8>)], comment: Option<&str>) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, data) in files {
        writer.start_file(format!("{top}{name}"), options).unwrap();
        writer.write_all(data).unwrap();
    }
    if let Some(comment) = comment {
        writer.set_comment(comment).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn write_tree(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, data) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
}

fn installed_index(path: &Path) -> Vec<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path.join("schematron/index.json")).unwrap()).unwrap()
}

#[test]
fn github_tarball_installs_with_the_index_derived_from_the_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let store = RulesStore::at(tmp.path().join("rules"));
    let archive = tar_gz("it-fse-catalogs-main/", &repository_files(), Some(COMMIT));

    let outcome = store
        .install_archive(
            &archive,
            "https://example.test/main.tar.gz",
            &InstallLimits::default(),
        )
        .unwrap();

    assert!(outcome.newly_installed);
    let set = &outcome.set;
    assert!(set.active);
    assert_eq!(set.manifest.source_commit.as_deref(), Some(COMMIT));
    assert!(
        set.manifest.id.ends_with("-0123456789ab"),
        "{}",
        set.manifest.id
    );
    assert_eq!(set.manifest.source, "https://example.test/main.tar.gz");
    assert_eq!(
        (set.manifest.schematrons, set.manifest.terminology_files),
        (2, 1)
    );
    // The retired v26 is left out; CC comes from the dump's content.
    let mut names: Vec<_> = std::fs::read_dir(set.path.join("schematron"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "index.json",
            "schematronFSE_LAB_v27.1.sch",
            "schematron_CC_v1.0.sch"
        ]
    );
    let cc = std::fs::read_to_string(set.path.join("schematron/schematron_CC_v1.0.sch")).unwrap();
    assert!(cc.contains("ERRORE-2|"));
    let index = installed_index(&set.path);
    assert_eq!(index.len(), 2);
    assert_eq!(index[0]["name_schematron"], "schematronFSE_LAB_v27.1.sch");
    assert_eq!(index[0]["last_update_date"], "2026-03-20T11:55:21.719Z");
    assert!(index[0].get("_id").is_none() && index[0].get("content_schematron").is_none());
    // Only rules are kept: no dump, no container files.
    assert!(set.path.join("schema/POCD_MT000040UV02/CDA.xsd").is_file());
    assert!(!set.path.join("mongo-dump").exists() && !set.path.join("container").exists());
    assert_eq!(
        std::fs::read_to_string(set.path.join("SOURCE_COMMIT"))
            .unwrap()
            .trim(),
        COMMIT
    );
    // Nothing is left behind but the set and the active marker.
    let mut left: Vec<_> = std::fs::read_dir(store.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            std::ffi::OsString::from(set.manifest.id.clone()),
            "active".into()
        ]
    );

    let (dir, origin) = resolve_rules_dir(None, None, &store).unwrap();
    assert_eq!(dir, set.path);
    assert_eq!(origin, RulesOrigin::Installed(set.manifest.id.clone()));
}

#[test]
fn github_zip_installs_and_the_same_content_is_not_installed_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let store = RulesStore::at(tmp.path().join("rules"));
    let files = repository_files();
    let first = store
        .install_archive(
            &zip_archive("it-fse-catalogs-main/", &files, Some(COMMIT)),
            "main.zip",
            &InstallLimits::default(),
        )
        .unwrap();
    assert_eq!(first.set.manifest.source_commit.as_deref(), Some(COMMIT));
    assert_eq!(first.set.manifest.schematrons, 2);

    // The same rules as a tarball: recognised, not stored again.
    let again = store
        .install_archive(
            &tar_gz("x/", &files, Some(COMMIT)),
            "again.tar.gz",
            &InstallLimits::default(),
        )
        .unwrap();
    assert!(!again.newly_installed);
    assert_eq!(again.set.manifest.id, first.set.manifest.id);
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn a_directory_with_an_index_installs_and_sets_are_listed_and_switched() {
    let tmp = tempfile::tempdir().unwrap();
    let store = RulesStore::at(tmp.path().join("rules"));
    let index = serde_json::json!([{
        "name_schematron": "schematronFSE_LAB_v27.1.sch", "version": "27.1",
        "template_id_root": LAB_ROOT, "deleted": false
    }]);
    let mut files = vec![
        (
            "schematron/schematronFSE_LAB_v27.1.sch".to_string(),
            schematron("ERRORE-1").into_bytes(),
        ),
        (
            "schematron/index.json".to_string(),
            serde_json::to_vec(&index).unwrap(),
        ),
        (
            "terminology/2.16.840.1.113883.5.25.csv".to_string(),
            TERMINOLOGY.as_bytes().to_vec(),
        ),
    ];
    let src = tmp.path().join("catalogs");
    write_tree(&src, &files);
    let first = store.install(&src, &InstallLimits::default()).unwrap();
    assert!(first.set.manifest.source_commit.is_none());
    assert!(
        first
            .set
            .manifest
            .id
            .ends_with(&first.set.manifest.content_sha256[..12])
    );

    files[0].1 = schematron("ERRORE-9").into_bytes();
    let src2 = tmp.path().join("catalogs2");
    write_tree(&src2, &files);
    let second = store.install(&src2, &InstallLimits::default()).unwrap();
    assert!(second.newly_installed);

    let sets = store.list().unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets.iter().filter(|s| s.active).count(), 1);
    assert_eq!(
        store.active().unwrap().unwrap().manifest.id,
        second.set.manifest.id
    );

    store.activate(&first.set.manifest.id).unwrap();
    assert_eq!(
        store.active().unwrap().unwrap().manifest.id,
        first.set.manifest.id
    );
}

#[test]
fn entries_that_climb_out_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let store = RulesStore::at(tmp.path().join("rules"));

    // A hand-made tar header: the tar crate's builder refuses `..` itself.
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..21].copy_from_slice(b"../schematron/evil.sc");
    header.set_size(4);
    header.set_mode(0o644);
    header.set_cksum();
    let mut raw = header.as_bytes().to_vec();
    raw.extend_from_slice(b"evil");
    raw.resize(raw.len() + 508 + 1024, 0);
    let err = store
        .install_archive(&gzip(&raw), "evil.tar.gz", &InstallLimits::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::ArchiveUnsafeEntry { ref entry } if entry.starts_with("../")),
        "{err}"
    );

    let mut files = repository_files();
    files.push(("../../outside.sch".into(), b"x".to_vec()));
    let err = store
        .install_archive(
            &zip_archive("", &files, None),
            "evil.zip",
            &InstallLimits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::ArchiveUnsafeEntry { .. }), "{err}");
    assert!(err.to_string().contains("unsafe entry"), "{err}");

    assert!(!tmp.path().join("outside.sch").exists() && !tmp.path().join("schematron").exists());
    assert_eq!(
        std::fs::read_dir(store.root()).unwrap().count(),
        0,
        "staging was not cleaned"
    );
}

#[test]
fn sizes_and_entry_counts_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let store = RulesStore::at(tmp.path().join("rules"));
    let mut files = repository_files();
    // Highly compressible: 8 MiB of zeros is a few KiB in the archive.
    files.push(("terminology/huge.csv".into(), vec![b'0'; 8 << 20]));
    let limits = InstallLimits {
        max_file_bytes: 1 << 20,
        ..InstallLimits::default()
    };

    for archive in [tar_gz("t/", &files, None), zip_archive("t/", &files, None)] {
        let err = store
            .install_archive(&archive, "bomb", &limits)
            .unwrap_err();
        assert!(
            matches!(err, Error::RulesTooLarge { ref what, limit } if what.contains("huge.csv") && limit == 1 << 20),
            "{err}"
        );
    }
    let err = store
        .install_archive(
            &tar_gz("t/", &files, None),
            "bomb",
            &InstallLimits {
                max_scanned_bytes: 1 << 20,
                ..InstallLimits::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::RulesTooLarge { ref what, .. } if what.contains("decompressed")),
        "{err}"
    );
    let err = store
        .install_archive(
            &tar_gz("t/", &files, None),
            "many",
            &InstallLimits {
                max_entries: 3,
                ..InstallLimits::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::RulesTooLarge { ref what, limit: 3 } if what == "entries"),
        "{err}"
    );
    let err = store
        .install_archive(
            &tar_gz("t/", &files, None),
            "big",
            &InstallLimits {
                max_archive_bytes: 100,
                ..InstallLimits::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::RulesTooLarge { limit: 100, .. }),
        "{err}"
    );
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn broken_rules_are_refused_with_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let store = RulesStore::at(tmp.path().join("rules"));
    let index = serde_json::json!([
        {"name_schematron": "a.sch", "version": "1", "template_id_root": "not-an-oid"},
        {"name_schematron": "gone.sch", "version": "1", "template_id_root": LAB_ROOT}
    ]);
    let src = tmp.path().join("broken");
    write_tree(
        &src,
        &[
            (
                "schematron/a.sch".into(),
                b"<schema><unclosed></schema>".to_vec(),
            ),
            (
                "schematron/index.json".into(),
                serde_json::to_vec(&index).unwrap(),
            ),
        ],
    );
    // Installing refuses the missing file before anything else.
    let err = store.install(&src, &InstallLimits::default()).unwrap_err();
    assert!(
        matches!(err, Error::RulesInvalid { ref problems, .. } if problems.iter().any(|p| p.contains("gone.sch"))),
        "{err}"
    );

    // Checking the tree in place reports every problem.
    let Error::RulesInvalid { problems, .. } = check_tree(&src).unwrap_err() else {
        panic!("not RulesInvalid")
    };
    assert!(
        problems.iter().any(|p| p.contains("gone.sch")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("not-an-oid")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("a.sch does not compile")),
        "{problems:?}"
    );
    assert!(store.list().unwrap().is_empty());

    let err = store
        .install_archive(
            &tar_gz("t/", &[("docs/x.md".into(), b"x".to_vec())], None),
            "empty",
            &InstallLimits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NoCatalogsTree { .. }), "{err}");
}

#[test]
fn the_official_catalogs_install_and_check() {
    let Some(corpus) = fse_tests::corpus("the_official_catalogs_install_and_check") else {
        return;
    };
    let catalogs = corpus.join("catalogs");
    let report = check_tree(&catalogs).unwrap();
    assert_eq!(report.schematrons, 22);
    assert_eq!(report.terminology_files, 64);

    let tmp = tempfile::tempdir().unwrap();
    let store = RulesStore::at(tmp.path().join("rules"));
    let outcome = store.install(&catalogs, &InstallLimits::default()).unwrap();
    let commit = std::fs::read_to_string(catalogs.join("SOURCE_COMMIT")).unwrap();
    let commit = commit.split_whitespace().next().unwrap();
    assert_eq!(outcome.set.manifest.source_commit.as_deref(), Some(commit));
    assert_eq!(outcome.set.manifest.schematrons, 22);
    assert_eq!(outcome.set.manifest.terminology_files, 64);
    assert!(
        outcome
            .set
            .path
            .join("schema/POCD_MT000040UV02/coreschemas")
            .is_dir()
    );
    // The index keeps the duplicated CC record: one file serves both.
    assert_eq!(installed_index(&outcome.set.path).len(), 23);
}
