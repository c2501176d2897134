#include "hanko/archive/archive.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>

#include <algorithm>
#include <atomic>
#include <cctype>

#include "hanko/common/base64.h"
#include "hanko/common/bytes.h"
#include "hanko/common/digest.h"
#include "hanko/common/json.h"
#include "hanko/signer/xades.h"
#include "hanko/signer/xml.h"
#include "hanko/store/database.h"

namespace hanko::archive {

using namespace Poco::Data::Keywords;
using Session = store::Session;
using NInt = Poco::Nullable<Poco::Int64>;

namespace {

constexpr std::string_view kStateActive = "active";
constexpr std::string_view kStateFailing = "failing";
constexpr std::string_view kStatePurged = "purged";

constexpr const char* kItemColumns =
    "id, content_type, document_identifier, document_sha256, patient, document_type, caller, archived_at, "
    "retention_end, state, current_version, renewals, next_renewal, evidence_deadline, failures, retry_at, "
    "last_error, lease_owner, lease_expires";

using ItemRow = Poco::Tuple<std::string, std::string, std::string, std::string, std::string, std::string, std::string,
                            Poco::Int64, Poco::Int64, std::string, Poco::Int64, Poco::Int64, NInt, NInt, Poco::Int64,
                            NInt, std::string, Poco::Nullable<std::string>, NInt>;

std::optional<TimePoint> opt_time(const NInt& v) {
  if (v.isNull()) {
    return std::nullopt;
  }
  return from_unix(v.value());
}

NInt to_nint(const std::optional<TimePoint>& t) {
  if (!t) {
    return NInt();
  }
  return NInt(to_unix(*t));
}

ItemStatus status_at(const ArchiveItem& item, TimePoint at) {
  if (item.state == kStatePurged) {
    return ItemStatus::purged;
  }
  if (at >= item.retention_end) {
    return ItemStatus::retention_ended;
  }
  if (item.evidence_deadline && at >= *item.evidence_deadline) {
    return ItemStatus::overdue;
  }
  if (item.state == kStateFailing) {
    return ItemStatus::failing;
  }
  if (item.next_renewal && at >= *item.next_renewal) {
    return ItemStatus::due;
  }
  return ItemStatus::ok;
}

ArchiveItem from_row(const ItemRow& r) {
  ArchiveItem i;
  i.id = r.get<0>();
  i.content_type = r.get<1>();
  i.document_identifier = r.get<2>();
  i.document_sha256 = r.get<3>();
  i.patient = r.get<4>();
  i.document_type = r.get<5>();
  i.caller = r.get<6>();
  i.archived_at = from_unix(r.get<7>());
  i.retention_end = from_unix(r.get<8>());
  i.state = r.get<9>();
  i.current_version = static_cast<int>(r.get<10>());
  i.renewals = static_cast<int>(r.get<11>());
  i.next_renewal = opt_time(r.get<12>());
  i.evidence_deadline = opt_time(r.get<13>());
  i.failures = static_cast<int>(r.get<14>());
  i.retry_at = opt_time(r.get<15>());
  i.last_error = r.get<16>();
  if (!r.get<17>().isNull()) {
    i.lease_owner = r.get<17>().value();
  }
  i.lease_expires = opt_time(r.get<18>());
  return i;
}

/** Items selected by `where` (SQL after WHERE, with ? placeholders bound from `binds`, all text). */
std::vector<ArchiveItem> select_items(Session& s, const store::Dialect& d, const std::string& where,
                                      const std::vector<std::string>& binds, TimePoint at) {
  std::vector<ItemRow> rows;
  Poco::Data::Statement st(s);
  st << d.sql(std::string("SELECT ") + kItemColumns + " FROM archive_items WHERE " + where);
  for (const auto& b : binds) {
    st, bind(b);
  }
  st, into(rows);
  st.execute();
  std::vector<ArchiveItem> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back(from_row(r));
    out.back().status = status_at(out.back(), at);
  }
  return out;
}

Result<ArchiveItem> load_item(Session& s, const store::Dialect& d, std::string_view id, TimePoint at) {
  auto items = select_items(s, d, "id = ?", {std::string(id)}, at);
  if (items.empty()) {
    return fail(Errc::not_found, "no archived item " + std::string(id));
  }
  return items.front();
}

using VersionRow = Poco::Tuple<Poco::Int64, std::string, Poco::Int64, std::string, std::string, NInt, NInt, std::string,
                               std::string>;

std::vector<EvidenceVersion> load_versions(Session& s, const store::Dialect& d, const std::string& id) {
  std::vector<VersionRow> rows;
  std::string i = id;
  s << d.sql("SELECT version, kind, created_at, level, sha256, archive_time, tsa_not_after, digest, note "
             "FROM archive_versions WHERE item_id = ? ORDER BY version"),
      use(i), into(rows), now;
  std::vector<EvidenceVersion> out;
  for (const auto& r : rows) {
    EvidenceVersion v;
    v.version = static_cast<int>(r.get<0>());
    v.kind = r.get<1>();
    v.created = from_unix(r.get<2>());
    v.level = r.get<3>();
    v.sha256 = r.get<4>();
    v.archive_time = opt_time(r.get<5>());
    v.tsa_not_after = opt_time(r.get<6>());
    v.digest = r.get<7>();
    v.note = r.get<8>();
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<std::string> load_document(Session& s, const store::Dialect& d, const std::string& id, int version) {
  std::vector<Poco::Data::BLOB> rows;
  std::string i = id;
  Poco::Int64 v = version;
  s << d.sql("SELECT document FROM archive_versions WHERE item_id = ? AND version = ?"), use(i), use(v), into(rows),
      now;
  if (rows.empty()) {
    return std::nullopt;
  }
  const auto& b = rows.front();
  return b.size() == 0 ? std::string() : std::string(reinterpret_cast<const char*>(b.rawContent()), b.size());
}

void insert_version(Session& s, const store::Dialect& d, const std::string& id, const EvidenceVersion& v,
                    std::string_view document) {
  std::string i = id;
  Poco::Int64 ver = v.version;
  std::string kind = v.kind;
  Poco::Int64 created = to_unix(v.created);
  std::string level = v.level;
  std::string sha = v.sha256;
  NInt at = to_nint(v.archive_time);
  NInt na = to_nint(v.tsa_not_after);
  std::string digest = v.digest;
  std::string note = v.note;
  Poco::Data::BLOB doc(reinterpret_cast<const unsigned char*>(document.data()), document.size());
  s << d.sql("INSERT INTO archive_versions (item_id, version, kind, created_at, level, sha256, archive_time, "
             "tsa_not_after, digest, note, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, " +
             std::string(d.blob_param()) + ")"),
      use(i), use(ver), use(kind), use(created), use(level), use(sha), use(at), use(na), use(digest), use(note),
      use(doc), now;
}

void insert_event(Session& s, const store::Dialect& d, const std::string& id, TimePoint at, std::string_view kind,
                  std::string_view actor, std::string_view detail) {
  std::string i = id;
  Poco::Int64 t = to_unix(at);
  std::string k(kind);
  std::string a(actor);
  std::string det(detail);
  s << d.sql("INSERT INTO archive_events (item_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)"), use(i), use(t),
      use(k), use(a), use(det), now;
}

bool is_xml(std::string_view document, std::string_view content_type) {
  if (content_type.find("xml") != std::string_view::npos) {
    return true;
  }
  if (content_type.find("json") != std::string_view::npos) {
    return false;
  }
  const auto p = document.find_first_not_of(" \t\r\n");
  return p != std::string_view::npos && document[p] == '<';
}

std::string hex_sha256(std::string_view s) { return hex(sha256(s)); }

/** Composition.type code and the patient key of a document. */
struct Metadata {
  std::string document_type;
  std::string patient;
};

Metadata json_metadata(std::string_view document) {
  Metadata m;
  auto b = json::parse(document);
  if (!b) {
    return m;
  }
  const auto* entries = b->find("entry");
  if (entries == nullptr || !entries->is_array() || entries->as_array().empty()) {
    return m;
  }
  const auto* comp = entries->as_array().front().find("resource");
  if (comp == nullptr) {
    return m;
  }
  if (const auto* type = comp->find("type"); type != nullptr) {
    if (const auto* codings = type->find("coding"); codings != nullptr && codings->is_array()) {
      for (const auto& c : codings->as_array()) {
        if (const auto* code = c.find_string("code"); code != nullptr) {
          m.document_type = *code;
          break;
        }
      }
    }
  }
  const auto* subject = comp->find("subject");
  const auto* ref = subject != nullptr ? subject->find_string("reference") : nullptr;
  if (ref == nullptr) {
    return m;
  }
  m.patient = *ref;
  for (const auto& e : entries->as_array()) {
    const auto* full = e.find_string("fullUrl");
    const auto* res = e.find("resource");
    if (full == nullptr || res == nullptr || *full != *ref) {
      continue;
    }
    if (const auto* ids = res->find("identifier"); ids != nullptr && ids->is_array()) {
      for (const auto& id : ids->as_array()) {
        if (const auto* v = id.find_string("value"); v != nullptr) {
          m.patient = *v;
          return m;
        }
      }
    }
  }
  return m;
}

/** The value="..." attribute of the element at `path`, if any. */
std::optional<std::string> xml_value(const signer::xml::Document& doc, const std::string& path) {
  auto c = signer::xml::canonicalize_element(doc, signer::xml::ElementSelector::by_path(path),
                                             signer::xml::C14nOptions{});
  if (!c) {
    return std::nullopt;
  }
  const auto tag_end = c->find('>');
  const auto p = c->find(" value=\"");
  if (p == std::string::npos || p > tag_end) {
    return std::nullopt;
  }
  const auto start = p + 8;
  const auto end = c->find('"', start);
  if (end == std::string::npos) {
    return std::nullopt;
  }
  std::string v = c->substr(start, end - start);
  // Undo the C14N escapes of attribute values that matter for identifiers.
  for (const auto& [from, to] : {std::pair<std::string_view, std::string_view>{"&quot;", "\""}, {"&lt;", "<"},
                                 {"&#x9;", "\t"}, {"&#xA;", "\n"}, {"&#xD;", "\r"}, {"&amp;", "&"}}) {
    for (auto q = v.find(from); q != std::string::npos; q = v.find(from, q + to.size())) {
      v.replace(q, from.size(), to);
    }
  }
  return v;
}

Metadata xml_metadata(std::string_view document) {
  Metadata m;
  auto doc = signer::xml::Document::parse(document);
  if (!doc) {
    return m;
  }
  const std::string comp = "/Bundle/entry[1]/resource/Composition";
  if (auto code = xml_value(*doc, comp + "/type/coding[1]/code")) {
    m.document_type = *code;
  }
  auto ref = xml_value(*doc, comp + "/subject/reference");
  if (!ref) {
    return m;
  }
  m.patient = *ref;
  for (int i = 1; i <= 1000; ++i) {
    const std::string entry = "/Bundle/entry[" + std::to_string(i) + "]";
    auto full = xml_value(*doc, entry + "/fullUrl");
    if (!full) {
      if (!xml_value(*doc, entry + "/resource/*/id")) {
        // Neither a fullUrl nor a resource id: past the last entry (or an entry without them).
        auto c = signer::xml::canonicalize_element(*doc, signer::xml::ElementSelector::by_path(entry),
                                                   signer::xml::C14nOptions{});
        if (!c) {
          break;
        }
      }
      continue;
    }
    if (*full != *ref) {
      continue;
    }
    if (auto v = xml_value(*doc, entry + "/resource/Patient/identifier[1]/value")) {
      m.patient = *v;
    }
    break;
  }
  return m;
}

/** The text of the first ds:SignatureValue element (any prefix), white space removed. */
std::optional<std::string> signature_value_text(std::string_view xml) {
  std::size_t p = 0;
  while ((p = xml.find("SignatureValue", p)) != std::string_view::npos) {
    // An element start: "<SignatureValue" or "<prefix:SignatureValue".
    std::size_t q = p;
    while (q > 0 && (std::isalnum(static_cast<unsigned char>(xml[q - 1])) != 0 || xml[q - 1] == ':' ||
                     xml[q - 1] == '_' || xml[q - 1] == '-' || xml[q - 1] == '.')) {
      --q;
    }
    const bool start_tag = q > 0 && xml[q - 1] == '<';
    const std::size_t after = p + std::string_view("SignatureValue").size();
    const bool whole_name = after < xml.size() && (xml[after] == '>' || xml[after] == ' ' || xml[after] == '\t' ||
                                                   xml[after] == '\n' || xml[after] == '\r');
    const std::string_view prefix = xml.substr(q, p - q);
    if (start_tag && whole_name && (prefix.empty() || prefix.back() == ':')) {
      const auto gt = xml.find('>', after);
      if (gt == std::string_view::npos || xml[gt - 1] == '/') {
        return std::nullopt;
      }
      const auto lt = xml.find('<', gt);
      if (lt == std::string_view::npos) {
        return std::nullopt;
      }
      std::string v;
      for (char c : xml.substr(gt + 1, lt - gt - 1)) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
          v.push_back(c);
        }
      }
      return v;
    }
    p = after;
  }
  return std::nullopt;
}

std::string report_summary(const verifier::ValidationReport& r) {
  std::string s(verifier::indication_name(r.indication));
  if (r.sub_indication != verifier::SubIndication::none) {
    s += "/" + std::string(verifier::sub_indication_name(r.sub_indication));
  }
  if (!r.signatures.empty()) {
    const auto& sig = r.signatures.front();
    if (!sig.errors.empty()) {
      s += ": " + sig.errors.front();
    } else if (!sig.warnings.empty()) {
      s += ": " + sig.warnings.front();
    }
  }
  return s;
}

std::atomic<std::uint64_t> g_owner_counter{0};

}  // namespace

std::string_view item_status_name(ItemStatus s) {
  switch (s) {
    case ItemStatus::ok: return "ok";
    case ItemStatus::due: return "due";
    case ItemStatus::overdue: return "overdue";
    case ItemStatus::failing: return "failing";
    case ItemStatus::retention_ended: return "retention-ended";
    case ItemStatus::purged: return "purged";
  }
  return "ok";
}

std::optional<ItemStatus> item_status_from_name(std::string_view name) {
  for (auto s : {ItemStatus::ok, ItemStatus::due, ItemStatus::overdue, ItemStatus::failing,
                 ItemStatus::retention_ended, ItemStatus::purged}) {
    if (item_status_name(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

std::string_view ingest_failure_name(IngestFailure f) {
  switch (f) {
    case IngestFailure::invalid: return "invalid";
    case IngestFailure::rejected: return "rejected";
    case IngestFailure::indeterminate: return "indeterminate";
    case IngestFailure::augmentation: return "augmentation";
    case IngestFailure::storage: return "storage";
  }
  return "invalid";
}

Result<std::string> signature_id(std::string_view document) {
  if (is_xml(document, {})) {
    auto core = signer::verify_xades_core(document);
    if (!core) {
      return std::unexpected(core.error());
    }
    auto v = signature_value_text(core->signature_xml);
    if (!v || v->empty()) {
      return fail(Errc::invalid_argument, "the XAdES signature has no ds:SignatureValue");
    }
    return hex_sha256(*v);
  }
  auto b = json::parse(document);
  if (!b) {
    return fail(Errc::invalid_argument, "not JSON: " + b.error().message);
  }
  const auto* sig = b->find("signature");
  const auto* data = sig != nullptr ? sig->find_string("data") : nullptr;
  if (data == nullptr) {
    return fail(Errc::no_signature, "the Bundle has no signature.data");
  }
  auto jws = base64_decode(*data);
  if (!jws) {
    return fail(Errc::invalid_argument, "signature.data is not base64");
  }
  const std::string text = to_string(*jws);
  const auto p = text.find_first_not_of(" \t\r\n");
  if (p != std::string::npos && text[p] == '{') {
    auto j = json::parse(text);
    const auto* s = j ? j->find_string("signature") : nullptr;
    if (s == nullptr || s->empty()) {
      return fail(Errc::invalid_argument, "the JWS has no signature member");
    }
    return hex_sha256(*s);
  }
  const auto d1 = text.find('.');
  const auto d2 = d1 == std::string::npos ? std::string::npos : text.find('.', d1 + 1);
  if (d2 == std::string::npos || d2 + 1 >= text.size()) {
    return fail(Errc::invalid_argument, "the JWS is not in compact form with a signature");
  }
  return hex_sha256(std::string_view(text).substr(d2 + 1));
}

struct Archive::Claimed {
  std::string id;
  int version = 0;
  int failures = 0;
  TimePoint retention_end;
};

Archive::Archive(store::Database& db, ArchiveServices services, ArchiveConfig config)
    : m_db(db), m_services(std::move(services)), m_config(std::move(config)), m_instance(m_config.instance_id) {
  if (m_instance.empty()) {
    auto r = store::new_signing_session_id();
    m_instance = r ? *r : "archive";
  }
}

void Archive::hook(std::string_view point, const std::string& id) const {
  if (m_config.fault_hook) {
    m_config.fault_hook(point, id);
  }
}

IngestResult Archive::ingest(std::string_view document, std::string_view content_type, std::string_view caller,
                             TimePoint now) {
  auto failure = [](IngestFailure kind, Error e) {
    IngestError err;
    err.kind = kind;
    err.error = std::move(e);
    return std::unexpected(std::move(err));
  };
  const bool xml = is_xml(document, content_type);
  verifier::VerifyOptions vo = m_services.verify;
  vo.validation_time = now;
  auto report = xml ? verifier::verify_xml_bundle_text(document, vo) : verifier::verify_bundle_text(document, vo);
  if (!report) {
    return failure(IngestFailure::invalid, report.error());
  }
  if (report->indication != verifier::Indication::total_passed) {
    IngestError err;
    const bool failed = report->indication == verifier::Indication::total_failed;
    err.kind = failed ? IngestFailure::rejected : IngestFailure::indeterminate;
    err.error = Error(failed ? Errc::policy : Errc::network,
                      "the signature does not validate at " + format_rfc3339(now) + ": " + report_summary(*report));
    err.report = *report;
    if (!failed) {
      err.retry_after = m_config.schedule.ingest_retry_after;
    }
    return std::unexpected(std::move(err));
  }
  auto id = signature_id(document);
  if (!id) {
    return failure(IngestFailure::invalid, id.error());
  }
  const auto& d = m_db.dialect();
  {
    std::optional<ArchiveItem> existing;
    auto r = m_db.read([&](Session& s) -> Result<void> {
      auto it = load_item(s, d, *id, now);
      if (it) {
        existing = *it;
      }
      return {};
    });
    if (!r) {
      return failure(IngestFailure::storage, r.error());
    }
    if (existing) {
      return Ingested{*existing, false, *report};
    }
  }

  signer::ExtendContext ctx = m_services.extend;
  ctx.now = now;
  ctx.archive_digest = m_config.algorithms.archive_digest(now, m_config.schedule.margin);
  auto extended = signer::extend_bundle(document, signer::ExtendLevel::B_LTA, ctx);
  if (!extended) {
    IngestError err;
    err.kind = IngestFailure::augmentation;
    err.error = Error(extended.error().code, "cannot raise the signature to B-LTA: " + extended.error().message);
    err.retry_after = m_config.schedule.ingest_retry_after;
    return std::unexpected(std::move(err));
  }
  hook("ingest.extended", *id);
  auto evidence = read_archive_evidence(extended->bundle);
  if (!evidence) {
    return failure(IngestFailure::augmentation, evidence.error());
  }
  const Metadata meta = xml ? xml_metadata(document) : json_metadata(document);
  const TimePoint at = from_unix(to_unix(now));
  ArchiveItem item;
  item.id = *id;
  item.content_type = xml ? "application/fhir+xml" : "application/fhir+json";
  item.document_identifier = report->document_identifier;
  item.document_sha256 = report->document_sha256;
  item.patient = meta.patient;
  item.document_type = meta.document_type;
  item.caller = std::string(caller);
  item.archived_at = at;
  item.retention_end = from_unix(to_unix(m_config.retention.end_for(meta.document_type, at)));
  item.state = std::string(kStateActive);
  item.current_version = 1;
  item.evidence_deadline = evidence_deadline(*evidence, m_config.algorithms);
  item.next_renewal = next_renewal(item.evidence_deadline, item.retention_end, m_config.schedule.margin);
  if (item.evidence_deadline) {
    item.evidence_deadline = from_unix(to_unix(*item.evidence_deadline));
  }
  if (item.next_renewal) {
    item.next_renewal = from_unix(to_unix(*item.next_renewal));
  }

  EvidenceVersion v0;
  v0.version = 0;
  v0.kind = "submitted";
  v0.created = at;
  v0.level = std::string(signer::signature_level_name(extended->before));
  v0.sha256 = hex_sha256(document);
  v0.note = "as submitted by " + item.caller;
  EvidenceVersion v1;
  v1.version = 1;
  v1.kind = "archived";
  v1.created = at;
  v1.level = evidence->level;
  v1.sha256 = hex_sha256(extended->bundle);
  v1.archive_time = evidence->archive_time;
  v1.tsa_not_after = evidence->tsa_not_after;
  v1.digest = evidence->digest;
  for (const auto& n : extended->notes) {
    v1.note += (v1.note.empty() ? "" : "; ") + n;
  }

  bool created = false;
  auto tx = m_db.transaction([&](Session& s) -> Result<void> {
    std::string iid = item.id, ct = item.content_type, ident = item.document_identifier, dsha = item.document_sha256,
                pat = item.patient, dt = item.document_type, who = item.caller, state = item.state, err;
    Poco::Int64 arch = to_unix(item.archived_at), ret = to_unix(item.retention_end), ver = 1, zero = 0;
    NInt next = to_nint(item.next_renewal), dl = to_nint(item.evidence_deadline);
    Poco::Data::Statement st(s);
    st << d.sql("INSERT INTO archive_items (id, content_type, document_identifier, document_sha256, patient, "
                "document_type, caller, archived_at, retention_end, state, current_version, renewals, next_renewal, "
                "evidence_deadline, failures, retry_at, last_error, lease_owner, lease_expires) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL) ON CONFLICT (id) DO NOTHING"),
        use(iid), use(ct), use(ident), use(dsha), use(pat), use(dt), use(who), use(arch), use(ret), use(state),
        use(ver), use(zero), use(next), use(dl), use(zero), use(err);
    if (st.execute() == 0) {
      return {};  // archived meanwhile by someone else: theirs is the item
    }
    created = true;
    insert_version(s, d, item.id, v0, document);
    insert_version(s, d, item.id, v1, extended->bundle);
    insert_event(s, d, item.id, at, "ingest", item.caller,
                 "archived " + v1.level + " sha256 " + v1.sha256 + "; retention end " +
                     format_rfc3339(item.retention_end) +
                     (item.next_renewal ? "; next renewal " + format_rfc3339(*item.next_renewal) : ""));
    hook("ingest.in_transaction", item.id);
    return {};
  });
  if (!tx) {
    return failure(IngestFailure::storage, tx.error());
  }
  hook("ingest.committed", item.id);
  if (!created) {
    std::optional<ArchiveItem> existing;
    auto r = m_db.read([&](Session& s) -> Result<void> {
      auto it = load_item(s, d, item.id, now);
      if (!it) {
        return std::unexpected(it.error());
      }
      existing = *it;
      return {};
    });
    if (!r) {
      return failure(IngestFailure::storage, r.error());
    }
    return Ingested{*existing, false, *report};
  }
  item.status = status_at(item, now);
  return Ingested{item, true, *report};
}

Result<ArchivedDocument> Archive::get(std::string_view id, TimePoint at) {
  const auto& d = m_db.dialect();
  ArchivedDocument out;
  auto r = m_db.read([&](Session& s) -> Result<void> {
    auto it = load_item(s, d, id, at);
    if (!it) {
      return std::unexpected(it.error());
    }
    out.item = *it;
    out.versions = load_versions(s, d, out.item.id);
    if (out.item.state != kStatePurged) {
      auto doc = load_document(s, d, out.item.id, out.item.current_version);
      if (!doc) {
        return fail(Errc::internal, "item " + out.item.id + " has no version " +
                                        std::to_string(out.item.current_version));
      }
      out.document = std::move(*doc);
    }
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  return out;
}

Result<std::string> Archive::version_document(std::string_view id, int version) {
  const auto& d = m_db.dialect();
  std::optional<std::string> doc;
  auto r = m_db.read([&](Session& s) -> Result<void> {
    doc = load_document(s, d, std::string(id), version);
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  if (!doc) {
    return fail(Errc::not_found, "no version " + std::to_string(version) + " of archived item " + std::string(id));
  }
  return *doc;
}

Result<verifier::ValidationReport> Archive::report(std::string_view id, TimePoint at) {
  auto doc = get(id, at);
  if (!doc) {
    return std::unexpected(doc.error());
  }
  if (doc->item.state == kStatePurged) {
    return fail(Errc::expired, "archived item " + doc->item.id + " was purged");
  }
  verifier::VerifyOptions vo = m_services.verify;
  vo.validation_time = at;
  return doc->item.content_type == "application/fhir+xml" ? verifier::verify_xml_bundle_text(doc->document, vo)
                                                          : verifier::verify_bundle_text(doc->document, vo);
}

Result<std::vector<ArchiveItem>> Archive::find(const FindQuery& q) {
  const auto& d = m_db.dialect();
  std::vector<ArchiveItem> out;
  auto r = m_db.read([&](Session& s) -> Result<void> {
    std::string where = "(? = '' OR document_identifier = ?) AND (? = '' OR patient = ?) ORDER BY archived_at, id";
    if (!q.status) {
      where += " LIMIT " + std::to_string(q.limit);
    }
    auto items = select_items(s, d, where, {q.identifier, q.identifier, q.patient, q.patient}, q.at);
    for (auto& it : items) {
      if (q.status && it.status != *q.status) {
        continue;
      }
      out.push_back(std::move(it));
      if (out.size() >= q.limit) {
        break;
      }
    }
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  return out;
}

Result<ArchiveCounts> Archive::counts(TimePoint at) {
  const auto& d = m_db.dialect();
  ArchiveCounts c;
  auto r = m_db.read([&](Session& s) -> Result<void> {
    std::vector<Poco::Tuple<std::string, Poco::Int64, NInt, NInt>> rows;
    s << d.sql("SELECT state, retention_end, next_renewal, evidence_deadline FROM archive_items"), into(rows), now;
    for (const auto& row : rows) {
      ArchiveItem i;
      i.state = row.get<0>();
      i.retention_end = from_unix(row.get<1>());
      i.next_renewal = opt_time(row.get<2>());
      i.evidence_deadline = opt_time(row.get<3>());
      ++c.total;
      switch (status_at(i, at)) {
        case ItemStatus::ok: ++c.ok; break;
        case ItemStatus::due: ++c.due; break;
        case ItemStatus::overdue: ++c.overdue; break;
        case ItemStatus::failing: ++c.failing; break;
        case ItemStatus::retention_ended: ++c.retention_ended; break;
        case ItemStatus::purged: ++c.purged; break;
      }
    }
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  return c;
}

Result<std::vector<Archive::Claimed>> Archive::claim(TimePoint as_of, std::size_t max, const std::string& owner) {
  const auto& d = m_db.dialect();
  std::vector<Claimed> out;
  auto r = m_db.transaction([&](Session& s) -> Result<void> {
    Poco::Int64 t = to_unix(as_of);
    std::string purged(kStatePurged);
    std::vector<Poco::Tuple<std::string, Poco::Int64, Poco::Int64, Poco::Int64>> rows;
    s << d.sql("SELECT id, current_version, failures, retention_end FROM archive_items "
               "WHERE state <> ? AND next_renewal IS NOT NULL AND next_renewal <= ? AND retention_end > ? "
               "AND (retry_at IS NULL OR retry_at <= ?) AND (lease_expires IS NULL OR lease_expires <= ?) "
               "ORDER BY next_renewal, id LIMIT " +
               std::to_string(max) + std::string(d.skip_locked())),
        use(purged), use(t), use(t), use(t), use(t), into(rows), now;
    Poco::Int64 until = to_unix(as_of + m_config.schedule.lease);
    std::string me = owner;
    for (const auto& row : rows) {
      std::string id = row.get<0>();
      s << d.sql("UPDATE archive_items SET lease_owner = ?, lease_expires = ? WHERE id = ?"), use(me), use(until),
          use(id), now;
      out.push_back(Claimed{id, static_cast<int>(row.get<1>()), static_cast<int>(row.get<2>()),
                            from_unix(row.get<3>())});
    }
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  return out;
}

void Archive::record_failure(const Claimed& c, TimePoint as_of, const std::string& owner, const std::string& message,
                             RenewSummary& summary) {
  const auto& d = m_db.dialect();
  const TimePoint retry = as_of + retry_delay(c.failures + 1, m_config.schedule);
  auto r = m_db.transaction([&](Session& s) -> Result<void> {
    std::string id = c.id, me = owner, msg = message, state(kStateFailing);
    Poco::Int64 rt = to_unix(retry);
    Poco::Data::Statement st(s);
    st << d.sql("UPDATE archive_items SET state = ?, failures = failures + 1, retry_at = ?, last_error = ?, "
                "lease_owner = NULL, lease_expires = NULL WHERE id = ? AND lease_owner = ?"),
        use(state), use(rt), use(msg), use(id), use(me);
    if (st.execute() == 0) {
      return fail(Errc::conflict, "lease lost");
    }
    insert_event(s, d, c.id, as_of, "renew-failed", owner,
                 message + "; retry at " + format_rfc3339(retry) + " (failure " + std::to_string(c.failures + 1) + ")");
    return {};
  });
  ++summary.failed;
  summary.errors.push_back(c.id + ": " + message);
  if (!r) {
    if (r.error().code == Errc::conflict) {
      ++summary.lost_lease;
    } else {
      summary.errors.push_back(c.id + ": cannot record the failure: " + r.error().message);
    }
  }
}

Result<std::string> Archive::renew_one(const Claimed& c, TimePoint as_of, const std::string& owner,
                                       RenewSummary& summary) {
  const auto& d = m_db.dialect();
  std::optional<std::string> doc;
  std::string content_type;
  auto r = m_db.read([&](Session& s) -> Result<void> {
    doc = load_document(s, d, c.id, c.version);
    std::vector<std::string> ct;
    std::string id = c.id;
    s << d.sql("SELECT content_type FROM archive_items WHERE id = ?"), use(id), into(ct), now;
    if (!ct.empty()) {
      content_type = ct.front();
    }
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  if (!doc) {
    return fail(Errc::internal, "version " + std::to_string(c.version) + " is missing");
  }
  hook("renew.claimed", c.id);
  signer::ExtendContext ctx = m_services.extend;
  ctx.now = as_of;
  ctx.archive_digest = m_config.algorithms.archive_digest(as_of, m_config.schedule.margin);
  auto extended = signer::extend_bundle(*doc, signer::ExtendLevel::B_LTA, ctx);
  if (!extended) {
    return fail(extended.error().code, "cannot add an archive timestamp: " + extended.error().message);
  }
  hook("renew.extended", c.id);
  verifier::VerifyOptions vo = m_services.verify;
  vo.validation_time = as_of;
  const bool xml = content_type == "application/fhir+xml";
  auto report = xml ? verifier::verify_xml_bundle_text(extended->bundle, vo)
                    : verifier::verify_bundle_text(extended->bundle, vo);
  if (!report) {
    return fail(report.error().code, "the renewed document does not validate: " + report.error().message);
  }
  if (report->indication != verifier::Indication::total_passed) {
    return fail(Errc::policy, "the renewed document does not validate: " + report_summary(*report));
  }
  // The document may still pass on the previous archive timestamp: the new one must itself be
  // valid now (its TSA trusted, its chain and revocation fine), or the schedule would rest on it in vain.
  {
    const verifier::TimestampReport* newest = nullptr;
    for (const auto& sig : report->signatures) {
      for (const auto& ts : sig.timestamps) {
        if (ts.type == "ARCHIVE_TIMESTAMP" && ts.gen_time &&
            (newest == nullptr || !newest->gen_time || *ts.gen_time >= *newest->gen_time)) {
          newest = &ts;
        }
      }
    }
    if (newest == nullptr || newest->indication != verifier::BlockIndication::passed) {
      std::string why = newest == nullptr ? std::string("no archive timestamp in the report")
                                          : std::string(verifier::block_indication_name(newest->indication)) + "/" +
                                                std::string(verifier::sub_indication_name(newest->sub_indication)) +
                                                (newest->message.empty() ? "" : ": " + newest->message);
      return fail(Errc::policy, "the new archive timestamp does not validate: " + why);
    }
  }
  hook("renew.verified", c.id);
  auto evidence = read_archive_evidence(extended->bundle);
  if (!evidence) {
    return std::unexpected(evidence.error());
  }
  auto deadline = evidence_deadline(*evidence, m_config.algorithms);
  auto next = next_renewal(deadline, c.retention_end, m_config.schedule.margin);
  std::string state(kStateActive);
  std::string last_error;
  NInt retry;
  Poco::Int64 failures = 0;
  if (next && *next <= as_of) {
    // The new timestamp is itself within the margin: the TSA's certificate is too short-lived or its
    // algorithms near their sunset. Keep the better evidence, but say so and retry later.
    state = std::string(kStateFailing);
    failures = c.failures + 1;
    last_error = "the new archive timestamp is verifiable only until " + format_rfc3339(*deadline) +
                 " (TSA key " + evidence->tsa_key + ", digest " + evidence->digest +
                 "): configure a TSA with a longer-lived certificate or stronger algorithms";
    retry = NInt(to_unix(as_of + retry_delay(static_cast<int>(failures), m_config.schedule)));
  }
  EvidenceVersion v;
  v.version = c.version + 1;
  v.kind = "renewal";
  v.created = from_unix(to_unix(as_of));
  v.level = evidence->level;
  v.sha256 = hex_sha256(extended->bundle);
  v.archive_time = evidence->archive_time;
  v.tsa_not_after = evidence->tsa_not_after;
  v.digest = evidence->digest;
  for (const auto& n : extended->notes) {
    v.note += (v.note.empty() ? "" : "; ") + n;
  }
  auto tx = m_db.transaction([&](Session& s) -> Result<void> {
    std::string id = c.id, me = owner;
    Poco::Int64 newv = v.version, oldv = c.version;
    NInt nx = to_nint(next ? std::optional<TimePoint>(from_unix(to_unix(*next))) : std::nullopt);
    NInt dl = to_nint(deadline ? std::optional<TimePoint>(from_unix(to_unix(*deadline))) : std::nullopt);
    Poco::Data::Statement st(s);
    st << d.sql("UPDATE archive_items SET current_version = ?, renewals = renewals + 1, next_renewal = ?, "
                "evidence_deadline = ?, state = ?, failures = ?, retry_at = ?, last_error = ?, lease_owner = NULL, "
                "lease_expires = NULL WHERE id = ? AND lease_owner = ? AND current_version = ?"),
        use(newv), use(nx), use(dl), use(state), use(failures), use(retry), use(last_error), use(id), use(me),
        use(oldv);
    if (st.execute() == 0) {
      return fail(Errc::conflict, "the lease on " + c.id + " passed to another worker; this renewal is dropped");
    }
    insert_version(s, d, c.id, v, extended->bundle);
    insert_event(s, d, c.id, as_of, "renew", owner,
                 "version " + std::to_string(v.version) + " " + v.digest + " archive timestamp at " +
                     (v.archive_time ? format_rfc3339(*v.archive_time) : std::string("?")) +
                     (next ? "; next renewal " + format_rfc3339(*next) : "; no renewal needed before retention end"));
    hook("renew.in_transaction", c.id);
    return {};
  });
  if (!tx) {
    if (tx.error().code == Errc::conflict) {
      ++summary.lost_lease;
    }
    return std::unexpected(tx.error());
  }
  hook("renew.committed", c.id);
  ++summary.renewed;
  if (!last_error.empty()) {
    ++summary.failed;
    summary.errors.push_back(c.id + ": " + last_error);
  }
  return "version " + std::to_string(v.version) + ": " + v.note;
}

RenewSummary Archive::renew_due(TimePoint as_of, std::size_t limit,
                                const std::function<void(const RenewProgress&)>& progress) {
  RenewSummary summary;
  const std::string owner = m_instance + "#" + std::to_string(++g_owner_counter);
  std::size_t done = 0;
  while (done < limit) {
    const std::size_t want = std::min(std::max<std::size_t>(m_config.schedule.claim_batch, 1), limit - done);
    auto batch = claim(as_of, want, owner);
    if (!batch) {
      summary.errors.push_back("cannot claim due items: " + batch.error().message);
      break;
    }
    if (batch->empty()) {
      break;
    }
    summary.claimed += batch->size();
    for (const auto& c : *batch) {
      auto r = renew_one(c, as_of, owner, summary);
      ++done;
      RenewProgress p;
      p.item_id = c.id;
      p.done = done;
      if (r) {
        p.renewed = true;
        p.message = *r;
      } else {
        p.message = r.error().message;
        if (r.error().code != Errc::conflict) {
          record_failure(c, as_of, owner, r.error().message, summary);
        }
      }
      if (progress) {
        progress(p);
      }
    }
  }
  const auto& d = m_db.dialect();
  auto r = m_db.read([&](Session& s) -> Result<void> {
    Poco::Int64 t = to_unix(as_of);
    std::string purged(kStatePurged);
    Poco::Int64 n = 0;
    s << d.sql("SELECT COUNT(*) FROM archive_items WHERE state <> ? AND next_renewal IS NOT NULL "
               "AND next_renewal <= ? AND retention_end > ?"),
        use(purged), use(t), use(t), into(n), now;
    summary.remaining_due = static_cast<std::size_t>(n);
    return {};
  });
  if (!r) {
    summary.errors.push_back("cannot count due items: " + r.error().message);
  }
  return summary;
}

Result<ExportedItem> Archive::export_item(std::string_view id, std::string_view actor, TimePoint at) {
  const auto& d = m_db.dialect();
  ExportedItem out;
  auto r = m_db.transaction([&](Session& s) -> Result<void> {
    auto it = load_item(s, d, id, at);
    if (!it) {
      return std::unexpected(it.error());
    }
    if (it->state == kStatePurged) {
      return fail(Errc::expired, "archived item " + it->id + " was purged");
    }
    out.item = *it;
    out.versions = load_versions(s, d, it->id);
    for (const auto& v : out.versions) {
      auto doc = load_document(s, d, it->id, v.version);
      out.documents.push_back(doc.value_or(std::string()));
    }
    insert_event(s, d, it->id, at, "export", actor,
                 std::to_string(out.versions.size()) + " versions exported; status " +
                     std::string(item_status_name(it->status)));
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  return out;
}

Result<PurgeResult> Archive::purge(std::string_view id, std::string_view actor, TimePoint at) {
  const auto& d = m_db.dialect();
  PurgeResult out;
  auto r = m_db.transaction([&](Session& s) -> Result<void> {
    auto it = load_item(s, d, id, at);
    if (!it) {
      return std::unexpected(it.error());
    }
    if (it->state == kStatePurged) {
      return fail(Errc::expired, "archived item " + it->id + " was purged already");
    }
    if (at < it->retention_end) {
      return fail(Errc::conflict, "archived item " + it->id + " is under retention until " +
                                      format_rfc3339(it->retention_end));
    }
    out.item_id = it->id;
    out.at = at;
    out.retention_end = it->retention_end;
    std::string iid = it->id;
    std::vector<Poco::Tuple<std::string, Poco::Int64>> rows;
    s << d.sql("SELECT sha256, CAST(LENGTH(document) AS " + std::string(d.int64_type()) +
               ") FROM archive_versions WHERE item_id = ? ORDER BY version"),
        use(iid),
        into(rows), now;
    for (const auto& row : rows) {
      out.version_sha256.push_back(row.get<0>());
      out.bytes_deleted += static_cast<std::size_t>(row.get<1>());
    }
    Poco::Data::Statement del(s);
    del << d.sql("DELETE FROM archive_versions WHERE item_id = ?"), use(iid);
    out.versions_deleted = del.execute();
    std::string state(kStatePurged);
    s << d.sql("UPDATE archive_items SET state = ?, next_renewal = NULL, retry_at = NULL, lease_owner = NULL, "
               "lease_expires = NULL WHERE id = ?"),
        use(state), use(iid), now;
    std::string detail = "purged " + std::to_string(out.versions_deleted) + " versions (" +
                         std::to_string(out.bytes_deleted) + " bytes) after retention end " +
                         format_rfc3339(out.retention_end) + "; sha256";
    for (const auto& h : out.version_sha256) {
      detail += " " + h;
    }
    insert_event(s, d, iid, at, "purge", actor, detail);
    return {};
  });
  if (!r) {
    return std::unexpected(r.error());
  }
  return out;
}

}  // namespace hanko::archive
