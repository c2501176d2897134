#include "archive_api.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <charconv>

#include "hanko/common/json.h"
#include "hanko/signer/augment.h"
#include "hanko/store/database.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/verifier/report.h"
#include "hanko/verifier/verifier.h"
#include "metrics.h"
#include "validation_context.h"

namespace hanko::server {

namespace {

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

std::string lower_media_type(std::string_view content_type) {
  std::string out;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c != ' ' && c != '\t') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

/** "application/fhir+json" or "application/fhir+xml" for a request Content-Type; empty for anything else. */
std::string fhir_media_type(std::string_view content_type) {
  const std::string m = lower_media_type(content_type);
  if (m == "application/fhir+json" || m == "application/json") return "application/fhir+json";
  if (m == "application/fhir+xml" || m == "application/xml") return "application/fhir+xml";
  return {};
}

HttpAnswer unsupported_media(std::string_view content_type) {
  return operation_outcome(415, "not-supported", "Content-Type must be application/fhir+json or application/fhir+xml (got '" +
                                                     std::string(content_type) + "')");
}

HttpAnswer json_answer(int status, const json::Value& v) {
  HttpAnswer a;
  a.status = status;
  a.content_type = "application/json";
  a.body = json::serialize(v, 2);
  a.body.push_back('\n');
  return a;
}

json::Value opt_time(const std::optional<TimePoint>& t) {
  return t ? json::Value(format_rfc3339(*t)) : json::Value(nullptr);
}

json::Value item_json(const archive::ArchiveItem& i) {
  json::Value v{json::Object{}};
  v.set("id", i.id);
  v.set("status", std::string(archive::item_status_name(i.status)));
  v.set("contentType", i.content_type);
  v.set("documentIdentifier", i.document_identifier);
  v.set("documentSha256", i.document_sha256);
  v.set("patient", i.patient);
  v.set("documentType", i.document_type);
  v.set("archivedBy", i.caller);
  v.set("archivedAt", format_rfc3339(i.archived_at));
  v.set("retentionEnd", format_rfc3339(i.retention_end));
  v.set("currentVersion", i.current_version);
  v.set("nextRenewal", opt_time(i.next_renewal));
  v.set("evidenceDeadline", opt_time(i.evidence_deadline));
  v.set("renewals", i.renewals);
  v.set("failures", i.failures);
  v.set("retryAt", opt_time(i.retry_at));
  v.set("lastError", i.last_error);
  return v;
}

json::Value version_json(const archive::EvidenceVersion& e) {
  json::Value v{json::Object{}};
  v.set("version", e.version);
  v.set("kind", e.kind);
  v.set("created", format_rfc3339(e.created));
  v.set("level", e.level);
  v.set("sha256", e.sha256);
  v.set("archiveTimestamp", opt_time(e.archive_time));
  v.set("tsaCertificateNotAfter", opt_time(e.tsa_not_after));
  v.set("digest", e.digest);
  v.set("note", e.note);
  return v;
}

AuditFacts item_facts(const archive::ArchiveItem& i) {
  AuditFacts f;
  f.document_identifier = i.document_identifier;
  f.document_sha256 = i.document_sha256;
  f.patient_reference = i.patient;
  return f;
}

}  // namespace

Result<archive::ArchiveConfig> archive_config_from(const ServiceConfig& config) {
  archive::ArchiveConfig a;
  auto number = [&](const std::string& key, const std::string& value, long long lo, long long hi) -> Result<long long> {
    long long v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size() || v < lo || v > hi) {
      return fail(Errc::invalid_argument, "configuration key " + key + " in " + config.source + ": '" + value +
                                              "' is not a whole number from " + std::to_string(lo) + " to " +
                                              std::to_string(hi));
    }
    return v;
  };
  for (const auto& [key, value] : config.archive_keys) {
    if (key == "archive.marginDays") {
      auto v = number(key, value, 1, 3650);
      if (!v) return std::unexpected(v.error());
      a.schedule.margin = std::chrono::days(*v);
    } else if (key == "archive.leaseSeconds") {
      auto v = number(key, value, 10, 86400);
      if (!v) return std::unexpected(v.error());
      a.schedule.lease = std::chrono::seconds(*v);
    } else if (key == "archive.renewIntervalSeconds") {
      auto v = number(key, value, 0, 31LL * 86400);
      if (!v) return std::unexpected(v.error());
    } else if (key == "archive.retention.default") {
      auto v = number(key, value, 1, 100);
      if (!v) return std::unexpected(v.error());
      a.retention.default_years = static_cast<int>(*v);
    } else if (key.starts_with("archive.retention.")) {
      auto v = number(key, value, 1, 100);
      if (!v) return std::unexpected(v.error());
      const std::string code = key.substr(std::string_view("archive.retention.").size());
      bool replaced = false;
      for (auto& rule : a.retention.rules) {
        if (rule.code == code) {
          rule.years = static_cast<int>(*v);
          replaced = true;
        }
      }
      if (!replaced) {
        a.retention.rules.insert(a.retention.rules.begin(), archive::RetentionRule{code, static_cast<int>(*v)});
      }
    } else {
      return fail(Errc::invalid_argument, "unknown configuration key " + key + " in " + config.source +
                                              " (see docs/configuration.md)");
    }
  }
  return a;
}

ArchiveApi::ArchiveApi(Service& service, std::unique_ptr<ValidationContext> validation)
    : m_service(service), m_validation(std::move(validation)) {}

ArchiveApi::~ArchiveApi() = default;

Result<std::unique_ptr<ArchiveApi>> ArchiveApi::create(Service& service) {
  const ServiceConfig& config = service.config();
  auto archive_config = archive_config_from(config);
  if (!archive_config) {
    return std::unexpected(archive_config.error());
  }
  Metrics* metrics = &service.metrics();
  auto validation = ValidationContext::create(
      config, &service.database(), [metrics](const HttpEvent& e) { metrics->observe_upstream(e.purpose, e.ok, e.seconds); });
  if (!validation) {
    return std::unexpected(validation.error());
  }
  std::unique_ptr<ArchiveApi> api(new ArchiveApi(service, std::move(*validation)));
  archive::ArchiveServices services;
  services.verify = api->m_validation->options(service.now());
  services.extend.tsa = service.timestamp_source();
  services.extend.signature_trust = &api->m_validation->signature_trust();
  services.extend.tsa_trust = &api->m_validation->tsa_trust();
  services.extend.revocation = api->m_validation->revocation();
  services.extend.aia_fetcher = config.aia_fetch ? &api->m_validation->http() : nullptr;
  api->m_archive = std::make_unique<archive::Archive>(service.database(), std::move(services), std::move(*archive_config));
  return api;
}

HttpAnswer ArchiveApi::extend(std::string_view content_type, std::string_view body, std::string_view query) {
  const std::string media = fhir_media_type(content_type);
  if (media.empty()) {
    return unsupported_media(content_type);
  }
  const std::string level_text = query_param(query, "level").value_or("B-LTA");
  auto level = signer::extend_level_from_name(level_text);
  if (!level) {
    return operation_outcome(400, "invalid", "level must be B-T, B-LT or B-LTA (got '" + level_text + "')");
  }
  if (m_service.timestamp_source() == nullptr) {
    return operation_outcome(503, "transient", "no timestamp authority is configured");
  }
  if (media == "application/fhir+xml" ? body.find('<') == std::string_view::npos : body.find('{') == std::string_view::npos) {
    return operation_outcome(400, "invalid", "the body is not a FHIR " +
                                                 std::string(media == "application/fhir+xml" ? "XML" : "JSON") + " Bundle");
  }
  signer::ExtendContext ctx;
  ctx.tsa = m_service.timestamp_source();
  ctx.signature_trust = &m_validation->signature_trust();
  ctx.tsa_trust = &m_validation->tsa_trust();
  ctx.revocation = m_validation->revocation();
  ctx.aia_fetcher = m_service.config().aia_fetch ? &m_validation->http() : nullptr;
  ctx.now = m_service.now();
  auto extended = signer::extend_bundle(body, *level, ctx);
  if (!extended) {
    HttpAnswer a = error_answer(extended.error());
    if (extended.error().code == Errc::network) {
      a.headers.emplace_back("Retry-After", "30");
    }
    return a;
  }
  HttpAnswer a;
  a.status = 200;
  a.content_type = media;
  a.body = std::move(extended->bundle);
  a.headers.emplace_back("X-Hanko-Level", std::string(signer::signature_level_name(extended->after)));
  a.audit.format = media == "application/fhir+xml" ? "xades" : "jades";
  a.audit.level = std::string(signer::signature_level_name(extended->after));
  if (extended->changed) {
    m_service.metrics().count_signature(a.audit.format, a.audit.level);
  }
  return a;
}

HttpAnswer ArchiveApi::ingest(const Caller& caller, std::string_view content_type, std::string_view body) {
  const std::string media = fhir_media_type(content_type);
  if (media.empty()) {
    return unsupported_media(content_type);
  }
  const std::string who = caller.client_id.empty() ? std::string("anonymous") : caller.client_id;
  auto r = m_archive->ingest(body, media, who, m_service.now());
  if (!r) {
    const archive::IngestError& e = r.error();
    HttpAnswer a;
    switch (e.kind) {
      case archive::IngestFailure::rejected: {
        json::Value v{json::Object{}};
        v.set("resourceType", "OperationOutcome");
        json::Value issue{json::Object{}};
        issue.set("severity", "error");
        issue.set("code", "business-rule");
        issue.set("diagnostics", "not archived: the signature is not valid (TOTAL-FAILED): " + e.error.message);
        v.set("issue", json::Array{std::move(issue)});
        if (e.report) {
          v.set("report", verifier::to_json(*e.report));
        }
        a = json_answer(422, v);
        a.content_type = "application/fhir+json";
        break;
      }
      case archive::IngestFailure::indeterminate:
      case archive::IngestFailure::augmentation:
        a = operation_outcome(503, "transient", "not archived yet: " + e.error.message);
        a.headers.emplace_back("Retry-After", std::to_string(std::max<long long>(1, e.retry_after.count())));
        break;
      case archive::IngestFailure::storage:
        a = operation_outcome(500, "exception", "the archive database failed: " + e.error.message);
        break;
      case archive::IngestFailure::invalid:
      default:
        a = error_answer(e.error);
        break;
    }
    if (e.report) {
      a.audit.document_identifier = e.report->document_identifier;
      a.audit.document_sha256 = e.report->document_sha256;
      a.audit.indication = std::string(verifier::indication_name(e.report->indication));
    }
    return a;
  }
  json::Value v = item_json(r->item);
  v.set("created", r->created);
  HttpAnswer a = json_answer(r->created ? 201 : 200, v);
  a.headers.emplace_back("Location", "/v1/archive/" + r->item.id);
  a.audit = item_facts(r->item);
  return a;
}

HttpAnswer ArchiveApi::find(std::string_view query) {
  archive::FindQuery q;
  q.identifier = query_param(query, "identifier").value_or("");
  q.patient = query_param(query, "patient").value_or("");
  q.at = m_service.now();
  if (auto s = query_param(query, "status")) {
    auto status = archive::item_status_from_name(*s);
    if (!status) {
      return operation_outcome(400, "invalid",
                               "status must be ok, due, overdue, failing, retention-ended or purged (got '" + *s + "')");
    }
    q.status = *status;
  }
  if (auto l = query_param(query, "limit")) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), n);
    if (ec != std::errc() || p != l->data() + l->size() || n == 0 || n > 1000) {
      return operation_outcome(400, "invalid", "limit must be a whole number from 1 to 1000");
    }
    q.limit = n;
  }
  auto items = m_archive->find(q);
  if (!items) {
    return error_answer(items.error());
  }
  json::Array list;
  for (const auto& i : *items) {
    list.push_back(item_json(i));
  }
  json::Value v{json::Object{}};
  v.set("total", static_cast<long long>(list.size()));
  v.set("items", std::move(list));
  return json_answer(200, v);
}

HttpAnswer ArchiveApi::get(std::string_view id) {
  auto doc = m_archive->get(id, m_service.now());
  if (!doc) {
    return error_answer(doc.error());
  }
  json::Value v = item_json(doc->item);
  json::Array versions;
  for (const auto& e : doc->versions) {
    versions.push_back(version_json(e));
  }
  v.set("versions", std::move(versions));
  v.set("document", doc->document);
  HttpAnswer a = json_answer(200, v);
  a.audit = item_facts(doc->item);
  return a;
}

HttpAnswer ArchiveApi::report(std::string_view id, std::string_view query) {
  TimePoint at = m_service.now();
  if (auto t = query_param(query, "at")) {
    auto parsed = parse_rfc3339(*t);
    if (!parsed) {
      return operation_outcome(400, "invalid", "at must be an RFC 3339 time such as 2031-01-16T09:30:00Z");
    }
    at = *parsed;
  }
  auto r = m_archive->report(id, at);
  if (!r) {
    return error_answer(r.error());
  }
  HttpAnswer a = json_answer(200, verifier::to_json(*r));
  a.audit.document_identifier = r->document_identifier;
  a.audit.document_sha256 = r->document_sha256;
  a.audit.indication = std::string(verifier::indication_name(r->indication));
  return a;
}

archive::RenewSummary ArchiveApi::renew_due(TimePoint as_of,
                                            const std::function<void(const archive::RenewProgress&)>& progress) {
  archive::RenewSummary total;
  while (true) {
    auto s = m_archive->renew_due(as_of, 100, progress);
    total.claimed += s.claimed;
    total.renewed += s.renewed;
    total.failed += s.failed;
    total.lost_lease += s.lost_lease;
    total.remaining_due = s.remaining_due;
    for (auto& e : s.errors) total.errors.push_back(std::move(e));
    // Stop when nothing more could be claimed (the rest is leased elsewhere or waits for its retry time).
    if (s.claimed == 0 || s.remaining_due == 0) {
      break;
    }
  }
  return total;
}

}  // namespace hanko::server
