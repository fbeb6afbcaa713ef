// File-system queries shared by the loaders (private).
#ifndef CNNC_DATA_PATHS_H
#define CNNC_DATA_PATHS_H

#include <string>
#include <sys/stat.h>

namespace cnnc::rt::data {

inline bool pathExists(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

inline bool isDirectory(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// ": no such directory" / ": not a directory", for a path that is not a
// directory.
inline std::string notADirectory(const std::string &path) {
  return path +
         (pathExists(path) ? ": not a directory" : ": no such directory");
}

} // namespace cnnc::rt::data

#endif // CNNC_DATA_PATHS_H
