#include <openssl/pkcs12.h>

#include "hanko/certstore/key_source.h"
#include "hanko/common/file.h"
#include "key_source_internal.h"

namespace hanko::certstore {

namespace {

using Pkcs12Ptr = ossl::Ptr<PKCS12, PKCS12_free>;

/** The bag's certificates, roots left out, ordered from the issuer of `leaf` upwards; unrelated ones last. */
std::vector<ossl::X509Ptr> order_chain(const X509* leaf, STACK_OF(X509) * bag) {
  std::vector<ossl::X509Ptr> rest;
  for (int i = 0; bag != nullptr && i < sk_X509_num(bag); ++i) {
    X509* c = sk_X509_value(bag, i);
    if (X509_self_signed(c, 0) == 1 || X509_cmp(c, leaf) == 0) {
      continue;
    }
    rest.push_back(ossl::up_ref(c));
  }
  clear_openssl_errors();
  std::vector<ossl::X509Ptr> chain;
  const X509* current = leaf;
  for (bool found = true; found && !rest.empty();) {
    found = false;
    for (auto it = rest.begin(); it != rest.end(); ++it) {
      if (X509_check_issued(it->get(), const_cast<X509*>(current)) == X509_V_OK) {
        chain.push_back(std::move(*it));
        rest.erase(it);
        current = chain.back().get();
        found = true;
        break;
      }
    }
  }
  for (auto& c : rest) {
    chain.push_back(std::move(c));
  }
  return chain;
}

}  // namespace

namespace detail {

FieldResult<std::unique_ptr<Pkcs12SigningKey>> load_pkcs12(const std::string& path, const Secret& password,
                                                           const std::string& chain_path) {
  auto der = read_file(path, 16u << 20);
  if (!der) {
    return field_fail(KeyField::file, der.error());
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der->size())));
  if (!p12) {
    return field_fail(KeyField::file, openssl_error(Errc::invalid_argument, path + " is not a PKCS#12 file"));
  }
  // Check the MAC first: a wrong password then reads as one, not as a decryption error.
  if (PKCS12_mac_present(p12.get()) == 1) {
    bool ok = PKCS12_verify_mac(p12.get(), password.c_str(), static_cast<int>(password.size())) == 1;
    if (!ok && password.empty()) {
      ok = PKCS12_verify_mac(p12.get(), nullptr, 0) == 1;
    }
    if (!ok) {
      clear_openssl_errors();
      return field_fail(KeyField::password,
                        Error{Errc::invalid_argument, "wrong password for PKCS#12 file " + path + " (its MAC does not verify)"});
    }
  }
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  const int parsed = PKCS12_parse(p12.get(), password.c_str(), &raw_key, &raw_cert, &raw_ca);
  ossl::EvpPkeyPtr key(raw_key);
  ossl::X509Ptr cert(raw_cert);
  ossl::X509StackPtr ca(raw_ca);
  if (parsed != 1) {
    return field_fail(KeyField::file,
                      openssl_error(Errc::invalid_argument,
                                    "cannot open PKCS#12 file " + path +
                                        " (a file encrypted with a legacy algorithm such as RC2 must be re-exported,"
                                        " see docs/keys.md)"));
  }
  if (!key) {
    return field_fail(KeyField::file, Error{Errc::invalid_argument, "PKCS#12 file " + path + " holds no private key"});
  }
  if (!cert) {
    return field_fail(KeyField::file,
                      Error{Errc::invalid_argument, "PKCS#12 file " + path + " holds no certificate for its private key"});
  }
  auto chain = order_chain(cert.get(), ca.get());
  auto more = load_chain_file(chain_path);
  if (!more) {
    return field_fail(KeyField::chain, more.error());
  }
  for (auto& c : *more) {
    chain.push_back(std::move(c));
  }
  auto made = Pkcs12SigningKey::create(std::move(cert), std::move(key), std::move(chain));
  if (!made) {
    return field_fail(KeyField::file, Error{made.error().code, "PKCS#12 file " + path + ": " + made.error().message});
  }
  return std::move(*made);
}

}  // namespace detail

Result<std::unique_ptr<Pkcs12SigningKey>> Pkcs12SigningKey::create(ossl::X509Ptr cert, ossl::EvpPkeyPtr key,
                                                                   std::vector<ossl::X509Ptr> chain) {
  auto alg = check_key_policy(cert.get(), key.get(), true);
  if (!alg) {
    return std::unexpected(alg.error());
  }
  return std::unique_ptr<Pkcs12SigningKey>(
      new Pkcs12SigningKey(std::move(cert), std::move(key), std::move(chain), *alg));
}

Result<std::unique_ptr<Pkcs12SigningKey>> Pkcs12SigningKey::load(const std::string& path, const Secret& password,
                                                                 const std::string& chain_path) {
  auto made = detail::load_pkcs12(path, password, chain_path);
  if (!made) {
    return std::unexpected(std::move(made.error().error));
  }
  return std::move(*made);
}

}  // namespace hanko::certstore
