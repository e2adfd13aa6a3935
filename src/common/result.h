#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace keel {

// An expected failure: a module's error code and a message a user can act on
// ("what happened, what to do"). Each module defines its own error enum `E`.
template <typename E>
struct Failure {
  E code;
  std::string message;
};

template <typename E>
Failure<E> fail(E code, std::string message) {
  return Failure<E>{code, std::move(message)};
}

// Result<T, E>: a value or a Failure<E>. Expected failures travel as values, never as
// exceptions (conventions.md, rule 3). Result<void, E> carries only success or failure.
template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  // A failure with a value-initialized code: Asio's co_spawn default-constructs completion
  // values on its exception path (where the exception, not the value, reaches the caller).
  Result() : v_(std::in_place_index<1>, Failure<E>{E{}, "no result"}) {}
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}               // NOLINT implicit
  Result(Failure<E> failure) : v_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Failure<E>& failure() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  E code() const { return failure().code; }
  const std::string& message() const { return failure().message; }

 private:
  std::variant<T, Failure<E>> v_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(Failure<E> failure) : failure_(std::move(failure)), ok_(false) {}  // NOLINT implicit

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Failure<E>& failure() const {
    assert(!ok_);
    return failure_;
  }
  E code() const { return failure_.code; }
  const std::string& message() const { return failure_.message; }

 private:
  Failure<E> failure_{};
  bool ok_ = true;
};

}  // namespace keel
