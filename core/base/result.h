// A small result type for the data path, where exceptions are not used. Errors are closed enums
// (or negative errno values) chosen by each layer; callers must look at them ([[nodiscard]]).
#pragma once

#include <utility>
#include <variant>

namespace chorus::base {

template <typename T, typename E>
class [[nodiscard]] result {
  public:
    result(T value) : _value(std::in_place_index<0>, std::move(value)) {}
    static result failure(E error) { return result(error, 0); }

    bool ok() const { return _value.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(_value); }
    const T& value() const { return std::get<0>(_value); }
    E error() const { return std::get<1>(_value); }

  private:
    result(E error, int) : _value(std::in_place_index<1>, error) {}
    std::variant<T, E> _value;
};

}  // namespace chorus::base
