//! The cda-match hash: stable under edits inside `legalAuthenticator`,
//! changed by any other edit, on the official samples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fse_cda::cda_match_hash_bytes;

fn samples() -> Vec<(String, String)> {
    let Some(corpus) = fse_tests::corpus("cda_match_hash") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus.join("cda")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    out.sort();
    out
}

fn hash(xml: &str) -> String {
    cda_match_hash_bytes(xml.as_bytes()).unwrap()
}

/// The byte range of the header's `<legalAuthenticator>…</legalAuthenticator>`.
fn legal_authenticator(xml: &str) -> std::ops::Range<usize> {
    let start = xml.find("<legalAuthenticator").unwrap();
    let end = xml[start..].find("</legalAuthenticator>").unwrap() + start;
    start..end
}

#[test]
fn edits_inside_the_legal_authenticator_keep_the_hash() {
    for (name, xml) in samples() {
        let original = hash(&xml);
        let range = legal_authenticator(&xml);
        let inside = &xml[range.clone()];
        // Another signer, another time, re-indented, a signature added.
        let edited = inside
            .replace("PROVAX00X00X000Y", "BNCLRD70C41F205K")
            .replacen("value=\"20", "value=\"19", 1)
            .replace('\t', "  ")
            .replacen(
                "<signatureCode",
                "<signature><x>sig</x></signature><signatureCode",
                1,
            );
        assert_ne!(edited, inside, "{name}: the edit must change the text");
        let changed = format!("{}{}{}", &xml[..range.start], edited, &xml[range.end..]);
        assert_eq!(hash(&changed), original, "{name}");
        // Attribute quotes and order do not count either.
        let requoted = xml.replacen(
            "<realmCode code=\"IT\"/>",
            "<realmCode code='IT'></realmCode>",
            1,
        );
        assert_eq!(hash(&requoted), original, "{name}");
    }
}

#[test]
fn edits_outside_the_legal_authenticator_change_the_hash() {
    for (name, xml) in samples() {
        let original = hash(&xml);
        let range = legal_authenticator(&xml);
        let before = &xml[..range.start];
        let after = &xml[range.end..];
        // One value before, one after, one text, one whitespace, one comment.
        let first_value = before.find("extension=\"").unwrap() + "extension=\"".len();
        let edits = [
            format!("{}X{}", &xml[..first_value], &xml[first_value..]),
            format!("{}{}", &xml[..range.end], after.replacen('>', "> ", 1)),
            xml.replacen("<title>", "<title>Nuovo ", 1),
            xml.replacen(
                "</legalAuthenticator>",
                "</legalAuthenticator><!--nota-->",
                1,
            ),
            xml.replacen(
                "codeSystem=\"2.16.840.1.113883.6.1\"",
                "codeSystem=\"2.16.840.1.113883.6.96\"",
                1,
            ),
        ];
        for (i, edit) in edits.iter().enumerate() {
            assert_ne!(&hash(edit), &original, "{name}: edit {i}");
        }
    }
}

#[test]
fn the_hash_is_44_base64_characters_and_distinct_per_sample() {
    let all: Vec<String> = samples().iter().map(|(_, xml)| hash(xml)).collect();
    for h in &all {
        assert_eq!(h.len(), 44);
        assert!(h.ends_with('='));
    }
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), all.len());
}
