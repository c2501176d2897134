#pragma once
/**
 * @file tsa_pool.h
 * An ordered list of RFC 3161 Time-Stamp Authorities with failover.
 *
 * GL 6.0 (企画管理編 14.2) asks for timestamps from a TSA accredited under
 * 総務省告示146号; an accredited TSA can still be down, slow or refuse a
 * request, so a service names two or more and takes the first good answer.
 *
 * Trust assumptions: every answer is untrusted until it passed the shared
 * response checks of request_timestamp() (status, nonce, imprint, policy,
 * CMS signature, ESSCertID, TSA certificate EKU) and verify_token() against
 * the trust of the source it came from (its own anchors, not those of the
 * other sources), at the token's genTime. A token is never accepted from one
 * source on the strength of another source's trust. Nothing here reads the
 * wall clock: the optional back-off reads the injected Clock; request
 * durations are measured with std::chrono::steady_clock by the HttpClient.
 */
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/certstore/trust_store.h"
#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"
#include "hanko/common/http_client.h"
#include "hanko/tsa_client/timestamp_source.h"

namespace hanko::tsa {

/**
 * One TSA of a pool as configured: the keys tsa.source.<name>.* (see
 * tsa_pool_config_from()). Paths are used as given; nothing is read until
 * TsaPool::create().
 */
struct TsaSourceConfig {
  std::string name;  ///< the <name> of the keys; [A-Za-z0-9_-]+
  std::string url;   ///< .url: http(s) URL of the TSA (RFC 3161 section 3.4)
  /**
   * .trust: a PEM/DER certificate file or a folder of them (TrustStore::load_dir
   * rules); the TSA certificate must chain to a self-signed certificate in it.
   */
  std::string trust;
  /** .digests: accepted messageImprint algorithms; the request uses the first. */
  std::vector<DigestAlg> digests{DigestAlg::sha256};
  std::optional<std::string> policy_oid;  ///< .policy: reqPolicy; the token's policy must equal it
  std::string user;                       ///< .user: HTTP basic user name
  std::string password_file;              ///< .passwordFile: file holding the password (one trailing newline dropped)
  std::string password_env;               ///< .passwordEnv: environment variable holding the password
  std::string client_cert;                ///< .clientCert: PEM client certificate for mutual TLS
  std::string client_key;                 ///< .clientKey: its unencrypted PEM private key
  std::string ca_file;                    ///< .caFile: PEM CAs the https server must chain to
  std::chrono::milliseconds timeout{15000};  ///< .timeoutMs: whole exchange, connection included
};

/** The pool as configured: sources in the order of tsa.sources. */
struct TsaPoolConfig {
  std::vector<TsaSourceConfig> sources;
};

/**
 * Reads the pool keys, with full key names, as server/src/config.cpp collects
 * them:
 *   tsa.sources = a,b,c                  order of the sources (names [A-Za-z0-9_-]+, no repeats)
 *   tsa.source.<name>.url                required, http:// or https://, no user:password@
 *   tsa.source.<name>.trust              required, file or folder
 *   tsa.source.<name>.digests            sha256 | sha384 | sha512, comma list (default sha256)
 *   tsa.source.<name>.policy             dotted OID
 *   tsa.source.<name>.user               with exactly one of passwordFile / passwordEnv;
 *   tsa.source.<name>.passwordFile         credentials need an https URL (or a loopback host)
 *   tsa.source.<name>.passwordEnv
 *   tsa.source.<name>.clientCert         with clientKey; https only
 *   tsa.source.<name>.clientKey
 *   tsa.source.<name>.caFile             https only
 *   tsa.source.<name>.timeoutMs          100 .. 600000 (default 15000)
 * No keys at all gives an empty config (no pool). Only syntax is checked
 * here; files and variables are read by TsaPool::create(). Errors are
 * Errc::invalid_argument and name the key ("configuration key
 * tsa.source.b.url: ..."); they never contain a password.
 */
Result<TsaPoolConfig> tsa_pool_config_from(const std::map<std::string, std::string>& keys);

/** A source ready to use: trust loaded, credentials resolved. */
struct TsaSource {
  std::string name;
  std::string url;
  std::shared_ptr<const certstore::TrustStore> trust;  ///< required
  std::vector<DigestAlg> digests{DigestAlg::sha256};   ///< non-empty, no repeats; the request uses the first
  std::optional<std::string> policy_oid;
  /** Timeouts, credentials, TLS files, proxy, observer; the pool sets purpose to "tsa". */
  HttpOptions http;
};

/** Why one source did not give the token (TsaFailure::none: it did). */
enum class TsaFailure {
  none,         ///< this source answered with a good token
  skipped,      ///< not contacted: backing off after a recent failure
  unreachable,  ///< connection refused, DNS, TLS handshake
  timeout,      ///< connect or total timeout
  http_status,  ///< an HTTP status other than 200 (401: credentials refused)
  malformed,    ///< not a DER TimeStampResp, wrong Content-Type, too large, granted without token
  rejected,     ///< PKIStatus other than granted / grantedWithMods
  bad_token,    ///< nonce, imprint (or its algorithm), policy, signature, ESSCertID or EKU wrong
  untrusted,    ///< the TSA certificate does not chain to this source's trust at genTime
  config,       ///< our side: unusable client certificate/key/CA file, refused URL
};

/** "none", "skipped", "unreachable", "timeout", ... (stable: usable as a metrics label). */
std::string_view tsa_failure_name(TsaFailure f);

/** One source tried (or skipped) for one timestamp. */
struct TsaAttempt {
  std::string source;  ///< the source's name
  std::string url;
  TsaFailure failure = TsaFailure::none;
  std::string reason;  ///< short, one line, empty when the source answered; never a password
  double seconds = 0;  ///< time spent on this source (steady clock)
};

/** The outcome of one TsaPool::timestamp_with_report(). */
struct TsaPoolResult {
  /** The TimeStampToken DER, or the error naming every source tried and why. */
  Result<Bytes> token;
  /** The name of the source that answered; empty on failure. */
  std::string source;
  /** Every source in order until one answered (skipped ones included). */
  std::vector<TsaAttempt> attempts;
};

/** Settings of a TsaPool beyond its sources. */
struct TsaPoolOptions {
  /**
   * After a failure, skip that source for this long (zero: never skip). Needs
   * `clock`. When every source is backing off, all are tried anyway.
   */
  std::chrono::seconds backoff{0};
  /** The clock that measures the back-off; must outlive the pool. nullptr: no back-off. */
  const Clock* clock = nullptr;
};

/**
 * A TimestampSource that asks its sources in order and returns the first good
 * token. A source fails - and the next one is asked - on a network error, a
 * timeout, an HTTP status other than 200, a malformed answer, a PKIStatus
 * other than granted, or a token that does not answer the request (nonce,
 * imprint, its algorithm not among the source's digests, policy, signature)
 * or whose TSA does not chain to that source's trust at genTime. When all
 * fail, the error (Errc::network if every source was unreachable or timed
 * out, Errc::remote_rejected otherwise) reads
 *   "no TSA gave a timestamp (2 tried): a <http://...>: timeout (...); b <https://...>: HTTP 500"
 *
 * The request's digest is the source's first accepted digest, whatever `alg`
 * the caller passes to timestamp(): the configuration decides.
 *
 * Thread-safe: several threads may call timestamp() at once.
 */
class TsaPool final : public TimestampSource {
 public:
  /**
   * Builds a pool from configuration: loads each source's trust, reads its
   * password (passwordFile, or passwordEnv from the environment), checks the
   * client certificate, key and CA files, and derives each source's
   * HttpOptions from `base` (proxy, size limit, user agent, connect timeout,
   * observer) with the source's timeout, credentials and TLS files.
   * Errc::invalid_argument / Errc::io naming the key on any problem; an empty
   * config is Errc::invalid_argument.
   */
  static Result<std::unique_ptr<TsaPool>> create(const TsaPoolConfig& config, const HttpOptions& base = {},
                                                 TsaPoolOptions options = {});

  /**
   * A pool of ready sources (at least one; names unique and non-empty; each
   * with a trust store and a non-empty digest list without repeats).
   * Errc::invalid_argument otherwise.
   */
  static Result<std::unique_ptr<TsaPool>> make(std::vector<TsaSource> sources, TsaPoolOptions options = {});

  /** timestamp_with_report(data).token. */
  Result<Bytes> timestamp(ByteView data, DigestAlg alg = DigestAlg::sha256) override;
  /** "TSA pool a, b, c". */
  std::string describe() const override;

  /** Gets a token over `data` and says which source gave it and what happened to the others. */
  TsaPoolResult timestamp_with_report(ByteView data);

  /** The result of the latest completed timestamp call (empty before the first). */
  std::optional<TsaPoolResult> last_report() const;

  const std::vector<TsaSource>& sources() const { return m_sources; }

 private:
  TsaPool(std::vector<TsaSource> sources, TsaPoolOptions options);

  std::vector<TsaSource> m_sources;
  TsaPoolOptions m_options;
  mutable std::mutex m_mu;
  std::vector<std::optional<TimePoint>> m_backoff_until;  ///< per source, guarded by m_mu
  std::vector<std::string> m_last_failure;                ///< per source, guarded by m_mu
  std::optional<TsaPoolResult> m_last;                    ///< guarded by m_mu
};

}  // namespace hanko::tsa
