// XAdES (ETSI EN 319 132-1) long-term parts: reading SignatureTimeStamp,
// CertificateValues, RevocationValues, xadesv141:TimeStampValidationData and
// xadesv141:ArchiveTimeStamp, and appending them to an existing signature
// without touching a byte of what is there (hanko/signer/augment.h;
// docs/formats.md section 10).
#include <openssl/ocsp.h>

#include <algorithm>

#include "augment_internal.h"
#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/augment.h"
#include "hanko/signer/xades.h"
#include "hanko/signer/xml.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/token.h"
#include "xml_internal.h"

namespace hanko::signer {

namespace {

using xml::detail::element_namespace;
using xml::detail::local_name_of;
using xml::detail::lookup_namespace;
using xml::detail::prefix_of;

/** The XAdES 1.4.1 namespace (ArchiveTimeStamp, TimeStampValidationData). */
constexpr std::string_view kXades141 = "http://uri.etsi.org/01903/v1.4.1#";
const xml::C14nOptions kExc{xml::C14nMethod::exc_c14n, false, {}};

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

pugi::xml_node child(pugi::xml_node parent, std::string_view ns, std::string_view local) {
  for (pugi::xml_node c : elements(parent)) {
    if (is(c, ns, local)) {
      return c;
    }
  }
  return {};
}

/** Text content with XML whitespace removed (base64 may be wrapped). */
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

/** The parts of a ds:Signature document that the long-term properties use. */
struct SigParts {
  pugi::xml_node signature, signed_info, signature_value, key_info, qualifying, unsigned_props, usp;
  std::vector<pugi::xml_node> other_objects;  ///< ds:Object elements without QualifyingProperties
};

Result<SigParts> parts_of(const pugi::xml_document& doc) {
  SigParts p;
  p.signature = doc.document_element();
  if (!is(p.signature, kXmlDsigNamespace, "Signature")) {
    return fail(Errc::invalid_argument, "the signature document's root is not ds:Signature");
  }
  p.signed_info = child(p.signature, kXmlDsigNamespace, "SignedInfo");
  p.signature_value = child(p.signature, kXmlDsigNamespace, "SignatureValue");
  p.key_info = child(p.signature, kXmlDsigNamespace, "KeyInfo");
  if (!p.signed_info || !p.signature_value) {
    return fail(Errc::invalid_argument, "ds:Signature lacks SignedInfo or SignatureValue");
  }
  for (pugi::xml_node obj : elements(p.signature)) {
    if (!is(obj, kXmlDsigNamespace, "Object")) {
      continue;
    }
    if (pugi::xml_node qp = child(obj, kXadesNamespace, "QualifyingProperties")) {
      if (p.qualifying) {
        return fail(Errc::invalid_argument, "more than one xades:QualifyingProperties");
      }
      p.qualifying = qp;
    } else {
      p.other_objects.push_back(obj);
    }
  }
  if (!p.qualifying) {
    return fail(Errc::invalid_argument, "no xades:QualifyingProperties");
  }
  std::size_t ups = 0;
  for (pugi::xml_node c : elements(p.qualifying)) {
    if (is(c, kXadesNamespace, "UnsignedProperties")) {
      p.unsigned_props = c;
      ++ups;
    }
  }
  if (ups > 1) {
    return fail(Errc::invalid_argument, "more than one xades:UnsignedProperties");
  }
  if (p.unsigned_props) {
    std::size_t usps = 0;
    for (pugi::xml_node c : elements(p.unsigned_props)) {
      if (is(c, kXadesNamespace, "UnsignedSignatureProperties")) {
        p.usp = c;
        ++usps;
      }
    }
    if (usps > 1) {
      return fail(Errc::invalid_argument, "more than one xades:UnsignedSignatureProperties");
    }
  }
  return p;
}

/** CanonicalizationMethod + one EncapsulatedTimeStamp of a XAdESTimeStampType property. */
Result<std::pair<xml::C14nOptions, Bytes>> timestamp_property(pugi::xml_node ts, std::string_view what) {
  pugi::xml_node cm;
  pugi::xml_node enc;
  for (pugi::xml_node c : elements(ts)) {
    if (is(c, kXmlDsigNamespace, "CanonicalizationMethod") && !cm && !enc) {
      cm = c;
    } else if (is(c, kXadesNamespace, "EncapsulatedTimeStamp")) {
      if (enc) {
        return fail(Errc::invalid_argument, std::string(what) + " must hold one EncapsulatedTimeStamp (EN 319 132-1 baseline)");
      }
      enc = c;
    } else {
      return fail(Errc::invalid_argument, std::string("unexpected ") + c.name() + " in " + std::string(what));
    }
  }
  if (!enc) {
    return fail(Errc::invalid_argument, std::string(what) + " has no EncapsulatedTimeStamp");
  }
  // EN 319 132-1 clause 4.5: without ds:CanonicalizationMethod, Canonical XML 1.0 applies, which hanko does not implement.
  if (!cm) {
    return fail(Errc::unsupported, std::string(what) +
                                       " has no CanonicalizationMethod (Canonical XML 1.0 would apply, which hanko does not implement)");
  }
  auto opts = xml::c14n_options_for_uri(cm.attribute("Algorithm").value());
  if (!opts || opts->with_comments || !elements(cm).empty()) {
    return fail(Errc::unsupported, std::string(what) + " CanonicalizationMethod " + cm.attribute("Algorithm").value() +
                                       " is not supported (exclusive C14N or C14N 1.1, without comments)");
  }
  auto token = base64_decode(compact_text(enc));
  if (!token || token->empty()) {
    return fail(Errc::invalid_argument, std::string(what) + " EncapsulatedTimeStamp is not base64");
  }
  return std::make_pair(*opts, std::move(*token));
}

bool ocsp_response_parses(ByteView der) {
  const unsigned char* p = der.data();
  ossl::OcspResponsePtr r(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  const bool ok = r && p == der.data() + der.size();
  clear_openssl_errors();
  return ok;
}

Result<Bytes> encapsulated(pugi::xml_node e, std::string_view what) {
  if (pugi::xml_attribute enc = e.attribute("Encoding")) {
    const std::string_view v = enc.value();
    if (v != "http://uri.etsi.org/01903/v1.2.2#DER") {
      return fail(Errc::invalid_argument, std::string(what) + " Encoding " + std::string(v) + " is not DER");
    }
  }
  auto der = base64_decode(compact_text(e));
  if (!der || der->empty()) {
    return fail(Errc::invalid_argument, std::string(what) + " is not base64");
  }
  return std::move(*der);
}

Result<void> read_certificate_values(pugi::xml_node cv, EmbeddedValues& out, std::vector<std::string>& ignored) {
  for (pugi::xml_node c : elements(cv)) {
    if (is(c, kXadesNamespace, "EncapsulatedX509Certificate")) {
      auto der = encapsulated(c, "an EncapsulatedX509Certificate");
      if (!der) {
        return std::unexpected(der.error());
      }
      if (!ossl::x509_from_der(*der)) {
        clear_openssl_errors();
        return fail(Errc::invalid_argument, "an EncapsulatedX509Certificate is not a DER certificate");
      }
      out.certificates.push_back(std::move(*der));
    } else if (is(c, kXadesNamespace, "OtherCertificate")) {
      ignored.push_back("CertificateValues/OtherCertificate (not processed)");
    } else {
      return fail(Errc::invalid_argument, std::string("unexpected ") + c.name() + " in CertificateValues");
    }
  }
  return {};
}

Result<void> read_revocation_values(pugi::xml_node rv, EmbeddedValues& out, std::vector<std::string>& ignored) {
  for (pugi::xml_node group : elements(rv)) {
    if (is(group, kXadesNamespace, "CRLValues")) {
      for (pugi::xml_node c : elements(group)) {
        if (!is(c, kXadesNamespace, "EncapsulatedCRLValue")) {
          return fail(Errc::invalid_argument, std::string("unexpected ") + c.name() + " in CRLValues");
        }
        auto der = encapsulated(c, "an EncapsulatedCRLValue");
        if (!der) {
          return std::unexpected(der.error());
        }
        if (!ossl::x509_crl_from_der(*der)) {
          clear_openssl_errors();
          return fail(Errc::invalid_argument, "an EncapsulatedCRLValue is not a DER CRL");
        }
        out.crls.push_back(std::move(*der));
      }
    } else if (is(group, kXadesNamespace, "OCSPValues")) {
      for (pugi::xml_node c : elements(group)) {
        if (!is(c, kXadesNamespace, "EncapsulatedOCSPValue")) {
          return fail(Errc::invalid_argument, std::string("unexpected ") + c.name() + " in OCSPValues");
        }
        auto der = encapsulated(c, "an EncapsulatedOCSPValue");
        if (!der) {
          return std::unexpected(der.error());
        }
        if (!ocsp_response_parses(*der)) {
          return fail(Errc::invalid_argument, "an EncapsulatedOCSPValue is not a DER OCSPResponse");
        }
        out.ocsp_responses.push_back(std::move(*der));
      }
    } else if (is(group, kXadesNamespace, "OtherValues")) {
      ignored.push_back("RevocationValues/OtherValues (not processed)");
    } else {
      return fail(Errc::invalid_argument, std::string("unexpected ") + group.name() + " in RevocationValues");
    }
  }
  return {};
}

/**
 * EN 319 132-1 clause 5.5.2.2: the message-imprint input of an archive
 * timestamp that follows the first `preceding` children of
 * UnsignedSignatureProperties.
 */
Result<std::string> archive_input(const SigParts& p, std::size_t preceding, const xml::C14nOptions& opts,
                                  std::string_view document) {
  std::string out;
  // 1. Each ds:Reference, processed as XMLDSig says: the document Reference is an
  //    octet stream (the #document bytes, no Transforms); the SignedProperties
  //    Reference ends with its exclusive C14N Transform, whose octets are used.
  for (pugi::xml_node ref : elements(p.signed_info)) {
    if (!is(ref, kXmlDsigNamespace, "Reference")) {
      continue;
    }
    const std::string_view type = ref.attribute("Type").value();
    if (type == kXadesSignedPropertiesType) {
      const std::string uri = ref.attribute("URI").value();
      if (uri.size() < 2 || uri.front() != '#') {
        return fail(Errc::invalid_argument, "the SignedProperties Reference URI is not #Id");
      }
      pugi::xml_node sp;
      for (pugi::xml_node c : elements(p.qualifying)) {
        if (is(c, kXadesNamespace, "SignedProperties") && uri.substr(1) == c.attribute("Id").value()) {
          sp = c;
        }
      }
      if (!sp) {
        return fail(Errc::invalid_argument, "the SignedProperties Reference names no SignedProperties");
      }
      auto bytes = xml::detail::c14n(sp, kExc);
      if (!bytes) {
        return std::unexpected(bytes.error());
      }
      out += *bytes;
    } else if (type.empty()) {
      out.append(document);
    } else {
      return fail(Errc::unsupported, "a Reference of Type " + std::string(type) + " is not part of hanko's profile");
    }
  }
  // 2. ds:SignedInfo, ds:SignatureValue, ds:KeyInfo.
  for (pugi::xml_node e : {p.signed_info, p.signature_value, p.key_info}) {
    if (!e) {
      continue;
    }
    auto bytes = xml::detail::c14n(e, opts);
    if (!bytes) {
      return std::unexpected(bytes.error());
    }
    out += *bytes;
  }
  // 3. The unsigned signature properties before this timestamp, in order.
  if (p.usp) {
    auto props = elements(p.usp);
    for (std::size_t i = 0; i < preceding && i < props.size(); ++i) {
      auto bytes = xml::detail::c14n(props[i], opts);
      if (!bytes) {
        return std::unexpected(bytes.error());
      }
      out += *bytes;
    }
  }
  // 4. Every other ds:Object.
  for (pugi::xml_node obj : p.other_objects) {
    auto bytes = xml::detail::c14n(obj, opts);
    if (!bytes) {
      return std::unexpected(bytes.error());
    }
    out += *bytes;
  }
  return out;
}

Result<LongTermView> read_view(const pugi::xml_document& doc, std::string_view document) {
  auto parts = parts_of(doc);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  const SigParts& p = *parts;
  LongTermView view;
  if (!p.usp) {
    return view;
  }
  bool has_sig_tst = false;
  bool has_values = false;
  bool has_arc_tst = false;
  auto props = elements(p.usp);
  view.property_count = props.size();
  for (std::size_t i = 0; i < props.size(); ++i) {
    pugi::xml_node e = props[i];
    if (is(e, kXadesNamespace, "SignatureTimeStamp")) {
      auto ts = timestamp_property(e, "SignatureTimeStamp");
      if (!ts) {
        return std::unexpected(ts.error());
      }
      auto covered = xml::detail::c14n(p.signature_value, ts->first);
      if (!covered) {
        return std::unexpected(covered.error());
      }
      view.timestamps.push_back(
          EmbeddedTimestamp{EmbeddedTimestamp::Kind::signature, std::move(ts->second), std::move(*covered), i});
      has_sig_tst = true;
    } else if (is(e, kXades141, "ArchiveTimeStamp")) {
      auto ts = timestamp_property(e, "ArchiveTimeStamp");
      if (!ts) {
        return std::unexpected(ts.error());
      }
      auto covered = archive_input(p, i, ts->first, document);
      if (!covered) {
        return std::unexpected(covered.error());
      }
      view.timestamps.push_back(
          EmbeddedTimestamp{EmbeddedTimestamp::Kind::archive, std::move(ts->second), std::move(*covered), i});
      has_arc_tst = true;
    } else if (is(e, kXadesNamespace, "CertificateValues") || is(e, kXadesNamespace, "RevocationValues")) {
      EmbeddedValues ev;
      ev.position = i;
      auto ok = local_name_of(e.name()) == "CertificateValues" ? read_certificate_values(e, ev, view.ignored)
                                                               : read_revocation_values(e, ev, view.ignored);
      if (!ok) {
        return std::unexpected(ok.error());
      }
      view.values.push_back(std::move(ev));
      has_values = true;
    } else if (is(e, kXades141, "TimeStampValidationData")) {
      EmbeddedValues ev;
      ev.position = i;
      ev.kind = EmbeddedValues::Kind::timestamp;
      for (pugi::xml_node c : elements(e)) {
        Result<void> ok;
        if (is(c, kXadesNamespace, "CertificateValues")) {
          ok = read_certificate_values(c, ev, view.ignored);
        } else if (is(c, kXadesNamespace, "RevocationValues")) {
          ok = read_revocation_values(c, ev, view.ignored);
        } else {
          ok = fail(Errc::invalid_argument, std::string("unexpected ") + c.name() + " in TimeStampValidationData");
        }
        if (!ok) {
          return std::unexpected(ok.error());
        }
      }
      view.values.push_back(std::move(ev));
    } else {
      view.ignored.push_back(std::string("unsigned property ") + e.name() + " (not processed)");
    }
  }
  view.level = has_arc_tst  ? SignatureLevel::B_LTA
               : has_values ? SignatureLevel::B_LT
               : has_sig_tst ? SignatureLevel::B_T
                             : SignatureLevel::B_B;
  return view;
}

// --- Writing ---------------------------------------------------------------------

/** Prefixes to write new properties with, at the insertion point. */
struct Prefixes {
  std::string xades;      ///< "xades:" or "" (the XAdES namespace is the default there)
  std::string ds_decl;    ///< " xmlns:ds=..." when "ds" is not bound to XML-DSig at the insertion point
  std::string v141_decl;  ///< " xmlns:xadesv141=..." unless bound already
};

Prefixes prefixes_at(pugi::xml_node context) {
  Prefixes p;
  const std::string_view px = prefix_of(context.name());
  p.xades = px.empty() ? std::string() : std::string(px) + ":";
  if (lookup_namespace(context, "ds") != std::string(kXmlDsigNamespace)) {
    p.ds_decl = " xmlns:ds=\"" + std::string(kXmlDsigNamespace) + "\"";
  }
  if (lookup_namespace(context, "xadesv141") != std::string(kXades141)) {
    p.v141_decl = " xmlns:xadesv141=\"" + std::string(kXades141) + "\"";
  }
  return p;
}

std::string el(const std::string& name, const std::string& attrs, const std::string& content) {
  return "<" + name + attrs + ">" + content + "</" + name + ">";
}

std::string certificate_values(const Prefixes& p, const std::vector<Bytes>& certs, const std::string& id_attr) {
  std::string inner;
  for (const auto& c : certs) {
    inner += el(p.xades + "EncapsulatedX509Certificate", "", base64_encode(c));
  }
  return el(p.xades + "CertificateValues", id_attr, inner);
}

std::string revocation_values(const Prefixes& p, const std::vector<Bytes>& crls, const std::vector<Bytes>& ocsps,
                              const std::string& id_attr) {
  std::string inner;
  if (!crls.empty()) {
    std::string list;
    for (const auto& c : crls) {
      list += el(p.xades + "EncapsulatedCRLValue", "", base64_encode(c));
    }
    inner += el(p.xades + "CRLValues", "", list);
  }
  if (!ocsps.empty()) {
    std::string list;
    for (const auto& c : ocsps) {
      list += el(p.xades + "EncapsulatedOCSPValue", "", base64_encode(c));
    }
    inner += el(p.xades + "OCSPValues", "", list);
  }
  return el(p.xades + "RevocationValues", id_attr, inner);
}

std::string timestamp_element(const Prefixes& p, const std::string& name, const std::string& attrs, ByteView token) {
  return el(name, attrs + p.ds_decl,
            "<ds:CanonicalizationMethod Algorithm=\"" + std::string(kXmlExcC14n) + "\"/>" +
                el(p.xades + "EncapsulatedTimeStamp", "", base64_encode(token)));
}

/** Positions of "</qname" followed by optional whitespace and ">" in `text`. */
std::vector<std::size_t> end_tags(std::string_view text, std::string_view qname) {
  std::vector<std::size_t> out;
  const std::string needle = "</" + std::string(qname);
  for (std::size_t pos = text.find(needle); pos != std::string_view::npos; pos = text.find(needle, pos + 1)) {
    std::size_t j = pos + needle.size();
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r')) {
      ++j;
    }
    if (j < text.size() && text[j] == '>') {
      out.push_back(pos);
    }
  }
  return out;
}

/**
 * Appends `properties` (serialized children of UnsignedSignatureProperties)
 * to the signature document text, before the end tag of
 * UnsignedSignatureProperties, or in a new UnsignedProperties before the end
 * tag of QualifyingProperties. Every existing byte stays where it is.
 */
Result<std::string> insert_properties(std::string_view text, const SigParts& p, const std::string& properties) {
  std::string out(text);
  if (p.usp) {
    auto at = end_tags(text, p.usp.name());
    if (at.size() != 1) {
      return fail(Errc::unsupported, "cannot find the one end tag of UnsignedSignatureProperties in the signature text");
    }
    out.insert(at.front(), properties);
    return out;
  }
  if (p.unsigned_props) {
    return fail(Errc::unsupported,
                "the signature has UnsignedProperties without UnsignedSignatureProperties; hanko does not insert one");
  }
  auto at = end_tags(text, p.qualifying.name());
  if (at.size() != 1) {
    return fail(Errc::unsupported, "cannot find the one end tag of QualifyingProperties in the signature text");
  }
  const std::string_view px = prefix_of(p.qualifying.name());
  const std::string x = px.empty() ? std::string() : std::string(px) + ":";
  out.insert(at.front(), el(x + "UnsignedProperties", "", el(x + "UnsignedSignatureProperties", "", properties)));
  return out;
}

Result<xml::Document> parse_signature(std::string_view text) { return xml::Document::parse(text); }

void count(ExtendedBundle& stats, const detail::Collected& c) {
  stats.certificates_added += c.certificates.size();
  stats.crls_added += c.crls.size();
  stats.ocsp_responses_added += c.ocsp_responses.size();
  for (const auto& n : c.notes) {
    stats.notes.push_back(n);
  }
}

Result<Bytes> stamp(const ExtendContext& ctx, std::string_view data, DigestAlg alg, const char* what,
                    ExtendedBundle& stats) {
  if (ctx.tsa == nullptr) {
    return fail(Errc::invalid_argument, std::string(what) + " needs a timestamp source");
  }
  auto token = ctx.tsa->timestamp(as_bytes(data), alg);
  if (!token) {
    return std::unexpected(token.error());
  }
  if (auto ok = detail::check_new_token(ctx, *token, data, what); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto t = detail::token_time(*token)) {
    stats.timestamps_added.push_back(*t);
    stats.notes.push_back(std::string(what) + " from " + ctx.tsa->describe() + ", genTime " + format_rfc3339(*t) +
                          ", " + std::string(digest_name(alg)));
  }
  return token;
}

/** Raises one ds:Signature document; returns the new text (the input when nothing was added). */
Result<std::string> extend_signature(std::string_view text, std::string_view document, const XadesCore& core,
                                     ExtendLevel target, const ExtendContext& ctx, ExtendedBundle& stats) {
  auto doc = parse_signature(text);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  auto view = read_view(doc->impl().doc, document);
  if (!view) {
    return std::unexpected(view.error());
  }
  stats.before = stats.after = view->level;
  if (detail::satisfies(view->level, target)) {
    return std::string(text);
  }
  auto parts = parts_of(doc->impl().doc);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  const pugi::xml_node context = parts->usp ? parts->usp : parts->qualifying;
  const Prefixes px = prefixes_at(context);
  const std::string r = detail::random_hex();
  SignatureLevel level = view->level;
  std::string added;  // new UnsignedSignatureProperties children, in order
  std::vector<Bytes> sig_tokens;
  for (const auto& t : view->timestamps) {
    if (t.kind == EmbeddedTimestamp::Kind::signature) {
      sig_tokens.push_back(t.token);
    }
  }
  std::vector<Bytes> present;
  for (const X509* c : {core.signer_cert.get()}) {
    present.push_back(ossl::x509_to_der(c));
  }
  for (const auto& c : core.chain) {
    present.push_back(ossl::x509_to_der(c.get()));
  }
  for (const auto& v : view->values) {
    present.insert(present.end(), v.certificates.begin(), v.certificates.end());
  }
  // B-T: SignatureTimeStamp over the exclusive C14N of ds:SignatureValue (EN 319 132-1 clause 5.3).
  if (level == SignatureLevel::B_B) {
    auto covered = xml::detail::c14n(parts->signature_value, kExc);
    if (!covered) {
      return std::unexpected(covered.error());
    }
    auto token = stamp(ctx, *covered, DigestAlg::sha256, "signature timestamp (SignatureTimeStamp)", stats);
    if (!token) {
      return std::unexpected(token.error());
    }
    added += timestamp_element(px, px.xades + "SignatureTimeStamp", " Id=\"ts-" + r + "\"", *token);
    sig_tokens.push_back(std::move(*token));
    level = SignatureLevel::B_T;
  }
  // B-LT: CertificateValues and RevocationValues.
  if (target != ExtendLevel::B_T && level == SignatureLevel::B_T) {
    detail::Collector col(ctx, present);
    std::vector<const X509*> untrusted;
    for (const auto& c : core.chain) {
      untrusted.push_back(c.get());
    }
    if (auto ok = col.add_signer_chain(core.signer_cert.get(), untrusted); !ok) {
      return std::unexpected(ok.error());
    }
    for (std::size_t i = 0; i < sig_tokens.size(); ++i) {
      if (auto ok = col.add_tsa_chain(sig_tokens[i], "signature timestamp " + std::to_string(i + 1)); !ok) {
        return std::unexpected(ok.error());
      }
    }
    const detail::Collected& c = col.result();
    if (c.empty()) {
      return fail(Errc::policy, "cannot make B-LT: no certificate or revocation data to embed (a self-signed signer?)");
    }
    if (!c.certificates.empty()) {
      added += certificate_values(px, c.certificates, " Id=\"cv-" + r + "\"");
    }
    if (c.has_revocation()) {
      added += revocation_values(px, c.crls, c.ocsp_responses, " Id=\"rv-" + r + "\"");
    }
    count(stats, c);
    level = SignatureLevel::B_LT;
  }
  std::string current(text);
  if (target == ExtendLevel::B_LTA) {
    if (level == SignatureLevel::B_LTA) {
      const EmbeddedTimestamp* last = nullptr;
      for (const auto& t : view->timestamps) {
        if (t.kind == EmbeddedTimestamp::Kind::archive) {
          last = &t;
        }
      }
      const certstore::TrustStore* trust = ctx.tsa_trust != nullptr ? ctx.tsa_trust : ctx.signature_trust;
      if (trust == nullptr || ctx.revocation == nullptr) {
        return fail(Errc::invalid_argument, "renewing B-LTA needs TSA trust anchors and a revocation checker");
      }
      auto check = tsa::verify_token(last->token, as_bytes(last->covered), *trust, ctx.now);
      if (check.status != tsa::TokenStatus::ok && check.status != tsa::TokenStatus::chain_failure) {
        return fail(Errc::invalid_argument, "the last archive timestamp does not match what it covers (" +
                                                std::string(tsa::token_status_name(check.status)) + "): " +
                                                check.message + "; the signature is not renewed");
      }
      detail::Collector col(ctx, present);
      if (auto ok = col.add_tsa_chain(last->token, "the last archive timestamp"); !ok) {
        return std::unexpected(ok.error());
      }
      const detail::Collected& c = col.result();
      if (!c.empty()) {
        std::string inner;
        if (!c.certificates.empty()) {
          inner += certificate_values(px, c.certificates, "");
        }
        if (c.has_revocation()) {
          inner += revocation_values(px, c.crls, c.ocsp_responses, "");
        }
        added += el("xadesv141:TimeStampValidationData", " Id=\"tsvd-" + r + "\"" + px.v141_decl, inner);
      }
      count(stats, c);
    }
    // The archive timestamp covers everything added so far: insert it, read it back, stamp.
    auto with_data = added.empty() ? Result<std::string>(current) : insert_properties(current, *parts, added);
    if (!with_data) {
      return std::unexpected(with_data.error());
    }
    auto doc1 = parse_signature(*with_data);
    if (!doc1) {
      return fail(Errc::internal, "the extended signature does not parse: " + doc1.error().message);
    }
    auto parts1 = parts_of(doc1->impl().doc);
    if (!parts1) {
      return std::unexpected(parts1.error());
    }
    const std::size_t preceding = parts1->usp ? elements(parts1->usp).size() : 0;
    auto input = archive_input(*parts1, preceding, kExc, document);
    if (!input) {
      return std::unexpected(input.error());
    }
    auto token = stamp(ctx, *input, ctx.archive_digest, "archive timestamp (xadesv141:ArchiveTimeStamp)", stats);
    if (!token) {
      return std::unexpected(token.error());
    }
    const std::string ats = timestamp_element(px, "xadesv141:ArchiveTimeStamp", " Id=\"ats-" + r + "\"" + px.v141_decl, *token);
    auto final_text = insert_properties(*with_data, *parts1, ats);
    if (!final_text) {
      return std::unexpected(final_text.error());
    }
    // Self-check: read back, the new archive timestamp must cover exactly what was stamped.
    auto doc2 = parse_signature(*final_text);
    auto view2 = doc2 ? read_view(doc2->impl().doc, document) : Result<LongTermView>(std::unexpected(doc2.error()));
    if (!view2 || view2->timestamps.empty() || view2->timestamps.back().kind != EmbeddedTimestamp::Kind::archive ||
        view2->timestamps.back().covered != *input) {
      return fail(Errc::internal, "the new archive timestamp does not read back over the data it was made for");
    }
    stats.after = SignatureLevel::B_LTA;
    stats.changed = true;
    return std::move(*final_text);
  }
  auto out = insert_properties(current, *parts, added);
  if (!out) {
    return std::unexpected(out.error());
  }
  stats.after = level;
  stats.changed = true;
  return out;
}

}  // namespace

Result<LongTermView> read_xades_long_term(std::string_view signature_xml, std::string_view document) {
  auto doc = parse_signature(signature_xml);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  return read_view(doc->impl().doc, document);
}

Result<ExtendedBundle> extend_xml_bundle(std::string_view text, ExtendLevel target, const ExtendContext& ctx) {
  auto core = verify_xades_core(text);
  if (!core) {
    return std::unexpected(core.error());
  }
  if (core->status != XadesStatus::ok) {
    return fail(Errc::invalid_argument, "the signature does not verify (" + std::string(xades_status_name(core->status)) +
                                            "): " + core->message + "; it is not extended");
  }
  auto bundle = xml::Document::parse(text);
  if (!bundle) {
    return std::unexpected(bundle.error());
  }
  auto document = xml::fhir_xml_document(*bundle);
  if (!document) {
    return std::unexpected(document.error());
  }
  ExtendedBundle out;
  auto sig = extend_signature(core->signature_xml, *document, *core, target, ctx, out);
  if (!sig) {
    return std::unexpected(sig.error());
  }
  out.bundle = std::string(text);
  if (!out.changed) {
    return out;
  }
  // Bundle.signature.data: replace the attribute value in place, else re-serialize.
  const pugi::xml_node root = bundle->impl().doc.document_element();
  pugi::xml_node data;
  for (pugi::xml_node s : elements(root)) {
    if (is(s, xml::kFhirNamespace, "signature")) {
      data = child(s, xml::kFhirNamespace, "data");
    }
  }
  if (!data) {
    return fail(Errc::internal, "Bundle.signature.data disappeared");
  }
  const std::string old_value = data.attribute("value").value();
  const std::string new_value = base64_encode(as_bytes(*sig));
  if (!detail::replace_once(out.bundle, "\"" + old_value + "\"", "\"" + new_value + "\"") &&
      !detail::replace_once(out.bundle, "'" + old_value + "'", "'" + new_value + "'")) {
    pugi::xml_document copy;
    copy.reset(bundle->impl().doc);
    pugi::xml_node croot = copy.document_element();
    for (pugi::xml_node s : elements(croot)) {
      if (is(s, xml::kFhirNamespace, "signature")) {
        child(s, xml::kFhirNamespace, "data").attribute("value").set_value(new_value.c_str());
      }
    }
    struct Writer final : pugi::xml_writer {
      std::string out;
      void write(const void* d, std::size_t n) override { out.append(static_cast<const char*>(d), n); }
    } w;
    copy.save(w, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
    out.bundle = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + w.out;
  }
  return out;
}

}  // namespace hanko::signer
