// --data spec parsing and dispatch.
#include "DataTestUtil.h"

#include "cnnc/Npy.h"
#include "cnnc/data/DataSpec.h"

namespace cnnc::rt::data {
namespace {

using namespace test;

TEST(DataSpecTest, ParsesDirectoryKinds) {
  Expected<DataSpec> s = parseDataSpec("fashion-mnist:/data/fm/");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->kind, DataKind::FashionMnist);
  EXPECT_EQ(s->dir, "/data/fm"); // trailing slash dropped
  EXPECT_EQ(s->text, "fashion-mnist:/data/fm/");

  s = parseDataSpec("mnist:m");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, DataKind::Mnist);
  EXPECT_EQ(s->dir, "m");

  s = parseDataSpec("cifar10:/");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->kind, DataKind::Cifar10);
  EXPECT_EQ(s->dir, "/");

  // Only the first ':' separates: directories may contain one.
  s = parseDataSpec("cifar10:a:b");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->dir, "a:b");

  s = parseDataSpec("folder:images/train/");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->kind, DataKind::Folder);
  EXPECT_EQ(s->dir, "images/train");
  EXPECT_FALSE(hasSplits(DataKind::Folder));
  EXPECT_FALSE(hasSplits(DataKind::Npy));
  EXPECT_TRUE(hasSplits(DataKind::Cifar10));
}

TEST(DataSpecTest, ParsesNpy) {
  Expected<DataSpec> s = parseDataSpec("npy:x.npy,y.npy");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->kind, DataKind::Npy);
  EXPECT_EQ(s->imagesPath, "x.npy");
  EXPECT_EQ(s->labelsPath, "y.npy");
  EXPECT_EQ(s->numClasses, 0);

  s = parseDataSpec("npy:a/x.npy,b/y.npy,classes=12");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->labelsPath, "b/y.npy");
  EXPECT_EQ(s->numClasses, 12);
}

TEST(DataSpecTest, MalformedNpy) {
  EXPECT_ERROR_CONTAINS(
      parseDataSpec("npy:x.npy"),
      "data spec 'npy:x.npy': npy: takes two files, IMAGES.npy,LABELS.npy");
  EXPECT_ERROR_CONTAINS(parseDataSpec("npy:x.npy,"), "takes two files");
  EXPECT_ERROR_CONTAINS(parseDataSpec("npy:x.npy,y.npy,z.npy"),
                        "takes two files");
  EXPECT_ERROR_CONTAINS(
      parseDataSpec("npy:x.npy,y.npy,classes=0"),
      "'classes=0' is not classes=K with K a positive integer");
  EXPECT_ERROR_CONTAINS(parseDataSpec("npy:x.npy,y.npy,classes=ten"),
                        "'classes=ten'");
}

TEST(DataSpecTest, UnknownKindsListTheKnownOnes) {
  Expected<DataSpec> s = parseDataSpec("imagenet:/data");
  EXPECT_ERROR_CONTAINS(
      s, "data spec 'imagenet:/data': unknown kind 'imagenet'; expected "
         "fashion-mnist:DIR, mnist:DIR, cifar10:DIR, "
         "npy:IMAGES.npy,LABELS.npy[,classes=K] or folder:DIR");
  EXPECT_FALSE(contains(s.message(), "did you mean")); // nothing close
  EXPECT_ERROR_CONTAINS(parseDataSpec("cifar:/d"), "(did you mean 'cifar10'?)");
  EXPECT_ERROR_CONTAINS(parseDataSpec("fashion_mnist:/d"),
                        "(did you mean 'fashion-mnist'?)");
  EXPECT_ERROR_CONTAINS(parseDataSpec("CIFAR10:/d"),
                        "(did you mean 'cifar10'?)");
  EXPECT_ERROR_CONTAINS(parseDataSpec("folders:/d"),
                        "(did you mean 'folder'?)");
  EXPECT_ERROR_CONTAINS(parseDataSpec("folder:"),
                        "no directory after 'folder:'");
  EXPECT_ERROR_CONTAINS(parseDataSpec("/data/fashion"), "no kind before ':'");
  EXPECT_ERROR_CONTAINS(parseDataSpec("cifar10:"),
                        "no directory after 'cifar10:'");
  EXPECT_ERROR_CONTAINS(parseDataSpec(""), "no kind");
}

TEST(DataSpecTest, ParsesSplits) {
  EXPECT_EQ(*parseSplit("train"), Split::Train);
  EXPECT_EQ(*parseSplit("test"), Split::Test);
  EXPECT_ERROR_CONTAINS(parseSplit("val"),
                        "unknown split 'val'; expected train or test");
  EXPECT_STREQ(splitName(Split::Test), "test");
}

class LoadDatasetTest : public TempDirTest {};

TEST_F(LoadDatasetTest, DispatchesOnTheKind) {
  Tensor x(DType::F32, {2, 1, 1, 1});
  x.f32()[1] = 0.5f;
  Tensor y(DType::I64, {2});
  y.i64()[0] = 1;
  ASSERT_TRUE(writeNpy(path("x.npy"), x).ok());
  ASSERT_TRUE(writeNpy(path("y.npy"), y).ok());
  Expected<DataSpec> spec =
      parseDataSpec("npy:" + path("x.npy") + "," + path("y.npy"));
  ASSERT_TRUE(spec.ok()) << spec.message();
  Expected<Dataset> d = loadDataset(*spec, Split::Train);
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->size(), 2);
  EXPECT_EQ(d->images.f32()[1], 0.5f);
  EXPECT_EQ(d->numClasses, 2);

  // Each directory kind reaches its own loader, whose error names it.
  EXPECT_ERROR_CONTAINS(
      loadDataset(*parseDataSpec("cifar10:" + path("d")), Split::Train),
      "cifar10:DIR expects");
  EXPECT_ERROR_CONTAINS(
      loadDataset(*parseDataSpec("mnist:" + path("d")), Split::Test),
      "(mnist:DIR expects");
  EXPECT_ERROR_CONTAINS(
      loadDataset(*parseDataSpec("fashion-mnist:" + path("d")), Split::Test),
      "(fashion-mnist:DIR expects");
}

} // namespace
} // namespace cnnc::rt::data
