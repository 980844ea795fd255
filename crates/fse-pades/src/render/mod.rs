//! A readable PDF of a CDA2, for providers with no PDF of their own: the
//! title, patient, author, custodian, legal authenticator and dates, then
//! each section's narrative, with word wrapping and page breaks, in the
//! standard Helvetica fonts (WinAnsiEncoding, so Italian accented letters
//! print). The CDA is injected into it.

mod metrics;

use std::io::Write as _;

use fse_cda::metadata::Metadata;
use fse_cda::xml::{Document as XmlDocument, HL7_NS, NodeId, NodeKind};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::extract::Mode;
use crate::inject::{InjectOptions, apply};
use crate::pdf::filter::deflate;
use crate::pdf::write::{Update, write_object};
use crate::pdf::{Dict, Document, Object, Stream, date};

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Where to inject the CDA into the rendered PDF.
    pub mode: Mode,
    /// The creation date and the embedded file's `/ModDate`; now (UTC) when `None`.
    pub time: Option<OffsetDateTime>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Attachment,
            time: None,
        }
    }
}

/// Renders `cda` into a PDF with the CDA injected (ATTACHMENT mode).
///
/// # Errors
/// The CDA is not well-formed XML or not a `ClinicalDocument`.
pub fn render(cda: &[u8]) -> Result<Vec<u8>> {
    render_with(cda, &RenderOptions::default())
}

/// Renders `cda` with options.
///
/// # Errors
/// As [`render`].
pub fn render_with(cda: &[u8], options: &RenderOptions) -> Result<Vec<u8>> {
    let xml = XmlDocument::parse(cda).map_err(Error::Xml)?;
    let root = xml.root_element();
    if xml.local_name(root) != "ClinicalDocument" || xml.namespace(root) != HL7_NS {
        return Err(Error::Inject(
            "the XML root is not an HL7 ClinicalDocument".into(),
        ));
    }
    let time = options.time.unwrap_or_else(OffsetDateTime::now_utc);
    let mut layout = Layout::new();
    let title = header(&xml, root, &mut layout);
    body(&xml, root, &mut layout);
    let base = layout.finish(&title, time);
    let doc = Document::open(&base)?;
    let mut up = Update::new(&doc);
    apply(
        &mut up,
        cda,
        &InjectOptions {
            mode: options.mode,
            compress: true,
            time: Some(time),
            rewrite: true,
            repair: false,
        },
    )?;
    Ok(up.write_full("1.7")?.bytes)
}

// --- Reading the CDA ---

fn child(xml: &XmlDocument, node: NodeId, name: &str) -> Option<NodeId> {
    xml.child_named(node, HL7_NS, name)
}

fn path(xml: &XmlDocument, mut node: NodeId, steps: &[&str]) -> Option<NodeId> {
    for step in steps {
        node = child(xml, node, step)?;
    }
    Some(node)
}

fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text_of(xml: &XmlDocument, node: Option<NodeId>) -> Option<String> {
    let t = clean(&xml.string_value(node?));
    (!t.is_empty()).then_some(t)
}

fn person_name(xml: &XmlDocument, name: NodeId) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    for part in ["prefix", "given", "family", "suffix"] {
        words.extend(
            xml.children_named(name, HL7_NS, part)
                .filter_map(|p| text_of(xml, Some(p))),
        );
    }
    if words.is_empty() {
        text_of(xml, Some(name))
    } else {
        Some(words.join(" "))
    }
}

/// `20220330112426+0100` → `30/03/2022 11:24` (Italian order).
fn hl7_time(ts: &str) -> String {
    let digits: String = ts.chars().take_while(char::is_ascii_digit).collect();
    let part = |a: usize, b: usize| digits.get(a..b);
    match (
        part(0, 4),
        part(4, 6),
        part(6, 8),
        part(8, 10),
        part(10, 12),
    ) {
        (Some(y), Some(m), Some(d), Some(h), Some(min)) => format!("{d}/{m}/{y} {h}:{min}"),
        (Some(y), Some(m), Some(d), _, _) => format!("{d}/{m}/{y}"),
        _ => ts.to_string(),
    }
}

fn header(xml: &XmlDocument, root: NodeId, layout: &mut Layout) -> String {
    let meta = Metadata::from_document(xml).ok();
    let title = meta
        .as_ref()
        .and_then(|m| m.title.clone().or_else(|| m.display_name.clone()))
        .map(|t| clean(&t))
        .unwrap_or_else(|| "Documento clinico".to_string());
    layout.paragraph(&[(title.as_str(), Style::Title)], 0.0);
    layout.gap(6.0);
    let mut field = |label: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            layout.paragraph(
                &[(&format!("{label}: "), Style::Bold), (&v, Style::Regular)],
                0.0,
            );
        }
    };
    if let Some(role) = path(xml, root, &["recordTarget", "patientRole"]) {
        let patient = child(xml, role, "patient");
        field(
            "Paziente",
            patient
                .and_then(|p| child(xml, p, "name"))
                .and_then(|n| person_name(xml, n)),
        );
        let ids: Vec<String> = xml
            .children_named(role, HL7_NS, "id")
            .filter_map(|id| xml.attr(id, "extension").map(str::to_string))
            .collect();
        field("Identificativi", (!ids.is_empty()).then(|| ids.join(", ")));
        field(
            "Data di nascita",
            patient
                .and_then(|p| child(xml, p, "birthTime"))
                .and_then(|b| xml.attr(b, "value"))
                .map(hl7_time),
        );
        field(
            "Sesso",
            patient
                .and_then(|p| child(xml, p, "administrativeGenderCode"))
                .and_then(|g| xml.attr(g, "code"))
                .map(|c| match c {
                    "M" => "maschile".to_string(),
                    "F" => "femminile".to_string(),
                    other => other.to_string(),
                }),
        );
    }
    if let Some(m) = &meta {
        field(
            "Data del documento",
            m.effective_time.as_deref().map(hl7_time),
        );
        field("Autore", m.author.as_ref().and_then(|a| a.name.clone()));
        field(
            "Struttura",
            m.custodian.as_ref().and_then(|c| c.name.clone()),
        );
        if let Some(la) = &m.legal_authenticator {
            let when = la
                .time
                .as_deref()
                .map(hl7_time)
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            field("Firmato da", la.name.clone().map(|n| format!("{n}{when}")));
        }
        field(
            "Identificativo documento",
            Some(
                m.document_id
                    .extension
                    .clone()
                    .map_or(m.document_id.root.clone(), |e| {
                        format!("{}^{e}", m.document_id.root)
                    }),
            ),
        );
        field("Versione", m.version_number.map(|v| v.to_string()));
    }
    layout.rule();
    title
}

fn body(xml: &XmlDocument, root: NodeId, layout: &mut Layout) {
    let Some(structured) = path(xml, root, &["component", "structuredBody"]) else {
        if let Some(nb) = path(xml, root, &["component", "nonXMLBody"]) {
            layout.paragraph(
                &[("Corpo non strutturato (allegato al CDA).", Style::Italic)],
                0.0,
            );
            let _ = nb;
        }
        return;
    };
    for comp in xml.children_named(structured, HL7_NS, "component") {
        if let Some(section) = child(xml, comp, "section") {
            render_section(xml, section, layout, 0);
        }
    }
}

fn render_section(xml: &XmlDocument, section: NodeId, layout: &mut Layout, depth: usize) {
    if depth > 8 {
        return;
    }
    let indent = depth as f32 * 12.0;
    let title = text_of(xml, child(xml, section, "title")).or_else(|| {
        child(xml, section, "code")
            .and_then(|c| xml.attr(c, "displayName"))
            .map(clean)
    });
    if let Some(t) = title {
        layout.gap(8.0);
        layout.paragraph(
            &[(
                &t,
                if depth == 0 {
                    Style::Heading
                } else {
                    Style::Bold
                },
            )],
            indent,
        );
    }
    if let Some(text) = child(xml, section, "text") {
        let mut runs = Vec::new();
        narrative(xml, text, layout, &mut runs, indent, 0);
        flush(layout, &mut runs, indent);
    }
    for comp in xml.children_named(section, HL7_NS, "component") {
        if let Some(sub) = child(xml, comp, "section") {
            render_section(xml, sub, layout, depth + 1);
        }
    }
}

fn flush(layout: &mut Layout, runs: &mut Vec<(String, Style)>, indent: f32) {
    let joined: String = runs.iter().map(|(t, _)| t.as_str()).collect();
    // A bullet whose item holds only a block (a table) prints no line of its own.
    if !joined.trim().is_empty() && joined.trim() != "\u{2022}" {
        let refs: Vec<(&str, Style)> = runs.iter().map(|(t, s)| (t.as_str(), *s)).collect();
        layout.paragraph(&refs, indent);
    }
    runs.clear();
}

/// Walks a narrative block: block elements start new paragraphs, inline
/// ones add runs.
fn narrative(
    xml: &XmlDocument,
    node: NodeId,
    layout: &mut Layout,
    runs: &mut Vec<(String, Style)>,
    indent: f32,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    for c in xml.children(node) {
        match xml.kind(c) {
            NodeKind::Text => {
                let raw = xml.value(c);
                let mut t = clean(raw);
                if t.is_empty() {
                    if !raw.is_empty() && !runs.is_empty() {
                        runs.push((" ".into(), Style::Regular));
                    }
                    continue;
                }
                if raw.starts_with(char::is_whitespace) && !runs.is_empty() {
                    t.insert(0, ' ');
                }
                if raw.ends_with(char::is_whitespace) {
                    t.push(' ');
                }
                runs.push((t, Style::Regular));
            }
            NodeKind::Element => match xml.local_name(c) {
                "br" => flush(layout, runs, indent),
                "paragraph" | "caption" => {
                    flush(layout, runs, indent);
                    let before = runs.len();
                    narrative(xml, c, layout, runs, indent, depth + 1);
                    if xml.local_name(c) == "caption" {
                        for r in runs.iter_mut().skip(before) {
                            r.1 = Style::Bold;
                        }
                    }
                    flush(layout, runs, indent);
                }
                "list" => {
                    flush(layout, runs, indent);
                    for item in xml.children_named(c, HL7_NS, "item") {
                        runs.push(("\u{2022} ".into(), Style::Regular));
                        narrative(xml, item, layout, runs, indent + 12.0, depth + 1);
                        flush(layout, runs, indent + 12.0);
                    }
                }
                "table" => {
                    flush(layout, runs, indent);
                    table(xml, c, layout, indent);
                }
                "renderMultiMedia" => runs.push(("[immagine]".into(), Style::Italic)),
                "footnote" | "footnoteRef" => {}
                _ => {
                    let before = runs.len();
                    narrative(xml, c, layout, runs, indent, depth + 1);
                    let style = xml.attr(c, "styleCode").unwrap_or_default();
                    if style.contains("Bold") {
                        for r in runs.iter_mut().skip(before) {
                            r.1 = Style::Bold;
                        }
                    }
                }
            },
            _ => {}
        }
    }
}

fn table(xml: &XmlDocument, table: NodeId, layout: &mut Layout, indent: f32) {
    let rows = xml
        .descendants(table)
        .filter(|&d| xml.is_element(d) && xml.local_name(d) == "tr");
    for tr in rows {
        let cells: Vec<(String, bool)> = xml
            .child_elements(tr)
            .filter(|&c| matches!(xml.local_name(c), "td" | "th"))
            .map(|c| {
                (
                    text_of(xml, Some(c)).unwrap_or_default(),
                    xml.local_name(c) == "th",
                )
            })
            .collect();
        if cells.iter().all(|(t, _)| t.is_empty()) {
            continue;
        }
        let header = cells.iter().all(|c| c.1);
        let text = cells
            .into_iter()
            .map(|c| c.0)
            .collect::<Vec<_>>()
            .join("  |  ");
        layout.paragraph(
            &[(&text, if header { Style::Bold } else { Style::Regular })],
            indent,
        );
    }
    layout.gap(4.0);
}

// --- Layout ---

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Title,
    Heading,
    Bold,
    Regular,
    Italic,
}

impl Style {
    fn font(self) -> (&'static str, f32) {
        match self {
            Style::Title => ("F2", 16.0),
            Style::Heading => ("F2", 12.0),
            Style::Bold => ("F2", 10.0),
            Style::Regular => ("F1", 10.0),
            Style::Italic => ("F3", 10.0),
        }
    }
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const BOTTOM: f32 = 64.0;

/// Encodes text for WinAnsiEncoding; unmappable characters become `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x7E | 0xA0..=0xFF => c as u32 as u8,
            _ => match c {
                '\u{20AC}' => 0x80,
                '\u{201A}' => 0x82,
                '\u{0192}' => 0x83,
                '\u{201E}' => 0x84,
                '\u{2026}' => 0x85,
                '\u{2020}' => 0x86,
                '\u{2021}' => 0x87,
                '\u{02C6}' => 0x88,
                '\u{2030}' => 0x89,
                '\u{0160}' => 0x8A,
                '\u{2039}' => 0x8B,
                '\u{0152}' => 0x8C,
                '\u{017D}' => 0x8E,
                '\u{2018}' => 0x91,
                '\u{2019}' => 0x92,
                '\u{201C}' => 0x93,
                '\u{201D}' => 0x94,
                '\u{2022}' => 0x95,
                '\u{2013}' => 0x96,
                '\u{2014}' => 0x97,
                '\u{02DC}' => 0x98,
                '\u{2122}' => 0x99,
                '\u{0161}' => 0x9A,
                '\u{203A}' => 0x9B,
                '\u{0153}' => 0x9C,
                '\u{017E}' => 0x9E,
                '\u{0178}' => 0x9F,
                '\t' | '\n' | '\r' => b' ',
                _ => b'?',
            },
        })
        .collect()
}

fn width(bytes: &[u8], style: Style) -> f32 {
    let (font, size) = style.font();
    let table = if font == "F1" || font == "F3" {
        &metrics::HELVETICA
    } else {
        &metrics::HELVETICA_BOLD
    };
    let units: u32 = bytes
        .iter()
        .map(|&b| {
            table
                .get(usize::from(b).wrapping_sub(32))
                .copied()
                .map_or(556, u32::from)
        })
        .sum();
    units as f32 * size / 1000.0
}

struct Layout {
    pages: Vec<Vec<u8>>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: PAGE_H - MARGIN,
        }
    }

    fn current(&mut self) -> &mut Vec<u8> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.pages.push(Vec::new());
            self.y = PAGE_H - MARGIN;
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn rule(&mut self) {
        self.gap(4.0);
        self.ensure(2.0);
        let y = self.y;
        let _ = writeln!(
            self.current(),
            "0.6 G 0.5 w {MARGIN} {y:.1} m {:.1} {y:.1} l S 0 G",
            PAGE_W - MARGIN
        );
        self.gap(8.0);
    }

    /// Lays out runs of styled text as one wrapped paragraph.
    fn paragraph(&mut self, runs: &[(&str, Style)], indent: f32) {
        let max_width = PAGE_W - 2.0 * MARGIN - indent;
        // Words keep their style; a line is a list of (bytes, style) pieces.
        let mut words: Vec<(Vec<u8>, Style, bool)> = Vec::new(); // (word, style, space before)
        let mut pending_space = false;
        for (text, style) in runs {
            for (i, piece) in text.split(' ').enumerate() {
                if i > 0 {
                    pending_space = true;
                }
                if piece.is_empty() {
                    continue;
                }
                words.push((win_ansi(piece), *style, pending_space && !words.is_empty()));
                pending_space = false;
            }
            if text.ends_with(' ') {
                pending_space = true;
            }
        }
        let mut lines: Vec<Vec<(Vec<u8>, Style)>> = vec![Vec::new()];
        let mut line_w = 0.0f32;
        for (mut word, style, space) in words {
            let space_w = if space { width(b" ", style) } else { 0.0 };
            let mut w = width(&word, style);
            if line_w > 0.0 && line_w + space_w + w > max_width {
                lines.push(Vec::new());
                line_w = 0.0;
            } else if space && line_w > 0.0 {
                if let Some(line) = lines.last_mut() {
                    line.push((b" ".to_vec(), style));
                }
                line_w += space_w;
            }
            // A word longer than a line is cut.
            while w > max_width && word.len() > 1 {
                let mut cut = word.len() - 1;
                while cut > 1 && width(&word[..cut], style) > max_width {
                    cut -= 1;
                }
                let rest = word.split_off(cut);
                if let Some(line) = lines.last_mut() {
                    line.push((word, style));
                }
                lines.push(Vec::new());
                word = rest;
                w = width(&word, style);
            }
            line_w += w;
            if let Some(line) = lines.last_mut() {
                line.push((word, style));
            }
        }
        for line in lines {
            let size = line.iter().map(|(_, s)| s.font().1).fold(10.0f32, f32::max);
            let lead = size * 1.3;
            self.ensure(lead);
            self.y -= lead;
            let y = self.y;
            let mut x = MARGIN + indent;
            let mut out = Vec::new();
            for (bytes, style) in &line {
                let (font, fsize) = style.font();
                let _ = write!(out, "BT /{font} {fsize} Tf {x:.2} {y:.2} Td ");
                write_object(&mut out, &Object::String(bytes.clone()));
                out.extend_from_slice(b" Tj ET\n");
                x += width(bytes, *style);
            }
            self.current().extend_from_slice(&out);
        }
    }

    /// Writes the pages into a complete PDF (no CDA yet).
    fn finish(self, title: &str, time: OffsetDateTime) -> Vec<u8> {
        let n = self.pages.len();
        // Objects: 1 catalog, 2 pages, 3–5 fonts, 6 info, then page + content pairs.
        let mut objects: Vec<Object> = Vec::new();
        let page_ids: Vec<u32> = (0..n as u32).map(|i| 7 + 2 * i).collect();
        objects.push(Object::Dict(
            Dict::new()
                .with("Type", Object::name("Catalog"))
                .with("Pages", crate::pdf::ObjRef::new(2))
                .with("Lang", Object::string("it-IT")),
        ));
        objects.push(Object::Dict(
            Dict::new()
                .with("Type", Object::name("Pages"))
                .with(
                    "Kids",
                    Object::Array(
                        page_ids
                            .iter()
                            .map(|&id| Object::Reference(crate::pdf::ObjRef::new(id)))
                            .collect(),
                    ),
                )
                .with("Count", n as i64),
        ));
        for base in ["Helvetica", "Helvetica-Bold", "Helvetica-Oblique"] {
            objects.push(Object::Dict(
                Dict::new()
                    .with("Type", Object::name("Font"))
                    .with("Subtype", Object::name("Type1"))
                    .with("BaseFont", Object::name(base))
                    .with("Encoding", Object::name("WinAnsiEncoding")),
            ));
        }
        let now = date::format(time);
        objects.push(Object::Dict(
            Dict::new()
                .with("Title", Object::text(title))
                .with("Producer", Object::string("fse2"))
                .with("CreationDate", Object::string(&now))
                .with("ModDate", Object::string(&now)),
        ));
        let fonts = Dict::new()
            .with("F1", crate::pdf::ObjRef::new(3))
            .with("F2", crate::pdf::ObjRef::new(4))
            .with("F3", crate::pdf::ObjRef::new(5));
        for (i, mut content) in self.pages.into_iter().enumerate() {
            let footer = format!("{title} \u{2014} pagina {} di {n}", i + 1);
            let _ = write!(content, "BT /F1 8 Tf {MARGIN} 36 Td ");
            write_object(&mut content, &Object::String(win_ansi(&footer)));
            content.extend_from_slice(b" Tj ET\n");
            let page_id = page_ids[i];
            objects.push(Object::Dict(
                Dict::new()
                    .with("Type", Object::name("Page"))
                    .with("Parent", crate::pdf::ObjRef::new(2))
                    .with(
                        "MediaBox",
                        Object::Array(vec![
                            0.into(),
                            0.into(),
                            Object::Integer(PAGE_W as i64),
                            Object::Integer(PAGE_H as i64),
                        ]),
                    )
                    .with("Resources", Dict::new().with("Font", fonts.clone()))
                    .with("Contents", crate::pdf::ObjRef::new(page_id + 1)),
            ));
            objects.push(Object::Stream(Stream {
                dict: Dict::new().with("Filter", Object::name("FlateDecode")),
                data: deflate(&content, 6),
            }));
        }
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, obj) in objects.iter().enumerate() {
            offsets.push(out.len());
            let _ = writeln!(out, "{} 0 obj", i + 1);
            write_object(&mut out, obj);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        let _ = write!(out, "xref\n0 {}\n0000000000 65535 f\r\n", objects.len() + 1);
        for off in offsets {
            let _ = write!(out, "{off:010} 00000 n\r\n");
        }
        let _ = write!(
            out,
            "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_ansi_keeps_italian_letters() {
        assert_eq!(
            win_ansi("Città è però — €"),
            b"Citt\xe0 \xe8 per\xf2 \x97 \x80".to_vec()
        );
        assert_eq!(win_ansi("日"), b"?".to_vec());
    }

    #[test]
    fn widths_follow_the_metrics() {
        // "Aa" in Helvetica 10 pt: (667 + 556) / 100.
        assert!((width(b"Aa", Style::Regular) - 12.23).abs() < 0.001);
        assert!(width(b"W", Style::Bold) > width(b"i", Style::Bold));
    }

    #[test]
    fn long_text_breaks_pages() {
        let mut layout = Layout::new();
        let text = "parola ".repeat(5000);
        layout.paragraph(&[(&text, Style::Regular)], 0.0);
        assert!(layout.pages.len() > 3, "{} pages", layout.pages.len());
    }

    #[test]
    fn rejects_non_cda_xml() {
        assert!(matches!(render(b"<a/>"), Err(Error::Inject(_))));
        assert!(matches!(render(b"<a>"), Err(Error::Xml(_))));
    }
}
