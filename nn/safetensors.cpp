#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/autograd/grad_mode.h"
#include "core/printable.h"

namespace ember::nn {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; so is every host ember supports");

namespace {

// The safetensors library refuses headers above 100 MB; so do we (a corrupt length field
// must not make us allocate gigabytes).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::Int32: return "I32";
    case DType::UInt8: return "U8";
    case DType::BFloat16: return "BF16";
  }
  return "?";
}

bool parse_dtype(const std::string& name, DType* dtype) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::UInt8, DType::BFloat16}) {
    if (name == safetensors_dtype(d)) {
      *dtype = d;
      return true;
    }
  }
  return false;
}

[[noreturn]] void fail_errno(const std::string& path, const char* what) {
  EMBER_FAIL("{}: {} failed: {}", printable(path), what, std::strerror(errno));
}

// Writes all of `data`, retrying short writes.
void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t written = ::write(fd, p, n);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail_errno(path, "write");
    }
    p += written;
    n -= static_cast<size_t>(written);
  }
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// One header entry, validated against its own dtype and shape.
// `where` is the file's path made printable; every quote of the file's own text goes through
// printable() too (names, JSON fragments, the parser's messages).
Entry parse_entry(const std::string& where, const std::string& name, const nlohmann::json& info) {
  auto bad = [&](const std::string& why) {
    EMBER_FAIL("{}: tensor '{}' in the header: {}", where, printable(name), why);
  };
  auto quote = [](const nlohmann::json& j) { return printable(j.dump()); };
  if (!info.is_object()) bad("not a JSON object");
  Entry e;
  e.name = name;
  const auto dtype = info.find("dtype");
  const auto shape = info.find("shape");
  const auto offsets = info.find("data_offsets");
  if (dtype == info.end() || shape == info.end() || offsets == info.end())
    bad("needs the fields dtype, shape and data_offsets");
  if (!dtype->is_string()) bad("dtype is not a string");
  if (!parse_dtype(dtype->get<std::string>(), &e.dtype))
    bad(fmt::format("unsupported dtype {} (ember reads F32, F64, I64, I32, U8, BF16)", quote(*dtype)));
  if (!shape->is_array()) bad("shape is not an array");
  uint64_t numel = 1;
  for (const auto& size : *shape) {
    if (!size.is_number_unsigned())
      bad(fmt::format("shape {} has a size that is not a non-negative integer", quote(*shape)));
    const uint64_t s = size.get<uint64_t>();
    if (s > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, s, &numel))
      bad(fmt::format("shape {} is too large", quote(*shape)));
    e.shape.push_back(static_cast<int64_t>(s));
  }
  if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    bad(fmt::format("data_offsets {} is not a pair of non-negative integers", quote(*offsets)));
  e.begin = (*offsets)[0].get<uint64_t>();
  e.end = (*offsets)[1].get<uint64_t>();
  if (e.end < e.begin) bad(fmt::format("data_offsets [{}, {}] end before they begin", e.begin, e.end));
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(e.dtype)), &bytes))
    bad(fmt::format("shape {} is too large", quote(*shape)));
  if (e.end - e.begin != bytes)
    bad(fmt::format("dtype {} and shape {} need {} bytes but data_offsets [{}, {}] hold {}", dtype_name(e.dtype),
                    shape_str(e.shape), bytes, e.begin, e.end, e.end - e.begin));
  return e;
}

nlohmann::json parse_header(const std::string& where, const std::string& text) {
  // nlohmann keeps the last of duplicate keys silently; a parser callback catches them.
  std::set<std::string> names;
  std::string duplicate;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      if (!names.insert(parsed.get<std::string>()).second && duplicate.empty()) duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, callback);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("{}: the header is not valid JSON ({})", where, printable(e.what()));
  }
  EMBER_CHECK(header.is_object(), "{}: the header is not a JSON object", where);
  EMBER_CHECK(duplicate.empty(), "{}: the header names '{}' twice", where, printable(duplicate));
  return header;
}

// The header's text, after the 8-byte little-endian length that says how long it is.
std::string read_header(std::ifstream& in, uint64_t file_size, const std::string& where) {
  EMBER_CHECK(file_size >= 8, "{}: not a safetensors file: {} bytes, too short for the 8-byte header length", where,
              file_size);
  uint8_t length_bytes[8];
  in.read(reinterpret_cast<char*>(length_bytes), 8);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  EMBER_CHECK(header_size > 0 && header_size <= kMaxHeaderBytes,
              "{}: not a safetensors file: header length {} is not in (0, {}]", where, header_size, kMaxHeaderBytes);
  EMBER_CHECK(header_size <= file_size - 8,
              "{}: the file is truncated: the header claims {} bytes but only {} follow the length field", where,
              header_size, file_size - 8);
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  EMBER_CHECK(in.good(), "{}: reading the header failed", where);
  return text;
}

SafetensorsMetadata parse_metadata(const std::string& where, const nlohmann::json& value) {
  EMBER_CHECK(value.is_object(), "{}: __metadata__ is not a JSON object", where);
  SafetensorsMetadata metadata;
  for (const auto& [key, text] : value.items()) {
    EMBER_CHECK(text.is_string(), "{}: metadata '{}' is not a string", where, printable(key));
    metadata[key] = text.get<std::string>();
  }
  return metadata;
}

// The tensors must tile the data section: sorted by offset, each starts where the one before
// ends, and the last ends at the end of the file (so a truncated file is caught).
void check_tiling(const std::string& where, std::vector<Entry>& entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    EMBER_CHECK(e.end <= data_size,
                "{}: the file is truncated: tensor '{}' needs data bytes [{}, {}) but the data section has {}", where,
                printable(e.name), e.begin, e.end, data_size);
    EMBER_CHECK(e.begin >= expected, "{}: tensors '{}' and '{}' overlap in the data section", where,
                previous ? printable(previous->name) : "", printable(e.name));
    EMBER_CHECK(e.begin == expected, "{}: {} unused bytes before tensor '{}' in the data section", where,
                e.begin - expected, printable(e.name));
    expected = e.end;
    previous = &e;
  }
  EMBER_CHECK(expected == data_size, "{}: {} bytes after the last tensor's data (corrupt or not a safetensors file)",
              where, data_size - expected);
}

}  // namespace

const Tensor* SafetensorsContents::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const SafetensorsMetadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata)
    EMBER_CHECK(is_valid_utf8(key) && is_valid_utf8(value), "{}: metadata '{}' is not UTF-8 text", printable(path),
                printable(key));
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  uint64_t offset = 0;
  {
    NoGradGuard no_grad;
    for (const auto& [name, t] : tensors) {
      EMBER_CHECK(!name.empty() && name != "__metadata__" && is_valid_utf8(name),
                  "{}: invalid tensor name '{}' (names are non-empty UTF-8, not __metadata__)", printable(path),
                  printable(name));
      EMBER_CHECK(!header.contains(name), "{}: the tensor name '{}' is given twice", printable(path), printable(name));
      EMBER_CHECK(t.defined(), "{}: tensor '{}' is undefined", printable(path), printable(name));
      host.push_back(t.detach().to(Device::cpu()).contiguous());
      const uint64_t bytes = host.back().nbytes();
      header[name] = {{"dtype", safetensors_dtype(t.dtype())}, {"shape", t.sizes()}, {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
    }
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) fail_errno(path, "creating a temporary file beside it");
  try {
    write_all(fd, length, sizeof(length), path);
    write_all(fd, text.data(), text.size(), path);
    for (const Tensor& t : host)
      if (t.nbytes() > 0) write_all(fd, t.raw_data(), t.nbytes(), path);
    if (::fsync(fd) != 0) fail_errno(path, "fsync");
    ::fchmod(fd, 0644);  // mkstemp makes it 0600; a checkpoint is an ordinary file
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail_errno(path, "close");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    errno = err;
    fail_errno(path, "rename of the temporary file");
  }
  // Make the rename itself durable.
  const int dir = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

SafetensorsContents load_safetensors(const std::string& path) {
  const std::string where = printable(path);
  std::ifstream in(path, std::ios::binary);
  EMBER_CHECK(in.good(), "{}: cannot open: {}", where, std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff file_size_signed = in.tellg();
  EMBER_CHECK(file_size_signed >= 0, "{}: cannot determine the file size", where);
  const uint64_t file_size = static_cast<uint64_t>(file_size_signed);
  in.seekg(0);
  const std::string text = read_header(in, file_size, where);
  const nlohmann::json header = parse_header(where, text);

  SafetensorsContents contents;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      contents.metadata = parse_metadata(where, value);
      continue;
    }
    entries.push_back(parse_entry(where, key, value));
  }
  check_tiling(where, entries, file_size - 8 - text.size());
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (t.nbytes() > 0) {
      in.seekg(static_cast<std::streamoff>(8 + text.size() + e.begin));
      in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
      EMBER_CHECK(in.good(), "{}: reading tensor '{}' failed", where, printable(e.name));
    }
    contents.tensors.emplace_back(e.name, t);
  }
  return contents;
}

}  // namespace ember::nn
