// Starting a child on Windows: the program itself again, through Boost.Process
// v2, with one inherited handle (the read end of a pipe) on which it reads its
// start message. The handles that go with the message are copied into the
// child with DuplicateHandle and their values written after it.
#include "../launch.hpp"
#include "../payload.hpp"

#include "handle.hpp"
#include "waited_child.hpp"

#include <mproc/error.hpp>

// Boost.Process 1.81 v2 with std::filesystem needs these before its headers
// (its config.hpp uses boost::optional and type traits it does not include).
#include <boost/optional.hpp>
#include <boost/type_traits/conditional.hpp>
#include <boost/type_traits/is_constructible.hpp>
#include <boost/type_traits/remove_pointer.hpp>

#include <boost/asio/io_context.hpp>
// Not v2.hpp: its environment.hpp does not compile with MinGW (shared notes).
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <mutex>

namespace mproc::detail {
namespace {

namespace bp = boost::process::v2;

// Children are started suspended, put in this process's job (which kills them
// when this process ends in any way: a job object with KILL_ON_JOB_CLOSE
// closes with its last handle), then resumed. Made once, never closed.
HANDLE children_job() {
  static HANDLE job = [] {
    HANDLE made = ::CreateJobObjectW(nullptr, nullptr);
    if (made == nullptr) return made;
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    ::SetInformationJobObject(made, JobObjectExtendedLimitInformation, &limits, sizeof limits);
    return made;
  }();
  return job;
}

// Limits what the child inherits to the handles it is meant to have (its
// standard handles and the start channel): CreateProcess would otherwise give
// it every inheritable handle of this process, also ones that other code made.
class inherited_handles {
 public:
  explicit inherited_handles(std::vector<HANDLE> handles) : handles_(std::move(handles)) {
    SIZE_T size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
    storage_.resize(size);
    auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage_.data());
    if (!::InitializeProcThreadAttributeList(list, 1, 0, &size)) return;
    if (!::UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles_.data(),
                                     handles_.size() * sizeof(HANDLE), nullptr, nullptr)) {
      ::DeleteProcThreadAttributeList(list);
      return;
    }
    list_ = list;
  }
  ~inherited_handles() {
    if (list_ != nullptr) ::DeleteProcThreadAttributeList(list_);
  }
  inherited_handles(const inherited_handles&) = delete;
  inherited_handles& operator=(const inherited_handles&) = delete;
  LPPROC_THREAD_ATTRIBUTE_LIST list() const noexcept { return list_; }

 private:
  std::vector<HANDLE> handles_;
  std::vector<char> storage_;
  LPPROC_THREAD_ATTRIBUTE_LIST list_ = nullptr;
};

struct child_setup {
  windows::unique_handle* process;  // out: our own handle to the child
  HANDLE channel;                   // the start channel's read end
  std::unique_ptr<inherited_handles>* inherited;  // kept until CreateProcess has run

  bp::error_code on_setup(bp::windows::default_launcher& launcher, const bp::filesystem::path&, const std::wstring&) {
    launcher.creation_flags |= CREATE_SUSPENDED;
    // process_stdio (the init before this one) has set the standard handles.
    const auto& startup = launcher.startup_info.StartupInfo;
    std::vector<HANDLE> handles{channel};
    for (HANDLE h : {startup.hStdInput, startup.hStdOutput, startup.hStdError}) {
      if (h != nullptr && h != INVALID_HANDLE_VALUE && std::find(handles.begin(), handles.end(), h) == handles.end()) {
        handles.push_back(h);
      }
    }
    *inherited = std::make_unique<inherited_handles>(std::move(handles));
    if ((*inherited)->list() != nullptr) launcher.startup_info.lpAttributeList = (*inherited)->list();
    return {};
  }
  void on_success(bp::windows::default_launcher& launcher, const bp::filesystem::path&, const std::wstring&) {
    const auto& info = launcher.process_information;
    process->reset(windows::duplicate_into(::GetCurrentProcess(), info.hProcess));
    if (HANDLE job = children_job(); job != nullptr) ::AssignProcessToJobObject(job, info.hProcess);
    ::ResumeThread(info.hThread);
  }
};

std::wstring program_path() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    const DWORD length = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (length < path.size()) {
      path.resize(length);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

bool write_all(HANDLE handle, const void* data, std::size_t size) {
  const char* at = static_cast<const char*>(data);
  while (size > 0) {
    DWORD written = 0;
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(size, 1u << 30));
    if (!::WriteFile(handle, at, chunk, &written, nullptr)) return false;
    at += written;
    size -= written;
  }
  return true;
}

bool read_exact(HANDLE handle, void* data, std::size_t size) {
  char* at = static_cast<char*>(data);
  while (size > 0) {
    DWORD got = 0;
    const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(size, 1u << 30));
    if (!::ReadFile(handle, at, chunk, &got, nullptr) || got == 0) return false;
    at += got;
    size -= got;
  }
  return true;
}

// Makes the pipe's read end inheritable only while one child is created: a
// second line of defence where the handle list above is not honoured.
std::mutex& inheriting() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

std::unique_ptr<child_handle> launch_spawn(const launch_request& request) {
  flush_standard_streams();
  HANDLE read_end = nullptr;
  HANDLE write_end = nullptr;
  if (!::CreatePipe(&read_end, &write_end, nullptr, 0)) windows::throw_last_error("cannot make a pipe for a child");
  windows::unique_handle theirs(read_end);
  windows::unique_handle ours(write_end);
  windows::unique_handle process;
  std::unique_ptr<inherited_handles> inherited;
  int pid = -1;
  {
    std::lock_guard lock(inheriting());
    ::SetHandleInformation(theirs.get(), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    boost::asio::io_context context;
    bp::error_code ec;
    std::vector<std::wstring> args{L"--mproc-spawn=" + std::to_wstring(windows::from_handle(theirs.get()))};
    // Wine's CreateProcess now and then fails with ERROR_INTERNAL_ERROR (about one
    // suite run in two, back to back, when Wine's server has just started) and
    // succeeds when asked again. A failed attempt made no process.
    auto launch = [&] {
      return bp::windows::default_launcher()(context, ec, bp::filesystem::path(program_path()), args,
                                             bp::process_stdio{}, child_setup{&process, theirs.get(), &inherited});
    };
    auto child = launch();
    for (int retry = 0; ec && ec.value() == ERROR_INTERNAL_ERROR && retry < 3; ++retry) {
      ::Sleep(20);
      child = launch();
    }
    if (ec) {
      throw process_error("cannot start a child process: " + ec.message() + " (Windows error " +
                          std::to_string(ec.value()) + ")");
    }
    pid = static_cast<int>(child.id());
    child.detach();
  }
  theirs.reset();
  if (!process) throw process_error("cannot keep a handle to child process " + std::to_string(pid));
  // The message, then the handles that go with it, copied into the child. A
  // child that died before reading shows in its exit code; nothing to do here.
  // The same frame as on POSIX: mark, length, payload; then the handle count
  // and the handles' values in the child.
  const std::uint32_t magic = frame_magic;
  const std::uint64_t size = request.payload.size();
  std::vector<std::int64_t> copies;
  for (native_handle handle : request.handles) {
    HANDLE copy = windows::duplicate_into(process.get(), windows::to_handle(handle));
    copies.push_back(copy == nullptr ? -1 : windows::from_handle(copy));
  }
  const auto count = static_cast<std::uint32_t>(copies.size());
  write_all(ours.get(), &magic, sizeof magic) && write_all(ours.get(), &size, sizeof size) &&
      write_all(ours.get(), request.payload.data(), size) && write_all(ours.get(), &count, sizeof count) &&
      write_all(ours.get(), copies.data(), copies.size() * sizeof(std::int64_t));
  return std::make_unique<windows::waited_child>(std::move(process), pid);
}

spawn_start read_spawn_start(const std::string& channel) {
  windows::unique_handle pipe(windows::to_handle(std::stoi(channel)));
  spawn_start start;
  std::uint32_t magic = 0;
  std::uint64_t size = 0;
  if (!read_exact(pipe.get(), &magic, sizeof magic)) throw eof_error("the sender closed the channel");
  if (magic != frame_magic) throw serialization_error("corrupt message: it does not start with mproc's frame mark");
  if (!read_exact(pipe.get(), &size, sizeof size)) throw eof_error("the sender closed the channel in a message");
  if (size > max_payload_size) throw serialization_error("corrupt message: length " + std::to_string(size));
  start.payload.resize(size);
  if (!read_exact(pipe.get(), start.payload.data(), size)) {
    throw eof_error("the sender closed the channel in a message");
  }
  std::uint32_t count = 0;
  if (!read_exact(pipe.get(), &count, sizeof count)) throw eof_error("the sender closed the channel");
  if (count > (1u << 16)) throw serialization_error("corrupt message: " + std::to_string(count) + " handles");
  std::vector<std::int64_t> handles(count);
  if (!read_exact(pipe.get(), handles.data(), count * sizeof(std::int64_t))) {
    throw eof_error("the sender closed the channel before sending its handles");
  }
  for (auto handle : handles) start.handles.push_back(static_cast<native_handle>(handle));
  return start;
}

void close_handle(native_handle handle) noexcept { ::CloseHandle(windows::to_handle(handle)); }

std::unique_ptr<child_handle> launch_fork(const launch_request&) {
  throw process_error("the start method 'fork' is not supported on this platform");
}

std::unique_ptr<child_handle> launch_forkserver(const launch_request&) {
  throw process_error("the start method 'forkserver' is not supported on this platform");
}

void run_forkserver(const std::string&) {
  std::fprintf(stderr, "mproc: there is no forkserver on Windows\n");
  exit_now(1);
}

}  // namespace mproc::detail
