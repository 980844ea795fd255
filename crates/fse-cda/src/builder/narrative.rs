//! Sections and their narrative text, generated from the entries.

use super::xml::El;
use crate::metadata::OID_LOINC;

/// `<section>` with its templateId (when the IG has one), LOINC code and title.
pub(crate) fn section(template: Option<&str>, code: &str, display: &str, title: &str) -> El {
    El::new("section")
        .child_opt(template.map(|t| El::new("templateId").attr("root", t)))
        .child(loinc("code", code, display))
        .child(El::new("title").text(title))
}

/// A LOINC-coded element.
pub(crate) fn loinc(name: &str, code: &str, display: &str) -> El {
    El::new(name)
        .attr("code", code)
        .attr("codeSystem", OID_LOINC)
        .attr("codeSystemName", "LOINC")
        .attr("displayName", display)
}

/// `<text>` of paragraphs: one per block of the input separated by a blank line.
pub(crate) fn text_paragraphs(text: &str) -> El {
    El::new("text").children(paragraphs(text))
}

/// The paragraphs of a text, blank lines separating them; whitespace
/// inside a paragraph is collapsed.
pub(crate) fn paragraphs(text: &str) -> Vec<El> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                let joined = current
                    .iter()
                    .flat_map(|l| l.split_whitespace())
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push(El::new("paragraph").text(joined));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    out
}

/// A table cell: text, with an ID when an entry refers to it.
pub(crate) struct Cell {
    text: String,
    id: Option<String>,
}

impl Cell {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            id: None,
        }
    }

    pub(crate) fn with_id(text: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            id: Some(id.into()),
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::new(text)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::new(text)
    }
}

/// `<table>` with a header row and body rows.
pub(crate) fn table(head: &[&str], rows: Vec<Vec<Cell>>) -> El {
    let header = El::new("tr").children(head.iter().map(|h| El::new("th").text(*h)));
    let body = rows.into_iter().map(|row| {
        El::new("tr").children(row.into_iter().map(|cell| {
            let td = El::new("td").attr_opt("ID", cell.id);
            if cell.text.is_empty() {
                td
            } else {
                td.text(cell.text)
            }
        }))
    });
    El::new("table")
        .child(El::new("thead").child(header))
        .child(El::new("tbody").children(body))
}

/// `<reference value="#id"/>`.
pub(crate) fn reference(id: &str) -> El {
    El::new("reference").attr("value", format!("#{id}"))
}

/// `<text><reference value="#id"/></text>`, how an entry points at its narrative.
pub(crate) fn text_ref(id: &str) -> El {
    El::new("text").child(reference(id))
}

/// `<statusCode code=…/>`.
pub(crate) fn status(code: &str) -> El {
    El::new("statusCode").attr("code", code)
}

/// `<effectiveTime value=…/>`.
pub(crate) fn effective_at(at: &super::Timestamp) -> El {
    El::new("effectiveTime").attr("value", at.as_str())
}

/// `<effectiveTime><low/>[<high/>]</effectiveTime>`, with an optional `xsi:type`.
pub(crate) fn effective_interval(
    low: &super::Timestamp,
    high: Option<&super::Timestamp>,
    xsi_type: Option<&str>,
) -> El {
    El::new("effectiveTime")
        .attr_opt("xsi:type", xsi_type)
        .child(El::new("low").attr("value", low.as_str()))
        .child_opt(high.map(|h| El::new("high").attr("value", h.as_str())))
}

/// `<component><section/></component>`.
pub(crate) fn component(section: El) -> El {
    El::new("component").child(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_split_paragraphs() {
        let ps = paragraphs("  uno\n  due  \n\n\ntre\n");
        assert_eq!(
            ps,
            vec![
                El::new("paragraph").text("uno due"),
                El::new("paragraph").text("tre")
            ]
        );
        assert!(paragraphs(" \n ").is_empty());
    }
}
