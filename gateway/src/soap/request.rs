//! A SOAP request as HTTP delivers it: the body, read within its limit; its character set
//! (header, XML declaration, BOM); the action (SOAPAction header for 1.1, `action` parameter for
//! 1.2).

/// A request body as text, or why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CharsetError {
    #[error("tegnsættet {0:?} understøttes ikke: send UTF-8 (anbefalet) eller ISO-8859-1")]
    Unsupported(String),
    #[error("beskeden er ikke gyldig {0}")]
    Invalid(&'static str),
}

/// A parameter of a Content-Type value (`charset`, `action`), unquoted.
pub fn content_type_param<'a>(ct: &'a str, name: &str) -> Option<&'a str> {
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"'))
    })
}

/// The `encoding` of an XML declaration at the start of `bytes`, if there is one.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = bytes.get(..bytes.len().min(200))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(quote).next()?;
    Some(value.to_owned())
}

/// Decodes a request body: a UTF-8 BOM wins, then the Content-Type charset, then the XML
/// declaration, else UTF-8. UTF-8 and ISO-8859-1 (and its ASCII subset) are accepted.
pub fn decode_body<'a>(bytes: &'a [u8], content_type: &str) -> Result<std::borrow::Cow<'a, str>, CharsetError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest).map(Into::into).map_err(|_| CharsetError::Invalid("UTF-8"));
    }
    if bytes.starts_with(b"\xFE\xFF") || bytes.starts_with(b"\xFF\xFE") {
        return Err(CharsetError::Unsupported("UTF-16".into()));
    }
    let charset = content_type_param(content_type, "charset").map(str::to_owned).or_else(|| declared_encoding(bytes));
    let charset = charset.unwrap_or_else(|| "utf-8".into()).to_ascii_lowercase();
    match charset.as_str() {
        "utf-8" | "utf8" => std::str::from_utf8(bytes).map(Into::into).map_err(|_| CharsetError::Invalid("UTF-8")),
        "iso-8859-1" | "latin1" | "iso_8859-1" | "l1" | "us-ascii" | "ascii" => {
            // ISO-8859-1 maps each byte to the code point of the same number.
            Ok(bytes.iter().map(|b| char::from(*b)).collect::<String>().into())
        }
        other => Err(CharsetError::Unsupported(other.chars().take(40).collect())),
    }
}

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    /// The client stopped sending part-way.
    Broken,
}

/// Most bytes read and thrown away after a body proved too large, so that a client which does
/// not wait for `100 Continue` can finish sending and read the fault instead of a broken pipe.
const DRAIN_MAX_BYTES: usize = 256 * 1024 * 1024;

/// Reads a request body of at most `max` bytes. A body announced too large is refused before
/// any of it is read (with `Expect: 100-continue` the client then sends none); one that turns
/// out too large is read to its end (up to `DRAIN_MAX_BYTES`) without being kept.
pub async fn read_body(
    body: axum::body::Body,
    headers: &http::HeaderMap,
    max: usize,
) -> Result<bytes::Bytes, BodyError> {
    use futures::StreamExt;
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let expects_continue = headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && declared.is_some_and(|n: usize| n > max) {
        return Err(BodyError::TooLarge);
    }
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::with_capacity(declared.unwrap_or(0).min(max));
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(BodyError::Broken);
        };
        seen += chunk.len();
        if seen <= max {
            buf.extend_from_slice(&chunk);
        } else if seen > DRAIN_MAX_BYTES {
            break;
        }
    }
    if seen > max { Err(BodyError::TooLarge) } else { Ok(buf.freeze()) }
}

/// The operation a SOAPAction (or 1.2 `action`) names: the part after the last `/` or `#`.
/// `None` when no action is given (missing or `""`), which is allowed.
pub fn action_operation(action: Option<&str>) -> Option<&str> {
    let a = action?.trim().trim_matches('"').trim();
    if a.is_empty() {
        return None;
    }
    Some(a.rsplit(['/', '#']).next().unwrap_or(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charsets() {
        let latin = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xE6\xF8\xE5</a>";
        assert_eq!(
            decode_body(latin, "text/xml").unwrap(),
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>æøå</a>"
        );
        assert_eq!(decode_body(b"<a>\xE6</a>", "text/xml; charset=iso-8859-1").unwrap(), "<a>æ</a>");
        assert_eq!(decode_body("<a>æ</a>".as_bytes(), "text/xml; charset=\"utf-8\"").unwrap(), "<a>æ</a>");
        assert_eq!(decode_body(b"\xEF\xBB\xBF<a/>", "text/xml; charset=iso-8859-1").unwrap(), "<a/>", "BOM wins");
        assert_eq!(decode_body(b"<a>\xE6</a>", "text/xml").unwrap_err(), CharsetError::Invalid("UTF-8"));
        assert!(matches!(decode_body(b"\xFF\xFE<\0", "text/xml"), Err(CharsetError::Unsupported(_))));
        assert!(matches!(decode_body(b"<a/>", "text/xml; charset=shift_jis"), Err(CharsetError::Unsupported(_))));
        // The header wins over the declaration.
        let mixed = "<?xml version='1.0' encoding='iso-8859-1'?><a>æ</a>";
        assert_eq!(decode_body(mixed.as_bytes(), "text/xml; charset=utf-8").unwrap(), mixed);
    }

    #[test]
    fn actions() {
        assert_eq!(action_operation(Some("\"urn:dtr:export:v2/HelloWorld\"")), Some("HelloWorld"));
        assert_eq!(action_operation(Some("HelloWorld")), Some("HelloWorld"));
        assert_eq!(action_operation(Some("urn:x#Op")), Some("Op"));
        assert_eq!(action_operation(Some("\"\"")), None);
        assert_eq!(action_operation(None), None);
        assert_eq!(
            content_type_param("application/soap+xml; charset=utf-8; action=\"urn:a/Op\"", "action"),
            Some("urn:a/Op")
        );
    }
}
