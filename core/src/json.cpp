// SPDX-License-Identifier: Apache-2.0
#include "oidc/json.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>
#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/memory_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value_stack.hpp>

namespace oidc {
namespace {
namespace json = boost::json;

// The duplicate-member check of the building handler below: records the member names of every
// open object in an arena and reports a duplicate when the object closes (sorting its names:
// O(n log n) however they are chosen). Small documents (every JOSE header) never touch the heap.
struct duplicate_check_handler {
  struct key_ref {
    std::size_t offset;
    std::size_t size;
  };
  boost::container::small_vector<char, 512> arena;  // every open object's names, back to back
  boost::container::small_vector<key_ref, 32> keys;
  struct open_object {
    std::size_t first_key;     // index into keys
    std::size_t arena_offset;  // where its names start
  };
  boost::container::small_vector<open_object, 8> open_objects;
  std::size_t partial_start = 0;
  bool in_key = false;
  bool duplicate = false;

  std::string_view name(const key_ref& k) const noexcept {
    return {arena.data() + k.offset, k.size};
  }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_objects.push_back({keys.size(), arena.size()});
    return true;
  }
  bool on_object_end(std::size_t, json::error_code& ec) {
    const open_object closing = open_objects.back();
    open_objects.pop_back();
    const auto first = keys.begin() + static_cast<std::ptrdiff_t>(closing.first_key);
    std::sort(first, keys.end(),
              [this](const key_ref& a, const key_ref& b) { return name(a) < name(b); });
    const auto dup = std::adjacent_find(
        first, keys.end(),
        [this](const key_ref& a, const key_ref& b) { return name(a) == name(b); });
    if (dup != keys.end()) {
      duplicate = true;
      ec = json::error::syntax;
      return false;
    }
    arena.resize(closing.arena_offset);
    keys.erase(first, keys.end());
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (!in_key) partial_start = arena.size(), in_key = true;
    arena.insert(arena.end(), s.begin(), s.end());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    on_key_part(s, 0, ec);
    keys.push_back({partial_start, arena.size() - partial_start});
    in_key = false;
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

// Caps the bytes a document may hold (std::bad_alloc beyond, which parse_json maps to
// json_too_large) and hands them out from blocks freed all at once with the document. Parsed
// documents are read, not edited; one aligned allocation per member and string, as before, was
// a tenth of /api/verify's CPU (docs/benchmarks.md). Small documents (a token's header and
// payload) fit in the inline block: one allocation, the resource itself.
class bounded_arena final : public json::memory_resource {
 public:
  explicit bounded_arena(std::size_t cap) noexcept : cap_(cap) {}
  ~bounded_arena() override {
    while (blocks_ != nullptr) {
      block* b = blocks_;
      blocks_ = b->next;
      ::operator delete(b);
    }
  }
  bounded_arena(const bounded_arena&) = delete;
  bounded_arena& operator=(const bounded_arena&) = delete;

 private:
  struct block {
    block* next;
  };

  void* do_allocate(std::size_t n, std::size_t align) override {
    if (n > cap_ - live_) throw std::bad_alloc();
    void* p = take(n, align);
    if (p == nullptr) {
      grow(n + align);
      p = take(n, align);
      if (p == nullptr) throw std::bad_alloc();
    }
    live_ += n;
    return p;
  }
  // Live bytes stay capped as before; their memory returns with the arena.
  void do_deallocate(void*, std::size_t n, std::size_t) override { live_ -= std::min(n, live_); }
  bool do_is_equal(const memory_resource& other) const noexcept override { return this == &other; }

  void* take(std::size_t n, std::size_t align) noexcept {
    void* p = cursor_;
    std::size_t space = static_cast<std::size_t>(end_ - cursor_);
    if (std::align(align, n, p, space) == nullptr) return nullptr;
    cursor_ = static_cast<char*>(p) + n;
    return p;
  }
  void grow(std::size_t need) {
    const std::size_t size = std::max(next_block_, need + sizeof(block));
    auto* b = static_cast<block*>(::operator new(size));
    b->next = blocks_;
    blocks_ = b;
    cursor_ = reinterpret_cast<char*>(b + 1);
    end_ = reinterpret_cast<char*>(b) + size;
    next_block_ = std::min<std::size_t>(next_block_ * 2, 256 * 1024);
  }

  std::size_t cap_;
  std::size_t live_ = 0;
  block* blocks_ = nullptr;
  std::size_t next_block_ = 8 * 1024;
  alignas(std::max_align_t) char inline_[2048];
  char* cursor_ = inline_;
  char* end_ = inline_ + sizeof(inline_);
};

// Builds the document and checks it in the same pass: the duplicate-member check of the base
// handler, then the value stack that Boost.JSON's own parser uses. (A validation pass before
// json::parse read every token twice: a tenth of /api/verify's JSON work, docs/benchmarks.md.)
struct building_handler : duplicate_check_handler {
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();

  building_handler(unsigned char* temp, std::size_t temp_size)
      : stack(json::storage_ptr(), temp, temp_size) {}

  json::value_stack stack;

  bool on_array_end(std::size_t n, json::error_code&) {
    stack.push_array(n);
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code& ec) {
    if (!duplicate_check_handler::on_object_end(n, ec)) return false;
    stack.push_object(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t n, json::error_code& ec) {
    duplicate_check_handler::on_key_part(s, n, ec);
    stack.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t n, json::error_code& ec) {
    duplicate_check_handler::on_key(s, n, ec);
    stack.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack.push_string(s);
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return true;
  }
};
}  // namespace

result<json::value> parse_json(std::string_view text, const json_limits& limits,
                               json::storage_ptr storage) {
  if (text.size() > limits.max_bytes) return auth_error::json_too_large;
  try {
    json::parse_options opt;
    opt.max_depth = limits.max_depth;
    // The parser's working stack starts here; larger documents continue on the heap.
    std::array<unsigned char, 2048> temp;
    json::basic_parser<building_handler> p(opt, temp.data(), temp.size());
    p.handler().stack.reset(std::move(storage));
    json::error_code ec;
    const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
    if (p.handler().duplicate) return auth_error::json_duplicate_member;
    if (ec == json::error::too_deep) return auth_error::json_too_deep;
    if (ec || n != text.size()) return auth_error::json_invalid;
    return p.handler().stack.release();
  } catch (const std::bad_alloc&) {
    return auth_error::json_too_large;
  }
}

result<json::value> parse_json(std::string_view text, const json_limits& limits) {
  const std::size_t cap = limits.max_memory ? limits.max_memory : 8 * limits.max_bytes + 4096;
  return parse_json(text, limits, json::make_shared_resource<bounded_arena>(cap));
}

result<json::object> parse_json_object(std::string_view text, const json_limits& limits,
                                       json::storage_ptr storage) {
  auto v = parse_json(text, limits, std::move(storage));
  if (!v) return v.error();
  if (!v->is_object()) return auth_error::json_invalid;
  return std::move(v->get_object());
}

result<json::object> parse_json_object(std::string_view text, const json_limits& limits) {
  auto v = parse_json(text, limits);
  if (!v) return v.error();
  if (!v->is_object()) return auth_error::json_invalid;
  return std::move(v->get_object());
}

void append_json_string_content(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto plain = [](char c) {
    return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
  };
  // Runs of bytes that need no escape are appended whole: one append per run, not per byte.
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p != end) {
    const char* run = p;
    while (p != end && plain(*p))
      ++p;
    out.append(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    const auto u = static_cast<unsigned char>(*p++);
    if (u == '"' || u == '\\') {
      const char escaped[] = {'\\', static_cast<char>(u)};
      out.append(escaped, sizeof escaped);
    } else {
      const char escaped[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
      out.append(escaped, sizeof escaped);
    }
  }
}

const json::string* find_string(const json::object& o, std::string_view key) noexcept {
  const auto* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v ? v->if_string() : nullptr;
}

std::optional<std::int64_t> find_int64(const json::object& o, std::string_view key) noexcept {
  const auto* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (!v) return std::nullopt;
  if (const auto* i = v->if_int64()) return *i;
  if (const auto* u = v->if_uint64(); u && *u <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(*u);
  return std::nullopt;
}

}  // namespace oidc
