// Windows: Asio's post() queues to the completion port without waking the
// context under a lock; nothing to add.
#include "../post_from_elsewhere.hpp"

#include <boost/asio/post.hpp>

namespace mproc::detail {

void post_from_elsewhere(const async_executor& io, posted_call call) {
  boost::asio::post(untracked(io), std::move(call));
}

}  // namespace mproc::detail
