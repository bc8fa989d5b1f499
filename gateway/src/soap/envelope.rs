//! A bounded parser for SOAP request envelopes. It refuses DOCTYPE (and with it every entity
//! trick) and processing instructions, and enforces depth, element-count and text limits while
//! it reads, so hostile input costs bounded time and memory.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::{SOAP11_NS, SOAP12_NS, SoapVersion};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_elements: usize,
    pub max_text_bytes: usize,
    /// Attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    pub max_attribute_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_elements: 10_000,
            max_text_bytes: 64 * 1024,
            max_attributes: 64,
            max_attribute_bytes: 4096,
        }
    }
}

/// One element of the request body: namespace, local name, text, children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with this local name, qualified in `ns` or unqualified.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name && (c.ns.is_none() || c.ns == self.ns))
    }
}

/// WS-Addressing 1.0, whose `MessageID` header is the key of a safe retry.
pub const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";

#[derive(Debug)]
pub struct Envelope {
    pub version: SoapVersion,
    /// The Body's first child: the operation.
    pub operation: Element,
    /// The Header's `wsa:MessageID`, trimmed, if there is one.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("XML er ikke velformet: {0}")]
    Malformed(String),
    #[error("DOCTYPE er ikke tilladt i SOAP-beskeder")]
    Doctype,
    #[error("processing instructions er ikke tilladt i SOAP-beskeder")]
    ProcessingInstruction,
    #[error("rodelementet er ikke en SOAP Envelope")]
    NotEnvelope,
    #[error("ukendt SOAP-version (Envelope-navnerum {0})")]
    VersionMismatch(String),
    #[error("Envelope mangler Body eller Body er tom")]
    NoOperation,
    #[error("beskeden er for dybt indlejret (højst {0} niveauer)")]
    TooDeep(usize),
    #[error("beskeden har for mange elementer (højst {0})")]
    TooManyElements(usize),
    #[error("en tekstværdi er for lang (højst {0} bytes)")]
    TextTooLong(usize),
    #[error("et element har for mange attributter (højst {0})")]
    TooManyAttributes(usize),
    #[error("en attributværdi er for lang (højst {0} bytes)")]
    AttributeTooLong(usize),
}

/// Counts an element's attributes up to the limit (no duplicate check, which is quadratic).
fn check_attributes(e: &quick_xml::events::BytesStart<'_>, limits: &Limits) -> Result<(), ParseError> {
    for (n, a) in e.attributes().with_checks(false).enumerate() {
        if n >= limits.max_attributes {
            return Err(ParseError::TooManyAttributes(limits.max_attributes));
        }
        let a = a.map_err(|e| ParseError::Malformed(e.to_string()))?;
        if a.value.len() > limits.max_attribute_bytes {
            return Err(ParseError::AttributeTooLong(limits.max_attribute_bytes));
        }
    }
    Ok(())
}

fn ns_of(r: &ResolveResult<'_>) -> Result<Option<String>, ParseError> {
    match r {
        ResolveResult::Bound(ns) => Ok(Some(ns.0.to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(p) => Err(ParseError::Malformed(format!("ukendt navnerumspræfiks {p:?}"))),
    }
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => return None,
    })
}

/// Parses a request envelope (text already decoded to UTF-8, BOM removed).
pub fn parse(xml: &str, limits: &Limits) -> Result<Envelope, ParseError> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let malformed = |e: quick_xml::Error| ParseError::Malformed(e.to_string());

    let mut version = None;
    // Stack of open elements of the operation subtree (index 0 = operation).
    let mut stack: Vec<Element> = Vec::new();
    let mut operation = None;
    let mut depth = 0usize;
    let mut elements = 0usize;
    // Inside the Body (Envelope is depth 1, Body depth 2, the operation depth 3).
    let mut in_body = false;
    let mut in_header = false;
    // The text of a Header's wsa:MessageID while it is being read, then the value.
    let mut reading_id: Option<String> = None;
    let mut message_id = None;

    loop {
        let (res, ev) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match &ev {
            Event::Start(_) | Event::Empty(_) => ns_of(&res)?,
            _ => None,
        };
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                depth += 1;
                elements += 1;
                if depth > limits.max_depth {
                    return Err(ParseError::TooDeep(limits.max_depth));
                }
                if elements > limits.max_elements {
                    return Err(ParseError::TooManyElements(limits.max_elements));
                }
                check_attributes(e, limits)?;
                let name = e.local_name().as_ref().to_owned();
                if depth == 1 {
                    if name != "Envelope" {
                        return Err(ParseError::NotEnvelope);
                    }
                    version = Some(match ns.as_deref() {
                        Some(SOAP11_NS) => SoapVersion::V11,
                        Some(SOAP12_NS) => SoapVersion::V12,
                        other => return Err(ParseError::VersionMismatch(other.unwrap_or("ingen").to_owned())),
                    });
                } else if depth == 2 {
                    in_body = name == "Body" && ns.as_deref() == version.map(SoapVersion::namespace);
                    in_header = name == "Header" && ns.as_deref() == version.map(SoapVersion::namespace);
                } else if in_header && depth == 3 && name == "MessageID" && ns.as_deref() == Some(WSA_NS) {
                    reading_id = Some(String::new());
                } else if in_body
                    && ((depth == 3 && operation.is_none() && stack.is_empty()) || (depth > 3 && !stack.is_empty()))
                {
                    // Only the Body's first child (the operation) and what is inside it is kept.
                    stack.push(Element { ns, name, ..Element::default() });
                }
                if empty {
                    close(&mut stack, &mut operation, depth, in_body);
                    if depth == 3 {
                        reading_id = None;
                    }
                    depth -= 1;
                }
            }
            Event::End(_) => {
                close(&mut stack, &mut operation, depth, in_body);
                if depth == 3
                    && in_header
                    && let Some(id) = reading_id.take()
                {
                    message_id = message_id.or(Some(id.trim().to_owned()));
                }
                if depth == 2 {
                    in_body = false;
                    in_header = false;
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if reading_id.is_some() => append_id(&mut reading_id, &t.xml10_content(), limits)?,
            Event::Text(t) => append(&mut stack, &t.xml10_content(), limits)?,
            Event::CData(c) => {
                let text: &str = c.as_ref();
                if reading_id.is_some() {
                    append_id(&mut reading_id, text, limits)?;
                } else {
                    append(&mut stack, text, limits)?;
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c,
                    None => {
                        let name = r.xml10_content();
                        predefined_entity(&name)
                            .ok_or_else(|| ParseError::Malformed(format!("ukendt entitet &{name};")))?
                    }
                };
                if reading_id.is_some() {
                    append_id(&mut reading_id, ch.encode_utf8(&mut [0; 4]), limits)?;
                } else {
                    append(&mut stack, ch.encode_utf8(&mut [0; 4]), limits)?;
                }
            }
            Event::DocType(_) => return Err(ParseError::Doctype),
            Event::PI(_) => return Err(ParseError::ProcessingInstruction),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(ParseError::Malformed("dokumentet slutter før alle elementer er lukket".into()));
    }
    let version = version.ok_or(ParseError::NotEnvelope)?;
    let operation = operation.ok_or(ParseError::NoOperation)?;
    let message_id = message_id.filter(|id| !id.is_empty());
    Ok(Envelope { version, operation, message_id })
}

fn append_id(id: &mut Option<String>, text: &str, limits: &Limits) -> Result<(), ParseError> {
    if let Some(id) = id {
        if id.len() + text.len() > limits.max_text_bytes {
            return Err(ParseError::TextTooLong(limits.max_text_bytes));
        }
        id.push_str(text);
    }
    Ok(())
}

/// Closes the element at `depth`: attaches it to its parent, or makes it the operation.
fn close(stack: &mut Vec<Element>, operation: &mut Option<Element>, depth: usize, in_body: bool) {
    if !in_body || depth < 3 || stack.len() + 2 != depth {
        return;
    }
    if let Some(done) = stack.pop() {
        match stack.last_mut() {
            Some(parent) => parent.children.push(done),
            None => *operation = Some(done),
        }
    }
}

fn append(stack: &mut [Element], text: &str, limits: &Limits) -> Result<(), ParseError> {
    if let Some(cur) = stack.last_mut() {
        if cur.text.len() + text.len() > limits.max_text_bytes {
            return Err(ParseError::TextTooLong(limits.max_text_bytes));
        }
        cur.text.push_str(text);
    } else if text.len() > limits.max_text_bytes {
        return Err(ParseError::TextTooLong(limits.max_text_bytes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(xml: &str) -> Result<Envelope, ParseError> {
        parse(xml, &Limits::default())
    }

    #[test]
    fn parses_any_prefix_and_entities() {
        let env = p(r#"<?xml version="1.0"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header/><e:Body><x:Op xmlns:x="urn:t"><x:a>1 &amp; 2 &#65;</x:a><b><![CDATA[<c>]]></b></x:Op></e:Body></e:Envelope>"#).unwrap();
        assert_eq!(env.version, SoapVersion::V12);
        assert_eq!(env.operation.name, "Op");
        assert_eq!(env.operation.ns.as_deref(), Some("urn:t"));
        assert_eq!(env.operation.child("a").unwrap().text, "1 & 2 A");
        assert_eq!(env.operation.child("b").unwrap().text, "<c>");
    }

    #[test]
    fn empty_operation_element() {
        let env = p(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><HelloWorld xmlns="urn:t"/></s:Body></s:Envelope>"#).unwrap();
        assert_eq!(env.version, SoapVersion::V11);
        assert_eq!(env.operation.name, "HelloWorld");
        assert!(env.operation.children.is_empty());
    }

    #[test]
    fn refuses_hostile_and_broken_input() {
        let doctype = r#"<!DOCTYPE x [<!ENTITY a "b">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><A/></s:Body></s:Envelope>"#;
        assert_eq!(p(doctype).unwrap_err(), ParseError::Doctype);
        let pi = r#"<?xml-stylesheet href="x"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><A/></s:Body></s:Envelope>"#;
        assert_eq!(p(pi).unwrap_err(), ParseError::ProcessingInstruction);
        assert!(matches!(p("<a><b></a>").unwrap_err(), ParseError::Malformed(_) | ParseError::NotEnvelope));
        assert!(matches!(
            p(r#"<s:Envelope xmlns:s="urn:wrong"><s:Body/></s:Envelope>"#).unwrap_err(),
            ParseError::VersionMismatch(_)
        ));
        assert_eq!(
            p(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body></s:Body></s:Envelope>"#)
                .unwrap_err(),
            ParseError::NoOperation
        );
        let truncated = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><A>"#;
        assert!(matches!(p(truncated).unwrap_err(), ParseError::Malformed(_)));
        let deep = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{}{}</s:Body></s:Envelope>"#,
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        assert_eq!(p(&deep).unwrap_err(), ParseError::TooDeep(64));
        let attrs = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><A {}/></s:Body></s:Envelope>"#,
            (0..1000).map(|i| format!("a{i}=\"x\"")).collect::<Vec<_>>().join(" ")
        );
        assert_eq!(p(&attrs).unwrap_err(), ParseError::TooManyAttributes(64));
        let long_attr = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><A a="{}"/></s:Body></s:Envelope>"#,
            "x".repeat(5000)
        );
        assert_eq!(p(&long_attr).unwrap_err(), ParseError::AttributeTooLong(4096));
        let unknown_entity = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><A>&x;</A></s:Body></s:Envelope>"#;
        assert!(matches!(p(unknown_entity).unwrap_err(), ParseError::Malformed(_)));
    }

    #[test]
    fn reads_the_ws_addressing_message_id_of_the_header_only() {
        let env = |header: &str, body: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>{header}</s:Header><s:Body><A>{body}</A></s:Body></s:Envelope>"#
            )
        };
        let id = |xml: &str| p(xml).unwrap().message_id;
        let wsa = r#"<a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing"> urn:uuid:1 </a:MessageID>"#;
        assert_eq!(id(&env(wsa, "")), Some("urn:uuid:1".into()), "trimmed, any prefix");
        let split = r#"<MessageID xmlns="http://www.w3.org/2005/08/addressing">urn:&amp;<![CDATA[x]]></MessageID>"#;
        assert_eq!(id(&env(split, "")), Some("urn:&x".into()), "entities and CDATA");
        let other_ns = r#"<MessageID xmlns="urn:other">urn:uuid:2</MessageID>"#;
        assert_eq!(id(&env(other_ns, "")), None, "another namespace's MessageID is not the key");
        assert_eq!(id(&env("", wsa)), None, "a MessageID in the Body is data, not the header");
        let empty = r#"<a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing"/>"#;
        assert_eq!(id(&env(empty, "")), None, "an empty MessageID is none");
        let nested = r#"<x:H xmlns:x="urn:h"><a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">urn:3</a:MessageID></x:H>"#;
        assert_eq!(id(&env(nested, "")), None, "only a header block itself");
        assert_eq!(p(&env(wsa, "t")).unwrap().operation.text, "t", "the Body is read as before");
    }
}
