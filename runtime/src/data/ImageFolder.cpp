#include "cnnc/data/ImageFolder.h"

#include "Paths.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <set>
#include <tuple>
#include <utility>

namespace cnnc::rt::data {

namespace {

std::string lower(std::string s) {
  for (char &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

enum class FileKind { Image, Unsupported, Other };

FileKind classify(const std::string &name) {
  const std::string l = lower(name);
  for (const char *ext : {".png", ".jpg", ".jpeg"})
    if (endsWith(l, ext))
      return FileKind::Image;
  // The rest of torchvision's IMG_EXTENSIONS.
  for (const char *ext : {".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"})
    if (endsWith(l, ext))
      return FileKind::Unsupported;
  return FileKind::Other;
}

struct Listing {
  std::vector<std::string> dirs, files; // names, sorted
};

// The entries of `dir`, directories told apart by stat (so symlinks are
// followed, like Python's os.scandir(...).is_dir() and
// os.walk(followlinks=True)).
Expected<Listing> list(const std::string &dir) {
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return Error(dir + ": cannot list the directory: " + std::strerror(errno));
  Listing out;
  while (const dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    (isDirectory(dir + "/" + name) ? out.dirs : out.files)
        .push_back(std::move(name));
  }
  ::closedir(d);
  // Byte order: Python sorts str by code point, which is UTF-8 byte order.
  std::sort(out.dirs.begin(), out.dirs.end());
  std::sort(out.files.begin(), out.files.end());
  return out;
}

struct DirKey {
  dev_t dev;
  ino_t ino;
  bool operator<(const DirKey &o) const {
    return std::tie(dev, ino) < std::tie(o.dev, o.ino);
  }
};

// Every directory at or below `root` with its listing, in torchvision's
// order: sorted(os.walk(root)) sorts by the directory's path string. A
// symlink back to a directory being walked is not entered again (os.walk
// would loop forever).
Status walk(const std::string &root, std::set<DirKey> &onPath,
            std::vector<std::pair<std::string, Listing>> &out) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0)
    return Error(root + ": " + std::strerror(errno));
  DirKey key{st.st_dev, st.st_ino};
  if (!onPath.insert(key).second)
    return Status::success();
  Expected<Listing> listing = list(root);
  if (!listing)
    return listing.error();
  for (const std::string &sub : listing->dirs)
    if (Status s = walk(root + "/" + sub, onPath, out); !s)
      return s;
  out.emplace_back(root, std::move(*listing));
  onPath.erase(key);
  return Status::success();
}

} // namespace

Expected<Dataset> loadImageFolder(const std::string &dir) {
  if (!isDirectory(dir))
    return Error(notADirectory(dir));
  Expected<Listing> top = list(dir);
  if (!top)
    return top.error();
  if (top->dirs.empty()) {
    bool images = std::any_of(
        top->files.begin(), top->files.end(),
        [](const std::string &f) { return classify(f) == FileKind::Image; });
    return Error(
        dir +
        ": no class folders: folder: expects one sub-folder per class, "
        "like DIR/cat/1.png and DIR/dog/2.jpg" +
        std::string(images ? " (the images directly in " + dir +
                                 " belong in class sub-folders)"
                           : ""));
  }

  Dataset d;
  auto files = std::make_shared<ImageFiles>();
  std::vector<int64_t> labels;
  std::vector<std::string> emptyClasses;
  for (size_t c = 0; c < top->dirs.size(); ++c) {
    const std::string classDir = dir + "/" + top->dirs[c];
    std::vector<std::pair<std::string, Listing>> folders;
    std::set<DirKey> onPath;
    if (Status s = walk(classDir, onPath, folders); !s)
      return s.error();
    std::sort(folders.begin(), folders.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    const size_t before = files->paths.size();
    for (const auto &[folder, listing] : folders)
      for (const std::string &name : listing.files) {
        const std::string path = folder + "/" + name;
        FileKind kind = classify(name);
        if (kind == FileKind::Other)
          continue;
        if (kind == FileKind::Unsupported)
          return Error(
              path +
              ": only PNG and JPEG images are supported; convert it or "
              "move it out of " +
              dir);
        Expected<ImageSize> size = readImageSize(path);
        if (!size)
          return size.error();
        files->paths.push_back(path);
        files->sizes.push_back(*size);
        labels.push_back(static_cast<int64_t>(c));
      }
    if (files->paths.size() == before)
      emptyClasses.push_back(classDir);
  }
  if (!emptyClasses.empty()) {
    std::string names;
    for (const std::string &e : emptyClasses)
      names += (names.empty() ? "" : ", ") + e;
    return Error(
        dir +
        ": no PNG or JPEG images (.png, .jpg, .jpeg) in the class folder" +
        (emptyClasses.size() > 1 ? "s " : " ") + names +
        "; every sub-folder is a class and needs images");
  }

  d.numClasses = static_cast<int64_t>(top->dirs.size());
  d.classNames = top->dirs;
  d.labels = Tensor(DType::I64, {static_cast<int64_t>(labels.size())});
  std::copy(labels.begin(), labels.end(), d.labels.i64());
  d.files = std::move(files);
  d.imagesSource = dir;
  d.labelsSource = dir + " (class folders)";
  return d;
}

} // namespace cnnc::rt::data
