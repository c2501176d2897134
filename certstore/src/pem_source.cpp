#include "hanko/certstore/key_source.h"
#include "key_source_internal.h"

namespace hanko::certstore {

namespace detail {

Result<std::vector<ossl::X509Ptr>> load_chain_file(const std::string& path) {
  std::vector<ossl::X509Ptr> chain;
  if (path.empty()) {
    return chain;
  }
  return ossl::load_certificates(path);
}

FieldResult<std::unique_ptr<PemSigningKey>> load_pem(const std::string& cert_path, const std::string& key_path,
                                                     const std::string& chain_path) {
  auto certs = ossl::load_certificates(cert_path);
  if (!certs) {
    return field_fail(KeyField::cert, certs.error());
  }
  auto key = ossl::load_private_key(key_path);
  if (!key) {
    return field_fail(KeyField::key, key.error());
  }
  std::vector<ossl::X509Ptr> chain;
  // Extra certificates after the first in the certificate file count as chain.
  for (std::size_t i = 1; i < certs->size(); ++i) {
    chain.push_back(std::move((*certs)[i]));
  }
  auto more = load_chain_file(chain_path);
  if (!more) {
    return field_fail(KeyField::chain, more.error());
  }
  for (auto& c : *more) {
    chain.push_back(std::move(c));
  }
  auto made = PemSigningKey::create(std::move(certs->front()), std::move(*key), std::move(chain));
  if (!made) {
    return field_fail(KeyField::key, made.error());
  }
  return std::move(*made);
}

}  // namespace detail

Result<std::unique_ptr<PemSigningKey>> PemSigningKey::create(ossl::X509Ptr cert, ossl::EvpPkeyPtr key,
                                                             std::vector<ossl::X509Ptr> chain) {
  auto alg = check_key_policy(cert.get(), key.get(), true);
  if (!alg) {
    return std::unexpected(alg.error());
  }
  return std::unique_ptr<PemSigningKey>(new PemSigningKey(std::move(cert), std::move(key), std::move(chain), *alg));
}

Result<std::unique_ptr<PemSigningKey>> PemSigningKey::load(const std::string& cert_path, const std::string& key_path,
                                                           const std::string& chain_path) {
  auto made = detail::load_pem(cert_path, key_path, chain_path);
  if (!made) {
    return std::unexpected(std::move(made.error().error));
  }
  return std::move(*made);
}

}  // namespace hanko::certstore
