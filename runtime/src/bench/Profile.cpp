#include "cnnc/bench/Profile.h"

#include "cnnc/model_abi.h"

#include <dlfcn.h>
#include <map>

namespace cnnc::rt::bench {

struct ProfilerLibrary::Impl {
  std::string path;
  void *handle = nullptr;
  cnnc_status (*reset)(void) = nullptr;
  cnnc_status (*count)(int32_t *) = nullptr;
  cnnc_status (*entry)(int32_t, const char **, const char **, double *,
                       int32_t *, int32_t *) = nullptr;
  cnnc_status (*layerCount)(int32_t *) = nullptr;
  cnnc_status (*layer)(int32_t, const char **, const char **, const char **,
                       double *) = nullptr;

  ~Impl() {
    if (handle)
      dlclose(handle);
  }
  Error callError(const char *function, cnnc_status status) const {
    return Error(path + ": " + function + " failed with status " +
                 std::to_string(status));
  }
};

ProfilerLibrary::ProfilerLibrary(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ProfilerLibrary::ProfilerLibrary(ProfilerLibrary &&) noexcept = default;
ProfilerLibrary &
ProfilerLibrary::operator=(ProfilerLibrary &&) noexcept = default;
ProfilerLibrary::~ProfilerLibrary() = default;

Expected<std::optional<ProfilerLibrary>>
ProfilerLibrary::open(const std::string &path) {
  // As ModelLibrary::load: without a '/', dlopen would search the library
  // path instead of the current directory.
  std::string openPath =
      path.find('/') == std::string::npos ? "./" + path : path;
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->handle = dlopen(openPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl->handle) {
    const char *why = dlerror();
    return Error(path + ": cannot load it as a shared library: " +
                 (why ? why : "unknown error"));
  }
  auto resolve = [&](auto &fn, const char *symbol) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        dlsym(impl->handle, symbol));
    return fn != nullptr;
  };
  if (!resolve(impl->count, "cnnc_profile_count"))
    return std::optional<ProfilerLibrary>();
  if (!resolve(impl->reset, "cnnc_profile_reset") ||
      !resolve(impl->entry, "cnnc_profile_entry") ||
      !resolve(impl->layerCount, "cnnc_profile_layer_count") ||
      !resolve(impl->layer, "cnnc_profile_layer"))
    return Error(path +
                 ": has cnnc_profile_count but not the other cnnc_profile_* "
                 "functions; rebuild it with --profile");
  return std::optional<ProfilerLibrary>(ProfilerLibrary(std::move(impl)));
}

Status ProfilerLibrary::reset() {
  if (cnnc_status s = impl_->reset(); s != CNNC_OK)
    return impl_->callError("cnnc_profile_reset", s);
  return Status::success();
}

Expected<std::vector<FuncTime>> ProfilerLibrary::read() const {
  int32_t count = 0;
  if (cnnc_status s = impl_->count(&count); s != CNNC_OK)
    return impl_->callError("cnnc_profile_count", s);
  std::vector<FuncTime> funcs;
  for (int32_t i = 0; i < count; ++i) {
    const char *pipeline = nullptr, *func = nullptr;
    double seconds = 0;
    int32_t runs = 0, samples = 0;
    if (cnnc_status s =
            impl_->entry(i, &pipeline, &func, &seconds, &runs, &samples);
        s != CNNC_OK)
      return impl_->callError("cnnc_profile_entry", s);
    funcs.push_back(
        {pipeline ? pipeline : "", func ? func : "", seconds, runs, samples});
  }
  return funcs;
}

Expected<std::vector<ProfiledOp>> ProfilerLibrary::ops() const {
  int32_t count = 0;
  if (cnnc_status s = impl_->layerCount(&count); s != CNNC_OK)
    return impl_->callError("cnnc_profile_layer_count", s);
  std::vector<ProfiledOp> ops;
  for (int32_t i = 0; i < count; ++i) {
    const char *func = nullptr, *name = nullptr, *kind = nullptr;
    double flops = 0;
    if (cnnc_status s = impl_->layer(i, &func, &name, &kind, &flops);
        s != CNNC_OK)
      return impl_->callError("cnnc_profile_layer", s);
    ops.push_back(
        {func ? func : "", name ? name : "", kind ? kind : "", flops});
  }
  return ops;
}

namespace {

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// `func` is `prefix` or begins with `prefix` + "_".
bool isWord(const std::string &func, const std::string &prefix) {
  return func == prefix || startsWith(func, prefix + "_");
}

struct Row {
  std::string name;
  double flops = 0; // per sample; 0: unknown
};

// Halide makes Func names unique with a "$<n>" suffix ("relu1$3").
std::string baseName(const std::string &func) {
  size_t dollar = func.find('$');
  return dollar == std::string::npos ? func : func.substr(0, dollar);
}

Row rowOf(const std::string &uniqueFunc, const std::vector<ProfiledOp> &ops) {
  const std::string func = baseName(uniqueFunc);
  const ProfiledOp *owner = nullptr;
  for (const ProfiledOp &op : ops)
    if (!op.func.empty() && isWord(func, op.func) &&
        (!owner || op.func.size() > owner->func.size()))
      owner = &op;
  if (!owner)
    return {func, 0};
  return {owner->name, owner->flops};
}

} // namespace

std::vector<PipelineProfile>
groupProfile(const std::vector<FuncTime> &funcs,
             const std::vector<ProfiledOp> &ops, int64_t batch,
             double peakGflops) {
  std::vector<PipelineProfile> result;
  for (const char *pipeline : {"forward", "train_step"}) {
    PipelineProfile profile;
    profile.pipeline = pipeline;
    std::vector<std::pair<Row, double>> rows; // in the profiler's order
    std::map<std::string, size_t> index;
    double total = 0;
    for (const FuncTime &f : funcs) {
      if (f.pipeline != pipeline || f.runs <= 0)
        continue;
      profile.runs = std::max(profile.runs, f.runs);
      profile.samples = std::max(profile.samples, f.samples);
      double perCall = f.seconds / f.runs;
      total += perCall;
      Row row = rowOf(f.func, ops);
      auto [it, fresh] = index.emplace(row.name, rows.size());
      if (fresh)
        rows.push_back({row, 0.0});
      rows[it->second].second += perCall;
    }
    if (profile.runs == 0)
      continue;
    profile.msPerCall = total * 1e3;
    for (const auto &[row, seconds] : rows) {
      OpTime op;
      op.pipeline = pipeline;
      op.name = row.name;
      op.ms = seconds * 1e3;
      op.percent = total > 0 ? 100.0 * seconds / total : 0.0;
      op.samples = profile.samples * op.percent / 100.0;
      if (row.flops > 0 && seconds > 0) {
        op.gflops = row.flops * static_cast<double>(batch) / seconds * 1e-9;
        if (peakGflops > 0)
          op.peakPercent = 100.0 * *op.gflops / peakGflops;
      }
      profile.ops.push_back(op);
    }
    result.push_back(std::move(profile));
  }
  return result;
}

} // namespace cnnc::rt::bench
