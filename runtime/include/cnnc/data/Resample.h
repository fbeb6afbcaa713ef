// Bilinear resampling of float images with PIL's algorithm, which torchvision
// 0.14 uses for Resize and RandomResizedCrop on PIL images (ImageFolder's).
//
// PIL's BILINEAR is not the textbook 2x2 interpolation: it convolves with a
// triangle filter whose support grows with the reduction factor (support =
// max(1, in/out) source pixels on each side of the output pixel's centre,
// (x + 0.5) * in/out), so downsampling antialiases; upsampling is ordinary
// bilinear interpolation with half-pixel centres. Taps falling outside the
// source are dropped and the remaining weights renormalised (so the border
// acts like edge replication). It filters the width first, then the height,
// skipping an axis whose size does not change.
//
// This is that computation (the same taps and weights, in double), on floats.
// PIL works on uint8: it rounds after the horizontal pass and at the end, with
// 22-bit fixed-point weights. Its result therefore differs from this one by at
// most 1/255 on [0, 1] data (0.5/255 per rounding; the weights are
// non-negative and sum to 1, so the first rounding passes through the second
// pass undiminished but not amplified), plus the weights' quantisation, under
// 1e-5 for any size. tests/e2e/transforms_parity.py measures it against
// torchvision.
#ifndef CNNC_DATA_RESAMPLE_H
#define CNNC_DATA_RESAMPLE_H

#include <cstdint>

namespace cnnc::rt::data {

// The box of a source image to resample: rows [top, top + height), columns
// [left, left + width). Pixels outside it are never read (PIL crops first).
struct PixelBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Resamples `box` of `in` (channels planes of inHeight x inWidth) to
// `out` (channels planes of outHeight x outWidth), which must not overlap.
void resampleBilinear(const float *in, int64_t channels, int64_t inHeight,
                      int64_t inWidth, const PixelBox &box, float *out,
                      int64_t outHeight, int64_t outWidth);

} // namespace cnnc::rt::data

#endif // CNNC_DATA_RESAMPLE_H
