// XAdES baseline B-B/B-T for FHIR XML document Bundles (hanko/signer/xades.h;
// docs/formats.md section 9).
#include "hanko/signer/xades.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "xml_internal.h"

namespace hanko::signer {

namespace {

using xml::detail::element_namespace;
using xml::detail::local_name_of;
using xml::detail::prefix_of;

const xml::C14nOptions kExc{xml::C14nMethod::exc_c14n, false, {}};

std::string s(std::string_view v) { return std::string(v); }

bool is(pugi::xml_node e, std::string_view ns, std::string_view local) {
  return e.type() == pugi::node_element && local_name_of(e.name()) == local && element_namespace(e) == ns;
}

std::vector<pugi::xml_node> elements(pugi::xml_node parent) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element) {
      out.push_back(c);
    }
  }
  return out;
}

/** Direct children of the FHIR element `parent` named `local` in the FHIR namespace. */
std::vector<pugi::xml_node> fhir_children(pugi::xml_node parent, std::string_view local) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node c : elements(parent)) {
    if (is(c, xml::kFhirNamespace, local)) {
      out.push_back(c);
    }
  }
  return out;
}

/** The `value` attribute of the first FHIR child `local`, or "". */
std::string fhir_value(pugi::xml_node parent, std::string_view local) {
  auto c = fhir_children(parent, local);
  return c.empty() ? std::string() : std::string(c.front().attribute("value").value());
}

std::string bundle_identifier_xml(pugi::xml_node root) {
  auto ids = fhir_children(root, "identifier");
  return ids.empty() ? std::string() : fhir_value(ids.front(), "value");
}

/** The text content of an element with XML whitespace removed (base64 may be wrapped). */
std::string compact_text(pugi::xml_node e) {
  std::string out;
  for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
      for (char ch : std::string_view(c.value())) {
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
          out += ch;
        }
      }
    }
  }
  return out;
}

std::string text_of(pugi::xml_node e) {
  std::string out;
  for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
      out += c.value();
    }
  }
  return out;
}

std::string trim(std::string_view v) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!v.empty() && ws(v.front())) {
    v.remove_prefix(1);
  }
  while (!v.empty() && ws(v.back())) {
    v.remove_suffix(1);
  }
  return std::string(v);
}

struct StringWriter final : pugi::xml_writer {
  std::string out;
  void write(const void* data, std::size_t size) override { out.append(static_cast<const char*>(data), size); }
};

std::string serialize(const pugi::xml_document& d) {
  StringWriter w;
  d.save(w, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  return std::move(w.out);
}

pugi::xml_node add(pugi::xml_node parent, const std::string& name) { return parent.append_child(name.c_str()); }

void set_attr(pugi::xml_node e, const std::string& name, std::string_view value) {
  e.append_attribute(name.c_str()).set_value(std::string(value).c_str());
}

void set_text(pugi::xml_node e, std::string_view value) { e.text().set(std::string(value).c_str()); }

// --- DER for IssuerSerialV2 (RFC 5035: IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber INTEGER }) ---

Bytes der_tlv(std::uint8_t tag, ByteView content) {
  Bytes out{tag};
  const std::size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    Bytes len;
    for (std::size_t v = n; v != 0; v >>= 8) {
      len.insert(len.begin(), static_cast<std::uint8_t>(v & 0xFF));
    }
    out.push_back(static_cast<std::uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

/** DER IssuerSerial of `cert`: issuer as GeneralNames { directoryName [4] Name }, serialNumber. */
Bytes issuer_serial_der(const X509* cert) {
  const Bytes name = ossl::to_der<i2d_X509_NAME>(X509_get_issuer_name(cert));
  const Bytes serial = ossl::to_der<i2d_ASN1_INTEGER>(X509_get0_serialNumber(cert));
  const Bytes general_names = der_tlv(0x30, der_tlv(0xA4, name));  // [4] EXPLICIT: Name is a CHOICE
  Bytes body = general_names;
  body.insert(body.end(), serial.begin(), serial.end());
  return der_tlv(0x30, body);
}

std::string random_id_part() {
  unsigned char r[8] = {};
  if (RAND_bytes(r, sizeof r) != 1) {
    clear_openssl_errors();
    return "0000000000000000";
  }
  return hex(ByteView(r, sizeof r));
}

std::string_view signature_method_uri(JwsAlg alg) {
  return alg == JwsAlg::ES256 ? kXmlDsigEcdsaSha256 : kXmlDsigRsaSha256;
}

/** The resource type a reference in the Bundle points at (entry fullUrl, or "Type/id"). */
std::string referenced_type_xml(pugi::xml_node root, const std::string& ref) {
  for (pugi::xml_node entry : fhir_children(root, "entry")) {
    const std::string full_url = fhir_value(entry, "fullUrl");
    auto res = fhir_children(entry, "resource");
    if (res.empty()) {
      continue;
    }
    auto inner = elements(res.front());
    if (inner.empty()) {
      continue;
    }
    const std::string type(local_name_of(inner.front().name()));
    const std::string id = fhir_value(inner.front(), "id");
    if (full_url == ref || (!id.empty() && (ref == type + "/" + id || full_url.ends_with("/" + ref)))) {
      return type;
    }
  }
  if (auto slash = ref.find('/'); slash != std::string::npos && ref.find(':') == std::string::npos) {
    return ref.substr(0, slash);
  }
  return {};
}

std::string common_name(const X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    const ASN1_STRING* str = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, str);
    if (len >= 0) {
      ossl::OpensslStringPtr owned(reinterpret_cast<char*>(utf8));
      return std::string(owned.get(), static_cast<std::size_t>(len));
    }
  }
  return ossl::name_to_string(subject);
}

/**
 * Signature.who: the first Composition.author (Composition = the first
 * entry's resource) that is a Practitioner or PractitionerRole, as in the
 * JSON profile; else a display of the certificate's common name.
 */
void add_who(pugi::xml_node who, const std::string& p, pugi::xml_node root, const X509* cert) {
  auto entries = fhir_children(root, "entry");
  if (!entries.empty()) {
    auto res = fhir_children(entries.front(), "resource");
    if (!res.empty()) {
      auto inner = elements(res.front());
      if (!inner.empty() && is(inner.front(), xml::kFhirNamespace, "Composition")) {
        for (pugi::xml_node author : fhir_children(inner.front(), "author")) {
          const std::string ref = fhir_value(author, "reference");
          if (ref.empty()) {
            continue;
          }
          const std::string type = referenced_type_xml(root, ref);
          if (type == "Practitioner" || type == "PractitionerRole") {
            set_attr(add(who, p + "reference"), "value", ref);
            if (const std::string t = fhir_value(author, "type"); !t.empty()) {
              set_attr(add(who, p + "type"), "value", t);
            }
            return;
          }
        }
      }
    }
  }
  set_attr(add(who, p + "display"), "value", common_name(cert));
}

}  // namespace

std::string_view xades_status_name(XadesStatus status) {
  switch (status) {
    case XadesStatus::ok:
      return "ok";
    case XadesStatus::format_failure:
      return "FORMAT_FAILURE";
    case XadesStatus::hash_failure:
      return "HASH_FAILURE";
    case XadesStatus::sig_crypto_failure:
      return "SIG_CRYPTO_FAILURE";
    case XadesStatus::no_signing_certificate_found:
      return "NO_SIGNING_CERTIFICATE_FOUND";
  }
  return "?";
}

namespace {

/** The value of Bundle.signature.data while the ds:Signature is not finished (letters only: never escaped). */
constexpr std::string_view kDataPlaceholder = "HANKOSIGNATUREDATAPLACEHOLDERQ7ZK";

bool valid_id_suffix(std::string_view v) {
  if (v.empty() || v.size() > 64) {
    return false;
  }
  for (char c : v) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

/** The first child element of `parent` that is `ns`:`local`, or an empty node. */
pugi::xml_node child_element(pugi::xml_node parent, std::string_view ns, std::string_view local) {
  for (pugi::xml_node c : elements(parent)) {
    if (is(c, ns, local)) {
      return c;
    }
  }
  return {};
}

}  // namespace

Result<PreparedXmlBundle> prepare_xml_bundle(std::string_view bundle_xml, const SignerCertificates& signer,
                                             const SignOptions& options) {
  auto doc = xml::Document::parse(bundle_xml);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  if (!xml::is_document_bundle(*doc)) {
    return fail(Errc::not_a_document, "not a FHIR Bundle of type document");
  }
  const pugi::xml_node root = doc->impl().doc.document_element();
  if (!fhir_children(root, "signature").empty() && !options.replace) {
    return fail(Errc::already_signed, "the Bundle already carries a signature (use replace to sign it again)");
  }
  const std::string doc_uri = bundle_identifier_xml(root);
  if (doc_uri.empty() || doc_uri.front() == '#') {
    return fail(Errc::invalid_argument,
                "a FHIR document Bundle needs Bundle.identifier.value (the signature's document Reference URI)");
  }
  auto display = signature_type_display(options.signature_type);
  if (!display) {
    return fail(Errc::invalid_argument, "unknown signature type " + options.signature_type +
                                            " (expected 1.2.840.10065.1.12.1.1 to .18, ASTM E1762-95)");
  }
  if (!options.xml_id_suffix.empty() && !valid_id_suffix(options.xml_id_suffix)) {
    return fail(Errc::invalid_argument, "the XAdES Id suffix must be 1-64 characters of A-Z a-z 0-9 _ -");
  }
  auto bytes = xml::fhir_xml_document(*doc);
  if (!bytes) {
    return std::unexpected(bytes.error());
  }
  const TimePoint when = from_unix(to_unix(options.signing_time));
  const X509* cert = signer.certificate;
  if (cert == nullptr) {
    return fail(Errc::invalid_argument, "the signing key has no certificate");
  }

  const std::string r = options.xml_id_suffix.empty() ? random_id_part() : options.xml_id_suffix;
  const std::string sig_id = "sig-" + r;
  const std::string ref_doc_id = "ref-doc-" + r;
  const std::string ref_sp_id = "ref-sp-" + r;
  const std::string sp_id = "sp-" + r;
  const std::string sv_id = "sv-" + r;

  pugi::xml_document sd;
  pugi::xml_node sig = add(sd, "ds:Signature");
  set_attr(sig, "xmlns:ds", kXmlDsigNamespace);
  set_attr(sig, "Id", sig_id);
  pugi::xml_node si = add(sig, "ds:SignedInfo");
  set_attr(add(si, "ds:CanonicalizationMethod"), "Algorithm", kXmlExcC14n);
  set_attr(add(si, "ds:SignatureMethod"), "Algorithm", signature_method_uri(signer.alg));
  pugi::xml_node ref1 = add(si, "ds:Reference");
  set_attr(ref1, "Id", ref_doc_id);
  set_attr(ref1, "URI", doc_uri);
  set_attr(add(ref1, "ds:DigestMethod"), "Algorithm", kXmlDsigSha256);
  set_text(add(ref1, "ds:DigestValue"), base64_encode(sha256(*bytes)));
  pugi::xml_node ref2 = add(si, "ds:Reference");
  set_attr(ref2, "Id", ref_sp_id);
  set_attr(ref2, "Type", kXadesSignedPropertiesType);
  set_attr(ref2, "URI", "#" + sp_id);
  set_attr(add(add(ref2, "ds:Transforms"), "ds:Transform"), "Algorithm", kXmlExcC14n);
  set_attr(add(ref2, "ds:DigestMethod"), "Algorithm", kXmlDsigSha256);
  pugi::xml_node sp_digest = add(ref2, "ds:DigestValue");
  pugi::xml_node sv = add(sig, "ds:SignatureValue");
  set_attr(sv, "Id", sv_id);
  pugi::xml_node x509data = add(add(sig, "ds:KeyInfo"), "ds:X509Data");
  set_text(add(x509data, "ds:X509Certificate"), base64_encode(ossl::x509_to_der(cert)));
  for (const X509* c : signer.chain) {
    set_text(add(x509data, "ds:X509Certificate"), base64_encode(ossl::x509_to_der(c)));
  }
  pugi::xml_node qp = add(add(sig, "ds:Object"), "xades:QualifyingProperties");
  set_attr(qp, "xmlns:xades", kXadesNamespace);
  set_attr(qp, "Target", "#" + sig_id);
  pugi::xml_node sp = add(qp, "xades:SignedProperties");
  set_attr(sp, "Id", sp_id);
  pugi::xml_node ssp = add(sp, "xades:SignedSignatureProperties");
  set_text(add(ssp, "xades:SigningTime"), format_rfc3339(when));
  pugi::xml_node cert_v2 = add(add(ssp, "xades:SigningCertificateV2"), "xades:Cert");
  pugi::xml_node cert_digest = add(cert_v2, "xades:CertDigest");
  set_attr(add(cert_digest, "ds:DigestMethod"), "Algorithm", kXmlDsigSha256);
  set_text(add(cert_digest, "ds:DigestValue"), base64_encode(ossl::cert_sha256(cert)));
  set_text(add(cert_v2, "xades:IssuerSerialV2"), base64_encode(issuer_serial_der(cert)));
  pugi::xml_node sdop = add(sp, "xades:SignedDataObjectProperties");
  pugi::xml_node dof = add(sdop, "xades:DataObjectFormat");
  set_attr(dof, "ObjectReference", "#" + ref_doc_id);
  set_text(add(dof, "xades:MimeType"), "application/fhir+xml");
  pugi::xml_node cti = add(sdop, "xades:CommitmentTypeIndication");
  set_text(add(add(cti, "xades:CommitmentTypeId"), "xades:Identifier"), s(kUrnOid) + options.signature_type);
  add(cti, "xades:AllSignedDataObjects");

  auto sp_c14n = xml::detail::c14n(sp, kExc);
  if (!sp_c14n) {
    return std::unexpected(sp_c14n.error());
  }
  set_text(sp_digest, base64_encode(sha256(*sp_c14n)));
  auto si_c14n = xml::detail::c14n(si, kExc);
  if (!si_c14n) {
    return std::unexpected(si_c14n.error());
  }
  PreparedXmlBundle out;
  out.signature_xml = serialize(sd);
  out.id_suffix = r;
  out.signed_info_sha256 = sha256(*si_c14n);
  out.signed_info_c14n = std::move(*si_c14n);
  out.level = options.level;
  out.document_sha256_hex = hex(sha256(*bytes));
  out.document_identifier = doc_uri;

  // The Bundle: drop an old signature (replace), append Bundle.signature last; its data comes with the value.
  pugi::xml_document copy;
  copy.reset(doc->impl().doc);
  pugi::xml_node croot = copy.document_element();
  for (pugi::xml_node old : fhir_children(croot, "signature")) {
    croot.remove_child(old);
  }
  // The output gets its own XML declaration: the input's must not follow it.
  for (pugi::xml_node n = copy.first_child(); n;) {
    pugi::xml_node next = n.next_sibling();
    if (n.type() == pugi::node_declaration) {
      copy.remove_child(n);
    }
    n = next;
  }
  const std::string_view root_prefix = prefix_of(croot.name());
  const std::string p = root_prefix.empty() ? std::string() : std::string(root_prefix) + ":";
  pugi::xml_node fs = add(croot, p + "signature");
  pugi::xml_node type = add(fs, p + "type");
  set_attr(add(type, p + "system"), "value", kSignatureTypeSystem);
  set_attr(add(type, p + "code"), "value", options.signature_type);
  set_attr(add(type, p + "display"), "value", *display);
  set_attr(add(fs, p + "when"), "value", format_rfc3339(when, true));
  add_who(add(fs, p + "who"), p, croot, cert);
  set_attr(add(fs, p + "targetFormat"), "value", kXmlTargetFormat);
  set_attr(add(fs, p + "sigFormat"), "value", kXmlSigFormat);
  set_attr(add(fs, p + "data"), "value", kDataPlaceholder);
  const std::string whole = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + serialize(copy);
  // Bundle.signature is the last child of the root: the last occurrence of the placeholder is ours.
  const std::size_t at = whole.rfind(kDataPlaceholder);
  if (at == std::string::npos) {
    return fail(Errc::internal, "the Bundle.signature.data placeholder is missing from the serialized Bundle");
  }
  out.bundle_head = whole.substr(0, at);
  out.bundle_tail = whole.substr(at + kDataPlaceholder.size());
  return out;
}

namespace {

/** Parses a prepared ds:Signature (hanko's own output) with the options of xml::Document::parse. */
Result<void> load_prepared_signature(const PreparedXmlBundle& prepared, pugi::xml_document& sd) {
  const unsigned int options =
      pugi::parse_default | pugi::parse_ws_pcdata | pugi::parse_comments | pugi::parse_pi | pugi::parse_declaration;
  if (!sd.load_buffer(prepared.signature_xml.data(), prepared.signature_xml.size(), options, pugi::encoding_utf8)) {
    return fail(Errc::internal, "the prepared ds:Signature is not XML");
  }
  return {};
}

/** The DigestValue text of a ds:Reference, "" when absent. */
std::string digest_value_of(pugi::xml_node reference) {
  const pugi::xml_node dv = child_element(reference, kXmlDsigNamespace, "DigestValue");
  return dv ? compact_text(dv) : std::string();
}

}  // namespace

Result<void> check_prepared_xml_bundle(const PreparedXmlBundle& prepared) {
  pugi::xml_document sd;
  if (auto loaded = load_prepared_signature(prepared, sd); !loaded) {
    return loaded;
  }
  const pugi::xml_node sig = sd.document_element();
  const pugi::xml_node si = child_element(sig, kXmlDsigNamespace, "SignedInfo");
  const pugi::xml_node obj = child_element(sig, kXmlDsigNamespace, "Object");
  const pugi::xml_node qp = obj ? child_element(obj, kXadesNamespace, "QualifyingProperties") : pugi::xml_node();
  const pugi::xml_node sp = qp ? child_element(qp, kXadesNamespace, "SignedProperties") : pugi::xml_node();
  std::vector<pugi::xml_node> refs;
  for (pugi::xml_node c : elements(si)) {
    if (is(c, kXmlDsigNamespace, "Reference")) {
      refs.push_back(c);
    }
  }
  if (!si || !sp || refs.size() != 2) {
    return fail(Errc::internal, "the prepared ds:Signature lacks SignedInfo, its two References or SignedProperties");
  }
  auto si_c14n = xml::detail::c14n(si, kExc);
  if (!si_c14n) {
    return std::unexpected(si_c14n.error());
  }
  if (!ct_equal(sha256(*si_c14n), prepared.signed_info_sha256)) {
    return fail(Errc::internal, "the prepared ds:SignedInfo changed since it was prepared");
  }
  auto sp_c14n = xml::detail::c14n(sp, kExc);
  if (!sp_c14n) {
    return std::unexpected(sp_c14n.error());
  }
  if (digest_value_of(refs[1]) != base64_encode(sha256(*sp_c14n))) {
    return fail(Errc::internal, "the prepared xades:SignedProperties no longer match their digest");
  }
  auto doc = xml::Document::parse(prepared.bundle_head + std::string(kDataPlaceholder) + prepared.bundle_tail);
  if (!doc) {
    return fail(Errc::internal, "the prepared Bundle is not XML: " + doc.error().message);
  }
  auto bytes = xml::fhir_xml_document(*doc);
  if (!bytes) {
    return fail(Errc::internal, "the prepared Bundle has no #document: " + bytes.error().message);
  }
  const Bytes digest = sha256(*bytes);
  if (digest_value_of(refs[0]) != base64_encode(digest) || hex(digest) != prepared.document_sha256_hex) {
    return fail(Errc::internal, "the prepared Bundle no longer matches the signed #document digest");
  }
  return {};
}

Result<SignedXmlBundle> complete_xml_bundle(const PreparedXmlBundle& prepared, ByteView signature_value,
                                            tsa::TimestampSource* tsa) {
  if (prepared.level == Level::B_T && tsa == nullptr) {
    return fail(Errc::invalid_argument, "B-T needs a timestamp source");
  }
  if (!valid_id_suffix(prepared.id_suffix)) {
    return fail(Errc::internal, "the prepared XAdES signature has no valid Id suffix");
  }
  pugi::xml_document sd;
  if (auto loaded = load_prepared_signature(prepared, sd); !loaded) {
    return std::unexpected(loaded.error());
  }
  const pugi::xml_node sig = sd.document_element();
  const pugi::xml_node si = child_element(sig, kXmlDsigNamespace, "SignedInfo");
  pugi::xml_node sv = child_element(sig, kXmlDsigNamespace, "SignatureValue");
  pugi::xml_node obj = child_element(sig, kXmlDsigNamespace, "Object");
  pugi::xml_node qp = obj ? child_element(obj, kXadesNamespace, "QualifyingProperties") : pugi::xml_node();
  if (!is(sig, kXmlDsigNamespace, "Signature") || !si || !sv || !qp || sv.first_child()) {
    return fail(Errc::internal, "the prepared ds:Signature lacks SignedInfo, an empty SignatureValue or QualifyingProperties");
  }
  // What is signed now must be what was prepared: the two halves cannot drift apart.
  auto si_c14n = xml::detail::c14n(si, kExc);
  if (!si_c14n) {
    return std::unexpected(si_c14n.error());
  }
  if (!ct_equal(sha256(*si_c14n), prepared.signed_info_sha256)) {
    return fail(Errc::internal, "the prepared ds:SignedInfo changed since it was prepared");
  }
  set_text(sv, base64_encode(signature_value));
  if (prepared.level == Level::B_T) {
    auto sv_c14n = xml::detail::c14n(sv, kExc);
    if (!sv_c14n) {
      return std::unexpected(sv_c14n.error());
    }
    auto token = tsa->timestamp(as_bytes(*sv_c14n), DigestAlg::sha256);
    if (!token) {
      return std::unexpected(token.error());
    }
    pugi::xml_node ts = add(add(add(qp, "xades:UnsignedProperties"), "xades:UnsignedSignatureProperties"),
                            "xades:SignatureTimeStamp");
    set_attr(ts, "Id", "ts-" + prepared.id_suffix);
    set_attr(add(ts, "ds:CanonicalizationMethod"), "Algorithm", kXmlExcC14n);
    set_text(add(ts, "xades:EncapsulatedTimeStamp"), base64_encode(*token));
  }
  SignedXmlBundle out;
  out.signature_xml = serialize(sd);
  out.document_sha256_hex = prepared.document_sha256_hex;
  const std::string data = base64_encode(as_bytes(out.signature_xml));
  out.bundle_xml.reserve(prepared.bundle_head.size() + data.size() + prepared.bundle_tail.size());
  out.bundle_xml.append(prepared.bundle_head).append(data).append(prepared.bundle_tail);
  return out;
}

Result<SignedXmlBundle> sign_xml_bundle(std::string_view bundle_xml, const SigningKey& key,
                                        tsa::TimestampSource* tsa, const SignOptions& options) {
  auto prepared = prepare_xml_bundle(bundle_xml, signer_certificates(key), options);
  if (!prepared) {
    return std::unexpected(prepared.error());
  }
  if (options.level == Level::B_T && tsa == nullptr) {
    return fail(Errc::invalid_argument, "B-T needs a timestamp source");  // before anything is signed
  }
  auto value = key.sign(as_bytes(prepared->signed_info_c14n));
  if (!value) {
    return std::unexpected(value.error());
  }
  return complete_xml_bundle(*prepared, *value, tsa);
}

namespace {

/** The checks of verify_xades_core on the parsed signature document. */
class CoreChecker {
 public:
  CoreChecker(XadesCore& core, const pugi::xml_document& sdoc, std::string doc_uri, const std::string& doc_bytes)
      : m_core(core), m_sdoc(sdoc), m_doc_uri(std::move(doc_uri)), m_doc_bytes(doc_bytes) {}

  void run() {
    if (!structure()) {
      return;
    }
    if (!signing_certificate()) {
      return;
    }
    if (!digests()) {
      return;
    }
    if (!signature_value()) {
      return;
    }
    m_core.status = XadesStatus::ok;
    m_core.message.clear();
  }

 private:
  bool bad(XadesStatus st, std::string message) {
    m_core.status = st;
    m_core.message = std::move(message);
    return false;
  }
  bool format(std::string message) { return bad(XadesStatus::format_failure, std::move(message)); }

  /** `e` has exactly the element children named (namespace, local) in this order. */
  bool children_are(pugi::xml_node e, std::initializer_list<std::pair<std::string_view, std::string_view>> want,
                    std::vector<pugi::xml_node>& got) {
    got = elements(e);
    if (got.size() != want.size()) {
      return false;
    }
    std::size_t i = 0;
    for (const auto& [ns, local] : want) {
      if (!is(got[i++], ns, local)) {
        return false;
      }
    }
    return true;
  }

  bool digest_value(pugi::xml_node method, pugi::xml_node value, Bytes& out, std::string_view what) {
    if (std::string_view(method.attribute("Algorithm").value()) != kXmlDsigSha256) {
      return format(std::string(what) + ": DigestMethod " + method.attribute("Algorithm").value() +
                    " is not on the allow-list (sha256)");
    }
    if (!elements(method).empty()) {
      return format(std::string(what) + ": unexpected content in DigestMethod");
    }
    auto d = base64_decode(compact_text(value));
    if (!d || d->size() != 32) {
      return format(std::string(what) + ": DigestValue is not a base64 SHA-256 digest");
    }
    out = std::move(*d);
    return true;
  }

  bool structure() {
    const pugi::xml_node sig = m_sdoc.document_element();
    if (!is(sig, kXmlDsigNamespace, "Signature")) {
      return format("the signature document's root is not ds:Signature");
    }
    // Wrapping defences over the whole signature document: unique Ids, one
    // Signature, one SignedProperties, one QualifyingProperties.
    std::set<std::string> ids;
    std::size_t signatures = 0;
    std::size_t signed_props = 0;
    std::size_t qprops = 0;
    std::string dup;
    auto walked = xml::detail::walk(
        sig,
        [&](pugi::xml_node e) -> Result<void> {
          const std::string_view local = local_name_of(e.name());
          signatures += local == "Signature" ? 1 : 0;
          signed_props += local == "SignedProperties" ? 1 : 0;
          qprops += local == "QualifyingProperties" ? 1 : 0;
          for (pugi::xml_attribute a : e.attributes()) {
            const std::string_view n = a.name();
            if (n == "Id" || n == "ID" || n == "id" || n == "xml:id") {
              if (!ids.insert(a.value()).second) {
                dup = a.value();
                return fail(Errc::invalid_argument, "duplicate Id");
              }
            }
          }
          return {};
        },
        [](pugi::xml_node) {}, [](pugi::xml_node) {});
    if (!walked) {
      return format("duplicate Id \"" + dup + "\" in the signature document");
    }
    if (signatures != 1) {
      return format("the signature document holds more than one Signature element");
    }
    if (signed_props != 1) {
      return format("the signature document must hold exactly one SignedProperties element");
    }
    if (qprops != 1) {
      return format("the signature document must hold exactly one QualifyingProperties element");
    }
    const std::string sig_id = sig.attribute("Id").value();
    if (sig_id.empty()) {
      return format("ds:Signature has no Id");
    }
    std::vector<pugi::xml_node> top;
    if (!children_are(sig,
                      {{kXmlDsigNamespace, "SignedInfo"},
                       {kXmlDsigNamespace, "SignatureValue"},
                       {kXmlDsigNamespace, "KeyInfo"},
                       {kXmlDsigNamespace, "Object"}},
                      top)) {
      return format("ds:Signature must hold exactly SignedInfo, SignatureValue, KeyInfo and one Object, in order");
    }
    m_signed_info = top[0];
    m_signature_value = top[1];

    // SignedInfo.
    std::vector<pugi::xml_node> si;
    if (!children_are(m_signed_info,
                      {{kXmlDsigNamespace, "CanonicalizationMethod"},
                       {kXmlDsigNamespace, "SignatureMethod"},
                       {kXmlDsigNamespace, "Reference"},
                       {kXmlDsigNamespace, "Reference"}},
                      si)) {
      return format(
          "SignedInfo must hold exactly CanonicalizationMethod, SignatureMethod and two References, in order");
    }
    if (std::string_view(si[0].attribute("Algorithm").value()) != kXmlExcC14n || !elements(si[0]).empty()) {
      return format(std::string("CanonicalizationMethod ") + si[0].attribute("Algorithm").value() +
                    " is not on the allow-list (exclusive C14N without a PrefixList)");
    }
    const std::string_view method = si[1].attribute("Algorithm").value();
    if (method == kXmlDsigRsaSha256) {
      m_core.alg = JwsAlg::RS256;
    } else if (method == kXmlDsigEcdsaSha256) {
      m_core.alg = JwsAlg::ES256;
    } else {
      return format("SignatureMethod " + std::string(method) + " is not on the allow-list (rsa-sha256, ecdsa-sha256)");
    }
    if (!elements(si[1]).empty()) {
      return format("unexpected content in SignatureMethod");
    }
    pugi::xml_node doc_ref;
    pugi::xml_node sp_ref;
    for (pugi::xml_node ref : {si[2], si[3]}) {
      pugi::xml_attribute type = ref.attribute("Type");
      if (type && std::string_view(type.value()) == kXadesSignedPropertiesType) {
        if (sp_ref) {
          return format("two References to SignedProperties");
        }
        sp_ref = ref;
      } else if (!type) {
        if (doc_ref) {
          return format("two document References");
        }
        doc_ref = ref;
      } else {
        return format(std::string("Reference Type ") + type.value() + " is not expected");
      }
    }
    if (!doc_ref || !sp_ref) {
      return format("SignedInfo needs one document Reference and one SignedProperties Reference");
    }
    // The document Reference.
    pugi::xml_attribute doc_uri = doc_ref.attribute("URI");
    if (!doc_uri || m_doc_uri.empty() || std::string_view(doc_uri.value()) != m_doc_uri) {
      return format("the document Reference URI \"" + std::string(doc_uri.value()) +
                    "\" is not Bundle.identifier.value \"" + m_doc_uri + "\"");
    }
    m_core.document_uri = m_doc_uri;
    std::vector<pugi::xml_node> dr;
    if (!children_are(doc_ref, {{kXmlDsigNamespace, "DigestMethod"}, {kXmlDsigNamespace, "DigestValue"}}, dr)) {
      return format("the document Reference must hold exactly DigestMethod and DigestValue (no Transforms)");
    }
    if (!digest_value(dr[0], dr[1], m_doc_digest, "document Reference")) {
      return false;
    }
    // The SignedProperties Reference.
    const std::string sp_uri = sp_ref.attribute("URI").value();
    if (sp_uri.size() < 2 || sp_uri.front() != '#') {
      return format("the SignedProperties Reference URI must be \"#Id\"");
    }
    std::vector<pugi::xml_node> sr;
    if (!children_are(sp_ref,
                      {{kXmlDsigNamespace, "Transforms"},
                       {kXmlDsigNamespace, "DigestMethod"},
                       {kXmlDsigNamespace, "DigestValue"}},
                      sr)) {
      return format("the SignedProperties Reference must hold exactly Transforms, DigestMethod and DigestValue");
    }
    auto transforms = elements(sr[0]);
    if (transforms.size() != 1 || !is(transforms[0], kXmlDsigNamespace, "Transform") ||
        std::string_view(transforms[0].attribute("Algorithm").value()) != kXmlExcC14n ||
        !elements(transforms[0]).empty()) {
      return format("the SignedProperties Reference must have exactly one Transform, exclusive C14N");
    }
    if (!digest_value(sr[1], sr[2], m_sp_digest, "SignedProperties Reference")) {
      return false;
    }

    // KeyInfo: one X509Data with X509Certificate children only.
    auto ki = elements(top[2]);
    if (ki.size() != 1 || !is(ki[0], kXmlDsigNamespace, "X509Data")) {
      return format("KeyInfo must hold exactly one X509Data");
    }
    auto x509 = elements(ki[0]);
    if (x509.empty()) {
      return format("X509Data holds no certificate");
    }
    for (pugi::xml_node c : x509) {
      if (!is(c, kXmlDsigNamespace, "X509Certificate")) {
        return format("X509Data may hold only X509Certificate elements");
      }
      auto der = base64_decode(compact_text(c));
      ossl::X509Ptr cert = der ? ossl::x509_from_der(*der) : nullptr;
      if (!cert) {
        return format("an X509Certificate is not a base64 DER certificate");
      }
      m_certs.push_back(std::move(cert));
    }

    // Object / QualifyingProperties.
    auto obj = elements(top[3]);
    if (obj.size() != 1 || !is(obj[0], kXadesNamespace, "QualifyingProperties")) {
      return format("ds:Object must hold exactly one xades:QualifyingProperties (namespace " + s(kXadesNamespace) +
                    ")");
    }
    pugi::xml_node qp = obj[0];
    if (std::string_view(qp.attribute("Target").value()) != "#" + sig_id) {
      return format("QualifyingProperties Target is not \"#" + sig_id + "\"");
    }
    auto qpc = elements(qp);
    if (qpc.empty() || qpc.size() > 2 || !is(qpc[0], kXadesNamespace, "SignedProperties") ||
        (qpc.size() == 2 && !is(qpc[1], kXadesNamespace, "UnsignedProperties"))) {
      return format("QualifyingProperties must hold SignedProperties, then optionally UnsignedProperties");
    }
    m_signed_props = qpc[0];
    if ("#" + std::string(m_signed_props.attribute("Id").value()) != sp_uri) {
      return format("the SignedProperties Reference URI " + sp_uri + " does not name the SignedProperties");
    }
    if (!signed_properties()) {
      return false;
    }
    if (qpc.size() == 2 && !unsigned_properties(qpc[1])) {
      return false;
    }
    return true;
  }

  bool signed_properties() {
    pugi::xml_node ssp;
    pugi::xml_node sdop;
    for (pugi::xml_node c : elements(m_signed_props)) {
      if (is(c, kXadesNamespace, "SignedSignatureProperties") && !ssp) {
        ssp = c;
      } else if (is(c, kXadesNamespace, "SignedDataObjectProperties") && !sdop) {
        sdop = c;
      } else {
        return format(std::string("unexpected ") + c.name() + " in SignedProperties");
      }
    }
    if (!ssp) {
      return format("SignedProperties has no SignedSignatureProperties");
    }
    pugi::xml_node signing_time;
    pugi::xml_node signing_cert;
    for (pugi::xml_node c : elements(ssp)) {
      if (is(c, kXadesNamespace, "SigningTime")) {
        if (signing_time) {
          return format("more than one SigningTime");
        }
        signing_time = c;
      } else if (is(c, kXadesNamespace, "SigningCertificateV2")) {
        if (signing_cert) {
          return format("more than one SigningCertificateV2");
        }
        signing_cert = c;
      }
    }
    if (!signing_time) {
      return format("no SigningTime (EN 319 132-1 baseline: shall be present)");
    }
    const std::string st = trim(text_of(signing_time));
    auto t = parse_rfc3339(st);
    if (!t || st.find('T') == std::string::npos) {
      return format("SigningTime \"" + st + "\" is not an xsd:dateTime with a time zone");
    }
    m_core.signing_time = *t;
    if (!signing_cert) {
      return format("no SigningCertificateV2 (EN 319 132-1 baseline: shall be present)");
    }
    auto certs = elements(signing_cert);
    if (certs.empty() || !is(certs[0], kXadesNamespace, "Cert")) {
      return format("SigningCertificateV2 holds no Cert");
    }
    auto cc = elements(certs[0]);
    if (cc.empty() || cc.size() > 2 || !is(cc[0], kXadesNamespace, "CertDigest") ||
        (cc.size() == 2 && !is(cc[1], kXadesNamespace, "IssuerSerialV2"))) {
      return format("SigningCertificateV2/Cert must hold CertDigest, then optionally IssuerSerialV2");
    }
    std::vector<pugi::xml_node> cd;
    if (!children_are(cc[0], {{kXmlDsigNamespace, "DigestMethod"}, {kXmlDsigNamespace, "DigestValue"}}, cd)) {
      return format("CertDigest must hold DigestMethod and DigestValue");
    }
    if (!digest_value(cd[0], cd[1], m_cert_digest, "CertDigest")) {
      return false;
    }
    if (cc.size() == 2) {
      auto is2 = base64_decode(compact_text(cc[1]));
      if (!is2) {
        return format("IssuerSerialV2 is not base64");
      }
      m_issuer_serial = std::move(*is2);
    }
    if (sdop) {
      for (pugi::xml_node c : elements(sdop)) {
        if (is(c, kXadesNamespace, "CommitmentTypeIndication") && m_core.commitment_type.empty()) {
          auto id = elements(c);
          if (!id.empty() && is(id[0], kXadesNamespace, "CommitmentTypeId")) {
            auto ident = elements(id[0]);
            if (!ident.empty() && is(ident[0], kXadesNamespace, "Identifier")) {
              std::string v = trim(text_of(ident[0]));
              if (v.starts_with(kUrnOid)) {
                v.erase(0, kUrnOid.size());
              }
              m_core.commitment_type = v;
            }
          }
        }
      }
    }
    return true;
  }

  bool unsigned_properties(pugi::xml_node up) {
    for (pugi::xml_node usp : elements(up)) {
      if (!is(usp, kXadesNamespace, "UnsignedSignatureProperties")) {
        continue;
      }
      for (pugi::xml_node ts : elements(usp)) {
        if (!is(ts, kXadesNamespace, "SignatureTimeStamp")) {
          continue;  // B-LT/B-LTA properties are not read here
        }
        pugi::xml_node cm;
        pugi::xml_node enc;
        for (pugi::xml_node c : elements(ts)) {
          if (is(c, kXmlDsigNamespace, "CanonicalizationMethod") && !cm) {
            cm = c;
          } else if (is(c, kXadesNamespace, "EncapsulatedTimeStamp")) {
            if (enc) {
              return format("a SignatureTimeStamp must hold one EncapsulatedTimeStamp (EN 319 132-1 baseline)");
            }
            enc = c;
          } else {
            return format(std::string("unexpected ") + c.name() + " in SignatureTimeStamp");
          }
        }
        if (!cm || !enc) {
          return format("SignatureTimeStamp needs CanonicalizationMethod and EncapsulatedTimeStamp");
        }
        auto opts = xml::c14n_options_for_uri(cm.attribute("Algorithm").value());
        if (!opts || opts->with_comments || !elements(cm).empty()) {
          return format(std::string("SignatureTimeStamp CanonicalizationMethod ") + cm.attribute("Algorithm").value() +
                        " is not supported");
        }
        auto token = base64_decode(compact_text(enc));
        if (!token || token->empty()) {
          return format("EncapsulatedTimeStamp is not base64");
        }
        auto covered = xml::detail::c14n(m_signature_value, *opts);
        if (!covered) {
          return format("cannot canonicalize SignatureValue: " + covered.error().message);
        }
        m_core.timestamps.push_back(XadesTimestamp{std::move(*token), std::move(*covered)});
      }
    }
    if (!m_core.timestamps.empty()) {
      m_core.level = Level::B_T;
    }
    return true;
  }

  bool signing_certificate() {
    std::size_t found = m_certs.size();
    for (std::size_t i = 0; i < m_certs.size(); ++i) {
      if (ct_equal(ossl::cert_sha256(m_certs[i].get()), m_cert_digest)) {
        found = i;
        break;
      }
    }
    if (found == m_certs.size()) {
      return bad(XadesStatus::no_signing_certificate_found,
                 "SigningCertificateV2 CertDigest matches no KeyInfo certificate");
    }
    if (!m_issuer_serial.empty() && m_issuer_serial != issuer_serial_der(m_certs[found].get())) {
      return bad(XadesStatus::no_signing_certificate_found,
                 "SigningCertificateV2 IssuerSerialV2 does not name the KeyInfo certificate");
    }
    for (std::size_t i = 0; i < m_certs.size(); ++i) {
      if (i == found) {
        m_core.signer_cert = std::move(m_certs[i]);
      } else {
        m_core.chain.push_back(std::move(m_certs[i]));
      }
    }
    m_certs.clear();
    return true;
  }

  bool digests() {
    if (!ct_equal(sha256(m_doc_bytes), m_doc_digest)) {
      return bad(XadesStatus::hash_failure, "the document digest does not match the FHIR XML #document bytes");
    }
    auto sp = xml::detail::c14n(m_signed_props, kExc);
    if (!sp) {
      return format("cannot canonicalize SignedProperties: " + sp.error().message);
    }
    if (!ct_equal(sha256(*sp), m_sp_digest)) {
      return bad(XadesStatus::hash_failure, "the SignedProperties digest does not match");
    }
    return true;
  }

  bool signature_value() {
    auto value = base64_decode(compact_text(m_signature_value));
    if (!value || value->empty()) {
      return format("SignatureValue is not base64");
    }
    auto si = xml::detail::c14n(m_signed_info, kExc);
    if (!si) {
      return format("cannot canonicalize SignedInfo: " + si.error().message);
    }
    EVP_PKEY* pk = X509_get0_pubkey(m_core.signer_cert.get());
    if (pk == nullptr) {
      clear_openssl_errors();
      return bad(XadesStatus::sig_crypto_failure, "the signer certificate's public key cannot be read");
    }
    Bytes sig = std::move(*value);
    const int type = EVP_PKEY_get_base_id(pk);
    if (*m_core.alg == JwsAlg::RS256 && type != EVP_PKEY_RSA) {
      return bad(XadesStatus::sig_crypto_failure, "rsa-sha256 with a non-RSA key");
    }
    if (*m_core.alg == JwsAlg::ES256) {
      if (type != EVP_PKEY_EC) {
        return bad(XadesStatus::sig_crypto_failure, "ecdsa-sha256 with a non-EC key");
      }
      if (sig.size() != 64) {
        return bad(XadesStatus::sig_crypto_failure, "an ecdsa-sha256 P-256 SignatureValue has 64 bytes (r||s)");
      }
      auto der = ecdsa_raw_to_der(sig);
      if (!der) {
        return bad(XadesStatus::sig_crypto_failure, "bad ECDSA signature value");
      }
      sig = std::move(*der);
    }
    ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pk) == 1 &&
                    EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                                     reinterpret_cast<const unsigned char*>(si->data()), si->size()) == 1;
    clear_openssl_errors();
    if (!ok) {
      return bad(XadesStatus::sig_crypto_failure,
                 "SignatureValue does not verify over the exclusive C14N of SignedInfo");
    }
    return true;
  }

  XadesCore& m_core;
  const pugi::xml_document& m_sdoc;
  std::string m_doc_uri;
  const std::string& m_doc_bytes;
  pugi::xml_node m_signed_info;
  pugi::xml_node m_signature_value;
  pugi::xml_node m_signed_props;
  Bytes m_doc_digest;
  Bytes m_sp_digest;
  Bytes m_cert_digest;
  Bytes m_issuer_serial;
  std::vector<ossl::X509Ptr> m_certs;
};

}  // namespace

namespace {

/** The FHIR XML value="" of `e`, or the text of a narrative (for names only the value attributes are read). */
json::Value xml_value(pugi::xml_node e) { return json::Value(std::string(e.attribute("value").value())); }

/** HumanName elements of an XML resource as JSON HumanName objects (text, family, given). */
json::Value xml_names(pugi::xml_node resource) {
  json::Array names;
  for (pugi::xml_node n : fhir_children(resource, "name")) {
    json::Object o;
    if (auto t = fhir_children(n, "text"); !t.empty()) {
      o.emplace_back("text", xml_value(t.front()));
    }
    if (auto f = fhir_children(n, "family"); !f.empty()) {
      o.emplace_back("family", xml_value(f.front()));
    }
    json::Array given;
    for (pugi::xml_node g : fhir_children(n, "given")) {
      given.push_back(xml_value(g));
    }
    if (!given.empty()) {
      o.emplace_back("given", json::Value(std::move(given)));
    }
    names.emplace_back(std::move(o));
  }
  return json::Value(std::move(names));
}

json::Value xml_reference(pugi::xml_node ref) {
  json::Object o;
  if (auto r = fhir_children(ref, "reference"); !r.empty()) {
    o.emplace_back("reference", xml_value(r.front()));
  }
  if (auto d = fhir_children(ref, "display"); !d.empty()) {
    o.emplace_back("display", xml_value(d.front()));
  }
  return json::Value(std::move(o));
}

/** See XadesCore::policy_view. */
json::Value policy_view_of(pugi::xml_node root) {
  json::Object bundle;
  bundle.emplace_back("resourceType", json::Value("Bundle"));
  bundle.emplace_back("type", json::Value("document"));
  if (auto ids = fhir_children(root, "identifier"); !ids.empty()) {
    bundle.emplace_back("identifier", json::Value(json::Object{{"value", json::Value(fhir_value(ids.front(), "value"))}}));
  }
  json::Array entries;
  for (pugi::xml_node entry : fhir_children(root, "entry")) {
    json::Object e;
    if (auto fu = fhir_children(entry, "fullUrl"); !fu.empty()) {
      e.emplace_back("fullUrl", xml_value(fu.front()));
    }
    auto res = fhir_children(entry, "resource");
    if (!res.empty()) {
      pugi::xml_node r;
      for (pugi::xml_node c = res.front().first_child(); c; c = c.next_sibling()) {
        if (c.type() == pugi::node_element) {
          r = c;
          break;
        }
      }
      if (r) {
        json::Object ro;
        const std::string type(local_name_of(r.name()));
        ro.emplace_back("resourceType", json::Value(type));
        if (auto id = fhir_children(r, "id"); !id.empty()) {
          ro.emplace_back("id", xml_value(id.front()));
        }
        if (type == "Composition") {
          if (auto t = fhir_children(r, "type"); !t.empty()) {
            json::Array codings;
            for (pugi::xml_node c : fhir_children(t.front(), "coding")) {
              codings.emplace_back(json::Object{{"system", json::Value(fhir_value(c, "system"))},
                                                {"code", json::Value(fhir_value(c, "code"))},
                                                {"display", json::Value(fhir_value(c, "display"))}});
            }
            ro.emplace_back("type", json::Value(json::Object{{"coding", json::Value(std::move(codings))}}));
          }
          json::Array authors;
          for (pugi::xml_node a : fhir_children(r, "author")) {
            authors.push_back(xml_reference(a));
          }
          ro.emplace_back("author", json::Value(std::move(authors)));
        } else if (type == "Practitioner") {
          ro.emplace_back("name", xml_names(r));
        } else if (type == "PractitionerRole") {
          if (auto p = fhir_children(r, "practitioner"); !p.empty()) {
            ro.emplace_back("practitioner", xml_reference(p.front()));
          }
        }
        e.emplace_back("resource", json::Value(std::move(ro)));
      }
    }
    entries.emplace_back(std::move(e));
  }
  bundle.emplace_back("entry", json::Value(std::move(entries)));
  if (auto sigs = fhir_children(root, "signature"); !sigs.empty()) {
    json::Object sig;
    if (auto who = fhir_children(sigs.front(), "who"); !who.empty()) {
      sig.emplace_back("who", xml_reference(who.front()));
    }
    bundle.emplace_back("signature", json::Value(std::move(sig)));
  }
  return json::Value(std::move(bundle));
}
}  // namespace

Result<XadesCore> verify_xades_core(std::string_view signed_bundle_xml) {
  auto doc = xml::Document::parse(signed_bundle_xml);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  if (!xml::is_document_bundle(*doc)) {
    return fail(Errc::not_a_document, "not a FHIR Bundle of type document");
  }
  const pugi::xml_node root = doc->impl().doc.document_element();
  auto sigs = fhir_children(root, "signature");
  if (sigs.empty()) {
    return fail(Errc::no_signature, "the Bundle has no signature");
  }
  XadesCore core;
  core.status = XadesStatus::format_failure;
  core.policy_view = policy_view_of(root);
  if (sigs.size() > 1) {
    core.message = "more than one Bundle.signature";
    return core;
  }
  // The signature is read from Bundle.signature.data only: XML-DSig or
  // XAdES elements anywhere in the Bundle are refused, not looked at.
  bool foreign = false;
  (void)xml::detail::walk(
      root,
      [&](pugi::xml_node e) -> Result<void> {
        const std::string ns = element_namespace(e);
        if (ns == kXmlDsigNamespace || ns == kXadesNamespace) {
          foreign = true;
          return fail(Errc::invalid_argument, "dsig");
        }
        return {};
      },
      [](pugi::xml_node) {}, [](pugi::xml_node) {});
  if (foreign) {
    core.message = "an XML-DSig/XAdES element inside the Bundle (the signature must be in Bundle.signature.data only)";
    return core;
  }
  const pugi::xml_node fs = sigs.front();
  for (pugi::xml_node type : fhir_children(fs, "type")) {
    core.fhir_signature_types.push_back(fhir_value(type, "code"));
  }
  const std::string sig_format = fhir_value(fs, "sigFormat");
  if (sig_format != kXmlSigFormat) {
    core.message = "Bundle.signature.sigFormat is \"" + sig_format + "\", not " + s(kXmlSigFormat);
    return core;
  }
  std::string data;
  for (char c : fhir_value(fs, "data")) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      data += c;
    }
  }
  auto decoded = base64_decode(data);
  if (data.empty() || !decoded) {
    core.message = "Bundle.signature.data is missing or not base64";
    return core;
  }
  core.signature_xml = to_string(*decoded);
  auto sdoc = xml::Document::parse(core.signature_xml);
  if (!sdoc) {
    core.message = "the signature document is not acceptable XML: " + sdoc.error().message;
    return core;
  }
  auto bytes = xml::fhir_xml_document(*doc);
  if (!bytes) {
    return std::unexpected(bytes.error());
  }
  core.document_sha256_hex = hex(sha256(*bytes));
  CoreChecker(core, sdoc->impl().doc, bundle_identifier_xml(root), *bytes).run();
  return core;
}

Result<json::Value> xml_policy_view(std::string_view bundle_xml) {
  auto doc = xml::Document::parse(bundle_xml);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  if (!xml::is_document_bundle(*doc)) {
    return fail(Errc::not_a_document, "not a FHIR Bundle of type document");
  }
  return policy_view_of(doc->impl().doc.document_element());
}

}  // namespace hanko::signer
