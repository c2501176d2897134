#pragma once
/**
 * @file key_source_internal.h
 * certstore-internal: the key sources' loaders with errors attributed to
 * the configuration field they come from, so that load_signers can name
 * the configuration key (signers.<alias>.<field>).
 */
#include <expected>
#include <memory>
#include <string>

#include "hanko/certstore/key_source.h"

namespace hanko::certstore::detail {

/** The configuration field an Error is about. */
enum class KeyField { none, cert, key, chain, file, password, module, token_label, key_label, pin };

struct FieldError {
  KeyField field = KeyField::none;
  Error error;
};

template <class T>
using FieldResult = std::expected<T, FieldError>;

inline std::unexpected<FieldError> field_fail(KeyField field, Error error) {
  return std::unexpected<FieldError>(FieldError{field, std::move(error)});
}

/** Every certificate of a PEM (or single DER) chain file. */
Result<std::vector<ossl::X509Ptr>> load_chain_file(const std::string& path);

FieldResult<std::unique_ptr<PemSigningKey>> load_pem(const std::string& cert_path, const std::string& key_path,
                                                     const std::string& chain_path);
FieldResult<std::unique_ptr<Pkcs12SigningKey>> load_pkcs12(const std::string& path, const Secret& password,
                                                           const std::string& chain_path);
FieldResult<std::unique_ptr<Pkcs11SigningKey>> open_pkcs11(const Pkcs11Config& config, Secret pin);

}  // namespace hanko::certstore::detail
