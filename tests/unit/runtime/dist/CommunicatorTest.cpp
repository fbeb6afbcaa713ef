// The Communicator's helpers: checksums, the comparison across processes
// and its message, and a process alone.
#include "cnnc/dist/Communicator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

namespace cnnc::rt::dist {
namespace {

// Processes whose gathered values are given.
class GatheredValues final : public Communicator {
public:
  explicit GatheredValues(std::vector<uint64_t> values)
      : values_(std::move(values)) {}
  int rank() const override { return 0; }
  int size() const override { return int(values_.size()); }
  std::string describe() const override { return "test"; }
  Status sum(float *, size_t) override { return Status::success(); }
  Status sum(double *, size_t) override { return Status::success(); }
  Status sum(int64_t *, size_t) override { return Status::success(); }
  Status broadcast(void *, size_t) override { return Status::success(); }
  Expected<std::vector<uint64_t>> gather(uint64_t) override { return values_; }
  [[noreturn]] void abort(int) override { std::abort(); }

private:
  std::vector<uint64_t> values_;
};

TEST(CommunicatorTest, ChecksumsSeeEveryBit) {
  Tensor a(DType::F32, {2, 3});
  Tensor b = a;
  EXPECT_EQ(checksum({a, b}), checksum({a, b}));
  uint32_t bits = 1; // the smallest subnormal
  std::memcpy(b.f32() + 5, &bits, sizeof bits);
  EXPECT_NE(checksum({a, b}), checksum({a, a}));
  EXPECT_NE(checksum({a, b}), checksum({b, a})); // order counts
  EXPECT_NE(checksum({a}, 1), checksum({a}, 2));
}

TEST(CommunicatorTest, ComparesAcrossProcesses) {
  GatheredValues same({7, 7, 7});
  EXPECT_TRUE(checkSameEverywhere(same, 7, "the parameters").ok());
  GatheredValues one({7, 7, 8});
  Status s = checkSameEverywhere(one, 7, "the parameters");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "the parameters differ between the processes: rank "
                         "2 differs from rank 0");
  GatheredValues two({7, 9, 8, 7});
  EXPECT_EQ(checkSameEverywhere(two, 7, "the libraries").message(),
            "the libraries differ between the processes: ranks 1, 2 differ "
            "from rank 0");
}

TEST(CommunicatorTest, CountsTheProcessesThatShareCores) {
  GatheredValues four({5, 9, 5, 5});
  EXPECT_EQ(*processesWithId(four, 5), 3);
  EXPECT_EQ(*processesWithId(four, 9), 1);
  std::unique_ptr<Communicator> alone = singleProcess();
  EXPECT_EQ(*processesWithId(*alone, coresId({0, 1})), 1);
  EXPECT_EQ(coresId({0, 1}), coresId({0, 1}));
  EXPECT_NE(coresId({0, 1}), coresId({0}));
  EXPECT_NE(coresId({0, 1}), coresId({1}));
  // A boot id (8-4-4-4-12 hex digits) where /proc has one; a host name
  // otherwise. Never empty: every machine would count as one.
  const std::string name = machineName();
  EXPECT_FALSE(name.empty());
  if (std::ifstream("/proc/sys/kernel/random/boot_id")) {
    EXPECT_EQ(name.size(), 36u) << name;
  }
}

TEST(CommunicatorTest, OneProcessIsRankZeroOfOne) {
  std::unique_ptr<Communicator> alone = singleProcess();
  EXPECT_EQ(alone->rank(), 0);
  EXPECT_EQ(alone->size(), 1);
  float x[2] = {1, 2};
  ASSERT_TRUE(alone->sum(x, 2).ok());
  EXPECT_EQ(x[1], 2.0f);
  std::vector<Tensor> tensors = {Tensor(DType::F32, {3})};
  tensors[0].f32()[1] = 4;
  ASSERT_TRUE(broadcastTensors(*alone, tensors).ok());
  EXPECT_EQ(tensors[0].f32()[1], 4.0f);
  EXPECT_TRUE(checkSameEverywhere(*alone, 3, "x").ok());
}

} // namespace
} // namespace cnnc::rt::dist
