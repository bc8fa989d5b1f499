//! The gateway's request reading, fed arbitrary bytes: charset decoding, then the bounded
//! envelope parser, as a SOAP request body goes through them. Nothing may panic.
#![no_main]

use dtr_gateway::soap;
use libfuzzer_sys::fuzz_target;

/// Content-Types the gateway sees, so both the UTF-8 and the ISO-8859-1 path are reached.
const CONTENT_TYPES: [&str; 3] =
    ["text/xml", "application/soap+xml; charset=iso-8859-1", "text/xml; charset=utf-8; action=\"x\""];

fuzz_target!(|data: &[u8]| {
    // Small limits, so the fuzzer reaches them often.
    let limits = soap::Limits {
        max_depth: 16,
        max_elements: 500,
        max_text_bytes: 1024,
        max_attributes: 8,
        max_attribute_bytes: 256,
    };
    for ct in CONTENT_TYPES {
        let _ = soap::request::content_type_param(ct, "action");
        if let Ok(text) = soap::request::decode_body(data, ct) {
            let _ = soap::request::action_operation(Some(&text));
            let _ = soap::parse(&text, &limits);
        }
    }
});
