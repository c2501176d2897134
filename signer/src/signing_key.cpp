#include "hanko/signer/signing_key.h"

#include <openssl/ec.h>
#include <openssl/rsa.h>

namespace hanko::signer {

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

PemSigningKey::PemSigningKey(ossl::X509Ptr cert, ossl::EvpPkeyPtr key, std::vector<ossl::X509Ptr> chain, JwsAlg alg)
    : m_cert(std::move(cert)), m_key(std::move(key)), m_chain(std::move(chain)), m_alg(alg) {}

Result<std::unique_ptr<PemSigningKey>> PemSigningKey::create(ossl::X509Ptr cert, ossl::EvpPkeyPtr key,
                                                             std::vector<ossl::X509Ptr> chain) {
  if (!cert || !key) {
    return fail(Errc::invalid_argument, "a signing key needs a certificate and a private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, "the private key does not belong to the certificate");
  }
  JwsAlg alg{};
  int id = EVP_PKEY_get_base_id(key.get());
  if (id == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(key.get()) < 2048) {
      return fail(Errc::policy, "RSA keys under 2048 bits are not allowed");
    }
    alg = JwsAlg::RS256;
  } else if (id == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key.get(), group, sizeof group, &len) != 1 ||
        (std::string_view(group) != "prime256v1" && std::string_view(group) != "P-256")) {
      return fail(Errc::policy, "only P-256 EC keys are allowed (ES256)");
    }
    alg = JwsAlg::ES256;
  } else {
    return fail(Errc::policy, "unsupported key type: only RSA (RS256) and EC P-256 (ES256)");
  }
  return std::unique_ptr<PemSigningKey>(new PemSigningKey(std::move(cert), std::move(key), std::move(chain), alg));
}

Result<std::unique_ptr<PemSigningKey>> PemSigningKey::load(const std::string& cert_path, const std::string& key_path,
                                                           const std::string& chain_path) {
  auto certs = ossl::load_certificates(cert_path);
  if (!certs) {
    return std::unexpected(certs.error());
  }
  auto key = ossl::load_private_key(key_path);
  if (!key) {
    return std::unexpected(key.error());
  }
  std::vector<ossl::X509Ptr> chain;
  // Extra certificates after the first in the certificate file count as chain.
  for (std::size_t i = 1; i < certs->size(); ++i) {
    chain.push_back(std::move((*certs)[i]));
  }
  if (!chain_path.empty()) {
    auto more = ossl::load_certificates(chain_path);
    if (!more) {
      return std::unexpected(more.error());
    }
    for (auto& c : *more) {
      chain.push_back(std::move(c));
    }
  }
  return create(std::move(certs->front()), std::move(*key), std::move(chain));
}

Result<Bytes> PemSigningKey::sign(ByteView data) const {
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
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::unexpected(openssl_error(Errc::crypto, "cannot build ECDSA signature"));
  }
  return ossl::to_der<i2d_ECDSA_SIG>(sig.get());
}

}  // namespace hanko::signer
