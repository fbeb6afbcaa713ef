// folder:DIR as torchvision's ImageFolder lists it, and DataLoader batches
// decoded from its files.
#include "DataTestUtil.h"
#include "ImageWriters.h"

#include "cnnc/data/DataLoader.h"
#include "cnnc/data/DataSpec.h"
#include "cnnc/data/ImageFolder.h"
#include "cnnc/data/ResizeTransforms.h"

#include <filesystem>

namespace cnnc::rt::data {
namespace {

using namespace test;
namespace fs = std::filesystem;

class ImageFolderTest : public TempDirTest {
protected:
  // Writes an h x w PNG at dir_/relative, creating folders.
  void png(const std::string &relative, uint32_t h = 2, uint32_t w = 3,
           uint16_t seed = 0) {
    fs::create_directories((dir_ / relative).parent_path());
    writeTestPng(path(relative), h, w, seed);
  }
  std::vector<std::string> relativePaths(const Dataset &d) {
    std::vector<std::string> out;
    for (const std::string &p : d.files->paths)
      out.push_back(p.substr(dir_.string().size() + 1));
    return out;
  }
};

TEST_F(ImageFolderTest, ClassesAndFilesInTorchvisionOrder) {
  png("root/dog/b.png");
  png("root/dog/A.PNG"); // upper case sorts first, extension case ignored
  png("root/cat/z.jpeg.png");
  png("root/cat/sub/x.png");   // folders below a class belong to it, sorted by
                               // path:
  png("root/cat/sub-y/y.png"); // ".../sub" < ".../sub-y" < ".../sub/deeper"
  png("root/cat/sub/deeper/w.png"); // ('-' < '/')
  png("root/cat/a.png");
  writeBytes(path("root/cat/notes.txt"), "ignored");
  writeBytes(path("root/stray.png"), "not in a class folder: ignored");
  Expected<Dataset> d = loadImageFolder(path("root"));
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->classNames, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(d->numClasses, 2);
  EXPECT_EQ(relativePaths(*d),
            (std::vector<std::string>{
                "root/cat/a.png", "root/cat/z.jpeg.png", "root/cat/sub/x.png",
                "root/cat/sub-y/y.png", "root/cat/sub/deeper/w.png",
                "root/dog/A.PNG", "root/dog/b.png"}));
  ASSERT_EQ(d->size(), 7);
  EXPECT_EQ(std::vector<int64_t>(d->labels.i64(), d->labels.i64() + 7),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(d->imageShape(0), (Shape{3, 2, 3}));
  EXPECT_FALSE(d->inMemory());
  EXPECT_EQ(d->images.numElements(), 0); // nothing decoded yet
  EXPECT_TRUE(validateDataset(*d).ok());
}

TEST_F(ImageFolderTest, ThroughTheDataSpec) {
  png("d/a/1.png");
  png("d/b/1.png");
  Expected<DataSpec> spec = parseDataSpec("folder:" + path("d") + "/");
  ASSERT_TRUE(spec.ok());
  Expected<Dataset> d = loadDataset(*spec, Split::Test); // no splits: ignored
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->size(), 2);
}

TEST_F(ImageFolderTest, FolderErrors) {
  EXPECT_ERROR_CONTAINS(loadImageFolder(path("nowhere")),
                        path("nowhere") + ": no such directory");

  fs::create_directories(path("flat"));
  png("flat/1.png");
  EXPECT_ERROR_CONTAINS(
      loadImageFolder(path("flat")),
      path("flat") +
          ": no class folders: folder: expects one sub-folder per "
          "class, like DIR/cat/1.png and DIR/dog/2.jpg (the images "
          "directly in " +
          path("flat") + " belong in class sub-folders)");
  fs::create_directories(path("none"));
  EXPECT_ERROR_CONTAINS(loadImageFolder(path("none")), "no class folders");

  png("empty/full/1.png");
  fs::create_directories(path("empty/a"));
  fs::create_directories(path("empty/b/deeper"));
  writeBytes(path("empty/b/readme.txt"), "no images");
  EXPECT_ERROR_CONTAINS(
      loadImageFolder(path("empty")),
      "no PNG or JPEG images (.png, .jpg, .jpeg) in the class folders " +
          path("empty/a") + ", " + path("empty/b"));

  png("bmp/a/1.png");
  writeBytes(path("bmp/a/2.BMP"), "BM");
  EXPECT_ERROR_CONTAINS(loadImageFolder(path("bmp")),
                        path("bmp/a/2.BMP") +
                            ": only PNG and JPEG images are supported");

  png("corrupt/a/1.png");
  writeBytes(path("corrupt/a/2.jpg"), "not a jpeg");
  EXPECT_ERROR_CONTAINS(loadImageFolder(path("corrupt")),
                        path("corrupt/a/2.jpg") + ": not a PNG or JPEG image");
}

TEST_F(ImageFolderTest, SymlinkLoopsAreNotFollowedForever) {
  png("loop/a/1.png");
  fs::create_directory_symlink(path("loop/a"), path("loop/a/again"));
  Expected<Dataset> d = loadImageFolder(path("loop"));
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->size(), 1);
}

TEST_F(ImageFolderTest, BatchesAreDecodedFromTheFiles) {
  png("d/a/1.png", 2, 3, 7);
  png("d/b/1.png", 2, 3, 9);
  Expected<Dataset> d = loadImageFolder(path("d"));
  ASSERT_TRUE(d.ok()) << d.message();
  LoaderOptions o;
  o.batchSize = 2;
  Expected<DataLoader> loader =
      DataLoader::create(std::make_shared<Dataset>(*d), o);
  ASSERT_TRUE(loader.ok()) << loader.message();
  EXPECT_EQ(loader->sampleShape(), (Shape{3, 2, 3}));
  Batch b;
  ASSERT_TRUE(loader->getBatch(0, b).ok());
  EXPECT_EQ(b.images.shape(), (Shape{2, 3, 2, 3}));
  EXPECT_EQ(b.labels.i64()[1], 1);
  // Pixel (y=1, x=2) of image 1: (1 * 16 + 2, 255 - 2, 9).
  const float *img1 = b.images.f32() + 18;
  EXPECT_EQ(img1[0 * 6 + 5], 18.0f / 255.0f);
  EXPECT_EQ(img1[1 * 6 + 5], 253.0f / 255.0f);
  EXPECT_EQ(img1[2 * 6 + 5], 9.0f / 255.0f);

  // A file spoilt after listing is an error of the batch, naming it.
  writeBytes(path("d/b/1.png"), "gone");
  EXPECT_ERROR_CONTAINS(loader->getBatch(0, b),
                        path("d/b/1.png") + ": not a PNG or JPEG");
  png("d/b/1.png", 4, 3);
  EXPECT_ERROR_CONTAINS(loader->getBatch(0, b),
                        path("d/b/1.png") + ": the image changed while in use");
}

TEST_F(ImageFolderTest, SizesMustMeetAfterTheTransforms) {
  png("d/a/small.png", 2, 3);
  png("d/b/large.png", 6, 5);
  auto d = std::make_shared<Dataset>(*loadImageFolder(path("d")));
  EXPECT_ERROR_CONTAINS(
      DataLoader::create(d, LoaderOptions{}),
      path("d") + ": the images do not all reach the network at one size: " +
          path("d/a/small.png") + " becomes [3, 2, 3] but " +
          path("d/b/large.png") + " becomes [3, 6, 5]");
  // Resize(4) + CenterCrop(4): both 4x4 (2x3 -> 4x6, 6x5 -> 4x3, padded).
  TransformList t = {*Resize::shorterSide(4), *CenterCrop::create(4, 4)};
  Expected<DataLoader> loader = DataLoader::create(d, LoaderOptions{}, t);
  ASSERT_TRUE(loader.ok()) << loader.message();
  EXPECT_EQ(loader->sampleShape(), (Shape{3, 4, 4}));
  Batch b;
  ASSERT_TRUE(loader->getBatch(1, b).ok());
  EXPECT_EQ(b.images.shape(), (Shape{1, 3, 4, 4}));
  // A subset of same-sized images needs no resizing.
  LoaderOptions one;
  one.subset = {1};
  loader = DataLoader::create(d, one);
  ASSERT_TRUE(loader.ok()) << loader.message();
  EXPECT_EQ(loader->sampleShape(), (Shape{3, 6, 5}));
}

} // namespace
} // namespace cnnc::rt::data
