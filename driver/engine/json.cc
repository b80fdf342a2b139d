// JSON parsing and writing for the QMP client (see json.h).
#include "driver/engine/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/i18n.h"

namespace arrow {

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::number(int64_t n) {
  JsonValue v;
  v.kind_ = Kind::Number;
  v.int_ = n;
  v.double_ = static_cast<double>(n);
  return v;
}

JsonValue JsonValue::number_double(double d) {
  JsonValue v = number(static_cast<int64_t>(d));
  v.double_ = d;
  return v;
}

JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.kind_ = Kind::String;
  v.string_ = std::move(s);
  return v;
}

JsonValue JsonValue::array(std::vector<JsonValue> items) {
  JsonValue v;
  v.kind_ = Kind::Array;
  v.items_ = std::move(items);
  return v;
}

JsonValue JsonValue::object(Members members) {
  JsonValue v;
  v.kind_ = Kind::Object;
  v.members_ = std::move(members);
  return v;
}

const JsonValue& JsonValue::operator[](std::string_view key) const {
  static const JsonValue null_value;
  for (const auto& [k, v] : members_)
    if (k == key) return v;
  return null_value;
}

bool JsonValue::has(std::string_view key) const {
  for (const auto& m : members_)
    if (m.first == key) return true;
  return false;
}

JsonValue& JsonValue::set(std::string key, JsonValue value) {
  kind_ = Kind::Object;
  for (auto& m : members_) {
    if (m.first == key) {
      m.second = std::move(value);
      return *this;
    }
  }
  members_.emplace_back(std::move(key), std::move(value));
  return *this;
}

namespace {

void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += fmt("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void write_value(std::string& out, const JsonValue& v) {
  switch (v.kind()) {
    case JsonValue::Kind::Null: out += "null"; return;
    case JsonValue::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case JsonValue::Kind::Number:
      if (v.as_double() == static_cast<double>(v.as_int())) {
        out += std::to_string(v.as_int());
      } else {
        out += fmt("%.17g", v.as_double());
      }
      return;
    case JsonValue::Kind::String: write_string(out, v.as_string()); return;
    case JsonValue::Kind::Array: {
      out += '[';
      for (size_t i = 0; i < v.items().size(); i++) {
        if (i) out += ',';
        write_value(out, v.items()[i]);
      }
      out += ']';
      return;
    }
    case JsonValue::Kind::Object: {
      out += '{';
      bool first = true;
      for (const auto& [k, m] : v.members()) {
        if (!first) out += ',';
        first = false;
        write_string(out, k);
        out += ':';
        write_value(out, m);
      }
      out += '}';
      return;
    }
  }
}

// Recursive-descent parser over a string_view; pos_ is the next byte.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Result<JsonValue> parse_document() {
    JsonValue v = TRY(parse_value(0));
    skip_ws();
    if (pos_ != s_.size()) return fail();
    return v;
  }

 private:
  Error fail() const {
    return make_error(VIR_ERR_INTERNAL_ERROR, fmt(_("invalid JSON from QEMU at byte %1$zu"), pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) pos_++;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) {
      pos_++;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Result<JsonValue> parse_value(int depth) {
    if (depth > 64) return fail();
    skip_ws();
    if (pos_ >= s_.size()) return fail();
    const char c = s_[pos_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') {
      std::string s = TRY(parse_string());
      return JsonValue::string(std::move(s));
    }
    if (literal("null")) return JsonValue();
    if (literal("true")) return JsonValue::boolean(true);
    if (literal("false")) return JsonValue::boolean(false);
    return parse_number();
  }

  Result<JsonValue> parse_object(int depth) {
    pos_++;
    JsonValue obj = JsonValue::object();
    if (eat('}')) return obj;
    do {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') return fail();
      std::string key = TRY(parse_string());
      if (!eat(':')) return fail();
      JsonValue value = TRY(parse_value(depth + 1));
      obj.set(std::move(key), std::move(value));
    } while (eat(','));
    if (!eat('}')) return fail();
    return obj;
  }

  Result<JsonValue> parse_array(int depth) {
    pos_++;
    std::vector<JsonValue> items;
    if (eat(']')) return JsonValue::array();
    do {
      JsonValue item = TRY(parse_value(depth + 1));
      items.push_back(std::move(item));
    } while (eat(','));
    if (!eat(']')) return fail();
    return JsonValue::array(std::move(items));
  }

  Result<JsonValue> parse_number() {
    const size_t start = pos_;
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '-') pos_++;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c >= '0' && c <= '9') {
        pos_++;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        integral = false;
        pos_++;
      } else {
        break;
      }
    }
    const std::string text(s_.substr(start, pos_ - start));
    if (text.empty() || text == "-") return fail();
    char* end = nullptr;
    if (integral) {
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (*end == '\0') return JsonValue::number(n);
    }
    const double d = std::strtod(text.c_str(), &end);
    if (*end != '\0' || !std::isfinite(d)) return fail();
    return JsonValue::number_double(d);
  }

  Result<unsigned> parse_hex4() {
    if (pos_ + 4 > s_.size()) return fail();
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return fail();
    }
    return v;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  Result<unsigned> parse_escaped_codepoint() {
    unsigned cp = TRY(parse_hex4());
    if (cp >= 0xd800 && cp < 0xdc00) {
      if (!literal("\\u")) return fail();
      const unsigned low = TRY(parse_hex4());
      if (low < 0xdc00 || low >= 0xe000) return fail();
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    return cp;
  }

  Result<std::string> parse_string() {
    pos_++;  // opening quote
    std::string out;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return fail();
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return fail();
      switch (const char e = s_[pos_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = TRY(parse_escaped_codepoint());
          put_utf8(out, cp);
          break;
        }
        default: return fail();
      }
    }
    return fail();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::string JsonValue::to_string() const {
  std::string out;
  write_value(out, *this);
  return out;
}

Result<JsonValue> json_parse(std::string_view text) { return Parser(text).parse_document(); }

}  // namespace arrow
