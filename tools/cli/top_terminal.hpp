#pragma once
// The terminal of `troupe top`: raw mode (keys arrive without Enter and are not echoed) on the
// alternate screen, both undone by the destructor and, for SIGINT / SIGTERM / SIGHUP, by a
// signal handler that restores the terminal and then lets the signal take its default action.
//
// Thread: one raw_terminal at a time, used from the thread that made it.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace troupe::cli::top {

class raw_terminal {
 public:
  // Enters raw mode when stdin and stdout are both terminals; else does nothing (active() false).
  raw_terminal();
  ~raw_terminal();
  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;

  bool active() const { return active_; }
  // Waits up to `timeout` for a key press; the key, or nullopt when none came.
  std::optional<char> read_key(std::chrono::milliseconds timeout);
  // Replaces the screen with `lines`.
  void draw(const std::vector<std::string>& lines);
  // Columns of the terminal (80 when unknown).
  int width() const;

 private:
  void restore();
  bool active_ = false;
};

}  // namespace troupe::cli::top
