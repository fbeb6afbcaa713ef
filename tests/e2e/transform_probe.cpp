// Runs cnnc's image decoding, folder listing and transforms on given inputs
// for tests/e2e/transforms_parity.py, which compares them with torchvision
// and PIL.
//
//   transform_probe decode FILE OUT.npy             [3, H, W] in [0, 1]
//   transform_probe eval FILE RESIZE CROP OUT.npy   Resize(RESIZE),
//   CenterCrop(CROP) transform_probe resized-crop FILE TOP LEFT H W SIZE
//   OUT.npy
//                                                   the box resampled to SIZE x
//                                                   SIZE
//   transform_probe boxes < LINES                   per line "H W smin smax
//   rmin rmax
//                                                   u1 .. u22": the
//                                                   RandomResizedCrop box drawn
//                                                   with those uniforms, "top
//                                                   left h w"
//   transform_probe folder DIR                      per image "label path"
#include "cnnc/Npy.h"
#include "cnnc/data/ImageDecode.h"
#include "cnnc/data/ImageFolder.h"
#include "cnnc/data/ResizeTransforms.h"

#include <iostream>
#include <sstream>

using namespace cnnc::rt;
using namespace cnnc::rt::data;

namespace {

int fail(const std::string &message) {
  std::cerr << "transform_probe: " << message << "\n";
  return 1;
}

// The same arithmetic as transforms_parity.py's stand-ins for torch's draws.
class ListDraws : public CropDraws {
public:
  explicit ListDraws(std::vector<double> u) : u_(std::move(u)) {}
  float uniform(double lo, double hi) override {
    return static_cast<float>(lo + (hi - lo) * u_.at(k_++));
  }
  int64_t below(int64_t n) override {
    return static_cast<int64_t>(u_.at(k_++) * n);
  }

private:
  std::vector<double> u_;
  size_t k_ = 0;
};

int save(const std::string &path, const std::vector<float> &pixels,
         const Shape &shape) {
  Tensor t(DType::F32, shape);
  std::copy(pixels.begin(), pixels.end(), t.f32());
  if (Status s = writeNpy(path, t); !s)
    return fail(s.message());
  return 0;
}

int transform(const std::string &file, const TransformList &transforms,
              const std::string &out) {
  std::vector<float> pixels;
  Expected<ImageSize> size = decodeImage(file, pixels);
  if (!size)
    return fail(size.message());
  Shape shape = {3, size->height, size->width};
  std::mt19937_64 rng(0);
  for (const auto &t : transforms) {
    Expected<Shape> next = t->outputShape(shape);
    if (!next)
      return fail(next.message());
    std::vector<float> result(
        static_cast<size_t>((*next)[0] * (*next)[1] * (*next)[2]));
    t->apply(pixels.data(), shape, result.data(), rng);
    pixels = std::move(result);
    shape = *next;
  }
  return save(out, pixels, shape);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 3 && a[0] == "decode")
    return transform(a[1], {}, a[2]);
  if (a.size() == 5 && a[0] == "eval")
    return transform(a[1],
                     {*Resize::shorterSide(std::stoll(a[2])),
                      *CenterCrop::create(std::stoll(a[3]), std::stoll(a[3]))},
                     a[4]);
  if (a.size() == 8 && a[0] == "resized-crop") {
    std::vector<float> pixels;
    Expected<ImageSize> size = decodeImage(a[1], pixels);
    if (!size)
      return fail(size.message());
    const PixelBox box{std::stoll(a[2]), std::stoll(a[3]), std::stoll(a[4]),
                       std::stoll(a[5])};
    const int64_t n = std::stoll(a[6]);
    std::vector<float> out(static_cast<size_t>(3 * n * n));
    resampleBilinear(pixels.data(), 3, size->height, size->width, box,
                     out.data(), n, n);
    return save(a[7], out, {3, n, n});
  }
  if (a.size() == 1 && a[0] == "boxes") {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      int64_t h = 0, w = 0;
      ResizedCropRange r;
      in >> h >> w >> r.scaleMin >> r.scaleMax >> r.ratioMin >> r.ratioMax;
      std::vector<double> u;
      for (double v; in >> v;)
        u.push_back(v);
      ListDraws draws(u);
      PixelBox b = sampleResizedCropBox(h, w, r, draws);
      std::cout << b.top << " " << b.left << " " << b.height << " " << b.width
                << "\n";
    }
    return 0;
  }
  if (a.size() == 2 && a[0] == "folder") {
    Expected<Dataset> d = loadImageFolder(a[1]);
    if (!d)
      return fail(d.message());
    for (int64_t i = 0; i < d->size(); ++i)
      std::cout << d->label(i) << " " << d->files->paths[static_cast<size_t>(i)]
                << "\n";
    return 0;
  }
  return fail(
      "bad arguments; see the comment at the top of transform_probe.cpp");
}
