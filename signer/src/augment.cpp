// Augmentation to B-T / B-LT / B-LTA: levels, the validation-data collector
// shared by JAdES and XAdES, and the dispatch on the Bundle's syntax
// (hanko/signer/augment.h; docs/formats.md section 10).
#include "hanko/signer/augment.h"

#include <openssl/rand.h>

#include <algorithm>

#include "augment_internal.h"
#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/revocation.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/http_client.h"
#include "hanko/common/ossl.h"
#include "hanko/tsa_client/token.h"

namespace hanko::signer {

std::string_view extend_level_name(ExtendLevel level) {
  switch (level) {
    case ExtendLevel::B_T: return "B-T";
    case ExtendLevel::B_LT: return "B-LT";
    case ExtendLevel::B_LTA: return "B-LTA";
  }
  return "B-LTA";
}

std::optional<ExtendLevel> extend_level_from_name(std::string_view name) {
  if (name == "B-T" || name == "b-t") {
    return ExtendLevel::B_T;
  }
  if (name == "B-LT" || name == "b-lt") {
    return ExtendLevel::B_LT;
  }
  if (name == "B-LTA" || name == "b-lta") {
    return ExtendLevel::B_LTA;
  }
  return std::nullopt;
}

std::string_view signature_level_name(SignatureLevel level) {
  switch (level) {
    case SignatureLevel::B_B: return "B-B";
    case SignatureLevel::B_T: return "B-T";
    case SignatureLevel::B_LT: return "B-LT";
    case SignatureLevel::B_LTA: return "B-LTA";
  }
  return "B-B";
}

Result<ExtendedBundle> extend_bundle(std::string_view bundle, ExtendLevel target, const ExtendContext& ctx) {
  std::size_t i = 0;
  if (bundle.size() >= 3 && static_cast<unsigned char>(bundle[0]) == 0xEF &&
      static_cast<unsigned char>(bundle[1]) == 0xBB && static_cast<unsigned char>(bundle[2]) == 0xBF) {
    i = 3;  // UTF-8 byte order mark
  }
  while (i < bundle.size() && (bundle[i] == ' ' || bundle[i] == '\t' || bundle[i] == '\n' || bundle[i] == '\r')) {
    ++i;
  }
  if (i < bundle.size() && bundle[i] == '<') {
    return extend_xml_bundle(bundle, target, ctx);
  }
  return extend_json_bundle(bundle, target, ctx);
}

Result<std::string> extend_bundle_text(std::string_view bundle, ExtendLevel target, const ExtendContext& ctx) {
  auto r = extend_bundle(bundle, target, ctx);
  if (!r) {
    return std::unexpected(r.error());
  }
  return std::move(r->bundle);
}

namespace detail {

namespace {

bool contains(const std::vector<Bytes>& v, ByteView b) {
  return std::any_of(v.begin(), v.end(), [&](const Bytes& x) { return x.size() == b.size() && std::equal(x.begin(), x.end(), b.begin()); });
}

std::string subject(const X509* c) { return certstore::summarize(c).subject; }

/** Issuers named by AIA caIssuers (RFC 5280 4.2.2.1), fetched; untrusted path-building material only. */
void fetch_aia(const X509* cert, const HttpClient& http, std::vector<ossl::X509Ptr>& out, std::vector<std::string>& notes) {
  const X509* current = cert;
  for (int depth = 0; depth < 4 && current != nullptr; ++depth) {
    const X509* next = nullptr;
    for (const auto& url : certstore::ca_issuers_urls(current)) {
      auto resp = http.get(url);
      if (!resp || resp->status != 200) {
        notes.push_back("could not fetch the issuer certificate from " + url);
        continue;
      }
      ossl::X509Ptr issuer = ossl::x509_from_der(as_bytes(resp->body));
      if (!issuer) {
        auto pem = ossl::certificates_from_pem(resp->body);
        if (!pem.empty()) {
          issuer = std::move(pem.front());
        }
      }
      if (!issuer) {
        notes.push_back("the issuer certificate at " + url + " is not a DER or PEM certificate");
        continue;
      }
      notes.push_back("fetched the issuer certificate " + subject(issuer.get()) + " from " + url);
      next = issuer.get();
      out.push_back(std::move(issuer));
      break;
    }
    if (next == nullptr || X509_check_issued(const_cast<X509*>(next), const_cast<X509*>(next)) == X509_V_OK) {
      break;
    }
    current = next;
  }
}

}  // namespace

Collector::Collector(const ExtendContext& ctx, std::vector<Bytes> present) : m_ctx(ctx), m_present(std::move(present)) {}

void Collector::add_certificate(const X509* cert) {
  Bytes der = ossl::x509_to_der(cert);
  if (!contains(m_present, der) && !contains(m_out.certificates, der)) {
    m_out.certificates.push_back(std::move(der));
  }
}

Result<void> Collector::add_chain(const std::vector<const X509*>& chain, const std::string& what) {
  for (const X509* c : chain) {
    add_certificate(c);
  }
  const std::string at = format_rfc3339(m_ctx.now);
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    const X509* cert = chain[i];
    const X509* issuer = chain[i + 1];
    certstore::RevocationResult r = m_ctx.revocation->check(cert, issuer, m_ctx.now);
    const std::string who = "certificate " + subject(cert) + " of " + what;
    switch (r.status) {
      case certstore::RevocationStatus::good: {
        if (r.der.empty()) {
          return fail(Errc::internal, "the revocation checker gave no data for " + who);
        }
        if (r.source == certstore::RevocationSourceKind::ocsp) {
          if (!contains(m_out.ocsp_responses, r.der)) {
            m_out.ocsp_responses.push_back(r.der);
          }
          if (!r.responder_certificate.empty() && !contains(m_present, r.responder_certificate) &&
              !contains(m_out.certificates, r.responder_certificate)) {
            m_out.certificates.push_back(r.responder_certificate);
          }
        } else if (!contains(m_out.crls, r.der)) {
          m_out.crls.push_back(r.der);
        }
        m_out.notes.push_back(who + ": " + (r.source == certstore::RevocationSourceKind::ocsp ? "OCSP " : "CRL ") +
                              r.url + (r.from_cache ? " (cached)" : "") + ": good at " + at);
        break;
      }
      case certstore::RevocationStatus::revoked:
        return fail(Errc::policy, "cannot make B-LT: " + r.message +
                                      "; long-term validation data is only collected for certificates that are not revoked");
      case certstore::RevocationStatus::unknown:
        return fail(Errc::remote_rejected, "cannot make B-LT: " + r.message);
      case certstore::RevocationStatus::unavailable:
        return fail(Errc::network, "cannot make B-LT: no revocation data could be obtained for " + who + " at " + at +
                                       ": " + r.message);
      case certstore::RevocationStatus::invalid:
        return fail(Errc::remote_rejected, "cannot make B-LT: the revocation data for " + who +
                                               " failed its checks: " + r.message);
    }
  }
  return {};
}

Result<void> Collector::add_signer_chain(const X509* leaf, const std::vector<const X509*>& untrusted) {
  if (m_ctx.signature_trust == nullptr || m_ctx.revocation == nullptr) {
    return fail(Errc::invalid_argument, "B-LT and B-LTA need trust anchors and a revocation checker");
  }
  std::vector<const X509*> pool = untrusted;
  auto chain = m_ctx.signature_trust->verify(leaf, pool, m_ctx.now, certstore::Purpose::signature);
  std::vector<ossl::X509Ptr> fetched;
  if (chain.status == certstore::ChainStatus::no_chain_found && m_ctx.aia_fetcher != nullptr) {
    fetch_aia(leaf, *m_ctx.aia_fetcher, fetched, m_out.notes);
    for (const auto& f : fetched) {
      pool.push_back(f.get());
    }
    if (!fetched.empty()) {
      chain = m_ctx.signature_trust->verify(leaf, pool, m_ctx.now, certstore::Purpose::signature);
    }
  }
  if (chain.status != certstore::ChainStatus::ok) {
    return fail(Errc::policy, "cannot make B-LT: the signer certificate " + subject(leaf) + " does not validate at " +
                                  format_rfc3339(m_ctx.now) + " (" + std::string(certstore::chain_status_name(chain.status)) +
                                  "): " + chain.message +
                                  ". Validation data must be collected while the certificates are valid");
  }
  std::vector<const X509*> certs;
  for (const auto& c : chain.chain) {
    certs.push_back(c.get());
  }
  return add_chain(certs, "the signer's chain");
}

Result<void> Collector::add_tsa_chain(ByteView token_der, const std::string& what) {
  if (m_ctx.revocation == nullptr || (m_ctx.tsa_trust == nullptr && m_ctx.signature_trust == nullptr)) {
    return fail(Errc::invalid_argument, "B-LT and B-LTA need TSA trust anchors and a revocation checker");
  }
  const certstore::TrustStore& trust = m_ctx.tsa_trust != nullptr ? *m_ctx.tsa_trust : *m_ctx.signature_trust;
  auto info = tsa::parse_token(token_der);
  if (!info) {
    return fail(Errc::invalid_argument, what + " cannot be read: " + info.error().message);
  }
  if (!info->tsa_cert) {
    return fail(Errc::invalid_argument, what + " carries no TSA certificate");
  }
  std::vector<const X509*> untrusted;
  for (const auto& c : info->certs) {
    if (X509_cmp(c.get(), info->tsa_cert.get()) != 0) {
      untrusted.push_back(c.get());
    }
  }
  auto chain = trust.verify(info->tsa_cert.get(), untrusted, m_ctx.now, certstore::Purpose::timestamping);
  if (chain.status != certstore::ChainStatus::ok) {
    return fail(Errc::policy, "cannot add validation data: the TSA certificate " + subject(info->tsa_cert.get()) + " of " +
                                  what + " does not validate at " + format_rfc3339(m_ctx.now) + " (" +
                                  std::string(certstore::chain_status_name(chain.status)) + "): " + chain.message);
  }
  std::vector<const X509*> certs;
  for (const auto& c : chain.chain) {
    certs.push_back(c.get());
  }
  return add_chain(certs, what + " (TSA " + subject(info->tsa_cert.get()) + ")");
}

Result<void> check_new_token(const ExtendContext& ctx, ByteView token, std::string_view data, std::string_view what) {
  const certstore::TrustStore* trust = ctx.tsa_trust != nullptr ? ctx.tsa_trust : ctx.signature_trust;
  if (trust == nullptr) {
    return {};
  }
  auto v = tsa::verify_token(token, as_bytes(data), *trust, ctx.now);
  if (v.status == tsa::TokenStatus::ok) {
    return {};
  }
  const std::string tsa = v.info && v.info->tsa_cert ? subject(v.info->tsa_cert.get()) : std::string("the TSA");
  if (v.status == tsa::TokenStatus::chain_failure) {
    return fail(Errc::policy, "the new " + std::string(what) + " from " + tsa + " cannot be validated at " +
                                  format_rfc3339(ctx.now) + " (" + v.message +
                                  "); add the TSA's root to the TSA trust anchors or use another TSA. Nothing was added");
  }
  return fail(Errc::remote_rejected, "the new " + std::string(what) + " from " + tsa + " does not verify (" +
                                         std::string(tsa::token_status_name(v.status)) + "): " + v.message);
}

std::optional<TimePoint> token_time(ByteView token_der) {
  auto info = tsa::parse_token(token_der);
  if (!info) {
    return std::nullopt;
  }
  return info->gen_time;
}

bool replace_once(std::string& text, std::string_view old_value, std::string_view new_value) {
  if (old_value.empty()) {
    return false;
  }
  const auto pos = text.find(old_value);
  if (pos == std::string::npos || text.find(old_value, pos + 1) != std::string::npos) {
    return false;
  }
  text.replace(pos, old_value.size(), new_value);
  return true;
}

bool satisfies(SignatureLevel have, ExtendLevel target) {
  switch (target) {
    case ExtendLevel::B_T: return have != SignatureLevel::B_B;
    case ExtendLevel::B_LT: return have == SignatureLevel::B_LT || have == SignatureLevel::B_LTA;
    case ExtendLevel::B_LTA: return false;  // renewed every time
  }
  return false;
}

std::string random_hex() {
  unsigned char r[8] = {};
  if (RAND_bytes(r, sizeof r) != 1) {
    clear_openssl_errors();
    return "0000000000000000";
  }
  return hex(ByteView(r, sizeof r));
}

}  // namespace detail
}  // namespace hanko::signer
