#include "pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace hanko::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUser = "hanko";
constexpr const char* kDirPrefix = "hanko-pg-";

struct Tools {
  fs::path bindir;
  std::optional<fs::path> runuser;  ///< set when running as root
  uid_t uid = 0;
  gid_t gid = 0;
};

std::optional<fs::path> on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    fs::path p = fs::path(dir) / name;
    if (!dir.empty() && ::access(p.c_str(), X_OK) == 0) {
      return p;
    }
  }
  return std::nullopt;
}

bool has_server_binaries(const fs::path& bindir) {
  return ::access((bindir / "initdb").c_str(), X_OK) == 0 && ::access((bindir / "pg_ctl").c_str(), X_OK) == 0 &&
         ::access((bindir / "postgres").c_str(), X_OK) == 0;
}

/** The server binaries and, as root, how to become postgres; or why there are none. */
Result<Tools> find_tools() {
  Tools t;
  if (const char* env = std::getenv("HANKO_PG_BINDIR"); env && *env) {
    t.bindir = env;
  } else {
    // Debian: /usr/lib/postgresql/<major>/bin, not on PATH; the highest major wins.
    int best = -1;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
      const std::string v = e.path().filename().string();
      if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        continue;
      }
      if (has_server_binaries(e.path() / "bin") && std::stoi(v) > best) {
        best = std::stoi(v);
        t.bindir = e.path() / "bin";
      }
    }
    if (best < 0) {
      if (auto initdb = on_path("initdb")) {
        t.bindir = initdb->parent_path();
      }
    }
  }
  if (t.bindir.empty() || !has_server_binaries(t.bindir)) {
    return fail(Errc::unsupported, "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin, "
                                   "HANKO_PG_BINDIR or PATH; install the postgresql package");
  }
  if (::geteuid() == 0) {
    for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
      if (::access(p, X_OK) == 0) {
        t.runuser = p;
        break;
      }
    }
    if (!t.runuser) {
      t.runuser = on_path("runuser");
    }
    if (!t.runuser) {
      return fail(Errc::unsupported, "running as root, and no runuser to start PostgreSQL as the postgres user");
    }
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      return fail(Errc::unsupported, "running as root, and there is no postgres user to start PostgreSQL as");
    }
    t.uid = pw->pw_uid;
    t.gid = pw->pw_gid;
  }
  return t;
}

const Result<Tools>& tools() {
  static const Result<Tools> t = find_tools();
  return t;
}

std::string tail_of(const fs::path& file, std::size_t max = 2000) {
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max ? text.substr(text.size() - max) : text;
}

/**
 * Runs a server binary (as postgres when root) in `cwd`, stdin from /dev/null,
 * stdout and stderr appended to `log`, no other descriptors inherited; its exit status.
 */
int run_tool(const Tools& t, const std::string& tool, const std::vector<std::string>& args, const fs::path& cwd,
             const fs::path& log) {
  std::vector<std::string> argv;
  if (t.runuser) {
    argv = {t.runuser->string(), "-u", "postgres", "--"};
  }
  argv.push_back((t.bindir / tool).string());
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || in < 0) {
    return -1;
  }
  const std::string dir = cwd.string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (::chdir(dir.c_str()) != 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) {
      ::_exit(126);
    }
    ::close_range(3, ~0U, 0);  // a postmaster must not hold the test runner's pipes open
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(in);
  if (pid < 0) {
    return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

/** Stops and removes clusters whose owning test program is gone (it crashed before its exit handler). */
void reap_stale_clusters(const Tools& t) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    if (!e.path().filename().string().starts_with(kDirPrefix)) {
      continue;
    }
    std::ifstream in(e.path() / "owner.pid");
    long owner = 0;
    if (!(in >> owner) || owner <= 0) {
      continue;
    }
    if (::kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) {
      continue;  // still running (or not ours to judge)
    }
    if (fs::exists(e.path() / "data" / "postmaster.pid")) {
      run_tool(t, "pg_ctl", {"-D", (e.path() / "data").string(), "-m", "immediate", "stop"}, e.path(),
               e.path() / "stop.log");
    }
    fs::remove_all(e.path(), ec);
  }
}

struct Cluster {
  Tools tools;
  fs::path dir;
  int port = 0;
};

std::optional<Cluster>& running() {
  static std::optional<Cluster> c;
  return c;
}

void stop_cluster() {
  auto& c = running();
  if (!c) {
    return;
  }
  run_tool(c->tools, "pg_ctl", {"-D", (c->dir / "data").string(), "-m", "immediate", "stop"}, c->dir,
           c->dir / "stop.log");
  std::error_code ec;
  fs::remove_all(c->dir, ec);
  c.reset();
}

Result<Cluster> start_cluster() {
  const auto& t = tools();
  if (!t) {
    return std::unexpected(t.error());
  }
  reap_stale_clusters(*t);
  std::string templ = (fs::temp_directory_path() / (std::string(kDirPrefix) + "XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) {
    return fail(Errc::io, "cannot create a folder for the PostgreSQL test cluster under /tmp");
  }
  Cluster c{*t, templ, 0};
  std::ofstream(c.dir / "owner.pid") << ::getpid() << "\n";
  if (t->runuser && ::chown(c.dir.c_str(), t->uid, t->gid) != 0) {
    return fail(Errc::io, "cannot give " + c.dir.string() + " to the postgres user");
  }
  const fs::path data = c.dir / "data";
  const fs::path initdb_log = c.dir / "initdb.log";
  if (run_tool(*t, "initdb", {"-D", data.string(), "-A", "trust", "-U", kUser, "-E", "UTF8", "--locale=C", "-N"}, c.dir,
               initdb_log) != 0) {
    return fail(Errc::io, "initdb failed: " + tail_of(initdb_log));
  }
  // The port is free when asked; another program may take it before the
  // server binds it, so a failed start is retried on a new port.
  const fs::path log = c.dir / "server.log";
  for (int attempt = 0; attempt < 5; ++attempt) {
    c.port = free_port();
    const std::string options = "-p " + std::to_string(c.port) + " -k " + c.dir.string() +
                                " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                                " -c full_page_writes=off";
    // -w: pg_ctl returns when the server accepts connections (or failed).
    if (run_tool(*t, "pg_ctl", {"-D", data.string(), "-l", log.string(), "-o", options, "-w", "-t", "120", "start"},
                 c.dir, c.dir / "pg_ctl.log") == 0) {
      return c;
    }
    if (tail_of(log).find("could not bind") == std::string::npos &&
        tail_of(log).find("already in use") == std::string::npos) {
      break;
    }
  }
  std::string why = "pg_ctl start failed: " + tail_of(c.dir / "pg_ctl.log") + tail_of(log);
  std::error_code ec;
  fs::remove_all(c.dir, ec);
  return fail(Errc::io, why);
}

std::mutex& cluster_mutex() {
  static std::mutex mu;
  return mu;
}

/** The running cluster, started on first call; the error of that start on every later call. */
Result<Cluster> cluster() {
  std::lock_guard lock(cluster_mutex());
  static std::optional<Error> failed;
  if (running()) {
    return *running();
  }
  if (failed) {
    return std::unexpected(*failed);
  }
  auto c = start_cluster();
  if (!c) {
    failed = c.error();
    return std::unexpected(c.error());
  }
  running() = *c;
  std::atexit(stop_cluster);
  return *c;
}

struct PgConnFree {
  void operator()(PGconn* c) const { PQfinish(c); }
};

Result<void> exec_on(int port, std::string_view dbname, std::string_view sql) {
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port) + " user=" + kUser + " dbname=" +
                               std::string(dbname) + " connect_timeout=30";
  std::unique_ptr<PGconn, PgConnFree> conn(PQconnectdb(conninfo.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return fail(Errc::io, std::string("cannot connect to the test cluster: ") +
                              (conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  PGresult* r = PQexec(conn.get(), std::string(sql).c_str());
  const bool ok = r != nullptr && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
  std::string err = ok ? "" : PQerrorMessage(conn.get());
  PQclear(r);
  if (!ok) {
    return fail(Errc::io, std::string(sql) + ": " + err);
  }
  return {};
}

}  // namespace

std::string postgres_missing() {
  if (const char* req = std::getenv("HANKO_REQUIRE_POSTGRES"); req && *req && std::string(req) != "0") {
    return {};
  }
  const auto& t = tools();
  return t ? std::string() : t.error().message;
}

Result<PgDatabase> fresh_postgres_database(std::string_view tag) {
  auto c = cluster();
  if (!c) {
    return std::unexpected(c.error());
  }
  static std::atomic<int> counter{0};
  std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_";
  for (char ch : tag) {
    if (name.size() >= 60) {
      break;
    }
    name += std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::tolower(static_cast<unsigned char>(ch)))
                                                         : '_';
  }
  if (auto r = exec_on(c->port, "postgres", "CREATE DATABASE \"" + name + "\""); !r) {
    return std::unexpected(r.error());
  }
  PgDatabase db;
  db.name = name;
  db.port = c->port;
  db.url = std::string("postgresql://") + kUser + "@127.0.0.1:" + std::to_string(c->port) + "/" + name;
  db.keywords = "host=127.0.0.1 port=" + std::to_string(c->port) + " dbname=" + name + " user=" + kUser;
  return db;
}

Result<void> postgres_exec(std::string_view dbname, std::string_view sql) {
  auto c = cluster();
  if (!c) {
    return std::unexpected(c.error());
  }
  return exec_on(c->port, dbname, sql);
}

}  // namespace hanko::test
