#pragma once
/**
 * @file auth.h
 * Authentication and authorization of REST clients (docs/security.md):
 * mutual-TLS client certificates and bearer JWTs (RFC 7519, compact JWS of
 * RFC 7515, RS256 or ES256 only) checked against a JWKS file (RFC 7517), a
 * configured client list that maps either credential to a client id with
 * scopes and allowed signers, and the table of which route needs which scope.
 * Private to server/.
 *
 * Trust assumptions:
 *  - The peer certificate handed to Authenticator::authenticate has been
 *    validated by the TLS layer (chain to tls.clientCa, validity, private key
 *    possession). This module only maps it to a client; a certSubject match is
 *    only as good as the CAs in tls.clientCa.
 *  - JWT signing keys come only from the configured JWKS file. Keys carried by
 *    a token (jwk, jku, x5c, x5u header members) are never used. The issuer
 *    is trusted for the `sub` it asserts.
 *  - Scopes have no hierarchy: admin does not imply sign, and so on.
 *  - Time is the caller's (server/ owns the clock).
 *
 * Configuration keys (collected by server/src/config.cpp into
 * ServiceConfig::auth_keys; every key under clients. and auth. is checked here,
 * an unknown one is an Error naming it):
 *
 *   clients.<id>.certSubject = CN=ehr1,O=Example Hospital,C=JP
 *       Subject DN of the client's TLS certificate, RFC 2253 order (most
 *       specific RDN first, as `openssl x509 -noout -subject -nameopt RFC2253`
 *       prints it). Both sides are normalised through OpenSSL's RFC 2253
 *       printer (UTF-8 kept), so attribute names may be short or long names.
 *   clients.<id>.certSha256 = 3A:7B:...
 *       Hex SHA-256 of the client certificate's DER; colons and either case
 *       allowed. Compared in constant time. When a client has both certSha256
 *       and certSubject, the certificate must match both.
 *   clients.<id>.tokenSubject = ehr1-service
 *       The JWT `sub` of the client.
 *   clients.<id>.scopes = sign,verify
 *       Comma list of sign, verify, archive.read, archive.write, admin.
 *       Absent or empty: none.
 *   clients.<id>.signers = doctor,pharmacist
 *       Comma list of signer aliases the client may sign with, or * for all.
 *       Absent: none.
 *   <id> is [A-Za-z0-9._-]+. A client needs at least one credential
 *   (certSubject, certSha256 or tokenSubject); two clients may not share one.
 *
 *   auth.jwt.issuer, auth.jwt.audience, auth.jwt.jwksFile
 *       The required `iss`, an `aud` value that must be present, and the
 *       public JWKS file. Required together when any client has tokenSubject.
 *   auth.jwt.clockSkewSeconds = 60     (0 to 600)
 *       Leeway for exp, nbf and iat.
 *   auth.jwt.maxTokenBytes = 8192      (512 to 65536)
 *       Longer tokens are refused before they are decoded.
 */
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"

// OpenSSL types, without including OpenSSL (house style rule 6).
using X509 = struct x509_st;
using EVP_PKEY = struct evp_pkey_st;

namespace hanko::server {

// ---- Scopes -----------------------------------------------------------------------

inline constexpr std::string_view kScopeSign = "sign";
inline constexpr std::string_view kScopeVerify = "verify";
inline constexpr std::string_view kScopeArchiveRead = "archive.read";
inline constexpr std::string_view kScopeArchiveWrite = "archive.write";
inline constexpr std::string_view kScopeAdmin = "admin";
/** Every scope a client can be given, in the order the docs list them. */
inline constexpr std::string_view kAllScopes[] = {kScopeSign, kScopeVerify, kScopeArchiveRead, kScopeArchiveWrite,
                                                   kScopeAdmin};

// ---- Configuration ----------------------------------------------------------------

/** One configured client (clients.<id>.*). */
struct ClientConfig {
  std::string id;
  std::string cert_subject;   ///< normalised RFC 2253 subject; empty: not configured
  Bytes cert_sha256;          ///< 32 bytes; empty: not configured
  std::string token_subject;  ///< JWT sub; empty: not configured
  std::vector<std::string> scopes;   ///< each one of kAllScopes, no duplicates
  std::vector<std::string> signers;  ///< signer aliases; {"*"} for every signer
};

/** The auth.jwt.* settings. */
struct JwtSettings {
  std::string issuer;
  std::string audience;
  std::filesystem::path jwks_file;
  std::chrono::seconds clock_skew{60};
  std::size_t max_token_bytes = 8192;
};

struct AuthConfig {
  std::vector<ClientConfig> clients;  ///< ordered by id
  JwtSettings jwt;

  /** True when at least one client is configured: requests then need credentials. */
  bool enabled() const { return !clients.empty(); }
  /** True when some client has a tokenSubject (bearer tokens are accepted). */
  bool accepts_tokens() const;
};

/**
 * Parses the clients.* and auth.* keys (keys with other prefixes are
 * ignored). Errors name the key, e.g. "configuration key clients.ehr1.scopes:
 * 'foo' is not one of sign, verify, archive.read, archive.write, admin".
 * Does not read the JWKS file (Authenticator::create does).
 */
Result<AuthConfig> auth_config_from(const std::map<std::string, std::string>& keys);

/**
 * Normalises a subject DN written in RFC 2253 form ("CN=a,O=b,C=JP"; `\`
 * escapes, quoted values and "+" multi-valued RDNs allowed, spaces around
 * separators ignored; hex "#..." values are refused): builds the X509_NAME and prints it as ossl::name_to_string does
 * for a certificate, so both sides compare equal byte for byte.
 */
Result<std::string> normalize_subject_dn(std::string_view dn);

// ---- JWKS -------------------------------------------------------------------------

/** Largest JWKS file accepted. */
inline constexpr std::size_t kMaxJwksBytes = 1u << 20;

enum class JwkType { rsa, ec_p256 };

/** One usable public key of a JWKS. */
struct Jwk {
  std::string kid;                  ///< empty when the JWK has none
  JwkType type = JwkType::rsa;
  std::string alg;                  ///< "RS256", "ES256", or empty when the JWK does not say
  int bits = 0;                     ///< RSA modulus bits, or 256
  std::shared_ptr<EVP_PKEY> key;    ///< the public key
};

/**
 * A public JSON Web Key Set (RFC 7517 section 5) restricted to what hanko
 * verifies: RSA keys of at least 2048 bits (RFC 7518 section 6.3) and EC
 * P-256 keys (section 6.2, point checked to be on the curve).
 */
class Jwks {
 public:
  /**
   * Parses a JWKS document. A key with another kty or crv, a `use` other
   * than "sig", an `alg` other than RS256/ES256 or `key_ops` without "verify"
   * is skipped with a note. Refused (Error): more than kMaxJwksBytes, not
   * JSON, no "keys" array, a private member (d, p, q, dp, dq, qi, oth, k) in
   * any key, an `alg` that contradicts the key type, an RSA key under 2048
   * bits, an EC point off the curve, a kid used twice, no usable key.
   */
  static Result<Jwks> parse(std::string_view json);
  /** Reads (at most kMaxJwksBytes) and parses a JWKS file. */
  static Result<Jwks> load(const std::filesystem::path& path);

  const std::vector<Jwk>& keys() const { return m_keys; }
  /** One line per key that was skipped, for the start-up log. */
  const std::vector<std::string>& notes() const { return m_notes; }

 private:
  std::vector<Jwk> m_keys;
  std::vector<std::string> m_notes;
};

// ---- JWT --------------------------------------------------------------------------

/** What a verified token asserts. */
struct JwtClaims {
  std::string subject;   ///< sub
  std::string issuer;    ///< iss
  std::string alg;       ///< RS256 | ES256
  std::string kid;       ///< the kid of the key that verified it (may be empty)
  TimePoint expires;     ///< exp (whole seconds)
};

/**
 * Verifies a compact JWS JWT at `now`:
 *  - at most settings.max_token_bytes (checked before anything is decoded);
 *  - exactly three parts of strict base64url without padding;
 *  - header `alg` RS256 or ES256 (none and HS* refused), no `crit`; the key is
 *    the JWKS key with the header's `kid`, or without kid the only key of the
 *    alg's type; its type (and JWK alg, if any) must fit the header alg;
 *  - RS256: RSASSA-PKCS1-v1_5 with SHA-256; ES256: a 64-byte R||S signature;
 *  - claims: iss equal to settings.issuer, aud (string or array) containing
 *    settings.audience, exp required (refused when now >= exp + skew), nbf
 *    (refused when now < nbf - skew), iat (refused when > now + skew), sub
 *    required; dates must be JSON numbers.
 * Error messages say what is wrong without quoting the token.
 */
Result<JwtClaims> verify_jwt(std::string_view token, const Jwks& jwks, const JwtSettings& settings, TimePoint now);

// ---- Authentication ---------------------------------------------------------------

inline constexpr std::string_view kMethodTlsClientCertificate = "tls-client-certificate";
inline constexpr std::string_view kMethodBearerJwt = "bearer-jwt";

/** An authenticated client. */
struct Principal {
  std::string client_id;
  std::string subject;  ///< the TLS certificate subject (RFC 2253) or the token sub
  std::string method;   ///< kMethodTlsClientCertificate | kMethodBearerJwt
  std::vector<std::string> scopes;
  std::vector<std::string> signers;  ///< aliases, or {"*"}
};

/** A refused request: answer http_status with the WWW-Authenticate header. */
struct AuthFailure {
  int http_status = 401;
  std::string www_authenticate;  ///< RFC 6750 section 3 challenge
  std::string reason;            ///< one line for the audit trail and the OperationOutcome
  std::string subject;           ///< the certificate subject or token sub presented, when known (audit only)
};

/** Either a Principal or an AuthFailure. */
struct AuthOutcome {
  std::variant<Principal, AuthFailure> value;

  bool ok() const { return std::holds_alternative<Principal>(value); }
  const Principal& principal() const { return std::get<Principal>(value); }
  const AuthFailure& failure() const { return std::get<AuthFailure>(value); }
};

/** What the HTTP layer knows about the caller. */
struct AuthRequest {
  const X509* peer_certificate = nullptr;  ///< verified TLS client certificate; nullptr without mutual TLS
  std::string_view authorization;          ///< the Authorization header, possibly empty
};

/** The realm of every challenge. */
inline constexpr std::string_view kAuthRealm = "hanko";

/**
 * Maps credentials to a configured client. Immutable after create(), so one
 * instance serves all threads.
 */
class Authenticator {
 public:
  /**
   * Builds the authenticator; loads auth.jwt.jwksFile when some client has a
   * tokenSubject.
   */
  static Result<Authenticator> create(AuthConfig config);
  /** The same with a JWKS already parsed (tests, or a reload). */
  static Result<Authenticator> create(AuthConfig config, Jwks jwks);

  /**
   * Authenticates one request at `now`:
   *  - a non-empty Authorization header must be "Bearer <token>" (scheme
   *    case-insensitive); the token is verified with verify_jwt and its sub
   *    mapped to the client with that tokenSubject. An invalid token fails
   *    even when a client certificate would match (no fallback);
   *  - otherwise a peer certificate is mapped by certSha256 first, then by
   *    certSubject;
   *  - otherwise the request fails with "no credentials".
   * Failures are 401 with `Bearer realm="hanko"` when no usable credentials
   * were presented, and with error="invalid_token" and an error_description
   * (never token bytes) for a bad token.
   */
  AuthOutcome authenticate(const AuthRequest& request, TimePoint now) const;

  const AuthConfig& config() const { return m_config; }
  const Jwks& jwks() const { return m_jwks; }

 private:
  Authenticator(AuthConfig config, Jwks jwks) : m_config(std::move(config)), m_jwks(std::move(jwks)) {}
  AuthOutcome from_token(std::string_view token, TimePoint now) const;
  AuthOutcome from_certificate(const X509* cert) const;

  AuthConfig m_config;
  Jwks m_jwks;
};

/**
 * The WWW-Authenticate value of a 403 for a missing scope (RFC 6750 section
 * 3.1, insufficient_scope): `Bearer realm="hanko", error="insufficient_scope",
 * scope="sign"`.
 */
std::string insufficient_scope_challenge(std::string_view scope);

// ---- Authorization ----------------------------------------------------------------

/** One row of the access table. */
struct AccessRule {
  std::string_view method;   ///< "GET", "POST", ... or "*" for any method
  std::string_view pattern;  ///< an exact path, or "/prefix/*" for every path below /prefix
  bool is_public = false;    ///< no credentials needed
  std::string_view scope;    ///< the scope needed; empty (and not public): any authenticated client
};

/**
 * The access table, first match wins; the last row ("*", "*") catches every
 * other path. /metrics is public, or needs admin when `metrics_protected`.
 * docs/security.md shows this table (a test compares them).
 */
std::vector<AccessRule> access_rules(bool metrics_protected);

/** What a request needs. */
struct RouteAccess {
  bool is_public = false;   ///< no credentials needed
  std::string_view scope;   ///< the scope needed; empty (and not public): any authenticated client
  /**
   * False when the path is not canonical (not starting with '/', empty, "."
   * or ".." segments, a backslash or a control character): answer 404 or 400
   * without routing, whatever the credentials.
   */
  bool canonical = true;
};

/**
 * Looks `method` and `path` up in access_rules(metrics_protected). `path` is
 * the path the router matches (URL-decoded); a query ("?...") is ignored.
 * HEAD is treated as GET.
 */
RouteAccess route_access(std::string_view method, std::string_view path, bool metrics_protected);

/** Whether the principal holds `scope` (exact; no scope implies another). */
bool has_scope(const Principal& principal, std::string_view scope);
/** Whether the principal may sign with the signer `alias` (listed, or signers = *). */
bool may_use_signer(const Principal& principal, std::string_view alias);

}  // namespace hanko::server
