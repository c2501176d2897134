#include "test_util.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

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

const DevPki& current_pki() {
  static std::once_flag once;
  static std::optional<DevPki> fresh;
  const DevPki& shared = test::dev_pki();
  // "ocsp-unauthorized" and "tsa-noncritical-eku" are the newest items: a fixture without them is from an older build.
  auto has = [&](std::string_view id) {
    return std::any_of(shared.items.begin(), shared.items.end(), [&](const DevPkiItem& i) { return i.id == id; });
  };
  if (has("ocsp-unauthorized") && has("tsa-noncritical-eku") && !shared.root_crl.empty()) {
    return shared;
  }
  std::call_once(once, [] {
    auto r = generate_dev_pki(test::temp_dir("current-pki"), test::pki_time());
    if (!r) {
      throw std::runtime_error("current dev PKI: " + r.error().message);
    }
    fresh = std::move(*r);
  });
  return *fresh;
}

ossl::X509Ptr reissue(const X509* base, EVP_PKEY* issuer_key, const RevocationPointers& where) {
  ossl::X509Ptr c(X509_dup(const_cast<X509*>(base)));
  if (!c) {
    throw std::runtime_error("X509_dup");
  }
  for (int nid : {NID_crl_distribution_points, NID_info_access}) {
    for (int idx = X509_get_ext_by_NID(c.get(), nid, -1); idx >= 0; idx = X509_get_ext_by_NID(c.get(), nid, -1)) {
      ossl::X509ExtPtr removed(X509_delete_ext(c.get(), idx));
    }
  }
  unsigned char buf[16];
  RAND_bytes(buf, sizeof buf);
  buf[0] = static_cast<unsigned char>((buf[0] & 0x7F) | 0x01);
  ossl::BignumPtr bn(BN_bin2bn(buf, sizeof buf, nullptr));
  ossl::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  X509_set_serialNumber(c.get(), serial.get());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, nullptr, c.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    ossl::X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(c.get(), ext.get(), -1) != 1) {
      throw std::runtime_error("cannot add extension " + value);
    }
  };
  if (!where.base_url.empty()) {
    if (!where.crl_name.empty()) {
      add(NID_crl_distribution_points, "URI:" + where.base_url + "/crl/" + where.crl_name + ".crl");
    }
    if (where.ocsp) {
      add(NID_info_access, "OCSP;URI:" + where.base_url + "/ocsp");
    }
  }
  if (X509_sign(c.get(), issuer_key, EVP_sha256()) <= 0) {
    throw std::runtime_error("X509_sign");
  }
  return ossl::x509_from_der(ossl::x509_to_der(c.get()));
}

}  // namespace hanko::certstore::testing
