// XAdES B-B/B-T for FHIR XML document Bundles: round trips, tampering,
// signature-wrapping defences and xmlsec1 interop (hanko/signer/xades.h).
#include "hanko/signer/xades.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/base64.h"
#include "hanko/common/clock.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/xml.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/token.h"
#include "test_support.h"

namespace hanko::signer {
namespace {

namespace fs = std::filesystem;
using test::dev_pki;
using test::read_text;
using test::sign_time;
using test::write_text;

std::unique_ptr<SigningKey> load_key(const std::string& id) {
  const auto& item = dev_pki().get(id);
  auto k = PemSigningKey::load(item.cert.string(), item.key.string(), item.chain.string());
  EXPECT_TRUE(k) << k.error().message;
  return k ? std::move(*k) : nullptr;
}

std::string simple_bundle() { return read_text(test::data_file("bundles/simple-prescription.xml")); }

SignOptions options(Level level = Level::B_B) {
  SignOptions o;
  o.level = level;
  o.signing_time = sign_time();
  return o;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "not found: " << from;
  if (pos != std::string::npos) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

/** The text between the first `open` and the following `close`. */
std::string between(const std::string& text, const std::string& open, const std::string& close) {
  auto a = text.find(open);
  if (a == std::string::npos) {
    return {};
  }
  a += open.size();
  auto b = text.find(close, a);
  return b == std::string::npos ? std::string() : text.substr(a, b - a);
}

/** The signature document of a signed Bundle (Bundle.signature.data decoded). */
std::string signature_of(const std::string& bundle) {
  auto pos = bundle.rfind("<data value=\"");
  if (pos == std::string::npos) {
    return {};
  }
  pos += 13;
  auto end = bundle.find('"', pos);
  auto d = base64_decode(bundle.substr(pos, end - pos));
  return d ? to_string(*d) : std::string();
}

/** The Bundle with Bundle.signature.data replaced by `sig_xml`. */
std::string with_signature(const std::string& bundle, const std::string& sig_xml) {
  auto pos = bundle.rfind("<data value=\"") + 13;
  auto end = bundle.find('"', pos);
  std::string out = bundle;
  out.replace(pos, end - pos, base64_encode(as_bytes(sig_xml)));
  return out;
}

XadesCore verify_ok_result(const std::string& bundle) {
  auto core = verify_xades_core(bundle);
  EXPECT_TRUE(core) << core.error().message;
  return core ? std::move(*core) : XadesCore{};
}

void expect_status(const std::string& bundle, XadesStatus want, const std::string& message_part = "") {
  auto core = verify_xades_core(bundle);
  ASSERT_TRUE(core) << core.error().message;
  EXPECT_EQ(xades_status_name(core->status), xades_status_name(want)) << core->message;
  if (!message_part.empty()) {
    EXPECT_NE(core->message.find(message_part), std::string::npos) << core->message;
  }
}

class XadesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_rsa = load_key("doctor").release();
    s_ec = load_key("doctor-ec").release();
    auto signed_rsa = sign_xml_bundle(simple_bundle(), *s_rsa, nullptr, options());
    ASSERT_TRUE(signed_rsa) << signed_rsa.error().message;
    s_signed = new SignedXmlBundle(std::move(*signed_rsa));
  }
  static void TearDownTestSuite() {
    delete s_rsa;
    delete s_ec;
    delete s_signed;
  }
  static const SigningKey* s_rsa;
  static const SigningKey* s_ec;
  static const SignedXmlBundle* s_signed;
  const std::string& bundle() const { return s_signed->bundle_xml; }
  const std::string& sig() const { return s_signed->signature_xml; }
};
const SigningKey* XadesTest::s_rsa = nullptr;
const SigningKey* XadesTest::s_ec = nullptr;
const SignedXmlBundle* XadesTest::s_signed = nullptr;

// --- round trips ---

TEST_F(XadesTest, RoundTripRs256BaselineB) {
  XadesCore core = verify_ok_result(bundle());
  EXPECT_EQ(core.status, XadesStatus::ok) << core.message;
  ASSERT_TRUE(core.alg);
  EXPECT_EQ(*core.alg, JwsAlg::RS256);
  EXPECT_EQ(core.level, Level::B_B);
  EXPECT_TRUE(core.timestamps.empty());
  ASSERT_TRUE(core.signing_time);
  EXPECT_EQ(*core.signing_time, from_unix(to_unix(sign_time())));
  EXPECT_EQ(core.commitment_type, kAuthorSignature);
  EXPECT_EQ(core.fhir_signature_types, std::vector<std::string>{std::string(kAuthorSignature)});
  EXPECT_EQ(core.document_uri, "1311234567-2026-00000001");
  EXPECT_EQ(core.document_sha256_hex, s_signed->document_sha256_hex);
  ASSERT_TRUE(core.signer_cert);
  EXPECT_EQ(X509_cmp(core.signer_cert.get(), s_rsa->certificate()), 0);
  EXPECT_EQ(core.chain.size(), s_rsa->chain().size());
  EXPECT_EQ(core.signature_xml, sig());
  EXPECT_EQ(signature_of(bundle()), sig());
}

TEST_F(XadesTest, SignatureShapeFollowsTheProfile) {
  EXPECT_TRUE(sig().starts_with("<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"sig-"));
  EXPECT_NE(sig().find("<ds:Reference Id=\"ref-doc-"), std::string::npos);
  EXPECT_NE(sig().find("URI=\"1311234567-2026-00000001\""), std::string::npos);
  EXPECT_NE(sig().find("Type=\"http://uri.etsi.org/01903#SignedProperties\""), std::string::npos);
  EXPECT_NE(sig().find(std::string(kXmlDsigRsaSha256)), std::string::npos);
  EXPECT_NE(sig().find("<xades:MimeType>application/fhir+xml</xades:MimeType>"), std::string::npos);
  EXPECT_NE(sig().find("<xades:Identifier>urn:oid:1.2.840.10065.1.12.1.1</xades:Identifier>"), std::string::npos);
  EXPECT_NE(sig().find("<xades:SigningTime>2026-01-16T09:30:00Z</xades:SigningTime>"), std::string::npos);
  EXPECT_NE(sig().find("<xades:IssuerSerialV2>"), std::string::npos);
  // Bundle.signature is the last child of the Bundle, in FHIR element order.
  const std::string& b = bundle();
  auto s = b.rfind("<signature>");
  ASSERT_NE(s, std::string::npos);
  EXPECT_TRUE(b.ends_with("</signature></Bundle>"));
  const std::string fs = b.substr(s);
  std::vector<std::string> order = {"<type>", "<system value=\"urn:iso-astm:E1762-95:2013\"/>",
                                    "<code value=\"1.2.840.10065.1.12.1.1\"/>", "<when value=\"2026-01-16T09:30:00.000Z\"/>",
                                    "<who><reference value=\"urn:uuid:7d3b1c2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e\"/></who>",
                                    "<targetFormat value=\"" + std::string(kXmlTargetFormat) + "\"/>",
                                    "<sigFormat value=\"application/signature+xml\"/>", "<data value=\""};
  std::size_t at = 0;
  for (const auto& part : order) {
    auto p = fs.find(part, at);
    EXPECT_NE(p, std::string::npos) << part;
    at = p == std::string::npos ? at : p;
  }
  // Two signatures get different Ids.
  auto again = sign_xml_bundle(simple_bundle(), *s_rsa, nullptr, options());
  ASSERT_TRUE(again);
  EXPECT_NE(between(again->signature_xml, "Id=\"", "\""), between(sig(), "Id=\"", "\""));
}

TEST_F(XadesTest, RoundTripEs256BaselineB) {
  auto signed_ec = sign_xml_bundle(simple_bundle(), *s_ec, nullptr, options());
  ASSERT_TRUE(signed_ec) << signed_ec.error().message;
  EXPECT_NE(signed_ec->signature_xml.find(std::string(kXmlDsigEcdsaSha256)), std::string::npos);
  XadesCore core = verify_ok_result(signed_ec->bundle_xml);
  EXPECT_EQ(core.status, XadesStatus::ok) << core.message;
  ASSERT_TRUE(core.alg);
  EXPECT_EQ(*core.alg, JwsAlg::ES256);
  // Raw r||s, 64 bytes, not DER.
  const std::string sv = between(signed_ec->signature_xml, "<ds:SignatureValue", "</ds:SignatureValue>");
  auto raw = base64_decode(sv.substr(sv.find('>') + 1));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 64u);
  // A flipped bit in an ECDSA value fails too.
  std::string tampered = signed_ec->signature_xml;
  (*raw)[10] ^= 0x01;
  tampered = replace_once(tampered, sv.substr(sv.find('>') + 1), base64_encode(*raw));
  expect_status(with_signature(signed_ec->bundle_xml, tampered), XadesStatus::sig_crypto_failure);
}

TEST_F(XadesTest, RoundTripBaselineTWithTimestamp) {
  FixedClock tsa_clock(sign_time() + std::chrono::seconds(5));
  const auto& t = dev_pki().get("tsa");
  auto dev = tsa::DevTsa::load(t.cert.string(), t.key.string(), t.chain.string(), tsa_clock);
  ASSERT_TRUE(dev) << dev.error().message;
  tsa::InProcessTsa source(**dev);
  auto signed_t = sign_xml_bundle(simple_bundle(), *s_rsa, &source, options(Level::B_T));
  ASSERT_TRUE(signed_t) << signed_t.error().message;
  EXPECT_NE(signed_t->signature_xml.find("<xades:SignatureTimeStamp Id=\"ts-"), std::string::npos);
  XadesCore core = verify_ok_result(signed_t->bundle_xml);
  EXPECT_EQ(core.status, XadesStatus::ok) << core.message;
  EXPECT_EQ(core.level, Level::B_T);
  ASSERT_EQ(core.timestamps.size(), 1u);
  const auto& ts = core.timestamps.front();
  EXPECT_TRUE(ts.covered.starts_with("<ds:SignatureValue xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"sv-"));

  certstore::TrustStore trust;
  auto roots = ossl::load_certificates(dev_pki().get("tsa-root").cert.string());
  ASSERT_TRUE(roots && !roots->empty());
  trust.add_anchor(std::move(roots->front()));
  auto ok = tsa::verify_token(ts.token_der, as_bytes(ts.covered), trust, tsa_clock.now());
  EXPECT_EQ(ok.status, tsa::TokenStatus::ok) << ok.message;
  ASSERT_TRUE(ok.info);
  EXPECT_EQ(ok.info->gen_time, tsa_clock.now());
  // The imprint does not cover other bytes (e.g. the SignatureValue text alone).
  auto other = tsa::verify_token(ts.token_der, as_bytes(between(ts.covered, "\">", "</ds:")), trust, tsa_clock.now());
  EXPECT_EQ(other.status, tsa::TokenStatus::imprint_mismatch);

  // B-T without a timestamp source is refused.
  auto no_tsa = sign_xml_bundle(simple_bundle(), *s_rsa, nullptr, options(Level::B_T));
  ASSERT_FALSE(no_tsa);
  EXPECT_EQ(no_tsa.error().code, Errc::invalid_argument);

  // A timestamp canonicalization with comments is off-profile.
  expect_status(with_signature(signed_t->bundle_xml,
                               replace_once(signed_t->signature_xml,
                                            "<xades:SignatureTimeStamp Id=\"ts-" +
                                                between(signed_t->signature_xml, "<xades:SignatureTimeStamp Id=\"ts-",
                                                        "xml-exc-c14n#") +
                                                "xml-exc-c14n#",
                                            "<xades:SignatureTimeStamp Id=\"ts-" +
                                                between(signed_t->signature_xml, "<xades:SignatureTimeStamp Id=\"ts-",
                                                        "xml-exc-c14n#") +
                                                "xml-exc-c14n#WithComments")),
                XadesStatus::format_failure, "SignatureTimeStamp CanonicalizationMethod");
  // A bad EncapsulatedTimeStamp is a format failure.
  std::string bad = replace_once(signed_t->signature_xml, "<xades:EncapsulatedTimeStamp>",
                                 "<xades:EncapsulatedTimeStamp>!!");
  expect_status(with_signature(signed_t->bundle_xml, bad), XadesStatus::format_failure, "EncapsulatedTimeStamp");
}

TEST_F(XadesTest, CorpusJpEprescriptionRoundTrip) {
  HANKO_CORPUS_OR_SKIP(path, "jp-eprescription-example01.xml");
  auto signed_c = sign_xml_bundle(read_text(path), *s_rsa, nullptr, options());
  ASSERT_TRUE(signed_c) << signed_c.error().message;
  XadesCore core = verify_ok_result(signed_c->bundle_xml);
  EXPECT_EQ(core.status, XadesStatus::ok) << core.message;
  EXPECT_EQ(core.document_uri, "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0");
  // The author is a PractitionerRole.
  EXPECT_NE(signed_c->bundle_xml.find("<who><reference value=\"urn:uuid:2e61a47b-a7fa-1d23-ebbf-eade736e9b00\"/></who>"),
            std::string::npos);
  // Tampering with the corpus document is caught.
  std::string t = replace_once(signed_c->bundle_xml, "処方箋交付", "処方箋変更");
  expect_status(t, XadesStatus::hash_failure);
}

// --- tampering ---

TEST_F(XadesTest, TamperedDocumentElementIsHashFailure) {
  expect_status(replace_once(bundle(), "アムロジピン錠５ｍｇ", "アムロジピン錠10ｍｇ"), XadesStatus::hash_failure,
                "document digest");
  // Removing an element too.
  expect_status(replace_once(bundle(), "<gender value=\"male\"/>", ""), XadesStatus::hash_failure);
}

TEST_F(XadesTest, TamperedAttributeIsHashFailure) {
  expect_status(replace_once(bundle(), "<valueCode value=\"IDE\"/>", "<valueCode value=\"ABC\"/>"),
                XadesStatus::hash_failure);
  // The url attribute of an extension.
  expect_status(replace_once(bundle(), "iso21090-EN-representation", "iso21090-EN-Representation"),
                XadesStatus::hash_failure);
  // An attribute added.
  expect_status(replace_once(bundle(), "<gender value=\"male\"/>", "<gender value=\"male\" id=\"g\"/>"),
                XadesStatus::hash_failure);
}

TEST_F(XadesTest, TamperedRemovedPartsAreNotSigned) {
  // Bundle.id and Bundle.meta are outside #document: changing them keeps the signature valid.
  std::string t = replace_once(bundle(), "<id value=\"test-bundle-1\"/>", "<id value=\"other\"/>");
  expect_status(t, XadesStatus::ok);
}

TEST_F(XadesTest, TamperedSigningTimeIsHashFailure) {
  std::string t = replace_once(sig(), "2026-01-16T09:30:00Z", "2025-01-16T09:30:00Z");
  expect_status(with_signature(bundle(), t), XadesStatus::hash_failure, "SignedProperties");
}

TEST_F(XadesTest, TamperedSignatureValueIsSigCryptoFailure) {
  const std::string sv = between(sig(), "<ds:SignatureValue", "</ds:SignatureValue>");
  const std::string text = sv.substr(sv.find('>') + 1);
  auto raw = base64_decode(text);
  ASSERT_TRUE(raw);
  (*raw)[5] ^= 0x80;
  expect_status(with_signature(bundle(), replace_once(sig(), text, base64_encode(*raw))),
                XadesStatus::sig_crypto_failure);
  // Not base64 at all: a format failure.
  expect_status(with_signature(bundle(), replace_once(sig(), text, "***")), XadesStatus::format_failure);
}

TEST_F(XadesTest, SwappedKeyInfoCertificateIsNoSigningCertificateFound) {
  const std::string cert_b64 = between(sig(), "<ds:X509Certificate>", "</ds:X509Certificate>");
  auto nurse = ossl::load_certificates(dev_pki().get("nurse").cert.string());
  ASSERT_TRUE(nurse && !nurse->empty());
  std::string t = replace_once(sig(), cert_b64, base64_encode(ossl::x509_to_der(nurse->front().get())));
  expect_status(with_signature(bundle(), t), XadesStatus::no_signing_certificate_found);
  // A KeyInfo certificate that is not a certificate is a format failure.
  expect_status(with_signature(bundle(), replace_once(sig(), cert_b64, "AAAA")), XadesStatus::format_failure);
}

TEST_F(XadesTest, WrongIssuerSerialIsNoSigningCertificateFound) {
  const std::string is = between(sig(), "<xades:IssuerSerialV2>", "</xades:IssuerSerialV2>");
  std::string t = replace_once(sig(), is, base64_encode(as_bytes("not an IssuerSerial")));
  auto core = verify_xades_core(with_signature(bundle(), t));
  ASSERT_TRUE(core);
  EXPECT_EQ(core->status, XadesStatus::no_signing_certificate_found) << core->message;
}

// --- signature wrapping and profile restrictions ---

TEST_F(XadesTest, DuplicateIdIsFormatFailure) {
  const std::string sp_id = between(sig(), "<xades:SignedProperties Id=\"", "\"");
  ASSERT_FALSE(sp_id.empty());
  std::string t = replace_once(sig(), "<ds:KeyInfo>", "<ds:KeyInfo Id=\"" + sp_id + "\">");
  expect_status(with_signature(bundle(), t), XadesStatus::format_failure, "duplicate Id");
  // A second SignedProperties in a second Object (classic wrapping).
  const std::string obj = sig().substr(sig().find("<ds:Object>"));
  std::string wrapped = replace_once(sig(), "</ds:Signature>", obj.substr(0, obj.size() - 15) + "</ds:Signature>");
  expect_status(with_signature(bundle(), wrapped), XadesStatus::format_failure);
}

TEST_F(XadesTest, ThirdReferenceIsFormatFailure) {
  const std::string ref = "<ds:Reference Id=\"ref-doc-" + between(sig(), "<ds:Reference Id=\"ref-doc-", "</ds:Reference>") +
                          "</ds:Reference>";
  std::string extra = replace_once(ref, "Id=\"ref-doc-", "Id=\"ref-extra-");
  std::string t = replace_once(sig(), "</ds:SignedInfo>", extra + "</ds:SignedInfo>");
  expect_status(with_signature(bundle(), t), XadesStatus::format_failure, "two References");
}

TEST_F(XadesTest, TransformOnDocumentReferenceIsFormatFailure) {
  std::string t = replace_once(sig(), "URI=\"1311234567-2026-00000001\">",
                               "URI=\"1311234567-2026-00000001\"><ds:Transforms><ds:Transform "
                               "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>");
  expect_status(with_signature(bundle(), t), XadesStatus::format_failure, "no Transforms");
}

TEST_F(XadesTest, WrongAlgorithmsAreFormatFailure) {
  expect_status(with_signature(bundle(), replace_once(sig(), std::string(kXmlDsigRsaSha256),
                                                      "http://www.w3.org/2000/09/xmldsig#rsa-sha1")),
                XadesStatus::format_failure, "SignatureMethod");
  expect_status(with_signature(bundle(), replace_once(sig(), "<ds:DigestMethod Algorithm=\"" + std::string(kXmlDsigSha256),
                                                      "<ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1")),
                XadesStatus::format_failure, "DigestMethod");
  expect_status(with_signature(bundle(), replace_once(sig(), "<ds:CanonicalizationMethod Algorithm=\"" + std::string(kXmlExcC14n),
                                                      "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11")),
                XadesStatus::format_failure, "CanonicalizationMethod");
  // ecdsa-sha256 named over an RSA key.
  expect_status(with_signature(bundle(), replace_once(sig(), std::string(kXmlDsigRsaSha256),
                                                      std::string(kXmlDsigEcdsaSha256))),
                XadesStatus::sig_crypto_failure);
}

TEST_F(XadesTest, DocumentUriMustBeTheBundleIdentifier) {
  std::string t = replace_once(bundle(), "<value value=\"1311234567-2026-00000001\"/>",
                               "<value value=\"1311234567-2026-00000002\"/>");
  expect_status(t, XadesStatus::format_failure, "Bundle.identifier");
}

TEST_F(XadesTest, SignatureElementInsideTheDocumentIsRefused) {
  // Kept in Bundle.signature and also copied into the document.
  std::string inside = replace_once(bundle(), "<gender value=\"male\"/>", "<gender value=\"male\"/>" + sig());
  expect_status(inside, XadesStatus::format_failure, "inside the Bundle");
  // Moved: only in the document, Bundle.signature gone: there is no signature to read.
  std::string moved = simple_bundle();
  moved = replace_once(moved, "<gender value=\"male\"/>", "<gender value=\"male\"/>" + sig());
  auto core = verify_xades_core(moved);
  ASSERT_FALSE(core);
  EXPECT_EQ(core.error().code, Errc::no_signature);
}

TEST_F(XadesTest, BadBundleSignatureFieldsAreFormatFailure) {
  expect_status(replace_once(bundle(), "<sigFormat value=\"application/signature+xml\"/>",
                             "<sigFormat value=\"application/jose\"/>"),
                XadesStatus::format_failure, "sigFormat");
  expect_status(with_signature(bundle(), "<ds:Signature"), XadesStatus::format_failure, "not acceptable XML");
  expect_status(with_signature(bundle(), "<Signature xmlns=\"urn:other\"/>"), XadesStatus::format_failure,
                "root is not ds:Signature");
  // A DTD inside the signature document is refused by the parser.
  expect_status(with_signature(bundle(), "<!DOCTYPE x [<!ENTITY a \"b\">]>" + sig()), XadesStatus::format_failure);
}

TEST_F(XadesTest, MissingSigningTimeIsFormatFailure) {
  const std::string st = "<xades:SigningTime>" + between(sig(), "<xades:SigningTime>", "</xades:SigningTime>") +
                         "</xades:SigningTime>";
  expect_status(with_signature(bundle(), replace_once(sig(), st, "")), XadesStatus::format_failure, "SigningTime");
}

// --- signing-side refusals ---

TEST_F(XadesTest, AlreadySignedRefusedUnlessReplace) {
  auto again = sign_xml_bundle(bundle(), *s_rsa, nullptr, options());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::already_signed);
  SignOptions o = options();
  o.replace = true;
  auto replaced = sign_xml_bundle(bundle(), *s_ec, nullptr, o);
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ(replaced->bundle_xml.find("<signature>"), replaced->bundle_xml.rfind("<signature>"));
  EXPECT_EQ(replaced->document_sha256_hex, s_signed->document_sha256_hex);
  XadesCore core = verify_ok_result(replaced->bundle_xml);
  EXPECT_EQ(core.status, XadesStatus::ok) << core.message;
  EXPECT_EQ(*core.alg, JwsAlg::ES256);
}

TEST_F(XadesTest, RefusesBundlesWithoutIdentifierOrNotDocuments) {
  std::string no_id = simple_bundle();
  no_id = replace_once(no_id, between(no_id, "<identifier>", "</identifier>"), "");
  no_id = replace_once(no_id, "<identifier></identifier>", "");
  auto r = sign_xml_bundle(no_id, *s_rsa, nullptr, options());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  auto coll = sign_xml_bundle(replace_once(simple_bundle(), "<type value=\"document\"/>", "<type value=\"collection\"/>"),
                              *s_rsa, nullptr, options());
  ASSERT_FALSE(coll);
  EXPECT_EQ(coll.error().code, Errc::not_a_document);
  SignOptions o = options();
  o.signature_type = "1.2.3";
  auto bad_type = sign_xml_bundle(simple_bundle(), *s_rsa, nullptr, o);
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().code, Errc::invalid_argument);
  auto unsigned_bundle = verify_xades_core(simple_bundle());
  ASSERT_FALSE(unsigned_bundle);
  EXPECT_EQ(unsigned_bundle.error().code, Errc::no_signature);
}

TEST_F(XadesTest, SignatureTypeIsTheCommitmentType) {
  SignOptions o = options();
  o.signature_type = "1.2.840.10065.1.12.1.5";
  auto r = sign_xml_bundle(simple_bundle(), *s_rsa, nullptr, o);
  ASSERT_TRUE(r) << r.error().message;
  XadesCore core = verify_ok_result(r->bundle_xml);
  EXPECT_EQ(core.status, XadesStatus::ok);
  EXPECT_EQ(core.commitment_type, "1.2.840.10065.1.12.1.5");
  EXPECT_EQ(core.fhir_signature_types, std::vector<std::string>{"1.2.840.10065.1.12.1.5"});
}

// --- xmlsec1 interop ---

const char* kXmlsec1 = "/usr/bin/xmlsec1";

int run(const std::string& cmd, const fs::path& log) {
  int rc = std::system((cmd + " >" + log.string() + " 2>&1").c_str());
  return rc;
}

std::string doc_bytes(const std::string& bundle_xml) {
  auto d = xml::Document::parse(bundle_xml);
  EXPECT_TRUE(d);
  auto b = xml::fhir_xml_document(*d);
  EXPECT_TRUE(b);
  return b ? *b : std::string();
}

std::string xmlsec_common(const std::string& command, const fs::path& doc_file) {
  return std::string(kXmlsec1) + " " + command + " --url-map:1311234567-2026-00000001 " + doc_file.string() +
         " --id-attr:Id " + std::string(kXadesNamespace) + ":SignedProperties";
}

std::string xmlsec_verify(const fs::path& doc_file, const fs::path& sig_file) {
  return xmlsec_common("--verify", doc_file) + " --trusted-pem " + dev_pki().get("hpki-root").cert.string() +
         " --untrusted-pem " + dev_pki().get("hpki-signing-ca").cert.string() +
         " --verification-gmt-time \"2026-01-16 10:00:00\" " + sig_file.string();
}

TEST_F(XadesTest, Xmlsec1VerifiesHankoSignatures) {
  if (!fs::exists(kXmlsec1)) {
    GTEST_SKIP() << "xmlsec1 not installed";
  }
  const fs::path dir = test::temp_dir("xades-xmlsec1");
  for (const SigningKey* key : {s_rsa, s_ec}) {
    auto signed_b = sign_xml_bundle(simple_bundle(), *key, nullptr, options());
    ASSERT_TRUE(signed_b);
    write_text(dir / "document.xml", doc_bytes(signed_b->bundle_xml));
    write_text(dir / "signature.xml", signed_b->signature_xml);
    EXPECT_EQ(run(xmlsec_verify(dir / "document.xml", dir / "signature.xml"), dir / "verify.log"), 0)
        << read_text(dir / "verify.log");
    const std::string log = read_text(dir / "verify.log");
    EXPECT_NE(log.find("OK"), std::string::npos) << log;
    EXPECT_NE(log.find("References (ok/all): 2/2"), std::string::npos) << log;
    if (std::getenv("HANKO_XADES_SHOW_XMLSEC") != nullptr) {
      std::cout << log;
    }
    // xmlsec1 checks the chain: another root is refused.
    std::string other_root = xmlsec_verify(dir / "document.xml", dir / "signature.xml");
    other_root = replace_once(other_root, dev_pki().get("hpki-root").cert.string(),
                              dev_pki().get("jpki-root").cert.string());
    EXPECT_NE(run(other_root, dir / "verify-root.log"), 0) << read_text(dir / "verify-root.log");
    // And xmlsec1 refuses a changed document.
    write_text(dir / "document.xml", doc_bytes(replace_once(signed_b->bundle_xml, "male", "female")));
    EXPECT_NE(run(xmlsec_verify(dir / "document.xml", dir / "signature.xml"), dir / "verify-bad.log"), 0)
        << read_text(dir / "verify-bad.log");
  }
}

TEST_F(XadesTest, HankoVerifiesXmlsec1Signatures) {
  if (!fs::exists(kXmlsec1)) {
    GTEST_SKIP() << "xmlsec1 not installed";
  }
  const fs::path dir = test::temp_dir("xades-xmlsec1-sign");
  // A template in hanko's profile: hanko's own output with the SignedInfo
  // digests, the SignatureValue and the X509Data emptied.
  std::string tmpl = sig();
  const std::string si = between(tmpl, "<ds:SignedInfo>", "</ds:SignedInfo>");
  std::string si_blank = si;
  for (std::size_t pos = 0; (pos = si_blank.find("<ds:DigestValue>", pos)) != std::string::npos;) {
    pos += 16;
    si_blank.erase(pos, si_blank.find("</ds:DigestValue>", pos) - pos);
  }
  tmpl = replace_once(tmpl, si, si_blank);
  const std::string sv = between(tmpl, "<ds:SignatureValue", "</ds:SignatureValue>");
  tmpl = replace_once(tmpl, sv, sv.substr(0, sv.find('>') + 1));
  tmpl = replace_once(tmpl, between(tmpl, "<ds:X509Data>", "</ds:X509Data>"), "");
  write_text(dir / "template.xml", tmpl);
  write_text(dir / "document.xml", doc_bytes(bundle()));
  const auto& doctor = dev_pki().get("doctor");
  const std::string cmd = xmlsec_common("--sign", dir / "document.xml") + " --privkey-pem " + doctor.key.string() + "," +
                          doctor.cert.string() + " --output " + (dir / "signed.xml").string() + " " +
                          (dir / "template.xml").string();
  ASSERT_EQ(run(cmd, dir / "sign.log"), 0) << read_text(dir / "sign.log");
  const std::string by_xmlsec = read_text(dir / "signed.xml");
  XadesCore core = verify_ok_result(with_signature(bundle(), by_xmlsec));
  EXPECT_EQ(core.status, XadesStatus::ok) << core.message << "\n" << by_xmlsec;
  ASSERT_TRUE(core.signer_cert);
  EXPECT_EQ(X509_cmp(core.signer_cert.get(), s_rsa->certificate()), 0);
  // The same signature over a changed document fails in hanko too.
  expect_status(with_signature(replace_once(bundle(), "male", "female"), by_xmlsec), XadesStatus::hash_failure);
}

}  // namespace
}  // namespace hanko::signer
