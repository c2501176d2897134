#include "long_term_pki.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <tuple>

#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/dev_revocation_server.h"
#include "test_support.h"

namespace hanko::test {

namespace {
constexpr auto kYear = std::chrono::days(365);
}

ossl::EvpPkeyPtr dev_key(const std::string& id) {
  auto k = ossl::load_private_key(dev_pki().get(id).key.string());
  EXPECT_TRUE(k) << id;
  return k ? std::move(*k) : nullptr;
}

ossl::X509Ptr dev_cert(const std::string& id) {
  auto c = ossl::load_certificates(dev_pki().get(id).cert.string());
  EXPECT_TRUE(c && !c->empty()) << id;
  return c && !c->empty() ? std::move(c->front()) : nullptr;
}

ossl::EvpPkeyPtr up(EVP_PKEY* k) {
  EVP_PKEY_up_ref(k);
  return ossl::EvpPkeyPtr(k);
}

ossl::EvpPkeyPtr new_ec_key() {
  ossl::EvpPkeyPtr k(EVP_EC_gen("P-256"));
  EXPECT_TRUE(k) << "EC P-256 key generation";
  return k;
}

ossl::X509NamePtr lt_name(const std::string& cn) {
  ossl::X509NamePtr n(X509_NAME_new());
  X509_NAME_add_entry_by_txt(n.get(), "C", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("JP"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(n.get(), "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Hanko LT Test"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  return n;
}

ossl::X509Ptr issue(const X509_NAME* subject, EVP_PKEY* subject_key, const X509* issuer, EVP_PKEY* issuer_key,
                    TimePoint nb, TimePoint na, const std::vector<std::pair<int, std::string>>& exts,
                    const X509* copy_from) {
  ossl::X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ossl::BignumPtr bn(BN_new());
  BN_rand(bn.get(), 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
  ossl::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  X509_set_serialNumber(x.get(), serial.get());
  X509_set_subject_name(x.get(), const_cast<X509_NAME*>(subject));
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : const_cast<X509_NAME*>(subject));
  X509_set1_notBefore(x.get(), ossl::timepoint_to_asn1(nb).get());
  X509_set1_notAfter(x.get(), ossl::timepoint_to_asn1(na).get());
  X509_set_pubkey(x.get(), subject_key);
  if (copy_from != nullptr) {
    for (int i = 0; i < X509_get_ext_count(copy_from); ++i) {
      X509_EXTENSION* e = X509_get_ext(copy_from, i);
      const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
      if (nid != NID_authority_key_identifier && nid != NID_subject_key_identifier &&
          nid != NID_crl_distribution_points && nid != NID_info_access) {
        X509_add_ext(x.get(), e, -1);
      }
    }
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? const_cast<X509*>(issuer) : x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : exts) {
    ossl::X509ExtPtr e(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    EXPECT_TRUE(e) << OBJ_nid2sn(nid) << " " << value;
    X509_add_ext(x.get(), e.get(), -1);
  }
  EXPECT_GT(X509_sign(x.get(), issuer_key, EVP_sha256()), 0);
  // Re-parse so that every cached encoding is fresh.
  return ossl::x509_from_der(ossl::x509_to_der(x.get()));
}

LtPki::LtPki(TimePoint t0, std::string base) : m_base(std::move(base)) {
  root_key = dev_key("hpki-root");
  ca_key = dev_key("hpki-signing-ca");
  tsa_root_key = dev_key("tsa-root");
  signer_key = dev_key("doctor");
  tsa_key = dev_key("tsa");
  const TimePoint nb = t0 - kYear;
  const TimePoint na = t0 + 50 * kYear;
  root = issue(lt_name("LT Test HPKI Root").get(), root_key.get(), nullptr, root_key.get(), nb, na,
               {{NID_basic_constraints, "critical,CA:TRUE"},
                {NID_key_usage, "critical,keyCertSign,cRLSign"},
                {NID_subject_key_identifier, "hash"}});
  ca = issue(lt_name("LT Test HPKI Signing CA").get(), ca_key.get(), root.get(), root_key.get(), nb, na,
             {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
              {NID_key_usage, "critical,keyCertSign,cRLSign"},
              {NID_subject_key_identifier, "hash"},
              {NID_authority_key_identifier, "keyid:always"},
              {NID_crl_distribution_points, "URI:" + m_base + "/crl/lt-root.crl"}});
  tsa_root = issue(lt_name("LT Test TSA Root").get(), tsa_root_key.get(), nullptr, tsa_root_key.get(), nb, na,
                   {{NID_basic_constraints, "critical,CA:TRUE"},
                    {NID_key_usage, "critical,keyCertSign,cRLSign"},
                    {NID_subject_key_identifier, "hash"}});
}

ossl::X509Ptr LtPki::signer(TimePoint nb, TimePoint na) const { return signer_under(ca.get(), "lt-ca", nb, na); }

ossl::X509Ptr LtPki::signer_under(const X509* issuer, const std::string& crl_name, TimePoint nb, TimePoint na) const {
  auto doctor = dev_cert("doctor");
  return issue(X509_get_subject_name(doctor.get()), signer_key.get(), issuer, ca_key.get(), nb, na,
               {{NID_subject_key_identifier, "hash"},
                {NID_authority_key_identifier, "keyid:always"},
                {NID_crl_distribution_points, "URI:" + m_base + "/crl/" + crl_name + ".crl"},
                {NID_info_access,
                 "OCSP;URI:" + m_base + "/ocsp,caIssuers;URI:" + m_base + "/certs/" + crl_name + ".der"}},
               doctor.get());
}

ossl::X509Ptr LtPki::short_ca(TimePoint nb, TimePoint na) const {
  return issue(lt_name("LT Test Short-lived CA").get(), ca_key.get(), root.get(), root_key.get(), nb, na,
               {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                {NID_key_usage, "critical,keyCertSign,cRLSign"},
                {NID_subject_key_identifier, "hash"},
                {NID_authority_key_identifier, "keyid:always"},
                {NID_crl_distribution_points, "URI:" + m_base + "/crl/lt-root.crl"}});
}

ossl::X509Ptr LtPki::tsa(TimePoint nb, TimePoint na, const std::string& cn) const {
  return tsa_under(TsaAuthority{up(tsa_root_key.get()), ossl::up_ref(tsa_root.get()), "lt-tsa-root"}, tsa_key.get(),
                   nb, na, cn);
}

Result<TsaAuthority> LtPki::tsa_authority(TimePoint nb, TimePoint na, const std::string& cn,
                                          const std::string& crl_name, certstore::DevRevocationServer& server) const {
  TsaAuthority a;
  a.root_key = new_ec_key();
  if (!a.root_key) {
    return fail(Errc::io, "no key for " + cn);
  }
  a.root = issue(lt_name(cn).get(), a.root_key.get(), nullptr, a.root_key.get(), nb, na,
                 {{NID_basic_constraints, "critical,CA:TRUE"},
                  {NID_key_usage, "critical,keyCertSign,cRLSign"},
                  {NID_subject_key_identifier, "hash"}});
  a.crl_name = crl_name;
  if (auto r = server.add_ca(a.root.get(), a.root_key.get(), crl_name); !r) {
    return fail(Errc::io, "registering " + cn + ": " + r.error().message);
  }
  return a;
}

ossl::X509Ptr LtPki::tsa_under(const TsaAuthority& authority, EVP_PKEY* key, TimePoint nb, TimePoint na,
                               const std::string& cn) const {
  return issue(lt_name(cn).get(), key, authority.root.get(), authority.root_key.get(), nb, na,
               {{NID_basic_constraints, "critical,CA:FALSE"},
                {NID_key_usage, "critical,digitalSignature,nonRepudiation"},
                {NID_ext_key_usage, "critical,timeStamping"},
                {NID_subject_key_identifier, "hash"},
                {NID_authority_key_identifier, "keyid:always"},
                {NID_crl_distribution_points, "URI:" + m_base + "/crl/" + authority.crl_name + ".crl"}});
}

Result<void> LtPki::serve(certstore::DevRevocationServer& server) const {
  for (auto [c, k, n] : {std::tuple{root.get(), root_key.get(), "lt-root"}, std::tuple{ca.get(), ca_key.get(), "lt-ca"},
                         std::tuple{tsa_root.get(), tsa_root_key.get(), "lt-tsa-root"}}) {
    if (auto r = server.add_ca(c, k, n); !r) {
      return r;
    }
  }
  return {};
}

}  // namespace hanko::test
