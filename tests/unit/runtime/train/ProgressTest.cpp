// Progress output: plain lines without a terminal, one redrawn line with one.
#include "TrainTestUtil.h"

#include "cnnc/train/Progress.h"

#include <algorithm>
#include <sstream>

namespace cnnc::rt {
namespace {

std::string simulate(ProgressStyle style, int64_t batches) {
  std::ostringstream out;
  Progress p(out, style);
  for (int64_t epoch = 1; epoch <= 2; ++epoch) {
    p.startEpoch(epoch, 2, batches);
    for (int64_t b = 1; b <= batches; ++b)
      p.update(b, 1.0 / static_cast<double>(b), b * 32,
               0.5 * static_cast<double>(b));
    p.endEpoch();
    out << "summary\n";
  }
  return out.str();
}

TEST(ProgressTest, WithoutATerminalPrintsAboutTenPlainLinesPerEpoch) {
  std::string text = simulate(ProgressStyle::Lines, 100);
  EXPECT_FALSE(test::hasControlCharacters(text)) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2 * 11);
  EXPECT_TRUE(test::contains(
      text,
      "epoch 1/2: batch 10/100 ( 10%), loss 0.1000, 64 images/s, ETA 0:45\n"))
      << text;
  EXPECT_TRUE(test::contains(text, "epoch 2/2: batch 100/100 (100%)"));
  // Few batches: a line for each.
  std::string small = simulate(ProgressStyle::Lines, 3);
  EXPECT_EQ(std::count(small.begin(), small.end(), '\n'), 2 * 4);
}

TEST(ProgressTest, AStringStreamIsNotATerminal) {
  std::ostringstream out;
  EXPECT_EQ(detectProgressStyle(out), ProgressStyle::Lines);
}

TEST(ProgressTest, OnATerminalRedrawsOneLine) {
  std::string text = simulate(ProgressStyle::Terminal, 5);
  EXPECT_TRUE(test::contains(text, "\repoch 1/2: batch 1/5"));
  EXPECT_TRUE(test::contains(text, "\repoch 1/2: batch 5/5"));
  // Only the summaries end lines; the progress line is blanked before them.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  EXPECT_TRUE(test::contains(text, "\rsummary") ||
              test::contains(text, " \rsummary"));
  EXPECT_EQ(simulate(ProgressStyle::None, 5), "summary\nsummary\n");
}

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(formatDuration(7.4), "0:07");
  EXPECT_EQ(formatDuration(754), "12:34");
  EXPECT_EQ(formatDuration(3723), "1:02:03");
  EXPECT_EQ(formatDuration(-1), "?");
}

} // namespace
} // namespace cnnc::rt
