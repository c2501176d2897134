#include "hanko/signer/bundle.h"

#include <array>

#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/tsa_client/timestamp_source.h"

namespace hanko::signer {

namespace {
// ASTM E1762-95 signature types (FHIR R4 ValueSet signature-type).
constexpr std::array<std::string_view, 18> kTypeDisplays = {
    "Author's Signature",
    "Coauthor's Signature",
    "Co-participant's Signature",
    "Transcriptionist/Recorder Signature",
    "Verification Signature",
    "Validation Signature",
    "Consent Signature",
    "Signature Witness Signature",
    "Event Witness Signature",
    "Identity Witness Signature",
    "Consent Witness Signature",
    "Interpreter Signature",
    "Review Signature",
    "Source Signature",
    "Addendum Signature",
    "Modification Signature",
    "Administrative (Error/Edit) Signature",
    "Timestamp Signature",
};


/**
 * The resourceType a reference in the Bundle points at: the entry whose
 * fullUrl equals it ("urn:uuid:..."), else the "Type/id" form's type.
 */
std::string referenced_type(const json::Value& bundle, const std::string& ref) {
  if (const json::Value* entries = bundle.find("entry"); entries != nullptr && entries->is_array()) {
    for (const auto& e : entries->as_array()) {
      const std::string* full_url = e.find_string("fullUrl");
      const json::Value* res = e.find("resource");
      if (full_url == nullptr || res == nullptr) {
        continue;
      }
      const std::string* rt = res->find_string("resourceType");
      const std::string* id = res->find_string("id");
      bool same = *full_url == ref ||
                  (rt != nullptr && id != nullptr && (ref == *rt + "/" + *id || full_url->ends_with("/" + ref)));
      if (same && rt != nullptr) {
        return *rt;
      }
    }
  }
  if (auto slash = ref.find('/'); slash != std::string::npos && ref.find(':') == std::string::npos) {
    return ref.substr(0, slash);
  }
  return {};
}

/** Signature.who: the Composition.author that is a Practitioner or PractitionerRole, else the certificate's name. */
json::Value signer_reference(const json::Value& bundle, const X509* cert) {
  if (const json::Value* comp = composition_of(bundle)) {
    if (const json::Value* authors = comp->find("author"); authors != nullptr && authors->is_array()) {
      for (const auto& a : authors->as_array()) {
        const std::string* ref = a.find_string("reference");
        if (ref == nullptr) {
          continue;
        }
        std::string type = referenced_type(bundle, *ref);
        if (type == "Practitioner" || type == "PractitionerRole") {
          json::Object who{{"reference", json::Value(*ref)}};
          if (const std::string* type = a.find_string("type")) {
            who.emplace_back("type", json::Value(*type));
          }
          return json::Value(std::move(who));
        }
      }
    }
  }
  // No author to point at: name the signer as written in the certificate.
  std::string cn;
  const X509_NAME* subject = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len >= 0) {
      cn.assign(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
      OPENSSL_free(utf8);
    }
  }
  return json::Value(json::Object{{"display", json::Value(cn.empty() ? ossl::name_to_string(subject) : cn)}});
}

}  // namespace

/** The Composition of a document Bundle: the resource of the first entry. */
const json::Value* composition_of(const json::Value& bundle) {
  const json::Value* entries = bundle.find("entry");
  if (entries == nullptr || !entries->is_array() || entries->as_array().empty()) {
    return nullptr;
  }
  const json::Value* res = entries->as_array().front().find("resource");
  if (res == nullptr || !res->is_object()) {
    return nullptr;
  }
  const std::string* rt = res->find_string("resourceType");
  return (rt != nullptr && *rt == "Composition") ? res : nullptr;
}

std::optional<std::string_view> signature_type_display(std::string_view code) {
  constexpr std::string_view prefix = "1.2.840.10065.1.12.1.";
  if (code.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  std::string_view n = code.substr(prefix.size());
  if (n.empty() || n.size() > 2 || n.front() == '0') {
    return std::nullopt;
  }
  int v = 0;
  for (char c : n) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 18) {
    return std::nullopt;
  }
  return kTypeDisplays[static_cast<std::size_t>(v - 1)];
}

Result<void> check_document_bundle(const json::Value& bundle) {
  if (!bundle.is_object()) {
    return fail(Errc::not_a_document, "the body is not a FHIR resource (a JSON object)");
  }
  const std::string* rt = bundle.find_string("resourceType");
  if (rt == nullptr || *rt != "Bundle") {
    return fail(Errc::not_a_document, "the resource is not a Bundle (resourceType " + (rt ? *rt : std::string("missing")) + ")");
  }
  const std::string* type = bundle.find_string("type");
  if (type == nullptr || *type != "document") {
    return fail(Errc::not_a_document,
                "the Bundle is not a document (Bundle.type " + (type ? *type : std::string("missing")) + ")");
  }
  if (composition_of(bundle) == nullptr) {
    return fail(Errc::not_a_document, "a document Bundle starts with a Composition entry");
  }
  return {};
}

Result<json::Value> parse_document_bundle(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return fail(Errc::too_large, "the Bundle is larger than " + std::to_string(max_bytes) + " bytes");
  }
  auto v = json::parse(text, {.max_depth = 128, .max_bytes = max_bytes});
  if (!v) {
    return fail(Errc::invalid_argument, "the body is not valid JSON: " + v.error().message);
  }
  if (auto ok = check_document_bundle(*v); !ok) {
    return std::unexpected(ok.error());
  }
  return v;
}

std::string bundle_identifier(const json::Value& bundle) {
  if (const json::Value* id = bundle.find("identifier")) {
    if (const std::string* v = id->find_string("value")) {
      return *v;
    }
  }
  return {};
}

Result<PreparedBundle> prepare_bundle(json::Value bundle, const SignerCertificates& signer, const SignOptions& options) {
  if (auto ok = check_document_bundle(bundle); !ok) {
    return std::unexpected(ok.error());
  }
  if (bundle.find("signature") != nullptr && !options.replace) {
    return fail(Errc::already_signed, "the Bundle already carries a signature (use replace to sign it again)");
  }
  auto display = signature_type_display(options.signature_type);
  if (!display) {
    return fail(Errc::invalid_argument, "unknown signature type " + options.signature_type +
                                            " (expected 1.2.840.10065.1.12.1.1 to .18, ASTM E1762-95)");
  }
  if (signer.certificate == nullptr) {
    return fail(Errc::invalid_argument, "the signer has no certificate");
  }
  const Canonicalizer& canon = options.canonicalizer != nullptr ? *options.canonicalizer : jcs();
  auto bytes = canonical_document(bundle, canon);
  if (!bytes) {
    return std::unexpected(bytes.error());
  }
  // JWS iat has whole seconds: use the same instant for Signature.when.
  TimePoint when = from_unix(to_unix(options.signing_time));
  JwsSignParams params{when, {options.signature_type}, options.level};
  auto jws = prepare_jades(*bytes, signer, params);
  if (!jws) {
    return std::unexpected(jws.error());
  }
  json::Object coding{{"system", json::Value(std::string(kSignatureTypeSystem))},
                      {"code", json::Value(options.signature_type)},
                      {"display", json::Value(std::string(*display))}};
  json::Object sig;
  sig.emplace_back("type", json::Value(json::Array{json::Value(std::move(coding))}));
  sig.emplace_back("when", json::Value(format_rfc3339(when, true)));
  sig.emplace_back("who", signer_reference(bundle, signer.certificate));
  sig.emplace_back("targetFormat", json::Value(std::string(canon.target_format())));
  sig.emplace_back("sigFormat", json::Value("application/jose"));
  bundle.set("signature", json::Value(std::move(sig)));
  PreparedBundle out{std::move(bundle), std::move(*jws), hex(sha256(*bytes))};
  return out;
}

Result<SignedBundle> complete_bundle(PreparedBundle prepared, ByteView signature_value, tsa::TimestampSource* tsa) {
  json::Value* sig = prepared.bundle.find("signature");
  if (sig == nullptr || !sig->is_object()) {
    return fail(Errc::internal, "the prepared Bundle has no Bundle.signature");
  }
  auto jws = complete_jades(prepared.jws.protected_b64, prepared.jws.level, signature_value, tsa);
  if (!jws) {
    return std::unexpected(jws.error());
  }
  sig->set("data", json::Value(base64_encode(as_bytes(*jws))));
  SignedBundle out{std::move(prepared.bundle), std::move(*jws), std::move(prepared.canonical_sha256_hex)};
  return out;
}

Result<SignedBundle> sign_bundle(json::Value bundle, const SigningKey& key, tsa::TimestampSource* tsa,
                                 const SignOptions& options) {
  auto prepared = prepare_bundle(std::move(bundle), signer_certificates(key), options);
  if (!prepared) {
    return std::unexpected(prepared.error());
  }
  if (options.level == Level::B_T && tsa == nullptr) {
    return fail(Errc::invalid_argument, "B-T needs a timestamp authority");  // before anything is signed
  }
  auto value = key.sign(as_bytes(prepared->jws.signing_input));
  if (!value) {
    return std::unexpected(value.error());
  }
  return complete_bundle(std::move(*prepared), *value, tsa);
}

}  // namespace hanko::signer
