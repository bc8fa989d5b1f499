//! WSDL 1.1 documents (document/literal, SOAP 1.1 and 1.2 bindings) with the schema inline.
//! A WSDL lists the operations the gateway maps today; it grows as the operations land, so what
//! a client generates from it always works.

use crate::{Endpoint, SoapService};

const IMPORT_TYPES: &str = r#"
      <xs:element name="HelloWorld"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="HelloWorldResponse"><xs:complexType><xs:sequence>
        <xs:element name="HelloWorldResult" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:complexType name="Daginstitution"><xs:sequence>
        <xs:element name="daginstitutionsNummer" type="xs:string" minOccurs="0"/>
        <xs:element name="daginstitutionsNavn"><xs:simpleType><xs:restriction base="xs:string"><xs:maxLength value="132"/></xs:restriction></xs:simpleType></xs:element>
        <xs:element name="ejerformKode" type="xs:int"/>
        <xs:element name="lovgrundlagKode" type="xs:int"/>
        <xs:element name="admKommuneKode" type="xs:int"/>
        <xs:element name="ejerCvrNummer" type="xs:string" minOccurs="0"/>
      </xs:sequence></xs:complexType>
      <xs:complexType name="Fejl"><xs:sequence>
        <xs:element name="kode" type="xs:string"/>
        <xs:element name="felt" type="xs:string"/>
        <xs:element name="besked" type="xs:string"/>
      </xs:sequence></xs:complexType>
      <xs:complexType name="ImportSvar"><xs:sequence>
        <xs:element name="status"><xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value="OK"/><xs:enumeration value="FEJL"/></xs:restriction></xs:simpleType></xs:element>
        <xs:element name="nummer" type="xs:string" minOccurs="0"/>
        <xs:element name="fejl" type="tns:Fejl" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence></xs:complexType>
      <xs:element name="InsertDaginstitution"><xs:complexType><xs:sequence>
        <xs:element name="daginstitution" type="tns:Daginstitution"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="InsertDaginstitutionResponse"><xs:complexType><xs:sequence>
        <xs:element name="ImportSvar" type="tns:ImportSvar"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="UpdateDaginstitution"><xs:complexType><xs:sequence>
        <xs:element name="daginstitution" type="tns:Daginstitution"/>
        <xs:element name="forventetVersion" type="xs:long" minOccurs="0"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="UpdateDaginstitutionResponse"><xs:complexType><xs:sequence>
        <xs:element name="ImportSvar" type="tns:ImportSvar"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="DeleteDaginstitution"><xs:complexType><xs:sequence>
        <xs:element name="daginstitutionsNummer" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="DeleteDaginstitutionResponse"><xs:complexType><xs:sequence>
        <xs:element name="ImportSvar" type="tns:ImportSvar"/>
      </xs:sequence></xs:complexType></xs:element>"#;

const EXPORT_TYPES: &str = r#"
      <xs:element name="HelloWorld"><xs:complexType><xs:sequence/></xs:complexType></xs:element>
      <xs:element name="HelloWorldResponse"><xs:complexType><xs:sequence>
        <xs:element name="HelloWorldResult" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:complexType name="DaginstitutionExtend"><xs:sequence>
        <xs:element name="daginstitutionsNummer" type="xs:string"/>
        <xs:element name="daginstitutionsNavn" type="xs:string"/>
        <xs:element name="ejerformKode" type="xs:int"/>
        <xs:element name="ejerformKode_Tekst" type="xs:string"/>
        <xs:element name="lovgrundlagKode" type="xs:int"/>
        <xs:element name="lovgrundlagKode_Tekst" type="xs:string"/>
        <xs:element name="admKommuneKode" type="xs:int"/>
        <xs:element name="admKommuneKode_Tekst" type="xs:string"/>
        <xs:element name="ejerCvrNummer" type="xs:string" minOccurs="0"/>
        <xs:element name="aktivitetsstatus"><xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value="Aktiv"/><xs:enumeration value="Nedlagt"/></xs:restriction></xs:simpleType></xs:element>
        <xs:element name="oprettetDato" type="xs:dateTime"/>
        <xs:element name="senestAendret" type="xs:dateTime"/>
        <xs:element name="nedlagtDato" type="xs:dateTime" minOccurs="0"/>
        <xs:element name="version" type="xs:long"/>
      </xs:sequence></xs:complexType>
      <xs:complexType name="DaginstitutionerExtend"><xs:sequence>
        <xs:element name="daginstitution" type="tns:DaginstitutionExtend" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence></xs:complexType>
      <xs:element name="GetDaginstitutionByNummer"><xs:complexType><xs:sequence>
        <xs:element name="DagInstitutionsNummer" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="GetDaginstitutionByNummerResponse"><xs:complexType><xs:sequence>
        <xs:element name="daginstitutionerExtend" type="tns:DaginstitutionerExtend"/>
      </xs:sequence></xs:complexType></xs:element>"#;

/// Operations each WSDL describes (those the gateway maps end to end).
fn described(service: SoapService) -> &'static [&'static str] {
    match service {
        SoapService::Import => &["HelloWorld", "InsertDaginstitution", "UpdateDaginstitution", "DeleteDaginstitution"],
        SoapService::Export => &["HelloWorld", "GetDaginstitutionByNummer"],
    }
}

/// The WSDL of endpoint `ep` with its address at `address`.
pub fn wsdl(ep: Endpoint, address: &str) -> String {
    let service = ep.service;
    let ns = ep.namespace();
    let name = service.name();
    let types = match service {
        SoapService::Import => IMPORT_TYPES,
        SoapService::Export => EXPORT_TYPES,
    };
    let ops = described(service);
    let mut w = String::with_capacity(8192);
    w.push_str(&format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="{name}" targetNamespace="{ns}" xmlns:tns="{ns}"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <wsdl:types>
    <xs:schema targetNamespace="{ns}" xmlns:tns="{ns}" elementFormDefault="qualified">{types}
    </xs:schema>
  </wsdl:types>
"#
    ));
    for op in ops {
        w.push_str(&format!(
            "  <wsdl:message name=\"{op}Request\"><wsdl:part name=\"parameters\" element=\"tns:{op}\"/></wsdl:message>\n  <wsdl:message name=\"{op}Response\"><wsdl:part name=\"parameters\" element=\"tns:{op}Response\"/></wsdl:message>\n"
        ));
    }
    w.push_str(&format!("  <wsdl:portType name=\"{name}PortType\">\n"));
    for op in ops {
        w.push_str(&format!(
            "    <wsdl:operation name=\"{op}\"><wsdl:input message=\"tns:{op}Request\"/><wsdl:output message=\"tns:{op}Response\"/></wsdl:operation>\n"
        ));
    }
    w.push_str("  </wsdl:portType>\n");
    for (binding, prefix) in [("Soap11", "soap"), ("Soap12", "soap12")] {
        w.push_str(&format!(
            "  <wsdl:binding name=\"{name}{binding}\" type=\"tns:{name}PortType\">\n    <{prefix}:binding transport=\"http://schemas.xmlsoap.org/soap/http\" style=\"document\"/>\n"
        ));
        for op in ops {
            w.push_str(&format!(
                "    <wsdl:operation name=\"{op}\"><{prefix}:operation soapAction=\"{ns}/{op}\"/><wsdl:input><{prefix}:body use=\"literal\"/></wsdl:input><wsdl:output><{prefix}:body use=\"literal\"/></wsdl:output></wsdl:operation>\n"
            ));
        }
        w.push_str("  </wsdl:binding>\n");
    }
    let address = quick_xml::escape::escape(address);
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
