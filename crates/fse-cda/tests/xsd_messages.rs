//! The XSD stage on a small document built here: each mutation gets
//! exactly the errors libxml2 gives it (recorded from lxml 6.1 / libxml2
//! 2.14; `xsd_oracle.rs` re-checks the corpus against libxml2 itself).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fse_cda::xml::Document;
use fse_cda::xsd::{self, SchemaSet};

/// A minimal valid LAB-like document of the POCD_MT000040UV02 set.
const VALID: &str = r#"<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sdtc="urn:hl7-org:sdtc">
  <realmCode code="IT"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
  <id root="2.16.840.1.113883.2.9.2.120.4.4" extension="X1"/>
  <code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Referto</title>
  <sdtc:statusCode code="active"/>
  <effectiveTime value="20220330112426+0100"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.2.9.4.3.2" extension="X"/>
      <addr use="H HP"><city>Roma</city></addr>
    </patientRole>
  </recordTarget>
  <author>
    <time value="2022"/>
    <assignedAuthor>
      <id root="2.16.840.1.113883.2.9.4.3.2"/>
    </assignedAuthor>
  </author>
  <custodian>
    <assignedCustodian>
      <representedCustodianOrganization>
        <id root="2.16.840.1.113883.2.9.4.1.1"/>
      </representedCustodianOrganization>
    </assignedCustodian>
  </custodian>
  <component>
    <structuredBody>
      <component>
        <section ID="S1">
          <title>Esami</title>
          <text>Testo <content ID="c1" styleCode="Bold">x</content><br/></text>
          <entry>
            <observation classCode="OBS" moodCode="EVN">
              <code code="1" codeSystem="2.16.840.1.113883.6.1"/>
              <value xsi:type="PQ" value="16.00" unit="mg/L"/>
            </observation>
          </entry>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
"#;

struct Case {
    name: &'static str,
    replace: &'static str,
    with: &'static str,
    errors: &'static [(u32, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "title_before_code",
        replace: r#"<code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Referto</title>"#,
        with: r#"<title>Referto</title>
  <code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/>"#,
        errors: &[(
            5,
            r#"Element '{urn:hl7-org:v3}title': This element is not expected. Expected is ( {urn:hl7-org:v3}code )."#,
        )],
    },
    Case {
        name: "no_custodian",
        replace: r#"  <custodian>
    <assignedCustodian>
      <representedCustodianOrganization>
        <id root="2.16.840.1.113883.2.9.4.1.1"/>
      </representedCustodianOrganization>
    </assignedCustodian>
  </custodian>
"#,
        with: r#""#,
        errors: &[(
            22,
            r#"Element '{urn:hl7-org:v3}component': This element is not expected. Expected is one of ( {urn:hl7-org:v3}author, {urn:hl7-org:v3}dataEnterer, {urn:hl7-org:v3}informant, {urn:hl7-org:v3}custodian )."#,
        )],
    },
    Case {
        name: "unknown_attribute",
        replace: r#"<id root="2.16.840.1.113883.2.9.2.120.4.4" extension="X1"/>"#,
        with: r#"<id root="2.16.840.1.113883.2.9.2.120.4.4" extension="X1" bogus="1"/>"#,
        errors: &[(
            4,
            r#"Element '{urn:hl7-org:v3}id', attribute 'bogus': The attribute 'bogus' is not allowed."#,
        )],
    },
    Case {
        name: "missing_required_attribute",
        replace: r#"<observation classCode="OBS" moodCode="EVN">"#,
        with: r#"<observation moodCode="EVN">"#,
        errors: &[],
    },
    Case {
        name: "enumeration",
        replace: r#"<observation classCode="OBS" moodCode="EVN">"#,
        with: r#"<observation classCode="OBS" moodCode="XYZ">"#,
        errors: &[(
            36,
            r#"Element '{urn:hl7-org:v3}observation', attribute 'moodCode': [facet 'enumeration'] The value 'XYZ' is not an element of the set {'APT', 'ARQ', 'DEF', 'EVN', 'GOL', 'INT', 'PRMS', 'PRP', 'RQO', 'RSK'}."#,
        )],
    },
    Case {
        name: "pattern",
        replace: r#"<effectiveTime value="20220330112426+0100"/>"#,
        with: r#"<effectiveTime value="2022-03-30"/>"#,
        errors: &[(
            8,
            r#"Element '{urn:hl7-org:v3}effectiveTime', attribute 'value': [facet 'pattern'] The value '2022-03-30' is not accepted by the pattern '[0-9]{1,8}|([0-9]{9,14}|[0-9]{14,14}\.[0-9]+)([+\-][0-9]{1,4})?'."#,
        )],
    },
    Case {
        name: "union",
        replace: r#"<id root="2.16.840.1.113883.2.9.2.120.4.4" extension="X1"/>"#,
        with: r#"<id root="2.x" extension="X1"/>"#,
        errors: &[(
            4,
            r#"Element '{urn:hl7-org:v3}id', attribute 'root': '2.x' is not a valid value of the union type '{urn:hl7-org:v3}uid'."#,
        )],
    },
    Case {
        name: "list",
        replace: r#"<addr use="H HP">"#,
        with: r#"<addr use="H ZZ">"#,
        errors: &[
            (
                13,
                r#"Element '{urn:hl7-org:v3}addr', attribute 'use': [facet 'enumeration'] The value 'ZZ' is not an element of the set {'BAD', 'CONF', 'DIR', 'H', 'HP', 'HV', 'PHYS', 'PST', 'PUB', 'TMP', 'WP'}."#,
            ),
            (
                13,
                r#"Element '{urn:hl7-org:v3}addr', attribute 'use': 'H ZZ' is not a valid value of the list type '{urn:hl7-org:v3}set_PostalAddressUse'."#,
            ),
        ],
    },
    Case {
        name: "abstract",
        replace: r#"<value xsi:type="PQ" value="16.00" unit="mg/L"/>"#,
        with: r#"<value value="16.00" unit="mg/L"/>"#,
        errors: &[(
            38,
            r#"Element '{urn:hl7-org:v3}value': The type definition is abstract."#,
        )],
    },
    Case {
        name: "xsi_type_unknown",
        replace: r#"<value xsi:type="PQ" value="16.00" unit="mg/L"/>"#,
        with: r#"<value xsi:type="FOO" value="16.00"/>"#,
        errors: &[
            (
                38,
                r#"Element '{urn:hl7-org:v3}value', attribute '{http://www.w3.org/2001/XMLSchema-instance}type': The QName value '{urn:hl7-org:v3}FOO' of the xsi:type attribute does not resolve to a type definition."#,
            ),
            (
                38,
                r#"Element '{urn:hl7-org:v3}value': The type definition is abstract."#,
            ),
        ],
    },
    Case {
        name: "xsi_type_not_derived",
        replace: r#"<effectiveTime value="20220330112426+0100"/>"#,
        with: r#"<effectiveTime xsi:type="CD" value="20220330112426+0100"/>"#,
        errors: &[(
            8,
            r#"Element '{urn:hl7-org:v3}effectiveTime', attribute '{http://www.w3.org/2001/XMLSchema-instance}type': The type definition '{urn:hl7-org:v3}CD', specified by xsi:type, is blocked or not validly derived from the type definition of the element declaration."#,
        )],
    },
    Case {
        name: "text_in_element_only",
        replace: r#"<realmCode code="IT"/>"#,
        with: r#"<realmCode code="IT"/>oops"#,
        errors: &[(
            1,
            r#"Element '{urn:hl7-org:v3}ClinicalDocument': Character content other than whitespace is not allowed because the content type is 'element-only'."#,
        )],
    },
    Case {
        name: "text_in_empty",
        replace: r#"<realmCode code="IT"/>"#,
        with: r#"<realmCode code="IT">IT</realmCode>"#,
        errors: &[(
            2,
            r#"Element '{urn:hl7-org:v3}realmCode': Character content is not allowed, because the content type is empty."#,
        )],
    },
    Case {
        name: "element_in_empty",
        replace: r#"<realmCode code="IT"/>"#,
        with: r#"<realmCode code="IT"><x/></realmCode>"#,
        errors: &[(
            2,
            r#"Element '{urn:hl7-org:v3}realmCode': Element content is not allowed, because the content type is empty."#,
        )],
    },
    Case {
        name: "missing_child",
        replace: r#"<patientRole>
      <id root="2.16.840.1.113883.2.9.4.3.2" extension="X"/>
      <addr use="H HP"><city>Roma</city></addr>
    </patientRole>"#,
        with: r#"<patientRole/>"#,
        errors: &[(
            11,
            r#"Element '{urn:hl7-org:v3}patientRole': Missing child element(s). Expected is one of ( {urn:hl7-org:v3}realmCode, {urn:hl7-org:v3}typeId, {urn:hl7-org:v3}templateId, {urn:hl7-org:v3}id )."#,
        )],
    },
    Case {
        name: "fixed_value",
        replace: r#"<recordTarget>"#,
        with: r#"<recordTarget typeCode="AUT">"#,
        errors: &[(
            10,
            r#"Element '{urn:hl7-org:v3}recordTarget', attribute 'typeCode': The value 'AUT' does not match the fixed value constraint 'RCT'."#,
        )],
    },
    Case {
        name: "duplicate_id",
        replace: r#"<content ID="c1""#,
        with: r#"<content ID="S1""#,
        errors: &[(
            34,
            r#"Element '{urn:hl7-org:v3}content', attribute 'ID': 'S1' is not a valid value of the atomic type 'xs:ID'."#,
        )],
    },
    Case {
        name: "narrative_after_loop",
        replace: r#"<br/></text>"#,
        with: r#"<br/><foo/></text>"#,
        errors: &[(
            34,
            r#"Element '{urn:hl7-org:v3}foo': This element is not expected."#,
        )],
    },
    Case {
        name: "narrative_at_start",
        replace: r#"<text>Testo "#,
        with: r#"<text><foo/>Testo "#,
        errors: &[(
            34,
            r#"Element '{urn:hl7-org:v3}foo': This element is not expected. Expected is one of ( {urn:hl7-org:v3}content, {urn:hl7-org:v3}linkHtml, {urn:hl7-org:v3}sub, {urn:hl7-org:v3}sup, {urn:hl7-org:v3}br, {urn:hl7-org:v3}footnote, {urn:hl7-org:v3}footnoteRef, {urn:hl7-org:v3}renderMultiMedia, {urn:hl7-org:v3}paragraph, {urn:hl7-org:v3}list )."#,
        )],
    },
    Case {
        name: "nil",
        replace: r#"<title>Esami</title>"#,
        with: r#"<title xsi:nil="true">Esami</title>"#,
        errors: &[(
            33,
            r#"Element '{urn:hl7-org:v3}title': The element is not 'nillable'."#,
        )],
    },
    Case {
        name: "wrong_root",
        replace: r#"ClinicalDocument"#,
        with: r#"Document"#,
        errors: &[(
            1,
            r#"Element '{urn:hl7-org:v3}Document': No matching global declaration available for the validation root."#,
        )],
    },
    Case {
        name: "value_errors_then_unknown_then_missing",
        replace: r#"<observation classCode="OBS" moodCode="EVN">"#,
        with: r#"<observation zz="1" moodCode="XYZ">"#,
        errors: &[
            (
                36,
                r#"Element '{urn:hl7-org:v3}observation', attribute 'moodCode': [facet 'enumeration'] The value 'XYZ' is not an element of the set {'APT', 'ARQ', 'DEF', 'EVN', 'GOL', 'INT', 'PRMS', 'PRP', 'RQO', 'RSK'}."#,
            ),
            (
                36,
                r#"Element '{urn:hl7-org:v3}observation', attribute 'zz': The attribute 'zz' is not allowed."#,
            ),
        ],
    },
    Case {
        name: "attr_order",
        replace: r#"            <observation classCode="OBS" moodCode="EVN">
              <code code="1" codeSystem="2.16.840.1.113883.6.1"/>
              <value xsi:type="PQ" value="16.00" unit="mg/L"/>
            </observation>"#,
        with: r#"            <act zz="1" moodCode="XYZ"><code code="1"/></act>"#,
        errors: &[
            (
                36,
                r#"Element '{urn:hl7-org:v3}act', attribute 'moodCode': [facet 'enumeration'] The value 'XYZ' is not an element of the set {'APT', 'ARQ', 'DEF', 'EVN', 'INT', 'PRMS', 'PRP', 'RQO', 'RSK'}."#,
            ),
            (
                36,
                r#"Element '{urn:hl7-org:v3}act', attribute 'zz': The attribute 'zz' is not allowed."#,
            ),
            (
                36,
                r#"Element '{urn:hl7-org:v3}act': The attribute 'classCode' is required but missing."#,
            ),
        ],
    },
];

fn findings(xml: &str) -> Vec<xsd::XsdFinding> {
    let doc = Document::parse(xml.as_bytes()).expect("well-formed");
    xsd::validate(&doc).expect("a known set")
}

#[test]
fn the_minimal_document_is_valid() {
    assert_eq!(findings(VALID), []);
}

#[test]
fn each_mutation_gets_libxml2_s_errors() {
    for case in CASES {
        assert!(
            VALID.contains(case.replace),
            "{}: the text to replace occurs",
            case.name
        );
        let xml = VALID.replace(case.replace, case.with);
        let got: Vec<(u32, String)> = findings(&xml)
            .into_iter()
            .map(|f| (f.line, f.message))
            .collect();
        let want: Vec<(u32, String)> = case
            .errors
            .iter()
            .map(|&(l, m)| (l, m.to_string()))
            .collect();
        assert_eq!(got, want, "{}", case.name);
    }
}

#[test]
fn findings_locate_the_node() {
    let xml = VALID.replacen(r#"<addr use="H HP">"#, r#"<addr use="H ZZ">"#, 1);
    let found = findings(&xml);
    assert_eq!(found.len(), 2);
    assert_eq!(
        found[0].location,
        "/ClinicalDocument[1]/recordTarget[1]/patientRole[1]/addr[1]/@use"
    );
    assert_eq!((found[0].line, found[0].column), (13, 7));
    let xml = VALID.replacen("<br/></text>", "<br/><foo/></text>", 1);
    let found = findings(&xml);
    assert_eq!(
        found[0].location,
        "/ClinicalDocument[1]/component[1]/structuredBody[1]/component[1]/section[1]/text[1]/foo[1]"
    );
    let xml = VALID.replacen(
        "<sdtc:statusCode code=\"active\"/>",
        "<sdtc:statusCode code=\"x\"/>",
        1,
    );
    assert_eq!(
        findings(&xml)[0].location,
        "/ClinicalDocument[1]/sdtc:statusCode[1]/@code"
    );
}

#[test]
fn the_type_id_chooses_the_set() {
    // POCD_HD000040 wants lab:statusCode in a serviceEvent, not statusCode.
    let with_service_event = VALID.replacen(
        "  </custodian>",
        "  </custodian>\n  <documentationOf><serviceEvent><statusCode code=\"completed\"/></serviceEvent></documentationOf>",
        1,
    );
    assert_eq!(findings(&with_service_event), []);
    let xml = with_service_event.replacen("POCD_MT000040UV02", "POCD_HD000040", 1);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    assert_eq!(
        SchemaSet::for_document(&doc).unwrap(),
        SchemaSet::PocdHd000040
    );
    let found: Vec<(u32, String)> = xsd::validate(&doc)
        .unwrap()
        .into_iter()
        .map(|f| (f.line, f.message))
        .collect();
    assert_eq!(
        found,
        [(
            29,
            "Element '{urn:hl7-org:v3}statusCode': This element is not expected. Expected is one of ( \
             {urn:hl7-org:v3}realmCode, {urn:hl7-org:v3}typeId, {urn:hl7-org:v3}templateId, {urn:hl7-org:v3}id, \
             {urn:hl7-org:v3}code, {urn:oid:1.3.6.1.4.1.19376.1.3.2}statusCode, {urn:hl7-org:v3}effectiveTime, \
             {urn:hl7-org:v3}performer )."
                .to_string()
        )]
    );
    assert!(xsd::validate_with(&doc, SchemaSet::PocdMt000040Uv02).is_empty());
    let xml = VALID.replacen("POCD_MT000040UV02", "POCD_XX", 1);
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let err = xsd::validate(&doc).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Schema with version POCD_XX not found on database."
    );
}

#[test]
fn a_prefix_declared_only_for_xsi_type_resolves() {
    let xml = VALID
        .replacen("xmlns:sdtc=", "xmlns:hl7=\"urn:hl7-org:v3\" xmlns:sdtc=", 1)
        .replacen(r#"xsi:type="PQ""#, r#"xsi:type="hl7:PQ""#, 1);
    assert_eq!(findings(&xml), []);
}

#[test]
fn deep_nesting_is_bounded() {
    // Deeper than the walk goes, with limits raised past the default.
    let depth = 3000;
    let mut xml = String::from(VALID.split("<text>").next().unwrap());
    xml.push_str("<text>");
    xml.push_str(&"<content>".repeat(depth));
    xml.push_str(&"</content>".repeat(depth));
    xml.push_str("</text>");
    xml.push_str(VALID.split("</text>").nth(1).unwrap());
    let limits = fse_cda::xml::Limits {
        max_depth: depth + 100,
        ..fse_cda::xml::Limits::default()
    };
    let doc = Document::parse_with(xml.as_bytes(), &limits).unwrap();
    let found = xsd::validate(&doc).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .message
            .ends_with("Nested deeper than 1024 elements: not validated.")
    );
}

#[test]
fn locations_count_same_named_siblings() {
    let xml = VALID.replacen(
        r#"<content ID="c1" styleCode="Bold">x</content>"#,
        r#"<content>a</content><br/><content ID="1">b</content><content/><br/><content ID="2">c</content>"#,
        1,
    );
    let locations: Vec<String> = findings(&xml).into_iter().map(|f| f.location).collect();
    let text =
        "/ClinicalDocument[1]/component[1]/structuredBody[1]/component[1]/section[1]/text[1]";
    assert_eq!(
        locations,
        [
            format!("{text}/content[2]/@ID"),
            format!("{text}/content[4]/@ID")
        ]
    );
}

#[test]
fn findings_are_bounded() {
    let many = r#"<content ID="1x">a</content>"#.repeat(20_000);
    let xml = VALID.replacen(r#"<content ID="c1" styleCode="Bold">x</content>"#, &many, 1);
    let found = findings(&xml);
    assert_eq!(found.len(), 10_001);
    assert!(
        found[9_999]
            .message
            .ends_with("'1x' is not a valid value of the atomic type 'xs:ID'.")
    );
    assert!(
        found[10_000]
            .message
            .ends_with("Too many errors: validation stopped after 10000.")
    );
}
