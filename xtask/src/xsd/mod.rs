//! Generates `fse-cda`'s XSD tables from the two CDA R2 XSD sets of the
//! national catalogs (`catalogs/schema/{POCD_MT000040UV02,POCD_HD000040}`
//! in the reference corpus; never committed).
//!
//! The corpus is found through `FSE_CORPUS` (relative paths from the
//! repository root), by default `../shared/corpus`. When it is absent the
//! XSD tables are neither generated nor checked, with one printed line,
//! unless `FSE_REQUIRE_CORPUS=1`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::codegen::Output;

mod automaton;
mod compile;
mod emit;
mod load;

/// The sets: (typeId extension, module name).
const SETS: &[(&str, &str)] = &[
    ("POCD_MT000040UV02", "pocd_mt000040uv02"),
    ("POCD_HD000040", "pocd_hd000040"),
];

/// Where generated files go.
const OUT_DIR: &str = "crates/fse-cda/src/xsd/generated";

/// The corpus directory, as the tests find it.
fn corpus_dir(root: &Path) -> PathBuf {
    match std::env::var_os("FSE_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            if p.is_absolute() { p } else { root.join(p) }
        }
        None => root.join("../shared/corpus"),
    }
}

/// The generated tables, or nothing (after a printed line) without corpus.
pub fn generate(root: &Path) -> anyhow::Result<Vec<Output>> {
    let schema_dir = corpus_dir(root).join("catalogs/schema");
    if !schema_dir.is_dir() {
        if std::env::var("FSE_REQUIRE_CORPUS").is_ok_and(|v| v == "1") {
            bail!(
                "XSD sets not found at {} and FSE_REQUIRE_CORPUS=1",
                schema_dir.display()
            );
        }
        println!(
            "xsd: skipped (XSD tables not generated nor checked): no corpus at {}",
            schema_dir.display()
        );
        return Ok(Vec::new());
    }
    let mut outputs = Vec::new();
    let mut modules = String::new();
    for (type_id, module) in SETS {
        let dir = schema_dir.join(type_id);
        let docs = load::load_set(&dir).with_context(|| format!("loading the {type_id} set"))?;
        let compiled =
            compile::compile(&docs).with_context(|| format!("compiling the {type_id} set"))?;
        let source = format!("catalogs/schema/{type_id}/CDA.xsd");
        let content = emit::emit(&compiled, type_id, &source)
            .with_context(|| format!("emitting the {type_id} set"))?;
        outputs.push(Output {
            path: PathBuf::from(format!("{OUT_DIR}/{module}.rs")),
            content,
        });
        modules.push_str(&format!("#[rustfmt::skip]\npub(crate) mod {module};\n"));
    }
    let mut mod_rs = String::from(crate::codegen::HEADER);
    mod_rs.push_str("//! The content-model tables of the CDA R2 XSD sets, one module per set.\n\n");
    mod_rs.push_str(&modules);
    outputs.push(Output {
        path: PathBuf::from(format!("{OUT_DIR}/mod.rs")),
        content: mod_rs,
    });
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema set written to a fresh directory: `CDA.xsd` including, by
    /// a path the loader must ignore, `types.xsd` (no target namespace).
    fn set(name: &str, types: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fse-xsd-{name}-{}", std::process::id()));
        let core = dir.join("coreschemas");
        std::fs::create_dir_all(&core).expect("temp dir");
        std::fs::write(
            dir.join("CDA.xsd"),
            r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns="urn:t" targetNamespace="urn:t" elementFormDefault="qualified">
  <xs:include schemaLocation="./somewhere/else/types.xsd"/>
  <xs:element name="root" type="Root"/>
</xs:schema>"#,
        )
        .expect("CDA.xsd");
        std::fs::write(
            core.join("types.xsd"),
            format!(r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">{types}</xs:schema>"#),
        )
        .expect("types.xsd");
        dir
    }

    fn emitted(name: &str, types: &str) -> anyhow::Result<String> {
        let dir = set(name, types);
        let result = load::load_set(&dir)
            .and_then(|docs| compile::compile(&docs))
            .and_then(|compiled| emit::emit(&compiled, "T", "test"));
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn automaton(types: &str) -> (compile::Compiled, automaton::Automaton) {
        let dir = set("automaton", types);
        let docs = load::load_set(&dir).expect("loads");
        let _ = std::fs::remove_dir_all(&dir);
        let compiled = compile::compile(&docs).expect("compiles");
        let root = compiled
            .complex
            .iter()
            .find(|t| t.name.as_ref().is_some_and(|n| n.1 == "Root"))
            .expect("Root");
        let a = automaton::build(&compiled, root.particle.as_ref(), "Root").expect("builds");
        (compiled, a)
    }

    fn names(compiled: &compile::Compiled, decls: &[usize]) -> Vec<String> {
        decls
            .iter()
            .map(|&d| compiled.elements[d].name.1.clone())
            .collect()
    }

    #[test]
    fn chameleon_types_take_the_includers_namespace_and_files_resolve_by_name() {
        let (compiled, _) = automaton(
            r#"<xs:complexType name="Root"><xs:sequence><xs:element name="a" type="xs:string"/></xs:sequence></xs:complexType>"#,
        );
        let a = compiled
            .elements
            .iter()
            .find(|e| e.name.1 == "a")
            .expect("a");
        assert_eq!(a.name.0, "urn:t");
        assert!(
            compiled
                .named
                .iter()
                .any(|((ns, local), _)| ns == "urn:t" && local == "Root")
        );
    }

    #[test]
    fn expected_lists_follow_libxml2() {
        // a, b?, (c | d)*, e
        let (compiled, a) = automaton(
            r#"<xs:complexType name="Root"><xs:sequence>
                 <xs:element name="a" type="xs:string"/>
                 <xs:element name="b" type="xs:string" minOccurs="0"/>
                 <xs:choice minOccurs="0" maxOccurs="unbounded">
                   <xs:element name="c" type="xs:string"/><xs:element name="d" type="xs:string"/>
                 </xs:choice>
                 <xs:element name="e" type="xs:string"/>
               </xs:sequence></xs:complexType>"#,
        );
        let start = &a.states[0];
        assert_eq!(names(&compiled, &start.unexpected), ["a"]);
        let after = |state: &automaton::State, name: &str| {
            let &(_, to) = state
                .transitions
                .iter()
                .find(|&&(d, _)| compiled.elements[d].name.1 == name)
                .expect(name);
            a.states[to].clone()
        };
        let after_a = after(start, "a");
        assert_eq!(names(&compiled, &after_a.unexpected), ["b", "c", "d", "e"]);
        // After an iteration of the counted choice libxml2 (2.14, checked)
        // lists only what follows the loop when the next element is
        // unexpected, and only the loop's names when the content ends there.
        let after_c = after(&after_a, "c");
        assert_eq!(
            names(
                &compiled,
                &after_c.transitions.iter().map(|t| t.0).collect::<Vec<_>>()
            ),
            ["c", "d", "e"]
        );
        assert_eq!(names(&compiled, &after_c.unexpected), ["e"]);
        assert_eq!(names(&compiled, &after_c.missing), ["c", "d"]);
        assert!(!after_c.accepting);
        assert!(after(&after_c, "e").accepting);
    }

    #[test]
    fn max_occurs_zero_is_once_then_nothing() {
        let (compiled, a) = automaton(
            r#"<xs:complexType name="Root"><xs:sequence>
                 <xs:element name="q" type="xs:string" minOccurs="0" maxOccurs="0"/>
                 <xs:element name="t" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>
               </xs:sequence></xs:complexType>"#,
        );
        let &(q, to) = a.states[0].transitions.first().expect("q");
        assert_eq!(compiled.elements[q].name.1, "q");
        assert!(a.states[to].transitions.is_empty());
        assert!(a.states[to].accepting);
    }

    #[test]
    fn unsupported_constructs_are_refused_with_their_place() {
        let err = emitted(
            "any",
            r#"<xs:complexType name="Root"><xs:sequence><xs:any/></xs:sequence></xs:complexType>"#,
        )
        .expect_err("xs:any is refused");
        assert!(format!("{err:#}").contains("xs:any"), "{err:#}");
        let err = emitted(
            "ambiguous",
            r#"<xs:complexType name="Root"><xs:choice>
                 <xs:sequence><xs:element name="a" type="xs:string"/></xs:sequence>
                 <xs:element name="a" type="xs:token"/></xs:choice></xs:complexType>"#,
        )
        .expect_err("a non-deterministic model is refused");
        assert!(format!("{err:#}").contains("not deterministic"), "{err:#}");
    }

    #[test]
    fn output_is_deterministic_and_carries_the_header() {
        let types = r#"<xs:complexType name="Root"><xs:sequence><xs:element name="a" type="Code"/></xs:sequence>
            <xs:attribute name="k" type="Code" use="required"/></xs:complexType>
            <xs:simpleType name="Code"><xs:restriction base="xs:token"><xs:enumeration value="Y"/><xs:enumeration value="X"/><xs:pattern value="[^\s]+"/></xs:restriction></xs:simpleType>"#;
        let first = emitted("det1", types).expect("emits");
        let second = emitted("det2", types).expect("emits");
        assert_eq!(first, second);
        assert!(first.starts_with(crate::codegen::HEADER));
        assert!(first.contains(r#"static ENUM_0: [&str; 2] = ["#));
        assert!(first.contains("static ENUM_0_SORTED: [u16; 2] = [1, 0];"));
    }
}
