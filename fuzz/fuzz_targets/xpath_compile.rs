//! The XPath compiler never panics on any text, and what it compiles
//! evaluates (to a value or a dynamic error) without panicking, against a
//! small CDA-like document, with two variables bound.
#![no_main]

use std::sync::OnceLock;

use fse_cda::xml::{Document, HL7_NS, XSI_NS};
use fse_cda::xpath::{Atom, Namespaces, Value, XPath};
use libfuzzer_sys::fuzz_target;

const DOC: &str = r#"<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="IT"/><templateId root="2.16.840.1.113883.2.9.10.1.1" extension="1.3"/>
  <effectiveTime value="20220425121122+0100"/><versionNumber value="2"/>
  <recordTarget><patientRole><id root="2.16.840.1.113883.2.9.4.3.2" extension="RSSMRA80A01H501U"/>
  <patient><name><given>Mario</given><family>Rossi</family></name></patient></patientRole></recordTarget>
  <component><structuredBody><component><section><code code="30954-2"/><text>a <b>b</b> c</text>
  <entry><observation classCode="OBS" moodCode="EVN"><effectiveTime><low value="2020"/><high value="2021"/></effectiveTime>
  <value xsi:type="PQ" value="1.5" unit="mg"/></observation></entry></section></component></structuredBody></component>
</ClinicalDocument>"#;

fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| Document::parse(DOC.as_bytes()).expect("the fixed document parses"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let namespaces = Namespaces::new().with("hl7", HL7_NS).with("xsi", XSI_NS);
    let Ok(xpath) = XPath::compile_with_variables(source, &namespaces, &["a", "b"]) else { return };
    let doc = document();
    let variables = [Value::Atom(Atom::Str("20220425".into())), Value::Nodes(vec![doc.root_element()])];
    for context in [doc.root_element(), fse_cda::xml::NodeId::DOCUMENT] {
        let _ = xpath.evaluate_boolean(doc, context, &variables);
        let _ = xpath.evaluate_string(doc, context, &variables);
    }
});
