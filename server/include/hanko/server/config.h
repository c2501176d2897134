#pragma once
/**
 * @file config.h
 * The service configuration: one file read by Poco's LayeredConfiguration
 * (properties or INI), over built-in defaults, under command-line flags.
 * Every key is documented in docs/configuration.md; the defaults below are
 * the embedded development setup (dev PKI, in-process dev TSA, SQLite).
 */
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hanko/common/error.h"

namespace hanko::server {

struct ServiceConfig {
  std::string listen_host = "127.0.0.1";      ///< server.listen (HOST:PORT)
  std::uint16_t listen_port = 8080;
  std::size_t max_body_bytes = 10u << 20;     ///< server.maxBodyBytes
  int max_threads = 8;                        ///< server.maxThreads
  int max_queued = 64;                        ///< server.maxQueued
  std::filesystem::path data_dir = "var";     ///< data.dir
  std::string store_url;                      ///< store.url: PostgreSQL connection string (docs/storage.md); empty: SQLite <data.dir>/hanko.db
  bool dev = true;                            ///< dev.enabled: dev PKI, dev signer, in-process dev TSA
  std::filesystem::path trust_dir;            ///< trust.dir (signature, TSA anchors)
  std::filesystem::path tsa_trust_dir;        ///< trust.tsaDir (default: trust.dir)
  std::filesystem::path ocsp_trust_dir;       ///< trust.ocspDir: anchors for OCSP responders not issued by the CA
  std::filesystem::path intermediates_dir;    ///< trust.intermediatesDir: extra intermediate CA certificates
  bool aia_fetch = true;                      ///< trust.aiaFetch: fetch missing intermediates from AIA caIssuers
  std::string revocation_order = "ocsp-then-crl";  ///< revocation.order
  bool revocation_fetch = true;               ///< revocation.fetch: false = cache and configured CRLs only
  std::vector<std::string> crl_files;         ///< revocation.crlFiles (comma-separated)
  bool ocsp_nonce = true;                     ///< revocation.ocspNonce
  int clock_skew_seconds = 300;               ///< revocation.clockSkewSeconds
  int http_connect_timeout_ms = 5000;         ///< http.connectTimeoutMs
  int http_timeout_ms = 15000;                ///< http.timeoutMs (CRL, OCSP, AIA)
  std::size_t http_max_response_bytes = 32u << 20;  ///< http.maxResponseBytes (CRL, OCSP, AIA)
  std::string http_proxy;                     ///< http.proxy (also used for the TSA); empty = no proxy
  std::map<std::string, std::string> policy_keys;  ///< policy.* (verifier/policy.h)
  std::map<std::string, std::string> crypto_keys;  ///< crypto.* (verifier/policy.h)
  std::string signer_cert;                    ///< signer.cert
  std::string signer_key;                     ///< signer.key
  std::string signer_chain;                   ///< signer.chain
  std::string tsa_url;                        ///< tsa.url (empty in dev mode: in-process dev TSA)
  int tsa_timeout_ms = 15000;                 ///< tsa.timeoutMs
  std::string default_level = "B-T";          ///< signing.level
  std::string canonicalization = "jcs";       ///< signing.canonicalization (jcs | fhir-json)
  std::string signature_type = "1.2.840.10065.1.12.1.1";  ///< signing.signatureType
  int signing_session_ttl_seconds = 300;      ///< signing.sessionTtlSeconds: life of a two-step signing session
  std::filesystem::path audit_file;           ///< audit.file (empty: <data.dir>/audit.jsonl; docs/audit.md)
  std::string audit_source_id = "hanko";      ///< audit.sourceId: AuditEvent.source.observer
  bool audit_fsync = true;                    ///< audit.fsync: fsync after every audit record
  bool audit_healthz = false;                 ///< audit.healthz: also audit GET /healthz
  // TLS (docs/configuration.md): with tls.cert set the service speaks HTTPS only.
  std::string tls_cert;                       ///< tls.cert: server certificate (PEM, chain after it)
  std::string tls_key;                        ///< tls.key: server private key (PEM)
  std::string tls_client_ca;                  ///< tls.clientCa: CA file (PEM) for client certificates
  std::string tls_client_auth = "none";       ///< tls.clientAuth: none | optional | required
  std::string tls_ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";  ///< tls.ciphers (TLS 1.2 suites; TLS 1.3 uses OpenSSL's defaults)
  bool allow_insecure_listen = false;         ///< server.allowInsecure: plain HTTP on a non-loopback address
  int request_timeout_ms = 60000;             ///< server.requestTimeoutMs: socket receive/send timeout per request
  int shutdown_grace_ms = 30000;              ///< server.shutdownGraceMs: time requests in flight get on SIGTERM
  bool metrics_protected = false;             ///< metrics.protected: /metrics needs the admin scope
  int audit_anchor_interval_seconds = 3600;   ///< audit.anchorIntervalSeconds: RFC 3161 anchor of the chain head (0 = off)
  /// auth.* and clients.* keys, parsed by the authentication module (server/src/auth.h).
  std::map<std::string, std::string> auth_keys;
  /// signers.* keys: named server-side signers (certstore key sources).
  std::map<std::string, std::string> signer_keys;
  /// archive.* keys: retention, renewal margin and schedule (server/src/archive_api.h, docs/archive.md).
  std::map<std::string, std::string> archive_keys;
  /// tsa.sources and tsa.source.* keys: the ordered TSA pool (tsa_client).
  std::map<std::string, std::string> tsa_pool_keys;
  std::string source;                         ///< where the configuration came from (for the log)
};

/**
 * Builds the configuration: defaults, then `config_file` (if not empty), then
 * `overrides` (key → value, from command-line flags). An unknown key, a bad
 * value or an unreadable file is an Error naming the key and the file.
 */
Result<ServiceConfig> load_config(const std::string& config_file, const std::map<std::string, std::string>& overrides);

/** Splits "HOST:PORT" ("[::1]:8080" too). */
Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& text);

}  // namespace hanko::server
