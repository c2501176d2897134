#pragma once
// A small pool of Poco::Data sessions. Poco's own SessionPool throws
// SessionPoolExhaustedException when all its sessions are busy; this one waits.
#include <Poco/Data/Session.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace hanko::store::detail {

class SessionPool {
 public:
  using Factory = std::function<std::unique_ptr<Poco::Data::Session>()>;

  /** `factory` opens and prepares a session (it may throw a Poco exception). */
  SessionPool(Factory factory, std::size_t max_sessions);
  ~SessionPool();
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  /** A session lent to one caller; returned to the pool when destroyed. */
  class Lease {
   public:
    Lease() = default;
    Lease(SessionPool* pool, std::unique_ptr<Poco::Data::Session> session)
        : m_pool(pool), m_session(std::move(session)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    Poco::Data::Session& operator*() const { return *m_session; }
    Poco::Data::Session* operator->() const { return m_session.get(); }
    /** Closes the session instead of returning it (its state is unknown, e.g. a failed rollback). */
    void discard() { m_discard = true; }

   private:
    void release();
    SessionPool* m_pool = nullptr;
    std::unique_ptr<Poco::Data::Session> m_session;
    bool m_discard = false;
  };

  /** A session: an idle one, a new one while fewer than max are open, else waits for one. Throws what the factory throws. */
  Lease acquire();
  /** Puts a session opened outside acquire() into the pool (it counts against max). */
  void adopt(std::unique_ptr<Poco::Data::Session> session);

 private:
  void give_back(std::unique_ptr<Poco::Data::Session> session, bool discard);

  Factory m_factory;
  std::size_t m_max;
  std::mutex m_mu;
  std::condition_variable m_cv;
  std::vector<std::unique_ptr<Poco::Data::Session>> m_idle;
  std::size_t m_open = 0;
};

}  // namespace hanko::store::detail
