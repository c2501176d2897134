#include "hanko/certstore/revocation.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "hanko/common/bytes.h"
#include "hanko/common/file.h"
#include "hanko/common/ossl.h"
#include "hanko/store/database.h"

namespace hanko::certstore {

namespace {

using Status = RevocationStatus;
using Source = RevocationSourceKind;

constexpr std::string_view kOcspRequestType = "application/ocsp-request";

bool is_final(Status s) { return s == Status::good || s == Status::revoked || s == Status::unknown; }

std::string fmt(TimePoint t) { return format_rfc3339(t); }

/** "'CN=...,O=...' (serial 0A1B...)": how messages name a certificate. */
std::string cert_label(const X509* c) {
  return "'" + ossl::name_to_string(X509_get_subject_name(c)) + "' (serial " + ossl::serial_hex(c) + ")";
}

std::string subject_of(const X509* c) { return ossl::name_to_string(X509_get_subject_name(c)); }

bool starts_with_http(std::string_view url) {
  if (url.size() < 7) {
    return false;
  }
  std::string scheme(url.substr(0, 7));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return scheme == "http://";
}

std::string ia5(const ASN1_IA5STRING* s) {
  if (s == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
}

/** The URIs of a GENERAL_NAMES (other name forms are ignored). */
std::vector<std::string> uris_of(const GENERAL_NAMES* names) {
  std::vector<std::string> out;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_URI) {
      out.push_back(ia5(gn->d.uniformResourceIdentifier));
    }
  }
  return out;
}

/** The certificate's cRLDistributionPoints (RFC 5280 section 4.2.1.13). */
struct DistributionPoints {
  std::vector<std::string> http_urls;  ///< fullName http URIs of points we can use
  std::vector<std::string> all_uris;   ///< every fullName URI (for the issuingDistributionPoint match)
  std::vector<std::string> notes;      ///< points skipped, and why
};

DistributionPoints distribution_points(const X509* cert) {
  DistributionPoints out;
  int crit = -1;
  ossl::CrlDistPointsPtr dps(
      static_cast<CRL_DIST_POINTS*>(X509_get_ext_d2i(cert, NID_crl_distribution_points, &crit, nullptr)));
  if (!dps) {
    clear_openssl_errors();
    if (crit == -2) {
      out.notes.push_back("the certificate has more than one cRLDistributionPoints extension");
    } else if (crit >= 0) {
      out.notes.push_back("the certificate's cRLDistributionPoints extension is malformed");
    }
    return out;
  }
  for (int i = 0; i < sk_DIST_POINT_num(dps.get()); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
    if (dp->distpoint == nullptr || dp->distpoint->type != 0) {
      out.notes.push_back("a distribution point without a fullName is not supported");
      continue;
    }
    const auto uris = uris_of(dp->distpoint->name.fullname);
    out.all_uris.insert(out.all_uris.end(), uris.begin(), uris.end());
    if (dp->CRLissuer != nullptr) {
      out.notes.push_back("a distribution point with a cRLIssuer (indirect CRL) is not supported");
      continue;
    }
    if (dp->reasons != nullptr) {
      out.notes.push_back("a distribution point limited to some reasons is not supported");
      continue;
    }
    for (const auto& u : uris) {
      if (starts_with_http(u)) {
        out.http_urls.push_back(u);
      } else {
        out.notes.push_back("distribution point " + u + " is not an http URL (not fetched)");
      }
    }
  }
  return out;
}

/** OCSP URIs of authorityInfoAccess (RFC 5280 section 4.2.2.1), http only. */
std::vector<std::string> ocsp_urls(const X509* cert, std::vector<std::string>& notes) {
  std::vector<std::string> out;
  int crit = -1;
  ossl::AuthorityInfoAccessPtr aia(static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, &crit, nullptr)));
  if (!aia) {
    clear_openssl_errors();
    if (crit == -2) {
      notes.push_back("the certificate has more than one authorityInfoAccess extension");
    } else if (crit >= 0) {
      notes.push_back("the certificate's authorityInfoAccess extension is malformed");
    }
    return out;
  }
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
    if (OBJ_obj2nid(ad->method) != NID_ad_OCSP || ad->location == nullptr || ad->location->type != GEN_URI) {
      continue;
    }
    const std::string u = ia5(ad->location->d.uniformResourceIdentifier);
    if (starts_with_http(u)) {
      out.push_back(u);
    } else {
      notes.push_back("OCSP responder " + u + " is not an http URL (not used)");
    }
  }
  return out;
}

/** A CRL from bytes as fetched or read: PEM (first CRL) or DER. */
ossl::X509CrlPtr parse_crl(std::string_view bytes) {
  if (bytes.find("-----BEGIN X509 CRL-----") != std::string_view::npos) {
    auto crls = ossl::x509_crls_from_pem(bytes);
    if (crls.empty()) {
      return nullptr;
    }
    return std::move(crls.front());
  }
  return ossl::x509_crl_from_der(as_bytes(bytes));
}

ossl::OcspResponsePtr parse_ocsp_response(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return nullptr;
  }
  const unsigned char* p = der.data();
  ossl::OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp || p != der.data() + der.size()) {
    clear_openssl_errors();
    return nullptr;
  }
  return resp;
}

/** Whether the certificate carries extendedKeyUsage with id-kp-OCSPSigning. */
bool has_ocsp_signing_eku(const X509* c) {
  const uint32_t flags = X509_get_extension_flags(const_cast<X509*>(c));
  return (flags & EXFLAG_XKUSAGE) != 0 && (X509_get_extended_key_usage(const_cast<X509*>(c)) & XKU_OCSP_SIGN) != 0;
}

/** Whether `issuer` issued `subject`: names, AKI/SKI, keyUsage (X509_check_issued) and the signature. */
bool issued_by(const X509* subject, const X509* issuer) {
  const bool ok = X509_check_issued(const_cast<X509*>(issuer), const_cast<X509*>(subject)) == X509_V_OK &&
                  X509_verify(const_cast<X509*>(subject), X509_get0_pubkey(issuer)) == 1;
  clear_openssl_errors();
  return ok;
}

std::optional<TimePoint> to_tp(const ASN1_TIME* t) { return ossl::asn1_time_to_timepoint(t); }

/** An HttpClient error for an attempt line, which names the URL already: "cannot reach the server: ...". */
std::string http_failure(const Error& e, const std::string& url) {
  std::string m = e.message;
  if (const auto pos = m.find(url); pos != std::string::npos && !url.empty()) {
    m.replace(pos, url.size(), "the server");
  }
  return m;
}

/** The outcome of checking one piece of revocation data (a CRL or an OCSP response). */
struct Evaluation {
  Status status = Status::invalid;
  std::string why;  ///< for unavailable/invalid: what was wrong
  std::optional<TimePoint> revocation_time;
  std::optional<std::string> reason;
  std::optional<TimePoint> this_update, next_update, produced_at;
  std::string responder;
  Bytes responder_der;  ///< OCSP: the DER of the certificate that signed the response
};

Evaluation bad(Status s, std::string why) {
  Evaluation e;
  e.status = s;
  e.why = std::move(why);
  return e;
}

/** A short phrase for a final evaluation, for attempts: "good", "revoked at T (keyCompromise)", "unknown". */
std::string verdict(const Evaluation& e) {
  switch (e.status) {
    case Status::good:
      return "good";
    case Status::revoked: {
      std::string s = "revoked";
      if (e.revocation_time) {
        s += " at " + fmt(*e.revocation_time);
      }
      if (e.reason) {
        s += " (" + *e.reason + ")";
      }
      return s;
    }
    case Status::unknown:
      return "unknown to the responder";
    default:
      return std::string(revocation_status_name(e.status)) + ": " + e.why;
  }
}

}  // namespace

std::string_view revocation_status_name(RevocationStatus s) {
  switch (s) {
    case Status::good:
      return "good";
    case Status::revoked:
      return "revoked";
    case Status::unknown:
      return "unknown";
    case Status::unavailable:
      return "unavailable";
    case Status::invalid:
      return "invalid";
  }
  return "invalid";
}

std::string_view revocation_source_name(RevocationSourceKind k) { return k == Source::ocsp ? "ocsp" : "crl"; }

std::string revocation_reason_name(int code) {
  // RFC 5280 section 5.3.1: CRLReason ::= ENUMERATED { ... } (7 is not used).
  switch (code) {
    case 0:
      return "unspecified";
    case 1:
      return "keyCompromise";
    case 2:
      return "cACompromise";
    case 3:
      return "affiliationChanged";
    case 4:
      return "superseded";
    case 5:
      return "cessationOfOperation";
    case 6:
      return "certificateHold";
    case 8:
      return "removeFromCRL";
    case 9:
      return "privilegeWithdrawn";
    case 10:
      return "aACompromise";
    default:
      return "reason(" + std::to_string(code) + ")";
  }
}

// ---------------------------------------------------------------------------------------------

struct RevocationChecker::Impl {
  struct LoadedCrl {
    std::string path;
    ossl::X509CrlPtr crl;
  };

  HttpClient http;
  HttpClient crl_http;
  std::vector<ossl::X509Ptr> ocsp_anchors;
  ossl::X509StorePtr ocsp_store;
  store::Database* cache = nullptr;
  RevocationOptions opts;
  std::vector<LoadedCrl> files;
  std::vector<std::string> load_errors;

  Impl(const HttpClient& h, const TrustStore& trust, store::Database* db, RevocationOptions o)
      : http(with_limit(h.options(), h.options().max_response_bytes, "ocsp")),
        crl_http(with_limit(h.options(), o.max_crl_bytes, "crl")),
        cache(db),
        opts(std::move(o)) {
    ocsp_store.reset(X509_STORE_new());
    for (const auto& a : trust.anchors()) {
      ocsp_anchors.push_back(ossl::up_ref(a.get()));
      if (ocsp_store) {
        X509_STORE_add_cert(ocsp_store.get(), a.get());
      }
    }
    clear_openssl_errors();
    for (const auto& f : opts.crl_files) {
      load_file(f);
    }
  }

  static HttpClient with_limit(HttpOptions o, std::size_t limit, const char* purpose) {
    o.max_response_bytes = limit;
    o.purpose = purpose;  // the label of HttpOptions::observer events
    return HttpClient(std::move(o));
  }

  void load_file(const std::filesystem::path& f) {
    auto text = read_file(f.string(), opts.max_crl_bytes);
    if (!text) {
      load_errors.push_back("CRL file " + f.string() + ": " + text.error().message);
      return;
    }
    if (text->find("-----BEGIN X509 CRL-----") != std::string::npos) {
      auto crls = ossl::x509_crls_from_pem(*text);
      if (crls.empty()) {
        load_errors.push_back("CRL file " + f.string() + ": no readable PEM CRL");
      }
      for (auto& c : crls) {
        files.push_back(LoadedCrl{f.string(), std::move(c)});
      }
      return;
    }
    auto crl = ossl::x509_crl_from_der(as_bytes(*text));
    if (!crl) {
      load_errors.push_back("CRL file " + f.string() + ": not a DER or PEM CRL (malformed or truncated)");
      return;
    }
    files.push_back(LoadedCrl{f.string(), std::move(crl)});
  }

  // ---- CRL -------------------------------------------------------------------

  /** Checks one CRL for `cert` at `at` (RFC 5280 section 6.3.3, complete CRLs only). */
  Evaluation evaluate_crl(X509_CRL* crl, const X509* cert, const X509* issuer, TimePoint at,
                          const std::vector<std::string>& cert_dp_uris) const {
    const X509_NAME* crl_issuer = X509_CRL_get_issuer(crl);
    // (b)(1) "Verify that the issuer of the complete CRL matches the certificate issuer."
    if (X509_NAME_cmp(crl_issuer, X509_get_issuer_name(cert)) != 0) {
      return bad(Status::invalid, "the CRL is issued by '" + ossl::name_to_string(crl_issuer) + "', not by the certificate's issuer '" +
                                      ossl::name_to_string(X509_get_issuer_name(cert)) + "'");
    }
    // (f) "... verify that the cRLSign bit is set" when keyUsage is present.
    if ((X509_get_extension_flags(const_cast<X509*>(issuer)) & EXFLAG_KUSAGE) != 0 &&
        (X509_get_key_usage(const_cast<X509*>(issuer)) & KU_CRL_SIGN) == 0) {
      return bad(Status::invalid, "the issuer's keyUsage does not allow cRLSign");
    }
    // (g) "Validate the signature on the complete CRL using the public key validated in step (f)."
    if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
      clear_openssl_errors();
      return bad(Status::invalid, "the CRL signature does not verify with the key of '" + subject_of(issuer) + "'");
    }
    // RFC 5280 section 5.2: "If a CRL contains a critical extension that the application cannot process,
    // then the application MUST NOT use that CRL to determine the status of certificates."
    for (int i = 0; i < X509_CRL_get_ext_count(crl); ++i) {
      X509_EXTENSION* ext = X509_CRL_get_ext(crl, i);
      const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
      if (nid == NID_delta_crl) {
        return bad(Status::invalid, "delta CRLs are not supported");
      }
      if (X509_EXTENSION_get_critical(ext) != 0 && nid != NID_issuing_distribution_point && nid != NID_crl_number &&
          nid != NID_authority_key_identifier) {
        char oid[80] = {};
        OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1);
        return bad(Status::invalid, std::string("the CRL has an unsupported critical extension ") + oid);
      }
    }
    // (b)(2) issuingDistributionPoint scope.
    int crit = -1;
    ossl::IssuingDistPointPtr idp(static_cast<ISSUING_DIST_POINT*>(X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, nullptr)));
    if (!idp && crit != -1) {
      clear_openssl_errors();
      return bad(Status::invalid, "the CRL's issuingDistributionPoint extension is malformed or repeated");
    }
    if (idp) {
      const bool is_ca = X509_check_ca(const_cast<X509*>(cert)) > 0;
      if (idp->indirectCRL != 0) {
        return bad(Status::invalid, "indirect CRLs are not supported");
      }
      if (idp->onlysomereasons != nullptr) {
        return bad(Status::invalid, "CRLs partitioned by reason (onlySomeReasons) are not supported");
      }
      if (idp->onlyattr != 0) {
        return bad(Status::invalid, "the CRL covers attribute certificates only");
      }
      if (idp->onlyuser != 0 && is_ca) {
        return bad(Status::invalid, "the CRL covers end-entity certificates only (onlyContainsUserCerts) and this is a CA certificate");
      }
      if (idp->onlyCA != 0 && !is_ca) {
        return bad(Status::invalid, "the CRL covers CA certificates only (onlyContainsCACerts) and this is an end-entity certificate");
      }
      if (idp->distpoint != nullptr && idp->distpoint->type == 0 && !cert_dp_uris.empty()) {
        const auto idp_uris = uris_of(idp->distpoint->name.fullname);
        const bool match = std::any_of(idp_uris.begin(), idp_uris.end(), [&](const std::string& u) {
          return std::find(cert_dp_uris.begin(), cert_dp_uris.end(), u) != cert_dp_uris.end();
        });
        if (!idp_uris.empty() && !match) {
          return bad(Status::invalid, "the CRL's issuingDistributionPoint does not name any of the certificate's distribution points");
        }
      }
    }
    Evaluation e;
    e.responder = ossl::name_to_string(crl_issuer);
    e.this_update = to_tp(X509_CRL_get0_lastUpdate(crl));
    e.next_update = to_tp(X509_CRL_get0_nextUpdate(crl));
    if (!e.this_update) {
      return bad(Status::invalid, "the CRL's thisUpdate cannot be read");
    }
    if (X509_CRL_get0_nextUpdate(crl) != nullptr && !e.next_update) {
      return bad(Status::invalid, "the CRL's nextUpdate cannot be read");
    }
    if (*e.this_update > at + opts.clock_skew) {
      return bad(Status::invalid, "the CRL is not yet valid: thisUpdate " + fmt(*e.this_update) + " is after " + fmt(at));
    }
    if (e.next_update && *e.next_update < *e.this_update) {
      return bad(Status::invalid, "the CRL's nextUpdate is before its thisUpdate");
    }
    if (e.next_update ? at > *e.next_update : at > *e.this_update + opts.max_age_without_next_update) {
      Evaluation stale = bad(Status::unavailable, e.next_update ? "the CRL is stale: nextUpdate " + fmt(*e.next_update) + " is before " + fmt(at)
                                                                 : "the CRL has no nextUpdate and thisUpdate " + fmt(*e.this_update) +
                                                                       " is too old for " + fmt(at));
      stale.this_update = e.this_update;
      stale.next_update = e.next_update;
      return stale;
    }
    // RFC 5280 section 5.3: the entry extensions processed here (reasonCode, invalidityDate) are
    // non-critical; certificateIssuer (critical) belongs to indirect CRLs, which are not supported. Any
    // critical entry extension makes the whole CRL unusable (section 5.2, quoted above).
    const STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
      const X509_REVOKED* rev = sk_X509_REVOKED_value(entries, i);
      for (int j = 0; j < X509_REVOKED_get_ext_count(rev); ++j) {
        X509_EXTENSION* ext = X509_REVOKED_get_ext(rev, j);
        if (X509_EXTENSION_get_critical(ext) != 0) {
          char oid[80] = {};
          OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1);
          return bad(Status::invalid, std::string("a CRL entry has an unsupported critical extension ") + oid);
        }
      }
    }
    X509_REVOKED* entry = nullptr;
    const int found = X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(cert));
    if (found == 0 || entry == nullptr) {
      e.status = Status::good;
      return e;
    }
    int reason_crit = -1;
    ossl::Asn1EnumeratedPtr reason(static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &reason_crit, nullptr)));
    clear_openssl_errors();
    if (reason) {
      const long code = ASN1_ENUMERATED_get(reason.get());
      if (code == 8) {  // removeFromCRL: only meaningful in delta CRLs; the certificate is not revoked
        e.status = Status::good;
        return e;
      }
      e.reason = revocation_reason_name(static_cast<int>(code));
    }
    e.revocation_time = to_tp(X509_REVOKED_get0_revocationDate(entry));
    if (!e.revocation_time) {
      return bad(Status::invalid, "the CRL entry's revocationDate cannot be read");
    }
    e.status = Status::revoked;
    return e;
  }

  RevocationResult check_crl(const X509* cert, const X509* issuer, TimePoint at) const {
    RevocationResult out;
    out.source = Source::crl;
    bool saw_invalid = false;
    auto note = [&](const std::string& where, const Evaluation& e) {
      out.attempts.push_back("CRL " + where + ": " + verdict(e));
      if (e.status == Status::invalid) {
        saw_invalid = true;
      }
      out.url = where;
      out.this_update = e.this_update;
      out.next_update = e.next_update;
    };
    auto finish = [&](const std::string& where, const Evaluation& e, bool from_cache, X509_CRL* crl) {
      out.attempts.push_back("CRL " + where + (from_cache ? " (cached)" : "") + ": " + verdict(e));
      out.der = ossl::to_der<i2d_X509_CRL>(crl);
      out.status = e.status;
      out.url = where;
      out.revocation_time = e.revocation_time;
      out.revocation_reason = e.reason;
      out.this_update = e.this_update;
      out.next_update = e.next_update;
      out.responder = e.responder;
      out.from_cache = from_cache;
      return out;
    };
    for (const auto& err : load_errors) {
      out.attempts.push_back(err + " (ignored)");
    }
    const DistributionPoints dps = distribution_points(cert);

    // 1. Configured files whose issuer matches.
    for (const auto& f : files) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(f.crl.get()), X509_get_issuer_name(cert)) != 0) {
        continue;
      }
      Evaluation e = evaluate_crl(f.crl.get(), cert, issuer, at, dps.all_uris);
      if (is_final(e.status)) {
        return finish("file " + f.path, e, false, f.crl.get());
      }
      note("file " + f.path, e);
    }

    // 2. The certificate's distribution points.
    for (const auto& n : dps.notes) {
      out.attempts.push_back("CRL: " + n);
    }
    if (dps.http_urls.empty()) {
      out.attempts.push_back("CRL: the certificate names no http CRL distribution point");
    }
    for (const auto& url : dps.http_urls) {
      const std::string key = "crl|" + url;
      if (cache != nullptr) {
        auto cached = cache->get_revocation(key);
        if (!cached) {
          out.attempts.push_back("CRL " + url + ": cache not readable: " + cached.error().message);
        } else if (*cached && (*cached)->kind == "crl" && usable_entry(**cached, at)) {
          auto crl = parse_crl(to_string((*cached)->der));
          Evaluation e = crl ? evaluate_crl(crl.get(), cert, issuer, at, dps.all_uris)
                             : bad(Status::invalid, "the cached CRL cannot be parsed");
          if (is_final(e.status)) {
            return finish(url, e, true, crl.get());
          }
          saw_invalid = saw_invalid || e.status == Status::invalid;
          out.attempts.push_back("CRL " + url + " (cached): " + verdict(e) + "; fetching again");
        }
      }
      if (!opts.fetch) {
        out.attempts.push_back("CRL " + url + ": not fetched (fetching is disabled)");
        out.url = url;
        continue;
      }
      auto resp = crl_http.get(url);
      if (!resp) {
        note(url, bad(Status::unavailable, http_failure(resp.error(), url)));
        continue;
      }
      if (resp->status != 200) {
        note(url, bad(Status::unavailable, "HTTP status " + std::to_string(resp->status)));
        continue;
      }
      auto crl = parse_crl(resp->body);
      if (!crl) {
        note(url, bad(Status::invalid, "the response (" + std::to_string(resp->body.size()) +
                                           " bytes) is not a DER or PEM CRL (malformed or truncated)"));
        continue;
      }
      Evaluation e = evaluate_crl(crl.get(), cert, issuer, at, dps.all_uris);
      if (!is_final(e.status)) {
        note(url, e);
        continue;
      }
      remember(key, "crl", url, resp->body, e, at, out);
      return finish(url, e, false, crl.get());
    }
    out.status = saw_invalid ? Status::invalid : Status::unavailable;
    return out;
  }

  /** Stores fetched data that passed its checks in the cache (a failure to store is noted, not fatal). */
  void remember(const std::string& key, const char* kind, const std::string& url, const std::string& body,
                const Evaluation& e, TimePoint at, RevocationResult& out) const {
    if (cache == nullptr) {
      return;
    }
    store::CachedRevocation entry;
    entry.key = key;
    entry.kind = kind;
    entry.url = url;
    entry.der = to_bytes(body);
    entry.this_update = *e.this_update;
    entry.next_update = e.next_update;
    entry.fetched_at = at;
    if (auto put = cache->put_revocation(entry); !put) {
      out.attempts.push_back(std::string(kind == std::string_view("crl") ? "CRL " : "OCSP ") + url +
                             ": not cached: " + put.error().message);
    }
  }

  /** Whether a cache entry may still be used at `at` (its data is checked again afterwards). */
  bool usable_entry(const store::CachedRevocation& entry, TimePoint at) const {
    if (entry.next_update) {
      return at <= *entry.next_update;
    }
    return at <= entry.this_update + opts.max_age_without_next_update;
  }

  // ---- OCSP ------------------------------------------------------------------

  /** Whether `signer` is a locally trusted OCSP responder: an anchor, or an OCSPSigning certificate chaining to one at `at`. */
  bool trusted_responder(const X509* signer, OCSP_BASICRESP* bs, TimePoint at) const {
    for (const auto& a : ocsp_anchors) {
      if (X509_cmp(a.get(), signer) == 0) {
        return true;
      }
    }
    if (!ocsp_store || ocsp_anchors.empty() || !has_ocsp_signing_eku(signer)) {
      return false;
    }
    ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), ocsp_store.get(), const_cast<X509*>(signer),
                                    const_cast<STACK_OF(X509)*>(OCSP_resp_get0_certs(bs))) != 1) {
      clear_openssl_errors();
      return false;
    }
    X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(to_unix(at)));
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_OCSP_HELPER);
    // Every anchor of the OCSP trust store is trusted as given, self-signed or not (as TrustStore::add_anchor says).
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
    const bool ok = X509_verify_cert(ctx.get()) == 1;
    clear_openssl_errors();
    return ok;
  }

  /**
   * Checks an OCSP response for `cid` at `at` (RFC 6960 section 3.2). `req`
   * is the request it answers (nonce check), or nullptr for a cached response.
   */
  Evaluation evaluate_ocsp(OCSP_RESPONSE* resp, OCSP_CERTID* cid, const X509* cert, const X509* issuer, TimePoint at,
                           OCSP_REQUEST* req) const {
    const int rs = OCSP_response_status(resp);
    if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
      return bad(Status::unavailable, std::string("the responder answered ") + OCSP_response_status_str(rs) + " (" + std::to_string(rs) + ")");
    }
    ossl::OcspBasicRespPtr bs(OCSP_response_get1_basic(resp));
    if (!bs) {
      clear_openssl_errors();
      return bad(Status::invalid, "the response holds no BasicOCSPResponse");
    }
    if (req != nullptr && opts.ocsp_nonce) {
      // RFC 6960 section 4.4.1: the nonce "cryptographically binds a request and a response to prevent replay attacks".
      // OCSP_check_nonce: 1 equal, -1 in the request only, 0 different (2, 3: the request had none).
      const int n = OCSP_check_nonce(req, bs.get());
      if (n == -1) {
        return bad(Status::invalid, "the response does not echo the request's nonce (RFC 6960 section 4.4.1): possible replay");
      }
      if (n != 1) {
        return bad(Status::invalid, "the response's nonce differs from the request's (RFC 6960 section 4.4.1)");
      }
    }
    // 2./3. Signer and signature.
    ossl::X509ViewStackPtr extra(sk_X509_new_null());
    if (!extra || sk_X509_push(extra.get(), const_cast<X509*>(issuer)) <= 0) {
      return bad(Status::invalid, "out of memory");
    }
    for (const auto& a : ocsp_anchors) {
      sk_X509_push(extra.get(), a.get());
    }
    X509* signer = nullptr;
    if (OCSP_resp_get0_signer(bs.get(), &signer, extra.get()) != 1 || signer == nullptr) {
      clear_openssl_errors();
      return bad(Status::invalid, "the certificate of the signer named by the response's responderID is neither in the response nor "
                                  "the issuer nor a trusted responder");
    }
    Evaluation e;
    e.responder = subject_of(signer);
    e.responder_der = ossl::x509_to_der(signer);
    if (ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), OCSP_resp_get0_tbs_sigalg(bs.get()), OCSP_resp_get0_signature(bs.get()),
                         OCSP_resp_get0_respdata(bs.get()), X509_get0_pubkey(signer)) != 1) {
      clear_openssl_errors();
      return bad(Status::invalid, "the response signature does not verify with the key of '" + e.responder + "'");
    }
    e.produced_at = to_tp(OCSP_resp_get0_produced_at(bs.get()));
    if (!e.produced_at) {
      return bad(Status::invalid, "the response's producedAt cannot be read");
    }
    if (*e.produced_at > at + opts.clock_skew) {
      return bad(Status::invalid, "the response was produced at " + fmt(*e.produced_at) + ", after " + fmt(at));
    }
    // 4. Authorization (RFC 6960 section 4.2.2.2).
    if (X509_cmp(signer, issuer) == 0) {
      // "the CA that issued the certificate in question"
    } else if (issued_by(signer, issuer)) {
      // "a CA Designated Responder (Authorized Responder ...) who holds a specially marked certificate issued
      // directly by the CA, indicating that the responder may issue OCSP responses for that CA"
      if (!has_ocsp_signing_eku(signer)) {
        return bad(Status::invalid, "the responder certificate '" + e.responder +
                                        "' is issued by the CA but lacks id-kp-OCSPSigning (RFC 6960 section 4.2.2.2)");
      }
      const auto nb = to_tp(X509_get0_notBefore(signer));
      const auto na = to_tp(X509_get0_notAfter(signer));
      if (!nb || !na || *e.produced_at < *nb || *e.produced_at > *na) {
        return bad(Status::invalid, "the responder certificate '" + e.responder + "' was not valid at producedAt " + fmt(*e.produced_at));
      }
    } else if (!trusted_responder(signer, bs.get(), at)) {
      // "Matches a local configuration of OCSP signing authority for the certificate in question" - it does not.
      return bad(Status::invalid, "the response is signed by '" + e.responder + "', which is not authorized to answer for '" +
                                      subject_of(issuer) +
                                      "': neither the CA itself, nor a responder it issued with id-kp-OCSPSigning, nor a locally trusted "
                                      "responder (RFC 6960 section 4.2.2.2)");
    }
    // 1. The response must be about this certificate.
    const int idx = OCSP_resp_find(bs.get(), cid, -1);
    if (idx < 0) {
      return bad(Status::invalid, "the response does not cover certificate serial " + ossl::serial_hex(cert) + " of '" + subject_of(issuer) + "'");
    }
    OCSP_SINGLERESP* single = OCSP_resp_get0(bs.get(), idx);
    int reason = OCSP_REVOKED_STATUS_NOSTATUS;
    ASN1_GENERALIZEDTIME* revtime = nullptr;
    ASN1_GENERALIZEDTIME* thisupd = nullptr;
    ASN1_GENERALIZEDTIME* nextupd = nullptr;
    const int status = OCSP_single_get0_status(single, &reason, &revtime, &thisupd, &nextupd);
    e.this_update = to_tp(thisupd);
    e.next_update = to_tp(nextupd);
    if (!e.this_update || (nextupd != nullptr && !e.next_update)) {
      return bad(Status::invalid, "the response's thisUpdate or nextUpdate cannot be read");
    }
    // 5./6. Times, as OCSP_check_validity(thisUpdate, nextUpdate, skew, maxage) but against `at`.
    if (*e.this_update > at + opts.clock_skew) {
      return bad(Status::invalid, "the response is not yet valid: thisUpdate " + fmt(*e.this_update) + " is after " + fmt(at));
    }
    if (e.next_update && *e.next_update < *e.this_update) {
      return bad(Status::invalid, "the response's nextUpdate is before its thisUpdate");
    }
    if (e.next_update ? *e.next_update < at - opts.clock_skew
                      : *e.this_update + opts.max_age_without_next_update < at - opts.clock_skew) {
      Evaluation stale = bad(Status::unavailable, e.next_update ? "the response is stale: nextUpdate " + fmt(*e.next_update) + " is before " + fmt(at)
                                                                 : "the response has no nextUpdate and thisUpdate " + fmt(*e.this_update) +
                                                                       " is too old for " + fmt(at));
      stale.this_update = e.this_update;
      stale.next_update = e.next_update;
      stale.produced_at = e.produced_at;
      return stale;
    }
    switch (status) {
      case V_OCSP_CERTSTATUS_GOOD:
        e.status = Status::good;
        return e;
      case V_OCSP_CERTSTATUS_REVOKED:
        e.status = Status::revoked;
        e.revocation_time = to_tp(revtime);
        if (!e.revocation_time) {
          return bad(Status::invalid, "the response's revocationTime cannot be read");
        }
        if (reason != OCSP_REVOKED_STATUS_NOSTATUS) {
          e.reason = revocation_reason_name(reason);
        }
        return e;
      case V_OCSP_CERTSTATUS_UNKNOWN:
        e.status = Status::unknown;
        return e;
      default:
        return bad(Status::invalid, "the response has an undefined certStatus");
    }
  }

  RevocationResult check_ocsp(const X509* cert, const X509* issuer, TimePoint at) const {
    RevocationResult out;
    out.source = Source::ocsp;
    bool saw_invalid = false;
    auto note = [&](const std::string& url, const Evaluation& e) {
      out.attempts.push_back("OCSP " + url + ": " + verdict(e));
      if (e.status == Status::invalid) {
        saw_invalid = true;
      }
      out.url = url;
    };
    auto finish = [&](const std::string& url, const Evaluation& e, bool from_cache, ByteView der) {
      out.attempts.push_back("OCSP " + url + (from_cache ? " (cached)" : "") + ": " + verdict(e));
      out.der.assign(der.begin(), der.end());
      out.responder_certificate = e.responder_der;
      out.status = e.status;
      out.url = url;
      out.revocation_time = e.revocation_time;
      out.revocation_reason = e.reason;
      out.this_update = e.this_update;
      out.next_update = e.next_update;
      out.produced_at = e.produced_at;
      out.responder = e.responder;
      out.from_cache = from_cache;
      return out;
    };
    // RFC 6960 section 4.3 / RFC 5019 section 2.1.1: SHA-1 CertIDs for interoperability.
    ossl::OcspCertIdPtr cid(OCSP_cert_to_id(EVP_sha1(), cert, issuer));
    ASN1_OCTET_STRING* key_hash = nullptr;
    if (!cid || OCSP_id_get0_info(nullptr, nullptr, &key_hash, nullptr, cid.get()) != 1 || key_hash == nullptr) {
      clear_openssl_errors();
      out.status = Status::invalid;
      out.attempts.push_back("OCSP: cannot build the CertID");
      return out;
    }
    const std::string key = "ocsp|" + hex(ByteView(ASN1_STRING_get0_data(key_hash), static_cast<std::size_t>(ASN1_STRING_length(key_hash)))) +
                            "|" + ossl::serial_hex(cert);
    std::vector<std::string> notes;
    const auto urls = ocsp_urls(cert, notes);

    if (cache != nullptr) {
      auto cached = cache->get_revocation(key);
      if (!cached) {
        out.attempts.push_back("OCSP: cache not readable: " + cached.error().message);
      } else if (*cached && (*cached)->kind == "ocsp" && usable_entry(**cached, at)) {
        auto resp = parse_ocsp_response((*cached)->der);
        Evaluation e = resp ? evaluate_ocsp(resp.get(), cid.get(), cert, issuer, at, nullptr)
                            : bad(Status::invalid, "the cached response cannot be parsed");
        if (is_final(e.status)) {
          return finish((*cached)->url, e, true, (*cached)->der);
        }
        saw_invalid = saw_invalid || e.status == Status::invalid;
        out.attempts.push_back("OCSP " + (*cached)->url + " (cached): " + verdict(e) + "; asking again");
      }
    }
    for (const auto& n : notes) {
      out.attempts.push_back("OCSP: " + n);
    }
    if (urls.empty()) {
      out.attempts.push_back("OCSP: the certificate names no http OCSP responder (authorityInfoAccess)");
    }
    for (const auto& url : urls) {
      if (!opts.fetch) {
        out.attempts.push_back("OCSP " + url + ": not asked (fetching is disabled)");
        out.url = url;
        continue;
      }
      ossl::OcspRequestPtr req(OCSP_REQUEST_new());
      ossl::OcspCertIdPtr id(OCSP_CERTID_dup(cid.get()));
      if (!req || !id || OCSP_request_add0_id(req.get(), id.get()) == nullptr) {
        clear_openssl_errors();
        note(url, bad(Status::invalid, "cannot build the OCSP request"));
        continue;
      }
      id.release();  // owned by the request now
      if (opts.ocsp_nonce && OCSP_request_add1_nonce(req.get(), nullptr, -1) != 1) {
        clear_openssl_errors();
        note(url, bad(Status::invalid, "cannot add a nonce to the OCSP request"));
        continue;
      }
      const Bytes der = ossl::to_der<i2d_OCSP_REQUEST>(req.get());
      auto resp = http.post(url, kOcspRequestType, to_string(der));
      if (!resp) {
        note(url, bad(Status::unavailable, http_failure(resp.error(), url)));
        continue;
      }
      if (resp->status != 200) {
        note(url, bad(Status::unavailable, "HTTP status " + std::to_string(resp->status)));
        continue;
      }
      auto parsed = parse_ocsp_response(as_bytes(resp->body));
      if (!parsed) {
        note(url, bad(Status::invalid, "the answer (" + std::to_string(resp->body.size()) + " bytes) is not a DER OCSPResponse"));
        continue;
      }
      Evaluation e = evaluate_ocsp(parsed.get(), cid.get(), cert, issuer, at, req.get());
      if (!is_final(e.status)) {
        note(url, e);
        continue;
      }
      remember(key, "ocsp", url, resp->body, e, at, out);
      return finish(url, e, false, as_bytes(resp->body));
    }
    out.status = saw_invalid ? Status::invalid : Status::unavailable;
    return out;
  }

  // ---- Supplied data (embedded in a signature) ----------------------------------

  /** producedAt and the thisUpdate of the SingleResponse for `cid`, when the response holds one. */
  static std::optional<TimePoint> ocsp_issue_time(OCSP_RESPONSE* resp, OCSP_CERTID* cid) {
    ossl::OcspBasicRespPtr bs(OCSP_response_get1_basic(resp));
    if (!bs) {
      clear_openssl_errors();
      return std::nullopt;
    }
    const int idx = OCSP_resp_find(bs.get(), cid, -1);
    if (idx < 0) {
      return std::nullopt;
    }
    ASN1_GENERALIZEDTIME* thisupd = nullptr;
    OCSP_single_get0_status(OCSP_resp_get0(bs.get(), idx), nullptr, nullptr, &thisupd, nullptr);
    const auto tu = to_tp(thisupd);
    const auto pa = to_tp(OCSP_resp_get0_produced_at(bs.get()));
    if (!tu || !pa) {
      return std::nullopt;
    }
    return std::max(*tu, *pa);
  }

  /** Whether the (successful) response carries a SingleResponse for `cid`. */
  static bool ocsp_covers(OCSP_RESPONSE* resp, OCSP_CERTID* cid) {
    if (cid == nullptr || OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
      return false;
    }
    ossl::OcspBasicRespPtr bs(OCSP_response_get1_basic(resp));
    const bool found = bs && OCSP_resp_find(bs.get(), cid, -1) >= 0;
    clear_openssl_errors();
    return found;
  }

  RevocationResult check_supplied(const X509* cert, const X509* issuer, TimePoint at, const SuppliedRevocationData& data,
                                  SuppliedTime mode) const {
    RevocationResult out;
    bool saw_invalid = false;
    // Whether a final evaluation may speak about `at` (issued_after: it must not predate `at`).
    auto too_early = [&](const Evaluation& e) {
      return mode == SuppliedTime::issued_after && e.this_update && *e.this_update + opts.clock_skew < at;
    };
    auto take = [&](Source src, const std::string& where, const Evaluation& e, ByteView der) {
      out.attempts.push_back(where + ": " + verdict(e));
      out.status = e.status;
      out.source = src;
      out.url = where;
      out.revocation_time = e.revocation_time;
      out.revocation_reason = e.reason;
      out.this_update = e.this_update;
      out.next_update = e.next_update;
      out.produced_at = e.produced_at;
      out.responder = e.responder;
      out.responder_certificate = e.responder_der;
      out.der.assign(der.begin(), der.end());
      return out;
    };
    ossl::OcspCertIdPtr cid1(OCSP_cert_to_id(EVP_sha1(), cert, issuer));
    ossl::OcspCertIdPtr cid256(OCSP_cert_to_id(EVP_sha256(), cert, issuer));
    clear_openssl_errors();
    for (std::size_t i = 0; i < data.ocsp_responses.size(); ++i) {
      const std::string where = "supplied OCSP response " + std::to_string(i);
      auto resp = parse_ocsp_response(data.ocsp_responses[i]);
      if (!resp) {
        out.attempts.push_back(where + ": not a DER OCSPResponse (ignored)");
        continue;
      }
      OCSP_CERTID* cid = ocsp_covers(resp.get(), cid1.get()) ? cid1.get()
                         : ocsp_covers(resp.get(), cid256.get()) ? cid256.get()
                                                                  : nullptr;
      if (cid == nullptr) {
        continue;  // about other certificates
      }
      TimePoint when = at;
      if (mode == SuppliedTime::issued_after) {
        when = ocsp_issue_time(resp.get(), cid).value_or(at);
      }
      Evaluation e = evaluate_ocsp(resp.get(), cid, cert, issuer, when, nullptr);
      if (!is_final(e.status)) {
        out.attempts.push_back(where + ": " + verdict(e));
        saw_invalid = saw_invalid || e.status == Status::invalid;
        out.source = Source::ocsp;
        out.url = where;
        continue;
      }
      if (too_early(e)) {
        out.attempts.push_back(where + ": issued at " + fmt(*e.this_update) + ", before " + fmt(at) +
                               ": it cannot show the status at that time (ignored)");
        continue;
      }
      return take(Source::ocsp, where, e, data.ocsp_responses[i]);
    }
    const DistributionPoints dps = distribution_points(cert);
    for (std::size_t i = 0; i < data.crls.size(); ++i) {
      const std::string where = "supplied CRL " + std::to_string(i);
      auto crl = parse_crl(to_string(data.crls[i]));
      if (!crl) {
        out.attempts.push_back(where + ": not a DER CRL (ignored)");
        continue;
      }
      if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_issuer_name(cert)) != 0) {
        continue;  // another CA's CRL
      }
      TimePoint when = at;
      if (mode == SuppliedTime::issued_after) {
        when = to_tp(X509_CRL_get0_lastUpdate(crl.get())).value_or(at);
      }
      Evaluation e = evaluate_crl(crl.get(), cert, issuer, when, dps.all_uris);
      if (!is_final(e.status)) {
        out.attempts.push_back(where + ": " + verdict(e));
        saw_invalid = saw_invalid || e.status == Status::invalid;
        out.source = Source::crl;
        out.url = where;
        continue;
      }
      if (too_early(e)) {
        out.attempts.push_back(where + ": issued at " + fmt(*e.this_update) + ", before " + fmt(at) +
                               ": it cannot show the status at that time (ignored)");
        continue;
      }
      return take(Source::crl, where, e, data.crls[i]);
    }
    out.status = saw_invalid ? Status::invalid : Status::unavailable;
    return out;
  }
};

// ---------------------------------------------------------------------------------------------

RevocationChecker::RevocationChecker(const HttpClient& http, const TrustStore& ocsp_trust, store::Database* cache, RevocationOptions opts)
    : m_impl(std::make_unique<Impl>(http, ocsp_trust, cache, std::move(opts))) {}
RevocationChecker::~RevocationChecker() = default;
RevocationChecker::RevocationChecker(RevocationChecker&&) noexcept = default;
RevocationChecker& RevocationChecker::operator=(RevocationChecker&&) noexcept = default;

const std::vector<std::string>& RevocationChecker::load_errors() const { return m_impl->load_errors; }

RevocationResult RevocationChecker::check_supplied(const X509* cert, const X509* issuer, TimePoint at,
                                                   const SuppliedRevocationData& data, SuppliedTime mode) const {
  RevocationResult result;
  if (cert == nullptr || issuer == nullptr) {
    result.status = Status::invalid;
    result.message = "revocation check: no certificate or no issuer given";
    return result;
  }
  const std::string label = cert_label(cert);
  if (X509_NAME_cmp(X509_get_subject_name(issuer), X509_get_issuer_name(cert)) != 0 ||
      X509_verify(const_cast<X509*>(cert), X509_get0_pubkey(issuer)) != 1) {
    clear_openssl_errors();
    result.status = Status::invalid;
    result.message = "revocation check of certificate " + label + ": '" + subject_of(issuer) + "' is not its issuer";
    return result;
  }
  RevocationResult r = m_impl->check_supplied(cert, issuer, at, data, mode);
  switch (r.status) {
    case Status::good:
      r.message = "certificate " + label + " is not revoked according to the " + r.url;
      break;
    case Status::revoked:
      r.message = "certificate " + label + " was revoked" + (r.revocation_time ? " at " + fmt(*r.revocation_time) : std::string()) +
                  (r.revocation_reason ? " (" + *r.revocation_reason + ")" : std::string()) + " according to the " + r.url;
      break;
    case Status::unknown:
      r.message = "the " + r.url + " does not know certificate " + label + " (status unknown)";
      break;
    default: {
      r.message = std::string(r.status == Status::invalid ? "supplied revocation data for certificate " + label + " failed its checks: "
                                                          : "no usable supplied revocation data for certificate " + label + ": ");
      for (std::size_t i = 0; i < r.attempts.size(); ++i) {
        r.message += (i == 0 ? "" : "; ") + r.attempts[i];
      }
      if (r.attempts.empty()) {
        r.message += "none is about this certificate";
      }
      return r;
    }
  }
  if (r.this_update) {
    r.message += "; thisUpdate " + fmt(*r.this_update);
  }
  if (r.next_update) {
    r.message += ", nextUpdate " + fmt(*r.next_update);
  }
  return r;
}
const RevocationOptions& RevocationChecker::options() const { return m_impl->opts; }

RevocationResult RevocationChecker::check(const X509* cert, const X509* issuer, TimePoint at) const {
  RevocationResult result;
  if (cert == nullptr || issuer == nullptr) {
    result.status = Status::invalid;
    result.message = "revocation check: no certificate or no issuer given";
    return result;
  }
  const std::string label = cert_label(cert);
  if (X509_NAME_cmp(X509_get_subject_name(issuer), X509_get_issuer_name(cert)) != 0 ||
      X509_verify(const_cast<X509*>(cert), X509_get0_pubkey(issuer)) != 1) {
    clear_openssl_errors();
    result.status = Status::invalid;
    result.message = "revocation check of certificate " + label + ": '" + subject_of(issuer) + "' is not its issuer";
    return result;
  }

  std::vector<Source> order;
  switch (m_impl->opts.order) {
    case RevocationOrder::ocsp_then_crl:
      order = {Source::ocsp, Source::crl};
      break;
    case RevocationOrder::crl_then_ocsp:
      order = {Source::crl, Source::ocsp};
      break;
    case RevocationOrder::ocsp_only:
      order = {Source::ocsp};
      break;
    case RevocationOrder::crl_only:
      order = {Source::crl};
      break;
  }

  std::vector<std::string> attempts;
  std::optional<RevocationResult> last_invalid;
  std::optional<RevocationResult> last;
  for (const Source s : order) {
    RevocationResult r = s == Source::ocsp ? m_impl->check_ocsp(cert, issuer, at) : m_impl->check_crl(cert, issuer, at);
    const std::vector<std::string> failed_before = attempts;
    attempts.insert(attempts.end(), r.attempts.begin(), r.attempts.end());
    if (is_final(r.status)) {
      const std::string via = (s == Source::ocsp ? "OCSP " : "the CRL ") + r.url + (r.from_cache ? " (cached)" : "");
      switch (r.status) {
        case Status::good:
          r.message = "certificate " + label + " is not revoked according to " + via;
          break;
        case Status::revoked:
          r.message = "certificate " + label + " was revoked" + (r.revocation_time ? " at " + fmt(*r.revocation_time) : std::string()) +
                      (r.revocation_reason ? " (" + *r.revocation_reason + ")" : std::string()) + " according to " + via;
          break;
        default:
          r.message = "the OCSP responder " + r.url + (r.from_cache ? " (cached)" : "") + " does not know certificate " + label +
                      " (status unknown)";
          break;
      }
      if (r.this_update) {
        r.message += "; thisUpdate " + fmt(*r.this_update);
      }
      if (r.next_update) {
        r.message += ", nextUpdate " + fmt(*r.next_update);
      }
      if (!failed_before.empty() && s != order.front()) {
        r.message += "; tried before: ";
        for (std::size_t i = 0; i < failed_before.size(); ++i) {
          r.message += (i == 0 ? "" : "; ") + failed_before[i];
        }
      }
      r.attempts = std::move(attempts);
      return r;
    }
    if (r.status == Status::invalid) {
      last_invalid = r;
    }
    last = std::move(r);
  }
  result = last_invalid ? std::move(*last_invalid) : std::move(*last);
  result.attempts = std::move(attempts);
  result.message = std::string(result.status == Status::invalid ? "revocation data for certificate " + label + " failed its checks: "
                                                                 : "no usable revocation data for certificate " + label + ": ");
  for (std::size_t i = 0; i < result.attempts.size(); ++i) {
    result.message += (i == 0 ? "" : "; ") + result.attempts[i];
  }
  if (result.attempts.empty()) {
    result.message += "no source was tried";
  }
  return result;
}

}  // namespace hanko::certstore
