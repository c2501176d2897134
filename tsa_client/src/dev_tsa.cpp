#include "hanko/tsa_client/dev_tsa.h"

#include <openssl/rand.h>

#include "der_util.h"
#include "token_internal.h"

namespace hanko::tsa {
namespace {

/**
 * A TimeStampResp with status rejection, encoded by hand: OpenSSL has no
 * public setters for PKIStatusInfo's statusString and failInfo.
 *   TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }
 *   PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
 *                                failInfo PKIFailureInfo OPTIONAL }
 */
Bytes rejection(unsigned fail_bit, std::string_view text) {
  const Bytes status = der::small_integer(TS_STATUS_REJECTION);
  const Bytes free_text = der::tlv(0x30, der::tlv(0x0c, as_bytes(text)));  // SEQUENCE OF UTF8String
  const Bytes fail_info = der::single_bit(fail_bit);
  const Bytes status_info = der::tlv(0x30, der::concat({status, free_text, fail_info}));
  return der::tlv(0x30, status_info);
}

}  // namespace

/** What the OpenSSL callbacks need; lives on the stack of respond(). */
struct DevTsa::CallbackData {
  std::atomic<std::uint64_t>* counter;
  const Clock* clock;
};

Result<std::unique_ptr<DevTsa>> DevTsa::load(const std::string& cert_pem, const std::string& key_pem,
                                             const std::string& chain_pem, const Clock& clock,
                                             DevTsaOptions options) {
  auto certs = ossl::load_certificates(cert_pem);
  if (!certs) {
    return std::unexpected(certs.error());
  }
  if (certs->size() != 1) {
    return fail(Errc::invalid_argument, cert_pem + " must hold exactly one certificate (the TSA's)");
  }
  auto key = ossl::load_private_key(key_pem);
  if (!key) {
    return std::unexpected(key.error());
  }
  std::vector<ossl::X509Ptr> chain;
  if (!chain_pem.empty()) {
    auto c = ossl::load_certificates(chain_pem);
    if (!c) {
      return std::unexpected(c.error());
    }
    chain = std::move(*c);
  }
  auto tsa = std::make_unique<DevTsa>(std::move(certs->front()), std::move(*key), std::move(chain), clock,
                                      std::move(options));
  if (auto r = tsa->check(); !r) {
    return std::unexpected(r.error());
  }
  return tsa;
}

DevTsa::DevTsa(ossl::X509Ptr cert, ossl::EvpPkeyPtr key, std::vector<ossl::X509Ptr> chain, const Clock& clock,
               DevTsaOptions options)
    : m_cert(std::move(cert)), m_key(std::move(key)), m_clock(clock), m_options(std::move(options)) {
  // The signer goes into every token anyway (certReq); keep only the others.
  for (auto& c : chain) {
    if (c && (!m_cert || X509_cmp(c.get(), m_cert.get()) != 0)) {
      m_chain.push_back(std::move(c));
    }
  }
}

Result<void> DevTsa::check() const {
  if (!m_cert || !m_key) {
    return fail(Errc::invalid_argument, "development TSA needs a certificate and a key");
  }
  if (auto r = detail::check_tsa_certificate(m_cert.get()); !r) {
    return fail(Errc::invalid_argument, r.error().message);
  }
  if (X509_check_private_key(m_cert.get(), m_key.get()) != 1) {
    return std::unexpected(openssl_error(Errc::invalid_argument, "TSA key does not match the TSA certificate"));
  }
  CallbackData cb{&m_counter, &m_clock};
  auto ctx = make_context(cb);
  if (!ctx) {
    return std::unexpected(ctx.error());
  }
  return {};
}

Result<ossl::TsRespCtxPtr> DevTsa::make_context(CallbackData& cb) const {
  // Serial numbers: 64 random bits followed by a 64-bit counter, so unique within the
  // process and across restarts with overwhelming probability; 127 bits < RFC 3161's 160.
  auto serial_cb = [](TS_RESP_CTX*, void* data) noexcept -> ASN1_INTEGER* {
    try {
      auto* d = static_cast<CallbackData*>(data);
      std::uint8_t b[16];
      if (RAND_bytes(b, 8) != 1) {
        return nullptr;
      }
      b[0] = static_cast<std::uint8_t>((b[0] & 0x7f) | 0x40);  // positive, never short
      const std::uint64_t n = d->counter->fetch_add(1) + 1;
      for (int i = 0; i < 8; ++i) {
        b[8 + i] = static_cast<std::uint8_t>(n >> (56 - 8 * i));
      }
      ossl::BignumPtr bn(BN_bin2bn(b, sizeof b, nullptr));
      return bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr;  // OpenSSL takes ownership
    } catch (...) {
      return nullptr;
    }
  };
  // genTime from the injected clock; returning 0 makes OpenSSL answer timeNotAvailable.
  auto time_cb = [](TS_RESP_CTX*, void* data, long* sec, long* usec) noexcept -> int {
    try {
      auto* d = static_cast<CallbackData*>(data);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d->clock->now().time_since_epoch()).count();
      if (us < 0) {
        return 0;
      }
      *sec = static_cast<long>(us / 1'000'000);
      *usec = static_cast<long>(us % 1'000'000);
      return 1;
    } catch (...) {
      return 0;
    }
  };

  ossl::TsRespCtxPtr ctx(TS_RESP_CTX_new_ex(nullptr, nullptr));
  if (!ctx) {
    return std::unexpected(openssl_error(Errc::internal, "TS_RESP_CTX_new_ex failed"));
  }
  // TS_RESP_CTX_set_signer_cert applies OpenSSL's timestamp-signing purpose (EKU timeStamping only, critical).
  if (TS_RESP_CTX_set_signer_cert(ctx.get(), m_cert.get()) != 1) {
    return std::unexpected(openssl_error(Errc::invalid_argument, "TSA certificate not usable for timestamping"));
  }
  ossl::Asn1ObjectPtr policy(OBJ_txt2obj(m_options.policy_oid.c_str(), 1));
  if (!policy) {
    return std::unexpected(openssl_error(Errc::invalid_argument, "TSA policy '" + m_options.policy_oid + "' is not an OID"));
  }
  if (TS_RESP_CTX_set_signer_key(ctx.get(), m_key.get()) != 1 ||
      TS_RESP_CTX_set_signer_digest(ctx.get(), detail::evp_md(m_options.signing_digest)) != 1 ||
      // RFC 5816: SigningCertificateV2 with ESSCertIDv2 over SHA-256.
      TS_RESP_CTX_set_ess_cert_id_digest(ctx.get(), EVP_sha256()) != 1 ||
      TS_RESP_CTX_set_def_policy(ctx.get(), policy.get()) != 1 ||
      TS_RESP_CTX_add_md(ctx.get(), EVP_sha256()) != 1 || TS_RESP_CTX_add_md(ctx.get(), EVP_sha384()) != 1 ||
      TS_RESP_CTX_add_md(ctx.get(), EVP_sha512()) != 1 ||
      TS_RESP_CTX_set_accuracy(ctx.get(), static_cast<int>(m_options.accuracy.count()), 0, 0) != 1 ||
      TS_RESP_CTX_set_clock_precision_digits(ctx.get(), 0) != 1) {
    return std::unexpected(openssl_error(Errc::internal, "cannot configure TS_RESP_CTX"));
  }
  if (!m_chain.empty()) {
    ossl::X509StackPtr sk(sk_X509_new_null());
    if (!sk) {
      return fail(Errc::internal, "out of memory");
    }
    for (const auto& c : m_chain) {
      ossl::X509Ptr ref = ossl::up_ref(c.get());
      if (sk_X509_push(sk.get(), ref.get()) <= 0) {
        return fail(Errc::internal, "out of memory");
      }
      (void)ref.release();
    }
    if (TS_RESP_CTX_set_certs(ctx.get(), sk.get()) != 1) {  // takes its own references
      return std::unexpected(openssl_error(Errc::internal, "TS_RESP_CTX_set_certs failed"));
    }
  }
  // No TS_ORDERING, no TS_TSA_NAME, no TS_ESS_CERT_ID_CHAIN.
  TS_RESP_CTX_set_serial_cb(ctx.get(), serial_cb, &cb);
  TS_RESP_CTX_set_time_cb(ctx.get(), time_cb, &cb);
  return ctx;
}

Bytes DevTsa::respond(ByteView request_der) {
  if (request_der.size() > max_request_bytes) {
    return rejection(TS_INFO_BAD_DATA_FORMAT, "Request too large.");
  }
  // TS_RESP_create_response would ignore trailing bytes: insist on exactly one DER TimeStampReq.
  if (!detail::d2i_full<TS_REQ, d2i_TS_REQ, TS_REQ_free>(request_der)) {
    return rejection(TS_INFO_BAD_DATA_FORMAT, "Bad request format.");
  }
  CallbackData cb{&m_counter, &m_clock};
  auto ctx = make_context(cb);
  if (!ctx) {
    clear_openssl_errors();
    return rejection(TS_INFO_SYSTEM_FAILURE, "TSA not available.");
  }
  ossl::BioPtr in(BIO_new_mem_buf(request_der.data(), static_cast<int>(request_der.size())));
  ossl::TsRespPtr resp(in ? TS_RESP_create_response(ctx->get(), in.get()) : nullptr);
  Bytes out = resp ? ossl::to_der<i2d_TS_RESP>(resp.get()) : Bytes{};
  clear_openssl_errors();
  if (out.empty()) {
    return rejection(TS_INFO_SYSTEM_FAILURE, "Internal error.");
  }
  return out;
}

InProcessTsa::InProcessTsa(DevTsa& tsa, std::optional<std::string> policy_oid)
    : m_tsa(tsa), m_policy(std::move(policy_oid)) {}

Result<Bytes> InProcessTsa::timestamp(ByteView data, DigestAlg alg) {
  return request_timestamp([this](ByteView req) -> Result<Bytes> { return m_tsa.respond(req); }, data, alg,
                           m_policy);
}

}  // namespace hanko::tsa
