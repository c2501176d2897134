#pragma once
/**
 * @file dev_revocation_server.h
 * A development CRL and OCSP responder speaking real HTTP on loopback, for
 * demos and tests of the revocation checker (revocation.h), with fault
 * injection.
 *
 * WARNING: DEVELOPMENT ONLY. It signs whatever its registered CAs say with
 * keys held in memory, answers anyone, and takes its time from the injected
 * Clock. Trust assumptions: none of its answers should be trusted by anything
 * but tests and demos; requests are untrusted input (bounded: bodies over
 * max_request_bytes get 413, malformed OCSP requests get malformedRequest).
 *
 * Endpoints (RFC 5280 section 4.2.1.13, RFC 6960 appendix A.1, RFC 5019):
 *  - GET  /crl/<name>.crl   a CRL (DER, application/pkix-crl) signed by the CA
 *                           registered as <name>: thisUpdate = clock.now(),
 *                           nextUpdate = now + crl_validity, one entry per
 *                           revoked serial with its revocationDate and reason
 *                           (no reasonCode extension for unspecified(0),
 *                           as RFC 5280 section 5.3.1 asks), cRLNumber, AKI.
 *  - GET  /certs/<name>.der the CA certificate (DER, application/pkix-cert).
 *  - POST /ocsp             application/ocsp-request -> application/ocsp-response;
 *    GET  /ocsp/<base64>    the same, with the request in the path (appendix A.1).
 *    One SingleResponse per requested CertID: thisUpdate = now, nextUpdate =
 *    now + ocsp_validity; revoked (revocationTime, reason), good, or unknown
 *    for serials marked unknown and for CertIDs whose issuer it does not
 *    know. Signed (SHA-256) by the responder set for the CA of the first
 *    known CertID (default: the CA itself), producedAt = now; the nonce is
 *    copied (OCSP_copy_nonce). With no CA registered at all: "unauthorized".
 * Other paths 404, other methods 405.
 */
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hanko/certstore/dev_pki.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"

namespace hanko::certstore {

class DevRevocationServer {
 public:
  /** Deliberate misbehaviour, for negative tests. */
  enum class Fault {
    none,
    http_500,            ///< HTTP 500 with a text body
    garbage,             ///< HTTP 200, the right Content-Type, bytes that are not DER
    truncated,           ///< HTTP 200, the correct answer cut in half
    huge_body,           ///< HTTP 200, 100 MiB of zeros sent chunked (no Content-Length), until the client gives up
    crl_bad_signature,   ///< CRLs whose signature does not verify (one bit flipped)
    ocsp_bad_signature,  ///< OCSP responses whose signature does not verify (one bit flipped)
    ocsp_try_later,      ///< OCSPResponse with responseStatus tryLater (3)
    ocsp_other_cert,     ///< the SingleResponse is about another serial (requested serial + 1)
    drop_nonce,          ///< the OCSP response does not echo the request's nonce
    hang_up,             ///< the connection is closed without any response
  };
  /** Which requests a fault applies to. */
  enum class Endpoint { all, crl, ocsp, certs };

  /** Largest request body accepted (413 beyond). */
  static constexpr std::size_t max_request_bytes = 64u << 10;
  static constexpr std::chrono::hours crl_validity{24 * 7};
  static constexpr std::chrono::hours ocsp_validity{24};

  /**
   * Binds host:port (port 0: any free port) and starts serving.
   * @param clock the time of every CRL and OCSP response; must outlive the server
   * @return Errc::invalid_argument for a port outside 0..65535, Errc::network when binding fails
   */
  static Result<std::unique_ptr<DevRevocationServer>> start(const std::string& host, int port, const Clock& clock);

  ~DevRevocationServer();  ///< stops
  DevRevocationServer(const DevRevocationServer&) = delete;
  DevRevocationServer& operator=(const DevRevocationServer&) = delete;

  int port() const;
  /** "http://127.0.0.1:PORT" (the bound host, 127.0.0.1 for a wildcard address); no trailing slash. */
  std::string base_url() const;

  /**
   * Registers a CA (certificate and key are copied) under `name`, which names
   * /crl/<name>.crl and /certs/<name>.der. Registering the same certificate
   * again replaces its key and name; a name already used by another CA moves
   * to this one (handy to serve the wrong CA's CRL under a certificate's
   * CDP). Errc::invalid_argument for a null argument, a key that does not
   * match the certificate, or a name that is not [A-Za-z0-9._-]+.
   */
  Result<void> add_ca(const X509* ca, const EVP_PKEY* key, std::string name);
  /**
   * Makes `responder_cert` (with `responder_key`) sign the OCSP responses for
   * `ca` instead of the CA itself; it is included in the response. Nothing
   * checks that it is authorized: that is the client's job (and a test's
   * point). Both null: the CA signs its responses again.
   * Errc::invalid_argument if `ca` is not registered or the key does not match.
   */
  Result<void> set_responder(const X509* ca, const X509* responder_cert, const EVP_PKEY* responder_key);
  /**
   * Lists a serial of `ca` as revoked at `when` with CRLReason `reason`
   * (RFC 5280 section 5.3.1; 0 = unspecified) in its CRLs and OCSP answers.
   */
  Result<void> revoke(const X509* ca, const X509* cert, TimePoint when, int reason);
  /** The same by serial in hex (as ossl::serial_hex writes it; case-insensitive). */
  Result<void> revoke(const X509* ca, std::string_view serial_hex, TimePoint when, int reason);
  /** OCSP answers "unknown" for this serial of `ca` (the CRL does not list it). */
  Result<void> set_unknown(const X509* ca, std::string_view serial_hex);

  /** Sets the fault of one endpoint (Endpoint::all: of every endpoint); Fault::none clears it. */
  void set_fault(Fault fault, Endpoint where = Endpoint::all);
  /** Requests received so far, of any kind. */
  std::size_t request_count() const;
  /** Stops accepting and waits for the requests in progress; the port is closed afterwards. Idempotent. */
  void stop();

  /** Only start() can make one (passkey). */
  class Key {
    friend class DevRevocationServer;
    Key() = default;
  };
  explicit DevRevocationServer(Key);

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/**
 * Registers the development PKI on `server`: hpki-root, hpki-signing-ca,
 * jpki-root and tsa-root under their ids (so the URLs of a PKI generated with
 * DevPkiOptions::revocation_base_url = server.base_url() resolve), and revokes
 * "revoked" (reason keyCompromise) at `revoked_at`. The CAs sign their own
 * OCSP responses.
 */
Result<void> serve_dev_pki(DevRevocationServer& server, const DevPki& pki, TimePoint revoked_at);
/** As above, revoking "revoked" at the PKI's creation time (DevPki::created; Errc::invalid_argument if unknown). */
Result<void> serve_dev_pki(DevRevocationServer& server, const DevPki& pki);

}  // namespace hanko::certstore
