#include "pool.h"

#include <Poco/Exception.h>

namespace hanko::store::detail {

SessionPool::SessionPool(Factory factory, std::size_t max_sessions)
    : m_factory(std::move(factory)), m_max(max_sessions == 0 ? 1 : max_sessions) {}

SessionPool::~SessionPool() = default;

SessionPool::Lease& SessionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    m_pool = other.m_pool;
    m_session = std::move(other.m_session);
    m_discard = other.m_discard;
    other.m_pool = nullptr;
  }
  return *this;
}

SessionPool::Lease::~Lease() { release(); }

void SessionPool::Lease::release() {
  if (m_pool != nullptr && m_session) {
    m_pool->give_back(std::move(m_session), m_discard);
  }
  m_pool = nullptr;
}

SessionPool::Lease SessionPool::acquire() {
  std::unique_lock lock(m_mu);
  m_cv.wait(lock, [&] { return !m_idle.empty() || m_open < m_max; });
  if (!m_idle.empty()) {
    auto s = std::move(m_idle.back());
    m_idle.pop_back();
    return Lease(this, std::move(s));
  }
  ++m_open;
  lock.unlock();
  try {
    return Lease(this, m_factory());
  } catch (...) {
    lock.lock();
    --m_open;
    lock.unlock();
    m_cv.notify_one();
    throw;
  }
}

void SessionPool::adopt(std::unique_ptr<Poco::Data::Session> session) {
  {
    std::lock_guard lock(m_mu);
    ++m_open;
  }
  give_back(std::move(session), false);
}

void SessionPool::give_back(std::unique_ptr<Poco::Data::Session> session, bool discard) {
  bool keep = !discard;
  if (keep) {
    try {
      // A PostgreSQL connection that broke, or one left inside a transaction, is not lent again.
      keep = session->isConnected() && !session->isTransaction();
    } catch (const Poco::Exception&) {
      keep = false;
    }
  }
  if (!keep) {
    session.reset();  // closes the connection (SQLite rolls back an open transaction)
  }
  {
    std::lock_guard lock(m_mu);
    if (keep) {
      m_idle.push_back(std::move(session));
    } else {
      --m_open;
    }
  }
  m_cv.notify_one();
}

}  // namespace hanko::store::detail
