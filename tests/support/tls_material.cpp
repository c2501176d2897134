#include "tls_material.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <stdexcept>

#include "hanko/common/bytes.h"
#include "hanko/common/digest.h"
#include "hanko/common/file.h"
#include "hanko/common/ossl.h"

namespace hanko::test {

namespace fs = std::filesystem;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("tls material: ") + what);
  }
}

ossl::EvpPkeyPtr ec_key() {
  ossl::EvpPkeyPtr k(EVP_EC_gen("P-256"));
  check(k != nullptr, "EC key");
  return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(ext != nullptr, "extension");
  X509_add_ext(cert, ext.get(), -1);
}

ossl::X509Ptr make_cert(const std::string& cn, const std::string& org, EVP_PKEY* key, X509* issuer,
                        EVP_PKEY* issuer_key, TimePoint not_before, TimePoint not_after, bool ca,
                        const char* eku, const char* san, long serial) {
  ossl::X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_NAME* name = X509_get_subject_name(x.get());
  if (!org.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  const auto secs = [](TimePoint t) {
    return static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  ASN1_TIME_set(X509_getm_notBefore(x.get()), secs(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), secs(not_after));
  X509_set_pubkey(x.get(), key);
  X509* iss = issuer != nullptr ? issuer : x.get();
  add_ext(x.get(), iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x.get(), iss, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_ext(x.get(), iss, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    add_ext(x.get(), iss, NID_authority_key_identifier, "keyid");
  }
  if (eku != nullptr) {
    add_ext(x.get(), iss, NID_ext_key_usage, eku);
  }
  if (san != nullptr) {
    add_ext(x.get(), iss, NID_subject_alt_name, san);
  }
  check(X509_sign(x.get(), issuer_key, EVP_sha256()) > 0, "sign");
  return x;
}

void write_pem(const fs::path& p, X509* cert) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  check(write_file(p, std::string_view(data, static_cast<std::size_t>(n))).has_value(), "write cert");
}

void write_key(const fs::path& p, EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  check(write_file(p, std::string_view(data, static_cast<std::size_t>(n))).has_value(), "write key");
}

}  // namespace

TlsMaterial make_tls_material(const fs::path& dir, TimePoint now) {
  fs::create_directories(dir);
  const auto year = std::chrono::hours(24 * 365);
  const auto day = std::chrono::hours(24);
  TlsMaterial m;
  auto ca_key = ec_key();
  auto ca = make_cert("hanko test TLS CA", "hanko tests", ca_key.get(), nullptr, ca_key.get(), now - year, now + year,
                      true, nullptr, nullptr, 1);
  auto other_key = ec_key();
  auto other = make_cert("other TLS CA", "elsewhere", other_key.get(), nullptr, other_key.get(), now - year,
                         now + year, true, nullptr, nullptr, 1);
  m.ca = dir / "tls-ca.pem";
  m.other_ca = dir / "other-ca.pem";
  write_pem(m.ca, ca.get());
  write_pem(m.other_ca, other.get());
  long serial = 100;
  auto leaf = [&](const std::string& name, const std::string& cn, const std::string& org, X509* issuer,
                  EVP_PKEY* issuer_key, TimePoint nb, TimePoint na, const char* eku, const char* san) {
    auto key = ec_key();
    auto cert = make_cert(cn, org, key.get(), issuer, issuer_key, nb, na, false, eku, san, ++serial);
    TlsPair p{dir / (name + ".pem"), dir / (name + "-key.pem")};
    write_pem(p.cert, cert.get());
    write_key(p.key, key.get());
    return p;
  };
  m.server = leaf("server", "localhost", "", ca.get(), ca_key.get(), now - year, now + year, "serverAuth",
                  "IP:127.0.0.1,DNS:localhost");
  m.ehr = leaf("ehr", "ehr-1", "Test Hospital", ca.get(), ca_key.get(), now - year, now + year, "clientAuth", nullptr);
  m.pharmacy = leaf("pharmacy", "pharmacy-1", "Test Pharmacy", ca.get(), ca_key.get(), now - year, now + year,
                    "clientAuth", nullptr);
  m.unlisted = leaf("unlisted", "intruder", "", ca.get(), ca_key.get(), now - year, now + year, "clientAuth", nullptr);
  m.expired = leaf("expired", "ehr-1", "Test Hospital", ca.get(), ca_key.get(), now - 2 * year, now - day,
                   "clientAuth", nullptr);
  m.impostor = leaf("impostor", "ehr-1", "Test Hospital", other.get(), other_key.get(), now - year, now + year,
                    "clientAuth", nullptr);
  return m;
}

std::string cert_sha256_hex(const fs::path& file) {
  auto text = read_file(file);
  check(text.has_value(), "read cert");
  ossl::BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  ossl::X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  check(x != nullptr, "parse cert");
  unsigned char* der = nullptr;
  int n = i2d_X509(x.get(), &der);
  check(n > 0, "der");
  auto digest = sha256(ByteView(der, static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  return hex(digest);
}

}  // namespace hanko::test
