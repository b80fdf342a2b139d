// A small JSON value with a strict parser and a compact writer, enough for
// QMP (objects, arrays, strings, integers, booleans, null). Hand-written so
// the engine needs no JSON library beyond GLib (Debian's json-glib would be a
// new dependency for a few hundred bytes of protocol per command).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace arrow {

class JsonValue {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Members = std::vector<std::pair<std::string, JsonValue>>;  // insertion order kept

  JsonValue() = default;
  static JsonValue boolean(bool b);
  static JsonValue number(int64_t n);
  static JsonValue number_double(double d);
  static JsonValue string(std::string s);
  static JsonValue array(std::vector<JsonValue> items = {});
  static JsonValue object(Members members = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool as_bool(bool fallback = false) const { return kind_ == Kind::Bool ? bool_ : fallback; }
  int64_t as_int(int64_t fallback = 0) const { return kind_ == Kind::Number ? int_ : fallback; }
  double as_double(double fallback = 0) const { return kind_ == Kind::Number ? double_ : fallback; }
  const std::string& as_string() const { return string_; }  // empty unless a String
  const std::vector<JsonValue>& items() const { return items_; }
  const Members& members() const { return members_; }

  // The member named KEY of an object, or a shared null value.
  const JsonValue& operator[](std::string_view key) const;
  bool has(std::string_view key) const;
  JsonValue& set(std::string key, JsonValue value);  // appends or replaces; returns *this

  std::string to_string() const;  // compact, no newlines

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  Members members_;
};

// Parses exactly one JSON value (surrounding whitespace allowed). Errors are
// VIR_ERR_INTERNAL_ERROR naming the byte offset; nesting is limited to 64.
Result<JsonValue> json_parse(std::string_view text);

}  // namespace arrow
