// Two-step signing (hanko/signer/two_step.h): prepare, a signature value
// made elsewhere, complete.
#include "hanko/signer/two_step.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hanko/certstore/key_source.h"
#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/signer/canonical.h"

namespace hanko::signer {

namespace {

/** The certificate's algorithm, from its public key, on hanko's allow-list (Errc::policy otherwise). */
Result<SignerCertificates> with_certificate_alg(const SignerCertificates& signer) {
  if (signer.certificate == nullptr) {
    return fail(Errc::invalid_argument, "no signer certificate");
  }
  EVP_PKEY* pub = X509_get0_pubkey(signer.certificate);
  if (pub == nullptr) {
    return fail(Errc::invalid_argument, "the signer certificate's public key cannot be read");
  }
  auto alg = certstore::check_key_policy(signer.certificate, pub, false);
  if (!alg) {
    return std::unexpected(alg.error());
  }
  SignerCertificates out = signer;
  out.alg = *alg;
  return out;
}

std::string_view format_name(DocumentFormat f) { return f == DocumentFormat::fhir_xml ? "fhir+xml" : "fhir+json"; }

std::string cert_name(const X509* cert) {
  return ossl::name_to_string(X509_get_subject_name(cert)) + ", serial " + ossl::serial_hex(cert);
}

/** Whether `sig` (DER for ECDSA) verifies over the SHA-256 `hash` with the certificate's key. */
bool verifies(const X509* cert, JwsAlg alg, ByteView hash, ByteView sig) {
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (pub == nullptr) {
    clear_openssl_errors();
    return false;
  }
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(pub, nullptr));
  bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1;
  if (ok && alg == JwsAlg::RS256) {
    // RSASSA-PKCS1-v1_5: the DigestInfo of SHA-256 is what the signature holds.
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
         EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1;
  }
  ok = ok && EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), hash.data(), hash.size()) == 1;
  clear_openssl_errors();
  return ok;
}

Result<std::string> string_member(const json::Value& v, std::string_view name) {
  const std::string* s = v.find_string(name);
  if (s == nullptr) {
    return fail(Errc::internal, "the stored signing state has no " + std::string(name));
  }
  return *s;
}

Result<Bytes> b64_member(const json::Value& v, std::string_view name) {
  auto s = string_member(v, name);
  if (!s) {
    return std::unexpected(s.error());
  }
  auto b = base64_decode(*s);
  if (!b) {
    return fail(Errc::internal, "the stored signing state's " + std::string(name) + " is not base64");
  }
  return *b;
}

}  // namespace

Result<PreparedSignature> prepare_json_signature(json::Value bundle, const SignerCertificates& signer,
                                                 const SignOptions& options) {
  auto s = with_certificate_alg(signer);
  if (!s) {
    return std::unexpected(s.error());
  }
  auto prepared = prepare_bundle(std::move(bundle), *s, options);
  if (!prepared) {
    return std::unexpected(prepared.error());
  }
  PreparedSignature out;
  out.format = DocumentFormat::fhir_json;
  out.level = options.level;
  out.alg = s->alg;
  out.signing_time = from_unix(to_unix(options.signing_time));
  out.certificate = ossl::up_ref(const_cast<X509*>(s->certificate));
  out.hash_to_sign = sha256(prepared->jws.signing_input);
  out.document_identifier = bundle_identifier(prepared->bundle);
  out.document_sha256_hex = prepared->canonical_sha256_hex;
  out.canonicalization = std::string(options.canonicalizer != nullptr ? options.canonicalizer->name() : jcs().name());
  out.json = std::move(*prepared);
  return out;
}

Result<PreparedSignature> prepare_xml_signature(std::string_view bundle_xml, const SignerCertificates& signer,
                                                const SignOptions& options) {
  auto s = with_certificate_alg(signer);
  if (!s) {
    return std::unexpected(s.error());
  }
  auto prepared = prepare_xml_bundle(bundle_xml, *s, options);
  if (!prepared) {
    return std::unexpected(prepared.error());
  }
  PreparedSignature out;
  out.format = DocumentFormat::fhir_xml;
  out.level = options.level;
  out.alg = s->alg;
  out.signing_time = from_unix(to_unix(options.signing_time));
  out.certificate = ossl::up_ref(const_cast<X509*>(s->certificate));
  out.hash_to_sign = prepared->signed_info_sha256;
  out.document_sha256_hex = prepared->document_sha256_hex;
  out.document_identifier = prepared->document_identifier;
  out.xml = std::move(*prepared);
  return out;
}

std::string signature_algorithm(const PreparedSignature& prepared) {
  if (prepared.format == DocumentFormat::fhir_xml) {
    return std::string(prepared.alg == JwsAlg::ES256 ? kXmlDsigEcdsaSha256 : kXmlDsigRsaSha256);
  }
  return std::string(jws_alg_name(prepared.alg));
}

Bytes digest_info(const PreparedSignature& prepared) { return certstore::sha256_digest_info(prepared.hash_to_sign); }

Result<Bytes> check_signature_value(const PreparedSignature& prepared, ByteView value) {
  const X509* cert = prepared.certificate.get();
  if (cert == nullptr || prepared.hash_to_sign.size() != 32) {
    return fail(Errc::internal, "the prepared signature has no certificate or no hash");
  }
  const std::string who = cert_name(cert);
  if (prepared.alg == JwsAlg::RS256) {
    const int modulus_bytes = EVP_PKEY_get_size(X509_get0_pubkey(cert));
    if (value.size() != static_cast<std::size_t>(modulus_bytes)) {
      return fail(Errc::invalid_argument, "the signature value has " + std::to_string(value.size()) +
                                              " bytes; an RSA signature of " + who + " has " +
                                              std::to_string(modulus_bytes));
    }
    if (!verifies(cert, prepared.alg, prepared.hash_to_sign, value)) {
      return fail(Errc::policy, "the signature value does not verify with the certificate " + who +
                                    " over the prepared hash: it was made with another key or over other bytes");
    }
    return Bytes(value.begin(), value.end());
  }
  // ECDSA P-256: r||s (64 bytes) or DER; JWS and the XAdES profile both carry r||s.
  Bytes raw;
  Bytes der;
  if (value.size() == 64) {
    raw.assign(value.begin(), value.end());
    auto d = certstore::ecdsa_raw_to_der(value);
    if (!d) {
      return fail(Errc::invalid_argument, "the ECDSA signature value is not r||s of P-256: " + d.error().message);
    }
    der = std::move(*d);
  } else {
    auto r = certstore::ecdsa_der_to_raw(value, 32);
    if (!r) {
      return fail(Errc::invalid_argument, "the ECDSA signature value is neither 64 bytes r||s nor a DER Ecdsa-Sig-Value (" +
                                              std::to_string(value.size()) + " bytes)");
    }
    raw = std::move(*r);
    der.assign(value.begin(), value.end());
  }
  if (!verifies(cert, prepared.alg, prepared.hash_to_sign, der)) {
    return fail(Errc::policy, "the signature value does not verify with the certificate " + who +
                                  " over the prepared hash: it was made with another key or over other bytes");
  }
  return raw;
}

Result<CompletedSignature> complete_signature(PreparedSignature prepared, ByteView value, tsa::TimestampSource* tsa) {
  auto checked = check_signature_value(prepared, value);
  if (!checked) {
    return std::unexpected(checked.error());
  }
  CompletedSignature out;
  out.format = prepared.format;
  out.document_sha256_hex = prepared.document_sha256_hex;
  if (prepared.format == DocumentFormat::fhir_json) {
    if (!prepared.json) {
      return fail(Errc::internal, "the prepared signature has no JSON Bundle");
    }
    auto done = complete_bundle(std::move(*prepared.json), *checked, tsa);
    if (!done) {
      return std::unexpected(done.error());
    }
    out.bundle = std::move(done->bundle);
    return out;
  }
  if (!prepared.xml) {
    return fail(Errc::internal, "the prepared signature has no XML Bundle");
  }
  auto done = complete_xml_bundle(*prepared.xml, *checked, tsa);
  if (!done) {
    return std::unexpected(done.error());
  }
  out.bundle_xml = std::move(done->bundle_xml);
  return out;
}

json::Value to_json(const PreparedSignature& p) {
  json::Object o;
  o.emplace_back("format", json::Value(std::string(kPreparedSignatureFormat)));
  o.emplace_back("documentFormat", json::Value(std::string(format_name(p.format))));
  o.emplace_back("level", json::Value(std::string(level_name(p.level))));
  o.emplace_back("alg", json::Value(std::string(jws_alg_name(p.alg))));
  o.emplace_back("signingTime", json::Value(format_rfc3339(p.signing_time)));
  o.emplace_back("certificate",
                 json::Value(p.certificate ? base64_encode(ossl::x509_to_der(p.certificate.get())) : std::string()));
  o.emplace_back("hashToSign", json::Value(base64_encode(p.hash_to_sign)));
  o.emplace_back("documentIdentifier", json::Value(p.document_identifier));
  o.emplace_back("documentSha256", json::Value(p.document_sha256_hex));
  if (p.json) {
    o.emplace_back("canonicalization", json::Value(p.canonicalization));
    o.emplace_back("protected", json::Value(p.json->jws.protected_b64));
    o.emplace_back("bundle", p.json->bundle);
  }
  if (p.xml) {
    o.emplace_back("signature", json::Value(p.xml->signature_xml));
    o.emplace_back("idSuffix", json::Value(p.xml->id_suffix));
    o.emplace_back("bundleHead", json::Value(p.xml->bundle_head));
    o.emplace_back("bundleTail", json::Value(p.xml->bundle_tail));
  }
  return json::Value(std::move(o));
}

Result<PreparedSignature> prepared_signature_from_json(const json::Value& v) {
  const std::string* tag = v.find_string("format");
  if (tag == nullptr || *tag != kPreparedSignatureFormat) {
    return fail(Errc::internal, "the stored signing state is not " + std::string(kPreparedSignatureFormat));
  }
  PreparedSignature p;
  auto doc_format = string_member(v, "documentFormat");
  auto level = string_member(v, "level");
  auto alg = string_member(v, "alg");
  auto when = string_member(v, "signingTime");
  auto cert = b64_member(v, "certificate");
  auto hash = b64_member(v, "hashToSign");
  auto doc_id = string_member(v, "documentIdentifier");
  auto doc_sha = string_member(v, "documentSha256");
  if (!doc_format) return std::unexpected(doc_format.error());
  if (!level) return std::unexpected(level.error());
  if (!alg) return std::unexpected(alg.error());
  if (!when) return std::unexpected(when.error());
  if (!cert) return std::unexpected(cert.error());
  if (!hash) return std::unexpected(hash.error());
  if (!doc_id) return std::unexpected(doc_id.error());
  if (!doc_sha) return std::unexpected(doc_sha.error());
  auto lv = level_from_name(*level);
  auto al = jws_alg_from_name(*alg);
  auto t = parse_rfc3339(*when);
  p.certificate = ossl::x509_from_der(*cert);
  if (!lv || !al || !t || !p.certificate || hash->size() != 32 ||
      (*doc_format != format_name(DocumentFormat::fhir_json) && *doc_format != format_name(DocumentFormat::fhir_xml))) {
    clear_openssl_errors();
    return fail(Errc::internal, "the stored signing state has a bad level, alg, time, certificate, hash or format");
  }
  p.format = *doc_format == format_name(DocumentFormat::fhir_xml) ? DocumentFormat::fhir_xml : DocumentFormat::fhir_json;
  p.level = *lv;
  p.alg = *al;
  p.signing_time = *t;
  p.hash_to_sign = std::move(*hash);
  p.document_identifier = std::move(*doc_id);
  p.document_sha256_hex = std::move(*doc_sha);
  if (p.format == DocumentFormat::fhir_json) {
    auto canon_name = string_member(v, "canonicalization");
    auto protected_b64 = string_member(v, "protected");
    const json::Value* bundle = v.find("bundle");
    if (!canon_name || !protected_b64 || bundle == nullptr || !bundle->is_object()) {
      return fail(Errc::internal, "the stored signing state lacks the JSON Bundle, its header or canonicalization");
    }
    const Canonicalizer* canon = canonicalizer_by_name(*canon_name);
    if (canon == nullptr) {
      return fail(Errc::internal, "the stored signing state names an unknown canonicalization " + *canon_name);
    }
    // The Bundle to return must still be the one whose #document is signed.
    auto bytes = canonical_document(*bundle, *canon);
    if (!bytes) {
      return fail(Errc::internal, "the stored Bundle has no canonical form: " + bytes.error().message);
    }
    PreparedBundle pb;
    pb.jws.protected_b64 = std::move(*protected_b64);
    pb.jws.signing_input = signing_input(pb.jws.protected_b64, *bytes);
    pb.jws.level = p.level;
    pb.canonical_sha256_hex = hex(sha256(*bytes));
    if (!ct_equal(sha256(pb.jws.signing_input), p.hash_to_sign) || pb.canonical_sha256_hex != p.document_sha256_hex) {
      return fail(Errc::internal, "the stored Bundle or header no longer hashes to the prepared hash");
    }
    pb.bundle = *bundle;
    p.canonicalization = std::move(*canon_name);
    p.json = std::move(pb);
    return p;
  }
  auto sig = string_member(v, "signature");
  auto suffix = string_member(v, "idSuffix");
  auto head = string_member(v, "bundleHead");
  auto tail = string_member(v, "bundleTail");
  if (!sig || !suffix || !head || !tail) {
    return fail(Errc::internal, "the stored signing state lacks the ds:Signature or the Bundle");
  }
  PreparedXmlBundle px;
  px.signature_xml = std::move(*sig);
  px.id_suffix = std::move(*suffix);
  px.signed_info_sha256 = p.hash_to_sign;  // complete_xml_bundle checks ds:SignedInfo against it
  px.bundle_head = std::move(*head);
  px.bundle_tail = std::move(*tail);
  px.level = p.level;
  px.document_sha256_hex = p.document_sha256_hex;
  px.document_identifier = p.document_identifier;
  if (auto ok = check_prepared_xml_bundle(px); !ok) {
    return std::unexpected(ok.error());
  }
  p.xml = std::move(px);
  return p;
}

}  // namespace hanko::signer
