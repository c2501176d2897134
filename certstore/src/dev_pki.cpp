#include "hanko/certstore/dev_pki.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <openssl/err.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "der.h"
#include "hanko/certstore/cert_info.h"
#include "hanko/common/file.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"

namespace hanko::certstore {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFormat = "hanko-dev-pki/1";
constexpr std::string_view kWarning =
    "DEVELOPMENT ONLY: test certificates with unencrypted private keys. Never trust these roots outside development and tests.";
constexpr const char* kCrlUrl = "URI:http://127.0.0.1/dev-pki/hpki-signing-ca.crl";
constexpr std::string_view kCpsUrl = "http://127.0.0.1/dev-pki/cps";
constexpr const char* kOidCpsQualifier = "1.3.6.1.5.5.7.2.1";     // id-qt-cps
constexpr const char* kOidSubjectDirAttrs = "2.5.29.9";           // subjectDirectoryAttributes
constexpr const char* kOidSubjectAltName = "2.5.29.17";           // subjectAltName
constexpr const char* kOidCertPolicies = "2.5.29.32";             // certificatePolicies
constexpr const char* kOidOcspNoCheck = "1.3.6.1.5.5.7.48.1.5";   // id-pkix-ocsp-nocheck
constexpr const char* kOidHpkiCaPolicy = "1.2.392.100495.1.5.1.1.3.1";
/** The policy the "wrong-policy" signer carries instead of the signing policy. */
constexpr const char* kOidWrongPolicy = "1.2.392.100495.1.5.1.2.3.1";

using ossl::X509RevokedPtr;

/** A certificate with its private key. */
struct Issued {
  ossl::X509Ptr cert;
  ossl::EvpPkeyPtr key;
};

// ---- time -------------------------------------------------------------------

/** `t` moved by whole calendar years (29 February becomes 28 February). */
TimePoint add_years(TimePoint t, int years) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const auto tod = t - day;
  year_month_day ymd{day};
  year_month_day moved{ymd.year() + std::chrono::years{years}, ymd.month(), ymd.day()};
  if (!moved.ok()) {
    moved = year_month_day{moved.year(), moved.month(), std::chrono::day{28}};
  }
  return sys_days{moved} + tod;
}

// ---- OpenSSL helpers ----------------------------------------------------------

/**
 * RSA-2048 keys made up front on a few threads: key generation is nearly all
 * of the time the dev PKI takes (about 0.1-0.3 s of CPU per key).
 */
class RsaKeyPool {
 public:
  static Result<RsaKeyPool> make(std::size_t count) {
    RsaKeyPool pool;
    pool.m_keys.resize(count);
    const unsigned hw = std::thread::hardware_concurrency();
    const std::size_t threads = std::clamp<std::size_t>(hw == 0 ? 1 : hw, 1, 4);
    auto work = [&pool, threads](std::size_t first) noexcept {
      for (std::size_t i = first; i < pool.m_keys.size(); i += threads) {
        pool.m_keys[i].reset(EVP_RSA_gen(2048));
      }
      ERR_clear_error();  // this thread's queue; failures are reported below
    };
    std::vector<std::thread> workers;
    try {
      for (std::size_t t = 1; t < threads && t < count; ++t) {
        workers.emplace_back(work, t);
      }
    } catch (const std::system_error&) {
      // fewer threads than hoped: the keys they would have made are made below
    }
    work(0);
    for (auto& w : workers) {
      w.join();
    }
    for (auto& k : pool.m_keys) {
      if (!k) {
        k.reset(EVP_RSA_gen(2048));  // a worker that never started, or a failure: one more try here
        if (!k) {
          return std::unexpected(openssl_error(Errc::crypto, "RSA-2048 key generation failed"));
        }
      }
    }
    return pool;
  }

  /** The next unused key; an Error once all are used (a bug in the count). */
  Result<ossl::EvpPkeyPtr> next() {
    if (m_next >= m_keys.size()) {
      return fail(Errc::internal, "dev PKI: RSA key pool exhausted");
    }
    return std::move(m_keys[m_next++]);
  }

 private:
  std::vector<ossl::EvpPkeyPtr> m_keys;
  std::size_t m_next = 0;
};

Result<ossl::EvpPkeyPtr> rsa_key(unsigned bits) {
  ossl::EvpPkeyPtr key(EVP_RSA_gen(bits));
  if (!key) {
    return std::unexpected(openssl_error(Errc::crypto, "RSA-" + std::to_string(bits) + " key generation failed"));
  }
  return key;
}

Result<ossl::EvpPkeyPtr> ec_key() {
  ossl::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    return std::unexpected(openssl_error(Errc::crypto, "EC P-256 key generation failed"));
  }
  return key;
}

Result<ossl::X509NamePtr> make_name(std::initializer_list<std::pair<const char*, std::string_view>> rdns) {
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) {
    return std::unexpected(openssl_error(Errc::crypto, "X509_NAME_new"));
  }
  for (const auto& [field, value] : rdns) {
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return std::unexpected(openssl_error(Errc::crypto, std::string("cannot add name attribute ") + field));
    }
  }
  return name;
}

Result<void> set_random_serial(X509* cert) {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof buf) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "RAND_bytes"));
  }
  buf[0] &= 0x7F;  // positive (RFC 5280 section 4.1.2.2)
  if (buf[0] == 0) {
    buf[0] = 0x01;  // keep all 16 octets
  }
  ossl::BignumPtr bn(BN_bin2bn(buf, sizeof buf, nullptr));
  ossl::Asn1IntegerPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot set the serial number"));
  }
  return {};
}

/** Adds an extension written in OpenSSL's v3 configuration syntax ("critical,CA:TRUE"). */
Result<void> add_conf_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ossl::X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, std::string("cannot add extension ") + OBJ_nid2sn(nid) + " = " + value));
  }
  return {};
}

/** Adds an extension whose value is DER written by hand. */
Result<void> add_raw_ext(X509* cert, const char* oid, bool critical, ByteView value) {
  ossl::Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
  ossl::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
  if (!obj || !data || ASN1_OCTET_STRING_set(data.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, std::string("cannot encode extension ") + oid));
  }
  ossl::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, data.get()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, std::string("cannot add extension ") + oid));
  }
  return {};
}

Bytes name_der(const X509_NAME* name) { return ossl::to_der<i2d_X509_NAME>(name); }

/** certificatePolicies with one policy and a CPS pointer qualifier (RFC 5280 section 4.2.1.4). */
Bytes policies_der(std::string_view policy_oid) {
  const Bytes qualifier = der::sequence({der::oid(kOidCpsQualifier), der::ia5_string(kCpsUrl)});
  const Bytes info = der::sequence({der::oid(policy_oid), der::sequence({qualifier})});
  return der::sequence({info});
}

/**
 * subjectDirectoryAttributes holding one HCActor (domain.md section 1; all context tags EXPLICIT):
 *   SEQUENCE { SEQUENCE { OID 1.0.17090.0.1, SET { SET { SEQUENCE {
 *     [0] SET { [0] OID 1.2.392.100495.1.6.1.1, [2] UTF8String role } } } } } }
 */
Bytes hc_role_der(std::string_view role) {
  const Bytes coded = der::tlv(der::kSet, der::cat({der::explicit_tag(0, der::oid(kOidJhpkiCdata)),
                                                     der::explicit_tag(2, der::utf8_string(role))}));
  const Bytes actor = der::sequence({der::explicit_tag(0, coded)});
  const Bytes actor_data = der::set_of({actor});
  const Bytes values = der::set_of({actor_data});
  const Bytes attribute = der::sequence({der::oid(kOidHcActor), values});
  return der::sequence({attribute});
}

/** GeneralNames with one directoryName ([4] EXPLICIT Name, RFC 5280 section 4.2.1.6). */
Bytes san_dirname_der(const X509_NAME* name) {
  const Bytes dn = name_der(name);
  return der::sequence({der::tlv(der::context_constructed(4), dn)});
}

/** otherName ::= [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }. */
Bytes other_name_utf8(std::string_view oid, std::string_view value) {
  return der::tlv(der::context_constructed(0), der::cat({der::oid(oid), der::explicit_tag(0, der::utf8_string(value))}));
}

/** Callback adding the profile's extensions; SKI/AKI are added by make_cert. */
using ExtAdder = std::function<Result<void>(X509* cert, X509V3_CTX* ctx)>;

/**
 * Issues a certificate for `subject_key`: v3, random serial, signature
 * (SHA-256 unless `md` says otherwise) by `issuer` (nullptr: self-signed with `subject_key`).
 */
Result<ossl::X509Ptr> make_cert(const X509_NAME* subject, EVP_PKEY* subject_key, const Issued* issuer, TimePoint not_before,
                                TimePoint not_after, const ExtAdder& add_exts, const EVP_MD* md = EVP_sha256()) {
  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "X509_new"));
  }
  if (auto r = set_random_serial(cert.get()); !r) {
    return std::unexpected(r.error());
  }
  ossl::Asn1TimePtr nb = ossl::timepoint_to_asn1(not_before);
  ossl::Asn1TimePtr na = ossl::timepoint_to_asn1(not_after);
  if (!nb || !na || X509_set1_notBefore(cert.get(), nb.get()) != 1 || X509_set1_notAfter(cert.get(), na.get()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot set the validity"));
  }
  const X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer->cert.get()) : subject;
  if (X509_set_subject_name(cert.get(), subject) != 1 || X509_set_issuer_name(cert.get(), issuer_name) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot set names or public key"));
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->cert.get() : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (auto r = add_conf_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash"); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = add_conf_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = add_exts(cert.get(), &ctx); !r) {
    return std::unexpected(r.error());
  }
  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key.get() : subject_key;
  if (X509_sign(cert.get(), signing_key, md) <= 0) {
    return std::unexpected(openssl_error(Errc::crypto, "X509_sign"));
  }
  return cert;
}

Result<void> ca_exts(X509* cert, X509V3_CTX* ctx, bool pathlen0) {
  if (auto r = add_conf_ext(cert, ctx, NID_basic_constraints, pathlen0 ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE"); !r) {
    return r;
  }
  return add_conf_ext(cert, ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
}

Result<Issued> make_root(RsaKeyPool& keys, const X509_NAME* subject, TimePoint nb, TimePoint na) {
  auto key = keys.next();
  if (!key) {
    return std::unexpected(key.error());
  }
  auto cert = make_cert(subject, key->get(), nullptr, nb, na, [](X509* c, X509V3_CTX* ctx) { return ca_exts(c, ctx, false); });
  if (!cert) {
    return std::unexpected(cert.error());
  }
  return Issued{std::move(*cert), std::move(*key)};
}

// ---- output -----------------------------------------------------------------

Result<std::string> key_to_pem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot write a private key as PEM"));
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<std::string> crl_to_pem(X509_CRL* crl) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot write the CRL as PEM"));
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<void> write(const fs::path& p, std::string_view content) {
  auto r = write_file(p.string(), content);
  if (!r) {
    return fail(r.error().code, "dev PKI: " + r.error().message);
  }
  return {};
}

/**
 * A CRL of `ca`: v2, cRLNumber `number`, AKI, one entry per revoked serial with
 * revocationDate `revoked_at` (default: `now`); valid now..now+30d.
 */
Result<ossl::X509CrlPtr> make_crl(const Issued& ca, const std::vector<const X509*>& revoked, TimePoint now,
                                  std::optional<TimePoint> revoked_at = std::nullopt, long number = 1) {
  ossl::X509CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 || X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "X509_CRL_new"));
  }
  ossl::Asn1TimePtr this_update = ossl::timepoint_to_asn1(now);
  ossl::Asn1TimePtr next_update = ossl::timepoint_to_asn1(now + std::chrono::days{30});
  if (!this_update || !next_update || X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot set the CRL times"));
  }
  for (const X509* cert : revoked) {
    X509RevokedPtr entry(X509_REVOKED_new());
    if (!entry || X509_REVOKED_set_serialNumber(entry.get(), const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(cert))) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), revoked_at ? ossl::timepoint_to_asn1(*revoked_at).get() : this_update.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return std::unexpected(openssl_error(Errc::crypto, "cannot add a CRL entry"));
    }
    entry.release();  // owned by the CRL now
  }
  const long number_value = number;
  ossl::Asn1IntegerPtr number_int(ASN1_INTEGER_new());
  if (!number_int || ASN1_INTEGER_set(number_int.get(), number_value) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number_int.get(), 0, 0) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot add cRLNumber"));
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), nullptr, nullptr, crl.get(), 0);
  ossl::X509ExtPtr aki(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot add the CRL's authorityKeyIdentifier"));
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) <= 0) {
    return std::unexpected(openssl_error(Errc::crypto, "X509_CRL_sign"));
  }
  return crl;
}

/** One HPKI signer (domain.md section 1). */
struct SignerSpec {
  const char* id;
  const char* description;
  const char* hospital_romaji;
  const char* hospital_kanji;
  const char* name_romaji;
  const char* name_kanji;
  const char* serial_number;
  std::optional<std::string> role;
  bool expired = false;
  bool ec = false;
  bool rsa1024 = false;                         ///< RSA-1024 key instead of RSA-2048
  bool sha1 = false;                            ///< certificate signed with sha1WithRSAEncryption
  const char* policy = kOidHpkiSignPolicy;      ///< certificatePolicies OID
};

/**
 * Checks a revocation base URL for use in OpenSSL's extension syntax:
 * http:// only, no characters that the configuration parser would split on.
 * Returns it without a trailing slash.
 */
Result<std::string> checked_base_url(std::string url) {
  if (url.empty()) {
    return url;
  }
  if (!url.starts_with("http://") || url.size() <= 7) {
    return fail(Errc::invalid_argument, "dev PKI: revocation_base_url must be an http:// URL: " + url);
  }
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == ',' || c == ';' || c == '"' || c == '\\') {
      return fail(Errc::invalid_argument, "dev PKI: revocation_base_url has a character not allowed here: " + url);
    }
  }
  while (url.ends_with('/')) {
    url.pop_back();
  }
  return url;
}

/** "URI:<base>/crl/<name>.crl" for NID_crl_distribution_points. */
std::string cdp_value(const std::string& base, std::string_view name) { return "URI:" + base + "/crl/" + std::string(name) + ".crl"; }

/** "OCSP;URI:<base>/ocsp,caIssuers;URI:<base>/certs/<issuer>.der" for NID_info_access. */
std::string aia_value(const std::string& base, std::string_view issuer) {
  return "OCSP;URI:" + base + "/ocsp,caIssuers;URI:" + base + "/certs/" + std::string(issuer) + ".der";
}


}  // namespace

const DevPkiItem& DevPki::get(std::string_view id) const {
  for (const auto& item : items) {
    if (item.id == id) {
      return item;
    }
  }
  throw std::out_of_range("no dev PKI item '" + std::string(id) + "'");
}

Result<DevPki> generate_dev_pki(const fs::path& out, TimePoint now) { return generate_dev_pki(out, now, DevPkiOptions{}); }

Result<DevPki> generate_dev_pki(const fs::path& out, TimePoint now, const DevPkiOptions& options) {
  auto base_url = checked_base_url(options.revocation_base_url);
  if (!base_url) {
    return std::unexpected(base_url.error());
  }
  const std::string base = *base_url;
  std::error_code ec;
  fs::create_directories(out / "trust", ec);
  if (ec) {
    return fail(Errc::io, "cannot create " + (out / "trust").string() + ": " + ec.message());
  }
  const TimePoint ca_from = add_years(now, -3);
  const TimePoint ca_to = add_years(now, 10);
  const TimePoint signer_from = now - std::chrono::days{1};
  const TimePoint signer_to = add_years(now, 5);

  // hpki-root, hpki-signing-ca, 9 RSA-2048 HPKI signers (7 + sha1 + wrong-policy), ocsp-responder,
  // ocsp-unauthorized, jpki-root, jpki-signer, tsa-root, tsa, tsa-noncritical-eku.
  constexpr std::size_t kRsaKeys = 18;
  auto pool = RsaKeyPool::make(kRsaKeys);
  if (!pool) {
    return std::unexpected(pool.error());
  }
  RsaKeyPool& keys = *pool;

  DevPki pki;
  pki.dir = out;
  pki.trust_dir = out / "trust";
  pki.crl = out / "trust" / "hpki-signing-ca.crl.pem";
  pki.root_crl = out / "trust" / "hpki-root.crl.pem";
  pki.revocation_base_url = base;
  pki.created = now;

  // Every file is written at the end, after all certificates were made.
  std::vector<std::pair<fs::path, std::string>> files;
  std::vector<fs::path> key_files;

  auto record = [&](std::string id, std::string kind, std::string description, const Issued& item, const std::vector<const X509*>& chain,
                    std::optional<std::string> role) -> Result<void> {
    DevPkiItem di;
    di.id = std::move(id);
    di.kind = std::move(kind);
    di.description = std::move(description);
    di.role = std::move(role);
    di.cert = out / (di.id + ".pem");
    files.emplace_back(di.cert, ossl::x509_to_pem(item.cert.get()));
    if (item.key) {
      auto pem = key_to_pem(item.key.get());
      if (!pem) {
        return std::unexpected(pem.error());
      }
      di.key = out / (di.id + ".key.pem");
      files.emplace_back(di.key, std::move(*pem));
      key_files.push_back(di.key);
    }
    if (!chain.empty()) {
      std::string text;
      for (const X509* c : chain) {
        text += ossl::x509_to_pem(c);
      }
      di.chain = out / (di.id + ".chain.pem");
      files.emplace_back(di.chain, std::move(text));
    }
    pki.items.push_back(std::move(di));
    return {};
  };

#define HANKO_TRY(expr)                      \
  do {                                       \
    if (auto r_ = (expr); !r_) {             \
      return std::unexpected(r_.error());    \
    }                                        \
  } while (0)

  // ---- HPKI -------------------------------------------------------------------
  auto hpki_root_name = make_name({{"C", "JP"}, {"O", "Hanko Development PKI"}, {"OU", "DEVELOPMENT ONLY"}, {"CN", "Hanko Dev HPKI Root CA"}});
  if (!hpki_root_name) {
    return std::unexpected(hpki_root_name.error());
  }
  auto hpki_root = make_root(keys, hpki_root_name->get(), ca_from, ca_to);
  if (!hpki_root) {
    return std::unexpected(hpki_root.error());
  }
  HANKO_TRY(record("hpki-root", "root-ca", "HPKI-like root CA (self-signed), DEVELOPMENT ONLY", *hpki_root, {}, std::nullopt));

  auto signing_ca_name = make_name({{"C", "JP"},
                                    {"O", "Hanko Development PKI"},
                                    {"OU", "Hanko Dev HPKI CA"},
                                    {"CN", "Hanko-Dev-HPKI-SignCA-forNonRepudiation"}});
  if (!signing_ca_name) {
    return std::unexpected(signing_ca_name.error());
  }
  Issued signing_ca;
  {
    auto key = keys.next();
    if (!key) {
      return std::unexpected(key.error());
    }
    auto cert = make_cert(signing_ca_name->get(), key->get(), &*hpki_root, ca_from, ca_to, [&base](X509* c, X509V3_CTX* ctx) -> Result<void> {
      HANKO_TRY(ca_exts(c, ctx, true));
      HANKO_TRY(add_raw_ext(c, kOidCertPolicies, false, policies_der(kOidHpkiCaPolicy)));
      if (!base.empty()) {
        HANKO_TRY(add_conf_ext(c, ctx, NID_crl_distribution_points, cdp_value(base, "hpki-root").c_str()));
      }
      return {};
    });
    if (!cert) {
      return std::unexpected(cert.error());
    }
    signing_ca = Issued{std::move(*cert), std::move(*key)};
  }
  HANKO_TRY(record("hpki-signing-ca", "ca", "HPKI-like signing CA under hpki-root; issues the HPKI signers and the CRL", signing_ca, {},
                   std::nullopt));

  const std::vector<SignerSpec> signers = {
      {"doctor", "HPKI signer, hcRole Medical Doctor", "Hanko Sogo Byoin", "判子総合病院", "Yamada Taro", "山田 太郎", "DEV-HPKI-0001",
       "Medical Doctor"},
      {"dentist", "HPKI signer, hcRole Dentist", "Hanko Shika Iin", "判子歯科医院", "Suzuki Ichiro", "鈴木 一郎", "DEV-HPKI-0002", "Dentist"},
      {"pharmacist", "HPKI signer, hcRole Pharmacist", "Hanko Yakkyoku", "判子薬局", "Sato Hanako", "佐藤 花子", "DEV-HPKI-0003",
       "Pharmacist"},
      {"nurse", "HPKI signer, hcRole Nurse", "Hanko Sogo Byoin", "判子総合病院", "Tanaka Yuki", "田中 由紀", "DEV-HPKI-0004", "Nurse"},
      {"no-role", "HPKI signer profile without subjectDirectoryAttributes (no hcRole)", "Hanko Sogo Byoin", "判子総合病院",
       "Takahashi Ken", "高橋 健", "DEV-HPKI-0005", std::nullopt},
      {"expired", "HPKI signer, hcRole Medical Doctor, expired (valid from 2 years to 1 year before creation)", "Hanko Sogo Byoin",
       "判子総合病院", "Ito Jiro", "伊藤 次郎", "DEV-HPKI-0006", "Medical Doctor", true},
      {"revoked", "HPKI signer, hcRole Medical Doctor, revoked at creation time (listed in the CRL)", "Hanko Sogo Byoin", "判子総合病院",
       "Watanabe Saburo", "渡辺 三郎", "DEV-HPKI-0007", "Medical Doctor"},
      {"doctor-ec", "HPKI-profile signer, hcRole Medical Doctor, EC P-256 key (ES256)", "Hanko Sogo Byoin", "判子総合病院",
       "Kobayashi Akira", "小林 明", "DEV-HPKI-0008", "Medical Doctor", false, true},
      {"rsa1024", "HPKI-profile signer, hcRole Medical Doctor, RSA-1024 key (too weak: negative tests)", "Hanko Sogo Byoin",
       "判子総合病院", "Kato Shiro", "加藤 四郎", "DEV-HPKI-0009", "Medical Doctor", false, false, true},
      {"sha1", "HPKI-profile signer, hcRole Medical Doctor, certificate signed with sha1WithRSAEncryption (negative tests)",
       "Hanko Sogo Byoin", "判子総合病院", "Yoshida Goro", "吉田 五郎", "DEV-HPKI-0010", "Medical Doctor", false, false, false, true},
      {"wrong-policy", "HPKI-profile signer, hcRole Medical Doctor, certificatePolicies 1.2.392.100495.1.5.1.2.3.1 instead of the signing policy",
       "Hanko Sogo Byoin", "判子総合病院", "Yamaguchi Rokuro", "山口 六郎", "DEV-HPKI-0011", "Medical Doctor", false, false, false, false,
       kOidWrongPolicy},
  };
  ossl::X509Ptr revoked_cert;
  for (const auto& s : signers) {
    auto subject = make_name({{"C", "JP"}, {"O", s.hospital_romaji}, {"CN", s.name_romaji}, {"serialNumber", s.serial_number}});
    auto kanji = make_name({{"C", "JP"}, {"O", s.hospital_kanji}, {"CN", s.name_kanji}});
    if (!subject || !kanji) {
      return std::unexpected(!subject ? subject.error() : kanji.error());
    }
    auto key = s.ec ? ec_key() : (s.rsa1024 ? rsa_key(1024) : keys.next());
    if (!key) {
      return std::unexpected(key.error());
    }
    const TimePoint from = s.expired ? add_years(now, -2) : signer_from;
    const TimePoint to = s.expired ? add_years(now, -1) : signer_to;
    const X509_NAME* kanji_name = kanji->get();
    auto cert = make_cert(subject->get(), key->get(), &signing_ca, from, to, [&](X509* c, X509V3_CTX* ctx) -> Result<void> {
      HANKO_TRY(add_conf_ext(c, ctx, NID_key_usage, "critical,nonRepudiation"));
      HANKO_TRY(add_raw_ext(c, kOidCertPolicies, true, policies_der(s.policy)));
      HANKO_TRY(add_raw_ext(c, kOidSubjectAltName, false, san_dirname_der(kanji_name)));
      if (s.role) {
        HANKO_TRY(add_raw_ext(c, kOidSubjectDirAttrs, false, hc_role_der(*s.role)));
      }
      if (base.empty()) {
        return add_conf_ext(c, ctx, NID_crl_distribution_points, kCrlUrl);
      }
      HANKO_TRY(add_conf_ext(c, ctx, NID_crl_distribution_points, cdp_value(base, "hpki-signing-ca").c_str()));
      return add_conf_ext(c, ctx, NID_info_access, aia_value(base, "hpki-signing-ca").c_str());
    }, s.sha1 ? EVP_sha1() : EVP_sha256());
    if (!cert) {
      return std::unexpected(cert.error());
    }
    Issued issued{std::move(*cert), std::move(*key)};
    HANKO_TRY(record(s.id, "signer", s.description, issued, {signing_ca.cert.get()}, s.role));
    if (std::string_view(s.id) == "revoked") {
      revoked_cert = ossl::up_ref(issued.cert.get());
    }
  }

  // ---- OCSP responder for the signing CA ----------------------------------------
  {
    auto name = make_name({{"C", "JP"}, {"O", "Hanko Development PKI"}, {"CN", "Hanko Dev HPKI OCSP Responder"}});
    auto key = keys.next();
    if (!name || !key) {
      return std::unexpected(!name ? name.error() : key.error());
    }
    auto cert = make_cert(name->get(), key->get(), &signing_ca, ca_from, ca_to, [](X509* c, X509V3_CTX* ctx) -> Result<void> {
      HANKO_TRY(add_conf_ext(c, ctx, NID_key_usage, "critical,digitalSignature"));
      HANKO_TRY(add_conf_ext(c, ctx, NID_ext_key_usage, "OCSPSigning"));
      return add_raw_ext(c, kOidOcspNoCheck, false, der::null_value());  // RFC 6960 section 4.2.2.2.1
    });
    if (!cert) {
      return std::unexpected(cert.error());
    }
    Issued issued{std::move(*cert), std::move(*key)};
    HANKO_TRY(record("ocsp-responder", "ocsp-responder", "OCSP responder delegated by hpki-signing-ca (EKU OCSPSigning, ocsp-nocheck)",
                     issued, {signing_ca.cert.get()}, std::nullopt));
  }

  // ---- JPKI ---------------------------------------------------------------------
  auto jpki_root_name = make_name({{"C", "JP"},
                                   {"O", "JPKI DEV"},
                                   {"OU", "JPKI for digital signature"},
                                   {"OU", "Hanko Development PKI - DEVELOPMENT ONLY"}});
  if (!jpki_root_name) {
    return std::unexpected(jpki_root_name.error());
  }
  auto jpki_root = make_root(keys, jpki_root_name->get(), ca_from, ca_to);
  if (!jpki_root) {
    return std::unexpected(jpki_root.error());
  }
  HANKO_TRY(record("jpki-root", "root-ca", "JPKI-like root CA for digital signature (self-signed), DEVELOPMENT ONLY", *jpki_root, {},
                   std::nullopt));
  {
    auto name = make_name({{"C", "JP"}, {"L", "Tokyo-to"}, {"L", "Chiyoda-ku"}, {"CN", "DEV0000JPKI0001"}});
    auto key = keys.next();
    if (!name || !key) {
      return std::unexpected(!name ? name.error() : key.error());
    }
    auto cert = make_cert(name->get(), key->get(), &*jpki_root, signer_from, signer_to, [&base](X509* c, X509V3_CTX* ctx) -> Result<void> {
      HANKO_TRY(add_conf_ext(c, ctx, NID_key_usage, "critical,nonRepudiation"));
      if (!base.empty()) {
        HANKO_TRY(add_conf_ext(c, ctx, NID_crl_distribution_points, cdp_value(base, "jpki-root").c_str()));
        HANKO_TRY(add_conf_ext(c, ctx, NID_info_access, aia_value(base, "jpki-root").c_str()));
      }
      HANKO_TRY(add_raw_ext(c, kOidCertPolicies, true, policies_der(kOidJpkiSignPolicy)));
      const Bytes san = der::sequence({other_name_utf8(kOidJpkiName, "山田 花子"), other_name_utf8(kOidJpkiGender, "2"),
                                       other_name_utf8(kOidJpkiBirthDate, "41990401"),
                                       other_name_utf8(kOidJpkiAddress, "東京都千代田区千代田1番1号")});
      return add_raw_ext(c, kOidSubjectAltName, false, san);
    });
    if (!cert) {
      return std::unexpected(cert.error());
    }
    Issued issued{std::move(*cert), std::move(*key)};
    HANKO_TRY(record("jpki-signer", "signer", "JPKI-style signing certificate (My Number card profile, 基本4情報 in otherNames)", issued, {},
                     std::nullopt));
  }

  // ---- TSA ----------------------------------------------------------------------
  auto tsa_root_name = make_name({{"C", "JP"}, {"O", "Hanko Development PKI"}, {"OU", "DEVELOPMENT ONLY"}, {"CN", "Hanko Dev TSA Root CA"}});
  if (!tsa_root_name) {
    return std::unexpected(tsa_root_name.error());
  }
  auto tsa_root = make_root(keys, tsa_root_name->get(), ca_from, ca_to);
  if (!tsa_root) {
    return std::unexpected(tsa_root.error());
  }
  HANKO_TRY(record("tsa-root", "root-ca", "root CA of the development TSA (self-signed), DEVELOPMENT ONLY", *tsa_root, {}, std::nullopt));
  {
    auto name = make_name({{"C", "JP"}, {"O", "Hanko Development PKI"}, {"CN", "Hanko Dev TSA"}});
    auto key = keys.next();
    if (!name || !key) {
      return std::unexpected(!name ? name.error() : key.error());
    }
    auto cert = make_cert(name->get(), key->get(), &*tsa_root, ca_from, ca_to, [](X509* c, X509V3_CTX* ctx) -> Result<void> {
      HANKO_TRY(add_conf_ext(c, ctx, NID_key_usage, "critical,digitalSignature,nonRepudiation"));
      return add_conf_ext(c, ctx, NID_ext_key_usage, "critical,timeStamping");  // RFC 3161 section 2.3
    });
    if (!cert) {
      return std::unexpected(cert.error());
    }
    Issued issued{std::move(*cert), std::move(*key)};
    HANKO_TRY(record("tsa", "tsa", "RFC 3161 TSA certificate (EKU timeStamping only, critical) under tsa-root", issued, {}, std::nullopt));
  }
  {
    auto name = make_name({{"C", "JP"}, {"O", "Hanko Development PKI"}, {"CN", "Hanko Dev TSA (non-critical EKU)"}});
    auto key = keys.next();
    if (!name || !key) {
      return std::unexpected(!name ? name.error() : key.error());
    }
    auto cert = make_cert(name->get(), key->get(), &*tsa_root, ca_from, ca_to, [](X509* c, X509V3_CTX* ctx) -> Result<void> {
      HANKO_TRY(add_conf_ext(c, ctx, NID_key_usage, "critical,digitalSignature,nonRepudiation"));
      return add_conf_ext(c, ctx, NID_ext_key_usage, "timeStamping");  // NOT critical: violates RFC 3161 section 2.3
    });
    if (!cert) {
      return std::unexpected(cert.error());
    }
    Issued issued{std::move(*cert), std::move(*key)};
    HANKO_TRY(record("tsa-noncritical-eku", "tsa",
                     "TSA certificate under tsa-root whose EKU timeStamping is NOT critical (RFC 3161 section 2.3 violation: negative tests)",
                     issued, {}, std::nullopt));
  }

  // ---- an OCSP responder that is not authorized for the HPKI signing CA ----------
  {
    auto name = make_name({{"C", "JP"}, {"O", "Hanko Development PKI"}, {"CN", "Hanko Dev Unauthorized OCSP Responder"}});
    auto key = keys.next();
    if (!name || !key) {
      return std::unexpected(!name ? name.error() : key.error());
    }
    auto cert = make_cert(name->get(), key->get(), &*tsa_root, ca_from, ca_to, [](X509* c, X509V3_CTX* ctx) -> Result<void> {
      HANKO_TRY(add_conf_ext(c, ctx, NID_key_usage, "critical,digitalSignature"));
      HANKO_TRY(add_conf_ext(c, ctx, NID_ext_key_usage, "OCSPSigning"));
      return add_raw_ext(c, kOidOcspNoCheck, false, der::null_value());
    });
    if (!cert) {
      return std::unexpected(cert.error());
    }
    Issued issued{std::move(*cert), std::move(*key)};
    HANKO_TRY(record("ocsp-unauthorized", "ocsp-responder",
                     "OCSP responder certificate (EKU OCSPSigning) issued by tsa-root: NOT authorized for hpki-signing-ca (negative tests)",
                     issued, {}, std::nullopt));
  }

  // ---- CRL and trust folder -------------------------------------------------------
  auto crl = make_crl(signing_ca, {revoked_cert.get()}, now);
  if (!crl) {
    return std::unexpected(crl.error());
  }
  auto crl_pem = crl_to_pem(crl->get());
  if (!crl_pem) {
    return std::unexpected(crl_pem.error());
  }
  files.emplace_back(pki.crl, std::move(*crl_pem));
  auto root_crl = make_crl(*hpki_root, {}, now);
  if (!root_crl) {
    return std::unexpected(root_crl.error());
  }
  auto root_crl_pem = crl_to_pem(root_crl->get());
  if (!root_crl_pem) {
    return std::unexpected(root_crl_pem.error());
  }
  files.emplace_back(pki.root_crl, std::move(*root_crl_pem));
  // The JPKI root's (empty) CRL, so that the JPKI signer's revocation can be
  // checked offline from the trust folder when no revocation server is used.
  auto jpki_crl = make_crl(*jpki_root, {}, now);
  if (!jpki_crl) {
    return std::unexpected(jpki_crl.error());
  }
  auto jpki_crl_pem = crl_to_pem(jpki_crl->get());
  if (!jpki_crl_pem) {
    return std::unexpected(jpki_crl_pem.error());
  }
  files.emplace_back(pki.trust_dir / "jpki-root.crl.pem", std::move(*jpki_crl_pem));
  // The TSA root's (empty) CRL: B-LT needs revocation data for the TSA's certificate too.
  auto tsa_crl = make_crl(*tsa_root, {}, now);
  if (!tsa_crl) {
    return std::unexpected(tsa_crl.error());
  }
  auto tsa_crl_pem = crl_to_pem(tsa_crl->get());
  if (!tsa_crl_pem) {
    return std::unexpected(tsa_crl_pem.error());
  }
  files.emplace_back(pki.trust_dir / "tsa-root.crl.pem", std::move(*tsa_crl_pem));
  files.emplace_back(pki.trust_dir / "hpki-root.pem", ossl::x509_to_pem(hpki_root->cert.get()));
  files.emplace_back(pki.trust_dir / "jpki-root.pem", ossl::x509_to_pem(jpki_root->cert.get()));
  files.emplace_back(pki.trust_dir / "tsa-root.pem", ossl::x509_to_pem(tsa_root->cert.get()));
#undef HANKO_TRY

  // ---- manifest ---------------------------------------------------------------------
  auto rel = [&](const fs::path& p) -> json::Value {
    if (p.empty()) {
      return nullptr;
    }
    return p.lexically_relative(out).generic_string();
  };
  json::Array items;
  for (const auto& it : pki.items) {
    json::Object o;
    o.emplace_back("id", it.id);
    o.emplace_back("kind", it.kind);
    o.emplace_back("description", it.description);
    o.emplace_back("cert", rel(it.cert));
    o.emplace_back("key", rel(it.key));
    o.emplace_back("chain", rel(it.chain));
    o.emplace_back("role", it.role ? json::Value(*it.role) : json::Value(nullptr));
    items.emplace_back(std::move(o));
  }
  json::Object manifest;
  manifest.emplace_back("format", std::string(kFormat));
  manifest.emplace_back("created", format_rfc3339(now));
  manifest.emplace_back("warning", std::string(kWarning));
  manifest.emplace_back("trust_dir", rel(pki.trust_dir));
  manifest.emplace_back("crl", rel(pki.crl));
  manifest.emplace_back("root_crl", rel(pki.root_crl));
  manifest.emplace_back("jpki_root_crl", rel(pki.trust_dir / "jpki-root.crl.pem"));
  manifest.emplace_back("tsa_root_crl", rel(pki.trust_dir / "tsa-root.crl.pem"));
  manifest.emplace_back("revocation_base_url", base.empty() ? json::Value(nullptr) : json::Value(base));
  manifest.emplace_back("items", std::move(items));
  files.emplace_back(out / "manifest.json", json::serialize(json::Value(std::move(manifest)), 2) + "\n");

  for (const auto& [path, content] : files) {
    if (auto r = write(path, content); !r) {
      return std::unexpected(r.error());
    }
  }
  for (const auto& k : key_files) {
    fs::permissions(k, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);  // best effort
  }
  return pki;
}

Result<DevPki> load_dev_pki(const fs::path& dir) {
  const fs::path manifest_path = dir / "manifest.json";
  auto text = read_file(manifest_path.string(), 1u << 20);
  if (!text) {
    return fail(text.error().code, "dev PKI: " + text.error().message);
  }
  auto doc = json::parse(*text);
  if (!doc) {
    return fail(Errc::invalid_argument, manifest_path.string() + ": " + doc.error().message);
  }
  auto bad = [&](const std::string& what) { return fail(Errc::invalid_argument, manifest_path.string() + ": " + what); };
  if (!doc->is_object()) {
    return bad("not a JSON object");
  }
  const std::string* format = doc->find_string("format");
  if (format == nullptr || *format != kFormat) {
    return bad("format is not \"" + std::string(kFormat) + "\"");
  }
  // A relative path inside the folder; "" or null means none.
  auto path_of = [&](const json::Value& obj, std::string_view key, bool required) -> Result<fs::path> {
    const json::Value* v = obj.find(key);
    if (v == nullptr || v->is_null() || (v->is_string() && v->as_string().empty())) {
      if (required) {
        return bad("\"" + std::string(key) + "\" is missing");
      }
      return fs::path();
    }
    if (!v->is_string()) {
      return bad("\"" + std::string(key) + "\" is not a string");
    }
    const fs::path rel = fs::path(v->as_string()).lexically_normal();
    if (rel.is_absolute() || rel.empty() || *rel.begin() == "..") {
      return bad("\"" + std::string(key) + "\" must be a path inside the folder: " + v->as_string());
    }
    return dir / rel;
  };
  DevPki pki;
  pki.dir = dir;
  auto trust = path_of(*doc, "trust_dir", true);
  auto crl = path_of(*doc, "crl", true);
  if (!trust || !crl) {
    return std::unexpected(!trust ? trust.error() : crl.error());
  }
  pki.trust_dir = *trust;
  pki.crl = *crl;
  auto root_crl = path_of(*doc, "root_crl", false);  // absent in manifests written before it existed
  if (!root_crl) {
    return std::unexpected(root_crl.error());
  }
  pki.root_crl = *root_crl;
  if (const std::string* base = doc->find_string("revocation_base_url")) {
    pki.revocation_base_url = *base;
  }
  if (const std::string* created = doc->find_string("created")) {
    pki.created = parse_rfc3339(*created);
  }
  const json::Value* items = doc->find("items");
  if (items == nullptr || !items->is_array()) {
    return bad("\"items\" is not an array");
  }
  for (const auto& v : items->as_array()) {
    if (!v.is_object()) {
      return bad("an item is not an object");
    }
    DevPkiItem it;
    const std::string* id = v.find_string("id");
    const std::string* kind = v.find_string("kind");
    if (id == nullptr || id->empty() || kind == nullptr) {
      return bad("an item lacks \"id\" or \"kind\"");
    }
    it.id = *id;
    it.kind = *kind;
    if (const std::string* d = v.find_string("description")) {
      it.description = *d;
    }
    auto cert = path_of(v, "cert", true);
    auto key = path_of(v, "key", false);
    auto chain = path_of(v, "chain", false);
    if (!cert || !key || !chain) {
      return std::unexpected(!cert ? cert.error() : (!key ? key.error() : chain.error()));
    }
    it.cert = *cert;
    it.key = *key;
    it.chain = *chain;
    if (const std::string* role = v.find_string("role")) {
      it.role = *role;
    }
    std::error_code ec;
    if (!fs::is_regular_file(it.cert, ec)) {
      return bad("certificate of item \"" + it.id + "\" is missing: " + it.cert.string());
    }
    pki.items.push_back(std::move(it));
  }
  return pki;
}

Result<bool> refresh_dev_crls(const DevPki& pki, TimePoint now) {
  struct Crl {
    const char* ca_id;
    std::filesystem::path file;
    bool lists_revoked;
  };
  const std::vector<Crl> crls = {
      {"hpki-signing-ca", pki.crl, true},
      {"hpki-root", pki.root_crl.empty() ? pki.trust_dir / "hpki-root.crl.pem" : pki.root_crl, false},
      {"jpki-root", pki.trust_dir / "jpki-root.crl.pem", false},
      {"tsa-root", pki.trust_dir / "tsa-root.crl.pem", false},
  };
  bool stale = false;
  for (const auto& c : crls) {
    auto text = read_file(c.file.string(), 16u << 20);
    auto parsed = text ? ossl::x509_crls_from_pem(*text) : std::vector<ossl::X509CrlPtr>{};
    const ASN1_TIME* next = parsed.empty() ? nullptr : X509_CRL_get0_nextUpdate(parsed.front().get());
    auto next_tp = next != nullptr ? ossl::asn1_time_to_timepoint(next) : std::nullopt;
    if (!next_tp || *next_tp < now + std::chrono::days{7}) {
      stale = true;
    }
  }
  if (!stale) {
    return false;
  }
  auto load_issued = [&](std::string_view id) -> Result<Issued> {
    const DevPkiItem& item = pki.get(id);
    auto certs = ossl::load_certificates(item.cert.string());
    if (!certs || certs->empty()) {
      return fail(Errc::io, "dev PKI: cannot read " + item.cert.string());
    }
    auto key = ossl::load_private_key(item.key.string());
    if (!key) {
      return std::unexpected(key.error());
    }
    return Issued{std::move(certs->front()), std::move(*key)};
  };
  ossl::X509Ptr revoked;
  {
    auto certs = ossl::load_certificates(pki.get("revoked").cert.string());
    if (!certs || certs->empty()) {
      return fail(Errc::io, "dev PKI: cannot read the revoked signer's certificate");
    }
    revoked = std::move(certs->front());
  }
  const TimePoint revoked_at = pki.created.value_or(now);
  for (const auto& c : crls) {
    auto ca = load_issued(c.ca_id);
    if (!ca) {
      return std::unexpected(ca.error());
    }
    std::vector<const X509*> listed;
    if (c.lists_revoked) {
      listed.push_back(revoked.get());
    }
    auto crl = make_crl(*ca, listed, now, revoked_at, static_cast<long>(to_unix(now)));
    if (!crl) {
      return std::unexpected(crl.error());
    }
    auto pem = crl_to_pem(crl->get());
    if (!pem) {
      return std::unexpected(pem.error());
    }
    if (auto w = write_file(c.file.string(), *pem); !w) {
      return std::unexpected(w.error());
    }
  }
  return true;
}

}  // namespace hanko::certstore
