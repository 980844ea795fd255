//! Document ids (`root^extension`) and workflow instance ids.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::error::{Error, shown};
use crate::oid::{Oid, region_code_of};
use crate::support::parsed_string_impls;

/// A document's unique id as the Gateway wants it: `root^extension`, e.g.
/// `2.16.840.1.113883.2.9.2.90.4.4^ABC123`, the CDA's
/// `ClinicalDocument/id` `@root` and `@extension` joined by `^`.
///
/// Checked as the Gateway checks `identificativoDoc` and the `{idDoc}` path
/// (else 400 `/msg/id-doc`): at most [`DocumentId::MAX_LEN`] characters, a
/// `^` with a non-empty part after it. We also want a non-empty root and no
/// control characters. The root is not required to be an OID, as the
/// Gateway does not require it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId {
    value: String,
    /// Byte offset of the first `^`.
    caret: usize,
}

impl DocumentId {
    /// The longest id the Gateway accepts, in characters.
    pub const MAX_LEN: usize = 256;

    /// Parses `root^extension`; the extension is everything after the first
    /// `^`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |reason| Error::DocumentId {
            value: shown(value),
            reason,
        };
        if value.chars().count() > Self::MAX_LEN {
            return Err(fail("is longer than 256 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(fail("contains a control character"));
        }
        let caret = value
            .find('^')
            .ok_or_else(|| fail("has no '^' between root and extension"))?;
        if caret == 0 {
            return Err(fail("has an empty root before '^'"));
        }
        if caret + 1 == value.len() {
            return Err(fail("has an empty extension after '^'"));
        }
        Ok(Self {
            value: value.to_owned(),
            caret,
        })
    }

    /// Joins a root OID and an extension.
    pub fn new(root: &Oid, extension: &str) -> Result<Self, Error> {
        Self::parse(&format!("{root}^{extension}"))
    }

    /// The whole id, `root^extension`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part before the first `^` (`ClinicalDocument/id/@root`).
    pub fn root(&self) -> &str {
        &self.value[..self.caret]
    }

    /// The part after the first `^` (`ClinicalDocument/id/@extension`).
    pub fn extension(&self) -> &str {
        &self.value[self.caret + 1..]
    }

    /// The region code (`090`) when the root lies under
    /// `2.16.840.1.113883.2.9.2.<region>`, as regional document roots do.
    pub fn region_code(&self) -> Option<String> {
        region_code_of(self.root())
    }

    /// The id percent-encoded for a URL path segment (`^` becomes `%5E`),
    /// as `PUT /documents/{idDoc}` and `DELETE` need it.
    pub fn to_path_segment(&self) -> String {
        percent_encode_segment(&self.value)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The id of one validation-to-publication workflow, issued by the Gateway
/// on validation and carried by publication, status and errors.
///
/// The national form is `<prefix>.<10 hex>^^^^urn:ihe:iti:xdw:2013:workflowInstanceId`,
/// where the prefix is `<ClinicalDocument/id@root>.<sha256 hex of @extension>`
/// after a validation, or `<sha256 hex of idDoc>` after a delete or metadata
/// update. Parsing accepts any non-empty prefix, since older Gateways and
/// other implementations issue other prefixes; [`WorkflowInstanceId::shape`]
/// tells them apart.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkflowInstanceId(String);

/// What a [`WorkflowInstanceId`]'s prefix is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowShape<'a> {
    /// `<root>.<sha256(extension)>.<nonce>`: issued by a validation.
    Validation {
        /// The document id's root.
        root: &'a str,
        /// Lowercase hex SHA-256 of the document id's extension.
        extension_sha256: &'a str,
        /// Ten random lowercase hex digits.
        nonce: &'a str,
    },
    /// `<sha256(idDoc)>.<nonce>`: issued by a delete or a metadata update.
    Document {
        /// Lowercase hex SHA-256 of the whole `root^extension` id.
        id_sha256: &'a str,
        /// Ten random lowercase hex digits.
        nonce: &'a str,
    },
    /// Any other prefix.
    Other,
}

impl WorkflowInstanceId {
    /// The longest id the Gateway accepts, in characters.
    pub const MAX_LEN: usize = 256;

    /// The fixed suffix of every workflow instance id.
    pub const SUFFIX: &'static str = "^^^^urn:ihe:iti:xdw:2013:workflowInstanceId";

    /// Parses a workflow instance id: at most 256 characters, a non-empty
    /// prefix without `^`, whitespace or control characters, then
    /// [`WorkflowInstanceId::SUFFIX`].
    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |reason| Error::WorkflowInstanceId {
            value: shown(value),
            reason,
        };
        if value.chars().count() > Self::MAX_LEN {
            return Err(fail("is longer than 256 characters"));
        }
        let prefix = value
            .strip_suffix(Self::SUFFIX)
            .ok_or_else(|| fail("does not end with ^^^^urn:ihe:iti:xdw:2013:workflowInstanceId"))?;
        if prefix.is_empty() {
            return Err(fail("has nothing before the suffix"));
        }
        if prefix
            .chars()
            .any(|c| c == '^' || c.is_whitespace() || c.is_control())
        {
            return Err(fail(
                "has '^', whitespace or a control character before the suffix",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The id a validation of the document `root^extension` gets, with the
    /// given 5 random bytes as nonce. What a Gateway (or a simulator of it)
    /// issues.
    pub fn for_validation(root: &str, extension: &str, nonce: [u8; 5]) -> Result<Self, Error> {
        Self::parse(&format!(
            "{root}.{}.{}{}",
            sha256_hex(extension),
            hex5(nonce),
            Self::SUFFIX
        ))
    }

    /// The id a delete or metadata update of `document` gets.
    pub fn for_document(document: &DocumentId, nonce: [u8; 5]) -> Self {
        Self(format!(
            "{}.{}{}",
            sha256_hex(document.as_str()),
            hex5(nonce),
            Self::SUFFIX
        ))
    }

    /// The whole id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before [`WorkflowInstanceId::SUFFIX`].
    pub fn prefix(&self) -> &str {
        &self.0[..self.0.len() - Self::SUFFIX.len()]
    }

    /// What the prefix is made of.
    pub fn shape(&self) -> WorkflowShape<'_> {
        let prefix = self.prefix();
        let Some((head, nonce)) = prefix.rsplit_once('.') else {
            return WorkflowShape::Other;
        };
        if !is_lower_hex(nonce, 10) {
            return WorkflowShape::Other;
        }
        if is_lower_hex(head, 64) {
            return WorkflowShape::Document {
                id_sha256: head,
                nonce,
            };
        }
        match head.rsplit_once('.') {
            Some((root, hash)) if is_lower_hex(hash, 64) && Oid::parse(root).is_ok() => {
                WorkflowShape::Validation {
                    root,
                    extension_sha256: hash,
                    nonce,
                }
            }
            _ => WorkflowShape::Other,
        }
    }

    /// Whether this id was issued for the validation of `document`: its
    /// root and extension hash match.
    pub fn is_for(&self, document: &DocumentId) -> bool {
        match self.shape() {
            WorkflowShape::Validation {
                root,
                extension_sha256,
                ..
            } => root == document.root() && extension_sha256 == sha256_hex(document.extension()),
            WorkflowShape::Document { id_sha256, .. } => id_sha256 == sha256_hex(document.as_str()),
            WorkflowShape::Other => false,
        }
    }

    /// The id percent-encoded for a URL path segment, as
    /// `GET /status/{workflowInstanceId}` needs it.
    pub fn to_path_segment(&self) -> String {
        percent_encode_segment(&self.0)
    }
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_hex(text: &str) -> String {
    hex_lower(&Sha256::digest(text.as_bytes()))
}

fn hex5(bytes: [u8; 5]) -> String {
    hex_lower(&bytes)
}

fn hex_lower(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

parsed_string_impls!(DocumentId, value);
parsed_string_impls!(WorkflowInstanceId, 0);

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({:?})", &self.value)
    }
}

impl fmt::Debug for WorkflowInstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkflowInstanceId({:?})", &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE_WII: &str = "2.16.840.1.113883.2.9.2.120.4.4.97bb3fc5bee3032679f4f07419e04af6375baafa17024527a98ede920c6812ed.3c55cfd276^^^^urn:ihe:iti:xdw:2013:workflowInstanceId";

    #[test]
    fn document_id_parts() {
        let id = DocumentId::parse("2.16.840.1.113883.2.9.2.90.4.4^090A02205783394_PRESPEC")
            .expect("valid");
        assert_eq!(id.root(), "2.16.840.1.113883.2.9.2.90.4.4");
        assert_eq!(id.extension(), "090A02205783394_PRESPEC");
        assert_eq!(id.region_code().as_deref(), Some("090"));
        assert_eq!(
            id.to_path_segment(),
            "2.16.840.1.113883.2.9.2.90.4.4%5E090A02205783394_PRESPEC"
        );
        let again =
            DocumentId::new(&Oid::parse(id.root()).expect("oid"), id.extension()).expect("valid");
        assert_eq!(again, id);
    }

    #[test]
    fn document_id_extension_may_hold_carets() {
        let id = DocumentId::parse("1.2^a^b").expect("valid");
        assert_eq!(id.root(), "1.2");
        assert_eq!(id.extension(), "a^b");
    }

    #[test]
    fn document_id_rejections() {
        let cases = [
            ("507f1f77bcf86cd799439011", "no '^'"),
            ("1.2.3^", "empty extension"),
            ("^ABC", "empty root"),
            ("", "no '^'"),
            ("1.2^A\nB", "control"),
        ];
        for (text, why) in cases {
            let err = DocumentId::parse(text).expect_err(text).to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        let long = format!("1.2^{}", "x".repeat(253));
        assert!(DocumentId::parse(&long).is_err());
        assert!(
            DocumentId::parse(&long[1..]).is_ok(),
            "256 characters are allowed"
        );
    }

    #[test]
    fn national_sample_wii_is_a_validation_shape() {
        let wii = WorkflowInstanceId::parse(SAMPLE_WII).expect("valid");
        match wii.shape() {
            WorkflowShape::Validation {
                root,
                extension_sha256,
                nonce,
            } => {
                assert_eq!(root, "2.16.840.1.113883.2.9.2.120.4.4");
                assert_eq!(extension_sha256.len(), 64);
                assert_eq!(nonce, "3c55cfd276");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn built_ids_know_their_document() {
        let doc = DocumentId::parse("2.16.840.1.113883.2.9.2.90.4.4^LAB-1").expect("valid");
        let other = DocumentId::parse("2.16.840.1.113883.2.9.2.90.4.4^LAB-2").expect("valid");
        let v =
            WorkflowInstanceId::for_validation(doc.root(), doc.extension(), [0xab, 0, 1, 2, 0xff])
                .expect("valid");
        assert!(
            v.as_str()
                .ends_with(".ab000102ff^^^^urn:ihe:iti:xdw:2013:workflowInstanceId")
        );
        assert!(matches!(v.shape(), WorkflowShape::Validation { .. }));
        assert!(v.is_for(&doc));
        assert!(!v.is_for(&other));
        let d = WorkflowInstanceId::for_document(&doc, [1; 5]);
        assert!(matches!(d.shape(), WorkflowShape::Document { .. }));
        assert!(d.is_for(&doc));
        assert!(!d.is_for(&other));
        assert_eq!(WorkflowInstanceId::parse(d.as_str()), Ok(d));
    }

    #[test]
    fn wii_with_other_prefixes_parses_as_other() {
        let old = "2.16.840.1.113883.2.9.2.120.4.4.030702.TSTSMN63A01F205H.20220325112426.OQlvTq1J.4e25c802bbd04956a3f2355000976cc3^^^^urn:ihe:iti:xdw:2013:workflowInstanceId";
        let wii = WorkflowInstanceId::parse(old).expect("lenient");
        assert_eq!(wii.shape(), WorkflowShape::Other);
        assert!(wii.to_path_segment().contains("%5E%5E%5E%5Eurn%3Aihe"));
    }

    #[test]
    fn wii_rejections() {
        let suffix = WorkflowInstanceId::SUFFIX;
        let cases = [
            ("notfound".to_owned(), "does not end"),
            (suffix.to_owned(), "nothing before"),
            (format!("a b{suffix}"), "whitespace"),
            (format!("a^b{suffix}"), "'^'"),
            (format!("{}{suffix}", "1".repeat(230)), "256"),
        ];
        for (text, why) in cases {
            let err = WorkflowInstanceId::parse(&text)
                .expect_err(&text)
                .to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    proptest! {
        #[test]
        fn document_ids_round_trip(root in crate::oid::tests::oid_text(), ext in "[A-Za-z0-9._^-]{1,60}") {
            let text = format!("{root}^{ext}");
            let id = DocumentId::parse(&text).expect("valid");
            prop_assert_eq!(id.root(), root.as_str());
            prop_assert_eq!(id.extension(), ext.as_str());
            prop_assert_eq!(id.to_string(), text);
            let json = serde_json::to_string(&id).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<DocumentId>(&json).expect("deserializes"), id);
        }

        #[test]
        fn workflow_ids_round_trip(root in crate::oid::tests::oid_text(), ext in "\\PC{1,40}", nonce in any::<[u8; 5]>()) {
            prop_assume!(root.len() < 120);
            let wii = WorkflowInstanceId::for_validation(&root, &ext, nonce).expect("valid");
            prop_assert_eq!(WorkflowInstanceId::parse(wii.as_str()).expect("parses"), wii.clone());
            let is_validation = matches!(wii.shape(), WorkflowShape::Validation { root: r, .. } if r == root);
            prop_assert!(is_validation);
            let json = serde_json::to_string(&wii).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<WorkflowInstanceId>(&json).expect("deserializes"), wii);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,300}") {
            let _ = DocumentId::parse(&s).map(|d| (d.root().len(), d.extension().len(), d.region_code()));
            let _ = WorkflowInstanceId::parse(&s).map(|w| matches!(w.shape(), WorkflowShape::Other));
        }
    }
}
