// folder:DIR, torchvision's ImageFolder: one sub-folder of DIR per class,
// the classes sorted by name (class index = position), the images of a class
// found in its folder and the folders below it (sorted as torchvision's
// sorted(os.walk(...)) visits them, symlinks followed), each folder's files
// sorted by name. Files ending in .png, .jpg or .jpeg (any case) are images;
// other image formats torchvision would load (.bmp, .ppm, .pgm, .tif, .tiff,
// .webp) are errors rather than silently left out; any other file is
// ignored, as in torchvision.
//
// Only the headers are read here; the pixels are decoded batch by batch
// (Dataset::files), RGB like ImageFolder's loader (ImageDecode.h).
#ifndef CNNC_DATA_IMAGEFOLDER_H
#define CNNC_DATA_IMAGEFOLDER_H

#include "cnnc/Error.h"
#include "cnnc/data/Dataset.h"

#include <string>

namespace cnnc::rt::data {

// Errors: DIR missing, no class folders, class folders without images (all
// named at once), an unsupported or unreadable image (named).
Expected<Dataset> loadImageFolder(const std::string &dir);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_IMAGEFOLDER_H
