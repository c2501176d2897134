#include "validation_context.h"

#include <algorithm>
#include <filesystem>

#include "hanko/common/ossl.h"
#include "hanko/store/database.h"

namespace hanko::server {

namespace fs = std::filesystem;

HttpOptions http_options(const ServiceConfig& config, HttpObserver observer, std::string purpose) {
  HttpOptions h;
  h.observer = std::move(observer);
  h.purpose = std::move(purpose);
  h.connect_timeout = std::chrono::milliseconds(config.http_connect_timeout_ms);
  h.total_timeout = std::chrono::milliseconds(config.http_timeout_ms);
  h.max_response_bytes = config.http_max_response_bytes;
  h.proxy = config.http_proxy;
  return h;
}

namespace {

bool is_crl_file(const fs::path& p) {
  std::string name = p.filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name.ends_with(".crl") || name.ends_with(".crl.pem");
}

certstore::RevocationOrder order_from(const std::string& s) {
  if (s == "crl-then-ocsp") return certstore::RevocationOrder::crl_then_ocsp;
  if (s == "ocsp-only") return certstore::RevocationOrder::ocsp_only;
  if (s == "crl-only") return certstore::RevocationOrder::crl_only;
  return certstore::RevocationOrder::ocsp_then_crl;
}

}  // namespace

Result<std::unique_ptr<ValidationContext>> ValidationContext::create(const ServiceConfig& config, store::Database* db,
                                                                     HttpObserver observer) {
  if (config.trust_dir.empty()) {
    return fail(Errc::invalid_argument, "no trust anchors configured (trust.dir, or --trust DIR)");
  }
  std::unique_ptr<ValidationContext> ctx(new ValidationContext(http_options(config, std::move(observer), "aia")));
  ctx->m_db = db;
  ctx->m_aia_fetch = config.aia_fetch;
  auto sig = certstore::TrustStore::load_dir(config.trust_dir);
  if (!sig) {
    return fail(sig.error().code, "trust.dir: " + sig.error().message);
  }
  ctx->m_signature = std::move(*sig);
  ctx->m_notes.push_back("trust anchors: " + config.trust_dir.string() + " (" +
                         std::to_string(ctx->m_signature.anchor_count()) + ")");
  if (!config.intermediates_dir.empty()) {
    std::error_code ec;
    std::size_t n = 0;
    for (const auto& entry : fs::directory_iterator(config.intermediates_dir, ec)) {
      if (!entry.is_regular_file() || is_crl_file(entry.path())) {
        continue;
      }
      auto certs = ossl::load_certificates(entry.path().string());
      if (!certs) {
        return fail(certs.error().code, "trust.intermediatesDir: " + certs.error().message);
      }
      for (auto& c : *certs) {
        ctx->m_signature.add_intermediate(std::move(c));
        ++n;
      }
    }
    if (ec) {
      return fail(Errc::io, "trust.intermediatesDir: cannot read " + config.intermediates_dir.string() + ": " + ec.message());
    }
    ctx->m_notes.push_back("intermediates: " + config.intermediates_dir.string() + " (" + std::to_string(n) + ")");
  }
  if (!config.tsa_trust_dir.empty()) {
    auto t = certstore::TrustStore::load_dir(config.tsa_trust_dir);
    if (!t) {
      return fail(t.error().code, "trust.tsaDir: " + t.error().message);
    }
    ctx->m_tsa = std::move(*t);
    ctx->m_notes.push_back("TSA trust anchors: " + config.tsa_trust_dir.string());
  }
  {
    // trust.dir is the one-folder shortcut for all three anchor sets.
    const fs::path ocsp_dir = config.ocsp_trust_dir.empty() ? config.trust_dir : config.ocsp_trust_dir;
    auto o = certstore::TrustStore::load_dir(ocsp_dir);
    if (!o) {
      return fail(o.error().code, "trust.ocspDir: " + o.error().message);
    }
    ctx->m_ocsp = std::move(*o);
    if (!config.ocsp_trust_dir.empty()) {
      ctx->m_notes.push_back("OCSP responder anchors: " + config.ocsp_trust_dir.string());
    }
  }
  auto policy = verifier::qualification_policy_from(config.policy_keys);
  if (!policy) {
    return std::unexpected(policy.error());
  }
  ctx->m_policy = std::move(*policy);
  auto crypto = verifier::crypto_constraints_from(config.crypto_keys);
  if (!crypto) {
    return std::unexpected(crypto.error());
  }
  ctx->m_crypto = std::move(*crypto);

  certstore::RevocationOptions ro;
  ro.order = order_from(config.revocation_order);
  ro.fetch = config.revocation_fetch;
  ro.ocsp_nonce = config.ocsp_nonce;
  ro.clock_skew = std::chrono::seconds(config.clock_skew_seconds);
  ro.max_crl_bytes = config.http_max_response_bytes;
  for (const auto& f : config.crl_files) {
    ro.crl_files.emplace_back(f);
  }
  std::error_code ec;
  std::vector<fs::path> trust_crls;
  for (const auto& entry : fs::directory_iterator(config.trust_dir, ec)) {
    if (entry.is_regular_file() && is_crl_file(entry.path())) {
      trust_crls.push_back(entry.path());
    }
  }
  std::sort(trust_crls.begin(), trust_crls.end());
  ro.crl_files.insert(ro.crl_files.end(), trust_crls.begin(), trust_crls.end());
  ctx->m_revocation = std::make_unique<certstore::RevocationChecker>(ctx->m_http, ctx->m_ocsp, db, ro);
  for (const auto& e : ctx->m_revocation->load_errors()) {
    return fail(Errc::invalid_argument, "revocation.crlFiles: " + e);
  }
  ctx->m_notes.push_back("revocation: " + config.revocation_order + (config.revocation_fetch ? "" : " (no fetching)") +
                         ", " + std::to_string(ro.crl_files.size()) + " configured CRL file(s)" +
                         (db != nullptr ? ", cached in the store" : ", no cache"));
  return ctx;
}

verifier::VerifyOptions ValidationContext::options(TimePoint at) const {
  verifier::VerifyOptions o;
  o.signature_trust = &m_signature;
  o.tsa_trust = m_tsa ? &*m_tsa : &m_signature;
  o.validation_time = at;
  o.revocation = m_revocation.get();
  o.qualification = &m_policy;
  o.crypto = &m_crypto;
  o.registry = m_db;
  o.aia_fetcher = m_aia_fetch ? &m_http : nullptr;
  return o;
}

std::vector<std::string> ValidationContext::describe() const { return m_notes; }

}  // namespace hanko::server
