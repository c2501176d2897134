#pragma once
/**
 * TLS certificates for the HTTPS tests, made with the OpenSSL API at a given
 * time: a TLS CA, a server certificate for 127.0.0.1/localhost, client
 * certificates (listed, unlisted, expired) and a client certificate with the
 * same subject from another CA. EC P-256, PEM files in `dir`.
 */
#include <filesystem>
#include <string>

#include "hanko/common/clock.h"

namespace hanko::test {

struct TlsPair {
  std::filesystem::path cert;
  std::filesystem::path key;
};

struct TlsMaterial {
  std::filesystem::path ca;        ///< the TLS CA certificate (trust for clients and for tls.clientCa)
  std::filesystem::path other_ca;  ///< another CA, trusted by nobody
  TlsPair server;                  ///< CN=localhost, SAN IP:127.0.0.1, DNS:localhost
  TlsPair ehr;                     ///< CN=ehr-1,O=Test Hospital, clientAuth, from `ca`
  TlsPair pharmacy;                ///< CN=pharmacy-1,O=Test Pharmacy, from `ca`
  TlsPair unlisted;                ///< CN=intruder, from `ca`
  TlsPair expired;                 ///< CN=ehr-1,O=Test Hospital, from `ca`, expired a day before `now`
  TlsPair impostor;                ///< CN=ehr-1,O=Test Hospital, from `other_ca`
};

/** Writes the material into `dir`, valid around `now` (one year either side, except `expired`). */
TlsMaterial make_tls_material(const std::filesystem::path& dir, TimePoint now);

/** Hex SHA-256 of the DER of the PEM certificate in `file`. */
std::string cert_sha256_hex(const std::filesystem::path& file);

}  // namespace hanko::test
