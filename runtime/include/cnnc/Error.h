// Error handling of the runtime: no exceptions cross its API and no library
// function aborts or exits. A failing function returns an Error whose message
// names the file and, where relevant, the tensor, ready to print to a user.
#ifndef CNNC_ERROR_H
#define CNNC_ERROR_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace cnnc::rt {

// A user-facing error message ("w.safetensors: tensor 'fc.bias' is missing").
class Error {
public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const std::string &message() const { return message_; }

private:
  std::string message_;
};

// Success, or an Error.
class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }
  Status(Error error)
      : error_(std::move(error)) {} // NOLINT: implicit on purpose

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // Only valid when !ok().
  const Error &error() const {
    assert(error_ && "Status::error() on success");
    return *error_;
  }
  const std::string &message() const { return error().message(); }

private:
  Status() = default;
  std::optional<Error> error_;
};

// A value of type T, or an Error.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)) {} // NOLINT: implicit on purpose
  Expected(Error error)
      : error_(std::move(error)) {} // NOLINT: implicit on purpose
  // Lets `return status;` propagate a failed Status from a function returning
  // Expected; `status` must have failed.
  Expected(Status status) : error_(status.error()) {} // NOLINT

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  // Only valid when ok().
  T &value() & {
    assert(value_ && "Expected::value() on error");
    return *value_;
  }
  const T &value() const & {
    assert(value_ && "Expected::value() on error");
    return *value_;
  }
  T &&value() && {
    assert(value_ && "Expected::value() on error");
    return std::move(*value_);
  }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

  // Only valid when !ok().
  const Error &error() const {
    assert(error_ && "Expected::error() on success");
    return *error_;
  }
  const std::string &message() const { return error().message(); }
  Status status() const { return ok() ? Status::success() : Status(error()); }

private:
  std::optional<T> value_;
  std::optional<Error> error_;
};

} // namespace cnnc::rt

#endif // CNNC_ERROR_H
