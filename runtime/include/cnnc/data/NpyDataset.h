// A dataset in two .npy files: float32 images [N, C, H, W] (or [N, H, W],
// read as C = 1) and int64 labels [N].
#ifndef CNNC_DATA_NPYDATASET_H
#define CNNC_DATA_NPYDATASET_H

#include "cnnc/Error.h"
#include "cnnc/data/Dataset.h"

#include <cstdint>
#include <string>

namespace cnnc::rt::data {

// Checks N >= 1 and equal in both files, finite pixels, labels >= 0 and, when
// numClasses > 0, labels < numClasses; numClasses = 0 means max label + 1.
// Pixels are used as they are (no scaling).
Expected<Dataset> loadNpyDataset(const std::string &imagesPath,
                                 const std::string &labelsPath,
                                 int64_t numClasses = 0);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_NPYDATASET_H
