//! Writing answers: a small builder that escapes every text and attribute value, and never
//! writes a character XML 1.0 cannot carry, whatever is stored.

use quick_xml::escape::escape;

use super::SoapVersion;

/// Builds XML into a string. Element names are our own constants; text is always escaped.
#[derive(Default)]
pub struct XmlOut {
    buf: String,
}

impl XmlOut {
    pub fn with_capacity(n: usize) -> Self {
        XmlOut { buf: String::with_capacity(n) }
    }

    /// `<name xmlns="ns">`
    pub fn open_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str(" xmlns=\"");
        self.buf.push_str(&escape_text(ns));
        self.buf.push_str("\">");
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// `<name>text</name>`
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(name);
        self.buf.push_str(&escape_text(value));
        self.close(name)
    }

    /// Writes the element only when there is a value (`minOccurs="0"` fields).
    pub fn opt_text(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.text(name, v);
        }
        self
    }

    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    pub fn finish(self) -> String {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Hands over what is written so far and goes on with an empty buffer of the same capacity
    /// (streamed answers send it as one chunk).
    pub fn take(&mut self) -> String {
        let capacity = self.buf.capacity();
        std::mem::replace(&mut self.buf, String::with_capacity(capacity))
    }
}

/// `value` escaped for text or an attribute; a character an XML reader would choke on (a value
/// stored before the register refused them, or planted in the database) becomes U+FFFD, so one
/// record can never break an answer for everyone.
pub fn escape_text(value: &str) -> std::borrow::Cow<'_, str> {
    match dtr_proto::tekst::publishable_text(value) {
        std::borrow::Cow::Borrowed(clean) => escape(clean),
        std::borrow::Cow::Owned(clean) => std::borrow::Cow::Owned(escape(&clean).into_owned()),
    }
}

/// The envelope up to and including `<soap:Body>`.
pub fn envelope_head(version: SoapVersion) -> String {
    let mut out = String::with_capacity(160);
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap=""#);
    out.push_str(version.namespace());
    out.push_str(r#""><soap:Body>"#);
    out
}

/// The envelope after the body content.
pub const ENVELOPE_TAIL: &str = "</soap:Body></soap:Envelope>";

/// Wraps body content in an envelope of the request's SOAP version.
pub fn envelope(version: SoapVersion, body: &str) -> String {
    let mut out = envelope_head(version);
    out.reserve(body.len() + ENVELOPE_TAIL.len());
    out.push_str(body);
    out.push_str(ENVELOPE_TAIL);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpublishable_characters_never_reach_an_answer() {
        assert_eq!(escape_text("Børnehave <A&B>"), "Børnehave &lt;A&amp;B&gt;");
        let mut x = XmlOut::default();
        x.text("navn", "Ond\u{1b}\u{0}\u{FFFE}\u{85}<x>");
        assert_eq!(x.finish(), "<navn>Ond\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}&lt;x&gt;</navn>");
    }
}
