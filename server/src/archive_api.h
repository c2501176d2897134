#pragma once
/**
 * @file archive_api.h
 * The archive and augmentation operations of the REST service and the CLI
 * (docs/api.md, docs/archive.md): POST /v1/extend, POST /v1/archive,
 * GET /v1/archive, GET /v1/archive/{id}, GET /v1/archive/{id}/report, and
 * the renewal that `hanko serve` runs in the background and
 * `hanko archive renew --due` runs once. Private to server/.
 */
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hanko/archive/archive.h"
#include "hanko/server/service.h"

namespace hanko::server {

class ValidationContext;

/** archive.* configuration keys, parsed into the archive's configuration. */
Result<archive::ArchiveConfig> archive_config_from(const ServiceConfig& config);

class ArchiveApi {
 public:
  /** Builds on the service's database, TSA, trust stores and revocation checker. */
  static Result<std::unique_ptr<ArchiveApi>> create(Service& service);
  ~ArchiveApi();

  /** POST /v1/extend?level=B-T|B-LT|B-LTA: the Bundle raised, in the format given. */
  HttpAnswer extend(std::string_view content_type, std::string_view body, std::string_view query);
  /** POST /v1/archive: validates, archives as B-LTA, answers the item (201 new, 200 known). */
  HttpAnswer ingest(const Caller& caller, std::string_view content_type, std::string_view body);
  /** GET /v1/archive?identifier=&patient=&status=&limit= */
  HttpAnswer find(std::string_view query);
  /** GET /v1/archive/{id}: the current document with its evidence and status. */
  HttpAnswer get(std::string_view id);
  /** GET /v1/archive/{id}/report?at=TIME: a validation of the current document. */
  HttpAnswer report(std::string_view id, std::string_view query);

  /** Renews the items due at `as_of` (all of them, in batches). */
  archive::RenewSummary renew_due(TimePoint as_of, const std::function<void(const archive::RenewProgress&)>& progress = {});
  archive::Archive& archive() { return *m_archive; }

 private:
  ArchiveApi(Service& service, std::unique_ptr<ValidationContext> validation);
  Service& m_service;
  std::unique_ptr<ValidationContext> m_validation;
  std::unique_ptr<archive::Archive> m_archive;
};

}  // namespace hanko::server
