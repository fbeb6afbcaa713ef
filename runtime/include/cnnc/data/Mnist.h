// MNIST-style datasets in IDX files (Fashion-MNIST, MNIST), plain or gzipped:
// http://yann.lecun.com/exdb/mnist/ describes the format.
#ifndef CNNC_DATA_MNIST_H
#define CNNC_DATA_MNIST_H

#include "cnnc/Error.h"
#include "cnnc/data/Dataset.h"

#include <string>
#include <vector>

namespace cnnc::rt::data {

enum class MnistVariant { FashionMnist, Mnist };

// The ten class names of a variant (Fashion-MNIST's "T-shirt/top", ...; MNIST's
// "0".."9").
std::vector<std::string> mnistClassNames(MnistVariant variant);

// Reads DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte, each with or
// without ".gz" (compression is recognised by content, not by name).
// Images become [N, 1, H, W] scaled to [0, 1] (x / 255, like torchvision's
// ToTensor). Checks the magic numbers (2051 images, 2049 labels), dimensions,
// exact file sizes, agreeing counts and labels < 10.
Expected<Dataset> loadMnist(const std::string &dir, Split split,
                            MnistVariant variant);

// The same for two given files; `numClasses` bounds the labels.
Expected<Dataset> loadIdxPair(const std::string &imagesPath,
                              const std::string &labelsPath,
                              int64_t numClasses);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_MNIST_H
