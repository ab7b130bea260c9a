#pragma once
// troupe::result<T>: a value or an error message (base/: vocabulary types every layer, kernels
// included, may use; it includes nothing of the project). Expected failures (bad files, bad
// requests, "no free KV blocks" where that is not an optional) are values, never exceptions
// crossing an actor boundary.
#include <string>
#include <utility>
#include <variant>

namespace troupe {

struct error {
  std::string message;
};

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  result(error e) : v_(std::move(e)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const std::string& message() const { return std::get<1>(v_).message; }
  const troupe::error& err() const { return std::get<1>(v_); }

 private:
  std::variant<T, troupe::error> v_;
};

// For operations that return nothing but can fail.
struct ok_t {};
using status = result<ok_t>;
inline status ok_status() {
  return ok_t{};
}

}  // namespace troupe
