#include "hanko/archive/schedule.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>

#include "hanko/common/base64.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/augment.h"
#include "hanko/signer/xades.h"
#include "hanko/tsa_client/token.h"

namespace hanko::archive {

namespace {

TimePoint add_years(TimePoint from, int years) {
  using namespace std::chrono;
  const auto day = floor<days>(from);
  const auto tod = from - day;
  year_month_day ymd{day};
  year_month_day end = ymd + std::chrono::years(years);
  if (!end.ok()) {  // 29 February in a common year
    end = end.year() / end.month() / last;
  }
  return sys_days(end) + tod;
}

}  // namespace

RetentionTable RetentionTable::defaults() {
  RetentionTable t;
  t.rules.push_back({std::string(kPrescriptionTypeCode),
                     static_cast<int>(default_retention(kPrescriptionTypeCode).count())});
  t.default_years = static_cast<int>(default_retention("").count());
  return t;
}

int RetentionTable::years_for(std::string_view code) const {
  for (const auto& r : rules) {
    if (r.code == code) {
      return r.years;
    }
  }
  return default_years;
}

TimePoint RetentionTable::end_for(std::string_view code, TimePoint from) const {
  return add_years(from, years_for(code));
}

AlgorithmTable AlgorithmTable::defaults() {
  AlgorithmTable t;
  t.entries = {
      {"SHA-256", std::nullopt}, {"SHA-384", std::nullopt}, {"SHA-512", std::nullopt},
      {"RSA-1024", utc(2014, 1, 1)}, {"RSA-2048", utc(2031, 1, 1)}, {"RSA-3072", std::nullopt},
      {"RSA-4096", std::nullopt}, {"EC-256", std::nullopt}, {"EC-384", std::nullopt},
      {"EC-521", std::nullopt},
  };
  return t;
}

std::optional<TimePoint> AlgorithmTable::sunset(std::string_view name) const {
  for (const auto& e : entries) {
    if (e.name == name) {
      return e.sunset;
    }
  }
  return std::nullopt;
}

void AlgorithmTable::set(std::string name, std::optional<TimePoint> sunset) {
  for (auto& e : entries) {
    if (e.name == name) {
      e.sunset = sunset;
      return;
    }
  }
  entries.push_back({std::move(name), sunset});
}

DigestAlg AlgorithmTable::archive_digest(TimePoint now, std::chrono::seconds margin) const {
  for (DigestAlg d : {DigestAlg::sha256, DigestAlg::sha384, DigestAlg::sha512}) {
    const auto s = sunset(digest_name(d));
    if (!s || *s > now + margin) {
      return d;
    }
  }
  return DigestAlg::sha512;
}

std::string key_class_name(std::string_view algorithm, int bits) {
  if (algorithm == "RSA") {
    if (bits < 2048) {
      return "RSA-1024";
    }
    if (bits < 3072) {
      return "RSA-2048";
    }
    if (bits < 4096) {
      return "RSA-3072";
    }
    return "RSA-4096";
  }
  if (algorithm == "EC") {
    return "EC-" + std::to_string(bits);
  }
  if (algorithm == "Ed25519" || algorithm == "Ed448") {
    return std::string(algorithm);
  }
  return "";
}

Result<ArchiveEvidence> read_archive_evidence(std::string_view document) {
  const auto first = document.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return fail(Errc::invalid_argument, "empty document");
  }
  Result<signer::LongTermView> view;
  if (document[first] == '<') {
    auto core = signer::verify_xades_core(document);
    if (!core) {
      return std::unexpected(core.error());
    }
    view = signer::read_xades_long_term(core->signature_xml, {});
  } else {
    auto bundle = json::parse(document);
    if (!bundle) {
      return std::unexpected(bundle.error());
    }
    const auto* sig = bundle->find("signature");
    const auto* data = sig != nullptr ? sig->find_string("data") : nullptr;
    if (data == nullptr) {
      return fail(Errc::no_signature, "the Bundle has no signature.data");
    }
    auto jws = base64_decode(*data);
    if (!jws) {
      return fail(Errc::invalid_argument, "signature.data is not base64");
    }
    view = signer::read_jades_long_term(to_string(*jws), {});
  }
  if (!view) {
    return std::unexpected(view.error());
  }
  ArchiveEvidence ev;
  ev.level = std::string(signer::signature_level_name(view->level));
  const signer::EmbeddedTimestamp* last = nullptr;
  for (const auto& t : view->timestamps) {
    if (t.kind == signer::EmbeddedTimestamp::Kind::archive) {
      last = &t;
    }
  }
  if (last == nullptr) {
    return ev;
  }
  auto info = tsa::parse_token(last->token);
  if (!info) {
    return fail(Errc::invalid_argument, "the last archive timestamp does not parse: " + info.error().message);
  }
  ev.archive_time = info->gen_time;
  ev.digest = std::string(digest_name(info->imprint_alg));
  if (info->tsa_cert) {
    ev.tsa_not_after = ossl::asn1_time_to_timepoint(X509_get0_notAfter(info->tsa_cert.get()));
    const EVP_PKEY* key = X509_get0_pubkey(info->tsa_cert.get());
    if (key != nullptr) {
      const int id = EVP_PKEY_get_base_id(key);
      const char* alg = id == EVP_PKEY_RSA ? "RSA" : id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_ED25519 ? "Ed25519"
                        : id == EVP_PKEY_ED448 ? "Ed448" : "";
      ev.tsa_key = key_class_name(alg, EVP_PKEY_get_bits(key));
    }
  }
  return ev;
}

std::optional<TimePoint> evidence_deadline(const ArchiveEvidence& evidence, const AlgorithmTable& algorithms) {
  if (!evidence.archive_time) {
    return std::nullopt;
  }
  std::optional<TimePoint> d = evidence.tsa_not_after;
  auto take = [&](std::optional<TimePoint> t) {
    if (t && (!d || *t < *d)) {
      d = t;
    }
  };
  take(algorithms.sunset(evidence.digest));
  take(algorithms.sunset(evidence.tsa_key));
  return d;
}

std::optional<TimePoint> next_renewal(std::optional<TimePoint> deadline, TimePoint retention_end,
                                      std::chrono::seconds margin) {
  if (!deadline) {
    return std::nullopt;
  }
  const TimePoint when = *deadline - margin;
  if (when >= retention_end) {
    return std::nullopt;
  }
  return when;
}

std::chrono::seconds retry_delay(int failures, const ScheduleOptions& options) {
  std::chrono::seconds d = options.retry_initial;
  for (int i = 1; i < failures && d < options.retry_max; ++i) {
    d *= 2;
  }
  return std::min(d, options.retry_max);
}

}  // namespace hanko::archive
