// The --data argument of `cnnc train` / `cnnc eval`:
//   fashion-mnist:DIR   mnist:DIR   cifar10:DIR
//   npy:IMAGES.npy,LABELS.npy[,classes=K]
//   folder:DIR (one sub-folder per class, like torchvision's ImageFolder)
#ifndef CNNC_DATA_DATASPEC_H
#define CNNC_DATA_DATASPEC_H

#include "cnnc/Error.h"
#include "cnnc/data/Dataset.h"

#include <cstdint>
#include <string>

namespace cnnc::rt::data {

enum class DataKind { FashionMnist, Mnist, Cifar10, Npy, Folder };

struct DataSpec {
  DataKind kind = DataKind::Npy;
  std::string dir;        // fashion-mnist, mnist, cifar10, folder
  std::string imagesPath; // npy
  std::string labelsPath; // npy
  int64_t numClasses = 0; // npy: classes=K, 0 when absent (max label + 1)
  std::string text;       // the spec as given, for messages
};

// The accepted forms, for usage texts and error messages.
const char *dataSpecForms();

// Errors name the spec and list the known kinds (with a suggestion for a
// near miss such as "cifar:").
Expected<DataSpec> parseDataSpec(const std::string &text);

// "train" / "test".
Expected<Split> parseSplit(const std::string &text);

// Whether the kind has train and test splits (npy: and folder: do not).
bool hasSplits(DataKind kind);

// Loads the split of the dataset (npy: and folder: ignore `split`).
Expected<Dataset> loadDataset(const DataSpec &spec, Split split);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_DATASPEC_H
