/**
 * @file archive_bench.cpp
 * hanko_archive_bench (issue 8 item 9): the archive at volume. Signs N
 * prescriptions (default 10,000; each its own B-T signature: a copy of
 * tests/data/bundles/simple-prescription.json with its own
 * Bundle.identifier), ingests them all into an Archive (validation, B-LTA,
 * storage), then renews them all with renew_due at a time past their renewal
 * date (a new TSA in service), on SQLite and, when the server binaries are
 * installed, PostgreSQL (the test cluster of tests/support/pg_server.h).
 *
 * One line per phase: wall time, time per item, and the peak resident set
 * so far (getrusage ru_maxrss; it only grows, so each line is the peak up to
 * the end of that phase). Everything is in-process: the PKI is the tests'
 * LtPki made at pinned times, the revocation server a DevRevocationServer on
 * 127.0.0.1 and the TSAs DevTsa instances, all with fixed clocks. Built only
 * with the tests (it uses hanko_test_support).
 *
 *   build-sim/bin/hanko_archive_bench [--items N] [--backend sqlite|postgresql|both]
 */
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "hanko/archive/archive.h"
#include "hanko/certstore/dev_revocation_server.h"
#include "hanko/certstore/revocation.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/clock.h"
#include "hanko/common/http_client.h"
#include "hanko/common/json.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/signing_key.h"
#include "hanko/store/database.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "long_term_pki.h"
#include "pg_server.h"
#include "test_support.h"

namespace {

using namespace hanko;
using namespace std::chrono;
using Wall = std::chrono::steady_clock;  // the bench measures elapsed time; the code under test gets pinned times

constexpr auto kYear = days(365);

[[noreturn]] void die(const std::string& what) {
  std::cerr << "hanko_archive_bench: " << what << "\n";
  std::exit(2);
}

double maxrss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

void line(const std::string& backend, const std::string& phase, std::size_t items, Wall::time_point start,
          const std::string& extra) {
  const double s = duration<double>(Wall::now() - start).count();
  std::printf("archive_bench backend=%s phase=%s items=%zu wall_s=%.1f ms_per_item=%.2f maxrss_mib=%.0f load=\"%s\" %s\n",
              backend.c_str(), phase.c_str(), items, s, items != 0 ? 1000.0 * s / static_cast<double>(items) : 0.0,
              maxrss_mib(), loadavg().c_str(), extra.c_str());
  std::fflush(stdout);
}

struct World {
  TimePoint t0 = test::sign_time();
  FixedClock rev_clock{test::sign_time()};
  FixedClock tsa_clock{test::sign_time()};
  std::unique_ptr<certstore::DevRevocationServer> rev;
  std::unique_ptr<test::LtPki> pki;
  certstore::TrustStore sig_trust, tsa_trust;
  HttpClient http;
  std::unique_ptr<certstore::RevocationChecker> revocation;
  std::vector<std::unique_ptr<tsa::DevTsa>> tsas;
  std::vector<std::unique_ptr<tsa::InProcessTsa>> sources;

  void at(TimePoint t) {
    rev_clock.set(t);
    tsa_clock.set(t);
  }
  tsa::InProcessTsa& new_tsa(TimePoint nb, TimePoint na) {
    tsas.push_back(std::make_unique<tsa::DevTsa>(pki->tsa(nb, na, "Bench TSA " + std::to_string(tsas.size() + 1)),
                                                 test::up(pki->tsa_key.get()), std::vector<ossl::X509Ptr>{},
                                                 tsa_clock));
    if (auto c = tsas.back()->check(); !c) {
      die("TSA: " + c.error().message);
    }
    sources.push_back(std::make_unique<tsa::InProcessTsa>(*tsas.back()));
    return *sources.back();
  }
  archive::ArchiveServices services(tsa::TimestampSource& tsa) {
    archive::ArchiveServices s;
    s.verify.signature_trust = &sig_trust;
    s.verify.tsa_trust = &tsa_trust;
    s.verify.revocation = revocation.get();
    s.extend.tsa = &tsa;
    s.extend.signature_trust = &sig_trust;
    s.extend.tsa_trust = &tsa_trust;
    s.extend.revocation = revocation.get();
    return s;
  }
};

void run_backend(World& w, const std::string& backend, const std::string& url, const std::vector<std::string>& docs,
                 tsa::InProcessTsa& first_tsa) {
  auto db = store::Database::open(url);
  if (!db) {
    die(backend + ": " + db.error().message);
  }
  const TimePoint now = w.t0 + hours(1);
  w.at(now);
  std::size_t ok = 0, failed = 0;
  std::string first_error;
  TimePoint due = now + 10 * kYear;
  {
    archive::Archive a(**db, w.services(first_tsa));
    const auto start = Wall::now();
    for (const auto& d : docs) {
      auto r = a.ingest(d, "application/fhir+json", "bench", now);
      if (r && r->created) {
        ++ok;
        if (r->item.next_renewal && *r->item.next_renewal < due) {
          due = *r->item.next_renewal;
        }
      } else {
        ++failed;
        if (first_error.empty()) {
          first_error = r ? "not created" : r.error().error.message;
        }
      }
    }
    line(backend, "ingest", docs.size(), start,
         "ok=" + std::to_string(ok) + " failed=" + std::to_string(failed) +
             (first_error.empty() ? "" : " first_error=\"" + first_error + "\""));
  }
  // Renewal: past the renewal date (TSA certificate notAfter - 180 days), with a new TSA in service.
  const TimePoint as_of = due + days(1);
  w.at(as_of);
  auto& second = w.tsas.size() < 2 ? w.new_tsa(as_of - days(1), as_of + 2 * kYear) : *w.sources[1];
  archive::Archive a(**db, w.services(second));
  std::size_t renewed = 0, rfailed = 0, calls = 0;
  first_error.clear();
  const auto start = Wall::now();
  for (;;) {
    auto s = a.renew_due(as_of, 1000);
    ++calls;
    renewed += s.renewed;
    rfailed += s.failed;
    if (first_error.empty() && !s.errors.empty()) {
      first_error = s.errors.front();
    }
    if (s.claimed == 0 || s.remaining_due == 0) {
      break;
    }
  }
  line(backend, "renew", ok, start,
       "renewed=" + std::to_string(renewed) + " failed=" + std::to_string(rfailed) +
           " renew_due_calls=" + std::to_string(calls) +
           (first_error.empty() ? "" : " first_error=\"" + first_error + "\""));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t items = 10000;
  std::string backends = "both";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--items" && i + 1 < argc) {
      items = std::stoul(argv[++i]);
    } else if (a == "--backend" && i + 1 < argc) {
      backends = argv[++i];
    } else {
      die("usage: hanko_archive_bench [--items N] [--backend sqlite|postgresql|both]");
    }
  }
  std::printf("archive_bench machine: %u cores, load at start %s\n", std::thread::hardware_concurrency(),
              loadavg().c_str());

  World w;
  auto server = certstore::DevRevocationServer::start("127.0.0.1", 0, w.rev_clock);
  if (!server) {
    die("revocation server: " + server.error().message);
  }
  w.rev = std::move(*server);
  w.pki = std::make_unique<test::LtPki>(w.t0, w.rev->base_url());
  if (auto r = w.pki->serve(*w.rev); !r) {
    die(r.error().message);
  }
  w.sig_trust.add_anchor(ossl::up_ref(w.pki->root.get()));
  w.tsa_trust.add_anchor(ossl::up_ref(w.pki->tsa_root.get()));
  w.revocation = std::make_unique<certstore::RevocationChecker>(w.http, certstore::TrustStore{}, nullptr,
                                                                certstore::RevocationOptions{});
  auto& tsa1 = w.new_tsa(w.t0 - days(30), w.t0 + 2 * kYear);

  // Sign: N distinct signatures (one per Bundle.identifier), B-T at t0.
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(ossl::up_ref(w.pki->ca.get()));
  auto key = signer::PemSigningKey::create(w.pki->signer(w.t0 - days(1), w.t0 + kYear),
                                           test::up(w.pki->signer_key.get()), std::move(chain));
  if (!key) {
    die(key.error().message);
  }
  auto base = json::parse(test::read_text(test::data_file("bundles/simple-prescription.json")));
  if (!base) {
    die("the test Bundle does not parse");
  }
  std::vector<std::string> docs;
  docs.reserve(items);
  {
    w.at(w.t0);
    signer::SignOptions opts;
    opts.level = signer::Level::B_T;
    opts.signing_time = w.t0;
    const auto start = Wall::now();
    for (std::size_t n = 0; n < items; ++n) {
      json::Value b = *base;
      b.find("identifier")->set("value", json::Value("1311234567-2026-" + std::to_string(100000000 + n)));
      auto r = signer::sign_bundle(b, **key, &tsa1, opts);
      if (!r) {
        die("signing: " + r.error().message);
      }
      docs.push_back(json::serialize(r->bundle, 2));
    }
    line("-", "sign", items, start, "bytes_per_doc=" + std::to_string(docs.front().size()));
  }

  if (backends == "sqlite" || backends == "both") {
    const auto dir = test::temp_dir("archive-bench");
    run_backend(w, "sqlite", (dir / "hanko.db").string(), docs, tsa1);
  }
  if (backends == "postgresql" || backends == "both") {
    if (const auto why = test::postgres_missing(); !why.empty()) {
      std::printf("archive_bench backend=postgresql skipped: %s\n", why.c_str());
    } else {
      auto pg = test::fresh_postgres_database("archive-bench");
      if (!pg) {
        die("PostgreSQL: " + pg.error().message);
      }
      run_backend(w, "postgresql", pg->url, docs, tsa1);
    }
  }
  w.rev->stop();
  std::printf("archive_bench done, load at end %s\n", loadavg().c_str());
  return 0;
}
