//! Hostile and broken inputs get a clear error, never a panic or unbounded
//! memory: through the parser, and through `Validator::validate`, which
//! must turn each into a `SYNTAX_ERROR` report carrying the parser's message.
// Fixture builders outside #[test] functions unwrap too: a failure there is a broken test.
#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use fse_cda::xml::{Document, Limits};
use fse_cda::{Error, Outcome, Report, Stage, Validator};

/// Validators to check through: one with no rules (the parser and XSD
/// stages only) and, when the corpus is here, one with the official rules.
fn validators() -> &'static [Validator] {
    static VALIDATORS: OnceLock<Vec<Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let mut all = vec![Validator::structure_only()];
        if let Some(corpus) = fse_tests::corpus("robustness (with the official rules)") {
            all.push(Validator::from_rules_dir(corpus.join("catalogs")).unwrap());
        }
        all
    })
}

/// Validates `bytes` and checks the report is a syntax error whose one
/// finding is the parser's.
fn assert_syntax_report(bytes: &[u8], parser_error: &Error) -> Report {
    let mut reports = validators().iter().map(|v| v.validate(bytes));
    let report = reports.next().unwrap();
    for report in std::iter::once(report.clone()).chain(reports) {
        assert_eq!(report.outcome, Outcome::SyntaxError);
        assert!(report.errors.is_empty() && report.warnings.is_empty());
        let [finding] = report.xsd_errors.as_slice() else {
            panic!("expected one finding, got {:?}", report.xsd_errors)
        };
        assert_eq!(finding.stage, Stage::Syntax);
        assert_eq!(finding.id, "XML");
        assert_eq!(finding.message, parser_error.to_string());
    }
    report
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n  <!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            "  <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<lolz>&lol9;</lolz>\n");

    let err = Document::parse(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err, Error::DtdForbidden { line: 2, column: 1 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "line 2, column 1: DOCTYPE is not allowed (no DTD or external entity is ever processed)"
    );
    let report = assert_syntax_report(doc.as_bytes(), &err);
    assert_eq!(report.xsd_errors[0].line, Some(2));

    // The same entity used without its DTD is just undefined.
    let err = Document::parse(b"<lolz>\n  &lol9;</lolz>").unwrap_err();
    assert!(
        matches!(err, Error::UndefinedEntity { ref name, line: 2, .. } if name == "lol9"),
        "{err:?}"
    );
    assert!(err.to_string().contains("undefined entity &lol9;"), "{err}");
    assert_syntax_report(b"<lolz>\n  &lol9;</lolz>", &err);
}

#[test]
fn external_entities_are_never_fetched() {
    let doc = b"<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><x>&xxe;</x>";
    let err = Document::parse(doc).unwrap_err();
    assert!(matches!(err, Error::DtdForbidden { .. }), "{err:?}");
    assert_syntax_report(doc, &err);
}

#[test]
fn a_200_mb_input_is_refused_before_it_is_read() {
    let size = 200 << 20;
    let mut doc = Vec::with_capacity(size);
    doc.extend_from_slice(b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>");
    doc.resize(size - 32, b'a');
    doc.extend_from_slice(b"</title></ClinicalDocument>");

    let err = Document::parse(&doc).unwrap_err();
    let limit = Limits::default().max_bytes;
    assert!(
        matches!(err, Error::TooLarge { size: s, limit: l } if s == doc.len() && l == limit),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "XML input of {} bytes exceeds the limit of {limit} bytes",
            doc.len()
        )
    );
    assert_syntax_report(&doc, &err);
}

#[test]
fn nesting_100000_deep_is_refused_without_recursion() {
    let depth = 100_000;
    let mut doc = String::with_capacity(depth * 7);
    doc.push_str(&"<a>".repeat(depth));
    doc.push_str(&"</a>".repeat(depth));

    // Test threads have small stacks: a recursive descent would overflow.
    let err = Document::parse(doc.as_bytes()).unwrap_err();
    let limit = Limits::default().max_depth;
    assert!(
        matches!(err, Error::TooDeep { line: 1, limit: l, .. } if l == limit),
        "{err:?}"
    );
    let Error::TooDeep { column, .. } = err else {
        unreachable!()
    };
    // The first element past the limit starts at column 3 * limit + 1.
    assert_eq!(column as usize, 3 * limit + 1);
    assert_eq!(
        err.to_string(),
        format!("line 1, column {column}: elements nested deeper than the limit of {limit}")
    );
    assert_syntax_report(doc.as_bytes(), &err);
}

#[test]
fn invalid_utf8_names_its_offset() {
    let doc = b"<a>caf\xC3\xA9 \xFF\xFE</a>";
    let err = Document::parse(doc).unwrap_err();
    assert!(
        matches!(err, Error::InvalidEncoding { ref encoding, offset: 9 } if encoding == "UTF-8"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "XML input is not valid UTF-8 at byte 9");
    assert_syntax_report(doc, &err);

    // Bytes that are not valid in the declared encoding either.
    let doc = b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a>\x81</a>";
    let err = Document::parse(doc).unwrap_err();
    assert!(
        matches!(err, Error::InvalidEncoding { ref encoding, .. } if encoding == "Shift_JIS"),
        "{err:?}"
    );
    assert_syntax_report(doc, &err);
}

/// A small CDA-like document with every kind of node.
const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="CDA.xsl"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <!-- header -->
  <realmCode code="IT"/>
  <title>Referto &amp; note</title>
  <component><structuredBody><component><section>
    <text><![CDATA[a < b]]> &#233;</text>
    <entry><observation classCode="OBS" moodCode="EVN"><value xsi:type="PQ" value="1.5" unit="mg"/></observation></entry>
  </section></component></structuredBody></component>
</ClinicalDocument>
"#;

#[test]
fn every_truncation_of_a_document_is_an_error() {
    assert!(Document::parse(SAMPLE.as_bytes()).is_ok());
    let end = SAMPLE.rfind("</ClinicalDocument>").unwrap() + "</ClinicalDocument>".len();
    let mut unclosed = std::collections::BTreeSet::new();
    for cut in 0..end {
        let prefix = &SAMPLE.as_bytes()[..cut];
        let err = Document::parse(prefix).unwrap_err();
        match &err {
            Error::Truncated { element, line } => {
                unclosed.insert(element.clone());
                assert!(!element.is_empty() && *line >= 3, "{err}");
                assert!(
                    err.to_string()
                        .starts_with("XML input is truncated: element <"),
                    "{err}"
                );
            }
            Error::NotWellFormed { line, column, .. } => assert!(*line >= 1 && *column >= 1),
            Error::NoRootElement | Error::InvalidEncoding { .. } => {}
            other => panic!("cut at {cut}: unexpected {other:?}"),
        }
        assert!(!err.to_string().is_empty());
        assert_syntax_report(prefix, &err);
    }
    // A cut inside each element names that element as the one left open.
    let expected = [
        "ClinicalDocument",
        "component",
        "entry",
        "observation",
        "section",
        "structuredBody",
        "text",
        "title",
    ];
    assert_eq!(
        unclosed.iter().map(String::as_str).collect::<Vec<_>>(),
        expected
    );

    let err = Document::parse(&SAMPLE.as_bytes()[..SAMPLE.find("<title>").unwrap()]).unwrap_err();
    assert!(
        matches!(err, Error::Truncated { ref element, line: 3 } if element == "ClinicalDocument"),
        "{err:?}"
    );
}

#[test]
fn node_and_size_limits_hold_for_flat_floods() {
    // Far more elements than allowed, in little input.
    let limits = Limits {
        max_nodes: 10_000,
        ..Limits::default()
    };
    let doc = format!("<r>{}</r>", "<a/>".repeat(20_000));
    let err = Document::parse_with(doc.as_bytes(), &limits).unwrap_err();
    assert!(
        matches!(err, Error::TooManyNodes { limit: 10_000 }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "XML input has more than 10000 nodes");

    // Attributes count as nodes too.
    let doc = format!(
        "<r {}/>",
        (0..20_000)
            .map(|i| format!("a{i}=\"\""))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let err = Document::parse_with(doc.as_bytes(), &limits).unwrap_err();
    assert!(matches!(err, Error::TooManyNodes { .. }), "{err:?}");
}

/// Size of the truncated input of the memory test: the parser builds the
/// tree before it sees the end is missing, so this one costs memory in
/// proportion to its size.
const TRUNCATED_BYTES: usize = 4 << 20;

/// The hostile inputs above, built in full before the measurement starts.
fn hostile_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut laughs = String::from("<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">");
    for i in 1..=9 {
        laughs.push_str(&format!(
            "<!ENTITY a{i} \"{}\">",
            format!("&a{};", i - 1).replace("&a0;", "&a;").repeat(10)
        ));
    }
    laughs.push_str("]><l>&a9;</l>");
    let mut big = b"<a>".to_vec();
    big.resize(200 << 20, b'a');
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000)).into_bytes();
    let mut bad_utf8 = b"<a>".to_vec();
    bad_utf8.resize(32 << 20, b'a');
    bad_utf8.extend_from_slice(b"\xFF</a>");
    let mut truncated = b"<r>".to_vec();
    while truncated.len() < TRUNCATED_BYTES {
        truncated.extend_from_slice(b"<x a=\"1\">text</x>");
    }
    vec![
        ("billion laughs", laughs.into_bytes()),
        ("200 MB", big),
        ("100000 deep", deep),
        ("invalid UTF-8 after 32 MB", bad_utf8),
        ("truncated", truncated),
    ]
}

fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const CHILD_ENV: &str = "FSE_ROBUSTNESS_MEMORY_CHILD";

#[test]
fn hostile_inputs_stay_within_bounded_memory() {
    const TEST: &str = "hostile_inputs_stay_within_bounded_memory";
    if std::env::var_os(CHILD_ENV).is_some() {
        // In the child: this test alone runs, so the peak is ours.
        for (name, input) in hostile_inputs() {
            let before = status_kb("VmRSS:").unwrap();
            if std::fs::write("/proc/self/clear_refs", "5").is_err() {
                println!("MEASURE-SKIPPED cannot reset the peak RSS");
                return;
            }
            let parsed = Document::parse(&input);
            let report = Validator::structure_only().validate(&input);
            let peak = status_kb("VmHWM:").unwrap();
            assert!(
                parsed.is_err() && report.outcome == Outcome::SyntaxError,
                "{name}"
            );
            println!("MEASURE {name}|{}", peak.saturating_sub(before));
        }
        return;
    }
    if status_kb("VmHWM:").is_none() {
        println!("{TEST}: skipped, no /proc/self/status on this system");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.contains("MEASURE-SKIPPED") {
        println!("{TEST}: skipped, the peak RSS cannot be reset here");
        return;
    }
    let measured: Vec<(&str, u64)> = stdout
        .lines()
        .filter_map(|l| l.split_once("MEASURE ").map(|(_, m)| m))
        .map(|l| {
            let (name, kb) = l.rsplit_once('|').unwrap();
            (name, kb.parse().unwrap())
        })
        .collect();
    assert_eq!(measured.len(), 5, "{stdout}");
    for (name, growth_kb) in measured {
        if name == "truncated" {
            // Bounded by the parser's limits: linear in the input, at most
            // 16 times its size (about 10 today, the arena's node size).
            let bound = 16 * TRUNCATED_BYTES as u64 / 1024;
            assert!(
                growth_kb < bound,
                "{name}: the peak grew by {growth_kb} KiB (bound {bound})"
            );
        } else {
            // Refused up front: a few MiB at most, whatever the input's size.
            assert!(
                growth_kb < 16 * 1024,
                "{name}: the peak grew by {growth_kb} KiB while refusing it"
            );
        }
    }
}
