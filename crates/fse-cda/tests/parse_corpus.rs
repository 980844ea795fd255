//! Every XML file of the reference corpus parses, and the parser's view of
//! it agrees with the facts the corpus states.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use fse_cda::xml::{Document, HL7_NS, NodeKind};

fn xml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_document_parses_into_a_clinical_document() {
    let Some(corpus) = fse_tests::corpus("every_corpus_document_parses") else {
        return;
    };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus.join("validation/expected.json")).unwrap())
            .unwrap();
    let mut parsed = 0;
    for dir in ["cda", "validation/docs", "xsd-invalid"] {
        for file in xml_files(&corpus.join(dir)) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let well_formed = expected.get(&name).is_none_or(|e| e["xsd_errors"] != -1);
            let result = Document::parse(&std::fs::read(&file).unwrap());
            match (result, well_formed) {
                (Ok(doc), true) => {
                    let root = doc.root_element();
                    assert_eq!(doc.local_name(root), "ClinicalDocument", "{name}");
                    assert_eq!(doc.namespace(root), HL7_NS, "{name}");
                    // Subtrees are contiguous and ids follow document order.
                    for id in doc.descendants(root) {
                        let parent = doc.parent(id).unwrap();
                        assert!(doc.is_within(id, parent) && parent < id, "{name}");
                        if doc.kind(id) == NodeKind::Element {
                            assert!(doc.position(id).line >= 1);
                        }
                    }
                    parsed += 1;
                }
                (Err(e), false) => println!("{name}: rejected as expected: {e}"),
                (Ok(_), false) => panic!("{name}: libxml2 says not well-formed, we parsed it"),
                (Err(e), true) => panic!("{name}: {e}"),
            }
        }
    }
    assert!(parsed > 900, "only {parsed} documents parsed");
}
