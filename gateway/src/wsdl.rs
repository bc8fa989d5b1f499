//! WSDL 1.1 documents (document/literal, SOAP 1.1 and 1.2 bindings) importing their schema from
//! `<endpoint>?xsd`, both at the address the client used.
//! A WSDL lists the operations the gateway maps today; it grows as the operations land, so what
//! a client generates from it always works.

use crate::endpoint::{Endpoint, SoapService};
use crate::operation::Operation;

/// The schema of endpoint `ep`'s messages, served at `?xsd`.
pub fn xsd(ep: Endpoint) -> String {
    match ep.service {
        SoapService::Import => dtr_proto::xsd::import(ep.namespace()),
        SoapService::Export => dtr_proto::xsd::export(ep.namespace()),
    }
}

/// The WSDL of endpoint `ep` with its address at `address`.
pub fn wsdl(ep: Endpoint, address: &str) -> String {
    let service = ep.service;
    let ns = ep.namespace();
    let name = service.name();
    let address = crate::soap::xml::escape_text(address);
    // The schema is imported from the endpoint, as toolkits that save a WSDL with its schemas
    // expect; the import's location follows the address the client used.
    let types = format!(
        r#"<xs:schema elementFormDefault="qualified"><xs:import namespace="{ns}" schemaLocation="{address}?xsd=1"/></xs:schema>"#
    );
    let ops: Vec<&str> = service.operations().map(Operation::name).collect();
    let mut w = String::with_capacity(8192);
    w.push_str(&format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="{name}" targetNamespace="{ns}" xmlns:tns="{ns}"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <wsdl:types>
    {types}
  </wsdl:types>
"#
    ));
    for op in &ops {
        w.push_str(&format!(
            "  <wsdl:message name=\"{op}Request\"><wsdl:part name=\"parameters\" element=\"tns:{op}\"/></wsdl:message>\n  <wsdl:message name=\"{op}Response\"><wsdl:part name=\"parameters\" element=\"tns:{op}Response\"/></wsdl:message>\n"
        ));
    }
    w.push_str(&format!("  <wsdl:portType name=\"{name}PortType\">\n"));
    for op in &ops {
        w.push_str(&format!(
            "    <wsdl:operation name=\"{op}\"><wsdl:input message=\"tns:{op}Request\"/><wsdl:output message=\"tns:{op}Response\"/></wsdl:operation>\n"
        ));
    }
    w.push_str("  </wsdl:portType>\n");
    for (binding, prefix) in [("Soap11", "soap"), ("Soap12", "soap12")] {
        w.push_str(&format!(
            "  <wsdl:binding name=\"{name}{binding}\" type=\"tns:{name}PortType\">\n    <{prefix}:binding transport=\"http://schemas.xmlsoap.org/soap/http\" style=\"document\"/>\n"
        ));
        for op in &ops {
            w.push_str(&format!(
                "    <wsdl:operation name=\"{op}\"><{prefix}:operation soapAction=\"{ns}/{op}\"/><wsdl:input><{prefix}:body use=\"literal\"/></wsdl:input><wsdl:output><{prefix}:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
            ));
        }
        w.push_str("  </wsdl:binding>\n");
    }
    w.push_str(&format!(
        r#"  <wsdl:service name="{name}">
    <wsdl:port name="{name}Soap11" binding="tns:{name}Soap11"><soap:address location="{address}"/></wsdl:port>
    <wsdl:port name="{name}Soap12" binding="tns:{name}Soap12"><soap12:address location="{address}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#
    ));
    w
}
