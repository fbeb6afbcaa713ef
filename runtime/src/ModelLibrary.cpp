#include "cnnc/ModelLibrary.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "cnnc/model_abi.h"

#include <dlfcn.h>
#include <set>
#include <sys/stat.h>

namespace cnnc::rt {

struct ModelLibrary::Impl {
  std::string path;
  void *handle = nullptr;

  uint32_t (*abiVersion)(void) = nullptr;
  const char *(*statusString)(int32_t) = nullptr;
  const char *(*lastError)(void) = nullptr; // optional
  cnnc_status (*modelName)(const char **) = nullptr;
  cnnc_status (*inputShape)(int64_t *, int32_t, int32_t *) = nullptr;
  cnnc_status (*outputShape)(int64_t *, int32_t, int32_t *) = nullptr;
  cnnc_status (*numParameters)(int32_t *) = nullptr;
  cnnc_status (*parameterName)(int32_t, const char **) = nullptr;
  cnnc_status (*parameterShape)(int32_t, int64_t *, int32_t,
                                int32_t *) = nullptr;
  cnnc_status (*setNumThreads)(int32_t) = nullptr;
  cnnc_status (*forward)(int64_t, const float *, const float *const *,
                         float *) = nullptr;
  cnnc_status (*parameterTrainable)(int32_t, int32_t *) = nullptr;
  cnnc_status (*parameterKind)(int32_t, int32_t *) = nullptr;
  cnnc_status (*parameterUpdated)(int32_t, int32_t *) = nullptr;
  cnnc_status (*trainingRecipe)(const char **) = nullptr;
  cnnc_status (*trainStep)(int64_t, const float *, const int64_t *,
                           const float *const *, const float *const *,
                           float *const *, float *const *, float, float, float,
                           int32_t, int32_t, uint64_t, int64_t,
                           float *) = nullptr;
  // Sessions (optional: all or none).
  cnnc_status (*sessionCreate)(const float *const *, cnnc_session **) = nullptr;
  void (*sessionDestroy)(cnnc_session *) = nullptr;
  cnnc_status (*sessionTrainStep)(cnnc_session *, int64_t, const float *,
                                  const int64_t *, float, float, float, int32_t,
                                  float *) = nullptr;
  cnnc_status (*sessionForward)(cnnc_session *, int64_t, const float *,
                                float *) = nullptr;
  cnnc_status (*sessionRead)(cnnc_session *, float *const *,
                             float *const *) = nullptr;
  cnnc_status (*sessionWrite)(cnnc_session *, const float *const *,
                              const float *const *, int64_t) = nullptr;
  cnnc_status (*sessionSetSeed)(cnnc_session *, uint64_t) = nullptr;
  // Optional: the two halves of a step (data-parallel training).
  decltype(&cnnc_gradient_step) gradientStep = nullptr;
  decltype(&cnnc_sgd_update) sgdUpdate = nullptr;

  uint32_t version = 0;
  std::string name;
  Shape input, output;
  std::vector<ParameterSpec> parameters;
  std::vector<bool> trainable, buffer, updated;
  std::string recipe;
  std::optional<ModelLibrary::LibraryInfo> info;

  ~Impl() {
    if (handle)
      dlclose(handle);
  }

  // "net.so: cnnc_forward failed: a batch size or a shape does not fit";
  // a pipeline's failure says why, when the library tells.
  Error callError(const char *function, int32_t status) const {
    const char *text = statusString ? statusString(status) : nullptr;
    std::string message = path + ": " + function + " failed: " +
                          (text ? text : "status " + std::to_string(status));
    const char *why =
        status == CNNC_ERROR_RUNTIME && lastError ? lastError() : nullptr;
    if (why && *why) {
      std::string reason = why;
      while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' '))
        reason.pop_back();
      message += ": " + reason;
    }
    return Error(message);
  }

  template <typename F> Status resolve(F &fn, const char *symbol) {
    dlerror();
    void *p = dlsym(handle, symbol);
    if (!p)
      return Error(path + ": not a cnnc model library: it has no symbol " +
                   symbol +
                   (std::string(symbol) == "cnnc_abi_version"
                        ? " (a library compiled with --prefix NAME has "
                          "NAME_abi_version, for applications; cnnc's "
                          "commands need one compiled without)"
                        : ""));
    fn = reinterpret_cast<F>(p);
    return Status::success();
  }

  template <typename F> bool resolveOptional(F &fn, const char *symbol) {
    fn = reinterpret_cast<F>(dlsym(handle, symbol));
    return fn != nullptr;
  }

  void resolveSessions() {
    if (!(resolveOptional(sessionCreate, "cnnc_session_create") &&
          resolveOptional(sessionDestroy, "cnnc_session_destroy") &&
          resolveOptional(sessionTrainStep, "cnnc_session_train_step") &&
          resolveOptional(sessionForward, "cnnc_session_forward") &&
          resolveOptional(sessionRead, "cnnc_session_read") &&
          resolveOptional(sessionWrite, "cnnc_session_write") &&
          resolveOptional(sessionSetSeed, "cnnc_session_set_seed")))
      sessionCreate = nullptr;
  }

  // Calls a shape query: `query(dims, capacity, &rank)`.
  template <typename Query>
  Expected<Shape> readShape(const char *what, Query query) const {
    int64_t dims[CNNC_MAX_RANK] = {};
    int32_t rank = -1;
    if (cnnc_status status = query(dims, CNNC_MAX_RANK, &rank);
        status != CNNC_OK)
      return callError(what, status);
    if (rank < 0 || rank > CNNC_MAX_RANK)
      return Error(path + ": " + what + " reported rank " +
                   std::to_string(rank));
    return Shape(dims, dims + rank);
  }

  // Input and output: [-1, positive...], rank 2 to 4.
  Status checkActivationShape(const char *what, const Shape &shape) const {
    bool ok = shape.size() >= 2 && shape[0] == -1;
    for (size_t i = 1; ok && i < shape.size(); ++i)
      ok = shape[i] > 0;
    if (!ok)
      return Error(path + ": " + what + " reported the shape " +
                   shapeToString(shape) +
                   "; expected [-1, positive dimensions...]");
    return checkedNumElements(Shape(shape.begin() + 1, shape.end()), DType::F32,
                              path + ": " + what)
        .status();
  }

  Status query() {
    if (Status s = resolve(abiVersion, "cnnc_abi_version"); !s)
      return s;
    version = abiVersion();
    if (version != CNNC_ABI_VERSION)
      return Error(path + ": built for cnnc ABI version " +
                   std::to_string(version) + " but this cnnc uses version " +
                   std::to_string(CNNC_ABI_VERSION) +
                   "; recompile the network");
    for (Status s : {resolve(statusString, "cnnc_status_string"),
                     resolve(modelName, "cnnc_model_name"),
                     resolve(inputShape, "cnnc_input_shape"),
                     resolve(outputShape, "cnnc_output_shape"),
                     resolve(numParameters, "cnnc_num_parameters"),
                     resolve(parameterName, "cnnc_parameter_name"),
                     resolve(parameterShape, "cnnc_parameter_shape"),
                     resolve(setNumThreads, "cnnc_set_num_threads"),
                     resolve(forward, "cnnc_forward"),
                     resolve(parameterTrainable, "cnnc_parameter_trainable"),
                     resolve(parameterKind, "cnnc_parameter_kind"),
                     resolve(parameterUpdated, "cnnc_parameter_updated"),
                     resolve(trainingRecipe, "cnnc_training_recipe"),
                     resolve(trainStep, "cnnc_train_step_seeded")})
      if (!s)
        return s;

    lastError = reinterpret_cast<const char *(*)(void)>(
        dlsym(handle, "cnnc_last_error"));
    resolveSessions();
    if (!(resolveOptional(gradientStep, "cnnc_gradient_step") &&
          resolveOptional(sgdUpdate, "cnnc_sgd_update")))
      gradientStep = nullptr;

    const char *n = nullptr;
    if (cnnc_status s = modelName(&n); s != CNNC_OK)
      return callError("cnnc_model_name", s);
    name = n ? n : "";

    Expected<Shape> in = readShape("cnnc_input_shape", inputShape);
    if (!in)
      return in.status();
    input = *in;
    if (Status s = checkActivationShape("cnnc_input_shape", input); !s)
      return s;
    Expected<Shape> out = readShape("cnnc_output_shape", outputShape);
    if (!out)
      return out.status();
    output = *out;
    if (Status s = checkActivationShape("cnnc_output_shape", output); !s)
      return s;

    int32_t count = 0;
    if (cnnc_status s = numParameters(&count); s != CNNC_OK)
      return callError("cnnc_num_parameters", s);
    if (count < 0)
      return Error(path + ": cnnc_num_parameters reported " +
                   std::to_string(count));
    std::set<std::string> seen;
    for (int32_t i = 0; i < count; ++i) {
      const char *pn = nullptr;
      if (cnnc_status s = parameterName(i, &pn); s != CNNC_OK)
        return callError("cnnc_parameter_name", s);
      if (!pn || !*pn)
        return Error(path + ": parameter " + std::to_string(i) +
                     " has no name");
      if (!seen.insert(pn).second)
        return Error(path + ": two parameters are named '" + std::string(pn) +
                     "'");
      Expected<Shape> shape = readShape("cnnc_parameter_shape",
                                        [&](int64_t *d, int32_t c, int32_t *r) {
                                          return parameterShape(i, d, c, r);
                                        });
      if (!shape)
        return shape.status();
      if (Status s =
              checkedNumElements(*shape, DType::F32,
                                 path + ": parameter '" + std::string(pn) + "'")
                  .status();
          !s)
        return s;
      parameters.push_back({pn, *shape});
      int32_t flag = -1;
      if (cnnc_status s = parameterTrainable(i, &flag); s != CNNC_OK)
        return callError("cnnc_parameter_trainable", s);
      if (flag != 0 && flag != 1)
        return Error(path + ": cnnc_parameter_trainable reported " +
                     std::to_string(flag) + " for '" + std::string(pn) +
                     "'; expected 0 or 1");
      trainable.push_back(flag == 1);
      int32_t kind = -1;
      if (cnnc_status s = parameterKind(i, &kind); s != CNNC_OK)
        return callError("cnnc_parameter_kind", s);
      if (kind != CNNC_KIND_PARAMETER && kind != CNNC_KIND_BUFFER)
        return Error(path + ": cnnc_parameter_kind reported " +
                     std::to_string(kind) + " for '" + std::string(pn) + "'");
      buffer.push_back(kind == CNNC_KIND_BUFFER);
      if (cnnc_status s = parameterUpdated(i, &flag); s != CNNC_OK)
        return callError("cnnc_parameter_updated", s);
      if (flag != 0 && flag != 1)
        return Error(path + ": cnnc_parameter_updated reported " +
                     std::to_string(flag) + " for '" + std::string(pn) +
                     "'; expected 0 or 1");
      updated.push_back(flag == 1);
      if (trainable.back() && buffer.back())
        return Error(path + ": parameter '" + std::string(pn) +
                     "' is trainable but a buffer");
    }
    const char *json = nullptr;
    if (cnnc_status s = trainingRecipe(&json); s != CNNC_OK)
      return callError("cnnc_training_recipe", s);
    recipe = json ? json : "{}";
    if (Status s = readLibraryInfo(); !s)
      return s;
    // A step updates every trainable parameter (a library without one,
    // --inference-only, updates nothing).
    if (!info || info->trainStep)
      for (size_t i = 0; i < trainable.size(); ++i)
        if (trainable[i] && !updated[i])
          return Error(path + ": parameter '" + parameters[i].name +
                       "' is trainable but not updated by the training step");
    return Status::success();
  }

  /// cnnc_library_info, an optional symbol.
  Status readLibraryInfo() {
    using InfoFn = cnnc_status (*)(const char **);
    auto libraryInfo =
        reinterpret_cast<InfoFn>(dlsym(handle, "cnnc_library_info"));
    if (!libraryInfo)
      return Status::success();
    const char *json = nullptr;
    if (cnnc_status s = libraryInfo(&json); s != CNNC_OK)
      return callError("cnnc_library_info", s);
    const nlohmann::json parsed =
        nlohmann::json::parse(json ? json : "", nullptr, false);
    if (!parsed.is_object())
      return Error(path + ": cnnc_library_info is not a JSON object");
    ModelLibrary::LibraryInfo read;
    auto text = [&](const char *key) {
      auto it = parsed.find(key);
      return it != parsed.end() && it->is_string() ? it->get<std::string>()
                                                   : std::string();
    };
    auto count = [&](const char *key) {
      auto it = parsed.find(key);
      return it != parsed.end() && it->is_number_integer() &&
                     it->get<int64_t>() > 0
                 ? it->get<int64_t>()
                 : int64_t(0);
    };
    read.target = text("target");
    read.device = text("device");
    if (read.device.empty())
      read.device = "cpu";
    if (auto it = parsed.find("train_step");
        it != parsed.end() && it->is_boolean())
      read.trainStep = it->get<bool>();
    read.forwardFlopsPerSample = count("forward_flops_per_sample");
    read.trainStepFlopsPerSample = count("train_step_flops_per_sample");
    info = std::move(read);
    return Status::success();
  }
};

ModelLibrary::ModelLibrary(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ModelLibrary::ModelLibrary(ModelLibrary &&) noexcept = default;
ModelLibrary &ModelLibrary::operator=(ModelLibrary &&) noexcept = default;
ModelLibrary::~ModelLibrary() = default;

Expected<ModelLibrary> ModelLibrary::load(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Error(path + ": no such file");
  if (!S_ISREG(st.st_mode))
    return Error(path + ": not a regular file");

  // Without a '/', dlopen searches the library path instead of the current
  // directory, and could load some other net.so.
  std::string openPath =
      path.find('/') == std::string::npos ? "./" + path : path;
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  dlerror();
  impl->handle = dlopen(openPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl->handle) {
    const char *why = dlerror();
    return Error(path + ": cannot load it as a shared library: " +
                 (why ? why : "unknown error"));
  }
  if (Status s = impl->query(); !s)
    return s.error();
  return ModelLibrary(std::move(impl));
}

const std::string &ModelLibrary::path() const { return impl_->path; }
uint32_t ModelLibrary::abiVersion() const { return impl_->version; }
const std::string &ModelLibrary::name() const { return impl_->name; }
const Shape &ModelLibrary::inputShape() const { return impl_->input; }
const Shape &ModelLibrary::outputShape() const { return impl_->output; }
const std::vector<ParameterSpec> &ModelLibrary::parameters() const {
  return impl_->parameters;
}

const std::vector<bool> &ModelLibrary::trainable() const {
  return impl_->trainable;
}
const std::vector<bool> &ModelLibrary::buffers() const { return impl_->buffer; }
const std::vector<bool> &ModelLibrary::updated() const {
  return impl_->updated;
}
const std::string &ModelLibrary::trainingRecipeJson() const {
  return impl_->recipe;
}

const std::optional<ModelLibrary::LibraryInfo> &
ModelLibrary::libraryInfo() const {
  return impl_->info;
}

namespace {
bool anyTrue(const std::vector<bool> &flags) {
  return std::find(flags.begin(), flags.end(), true) != flags.end();
}
} // namespace

bool ModelLibrary::hasTrainStep() const {
  return anyTrue(impl_->trainable) && (!impl_->info || impl_->info->trainStep);
}

Status ModelLibrary::checkTrainStep() const {
  if (!anyTrue(impl_->trainable))
    return Error(impl_->path + ": the network '" + impl_->name +
                 "' has no trainable parameter: there is nothing to train");
  if (!hasTrainStep())
    return Error(impl_->path +
                 ": the library was compiled with --inference-only and has "
                 "no training step; compile the network without it to train");
  return Status::success();
}

Expected<int64_t> ModelLibrary::numClasses() const {
  const Shape &out = impl_->output;
  if (out.size() != 2)
    return Error(impl_->path + ": the network '" + impl_->name + "' outputs " +
                 shapeToString(out) +
                 " per batch, not [N, classes]: training and evaluation need a "
                 "classifier");
  return out[1];
}

Status ModelLibrary::setNumThreads(int32_t threads) {
  if (threads < 0)
    return Error(impl_->path +
                 ": the number of threads must be 0 or more, not " +
                 std::to_string(threads));
  if (cnnc_status s = impl_->setNumThreads(threads); s != CNNC_OK)
    return impl_->callError("cnnc_set_num_threads", s);
  return Status::success();
}

Status ModelLibrary::forwardRaw(int64_t batch, const float *input,
                                const float *const *parameters,
                                float *output) const {
  if (cnnc_status s = impl_->forward(batch, input, parameters, output);
      s != CNNC_OK)
    return impl_->callError("cnnc_forward", s);
  return Status::success();
}

// "[N, 2, 2, 2]": the network's shape as a user reads it.
static std::string batchedShapeToString(const Shape &shape) {
  std::string s = shapeToString(shape);
  return shape.empty() ? s : "[N" + s.substr(s.find(','));
}

/// The input must be float32 of the network's input shape, any batch.
static Status checkInput(const std::string &path, const std::string &network,
                         const Shape &expected, const Tensor &input) {
  if (input.dtype() != DType::F32)
    return Error(path + ": the input must be float32, not " +
                 dtypeName(input.dtype()));
  bool fits = input.rank() == static_cast<int64_t>(expected.size());
  for (size_t i = 1; fits && i < expected.size(); ++i)
    fits = input.shape()[i] == expected[i];
  if (!fits)
    return Error(path + ": the input has shape " +
                 shapeToString(input.shape()) + " but the network '" + network +
                 "' takes " + batchedShapeToString(expected));
  return Status::success();
}

/// The data of `parameters`, each present, float32 and of its spec's shape.
static Expected<std::vector<const float *>>
parameterData(const std::string &path, const std::vector<ParameterSpec> &specs,
              const std::vector<const Tensor *> &parameters) {
  if (parameters.size() != specs.size())
    return Error(path + ": the network takes " + std::to_string(specs.size()) +
                 " parameters, not " + std::to_string(parameters.size()));
  std::vector<const float *> pointers;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const ParameterSpec &spec = specs[i];
    const Tensor *p = parameters[i];
    if (!p)
      return Error(path + ": parameter '" + spec.name + "' is missing (null)");
    if (p->dtype() != DType::F32 || p->shape() != spec.shape)
      return Error(path + ": parameter '" + spec.name + "' is " +
                   dtypeName(p->dtype()) + " " + shapeToString(p->shape()) +
                   " but the network expects F32 " + shapeToString(spec.shape));
    pointers.push_back(p->f32());
  }
  return pointers;
}

/// The logits tensor for a forward pass on `input`, once `input` is checked
/// (the network's input shape, at least one sample).
static Expected<Tensor> logitsFor(const ModelLibrary &model,
                                  const Tensor &input) {
  const std::string &path = model.path();
  if (Status s = checkInput(path, model.name(), model.inputShape(), input); !s)
    return s.error();
  if (input.shape()[0] < 1)
    return Error(path + ": the input holds no samples (batch size 0)");
  Shape outShape = model.outputShape();
  outShape[0] = input.shape()[0];
  return Tensor::create(DType::F32, outShape, path + ": output");
}

Expected<Tensor>
ModelLibrary::forward(const Tensor &input,
                      const std::vector<const Tensor *> &parameters) const {
  const Impl &m = *impl_;
  Expected<Tensor> output = logitsFor(*this, input);
  if (!output)
    return output.error();
  Expected<std::vector<const float *>> pointers =
      parameterData(m.path, m.parameters, parameters);
  if (!pointers)
    return pointers.error();
  // A network without parameters still gets a non-null array.
  const float *none = nullptr;
  const float *const *params = pointers->empty() ? &none : pointers->data();
  if (Status s =
          forwardRaw(input.shape()[0], input.f32(), params, output->f32());
      !s)
    return s.error();
  return output;
}

Status ModelLibrary::trainStepRaw(int64_t batch, const float *input,
                                  const int64_t *labels,
                                  const float *const *parameters,
                                  const float *const *momentum,
                                  float *const *newParameters,
                                  float *const *newMomentum,
                                  const SgdStep &step, float *loss) const {
  if (cnnc_status s =
          impl_->trainStep(batch, input, labels, parameters, momentum,
                           newParameters, newMomentum, step.lr, step.momentum,
                           step.weightDecay, step.nesterov ? 1 : 0,
                           step.firstStep ? 1 : 0, step.seed, step.index, loss);
      s != CNNC_OK)
    return impl_->callError("cnnc_train_step_seeded", s);
  return Status::success();
}

/// A training batch: `input` of the network's input shape, at least one
/// sample, and as many I64 labels, each a class of the network.
static Status checkBatchFor(const ModelLibrary &model, const Tensor &input,
                            const Tensor &labels,
                            const std::string &labelSource) {
  const std::string &path = model.path();
  if (Status s = checkInput(path, model.name(), model.inputShape(), input); !s)
    return s;
  const int64_t batch = input.shape()[0];
  if (batch < 1)
    return Error(path + ": the input holds no samples (batch size 0)");
  if (labels.dtype() != DType::I64 || labels.shape() != Shape{batch})
    return Error(labelSource + ": the labels of a batch of " +
                 std::to_string(batch) + " must be I64 [" +
                 std::to_string(batch) + "], not " + dtypeName(labels.dtype()) +
                 " " + shapeToString(labels.shape()));
  Expected<int64_t> classes = model.numClasses();
  if (!classes)
    return classes.error();
  for (int64_t n = 0; n < batch; ++n) {
    int64_t label = labels.i64()[n];
    if (label < 0 || label >= *classes)
      return Error(labelSource + ": label " + std::to_string(label) +
                   " is out of range for the network '" + model.name() +
                   "' with " + std::to_string(*classes) +
                   " outputs (labels must be 0.." +
                   std::to_string(*classes - 1) + ")");
  }
  return Status::success();
}

Status ModelLibrary::checkTrainingBatch(const Tensor &input,
                                        const Tensor &labels,
                                        const std::string &labelSource) const {
  return checkBatchFor(*this, input, labels, labelSource);
}

Expected<float>
ModelLibrary::trainStep(const Tensor &input, const Tensor &labels,
                        const std::vector<const Tensor *> &parameters,
                        const std::vector<const Tensor *> &momentum,
                        const std::vector<Tensor *> &newParameters,
                        const std::vector<Tensor *> &newMomentum,
                        const SgdStep &step,
                        const std::string &labelSource) const {
  const Impl &m = *impl_;
  if (Status s = checkBatchFor(*this, input, labels, labelSource); !s)
    return s;
  const int64_t batch = input.shape()[0];

  const size_t count = m.parameters.size();
  const bool useMomentum = step.momentum != 0.0f;
  if (parameters.size() != count || newParameters.size() != count ||
      (useMomentum &&
       (momentum.size() != count || newMomentum.size() != count)) ||
      (!momentum.empty() && momentum.size() != count) ||
      (!newMomentum.empty() && newMomentum.size() != count))
    return Error(m.path + ": the network takes " + std::to_string(count) +
                 " parameters, momentum buffers and new buffers each");
  auto check = [&](const Tensor *t, const ParameterSpec &spec,
                   const char *what) -> Status {
    if (!t)
      return Error(m.path + ": " + what + " of '" + spec.name +
                   "' is missing (null)");
    if (t->dtype() != DType::F32 || t->shape() != spec.shape)
      return Error(m.path + ": " + what + " of '" + spec.name + "' is " +
                   dtypeName(t->dtype()) + " " + shapeToString(t->shape()) +
                   " but the network expects F32 " + shapeToString(spec.shape));
    return Status::success();
  };
  std::vector<const float *> p(count, nullptr), v(count, nullptr);
  std::vector<float *> pNew(count, nullptr), vNew(count, nullptr);
  for (size_t i = 0; i < count; ++i) {
    const ParameterSpec &spec = m.parameters[i];
    if (Status s = check(parameters[i], spec, "the parameter"); !s)
      return s;
    p[i] = parameters[i]->f32();
    if (!m.updated[i])
      continue;
    if (Status s = check(newParameters[i], spec, "the new parameter"); !s)
      return s;
    pNew[i] = newParameters[i]->f32();
    if (pNew[i] == p[i])
      return Error(m.path + ": the new parameter '" + spec.name +
                   "' must not alias the parameter");
    if (!m.trainable[i])
      continue; // an updated buffer has no momentum
    if (!useMomentum && (momentum.empty() || !momentum[i]) &&
        (newMomentum.empty() || !newMomentum[i]))
      continue;
    if (Status s = check(momentum[i], spec, "the momentum buffer"); !s)
      return s;
    if (Status s = check(newMomentum[i], spec, "the new momentum buffer"); !s)
      return s;
    v[i] = momentum[i]->f32();
    vNew[i] = newMomentum[i]->f32();
    if (vNew[i] == v[i])
      return Error(m.path + ": the new momentum buffer of '" + spec.name +
                   "' must not alias the momentum buffer");
  }
  // A network without parameters still gets non-null arrays.
  const float *none = nullptr;
  float *noneOut = nullptr;
  float loss = 0.0f;
  Status s =
      trainStepRaw(batch, input.f32(), labels.i64(), count ? p.data() : &none,
                   count ? v.data() : &none, count ? pNew.data() : &noneOut,
                   count ? vNew.data() : &noneOut, step, &loss);
  if (!s) {
    return s.error();
  }
  return loss;
}

bool ModelLibrary::hasGradientStep() const {
  return impl_->gradientStep != nullptr;
}

Status ModelLibrary::gradientStepRaw(int64_t batch, const float *input,
                                     const int64_t *labels,
                                     const float *const *parameters,
                                     float *const *gradients,
                                     float *const *newBuffers, uint64_t seed,
                                     int64_t stepIndex, int64_t firstSample,
                                     float *loss) const {
  if (!impl_->gradientStep)
    return Error(impl_->path + ": the library has no cnnc_gradient_step "
                               "(built by an older cnnc); recompile it");
  if (cnnc_status s =
          impl_->gradientStep(batch, input, labels, parameters, gradients,
                              newBuffers, seed, stepIndex, firstSample, loss);
      s != CNNC_OK)
    return impl_->callError("cnnc_gradient_step", s);
  return Status::success();
}

Status ModelLibrary::sgdUpdateRaw(const float *const *parameters,
                                  const float *const *momentum,
                                  const float *const *gradients,
                                  float *const *newParameters,
                                  float *const *newMomentum,
                                  const SgdStep &step) const {
  if (!impl_->sgdUpdate)
    return Error(impl_->path + ": the library has no cnnc_sgd_update "
                               "(built by an older cnnc); recompile it");
  if (cnnc_status s = impl_->sgdUpdate(
          parameters, momentum, gradients, newParameters, newMomentum, step.lr,
          step.momentum, step.weightDecay, step.nesterov ? 1 : 0,
          step.firstStep ? 1 : 0);
      s != CNNC_OK)
    return impl_->callError("cnnc_sgd_update", s);
  return Status::success();
}

bool ModelLibrary::hasSessions() const {
  return impl_->sessionCreate != nullptr;
}

Expected<ModelLibrary::Session>
ModelLibrary::createSession(const std::vector<const Tensor *> &parameters,
                            const std::vector<const Tensor *> &momentum,
                            int64_t steps, uint64_t seed) const {
  const Impl &m = *impl_;
  if (!hasSessions())
    return Error(m.path + ": the library has no training sessions "
                          "(cnnc_session_create); recompile the network");
  Expected<std::vector<const float *>> p =
      parameterData(m.path, m.parameters, parameters);
  if (!p)
    return p.error();
  std::vector<const float *> v(m.parameters.size(), nullptr);
  if (!momentum.empty()) {
    if (momentum.size() != m.parameters.size())
      return Error(m.path + ": expected " +
                   std::to_string(m.parameters.size()) +
                   " momentum buffers, not " + std::to_string(momentum.size()));
    for (size_t i = 0; i < v.size(); ++i) {
      if (!m.trainable[i])
        continue;
      const Tensor *t = momentum[i];
      if (!t || t->dtype() != DType::F32 || t->shape() != m.parameters[i].shape)
        return Error(m.path + ": the momentum buffer of '" +
                     m.parameters[i].name + "' must be F32 " +
                     shapeToString(m.parameters[i].shape));
      v[i] = t->f32();
    }
  }
  const float *none = nullptr;
  cnnc_session *handle = nullptr;
  if (cnnc_status s = m.sessionCreate(p->empty() ? &none : p->data(), &handle);
      s != CNNC_OK)
    return m.callError("cnnc_session_create", s);
  Session session(*this, handle);
  if (!momentum.empty() || steps != 0)
    if (cnnc_status s =
            m.sessionWrite(handle, p->empty() ? &none : p->data(),
                           momentum.empty() ? nullptr : v.data(), steps);
        s != CNNC_OK)
      return m.callError("cnnc_session_write", s);
  if (cnnc_status s = m.sessionSetSeed(handle, seed); s != CNNC_OK)
    return m.callError("cnnc_session_set_seed", s);
  return session;
}

ModelLibrary::Session::Session(const ModelLibrary &model, void *handle)
    : model_(&model), handle_(handle) {}

ModelLibrary::Session::Session(Session &&other) noexcept
    : model_(other.model_), handle_(other.handle_) {
  other.handle_ = nullptr;
}

ModelLibrary::Session &
ModelLibrary::Session::operator=(Session &&other) noexcept {
  std::swap(model_, other.model_);
  std::swap(handle_, other.handle_);
  return *this;
}

ModelLibrary::Session::~Session() {
  if (handle_)
    model_->impl_->sessionDestroy(static_cast<cnnc_session *>(handle_));
}

Expected<float>
ModelLibrary::Session::trainStep(const Tensor &input, const Tensor &labels,
                                 const SgdStep &step,
                                 const std::string &labelSource) {
  if (Status s = checkBatchFor(*model_, input, labels, labelSource); !s)
    return s;
  float loss = 0.0f;
  const Impl &m = *model_->impl_;
  if (cnnc_status s = m.sessionTrainStep(
          static_cast<cnnc_session *>(handle_), input.shape()[0], input.f32(),
          labels.i64(), step.lr, step.momentum, step.weightDecay,
          step.nesterov ? 1 : 0, &loss);
      s != CNNC_OK)
    return m.callError("cnnc_session_train_step", s);
  return loss;
}

Expected<Tensor> ModelLibrary::Session::forward(const Tensor &input) const {
  const Impl &m = *model_->impl_;
  Expected<Tensor> output = logitsFor(*model_, input);
  if (!output)
    return output.error();
  if (cnnc_status s =
          m.sessionForward(static_cast<cnnc_session *>(handle_),
                           input.shape()[0], input.f32(), output->f32());
      s != CNNC_OK)
    return m.callError("cnnc_session_forward", s);
  return output;
}

Status ModelLibrary::Session::read(std::vector<Tensor> &parameters,
                                   std::vector<Tensor> &momentum) const {
  const Impl &m = *model_->impl_;
  const size_t count = m.parameters.size();
  parameters.resize(count);
  momentum.resize(count);
  std::vector<float *> p(count), v(count, nullptr);
  for (size_t i = 0; i < count; ++i) {
    const Shape &shape = m.parameters[i].shape;
    if (parameters[i].dtype() != DType::F32 || parameters[i].shape() != shape)
      parameters[i] = Tensor(DType::F32, shape);
    p[i] = parameters[i].f32();
    if (!m.trainable[i])
      continue;
    if (momentum[i].dtype() != DType::F32 || momentum[i].shape() != shape)
      momentum[i] = Tensor(DType::F32, shape);
    v[i] = momentum[i].f32();
  }
  float *none = nullptr;
  if (cnnc_status s =
          m.sessionRead(static_cast<cnnc_session *>(handle_),
                        count ? p.data() : &none, count ? v.data() : &none);
      s != CNNC_OK)
    return m.callError("cnnc_session_read", s);
  return Status::success();
}

} // namespace cnnc::rt
