//! The link the Gateway keeps between a validation and the publication
//! that follows it (`/msg/cda-match`).
//!
//! At validation the Gateway stores a hash of the CDA in which the legal
//! authenticator is blanked, and at publication it recomputes it on the
//! CDA inside the signed PDF: the two must agree. Blanking lets the
//! signer's details and time change between the two calls; anything else
//! must not.
//!
//! [`cda_match_hash`] is SHA-256, Base64 (standard alphabet, padded), of the
//! UTF-8 bytes of the **canonical form** that [`canonical_form`] writes:
//!
//! - The root element and its subtree, in document order; the XML
//!   declaration and anything outside the root are left out.
//! - An element is `<N A…>children</N>`, where `N` is `{namespace-uri}local`
//!   (just `local` without a namespace), so prefixes and namespace
//!   declarations do not count, and empty elements are always written with
//!   an end tag.
//! - Attributes follow as ` N="value"`, sorted by namespace URI then local
//!   name, so their order in the source does not count.
//! - Text is written as parsed (entities and character references expanded,
//!   CDATA merged), every whitespace-only text kept, then escaped: `&`
//!   `&amp;`, `<` `&lt;`, `>` `&gt;`, carriage return `&#xD;`; in attribute
//!   values also `"` `&quot;`, tab `&#x9;`, line feed `&#xA;`.
//! - Comments are `<!--text-->`, processing instructions `<?target data?>`.
//! - Inside every HL7 `legalAuthenticator` (the element itself included):
//!   each element named `signature` is dropped with its subtree; every
//!   attribute value becomes `PLACEHOLDER`; every element without element
//!   children gets the single text `PLACEHOLDER` (whatever it held, even
//!   nothing); text beside element children and comments are dropped. So
//!   the structure of the legal authenticator counts, its values do not.
//!
//! Hence any edit of a value, a text (whitespace included), a comment or an
//! element outside `legalAuthenticator` changes the hash; re-quoting,
//! re-prefixing and reordering attributes do not.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::xml::{Document, HL7_NS, NodeId, NodeKind};

/// What the Gateway writes over every value inside `legalAuthenticator`.
pub const PLACEHOLDER: &str = "PLACEHOLDER";

/// The cda-match hash of a parsed document: SHA-256, Base64, of its
/// [`canonical_form`].
pub fn cda_match_hash(doc: &Document) -> String {
    let digest = Sha256::digest(canonical_form(doc).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Parses `bytes` and returns [`cda_match_hash`].
///
/// # Errors
/// When the XML does not parse.
pub fn cda_match_hash_bytes(bytes: &[u8]) -> Result<String> {
    Ok(cda_match_hash(&Document::parse(bytes)?))
}

/// The canonical form that [`cda_match_hash`] hashes (see the module doc).
pub fn canonical_form(doc: &Document) -> String {
    let mut out = String::with_capacity(doc.len() * 16);
    write_node(doc, doc.root_element(), false, &mut out);
    out
}

fn write_node(doc: &Document, id: NodeId, blanked: bool, out: &mut String) {
    match doc.kind(id) {
        NodeKind::Element => write_element(doc, id, blanked, out),
        NodeKind::Text if !blanked => escape_text(doc.value(id), out),
        NodeKind::Comment if !blanked => {
            out.push_str("<!--");
            out.push_str(doc.value(id));
            out.push_str("-->");
        }
        NodeKind::ProcessingInstruction if !blanked => {
            out.push_str("<?");
            out.push_str(doc.local_name(id));
            if !doc.value(id).is_empty() {
                out.push(' ');
                out.push_str(doc.value(id));
            }
            out.push_str("?>");
        }
        _ => {}
    }
}

fn write_element(doc: &Document, id: NodeId, blanked: bool, out: &mut String) {
    let blanked =
        blanked || (doc.local_name(id) == "legalAuthenticator" && doc.namespace(id) == HL7_NS);
    out.push('<');
    write_name(doc, id, out);
    let mut attributes: Vec<NodeId> = doc.attributes(id).collect();
    attributes.sort_by(|&a, &b| {
        (doc.namespace(a), doc.local_name(a)).cmp(&(doc.namespace(b), doc.local_name(b)))
    });
    for attribute in attributes {
        out.push(' ');
        write_name(doc, attribute, out);
        out.push_str("=\"");
        escape_attribute(
            if blanked {
                PLACEHOLDER
            } else {
                doc.value(attribute)
            },
            out,
        );
        out.push('"');
    }
    out.push('>');
    if blanked {
        let kept: Vec<NodeId> = doc
            .child_elements(id)
            .filter(|&c| doc.local_name(c) != "signature")
            .collect();
        if kept.is_empty() {
            out.push_str(PLACEHOLDER);
        }
        for child in kept {
            write_element(doc, child, true, out);
        }
    } else {
        for child in doc.children(id) {
            write_node(doc, child, false, out);
        }
    }
    out.push_str("</");
    write_name(doc, id, out);
    out.push('>');
}

fn write_name(doc: &Document, id: NodeId, out: &mut String) {
    let ns = doc.namespace(id);
    if !ns.is_empty() {
        let _ = write!(out, "{{{ns}}}");
    }
    out.push_str(doc.local_name(id));
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attribute(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(xml: &str) -> String {
        canonical_form(&Document::parse(xml.as_bytes()).unwrap())
    }

    #[test]
    fn the_canonical_form_is_as_documented() {
        let xml = r#"<?xml version="1.0"?>
<h:ClinicalDocument xmlns:h="urn:hl7-org:v3" b="2" a='1 &amp; "x"'><!--c--><h:id/>t&lt;
<h:legalAuthenticator typeCode="LA"><h:time value="2022"/> <!--x--><h:signatureCode code="S"/><h:signature><h:x/></h:signature>
<h:assignedEntity><h:name>Dr <h:family>Rossi</h:family></h:name></h:assignedEntity></h:legalAuthenticator></h:ClinicalDocument>"#;
        let n = "{urn:hl7-org:v3}";
        let expected = format!(
            "<{n}ClinicalDocument a=\"1 &amp; &quot;x&quot;\" b=\"2\"><!--c--><{n}id></{n}id>t&lt;\n\
             <{n}legalAuthenticator typeCode=\"PLACEHOLDER\"><{n}time value=\"PLACEHOLDER\">PLACEHOLDER</{n}time>\
             <{n}signatureCode code=\"PLACEHOLDER\">PLACEHOLDER</{n}signatureCode>\
             <{n}assignedEntity><{n}name><{n}family>PLACEHOLDER</{n}family></{n}name></{n}assignedEntity>\
             </{n}legalAuthenticator></{n}ClinicalDocument>"
        );
        assert_eq!(canon(xml), expected);
    }

    #[test]
    fn prefixes_quotes_and_attribute_order_do_not_count() {
        let a = canon(
            r#"<ClinicalDocument xmlns="urn:hl7-org:v3" x="1" y='2'><id root="r"/></ClinicalDocument>"#,
        );
        let b = canon(
            r#"<v3:ClinicalDocument xmlns:v3="urn:hl7-org:v3" y="2" x="1"><v3:id root='r'></v3:id></v3:ClinicalDocument>"#,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn the_hash_is_base64_sha256_of_the_canonical_form() {
        let doc = Document::parse(b"<a>x</a>").unwrap();
        // sha256("<a>x</a>")
        let expected =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"<a>x</a>"));
        assert_eq!(cda_match_hash(&doc), expected);
        assert_eq!(cda_match_hash(&doc).len(), 44);
    }
}
