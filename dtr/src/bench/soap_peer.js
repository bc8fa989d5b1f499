// `dtr bench lookup`'s peer: the tool a vendor would write in an afternoon with the npm package
// `soap`. It answers GetDaginstitutionByNummer from memory (the register's own answer for one
// unit, read once at start) over HTTPS with HTTP Basic Authentication, and /healthz with a
// fixed answer. Started and stopped by the benchmark; never part of the system.
//
// node soap_peer.js <port> <cert.pem> <key.pem> <answer.xml> <user> <password>
'use strict';
const fs = require('fs');
const https = require('https');
const soap = require(process.env.DTR_BENCH_SOAP_MODULE || 'soap');

const [port, certFile, keyFile, answerFile, user, password] = process.argv.slice(2);
const NS = 'urn:dtr:export:v2';

// The answer's XML as plain objects (repeated elements become arrays), as a vendor would keep
// it in memory; `soap` serializes it on every call.
function toObject(xml) {
  const root = {};
  const stack = [{ obj: root, text: '' }];
  const re = /<(\/?)(?:[\w.-]+:)?([\w.-]+)[^>]*?(\/?)>|([^<]+)/g;
  let m;
  while ((m = re.exec(xml)) !== null) {
    const [, closing, name, selfClosing, text] = m;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      top.text += text;
    } else if (closing) {
      const done = stack.pop();
      const parent = stack[stack.length - 1].obj;
      const value = Object.keys(done.obj).length ? done.obj : done.text.trim();
      add(parent, done.name, value);
    } else if (selfClosing) {
      add(top.obj, name, '');
    } else if (!name.startsWith('?')) {
      stack.push({ obj: {}, text: '', name });
    }
  }
  return root;
}

function add(parent, name, value) {
  if (!(name in parent)) parent[name] = value;
  else if (Array.isArray(parent[name])) parent[name].push(value);
  else parent[name] = [parent[name], value];
}

const wsdl = `<?xml version="1.0" encoding="utf-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:tns="${NS}" targetNamespace="${NS}" name="ExportService">
  <types><xsd:schema targetNamespace="${NS}" elementFormDefault="qualified">
    <xsd:element name="GetDaginstitutionByNummer"><xsd:complexType><xsd:sequence>
      <xsd:element name="DagInstitutionsNummer" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
    <xsd:element name="GetDaginstitutionByNummerResponse" type="xsd:anyType"/>
  </xsd:schema></types>
  <message name="In"><part name="parameters" element="tns:GetDaginstitutionByNummer"/></message>
  <message name="Out"><part name="parameters" element="tns:GetDaginstitutionByNummerResponse"/></message>
  <portType name="ExportPort"><operation name="GetDaginstitutionByNummer"><input message="tns:In"/><output message="tns:Out"/></operation></portType>
  <binding name="ExportBinding" type="tns:ExportPort"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="GetDaginstitutionByNummer"><soap:operation soapAction="${NS}/GetDaginstitutionByNummer"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output></operation></binding>
  <service name="ExportService"><port name="ExportPort" binding="tns:ExportBinding"><soap:address location="https://127.0.0.1:${port}/services/DTR/ExportService/v2"/></port></service>
</definitions>`;

const answer = toObject(fs.readFileSync(answerFile, 'utf8'));
const expected = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const services = {
  ExportService: { ExportPort: { GetDaginstitutionByNummer: () => answer } },
};

const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, (req, res) => {
  // Paths other than the SOAP endpoint reach this listener.
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok' : 'not found');
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 125000;
server.maxConnections = 100000;
const listener = soap.listen(server, '/services/DTR/ExportService/v2', services, wsdl, () => {
  server.listen(Number(port), '127.0.0.1', () => console.log(`soap peer listening on ${port}`));
});
// The benchmark reads the peer's memory after a collection (node runs with --expose-gc), so
// the garbage of the load rounds does not count.
process.on('SIGUSR2', () => global.gc && global.gc());
listener.authorizeConnection = (req, res) => {
  if (req.headers.authorization === expected) return true;
  res.statusCode = 401;
  return false;
};
