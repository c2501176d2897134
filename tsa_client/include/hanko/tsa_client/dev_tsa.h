#pragma once
/**
 * @file dev_tsa.h
 * A development RFC 3161 Time-Stamp Authority, for tests, demos and offline
 * use. Not a production TSA: its key sits in a file and its time comes from
 * the injected Clock.
 */
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"
#include "hanko/common/ossl.h"
#include "hanko/tsa_client/timestamp_source.h"

namespace hanko::tsa {

/** Settings of a DevTsa. */
struct DevTsaOptions {
  /** TSTInfo.policy when the request names none (the request's reqPolicy must equal it otherwise). */
  std::string policy_oid = "2.999.3161.1";
  /** TSTInfo.accuracy (seconds). */
  std::chrono::seconds accuracy{1};
  /** Digest of the CMS signature. */
  DigestAlg signing_digest = DigestAlg::sha256;
};

/**
 * A development RFC 3161 TSA on OpenSSL's TS_RESP_CTX (TS_RESP_CTX_new_ex):
 * nonce echoed, ESSCertIDv2 (TS_RESP_CTX_set_ess_cert_id_digest sha256),
 * TS_ORDERING off, accuracy set, unique serial numbers (counter + random,
 * thread-safe, via TS_RESP_CTX_set_serial_cb), genTime from the injected
 * Clock via TS_RESP_CTX_set_time_cb (callbacks noexcept with try/catch).
 * Accepts sha256/384/512 imprints. Malformed requests get a TimeStampResp
 * with status rejection (PKIFailureInfo badDataFormat), never a crash.
 * Thread-safe: a TS_RESP_CTX is built per call.
 *
 * The TSA certificate must satisfy RFC 3161 2.3 (id-kp-timeStamping only,
 * critical); OpenSSL refuses any other signer.
 */
class DevTsa {
 public:
  /** Largest TimeStampReq accepted (larger ones get a badDataFormat rejection). */
  static constexpr std::size_t max_request_bytes = 64u << 10;

  /**
   * Loads the TSA from PEM files.
   * @param cert_pem path of the TSA certificate (PEM or DER)
   * @param key_pem path of its unencrypted PEM private key
   * @param chain_pem path of the intermediate certificates to put in tokens (may be empty: none)
   * @param clock the TSA's time source; must outlive the DevTsa
   */
  static Result<std::unique_ptr<DevTsa>> load(const std::string& cert_pem, const std::string& key_pem,
                                              const std::string& chain_pem, const Clock& clock,
                                              DevTsaOptions options = {});

  /**
   * Takes the certificate, key and chain as they are; load() also runs check().
   * A TSA that cannot sign answers every request with a systemFailure rejection.
   */
  DevTsa(ossl::X509Ptr cert, ossl::EvpPkeyPtr key, std::vector<ossl::X509Ptr> chain, const Clock& clock,
         DevTsaOptions options = {});

  /**
   * Answers one DER TimeStampReq with a DER TimeStampResp. Never fails: a
   * bad request or an internal error is a TimeStampResp with status
   * rejection (2) and a PKIFailureInfo (badDataFormat, badAlg,
   * unacceptedPolicy, unacceptedExtension, systemFailure).
   */
  Bytes respond(ByteView request_der);

  /** Checks that the TSA can sign (the certificate purpose, key match, policy OID). */
  Result<void> check() const;

  const X509* certificate() const { return m_cert.get(); }

 private:
  struct CallbackData;
  Result<ossl::TsRespCtxPtr> make_context(CallbackData& cb) const;

  ossl::X509Ptr m_cert;
  ossl::EvpPkeyPtr m_key;
  std::vector<ossl::X509Ptr> m_chain;
  const Clock& m_clock;
  DevTsaOptions m_options;
  mutable std::atomic<std::uint64_t> m_counter{0};
};

/**
 * The TimestampSource for a DevTsa in the same process (no HTTP): same
 * request/response path and same checks as HttpTsaClient.
 */
class InProcessTsa final : public TimestampSource {
 public:
  explicit InProcessTsa(DevTsa& tsa, std::optional<std::string> policy_oid = std::nullopt);
  Result<Bytes> timestamp(ByteView data, DigestAlg alg = DigestAlg::sha256) override;
  std::string describe() const override { return "in-process development TSA"; }

 private:
  DevTsa& m_tsa;
  std::optional<std::string> m_policy;
};

}  // namespace hanko::tsa
