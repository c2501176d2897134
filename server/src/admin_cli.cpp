#include "admin_cli.h"

#include "archive_api.h"
#include "audit.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli_args.h"
#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/digest.h"
#include "hanko/common/file.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/store/database.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"

namespace hanko::server {

namespace {

namespace fs = std::filesystem;

struct TrustRow {
  std::string purpose;  ///< signature | tsa | ocsp
  std::string kind;     ///< anchor | intermediate | crl
  std::string subject;
  std::string serial;
  std::optional<TimePoint> not_after;  ///< certificate notAfter, CRL nextUpdate
  std::string state;                   ///< ok | NEAR-EXPIRY | EXPIRED
  long long days_left = 0;
};

void add_store_rows(const certstore::TrustStore& store, const std::string& purpose, TimePoint at,
                    std::chrono::hours warn, std::vector<TrustRow>& rows) {
  auto classify = [&](TrustRow& r) {
    if (!r.not_after) {
      r.state = "ok";
      return;
    }
    r.days_left = std::chrono::duration_cast<std::chrono::hours>(*r.not_after - at).count() / 24;
    if (*r.not_after <= at) {
      r.state = "EXPIRED";
    } else if (*r.not_after - at <= warn) {
      r.state = "NEAR-EXPIRY";
    } else {
      r.state = "ok";
    }
  };
  auto cert_row = [&](const X509* c, const char* kind) {
    auto s = certstore::summarize(c);
    TrustRow r{purpose, kind, s.subject, s.serial_hex, s.not_after, "", 0};
    classify(r);
    rows.push_back(std::move(r));
  };
  for (const auto& c : store.anchors()) {
    cert_row(c.get(), "anchor");
  }
  for (const auto& c : store.intermediates()) {
    cert_row(c.get(), "intermediate");
  }
  for (const auto& crl : store.crls()) {
    TrustRow r;
    r.purpose = purpose;
    r.kind = "crl";
    r.subject = ossl::name_to_string(X509_CRL_get_issuer(crl.get()));
    if (const ASN1_TIME* nu = X509_CRL_get0_nextUpdate(crl.get())) {
      r.not_after = ossl::asn1_time_to_timepoint(nu);
    }
    classify(r);
    rows.push_back(std::move(r));
  }
}

}  // namespace

int cmd_trust(int argc, char** argv) {
  if (argc < 3 || std::string(argv[2]) != "list") {
    return usage_error("usage: hanko trust list --trust DIR [--tsa-trust DIR] [--ocsp-trust DIR] [--at TIME] "
                       "[--warn-days N] [--format text|json]");
  }
  auto a = parse_args(argc, argv, 3, {"trust", "tsa-trust", "ocsp-trust", "at", "warn-days", "format"}, {});
  if (!a) return usage_error(a.error().message);
  auto trust_dir = a->get("trust");
  if (!trust_dir) return usage_error("trust list needs --trust DIR");
  std::string format = a->get("format").value_or("text");
  if (format != "text" && format != "json") return usage_error("--format must be text or json");
  SystemClock clock;
  auto at = time_arg(*a, "at", clock.now());
  if (!at) return error_exit(at.error());
  long long warn_days = 90;
  if (auto w = a->get("warn-days")) {
    auto [p, ec] = std::from_chars(w->data(), w->data() + w->size(), warn_days);
    if (ec != std::errc() || p != w->data() + w->size() || warn_days < 0 || warn_days > 36500) {
      return usage_error("--warn-days must be a whole number of days from 0 to 36500");
    }
  }
  std::vector<TrustRow> rows;
  const std::vector<std::pair<std::string, std::optional<std::string>>> dirs = {
      {"signature", trust_dir}, {"tsa", a->get("tsa-trust")}, {"ocsp", a->get("ocsp-trust")}};
  for (const auto& [purpose, dir] : dirs) {
    if (!dir) {
      continue;
    }
    auto store = certstore::TrustStore::load_dir(*dir);
    if (!store) return error_exit(store.error());
    add_store_rows(*store, purpose, *at, std::chrono::hours(24 * warn_days), rows);
  }
  int near = 0;
  for (const auto& r : rows) {
    near += r.state != "ok" ? 1 : 0;
  }
  if (format == "json") {
    json::Array items;
    for (const auto& r : rows) {
      items.emplace_back(json::Object{
          {"purpose", json::Value(r.purpose)},
          {"kind", json::Value(r.kind)},
          {"subject", json::Value(r.subject)},
          {"serialNumber", r.serial.empty() ? json::Value() : json::Value(r.serial)},
          {r.kind == "crl" ? "nextUpdate" : "notAfter", r.not_after ? json::Value(format_rfc3339(*r.not_after)) : json::Value()},
          {"daysLeft", r.not_after ? json::Value(r.days_left) : json::Value()},
          {"state", json::Value(r.state)},
      });
    }
    std::cout << json::serialize(json::Value(json::Object{{"at", json::Value(format_rfc3339(*at))},
                                                          {"warnDays", json::Value(warn_days)},
                                                          {"items", json::Value(std::move(items))}}),
                                 2)
              << "\n";
  } else {
    std::cout << "Trust configuration at " << format_rfc3339(*at) << " (near expiry: within " << warn_days
              << " days)\n";
    for (const auto& r : rows) {
      std::cout << "  [" << r.purpose << "] " << r.kind << ": " << r.subject;
      if (!r.serial.empty()) {
        std::cout << " (serial " << r.serial << ")";
      }
      if (r.not_after) {
        std::cout << (r.kind == "crl" ? ", nextUpdate " : ", valid until ") << format_rfc3339(*r.not_after) << " ("
                  << r.days_left << " days)";
      }
      if (r.state != "ok") {
        std::cout << "  " << r.state;
      }
      std::cout << "\n";
    }
    std::cout << rows.size() << " item(s), " << near << " expired or near expiry\n";
  }
  return 0;
}

namespace {

Result<std::unique_ptr<store::Database>> open_registry(const Args& a, bool create) {
  fs::path dir = a.get("data").value_or("var");
  if (!create && !fs::exists(dir / "hanko.db")) {
    return fail(Errc::invalid_argument, "no database at " + (dir / "hanko.db").string() +
                                            " (give --data DIR, the service's data directory)");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  return store::Database::open_sqlite(dir / "hanko.db");
}

void print_entry(const store::RegistryEntry& e) {
  std::cout << e.id << "\t" << e.role << "\t";
  if (!e.cert_sha256.empty()) {
    std::cout << "certificate sha256:" << e.cert_sha256;
  } else {
    std::cout << "JPKI " << e.jpki_name << " born " << e.jpki_birth_date;
  }
  std::cout << "\tlicence " << (e.licence_number.empty() ? "-" : e.licence_number) << "\t"
            << format_rfc3339(e.valid_from) << " to " << format_rfc3339(e.valid_to);
  if (!e.note.empty()) {
    std::cout << "\t" << e.note;
  }
  std::cout << "\n";
}

}  // namespace

int cmd_registry(int argc, char** argv) {
  const char* usage =
      "usage: hanko registry add --role ROLE --from TIME --to TIME [--licence N] [--note TEXT] "
      "(--cert FILE [--by-identity] | --name NAME --birth-date EYYYYMMDD) [--data DIR] | "
      "registry list [--data DIR] [--format text|json] | registry remove --id N [--data DIR]";
  if (argc < 3) return usage_error(usage);
  std::string sub = argv[2];
  if (sub == "add") {
    auto a = parse_args(argc, argv, 3, {"data", "role", "from", "to", "licence", "note", "cert", "name", "birth-date"},
                        {"by-identity"});
    if (!a) return usage_error(a.error().message);
    auto role = a->get("role");
    auto from = a->get("from");
    auto to = a->get("to");
    if (!role || !from || !to) return usage_error("registry add needs --role, --from and --to");
    store::RegistryEntry e;
    e.role = *role;
    auto f = parse_rfc3339(*from);
    auto t = parse_rfc3339(*to);
    if (!f || !t) return usage_error("--from and --to must be RFC 3339 times or dates (2026-04-01)");
    e.valid_from = *f;
    e.valid_to = *t;
    e.licence_number = a->get("licence").value_or("");
    e.note = a->get("note").value_or("");
    if (auto cert_path = a->get("cert")) {
      auto certs = ossl::load_certificates(*cert_path);
      if (!certs) return error_exit(certs.error());
      if (certs->empty()) return usage_error(*cert_path + " holds no certificate");
      const X509* cert = certs->front().get();
      if (a->has("by-identity")) {
        auto id = certstore::jpki_identity(cert);
        if (!id || !id->birth_date) {
          return error_exit(Error{Errc::invalid_argument,
                                  *cert_path + " carries no JPKI name and birth date (subjectAltName otherNames)"});
        }
        e.jpki_name = id->name;
        e.jpki_birth_date = *id->birth_date;
      } else {
        e.cert_sha256 = hex(ossl::cert_sha256(cert));
      }
    } else {
      auto name = a->get("name");
      auto birth = a->get("birth-date");
      if (!name || !birth) return usage_error("registry add needs --cert FILE, or --name and --birth-date");
      e.jpki_name = *name;
      e.jpki_birth_date = *birth;
    }
    auto db = open_registry(*a, true);
    if (!db) return error_exit(db.error());
    auto id = (*db)->add_registry_entry(e);
    if (!id) return error_exit(id.error());
    e.id = *id;
    std::cout << "added registry entry ";
    print_entry(e);
    return 0;
  }
  if (sub == "list") {
    auto a = parse_args(argc, argv, 3, {"data", "format"}, {});
    if (!a) return usage_error(a.error().message);
    std::string format = a->get("format").value_or("text");
    if (format != "text" && format != "json") return usage_error("--format must be text or json");
    auto db = open_registry(*a, false);
    if (!db) return error_exit(db.error());
    auto all = (*db)->list_registry();
    if (!all) return error_exit(all.error());
    if (format == "json") {
      json::Array items;
      for (const auto& e : *all) {
        items.emplace_back(json::Object{
            {"id", json::Value(static_cast<long long>(e.id))},
            {"role", json::Value(e.role)},
            {"certSha256", e.cert_sha256.empty() ? json::Value() : json::Value(e.cert_sha256)},
            {"jpkiName", e.jpki_name.empty() ? json::Value() : json::Value(e.jpki_name)},
            {"jpkiBirthDate", e.jpki_birth_date.empty() ? json::Value() : json::Value(e.jpki_birth_date)},
            {"licenceNumber", e.licence_number.empty() ? json::Value() : json::Value(e.licence_number)},
            {"validFrom", json::Value(format_rfc3339(e.valid_from))},
            {"validTo", json::Value(format_rfc3339(e.valid_to))},
            {"note", json::Value(e.note)},
        });
      }
      std::cout << json::serialize(json::Value(std::move(items)), 2) << "\n";
    } else {
      for (const auto& e : *all) {
        print_entry(e);
      }
      std::cout << all->size() << " registry entr" << (all->size() == 1 ? "y" : "ies") << "\n";
    }
    return 0;
  }
  if (sub == "remove") {
    auto a = parse_args(argc, argv, 3, {"data", "id"}, {});
    if (!a) return usage_error(a.error().message);
    auto id_text = a->get("id");
    long long id = 0;
    if (!id_text) return usage_error("registry remove needs --id N");
    auto [p, ec] = std::from_chars(id_text->data(), id_text->data() + id_text->size(), id);
    if (ec != std::errc() || p != id_text->data() + id_text->size() || id <= 0) {
      return usage_error("--id must be a registry entry id (hanko registry list)");
    }
    auto db = open_registry(*a, false);
    if (!db) return error_exit(db.error());
    auto removed = (*db)->remove_registry_entry(id);
    if (!removed) return error_exit(removed.error());
    if (!*removed) {
      return error_exit(Error{Errc::invalid_argument, "no registry entry has id " + *id_text});
    }
    std::cout << "removed registry entry " << id << "\n";
    return 0;
  }
  return usage_error(usage);
}

int cmd_audit(int argc, char** argv) {
  if (argc < 4 || std::string(argv[2]) != "verify") {
    return usage_error("usage: hanko audit verify FILE [--tsa-trust DIR]");
  }
  const fs::path file = argv[3];
  std::optional<fs::path> trust_dir;
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--tsa-trust" && i + 1 < argc) {
      trust_dir = argv[++i];
    } else {
      return usage_error("usage: hanko audit verify FILE [--tsa-trust DIR] (unknown argument " + arg + ")");
    }
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    std::cerr << "hanko: " << file.string() << " is not a readable file\n";
    return kExitUsage;
  }
  std::optional<certstore::TrustStore> trust;
  if (trust_dir) {
    auto t = certstore::TrustStore::load_dir(*trust_dir);
    if (!t) return error_exit(t.error());
    trust.emplace(std::move(*t));
  }
  auto v = verify_audit_file(file, trust ? &*trust : nullptr);
  if (!v) return error_exit(v.error());
  if (!v->ok) {
    std::cout << "line " << v->line << ": " << v->reason << "\n";
    return 1;
  }
  std::cout << v->records << " records, chain intact\n"
            << "head: " << v->head << "\n";
  if (v->anchors == 0) {
    std::cout << "anchors: none (the newest lines could be cut off unnoticed; see audit.anchorIntervalSeconds)\n";
  } else {
    std::cout << "anchors: " << v->anchors << (v->anchors_verified ? ", TSA signatures verified" : ", imprints checked (give --tsa-trust DIR to verify the TSA signatures)")
              << "; last at line " << v->last_anchor_line << " (" << format_rfc3339(*v->last_anchor_time) << "), "
              << (v->records - v->last_anchor_line) << " line(s) after it not yet anchored\n";
  }
  return kExitOk;
}


namespace {

/** The exit code of an HTTP answer: 0 for 2xx, 4 when a remote service failed, 1 for a refused document, 3 otherwise. */
int exit_for_status(int status) {
  if (status < 300) return kExitOk;
  if (status == 502 || status == 503) return kExitRemote;
  if (status == 422) return 1;
  if (status >= 500) return kExitInternal;
  return kExitUsage;
}

/** The first diagnostics of an OperationOutcome body, or the body. */
std::string diagnostics_of(const std::string& body) {
  if (auto v = json::parse(body)) {
    if (const json::Value* issues = v->find("issue"); issues != nullptr && issues->is_array() && !issues->as_array().empty()) {
      if (const std::string* d = issues->as_array().front().find_string("diagnostics")) {
        return *d;
      }
    }
  }
  return body.substr(0, 300);
}

struct CliService {
  std::unique_ptr<Clock> clock;
  std::unique_ptr<Service> service;
  std::unique_ptr<ArchiveApi> api;
};

/**
 * The service and its archive from --config/--data, on the system clock (a
 * dry run at another time passes its time to the operation instead: the
 * service must not, say, re-issue development CRLs dated in the future).
 */
Result<CliService> cli_service(const Args& a) {
  std::map<std::string, std::string> overrides;
  if (auto d = a.get("data")) overrides["data.dir"] = *d;
  auto config = load_config(a.get("config").value_or(""), overrides);
  if (!config) return std::unexpected(config.error());
  CliService out;
  out.clock = std::make_unique<SystemClock>();
  auto service = Service::create(*config, *out.clock);
  if (!service) return std::unexpected(service.error());
  out.service = std::move(*service);
  auto api = ArchiveApi::create(*out.service);
  if (!api) return std::unexpected(api.error());
  out.api = std::move(*api);
  return out;
}

}  // namespace

int cmd_extend(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2, {"level", "config", "data", "out"}, {}, 1);
  if (!a) return usage_error(a.error().message);
  if (a->positional.size() != 1) return usage_error("extend needs one signed Bundle file");
  auto text = read_file(a->positional.front());
  if (!text) return error_exit(text.error());
  auto svc = cli_service(*a);
  if (!svc) return error_exit(svc.error());
  const std::size_t first = text->find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  const bool xml = first != std::string::npos && (*text)[first] == '<';
  const std::string level = a->get("level").value_or("B-LTA");
  HttpAnswer r = svc->api->extend(xml ? "application/fhir+xml" : "application/fhir+json", *text, "level=" + level);
  if (r.status != 200) {
    std::cerr << "hanko: " << diagnostics_of(r.body) << "\n";
    return exit_for_status(r.status);
  }
  if (auto out = a->get("out")) {
    if (auto w = write_file(*out, r.body); !w) return error_exit(w.error());
    for (const auto& [k, v] : r.headers) {
      if (k == "X-Hanko-Level") std::cerr << "hanko: " << *out << " is " << v << "\n";
    }
  } else {
    std::cout << r.body;
  }
  return kExitOk;
}

int cmd_archive(int argc, char** argv) {
  if (argc < 3) return usage_error("usage: hanko archive renew --due [--as-of TIME] | export --id ID --out DIR | purge --id ID");
  const std::string sub = argv[2];
  auto a = parse_args(argc, argv, 3, {"as-of", "config", "data", "id", "out"}, {"due"});
  if (!a) return usage_error(a.error().message);
  std::optional<TimePoint> at;
  if (a->get("as-of")) {
    auto t = time_arg(*a, "as-of", TimePoint{});
    if (!t) return error_exit(t.error());
    at = *t;
  }
  if (sub == "renew") {
    if (!a->has("due")) return usage_error("archive renew needs --due");
    auto svc = cli_service(*a);
    if (!svc) return error_exit(svc.error());
    const TimePoint as_of = at.value_or(svc->service->now());
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    std::size_t renewed = 0, failed = 0;
    auto summary = svc->api->renew_due(as_of, [&](const archive::RenewProgress& p) {
      (p.renewed ? renewed : failed) += 1;
      if (tty) {
        std::cout << "\rrenewing: " << renewed << " renewed, " << failed << " failed" << std::flush;
      } else if (!p.renewed) {
        std::cout << p.item_id << ": " << p.message << "\n";
      }
    });
    if (tty) std::cout << "\n";
    std::cout << "as of " << format_rfc3339(as_of) << ": " << summary.renewed << " renewed, " << summary.failed
              << " failed, " << summary.remaining_due << " still due\n";
    return summary.failed == 0 ? kExitOk : 1;
  }
  if (sub == "export" || sub == "purge") {
    auto id = a->get("id");
    if (!id) return usage_error("archive " + sub + " needs --id ID");
    auto svc = cli_service(*a);
    if (!svc) return error_exit(svc.error());
    const TimePoint now = at.value_or(svc->service->now());
    const char* user = std::getenv("USER");
    const std::string actor = std::string("cli:") + (user != nullptr ? user : "unknown");
    if (sub == "export") {
      auto out = a->get("out");
      if (!out) return usage_error("archive export needs --out DIR");
      auto e = svc->api->archive().export_item(*id, actor, now);
      if (!e) return error_exit(e.error());
      std::error_code ec;
      fs::create_directories(*out, ec);
      for (std::size_t i = 0; i < e->documents.size(); ++i) {
        const bool xml = e->item.content_type == "application/fhir+xml";
        const fs::path file = fs::path(*out) / (e->item.id + "-v" + std::to_string(e->versions[i].version) + (xml ? ".xml" : ".json"));
        if (auto w = write_file(file.string(), e->documents[i]); !w) return error_exit(w.error());
      }
      std::cout << "exported " << e->documents.size() << " version(s) of " << e->item.id << " to " << *out << "\n";
      return kExitOk;
    }
    auto p = svc->api->archive().purge(*id, actor, now);
    if (!p) return error_exit(p.error());
    std::cout << "purged the documents of " << *id << " (the item remains as a record)\n";
    return kExitOk;
  }
  return usage_error("unknown archive command '" + sub + "'");
}

}  // namespace hanko::server
