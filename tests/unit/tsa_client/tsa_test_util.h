#pragma once
/**
 * Helpers for the tsa_client tests: the dev PKI's TSA, hand-made certificates,
 * hand-signed tokens (to build the cases a correct TSA never produces), raw
 * TimeStampReq/Resp handling, and a small real HTTP server with a
 * caller-supplied handler.
 */
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hanko/certstore/trust_store.h"
#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/ossl.h"
#include "hanko/tsa_client/dev_tsa.h"

namespace hanko::tsa::testutil {

/** The dev PKI's TSA with a FixedClock at test::sign_time(). */
struct DevTsaFixture {
  FixedClock clock;
  std::unique_ptr<DevTsa> tsa;
  DevTsaFixture();
};

/** The trust store of the dev PKI (its trust_dir). */
const certstore::TrustStore& dev_trust();

/** A key and certificate made by the tests. */
struct TestCert {
  ossl::X509Ptr cert;
  ossl::EvpPkeyPtr key;
};

/**
 * A self-signed EC P-256 TSA certificate: EKU timeStamping (critical or not),
 * keyUsage digitalSignature, valid pki_time()-1d .. +10y. With `reuse_key_of`
 * the key of that certificate is reused; `serial` sets the serial number.
 */
TestCert make_tsa_cert(const std::string& cn, bool eku_critical, const TestCert* reuse_key_of = nullptr,
                       long serial = 1, int extra_days = 0);

/** A CA certificate (self-signed EC P-256, CA:TRUE) for TLS tests. */
TestCert make_tls_ca(const std::string& cn);
/**
 * A TLS certificate issued by `ca`: a server certificate (SAN IP:127.0.0.1 and
 * DNS:localhost, EKU serverAuth) or a client certificate (EKU clientAuth).
 * TLS peers check validity against the host clock, so these certificates are
 * valid from one day before the host's now to one year after it.
 */
TestCert issue_tls_cert(const TestCert& ca, const std::string& cn, bool server);
/** Writes the certificate (PEM) to `path`; returns the path as a string. */
std::string write_cert_pem(const std::filesystem::path& path, const X509* cert);
/** Writes the private key (unencrypted PEM) to `path`; returns the path as a string. */
std::string write_key_pem(const std::filesystem::path& path, const EVP_PKEY* key);

/** The TSTInfo DER inside a token. */
Bytes tst_info_of(ByteView token);
/** A TSTInfo with its messageImprint algorithm replaced (hashedMessage kept). */
Bytes with_imprint_alg(ByteView tst_info, int nid);

/**
 * Signs `tst_info` as a TimeStampToken with `signer`; the SigningCertificateV2
 * names `ess_cert` first, then `ess_more` (no attribute if ess_cert is
 * nullptr); `extra` certificates are added to the token's certificate set.
 */
Bytes forge_token(ByteView tst_info, const TestCert& signer, const X509* ess_cert,
                  const std::vector<const X509*>& extra = {}, const std::vector<const X509*>& ess_more = {});

/** SEQUENCE { SEQUENCE { INTEGER 0 }, token } */
Bytes wrap_granted(ByteView token);
/** The token inside a granted DER TimeStampResp. */
Bytes token_of_response(ByteView resp);
/** PKIStatus of a DER TimeStampResp, -1 when it does not parse. */
long response_status(ByteView resp);
/** Whether failInfo bit `bit` is set. */
bool response_fail_bit(ByteView resp, int bit);

/** A DER TimeStampReq built by hand. */
Bytes make_request(ByteView data, DigestAlg alg, std::uint64_t nonce, bool cert_req,
                   const std::optional<std::string>& policy = std::nullopt);
/** Decodes a TimeStampReq, lets `edit` change it, re-encodes it. */
Bytes rewrite_request(ByteView req, const std::function<void(TS_REQ*)>& edit);

/** A real HTTP server on 127.0.0.1:0 whose every request goes to `handler`. */
class LambdaServer {
 public:
  using Handler = std::function<void(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&)>;
  explicit LambdaServer(Handler handler);
  ~LambdaServer();
  std::string url(const std::string& path = "/") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/** A port on 127.0.0.1 on which nothing listens (bound, then closed). */
std::uint16_t closed_port();

}  // namespace hanko::tsa::testutil
