#include "cnnc/Safetensors.h"

#include "cnnc/FileIO.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

namespace cnnc::rt {

namespace {

using json = nlohmann::json;

// The safetensors package refuses larger headers too.
const uint64_t kMaxHeaderSize = 100'000'000;
const char kMetadataKey[] = "__metadata__";

// Parses JSON, reporting duplicate keys (nlohmann keeps the last silently).
// Exceptions stay inside this function: the API reports Errors.
Expected<json> parseHeaderJson(const std::string &text,
                               const std::string &path) {
  std::vector<std::set<std::string>> keysPerObject;
  std::string duplicate;
  json::parser_callback_t callback = [&](int, json::parse_event_t event,
                                         json &parsed) {
    switch (event) {
    case json::parse_event_t::object_start:
      keysPerObject.emplace_back();
      break;
    case json::parse_event_t::object_end:
      if (!keysPerObject.empty())
        keysPerObject.pop_back();
      break;
    case json::parse_event_t::key:
      if (!keysPerObject.empty() && parsed.is_string() &&
          !keysPerObject.back().insert(parsed.get<std::string>()).second &&
          duplicate.empty())
        duplicate = parsed.get<std::string>();
      break;
    default:
      break;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, callback);
  } catch (const json::exception &e) {
    return Error(path + ": the safetensors header is not valid JSON (" +
                 std::string(e.what()) + ")");
  }
  if (!duplicate.empty())
    return Error(path + ": the safetensors header names '" + duplicate +
                 "' twice");
  return header;
}

Expected<DType> parseDType(const json &value, const std::string &where) {
  if (!value.is_string())
    return Error(where + " has no string 'dtype'");
  std::string name = value.get<std::string>();
  if (name == "F32")
    return DType::F32;
  if (name == "I64")
    return DType::I64;
  return Error(where + " has dtype " + name + "; cnnc reads F32 and I64");
}

Expected<Shape> parseShape(const json &value, const std::string &where) {
  if (!value.is_array())
    return Error(where + " has no 'shape' list");
  Shape shape;
  for (const json &d : value) {
    if (!d.is_number_unsigned())
      return Error(
          where +
          " has a shape entry that is not a non-negative integer: " + d.dump());
    uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX))
      return Error(where + " has a dimension that is too large");
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

} // namespace

Expected<SafetensorsFile> parseSafetensors(std::string_view bytes,
                                           const std::string &path) {
  if (bytes.size() < 8)
    return Error(path + ": too short to be a safetensors file (" +
                 std::to_string(bytes.size()) + " bytes)");
  uint64_t headerLen = 0;
  for (int i = 0; i < 8; ++i)
    headerLen |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i]))
                 << (8 * i);
  if (headerLen > kMaxHeaderSize)
    return Error(path + ": safetensors header length " +
                 std::to_string(headerLen) +
                 " is absurd; the file is corrupt or not a safetensors file");
  if (headerLen > bytes.size() - 8)
    return Error(path + ": safetensors header length " +
                 std::to_string(headerLen) + " exceeds the file size (" +
                 std::to_string(bytes.size()) +
                 " bytes); the file is truncated or not a safetensors file");

  Expected<json> header =
      parseHeaderJson(std::string(bytes.substr(8, headerLen)), path);
  if (!header)
    return header.error();
  if (!header->is_object())
    return Error(path + ": the safetensors header is not a JSON object");

  SafetensorsFile file;
  std::vector<Entry> entries;
  const uint64_t dataSize = bytes.size() - 8 - headerLen;
  for (const auto &[name, info] : header->items()) {
    if (name == kMetadataKey) {
      if (!info.is_object())
        return Error(path + ": '__metadata__' is not a JSON object");
      for (const auto &[key, value] : info.items()) {
        if (!value.is_string())
          return Error(path + ": '__metadata__' entry '" + key +
                       "' is not a string");
        file.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    std::string where = path + ": tensor '" + name + "'";
    if (!info.is_object())
      return Error(where + " is not described by a JSON object");
    Entry e;
    e.name = name;
    Expected<DType> dtype = parseDType(info.value("dtype", json()), where);
    if (!dtype)
      return dtype.error();
    e.dtype = *dtype;
    Expected<Shape> shape = parseShape(info.value("shape", json()), where);
    if (!shape)
      return shape.error();
    e.shape = *shape;
    const json offsets = info.value("data_offsets", json());
    if (!offsets.is_array() || offsets.size() != 2 ||
        !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return Error(where + " has no 'data_offsets' [begin, end]");
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.begin > e.end || e.end > dataSize)
      return Error(where + " has data_offsets [" + std::to_string(e.begin) +
                   ", " + std::to_string(e.end) + "] outside the " +
                   std::to_string(dataSize) + " data bytes of the file");
    Expected<int64_t> count = checkedNumElements(e.shape, e.dtype, where);
    if (!count)
      return count.error();
    uint64_t need = static_cast<uint64_t>(*count) * dtypeSize(e.dtype);
    if (e.end - e.begin != need)
      return Error(where + " of dtype " + dtypeName(e.dtype) + " and shape " +
                   shapeToString(e.shape) + " needs " + std::to_string(need) +
                   " bytes but its data_offsets span " +
                   std::to_string(e.end - e.begin));
    entries.push_back(std::move(e));
  }

  // Like the safetensors package, require the tensors to tile the data
  // exactly: an overlap or a gap means a corrupt or hand-edited file.
  std::vector<const Entry *> byOffset;
  for (const Entry &e : entries)
    byOffset.push_back(&e);
  std::sort(
      byOffset.begin(), byOffset.end(), [](const Entry *a, const Entry *b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
      });
  uint64_t expected = 0;
  const Entry *previous = nullptr;
  for (const Entry *e : byOffset) {
    if (e->begin < expected)
      return Error(path + ": the data of tensors '" + previous->name +
                   "' and '" + e->name + "' overlap");
    if (e->begin > expected)
      return Error(path + ": " + std::to_string(e->begin - expected) +
                   " data bytes before tensor '" + e->name +
                   "' belong to no tensor");
    expected = e->end;
    previous = e;
  }
  if (expected != dataSize)
    return Error(path + ": " + std::to_string(dataSize - expected) +
                 " data bytes at the end of the file belong to no tensor");

  const char *data = bytes.data() + 8 + headerLen;
  for (const Entry &e : entries) {
    Expected<Tensor> tensor =
        Tensor::create(e.dtype, e.shape, path + ": tensor '" + e.name + "'");
    if (!tensor)
      return tensor.error();
    if (tensor->byteSize())
      std::memcpy(tensor->bytes(), data + e.begin, tensor->byteSize());
    file.tensors.emplace(e.name, std::move(*tensor));
  }
  return file;
}

Expected<SafetensorsFile> readSafetensors(const std::string &path) {
  Expected<Bytes> bytes = readFileBytes(path);
  if (!bytes)
    return bytes.error();
  return parseSafetensors(
      {reinterpret_cast<const char *>(bytes->data()), bytes->size()}, path);
}

Expected<SafetensorsLayout>
safetensorsLayout(const TensorMap &tensors,
                  const std::map<std::string, std::string> &metadata,
                  const std::string &path) {
  std::vector<std::pair<const std::string *, const Tensor *>> order;
  for (const auto &[name, tensor] : tensors) {
    if (name.empty() || name == kMetadataKey)
      return Error(path + ": '" + name + "' cannot name a tensor");
    order.emplace_back(&name, &tensor);
  }
  // std::map iterates by name, and stable_sort keeps that order within a dtype.
  std::stable_sort(
      order.begin(), order.end(), [](const auto &a, const auto &b) {
        return dtypeSize(a.second->dtype()) > dtypeSize(b.second->dtype());
      });

  SafetensorsLayout layout;
  json header = json::object(); // keys sorted: nlohmann's object is a std::map
  if (!metadata.empty())
    header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const auto &[name, tensor] : order) {
    json offsets = json::array({offset, offset + tensor->byteSize()});
    header[*name] = json{{"dtype", dtypeName(tensor->dtype())},
                         {"shape", tensor->shape()},
                         {"data_offsets", offsets}};
    offset += tensor->byteSize();
    layout.dataOrder.push_back(tensor);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception &e) {
    // dump() throws on names or metadata that are not valid UTF-8.
    return Error(path + ": cannot write the header: " + std::string(e.what()));
  }
  // Pad with spaces so the data start (8 + length) is 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t len = text.size();
  layout.header.resize(8);
  for (int i = 0; i < 8; ++i)
    layout.header[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  layout.header += text;
  return layout;
}

Status writeSafetensors(const std::string &path, const TensorMap &tensors,
                        const std::map<std::string, std::string> &metadata) {
  Expected<SafetensorsLayout> layout =
      safetensorsLayout(tensors, metadata, path);
  if (!layout)
    return layout.error();
  std::vector<ByteRange> pieces{{layout->header.data(), layout->header.size()}};
  for (const Tensor *tensor : layout->dataOrder)
    pieces.push_back({tensor->bytes(), tensor->byteSize()});
  return writeFileAtomic(path, pieces);
}

} // namespace cnnc::rt
