#include "hanko/tsa_client/tsa_pool.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>

#include "hanko/certstore/dev_pki.h"
#include "hanko/tsa_client/token.h"
#include "hanko/tsa_client/tsa_http_server.h"
#include "test_support.h"
#include "tsa_test_util.h"

namespace hanko::tsa {
namespace {

using namespace testutil;

const std::string kData = R"({"resourceType":"Bundle","type":"document","id":"pool"})";

std::string read_body(Poco::Net::HTTPServerRequest& req) {
  std::string body;
  char buf[4096];
  while (req.stream().read(buf, sizeof buf) || req.stream().gcount() > 0) {
    body.append(buf, static_cast<std::size_t>(req.stream().gcount()));
  }
  return body;
}

void send_reply(Poco::Net::HTTPServerResponse& resp, const Bytes& answer) {
  resp.setContentType("application/timestamp-reply");
  resp.setContentLength(static_cast<std::streamsize>(answer.size()));
  resp.sendBuffer(answer.data(), answer.size());
}

/** Collects HttpEvents from several threads. */
struct EventLog {
  std::mutex mu;
  std::vector<HttpEvent> events;
  HttpObserver observer() {
    return [this](const HttpEvent& e) {
      std::lock_guard lock(mu);
      events.push_back(e);
    };
  }
  std::vector<HttpEvent> snapshot() {
    std::lock_guard lock(mu);
    return events;
  }
};

class TsaPoolTest : public ::testing::Test {
 protected:
  DevTsaFixture fx;
  std::vector<std::unique_ptr<TsaHttpServer>> servers;

  TsaHttpServer& serve(TsaHttpServerOptions o = {}, DevTsa* tsa = nullptr) {
    servers.push_back(std::make_unique<TsaHttpServer>(tsa != nullptr ? *tsa : *fx.tsa, "127.0.0.1", 0, std::move(o)));
    servers.back()->start();
    return *servers.back();
  }

  static TsaSourceConfig source(const std::string& name, const std::string& url) {
    TsaSourceConfig s;
    s.name = name;
    s.url = url;
    s.trust = test::dev_pki().trust_dir.string();
    s.timeout = std::chrono::milliseconds(10000);
    return s;
  }

  static std::unique_ptr<TsaPool> pool(std::vector<TsaSourceConfig> sources, HttpOptions base = {},
                                       TsaPoolOptions options = {}) {
    TsaPoolConfig c;
    c.sources = std::move(sources);
    auto p = TsaPool::create(c, base, options);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::move(*p) : nullptr;
  }

  static void expect_good_token(const Result<Bytes>& token) {
    ASSERT_TRUE(token) << token.error().message;
    auto v = verify_token(*token, as_bytes(kData), dev_trust(), test::sign_time());
    EXPECT_EQ(v.status, TokenStatus::ok) << v.message;
  }

  static std::string down_url() { return "http://127.0.0.1:" + std::to_string(closed_port()) + "/"; }
};

TEST_F(TsaPoolTest, FirstHealthySourceAnswersAndLaterOnesAreNotContacted) {
  TsaHttpServer& a = serve();
  TsaHttpServer& b = serve();
  auto p = pool({source("a", a.url()), source("b", b.url())});
  ASSERT_TRUE(p);
  auto r = p->timestamp_with_report(as_bytes(kData));
  expect_good_token(r.token);
  EXPECT_EQ(r.source, "a");
  ASSERT_EQ(r.attempts.size(), 1u);
  EXPECT_EQ(r.attempts[0].failure, TsaFailure::none);
  EXPECT_TRUE(r.attempts[0].reason.empty());
  EXPECT_EQ(a.request_count(), 1u);
  EXPECT_EQ(b.request_count(), 0u);
  // Through the TimestampSource interface, as the signer calls it.
  TimestampSource& source_if = *p;
  expect_good_token(source_if.timestamp(as_bytes(kData), DigestAlg::sha256));
  EXPECT_EQ(a.request_count(), 2u);
  EXPECT_EQ(b.request_count(), 0u);
  EXPECT_EQ(p->describe(), "TSA pool a, b");
  auto last = p->last_report();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->source, "a");
}

/** One failing first source, a healthy second one: the pool moves on and says why. */
class TsaPoolFailover : public TsaPoolTest {
 protected:
  void expect_failover(TsaSourceConfig first, TsaFailure expected, const std::string& reason_part,
                       TsaHttpServer* first_server = nullptr) {
    TsaHttpServer& good = serve();
    auto p = pool({std::move(first), source("good", good.url())});
    ASSERT_TRUE(p);
    auto r = p->timestamp_with_report(as_bytes(kData));
    expect_good_token(r.token);
    EXPECT_EQ(r.source, "good");
    ASSERT_EQ(r.attempts.size(), 2u);
    EXPECT_EQ(r.attempts[0].failure, expected)
        << tsa_failure_name(r.attempts[0].failure) << ": " << r.attempts[0].reason;
    EXPECT_NE(r.attempts[0].reason.find(reason_part), std::string::npos) << r.attempts[0].reason;
    EXPECT_EQ(r.attempts[1].failure, TsaFailure::none);
    EXPECT_EQ(good.request_count(), 1u);
    if (first_server != nullptr) {
      EXPECT_EQ(first_server->request_count(), 1u);
    }
  }
};

TEST_F(TsaPoolFailover, Down) { expect_failover(source("down", down_url()), TsaFailure::unreachable, "unreachable"); }

TEST_F(TsaPoolFailover, Http500) {
  TsaHttpServer& bad = serve();
  bad.set_fault(TsaFault::http_500);
  expect_failover(source("bad", bad.url()), TsaFailure::http_status, "HTTP 500", &bad);
}

TEST_F(TsaPoolFailover, Garbage) {
  TsaHttpServer& bad = serve();
  bad.set_fault(TsaFault::garbage);
  expect_failover(source("bad", bad.url()), TsaFailure::malformed, "not a DER TimeStampResp", &bad);
}

TEST_F(TsaPoolFailover, Rejection) {
  TsaHttpServer& bad = serve();
  bad.set_fault(TsaFault::rejection);
  expect_failover(source("bad", bad.url()), TsaFailure::rejected, "systemFailure", &bad);
}

TEST_F(TsaPoolFailover, PolicyTheTsaDoesNotServeIsRejected) {
  TsaHttpServer& tsa = serve();
  TsaSourceConfig s = source("policy", tsa.url());
  s.policy_oid = "1.2.3.4";
  expect_failover(s, TsaFailure::rejected, "unacceptedPolicy", &tsa);
}

TEST_F(TsaPoolFailover, WrongTsaIsUntrusted) {
  TestCert stranger = make_tsa_cert("stranger TSA", true);
  DevTsa other(std::move(stranger.cert), std::move(stranger.key), {}, fx.clock);
  TsaHttpServer& bad = serve({}, &other);
  expect_failover(source("stranger", bad.url()), TsaFailure::untrusted, "untrusted TSA", &bad);
}

TEST_F(TsaPoolFailover, TimeoutOnAHeldRequest) {
  TsaHttpServer& slow = serve();
  slow.set_fault(TsaFault::hold);
  TsaSourceConfig s = source("slow", slow.url());
  s.timeout = std::chrono::milliseconds(300);
  expect_failover(s, TsaFailure::timeout, "timeout after 300 ms", &slow);
  slow.release_held();
}

TEST_F(TsaPoolFailover, ChangedNonceIsABadToken) {
  // A man in the middle that answers with a token for another nonce (a replayed or misrouted answer).
  LambdaServer replay([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    const Bytes changed = rewrite_request(as_bytes(read_body(req)), [](TS_REQ* r) {
      ossl::Asn1IntegerPtr n(ASN1_INTEGER_new());
      ASN1_INTEGER_set_uint64(n.get(), 42);
      TS_REQ_set_nonce(r, n.get());
    });
    send_reply(resp, fx.tsa->respond(changed));
  });
  expect_failover(source("replay", replay.url()), TsaFailure::bad_token, "nonce");
}

TEST_F(TsaPoolFailover, TokenOverOtherDataIsABadToken) {
  LambdaServer swap([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    const Bytes other = digest(DigestAlg::sha256, as_bytes(std::string_view("other data")));
    const Bytes changed = rewrite_request(as_bytes(read_body(req)), [&](TS_REQ* r) {
      TS_MSG_IMPRINT_set_msg(TS_REQ_get_msg_imprint(r), const_cast<std::uint8_t*>(other.data()),
                             static_cast<int>(other.size()));
    });
    send_reply(resp, fx.tsa->respond(changed));
  });
  expect_failover(source("swap", swap.url()), TsaFailure::bad_token, "messageImprint does not match the request");
}

TEST_F(TsaPoolFailover, ImprintAlgorithmNotAcceptedIsABadToken) {
  // The source accepts sha384 only; this TSA answers with a sha256 token over the same data.
  LambdaServer downgrade([this](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    const Bytes md = digest(DigestAlg::sha256, as_bytes(kData));
    const Bytes changed = rewrite_request(as_bytes(read_body(req)), [&](TS_REQ* r) {
      ossl::TsMsgImprintPtr mi(TS_MSG_IMPRINT_new());
      ossl::X509AlgorPtr alg(X509_ALGOR_new());
      X509_ALGOR_set0(alg.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr);
      TS_MSG_IMPRINT_set_algo(mi.get(), alg.get());
      TS_MSG_IMPRINT_set_msg(mi.get(), const_cast<std::uint8_t*>(md.data()), static_cast<int>(md.size()));
      TS_REQ_set_msg_imprint(r, mi.get());
    });
    send_reply(resp, fx.tsa->respond(changed));
  });
  TsaSourceConfig s = source("sha384only", downgrade.url());
  s.digests = {DigestAlg::sha384};
  expect_failover(s, TsaFailure::bad_token, "messageImprint algorithm SHA-256 is not the requested SHA-384");
}

TEST_F(TsaPoolTest, AcceptedDigestsDecideTheRequest) {
  TsaHttpServer& tsa = serve();
  TsaSourceConfig s384 = source("s384", tsa.url());
  s384.digests = {DigestAlg::sha384};
  auto p = pool({s384});
  ASSERT_TRUE(p);
  // The caller's algorithm does not matter: the configuration decides.
  auto token = p->timestamp(as_bytes(kData), DigestAlg::sha256);
  expect_good_token(token);
  auto info = parse_token(*token);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->imprint_alg, DigestAlg::sha384);

  TsaSourceConfig s512 = source("s512", tsa.url());
  s512.digests = {DigestAlg::sha512, DigestAlg::sha256};
  auto p512 = pool({s512});
  ASSERT_TRUE(p512);
  auto t512 = p512->timestamp(as_bytes(kData));
  expect_good_token(t512);
  EXPECT_EQ(parse_token(*t512)->imprint_alg, DigestAlg::sha512);
}

TEST_F(TsaPoolTest, AllFailingIsOneErrorNamingEverySource) {
  TsaHttpServer& five = serve();
  five.set_fault(TsaFault::http_500);
  TsaHttpServer& rej = serve();
  rej.set_fault(TsaFault::rejection);
  const std::string down = down_url();
  auto p = pool({source("first", down), source("second", five.url()), source("third", rej.url())});
  ASSERT_TRUE(p);
  auto r = p->timestamp_with_report(as_bytes(kData));
  ASSERT_FALSE(r.token);
  EXPECT_EQ(r.token.error().code, Errc::remote_rejected);
  const std::string& m = r.token.error().message;
  EXPECT_TRUE(m.starts_with("no TSA gave a timestamp (3 tried): ")) << m;
  for (const std::string& part : {"first <" + down + ">: unreachable", "second <" + five.url() + ">: HTTP 500",
                                  "third <" + rej.url() + ">: rejected"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " in " << m;
  }
  EXPECT_TRUE(r.source.empty());
  ASSERT_EQ(r.attempts.size(), 3u);
  EXPECT_EQ(r.attempts[0].failure, TsaFailure::unreachable);
  EXPECT_EQ(r.attempts[1].failure, TsaFailure::http_status);
  EXPECT_EQ(r.attempts[2].failure, TsaFailure::rejected);
  // Through the interface: the same error.
  auto t = p->timestamp(as_bytes(kData));
  ASSERT_FALSE(t);
  EXPECT_TRUE(t.error().message.starts_with("no TSA gave a timestamp (3 tried)")) << t.error().message;
}

TEST_F(TsaPoolTest, AllUnreachableIsANetworkError) {
  auto p = pool({source("x", down_url()), source("y", down_url())});
  ASSERT_TRUE(p);
  auto r = p->timestamp(as_bytes(kData));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network) << r.error().message;
  EXPECT_NE(r.error().message.find("x <"), std::string::npos);
  EXPECT_NE(r.error().message.find("y <"), std::string::npos);
}

TEST_F(TsaPoolTest, BasicAuthRightAndWrong) {
  const std::string password = "s3cret-Pa55";
  TsaHttpServerOptions o;
  o.basic_user = "hanko";
  o.basic_password = password;
  TsaHttpServer& locked = serve(o);
  const auto dir = test::temp_dir("tsa-pool-auth");

  TsaSourceConfig right = source("right", locked.url());
  right.user = "hanko";
  right.password_file = (dir / "right.txt").string();
  test::write_text(right.password_file, password + "\n");  // the trailing newline is dropped
  auto ok = pool({right});
  ASSERT_TRUE(ok);
  expect_good_token(ok->timestamp(as_bytes(kData)));
  EXPECT_EQ(locked.request_count(), 1u);

  ::setenv("HANKO_TEST_TSA_PASSWORD", password.c_str(), 1);
  TsaSourceConfig env = source("env", locked.url());
  env.user = "hanko";
  env.password_env = "HANKO_TEST_TSA_PASSWORD";
  auto via_env = pool({env});
  ::unsetenv("HANKO_TEST_TSA_PASSWORD");
  ASSERT_TRUE(via_env);
  expect_good_token(via_env->timestamp(as_bytes(kData)));

  TsaSourceConfig wrong = source("wrong", locked.url());
  wrong.user = "hanko";
  wrong.password_file = (dir / "wrong.txt").string();
  test::write_text(wrong.password_file, "not-" + password);
  TsaSourceConfig none = source("none", locked.url());
  auto bad = pool({wrong, none});
  ASSERT_TRUE(bad);
  auto r = bad->timestamp_with_report(as_bytes(kData));
  ASSERT_FALSE(r.token);
  ASSERT_EQ(r.attempts.size(), 2u);
  EXPECT_EQ(r.attempts[0].failure, TsaFailure::http_status);
  EXPECT_NE(r.attempts[0].reason.find("HTTP 401"), std::string::npos) << r.attempts[0].reason;
  EXPECT_EQ(r.attempts[1].failure, TsaFailure::http_status);
  EXPECT_EQ(r.token.error().message.find(password), std::string::npos) << r.token.error().message;
}

TEST_F(TsaPoolTest, ObserverSeesEveryExchangeWithPurposeTsa) {
  TsaHttpServer& five = serve();
  five.set_fault(TsaFault::http_500);
  TsaHttpServer& good = serve();
  EventLog log;
  HttpOptions base;
  base.observer = log.observer();
  const std::string down = down_url();
  auto p = pool({source("down", down), source("five", five.url()), source("good", good.url())}, base);
  ASSERT_TRUE(p);
  expect_good_token(p->timestamp(as_bytes(kData)));
  auto events = log.snapshot();
  ASSERT_EQ(events.size(), 3u);
  for (const auto& e : events) {
    EXPECT_EQ(e.purpose, "tsa");
    EXPECT_GE(e.seconds, 0.0);
    EXPECT_FALSE(e.timed_out);
  }
  EXPECT_EQ(events[0].url, down);
  EXPECT_EQ(events[0].status, 0);
  EXPECT_FALSE(events[0].ok);
  EXPECT_EQ(events[1].url, five.url());
  EXPECT_EQ(events[1].status, 500);
  EXPECT_FALSE(events[1].ok);
  EXPECT_EQ(events[2].url, good.url());
  EXPECT_EQ(events[2].status, 200);
  EXPECT_TRUE(events[2].ok);
}

TEST_F(TsaPoolTest, ObserverSeesATimeout) {
  TsaHttpServer& slow = serve();
  slow.set_fault(TsaFault::hold);
  EventLog log;
  HttpOptions base;
  base.observer = log.observer();
  TsaSourceConfig s = source("slow", slow.url());
  s.timeout = std::chrono::milliseconds(300);
  auto p = pool({s}, base);
  ASSERT_TRUE(p);
  auto r = p->timestamp_with_report(as_bytes(kData));
  slow.release_held();
  ASSERT_FALSE(r.token);
  EXPECT_EQ(r.token.error().code, Errc::network);
  auto events = log.snapshot();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].timed_out);
  EXPECT_FALSE(events[0].ok);
  EXPECT_EQ(events[0].purpose, "tsa");
}

TEST_F(TsaPoolTest, BackOffSkipsAFailedSourceUntilTheInjectedClockMovesOn) {
  TsaHttpServer& flaky = serve();
  flaky.set_fault(TsaFault::http_500);
  TsaHttpServer& good = serve();
  FixedClock clock(test::sign_time());
  TsaPoolOptions o;
  o.clock = &clock;
  o.backoff = std::chrono::seconds(60);
  auto p = pool({source("flaky", flaky.url()), source("good", good.url())}, {}, o);
  ASSERT_TRUE(p);
  auto first = p->timestamp_with_report(as_bytes(kData));
  ASSERT_TRUE(first.token);
  EXPECT_EQ(flaky.request_count(), 1u);

  clock.advance(std::chrono::seconds(59));
  auto second = p->timestamp_with_report(as_bytes(kData));
  ASSERT_TRUE(second.token);
  ASSERT_EQ(second.attempts.size(), 2u);
  EXPECT_EQ(second.attempts[0].failure, TsaFailure::skipped);
  EXPECT_NE(second.attempts[0].reason.find("HTTP 500"), std::string::npos) << second.attempts[0].reason;
  EXPECT_EQ(flaky.request_count(), 1u);  // not contacted

  clock.advance(std::chrono::seconds(1));
  flaky.set_fault(TsaFault::none);
  auto third = p->timestamp_with_report(as_bytes(kData));
  ASSERT_TRUE(third.token);
  EXPECT_EQ(third.source, "flaky");
  EXPECT_EQ(flaky.request_count(), 2u);
}

TEST_F(TsaPoolTest, BackOffNeverLeavesNoSourceToAsk) {
  TsaHttpServer& only = serve();
  only.set_fault(TsaFault::http_500);
  FixedClock clock(test::sign_time());
  TsaPoolOptions o;
  o.clock = &clock;
  o.backoff = std::chrono::seconds(60);
  auto p = pool({source("only", only.url())}, {}, o);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->timestamp(as_bytes(kData)));
  only.set_fault(TsaFault::none);
  // Still backing off, but it is the only source: asked anyway.
  expect_good_token(p->timestamp(as_bytes(kData)));
  EXPECT_EQ(only.request_count(), 2u);
}

TEST_F(TsaPoolTest, TrustMayBeASingleFile) {
  TsaHttpServer& tsa = serve();
  const auto dir = test::temp_dir("tsa-pool-trust");
  // The dev PKI's TSA root, alone in a file: found as the anchor of the TSA's chain.
  auto chain = verify_token(*InProcessTsa(*fx.tsa).timestamp(as_bytes(kData)), as_bytes(kData), dev_trust(),
                            test::sign_time())
                   .chain;
  ASSERT_FALSE(chain.chain.empty());
  TsaSourceConfig s = source("file", tsa.url());
  s.trust = write_cert_pem(dir / "tsa-root.pem", chain.chain.back().get());
  auto p = pool({s});
  ASSERT_TRUE(p);
  expect_good_token(p->timestamp(as_bytes(kData)));

  // Another TSA's certificate as the trust: the dev TSA's token is refused.
  TestCert other = make_tsa_cert("other TSA", true);
  TsaSourceConfig o = source("other", tsa.url());
  o.trust = write_cert_pem(dir / "other.pem", other.cert.get());
  auto q = pool({o});
  ASSERT_TRUE(q);
  auto r = q->timestamp_with_report(as_bytes(kData));
  ASSERT_FALSE(r.token);
  EXPECT_EQ(r.attempts[0].failure, TsaFailure::untrusted) << r.attempts[0].reason;
}

TEST_F(TsaPoolTest, MutualTls) {
  const auto dir = test::temp_dir("tsa-pool-mtls");
  TestCert server_ca = make_tls_ca("test TLS server CA");
  TestCert server = issue_tls_cert(server_ca, "127.0.0.1", true);
  TestCert client_ca = make_tls_ca("test TLS client CA");
  TestCert client = issue_tls_cert(client_ca, "hanko", false);
  TestCert rogue_ca = make_tls_ca("rogue client CA");
  TestCert rogue = issue_tls_cert(rogue_ca, "hanko", false);
  TsaHttpServerOptions o;
  o.tls_cert = write_cert_pem(dir / "server.pem", server.cert.get());
  o.tls_key = write_key_pem(dir / "server.key", server.key.get());
  o.tls_client_ca = write_cert_pem(dir / "client-ca.pem", client_ca.cert.get());
  TsaHttpServer& tls = serve(o);
  ASSERT_TRUE(tls.url().starts_with("https://127.0.0.1:")) << tls.url();
  const std::string server_ca_file = write_cert_pem(dir / "server-ca.pem", server_ca.cert.get());

  TsaSourceConfig good = source("mtls", tls.url());
  good.ca_file = server_ca_file;
  good.client_cert = write_cert_pem(dir / "client.pem", client.cert.get());
  good.client_key = write_key_pem(dir / "client.key", client.key.get());
  auto p = pool({good});
  ASSERT_TRUE(p);
  expect_good_token(p->timestamp(as_bytes(kData)));

  TsaSourceConfig no_cert = source("nocert", tls.url());
  no_cert.ca_file = server_ca_file;
  TsaSourceConfig wrong_cert = source("roguecert", tls.url());
  wrong_cert.ca_file = server_ca_file;
  wrong_cert.client_cert = write_cert_pem(dir / "rogue.pem", rogue.cert.get());
  wrong_cert.client_key = write_key_pem(dir / "rogue.key", rogue.key.get());
  TsaSourceConfig untrusted_server = good;
  untrusted_server.name = "nocafile";
  untrusted_server.ca_file.clear();  // the system CAs do not know the test server CA
  auto bad = pool({no_cert, wrong_cert, untrusted_server});
  ASSERT_TRUE(bad);
  auto r = bad->timestamp_with_report(as_bytes(kData));
  ASSERT_FALSE(r.token);
  ASSERT_EQ(r.attempts.size(), 3u);
  for (const auto& a : r.attempts) {
    EXPECT_EQ(a.failure, TsaFailure::unreachable) << a.source << ": " << a.reason;
  }
}

// --- configuration ---------------------------------------------------------------

using Keys = std::map<std::string, std::string>;

Keys minimal(const std::string& url = "https://tsa.example/tsp") {
  return {{"tsa.sources", "a"}, {"tsa.source.a.url", url}, {"tsa.source.a.trust", "/etc/hanko/tsa-a"}};
}

TEST(TsaPoolConfig, ParsesEveryKey) {
  Keys k = {{"tsa.sources", " seiko , amano "},
            {"tsa.source.seiko.url", "https://tsa.seiko.example/tsa"},
            {"tsa.source.seiko.trust", "/etc/hanko/tsa/seiko"},
            {"tsa.source.seiko.digests", "sha384, SHA256"},
            {"tsa.source.seiko.policy", "1.2.392.200001.1"},
            {"tsa.source.seiko.user", "clinic-042"},
            {"tsa.source.seiko.passwordFile", "/run/secrets/seiko"},
            {"tsa.source.seiko.clientCert", "/etc/hanko/tls/client.pem"},
            {"tsa.source.seiko.clientKey", "/etc/hanko/tls/client.key"},
            {"tsa.source.seiko.caFile", "/etc/hanko/tls/seiko-ca.pem"},
            {"tsa.source.seiko.timeoutMs", "3000"},
            {"tsa.source.amano.url", "https://tsa.amano.example/"},
            {"tsa.source.amano.trust", "/etc/hanko/tsa/amano.pem"},
            {"tsa.source.amano.user", "clinic-042"},
            {"tsa.source.amano.passwordEnv", "AMANO_TSA_PASSWORD"},
            {"unrelated.key", "ignored"}};
  auto c = tsa_pool_config_from(k);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->sources.size(), 2u);
  const auto& s = c->sources[0];
  EXPECT_EQ(s.name, "seiko");
  EXPECT_EQ(s.url, "https://tsa.seiko.example/tsa");
  EXPECT_EQ(s.trust, "/etc/hanko/tsa/seiko");
  EXPECT_EQ(s.digests, (std::vector<DigestAlg>{DigestAlg::sha384, DigestAlg::sha256}));
  EXPECT_EQ(s.policy_oid, "1.2.392.200001.1");
  EXPECT_EQ(s.user, "clinic-042");
  EXPECT_EQ(s.password_file, "/run/secrets/seiko");
  EXPECT_EQ(s.client_cert, "/etc/hanko/tls/client.pem");
  EXPECT_EQ(s.client_key, "/etc/hanko/tls/client.key");
  EXPECT_EQ(s.ca_file, "/etc/hanko/tls/seiko-ca.pem");
  EXPECT_EQ(s.timeout, std::chrono::milliseconds(3000));
  const auto& a = c->sources[1];
  EXPECT_EQ(a.name, "amano");
  EXPECT_EQ(a.digests, (std::vector<DigestAlg>{DigestAlg::sha256}));
  EXPECT_EQ(a.password_env, "AMANO_TSA_PASSWORD");
  EXPECT_EQ(a.timeout, std::chrono::milliseconds(15000));
  EXPECT_FALSE(a.policy_oid);

  auto empty = tsa_pool_config_from({});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->sources.empty());
  auto loopback = tsa_pool_config_from(
      [] {
        Keys k = minimal("http://127.0.0.1:8318/");
        k["tsa.source.a.user"] = "u";
        k["tsa.source.a.passwordEnv"] = "P";
        return k;
      }());
  EXPECT_TRUE(loopback) << loopback.error().message;
}

TEST(TsaPoolConfig, ErrorsNameTheKey) {
  struct Case {
    Keys keys;
    std::string expected;
  };
  auto with = [](Keys k, const std::string& key, const std::string& value) {
    k[key] = value;
    return k;
  };
  auto without = [](Keys k, const std::string& key) {
    k.erase(key);
    return k;
  };
  const std::vector<Case> cases = {
      {{{"tsa.source.a.url", "https://x/"}}, "configuration key tsa.sources: is missing"},
      {with(minimal(), "tsa.sources", ""), "configuration key tsa.sources: has an empty name"},
      {with(minimal(), "tsa.sources", "a,,b"), "configuration key tsa.sources: has an empty name"},
      {with(minimal(), "tsa.sources", "a,a"), "configuration key tsa.sources: names a twice"},
      {with(minimal(), "tsa.sources", "a b"), "configuration key tsa.sources: 'a b' is not a name"},
      {with(minimal(), "tsa.source.b.url", "https://y/"), "configuration key tsa.source.b.url: source 'b' is not listed"},
      {with(minimal(), "tsa.source.a", "x"), "configuration key tsa.source.a: expected tsa.source.<name>.<setting>"},
      {with(minimal(), "tsa.source.a.colour", "red"), "configuration key tsa.source.a.colour: unknown setting"},
      {without(minimal(), "tsa.source.a.url"), "configuration key tsa.source.a.url: is missing"},
      {without(minimal(), "tsa.source.a.trust"), "configuration key tsa.source.a.trust: is missing"},
      {with(minimal(), "tsa.source.a.url", "ftp://tsa.example/"), "configuration key tsa.source.a.url: 'ftp://"},
      {with(minimal(), "tsa.source.a.url", "https://tsa.example/a b"), "configuration key tsa.source.a.url: the URL contains a space"},
      {with(minimal(), "tsa.source.a.url", "https://u:hunter2@tsa.example/"),
       "configuration key tsa.source.a.url: credentials in the URL are not accepted"},
      {with(minimal(), "tsa.source.a.digests", "sha1"), "configuration key tsa.source.a.digests: 'sha1' is not"},
      {with(minimal(), "tsa.source.a.digests", "sha256,sha256"), "configuration key tsa.source.a.digests: sha256 is listed twice"},
      {with(minimal(), "tsa.source.a.digests", ""), "configuration key tsa.source.a.digests: '' is not"},
      {with(minimal(), "tsa.source.a.policy", "policy-1"), "configuration key tsa.source.a.policy: 'policy-1' is not a dotted OID"},
      {with(minimal(), "tsa.source.a.policy", "1..2"), "configuration key tsa.source.a.policy"},
      {with(minimal(), "tsa.source.a.user", "u"), "configuration key tsa.source.a.user: needs passwordFile or passwordEnv"},
      {with(minimal(), "tsa.source.a.user", "u:p"), "configuration key tsa.source.a.user: contains ':'"},
      {with(minimal(), "tsa.source.a.passwordFile", "/p"), "configuration key tsa.source.a.passwordFile: a password needs a user"},
      {with(with(with(minimal(), "tsa.source.a.user", "u"), "tsa.source.a.passwordFile", "/p"), "tsa.source.a.passwordEnv", "P"),
       "configuration key tsa.source.a.passwordEnv: give passwordFile or passwordEnv, not both"},
      {with(minimal(), "tsa.source.a.passwordEnv", "1BAD"), "configuration key tsa.source.a.passwordEnv: is not an environment variable name"},
      {with(with(minimal("http://tsa.example/"), "tsa.source.a.user", "u"), "tsa.source.a.passwordEnv", "P"),
       "configuration key tsa.source.a.user: credentials are only sent over https"},
      {with(minimal(), "tsa.source.a.clientCert", "/c.pem"), "configuration key tsa.source.a.clientKey: clientCert and clientKey go together"},
      {with(minimal(), "tsa.source.a.clientKey", "/c.key"), "configuration key tsa.source.a.clientCert: clientCert and clientKey go together"},
      {with(with(minimal("http://127.0.0.1/"), "tsa.source.a.clientCert", "/c.pem"), "tsa.source.a.clientKey", "/c.key"),
       "configuration key tsa.source.a.clientCert: a client certificate needs an https url"},
      {with(minimal("http://127.0.0.1/"), "tsa.source.a.caFile", "/ca.pem"), "configuration key tsa.source.a.caFile: a CA file needs an https url"},
      {with(minimal(), "tsa.source.a.timeoutMs", "50"), "configuration key tsa.source.a.timeoutMs: '50' is not"},
      {with(minimal(), "tsa.source.a.timeoutMs", "1000ms"), "configuration key tsa.source.a.timeoutMs: '1000ms' is not"},
      {with(minimal(), "tsa.source.a.timeoutMs", "600001"), "configuration key tsa.source.a.timeoutMs"},
  };
  for (const auto& c : cases) {
    auto r = tsa_pool_config_from(c.keys);
    ASSERT_FALSE(r) << c.expected;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find(c.expected), std::string::npos) << "got: " << r.error().message;
    EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos) << r.error().message;
  }
  // The control: the minimal configuration itself is fine.
  EXPECT_TRUE(tsa_pool_config_from(minimal()));
}

class TsaPoolCreate : public ::testing::Test {
 protected:
  std::filesystem::path dir = test::temp_dir("tsa-pool-create");
  TsaSourceConfig base() {
    TsaSourceConfig s;
    s.name = "a";
    s.url = "https://127.0.0.1:1/";
    s.trust = test::dev_pki().trust_dir.string();
    return s;
  }
  Error create_error(const TsaSourceConfig& s) {
    TsaPoolConfig c;
    c.sources = {s};
    auto p = TsaPool::create(c);
    EXPECT_FALSE(p);
    return p ? Error{} : p.error();
  }
};

TEST_F(TsaPoolCreate, ErrorsNameTheKeyAndNeverThePassword) {
  EXPECT_TRUE(TsaPool::create(TsaPoolConfig{{base()}})) << "control";
  EXPECT_FALSE(TsaPool::create(TsaPoolConfig{}));

  TsaSourceConfig missing = base();
  missing.trust = (dir / "no-such-folder").string();
  EXPECT_NE(create_error(missing).message.find("configuration key tsa.source.a.trust"), std::string::npos);

  TestCert ca = make_tls_ca("some CA");
  TestCert leaf = issue_tls_cert(ca, "leaf", true);
  TsaSourceConfig no_anchor = base();
  no_anchor.trust = write_cert_pem(dir / "leaf.pem", leaf.cert.get());
  EXPECT_NE(create_error(no_anchor).message.find("configuration key tsa.source.a.trust: "), std::string::npos);
  EXPECT_NE(create_error(no_anchor).message.find("holds no self-signed"), std::string::npos);

  TsaSourceConfig no_file = base();
  no_file.user = "u";
  no_file.password_file = (dir / "absent.txt").string();
  EXPECT_NE(create_error(no_file).message.find("configuration key tsa.source.a.passwordFile"), std::string::npos);

  TsaSourceConfig empty_file = no_file;
  empty_file.password_file = (dir / "empty.txt").string();
  test::write_text(empty_file.password_file, "\n");
  EXPECT_NE(create_error(empty_file).message.find("is empty"), std::string::npos);

  TsaSourceConfig two_lines = no_file;
  two_lines.password_file = (dir / "two.txt").string();
  test::write_text(two_lines.password_file, "TopSecret-1\nTopSecret-2\n");
  const Error e = create_error(two_lines);
  EXPECT_NE(e.message.find("more than one line"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("TopSecret"), std::string::npos) << e.message;

  TsaSourceConfig no_env = base();
  no_env.user = "u";
  no_env.password_env = "HANKO_TEST_SURELY_UNSET_VARIABLE";
  ::unsetenv("HANKO_TEST_SURELY_UNSET_VARIABLE");
  EXPECT_NE(create_error(no_env).message.find("configuration key tsa.source.a.passwordEnv"), std::string::npos);

  TestCert other = issue_tls_cert(ca, "other", false);
  TsaSourceConfig mismatch = base();
  mismatch.client_cert = write_cert_pem(dir / "client.pem", leaf.cert.get());
  mismatch.client_key = write_key_pem(dir / "other.key", other.key.get());
  EXPECT_NE(create_error(mismatch).message.find("configuration key tsa.source.a.clientKey"), std::string::npos);
  TsaSourceConfig matching = mismatch;
  matching.client_key = write_key_pem(dir / "client.key", leaf.key.get());
  EXPECT_TRUE(TsaPool::create(TsaPoolConfig{{matching}}));

  TsaSourceConfig bad_ca = base();
  bad_ca.ca_file = (dir / "absent-ca.pem").string();
  EXPECT_NE(create_error(bad_ca).message.find("configuration key tsa.source.a.caFile"), std::string::npos);

  TsaSourceConfig bad_policy = base();
  bad_policy.policy_oid = "3.1";
  EXPECT_NE(create_error(bad_policy).message.find("tsa.source.a.policy"), std::string::npos);
}

TEST(TsaPoolMake, NeedsValidSources) {
  auto trust = std::make_shared<const certstore::TrustStore>(std::move(*certstore::TrustStore::load_dir(test::dev_pki().trust_dir)));
  TsaSource s;
  s.name = "a";
  s.url = "http://127.0.0.1:1/";
  s.trust = trust;
  EXPECT_TRUE(TsaPool::make({s}));
  EXPECT_FALSE(TsaPool::make({}));
  EXPECT_FALSE(TsaPool::make({s, s}));  // names repeat
  TsaSource no_trust = s;
  no_trust.trust.reset();
  EXPECT_FALSE(TsaPool::make({no_trust}));
  TsaSource no_digest = s;
  no_digest.digests.clear();
  EXPECT_FALSE(TsaPool::make({no_digest}));
  TsaSource twice = s;
  twice.digests = {DigestAlg::sha256, DigestAlg::sha256};
  EXPECT_FALSE(TsaPool::make({twice}));
}

TEST(TsaFailureName, Stable) {
  EXPECT_EQ(tsa_failure_name(TsaFailure::none), "none");
  EXPECT_EQ(tsa_failure_name(TsaFailure::timeout), "timeout");
  EXPECT_EQ(tsa_failure_name(TsaFailure::untrusted), "untrusted");
  EXPECT_EQ(tsa_failure_name(TsaFailure::http_status), "http_status");
}

}  // namespace
}  // namespace hanko::tsa
