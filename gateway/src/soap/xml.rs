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
pub fn envelope_head(version: SoapVersion) -> &'static str {
    match version {
        SoapVersion::V11 => concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap=""#,
            "http://schemas.xmlsoap.org/soap/envelope/",
            r#""><soap:Body>"#
        ),
        SoapVersion::V12 => concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap=""#,
            "http://www.w3.org/2003/05/soap-envelope",
            r#""><soap:Body>"#
        ),
    }
}

/// The envelope after the body content.
pub const ENVELOPE_TAIL: &str = "</soap:Body></soap:Envelope>";

/// Wraps body content in an envelope of the request's SOAP version.
pub fn envelope(version: SoapVersion, body: &str) -> String {
    let head = envelope_head(version);
    let mut out = String::with_capacity(head.len() + body.len() + ENVELOPE_TAIL.len());
    out.push_str(head);
    out.push_str(body);
    out.push_str(ENVELOPE_TAIL);
    out
}

/// A whole answer as an HTTP body without copying the content into the envelope: the head, the
/// content and the tail go out as three buffers, and the length is known (`Content-Length`).
pub struct Enveloped {
    parts: [Option<bytes::Bytes>; 3],
    remaining: u64,
}

impl Enveloped {
    pub fn new(version: SoapVersion, content: String) -> Self {
        let head = bytes::Bytes::from_static(envelope_head(version).as_bytes());
        let content = bytes::Bytes::from(content);
        let tail = bytes::Bytes::from_static(ENVELOPE_TAIL.as_bytes());
        let remaining = (head.len() + content.len() + tail.len()) as u64;
        Enveloped { parts: [Some(head), Some(content), Some(tail)], remaining }
    }
}

impl http_body::Body for Enveloped {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let next = self.parts.iter_mut().find_map(Option::take);
        if let Some(b) = &next {
            self.remaining -= b.len() as u64;
        }
        std::task::Poll::Ready(next.map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_enveloped_answer_is_the_envelope_with_its_length_known() {
        use http_body::Body as _;
        for version in [SoapVersion::V11, SoapVersion::V12] {
            let content = "<A><b>ø</b></A>".to_owned();
            let body = Enveloped::new(version, content.clone());
            let len = envelope(version, &content).len() as u64;
            assert_eq!(body.size_hint().exact(), Some(len), "Content-Length is known");
            let bytes = axum::body::to_bytes(axum::body::Body::new(body), usize::MAX).await.unwrap();
            assert_eq!(bytes, envelope(version, &content).as_bytes());
        }
    }

    #[test]
    fn unpublishable_characters_never_reach_an_answer() {
        assert_eq!(escape_text("Børnehave <A&B>"), "Børnehave &lt;A&amp;B&gt;");
        let mut x = XmlOut::default();
        x.text("navn", "Ond\u{1b}\u{0}\u{FFFE}\u{85}<x>");
        assert_eq!(x.finish(), "<navn>Ond\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}&lt;x&gt;</navn>");
    }
}
