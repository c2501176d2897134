#include "tsa_test_util.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <openssl/ess.h>
#include <openssl/pem.h>

#include <atomic>
#include <stdexcept>

#include "hanko/certstore/dev_pki.h"
#include "test_support.h"

namespace hanko::tsa::testutil {
namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("test helper failed: ") + what);
  }
}

void add_ext(X509* x, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  require(ext != nullptr, "X509V3_EXT_conf_nid");
  require(X509_add_ext(x, ext.get(), -1) == 1, "X509_add_ext");
}

Bytes der_length_prefixed(std::uint8_t tag, ByteView content) {
  Bytes out{tag};
  std::size_t len = content.size();
  if (len < 0x80) {
    out.push_back(static_cast<std::uint8_t>(len));
  } else if (len < 0x100) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(len));
  } else if (len < 0x10000) {
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(len));
  } else {
    out.push_back(0x83);
    out.push_back(static_cast<std::uint8_t>(len >> 16));
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(len));
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

using TsStatusInfoPtr = ossl::Ptr<TS_STATUS_INFO, TS_STATUS_INFO_free>;

ossl::TsRespPtr parse_resp(ByteView resp) {
  const unsigned char* p = resp.data();
  return ossl::TsRespPtr(d2i_TS_RESP(nullptr, &p, static_cast<long>(resp.size())));
}

}  // namespace

DevTsaFixture::DevTsaFixture() : clock(test::sign_time()) {
  const auto& item = test::dev_pki().get("tsa");
  auto r = DevTsa::load(item.cert.string(), item.key.string(), item.chain.empty() ? "" : item.chain.string(), clock);
  if (!r) {
    throw std::runtime_error("DevTsa::load: " + r.error().message);
  }
  tsa = std::move(*r);
}

const certstore::TrustStore& dev_trust() {
  static certstore::TrustStore store = [] {
    auto r = certstore::TrustStore::load_dir(test::dev_pki().trust_dir);
    if (!r) {
      throw std::runtime_error("TrustStore::load_dir: " + r.error().message);
    }
    return std::move(*r);
  }();
  return store;
}

TestCert make_tsa_cert(const std::string& cn, bool eku_critical, const TestCert* reuse_key_of, long serial,
                       int extra_days) {
  TestCert out;
  if (reuse_key_of != nullptr) {
    EVP_PKEY_up_ref(reuse_key_of->key.get());
    out.key.reset(reuse_key_of->key.get());
  } else {
    out.key.reset(EVP_EC_gen("P-256"));
  }
  require(out.key != nullptr, "key generation");
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  require(X509_set_version(x, 2) == 1, "version");
  require(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1, "serial");
  X509_NAME* name = X509_get_subject_name(x);
  require(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                     -1, -1, 0) == 1,
          "subject");
  require(X509_set_issuer_name(x, name) == 1, "issuer");
  auto nb = ossl::timepoint_to_asn1(test::pki_time() - std::chrono::hours(24) + std::chrono::days(extra_days));
  auto na = ossl::timepoint_to_asn1(test::pki_time() + std::chrono::days(3650));
  require(X509_set1_notBefore(x, nb.get()) == 1 && X509_set1_notAfter(x, na.get()) == 1, "validity");
  require(X509_set_pubkey(x, out.key.get()) == 1, "pubkey");
  add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(x, NID_key_usage, "critical,digitalSignature");
  add_ext(x, NID_ext_key_usage, eku_critical ? "critical,timeStamping" : "timeStamping");
  add_ext(x, NID_subject_key_identifier, "hash");
  require(X509_sign(x, out.key.get(), EVP_sha256()) > 0, "X509_sign");
  return out;
}

namespace {

void add_ext_issued(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  require(ext != nullptr, "X509V3_EXT_conf_nid");
  require(X509_add_ext(x, ext.get(), -1) == 1, "X509_add_ext");
}

/** A certificate for `key`, named `cn`, valid around the host's now (TLS checks the host clock). */
ossl::X509Ptr tls_skeleton(const std::string& cn, EVP_PKEY* key, long serial) {
  ossl::X509Ptr x(X509_new());
  require(x != nullptr, "X509_new");
  require(X509_set_version(x.get(), 2) == 1, "version");
  require(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial) == 1, "serial");
  X509_NAME* name = X509_get_subject_name(x.get());
  require(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                     -1, -1, 0) == 1,
          "subject");
  require(X509_gmtime_adj(X509_getm_notBefore(x.get()), -24L * 3600) != nullptr, "notBefore");
  require(X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 24 * 3600) != nullptr, "notAfter");
  require(X509_set_pubkey(x.get(), key) == 1, "pubkey");
  return x;
}

}  // namespace

TestCert make_tls_ca(const std::string& cn) {
  TestCert out;
  out.key.reset(EVP_EC_gen("P-256"));
  require(out.key != nullptr, "key generation");
  out.cert = tls_skeleton(cn, out.key.get(), 1);
  X509* x = out.cert.get();
  require(X509_set_issuer_name(x, X509_get_subject_name(x)) == 1, "issuer");
  add_ext_issued(x, x, NID_basic_constraints, "critical,CA:TRUE");
  add_ext_issued(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext_issued(x, x, NID_subject_key_identifier, "hash");
  require(X509_sign(x, out.key.get(), EVP_sha256()) > 0, "X509_sign");
  return out;
}

TestCert issue_tls_cert(const TestCert& ca, const std::string& cn, bool server) {
  static std::atomic<long> serial{100};
  TestCert out;
  out.key.reset(EVP_EC_gen("P-256"));
  require(out.key != nullptr, "key generation");
  out.cert = tls_skeleton(cn, out.key.get(), serial++);
  X509* x = out.cert.get();
  require(X509_set_issuer_name(x, X509_get_subject_name(ca.cert.get())) == 1, "issuer");
  add_ext_issued(x, ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext_issued(x, ca.cert.get(), NID_key_usage, "critical,digitalSignature");
  add_ext_issued(x, ca.cert.get(), NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
  if (server) {
    add_ext_issued(x, ca.cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  add_ext_issued(x, ca.cert.get(), NID_authority_key_identifier, "keyid");
  require(X509_sign(x, ca.key.get(), EVP_sha256()) > 0, "X509_sign");
  return out;
}

std::string write_cert_pem(const std::filesystem::path& path, const X509* cert) {
  test::write_text(path, ossl::x509_to_pem(cert));
  return path.string();
}

std::string write_key_pem(const std::filesystem::path& path, const EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  require(bio != nullptr, "BIO_new");
  require(PEM_write_bio_PrivateKey(bio.get(), const_cast<EVP_PKEY*>(key), nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  test::write_text(path, std::string_view(data, static_cast<std::size_t>(n)));
  return path.string();
}

Bytes tst_info_of(ByteView token) {
  const unsigned char* p = token.data();
  ossl::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(token.size())));
  require(cms != nullptr, "d2i_CMS_ContentInfo");
  ASN1_OCTET_STRING** content = CMS_get0_content(cms.get());
  require(content != nullptr && *content != nullptr, "content");
  const unsigned char* d = ASN1_STRING_get0_data(*content);
  return Bytes(d, d + ASN1_STRING_length(*content));
}

Bytes with_imprint_alg(ByteView tst_info, int nid) {
  const unsigned char* p = tst_info.data();
  ossl::TsTstInfoPtr tst(d2i_TS_TST_INFO(nullptr, &p, static_cast<long>(tst_info.size())));
  require(tst != nullptr, "d2i_TS_TST_INFO");
  ossl::X509AlgorPtr alg(X509_ALGOR_new());
  require(X509_ALGOR_set0(alg.get(), OBJ_nid2obj(nid), V_ASN1_NULL, nullptr) == 1, "X509_ALGOR_set0");
  require(TS_MSG_IMPRINT_set_algo(TS_TST_INFO_get_msg_imprint(tst.get()), alg.get()) == 1, "set_algo");
  return ossl::to_der<i2d_TS_TST_INFO>(tst.get());
}

Bytes forge_token(ByteView tst_info, const TestCert& signer, const X509* ess_cert,
                  const std::vector<const X509*>& extra, const std::vector<const X509*>& ess_more) {
  ossl::BioPtr content(BIO_new_mem_buf(tst_info.data(), static_cast<int>(tst_info.size())));
  ossl::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
  require(cms != nullptr, "CMS_sign");
  require(CMS_set1_eContentType(cms.get(), OBJ_nid2obj(NID_id_smime_ct_TSTInfo)) == 1, "eContentType");
  CMS_SignerInfo* si =
      CMS_add1_signer(cms.get(), signer.cert.get(), signer.key.get(), EVP_sha256(), CMS_BINARY | CMS_NOSMIMECAP);
  require(si != nullptr, "CMS_add1_signer");
  if (ess_cert != nullptr) {
    ossl::X509StackPtr more(sk_X509_new_null());
    for (const X509* c : ess_more) {
      sk_X509_push(more.get(), ossl::up_ref(const_cast<X509*>(c)).release());
    }
    ossl::Ptr<ESS_SIGNING_CERT_V2, ESS_SIGNING_CERT_V2_free> sc(
        OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), ess_cert, more.get(), 0));
    require(sc != nullptr, "OSSL_ESS_signing_cert_v2_new_init");
    Bytes der = ossl::to_der<i2d_ESS_SIGNING_CERT_V2>(sc.get());
    require(CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE, der.data(),
                                        static_cast<int>(der.size())) == 1,
            "add signingCertificateV2");
  }
  for (const X509* c : extra) {
    require(CMS_add1_cert(cms.get(), const_cast<X509*>(c)) == 1, "CMS_add1_cert");
  }
  require(CMS_final(cms.get(), content.get(), nullptr, CMS_BINARY) == 1, "CMS_final");
  return ossl::to_der<i2d_CMS_ContentInfo>(cms.get());
}

Bytes wrap_granted(ByteView token) {
  const Bytes status{0x30, 0x03, 0x02, 0x01, 0x00};
  Bytes body = status;
  body.insert(body.end(), token.begin(), token.end());
  return der_length_prefixed(0x30, body);
}

Bytes token_of_response(ByteView resp) {
  auto r = parse_resp(resp);
  require(r != nullptr, "d2i_TS_RESP");
  require(TS_RESP_get_token(r.get()) != nullptr, "token present");
  return ossl::to_der<i2d_PKCS7>(TS_RESP_get_token(r.get()));
}

long response_status(ByteView resp) {
  auto r = parse_resp(resp);
  if (!r) {
    return -1;
  }
  return ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r.get())));
}

bool response_fail_bit(ByteView resp, int bit) {
  auto r = parse_resp(resp);
  if (!r) {
    return false;
  }
  const ASN1_BIT_STRING* fi = TS_STATUS_INFO_get0_failure_info(TS_RESP_get_status_info(r.get()));
  return fi != nullptr && ASN1_BIT_STRING_get_bit(fi, bit) != 0;
}

Bytes make_request(ByteView data, DigestAlg alg, std::uint64_t nonce, bool cert_req,
                   const std::optional<std::string>& policy) {
  const Bytes md = digest(alg, data);
  const int nid = alg == DigestAlg::sha256 ? NID_sha256 : alg == DigestAlg::sha384 ? NID_sha384 : NID_sha512;
  ossl::TsReqPtr req(TS_REQ_new());
  ossl::TsMsgImprintPtr mi(TS_MSG_IMPRINT_new());
  ossl::X509AlgorPtr a(X509_ALGOR_new());
  require(X509_ALGOR_set0(a.get(), OBJ_nid2obj(nid), V_ASN1_NULL, nullptr) == 1, "algo");
  require(TS_MSG_IMPRINT_set_algo(mi.get(), a.get()) == 1, "set_algo");
  require(TS_MSG_IMPRINT_set_msg(mi.get(), const_cast<std::uint8_t*>(md.data()), static_cast<int>(md.size())) == 1,
          "set_msg");
  require(TS_REQ_set_version(req.get(), 1) == 1 && TS_REQ_set_msg_imprint(req.get(), mi.get()) == 1, "req");
  ossl::Asn1IntegerPtr n(ASN1_INTEGER_new());
  require(ASN1_INTEGER_set_uint64(n.get(), nonce) == 1 && TS_REQ_set_nonce(req.get(), n.get()) == 1, "nonce");
  require(TS_REQ_set_cert_req(req.get(), cert_req ? 1 : 0) == 1, "cert_req");
  if (policy) {
    ossl::Asn1ObjectPtr obj(OBJ_txt2obj(policy->c_str(), 1));
    require(obj != nullptr && TS_REQ_set_policy_id(req.get(), obj.get()) == 1, "policy");
  }
  return ossl::to_der<i2d_TS_REQ>(req.get());
}

Bytes rewrite_request(ByteView req, const std::function<void(TS_REQ*)>& edit) {
  const unsigned char* p = req.data();
  ossl::TsReqPtr r(d2i_TS_REQ(nullptr, &p, static_cast<long>(req.size())));
  require(r != nullptr, "d2i_TS_REQ");
  edit(r.get());
  return ossl::to_der<i2d_TS_REQ>(r.get());
}

namespace {
class LambdaHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit LambdaHandler(const LambdaServer::Handler& h) : m_h(h) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override { m_h(req, resp); }

 private:
  const LambdaServer::Handler& m_h;
};
class LambdaFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit LambdaFactory(const LambdaServer::Handler& h) : m_h(h) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new LambdaHandler(m_h);
  }

 private:
  const LambdaServer::Handler& m_h;
};
}  // namespace

struct LambdaServer::Impl {
  Handler handler;
  Poco::Net::ServerSocket socket{Poco::Net::SocketAddress("127.0.0.1", 0)};
  Poco::ThreadPool pool{1, 4};
  std::unique_ptr<Poco::Net::HTTPServer> server;
};

LambdaServer::LambdaServer(Handler handler) : m_impl(std::make_unique<Impl>()) {
  m_impl->handler = std::move(handler);
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(false);
  params->setMaxThreads(3);
  m_impl->server =
      std::make_unique<Poco::Net::HTTPServer>(new LambdaFactory(m_impl->handler), m_impl->pool, m_impl->socket, params);
  m_impl->server->start();
}

LambdaServer::~LambdaServer() {
  m_impl->server->stopAll(false);
  m_impl->pool.joinAll();
}

std::string LambdaServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(m_impl->socket.address().port()) + path;
}

std::uint16_t closed_port() {
  Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::uint16_t port = s.address().port();
  s.close();
  return port;
}

}  // namespace hanko::tsa::testutil
