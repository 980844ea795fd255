//! A small element tree and its deterministic, indented serialization.
//!
//! The builder assembles documents as [`El`] trees and writes them with
//! [`El::write_document`]: two spaces per level, attributes in insertion
//! order, empty elements self-closed, and the content of any element that
//! holds text (narrative mixed content) written inline so no whitespace is
//! added to it.

/// An element: name, attributes in order, children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A child element.
    El(El),
    /// Character data, escaped when written.
    Text(String),
}

impl El {
    /// An element without attributes or children.
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Adds an attribute.
    pub(crate) fn attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attrs.push((name.to_string(), value.into()));
        self
    }

    /// Adds an attribute when there is a value.
    pub(crate) fn attr_opt(self, name: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.attr(name, v),
            None => self,
        }
    }

    /// Adds a child element.
    pub(crate) fn child(mut self, child: El) -> Self {
        self.children.push(Node::El(child));
        self
    }

    /// Adds a child element when there is one.
    pub(crate) fn child_opt(self, child: Option<El>) -> Self {
        match child {
            Some(c) => self.child(c),
            None => self,
        }
    }

    /// Adds child elements.
    pub(crate) fn children(mut self, children: impl IntoIterator<Item = El>) -> Self {
        self.children.extend(children.into_iter().map(Node::El));
        self
    }

    /// Adds text.
    pub(crate) fn text(mut self, text: impl Into<String>) -> Self {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Adds a child element in place.
    pub(crate) fn push(&mut self, child: El) {
        self.children.push(Node::El(child));
    }

    /// The whole document: an XML declaration, then the element, then a newline.
    pub(crate) fn write_document(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        indent(out, depth);
        self.write_inline_start(out);
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        if self.children.iter().any(|c| matches!(c, Node::Text(_))) {
            for child in &self.children {
                child.write_inline(out);
            }
        } else {
            for child in &self.children {
                out.push('\n');
                if let Node::El(el) = child {
                    el.write(out, depth + 1);
                }
            }
            out.push('\n');
            indent(out, depth);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    fn write_inline_start(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (name, value) in &self.attrs {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            escape(value, true, out);
            out.push('"');
        }
    }
}

impl Node {
    fn write_inline(&self, out: &mut String) {
        match self {
            Node::Text(t) => escape(t, false, out),
            Node::El(el) => {
                el.write_inline_start(out);
                if el.children.is_empty() {
                    out.push_str("/>");
                } else {
                    out.push('>');
                    for child in &el.children {
                        child.write_inline(out);
                    }
                    out.push_str("</");
                    out.push_str(&el.name);
                    out.push('>');
                }
            }
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn escape(text: &str, attribute: bool, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            // Characters XML 1.0 forbids cannot be escaped either: drop them.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_indented_elements_and_inline_mixed_content() {
        let doc = El::new("a")
            .attr("x", "1 & \"2\"")
            .child(El::new("b"))
            .child(
                El::new("p")
                    .text("one ")
                    .child(El::new("c").text("<two>"))
                    .text(" three"),
            )
            .child(El::new("d").child(El::new("e").attr("v", "x\ny")));
        assert_eq!(
            doc.write_document(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <a x=\"1 &amp; &quot;2&quot;\">\n  <b/>\n  <p>one <c>&lt;two&gt;</c> three</p>\n  \
             <d>\n    <e v=\"x&#10;y\"/>\n  </d>\n</a>\n"
        );
    }

    #[test]
    fn control_characters_are_dropped() {
        let doc = El::new("a").text("x\u{1}y\u{FFFF}");
        assert_eq!(
            doc.write_document(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>xy</a>\n"
        );
    }
}
