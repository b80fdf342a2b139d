// The one error model: a [[nodiscard]] Result<T> carrying either a value or a
// libvirt error code with a translated message. Turned into a wire error once,
// at the RPC boundary; never thrown.
#pragma once

#include <libvirt/virterror.h>

#include <string>
#include <utility>
#include <variant>

namespace arrow {

struct Error {
  int code = VIR_ERR_INTERNAL_ERROR;  // a virErrorNumber
  std::string message;                // already translated
};

inline Error make_error(int code, std::string message) { return Error{code, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}         // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }
  void value() const {}

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace arrow

// TRY(expr): evaluates a Result; on error returns the Error from the enclosing
// function (whose return type must be constructible from Error), otherwise
// yields the value. GCC/Clang statement expression.
#define TRY(expr)                                   \
  ({                                                \
    auto try_result_ = (expr);                      \
    if (!try_result_.ok()) return try_result_.error(); \
    std::move(try_result_).value();                 \
  })
