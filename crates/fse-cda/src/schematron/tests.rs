use super::*;
use crate::xml::Document;

fn sch(body: &str) -> String {
    format!(
        r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" queryBinding="xslt2">
  <title>Test</title>
  <ns prefix="hl7" uri="urn:hl7-org:v3"/>
  {body}
</schema>"#
    )
}

const DOC: &str = r#"<ClinicalDocument xmlns="urn:hl7-org:v3">
  <templateId root="1.2.3" extension="1"/>
  <effectiveTime><low value="20220425121122+0100"/><high value="20220425101122+0100"/></effectiveTime>
  <author><assignedAuthor><assignedPerson><name><given>A</given></name></assignedPerson></assignedAuthor></author>
  <custodian><name>Org</name></custodian>
</ClinicalDocument>"#;

fn run(body: &str) -> Vec<Hit> {
    let s = Schematron::parse("t.sch", sch(body).as_bytes()).unwrap();
    s.run(&Document::parse(DOC.as_bytes()).unwrap())
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

#[test]
fn first_matching_rule_wins_within_a_pattern() {
    let hits = run(r#"<pattern id="all">
      <rule context="//*[contains(local-name(), 'Person')]/hl7:name">
        <assert test="count(hl7:family)=1">ERRORE-1| person name without family</assert>
      </rule>
      <rule context="//hl7:name">
        <assert test="false()">ERRORE-2| <name/> checked by the generic rule</assert>
      </rule>
    </pattern>"#);
    // The person's name goes to the first rule only; the custodian's to the second.
    assert_eq!(ids(&hits), ["ERRORE-1", "ERRORE-2"]);
    assert_eq!(hits[0].severity, Severity::Error);
    assert_eq!(
        hits[0].location,
        "/ClinicalDocument[1]/author[1]/assignedAuthor[1]/assignedPerson[1]/name[1]"
    );
    assert_eq!(hits[0].line, Some(4));
    assert_eq!(
        hits[1].message,
        "ERRORE-2| name checked by the generic rule"
    );
}

#[test]
fn separate_patterns_each_check_a_node() {
    let hits = run(
        r#"<pattern><rule context="hl7:name"><assert test="false()">A1| one</assert></rule></pattern>
      <pattern><rule context="hl7:name"><assert test="false()">B1| two</assert></rule></pattern>"#,
    );
    assert_eq!(ids(&hits), ["A1", "A1", "B1", "B1"]);
}

#[test]
fn lets_reports_and_string_ordering() {
    let hits = run(r#"<let name="n_tid" value="count(//hl7:templateId)"/>
    <pattern>
      <rule context="//hl7:effectiveTime[hl7:low/@value]">
        <let name="low" value="string(hl7:low/@value)"/>
        <let name="high" value="string(hl7:high/@value)"/>
        <assert test="count(hl7:high/@value)=0 or ($high >= $low)">ERRORE-57| high <value-of select="$high"/> before low <value-of select="$low"/></assert>
        <report test="$n_tid = 1">W001| one templateId</report>
      </rule>
    </pattern>"#);
    assert_eq!(ids(&hits), ["ERRORE-57", "W001"]);
    assert_eq!(
        hits[0].message,
        "ERRORE-57| high 20220425101122+0100 before low 20220425121122+0100"
    );
    assert_eq!(hits[1].severity, Severity::Warning);
}

#[test]
fn xslt_content_lets_build_a_path() {
    let hits = run(r#"<pattern>
      <rule context="//*[contains(local-name(), 'Person')]/hl7:name">
        <let name="errorPath">
          <xsl:for-each select="ancestor::*[not(self::hl7:ClinicalDocument)]">
            <xsl:value-of select="concat('/', name())"/>
          </xsl:for-each>
        </let>
        <assert test="false()">ERRORE-43| Path: ClinicalDocument<value-of select="$errorPath"/>.</assert>
      </rule>
    </pattern>"#);
    assert_eq!(
        hits[0].message,
        "ERRORE-43| Path: ClinicalDocument/author/assignedAuthor/assignedPerson."
    );
}

#[test]
fn dynamic_errors_are_reported_not_swallowed() {
    let hits = run(r#"<pattern><rule context="hl7:ClinicalDocument">
        <assert test="hl7:effectiveTime/hl7:low/@value > 1">ERRORE-1| x</assert>
      </rule></pattern>"#);
    assert_eq!(ids(&hits), ["XPATH_ERROR"]);
    assert!(hits[0].message.contains("FORG0001"), "{}", hits[0].message);
}

#[test]
fn unsupported_constructs_are_refused_by_name() {
    for (body, needle) in [
        (r#"<pattern abstract="true" id="a"/>"#, "abstract pattern"),
        (
            r#"<pattern><rule abstract="true" id="r"/></pattern>"#,
            "abstract rule",
        ),
        (
            r#"<pattern><rule context="x"><extends rule="r"/></rule></pattern>"#,
            "extends",
        ),
        (r#"<include href="x.sch"/>"#, "this element in the schema"),
        (
            r#"<pattern><rule context="x"><let name="v"><xsl:choose/></let></rule></pattern>"#,
            "XSLT instruction",
        ),
        (
            r#"<pattern><rule context="x"><assert test="$nope">E</assert></rule></pattern>"#,
            "not declared",
        ),
        (
            r#"<pattern><rule context="count(x)"><assert test="1">E</assert></rule></pattern>"#,
            "pattern must be a path",
        ),
    ] {
        let e = Schematron::parse("t.sch", sch(body).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{body}: {e}");
    }
    let xpath1 = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt"/>"#;
    assert!(
        Schematron::parse("t.sch", xpath1.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("queryBinding")
    );
}

#[test]
fn message_ids_follow_the_reference_regex() {
    assert_eq!(message_id("ERRORE-5| L'elemento"), "ERRORE-5");
    assert_eq!(message_id("\n\t  W001| Si raccomanda"), "W001");
    assert_eq!(message_id("ERRORE 8| Se"), "ERRORE 8");
    assert_eq!(message_id("ERRORE b15| x"), "ERRORE b15");
    assert_eq!(message_id("ERRORE-b27|"), "ERRORE-b27");
    assert_eq!(message_id("ERROR_12.3a rest"), "ERROR_12.3a");
    assert_eq!(message_id("Errore-1 |"), "Errore-1");
    assert_eq!(message_id("ERRORE-"), "ERRORE-");
}

#[test]
fn versions_compare_numerically() {
    use std::cmp::Ordering::*;
    assert_eq!(compare_versions("27.1", "3.3"), Greater);
    assert_eq!(compare_versions("1.10", "1.9"), Greater);
    assert_eq!(compare_versions("1.0", "1.0"), Equal);
    assert_eq!(compare_versions("1", "1.0"), Less);
    assert_eq!(
        load::version_from_file_name("schematronFSE_LAB_v27.1.sch"),
        "27.1"
    );
    assert_eq!(
        load::version_from_file_name("schematronFSE_RAP_1.4.sch"),
        "1.4"
    );
    assert_eq!(load::version_from_file_name("rules.sch"), "0");
}

#[test]
fn locations_of_every_node_kind() {
    use super::run::location;
    let doc =
        Document::parse(br#"<r xmlns:p="u"><a/><p:b x="1"/><a>t<!--c--><?pi d?></a></r>"#).unwrap();
    let r = doc.root_element();
    let kids: Vec<_> = doc.child_elements(r).collect();
    assert_eq!(location(&doc, crate::xml::NodeId::DOCUMENT), "/");
    assert_eq!(location(&doc, r), "/r[1]");
    assert_eq!(location(&doc, kids[2]), "/r[1]/a[2]");
    let x = doc.attributes(kids[1]).next().unwrap();
    assert_eq!(location(&doc, x), "/r[1]/p:b[1]/@x");
    let inner: Vec<_> = doc.children(kids[2]).map(|n| location(&doc, n)).collect();
    assert_eq!(
        inner,
        [
            "/r[1]/a[2]/text()",
            "/r[1]/a[2]/comment()",
            "/r[1]/a[2]/processing-instruction()"
        ]
    );
}
