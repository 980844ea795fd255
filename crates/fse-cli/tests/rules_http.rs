//! `fse rules install --from URL` against a local HTTP server serving an
//! archive built here, then `fse rules list`, then `fse cda validate` with
//! the installed set.
// Fixture builders outside #[test] functions unwrap too: a failure there is a broken test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use fse_cda::rules::{InstallLimits, RulesStore, resolve_rules_dir};
use fse_cda::{ValidationOptions, Validator};
use fse_cli::cda::validate::{Format, validate_files};
use fse_cli::rules::{fetch_url, install, list};
use fse_transport::fetch::FetchLimits;

/// Serves `body` at `path` (404 elsewhere) to every connection, forever,
/// from a background thread; returns the server's base URL.
fn serve(path: &'static str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let wanted = request_line.split_whitespace().nth(1) == Some(path);
            let (status, payload): (&str, &[u8]) = if wanted {
                ("200 OK", &body)
            } else {
                ("404 Not Found", b"")
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(payload));
        }
    });
    format!("http://{addr}")
}

/// A GitHub-style `.tar.gz` of `dir`'s `schematron/`, `terminology/` and
/// `SOURCE_COMMIT`, under a `it-fse-catalogs-main/` folder.
fn tarball_of(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for sub in ["schematron", "terminology"] {
        builder
            .append_dir_all(format!("it-fse-catalogs-main/{sub}"), dir.join(sub))
            .unwrap();
    }
    if dir.join("SOURCE_COMMIT").is_file() {
        builder
            .append_path_with_name(
                dir.join("SOURCE_COMMIT"),
                "it-fse-catalogs-main/SOURCE_COMMIT",
            )
            .unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

fn synthetic_catalogs(dir: &Path) {
    let sch = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="hl7" uri="urn:hl7-org:v3"/>
  <pattern id="all">
    <rule context="hl7:ClinicalDocument">
      <assert test="count(hl7:realmCode[@code='IT'])=1">ERRORE-1| realmCode must be IT</assert>
    </rule>
  </pattern>
</schema>"#;
    let index = r#"[{"name_schematron":"t_v1.0.sch","version":"1.0","template_id_root":"2.16.840.1.113883.2.9.10.1.1","deleted":false}]"#;
    std::fs::create_dir_all(dir.join("schematron")).unwrap();
    std::fs::create_dir_all(dir.join("terminology")).unwrap();
    std::fs::write(dir.join("schematron/t_v1.0.sch"), sch).unwrap();
    std::fs::write(dir.join("schematron/index.json"), index).unwrap();
    std::fs::write(
        dir.join("terminology/2.16.840.1.113883.5.25.csv"),
        "version,code,description,release_date\n1,N,normal,2020-01-01\n",
    )
    .unwrap();
}

#[test]
fn install_from_a_url_lists_and_is_used_by_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    synthetic_catalogs(&src);
    let base = serve("/rules.tar.gz", tarball_of(&src));
    let store = RulesStore::at(tmp.path().join("data/rules"));

    let mut out = Vec::new();
    let url = format!("{base}/rules.tar.gz");
    let outcome = install(
        &store,
        &url,
        &InstallLimits::default(),
        &FetchLimits::default(),
        &fetch_url,
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("downloading {url}")), "{text}");
    assert!(
        text.contains(&format!("installed {}", outcome.set.manifest.id)),
        "{text}"
    );
    assert!(
        text.contains("1 schematrons, 1 terminology files"),
        "{text}"
    );
    assert_eq!(outcome.set.manifest.source, url);

    let mut out = Vec::new();
    list(&store, &mut out).unwrap();
    let table = String::from_utf8(out).unwrap();
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!("* {}", outcome.set.manifest.id)),
        "{table}"
    );
    assert!(row.ends_with(&url), "{table}");

    // `fse cda validate` without --rules or FSE_RULES uses the active set.
    let (dir, _) = resolve_rules_dir(None, None, &store).unwrap();
    let validator = Validator::from_rules_dir(&dir).unwrap();
    let doc = tmp.path().join("doc.xml");
    std::fs::write(
        &doc,
        r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><templateId root="2.16.840.1.113883.2.9.10.1.1"/></ClinicalDocument>"#,
    )
    .unwrap();
    let mut out = Vec::new();
    let summary = validate_files(
        &validator,
        ValidationOptions::default(),
        &[doc],
        Format::Json,
        &mut out,
        None,
    )
    .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["schematron"], "t_v1.0.sch");
    let ids: Vec<&str> = line["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"ERRORE-1"), "{line}");
    assert_eq!(summary.exit_code(), 1);

    // A wrong path is a clear error, and nothing more is installed.
    let mut out = Vec::new();
    let err = install(
        &store,
        &format!("{base}/nope.zip"),
        &InstallLimits::default(),
        &FetchLimits::default(),
        &fetch_url,
        &mut out,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("HTTP 404"), "{err:#}");
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn the_official_catalogs_served_over_http_validate_the_samples_as_the_gateway() {
    let Some(corpus) = fse_tests::corpus(
        "the_official_catalogs_served_over_http_validate_the_samples_as_the_gateway",
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let base = serve(
        "/it-fse-catalogs/archive/HEAD.tar.gz",
        tarball_of(&corpus.join("catalogs")),
    );
    let store = RulesStore::at(tmp.path().join("rules"));
    let url = format!("{base}/it-fse-catalogs/archive/HEAD.tar.gz");
    let outcome = install(
        &store,
        &url,
        &InstallLimits::default(),
        &FetchLimits::default(),
        &fetch_url,
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(outcome.set.manifest.schematrons, 22);
    assert!(outcome.set.manifest.source_commit.is_some());

    let validator = Validator::from_rules_dir(&outcome.set.path).unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus.join("cda/expected.json")).unwrap()).unwrap();
    let files: Vec<_> = ["LAB.xml", "VPS.xml"]
        .iter()
        .map(|f| corpus.join("cda").join(f))
        .collect();
    let mut out = Vec::new();
    let summary = validate_files(
        &validator,
        ValidationOptions::default(),
        &files,
        Format::Json,
        &mut out,
        None,
    )
    .unwrap();
    for (line, file) in String::from_utf8(out)
        .unwrap()
        .lines()
        .zip(["LAB.xml", "VPS.xml"])
    {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(line["schematron"], expected[file]["schematron"], "{file}");
        let mut ids: Vec<&str> = line["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let want: Vec<&str> = expected[file]["errors"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(ids, want, "{file}");
    }
    // VPS.xml fails two current rules: the run has errors.
    assert_eq!(summary.exit_code(), 1);
}
