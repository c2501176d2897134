#include "hanko/certstore/key_source.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace hanko::certstore {

std::string_view jws_alg_name(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::RS256: return "RS256";
    case JwsAlg::ES256: return "ES256";
  }
  return "RS256";
}

std::optional<JwsAlg> jws_alg_from_name(std::string_view name) {
  if (name == "RS256") {
    return JwsAlg::RS256;
  }
  if (name == "ES256") {
    return JwsAlg::ES256;
  }
  return std::nullopt;
}

// ---- Secret ----------------------------------------------------------------

Secret::Secret(std::string_view text) {
  m_data.reserve(text.size() + 1);
  m_data.assign(text.begin(), text.end());
  m_data.push_back('\0');
}

Secret::Secret(Secret&& other) noexcept : m_data(std::move(other.m_data)) { other.m_data.clear(); }

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    m_data = std::move(other.m_data);
    other.m_data.clear();
  }
  return *this;
}

Secret::~Secret() { wipe(); }

void Secret::wipe() noexcept {
  if (!m_data.empty()) {
    OPENSSL_cleanse(m_data.data(), m_data.size());
  }
  m_data.clear();
}

namespace {

constexpr std::size_t kMaxSecretFile = 4096;

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

/** Zeroes a buffer when it goes out of scope. */
struct CleansedBuffer {
  std::vector<char> bytes;
  explicit CleansedBuffer(std::size_t n) : bytes(n) {}
  ~CleansedBuffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  CleansedBuffer(const CleansedBuffer&) = delete;
  CleansedBuffer& operator=(const CleansedBuffer&) = delete;
};

Result<Secret> first_line(const char* data, std::size_t size, const std::string& where) {
  std::size_t end = 0;
  while (end < size && data[end] != '\n') {
    ++end;
  }
  if (end > 0 && data[end - 1] == '\r') {
    --end;
  }
  if (std::memchr(data, '\0', end) != nullptr) {
    return fail(Errc::invalid_argument, where + " holds a NUL byte");
  }
  return Secret(std::string_view(data, end));
}

}  // namespace

Result<Secret> read_secret_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    return fail(Errc::io, "cannot open secret file " + path + ": " + std::strerror(errno));
  }
  CleansedBuffer buf(kMaxSecretFile + 1);
  const std::size_t n = std::fread(buf.bytes.data(), 1, buf.bytes.size(), f.get());
  if (std::ferror(f.get()) != 0) {
    return fail(Errc::io, "cannot read secret file " + path);
  }
  if (n > kMaxSecretFile) {
    return fail(Errc::too_large, "secret file " + path + " is larger than 4 KiB");
  }
  return first_line(buf.bytes.data(), n, "secret file " + path);
}

Result<Secret> read_secret_env(const std::string& name) {
  if (name.empty()) {
    return fail(Errc::invalid_argument, "no environment variable named");
  }
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return fail(Errc::invalid_argument, "environment variable " + name + " is not set");
  }
  return Secret(std::string_view(value));
}

// ---- SigningKey ------------------------------------------------------------

Result<Bytes> SigningKey::sign_digest(ByteView) const {
  return fail(Errc::unsupported, "this key source cannot sign a precomputed digest");
}

Result<JwsAlg> check_key_policy(const X509* cert, EVP_PKEY* key, bool is_private) {
  if (cert == nullptr || key == nullptr) {
    return fail(Errc::invalid_argument, "a signing key needs a certificate and a key");
  }
  if (is_private && X509_check_private_key(cert, key) != 1) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, "the private key does not belong to the certificate");
  }
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(key) < 2048) {
      return fail(Errc::policy, "RSA keys under 2048 bits are not allowed");
    }
    return JwsAlg::RS256;
  }
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1 ||
        (std::string_view(group) != "prime256v1" && std::string_view(group) != "P-256")) {
      clear_openssl_errors();
      return fail(Errc::policy, "only P-256 EC keys are allowed (ES256)");
    }
    return JwsAlg::ES256;
  }
  return fail(Errc::policy, "unsupported key type: only RSA (RS256) and EC P-256 (ES256)");
}

InMemorySigningKey::InMemorySigningKey(ossl::X509Ptr cert, ossl::EvpPkeyPtr key, std::vector<ossl::X509Ptr> chain,
                                       JwsAlg alg)
    : m_cert(std::move(cert)), m_key(std::move(key)), m_chain(std::move(chain)), m_alg(alg) {}

Result<Bytes> InMemorySigningKey::sign(ByteView data) const {
  // One EVP_MD_CTX (and so one EVP_PKEY_CTX) per call: the shared EVP_PKEY is only read.
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, m_key.get()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot start signing"));
  }
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot sign"));
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot sign"));
  }
  sig.resize(len);
  if (m_alg == JwsAlg::ES256) {
    return ecdsa_der_to_raw(sig, 32);
  }
  return sig;
}

Result<Bytes> InMemorySigningKey::sign_digest(ByteView sha256) const {
  if (sha256.size() != 32) {
    return fail(Errc::invalid_argument, "sign_digest takes a 32-byte SHA-256 hash");
  }
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(m_key.get(), nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
      (m_alg == JwsAlg::RS256 && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot start signing"));
  }
  std::size_t len = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &len, sha256.data(), sha256.size()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot sign"));
  }
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, sha256.data(), sha256.size()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot sign"));
  }
  sig.resize(len);
  if (m_alg == JwsAlg::ES256) {
    return ecdsa_der_to_raw(sig, 32);
  }
  return sig;
}

// ---- Helpers ---------------------------------------------------------------

Bytes sha256_digest_info(ByteView sha256) {
  // DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING } (RFC 8017 section 9.2, note 1)
  static constexpr std::uint8_t kPrefix[] = {
      0x30, 0x31,                                                  // SEQUENCE
      0x30, 0x0d,                                                  //   SEQUENCE (AlgorithmIdentifier)
      0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,  //     OID 2.16.840.1.101.3.4.2.1 sha256
      0x05, 0x00,                                                  //     NULL
      0x04, 0x20,                                                  //   OCTET STRING (32 bytes)
  };
  Bytes out(sizeof kPrefix + sha256.size());
  std::memcpy(out.data(), kPrefix, sizeof kPrefix);
  if (!sha256.empty()) {
    std::memcpy(out.data() + sizeof kPrefix, sha256.data(), sha256.size());
  }
  return out;
}

Result<Bytes> ecdsa_der_to_raw(ByteView der, std::size_t field_bytes) {
  const unsigned char* p = der.data();
  ossl::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    clear_openssl_errors();
    return fail(Errc::crypto, "malformed ECDSA signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes out(field_bytes * 2);
  if (BN_bn2binpad(r, out.data(), static_cast<int>(field_bytes)) < 0 ||
      BN_bn2binpad(s, out.data() + field_bytes, static_cast<int>(field_bytes)) < 0) {
    return fail(Errc::crypto, "ECDSA signature does not fit the curve size");
  }
  return out;
}

Result<Bytes> ecdsa_raw_to_der(ByteView raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 132) {
    return fail(Errc::crypto, "an ECDSA R||S signature has an even length");
  }
  std::size_t half = raw.size() / 2;
  ossl::EcdsaSigPtr sig(ECDSA_SIG_new());
  ossl::BignumPtr r(BN_bin2bn(raw.data(), static_cast<int>(half), nullptr));
  ossl::BignumPtr s(BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot build ECDSA signature"));
  }
  // ECDSA_SIG_set0 took ownership of r and s.
  (void)r.release();
  (void)s.release();
  return ossl::to_der<i2d_ECDSA_SIG>(sig.get());
}

}  // namespace hanko::certstore
