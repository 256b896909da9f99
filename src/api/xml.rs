//! S3's XML, through quick-xml: [`XmlDoc`] writes the response documents (and the S3 error
//! document), [`DeleteDocument`] reads the DeleteObjects request body.
//!
//! The bytes written are the ones the hand-built documents had, because boto3 and the AWS CLI
//! parse them: an XML declaration, a newline, then the document without indentation; text
//! escaped with the five predefined entities (quick-xml's [`escape`]), plus control characters
//! as character references (see [`xml_escape`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesDecl, BytesEnd, BytesRef, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// The namespace of every S3 response document (but the error document).
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escapes text for an XML element or attribute.
///
/// XML 1.0 cannot carry most control characters even escaped as entities; S3 keys may hold
/// them, so they are written as character references, which the SDKs' parsers accept for the
/// whitespace ones and which cannot break the document. quick-xml's writer would put them in
/// raw, hence this step on top of its [`escape`].
pub fn xml_escape(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r');
    let escaped = escape(text);
    if !escaped.contains(forbidden) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 8);
    for c in escaped.chars() {
        if forbidden(c) {
            // Writing into a String cannot fail.
            let _ = write!(out, "&#x{:X};", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An XML document being written: declaration, root element, and whatever goes inside it.
pub struct XmlDoc {
    writer: Writer<Vec<u8>>,
    root: &'static str,
}

impl XmlDoc {
    /// `<?xml version="1.0" encoding="UTF-8"?>`, a newline and `<root xmlns="...">`.
    pub fn new(root: &'static str, xmlns: Option<&str>) -> XmlDoc {
        let mut doc = XmlDoc {
            writer: Writer::new(Vec::with_capacity(512)),
            root,
        };
        doc.emit(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        doc.emit(Event::Text(BytesText::from_escaped("\n")));
        let start = BytesStart::new(root);
        doc.emit(Event::Start(match xmlns {
            Some(ns) => start.with_attributes([("xmlns", ns)]),
            None => start,
        }));
        doc
    }

    /// A document in S3's namespace.
    pub fn s3(root: &'static str) -> XmlDoc {
        XmlDoc::new(root, Some(S3_XMLNS))
    }

    fn emit(&mut self, event: Event<'_>) {
        // The writer writes into a Vec, which cannot fail.
        let _ = self.writer.write_event(event);
    }

    /// Escaped text at the current position.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.emit(Event::Text(BytesText::from_escaped(xml_escape(text))));
        self
    }

    /// `<name>text</name>` (an empty `text` still gives both tags, as S3 writes them).
    pub fn element(&mut self, name: &str, text: &str) -> &mut Self {
        self.emit(Event::Start(BytesStart::new(name)));
        self.text(text);
        self.emit(Event::End(BytesEnd::new(name)));
        self
    }

    /// `<name>`, whatever `fill` writes, `</name>`.
    pub fn group(&mut self, name: &str, fill: impl FnOnce(&mut XmlDoc)) -> &mut Self {
        self.emit(Event::Start(BytesStart::new(name)));
        fill(self);
        self.emit(Event::End(BytesEnd::new(name)));
        self
    }

    /// Closes the root element and returns the document.
    pub fn finish(mut self) -> String {
        self.emit(Event::End(BytesEnd::new(self.root)));
        // Every byte written came from a &str, so this is UTF-8.
        String::from_utf8_lossy(&self.writer.into_inner()).into_owned()
    }
}

/// A DeleteObjects request body: `<Delete><Quiet>..</Quiet><Object><Key>..</Key>..</Object>..`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeleteDocument {
    /// Report only the keys that could not be deleted.
    pub quiet: bool,
    /// The keys, unescaped, in document order.
    pub keys: Vec<String>,
}

/// Why a request body is not the XML document it should be.
#[derive(Debug, PartialEq, Eq)]
pub struct MalformedXml;

impl DeleteDocument {
    /// Reads a DeleteObjects body. Elements it does not know (`VersionId`, `ETag`) are skipped;
    /// namespaces are ignored, as the SDKs send S3's but need not.
    pub fn parse(doc: &str) -> Result<DeleteDocument, MalformedXml> {
        let mut reader = Reader::from_str(doc);
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut out = DeleteDocument::default();
        let mut saw_root = false;
        loop {
            match reader.read_event().map_err(|_| MalformedXml)? {
                Event::Start(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if path.is_empty() {
                        if saw_root || name != "Delete" {
                            return Err(MalformedXml);
                        }
                        saw_root = true;
                    }
                    path.push(name);
                    text.clear();
                }
                Event::Empty(e) if path.is_empty() => {
                    // `<Delete/>`: a document naming no keys.
                    if saw_root || e.local_name().as_ref() != b"Delete" {
                        return Err(MalformedXml);
                    }
                    saw_root = true;
                }
                Event::Text(t) => text.push_str(&t.decode().map_err(|_| MalformedXml)?),
                Event::CData(t) => text.push_str(&t.decode().map_err(|_| MalformedXml)?),
                Event::GeneralRef(r) => push_reference(&mut text, &r)?,
                Event::End(_) => {
                    let names: Vec<&str> = path.iter().map(String::as_str).collect();
                    match names.as_slice() {
                        ["Delete", "Object", "Key"] => out.keys.push(std::mem::take(&mut text)),
                        ["Delete", "Quiet"] => out.quiet = text.trim() == "true",
                        _ => {}
                    }
                    path.pop();
                    text.clear();
                }
                Event::Eof if path.is_empty() && saw_root => return Ok(out),
                Event::Eof => return Err(MalformedXml),
                _ => {}
            }
        }
    }
}

/// Appends what `&name;` or `&#N;` stands for. An entity XML does not predefine is kept as
/// written, as the key may well contain it literally.
fn push_reference(text: &mut String, r: &BytesRef<'_>) -> Result<(), MalformedXml> {
    if r.is_char_ref() {
        let c = r.resolve_char_ref().map_err(|_| MalformedXml)?;
        text.push(c.ok_or(MalformedXml)?);
        return Ok(());
    }
    let name = r.decode().map_err(|_| MalformedXml)?;
    match resolve_predefined_entity(&name) {
        Some(s) => text.push_str(s),
        None => {
            text.push('&');
            text.push_str(&name);
            text.push(';');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_references() {
        assert_eq!(xml_escape("a\u{1}b\tc"), "a&#x1;b\tc");
        assert_eq!(xml_escape("<'&\">"), "&lt;&apos;&amp;&quot;&gt;");
    }

    #[test]
    fn documents_are_written_flat_after_the_declaration() {
        let mut d = XmlDoc::s3("R");
        d.element("A", "x&y").group("G", |g| {
            g.element("E", "");
        });
        assert_eq!(
            d.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><A>x&amp;y</A><G><E></E></G></R>"
        );
        let mut e = XmlDoc::new("Error", None);
        e.text("t");
        assert_eq!(
            e.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>t</Error>"
        );
    }

    #[test]
    fn delete_documents() {
        let doc = "<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c/&#x41;</Key></Object></Delete>";
        let d = DeleteDocument::parse(doc).unwrap();
        assert_eq!(d.keys, ["a&b", "c/A"]);
        assert!(!d.quiet);
        let boto =
            "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key> sp </Key>\
                    <VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>";
        let d = DeleteDocument::parse(boto).unwrap();
        assert_eq!(
            (d.keys.as_slice(), d.quiet),
            (&[" sp ".to_string()][..], true)
        );
        assert_eq!(
            DeleteDocument::parse("<Delete><Object><Key>&odd;</Key></Object></Delete>")
                .unwrap()
                .keys,
            ["&odd;"]
        );
        assert_eq!(DeleteDocument::parse("<Delete/>").unwrap().keys.len(), 0);
        for bad in [
            "<Nope/>",
            "<Delete><Object>",
            "<Delete></Nope>",
            "",
            "<Delete/><Delete/>",
        ] {
            assert_eq!(DeleteDocument::parse(bad), Err(MalformedXml), "{bad}");
        }
    }
}
