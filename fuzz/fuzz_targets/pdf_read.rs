//! The PDF reader never panics on any bytes: opening (strictly, and by
//! rebuilding the cross-reference data), resolving every object, decoding
//! every stream, extracting the CDA and verifying the signatures. And
//! whatever PDF inject accepts, extract finds the CDA injected, byte for
//! byte.
#![no_main]

use fse_pades::pdf::{Document, ObjRef, Object};
use fse_pades::{Mode, extract, extract_mode, inject, verify};
use libfuzzer_sys::fuzz_target;

const CDA: &[u8] = b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>";

fn walk(doc: &Document<'_>) {
    for id in doc.object_ids().into_iter().take(4096) {
        if let Ok(Object::Stream(s)) = doc.resolve(ObjRef::new(id)) {
            let _ = doc.decode_stream(&s);
        }
    }
    let _ = doc.catalog();
}

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = Document::open(data) {
        walk(&doc);
    }
    if let Ok(doc) = Document::open_repaired(data) {
        walk(&doc);
    }
    let _ = extract(data);
    let _ = verify(data);
    if let Ok(out) = inject(data, CDA, Mode::Attachment) {
        assert!(out.starts_with(data), "an incremental update keeps every byte");
        let found = extract_mode(&out, Mode::Attachment).expect("the injected CDA is found");
        assert_eq!(found.bytes, CDA);
    }
});
