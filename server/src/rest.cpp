#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <cctype>
#include <filesystem>

#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/json.h"
#include "hanko/server/service.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/xades.h"
#include "hanko/store/database.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/tsa_pool.h"
#include "hanko/verifier/verifier.h"
#include "metrics.h"
#include "router.h"
#include "validation_context.h"

namespace hanko::server {

namespace fs = std::filesystem;

struct Service::Impl {
  ServiceConfig config;
  const Clock& clock;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<signer::SigningKey> key;
  std::unique_ptr<ValidationContext> validation;
  std::unique_ptr<tsa::DevTsa> dev_tsa;
  std::unique_ptr<tsa::TimestampSource> tsa;
  const signer::Canonicalizer* canonicalizer = nullptr;
  signer::Level level = signer::Level::B_T;
  std::vector<std::string> notes;
  Metrics metrics;

  static std::vector<std::string> route_patterns() {
    std::vector<std::string> out;
    for (const auto& r : route_table()) out.emplace_back(r.pattern);
    return out;
  }
  Impl(ServiceConfig c, const Clock& clk) : config(std::move(c)), clock(clk), metrics(route_patterns()) {}
  /** Reports every upstream HTTP call (TSA, OCSP, CRL, AIA) to the metrics. */
  HttpObserver observer() {
    return [m = &metrics](const HttpEvent& e) { m->observe_upstream(e.purpose, e.ok, e.seconds); };
  }
};

namespace {

/** Query parameter `name` from a raw query string (URL-decoded). */
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  try {
    Poco::URI uri("/?" + std::string(query));
    for (const auto& [k, v] : uri.getQueryParameters()) {
      if (k == name) {
        return v;
      }
    }
  } catch (const Poco::Exception&) {
  }
  return std::nullopt;
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
std::string media_type(std::string_view content_type) {
  std::string_view base = content_type.substr(0, content_type.find(';'));
  std::string lower;
  for (char c : base) {
    if (c != ' ' && c != '\t') {
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return lower;
}

bool is_fhir_json(std::string_view content_type) {
  const std::string m = media_type(content_type);
  return m == "application/fhir+json" || m == "application/json";
}

bool is_fhir_xml(std::string_view content_type) {
  const std::string m = media_type(content_type);
  return m == "application/fhir+xml" || m == "application/xml";
}

/** Composition.subject.reference, else the first Patient entry ("Patient/id" or its fullUrl); empty when none. */
std::string patient_reference(const json::Value& bundle) {
  const json::Value* entries = bundle.find("entry");
  if (entries == nullptr || !entries->is_array()) {
    return {};
  }
  for (const auto& e : entries->as_array()) {
    const json::Value* r = e.find("resource");
    const std::string* rt = r != nullptr ? r->find_string("resourceType") : nullptr;
    if (rt != nullptr && *rt == "Composition") {
      const json::Value* subject = r->find("subject");
      if (const std::string* ref = subject != nullptr ? subject->find_string("reference") : nullptr) {
        return *ref;
      }
      break;
    }
  }
  for (const auto& e : entries->as_array()) {
    const json::Value* r = e.find("resource");
    const std::string* rt = r != nullptr ? r->find_string("resourceType") : nullptr;
    if (rt != nullptr && *rt == "Patient") {
      if (const std::string* id = r->find_string("id")) {
        return "Patient/" + *id;
      }
      if (const std::string* url = e.find_string("fullUrl")) {
        return *url;
      }
    }
  }
  return {};
}

std::string signer_text(const std::string& subject, const std::string& serial_hex) {
  return subject + ", serial " + serial_hex;
}

/** The audit facts of a validation report: the document and the first signer. */
AuditFacts report_facts(const verifier::ValidationReport& report) {
  AuditFacts f;
  f.document_identifier = report.document_identifier;
  f.document_sha256 = report.document_sha256;
  f.indication = std::string(verifier::indication_name(report.indication));
  if (!report.signatures.empty() && report.signatures.front().signer) {
    const auto& c = *report.signatures.front().signer;
    f.signer = signer_text(c.subject, c.serial_number);
  }
  return f;
}

HttpAnswer json_answer(int status, const json::Value& v, std::string content_type = "application/json") {
  HttpAnswer a;
  a.status = status;
  a.content_type = std::move(content_type);
  a.body = json::serialize(v, 2);
  a.body.push_back('\n');
  return a;
}

}  // namespace

Result<std::unique_ptr<Service>> Service::create(const ServiceConfig& config, const Clock& clock) {
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) {
    return fail(Errc::io, "cannot create the data directory " + config.data_dir.string() + ": " + ec.message());
  }
  std::vector<std::string> notes;
  auto db = store::Database::open_sqlite(config.data_dir / "hanko.db");
  if (!db) {
    return std::unexpected(db.error());
  }
  notes.push_back("database: SQLite " + (config.data_dir / "hanko.db").string());
  std::optional<certstore::DevPki> pki;
  if (config.dev) {
    fs::path pki_dir = config.data_dir / "dev-pki";
    if (fs::exists(pki_dir / "manifest.json")) {
      auto loaded = certstore::load_dev_pki(pki_dir);
      if (!loaded) {
        return std::unexpected(loaded.error());
      }
      pki = std::move(*loaded);
      notes.push_back("DEVELOPMENT MODE: using the development PKI in " + pki_dir.string());
      auto refreshed = certstore::refresh_dev_crls(*pki, clock.now());
      if (!refreshed) {
        return std::unexpected(refreshed.error());
      }
      if (*refreshed) {
        notes.push_back("DEVELOPMENT MODE: re-issued the development CRLs (they are valid for 30 days)");
      }
    } else {
      auto made = certstore::generate_dev_pki(pki_dir, clock.now());
      if (!made) {
        return std::unexpected(made.error());
      }
      pki = std::move(*made);
      notes.push_back("DEVELOPMENT MODE: created a development PKI in " + pki_dir.string() +
                      " (development only, never for real prescriptions)");
    }
  }
  ServiceConfig effective = config;
  if (effective.trust_dir.empty() && pki) {
    effective.trust_dir = pki->trust_dir;
  }
  auto impl = std::make_unique<Impl>(effective, clock);
  impl->db = std::move(*db);
  auto validation = ValidationContext::create(effective, impl->db.get(), impl->observer());
  if (!validation) {
    return std::unexpected(validation.error());
  }
  impl->validation = std::move(*validation);
  for (const auto& line : impl->validation->describe()) {
    notes.push_back(line);
  }
  // The signer.
  if (!config.signer_cert.empty()) {
    auto key = signer::PemSigningKey::load(config.signer_cert, config.signer_key, config.signer_chain);
    if (!key) {
      return fail(key.error().code, "signer.cert/signer.key: " + key.error().message);
    }
    impl->key = std::move(*key);
  } else if (pki) {
    const auto& doctor = pki->get("doctor");
    auto key = signer::PemSigningKey::load(doctor.cert.string(), doctor.key.string(), doctor.chain.string());
    if (!key) {
      return std::unexpected(key.error());
    }
    impl->key = std::move(*key);
    notes.push_back("DEVELOPMENT MODE: signing with the development doctor key " + doctor.cert.string());
  } else {
    return fail(Errc::invalid_argument, "no signer configured (signer.cert, signer.key)");
  }
  // The TSA: an ordered pool with failover (tsa.sources, docs/tsa.md), or one tsa.url.
  if (!config.tsa_pool_keys.empty()) {
    if (!config.tsa_url.empty()) {
      return fail(Errc::invalid_argument, "configuration in " + config.source +
                                              ": tsa.url and tsa.sources are exclusive; list every TSA in tsa.sources");
    }
    auto pool_config = tsa::tsa_pool_config_from(config.tsa_pool_keys);
    if (!pool_config) {
      return fail(Errc::invalid_argument, pool_config.error().message + " (" + config.source + ")");
    }
    auto pool = tsa::TsaPool::create(*pool_config, http_options(config, impl->observer(), "tsa"));
    if (!pool) {
      return std::unexpected(pool.error());
    }
    for (const auto& src : (*pool)->sources()) {
      notes.push_back("TSA " + src.name + ": " + redact_url(src.url));
    }
    impl->tsa = std::move(*pool);
  } else if (!config.tsa_url.empty()) {
    HttpOptions http = http_options(config, impl->observer(), "tsa");
    http.total_timeout = std::chrono::milliseconds(config.tsa_timeout_ms);
    impl->tsa = std::make_unique<tsa::HttpTsaClient>(config.tsa_url, http);
    notes.push_back("TSA: " + config.tsa_url);
  } else if (pki) {
    const auto& t = pki->get("tsa");
    auto dev = tsa::DevTsa::load(t.cert.string(), t.key.string(), t.chain.string(), clock);
    if (!dev) {
      return std::unexpected(dev.error());
    }
    impl->dev_tsa = std::move(*dev);
    impl->tsa = std::make_unique<tsa::InProcessTsa>(*impl->dev_tsa);
    notes.push_back("DEVELOPMENT MODE: timestamps from the in-process development TSA (not an accredited TSA)");
  }
  impl->canonicalizer = signer::canonicalizer_by_name(config.canonicalization);
  impl->level = *signer::level_from_name(config.default_level);
  if (impl->level == signer::Level::B_T && !impl->tsa) {
    return fail(Errc::invalid_argument, "signing.level is B-T but no tsa.url is configured");
  }
  impl->notes = std::move(notes);
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Service::~Service() = default;

const ServiceConfig& Service::config() const { return m_impl->config; }
TimePoint Service::now() const { return m_impl->clock.now(); }
std::vector<std::string> Service::describe() const { return m_impl->notes; }
Metrics& Service::metrics() { return m_impl->metrics; }
tsa::TimestampSource* Service::timestamp_source() { return m_impl->tsa.get(); }
store::Database& Service::database() { return *m_impl->db; }

HttpAnswer Service::health() const {
  return json_answer(200, json::Value(json::Object{{"status", json::Value("ok")}}));
}

HttpAnswer Service::sign(std::string_view content_type, std::string_view body, std::string_view query) {
  const bool xml = is_fhir_xml(content_type);
  if (!xml && !is_fhir_json(content_type)) {
    return operation_outcome(415, "not-supported",
                             "Content-Type must be application/fhir+json or application/fhir+xml (got '" +
                                 std::string(content_type) + "')");
  }
  signer::SignOptions opts;
  opts.level = m_impl->level;
  if (auto l = query_param(query, "level")) {
    auto parsed = signer::level_from_name(*l);
    if (!parsed) {
      return operation_outcome(400, "invalid", "level must be B-B or B-T (got '" + *l + "')");
    }
    opts.level = *parsed;
  }
  if (auto r = query_param(query, "replace")) {
    opts.replace = (*r == "true" || *r == "1");
  }
  if (opts.level == signer::Level::B_T && !m_impl->tsa) {
    return operation_outcome(503, "transient", "no timestamp authority is configured for B-T");
  }
  opts.canonicalizer = m_impl->canonicalizer;
  opts.signature_type = m_impl->config.signature_type;
  if (body.size() > m_impl->config.max_body_bytes) {
    return error_answer(Error{Errc::too_large, "the body is larger than server.maxBodyBytes"});
  }
  Result<json::Value> bundle =
      xml ? signer::xml_policy_view(body) : signer::parse_document_bundle(body, m_impl->config.max_body_bytes);
  if (!bundle) {
    return error_answer(bundle.error());
  }
  AuditFacts facts;
  facts.document_identifier = signer::bundle_identifier(*bundle);
  facts.patient_reference = patient_reference(*bundle);
  {
    auto s = certstore::summarize(m_impl->key->certificate());
    facts.signer = signer_text(s.subject, s.serial_hex);
  }
  auto with_facts = [&](HttpAnswer a) {
    a.audit = facts;
    return a;
  };
  opts.signing_time = m_impl->clock.now();
  // The signing-side guard: hanko never produces a signature it would itself reject.
  {
    std::vector<const X509*> chain;
    for (const auto& c : m_impl->key->chain()) {
      chain.push_back(c.get());
    }
    auto check = verifier::check_signer(m_impl->key->certificate(), chain, *bundle,
                                        m_impl->validation->options(opts.signing_time));
    if (!check.ok) {
      if (check.sub_indication == verifier::SubIndication::try_later) {
        HttpAnswer a = operation_outcome(503, "transient", check.message);
        a.headers.emplace_back("Retry-After", "30");
        return with_facts(std::move(a));
      }
      return with_facts(operation_outcome(422, "business-rule", check.message));
    }
  }
  auto tsa_error = [&](const Error& e) {
    if (e.code == Errc::network || e.code == Errc::remote_rejected) {
      return error_answer(Error{e.code, "timestamp authority " + m_impl->tsa->describe() + ": " + e.message});
    }
    return error_answer(e);
  };
  if (xml) {
    auto signed_xml = signer::sign_xml_bundle(body, *m_impl->key, m_impl->tsa.get(), opts);
    if (!signed_xml) {
      return with_facts(tsa_error(signed_xml.error()));
    }
    HttpAnswer a;
    a.status = 200;
    a.content_type = "application/fhir+xml";
    a.body = std::move(signed_xml->bundle_xml);
    facts.document_sha256 = signed_xml->document_sha256_hex;
    facts.format = "xades";
    facts.level = std::string(signer::level_name(opts.level));
    m_impl->metrics.count_signature(facts.format, facts.level);
    return with_facts(std::move(a));
  }
  auto signed_bundle = signer::sign_bundle(std::move(*bundle), *m_impl->key, m_impl->tsa.get(), opts);
  if (!signed_bundle) {
    return with_facts(tsa_error(signed_bundle.error()));
  }
  facts.document_sha256 = signed_bundle->canonical_sha256_hex;
  facts.format = "jades";
  facts.level = std::string(signer::level_name(opts.level));
  m_impl->metrics.count_signature(facts.format, facts.level);
  return with_facts(json_answer(200, signed_bundle->bundle, "application/fhir+json"));
}

HttpAnswer Service::verify(std::string_view content_type, std::string_view body, std::string_view query) {
  const bool xml = is_fhir_xml(content_type);
  if (!xml && !is_fhir_json(content_type)) {
    return operation_outcome(415, "not-supported",
                             "Content-Type must be application/fhir+json or application/fhir+xml (got '" +
                                 std::string(content_type) + "')");
  }
  TimePoint at = m_impl->clock.now();
  if (auto a = query_param(query, "at")) {
    auto t = parse_rfc3339(*a);
    if (!t) {
      return operation_outcome(400, "invalid", "at must be an RFC 3339 time such as 2026-01-16T09:30:00Z");
    }
    at = *t;
  }
  if (xml) {
    if (body.size() > m_impl->config.max_body_bytes) {
      return error_answer(Error{Errc::too_large, "the body is larger than server.maxBodyBytes"});
    }
    auto report = verifier::verify_xml_bundle_text(body, m_impl->validation->options(at));
    if (!report) {
      return error_answer(report.error());
    }
    HttpAnswer a = json_answer(200, verifier::to_json(*report));
    a.audit = report_facts(*report);
    a.audit.format = "xades";
    m_impl->metrics.count_validation(a.audit.format, a.audit.indication);
    return a;
  }
  auto bundle = json::parse(body, {.max_depth = 128, .max_bytes = m_impl->config.max_body_bytes});
  if (!bundle) {
    return operation_outcome(400, "invalid", "the body is not valid JSON: " + bundle.error().message);
  }
  verifier::VerifyOptions opts = m_impl->validation->options(at);
  auto report = verifier::verify_bundle(*bundle, opts);
  if (!report) {
    HttpAnswer a = error_answer(report.error());
    a.audit.patient_reference = patient_reference(*bundle);
    return a;
  }
  HttpAnswer a = json_answer(200, verifier::to_json(*report));
  a.audit = report_facts(*report);
  a.audit.patient_reference = patient_reference(*bundle);
  a.audit.format = "jades";
  m_impl->metrics.count_validation(a.audit.format, a.audit.indication);
  return a;
}

}  // namespace hanko::server
