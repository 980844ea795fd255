//! The Gateway's official sample PDFs (PDFBox output, BouncyCastle BER
//! CMS): extract exactly, verify, sign a second time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;
use fse_pades::{Mode, SignOptions, extract, sign, verify};

/// `(name, size, sha256)` of cda.xml in each file, read by pyHanko's own
/// PDF reader: an independent route to the embedded bytes.
fn pyhanko_extract(files: &[std::path::PathBuf]) -> Vec<(usize, String)> {
    let script = r#"
import sys, hashlib
from pyhanko.pdf_utils.reader import PdfFileReader
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        names = PdfFileReader(f).root['/Names']['/EmbeddedFiles']['/Names']
        data = [names[i + 1].get_object()['/EF']['/F'].get_object().data
                for i in range(0, len(names), 2) if names[i] == 'cda.xml'][0]
        print(len(data), hashlib.sha256(data).hexdigest())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, h) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), h.to_string())
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    fse_pades::DigestAlgorithm::Sha256
        .digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn extract_returns_exactly_the_embedded_bytes() {
    let test = "extract_returns_exactly_the_embedded_bytes";
    let pdfs = official_pdfs(test);
    let Some(corpus) = fse_tests::corpus(test) else {
        return;
    };
    let mut ours = Vec::new();
    for (name, pdf) in &pdfs {
        let cda = extract(pdf).unwrap();
        assert_eq!(cda.mode, Mode::Attachment, "{name}");
        assert!(
            cda.bytes.windows(17).any(|w| w == b"<ClinicalDocument"),
            "{name}"
        );
        // Where the corpus CDA is the very file that was embedded, they match.
        let xml = std::fs::read(corpus.join(format!("cda/{name}.xml"))).unwrap_or_default();
        if name == "LAB" || name == "RSA" {
            assert_eq!(cda.bytes, xml, "{name}");
        }
        ours.push((cda.bytes.len(), sha256_hex(&cda.bytes)));
    }
    if oracle("pyhanko", test) {
        let files: Vec<_> = pdfs
            .iter()
            .map(|(n, _)| corpus.join(format!("pdf/{n}.pdf")))
            .collect();
        assert_eq!(pyhanko_extract(&files), ours);
    }
}

#[test]
fn official_signatures_verify_as_pades_b_b() {
    for (name, pdf) in official_pdfs("official_signatures_verify_as_pades_b_b") {
        let report = verify(&pdf).unwrap();
        assert_eq!(report.signatures.len(), 1, "{name}");
        let sig = &report.signatures[0];
        assert!(sig.valid, "{name}: {:?}", sig.problems);
        assert!(sig.covers_whole_file, "{name}");
        assert_eq!(sig.pades_level.as_deref(), Some("B-B"), "{name}");
        assert_eq!(sig.cda_in_signed_revision, Some(true), "{name}");
        assert!(
            sig.signer
                .as_deref()
                .unwrap()
                .contains("Test Certificate Sign"),
            "{name}"
        );
        assert_eq!(
            sig.claimed_time.as_deref().map(|t| t.starts_with("D:2024")),
            Some(true),
            "{name}"
        );
        assert!(report.all_valid_and_complete());
    }
}

#[test]
fn official_samples_signed_a_second_time() {
    let test = "official_samples_signed_a_second_time";
    let pdfs = official_pdfs(test);
    if pdfs.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let signer = pki().rsa_signer();
    let options = SignOptions {
        reason: Some("Controfirma".into()),
        ..Default::default()
    };
    let mut files = Vec::new();
    let mut official_cert = None;
    for (name, pdf) in &pdfs {
        let signed = sign(pdf, &signer, &options).unwrap();
        assert!(signed.starts_with(pdf), "{name}");
        let report = verify(&signed).unwrap();
        assert_eq!(report.signatures.len(), 2, "{name}");
        let (first, second) = (&report.signatures[0], &report.signatures[1]);
        assert!(
            first.valid && !first.covers_whole_file && first.modified_after_signing,
            "{name}"
        );
        // The CDA did not change after the first signature.
        assert_eq!(first.cda_in_signed_revision, Some(true), "{name}");
        assert!(
            second.valid && second.covers_whole_file,
            "{name}: {:?}",
            second.problems
        );
        assert_eq!(second.field, "Signature2");
        official_cert = first.certificate.clone();
        let file = dir.path().join(format!("{name}.pdf"));
        std::fs::write(&file, &signed).unwrap();
        files.push(file);
    }
    if oracle("pdfsig", test) {
        for f in &files {
            assert_pdfsig_valid(f, 2);
        }
    }
    if oracle("pyhanko", test) {
        let ca = pki().ca_file(dir.path());
        let official = dir.path().join("official.pem");
        std::fs::write(&official, pem(&official_cert.unwrap())).unwrap();
        // The official certificate expired in 2025: validate at the claimed times.
        std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .map(|f| {
                    let (ca, official) = (&ca, &official);
                    s.spawn(move || {
                        assert_pyhanko_valid(f, &[ca, official], &["--validation-time", "claimed"])
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        });
    }
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

#[test]
fn replacing_the_cda_after_signing_is_detected() {
    let Some((_, lab)) = official_pdfs("replacing_the_cda_after_signing_is_detected")
        .into_iter()
        .find(|(n, _)| n == "LAB")
    else {
        return;
    };
    let edited = fse_pades::inject(
        &lab,
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>",
        Mode::Attachment,
    )
    .unwrap();
    assert_eq!(
        extract(&edited).unwrap().bytes,
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>"
    );
    let report = verify(&edited).unwrap();
    let sig = &report.signatures[0];
    assert!(
        sig.valid,
        "the old signature still verifies over its own bytes"
    );
    assert!(!sig.covers_whole_file && sig.modified_after_signing);
    assert_eq!(sig.cda_in_signed_revision, Some(false));
    assert!(!report.all_valid_and_complete());
}
