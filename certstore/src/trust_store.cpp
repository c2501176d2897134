#include "hanko/certstore/trust_store.h"

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <system_error>

#include "hanko/common/file.h"

namespace hanko::certstore {

namespace fs = std::filesystem;

namespace {

using ExtKeyUsagePtr = ossl::Ptr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;

constexpr std::size_t kMaxTrustFile = 16u << 20;

std::string subject_of(const X509* cert) {
  if (cert == nullptr) {
    return "(unknown certificate)";
  }
  return ossl::name_to_string(X509_get_subject_name(cert));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/** Every CRL in a PEM file, or the one DER CRL of a file. */
Result<std::vector<ossl::X509CrlPtr>> load_crls(const fs::path& path) {
  auto text = read_file(path.string(), kMaxTrustFile);
  if (!text) {
    return std::unexpected(text.error());
  }
  std::vector<ossl::X509CrlPtr> out;
  if (text->find("-----BEGIN X509 CRL-----") != std::string::npos) {
    ossl::BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    if (!bio) {
      return std::unexpected(openssl_error(Errc::crypto, "BIO_new_mem_buf"));
    }
    while (true) {
      ossl::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
      if (!crl) {
        break;
      }
      out.push_back(std::move(crl));
    }
    clear_openssl_errors();  // the loop ends on "no start line"
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(text->data());
    ossl::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(text->size())));
    if (crl && p == reinterpret_cast<const unsigned char*>(text->data()) + text->size()) {
      out.push_back(std::move(crl));
    }
    clear_openssl_errors();
  }
  if (out.empty()) {
    return fail(Errc::invalid_argument, "no CRL could be read from " + path.string());
  }
  return out;
}

ChainStatus map_error(int err) {
  switch (err) {
    case X509_V_OK:
      return ChainStatus::ok;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return ChainStatus::expired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return ChainStatus::not_yet_valid;
    case X509_V_ERR_CERT_REVOKED:
      return ChainStatus::revoked;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      return ChainStatus::no_chain_found;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return ChainStatus::signature_failure;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
    case X509_V_ERR_INVALID_NON_CA:
    case X509_V_ERR_INVALID_EXTENSION:
    case X509_V_ERR_INVALID_POLICY_EXTENSION:
    case X509_V_ERR_NO_EXPLICIT_POLICY:
    case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
    case X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED:
    case X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
      return ChainStatus::constraints_failure;
    default:
      return ChainStatus::general_failure;
  }
}

/** What the verify callback learns; attached to the X509_STORE_CTX as its app data. */
struct VerifyState {
  time_t at = 0;
  int later_revocation_depth = -1;
  std::optional<TimePoint> later_revocation_time;
  std::optional<TimePoint> revocation_time;  ///< of the certificate reported revoked
  const std::vector<ossl::X509CrlPtr>* crls = nullptr;
};

/**
 * The revocationDate of the current certificate: from the CRL OpenSSL is
 * looking at when it exposes it, else from the loaded CRLs of the same issuer
 * that list the certificate (the earliest date wins).
 */
std::optional<TimePoint> current_revocation_date(X509_STORE_CTX* ctx, const VerifyState& state) {
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  if (cert == nullptr) {
    return std::nullopt;
  }
  auto date_in = [&](X509_CRL* crl) -> std::optional<TimePoint> {
    X509_REVOKED* rev = nullptr;
    if (X509_CRL_get0_by_cert(crl, &rev, cert) == 0 || rev == nullptr) {
      return std::nullopt;
    }
    return ossl::asn1_time_to_timepoint(X509_REVOKED_get0_revocationDate(rev));
  };
  if (X509_CRL* crl = X509_STORE_CTX_get0_current_crl(ctx)) {
    if (auto d = date_in(crl)) {
      return d;
    }
  }
  std::optional<TimePoint> earliest;
  if (state.crls != nullptr) {
    for (const auto& crl : *state.crls) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_issuer_name(cert)) != 0) {
        continue;
      }
      auto d = date_in(crl.get());
      if (d && (!earliest || *d < *earliest)) {
        earliest = d;
      }
    }
  }
  return earliest;
}

/**
 * OpenSSL verify callback. Tolerates: no CRL for an issuer (this store checks
 * revocation only where it holds a CRL) and CRL thisUpdate/nextUpdate
 * outside the validation time; a revocation dated after the validation time.
 */
int verify_callback(int ok, X509_STORE_CTX* ctx) noexcept {
  if (ok == 1) {
    return 1;
  }
  auto* state = static_cast<VerifyState*>(X509_STORE_CTX_get_app_data(ctx));
  const int err = X509_STORE_CTX_get_error(ctx);
  switch (err) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return 1;
    case X509_V_ERR_CERT_REVOKED: {
      if (state == nullptr) {
        return 0;
      }
      try {
        auto when = current_revocation_date(ctx, *state);
        if (when && to_unix(*when) > static_cast<std::int64_t>(state->at)) {
          if (state->later_revocation_depth < 0) {
            state->later_revocation_depth = X509_STORE_CTX_get_error_depth(ctx);
            state->later_revocation_time = when;
          }
          return 1;
        }
        state->revocation_time = when;
      } catch (...) {
        return 0;
      }
      return 0;
    }
    default:
      return 0;
  }
}

bool is_self_signed(X509* cert) { return X509_self_signed(cert, 0) == 1; }

/** RFC 5280 section 4.2.1.12: "If the extension is present, then the certificate MUST only be used for one of the purposes indicated." */
bool eku_limited_to_tsa_or_ocsp(const X509* leaf) {
  int crit = 0;
  ExtKeyUsagePtr eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(leaf, NID_ext_key_usage, &crit, nullptr)));
  clear_openssl_errors();
  if (!eku || sk_ASN1_OBJECT_num(eku.get()) == 0) {
    return false;
  }
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i));
    if (nid != NID_time_stamp && nid != NID_OCSP_sign) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view chain_status_name(ChainStatus s) {
  switch (s) {
    case ChainStatus::ok:
      return "ok";
    case ChainStatus::no_chain_found:
      return "no_chain_found";
    case ChainStatus::expired:
      return "expired";
    case ChainStatus::not_yet_valid:
      return "not_yet_valid";
    case ChainStatus::revoked:
      return "revoked";
    case ChainStatus::signature_failure:
      return "signature_failure";
    case ChainStatus::constraints_failure:
      return "constraints_failure";
    case ChainStatus::general_failure:
      return "general_failure";
  }
  return "general_failure";
}

struct TrustStore::Impl {
  ossl::X509StorePtr store{X509_STORE_new()};
  std::vector<ossl::X509Ptr> anchors;
  std::vector<ossl::X509Ptr> intermediates;
  std::vector<ossl::X509CrlPtr> crls;
};

TrustStore::TrustStore() : m_impl(std::make_unique<Impl>()) {
  if (!m_impl->store) {
    throw std::bad_alloc();
  }
}
TrustStore::~TrustStore() = default;
TrustStore::TrustStore(TrustStore&&) noexcept = default;
TrustStore& TrustStore::operator=(TrustStore&&) noexcept = default;

void TrustStore::add_anchor(ossl::X509Ptr cert) {
  if (!cert) {
    return;
  }
  X509_STORE_add_cert(m_impl->store.get(), cert.get());  // takes its own reference; a duplicate is ignored
  clear_openssl_errors();
  m_impl->anchors.push_back(std::move(cert));
}

void TrustStore::add_intermediate(ossl::X509Ptr cert) {
  if (cert) {
    m_impl->intermediates.push_back(std::move(cert));
  }
}

void TrustStore::add_crl(ossl::X509CrlPtr crl) {
  if (!crl) {
    return;
  }
  X509_STORE_add_crl(m_impl->store.get(), crl.get());
  clear_openssl_errors();
  m_impl->crls.push_back(std::move(crl));
}

std::size_t TrustStore::anchor_count() const { return m_impl->anchors.size(); }

const std::vector<ossl::X509Ptr>& TrustStore::intermediates() const { return m_impl->intermediates; }
const std::vector<ossl::X509CrlPtr>& TrustStore::crls() const { return m_impl->crls; }
const std::vector<ossl::X509Ptr>& TrustStore::anchors() const { return m_impl->anchors; }

Result<TrustStore> TrustStore::load_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail(Errc::io, "trust folder " + dir.string() + " does not exist or is not a folder");
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      files.push_back(it->path());
    }
  }
  if (ec) {
    return fail(Errc::io, "cannot list trust folder " + dir.string() + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());  // deterministic order
  TrustStore ts;
  for (const auto& f : files) {
    const std::string name = lower(f.filename().string());
    if (ends_with(name, ".crl") || ends_with(name, ".crl.pem")) {
      auto crls = load_crls(f);
      if (!crls) {
        return fail(crls.error().code, "trust folder: " + crls.error().message);
      }
      for (auto& c : *crls) {
        ts.add_crl(std::move(c));
      }
    } else if (ends_with(name, ".pem") || ends_with(name, ".crt") || ends_with(name, ".cer") || ends_with(name, ".der")) {
      auto certs = ossl::load_certificates(f.string());
      if (!certs) {
        return fail(certs.error().code, "trust folder: " + certs.error().message);
      }
      if (certs->empty()) {
        return fail(Errc::invalid_argument, "trust folder: no certificate in " + f.string());
      }
      for (auto& c : *certs) {
        if (is_self_signed(c.get())) {
          ts.add_anchor(std::move(c));
        } else {
          ts.add_intermediate(std::move(c));
        }
      }
    }
  }
  if (ts.anchor_count() == 0) {
    return fail(Errc::invalid_argument, "trust folder " + dir.string() + " holds no self-signed (anchor) certificate");
  }
  return ts;
}

ChainResult TrustStore::verify(const X509* leaf, const std::vector<const X509*>& untrusted, TimePoint at, Purpose purpose) const {
  ChainResult result;
  if (leaf == nullptr) {
    result.message = "no certificate to verify";
    return result;
  }
  ossl::X509StackPtr extra(sk_X509_new_null());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!extra || !ctx) {
    result.message = "out of memory";
    return result;
  }
  auto push = [&](const X509* c) {
    if (c == nullptr) {
      return true;
    }
    ossl::X509Ptr ref = ossl::up_ref(const_cast<X509*>(c));
    if (sk_X509_push(extra.get(), ref.get()) <= 0) {
      return false;
    }
    ref.release();  // now owned by the stack
    return true;
  };
  for (const X509* c : untrusted) {
    if (!push(c)) {
      result.message = "out of memory";
      return result;
    }
  }
  for (const auto& c : m_impl->intermediates) {
    if (!push(c.get())) {
      result.message = "out of memory";
      return result;
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), m_impl->store.get(), const_cast<X509*>(leaf), extra.get()) != 1) {
    result.message = openssl_error(Errc::crypto, "X509_STORE_CTX_init").message;
    return result;
  }
  VerifyState state;
  state.at = static_cast<time_t>(to_unix(at));
  state.crls = &m_impl->crls;
  X509_STORE_CTX_set_app_data(ctx.get(), &state);
  X509_STORE_CTX_set_verify_cb(ctx.get(), verify_callback);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, state.at);  // also sets X509_V_FLAG_USE_CHECK_TIME
  if (!m_impl->crls.empty()) {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  if (purpose == Purpose::timestamping) {
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_TIMESTAMP_SIGN);
  }

  const int rc = X509_verify_cert(ctx.get());
  const int err = X509_STORE_CTX_get_error(ctx.get());
  if (STACK_OF(X509)* built = X509_STORE_CTX_get0_chain(ctx.get())) {
    for (int i = 0; i < sk_X509_num(built); ++i) {
      result.chain.push_back(ossl::up_ref(sk_X509_value(built, i)));
    }
  }
  if (rc != 1) {
    result.status = map_error(err == X509_V_OK ? X509_V_ERR_UNSPECIFIED : err);
    result.depth = X509_STORE_CTX_get_error_depth(ctx.get());
    const X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
    if (bad == nullptr && result.depth >= 0 && static_cast<std::size_t>(result.depth) < result.chain.size()) {
      bad = result.chain[static_cast<std::size_t>(result.depth)].get();
    }
    if (bad == nullptr) {
      bad = leaf;
    }
    result.message = std::string(X509_verify_cert_error_string(err)) + ": " + subject_of(bad);
    if (result.status == ChainStatus::revoked) {
      result.revocation_time = state.revocation_time;
      if (state.revocation_time) {
        result.message += " (revoked at " + format_rfc3339(*state.revocation_time) + ")";
      }
    }
    if (result.status == ChainStatus::expired || result.status == ChainStatus::not_yet_valid) {
      auto nb = ossl::asn1_time_to_timepoint(X509_get0_notBefore(bad));
      auto na = ossl::asn1_time_to_timepoint(X509_get0_notAfter(bad));
      if (nb && na) {
        result.message += " (valid " + format_rfc3339(*nb) + " to " + format_rfc3339(*na) + ", checked at " + format_rfc3339(at) + ")";
      }
    }
    clear_openssl_errors();
    return result;
  }
  clear_openssl_errors();

  if (purpose == Purpose::signature) {
    X509* l = const_cast<X509*>(leaf);
    if ((X509_get_extension_flags(l) & EXFLAG_KUSAGE) != 0 &&
        (X509_get_key_usage(l) & (KU_NON_REPUDIATION | KU_DIGITAL_SIGNATURE)) == 0) {
      result.status = ChainStatus::constraints_failure;
      result.depth = 0;
      result.message = "keyUsage allows neither nonRepudiation nor digitalSignature: " + subject_of(leaf);
      return result;
    }
    if (eku_limited_to_tsa_or_ocsp(leaf)) {
      result.status = ChainStatus::constraints_failure;
      result.depth = 0;
      result.message = "extendedKeyUsage limits the certificate to time-stamping/OCSP signing: " + subject_of(leaf);
      return result;
    }
  }

  result.status = ChainStatus::ok;
  result.depth = -1;
  result.message = "chain ok: " + subject_of(leaf);
  if (state.later_revocation_time) {
    result.depth = state.later_revocation_depth;
    result.revocation_time = state.later_revocation_time;
    const std::size_t d = static_cast<std::size_t>(std::max(0, state.later_revocation_depth));
    const X509* rc_cert = d < result.chain.size() ? result.chain[d].get() : leaf;
    result.message += "; note: " + subject_of(rc_cert) + " was revoked later, at " + format_rfc3339(*state.later_revocation_time);
  }
  return result;
}

}  // namespace hanko::certstore
