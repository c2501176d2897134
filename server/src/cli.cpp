#include "hanko/server/cli.h"

#include <Poco/Exception.h>

#include <csignal>
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
#include "hanko/common/file.h"
#include "hanko/common/json.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "hanko/store/database.h"
#include "validation_context.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
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
    "  audit verify FILE                             check the hash chain of an audit log (docs/audit.md)\n"
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

int cmd_sign(int argc, char** argv) {
  auto a = parse_args(argc, argv, 2,
                      {"in", "out", "cert", "key", "chain", "tsa", "level", "type", "canonicalization", "at", "trust",
                       "tsa-trust", "ocsp-trust", "intermediates", "crl", "revocation", "data", "config", "proxy"},
                      {"replace", "no-policy", "offline"});
  if (!a) return usage_error(a.error().message);
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
  } catch (const std::exception& e) {
    std::cerr << "hanko: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return usage_error("unknown command '" + cmd + "'");
}

}  // namespace hanko::server
