#include "hanko/tsa_client/tsa_http_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace hanko::tsa {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

void send_text(HTTPServerResponse& resp, HTTPResponse::HTTPStatus status, const std::string& text) {
  resp.setStatus(status);
  resp.setContentType("text/plain; charset=utf-8");
  resp.setContentLength(static_cast<std::streamsize>(text.size()));
  resp.sendBuffer(text.data(), text.size());
}

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  auto not_space = [](unsigned char c) { return std::isspace(c) == 0; };
  t.erase(t.begin(), std::find_if(t.begin(), t.end(), not_space));
  t.erase(std::find_if(t.rbegin(), t.rend(), not_space).base(), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

/** RFC 3161 3.4: one TimeStampReq per POST, the answer in the HTTP response. */
class TsaHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit TsaHandler(DevTsa& tsa) : m_tsa(tsa) {}

  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
    try {
      handle(req, resp);
    } catch (...) {
      if (!resp.sent()) {
        resp.setKeepAlive(false);
        send_text(resp, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
      }
    }
  }

 private:
  void handle(HTTPServerRequest& req, HTTPServerResponse& resp) {
    if (req.getMethod() != Poco::Net::HTTPRequest::HTTP_POST) {
      resp.set("Allow", "POST");
      resp.setKeepAlive(false);
      send_text(resp, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "only POST is allowed\n");
      return;
    }
    if (media_type(req.getContentType()) != "application/timestamp-query") {
      resp.setKeepAlive(false);
      send_text(resp, HTTPResponse::HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/timestamp-query\n");
      return;
    }
    if (req.hasContentLength() && req.getContentLength64() > static_cast<Poco::Int64>(TsaHttpServer::max_body_bytes)) {
      resp.setKeepAlive(false);
      send_text(resp, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "request body too large\n");
      return;
    }
    // Bounded read: never more than max_body_bytes + one buffer, whatever the framing says.
    std::string body;
    std::istream& in = req.stream();
    char buf[4096];
    while (in) {
      in.read(buf, sizeof buf);
      const auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) {
        break;
      }
      if (body.size() + n > TsaHttpServer::max_body_bytes) {
        resp.setKeepAlive(false);
        send_text(resp, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "request body too large\n");
        return;
      }
      body.append(buf, n);
    }
    const Bytes answer = m_tsa.respond(as_bytes(body));
    resp.setStatus(HTTPResponse::HTTP_OK);
    resp.setContentType("application/timestamp-reply");
    resp.setContentLength(static_cast<std::streamsize>(answer.size()));
    resp.sendBuffer(answer.data(), answer.size());
  }

  DevTsa& m_tsa;
};

class TsaHandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit TsaHandlerFactory(DevTsa& tsa) : m_tsa(tsa) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new TsaHandler(m_tsa);  // Poco takes ownership
  }

 private:
  DevTsa& m_tsa;
};

}  // namespace

struct TsaHttpServer::Impl {
  std::string host;
  Poco::Net::ServerSocket socket;
  Poco::ThreadPool pool{1, 8};
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::mutex mu;
  bool started = false;
  bool stopped = false;
  std::uint16_t bound_port = 0;

  Impl(DevTsa& tsa, std::string h, std::uint16_t port) : host(std::move(h)) {
    // SO_REUSEADDR but not SO_REUSEPORT (Poco's two-argument constructor sets both): a busy port is an error.
    socket.bind(Poco::Net::SocketAddress(host, port), true, false);
    socket.listen(64);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    bound_port = socket.address().port();
    params->setMaxThreads(6);
    params->setMaxQueued(64);
    params->setTimeout(Poco::Timespan(10, 0));
    params->setKeepAlive(false);  // one request per connection: stop() never waits on idle keep-alives
    server = std::make_unique<Poco::Net::HTTPServer>(new TsaHandlerFactory(tsa), pool, socket, params);
  }
};

TsaHttpServer::TsaHttpServer(DevTsa& tsa, std::string host, std::uint16_t port)
    : m_impl(std::make_unique<Impl>(tsa, std::move(host), port)) {}

TsaHttpServer::~TsaHttpServer() {
  try {
    stop();
  } catch (...) {
    // nothing sensible to do while destroying
  }
}

void TsaHttpServer::start() {
  std::lock_guard lock(m_impl->mu);
  if (m_impl->started || m_impl->stopped) {
    return;
  }
  m_impl->server->start();
  m_impl->started = true;
}

void TsaHttpServer::stop() {
  std::lock_guard lock(m_impl->mu);
  if (m_impl->stopped) {
    return;
  }
  m_impl->stopped = true;
  if (m_impl->started) {
    m_impl->server->stopAll(false);
    m_impl->pool.joinAll();
  }
  m_impl->socket.close();
}

std::uint16_t TsaHttpServer::port() const { return m_impl->bound_port; }

std::string TsaHttpServer::url() const {
  std::string h = m_impl->host;
  if (h.empty() || h == "0.0.0.0" || h == "::" || h == "[::]") {
    h = "127.0.0.1";
  } else if (h.find(':') != std::string::npos && h.front() != '[') {
    h = "[" + h + "]";
  }
  return "http://" + h + ":" + std::to_string(port()) + "/";
}

}  // namespace hanko::tsa
