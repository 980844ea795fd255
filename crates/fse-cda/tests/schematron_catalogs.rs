//! Every official schematron compiles with no unsupported construct, and
//! the rules directory is read the way the Gateway reads it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use fse_cda::schematron::{Schematron, SchematronSet, Stats};

#[test]
fn all_official_schematrons_compile() {
    let Some(corpus) = fse_tests::corpus("all_official_schematrons_compile") else {
        return;
    };
    let dir = corpus.join("catalogs/schematron");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sch"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 22);
    let mut total = Stats::default();
    for file in &files {
        let s = Schematron::load(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let st = s.stats();
        assert_eq!(st.patterns, 1, "{}", s.file_name());
        assert!(s.title().is_some(), "{}", s.file_name());
        total.rules += st.rules;
        total.asserts += st.asserts;
        total.reports += st.reports;
        total.lets += st.lets;
    }
    // The counts of the research note (cda.md §2).
    assert_eq!(
        (total.rules, total.asserts, total.reports, total.lets),
        (666, 3418, 45, 454)
    );
}

#[test]
fn index_and_scanning_agree_on_roots() {
    let Some(corpus) = fse_tests::corpus("index_and_scanning_agree_on_roots") else {
        return;
    };
    let dir = corpus.join("catalogs/schematron");
    let set = SchematronSet::load_dir(&dir).unwrap();
    assert_eq!(set.len(), 22);
    for e in set.entries() {
        assert_eq!(
            e.schematron.asserted_template_root(),
            Some(e.template_id_root.as_str()),
            "{}",
            e.schematron.file_name()
        );
        assert_eq!(
            set.select(&e.template_id_root).map(Schematron::file_name),
            Some(e.schematron.file_name())
        );
    }
    assert_eq!(
        set.select("2.16.840.1.113883.2.9.10.1.1")
            .map(Schematron::file_name),
        Some("schematronFSE_LAB_v27.1.sch")
    );
    assert!(set.select("1.2.3").is_none());

    // Without index.json: scanning the files finds the same roots and versions.
    let tmp = std::env::temp_dir().join(format!("fse-cda-scan-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for e in set.entries() {
        std::fs::copy(
            dir.join(e.schematron.file_name()),
            tmp.join(e.schematron.file_name()),
        )
        .unwrap();
    }
    let scanned = SchematronSet::load_dir(&tmp).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
    for e in set.entries() {
        let s = scanned.select(&e.template_id_root).unwrap();
        assert_eq!(s.file_name(), e.schematron.file_name());
        let version = scanned
            .entries()
            .iter()
            .find(|x| x.schematron.file_name() == s.file_name())
            .unwrap()
            .version
            .clone();
        assert_eq!(version, e.version, "{}", s.file_name());
    }
}

#[test]
fn the_newest_version_of_a_root_is_selected() {
    let tmp = std::env::temp_dir().join(format!("fse-cda-newest-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let sch = |id: &str| {
        format!(
            r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2"><ns prefix="hl7" uri="urn:hl7-org:v3"/>
            <pattern><rule context="hl7:ClinicalDocument"><assert test="count(hl7:templateId[@root='9.9'])=1">{id}| x</assert></rule></pattern></schema>"#
        )
    };
    std::fs::write(tmp.join("a_v1.9.sch"), sch("OLD")).unwrap();
    std::fs::write(tmp.join("a_v1.10.sch"), sch("NEW")).unwrap();
    std::fs::write(tmp.join("a_v1.2.sch"), sch("OLDER")).unwrap();
    let set = SchematronSet::load_dir(&tmp).unwrap();
    assert_eq!(
        set.select("9.9").map(Schematron::file_name),
        Some("a_v1.10.sch")
    );
    std::fs::write(
        tmp.join("index.json"),
        r#"[{"name_schematron":"a_v1.9.sch","version":"1.9","template_id_root":"9.9"},
            {"name_schematron":"a_v1.10.sch","version":"1.10","template_id_root":"9.9","deleted":true}]"#,
    )
    .unwrap();
    let set = SchematronSet::load_dir(&tmp).unwrap();
    assert_eq!(
        set.select("9.9").map(Schematron::file_name),
        Some("a_v1.9.sch"),
        "deleted entries are skipped"
    );
    std::fs::write(
        tmp.join("index.json"),
        r#"[{"name_schematron":"missing.sch","version":"1","template_id_root":"9.9"}]"#,
    )
    .unwrap();
    assert!(
        SchematronSet::load_dir(&tmp)
            .unwrap_err()
            .to_string()
            .contains("missing.sch")
    );
    std::fs::write(tmp.join("index.json"), "{").unwrap();
    assert!(
        SchematronSet::load_dir(&tmp)
            .unwrap_err()
            .to_string()
            .contains("malformed schematron index")
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}
