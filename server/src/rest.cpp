#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <cctype>
#include <filesystem>

#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/signers.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/base64.h"
#include "hanko/common/json.h"
#include "hanko/server/service.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/two_step.h"
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
  certstore::SignerSet signers;  ///< the server-side signers by alias (docs/keys.md)
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

/** The alias of the legacy signer.cert/signer.key signer (not a valid signers.* alias, so never taken). */
constexpr std::string_view kLegacySignerAlias = "default";
/** How long an expired or used signing session is kept, so that a late completion is told 410 or 409, not 404. */
constexpr std::chrono::hours kSessionGrace{24};
/** The version tag of a signing session's payload (the server's wrapping of signer::PreparedSignature). */
constexpr std::string_view kSessionPayloadFormat = "hanko-signing-session/1";
/** The most certificates a prepare request may send (leaf and intermediates). */
constexpr std::size_t kMaxChainCertificates = 10;

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
  // store.url: a PostgreSQL connection string shared by several instances; empty: the SQLite file.
  auto db = config.store_url.empty() ? store::Database::open_sqlite(config.data_dir / "hanko.db")
                                     : store::Database::open(config.store_url);
  if (!db) {
    return fail(db.error().code, (config.store_url.empty() ? std::string() : "configuration key store.url: ") +
                                     db.error().message);
  }
  notes.push_back("database: " + (*db)->description());
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
  // The signers (docs/keys.md): signers.*, the legacy signer.cert/signer.key as "default", or the dev doctors.
  if (!config.signer_keys.empty()) {
    auto set = certstore::load_signers(config.signer_keys);
    if (!set) {
      return fail(set.error().code, set.error().message + " (" + config.source + ")");
    }
    impl->signers = std::move(*set);
  }
  if (!config.signer_cert.empty()) {
    auto key = signer::PemSigningKey::load(config.signer_cert, config.signer_key, config.signer_chain);
    if (!key) {
      return fail(key.error().code, "signer.cert/signer.key: " + key.error().message);
    }
    (*key)->set_label(std::string(kLegacySignerAlias));
    impl->signers.add(std::string(kLegacySignerAlias), std::shared_ptr<const signer::SigningKey>(std::move(*key)));
    if (!config.signer_keys.contains("signers.default")) {
      impl->signers.set_default(std::string(kLegacySignerAlias));
    }
  }
  if (impl->signers.empty() && pki) {
    for (const auto& [alias, item] : {std::pair<std::string, std::string>{"dev-doctor", "doctor"},
                                      std::pair<std::string, std::string>{"dev-doctor-ec", "doctor-ec"}}) {
      const certstore::DevPkiItem* it = nullptr;
      try {
        it = &pki->get(item);
      } catch (const std::out_of_range&) {
        notes.push_back("DEVELOPMENT MODE: the development PKI has no " + item + " (made by an older hanko); no signer " +
                        alias);
        continue;
      }
      auto key = signer::PemSigningKey::load(it->cert.string(), it->key.string(), it->chain.string());
      if (!key) {
        return std::unexpected(key.error());
      }
      (*key)->set_label(alias);
      impl->signers.add(alias, std::shared_ptr<const signer::SigningKey>(std::move(*key)));
    }
    impl->signers.set_default("dev-doctor");
    notes.push_back("DEVELOPMENT MODE: signing with the development doctor keys of " + pki->dir.string());
  }
  if (impl->signers.empty()) {
    return fail(Errc::invalid_argument, "no signer configured (signers.*, or signer.cert and signer.key)");
  }
  for (const auto& d : impl->signers.describe()) {
    const bool is_default = d.alias == impl->signers.default_alias();
    notes.push_back("signer " + d.alias + " (" + d.source + ", " + d.alg + (is_default ? ", default" : "") +
                    "): " + (d.chain.empty() ? std::string("?") : d.chain.front().subject) + ", notAfter " +
                    format_rfc3339(d.not_after));
  }
  if (impl->signers.default_alias().empty()) {
    notes.push_back("no default signer (signers.default): POST /v1/sign needs ?signer=ALIAS");
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

bool Caller::may_use(std::string_view alias) const {
  for (const auto& s : signers) {
    if (s == "*" || s == alias) {
      return true;
    }
  }
  return false;
}

namespace {

bool valid_alias(std::string_view a) {
  if (a.empty() || a.size() > 64) {
    return false;
  }
  for (char c : a) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

std::string caller_name(const Caller& caller) {
  return caller.client_id.empty() ? std::string("the caller") : "client " + caller.client_id;
}

/** The signing-side guard on a certificate and chain: nullopt when it may sign now, else the answer (422 or 503). */
std::optional<HttpAnswer> guard(const X509* cert, const std::vector<const X509*>& chain, const json::Value& view,
                                const verifier::VerifyOptions& options) {
  auto check = verifier::check_signer(cert, chain, view, options);
  if (check.ok) {
    return std::nullopt;
  }
  if (check.sub_indication == verifier::SubIndication::try_later) {
    HttpAnswer a = operation_outcome(503, "transient", check.message);
    a.headers.emplace_back("Retry-After", "30");
    return a;
  }
  return operation_outcome(422, "business-rule", check.message);
}

/** A TSA failure names the TSA. */
HttpAnswer tsa_error(const Error& e, const tsa::TimestampSource* tsa) {
  if (tsa != nullptr && (e.code == Errc::network || e.code == Errc::remote_rejected)) {
    return error_answer(Error{e.code, "timestamp authority " + tsa->describe() + ": " + e.message});
  }
  return error_answer(e);
}

std::string cert_text(const X509* cert) {
  auto s = certstore::summarize(cert);
  return signer_text(s.subject, s.serial_hex);
}

}  // namespace

HttpAnswer Service::sign(const Caller& caller, std::string_view content_type, std::string_view body,
                         std::string_view query) {
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
  // The signer: ?signer=ALIAS or the default. Whether an alias exists is said only to callers that may use it.
  std::string alias = m_impl->signers.default_alias();
  if (auto named = query_param(query, "signer")) {
    if (!valid_alias(*named)) {
      return operation_outcome(400, "invalid", "signer must be an alias of 1-64 characters A-Z a-z 0-9 _ -");
    }
    alias = *named;
  } else if (alias.empty()) {
    return operation_outcome(400, "invalid", "no default signer is configured (signers.default); name one with ?signer=ALIAS");
  }
  if (!caller.may_use(alias)) {
    m_impl->metrics.count_rejected("forbidden");
    // The default signer is not named to a client that may not use it.
    return operation_outcome(403, "forbidden", caller_name(caller) + " may not use the " +
                                                   (query_param(query, "signer") ? "signer " + alias : std::string("default signer")));
  }
  std::shared_ptr<const signer::SigningKey> key = m_impl->signers.find(alias);
  if (!key) {
    return operation_outcome(404, "not-found", "no such signer: " + alias);
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
  facts.signer = cert_text(key->certificate());
  auto with_facts = [&](HttpAnswer a) {
    a.audit = facts;
    return a;
  };
  opts.signing_time = m_impl->clock.now();
  // The signing-side guard: hanko never produces a signature it would itself reject.
  {
    std::vector<const X509*> chain;
    for (const auto& c : key->chain()) {
      chain.push_back(c.get());
    }
    if (auto refused = guard(key->certificate(), chain, *bundle, m_impl->validation->options(opts.signing_time))) {
      return with_facts(std::move(*refused));
    }
  }
  if (xml) {
    auto signed_xml = signer::sign_xml_bundle(body, *key, m_impl->tsa.get(), opts);
    if (!signed_xml) {
      return with_facts(tsa_error(signed_xml.error(), m_impl->tsa.get()));
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
  auto signed_bundle = signer::sign_bundle(std::move(*bundle), *key, m_impl->tsa.get(), opts);
  if (!signed_bundle) {
    return with_facts(tsa_error(signed_bundle.error(), m_impl->tsa.get()));
  }
  facts.document_sha256 = signed_bundle->canonical_sha256_hex;
  facts.format = "jades";
  facts.level = std::string(signer::level_name(opts.level));
  m_impl->metrics.count_signature(facts.format, facts.level);
  return with_facts(json_answer(200, signed_bundle->bundle, "application/fhir+json"));
}

HttpAnswer Service::signers(const Caller& caller) const {
  json::Array list;
  const certstore::SignerSet& set = m_impl->signers;
  for (const auto& alias : set.aliases()) {
    if (!caller.may_use(alias)) {
      continue;
    }
    std::shared_ptr<const signer::SigningKey> key = set.find(alias);
    if (!key) {
      continue;
    }
    const certstore::SignerDescription d = certstore::describe_signer(*key);
    json::Array chain;
    chain.emplace_back(base64_encode(ossl::x509_to_der(key->certificate())));
    for (const auto& c : key->chain()) {
      chain.emplace_back(base64_encode(ossl::x509_to_der(c.get())));
    }
    const certstore::CertSummary& leaf = d.chain.front();
    json::Object o;
    o.emplace_back("alias", json::Value(alias));
    o.emplace_back("default", json::Value(alias == set.default_alias()));
    o.emplace_back("source", json::Value(d.source));
    o.emplace_back("algorithm", json::Value(d.alg));
    o.emplace_back("subject", json::Value(leaf.subject));
    o.emplace_back("issuer", json::Value(leaf.issuer));
    o.emplace_back("serialNumber", json::Value(leaf.serial_hex));
    o.emplace_back("hcRole", d.hc_role ? json::Value(*d.hc_role) : json::Value());
    o.emplace_back("notBefore", json::Value(format_rfc3339(d.not_before)));
    o.emplace_back("notAfter", json::Value(format_rfc3339(d.not_after)));
    o.emplace_back("certificateChain", json::Value(std::move(chain)));
    list.emplace_back(std::move(o));
  }
  return json_answer(200, json::Value(json::Object{{"signers", json::Value(std::move(list))}}));
}

namespace {

/** Refuses members of a request object that are not in `allowed`: 400 naming the first stranger. */
std::optional<HttpAnswer> only_members(const json::Value& v, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, value] : v.as_object()) {
    bool known = false;
    for (auto a : allowed) {
      known = known || name == a;
    }
    if (!known) {
      std::string list;
      for (auto a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      return operation_outcome(400, "invalid", "unknown member '" + name.substr(0, 64) + "' (expected " + list + ")");
    }
  }
  return std::nullopt;
}

bool is_plain_json(std::string_view content_type) { return media_type(content_type) == "application/json"; }

HttpAnswer not_json_envelope(std::string_view content_type) {
  return operation_outcome(415, "not-supported", "Content-Type must be application/json (got '" +
                                                     std::string(content_type.substr(0, 100)) + "')");
}

/** A signature value as sent: base64 (RFC 4648 section 4) or base64url, surrounding white space ignored. */
std::optional<Bytes> decode_signature_value(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  if (auto b = base64_decode(text)) {
    return b;
  }
  return base64url_decode(text);
}

}  // namespace

HttpAnswer Service::prepare(const Caller& caller, std::string_view content_type, std::string_view body,
                            std::string_view /*query*/) {
  if (!is_plain_json(content_type)) {
    return not_json_envelope(content_type);
  }
  if (body.size() > m_impl->config.max_body_bytes) {
    return error_answer(Error{Errc::too_large, "the body is larger than server.maxBodyBytes"});
  }
  auto request = json::parse(body, {.max_depth = 130, .max_bytes = m_impl->config.max_body_bytes});
  if (!request) {
    return operation_outcome(400, "invalid", "the body is not valid JSON: " + request.error().message);
  }
  if (!request->is_object()) {
    return operation_outcome(400, "invalid", "the body must be a JSON object (docs/api.md, POST /v1/sign/prepare)");
  }
  if (auto refused = only_members(*request, {"bundle", "bundleXml", "certificateChain", "level", "replace"})) {
    return *refused;
  }
  const json::Value* bundle = request->find("bundle");
  const json::Value* bundle_xml = request->find("bundleXml");
  if ((bundle == nullptr) == (bundle_xml == nullptr)) {
    return operation_outcome(400, "invalid", "give exactly one of bundle (a FHIR JSON Bundle) and bundleXml (a FHIR XML Bundle as a string)");
  }
  if (bundle_xml != nullptr && !bundle_xml->is_string()) {
    return operation_outcome(400, "invalid", "bundleXml must be a string holding the FHIR XML Bundle");
  }
  // The certificate chain: base64 DER, the signer's certificate first.
  const json::Value* chain_member = request->find("certificateChain");
  if (chain_member == nullptr || !chain_member->is_array() || chain_member->as_array().empty() ||
      chain_member->as_array().size() > kMaxChainCertificates) {
    return operation_outcome(400, "invalid", "certificateChain must be an array of 1 to " +
                                                 std::to_string(kMaxChainCertificates) +
                                                 " base64 DER certificates, the signer's first");
  }
  std::vector<ossl::X509Ptr> certs;
  for (const auto& item : chain_member->as_array()) {
    const std::size_t index = certs.size();
    std::optional<Bytes> der = item.is_string() ? base64_decode(item.as_string()) : std::nullopt;
    ossl::X509Ptr cert = der ? ossl::x509_from_der(*der) : nullptr;
    if (!cert) {
      clear_openssl_errors();
      return operation_outcome(400, "invalid", "certificateChain[" + std::to_string(index) +
                                                   "] is not a base64 DER X.509 certificate");
    }
    certs.push_back(std::move(cert));
  }
  signer::SignOptions opts;
  opts.level = m_impl->level;
  if (const json::Value* l = request->find("level")) {
    auto parsed = l->is_string() ? signer::level_from_name(l->as_string()) : std::nullopt;
    if (!parsed) {
      return operation_outcome(400, "invalid", "level must be \"B-B\" or \"B-T\"");
    }
    opts.level = *parsed;
  }
  if (const json::Value* r = request->find("replace")) {
    if (!r->is_bool()) {
      return operation_outcome(400, "invalid", "replace must be true or false");
    }
    opts.replace = r->as_bool();
  }
  if (opts.level == signer::Level::B_T && !m_impl->tsa) {
    return operation_outcome(503, "transient", "no timestamp authority is configured for B-T");
  }
  opts.canonicalizer = m_impl->canonicalizer;
  opts.signature_type = m_impl->config.signature_type;
  // What the policy reads: the JSON Bundle, or the policy view of the XML one.
  Result<json::Value> view = bundle != nullptr ? Result<json::Value>(*bundle)
                                               : signer::xml_policy_view(bundle_xml->as_string());
  if (!view) {
    return error_answer(view.error());
  }
  if (bundle != nullptr) {
    if (auto ok = signer::check_document_bundle(*view); !ok) {
      return error_answer(ok.error());
    }
  }
  signer::SignerCertificates who;
  who.certificate = certs.front().get();
  for (std::size_t i = 1; i < certs.size(); ++i) {
    who.chain.push_back(certs[i].get());
  }
  AuditFacts facts;
  facts.document_identifier = signer::bundle_identifier(*view);
  facts.patient_reference = patient_reference(*view);
  facts.signer = cert_text(who.certificate);
  auto with_facts = [&](HttpAnswer a) {
    a.audit = facts;
    return a;
  };
  const TimePoint now = m_impl->clock.now();
  opts.signing_time = now;
  if (auto refused = guard(who.certificate, who.chain, *view, m_impl->validation->options(now))) {
    return with_facts(std::move(*refused));
  }
  Result<signer::PreparedSignature> prepared =
      bundle != nullptr ? signer::prepare_json_signature(std::move(*view), who, opts)
                        : signer::prepare_xml_signature(bundle_xml->as_string(), who, opts);
  if (!prepared) {
    return with_facts(error_answer(prepared.error()));
  }
  facts.document_sha256 = prepared->document_sha256_hex;
  facts.format = prepared->format == signer::DocumentFormat::fhir_xml ? "xades" : "jades";
  facts.level = std::string(signer::level_name(prepared->level));
  // The session holds everything the completion needs, so that the two calls cannot drift apart.
  auto id = store::new_signing_session_id();
  if (!id) {
    return with_facts(error_answer(id.error()));
  }
  json::Object audit{{"documentIdentifier", json::Value(facts.document_identifier)},
                     {"documentSha256", json::Value(facts.document_sha256)},
                     {"patient", json::Value(facts.patient_reference)},
                     {"signer", json::Value(facts.signer)}};
  json::Object payload{{"format", json::Value(std::string(kSessionPayloadFormat))},
                       {"audit", json::Value(std::move(audit))},
                       {"prepared", signer::to_json(*prepared)}};
  store::SigningSession session;
  session.id = *id;
  session.created = from_unix(to_unix(now));
  session.expires = session.created + std::chrono::seconds(m_impl->config.signing_session_ttl_seconds);
  session.client_id = caller.client_id;
  session.payload = to_bytes(json::serialize(json::Value(std::move(payload))));
  // Sessions expired long ago go (a best effort: a failure here does not stop this request).
  (void)m_impl->db->purge_signing_sessions(now - kSessionGrace);
  if (auto stored = m_impl->db->create_signing_session(session); !stored) {
    return with_facts(error_answer(stored.error()));
  }
  json::Object out;
  out.emplace_back("sessionId", json::Value(session.id));
  out.emplace_back("expires", json::Value(format_rfc3339(session.expires)));
  out.emplace_back("signingTime", json::Value(format_rfc3339(prepared->signing_time)));
  out.emplace_back("documentFormat", json::Value(prepared->format == signer::DocumentFormat::fhir_xml
                                                     ? "application/fhir+xml"
                                                     : "application/fhir+json"));
  out.emplace_back("level", json::Value(facts.level));
  out.emplace_back("signatureAlgorithm", json::Value(signer::signature_algorithm(*prepared)));
  out.emplace_back("hashAlgorithm", json::Value("SHA-256"));
  out.emplace_back("hashToSign", json::Value(base64_encode(prepared->hash_to_sign)));
  if (prepared->alg == signer::JwsAlg::RS256) {
    out.emplace_back("digestInfo", json::Value(base64_encode(signer::digest_info(*prepared))));
  }
  out.emplace_back("documentSha256", json::Value(facts.document_sha256));
  return with_facts(json_answer(200, json::Value(std::move(out))));
}

HttpAnswer Service::complete(const Caller& caller, std::string_view content_type, std::string_view body,
                             std::string_view /*query*/) {
  if (!is_plain_json(content_type)) {
    return not_json_envelope(content_type);
  }
  auto request = json::parse(body, {.max_depth = 4, .max_bytes = 1u << 20});
  if (!request || !request->is_object()) {
    return operation_outcome(400, "invalid", "the body must be a JSON object {\"sessionId\": ..., \"signatureValue\": ...}");
  }
  if (auto refused = only_members(*request, {"sessionId", "signatureValue"})) {
    return *refused;
  }
  const std::string* id = request->find_string("sessionId");
  const std::string* value_text = request->find_string("signatureValue");
  if (id == nullptr || value_text == nullptr) {
    return operation_outcome(400, "invalid", "sessionId and signatureValue (base64) are required strings");
  }
  auto value = decode_signature_value(*value_text);
  if (!value) {
    return operation_outcome(400, "invalid", "signatureValue is not base64");
  }
  // Exactly once, also across instances sharing the database: from here on the session is used up.
  const TimePoint now = m_impl->clock.now();
  auto session = m_impl->db->consume_signing_session(*id, now);
  if (!session) {
    return error_answer(session.error());
  }
  auto payload = json::parse(to_string(session->payload), {.max_depth = 160, .max_bytes = 1u << 30});
  const json::Value* audit = payload ? payload->find("audit") : nullptr;
  const json::Value* stored = payload ? payload->find("prepared") : nullptr;
  const std::string* tag = payload ? payload->find_string("format") : nullptr;
  if (audit == nullptr || stored == nullptr || tag == nullptr || *tag != kSessionPayloadFormat) {
    return error_answer(Error{Errc::internal, "signing session " + *id + " holds no usable state"});
  }
  AuditFacts facts;
  for (const auto& [name, field] : {std::pair<const char*, std::string*>{"documentIdentifier", &facts.document_identifier},
                                    {"documentSha256", &facts.document_sha256},
                                    {"patient", &facts.patient_reference},
                                    {"signer", &facts.signer}}) {
    if (const std::string* v = audit->find_string(name)) {
      *field = *v;
    }
  }
  auto with_facts = [&](HttpAnswer a) {
    a.audit = facts;
    return a;
  };
  if (session->client_id != caller.client_id) {
    m_impl->metrics.count_rejected("forbidden");
    return with_facts(operation_outcome(403, "forbidden", "signing session " + *id + " was prepared by another client than " +
                                                              caller_name(caller) + "; it is used up now"));
  }
  auto prepared = signer::prepared_signature_from_json(*stored);
  if (!prepared) {
    return with_facts(error_answer(prepared.error()));
  }
  const signer::DocumentFormat format = prepared->format;
  facts.format = format == signer::DocumentFormat::fhir_xml ? "xades" : "jades";
  facts.level = std::string(signer::level_name(prepared->level));
  if (prepared->level == signer::Level::B_T && !m_impl->tsa) {
    return with_facts(operation_outcome(503, "transient", "no timestamp authority is configured for B-T"));
  }
  auto done = signer::complete_signature(std::move(*prepared), *value, m_impl->tsa.get());
  if (!done) {
    return with_facts(tsa_error(done.error(), m_impl->tsa.get()));
  }
  m_impl->metrics.count_signature(facts.format, facts.level);
  if (format == signer::DocumentFormat::fhir_xml) {
    HttpAnswer a;
    a.status = 200;
    a.content_type = "application/fhir+xml";
    a.body = std::move(done->bundle_xml);
    return with_facts(std::move(a));
  }
  return with_facts(json_answer(200, done->bundle, "application/fhir+json"));
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
