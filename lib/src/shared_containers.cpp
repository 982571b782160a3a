// The heap of shared_list and shared_dict: Boost.Interprocess containers in a
// managed_external_buffer that lives in a shared memory block (after a small
// header), so the block's lifetime rules apply. Offsets, not pointers, link
// the nodes, so each process may map the block anywhere. The heap's own mutex
// is a null mutex: every access holds the container's robust mproc::mutex,
// whereas Boost's interprocess_mutex stays locked for good if a holder dies.
#include <mproc/detail/handles.hpp>
#include <mproc/shared_containers.hpp>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/map.hpp>
#include <boost/interprocess/containers/string.hpp>
#include <boost/interprocess/containers/vector.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>

namespace mproc::detail {
namespace {

namespace bip = boost::interprocess;

using heap = bip::basic_managed_external_buffer<char, bip::rbtree_best_fit<bip::null_mutex_family>, bip::iset_index>;
using segment = heap::segment_manager;
using bytes = bip::basic_string<char, std::char_traits<char>, bip::allocator<char, segment>>;
using byte_vector = bip::vector<bytes, bip::allocator<bytes, segment>>;
using pair_type = std::pair<const bytes, bytes>;
using byte_map = bip::map<bytes, bytes, std::less<bytes>, bip::allocator<pair_type, segment>>;

// In front of the heap: set while a holder changes the container, so that the
// next holder knows when one died in the middle of a change.
struct container_header {
  std::atomic<std::uint32_t> changing;
  std::uint32_t is_map;
};
constexpr std::size_t header_bytes = 64;

}  // namespace

struct byte_container::access {
  // Opens the heap in this process (an object per call: cheap, it only reads
  // the segment's header) and checks that no change was left half done.
  struct open {
    container_header* header;
    heap managed;
    explicit open(const shared_memory& block)
        : header(reinterpret_cast<container_header*>(block.bytes().data())),
          managed(bip::open_only, block.bytes().data() + header_bytes, block.size() - header_bytes) {
      if (header->changing.load() != 0) {
        throw error("the shared container was damaged: a process died while changing it");
      }
    }
    byte_vector& list() { return *managed.find<byte_vector>("items").first; }
    byte_map& map() { return *managed.find<byte_map>("entries").first; }
    bytes make(const std::string& text) { return bytes(text.data(), text.size(), managed.get_segment_manager()); }
  };

  // Runs `change` with the changing mark set; a full heap changes nothing.
  template <class Change>
  static void change(open& opened, std::size_t capacity, Change&& change_it) {
    opened.header->changing.store(1);
    try {
      change_it();
    } catch (const bip::bad_alloc&) {
      opened.header->changing.store(0);
      throw error("the shared container is full (its capacity is " + std::to_string(capacity) + " bytes)");
    }
    opened.header->changing.store(0);
  }
};

byte_container::byte_container(bool is_map, std::size_t capacity)
    : block_(current_inbox() ? shared_memory() : shared_memory::create(header_bytes + capacity)), is_map_(is_map) {
  if (block_.closed()) return;  // a placeholder, being decoded
  auto* header = new (block_.bytes().data()) container_header{};
  header->is_map = is_map ? 1 : 0;
  heap managed(bip::create_only, block_.bytes().data() + header_bytes, block_.size() - header_bytes);
  if (is_map) {
    managed.construct<byte_map>("entries")(managed.get_segment_manager());
  } else {
    managed.construct<byte_vector>("items")(managed.get_segment_manager());
  }
}

void byte_container::push_back(const std::string& value) {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  access::change(opened, block_.size(), [&] { opened.list().push_back(opened.make(value)); });
}

std::string byte_container::at(std::size_t index) const {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  const auto& list = opened.list();
  if (index >= list.size()) {
    throw std::out_of_range("index " + std::to_string(index) + " of a shared list of " + std::to_string(list.size()));
  }
  return std::string(list[index].data(), list[index].size());
}

std::vector<std::string> byte_container::items() const {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  std::vector<std::string> all;
  for (const auto& item : opened.list()) all.emplace_back(item.data(), item.size());
  return all;
}

void byte_container::set(const std::string& key, const std::string& value) {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  access::change(opened, block_.size(), [&] {
    auto& map = opened.map();
    auto made_key = opened.make(key);
    auto found = map.find(made_key);
    if (found != map.end()) {
      found->second = opened.make(value);
    } else {
      map.emplace(std::move(made_key), opened.make(value));
    }
  });
}

std::optional<std::string> byte_container::find(const std::string& key) const {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  auto& map = opened.map();
  auto found = map.find(opened.make(key));
  if (found == map.end()) return std::nullopt;
  return std::string(found->second.data(), found->second.size());
}

bool byte_container::erase(const std::string& key) {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  bool erased = false;
  access::change(opened, block_.size(), [&] { erased = opened.map().erase(opened.make(key)) > 0; });
  return erased;
}

std::vector<std::pair<std::string, std::string>> byte_container::entries() const {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  std::vector<std::pair<std::string, std::string>> all;
  for (const auto& [key, value] : opened.map()) {
    all.emplace_back(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
  }
  return all;
}

std::size_t byte_container::size() const {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  return is_map_ ? opened.map().size() : opened.list().size();
}

void byte_container::clear() {
  std::scoped_lock hold(lock_);
  access::open opened(block_);
  access::change(opened, block_.size(), [&] {
    if (is_map_) {
      opened.map().clear();
    } else {
      opened.list().clear();
    }
  });
}

}  // namespace mproc::detail
