//! The XML parser never panics, and what it accepts is a consistent tree.
#![no_main]

use fse_cda::xml::Document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = Document::parse(data) {
        let root = doc.root_element();
        for id in doc.descendants(root) {
            let parent = doc.parent(id).expect("every descendant has a parent");
            assert!(doc.is_within(id, parent));
            let _ = doc.string_value(id);
            let _ = doc.position(id);
        }
    }
});
