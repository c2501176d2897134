#include "hanko/verifier/verifier.h"

#include <openssl/evp.h>

#include <algorithm>

#include "hanko/certstore/cert_info.h"
#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/common/http_client.h"
#include "hanko/signer/augment.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/jades.h"
#include "hanko/signer/xades.h"
#include "hanko/signer/signing_key.h"
#include "hanko/signer/xml.h"
#include "hanko/tsa_client/token.h"

namespace hanko::verifier {

namespace {

using certstore::ChainStatus;

CertificateInfo cert_info(const X509* cert) {
  auto s = certstore::summarize(cert);
  return CertificateInfo{s.subject, s.issuer, s.serial_hex, s.sha256_hex, s.not_before, s.not_after};
}

void add_check(SignatureReport& r, std::string name, BlockIndication result, std::string message) {
  r.checks.push_back(CheckResult{std::move(name), result, std::move(message)});
}

/** Ends validation of one signature with an indication. */
void conclude(SignatureReport& r, Indication ind, SubIndication sub, std::string error = {}) {
  r.indication = ind;
  r.sub_indication = sub;
  if (!error.empty()) {
    r.errors.push_back(std::move(error));
  }
}

/** Verifies a JWS signature value with the certificate's public key (algorithm from the allow-list). */
bool verify_signature_value(signer::JwsAlg alg, const X509* cert, std::string_view input, ByteView sig,
                            std::string& why) {
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (pub == nullptr) {
    why = "the signer's public key cannot be read";
    clear_openssl_errors();
    return false;
  }
  int id = EVP_PKEY_get_base_id(pub);
  Bytes der_sig;
  ByteView to_check = sig;
  if (alg == signer::JwsAlg::RS256) {
    if (id != EVP_PKEY_RSA) {
      why = "alg RS256 but the certificate's key is not RSA";
      return false;
    }
  } else {
    if (id != EVP_PKEY_EC) {
      why = "alg ES256 but the certificate's key is not EC";
      return false;
    }
    if (sig.size() != 64) {
      why = "an ES256 signature is 64 bytes (R||S)";
      return false;
    }
    auto der = signer::ecdsa_raw_to_der(sig);
    if (!der) {
      why = der.error().message;
      return false;
    }
    der_sig = std::move(*der);
    to_check = der_sig;
  }
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pub) != 1) {
    why = openssl_error(Errc::crypto, "cannot start verification").message;
    return false;
  }
  int rc = EVP_DigestVerify(ctx.get(), to_check.data(), to_check.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size());
  clear_openssl_errors();
  if (rc != 1) {
    why = "the signature value does not verify with the signer's public key over the canonical document";
    return false;
  }
  return true;
}

std::optional<TimePoint> claimed_time(const json::Value& header, SignatureReport& r) {
  if (const json::Value* iat = header.find("iat")) {
    if (iat->is_number()) {
      const std::string& lit = iat->as_number().literal;
      try {
        std::size_t pos = 0;
        long long v = std::stoll(lit, &pos);
        if (pos == lit.size()) {
          // NumericDate is seconds (RFC 7519); some producers write milliseconds.
          if (v > 100000000000LL) {
            r.warnings.push_back("iat looks like milliseconds, read as such");
            return from_unix(v / 1000);
          }
          return from_unix(v);
        }
      } catch (...) {
      }
    }
    r.warnings.push_back("iat is not an integer NumericDate; ignored");
  }
  if (const std::string* sig_t = header.find_string("sigT")) {
    if (auto t = parse_rfc3339(*sig_t)) {
      return t;
    }
    r.warnings.push_back("sigT is not an RFC 3339 time; ignored");
  }
  return std::nullopt;
}

SubIndication chain_sub_indication(ChainStatus s) {
  switch (s) {
    case ChainStatus::no_chain_found: return SubIndication::no_certificate_chain_found;
    case ChainStatus::expired:
    case ChainStatus::not_yet_valid: return SubIndication::out_of_bounds_no_poe;
    case ChainStatus::revoked: return SubIndication::revoked_no_poe;
    case ChainStatus::constraints_failure: return SubIndication::chain_constraints_failure;
    default: return SubIndication::certificate_chain_general_failure;
  }
}

/** Certificates named by the AIA caIssuers URLs of `cert` (RFC 5280 4.2.2.1), fetched over HTTP; untrusted. */
void fetch_aia_issuers(const X509* cert, const HttpClient& http, std::vector<ossl::X509Ptr>& out,
                       SignatureReport& r) {
  const X509* current = cert;
  for (int depth = 0; depth < 4 && current != nullptr; ++depth) {
    std::vector<std::string> urls = certstore::ca_issuers_urls(current);
    const X509* next = nullptr;
    for (const auto& url : urls) {
      auto resp = http.get(url);
      if (!resp || resp->status != 200) {
        r.warnings.push_back("could not fetch the issuer certificate from " + url + ": " +
                             (resp ? "HTTP " + std::to_string(resp->status) : resp.error().message));
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
        r.warnings.push_back("the issuer certificate at " + url + " is not a DER or PEM certificate");
        continue;
      }
      r.warnings.push_back("fetched the issuer certificate " + certstore::summarize(issuer.get()).subject + " from " + url +
                           " (AIA caIssuers)");
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

const QualificationPolicy& default_policy() {
  static const QualificationPolicy p = QualificationPolicy::defaults();
  return p;
}

const CryptoConstraints& default_crypto() {
  static const CryptoConstraints c = CryptoConstraints::defaults();
  return c;
}

/** Cryptographic constraints on the signature algorithm and the certificates, at `t` (a POE or the validation time). */
bool crypto_stage(std::string_view jws_alg, const X509* leaf, const std::vector<const X509*>& others,
                  const std::optional<TimePoint>& poe, const VerifyOptions& opts, SignatureReport& r) {
  const CryptoConstraints& table = opts.crypto != nullptr ? *opts.crypto : default_crypto();
  const TimePoint t = poe ? *poe : opts.validation_time;
  std::vector<CryptoCheck> failures;
  CryptoCheck sig = check_signature_crypto(jws_alg, leaf, t, table);
  if (!sig.ok) {
    failures.push_back(sig);
  }
  std::vector<const X509*> all{leaf};
  all.insert(all.end(), others.begin(), others.end());
  for (const X509* c : all) {
    if (X509_check_issued(const_cast<X509*>(c), const_cast<X509*>(c)) == X509_V_OK) {
      continue;  // a self-signed anchor's own signature is not relied on
    }
    CryptoCheck cc = check_certificate_crypto(c, t, table);
    if (!cc.ok) {
      failures.push_back(cc);
    }
  }
  if (failures.empty()) {
    add_check(r, "cryptographic-constraints", BlockIndication::passed,
              "the algorithms and key sizes are acceptable at " + format_rfc3339(t));
    return true;
  }
  const CryptoCheck& f = failures.front();
  add_check(r, "cryptographic-constraints", BlockIndication::failed, f.message);
  if (f.sunset && !poe) {
    conclude(r, Indication::indeterminate, SubIndication::crypto_constraints_failure_no_poe,
             f.message + "; no proof of existence (timestamp) from before " + format_rfc3339(*f.sunset));
  } else {
    conclude(r, Indication::indeterminate, SubIndication::crypto_constraints_failure, f.message);
  }
  return false;
}

/**
 * The validation data a long-term signature carries (JAdES xVals/rVals/tstVD,
 * XAdES CertificateValues/RevocationValues/TimeStampValidationData):
 * untrusted material, checked like fetched data before it is used.
 */
struct Embedded {
  struct Datum {
    Bytes der;
    bool ocsp = false;
    std::size_t position = 0;  ///< the unsigned property it came from
    std::size_t index = 0;     ///< among the embedded data of its kind, in document order
  };
  std::vector<ossl::X509Ptr> certificates;
  std::vector<Datum> revocation;
  /** Position and genTime of every archive timestamp that passed. */
  std::vector<std::pair<std::size_t, TimePoint>> archive_poe;
  std::unique_ptr<certstore::RevocationChecker> own_checker;
  const certstore::RevocationChecker* checker = nullptr;
  TimePoint validation_time;

  /**
   * The proof of existence of data in the unsigned property at `position`:
   * the genTime of the earliest valid archive timestamp after it, else the
   * validation time (EN 319 102-1 5.6.2.3 POE extraction).
   */
  TimePoint poe_of(std::size_t position) const {
    std::optional<TimePoint> best;
    for (const auto& [pos, t] : archive_poe) {
      if (pos > position && (!best || t < *best)) {
        best = t;
      }
    }
    return best.value_or(validation_time);
  }
};

Embedded make_embedded(const signer::LongTermView& view, const VerifyOptions& opts) {
  Embedded e;
  e.validation_time = opts.validation_time;
  std::size_t crls = 0;
  std::size_t ocsps = 0;
  for (const auto& v : view.values) {
    for (const auto& c : v.certificates) {
      if (ossl::X509Ptr cert = ossl::cached_x509_from_der(c)) {
        e.certificates.push_back(std::move(cert));
      }
    }
    for (const auto& c : v.crls) {
      e.revocation.push_back(Embedded::Datum{c, false, v.position, crls++});
    }
    for (const auto& o : v.ocsp_responses) {
      e.revocation.push_back(Embedded::Datum{o, true, v.position, ocsps++});
    }
  }
  if (!e.revocation.empty()) {
    if (opts.revocation != nullptr) {
      e.checker = opts.revocation;
    } else {
      certstore::RevocationOptions ro;
      ro.fetch = false;
      e.own_checker = std::make_unique<certstore::RevocationChecker>(HttpClient{}, certstore::TrustStore{}, nullptr, ro);
      e.checker = e.own_checker.get();
    }
  }
  return e;
}

bool valid_at(const X509* c, TimePoint t) {
  const auto nb = ossl::asn1_time_to_timepoint(X509_get0_notBefore(c));
  const auto na = ossl::asn1_time_to_timepoint(X509_get0_notAfter(c));
  return nb && na && *nb <= t && t <= *na;
}

/**
 * The status of `cert` according to the embedded revocation data: data issued
 * at or after `after` (EN 319 102-1: it would list a revocation that happened
 * before then), or fresh at the validation time when `after` is not set. A
 * datum is used only if the certificate that signed it (the CA for a CRL or
 * an OCSP answer by the CA, the delegated responder otherwise) was valid at
 * the datum's proof of existence; `poe_rejected` says that data was set aside
 * for that reason. Every usable datum is read: one that says "revoked" wins
 * over those that say "good" (the earliest revocation), then "unknown", then
 * the first "good". nullopt when nothing usable is embedded; `why` says why.
 */
std::optional<certstore::RevocationResult> embedded_status(const X509* cert, const X509* issuer,
                                                           const std::optional<TimePoint>& after, const Embedded& e,
                                                           std::string& why, bool& poe_rejected) {
  if (e.revocation.empty() || e.checker == nullptr) {
    return std::nullopt;
  }
  std::vector<const Embedded::Datum*> candidates;
  for (const auto& d : e.revocation) {
    candidates.push_back(&d);
  }
  std::vector<certstore::RevocationResult> usable;
  while (!candidates.empty()) {
    certstore::SuppliedRevocationData data;
    for (const auto* d : candidates) {
      (d->ocsp ? data.ocsp_responses : data.crls).push_back(d->der);
    }
    certstore::RevocationResult res =
        e.checker->check_supplied(cert, issuer, after.value_or(e.validation_time), data,
                                  after ? certstore::SuppliedTime::issued_after : certstore::SuppliedTime::current_at);
    if (res.status != certstore::RevocationStatus::good && res.status != certstore::RevocationStatus::revoked &&
        res.status != certstore::RevocationStatus::unknown) {
      if (usable.empty()) {
        why = why.empty() ? res.message : why + "; " + res.message;
      }
      break;
    }
    auto used = std::find_if(candidates.begin(), candidates.end(), [&](const Embedded::Datum* d) {
      return d->ocsp == (res.source == certstore::RevocationSourceKind::ocsp) && d->der == res.der;
    });
    if (used == candidates.end()) {
      why = "internal: the embedded datum used cannot be found";
      break;
    }
    const Embedded::Datum& d = **used;
    const TimePoint poe = e.poe_of(d.position);
    ossl::X509Ptr responder = d.ocsp ? ossl::x509_from_der(res.responder_certificate) : nullptr;
    const X509* authority = d.ocsp ? responder.get() : issuer;
    if (authority != nullptr && valid_at(authority, poe)) {
      const std::string supplied = res.url;  // "supplied CRL N": N counts the data passed to check_supplied
      res.url = std::string(d.ocsp ? "embedded OCSP response " : "embedded CRL ") + std::to_string(d.index);
      if (const auto at = res.message.find(supplied); at != std::string::npos) {
        res.message.replace(at, supplied.size(), res.url);
      }
      res.attempts = {res.url + ": " + std::string(certstore::revocation_status_name(res.status))};
      usable.push_back(std::move(res));
    } else {
      poe_rejected = true;
      why = std::string("the embedded ") + (d.ocsp ? "OCSP response " : "CRL ") + std::to_string(d.index) +
            " has no proof of existence from a time its signer's certificate was valid (its proof of existence is " +
            format_rfc3339(poe) + ")";
    }
    candidates.erase(used);
  }
  if (usable.empty()) {
    return std::nullopt;
  }
  const certstore::RevocationResult* best = nullptr;
  for (const auto& u : usable) {
    if (u.status == certstore::RevocationStatus::revoked &&
        (best == nullptr || best->status != certstore::RevocationStatus::revoked ||
         (u.revocation_time && (!best->revocation_time || *u.revocation_time < *best->revocation_time)))) {
      best = &u;
    }
  }
  for (const auto& u : usable) {
    if (best == nullptr && u.status == certstore::RevocationStatus::unknown) {
      best = &u;
    }
  }
  return best != nullptr ? *best : usable.front();
}

/** OCSP/CRL status of each certificate below the anchor (RFC 5280, RFC 6960); EN 319 102-1 5.2.6 and 5.6.2.1. */
bool revocation_stage(const std::vector<ossl::X509Ptr>& chain, const std::optional<TimePoint>& poe,
                      const VerifyOptions& opts, SignatureReport& r, const Embedded* embedded) {
  bool not_checked = false;
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    const X509* cert = chain[i].get();
    const X509* issuer = chain[i + 1].get();
    const std::string subject = certstore::summarize(cert).subject;
    // Embedded data first (B-LT and above): issued after the proof of existence of the signature.
    std::string embedded_why;
    bool poe_rejected = false;
    std::optional<certstore::RevocationResult> from_signature;
    if (embedded != nullptr) {
      from_signature = embedded_status(cert, issuer, poe, *embedded, embedded_why, poe_rejected);
    }
    if (!from_signature && opts.revocation == nullptr) {
      RevocationReport rr;
      rr.certificate = subject;
      rr.status = "not-checked";
      rr.message = "no revocation checker is configured: only CRLs loaded into the trust store were consulted";
      if (!embedded_why.empty()) {
        rr.message += "; " + embedded_why;
      }
      r.revocation.push_back(std::move(rr));
      not_checked = true;
      continue;
    }
    certstore::RevocationResult res =
        from_signature ? std::move(*from_signature) : opts.revocation->check(cert, issuer, opts.validation_time);
    if (!from_signature && !embedded_why.empty()) {
      res.attempts.insert(res.attempts.begin(), "embedded data: " + embedded_why);
    }
    RevocationReport rr;
    rr.certificate = subject;
    rr.status = std::string(certstore::revocation_status_name(res.status));
    if (res.status == certstore::RevocationStatus::good || res.status == certstore::RevocationStatus::revoked ||
        res.status == certstore::RevocationStatus::unknown) {
      rr.source = res.source == certstore::RevocationSourceKind::ocsp ? "OCSP" : "CRL";
    }
    rr.url = res.url;
    rr.responder = res.responder;
    rr.produced_at = res.produced_at;
    rr.this_update = res.this_update;
    rr.next_update = res.next_update;
    rr.revocation_time = res.revocation_time;
    rr.revocation_reason = res.revocation_reason;
    rr.from_cache = res.from_cache;
    rr.message = res.message;
    rr.attempts = res.attempts;
    r.revocation.push_back(rr);
    const bool leaf = i == 0;
    const std::string who = leaf ? "the signer certificate " + subject : "the CA certificate " + subject;
    switch (res.status) {
      case certstore::RevocationStatus::good: continue;
      case certstore::RevocationStatus::revoked: {
        if (res.revocation_time && *res.revocation_time > opts.validation_time) {
          r.warnings.push_back(who + " is revoked from " + format_rfc3339(*res.revocation_time) +
                               ", after the validation time");
          continue;
        }
        if (poe && res.revocation_time && *poe < *res.revocation_time) {
          r.warnings.push_back(who + " was revoked at " + format_rfc3339(*res.revocation_time) +
                               ", after the signature's proof of existence at " + format_rfc3339(*poe) +
                               ": the signature stays valid");
          continue;
        }
        std::string when = res.revocation_time ? " at " + format_rfc3339(*res.revocation_time) : std::string();
        add_check(r, "revocation", BlockIndication::failed, who + " is revoked" + when + " (" + rr.source + " " + rr.url + ")");
        if (poe && leaf) {
          conclude(r, Indication::total_failed, SubIndication::revoked,
                   who + " was revoked" + when + ", before the signature existed (timestamped " +
                       format_rfc3339(*poe) + ")");
        } else {
          conclude(r, Indication::indeterminate, leaf ? SubIndication::revoked_no_poe : SubIndication::revoked_ca_no_poe,
                   who + " is revoked" + when + " and no timestamp proves the signature existed before that");
        }
        return false;
      }
      case certstore::RevocationStatus::unknown:
        add_check(r, "revocation", BlockIndication::indeterminate, res.message);
        conclude(r, Indication::indeterminate, SubIndication::certificate_chain_general_failure,
                 "the revocation service does not know " + who + " (status unknown): " + res.message);
        return false;
      case certstore::RevocationStatus::unavailable:
      case certstore::RevocationStatus::invalid: {
        add_check(r, "revocation", BlockIndication::indeterminate, res.message);
        std::string tried;
        for (const auto& a : res.attempts) {
          tried += (tried.empty() ? "" : "; ") + a;
        }
        if (poe_rejected) {
          conclude(r, Indication::indeterminate, SubIndication::revocation_out_of_bounds_no_poe,
                   "no usable revocation data for " + who + ": " + embedded_why + "; " + res.message);
          return false;
        }
        conclude(r, Indication::indeterminate, SubIndication::try_later,
                 "no usable revocation data for " + who + ": " + res.message +
                     (tried.empty() ? std::string() : " [tried: " + tried + "]") +
                     ". Try again later, or check the network path to these URLs (tls/proxy settings)");
        return false;
      }
    }
  }
  if (not_checked) {
    r.warnings.push_back("revocation was not checked online (no revocation checker configured); only CRLs in the "
                         "trust folder were consulted");
    return true;
  }
  add_check(r, "revocation", BlockIndication::passed,
            "no certificate of the chain is revoked (" + std::to_string(chain.size() > 0 ? chain.size() - 1 : 0) +
                " checked" + (embedded != nullptr && !embedded->revocation.empty() ? ", with the data embedded in the signature first" : "") + ")");
  return true;
}

/** The qualification policy: may this signer sign this kind of document? */
bool qualification_stage(const json::Value& bundle, const X509* leaf, const std::optional<TimePoint>& poe,
                         const VerifyOptions& opts, SignatureReport& r) {
  if (opts.skip_qualification) {
    QualificationReport q;
    q.outcome = "NOT_CHECKED";
    q.source = "none";
    q.message = "the qualification policy was skipped (--no-policy: for testing only)";
    r.qualification = q;
    r.warnings.push_back(q.message);
    return true;
  }
  const QualificationPolicy& policy = opts.qualification != nullptr ? *opts.qualification : default_policy();
  auto doc = document_type(bundle, policy);
  TimePoint when = poe ? *poe : (r.claimed_signing_time ? *r.claimed_signing_time : opts.validation_time);
  QualificationDecision d = decide_qualification(leaf, doc, when, policy, opts.registry);
  QualificationReport q;
  q.outcome = std::string(outcome_name(d.outcome));
  q.role = d.role;
  q.source = d.source;
  q.rule = d.rule;
  if (doc) {
    q.document_type = doc->system + "|" + doc->code;
  }
  q.registry_id = d.registry_id;
  q.licence_number = d.licence_number;
  q.message = d.message;
  r.qualification = q;
  for (auto& w : d.warnings) {
    r.warnings.push_back(std::move(w));
  }
  for (auto& w : compare_signer_with_bundle(leaf, d.role, bundle, r.who)) {
    r.warnings.push_back(std::move(w));
  }
  if (d.outcome != QualificationOutcome::qualified) {
    add_check(r, "qualification", BlockIndication::failed, d.message);
    conclude(r, Indication::indeterminate, sub_indication_for(d.outcome), d.message);
    return false;
  }
  add_check(r, "qualification", BlockIndication::passed, d.message);
  return true;
}

/**
 * The checks on the signer's certificate: cryptographic constraints, chain
 * (with past certificate validation at the POE), revocation, keyUsage and the
 * qualification policy. Returns true when all passed; otherwise `r` is
 * concluded.
 */
bool certificate_stages(const json::Value& bundle, const X509* leaf, std::vector<const X509*> untrusted,
                        std::string_view jws_alg, bool has_tst, const VerifyOptions& opts, SignatureReport& r,
                        const Embedded* embedded = nullptr) {
  if (!crypto_stage(jws_alg, leaf, untrusted, r.best_signature_time, opts, r)) {
    return false;
  }
  if (embedded != nullptr) {
    for (const auto& c : embedded->certificates) {
      untrusted.push_back(c.get());
    }
  }
  // --- X.509 validation at the validation time ---------------------------
  auto chain = opts.signature_trust->verify(leaf, untrusted, opts.validation_time, certstore::Purpose::signature);
  std::vector<ossl::X509Ptr> fetched;
  if (chain.status == ChainStatus::no_chain_found && opts.aia_fetcher != nullptr) {
    fetch_aia_issuers(leaf, *opts.aia_fetcher, fetched, r);
    if (!fetched.empty()) {
      for (const auto& f : fetched) {
        untrusted.push_back(f.get());
      }
      chain = opts.signature_trust->verify(leaf, untrusted, opts.validation_time, certstore::Purpose::signature);
    }
  }
  std::vector<ossl::X509Ptr> validated_chain;
  auto record_chain = [&](const certstore::ChainResult& c) {
    validated_chain.clear();
    for (const auto& cc : c.chain) {
      validated_chain.push_back(ossl::up_ref(cc.get()));
    }
    r.chain.clear();
    for (const auto& cc : c.chain) {
      r.chain.push_back(cert_info(cc.get()));
    }
  };
  record_chain(chain);
  if (chain.status != ChainStatus::ok) {
    bool recovered = false;
    // Past certificate validation (EN 319 102-1 5.6.2.1): with a POE before
    // the problem arose, validate the chain at the POE time instead.
    if (r.best_signature_time &&
        (chain.status == ChainStatus::expired || chain.status == ChainStatus::revoked ||
         chain.status == ChainStatus::not_yet_valid)) {
      TimePoint poe = *r.best_signature_time;
      auto past = opts.signature_trust->verify(leaf, untrusted, poe, certstore::Purpose::signature);
      // A CRL lists a certificate whatever the time asked about: a revocation
      // dated after the POE does not affect a signature that existed before it.
      bool revoked_later = past.status == ChainStatus::revoked && chain.status == ChainStatus::revoked &&
                           chain.revocation_time && poe < *chain.revocation_time;
      if (chain.status == ChainStatus::revoked && chain.revocation_time && *chain.revocation_time <= poe) {
        // Proof that the signature was made after the revocation: EN 319 102-1 REVOKED.
        add_check(r, "certificate-chain", BlockIndication::failed, chain.message);
        conclude(r, Indication::total_failed, SubIndication::revoked,
                 "the signer certificate was revoked at " + format_rfc3339(*chain.revocation_time) +
                     ", before the signature existed (timestamped " + format_rfc3339(poe) + ")");
        return false;
      }
      if (past.status == ChainStatus::ok || revoked_later) {
        record_chain(past);
        add_check(r, "certificate-chain", BlockIndication::passed,
                  "the chain was valid at the signature timestamp " + format_rfc3339(poe) + " (" + chain.message +
                      " at the validation time)");
        r.warnings.push_back(chain.message + " at the validation time; valid when the signature was timestamped");
        recovered = true;
      } else if (past.status == ChainStatus::not_yet_valid && chain.status != ChainStatus::revoked) {
        add_check(r, "certificate-chain", BlockIndication::failed, past.message);
        conclude(r, Indication::total_failed, SubIndication::not_yet_valid,
                 "the signature was timestamped at " + format_rfc3339(poe) +
                     ", before the signer certificate became valid");
        return false;
      }
    }
    if (!recovered) {
      add_check(r, "certificate-chain", BlockIndication::indeterminate, chain.message);
      SubIndication sub = chain_sub_indication(chain.status);
      std::string msg = chain.message;
      if (chain.status == ChainStatus::no_chain_found) {
        msg = "the signer certificate (" + r.signer->subject + ", issued by " + r.signer->issuer +
              ") does not chain to a configured trust anchor: " + chain.message +
              ". If this CA is trusted, add its root certificate to the trust folder (trust.dir / --trust); "
              "if only an intermediate is missing, add it to trust.intermediatesDir";
      } else if (chain.status == ChainStatus::expired && !has_tst) {
        msg = chain.message + "; the signature has no timestamp from before the expiry (no proof of existence)";
      } else if (chain.status == ChainStatus::expired) {
        msg = chain.message + "; no valid timestamp from before the expiry";
      }
      conclude(r, Indication::indeterminate, sub, msg);
      return false;
    }
  } else {
    add_check(r, "certificate-chain", BlockIndication::passed,
              "chains to the trust anchor " + (r.chain.empty() ? std::string() : r.chain.back().subject) + " at " +
                  format_rfc3339(opts.validation_time));
  }
  // --- Signing certificate constraints (HPKI: nonRepudiation) ------------
  const QualificationPolicy& key_policy = opts.qualification != nullptr ? *opts.qualification : default_policy();
  if (!r.non_repudiation && !key_policy.require_non_repudiation) {
    add_check(r, "key-usage", BlockIndication::passed,
              "keyUsage lacks nonRepudiation, accepted because policy.requireNonRepudiation is false");
    r.warnings.push_back("the signer certificate's keyUsage lacks nonRepudiation (accepted by configuration)");
  } else if (!r.non_repudiation) {
    add_check(r, "key-usage", BlockIndication::failed,
              "the signer certificate's keyUsage lacks nonRepudiation (contentCommitment)");
    conclude(r, Indication::indeterminate, SubIndication::chain_constraints_failure,
             "the signer certificate is not a signing (non-repudiation) certificate");
    return false;
  } else {
    add_check(r, "key-usage", BlockIndication::passed, "keyUsage includes nonRepudiation");
  }
  // --- Revocation of the chain -------------------------------------------------
  if (!revocation_stage(validated_chain, r.best_signature_time, opts, r, embedded)) {
    return false;
  }
  // --- Qualification ------------------------------------------------------------
  return qualification_stage(bundle, leaf, r.best_signature_time, opts, r);
}


/** Copies `base` (anchors, intermediates, CRLs) and adds `extra` certificates as path-building material only. */
certstore::TrustStore store_with(const certstore::TrustStore& base, const std::vector<ossl::X509Ptr>& extra) {
  certstore::TrustStore out;
  for (const auto& a : base.anchors()) {
    out.add_anchor(ossl::up_ref(a.get()));
  }
  for (const auto& i : base.intermediates()) {
    out.add_intermediate(ossl::up_ref(i.get()));
  }
  for (const auto& c : base.crls()) {
    if (X509_CRL_up_ref(c.get()) == 1) {
      out.add_crl(ossl::X509CrlPtr(c.get()));
    }
  }
  for (const auto& c : extra) {
    out.add_intermediate(ossl::up_ref(c.get()));
  }
  return out;
}

/**
 * The timestamps of a signature (EN 319 102-1 5.4 time-stamp validation and
 * 5.6.3 validation process for signatures with archival data), newest first:
 * each token is checked (imprint, CMS signature, ESSCertID, TSA chain) at its
 * control time, which is the genTime of the earliest valid archive timestamp
 * after it (its proof of existence: past certificate validation) or else the
 * validation time; the TSA's revocation is read from the embedded data when it
 * is there. Every valid token is a proof of existence of the signature:
 * r.best_signature_time is the earliest. An archive timestamp whose imprint
 * or signature does not verify means that the data it protects was changed:
 * TOTAL-FAILED (returns false). A token that is merely not trusted (chain,
 * revocation) only loses its proof of existence (a warning).
 */
bool timestamp_stage(const signer::LongTermView& view, Embedded& e, const certstore::TrustStore& base_tsa_trust,
                     const VerifyOptions& opts, SignatureReport& r) {
  const std::size_t n = view.timestamps.size();
  std::optional<certstore::TrustStore> extended;
  if (!e.certificates.empty()) {
    extended.emplace(store_with(base_tsa_trust, e.certificates));
  }
  const certstore::TrustStore& tsa_trust = extended ? *extended : base_tsa_trust;
  std::vector<TimestampReport> reports(n);
  std::vector<std::optional<TimePoint>> valid(n);
  std::optional<std::size_t> broken_archive;
  for (std::size_t k = n; k-- > 0;) {
    const signer::EmbeddedTimestamp& t = view.timestamps[k];
    const bool archive = t.kind == signer::EmbeddedTimestamp::Kind::archive;
    TimestampReport& ts = reports[k];
    ts.type = archive ? "ARCHIVE_TIMESTAMP" : "SIGNATURE_TIMESTAMP";
    std::optional<TimePoint> poe;
    for (std::size_t j = k + 1; j < n; ++j) {
      if (view.timestamps[j].kind == signer::EmbeddedTimestamp::Kind::archive && valid[j] && (!poe || *valid[j] < *poe)) {
        poe = valid[j];
      }
    }
    const TimePoint control = poe.value_or(opts.validation_time);
    ts.control_time = control;
    auto v = tsa::verify_token(t.token, as_bytes(t.covered), tsa_trust, control);
    if (v.info) {
      ts.gen_time = v.info->gen_time;
      ts.serial_number = v.info->serial_hex;
      ts.policy = v.info->policy_oid;
      ts.digest_algorithm = std::string(digest_name(v.info->imprint_alg));
      if (v.info->tsa_cert) {
        ts.tsa = cert_info(v.info->tsa_cert.get());
      }
    }
    ts.message = v.message;
    switch (v.status) {
      case tsa::TokenStatus::ok: ts.indication = BlockIndication::passed; break;
      case tsa::TokenStatus::imprint_mismatch:
        ts.indication = BlockIndication::failed;
        ts.sub_indication = SubIndication::hash_failure;
        break;
      case tsa::TokenStatus::signature_invalid:
      case tsa::TokenStatus::signer_mismatch:
        ts.indication = BlockIndication::failed;
        ts.sub_indication = SubIndication::sig_crypto_failure;
        break;
      case tsa::TokenStatus::chain_failure:
        ts.indication = BlockIndication::indeterminate;
        ts.sub_indication = chain_sub_indication(v.chain.status);
        break;
      case tsa::TokenStatus::malformed:
        ts.indication = BlockIndication::failed;
        ts.sub_indication = SubIndication::format_failure;
        break;
    }
    if (poe && v.status == tsa::TokenStatus::ok) {
      ts.message += " (TSA chain checked at " + format_rfc3339(control) + ", the proof of existence given by a later archive timestamp)";
    }
    // The TSA certificate's revocation, from the validation data in the signature.
    if (ts.indication == BlockIndication::passed && ts.gen_time) {
      bool checked = false;
      for (std::size_t i = 0; i + 1 < v.chain.chain.size(); ++i) {
        const X509* cert = v.chain.chain[i].get();
        std::string why;
        bool poe_rejected = false;
        auto res = embedded_status(cert, v.chain.chain[i + 1].get(), ts.gen_time, e, why, poe_rejected);
        if (!res) {
          if (poe_rejected) {
            ts.indication = BlockIndication::indeterminate;
            ts.sub_indication = SubIndication::revocation_out_of_bounds_no_poe;
            ts.message = why;
            break;
          }
          continue;
        }
        checked = true;
        if (res->status == certstore::RevocationStatus::revoked &&
            (!res->revocation_time || *res->revocation_time <= control)) {
          const bool before = res->revocation_time && *res->revocation_time <= *ts.gen_time;
          ts.indication = before ? BlockIndication::failed : BlockIndication::indeterminate;
          ts.sub_indication = before ? SubIndication::revoked : SubIndication::revoked_no_poe;
          ts.message = "the TSA chain is revoked: " + res->message;
          break;
        }
        if (res->status == certstore::RevocationStatus::unknown) {
          ts.indication = BlockIndication::indeterminate;
          ts.sub_indication = SubIndication::certificate_chain_general_failure;
          ts.message = res->message;
          break;
        }
      }
      if (ts.indication == BlockIndication::passed) {
        ts.message += checked ? "; the TSA certificate's revocation status comes from the data embedded in the signature"
                              : "; the TSA certificate's revocation was not checked (no embedded data for it)";
      }
    }
    if (ts.indication == BlockIndication::passed) {
      valid[k] = ts.gen_time;
      if (archive) {
        e.archive_poe.emplace_back(t.position, *ts.gen_time);
      }
    } else if (archive && ts.indication == BlockIndication::failed && ts.sub_indication != SubIndication::revoked) {
      broken_archive = k;
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    TimestampReport& ts = reports[k];
    if (ts.indication == BlockIndication::passed) {
      if (!r.best_signature_time || *ts.gen_time < *r.best_signature_time) {
        r.best_signature_time = ts.gen_time;
      }
    } else {
      r.warnings.push_back(std::string(ts.type == "ARCHIVE_TIMESTAMP" ? "an archive timestamp" : "the signature timestamp") +
                           " is not valid and gives no proof of existence: " + ts.message);
    }
    r.timestamps.push_back(std::move(ts));
  }
  if (broken_archive) {
    const TimestampReport& ts = r.timestamps[*broken_archive];
    conclude(r, Indication::total_failed, ts.sub_indication,
             "archive timestamp " + std::to_string(*broken_archive + 1) + " does not verify (" +
                 std::string(sub_indication_name(ts.sub_indication)) + "): " + ts.message +
                 ". The signature, the signed data or the validation data it protects was changed after it was made");
    return false;
  }
  return true;
}

std::string level_suffix(signer::SignatureLevel level) {
  switch (level) {
    case signer::SignatureLevel::B_B: return "B";
    case signer::SignatureLevel::B_T: return "T";
    case signer::SignatureLevel::B_LT: return "LT";
    case signer::SignatureLevel::B_LTA: return "LTA";
  }
  return "B";
}

void validate_signature(const json::Value& bundle, const json::Value& sig_el, const VerifyOptions& opts,
                        SignatureReport& r, ValidationReport& report) {
  // --- Format -------------------------------------------------------------
  const std::string* sig_format = sig_el.find_string("sigFormat");
  if (sig_format != nullptr && *sig_format != "application/jose") {
    conclude(r, Indication::total_failed, SubIndication::format_failure,
             "sigFormat " + *sig_format + " is not supported for a JSON Bundle (expected application/jose)");
    return;
  }
  if (const json::Value* who = sig_el.find("who")) {
    if (const std::string* ref = who->find_string("reference")) {
      r.who = *ref;
    } else if (const std::string* d = who->find_string("display")) {
      r.who = *d;
    }
  }
  const std::string* data = sig_el.find_string("data");
  if (data == nullptr) {
    conclude(r, Indication::total_failed, SubIndication::format_failure, "Bundle.signature.data is missing");
    return;
  }
  auto jws_bytes = base64_decode(*data);
  if (!jws_bytes) {
    conclude(r, Indication::total_failed, SubIndication::format_failure, "Bundle.signature.data is not base64");
    return;
  }
  auto jws = signer::parse_jws(to_string(*jws_bytes));
  if (!jws) {
    conclude(r, Indication::total_failed, SubIndication::format_failure, jws.error().message);
    return;
  }
  r.format = jws->etsi_u.empty() ? "JAdES-BASELINE-B" : "JAdES-BASELINE-T";
  const json::Value& header = jws->header;
  if (!jws->payload_b64.empty()) {
    conclude(r, Indication::total_failed, SubIndication::format_failure,
             "the JWS carries a payload; a FHIR signature is detached (RFC 7515 Appendix F)");
    return;
  }
  if (const json::Value* crit = header.find("crit")) {
    // RFC 7515 4.1.11: every name in crit must be understood, or the JWS is invalid.
    static const std::array<std::string_view, 3> understood = {"iat", "sigT", "srCms"};
    if (!crit->is_array() || crit->as_array().empty()) {
      conclude(r, Indication::total_failed, SubIndication::format_failure, "crit is not a non-empty array");
      return;
    }
    for (const auto& c : crit->as_array()) {
      if (!c.is_string() || std::find(understood.begin(), understood.end(), c.as_string()) == understood.end() ||
          header.find(c.as_string()) == nullptr) {
        conclude(r, Indication::total_failed, SubIndication::format_failure,
                 "crit names a header parameter hanko does not process: " +
                     (c.is_string() ? c.as_string() : std::string("(not a string)")));
        return;
      }
    }
  }
  // --- Algorithm allow-list ----------------------------------------------
  const std::string* alg_name = header.find_string("alg");
  if (alg_name == nullptr) {
    conclude(r, Indication::total_failed, SubIndication::format_failure, "the JWS header has no alg");
    return;
  }
  r.algorithm = *alg_name;
  auto alg = signer::jws_alg_from_name(*alg_name);
  if (!alg) {
    conclude(r, Indication::indeterminate, SubIndication::crypto_constraints_failure,
             "algorithm " + *alg_name + " is not on the allow-list (RS256, ES256)");
    return;
  }
  if (const json::Value* sr = header.find("srCms"); sr != nullptr && sr->is_array()) {
    for (const auto& cm : sr->as_array()) {
      if (const json::Value* ci = cm.find("commId")) {
        const std::string* id = ci->is_string() ? &ci->as_string() : ci->find_string("id");
        if (id != nullptr) {
          r.signature_type = id->starts_with(signer::kUrnOid) ? id->substr(signer::kUrnOid.size()) : *id;
        }
      }
    }
  }
  r.claimed_signing_time = claimed_time(header, r);
  if (!r.claimed_signing_time) {
    r.warnings.push_back("no claimed signing time (iat or sigT) in the protected header");
  }
  // --- Signed data: the #document canonical bytes ------------------------
  const std::string* tf = sig_el.find_string("targetFormat");
  const signer::Canonicalizer* canon = &signer::jcs();
  if (tf != nullptr) {
    r.target_format = *tf;
    canon = signer::canonicalizer_for_target_format(*tf);
    if (canon == nullptr) {
      conclude(r, Indication::total_failed, SubIndication::format_failure,
               "targetFormat " + *tf + " names a canonicalization hanko does not know");
      return;
    }
  } else {
    r.target_format = std::string(signer::jcs().target_format());
    r.warnings.push_back("no targetFormat: the document was canonicalized with JCS (RFC 8785)");
  }
  auto canonical = signer::canonical_document(bundle, *canon);
  if (!canonical) {
    conclude(r, Indication::indeterminate, SubIndication::signed_data_not_found,
             "the signed document cannot be canonicalized: " + canonical.error().message);
    return;
  }
  report.document_sha256 = hex(sha256(*canonical));
  // --- Signing certificate identification --------------------------------
  const json::Value* x5c = header.find("x5c");
  if (x5c == nullptr || !x5c->is_array() || x5c->as_array().empty()) {
    conclude(r, Indication::indeterminate, SubIndication::no_signing_certificate_found,
             "the JWS header carries no x5c certificate chain");
    return;
  }
  // A real chain is a handful of certificates; refuse absurd ones before parsing them.
  constexpr std::size_t kMaxX5c = 10;
  if (x5c->as_array().size() > kMaxX5c) {
    conclude(r, Indication::total_failed, SubIndication::format_failure,
             "x5c holds " + std::to_string(x5c->as_array().size()) + " certificates; at most " +
                 std::to_string(kMaxX5c) + " are accepted");
    return;
  }
  std::vector<ossl::X509Ptr> certs;
  for (const auto& c : x5c->as_array()) {
    auto der = c.is_string() ? base64_decode(c.as_string()) : std::nullopt;
    ossl::X509Ptr cert = der ? ossl::cached_x509_from_der(*der) : nullptr;
    if (!cert) {
      conclude(r, Indication::indeterminate, SubIndication::no_signing_certificate_found,
               "an x5c entry is not a base64 DER certificate");
      return;
    }
    certs.push_back(std::move(cert));
  }
  const X509* leaf = certs.front().get();
  r.signer = cert_info(leaf);
  // HPKI attributes, reported whatever the outcome.
  r.non_repudiation = certstore::has_non_repudiation(leaf);
  r.policies = certstore::policy_oids(leaf);
  if (auto role = certstore::hc_role(leaf); role) {
    r.role = *role;
    if (!r.role) {
      r.warnings.push_back("the signer certificate carries no hcRole: the qualification is not electronically verifiable");
    }
  } else {
    r.warnings.push_back("the hcRole extension is malformed: " + role.error().message);
  }
  if (const std::string* t = header.find_string("x5t#S256")) {
    auto want = base64url_decode(*t);
    if (!want || !ct_equal(*want, ossl::cert_sha256(leaf))) {
      conclude(r, Indication::indeterminate, SubIndication::no_signing_certificate_found,
               "x5t#S256 does not match the first x5c certificate");
      return;
    }
    add_check(r, "signing-certificate-reference", BlockIndication::passed, "x5t#S256 matches the signer certificate");
  } else {
    r.warnings.push_back("no x5t#S256: the signing certificate is not bound by a digest in the protected header");
  }
  // --- Signature value ----------------------------------------------------
  std::string why;
  if (!verify_signature_value(*alg, leaf, signer::signing_input(jws->protected_b64, *canonical), jws->signature,
                              why)) {
    add_check(r, "signature-value", BlockIndication::failed, why);
    conclude(r, Indication::total_failed, SubIndication::sig_crypto_failure,
             why + " (the document, the header or the signature was changed after signing)");
    return;
  }
  add_check(r, "signature-value", BlockIndication::passed,
            std::string(*alg_name) + " signature verifies over the " + std::string(canon->name()) +
                " canonical document");
  // --- Timestamps and validation data (B-T, B-LT, B-LTA) ---------------------
  auto lt = signer::read_jades_long_term(to_string(*jws_bytes), *canonical);
  if (!lt) {
    conclude(r, Indication::total_failed, SubIndication::format_failure, lt.error().message);
    return;
  }
  for (const auto& ignored : lt->ignored) {
    r.warnings.push_back("an etsiU item hanko does not process was ignored: " + ignored);
  }
  r.format = "JAdES-BASELINE-" + level_suffix(lt->level);
  const bool has_tst = !lt->timestamps.empty();
  const certstore::TrustStore& tsa_trust = opts.tsa_trust != nullptr ? *opts.tsa_trust : *opts.signature_trust;
  Embedded embedded = make_embedded(*lt, opts);
  if (!timestamp_stage(*lt, embedded, tsa_trust, opts, r)) {
    return;
  }
  if (r.claimed_signing_time && r.best_signature_time && *r.claimed_signing_time > *r.best_signature_time + std::chrono::minutes(5)) {
    r.warnings.push_back("the claimed signing time is after the signature timestamp");
  }
  // --- Certificates, revocation, constraints and qualification -------------
  std::vector<const X509*> untrusted;
  for (std::size_t i = 1; i < certs.size(); ++i) {
    untrusted.push_back(certs[i].get());
  }
  if (!certificate_stages(bundle, leaf, untrusted, *alg_name, has_tst, opts, r, &embedded)) {
    return;
  }
  conclude(r, Indication::total_passed, SubIndication::none);
}

}  // namespace

Result<ValidationReport> verify_bundle(const json::Value& bundle, const VerifyOptions& options) {
  if (options.signature_trust == nullptr) {
    return fail(Errc::invalid_argument, "verification needs trust anchors");
  }
  if (auto ok = signer::check_document_bundle(bundle); !ok) {
    return std::unexpected(ok.error());
  }
  const json::Value* sig = bundle.find("signature");
  if (sig == nullptr) {
    return fail(Errc::no_signature, "the Bundle carries no signature (Bundle.signature is absent)");
  }
  ValidationReport report;
  report.validation_time = options.validation_time;
  report.document_identifier = signer::bundle_identifier(bundle);
  SignatureReport r;
  r.id = "signature-1";
  r.format = "unknown";
  if (!sig->is_object()) {
    conclude(r, Indication::total_failed, SubIndication::format_failure, "Bundle.signature is not an object");
  } else {
    validate_signature(bundle, *sig, options, r, report);
  }
  report.indication = r.indication;
  report.sub_indication = r.sub_indication;
  report.signatures.push_back(std::move(r));
  return report;
}

Result<ValidationReport> verify_bundle_text(std::string_view text, const VerifyOptions& options) {
  auto v = json::parse(text);
  if (!v) {
    return fail(Errc::invalid_argument, "the body is not valid JSON: " + v.error().message);
  }
  return verify_bundle(*v, options);
}

}  // namespace hanko::verifier

namespace hanko::verifier {

SignerCheck check_signer(const X509* signer, const std::vector<const X509*>& chain, const json::Value& bundle,
                         const VerifyOptions& options) {
  SignerCheck out;
  SignatureReport& r = out.details;
  r.id = "signer";
  r.format = "unknown";
  if (options.signature_trust == nullptr || signer == nullptr) {
    out.rule = "certificate-chain";
    out.message = "no trust anchors are configured to check the signer against";
    out.sub_indication = SubIndication::no_certificate_chain_found;
    return out;
  }
  r.signer = cert_info(signer);
  r.role = certstore::hc_role(signer).value_or(std::nullopt);
  r.non_repudiation = certstore::has_non_repudiation(signer);
  r.policies = certstore::policy_oids(signer);
  r.claimed_signing_time = options.validation_time;
  if (const json::Value* sig = bundle.find("signature")) {
    if (const json::Value* who = sig->find("who")) {
      if (const std::string* ref = who->find_string("reference")) {
        r.who = *ref;
      }
    }
  }
  const std::string alg = EVP_PKEY_get_base_id(X509_get0_pubkey(signer)) == EVP_PKEY_EC ? "ES256" : "RS256";
  if (certificate_stages(bundle, signer, chain, alg, false, options, r)) {
    out.ok = true;
    out.indication = Indication::total_passed;
    out.message = "the signer may sign this document";
    return out;
  }
  out.indication = r.indication;
  out.sub_indication = r.sub_indication;
  for (auto it = r.checks.rbegin(); it != r.checks.rend(); ++it) {
    if (it->result != BlockIndication::passed) {
      out.rule = it->name;
      break;
    }
  }
  if (out.rule.empty()) {
    out.rule = "certificate";
  }
  std::string why = r.errors.empty() ? std::string(sub_indication_name(r.sub_indication)) : r.errors.back();
  out.message = "signing refused by rule " + out.rule + ": " + why;
  return out;
}

}  // namespace hanko::verifier

namespace hanko::verifier {

Result<ValidationReport> verify_xml_bundle_text(std::string_view xml, const VerifyOptions& opts) {
  if (opts.signature_trust == nullptr) {
    return fail(Errc::invalid_argument, "verification needs trust anchors");
  }
  auto core = signer::verify_xades_core(xml);
  if (!core) {
    return std::unexpected(core.error());
  }
  ValidationReport report;
  report.validation_time = opts.validation_time;
  if (const json::Value* id = core->policy_view.find("identifier")) {
    if (const std::string* v = id->find_string("value")) {
      report.document_identifier = *v;
    }
  }
  report.document_sha256 = core->document_sha256_hex;
  SignatureReport r;
  r.id = "signature-1";
  r.format = core->level == signer::Level::B_B ? "XAdES-BASELINE-B" : "XAdES-BASELINE-T";
  r.target_format = std::string(signer::kXmlTargetFormat);
  r.signature_type = core->commitment_type;
  r.algorithm = core->alg ? std::string(signer::jws_alg_name(*core->alg)) : std::string();
  r.claimed_signing_time = core->signing_time;
  if (const json::Value* sig = core->policy_view.find("signature")) {
    if (const json::Value* who = sig->find("who")) {
      if (const std::string* ref = who->find_string("reference")) {
        r.who = *ref;
      } else if (const std::string* d = who->find_string("display")) {
        r.who = *d;
      }
    }
  }
  auto finish = [&]() {
    report.indication = r.indication;
    report.sub_indication = r.sub_indication;
    report.signatures.push_back(std::move(r));
    return report;
  };
  if (core->signer_cert) {
    const X509* leaf = core->signer_cert.get();
    r.signer = cert_info(leaf);
    r.non_repudiation = certstore::has_non_repudiation(leaf);
    r.policies = certstore::policy_oids(leaf);
    if (auto role = certstore::hc_role(leaf); role) {
      r.role = *role;
    } else {
      r.warnings.push_back("the hcRole extension is malformed: " + role.error().message);
    }
  }
  switch (core->status) {
    case signer::XadesStatus::ok: break;
    case signer::XadesStatus::format_failure:
      conclude(r, Indication::total_failed, SubIndication::format_failure, core->message);
      return finish();
    case signer::XadesStatus::hash_failure:
      add_check(r, "signature-value", BlockIndication::failed, core->message);
      conclude(r, Indication::total_failed, SubIndication::hash_failure,
               core->message + " (the document or the signed properties were changed after signing)");
      return finish();
    case signer::XadesStatus::sig_crypto_failure:
      add_check(r, "signature-value", BlockIndication::failed, core->message);
      conclude(r, Indication::total_failed, SubIndication::sig_crypto_failure, core->message);
      return finish();
    case signer::XadesStatus::no_signing_certificate_found:
      conclude(r, Indication::indeterminate, SubIndication::no_signing_certificate_found, core->message);
      return finish();
  }
  add_check(r, "signing-certificate-reference", BlockIndication::passed,
            "SigningCertificateV2 matches the signer certificate");
  add_check(r, "signature-value", BlockIndication::passed,
            r.algorithm + " signature verifies over SignedInfo; the references match the FHIR XML #document and "
                          "the SignedProperties");
  // FHIR R4: the CommitmentTypeIndication SHALL equal Signature.type.
  if (std::find(core->fhir_signature_types.begin(), core->fhir_signature_types.end(), core->commitment_type) ==
      core->fhir_signature_types.end()) {
    conclude(r, Indication::total_failed, SubIndication::format_failure,
             "the CommitmentTypeIndication " + core->commitment_type + " is not one of the Bundle.signature.type codes");
    return finish();
  }
  // Timestamps and validation data (B-T, B-LT, B-LTA). The #document bytes are
  // needed only for archive timestamps: read once without them, again with them.
  auto lt = signer::read_xades_long_term(core->signature_xml, {});
  if (lt && std::any_of(lt->timestamps.begin(), lt->timestamps.end(), [](const signer::EmbeddedTimestamp& t) {
        return t.kind == signer::EmbeddedTimestamp::Kind::archive;
      })) {
    auto doc = signer::xml::Document::parse(xml);
    auto bytes = doc ? signer::xml::fhir_xml_document(*doc) : Result<std::string>(std::unexpected(doc.error()));
    if (!bytes) {
      conclude(r, Indication::indeterminate, SubIndication::signed_data_not_found,
               "the signed document cannot be canonicalized: " + bytes.error().message);
      return finish();
    }
    lt = signer::read_xades_long_term(core->signature_xml, *bytes);
  }
  if (!lt) {
    conclude(r, Indication::total_failed, SubIndication::format_failure, lt.error().message);
    return finish();
  }
  for (const auto& ignored : lt->ignored) {
    r.warnings.push_back("an unsigned property hanko does not process was ignored: " + ignored);
  }
  r.format = "XAdES-BASELINE-" + level_suffix(lt->level);
  const certstore::TrustStore& tsa_trust = opts.tsa_trust != nullptr ? *opts.tsa_trust : *opts.signature_trust;
  Embedded embedded = make_embedded(*lt, opts);
  if (!timestamp_stage(*lt, embedded, tsa_trust, opts, r)) {
    return finish();
  }
  std::vector<const X509*> untrusted;
  for (const auto& c : core->chain) {
    untrusted.push_back(c.get());
  }
  if (!certificate_stages(core->policy_view, core->signer_cert.get(), untrusted, r.algorithm, !lt->timestamps.empty(),
                          opts, r, &embedded)) {
    return finish();
  }
  conclude(r, Indication::total_passed, SubIndication::none);
  return finish();
}

}  // namespace hanko::verifier
