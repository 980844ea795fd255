//! Signing: every PDF we sign is valid for pdfsig and pyHanko, covers the
//! whole file, starts with the input's bytes, and is PAdES B-B (or B-T).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fse_pades::pdf::{Document, XrefStyle};
use fse_pades::{Error, Mode, SignOptions, Signer, inject, sign, verify};

/// Checks our own report, then pdfsig and pyHanko, on a signed file.
fn check_signed(test: &str, input: &[u8], signed: &[u8], signatures: usize) {
    assert!(
        signed.starts_with(input),
        "{test}: the output does not start with the input"
    );
    let report = verify(signed).unwrap();
    assert_eq!(report.signatures.len(), signatures, "{test}: {report:#?}");
    let last = report.signatures.last().unwrap();
    assert!(last.valid, "{test}: {:?}", last.problems);
    assert!(
        last.covers_whole_file && !last.modified_after_signing,
        "{test}"
    );
    assert!(
        !last.signing_time_attribute,
        "{test}: B-B has no signing-time"
    );
    assert!(last.signing_certificate_attribute, "{test}");
    assert!(last.claimed_time.is_some(), "{test}: /M is required");
    assert_eq!(last.sub_filter.as_deref(), Some("ETSI.CAdES.detached"));
    assert!(report.all_valid_and_complete(), "{test}: {report:#?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("signed.pdf");
    std::fs::write(&file, signed).unwrap();
    if oracle("pdfsig", test) {
        assert_pdfsig_valid(&file, signatures);
    }
    if oracle("qpdf", test) {
        // The structure, cross-reference data included, is sound.
        let out = std::process::Command::new("qpdf")
            .arg("--check")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{test}: qpdf --check:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if oracle("pyhanko", test) {
        let ca = pki().ca_file(dir.path());
        assert_pyhanko_valid(&file, &[&ca], &[]);
    }
}

fn options() -> SignOptions<'static> {
    SignOptions {
        reason: Some("Firma Digitale".into()),
        location: Some("Firenze, IT".into()),
        ..Default::default()
    }
}

#[test]
fn signs_a_classic_pdf_b_b() {
    let input = simple_pdf();
    let signed = sign(&input, &pki().rsa_signer(), &options()).unwrap();
    check_signed("signs_a_classic_pdf_b_b", &input, &signed, 1);
    let report = verify(&signed).unwrap();
    let sig = &report.signatures[0];
    assert_eq!(sig.pades_level.as_deref(), Some("B-B"));
    assert_eq!(sig.digest.as_deref(), Some("SHA-256"));
    assert!(sig.signer.as_deref().unwrap().contains("Mario Rossi"));
    assert_eq!(sig.field, "Signature1");
    // The update continues the table style.
    assert_eq!(
        Document::open(&signed).unwrap().xref_style(),
        XrefStyle::Table
    );
}

#[test]
fn signs_after_injecting_into_an_xref_stream_pdf() {
    let producer = xref_stream_pdf();
    let input = inject(
        &producer,
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>",
        Mode::Attachment,
    )
    .unwrap();
    assert!(input.starts_with(&producer));
    assert_eq!(
        Document::open(&input).unwrap().xref_style(),
        XrefStyle::Stream
    );
    let signed = sign(&input, &pki().rsa_signer(), &options()).unwrap();
    assert_eq!(
        Document::open(&signed).unwrap().xref_style(),
        XrefStyle::Stream
    );
    check_signed(
        "signs_after_injecting_into_an_xref_stream_pdf",
        &input,
        &signed,
        1,
    );
}

#[test]
fn reads_and_signs_a_hybrid_reference_file() {
    let input = hybrid_pdf();
    let doc = Document::open(&input).unwrap();
    assert_eq!(doc.xref_style(), XrefStyle::Hybrid);
    // The font the table lists as free comes from the /XRefStm stream.
    let font = doc.resolve(fse_pades::pdf::ObjRef::new(5)).unwrap();
    assert!(font.as_dict().unwrap().has_name("BaseFont", "Helvetica"));
    let injected = inject(&input, b"<ClinicalDocument/>", Mode::Attachment).unwrap();
    let signed = sign(&injected, &pki().rsa_signer(), &options()).unwrap();
    assert!(signed.starts_with(&input));
    let report = verify(&signed).unwrap();
    assert!(report.all_valid_and_complete(), "{report:#?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hybrid.pdf");
    std::fs::write(&file, &signed).unwrap();
    if oracle("pdfsig", "reads_and_signs_a_hybrid_reference_file") {
        assert_pdfsig_valid(&file, 1);
    }
    if oracle("pyhanko", "reads_and_signs_a_hybrid_reference_file") {
        // pyHanko refuses hybrid files in its strict mode, by design.
        let ca = pki().ca_file(dir.path());
        assert_pyhanko_valid(&file, &[&ca], &["--no-strict-syntax"]);
    }
}

#[test]
fn signs_a_pdfa_after_injection() {
    let input = inject(
        &pdfa_pdf(),
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>",
        Mode::Attachment,
    )
    .unwrap();
    let signed = sign(&input, &pki().rsa_signer(), &options()).unwrap();
    check_signed("signs_a_pdfa_after_injection", &input, &signed, 1);
}

#[test]
fn signs_a_rendered_pdf_with_ecdsa() {
    let cda = "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Lettera di dimissione ospedaliera</title>\
        <component><structuredBody><component><section><title>Diagnosi</title><text>Frattura del perone: è guarita.</text></section></component></structuredBody></component></ClinicalDocument>";
    let input = fse_pades::render(cda.as_bytes()).unwrap();
    let signer = pki().ec_signer();
    assert_eq!(
        signer.algorithm(),
        fse_pades::SignatureAlgorithm::EcdsaP256Sha256
    );
    let signed = sign(&input, &signer, &options()).unwrap();
    check_signed("signs_a_rendered_pdf_with_ecdsa", &input, &signed, 1);
}

#[test]
fn b_t_with_a_time_stamp_from_the_test_authority() {
    let input = simple_pdf();
    let tsa = pki().tsa();
    let opts = SignOptions {
        timestamper: Some(&tsa),
        ..options()
    };
    let signed = sign(&input, &pki().rsa_signer(), &opts).unwrap();
    check_signed(
        "b_t_with_a_time_stamp_from_the_test_authority",
        &input,
        &signed,
        1,
    );
    let sig = &verify(&signed).unwrap().signatures[0];
    let ts = sig.timestamp.as_ref().expect("a time-stamp");
    assert!(ts.valid, "{:?}", ts.problem);
    assert_eq!(sig.pades_level.as_deref(), Some("B-T"));
}

#[test]
fn a_too_small_time_stamp_reserve_is_resized() {
    let input = simple_pdf();
    let tsa = pki().tsa();
    let opts = SignOptions {
        timestamper: Some(&tsa),
        timestamp_reserve: 16,
        ..options()
    };
    let signed = sign(&input, &pki().rsa_signer(), &opts).unwrap();
    assert!(
        verify(&signed).unwrap().signatures[0]
            .timestamp
            .as_ref()
            .is_some_and(|t| t.valid)
    );
}

#[test]
fn a_second_signature_keeps_the_first_valid() {
    let input = simple_pdf();
    let once = sign(&input, &pki().rsa_signer(), &options()).unwrap();
    let twice = sign(&once, &pki().ec_signer(), &options()).unwrap();
    check_signed("a_second_signature_keeps_the_first_valid", &once, &twice, 2);
    let report = verify(&twice).unwrap();
    assert_eq!(report.signatures[0].field, "Signature1");
    assert_eq!(report.signatures[1].field, "Signature2");
    assert!(report.signatures[0].valid && report.signatures[0].modified_after_signing);
}

#[test]
fn merges_existing_form_fields_and_annotations() {
    let input = classic_pdf(
        "1.6",
        &[
            "<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots 5 0 R >>".into(),
            "<< /FT /Tx /T (Nome) /Type /Annot /Subtype /Widget /Rect [10 10 100 30] /P 3 0 R >>"
                .into(),
            "[4 0 R 7 0 R]".into(),
            "<< /Fields [4 0 R] /DA (/Helv 0 Tf 0 g) >>".into(),
            "<< /Type /Annot /Subtype /Text /Rect [50 50 70 70] /Contents (nota) >>".into(),
        ],
        "",
        &[],
    );
    let signed = sign(&input, &pki().rsa_signer(), &options()).unwrap();
    check_signed(
        "merges_existing_form_fields_and_annotations",
        &input,
        &signed,
        1,
    );
    let doc = Document::open(&signed).unwrap();
    let annots = doc.resolve(fse_pades::pdf::ObjRef::new(5)).unwrap();
    assert_eq!(
        annots.as_array().unwrap().len(),
        3,
        "the indirect /Annots array gained the widget"
    );
    let acro = doc
        .resolve_dict(
            &fse_pades::pdf::Object::Reference(fse_pades::pdf::ObjRef::new(6)),
            "acroform",
        )
        .unwrap();
    assert_eq!(acro.get("Fields").unwrap().as_array().unwrap().len(), 2);
    assert!(acro.get("DA").is_some(), "the producer's entries stay");
    assert_eq!(acro.get("SigFlags").unwrap().as_i64(), Some(3));
}

#[test]
fn two_step_signing_for_remote_signers() {
    let input = simple_pdf();
    let signer = pki().rsa_signer();
    let prepared = fse_pades::sign::prepare(
        &input,
        signer.certificates(),
        signer.algorithm(),
        signer.max_signature_len(),
        &options(),
        0,
    )
    .unwrap();
    // The "remote" side signs the attributes it is handed.
    let signature = signer.sign(prepared.signed_attributes()).unwrap();
    let signed = prepared.clone().finish(&signature, None).unwrap();
    check_signed("two_step_signing_for_remote_signers", &input, &signed, 1);
    // A time-stamp that does not fit is refused, not truncated.
    let err = prepared
        .finish(&signature, Some(&vec![0x30; 20_000]))
        .unwrap_err();
    assert!(matches!(err, Error::ContentsTooSmall { .. }), "{err}");
}

#[test]
fn a_wrong_signature_value_is_reported_invalid() {
    let input = simple_pdf();
    let signer = pki().rsa_signer();
    let prepared = fse_pades::sign::prepare(
        &input,
        signer.certificates(),
        signer.algorithm(),
        signer.max_signature_len(),
        &options(),
        0,
    )
    .unwrap();
    let mut signature = signer.sign(prepared.signed_attributes()).unwrap();
    signature[10] ^= 1;
    let signed = prepared.finish(&signature, None).unwrap();
    let sig = &verify(&signed).unwrap().signatures[0];
    assert!(!sig.valid);
    assert!(
        sig.problems.iter().any(|p| p.contains("does not verify")),
        "{:?}",
        sig.problems
    );
}

#[test]
fn refuses_documents_certified_against_changes() {
    let input = classic_pdf(
        "1.7",
        &[
            "<< /Type /Catalog /Pages 2 0 R /Perms << /DocMDP 4 0 R >> >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".into(),
            "<< /Type /Sig /Reference [<< /TransformMethod /DocMDP /TransformParams << /P 1 >> >>] >>".into(),
        ],
        "",
        &[],
    );
    let err = sign(&input, &pki().rsa_signer(), &options()).unwrap_err();
    assert!(err.to_string().contains("DocMDP"), "{err}");
}

#[test]
fn signer_from_pem_and_pkcs12_files() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, format!("{}{}", pki().rsa_cert_pem, pki().ca_pem)).unwrap();
    std::fs::write(&key, &pki().rsa_key_pem).unwrap();
    let signer = fse_pades::KeySigner::from_pem_files(&cert, &key).unwrap();
    assert_eq!(signer.certificates().len(), 2);
    assert_eq!(signer.certificates()[0], pki().rsa_cert_der);

    // A key that does not match the certificate is refused.
    std::fs::write(&cert, &pki().ca_pem).unwrap();
    let err = fse_pades::KeySigner::from_pem_files(&cert, &key).unwrap_err();
    assert!(matches!(err, Error::Key(_)), "{err}");

    // PKCS#12, written by the p12-keystore crate.
    let store = p12(
        &pki().rsa_key_der,
        &[pki().rsa_cert_der.clone(), pki().ca_der.clone()],
        "segreta",
    );
    let signer = fse_pades::KeySigner::from_pkcs12(&store, "segreta").unwrap();
    assert_eq!(signer.certificates()[0], pki().rsa_cert_der);
    let signed = sign(&simple_pdf(), &signer, &options()).unwrap();
    assert!(verify(&signed).unwrap().all_valid_and_complete());
    let err = fse_pades::KeySigner::from_pkcs12(&store, "sbagliata").unwrap_err();
    assert!(matches!(err, Error::Pkcs12 { .. }), "{err}");
}

fn p12(key: &[u8], certs: &[Vec<u8>], password: &str) -> Vec<u8> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let chain: Vec<Certificate> = certs
        .iter()
        .map(|c| Certificate::from_der(c).unwrap())
        .collect();
    let mut store = KeyStore::new();
    store.add_entry(
        "firma",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            b"id-1".to_vec(),
            PrivateKey::from_der(key).unwrap(),
            chain,
        )),
    );
    store.writer(password).write().unwrap()
}

#[test]
fn signs_a_qpdf_rewritten_object_stream_pdf() {
    let test = "signs_a_qpdf_rewritten_object_stream_pdf";
    if !oracle("qpdf", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rendered = fse_pades::render(
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>qpdf</title></ClinicalDocument>",
    )
    .unwrap();
    let plain = dir.path().join("plain.pdf");
    let packed = dir.path().join("packed.pdf");
    std::fs::write(&plain, &rendered).unwrap();
    let status = std::process::Command::new("qpdf")
        .args(["--object-streams=generate", "--compress-streams=y"])
        .arg(&plain)
        .arg(&packed)
        .status()
        .unwrap();
    assert!(status.success());
    let input = std::fs::read(&packed).unwrap();
    assert_eq!(
        Document::open(&input).unwrap().xref_style(),
        XrefStyle::Stream
    );
    assert_eq!(fse_pades::extract(&input).unwrap().mode, Mode::Attachment);
    let signed = sign(&input, &pki().rsa_signer(), &options()).unwrap();
    check_signed(test, &input, &signed, 1);
}
