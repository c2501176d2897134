/**
 * @file sign_verify_bench.cpp
 * hanko_bench: in-process operations per second of the signing and
 * verification paths, over the FHIR document Bundles of the shared corpus.
 *
 * Every measured iteration does the whole operation from its input (a fresh
 * copy of the parsed Bundle for signing, the signed Bundle or its text for
 * verification): nothing computed in one iteration is reused by the next.
 * The development PKI is generated once at start-up into a temporary folder
 * (removed at exit); signing, TSA and validation times are fixed.
 *
 * Corpus: $HANKO_CORPUS_DIR, else <source>/../shared/corpus; when neither
 * exists, tests/data/bundles/simple-prescription.json alone (said on stderr
 * and in the benchmark context). See docs/performance.md and bench/run.sh.
 */
#include <benchmark/benchmark.h>
#include <openssl/opensslv.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/clock.h"
#include "hanko/common/file.h"
#include "hanko/common/json.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/signing_key.h"
#include "hanko/signer/xades.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/tsa_http_server.h"
#include "hanko/verifier/verifier.h"

#ifndef HANKO_SOURCE_DIR
#define HANKO_SOURCE_DIR "."
#endif

namespace {

namespace fs = std::filesystem;
using namespace hanko;

/** The PKI is valid around this time; every signature is made at kSignTime. */
const TimePoint kPkiTime = utc(2026, 1, 15);
const TimePoint kSignTime = utc(2026, 1, 15, 10, 0, 0);
const TimePoint kValidationTime = utc(2026, 2, 1);

/** One corpus Bundle: its text, parsed form, and signed forms made once for the verify benchmarks. */
struct Sample {
  std::string name;  ///< file stem, used in benchmark names
  std::string text;
  json::Value parsed;
  json::Value signed_bb;      ///< B-B, RS256 (doctor)
  std::string signed_bb_text;
  json::Value signed_bb_ec;   ///< B-B, ES256 (doctor-ec)
  json::Value signed_bt;      ///< B-T, RS256, in-process TSA
  std::string signed_bt_text;
};

/** One FHIR XML Bundle: its text and signed forms (XAdES). */
struct XmlSample {
  std::string name;
  std::string text;
  std::string signed_bb;  ///< B-B, RS256
  std::string signed_bt;  ///< B-T, RS256, in-process TSA
};

/** Everything set up once; torn down (HTTP server stopped, temp folder removed) at exit. */
struct Env {
  fs::path dir;
  std::string corpus_note;
  certstore::DevPki pki;
  std::unique_ptr<signer::SigningKey> rsa;
  std::unique_ptr<signer::SigningKey> ec;
  FixedClock tsa_clock{kSignTime};
  std::unique_ptr<tsa::DevTsa> dev_tsa;
  std::unique_ptr<tsa::InProcessTsa> in_process_tsa;
  std::unique_ptr<tsa::TsaHttpServer> http_server;
  std::unique_ptr<tsa::HttpTsaClient> http_tsa;
  std::unique_ptr<certstore::TrustStore> trust;
  std::vector<Sample> samples;
  std::vector<XmlSample> xml_samples;

  ~Env() {
    if (http_server) {
      http_server->stop();
    }
    if (!dir.empty()) {
      std::error_code ec_ignored;
      fs::remove_all(dir, ec_ignored);
    }
  }
};

Env* g_env = nullptr;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "hanko_bench: " << what << "\n";
  delete g_env;  // removes the temp folder
  std::exit(2);
}

template <typename T>
T must(Result<T> r, const std::string& what) {
  if (!r) {
    die(what + ": " + r.error().message);
  }
  return std::move(*r);
}

std::string read_or_die(const fs::path& p) { return must(read_file(p.string()), "reading " + p.string()); }

signer::SignOptions sign_options(signer::Level level) {
  signer::SignOptions o;
  o.level = level;
  o.signing_time = kSignTime;
  o.replace = true;  // jp-eprescription-bunkatsu.json already carries a signature
  return o;
}

verifier::VerifyOptions verify_options() {
  return verifier::VerifyOptions{g_env->trust.get(), g_env->trust.get(), kValidationTime};
}

/** The corpus files, by path; falls back to the project's own test Bundle. */
std::vector<fs::path> corpus_files(std::string& note) {
  fs::path dir;
  if (const char* env = std::getenv("HANKO_CORPUS_DIR"); env && *env) {
    dir = env;
  } else {
    dir = fs::path(HANKO_SOURCE_DIR) / ".." / "shared" / "corpus";
  }
  const char* names[] = {
      "jp-eprescription-example01.json",
      "ips-bundle-minimal.json",
      "jp-eprescription-bunkatsu.json",
      "synthetic/jp-eprescription-example01-100k.json",
      "synthetic/jp-eprescription-example01-1m.json",
  };
  std::vector<fs::path> out;
  for (const char* n : names) {
    if (fs::exists(dir / n)) {
      out.push_back(dir / n);
    }
  }
  if (out.empty()) {
    fs::path fallback = fs::path(HANKO_SOURCE_DIR) / "tests" / "data" / "bundles" / "simple-prescription.json";
    note = "corpus not found at " + dir.string() + "; using " + fallback.string() + " only";
    std::cerr << "hanko_bench: " << note << "\n";
    out.push_back(fallback);
  } else {
    note = fs::weakly_canonical(dir).string() + " (" + std::to_string(out.size()) + " files)";
  }
  return out;
}

void setup() {
  g_env = new Env();
  Env& e = *g_env;
  char tmpl[] = "/tmp/hanko-bench-XXXXXX";
  if (!mkdtemp(tmpl)) {
    die("cannot create a temporary folder");
  }
  e.dir = tmpl;
  e.pki = must(certstore::generate_dev_pki(e.dir / "pki", kPkiTime), "generating the dev PKI");

  auto load_key = [&](const std::string& id) {
    const auto& it = e.pki.get(id);
    return std::unique_ptr<signer::SigningKey>(
        must(signer::PemSigningKey::load(it.cert.string(), it.key.string(), it.chain.string()), "key " + id));
  };
  e.rsa = load_key("doctor");
  e.ec = load_key("doctor-ec");

  const auto& t = e.pki.get("tsa");
  e.dev_tsa = must(tsa::DevTsa::load(t.cert.string(), t.key.string(), t.chain.string(), e.tsa_clock), "dev TSA");
  e.in_process_tsa = std::make_unique<tsa::InProcessTsa>(*e.dev_tsa);
  e.http_server = std::make_unique<tsa::TsaHttpServer>(*e.dev_tsa, "127.0.0.1", 0);
  e.http_server->start();
  e.http_tsa = std::make_unique<tsa::HttpTsaClient>(e.http_server->url());
  e.trust = std::make_unique<certstore::TrustStore>(
      must(certstore::TrustStore::load_dir(e.pki.trust_dir), "trust store"));

  for (const auto& path : corpus_files(e.corpus_note)) {
    Sample s;
    s.name = path.stem().string();
    s.text = read_or_die(path);
    s.parsed = must(signer::parse_document_bundle(s.text), "parsing " + path.string());
    s.signed_bb = must(signer::sign_bundle(s.parsed, *e.rsa, nullptr, sign_options(signer::Level::B_B)),
                       "signing B-B " + s.name)
                      .bundle;
    s.signed_bb_ec = must(signer::sign_bundle(s.parsed, *e.ec, nullptr, sign_options(signer::Level::B_B)),
                          "signing B-B ES256 " + s.name)
                         .bundle;
    s.signed_bt = must(signer::sign_bundle(s.parsed, *e.rsa, e.in_process_tsa.get(), sign_options(signer::Level::B_T)),
                       "signing B-T " + s.name)
                      .bundle;
    s.signed_bb_text = json::serialize(s.signed_bb);
    s.signed_bt_text = json::serialize(s.signed_bt);
    // The verify benchmarks only mean something if the signatures pass.
    for (const json::Value* v : {&s.signed_bb, &s.signed_bb_ec, &s.signed_bt}) {
      auto r = must(verifier::verify_bundle(*v, verify_options()), "verifying " + s.name);
      if (r.indication != verifier::Indication::total_passed) {
        die("the signed " + s.name + " does not verify: " + std::string(verifier::indication_name(r.indication)) +
            " " + std::string(verifier::sub_indication_name(r.sub_indication)));
      }
    }
    e.samples.push_back(std::move(s));
  }
  // FHIR XML: the corpus XML Bundles when present, else the project's own.
  std::vector<fs::path> xml_files;
  const fs::path corpus = std::getenv("HANKO_CORPUS_DIR") && *std::getenv("HANKO_CORPUS_DIR")
                              ? fs::path(std::getenv("HANKO_CORPUS_DIR"))
                              : fs::path(HANKO_SOURCE_DIR) / ".." / "shared" / "corpus";
  for (const char* n : {"jp-eprescription-example01.xml", "ips-bundle-01.xml"}) {
    if (fs::exists(corpus / n)) {
      xml_files.push_back(corpus / n);
    }
  }
  if (xml_files.empty()) {
    xml_files.push_back(fs::path(HANKO_SOURCE_DIR) / "tests" / "data" / "bundles" / "simple-prescription.xml");
  }
  for (const auto& path : xml_files) {
    XmlSample x;
    x.name = path.filename().string();
    x.text = read_or_die(path);
    x.signed_bb = must(signer::sign_xml_bundle(x.text, *e.rsa, nullptr, sign_options(signer::Level::B_B)),
                       "signing XML B-B " + x.name)
                      .bundle_xml;
    x.signed_bt = must(signer::sign_xml_bundle(x.text, *e.rsa, e.in_process_tsa.get(), sign_options(signer::Level::B_T)),
                       "signing XML B-T " + x.name)
                      .bundle_xml;
    for (const std::string* v : {&x.signed_bb, &x.signed_bt}) {
      auto r = must(verifier::verify_xml_bundle_text(*v, verify_options()), "verifying " + x.name);
      if (r.indication != verifier::Indication::total_passed) {
        die("the signed " + x.name + " does not verify: " + std::string(verifier::indication_name(r.indication)) +
            " " + std::string(verifier::sub_indication_name(r.sub_indication)));
      }
    }
    e.xml_samples.push_back(std::move(x));
  }
}

void finish(benchmark::State& state, const Sample& s) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.text.size()));
  state.SetLabel(std::to_string((s.text.size() + 512) / 1024) + " KiB");
}

// ---- parse and canonicalize ------------------------------------------------

void bm_parse(benchmark::State& state, const Sample* s) {
  for (auto _ : state) {
    auto v = json::parse(s->text);
    if (!v) {
      state.SkipWithError(v.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(*v);
  }
  finish(state, *s);
}

void bm_jcs(benchmark::State& state, const Sample* s) {
  for (auto _ : state) {
    auto c = signer::canonical_document(s->parsed, signer::jcs());
    if (!c) {
      state.SkipWithError(c.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(c->data());
  }
  finish(state, *s);
}

void bm_parse_jcs(benchmark::State& state, const Sample* s) {
  for (auto _ : state) {
    auto v = signer::parse_document_bundle(s->text);
    if (!v) {
      state.SkipWithError(v.error().message.c_str());
      break;
    }
    auto c = signer::canonical_document(*v, signer::jcs());
    if (!c) {
      state.SkipWithError(c.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(c->data());
  }
  finish(state, *s);
}

// ---- sign --------------------------------------------------------------------

/** sign_bundle on a fresh copy of the parsed Bundle (the copy is part of the measured work). */
void bm_sign(benchmark::State& state, const Sample* s, const signer::SigningKey* key, tsa::TimestampSource* tsa,
             signer::Level level) {
  const auto opts = sign_options(level);
  for (auto _ : state) {
    auto r = signer::sign_bundle(s->parsed, *key, tsa, opts);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->jws.data());
  }
  finish(state, *s);
}

/** The server's path: text in, signed Bundle text out. */
void bm_sign_text(benchmark::State& state, const Sample* s, const signer::SigningKey* key, tsa::TimestampSource* tsa,
                  signer::Level level) {
  const auto opts = sign_options(level);
  for (auto _ : state) {
    auto v = signer::parse_document_bundle(s->text);
    if (!v) {
      state.SkipWithError(v.error().message.c_str());
      break;
    }
    auto r = signer::sign_bundle(std::move(*v), *key, tsa, opts);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    std::string out = json::serialize(r->bundle);
    benchmark::DoNotOptimize(out.data());
  }
  finish(state, *s);
}

// ---- verify ------------------------------------------------------------------

void check_report(benchmark::State& state, const Result<verifier::ValidationReport>& r) {
  if (!r) {
    state.SkipWithError(r.error().message.c_str());
  } else if (r->indication != verifier::Indication::total_passed) {
    state.SkipWithError("validation did not pass");
  }
}

void bm_verify(benchmark::State& state, const Sample* s, const json::Value* signed_bundle) {
  const auto opts = verify_options();
  for (auto _ : state) {
    auto r = verifier::verify_bundle(*signed_bundle, opts);
    check_report(state, r);
    if (state.error_occurred()) {
      break;
    }
    benchmark::DoNotOptimize(r->indication);
  }
  finish(state, *s);
}

void bm_verify_text(benchmark::State& state, const Sample* s, const std::string* signed_text) {
  const auto opts = verify_options();
  for (auto _ : state) {
    auto r = verifier::verify_bundle_text(*signed_text, opts);
    check_report(state, r);
    if (state.error_occurred()) {
      break;
    }
    benchmark::DoNotOptimize(r->indication);
  }
  finish(state, *s);
}

void finish_xml(benchmark::State& state, const XmlSample& s) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.text.size()));
  state.SetLabel(std::to_string((s.text.size() + 512) / 1024) + " KiB");
}

/** XAdES signing from the XML text (parse, FHIR XML #document, signature, Bundle.signature, serialization). */
void bm_sign_xml(benchmark::State& state, const XmlSample* s, const signer::SigningKey* key, tsa::TimestampSource* tsa,
                 signer::Level level) {
  const auto opts = sign_options(level);
  for (auto _ : state) {
    auto r = signer::sign_xml_bundle(s->text, *key, tsa, opts);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r->bundle_xml.data());
  }
  finish_xml(state, *s);
}

void bm_verify_xml(benchmark::State& state, const XmlSample* s, const std::string* signed_xml) {
  const auto opts = verify_options();
  for (auto _ : state) {
    auto r = verifier::verify_xml_bundle_text(*signed_xml, opts);
    check_report(state, r);
    if (state.error_occurred()) {
      break;
    }
    benchmark::DoNotOptimize(r->indication);
  }
  finish_xml(state, *s);
}

void register_all() {
  Env& e = *g_env;
  // Real time: throughput as a client sees it; for ->Threads(2) items_per_second
  // is then the aggregate of both threads, and the HTTP TSA's server thread counts.
  auto reg = [](const std::string& name, auto&& fn, auto... args) {
    return benchmark::RegisterBenchmark(name.c_str(), fn, args...)->UseRealTime()->Unit(benchmark::kMicrosecond);
  };
  for (const Sample& s : e.samples) {
    const Sample* p = &s;
    reg("parse/" + s.name, bm_parse, p);
    reg("jcs/" + s.name, bm_jcs, p);
    reg("parse_jcs/" + s.name, bm_parse_jcs, p);
    reg("sign_BB_RS256/" + s.name, bm_sign, p, e.rsa.get(), nullptr, signer::Level::B_B);
    reg("sign_BB_ES256/" + s.name, bm_sign, p, e.ec.get(), nullptr, signer::Level::B_B);
    reg("sign_BT_RS256_inproc/" + s.name, bm_sign, p, e.rsa.get(), e.in_process_tsa.get(), signer::Level::B_T);
    reg("sign_text_BB_RS256/" + s.name, bm_sign_text, p, e.rsa.get(), nullptr, signer::Level::B_B);
    reg("verify_BB_RS256/" + s.name, bm_verify, p, &s.signed_bb);
    reg("verify_BB_ES256/" + s.name, bm_verify, p, &s.signed_bb_ec);
    reg("verify_BT_RS256/" + s.name, bm_verify, p, &s.signed_bt);
    reg("verify_text_BB_RS256/" + s.name, bm_verify_text, p, &s.signed_bb_text);
    reg("verify_text_BT_RS256/" + s.name, bm_verify_text, p, &s.signed_bt_text);
  }
  for (const XmlSample& x : e.xml_samples) {
    const XmlSample* p = &x;
    reg("sign_xml_BB_RS256/" + x.name, bm_sign_xml, p, e.rsa.get(), nullptr, signer::Level::B_B);
    reg("sign_xml_BT_RS256_inproc/" + x.name, bm_sign_xml, p, e.rsa.get(), e.in_process_tsa.get(), signer::Level::B_T);
    reg("verify_xml_BB_RS256/" + x.name, bm_verify_xml, p, &x.signed_bb);
    reg("verify_xml_BT_RS256/" + x.name, bm_verify_xml, p, &x.signed_bt);
  }
  // The first sample is the 28 KB JP ePrescription (or the fallback Bundle).
  const Sample* first = &e.samples.front();
  reg("sign_BT_RS256_http/" + first->name, bm_sign, first, e.rsa.get(), e.http_tsa.get(), signer::Level::B_T);
  reg("sign_BB_RS256/" + first->name, bm_sign, first, e.rsa.get(), nullptr, signer::Level::B_B)->Threads(2);
  reg("verify_BB_RS256/" + first->name, bm_verify, first, &first->signed_bb)->Threads(2);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  setup();
  benchmark::AddCustomContext("hanko_corpus", g_env->corpus_note);
  benchmark::AddCustomContext("openssl", OPENSSL_FULL_VERSION_STR);
  benchmark::AddCustomContext("hanko_signing_time", format_rfc3339(kSignTime));
  benchmark::AddCustomContext("hanko_validation_time", format_rfc3339(kValidationTime));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete g_env;
  g_env = nullptr;
  return 0;
}
