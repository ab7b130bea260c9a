#include "tools/cli/top_terminal.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace troupe::cli::top {
namespace {

constexpr char enter_screen[] = "\x1b[?1049h\x1b[?25l";  // alternate screen, cursor hidden
constexpr char leave_screen[] = "\x1b[?25h\x1b[?1049l";

// What the signal handler needs: set before the handlers are installed.
struct termios saved_termios;
volatile std::sig_atomic_t terminal_saved = 0;
constexpr int restored_signals[] = {SIGINT, SIGTERM, SIGHUP};

void write_all(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Async-signal-safe: tcsetattr, write, signal and raise only.
void restore_and_reraise(int sig) {
  if (terminal_saved) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    write_all(leave_screen, sizeof leave_screen - 1);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

raw_terminal::raw_terminal() {
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO)) return;
  // A background job (`troupe top &`, or under `timeout` without --foreground) would be stopped
  // by SIGTTOU at tcsetattr and again when it restores: it prints plain lines instead.
  if (::tcgetpgrp(STDIN_FILENO) != ::getpgrp()) return;
  if (::tcgetattr(STDIN_FILENO, &saved_termios) != 0) return;
  terminal_saved = 1;
  for (int sig : restored_signals)
    std::signal(sig, restore_and_reraise);
  struct termios raw = saved_termios;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C still interrupts
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  write_all(enter_screen, sizeof enter_screen - 1);
  active_ = true;
}

raw_terminal::~raw_terminal() {
  restore();
}

void raw_terminal::restore() {
  if (!active_) return;
  ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
  write_all(leave_screen, sizeof leave_screen - 1);
  terminal_saved = 0;
  for (int sig : restored_signals)
    std::signal(sig, SIG_DFL);
  active_ = false;
}

std::optional<char> raw_terminal::read_key(std::chrono::milliseconds timeout) {
  struct pollfd fd = {STDIN_FILENO, POLLIN, 0};
  if (::poll(&fd, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char key = 0;
  if (::read(STDIN_FILENO, &key, 1) == 1) return key;
  ::poll(nullptr, 0, static_cast<int>(timeout.count()));  // stdin closed: wait, do not spin
  return std::nullopt;
}

void raw_terminal::draw(const std::vector<std::string>& lines) {
  std::string frame = "\x1b[H\x1b[2J";  // home, clear
  for (const auto& line : lines)
    frame += line + "\n";  // the terminal's output processing (kept on) adds the \r
  write_all(frame.data(), frame.size());
}

int raw_terminal::width() const {
  struct winsize ws;
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace troupe::cli::top
