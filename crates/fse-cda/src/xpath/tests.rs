use super::*;
use crate::xml::Document;

const DOC: &str = r#"<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <templateId root="2.16.840.1.113883.2.9.10.1.1" extension="1.3"/>
  <id root="2.16.840.1.113883.2.9.2.90.4.4" extension="ABC"/>
  <setId root="2.16.840.1.113883.2.9.2.90.4.4" extension="XYZ"/>
  <versionNumber value="2"/>
  <effectiveTime value="20220425121122+0100"/>
  <recordTarget><patientRole><id root="2.16.840.1.113883.2.9.4.3.2" extension="RSSMRA80A01H501U"/>
    <patient><name><given>Mario</given><family>Rossi</family></name></patient></patientRole></recordTarget>
  <author><assignedAuthor><assignedPerson><name><given>A</given><family>B</family></name></assignedPerson>
    <representedOrganization><name>Org</name><telecom use="WP" value="tel:1"/></representedOrganization></assignedAuthor></author>
  <component><structuredBody>
    <component><section><code code="11502-2"/>
      <entry><act classCode="ACT"><code code="x"/>
        <entryRelationship><observation><code code="a"/><value xsi:type="PQ" value="1.5"/></observation></entryRelationship>
        <entryRelationship><observation><code code="b"/></observation></entryRelationship>
      </act></entry>
      <component><section><code code="inner"/></section></component>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>"#;

fn doc() -> Document {
    Document::parse(DOC.as_bytes()).unwrap()
}

fn ns() -> Namespaces {
    Namespaces::new()
        .with("hl7", "urn:hl7-org:v3")
        .with("xsi", "http://www.w3.org/2001/XMLSchema-instance")
}

fn root(doc: &Document) -> NodeId {
    doc.root_element()
}

fn b(doc: &Document, ctx: NodeId, src: &str) -> bool {
    XPath::compile(src, &ns())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .evaluate_boolean(doc, ctx, &[])
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn s(doc: &Document, ctx: NodeId, src: &str) -> String {
    XPath::compile(src, &ns())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .evaluate_string(doc, ctx, &[])
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn err(doc: &Document, ctx: NodeId, src: &str) -> DynamicError {
    XPath::compile(src, &ns())
        .unwrap()
        .evaluate(doc, ctx, &[])
        .unwrap_err()
}

#[test]
fn paths_predicates_and_counts() {
    let d = doc();
    let r = root(&d);
    assert!(b(
        &d,
        r,
        "count(hl7:templateId[@root='2.16.840.1.113883.2.9.10.1.1']) = 1"
    ));
    assert!(b(
        &d,
        r,
        "count(hl7:templateId[@root='2.16.840.1.113883.2.9.10.1.1']/@extension)=1"
    ));
    assert_eq!(s(&d, r, "count(//hl7:name)"), "3");
    assert_eq!(s(&d, r, "count(//hl7:section)"), "2");
    assert_eq!(s(&d, r, "count(.//hl7:section//hl7:code)"), "5");
    assert_eq!(
        s(&d, NodeId::DOCUMENT, "count(//hl7:observation/hl7:code)"),
        "2"
    );
    assert_eq!(
        s(
            &d,
            r,
            "count(//*[contains(local-name(), 'Person')]/hl7:name)"
        ),
        "1"
    );
    assert_eq!(
        s(
            &d,
            r,
            "count(//hl7:name[contains(local-name(..), 'Organization')])"
        ),
        "1"
    );
    assert_eq!(
        s(
            &d,
            r,
            "count(//hl7:entryRelationship[hl7:observation/hl7:value])"
        ),
        "1"
    );
    assert_eq!(
        s(
            &d,
            r,
            "count(/hl7:ClinicalDocument/hl7:component/hl7:structuredBody/hl7:component/hl7:section[hl7:code[@code='11502-2']]/hl7:entry)"
        ),
        "1"
    );
    assert_eq!(s(&d, r, "count(//hl7:code[not(ancestor::hl7:act)])"), "2");
    assert_eq!(s(&d, r, "count(//@code)"), "5");
    assert_eq!(s(&d, r, "count(//hl7:observation/@*)"), "0");
    assert_eq!(s(&d, r, "count(//hl7:observation/*)"), "3");
    assert_eq!(s(&d, r, "count(//node()) > 40"), "true");
    assert_eq!(s(&d, r, "count(/)"), "1");
    assert_eq!(s(&d, r, "count(hl7:nothing//hl7:code)"), "0");
}

#[test]
fn positional_predicates_and_reverse_axes() {
    let d = doc();
    let r = root(&d);
    let inner = XPath::compile("//hl7:code[@code='inner']", &ns()).unwrap();
    let Value::Nodes(found) = inner.evaluate(&d, r, &[]).unwrap() else {
        panic!()
    };
    let code = found[0];
    // The nearest ancestor section is position 1 on the ancestor axis.
    assert_eq!(
        s(&d, code, "ancestor::hl7:section[1]/hl7:code/@code"),
        "inner"
    );
    assert_eq!(
        s(&d, code, "ancestor::hl7:section[2]/hl7:code/@code"),
        "11502-2"
    );
    assert_eq!(
        s(&d, code, "(ancestor::hl7:section/hl7:code/@code)[1]"),
        "11502-2"
    );
    assert_eq!(
        s(
            &d,
            r,
            "//hl7:entryRelationship[2]/hl7:observation/hl7:code/@code"
        ),
        "b"
    );
    assert_eq!(
        s(
            &d,
            r,
            "//hl7:entryRelationship[last()]/hl7:observation/hl7:code/@code"
        ),
        "b"
    );
    assert_eq!(
        s(
            &d,
            r,
            "//hl7:entryRelationship[position() = 1]/hl7:observation/hl7:code/@code"
        ),
        "a"
    );
    assert_eq!(s(&d, r, "(//hl7:code)[3]/@code"), "a");
    assert_eq!(s(&d, r, "hl7:id/following-sibling::*[1]/@extension"), "XYZ");
    assert_eq!(
        s(&d, r, "hl7:setId/preceding-sibling::*[1]/@extension"),
        "ABC"
    );
    assert_eq!(s(&d, r, "count(hl7:setId/preceding-sibling::*)"), "2");
    assert_eq!(
        s(&d, r, "count(hl7:versionNumber/following::hl7:code)"),
        "5"
    );
    assert_eq!(s(&d, r, "count(//hl7:section[1])"), "2");
    assert_eq!(s(&d, r, "local-name((//hl7:given/..)[1])"), "name");
    assert_eq!(err(&d, r, "local-name(//hl7:given/..)").code, "XPTY0004");
    assert_eq!(s(&d, r, "count(//hl7:given/ancestor-or-self::*)"), "11");
}

#[test]
fn string_ordering_of_untyped_values_follows_xpath_2() {
    let d = doc();
    let ctx = root(&d);
    let xp = XPath::compile_with_variables("$high >= $low", &ns(), &["high", "low"]).unwrap();
    let hi = Value::Atom(Atom::Str("20220425121122+0100".into()));
    let lo = Value::Atom(Atom::Str("20220425101122+0100".into()));
    assert!(
        xp.evaluate_boolean(&d, ctx, &[hi.clone(), lo.clone()])
            .unwrap()
    );
    assert!(!xp.evaluate_boolean(&d, ctx, &[lo, hi]).unwrap());
    // Attribute values (untyped) against each other: strings too.
    assert!(b(
        &d,
        ctx,
        "hl7:effectiveTime/@value >= hl7:templateId/@extension"
    ));
    // Untyped against a number: a number.
    assert!(b(&d, ctx, "hl7:versionNumber/@value > 1"));
    assert!(b(&d, ctx, "hl7:versionNumber/@value = '2'"));
    assert!(!b(&d, ctx, "hl7:versionNumber/@value = 1"));
    assert_eq!(
        err(&d, ctx, "hl7:effectiveTime/@value > 1").code,
        "FORG0001"
    );
    assert_eq!(
        s(&d, ctx, "string(number(hl7:effectiveTime/@value))"),
        "NaN"
    );
    assert_eq!(s(&d, ctx, "string(number(hl7:versionNumber/@value))"), "2");
    // General comparisons are existential.
    assert!(b(&d, ctx, "//hl7:code/@code = 'b'"));
    assert!(b(&d, ctx, "//hl7:code/@code != 'b'"));
    assert!(!b(&d, ctx, "//hl7:nothing = //hl7:nothing"));
    assert!(b(
        &d,
        ctx,
        "hl7:id/@root = hl7:setId/@root and hl7:id/@extension != hl7:setId/@extension"
    ));
    assert!(b(&d, ctx, "'abc' lt 'abd'"));
    assert_eq!(err(&d, ctx, "'1' = 1").code, "XPTY0004");
}

#[test]
fn functions() {
    let d = doc();
    let r = root(&d);
    let pid = "hl7:recordTarget/hl7:patientRole/hl7:id";
    assert!(b(
        &d,
        r,
        &format!(
            "matches({pid}/@extension, '[A-Z0-9]{{16}}') and string-length({pid}/@extension)=16"
        )
    ));
    assert!(b(
        &d,
        r,
        "matches(hl7:id/@root,'^2\\.16\\.840\\.1\\.113883\\.2\\.9\\.2\\.(10|90)\\.4\\.4$')"
    ));
    assert_eq!(
        s(
            &d,
            r,
            "concat('/', name(), '|', local-name(hl7:id), namespace-uri())"
        ),
        "/ClinicalDocument|idurn:hl7-org:v3"
    );
    assert_eq!(
        s(&d, r, "substring-after(hl7:id/@root, '113883.')"),
        "2.9.2.90.4.4"
    );
    assert_eq!(s(&d, r, "substring-before(hl7:id/@root, '.840')"), "2.16");
    assert_eq!(s(&d, r, "substring('12345', 1.5, 2.6)"), "234");
    assert_eq!(s(&d, r, "substring('12345', 0, 3)"), "12");
    assert_eq!(s(&d, r, "substring('12345', 2)"), "2345");
    assert_eq!(s(&d, r, "normalize-space('  a \n b  ')"), "a b");
    assert_eq!(s(&d, r, "string(//hl7:patient/hl7:name)"), "MarioRossi");
    assert_eq!(s(&d, r, "translate('abc', 'ab', 'B')"), "Bc");
    assert_eq!(s(&d, r, "upper-case('àb')"), "ÀB");
    assert_eq!(
        s(&d, r, "string-join(//hl7:observation/hl7:code/@code, ',')"),
        "a,b"
    );
    assert_eq!(s(&d, r, "sum((1, 2, 3))"), "6");
    assert_eq!(s(&d, r, "sum(//hl7:value/@value)"), "1.5");
    assert_eq!(s(&d, r, "round(2.5)"), "3");
    assert_eq!(s(&d, r, "floor(-1.5)"), "-2");
    assert_eq!(s(&d, r, "abs(-3)"), "3");
    assert_eq!(s(&d, r, "1 div 2"), "0.5");
    assert_eq!(s(&d, r, "7 idiv 2 + 7 mod 2 * 10"), "13");
    assert_eq!(s(&d, r, "-(2) - -1"), "-1");
    assert_eq!(s(&d, r, "count(1 to 5)"), "5");
    assert_eq!(s(&d, r, "replace('a-b-c', '-', '+')"), "a+b+c");
    assert_eq!(s(&d, r, "count(tokenize('a b  c', '\\s+'))"), "3");
    assert_eq!(
        s(
            &d,
            r,
            "count(distinct-values(//hl7:section/hl7:code/@code | //hl7:act/hl7:code/@code))"
        ),
        "3"
    );
    assert_eq!(
        s(&d, r, "boolean('') or exists(()) or empty(hl7:id)"),
        "false"
    );
    assert_eq!(
        s(
            &d,
            r,
            "starts-with(hl7:id/@root, '2.16') and ends-with(hl7:id/@root, '.4')"
        ),
        "true"
    );
    assert_eq!(s(&d, r, "string(true()) , false()"), "true false");
    assert_eq!(
        s(
            &d,
            r,
            "if (hl7:versionNumber/@value = '2') then 'due' else 'altro'"
        ),
        "due"
    );
    assert_eq!(s(&d, r, "lower-case(//hl7:value/@xsi:type)"), "pq");
    assert_eq!(s(&d, r, "string(1e6)"), "1.0E6");
}

#[test]
fn function_call_as_a_path_step() {
    let d = doc();
    let r = root(&d);
    assert!(b(
        &d,
        r,
        "//hl7:entry/hl7:act/count(hl7:entryRelationship)=2"
    ));
    assert_eq!(
        s(
            &d,
            r,
            "//hl7:act/hl7:entryRelationship/count(hl7:observation)"
        ),
        "1 1"
    );
    assert!(!b(
        &d,
        r,
        "//hl7:act/hl7:entryRelationship/count(hl7:observation)=2"
    ));
    assert_eq!(s(&d, r, "//hl7:observation/hl7:code/string(@code)"), "a b");
    assert_eq!(
        s(&d, r, "count(//hl7:act/(hl7:code | hl7:entryRelationship))"),
        "3"
    );
    assert_eq!(
        s(
            &d,
            r,
            "//hl7:act/hl7:entryRelationship/hl7:observation/(hl7:code/@code)"
        ),
        "a b"
    );
}

#[test]
fn effective_boolean_value_and_errors() {
    let d = doc();
    let r = root(&d);
    assert!(b(&d, r, "hl7:id"));
    assert!(!b(&d, r, "hl7:nothing"));
    assert!(b(&d, r, "'x'"));
    assert!(!b(&d, r, "0"));
    assert!(!b(&d, r, "number('x')"));
    assert_eq!(err(&d, r, "boolean((1, 2))").code, "FORG0006");
    assert_eq!(err(&d, r, "string(//hl7:code/@code)").code, "XPTY0004");
    assert_eq!(
        err(&d, r, "contains(//hl7:code/@code, 'a')").code,
        "XPTY0004"
    );
    assert_eq!(err(&d, r, "(1, 2)/hl7:id").code, "XPTY0019");
    assert_eq!(err(&d, r, "1 idiv 0").code, "FOAR0001");
    assert_eq!(
        err(
            &d,
            r,
            "matches('a', $x)".replace("$x", "concat('(', '')").as_str()
        )
        .code,
        "FORX0002"
    );
}

#[test]
fn compile_errors_name_the_problem() {
    let n = ns();
    for (src, needle) in [
        ("count(", "end of the expression"),
        ("foo(1)", "foo() is not supported"),
        ("$undeclared", "not declared"),
        ("bad:name", "prefix \"bad\""),
        ("count(1, 2)", "2 arguments"),
        ("for $x in 1 return $x", "not supported"),
        ("namespace::x", "namespace axis"),
        ("'unterminated", "unterminated"),
        ("matches('a', '(a)\\1')", "back-references"),
        ("1 +", "end of the expression"),
        ("a b", "unexpected token"),
        ("#", "unexpected character"),
    ] {
        let e = XPath::compile(src, &n).unwrap_err().to_string();
        assert!(e.contains(needle), "{src}: {e}");
    }
    let deep = "(".repeat(500) + "1" + &")".repeat(500);
    assert!(
        XPath::compile(&deep, &n)
            .unwrap_err()
            .to_string()
            .contains("nested deeper")
    );
    let wide = vec!["count(hl7:x)=1"; 3000].join(" or ");
    assert!(
        XPath::compile(&wide, &n).is_ok(),
        "long flat or-chains are fine"
    );
}

#[test]
fn comments_and_lexical_corners() {
    let d = doc();
    let r = root(&d);
    assert_eq!(s(&d, r, "(: a comment (: nested :) :) 1 + 1"), "2");
    assert_eq!(s(&d, r, "'it''s' , \"say \"\"hi\"\"\""), "it's say \"hi\"");
    assert_eq!(s(&d, r, "count(child::*) * 2 div 2"), "8");
    assert_eq!(s(&d, r, ".5 + 1.5e0"), "2");
    assert!(b(&d, r, "hl7:id/@root=hl7:setId/@root"));
    assert!(b(&d, r, "count(hl7:realmCode)>=0"));
    assert_eq!(s(&d, r, "count(*:id)"), "1");
    assert_eq!(s(&d, r, "count(hl7:*)"), "8");
    assert_eq!(s(&d, r, "count(//text()[normalize-space(.) != ''])"), "5");
}

#[test]
fn specialized_comparisons_agree_with_the_general_ones() {
    let d = doc();
    let r = root(&d);
    // count(path) op n, both operand orders, and the same test written so
    // that the general comparison evaluates it.
    for (n, op) in [
        (0, "="),
        (1, "="),
        (2, "="),
        (1, "!="),
        (2, "<"),
        (2, "<="),
        (1, ">"),
        (1, ">="),
        (-1, ">"),
        (-1, "="),
    ] {
        for path in [
            "hl7:id",
            "//hl7:code",
            "hl7:nothing",
            "//hl7:entryRelationship[hl7:observation]",
        ] {
            let fast = format!("count({path}) {op} {n}");
            let flipped = format!(
                "{n} {} count({path})",
                match op {
                    "<" => ">",
                    "<=" => ">=",
                    ">" => "<",
                    ">=" => "<=",
                    other => other,
                }
            );
            let general = format!("(count({path}) + 0) {op} {n}");
            assert_eq!(b(&d, r, &fast), b(&d, r, &general), "{fast}");
            assert_eq!(b(&d, r, &flipped), b(&d, r, &general), "{flipped}");
        }
    }
    // @name op 'text': present, absent, ordering, flipped.
    for (test, expected) in [
        ("hl7:templateId/@root", true),
        ("hl7:id[@extension = 'ABC']", true),
        ("hl7:id[@extension != 'ABC']", false),
        ("hl7:id[@missing = 'ABC']", false),
        ("hl7:id[@missing != 'ABC']", false),
        ("hl7:id[@extension < 'ABD']", true),
        ("hl7:id['ABD' > @extension]", true),
        ("hl7:id['ABC' = @extension]", true),
        ("hl7:versionNumber[@value = '2']", true),
    ] {
        assert_eq!(b(&d, r, test), expected, "{test}");
    }
}

#[test]
fn cached_path_bases_do_not_leak_between_context_nodes() {
    let d = doc();
    // The same base (hl7:observation/hl7:code) asked from two different
    // entryRelationships, and with different last-step predicates, in one
    // evaluation: each answer must be its own.
    let xp = XPath::compile(
        "count(//hl7:entryRelationship[count(hl7:observation/hl7:code[@code='a'])=1]) = 1 and \
         count(//hl7:entryRelationship[count(hl7:observation/hl7:code[@code='b'])=1]) = 1 and \
         count(//hl7:entryRelationship[count(hl7:observation/hl7:code)=1]) = 2 and \
         count(//hl7:entryRelationship[count(hl7:observation/hl7:code[@code='c'])=1]) = 0",
        &ns(),
    )
    .unwrap();
    assert!(xp.evaluate_boolean(&d, d.root_element(), &[]).unwrap());
}

#[test]
fn remembered_node_predicates_agree_with_evaluating_them_alone() {
    let d = doc();
    let r = root(&d);
    // Each count alone (its predicates occur once: nothing remembered),
    // then all in one program, where every predicate occurs several times
    // and is remembered per node: asked of the same nodes from different
    // paths, of nodes where it holds and where it does not, inside other
    // predicates, and with a variable (never remembered).
    let parts = [
        "count(//hl7:section[hl7:code[@code='inner']])",
        "count(//hl7:section[hl7:code[@code='inner']]/hl7:code)",
        "count(//hl7:component[hl7:section[hl7:code[@code='inner']]])",
        "count(//hl7:section[hl7:code[@code='11502-2']])",
        "count(hl7:component/hl7:structuredBody/hl7:component/hl7:section[hl7:code[@code='inner']])",
        "count(//hl7:section[hl7:code])",
        "count(//hl7:observation[hl7:value/@value])",
        "count(//hl7:entryRelationship[hl7:observation[hl7:value/@value]])",
        "count(//hl7:observation[hl7:code[@code=$c]])",
    ];
    let alone: Vec<String> = parts
        .iter()
        .map(|p| {
            XPath::compile_with_variables(p, &ns(), &["c"])
                .unwrap()
                .evaluate_string(&d, r, &[Value::Atom(Atom::Str("b".into()))])
                .unwrap()
        })
        .collect();
    assert_eq!(alone, ["1", "1", "1", "1", "0", "2", "1", "1", "1"]);
    let together = parts
        .iter()
        .zip(&alone)
        .map(|(p, v)| format!("({p}) = {v} and ({p}) = {v}"))
        .collect::<Vec<_>>()
        .join(" and ");
    let xp = XPath::compile_with_variables(&together, &ns(), &["c"]).unwrap();
    assert!(
        xp.evaluate_boolean(&d, r, &[Value::Atom(Atom::Str("b".into()))])
            .unwrap()
    );
    // Remembered per node, not per predicate: the same predicate holds of
    // one section and not of the other.
    let sections = "count(//hl7:section[hl7:code[@code='inner']]) = 1 and \
                    count(//hl7:section[not(hl7:code[@code='inner'])]) = 1 and \
                    count(//hl7:section[hl7:code[@code='inner']]/ancestor::hl7:section[hl7:code[@code='inner']]) = 0";
    assert!(b(&d, r, sections));
}

#[test]
fn name_only_predicates_are_memoized_per_local_name_not_per_node() {
    let d = doc();
    let r = root(&d);
    // Same predicate text twice (one memo slot), different names matching.
    assert_eq!(
        s(&d, r, "count(//*[contains(local-name(), 'Person')])"),
        "1"
    );
    assert_eq!(
        s(
            &d,
            r,
            "count(//*[contains(local-name(), 'Organization')][hl7:telecom])"
        ),
        "1"
    );
    assert_eq!(
        s(
            &d,
            r,
            "count(//*[contains(local-name(), 'Person')]) + count(//hl7:name[..[contains(local-name(), 'Person')]])"
        ),
        "2"
    );
    // A predicate that looks at more than the name is not memoized wrongly:
    // two `name` elements, only one of which has a `given` child named 'A'.
    assert_eq!(
        s(&d, r, "count(//*[local-name() = 'name'][hl7:given = 'A'])"),
        "1"
    );
}

#[test]
fn descendants_by_a_name_only_predicate_come_from_the_name_index_in_document_order() {
    let d = doc();
    let r = root(&d);
    // Expected lists computed with lxml on the same document.
    let names = |src: &str| s(&d, r, &format!("string-join({src}/local-name(), ',')"));
    assert_eq!(
        names("//*[contains(local-name(), 'o')]"),
        "ClinicalDocument,versionNumber,recordTarget,patientRole,author,assignedAuthor,\
         assignedPerson,representedOrganization,telecom,component,structuredBody,component,\
         section,code,code,entryRelationship,observation,code,entryRelationship,observation,\
         code,component,section,code"
    );
    // From inside the document: only that subtree, the context excluded or included by axis.
    assert_eq!(
        names("hl7:component//*[contains(local-name(), 'ion')]"),
        "section,entryRelationship,observation,entryRelationship,observation,section"
    );
    assert_eq!(
        names("hl7:component/descendant::*[starts-with(local-name(), 'c')]"),
        "component,code,code,code,code,component,code"
    );
    assert_eq!(
        names("descendant-or-self::*[contains(local-name(), 'Document')]"),
        "ClinicalDocument"
    );
    assert_eq!(
        names("descendant::*[contains(local-name(), 'Document')]"),
        ""
    );
    // Further predicates, not about the name, filter what the index gave.
    assert_eq!(
        names("//*[contains(local-name(), 'o')][hl7:code]"),
        "section,observation,observation,section"
    );
    assert_eq!(
        names("//*[contains(local-name(), 'o')][hl7:code/@code = 'b']"),
        "observation"
    );
}

#[test]
fn the_deepest_expression_accepted_evaluates_on_a_small_stack() {
    // The deepest nesting the compiler accepts, with long chains and paths
    // at every level, compiled, evaluated and dropped on a thread with a
    // 1 MiB stack (threads default to 2 MiB).
    let mut src = String::from("count(hl7:id/@root)");
    let mut levels = 0;
    loop {
        let next = format!(
            "(1 {} + count(hl7:id[(@root = 'x') or ({src} > 1)]))",
            vec!["+ 1"; 50].join(" ")
        );
        if XPath::compile(&next, &ns()).is_err() || next.len() > 5_000_000 {
            break;
        }
        src = next;
        levels += 1;
    }
    assert!(levels >= 8, "{levels}");
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let d = doc();
            let xp = XPath::compile(&src, &ns()).unwrap();
            xp.evaluate_string(&d, d.root_element(), &[]).unwrap()
        })
        .unwrap();
    let value: f64 = handle.join().unwrap().parse().unwrap();
    assert!(value > 0.0);
}

#[test]
fn direct_child_attribute_and_predicate_paths_agree_with_the_document() {
    let d = doc();
    let r = root(&d);
    // Child steps skip the text and other elements between the wanted ones.
    assert!(b(
        &d,
        r,
        "count(hl7:component/hl7:structuredBody/hl7:component/hl7:section/hl7:entry/hl7:act/hl7:entryRelationship) = 2"
    ));
    assert!(b(
        &d,
        r,
        "count(hl7:id/@root) = 1 and count(hl7:id/@nope) = 0"
    ));
    // A path predicate and an attribute predicate, streamed and listed.
    let sections =
        "hl7:component/hl7:structuredBody/hl7:component/hl7:section[hl7:code[@code='11502-2']]";
    assert!(b(&d, r, &format!("count({sections}) = 1")));
    assert_eq!(s(&d, r, &format!("{sections}/hl7:code/@code")), "11502-2");
    assert!(b(
        &d,
        r,
        "count(//hl7:section[hl7:code[@code='inner']]) = 1"
    ));
    assert!(b(
        &d,
        r,
        "count(//hl7:observation[hl7:code[@code='b']]/hl7:value) = 0"
    ));
    assert_eq!(s(&d, r, "//hl7:observation[hl7:value]/hl7:code/@code"), "a");
    // An attribute predicate on an attribute node (no attributes) is false.
    assert!(b(
        &d,
        r,
        "count(hl7:id/@root[@root='2.16.840.1.113883.2.9.2.90.4.4']) = 0"
    ));
    // String predicates as effective boolean values.
    assert!(b(
        &d,
        r,
        "count(//*[contains(local-name(), 'Organization')]) = 1"
    ));
    assert!(b(
        &d,
        r,
        "count(//*[starts-with(local-name(), 'entry')]) = 3"
    ));
    assert!(b(&d, r, "count(//*[ends-with(local-name(), 'Time')]) = 1"));
    assert!(b(&d, r, "not(contains(hl7:id/@extension, 'Z'))"));
    assert_eq!(
        err(
            &d,
            r,
            "boolean(contains(hl7:component//hl7:code/@code, 'a'))"
        )
        .code,
        "XPTY0004"
    );
}

#[test]
fn literal_and_local_name_string_arguments_and_variable_path_starts() {
    let d = doc();
    let ctx = root(&d);
    assert!(b(&d, ctx, "ends-with(local-name(), 'Document')"));
    assert!(!b(&d, ctx, "starts-with(local-name(), 'Document')"));
    assert!(b(
        &d,
        ctx,
        "contains('abc', 'b') and not(contains('abc', 'd'))"
    ));
    // Attribute and text nodes as the context of `local-name()`.
    assert!(b(
        &d,
        ctx,
        "count(hl7:templateId/@*[contains(local-name(), 'xten')]) = 1"
    ));
    assert!(b(
        &d,
        ctx,
        "count(//hl7:given/text()[starts-with(local-name(), '')]) = 2"
    ));
    assert!(b(
        &d,
        ctx,
        "count(//hl7:given/text()[contains(local-name(), 'g')]) = 0"
    ));

    let all = XPath::compile("//hl7:observation", &ns()).unwrap();
    let observations = all.evaluate(&d, ctx, &[]).unwrap();
    let xp = XPath::compile_with_variables("string-join($v/hl7:code/@code, ',')", &ns(), &["v"])
        .unwrap();
    assert_eq!(
        xp.evaluate_string(&d, ctx, std::slice::from_ref(&observations))
            .unwrap(),
        "a,b"
    );
    // Twice from the same binding: the variable keeps its nodes.
    let xp = XPath::compile_with_variables(
        "count($v/hl7:code) = 2 and count($v/hl7:value) = 1 and count($v) = 2",
        &ns(),
        &["v"],
    )
    .unwrap();
    assert!(xp.evaluate_boolean(&d, ctx, &[observations]).unwrap());
    let xp = XPath::compile_with_variables("$v/hl7:code", &ns(), &["v"]).unwrap();
    let e = xp
        .evaluate(&d, ctx, &[Value::Atom(Atom::Str("x".into()))])
        .unwrap_err();
    assert_eq!(e.code, "XPTY0019");
}

#[test]
fn paths_from_a_variable_stream_like_the_general_evaluation() {
    let d = doc();
    let r = root(&d);
    // Nested starts (both sections), one start, none, and an atomic value.
    let node_list = |src: &str| match XPath::compile(src, &ns())
        .unwrap()
        .evaluate(&d, r, &[])
        .unwrap()
    {
        Value::Nodes(n) => n,
        other => panic!("{src}: {other:?}"),
    };
    let sections = Value::Nodes(node_list("//hl7:section"));
    let observations = Value::Nodes(node_list("//hl7:observation"));
    let one = |src: &str, v: &Value<'_>| {
        XPath::compile_with_variables(src, &ns(), &["v"])
            .unwrap()
            .evaluate(&d, r, std::slice::from_ref(v))
            .map(|x| join_strings(&d, &x))
    };
    for v in [&sections, &observations, &Value::EMPTY] {
        // Streamed (child and attribute steps) against the same steps
        // after a `..`/`.` round trip, which is not streamed.
        for (streamed, general) in [
            ("count($v/hl7:code)", "count($v/hl7:code/../hl7:code)"),
            (
                "count($v/hl7:code) = 1",
                "count($v/hl7:code/../hl7:code) = 1",
            ),
            (
                "exists($v/hl7:code/@code)",
                "exists($v/hl7:code/../hl7:code/@code)",
            ),
            (
                "$v/hl7:code/@code = 'inner'",
                "$v/hl7:code/../hl7:code/@code = 'inner'",
            ),
            (
                "count($v/hl7:component/hl7:section[hl7:code])",
                "count($v/hl7:component/hl7:section[hl7:code]/../hl7:section)",
            ),
            (
                "count($v/self::node()/hl7:value/@value)",
                "count($v/hl7:value/@value/..)",
            ),
        ] {
            assert_eq!(one(streamed, v), one(general, v), "{streamed} / {general}");
        }
    }
    assert_eq!(one("count($v/hl7:code)", &sections).unwrap(), "2");
    assert_eq!(
        one("count($v/hl7:component/hl7:section)", &sections).unwrap(),
        "1"
    );
    // A path step on an atomic value is an error, streamed or not.
    let atom = Value::Atom(Atom::Str("x".into()));
    for src in [
        "count($v/hl7:code)",
        "count($v/hl7:code) = 0",
        "exists($v/hl7:code)",
    ] {
        assert_eq!(one(src, &atom).unwrap_err().code(), "XPTY0019", "{src}");
    }
}

#[test]
fn cached_bases_of_several_steps_agree_with_the_general_path() {
    let d = doc();
    let r = root(&d);
    // Each base occurs twice in the program, so it is cached; the same
    // steps with a `..` round trip are neither streamed nor cached.
    for (cached, general) in [
        (
            "count(hl7:component/hl7:structuredBody/hl7:component/hl7:section/hl7:code[@code='11502-2'])",
            "count(hl7:component/hl7:structuredBody/hl7:component/hl7:section/hl7:code/../hl7:code[@code='11502-2'])",
        ),
        (
            "count(.//hl7:entryRelationship[hl7:observation]/hl7:observation/hl7:code[@code='a'])",
            "count(.//hl7:entryRelationship[hl7:observation]/hl7:observation/hl7:code/../hl7:code[@code='a'])",
        ),
        (
            "count(.//hl7:section/hl7:code[@code='inner'])",
            "count(.//hl7:section/hl7:code/../hl7:code[@code='inner'])",
        ),
        (
            "count(hl7:component//hl7:code[@code])",
            "count(hl7:component//hl7:code/../hl7:code[@code])",
        ),
    ] {
        let expected = s(&d, r, general);
        assert_ne!(expected, "0", "{general}");
        let twice = format!("{cached} = {expected} and {cached} = {expected}");
        assert!(b(&d, r, &twice), "{twice}");
    }
}

#[test]
fn streamed_path_values_are_in_document_order() {
    // `descendant::*/c` reaches a's c (later in the document) before b's.
    let d =
        Document::parse(br#"<r xmlns="urn:x"><a><b><c v="1"/></b><c v="2"/></a><c v="3"/></r>"#)
            .unwrap();
    let r = d.root_element();
    let ns = Namespaces::new().with("x", "urn:x");
    let string = |src: &str| {
        XPath::compile(src, &ns)
            .unwrap()
            .evaluate_string(&d, r, &[])
            .unwrap()
    };
    assert_eq!(string("descendant::*/x:c/@v"), "1 2");
    assert_eq!(string("descendant-or-self::*/x:c/@v"), "1 2 3");
    // The same through a step that is not streamed.
    assert_eq!(string("descendant::*/x:c/../x:c/@v"), "1 2");
    assert_eq!(string("string-join(descendant::*/x:c/@v, ',')"), "1,2");
    assert_eq!(string("(descendant::*/x:c)[1]/@v"), "1");
}
