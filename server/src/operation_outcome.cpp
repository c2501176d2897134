#include "hanko/common/json.h"
#include "hanko/server/service.h"

namespace hanko::server {

HttpAnswer operation_outcome(int status, std::string_view code, std::string_view diagnostics) {
  json::Object issue{{"severity", json::Value("error")},
                     {"code", json::Value(std::string(code))},
                     {"diagnostics", json::Value(std::string(diagnostics))}};
  json::Object oo{{"resourceType", json::Value("OperationOutcome")},
                  {"issue", json::Value(json::Array{json::Value(std::move(issue))})}};
  HttpAnswer a;
  a.status = status;
  a.content_type = "application/fhir+json";
  a.body = json::serialize(json::Value(std::move(oo)), 2);
  return a;
}

HttpAnswer error_answer(const Error& e) {
  switch (e.code) {
    case Errc::invalid_argument: return operation_outcome(400, "invalid", e.message);
    case Errc::unsupported: return operation_outcome(415, "not-supported", e.message);
    case Errc::not_a_document: return operation_outcome(422, "processing", e.message);
    case Errc::no_signature: return operation_outcome(422, "processing", e.message);
    case Errc::already_signed: return operation_outcome(409, "conflict", e.message);
    case Errc::too_large: return operation_outcome(413, "too-costly", e.message);
    case Errc::policy: return operation_outcome(422, "business-rule", e.message);
    case Errc::not_found: return operation_outcome(404, "not-found", e.message);
    case Errc::conflict: return operation_outcome(409, "conflict", e.message);
    case Errc::expired: return operation_outcome(410, "expired", e.message);
    case Errc::network: {
      auto a = operation_outcome(503, "transient", e.message);
      a.headers.emplace_back("Retry-After", "30");
      return a;
    }
    case Errc::remote_rejected: return operation_outcome(502, "transient", e.message);
    case Errc::crypto:
    case Errc::io:
    case Errc::internal: return operation_outcome(500, "exception", e.message);
  }
  return operation_outcome(500, "exception", e.message);
}

}  // namespace hanko::server
