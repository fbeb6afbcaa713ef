// Tensors that read their elements in place from a mapped file.
#include "TestUtil.h"

#include "cnnc/FileIO.h"
#include "cnnc/Tensor.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

namespace cnnc::rt {
namespace {

using test::contains;
using test::TempDirTest;
using test::writeBytes;

class TensorViewTest : public TempDirTest {
protected:
  std::shared_ptr<const FileMapping> mapFile(const std::string &bytes) {
    writeBytes(path("f.bin"), bytes);
    Expected<FileMapping> m = FileMapping::map(path("f.bin"));
    EXPECT_TRUE(m) << m.message();
    return m ? std::make_shared<const FileMapping>(std::move(*m)) : nullptr;
  }
};

TEST_F(TensorViewTest, MappingHoldsTheFilesBytes) {
  std::shared_ptr<const FileMapping> m = mapFile("hello, mapping");
  ASSERT_TRUE(m);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(m->data()), m->size()),
            "hello, mapping");

  writeBytes(path("empty"), "");
  Expected<FileMapping> empty = FileMapping::map(path("empty"));
  ASSERT_TRUE(empty) << empty.message();
  EXPECT_EQ(empty->size(), 0u);

  Expected<FileMapping> missing = FileMapping::map(path("missing"));
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.message(), "missing: no such file"))
      << missing.message();
  Expected<FileMapping> folder = FileMapping::map(dir_.string());
  ASSERT_FALSE(folder);
  EXPECT_TRUE(contains(folder.message(), "not a regular file"))
      << folder.message();
}

TEST_F(TensorViewTest, ReadsInPlaceAndCopiesOnTheFirstWrite) {
  std::shared_ptr<const FileMapping> m = mapFile("HDR:abcdef");
  ASSERT_TRUE(m);
  Expected<Tensor> t = Tensor::view(DType::U8, {2, 3}, m, 4, "f.bin");
  ASSERT_TRUE(t) << t.message();
  const Tensor &view = *t;
  EXPECT_TRUE(view.isFileView());
  EXPECT_EQ(view.byteSize(), 6u);
  EXPECT_EQ(view.bytes(), m->data() + 4); // no copy
  EXPECT_EQ(view.u8()[5], 'f');

  Tensor copy = view; // shares the mapping
  EXPECT_TRUE(copy.isFileView());
  EXPECT_EQ(static_cast<const Tensor &>(copy).bytes(), m->data() + 4);

  copy.u8()[0] = 'X'; // write access: the copy gets bytes of its own
  EXPECT_FALSE(copy.isFileView());
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(copy.bytes()), 6),
            "Xbcdef");
  EXPECT_EQ(view.u8()[0], 'a');
  EXPECT_EQ(m->data()[4], 'a');
}

TEST_F(TensorViewTest, AViewKeepsItsFileMapped) {
  std::shared_ptr<const FileMapping> m = mapFile("0123456789");
  ASSERT_TRUE(m);
  Expected<Tensor> t = Tensor::view(DType::U8, {4}, m, 6, "f.bin");
  ASSERT_TRUE(t) << t.message();
  m.reset(); // the view's reference is the last one
  std::filesystem::remove(path("f.bin"));
  const Tensor &view = *t;
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(view.bytes()), 4),
            "6789");
}

TEST_F(TensorViewTest, ReshapeKeepsTheElementsUnderAnotherShape) {
  Tensor t(DType::F32, {2, 3});
  t.f32()[5] = 7.0f;
  ASSERT_TRUE(t.reshape({3, 1, 2}, "t"));
  EXPECT_EQ(t.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(t.f32()[5], 7.0f);
  Status wrong = t.reshape({4, 2}, "t.npy");
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(
      contains(wrong.message(), "t.npy: cannot view shape [3, 1, 2] as [4, 2]"))
      << wrong.message();
  EXPECT_FALSE(t.reshape({-6}, "t"));
  EXPECT_EQ(t.shape(), (Shape{3, 1, 2}));
}

TEST_F(TensorViewTest, RejectsElementsTheFileDoesNotHoldOrMisaligned) {
  std::shared_ptr<const FileMapping> m = mapFile(std::string(16, '\0'));
  ASSERT_TRUE(m);
  Expected<Tensor> tooMany = Tensor::view(DType::F32, {5}, m, 0, "f.bin");
  ASSERT_FALSE(tooMany);
  EXPECT_TRUE(
      contains(tooMany.message(), "f.bin: 16 bytes for a tensor of shape [5]"))
      << tooMany.message();
  Expected<Tensor> pastTheEnd = Tensor::view(DType::U8, {1}, m, 17, "f.bin");
  ASSERT_FALSE(pastTheEnd);
  EXPECT_TRUE(contains(pastTheEnd.message(), "0 bytes"))
      << pastTheEnd.message();
  Expected<Tensor> misaligned = Tensor::view(DType::F32, {2}, m, 2, "f.bin");
  ASSERT_FALSE(misaligned);
  EXPECT_TRUE(contains(misaligned.message(),
                       "F32 elements at offset 2 are not aligned"))
      << misaligned.message();
  Expected<Tensor> fits = Tensor::view(DType::F32, {3}, m, 4, "f.bin");
  ASSERT_TRUE(fits) << fits.message();
  EXPECT_EQ(static_cast<const Tensor &>(*fits).f32()[2], 0.0f);
}

} // namespace
} // namespace cnnc::rt
