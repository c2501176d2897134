#include "test_util.h"

#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include "test_support.h"

namespace hanko::certstore::testing {

Bytes hx(std::string_view annotated) {
  Bytes out;
  int nibble = -1;
  for (std::size_t i = 0; i < annotated.size(); ++i) {
    const char c = annotated[i];
    if (c == '-' && i + 1 < annotated.size() && annotated[i + 1] == '-') {
      while (i < annotated.size() && annotated[i] != '\n') {
        ++i;
      }
      continue;
    }
    int v = -1;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      continue;
    } else {
      throw std::invalid_argument(std::string("bad hex character: ") + c);
    }
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(nibble * 16 + v));
      nibble = -1;
    }
  }
  if (nibble >= 0) {
    throw std::invalid_argument("odd number of hex digits");
  }
  return out;
}

ossl::X509Ptr load_cert(const std::filesystem::path& p) {
  auto certs = ossl::load_certificates(p.string());
  if (!certs || certs->empty()) {
    throw std::runtime_error("cannot load certificate " + p.string());
  }
  return std::move(certs->front());
}

ossl::X509Ptr item_cert(const DevPki& pki, std::string_view id) { return load_cert(pki.get(id).cert); }

std::vector<ossl::X509Ptr> item_chain(const DevPki& pki, std::string_view id) {
  const auto& item = pki.get(id);
  if (item.chain.empty()) {
    return {};
  }
  auto certs = ossl::load_certificates(item.chain.string());
  if (!certs) {
    throw std::runtime_error("cannot load chain " + item.chain.string());
  }
  return std::move(*certs);
}

ossl::EvpPkeyPtr item_key(const DevPki& pki, std::string_view id) {
  auto key = ossl::load_private_key(pki.get(id).key.string());
  if (!key) {
    throw std::runtime_error("cannot load key of " + std::string(id));
  }
  return std::move(*key);
}

const DevPki& second_pki() {
  static std::once_flag once;
  static std::optional<DevPki> pki;
  std::call_once(once, [] {
    const auto dir = test::temp_dir("second-pki");
    test::write_text(dir / "doctor.pem", "stale");
    test::write_text(dir / "manifest.json", "stale");
    auto r = generate_dev_pki(dir, test::pki_time());
    if (!r) {
      throw std::runtime_error("second dev PKI: " + r.error().message);
    }
    pki = std::move(*r);
  });
  return *pki;
}

ossl::X509Ptr with_extension(const X509* base, int nid, bool critical, ByteView der) {
  ossl::X509Ptr c(X509_dup(const_cast<X509*>(base)));
  if (!c) {
    throw std::runtime_error("X509_dup");
  }
  for (int idx = X509_get_ext_by_NID(c.get(), nid, -1); idx >= 0; idx = X509_get_ext_by_NID(c.get(), nid, -1)) {
    ossl::X509ExtPtr removed(X509_delete_ext(c.get(), idx));
  }
  ossl::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(data.get(), der.data(), static_cast<int>(der.size()));
  ossl::X509ExtPtr ext(X509_EXTENSION_create_by_NID(nullptr, nid, critical ? 1 : 0, data.get()));
  if (!ext || X509_add_ext(c.get(), ext.get(), -1) != 1) {
    throw std::runtime_error("cannot add extension");
  }
  return c;
}

}  // namespace hanko::certstore::testing
