//! Shared by the integration tests: a test PKI, fixture PDFs written by
//! hand (independently of our writer), and the external oracles.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use fse_pades::KeySigner;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// A CA (P-256), an RSA-2048 signer and a P-256 signer it issued, and a
/// time-stamping authority.
pub struct Pki {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub rsa_cert_pem: String,
    pub rsa_cert_der: Vec<u8>,
    pub rsa_key_pem: String,
    pub rsa_key_der: Vec<u8>,
    pub ec_cert_der: Vec<u8>,
    pub ec_key_der: Vec<u8>,
    pub tsa_cert_der: Vec<u8>,
    pub tsa_key_der: Vec<u8>,
}

impl Pki {
    /// The RSA signer with its chain (signer, CA).
    pub fn rsa_signer(&self) -> KeySigner {
        KeySigner::from_der(
            vec![self.rsa_cert_der.clone(), self.ca_der.clone()],
            &self.rsa_key_der,
        )
        .unwrap()
    }

    /// The ECDSA P-256 signer with its chain.
    pub fn ec_signer(&self) -> KeySigner {
        KeySigner::from_der(
            vec![self.ec_cert_der.clone(), self.ca_der.clone()],
            &self.ec_key_der,
        )
        .unwrap()
    }

    /// The test time-stamping authority.
    pub fn tsa(&self) -> fse_pades::TimestampAuthority<KeySigner> {
        let signer = KeySigner::from_der(
            vec![self.tsa_cert_der.clone(), self.ca_der.clone()],
            &self.tsa_key_der,
        )
        .unwrap();
        fse_pades::TimestampAuthority::new(signer)
    }

    /// Writes the CA certificate to `dir` (the trust root for pyHanko).
    pub fn ca_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "IT");
    dn.push(DnType::OrganizationName, "fse2 test PKI");
    dn.push(DnType::CommonName, cn);
    dn
}

fn leaf_params(cn: &str, eku: Option<ExtendedKeyUsagePurpose>) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = dn(cn);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    if let Some(eku) = eku {
        p.extended_key_usages = vec![eku];
    }
    p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    p
}

/// The test PKI, made once per test binary.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name = dn("fse2 Test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(2);
        ca_params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let rsa_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let rsa_key_der = rsa_key.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let rsa_key_pem = rsa_key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let rsa_pair = KeyPair::from_pkcs8_der_and_sign_algo(
            &rsa_key_der.as_slice().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let rsa_cert = leaf_params("Mario Rossi (firma di test)", None)
            .signed_by(&rsa_pair, &issuer)
            .unwrap();

        let ec_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let ec_cert = leaf_params("Test ECDSA signer", None)
            .signed_by(&ec_pair, &issuer)
            .unwrap();

        let tsa_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let tsa_cert = leaf_params("fse2 Test TSA", Some(ExtendedKeyUsagePurpose::TimeStamping))
            .signed_by(&tsa_pair, &issuer)
            .unwrap();

        Pki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().to_vec(),
            rsa_cert_pem: rsa_cert.pem(),
            rsa_cert_der: rsa_cert.der().to_vec(),
            rsa_key_pem,
            rsa_key_der,
            ec_cert_der: ec_cert.der().to_vec(),
            ec_key_der: ec_pair.serialize_der(),
            tsa_cert_der: tsa_cert.der().to_vec(),
            tsa_key_der: tsa_pair.serialize_der(),
        }
    })
}

// --- Fixture PDFs, written by hand ---

/// A classic PDF-1.4 with one page of text, a table-style xref.
pub fn simple_pdf() -> Vec<u8> {
    let content = b"BT /F1 24 Tf 72 720 Td (Referto di prova) Tj ET";
    classic_pdf(
        "1.4",
        &[
            "<< /Type /Catalog /Pages 2 0 R >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".into(),
            format!("<< /Length {} >>\nstream\n{}\nendstream", content.len(), String::from_utf8_lossy(content)),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
        ],
        "/Info 6 0 R",
        &["<< /Producer (hand-written test fixture) >>".into()],
    )
}

/// A classic PDF from object bodies (numbered from 1), with `extra`
/// objects after them and `trailer_extra` in the trailer.
pub fn classic_pdf(
    version: &str,
    bodies: &[String],
    trailer_extra: &str,
    extra: &[String],
) -> Vec<u8> {
    let mut out = format!("%PDF-{version}\n%\u{e2}\u{e3}\u{cf}\u{d3}\n").into_bytes();
    let mut offsets = Vec::new();
    for body in bodies.iter().chain(extra) {
        offsets.push(out.len());
        write!(out, "{} 0 obj\n{body}\nendobj\n", offsets.len()).unwrap();
    }
    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).unwrap();
    for o in &offsets {
        writeln!(out, "{o:010} 00000 n ").unwrap();
    }
    write!(
        out,
        "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>] >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    )
    .unwrap();
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// PDF-1.5 with a cross-reference stream (Flate, PNG Up predictor) and an
/// object stream holding the catalog, the page tree, the page and the font.
pub fn xref_stream_pdf() -> Vec<u8> {
    let compressed = [
        (1u32, "<< /Type /Catalog /Pages 2 0 R >>"),
        (2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        (
            3,
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        ),
        (5, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
    ];
    let mut header = String::new();
    let mut body = String::new();
    for (id, text) in compressed {
        header.push_str(&format!("{id} {} ", body.len()));
        body.push_str(text);
        body.push('\n');
    }
    let objstm_data = format!("{header}{body}");
    let objstm_z = zlib(objstm_data.as_bytes());
    let content_z = zlib(b"BT /F1 18 Tf 72 720 Td (Object streams) Tj ET");

    let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let off4 = out.len();
    write!(
        out,
        "4 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
        content_z.len()
    )
    .unwrap();
    out.extend_from_slice(&content_z);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let off6 = out.len();
    write!(
        out,
        "6 0 obj\n<< /Type /ObjStm /N 4 /First {} /Length {} /Filter /FlateDecode >>\nstream\n",
        header.len(),
        objstm_z.len()
    )
    .unwrap();
    out.extend_from_slice(&objstm_z);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let off7 = out.len();
    // Rows: type(1) field2(3) field3(1) for objects 0..=7.
    let rows: Vec<[u8; 5]> = vec![
        [0, 0, 0, 0, 255],
        [2, 0, 0, 6, 0],
        [2, 0, 0, 6, 1],
        [2, 0, 0, 6, 2],
        row(1, off4 as u32, 0),
        [2, 0, 0, 6, 3],
        row(1, off6 as u32, 0),
        row(1, off7 as u32, 0),
    ];
    let mut predicted = Vec::new();
    let mut prev = [0u8; 5];
    for r in &rows {
        predicted.push(2u8); // PNG "Up"
        for i in 0..5 {
            predicted.push(r[i].wrapping_sub(prev[i]));
        }
        prev = *r;
    }
    let xref_z = zlib(&predicted);
    write!(
        out,
        "7 0 obj\n<< /Type /XRef /Size 8 /W [1 3 1] /Root 1 0 R /ID [<AA> <AA>] /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 5 >> /Length {} >>\nstream\n",
        xref_z.len()
    )
    .unwrap();
    out.extend_from_slice(&xref_z);
    write!(out, "\nendstream\nendobj\nstartxref\n{off7}\n%%EOF\n").unwrap();
    out
}

fn row(kind: u8, field: u32, gen_nr: u8) -> [u8; 5] {
    let b = field.to_be_bytes();
    [kind, b[1], b[2], b[3], gen_nr]
}

/// A hybrid-reference file (PDF 1.5 §7.5.8.4): a classic table that lists
/// the font as free, and a trailer `/XRefStm` whose stream puts the font in
/// an object stream.
pub fn hybrid_pdf() -> Vec<u8> {
    let content = "BT /F1 18 Tf 72 720 Td (Hybrid) Tj ET";
    let font = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
    let objstm = format!("5 0 {font}");
    let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for body in [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Type /ObjStm /N 1 /First 4 /Length {} >>\nstream\n{objstm}\nendstream", objstm.len()),
    ] {
        offsets.push(out.len());
        write!(out, "{} 0 obj\n{body}\nendobj\n", offsets.len()).unwrap();
    }
    let off6 = out.len();
    write!(
        out,
        "6 0 obj\n<< /Length {} >>\nstream\n{content}\nendstream\nendobj\n",
        content.len()
    )
    .unwrap();
    let off7 = out.len();
    out.extend_from_slice(b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 2 1] /Index [5 1] /Length 4 >>\nstream\n\x02\x00\x04\x00\nendstream\nendobj\n");
    let xref = out.len();
    out.extend_from_slice(b"xref\n0 8\n0000000000 65535 f \n");
    for o in &offsets {
        writeln!(out, "{o:010} 00000 n ").unwrap();
    }
    writeln!(
        out,
        "0000000000 00001 f \n{off6:010} 00000 n \n{off7:010} 00000 n "
    )
    .unwrap();
    write!(
        out,
        "trailer\n<< /Size 8 /Root 1 0 R /XRefStm {off7} >>\nstartxref\n{xref}\n%%EOF\n"
    )
    .unwrap();
    out
}

/// A PDF claiming PDF/A-2B in its XMP metadata, with an output intent.
pub fn pdfa_pdf() -> Vec<u8> {
    pdfa_pdf_with(2, "1.7")
}

/// A PDF claiming PDF/A-`part`B (part 1 names its amendment) with header `version`.
pub fn pdfa_pdf_with(part: u8, version: &str) -> Vec<u8> {
    let amd = if part == 1 {
        " pdfaid:amd=\"2005\""
    } else {
        ""
    };
    let xmp = "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n\
<rdf:Description rdf:about=\"\" xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\" pdfaid:part=\"{part}\" pdfaid:conformance=\"B\"{amd}/>\n\
<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"><xmp:CreatorTool>fixture</xmp:CreatorTool></rdf:Description>\n\
</rdf:RDF></x:xmpmeta>\n<?xpacket end=\"w\"?>";
    let xmp = xmp
        .replace("{part}", &part.to_string())
        .replace("{amd}", amd);
    let content = "BT /F1 12 Tf 72 720 Td (PDF/A) Tj ET";
    classic_pdf(
        version,
        &[
            "<< /Type /Catalog /Pages 2 0 R /Metadata 6 0 R /OutputIntents [<< /Type /OutputIntent /S /GTS_PDFA1 /OutputConditionIdentifier (sRGB IEC61966-2.1) >>] >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".into(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".into(),
            format!("<< /Type /Metadata /Subtype /XML /Length {} >>\nstream\n{xmp}\nendstream", xmp.len()),
        ],
        "",
        &[],
    )
}

// --- Oracles ---

/// Whether a missing oracle is a failure (`FSE_REQUIRE_ORACLES=1`).
pub fn oracles_required() -> bool {
    std::env::var("FSE_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

/// Whether `program` runs (`program --version` or `-v`); prints one skip
/// line when it does not, and panics if oracles are required.
pub fn oracle(program: &str, test: &str) -> bool {
    let runs = ["--version", "-v"].iter().any(|flag| {
        Command::new(program)
            .arg(flag)
            .output()
            .is_ok_and(|o| o.status.success() || !o.stderr.is_empty())
    });
    if !runs {
        assert!(
            !oracles_required(),
            "{test}: oracle `{program}` not found and FSE_REQUIRE_ORACLES=1"
        );
        println!("{test}: skipped, oracle `{program}` not found");
    }
    runs
}

/// poppler's `pdfsig` output for `file`.
pub fn pdfsig(file: &Path) -> String {
    let out = Command::new("pdfsig").arg(file).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Asserts that pdfsig finds `count` signatures, all valid, and the last
/// covering the whole file.
pub fn assert_pdfsig_valid(file: &Path, count: usize) {
    let report = pdfsig(file);
    let valid = report.matches("Signature is Valid").count();
    assert_eq!(valid, count, "pdfsig on {}:\n{report}", file.display());
    let last = report.rsplit("Signature #").next().unwrap_or_default();
    assert!(
        last.contains("Total document signed"),
        "pdfsig on {}:\n{report}",
        file.display()
    );
}

/// `pyhanko sign validate` over `file`, trusting `trust`; returns (success, output).
pub fn pyhanko_validate(file: &Path, trust: &[&Path], extra: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("pyhanko");
    cmd.args([
        "sign",
        "validate",
        "--pretty-print",
        "--no-revocation-check",
    ]);
    for t in trust {
        cmd.arg("--trust").arg(t);
    }
    cmd.arg("--trust-replace");
    cmd.args(extra);
    cmd.arg(file);
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Asserts that pyHanko judges every signature valid and the last one
/// covering the entire file.
pub fn assert_pyhanko_valid(file: &Path, trust: &[&Path], extra: &[&str]) {
    let (ok, text) = pyhanko_validate(file, trust, extra);
    assert!(ok, "pyhanko validate failed on {}:\n{text}", file.display());
    assert!(
        text.contains("entire file"),
        "pyhanko on {}:\n{text}",
        file.display()
    );
}

/// The official sample PDFs, when the corpus is present.
pub fn official_pdfs(test: &str) -> Vec<(String, Vec<u8>)> {
    let Some(corpus) = fse_tests::corpus(test) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus.join("pdf")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pdf") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no PDFs in the corpus");
    out
}
