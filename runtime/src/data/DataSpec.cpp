#include "cnnc/data/DataSpec.h"

#include "cnnc/data/Cifar10.h"
#include "cnnc/data/ImageFolder.h"
#include "cnnc/data/Mnist.h"
#include "cnnc/data/NpyDataset.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace cnnc::rt::data {

namespace {

struct KindName {
  const char *name;
  DataKind kind;
};
const KindName kKinds[] = {{"fashion-mnist", DataKind::FashionMnist},
                           {"mnist", DataKind::Mnist},
                           {"cifar10", DataKind::Cifar10},
                           {"npy", DataKind::Npy},
                           {"folder", DataKind::Folder}};

// Levenshtein distance, for "did you mean".
size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] =
          std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string lower(std::string s) {
  for (char &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Error badSpec(const std::string &text, const std::string &problem) {
  return Error("data spec '" + text + "': " + problem + "; expected " +
               dataSpecForms());
}

Expected<int64_t> parseClasses(const std::string &text,
                               const std::string &item) {
  const std::string key = "classes=";
  std::string value = item.substr(key.size());
  int64_t n = 0;
  if (value.empty() || value.size() > 9 ||
      !std::all_of(value.begin(), value.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      }))
    return badSpec(text,
                   "'" + item + "' is not classes=K with K a positive integer");
  n = std::stoll(value);
  if (n < 1)
    return badSpec(text,
                   "'" + item + "' is not classes=K with K a positive integer");
  return n;
}

} // namespace

const char *dataSpecForms() {
  return "fashion-mnist:DIR, mnist:DIR, cifar10:DIR, "
         "npy:IMAGES.npy,LABELS.npy[,classes=K] or folder:DIR";
}

Expected<DataSpec> parseDataSpec(const std::string &text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos)
    return badSpec(text, "no kind before ':'");
  std::string kindText = text.substr(0, colon);
  std::string rest = text.substr(colon + 1);

  DataSpec spec;
  spec.text = text;
  auto it = std::find_if(std::begin(kKinds), std::end(kKinds),
                         [&](const KindName &k) { return kindText == k.name; });
  if (it == std::end(kKinds)) {
    std::string problem = "unknown kind '" + kindText + "'";
    const KindName *best = nullptr;
    size_t bestDistance = 4; // suggest only near misses
    for (const KindName &k : kKinds) {
      size_t dist = editDistance(lower(kindText), k.name);
      if (dist < bestDistance) {
        bestDistance = dist;
        best = &k;
      }
    }
    if (best)
      problem += std::string(" (did you mean '") + best->name + "'?)";
    return badSpec(text, problem);
  }
  spec.kind = it->kind;

  if (spec.kind != DataKind::Npy) {
    if (rest.empty())
      return badSpec(text,
                     std::string("no directory after '") + it->name + ":'");
    spec.dir = rest;
    // "DIR/" and "DIR" name the same directory; keep messages tidy.
    while (spec.dir.size() > 1 && spec.dir.back() == '/')
      spec.dir.pop_back();
    return spec;
  }

  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    size_t comma = rest.find(',', start);
    items.push_back(rest.substr(start, comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  if (items.size() == 3 && items[2].rfind("classes=", 0) == 0) {
    Expected<int64_t> classes = parseClasses(text, items[2]);
    if (!classes)
      return classes.error();
    spec.numClasses = *classes;
    items.pop_back();
  }
  if (items.size() != 2 || items[0].empty() || items[1].empty())
    return badSpec(text, "npy: takes two files, IMAGES.npy,LABELS.npy");
  spec.imagesPath = items[0];
  spec.labelsPath = items[1];
  return spec;
}

Expected<Split> parseSplit(const std::string &text) {
  if (text == "train")
    return Split::Train;
  if (text == "test")
    return Split::Test;
  return Error("unknown split '" + text + "'; expected train or test");
}

bool hasSplits(DataKind kind) {
  return kind != DataKind::Npy && kind != DataKind::Folder;
}

static Expected<Dataset> loadUnchecked(const DataSpec &spec, Split split) {
  switch (spec.kind) {
  case DataKind::FashionMnist:
    return loadMnist(spec.dir, split, MnistVariant::FashionMnist);
  case DataKind::Mnist:
    return loadMnist(spec.dir, split, MnistVariant::Mnist);
  case DataKind::Cifar10:
    return loadCifar10(spec.dir, split);
  case DataKind::Npy:
    return loadNpyDataset(spec.imagesPath, spec.labelsPath, spec.numClasses);
  case DataKind::Folder:
    return loadImageFolder(spec.dir);
  }
  return Error("data spec '" + spec.text + "': unknown kind");
}

Expected<Dataset> loadDataset(const DataSpec &spec, Split split) {
  Expected<Dataset> d = loadUnchecked(spec, split);
  if (!d)
    return d;
  // Loaders check as they read; this catches any invariant they missed.
  Status valid = validateDataset(*d);
  if (!valid)
    return valid;
  return d;
}

} // namespace cnnc::rt::data
