//! Injection: exact bytes in, exact bytes out; merging with the producer's
//! names, forms and metadata; RESOURCE mode; PDF/A-3; rendering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use fse_pades::pdf::{Document, ObjRef, Object, XrefStyle};
use fse_pades::{InjectOptions, Mode, extract, extract_mode, inject, inject_with};

const CDA: &[u8] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Referto: città, perché</title></ClinicalDocument>\n".as_bytes();

fn catalog(pdf: &[u8]) -> fse_pades::pdf::Dict {
    Document::open(pdf).unwrap().catalog().unwrap()
}

#[test]
fn attachment_roundtrip_is_byte_exact() {
    for compress in [true, false] {
        for input in [simple_pdf(), xref_stream_pdf()] {
            let out = inject_with(
                &input,
                CDA,
                &InjectOptions {
                    compress,
                    ..Default::default()
                },
            )
            .unwrap();
            assert!(out.starts_with(&input), "an incremental update");
            let cda = extract(&out).unwrap();
            assert_eq!(cda.mode, Mode::Attachment);
            assert_eq!(cda.bytes, CDA);
        }
    }
}

#[test]
fn the_attachment_has_what_the_gateway_and_pdfa3_want() {
    let out = inject(&simple_pdf(), CDA, Mode::Attachment).unwrap();
    let doc = Document::open(&out).unwrap();
    let cat = doc.catalog().unwrap();
    let names = doc
        .resolve_dict(cat.get("Names").unwrap(), "names")
        .unwrap();
    let ef = doc
        .resolve_dict(names.get("EmbeddedFiles").unwrap(), "ef")
        .unwrap();
    let flat = ef.get("Names").unwrap().as_array().unwrap();
    assert_eq!(flat[0], Object::String(b"cda.xml".to_vec()));
    let spec = doc.resolve_dict(&flat[1], "filespec").unwrap();
    assert_eq!(spec.get("F").unwrap().as_string(), Some(&b"cda.xml"[..]));
    assert_eq!(spec.get("UF").unwrap().as_string(), Some(&b"cda.xml"[..]));
    assert!(spec.has_name("AFRelationship", "Data"));
    let ef_dict = doc.resolve_dict(spec.get("EF").unwrap(), "EF").unwrap();
    let Object::Stream(stream) = doc.deref(ef_dict.get("F").unwrap()).unwrap() else {
        panic!("not a stream")
    };
    assert!(stream.dict.has_name("Type", "EmbeddedFile"));
    assert!(stream.dict.has_name("Subtype", "application/xml"));
    let params = doc
        .resolve_dict(stream.dict.get("Params").unwrap(), "params")
        .unwrap();
    assert_eq!(params.get("Size").unwrap().as_i64(), Some(CDA.len() as i64));
    assert!(params.get("ModDate").is_some());
    assert_eq!(
        params.get("CheckSum").unwrap().as_string().unwrap().len(),
        16
    );
    let af = cat.get("AF").unwrap().as_array().unwrap();
    assert_eq!(af, &[flat[1].clone()]);
}

/// A producer PDF with two embedded files in a two-level name tree, one of
/// them an old cda.xml, and a /Names dictionary that is indirect.
fn producer_with_attachments() -> Vec<u8> {
    classic_pdf(
        "1.7",
        &[
            "<< /Type /Catalog /Pages 2 0 R /Names 4 0 R /PageMode /UseAttachments >>".into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".into(),
            "<< /EmbeddedFiles 5 0 R /Dests 12 0 R >>".into(),
            "<< /Kids [6 0 R 7 0 R] >>".into(),
            "<< /Limits [(allegato.txt) (allegato.txt)] /Names [(allegato.txt) 8 0 R] >>".into(),
            "<< /Limits [(cda.xml) (cda.xml)] /Names [(cda.xml) 9 0 R] >>".into(),
            "<< /Type /Filespec /F (allegato.txt) /EF << /F 10 0 R >> >>".into(),
            "<< /Type /Filespec /F (cda.xml) /EF << /F 11 0 R >> >>".into(),
            "<< /Type /EmbeddedFile /Length 5 >>\nstream\nciao!\nendstream".into(),
            "<< /Type /EmbeddedFile /Length 6 >>\nstream\n<old/>\nendstream".into(),
            "<< /Names [] >>".into(),
        ],
        "",
        &[],
    )
}

#[test]
fn merges_with_the_producers_names_and_replaces_an_old_cda() {
    let input = producer_with_attachments();
    assert_eq!(
        extract(&input).unwrap().bytes,
        b"<old/>",
        "the fixture's own cda.xml at one level of /Kids"
    );
    let out = inject(&input, CDA, Mode::Attachment).unwrap();
    assert_eq!(extract(&out).unwrap().bytes, CDA);
    let doc = Document::open(&out).unwrap();
    // /Names stayed indirect and kept /Dests; the tree is flat, sorted, and kept allegato.txt.
    let names = doc
        .resolve_dict(&Object::Reference(ObjRef::new(4)), "names")
        .unwrap();
    assert!(names.get("Dests").is_some());
    let tree = doc
        .resolve_dict(&Object::Reference(ObjRef::new(5)), "tree")
        .unwrap();
    assert!(tree.get("Kids").is_none());
    let flat = tree.get("Names").unwrap().as_array().unwrap();
    let keys: Vec<&[u8]> = flat
        .iter()
        .step_by(2)
        .map(|k| k.as_string().unwrap())
        .collect();
    assert_eq!(keys, [&b"allegato.txt"[..], b"cda.xml"]);
    assert!(catalog(&out).has_name("PageMode", "UseAttachments"));
    // Injecting again replaces, never duplicates.
    let again = inject(&out, b"<ClinicalDocument/>", Mode::Attachment).unwrap();
    assert_eq!(extract(&again).unwrap().bytes, b"<ClinicalDocument/>");
    let doc = Document::open(&again).unwrap();
    let tree = doc
        .resolve_dict(&Object::Reference(ObjRef::new(5)), "tree")
        .unwrap();
    assert_eq!(tree.get("Names").unwrap().as_array().unwrap().len(), 4);
}

#[test]
fn the_gateway_does_not_look_deeper_than_one_level_of_kids() {
    let input = classic_pdf(
        "1.7",
        &[
            "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Kids [4 0 R] >> >> >>"
                .into(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>".into(),
            "<< /Kids [5 0 R] >>".into(),
            "<< /Names [(cda.xml) << /F (cda.xml) /EF << /F 6 0 R >> >>] >>".into(),
            "<< /Length 4 >>\nstream\n<a/>\nendstream".into(),
        ],
        "",
        &[],
    );
    let err = extract(&input).unwrap_err();
    assert!(err.to_string().contains("deeper"), "{err}");
    // Injection flattens the tree so the Gateway finds it.
    let out = inject(&input, CDA, Mode::Attachment).unwrap();
    assert_eq!(extract(&out).unwrap().bytes, CDA);
}

#[test]
fn resource_mode_roundtrip() {
    for input in [simple_pdf(), xref_stream_pdf(), producer_with_attachments()] {
        let out = inject(&input, CDA, Mode::Resource).unwrap();
        let cda = extract_mode(&out, Mode::Resource).unwrap();
        assert_eq!(cda.bytes, b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Referto: citt\xc3\xa0, perch\xc3\xa9</title></ClinicalDocument>");
        // With no mode, RESOURCE comes first, as at the Gateway.
        assert_eq!(extract(&out).unwrap().mode, Mode::Resource);
        let doc = Document::open(&out).unwrap();
        let names = doc
            .resolve_dict(doc.catalog().unwrap().get("Names").unwrap(), "names")
            .unwrap();
        assert!(
            matches!(names.get("XFAResources"), Some(Object::Reference(_))),
            "must be indirect"
        );
    }
    // Latin-1 input is carried as UTF-8.
    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><ClinicalDocument xmlns=\"urn:hl7-org:v3\">Citt\xe0</ClinicalDocument>";
    let out = inject(&simple_pdf(), latin1, Mode::Resource).unwrap();
    assert_eq!(
        extract(&out).unwrap().bytes,
        "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">Città</ClinicalDocument>".as_bytes()
    );
}

#[test]
fn pdfa_is_redeclared_pdfa3() {
    // A PDF/A-1B with a 1.4 header: PDF/A-3 needs 1.7 and has no amendment.
    let out = inject(&pdfa_pdf_with(1, "1.4"), CDA, Mode::Attachment).unwrap();
    let doc = Document::open(&out).unwrap();
    let cat = doc.catalog().unwrap();
    assert_eq!(cat.name("Version"), Some(&b"1.7"[..]));
    assert!(
        cat.get("OutputIntents").is_some(),
        "the producer's entries stay"
    );
    let Object::Stream(meta) = doc.deref(cat.get("Metadata").unwrap()).unwrap() else {
        panic!()
    };
    assert!(
        meta.dict.get("Filter").is_none(),
        "PDF/A metadata is not filtered"
    );
    let xmp = String::from_utf8(meta.data).unwrap();
    assert!(xmp.contains("pdfaid:part=\"3\""), "{xmp}");
    assert!(xmp.contains("pdfaid:conformance=\"B\""));
    assert!(!xmp.contains("pdfaid:amd"), "{xmp}");
    // A PDF/A-2 at 1.7 keeps its header version and gets part 3 too.
    let out = inject(&pdfa_pdf(), CDA, Mode::Attachment).unwrap();
    let cat = catalog(&out);
    assert_eq!(cat.name("Version"), None);
    let doc = Document::open(&out).unwrap();
    let Object::Stream(meta) = doc.deref(cat.get("Metadata").unwrap()).unwrap() else {
        panic!()
    };
    assert!(
        String::from_utf8(meta.data)
            .unwrap()
            .contains("pdfaid:part=\"3\"")
    );
    assert!(cat.get("AF").is_some());
    // A PDF that does not claim PDF/A gets no XMP.
    let plain = inject(&simple_pdf(), CDA, Mode::Attachment).unwrap();
    assert!(catalog(&plain).get("Metadata").is_none());
}

#[test]
fn a_full_rewrite_is_a_single_revision() {
    let out = inject_with(
        &xref_stream_pdf(),
        CDA,
        &InjectOptions {
            rewrite: true,
            ..Default::default()
        },
    )
    .unwrap();
    let doc = Document::open(&out).unwrap();
    assert_eq!(doc.xref_style(), XrefStyle::Table);
    assert_eq!(out.windows(5).filter(|w| w == b"%%EOF").count(), 1);
    assert_eq!(extract(&out).unwrap().bytes, CDA);
    // The page content survived the unpacking of the object stream.
    let page = doc
        .resolve_dict(&Object::Reference(ObjRef::new(3)), "page")
        .unwrap();
    assert!(page.get("Contents").is_some());
}

#[test]
fn refuses_what_is_not_a_cda() {
    for bad in [&b""[..], b"   ", b"%PDF-1.4"] {
        assert!(matches!(
            inject(&simple_pdf(), bad, Mode::Attachment),
            Err(fse_pades::Error::Inject(_))
        ));
    }
}

#[test]
fn render_makes_a_readable_pdf_with_the_cda_inside() {
    let test = "render_makes_a_readable_pdf_with_the_cda_inside";
    let Some(corpus) = fse_tests::corpus(test) else {
        return;
    };
    let cda = std::fs::read(corpus.join("cda/LDO.xml")).unwrap();
    let pdf = fse_pades::render(&cda).unwrap();
    assert_eq!(extract(&pdf).unwrap().bytes, cda);
    assert_eq!(
        pdf.windows(5).filter(|w| w == b"%%EOF").count(),
        1,
        "one revision"
    );
    if oracle("pdftotext", test) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ldo.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let out = std::process::Command::new("pdftotext")
            .arg("-layout")
            .arg(&file)
            .arg("-")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let meta = fse_cda::Metadata::from_bytes(&cda).unwrap();
        // LDO has no <title>: the code's display name stands in.
        let title = meta.title.or(meta.display_name).unwrap();
        assert!(
            text.contains(title.split_whitespace().next().unwrap()),
            "{text}"
        );
        assert!(
            text.contains(
                meta.author
                    .unwrap()
                    .name
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
            ),
            "{text}"
        );
        assert!(text.contains("pagina 1 di"), "{text}");
        // Section titles of the CDA are in the text.
        let xml = String::from_utf8_lossy(&cda);
        let first_section_title = xml
            .split("<section")
            .nth(1)
            .and_then(|s| s.split("<title>").nth(1))
            .and_then(|s| s.split("</title>").next())
            .unwrap();
        assert!(
            text.contains(first_section_title.trim()),
            "missing {first_section_title:?} in {text}"
        );
    }
}

#[test]
fn render_wraps_and_breaks_pages_with_accents() {
    let long = "Lunga anamnesi con à è é ì ò ù e € ".repeat(400);
    let cda = format!(
        "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Prova</title><component><structuredBody><component><section><title>Anamnesi</title><text><paragraph>{long}</paragraph><list><item>uno</item><item>due</item></list><table><tr><th>Esame</th><th>Esito</th></tr><tr><td>Glicemia</td><td>90 mg/dL</td></tr></table></text></section></component></structuredBody></component></ClinicalDocument>"
    );
    let pdf = fse_pades::render(cda.as_bytes()).unwrap();
    let doc = Document::open(&pdf).unwrap();
    let pages = doc
        .resolve_dict(doc.catalog().unwrap().get("Pages").unwrap(), "pages")
        .unwrap();
    assert!(pages.get("Count").unwrap().as_i64().unwrap() >= 3);
    if oracle("pdftotext", "render_wraps_and_breaks_pages_with_accents") {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("long.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let out = std::process::Command::new("pdftotext")
            .arg(&file)
            .arg("-")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("à è é ì ò ù e €"),
            "{}",
            &text[..500.min(text.len())]
        );
        assert!(text.contains("Glicemia"));
        assert!(text.contains("• uno") || text.contains("•uno"), "{text}");
    }
}
