#include "hanko/verifier/report.h"

#include <sstream>

namespace hanko::verifier {

std::string_view indication_name(Indication i) {
  switch (i) {
    case Indication::total_passed: return "TOTAL-PASSED";
    case Indication::total_failed: return "TOTAL-FAILED";
    case Indication::indeterminate: return "INDETERMINATE";
  }
  return "INDETERMINATE";
}

std::string_view indication_uri(Indication i) {
  switch (i) {
    case Indication::total_passed: return "urn:etsi:019102:mainindication:total-passed";
    case Indication::total_failed: return "urn:etsi:019102:mainindication:total-failed";
    case Indication::indeterminate: return "urn:etsi:019102:mainindication:indeterminate";
  }
  return "urn:etsi:019102:mainindication:indeterminate";
}

std::string_view block_indication_name(BlockIndication i) {
  switch (i) {
    case BlockIndication::passed: return "PASSED";
    case BlockIndication::failed: return "FAILED";
    case BlockIndication::indeterminate: return "INDETERMINATE";
  }
  return "INDETERMINATE";
}

std::string_view sub_indication_name(SubIndication s) {
  switch (s) {
    case SubIndication::none: return "";
    case SubIndication::format_failure: return "FORMAT_FAILURE";
    case SubIndication::hash_failure: return "HASH_FAILURE";
    case SubIndication::sig_crypto_failure: return "SIG_CRYPTO_FAILURE";
    case SubIndication::revoked: return "REVOKED";
    case SubIndication::expired: return "EXPIRED";
    case SubIndication::not_yet_valid: return "NOT_YET_VALID";
    case SubIndication::sig_constraints_failure: return "SIG_CONSTRAINTS_FAILURE";
    case SubIndication::chain_constraints_failure: return "CHAIN_CONSTRAINTS_FAILURE";
    case SubIndication::certificate_chain_general_failure: return "CERTIFICATE_CHAIN_GENERAL_FAILURE";
    case SubIndication::crypto_constraints_failure: return "CRYPTO_CONSTRAINTS_FAILURE";
    case SubIndication::no_signing_certificate_found: return "NO_SIGNING_CERTIFICATE_FOUND";
    case SubIndication::no_certificate_chain_found: return "NO_CERTIFICATE_CHAIN_FOUND";
    case SubIndication::revoked_no_poe: return "REVOKED_NO_POE";
    case SubIndication::revoked_ca_no_poe: return "REVOKED_CA_NO_POE";
    case SubIndication::revocation_out_of_bounds_no_poe: return "REVOCATION_OUT_OF_BOUNDS_NO_POE";
    case SubIndication::crypto_constraints_failure_no_poe: return "CRYPTO_CONSTRAINTS_FAILURE_NO_POE";
    case SubIndication::out_of_bounds_no_poe: return "OUT_OF_BOUNDS_NO_POE";
    case SubIndication::out_of_bounds_not_revoked: return "OUT_OF_BOUNDS_NOT_REVOKED";
    case SubIndication::no_poe: return "NO_POE";
    case SubIndication::try_later: return "TRY_LATER";
    case SubIndication::signed_data_not_found: return "SIGNED_DATA_NOT_FOUND";
  }
  return "";
}

std::string sub_indication_uri(SubIndication s) {
  return "urn:etsi:019102:subindication:" + std::string(sub_indication_name(s));
}

namespace {

json::Value time_or_null(const std::optional<TimePoint>& t) {
  return t ? json::Value(format_rfc3339(*t)) : json::Value();
}

json::Value cert_json(const CertificateInfo& c) {
  return json::Value(json::Object{
      {"subject", json::Value(c.subject)},
      {"issuer", json::Value(c.issuer)},
      {"serialNumber", json::Value(c.serial_number)},
      {"sha256", json::Value(c.sha256)},
      {"notBefore", json::Value(format_rfc3339(c.not_before))},
      {"notAfter", json::Value(format_rfc3339(c.not_after))},
  });
}

json::Value strings(const std::vector<std::string>& v) {
  json::Array a;
  for (const auto& s : v) {
    a.emplace_back(s);
  }
  return json::Value(std::move(a));
}

void put_indication(json::Object& o, Indication i, SubIndication s) {
  o.emplace_back("indication", json::Value(std::string(indication_name(i))));
  o.emplace_back("subIndication", s == SubIndication::none ? json::Value() : json::Value(std::string(sub_indication_name(s))));
  o.emplace_back("indicationUri", json::Value(std::string(indication_uri(i))));
  o.emplace_back("subIndicationUri", s == SubIndication::none ? json::Value() : json::Value(sub_indication_uri(s)));
}

}  // namespace

json::Value to_json(const ValidationReport& report) {
  json::Object root;
  root.emplace_back("reportFormat", json::Value("hanko-validation-report/2"));
  root.emplace_back("validationTime", json::Value(format_rfc3339(report.validation_time)));
  root.emplace_back("document", json::Value(json::Object{
                                    {"identifier", report.document_identifier.empty() ? json::Value() : json::Value(report.document_identifier)},
                                    {"canonicalSha256", report.document_sha256.empty() ? json::Value() : json::Value(report.document_sha256)},
                                }));
  put_indication(root, report.indication, report.sub_indication);
  json::Array sigs;
  for (const auto& s : report.signatures) {
    json::Object o;
    o.emplace_back("id", json::Value(s.id));
    o.emplace_back("format", json::Value(s.format));
    put_indication(o, s.indication, s.sub_indication);
    o.emplace_back("algorithm", s.algorithm.empty() ? json::Value() : json::Value(s.algorithm));
    o.emplace_back("targetFormat", s.target_format.empty() ? json::Value() : json::Value(s.target_format));
    o.emplace_back("signatureType", s.signature_type.empty() ? json::Value() : json::Value(s.signature_type));
    o.emplace_back("who", s.who.empty() ? json::Value() : json::Value(s.who));
    json::Value signer;
    if (s.signer) {
      signer = cert_json(*s.signer);
      signer.set("role", s.role ? json::Value(*s.role) : json::Value());
      signer.set("nonRepudiation", json::Value(s.non_repudiation));
      signer.set("policies", strings(s.policies));
    }
    o.emplace_back("signer", std::move(signer));
    o.emplace_back("claimedSigningTime", time_or_null(s.claimed_signing_time));
    o.emplace_back("bestSignatureTime", time_or_null(s.best_signature_time));
    json::Array ts;
    for (const auto& t : s.timestamps) {
      json::Object to;
      to.emplace_back("type", json::Value(t.type));
      to.emplace_back("indication", json::Value(std::string(block_indication_name(t.indication))));
      to.emplace_back("subIndication", t.sub_indication == SubIndication::none ? json::Value() : json::Value(std::string(sub_indication_name(t.sub_indication))));
      to.emplace_back("genTime", time_or_null(t.gen_time));
      to.emplace_back("serialNumber", t.serial_number.empty() ? json::Value() : json::Value(t.serial_number));
      to.emplace_back("policy", t.policy.empty() ? json::Value() : json::Value(t.policy));
      to.emplace_back("tsa", t.tsa ? cert_json(*t.tsa) : json::Value());
      to.emplace_back("message", json::Value(t.message));
      to.emplace_back("controlTime", time_or_null(t.control_time));
      to.emplace_back("digestAlgorithm", t.digest_algorithm.empty() ? json::Value() : json::Value(t.digest_algorithm));
      ts.emplace_back(std::move(to));
    }
    o.emplace_back("timestamps", json::Value(std::move(ts)));
    json::Array chain;
    for (const auto& c : s.chain) {
      chain.push_back(cert_json(c));
    }
    o.emplace_back("certificateChain", json::Value(std::move(chain)));
    json::Array rev;
    for (const auto& r : s.revocation) {
      json::Object ro;
      ro.emplace_back("certificate", json::Value(r.certificate));
      ro.emplace_back("status", json::Value(r.status));
      ro.emplace_back("source", r.source.empty() ? json::Value() : json::Value(r.source));
      ro.emplace_back("url", r.url.empty() ? json::Value() : json::Value(r.url));
      ro.emplace_back("responder", r.responder.empty() ? json::Value() : json::Value(r.responder));
      ro.emplace_back("producedAt", time_or_null(r.produced_at));
      ro.emplace_back("thisUpdate", time_or_null(r.this_update));
      ro.emplace_back("nextUpdate", time_or_null(r.next_update));
      ro.emplace_back("revocationTime", time_or_null(r.revocation_time));
      ro.emplace_back("revocationReason", r.revocation_reason ? json::Value(*r.revocation_reason) : json::Value());
      ro.emplace_back("fromCache", json::Value(r.from_cache));
      ro.emplace_back("message", json::Value(r.message));
      ro.emplace_back("attempts", strings(r.attempts));
      rev.emplace_back(std::move(ro));
    }
    o.emplace_back("revocation", json::Value(std::move(rev)));
    if (s.qualification) {
      const auto& q = *s.qualification;
      o.emplace_back("qualification",
                     json::Value(json::Object{
                         {"outcome", json::Value(q.outcome)},
                         {"role", q.role ? json::Value(*q.role) : json::Value()},
                         {"source", json::Value(q.source)},
                         {"rule", q.rule.empty() ? json::Value() : json::Value(q.rule)},
                         {"documentType", q.document_type.empty() ? json::Value() : json::Value(q.document_type)},
                         {"registryId", q.registry_id ? json::Value(json::Number{std::to_string(*q.registry_id)}) : json::Value()},
                         {"licenceNumber", q.licence_number.empty() ? json::Value() : json::Value(q.licence_number)},
                         {"message", json::Value(q.message)},
                     }));
    } else {
      o.emplace_back("qualification", json::Value());
    }
    json::Array checks;
    for (const auto& c : s.checks) {
      checks.emplace_back(json::Object{{"name", json::Value(c.name)},
                                       {"result", json::Value(std::string(block_indication_name(c.result)))},
                                       {"message", json::Value(c.message)}});
    }
    o.emplace_back("checks", json::Value(std::move(checks)));
    o.emplace_back("errors", strings(s.errors));
    o.emplace_back("warnings", strings(s.warnings));
    sigs.emplace_back(std::move(o));
  }
  root.emplace_back("signatures", json::Value(std::move(sigs)));
  return json::Value(std::move(root));
}

std::string to_text(const ValidationReport& report) {
  std::ostringstream out;
  out << "Result: " << indication_name(report.indication);
  if (report.sub_indication != SubIndication::none) {
    out << " / " << sub_indication_name(report.sub_indication);
  }
  out << "\nValidated at: " << format_rfc3339(report.validation_time) << "\n";
  if (!report.document_identifier.empty()) {
    out << "Document: " << report.document_identifier << "\n";
  }
  for (const auto& s : report.signatures) {
    out << "\nSignature " << s.id << " (" << s.format << (s.algorithm.empty() ? "" : ", " + s.algorithm) << ")\n";
    out << "  Result: " << indication_name(s.indication);
    if (s.sub_indication != SubIndication::none) {
      out << " / " << sub_indication_name(s.sub_indication);
    }
    out << "\n";
    if (s.signer) {
      out << "  Signer: " << s.signer->subject << "\n";
      out << "  Issuer: " << s.signer->issuer << "\n";
      out << "  Serial: " << s.signer->serial_number << "\n";
      out << "  Valid:  " << format_rfc3339(s.signer->not_before) << " to " << format_rfc3339(s.signer->not_after) << "\n";
    }
    out << "  Role (hcRole): " << (s.role ? *s.role : std::string("none")) << "\n";
    if (s.claimed_signing_time) {
      out << "  Claimed signing time: " << format_rfc3339(*s.claimed_signing_time) << "\n";
    }
    for (const auto& t : s.timestamps) {
      out << "  " << (t.type == "ARCHIVE_TIMESTAMP" ? "Archive timestamp: " : "Timestamp: ")
          << block_indication_name(t.indication);
      if (t.sub_indication != SubIndication::none) {
        out << " / " << sub_indication_name(t.sub_indication);
      }
      if (t.gen_time) {
        out << ", genTime " << format_rfc3339(*t.gen_time);
      }
      if (t.tsa) {
        out << ", TSA " << t.tsa->subject;
      }
      out << "\n";
    }
    if (s.qualification) {
      out << "  Qualification: " << s.qualification->outcome;
      if (s.qualification->role) {
        out << ", " << *s.qualification->role << " (from " << s.qualification->source << ")";
      }
      if (!s.qualification->rule.empty()) {
        out << ", rule " << s.qualification->rule;
      }
      out << "\n";
      if (!s.qualification->message.empty()) {
        out << "    " << s.qualification->message << "\n";
      }
    }
    for (const auto& r : s.revocation) {
      out << "  Revocation of " << r.certificate << ": " << r.status;
      if (!r.source.empty()) {
        out << " (" << r.source << (r.url.empty() ? "" : " " + r.url);
        if (r.produced_at) {
          out << ", producedAt " << format_rfc3339(*r.produced_at);
        } else if (r.this_update) {
          out << ", thisUpdate " << format_rfc3339(*r.this_update);
        }
        out << (r.from_cache ? ", cached" : "") << ")";
      }
      if (r.revocation_time) {
        out << ", revoked at " << format_rfc3339(*r.revocation_time);
      }
      out << "\n";
    }
    if (s.best_signature_time) {
      out << "  Best signature time: " << format_rfc3339(*s.best_signature_time) << "\n";
    }
    for (const auto& c : s.checks) {
      out << "  [" << block_indication_name(c.result) << "] " << c.name << ": " << c.message << "\n";
    }
    for (const auto& e : s.errors) {
      out << "  Error: " << e << "\n";
    }
    for (const auto& w : s.warnings) {
      out << "  Warning: " << w << "\n";
    }
  }
  return out.str();
}

int exit_code(const ValidationReport& report) {
  switch (report.indication) {
    case Indication::total_passed: return 0;
    case Indication::total_failed: return 1;
    case Indication::indeterminate: return 2;
  }
  return 2;
}

}  // namespace hanko::verifier
