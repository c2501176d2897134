#include "hanko/server/cli.h"

#include <Poco/Exception.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "admin_cli.h"
#include "cli_args.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/base64.h"
#include "hanko/common/file.h"
#include "hanko/common/json.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "hanko/store/database.h"
#include "validation_context.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/two_step.h"
#include "hanko/signer/xades.h"
#include "hanko/signer/xml.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/tsa_http_server.h"
#include "hanko/verifier/verifier.h"

namespace hanko::server {

namespace {


const char* kUsage =
    "usage: hanko <command> [options]\n"
    "commands:\n"
    "  dev-pki --out DIR [--at TIME]                 create a development PKI (development only)\n"
    "  tsa-server --listen HOST:PORT --cert C --key K [--chain F] [--policy OID] [--at TIME]\n"
    "                                                serve RFC 3161 over HTTP (development TSA)\n"
    "  sign --in FILE --out FILE --cert C --key K [--chain F] --trust DIR [--tsa URL] [--level B-B|B-T]\n"
    "       [--type CODE] [--canonicalization jcs|fhir-json] [--replace] [--at TIME] [--no-policy]\n"
    "       [validation options]\n"
    "  sign --prepare --cert-chain FILE --trust DIR [--level B-B|B-T] [--out SESSION.json] [--type CODE]\n"
    "       [--canonicalization jcs|fhir-json] [--replace] [--at TIME] [--no-policy] [validation options]\n"
    "       (--in BUNDLE | BUNDLE)                  two-step signing: write the session, print the hash to sign\n"
    "  sign --complete SESSION.json --signature FILE [--out FILE] [--tsa URL] [--proxy URL]\n"
    "                                                check the card's signature value, write the signed Bundle\n"
    "  verify --in FILE --trust DIR [--at TIME] [--report json|text] [validation options]\n"
    "    validation options: [--tsa-trust DIR] [--ocsp-trust DIR] [--intermediates DIR] [--crl FILE,...]\n"
    "       [--revocation ocsp-then-crl|crl-then-ocsp|ocsp-only|crl-only] [--offline] [--data DIR] [--config FILE]\n"
    "       [--proxy URL]\n"
    "  canonicalize --in FILE [--method jcs|fhir-json|fhir-xml|c14n11|exc-c14n] [--with-comments]\n"
    "       [--prefixes \"p1 p2\"]            print the signed #document bytes (default: jcs for JSON,\n"
    "                                                fhir-xml for XML) or the Canonical XML of an XML file\n"
    "  serve [--listen HOST:PORT] [--data DIR] [--config FILE]\n"
    "  trust list --trust DIR [--tsa-trust DIR] [--ocsp-trust DIR] [--at TIME] [--warn-days N] [--format text|json]\n"
    "  registry add --role ROLE --from TIME --to TIME [--licence N] [--note TEXT] [--data DIR]\n"
    "       (--cert FILE [--by-identity] | --name NAME --birth-date EYYYYMMDD)\n"
    "  registry list [--data DIR] [--format text|json] | registry remove --id N [--data DIR]\n"
    "  audit verify FILE [--tsa-trust DIR]           check the hash chain and anchors of an audit log (docs/audit.md)\n"
    "  extend --level B-T|B-LT|B-LTA [--out F] [--config F] [--data D] BUNDLE\n"
    "                                                raise a signature's level without touching what was signed\n"
    "  archive renew --due [--as-of TIME] | archive export --id ID --out DIR | archive purge --id ID\n"
    "                                                renew due archive items, or export/purge one (docs/archive.md)\n"
    "  version\n"
    "exit codes: 0 ok / TOTAL-PASSED, 1 TOTAL-FAILED, 2 INDETERMINATE, 3 unusable input or usage,\n"
    "            4 a remote service failed, 5 internal error\n";

/** Blocks SIGINT/SIGTERM in this thread (and the threads it starts), then waits for one. */
class TerminationWaiter {
 public:
  TerminationWaiter() {
    sigemptyset(&m_set);
    sigaddset(&m_set, SIGINT);
    sigaddset(&m_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &m_set, nullptr);
  }
  int wait() {
    int sig = 0;
    sigwait(&m_set, &sig);
    return sig;
  }

 private:
  sigset_t m_set;
};

int cmd_dev_pki(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2, {"out", "at"}, {});
  if (!a) return usage_error(a.error().message);
  auto out = a->get("out");
  if (!out) return usage_error("dev-pki needs --out DIR");
  SystemClock clock;
  auto at = time_arg(*a, "at", clock.now());
  if (!at) return error_exit(at.error());
  auto pki = certstore::generate_dev_pki(*out, *at);
  if (!pki) return error_exit(pki.error());
  std::cout << "development PKI written to " << pki->dir.string() << " (" << pki->items.size()
            << " certificates; see manifest.json). DEVELOPMENT ONLY: the keys are unencrypted.\n";
  return kExitOk;
}

int cmd_tsa_server(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2, {"listen", "cert", "key", "chain", "policy", "at"}, {});
  if (!a) return usage_error(a.error().message);
  auto listen = a->get("listen");
  auto cert = a->get("cert");
  auto key = a->get("key");
  if (!listen || !cert || !key) return usage_error("tsa-server needs --listen HOST:PORT --cert C --key K");
  auto hp = parse_listen(*listen);
  if (!hp) return error_exit(hp.error());
  SystemClock system_clock;
  std::optional<FixedClock> fixed;
  if (auto at = a->get("at")) {
    auto t = parse_rfc3339(*at);
    if (!t) return usage_error("--at must be an RFC 3339 time");
    fixed.emplace(*t);
  }
  const Clock& clock = fixed ? static_cast<const Clock&>(*fixed) : system_clock;
  tsa::DevTsaOptions opts;
  if (auto p = a->get("policy")) opts.policy_oid = *p;
  auto tsa = tsa::DevTsa::load(*cert, *key, a->get("chain").value_or(""), clock, opts);
  if (!tsa) return error_exit(tsa.error());
  TerminationWaiter waiter;
  std::unique_ptr<tsa::TsaHttpServer> server;
  try {
    server = std::make_unique<tsa::TsaHttpServer>(**tsa, hp->first, hp->second);
    server->start();
  } catch (const Poco::Exception& e) {
    return error_exit(Error{Errc::io, "cannot listen on " + *listen + ": " + e.displayText()});
  } catch (const std::exception& e) {
    return error_exit(Error{Errc::io, "cannot listen on " + *listen + ": " + e.what()});
  }
  std::cout << "hanko tsa-server listening on http://" << hp->first << ":" << server->port() << "/" << std::endl;
  waiter.wait();
  server->stop();
  std::cout << "hanko tsa-server stopped" << std::endl;
  return kExitOk;
}

/** The trust, revocation and policy setup of `verify` and `sign`, from --config and the flags. */
struct ValidationEnv {
  std::unique_ptr<store::Database> db;
  std::unique_ptr<ValidationContext> context;
};

Result<ValidationEnv> validation_env(const Args& a) {
  std::map<std::string, std::string> overrides;
  const std::vector<std::pair<const char*, const char*>> flag_keys = {
      {"trust", "trust.dir"},           {"tsa-trust", "trust.tsaDir"},    {"ocsp-trust", "trust.ocspDir"},
      {"intermediates", "trust.intermediatesDir"}, {"crl", "revocation.crlFiles"}, {"revocation", "revocation.order"},
      {"data", "data.dir"}, {"proxy", "http.proxy"}};
  for (const auto& [flag, key] : flag_keys) {
    if (auto v = a.get(flag)) overrides[key] = *v;
  }
  if (a.has("offline")) {
    overrides["revocation.fetch"] = "false";
    overrides["trust.aiaFetch"] = "false";
  }
  auto config = load_config(a.get("config").value_or(""), overrides);
  if (!config) return std::unexpected(config.error());
  ValidationEnv env;
  // The store (revocation cache, qualification registry) only when a data directory is named.
  if (a.get("data") || !a.get("config").value_or("").empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config->data_dir, ec);
    auto db = store::Database::open_sqlite(config->data_dir / "hanko.db");
    if (!db) return std::unexpected(db.error());
    env.db = std::move(*db);
  }
  auto ctx = ValidationContext::create(*config, env.db.get());
  if (!ctx) return std::unexpected(ctx.error());
  env.context = std::move(*ctx);
  return env;
}

/** Whether text is FHIR XML (first non-space byte '<'); else FHIR JSON. */
bool looks_like_xml(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '<';
}

/**
 * Writes `content` to `path` readable by its owner only (0600): a session
 * file holds the patient's document. Replaces an existing file.
 */
Result<void> write_private_file(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(Errc::io, "cannot create " + tmp + ": " + std::strerror(errno));
  }
  bool ok = ::fchmod(fd, 0600) == 0;
  std::size_t done = 0;
  while (ok && done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    done += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return fail(Errc::io, "cannot write " + path + ": " + why);
  }
  return {};
}

/** The version tag of a CLI signing session file. */
constexpr std::string_view kCliSessionFormat = "hanko-cli-signing-session/1";

/** `hanko sign --prepare`: the first step of two-step signing (docs/cli.md). */
int cmd_sign_prepare(const Args& a) {
  for (const char* other : {"cert", "key", "chain", "tsa", "signature"}) {
    if (a.has(other)) return usage_error(std::string("sign --prepare takes no --") + other);
  }
  std::optional<std::string> in = a.get("in");
  if (!a.positional.empty()) {
    if (in) return usage_error("give the Bundle once: --in FILE or BUNDLE");
    in = a.positional.front();
  }
  auto chain_path = a.get("cert-chain");
  if (!in || !chain_path) return usage_error("sign --prepare needs --cert-chain FILE and the Bundle (--in FILE or BUNDLE)");
  const std::string out = a.get("out").value_or(*in + ".session.json");
  signer::SignOptions opts;
  auto level = signer::level_from_name(a.get("level").value_or("B-T"));
  if (!level) return usage_error("--level must be B-B or B-T");
  opts.level = *level;
  opts.replace = a.has("replace");
  opts.signature_type = a.get("type").value_or(std::string(signer::kAuthorSignature));
  opts.canonicalizer = signer::canonicalizer_by_name(a.get("canonicalization").value_or("jcs"));
  if (opts.canonicalizer == nullptr) return usage_error("--canonicalization must be jcs or fhir-json");
  SystemClock clock;
  auto at = time_arg(a, "at", clock.now());
  if (!at) return error_exit(at.error());
  opts.signing_time = *at;
  auto certs = ossl::load_certificates(*chain_path);
  if (!certs) return error_exit(certs.error());
  if (certs->empty()) return error_exit(Error{Errc::invalid_argument, "no PEM certificate in " + *chain_path});
  signer::SignerCertificates who;
  who.certificate = certs->front().get();
  for (std::size_t i = 1; i < certs->size(); ++i) who.chain.push_back((*certs)[i].get());
  auto text = read_file(*in);
  if (!text) return error_exit(text.error());
  const bool is_xml = looks_like_xml(*text);
  Result<json::Value> bundle = is_xml ? signer::xml_policy_view(*text) : signer::parse_document_bundle(*text);
  if (!bundle) return error_exit(bundle.error());
  if (a.has("no-policy")) {
    std::cerr << "hanko: WARNING: --no-policy: the signer's certificate, revocation status and qualification were "
                 "NOT checked (for testing only)\n";
  } else {
    if (!a.get("trust")) {
      return usage_error("sign --prepare needs --trust DIR to check the signer first (or --no-policy, for testing only)");
    }
    auto env = validation_env(a);
    if (!env) return error_exit(env.error());
    auto check = verifier::check_signer(who.certificate, who.chain, *bundle, env->context->options(*at));
    if (!check.ok) {
      std::cerr << "hanko: " << check.message << "\n";
      return check.sub_indication == verifier::SubIndication::try_later ? kExitRemote : 1;
    }
  }
  auto prepared = is_xml ? signer::prepare_xml_signature(*text, who, opts)
                         : signer::prepare_json_signature(std::move(*bundle), who, opts);
  if (!prepared) {
    if (prepared.error().code == Errc::policy) {
      std::cerr << "hanko: " << prepared.error().message << "\n";
      return 1;
    }
    return error_exit(prepared.error());
  }
  json::Object session{{"format", json::Value(std::string(kCliSessionFormat))},
                       {"prepared", signer::to_json(*prepared)}};
  if (auto w = write_private_file(out, json::serialize(json::Value(std::move(session))) + "\n"); !w) {
    return error_exit(w.error());
  }
  json::Object info;
  info.emplace_back("session", json::Value(out));
  info.emplace_back("signingTime", json::Value(format_rfc3339(prepared->signing_time)));
  info.emplace_back("level", json::Value(std::string(signer::level_name(prepared->level))));
  info.emplace_back("signatureAlgorithm", json::Value(signer::signature_algorithm(*prepared)));
  info.emplace_back("hashAlgorithm", json::Value("SHA-256"));
  info.emplace_back("hashToSign", json::Value(base64_encode(prepared->hash_to_sign)));
  if (prepared->alg == signer::JwsAlg::RS256) {
    info.emplace_back("digestInfo", json::Value(base64_encode(signer::digest_info(*prepared))));
  }
  info.emplace_back("documentSha256", json::Value(prepared->document_sha256_hex));
  std::cout << json::serialize(json::Value(std::move(info)), 2) << "\n";
  return kExitOk;
}

/**
 * A signature value file: the raw bytes, or their base64 (or base64url)
 * text; a file that is only base64 characters and white space is read as text.
 */
Result<Bytes> read_signature_value(const std::string& path) {
  auto raw = read_file(path, 64u << 10);
  if (!raw) return std::unexpected(raw.error());
  std::string compact;
  bool text = !raw->empty();
  for (char c : *raw) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                     c == '/' || c == '=' || c == '-' || c == '_';
    if (!b64) {
      text = false;
      break;
    }
    compact.push_back(c);
  }
  if (text) {
    if (auto b = base64_decode(compact)) return *b;
    if (auto b = base64url_decode(compact)) return *b;
  }
  if (raw->empty()) return fail(Errc::invalid_argument, "the signature file " + path + " is empty");
  return to_bytes(*raw);
}

/** `hanko sign --complete`: the second step of two-step signing (docs/cli.md). */
int cmd_sign_complete(const Args& a) {
  for (const char* other : {"cert", "key", "chain", "cert-chain", "level", "type", "canonicalization", "at", "trust",
                            "in", "replace", "no-policy"}) {
    if (a.has(other)) return usage_error(std::string("sign --complete takes no --") + other);
  }
  if (!a.positional.empty()) return usage_error("unexpected argument '" + a.positional.front() + "'");
  auto session_path = a.get("complete");
  auto signature_path = a.get("signature");
  if (!session_path || !signature_path) return usage_error("sign --complete SESSION needs --signature FILE");
  const std::string out = a.get("out").value_or("-");
  auto text = read_file(*session_path);
  if (!text) return error_exit(text.error());
  auto session = json::parse(*text, {.max_depth = 160, .max_bytes = 1u << 30});
  const std::string* tag = session ? session->find_string("format") : nullptr;
  const json::Value* stored = session ? session->find("prepared") : nullptr;
  if (tag == nullptr || *tag != kCliSessionFormat || stored == nullptr) {
    return error_exit(Error{Errc::invalid_argument, *session_path + " is not a session file of hanko sign --prepare"});
  }
  auto prepared = signer::prepared_signature_from_json(*stored);
  if (!prepared) {
    return error_exit(Error{Errc::invalid_argument, *session_path + ": " + prepared.error().message});
  }
  auto value = read_signature_value(*signature_path);
  if (!value) return error_exit(value.error());
  std::unique_ptr<tsa::TimestampSource> tsa;
  if (prepared->level == signer::Level::B_T) {
    auto url = a.get("tsa");
    if (!url) return usage_error("the session is B-T: sign --complete needs --tsa URL");
    HttpOptions http;
    if (auto proxy = a.get("proxy")) http.proxy = *proxy;
    tsa = std::make_unique<tsa::HttpTsaClient>(*url, http);
  }
  const signer::DocumentFormat format = prepared->format;
  auto done = signer::complete_signature(std::move(*prepared), *value, tsa.get());
  if (!done) {
    Error e = done.error();
    if (e.code == Errc::policy) {
      std::cerr << "hanko: " << e.message << "\n";
      return 1;
    }
    if (tsa && (e.code == Errc::network || e.code == Errc::remote_rejected)) {
      e.message = "timestamp authority " + tsa->describe() + ": " + e.message;
    }
    return error_exit(e);
  }
  std::string output = format == signer::DocumentFormat::fhir_xml ? std::move(done->bundle_xml)
                                                                  : json::serialize(done->bundle, 2);
  if (output.empty() || output.back() != '\n') output.push_back('\n');
  if (out == "-") {
    std::cout << output;
  } else if (auto w = write_file(out, output); !w) {
    return error_exit(w.error());
  }
  // The session is done with; it holds the document, so it does not stay behind.
  std::error_code ec;
  std::filesystem::remove(*session_path, ec);
  return kExitOk;
}

int cmd_sign(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2,
                      {"in", "out", "cert", "key", "chain", "tsa", "level", "type", "canonicalization", "at", "trust",
                       "tsa-trust", "ocsp-trust", "intermediates", "crl", "revocation", "data", "config", "proxy",
                       "cert-chain", "complete", "signature"},
                      {"replace", "no-policy", "offline", "prepare"}, 1);
  if (!a) return usage_error(a.error().message);
  if (a->has("prepare") && a->has("complete")) return usage_error("--prepare and --complete are two separate steps");
  if (a->has("prepare")) return cmd_sign_prepare(*a);
  if (a->has("complete")) return cmd_sign_complete(*a);
  for (const char* two_step : {"cert-chain", "signature"}) {
    if (a->has(two_step)) return usage_error(std::string("--") + two_step + " belongs to sign --prepare / --complete");
  }
  if (!a->positional.empty()) return usage_error("unexpected argument '" + a->positional.front() + "' (use --in FILE)");
  auto in = a->get("in");
  auto out = a->get("out");
  auto cert = a->get("cert");
  auto key_path = a->get("key");
  if (!in || !out || !cert || !key_path) return usage_error("sign needs --in, --out, --cert and --key");
  signer::SignOptions opts;
  auto level = signer::level_from_name(a->get("level").value_or("B-T"));
  if (!level) return usage_error("--level must be B-B or B-T");
  opts.level = *level;
  opts.replace = a->has("replace");
  opts.signature_type = a->get("type").value_or(std::string(signer::kAuthorSignature));
  opts.canonicalizer = signer::canonicalizer_by_name(a->get("canonicalization").value_or("jcs"));
  if (opts.canonicalizer == nullptr) return usage_error("--canonicalization must be jcs or fhir-json");
  SystemClock clock;
  auto at = time_arg(*a, "at", clock.now());
  if (!at) return error_exit(at.error());
  opts.signing_time = *at;
  std::unique_ptr<tsa::TimestampSource> tsa;
  if (opts.level == signer::Level::B_T) {
    auto url = a->get("tsa");
    if (!url) return usage_error("B-T needs --tsa URL (or use --level B-B)");
    HttpOptions http;
    if (auto proxy = a->get("proxy")) {
      http.proxy = *proxy;
    }
    tsa = std::make_unique<tsa::HttpTsaClient>(*url, http);
  }
  auto key = signer::PemSigningKey::load(*cert, *key_path, a->get("chain").value_or(""));
  if (!key) return error_exit(key.error());
  auto text = read_file(*in);
  if (!text) return error_exit(text.error());
  // FHIR XML (first non-space byte '<') gets XAdES, FHIR JSON gets JAdES.
  const auto first = text->find_first_not_of(" \t\r\n");
  const bool is_xml = first != std::string::npos && (*text)[first] == '<';
  Result<json::Value> bundle = is_xml ? signer::xml_policy_view(*text) : signer::parse_document_bundle(*text);
  if (!bundle) return error_exit(bundle.error());
  // The signing-side guard: hanko never produces a signature it would itself reject.
  if (a->has("no-policy")) {
    std::cerr << "hanko: WARNING: --no-policy: the signer's certificate, revocation status and qualification were "
                 "NOT checked (for testing only)\n";
  } else {
    if (!a->get("trust")) {
      return usage_error("sign needs --trust DIR to check the signer before signing (or --no-policy, for testing only)");
    }
    auto env = validation_env(*a);
    if (!env) return error_exit(env.error());
    std::vector<const X509*> chain;
    for (const auto& c : (*key)->chain()) {
      chain.push_back(c.get());
    }
    auto check = verifier::check_signer((*key)->certificate(), chain, *bundle, env->context->options(*at));
    if (!check.ok) {
      std::cerr << "hanko: " << check.message << "\n";
      return check.sub_indication == verifier::SubIndication::try_later ? kExitRemote : 1;
    }
  }
  auto name_tsa = [&](Error e) {
    if (tsa && (e.code == Errc::network || e.code == Errc::remote_rejected)) {
      e.message = "timestamp authority " + tsa->describe() + ": " + e.message;
    }
    return e;
  };
  std::string output;
  if (is_xml) {
    auto result = signer::sign_xml_bundle(*text, **key, tsa.get(), opts);
    if (!result) return error_exit(name_tsa(result.error()));
    output = result->bundle_xml;
  } else {
    auto result = signer::sign_bundle(std::move(*bundle), **key, tsa.get(), opts);
    if (!result) return error_exit(name_tsa(result.error()));
    output = json::serialize(result->bundle, 2);
  }
  if (output.empty() || output.back() != '\n') {
    output.push_back('\n');
  }
  if (*out == "-") {
    std::cout << output;
  } else if (auto w = write_file(*out, output); !w) {
    return error_exit(w.error());
  }
  return kExitOk;
}

int cmd_verify(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2,
                      {"in", "trust", "tsa-trust", "ocsp-trust", "intermediates", "crl", "revocation", "data", "config",
                       "proxy", "at", "report"},
                      {"offline"});
  if (!a) return usage_error(a.error().message);
  auto in = a->get("in");
  auto trust_dir = a->get("trust");
  if (!in || !trust_dir) return usage_error("verify needs --in FILE and --trust DIR");
  std::string format = a->get("report").value_or("text");
  if (format != "json" && format != "text") return usage_error("--report must be json or text");
  SystemClock clock;
  auto at = time_arg(*a, "at", clock.now());
  if (!at) return error_exit(at.error());
  auto env = validation_env(*a);
  if (!env) return error_exit(env.error());
  auto text = read_file(*in);
  if (!text) return error_exit(text.error());
  const auto first = text->find_first_not_of(" \t\r\n");
  const bool is_xml = first != std::string::npos && (*text)[first] == '<';
  auto report = is_xml ? verifier::verify_xml_bundle_text(*text, env->context->options(*at))
                       : verifier::verify_bundle_text(*text, env->context->options(*at));
  if (!report) return error_exit(report.error());
  if (format == "json") {
    std::cout << json::serialize(verifier::to_json(*report), 2) << "\n";
  } else {
    std::cout << verifier::to_text(*report);
  }
  return verifier::exit_code(*report);
}

int cmd_canonicalize(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2, {"in", "method", "prefixes"}, {"with-comments"});
  if (!a) return usage_error(a.error().message);
  auto in = a->get("in");
  if (!in) return usage_error("canonicalize needs --in FILE");
  auto text = read_file(*in);
  if (!text) return error_exit(text.error());
  const auto first = text->find_first_not_of(" \t\r\n");
  const bool is_xml = first != std::string::npos && (*text)[first] == '<';
  const std::string method = a->get("method").value_or(is_xml ? "fhir-xml" : "jcs");
  if (method == "fhir-xml" || method == "c14n11" || method == "exc-c14n") {
    auto doc = signer::xml::Document::parse(*text);
    if (!doc) return error_exit(Error{doc.error().code, "not usable XML: " + doc.error().message});
    Result<std::string> bytes;
    if (method == "fhir-xml") {
      if (a->has("with-comments") || a->has("prefixes")) return usage_error("fhir-xml takes no --with-comments or --prefixes");
      bytes = signer::xml::fhir_xml_document(*doc);
    } else {
      signer::xml::C14nOptions opts;
      opts.method = method == "c14n11" ? signer::xml::C14nMethod::c14n11 : signer::xml::C14nMethod::exc_c14n;
      opts.with_comments = a->has("with-comments");
      if (auto p = a->get("prefixes")) {
        if (opts.method != signer::xml::C14nMethod::exc_c14n) return usage_error("--prefixes needs --method exc-c14n");
        std::istringstream words(*p);
        for (std::string w; words >> w;) opts.inclusive_prefixes.push_back(w);
      }
      bytes = signer::xml::canonicalize(*doc, opts);
    }
    if (!bytes) return error_exit(bytes.error());
    std::cout << *bytes;
    return kExitOk;
  }
  const signer::Canonicalizer* c = signer::canonicalizer_by_name(method);
  if (c == nullptr) return usage_error("--method must be jcs, fhir-json, fhir-xml, c14n11 or exc-c14n");
  if (a->has("with-comments") || a->has("prefixes")) return usage_error("--with-comments and --prefixes are for XML methods");
  auto v = json::parse(*text);
  if (!v) return error_exit(Error{Errc::invalid_argument, "not valid JSON: " + v.error().message});
  auto bytes = signer::canonical_document(*v, *c);
  if (!bytes) return error_exit(bytes.error());
  std::cout << *bytes;
  return kExitOk;
}

int cmd_serve(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2, {"listen", "data", "config"}, {});
  if (!a) return usage_error(a.error().message);
  std::map<std::string, std::string> overrides;
  if (auto l = a->get("listen")) overrides["server.listen"] = *l;
  if (auto d = a->get("data")) overrides["data.dir"] = *d;
  auto config = load_config(a->get("config").value_or(""), overrides);
  if (!config) return error_exit(config.error());
  SystemClock clock;
  TerminationWaiter waiter;
  auto service = Service::create(*config, clock);
  if (!service) return error_exit(service.error());
  for (const auto& line : (*service)->describe()) {
    std::cout << "hanko: " << line << "\n";
  }
  HttpServer http(**service, *config);
  if (auto started = http.start(); !started) return error_exit(started.error());
  for (const auto& line : http.describe()) {
    std::cout << "hanko: " << line << "\n";
  }
  std::cout << "hanko: listening on " << (http.tls() ? "https://" : "http://") << config->listen_host << ":"
            << http.port() << "/" << std::endl;
  int sig = waiter.wait();
  std::cout << "hanko: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << " received, finishing requests in flight"
            << std::endl;
  http.stop();
  std::cout << "hanko: stopped" << std::endl;
  return kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string cmd = argv[1];
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if (cmd == "version" || cmd == "--version") {
      std::cout << "hanko 0.1.0\n";
      return kExitOk;
    }
    if (cmd == "dev-pki") return cmd_dev_pki(argc, argv);
    if (cmd == "tsa-server") return cmd_tsa_server(argc, argv);
    if (cmd == "sign") return cmd_sign(argc, argv);
    if (cmd == "verify") return cmd_verify(argc, argv);
    if (cmd == "canonicalize") return cmd_canonicalize(argc, argv);
    if (cmd == "serve") return cmd_serve(argc, argv);
    if (cmd == "trust") return cmd_trust(argc, argv);
    if (cmd == "registry") return cmd_registry(argc, argv);
    if (cmd == "audit") return cmd_audit(argc, argv);
    if (cmd == "extend") return cmd_extend(argc, argv);
    if (cmd == "archive") return cmd_archive(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hanko: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return usage_error("unknown command '" + cmd + "'");
}

}  // namespace hanko::server
