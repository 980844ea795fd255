//! Hostile and broken input: clear errors, never a panic; tampering is
//! caught by verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fse_pades::{Error, Mode, SignOptions, extract, inject, sign, verify};

/// Every entry point on `data`: each may fail, none may panic.
fn exercise(data: &[u8]) -> Vec<String> {
    let signer = pki().rsa_signer();
    let mut errors = Vec::new();
    let mut note = |r: Result<(), Error>| {
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    };
    note(extract(data).map(drop));
    note(verify(data).map(drop));
    note(inject(data, b"<ClinicalDocument/>", Mode::Attachment).map(drop));
    note(inject(data, b"<ClinicalDocument/>", Mode::Resource).map(drop));
    note(sign(data, &signer, &SignOptions::default()).map(drop));
    if let Ok(doc) = fse_pades::pdf::Document::open(data) {
        for id in doc.object_ids() {
            if let Ok(fse_pades::pdf::Object::Stream(s)) =
                doc.resolve(fse_pades::pdf::ObjRef::new(id))
            {
                let _ = doc.decode_stream(&s);
            }
        }
    }
    errors
}

#[test]
fn non_pdf_input() {
    for data in [
        &b""[..],
        b"hello",
        b"\x89PNG\r\n\x1a\n",
        &[0u8; 5000],
        b"<ClinicalDocument/>",
    ] {
        let errors = exercise(data);
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors.iter().all(|e| e.contains("not a PDF")), "{errors:?}");
    }
}

#[test]
fn truncated_input() {
    let signed = sign(&simple_pdf(), &pki().rsa_signer(), &SignOptions::default()).unwrap();
    for cut in [
        10,
        signed.len() / 3,
        signed.len() / 2,
        signed.len() - 200,
        signed.len() - 40,
    ] {
        let errors = exercise(&signed[..cut]);
        assert_eq!(errors.len(), 5, "cut at {cut}: {errors:?}");
        assert!(
            errors
                .iter()
                .all(|e| e.contains("truncated") || e.contains("startxref")),
            "cut at {cut}: {errors:?}"
        );
    }
}

#[test]
fn encrypted_input() {
    let pdf = classic_pdf(
        "1.6",
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".into(),
            "<< /Filter /Standard /V 2 /R 3 /Length 128 /O <00> /U <00> /P -4 >>".into(),
        ],
        "/Encrypt 4 0 R",
        &[],
    );
    let errors = exercise(&pdf);
    assert_eq!(errors.len(), 5);
    assert!(errors.iter().all(|e| e.contains("encrypted")), "{errors:?}");
}

#[test]
fn damaged_cross_reference_data() {
    let pdf = String::from_utf8(simple_pdf()).unwrap();
    // startxref pointing into the middle of an object.
    let at = pdf.rfind("startxref\n").unwrap() + 10;
    let end = pdf[at..].find('\n').unwrap() + at;
    let wrong_start = format!("{}100{}", &pdf[..at], &pdf[end..]);
    let errors = exercise(wrong_start.as_bytes());
    assert_eq!(errors.len(), 5);
    assert!(
        errors.iter().all(|e| e.contains("cross-reference")),
        "{errors:?}"
    );
    // Entries shifted: the catalog is not where the table says.
    let catalog_at = pdf.find("1 0 obj").unwrap();
    let shifted = pdf.replacen(
        &format!("{catalog_at:010} 00000 n"),
        &format!("{:010} 00000 n", catalog_at + 3),
        1,
    );
    assert_ne!(shifted, pdf);
    let errors = exercise(shifted.as_bytes());
    assert_eq!(errors.len(), 5, "{errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("cross-reference")),
        "{errors:?}"
    );
    // A /Prev loop is read once, not forever.
    let looped = pdf.replace(
        "/Root 1 0 R",
        &format!("/Root 1 0 R /Prev {}", &pdf[at..end]),
    );
    assert!(fse_pades::pdf::Document::open(looped.as_bytes()).is_ok());
}

#[test]
fn repair_rebuilds_damaged_files_when_asked() {
    use fse_pades::InjectOptions;
    let pdf = String::from_utf8(simple_pdf()).unwrap();
    let catalog_at = pdf.find("1 0 obj").unwrap();
    let shifted = pdf.replacen(
        &format!("{catalog_at:010} 00000 n"),
        &format!("{:010} 00000 n", catalog_at + 3),
        1,
    );
    let at = pdf.rfind("startxref\n").unwrap() + 10;
    let no_xref = format!("{}999999\n%%EOF\n", &pdf[..at]);
    let repair = InjectOptions {
        repair: true,
        ..Default::default()
    };
    for damaged in [shifted.as_bytes(), no_xref.as_bytes()] {
        let err = inject(damaged, b"<ClinicalDocument/>", Mode::Attachment).unwrap_err();
        assert!(err.to_string().contains("cross-reference"), "{err}");
        let fixed = fse_pades::inject_with(damaged, b"<ClinicalDocument/>", &repair).unwrap();
        assert_eq!(
            fixed.windows(5).filter(|w| w == b"%%EOF").count(),
            1,
            "a single clean revision"
        );
        assert_eq!(extract(&fixed).unwrap().bytes, b"<ClinicalDocument/>");
        let doc = fse_pades::pdf::Document::open(&fixed).unwrap();
        assert!(!doc.is_repaired());
        let page = doc.resolve(fse_pades::pdf::ObjRef::new(3)).unwrap();
        assert!(
            page.as_dict().unwrap().contains("Contents"),
            "the page survived"
        );
        let signed = sign(&fixed, &pki().rsa_signer(), &SignOptions::default()).unwrap();
        assert!(verify(&signed).unwrap().all_valid_and_complete());
    }
    // A signed official sample whose startxref is lost: the newest revision wins.
    if let Some((_, lab)) = official_pdfs("repair_rebuilds_damaged_files_when_asked")
        .into_iter()
        .find(|(n, _)| n == "LAB")
    {
        let at = lab.windows(10).rposition(|w| w == b"startxref\n").unwrap() + 10;
        let mut broken = lab[..at].to_vec();
        broken.extend_from_slice(b"1\n%%EOF\n");
        let fixed = fse_pades::inject_with(&broken, b"<ClinicalDocument/>", &repair).unwrap();
        let doc = fse_pades::pdf::Document::open(&fixed).unwrap();
        assert!(
            doc.catalog().unwrap().contains("AcroForm"),
            "the catalog of the second revision"
        );
        assert_eq!(extract(&fixed).unwrap().bytes, b"<ClinicalDocument/>");
    }
    // Nothing to rebuild from: still an error.
    assert!(fse_pades::inject_with(b"%PDF-1.4\nnothing here", b"<a/>", &repair).is_err());
}

#[test]
fn tampering_after_signing_is_caught() {
    let signed = sign(&simple_pdf(), &pki().rsa_signer(), &SignOptions::default()).unwrap();
    // One byte of page content changed (same length, so the file still parses).
    let at = signed.windows(7).position(|w| w == b"Referto").unwrap();
    let mut tampered = signed.clone();
    tampered[at] = b'r';
    let sig = &verify(&tampered).unwrap().signatures[0];
    assert!(!sig.valid);
    assert!(
        sig.problems.iter().any(|p| p.contains("modified")),
        "{:?}",
        sig.problems
    );

    // Bytes appended as a new revision: the signature holds but no longer covers everything.
    let appended = inject(&signed, b"<ClinicalDocument/>", Mode::Attachment).unwrap();
    let report = verify(&appended).unwrap();
    let sig = &report.signatures[0];
    assert!(sig.valid && !sig.covers_whole_file && sig.modified_after_signing);
    assert_eq!(sig.cda_in_signed_revision, Some(false));
    assert!(!report.all_valid_and_complete());
}

#[test]
fn a_signature_without_m_is_what_the_gateway_rejects() {
    let signed = sign(&simple_pdf(), &pki().rsa_signer(), &SignOptions::default()).unwrap();
    // Blank out "/M (D:...)" inside the signed range: same length, so only the digest breaks,
    // and /M is gone: both problems are reported.
    let at = signed.windows(4).position(|w| w == b"/M (").unwrap();
    let end = at + signed[at..].iter().position(|&b| b == b')').unwrap() + 1;
    let mut no_m = signed.clone();
    for b in &mut no_m[at..end] {
        *b = b' ';
    }
    let sig = &verify(&no_m).unwrap().signatures[0];
    assert!(!sig.valid);
    assert!(
        sig.problems.iter().any(|p| p.contains("/M")),
        "{:?}",
        sig.problems
    );
}

/// A deterministic pseudo-random sequence (xorshift), so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_files_never_panic() {
    let mut seeds = vec![
        sign(&simple_pdf(), &pki().rsa_signer(), &SignOptions::default()).unwrap(),
        inject(&xref_stream_pdf(), b"<ClinicalDocument/>", Mode::Resource).unwrap(),
    ];
    if let Some((_, lab)) = official_pdfs("mutated_files_never_panic")
        .into_iter()
        .find(|(n, _)| n == "LAB")
    {
        seeds.push(lab);
    }
    let mut rng = Rng(0x5EED_F5E2);
    for seed in &seeds {
        for _ in 0..150 {
            let mut data = seed.clone();
            match rng.below(4) {
                0 => {
                    let at = rng.below(data.len());
                    data[at] = rng.next() as u8;
                }
                1 => {
                    // Damage a structural spot: a digit, a keyword, a delimiter.
                    let at = rng.below(data.len());
                    if let Some(p) = data[at..]
                        .iter()
                        .position(|b| b"0123456789<>[]/R".contains(b))
                    {
                        data[at + p] = b"0123456789<>[]/R "[rng.below(17)];
                    }
                }
                2 => {
                    let at = rng.below(data.len());
                    let len = rng.below(64);
                    data.splice(at..at, (0..len).map(|_| rng.next() as u8));
                }
                _ => {
                    let at = rng.below(data.len());
                    let len = rng.below(200).min(data.len() - at);
                    data.drain(at..at + len);
                }
            }
            exercise(&data);
        }
    }
}
