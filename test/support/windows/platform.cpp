// The tests' look at the system, on Windows. Windows has no zombies (a process
// object goes with its last handle), and shared memory sections go with their
// last handle, so the leak check's lists are empty here by construction.
#include "support/scratch.hpp"

#include "windows/waited_child.hpp"  // the exit codes kill() uses, and their reading

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>

#include <fcntl.h>
#include <io.h>
#include <windows.h>
#include <tlhelp32.h>

namespace mproc::test {

const bool posix_system = false;

scratch_dir::scratch_dir() {
  std::random_device random;
  for (int tries = 0; tries < 100; ++tries) {
    const auto path = std::filesystem::temp_directory_path() / ("mproc-test-" + std::to_string(random()));
    if (std::filesystem::create_directory(path)) {
      path_ = path.generic_string();
      return;
    }
  }
  throw std::runtime_error("cannot make a temporary folder");
}

// A program given by a POSIX path (the build's paths) is found through Wine's
// Z: drive, which maps the host's root.
command_result run_command(const std::string& command) {
  std::string line = command;
  if (line.starts_with('/')) {
    const auto end = line.find(' ');
    std::string program = "Z:" + line.substr(0, end);
    for (char& c : program) c = c == '/' ? '\\' : c;
    std::string quoted = "\"";
    quoted.append(program).append("\"");
    if (end != std::string::npos) quoted.append(line, end);
    line = quoted;
  }
  command_result result;
  std::fflush(nullptr);
  FILE* pipe = ::_popen((line + " 2>&1").c_str(), "rb");
  if (pipe == nullptr) throw std::runtime_error("_popen failed: " + command);
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  result.exit_code = ::_pclose(pipe);
  std::string text;  // the console's line ends are \r\n
  for (char c : result.output) {
    if (c != '\r') text += c;
  }
  result.output = text;
  return result;
}

stream_capture::stream_capture(int descriptor)
    : path_(dir_.file("stream")), descriptor_(descriptor) {  // dir_ is made first
  std::fflush(descriptor_ == 1 ? stdout : stderr);
  saved_ = ::_dup(descriptor_);
  const int file = ::_open(path_.c_str(), _O_WRONLY | _O_CREAT | _O_TRUNC | _O_NOINHERIT, 0600);
  ::_dup2(file, descriptor_);
  ::_close(file);
  // Children get this process's standard handles, not its C runtime's descriptors.
  ::SetStdHandle(descriptor_ == 1 ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE,
                 reinterpret_cast<HANDLE>(::_get_osfhandle(descriptor_)));
}

stream_capture::~stream_capture() { text(); }

std::string stream_capture::text() {
  if (saved_ >= 0) {
    std::fflush(descriptor_ == 1 ? stdout : stderr);
    ::_dup2(saved_, descriptor_);
    ::_close(saved_);
    ::SetStdHandle(descriptor_ == 1 ? STD_OUTPUT_HANDLE : STD_ERROR_HANDLE,
                   reinterpret_cast<HANDLE>(::_get_osfhandle(descriptor_)));
    saved_ = -1;
  }
  return read_file(path_);
}

std::vector<int> zombie_children() { return {}; }
std::vector<int> children_of_this_process() { return {}; }

bool process_running(int pid) {
  HANDLE process = ::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return false;
  const bool running = ::WaitForSingleObject(process, 0) == WAIT_TIMEOUT;
  ::CloseHandle(process);
  return running;
}

std::set<std::string> shared_memory_names() { return {}; }

std::uint64_t shared_memory_committed_bytes(const std::string&) { return 0; }

int thread_count() {
  HANDLE snapshot = ::CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  if (snapshot == INVALID_HANDLE_VALUE) return -1;
  THREADENTRY32 entry{};
  entry.dwSize = sizeof entry;
  int count = 0;
  for (BOOL more = ::Thread32First(snapshot, &entry); more; more = ::Thread32Next(snapshot, &entry)) {
    if (entry.th32OwnerProcessID == ::GetCurrentProcessId()) ++count;
  }
  ::CloseHandle(snapshot);
  return count;
}

int open_descriptor_count() {
  DWORD count = 0;
  ::GetProcessHandleCount(::GetCurrentProcess(), &count);
  return static_cast<int>(count);
}

int this_pid() { return static_cast<int>(::GetCurrentProcessId()); }

void abort_with_core_in(const std::string&) { std::abort(); }

void kill_this_process() {
  ::TerminateProcess(::GetCurrentProcess(), mproc::detail::windows::killed_code);  // read back as -9
  std::abort();  // not reached
}

void kill_process(int pid) {
  HANDLE process = ::OpenProcess(PROCESS_TERMINATE, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return;
  ::TerminateProcess(process, mproc::detail::windows::killed_code);
  ::CloseHandle(process);
}

// Pipes are opened for overlapped I/O: even a blocking write names an event.
bool write_raw(int handle, const void* bytes, std::size_t size) {
  OVERLAPPED overlapped{};
  overlapped.hEvent = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  DWORD written = 0;
  const bool ok = (::WriteFile(LongToHandle(handle), bytes, static_cast<DWORD>(size), nullptr, &overlapped) ||
                   ::GetLastError() == ERROR_IO_PENDING) &&
                  ::GetOverlappedResult(LongToHandle(handle), &overlapped, &written, TRUE) && written == size;
  ::CloseHandle(overlapped.hEvent);
  return ok;
}

int parent_pid() {
  HANDLE snapshot = ::CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snapshot == INVALID_HANDLE_VALUE) return 0;
  PROCESSENTRY32 entry{};
  entry.dwSize = sizeof entry;
  int parent = 0;
  for (BOOL more = ::Process32First(snapshot, &entry); more; more = ::Process32Next(snapshot, &entry)) {
    if (entry.th32ProcessID == ::GetCurrentProcessId()) parent = static_cast<int>(entry.th32ParentProcessID);
  }
  ::CloseHandle(snapshot);
  return parent;
}

void adopt_orphans() {}

std::optional<int> reap_adopted(int pid) {
  HANDLE process = ::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid));
  if (process == nullptr) return 0;  // gone already, and its exit code with it
  std::optional<int> end;
  if (::WaitForSingleObject(process, 10000) == WAIT_OBJECT_0) {
    DWORD code = 0;
    ::GetExitCodeProcess(process, &code);
    end = mproc::detail::windows::decode_exit_code(code);
  }
  ::CloseHandle(process);
  return end;
}

command_result run_self_with_start_message(const std::string& bytes) {
  SECURITY_ATTRIBUTES inherited{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE read_end = nullptr;
  HANDLE write_end = nullptr;
  BOOST_REQUIRE(::CreatePipe(&read_end, &write_end, &inherited, 1 << 20));
  ::SetHandleInformation(write_end, HANDLE_FLAG_INHERIT, 0);
  DWORD written = 0;
  BOOST_REQUIRE(::WriteFile(write_end, bytes.data(), static_cast<DWORD>(bytes.size()), &written, nullptr));
  ::CloseHandle(write_end);
  scratch_dir dir;
  const std::string err = dir.file("stderr");
  HANDLE err_file = ::CreateFileA(err.c_str(), GENERIC_WRITE, FILE_SHARE_READ, &inherited, CREATE_ALWAYS, 0, nullptr);
  BOOST_REQUIRE(err_file != INVALID_HANDLE_VALUE);
  char self[MAX_PATH];
  ::GetModuleFileNameA(nullptr, self, MAX_PATH);
  std::string line = "\"";
  line.append(self).append("\" --mproc-spawn=").append(std::to_string(HandleToLong(read_end)));
  STARTUPINFOA startup{};
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = ::GetStdHandle(STD_INPUT_HANDLE);
  startup.hStdOutput = ::GetStdHandle(STD_OUTPUT_HANDLE);
  startup.hStdError = err_file;
  PROCESS_INFORMATION info{};
  BOOST_REQUIRE(::CreateProcessA(self, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &startup, &info));
  ::CloseHandle(read_end);
  ::CloseHandle(err_file);
  ::WaitForSingleObject(info.hProcess, INFINITE);
  DWORD code = 0;
  ::GetExitCodeProcess(info.hProcess, &code);
  ::CloseHandle(info.hProcess);
  ::CloseHandle(info.hThread);
  return {mproc::detail::windows::decode_exit_code(code), read_file(err)};
}

std::vector<int> open_inheritable_descriptors() {
  SECURITY_ATTRIBUTES inherited{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE event = ::CreateEventW(&inherited, TRUE, TRUE, nullptr);  // manual reset, signalled
  BOOST_REQUIRE(event != nullptr);
  return {static_cast<int>(HandleToLong(event))};
}

// A handle value the child did not inherit is invalid there, or names some
// other object, which is not a signalled event of the parent's.
std::string descriptors_beyond_stdio(const std::vector<int>& parent_opened) {
  int inherited = 0;
  std::string details;
  for (int value : parent_opened) {
    if (::WaitForSingleObject(LongToHandle(value), 0) == WAIT_OBJECT_0) {
      ++inherited;
      details += std::to_string(value) + " ";
    }
  }
  return std::to_string(inherited) + " " + details;
}

void close_descriptors(const std::vector<int>& descriptors) {
  for (int value : descriptors) ::CloseHandle(LongToHandle(value));
}

bool shared_memory_exists(const std::string& name) {
  HANDLE section = ::OpenFileMappingA(FILE_MAP_READ, FALSE, name.c_str());
  if (section == nullptr) return false;
  ::CloseHandle(section);
  return true;
}

std::optional<unsigned> shared_memory_permissions(const std::string&) { return std::nullopt; }

namespace {

// NtSuspendProcess/NtResumeProcess: the one call that stops every thread of
// another process (what debuggers and Process Explorer use).
void call_ntdll(const char* function, int pid) {
  using process_call = LONG(NTAPI*)(HANDLE);
  auto call = reinterpret_cast<process_call>(
      reinterpret_cast<void*>(::GetProcAddress(::GetModuleHandleA("ntdll.dll"), function)));
  HANDLE process = ::OpenProcess(PROCESS_SUSPEND_RESUME, FALSE, static_cast<DWORD>(pid));
  BOOST_REQUIRE(call != nullptr && process != nullptr);
  call(process);
  ::CloseHandle(process);
}

}  // namespace

void suspend_process(int pid) { call_ntdll("NtSuspendProcess", pid); }
void resume_process(int pid) { call_ntdll("NtResumeProcess", pid); }

void lead_process_group() {}
void kill_process_group(int leader) { kill_process(leader); }
void become_terminal_program() {}

namespace {

BOOL WINAPI swallow_ctrl_c(DWORD) { return TRUE; }

}  // namespace

// Ctrl-C is a console's event on Windows: it reaches every process attached to
// the console, which the program and its children share with this test. The
// test swallows its own copy (a handler, not "ignore", which children inherit).
void interrupt_process_group(int) {
  ::SetConsoleCtrlHandler(swallow_ctrl_c, TRUE);
  BOOST_REQUIRE_MESSAGE(::GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0),
                        "no console to send Ctrl-C in: run this case in one (under Wine: with a terminal as input)");
}

// What process::interrupt() does, for a process this test did not start.
void interrupt_process(int pid) {
  mproc::detail::windows::unique_handle process(
      ::OpenProcess(SYNCHRONIZE | PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, static_cast<DWORD>(pid)));
  BOOST_REQUIRE_MESSAGE(process.get() != nullptr, "cannot open process " << pid);
  mproc::detail::windows::waited_child(std::move(process), pid).interrupt();
}
std::optional<std::string> make_memory_cgroup(std::uint64_t) { return std::nullopt; }
void enter_cgroup(const std::string&) {}
bool remove_cgroup(const std::string&) { return false; }

}  // namespace mproc::test
