#include "audit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <deque>
#include <fstream>
#include <set>
#include <optional>

#include "hanko/common/base64.h"
#include "hanko/common/bytes.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/token.h"
#include "hanko/common/digest.h"

namespace hanko::server {

namespace {

namespace fs = std::filesystem;

constexpr const char* kEventTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-event-type";
constexpr const char* kOperationSystem = "https://hanko.example/fhir/CodeSystem/audit-operation";
constexpr const char* kHttpStatusUrl = "https://hanko.example/fhir/StructureDefinition/audit-http-status";
constexpr const char* kDcm = "http://dicom.nema.org/resources/ontology/DCM";
constexpr const char* kEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
constexpr const char* kObjectRole = "http://terminology.hl7.org/CodeSystem/object-role";
constexpr const char* kSourceType = "http://terminology.hl7.org/CodeSystem/security-source-type";

std::string errno_text() { return std::strerror(errno); }

std::string sha256_hex(std::string_view bytes) { return hex(sha256(bytes)); }

json::Value coding(const char* system, std::string code, std::string display) {
  return json::Value(json::Object{{"system", json::Value(system)},
                                  {"code", json::Value(std::move(code))},
                                  {"display", json::Value(std::move(display))}});
}

json::Value codeable(json::Value c) { return json::Value(json::Object{{"coding", json::Value(json::Array{std::move(c)})}}); }

json::Value entity(const char* type_code, const char* type_display, const char* role_code, const char* role_display,
                   std::string name, json::Value what) {
  json::Object e{{"what", std::move(what)},
                 {"type", coding(kEntityType, type_code, type_display)}};
  if (role_code != nullptr) {
    e.emplace_back("role", coding(kObjectRole, role_code, role_display));
  }
  e.emplace_back("name", json::Value(std::move(name)));
  return json::Value(std::move(e));
}

/** Why `line` does not continue a chain whose previous link is `expected`; nullopt when it does. */
std::optional<std::string> check_line(std::string_view line, std::string_view expected, std::size_t number) {
  if (line.empty()) {
    return "empty line";
  }
  auto v = json::parse(line, {.max_depth = 64, .max_bytes = kAuditMaxLine});
  if (!v) {
    return "not JSON (" + v.error().message + ")";
  }
  const std::string* rt = v->find_string("resourceType");
  if (rt == nullptr || *rt != "AuditEvent") {
    return "not an AuditEvent";
  }
  const json::Value* ext = v->find("extension");
  const std::string* link = nullptr;
  if (ext != nullptr && ext->is_array()) {
    for (const auto& e : ext->as_array()) {
      const std::string* url = e.find_string("url");
      if (url != nullptr && *url == kAuditChainUrl) {
        link = e.find_string("valueString");
        break;
      }
    }
  }
  if (link == nullptr) {
    return "no audit-chain extension";
  }
  if (link->size() != expected.size() || !ct_equal(as_bytes(*link), as_bytes(expected))) {
    if (number == 1) {
      return "chain broken: the first line does not link to the genesis value (lines removed or inserted at the start)";
    }
    return "chain broken: the link is not the SHA-256 of line " + std::to_string(number - 1) +
           " (a line was changed, removed, inserted or reordered)";
  }
  return std::nullopt;
}

}  // namespace

int audit_outcome_for_status(int http_status) {
  if (http_status >= 500) {
    return 8;
  }
  if (http_status >= 400) {
    return 4;
  }
  return 0;
}

json::Value audit_event(const AuditRecord& r, std::string_view source_id, std::string_view previous_sha256_hex) {
  json::Array extension{json::Value(json::Object{{"url", json::Value(kAuditChainUrl)},
                                                 {"valueString", json::Value(previous_sha256_hex)}})};
  if (r.http_status != 0) {
    extension.push_back(json::Value(json::Object{{"url", json::Value(kHttpStatusUrl)},
                                                 {"valueInteger", json::Value(r.http_status)}}));
  }
  if (!r.anchor_token.empty()) {
    extension.push_back(json::Value(json::Object{{"url", json::Value(kAuditAnchorHeadUrl)},
                                                 {"valueString", json::Value(r.anchor_head)}}));
    extension.push_back(json::Value(json::Object{{"url", json::Value(kAuditAnchorTokenUrl)},
                                                 {"valueBase64Binary", json::Value(base64_encode(r.anchor_token))}}));
  }
  json::Object ev{{"resourceType", json::Value("AuditEvent")}, {"extension", json::Value(std::move(extension))}};
  const std::string op = r.operation.empty() ? std::string("unknown") : r.operation;
  if (op == "application-start" || op == "application-stop") {
    ev.emplace_back("type", coding(kDcm, "110100", "Application Activity"));
  } else {
    ev.emplace_back("type", coding(kEventTypeSystem, "rest", "RESTful Operation"));
  }
  ev.emplace_back("subtype", json::Value(json::Array{coding(kOperationSystem, op, op)}));
  ev.emplace_back("action", json::Value(r.action.empty() ? std::string("E") : r.action));
  ev.emplace_back("recorded", json::Value(format_rfc3339(r.when, true)));
  ev.emplace_back("outcome", json::Value(std::to_string(r.outcome)));
  if (!r.outcome_desc.empty()) {
    ev.emplace_back("outcomeDesc", json::Value(r.outcome_desc));
  }
  // The requestor (DICOM "Source Role ID"), then hanko itself ("Destination Role ID").
  json::Object client{{"type", codeable(coding(kDcm, "110153", "Source Role ID"))},
                      {"who", json::Value(json::Object{{"identifier", json::Value(json::Object{
                                                            {"value", json::Value(r.client_id.empty() ? std::string("anonymous")
                                                                                                      : r.client_id)}})}})},
                      {"requestor", json::Value(true)}};
  if (!r.auth_method.empty()) {
    client.emplace_back("altId", json::Value(r.auth_method));
  }
  if (!r.client_subject.empty()) {
    client.emplace_back("name", json::Value(r.client_subject));
  }
  if (!r.source_ip.empty()) {
    client.emplace_back("network",
                        json::Value(json::Object{{"address", json::Value(r.source_ip)}, {"type", json::Value("2")}}));
  }
  json::Object server{{"type", codeable(coding(kDcm, "110152", "Destination Role ID"))},
                      {"who", json::Value(json::Object{{"identifier", json::Value(json::Object{
                                                            {"value", json::Value(source_id)}})}})},
                      {"requestor", json::Value(false)}};
  ev.emplace_back("agent", json::Value(json::Array{json::Value(std::move(client)), json::Value(std::move(server))}));
  ev.emplace_back("source",
                  json::Value(json::Object{
                      {"observer", json::Value(json::Object{{"identifier", json::Value(json::Object{{"value", json::Value(source_id)}})},
                                                            {"display", json::Value(source_id)}})},
                      {"type", json::Value(json::Array{coding(kSourceType, "4", "Application Server")})}}));
  json::Array entities;
  if (!r.document_identifier.empty() || !r.document_sha256.empty()) {
    json::Object what;
    if (!r.document_identifier.empty()) {
      what.emplace_back("identifier", json::Value(json::Object{{"value", json::Value(r.document_identifier)}}));
    } else {
      what.emplace_back("display", json::Value("document without Bundle.identifier"));
    }
    json::Value e = entity("2", "System Object", "3", "Report", "document", json::Value(std::move(what)));
    if (!r.document_sha256.empty()) {
      e.set("detail", json::Value(json::Array{json::Value(
                          json::Object{{"type", json::Value("sha256")}, {"valueString", json::Value(r.document_sha256)}})}));
    }
    entities.push_back(std::move(e));
  }
  if (!r.patient_reference.empty()) {
    entities.push_back(entity("1", "Person", "1", "Patient", "patient",
                              json::Value(json::Object{{"reference", json::Value(r.patient_reference)}})));
  }
  if (!r.signer.empty()) {
    entities.push_back(entity("2", "System Object", nullptr, nullptr, "signer certificate",
                              json::Value(json::Object{{"display", json::Value(r.signer)}})));
  }
  if (!entities.empty()) {
    ev.emplace_back("entity", json::Value(std::move(entities)));
  }
  return json::Value(std::move(ev));
}

AuditLog::AuditLog(AuditOptions options, int fd, std::string head, std::uint64_t records)
    : m_options(std::move(options)), m_fd(fd), m_head(std::move(head)), m_records(records) {}

AuditLog::~AuditLog() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const AuditOptions& options) {
  const std::string name = options.file.string();
  if (options.file.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(options.file.parent_path(), ec);
    if (ec) {
      return fail(Errc::io, "audit log " + name + ": cannot create its directory: " + ec.message());
    }
  }
  int fd = ::open(name.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return fail(Errc::io, "audit log " + name + ": cannot open: " + errno_text());
  }
  // From here on the fd is owned by `closer` until the log takes it.
  struct Closer {
    int fd;
    ~Closer() {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  } closer{fd};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return fail(Errc::io, "audit log " + name + ": locked by another process (" + errno_text() + ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Errc::io, "audit log " + name + ": cannot stat: " + errno_text());
  }
  std::string head(kAuditGenesis);
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > 0) {
    // The last line, its '\n' and the '\n' before it: at most kAuditMaxLine + 2 bytes.
    const std::size_t window = std::min(size, kAuditMaxLine + 2);
    std::string tail(window, '\0');
    std::size_t got = 0;
    while (got < window) {
      ssize_t n = ::pread(fd, tail.data() + got, window - got, static_cast<off_t>(size - window + got));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return fail(Errc::io, "audit log " + name + ": cannot read the last line: " + errno_text());
      }
      got += static_cast<std::size_t>(n);
    }
    if (tail.back() != '\n') {
      return fail(Errc::io, "audit log " + name +
                                ": the last line has no '\\n' (a torn write); check it with hanko audit verify and "
                                "repair the file before starting");
    }
    const std::size_t nl = window >= 2 ? tail.rfind('\n', window - 2) : std::string::npos;
    if (nl == std::string::npos && window < size) {
      return fail(Errc::io, "audit log " + name + ": the last line is longer than 1 MiB");
    }
    const std::size_t start = nl == std::string::npos ? 0 : nl + 1;
    const std::string_view last(tail.data() + start, window - 1 - start);
    auto v = json::parse(last, {.max_depth = 64, .max_bytes = kAuditMaxLine});
    if (!v || v->find_string("resourceType") == nullptr || *v->find_string("resourceType") != "AuditEvent") {
      return fail(Errc::io, "audit log " + name + ": the last line is not an AuditEvent; check it with hanko audit verify");
    }
    head = sha256_hex(last);
  }
  // The chain length for /metrics: one pass over the file, counting lines.
  std::uint64_t records = 0;
  {
    char buf[1 << 16];
    off_t off = 0;
    while (true) {
      ssize_t n = ::pread(fd, buf, sizeof buf, off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      records += static_cast<std::uint64_t>(std::count(buf, buf + n, '\n'));
      off += n;
    }
  }
  closer.fd = -1;
  return std::unique_ptr<AuditLog>(new AuditLog(options, fd, std::move(head), records));
}

Result<void> AuditLog::append(const AuditRecord& record) {
  std::lock_guard lock(m_mu);
  return append_locked(record);
}

Result<void> AuditLog::append_locked(const AuditRecord& record) {
  std::string line = json::serialize(audit_event(record, m_options.source_id, m_head), 0);
  if (line.size() > kAuditMaxLine) {
    return fail(Errc::too_large, "audit record longer than 1 MiB");
  }
  const std::string next_head = sha256_hex(line);
  line.push_back('\n');
  struct stat st {};
  if (::fstat(m_fd, &st) != 0) {
    return fail(Errc::io, "audit log " + m_options.file.string() + ": cannot stat: " + errno_text());
  }
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(m_fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      const std::string why = errno_text();
      if (done > 0) {
        // Take back the partial line so that the file stays a sequence of whole lines.
        (void)::ftruncate(m_fd, st.st_size);
      }
      return fail(Errc::io, "audit log " + m_options.file.string() + ": write failed: " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  m_head = next_head;
  ++m_records;
  if (m_options.fsync && ::fdatasync(m_fd) != 0) {
    return fail(Errc::io, "audit log " + m_options.file.string() + ": fsync failed: " + errno_text());
  }
  return {};
}

std::string AuditLog::head() const {
  std::lock_guard lock(m_mu);
  return m_head;
}

std::uint64_t AuditLog::records() const {
  std::lock_guard lock(m_mu);
  return m_records;
}

std::optional<TimePoint> AuditLog::last_anchor() const {
  std::lock_guard lock(m_mu);
  return m_last_anchor;
}

Result<bool> AuditLog::anchor(tsa::TimestampSource& tsa, TimePoint now) {
  std::string head;
  {
    std::lock_guard lock(m_mu);
    if (m_head == m_anchored_head || m_records == 0) {
      return false;
    }
    head = m_head;
  }
  auto token = tsa.timestamp(as_bytes(head), DigestAlg::sha256);
  if (!token) {
    return fail(token.error().code, "audit anchor: timestamp authority " + tsa.describe() + ": " + token.error().message);
  }
  AuditRecord r;
  r.when = now;
  r.operation = "audit-anchor";
  r.action = "E";
  r.outcome = 0;
  r.outcome_desc = "RFC 3161 timestamp of the audit chain head " + head.substr(0, 16) + "...";
  r.anchor_head = head;
  r.anchor_token = std::move(*token);
  std::lock_guard lock(m_mu);
  if (auto done = append_locked(r); !done) {
    return std::unexpected(done.error());
  }
  // Nothing new to anchor until a line follows the anchor record itself.
  m_anchored_head = m_head;
  m_last_anchor = now;
  return true;
}

namespace {

/** The anchor extensions of a line, when it is an anchor record. */
struct AnchorFields {
  std::string head;
  Bytes token;
};

std::optional<AnchorFields> anchor_fields(std::string_view line) {
  if (line.find(kAuditAnchorTokenUrl) == std::string_view::npos) {
    return std::nullopt;
  }
  auto v = json::parse(line, {.max_depth = 64, .max_bytes = kAuditMaxLine});
  if (!v) return std::nullopt;
  const json::Value* ext = v->find("extension");
  if (ext == nullptr || !ext->is_array()) return std::nullopt;
  AnchorFields f;
  bool have_token = false;
  for (const auto& e : ext->as_array()) {
    const std::string* url = e.find_string("url");
    if (url == nullptr) continue;
    if (*url == kAuditAnchorHeadUrl) {
      if (const std::string* h = e.find_string("valueString")) f.head = *h;
    } else if (*url == kAuditAnchorTokenUrl) {
      if (const std::string* t = e.find_string("valueBase64Binary")) {
        if (auto b = base64_decode(*t)) {
          f.token = std::move(*b);
          have_token = true;
        }
      }
    }
  }
  if (!have_token) {
    f.token.clear();
  }
  return f;
}

/** Checks an anchor record; the reason when it fails. */
std::optional<std::string> check_anchor(const AnchorFields& f, const std::set<std::string>& recent_heads,
                                        const certstore::TrustStore* trust, AuditVerification& out) {
  if (f.token.empty()) {
    return std::string("anchor record without a readable token");
  }
  if (!recent_heads.contains(f.head)) {
    return std::string("anchor names a chain head that is not the link of a line before it");
  }
  auto info = tsa::parse_token(f.token);
  if (!info) {
    return "anchor token is not a TimeStampToken: " + info.error().message;
  }
  if (trust != nullptr) {
    auto v = tsa::verify_token(f.token, as_bytes(f.head), *trust, info->gen_time);
    if (v.status != tsa::TokenStatus::ok) {
      return "anchor token does not verify: " + std::string(tsa::token_status_name(v.status)) + ": " + v.message;
    }
  } else {
    const Bytes expected = digest(info->imprint_alg, as_bytes(f.head));
    if (expected.size() != info->imprint.size() || !ct_equal(expected, info->imprint)) {
      return std::string("anchor token's messageImprint is not the digest of the head it names");
    }
  }
  out.last_anchor_time = info->gen_time;
  return std::nullopt;
}

}  // namespace

Result<AuditVerification> verify_audit_file(const fs::path& file, const certstore::TrustStore* tsa_trust) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail(Errc::io, "cannot open " + file.string());
  }
  AuditVerification out;
  out.anchors_verified = tsa_trust != nullptr;
  std::string expected(kAuditGenesis);
  // The heads of the last lines, which anchors may name (the TSA answers while requests go on).
  constexpr std::size_t kRecentHeads = 100000;
  std::deque<std::string> recent;
  std::set<std::string> recent_heads;
  std::string line;
  std::size_t number = 0;
  auto bad = [&](std::size_t at, std::string reason) {
    out.ok = false;
    out.line = at;
    out.reason = std::move(reason);
    out.head = expected;
    return out;
  };
  char buf[65536];
  bool in_line = false;
  while (true) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) {
      if (in.bad()) {
        return fail(Errc::io, "cannot read " + file.string());
      }
      break;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!in_line) {
        ++number;
        in_line = true;
      }
      if (buf[i] != '\n') {
        if (line.size() >= kAuditMaxLine) {
          return bad(number, "longer than 1 MiB");
        }
        line.push_back(buf[i]);
        continue;
      }
      if (auto why = check_line(line, expected, number)) {
        return bad(number, *why);
      }
      if (auto anchor = anchor_fields(line)) {
        if (auto why = check_anchor(*anchor, recent_heads, tsa_trust, out)) {
          return bad(number, *why);
        }
        ++out.anchors;
        out.last_anchor_line = number;
      }
      expected = sha256_hex(line);
      recent.push_back(expected);
      recent_heads.insert(expected);
      if (recent.size() > kRecentHeads) {
        recent_heads.erase(recent.front());
        recent.pop_front();
      }
      ++out.records;
      line.clear();
      in_line = false;
    }
  }
  if (in_line) {
    return bad(number, "torn: the last line has no '\\n' (an interrupted write or a truncated file)");
  }
  out.ok = true;
  out.head = expected;
  return out;
}

}  // namespace hanko::server
