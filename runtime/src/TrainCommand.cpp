#include "cnnc/Commands.h"

#include "CommandLine.h"
#include "cnnc/BatchCounters.h"
#include "cnnc/FileIO.h"
#include "cnnc/Init.h"
#include "cnnc/ModelLibrary.h"
#include "cnnc/ParameterCheck.h"
#include "cnnc/Safetensors.h"
#include "cnnc/data/ValidationSplit.h"
#include "cnnc/dist/Communicator.h"
#include "cnnc/train/Checkpoint.h"
#include "cnnc/train/MetricsLog.h"
#include "cnnc/train/Progress.h"
#include "cnnc/train/ThreadTuner.h"
#include "cnnc/train/Trainer.h"
#include "cnnc/train/TrainingData.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace cnnc::rt {

static const char kTrainUsage[] =
    "usage: cnnc train NET.so --data SPEC -o OUT.safetensors [options]\n"
    "\n"
    "Trains the network with SGD on the training split of SPEC, evaluating it "
    "on\n"
    "validation data after every epoch. The network's train: recipe gives the\n"
    "defaults; the options below override them. Writes to OUT the weights of "
    "the\n"
    "epoch with the best validation accuracy (or, with --no-keep-best, of the "
    "last\n"
    "epoch), the best weights also to OUT with .best before the extension, and "
    "a\n"
    "checkpoint (with the last epoch's weights) after every epoch. Started "
    "by\n"
    "mpirun -np N, the N processes train together (docs/data-parallel.md).\n"
    "\n"
    "  --data SPEC          training data: fashion-mnist:DIR, mnist:DIR, "
    "cifar10:DIR,\n"
    "                       npy:IMAGES.npy,LABELS.npy[,classes=K] or "
    "folder:DIR\n"
    "  --val-data SPEC      validation data (its test split; default: a "
    "--val-split\n"
    "                       of --data, else its test split, for npy and "
    "folder: the\n"
    "                       same files)\n"
    "  --val-split F        hold out the fraction F of the training data (a "
    "seeded\n"
    "                       random part) for validation, with the eval "
    "transforms;\n"
    "                       0 turns the recipe's val_split off\n"
    "  --keep-best, --no-keep-best\n"
    "                       OUT gets the best validation epoch's weights "
    "(default,\n"
    "                       unless the recipe says keep_best: false) or the "
    "last's\n"
    "  -o, --output FILE    the weights (safetensors)\n"
    "  --weights FILE       start from these weights (default: the recipe's "
    "init:\n"
    "                       weights, else PyTorch's default initialisation "
    "from --seed)\n"
    "  --skip GLOB[,GLOB]   with --weights: parameters to start anew instead "
    "(the\n"
    "                       replaced head, e.g. 'fc.*'); file tensors they "
    "match are\n"
    "                       ignored whatever their shapes (default: init: "
    "skip)\n"
    "  --epochs N           total number of epochs (also when resuming)\n"
    "  --batch-size B       samples per step (under mpirun -np N: the global "
    "batch,\n"
    "                       B / N per process)\n"
    "  --lr X               base learning rate\n"
    "  --momentum M         SGD momentum\n"
    "  --weight-decay D     L2 penalty\n"
    "  --nesterov           Nesterov momentum\n"
    "  --no-shuffle         keep the training data in file order\n"
    "  --seed S             seed of initialisation, shuffling, augmentation "
    "and dropout (default 0)\n"
    "  --threads T          threads to use (0 = one per core; default: the\n"
    "                       faster of 1 and one per core, timed on the first\n"
    "                       steps, or under mpirun the machine's cores\n"
    "                       divided among its processes; results do not\n"
    "                       depend on it)\n"
    "  --checkpoint FILE    where to checkpoint after each epoch (default: OUT "
    "with\n"
    "                       .ckpt before the extension)\n"
    "  --resume FILE        continue a run from its checkpoint: same data "
    "order,\n"
    "                       learning rates and momentum as an uninterrupted "
    "run\n"
    "  --metrics FILE.csv   write the curves: a row every --metrics-every "
    "steps and\n"
    "                       one per epoch (loss, validation loss and "
    "accuracy, lr,\n"
    "                       images/s); python3 -m cnnc.plot FILE.csv draws "
    "them\n"
    "  --metrics-every K    steps between step rows (default 50; 0: epoch "
    "rows only)\n";

namespace {

// "out.safetensors" + "best" -> "out.best.safetensors"; "dir.v/out" ->
// "dir.v/out.best".
std::string withTag(const std::string &path, const std::string &tag) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  size_t nameStart = slash == std::string::npos ? 0 : slash + 1;
  if (dot == std::string::npos || dot <= nameStart)
    return path + "." + tag;
  return path.substr(0, dot) + "." + tag + path.substr(dot);
}

// The directory of `path` exists, so writing there can work.
Status checkWritableDir(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash + 1);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error(path + ": the directory " + dir + " does not exist");
  return Status::success();
}

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string percent(double fraction) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * fraction);
  return buf;
}

struct Command {
  // `out` is rank 0's standard output, a sink on the other processes.
  Command(std::ostream &o, std::ostream &e, dist::Communicator &c)
      : out(o), err(e), comm(c),
        name(c.size() > 1 ? "cnnc train (rank " + std::to_string(c.rank()) +
                                " of " + std::to_string(c.size()) + ")"
                          : "cnnc train") {}
  std::ostream &out, &err;
  dist::Communicator &comm;
  const std::string name;
  bool leads() const { return comm.rank() == 0; }

  // What the steps of run() find, in their order.
  ParsedArgs args;
  std::string outPath, bestPath, ckptPath;
  std::optional<ModelLibrary> model;
  TrainingRecipe recipe;
  bool resuming = false;
  TrainingCheckpoint state;
  data::DataSpec trainSpec, valSpec;
  std::shared_ptr<const data::Dataset> trainSet;
  std::optional<data::DataLoader> trainLoader, valLoader;
  // The starting weights file, for its batch norms' counters.
  TensorMap weightsFile;
  std::string weightsName;
  BatchCounters counters;
  int64_t stepsPerEpoch = 0;
  std::optional<double> lastAccuracy; // unknown when no epoch runs
  // Without --threads (and Halide's HL_NUM_THREADS), one process: the
  // thread count is timed on the first steps of an epoch long enough to
  // finish the trials well before its evaluation.
  int32_t tunedCores = 0;
  // Under MPI: the processes that may run on this process's cores, their
  // number, and the thread count each was given for them (0: given by
  // --threads or the environment).
  std::pair<int, int32_t> sharedMachine;
  int32_t perProcessThreads = 0;
  std::optional<ThreadTuner> threadTuner;
  bool threadsReported = false;
  // The epoch whose weights this run last wrote to the best file (0: none).
  int64_t bestWritten = 0;
  int64_t metricsEvery = 50; // --metrics-every

  int fail(const Error &e) { return reportError(err, name, e); }
  int usageError(const std::string &message) {
    reportError(err, name, Error(message));
    err << kTrainUsage;
    return 1;
  }
  void note(const std::string &text) {
    if (leads())
      err << name << ": note: " << text << "\n";
  }

  const std::string *option(const std::string &key) const {
    auto it = args.options.find(key);
    return it == args.options.end() ? nullptr : &it->second;
  }

  // Applies the flags over `c` (the recipe's values, or the checkpoint's on
  // resume, when a flag that changes them is worth a note).
  Status applyFlags(TrainingCheckpoint &c, bool resuming) {
    auto changed = [&](const std::string &flag, const std::string &from,
                       const std::string &to) {
      if (resuming && from != to)
        note(flag + " " + to + " replaces the checkpoint's " + from +
             "; the run will differ from an uninterrupted one");
    };
    if (const std::string *v = option("--epochs")) {
      Expected<int64_t> n = parseInteger("--epochs", *v, 1, 1000000000);
      if (!n)
        return n.error();
      c.epochs = *n;
    }
    if (const std::string *v = option("--batch-size")) {
      Expected<int64_t> n = parseInteger("--batch-size", *v, 1, 1000000000);
      if (!n)
        return n.error();
      changed("--batch-size", std::to_string(c.batchSize), std::to_string(*n));
      c.batchSize = *n;
    }
    struct Real {
      const char *flag;
      double *field;
      bool exclusive;
    } reals[] = {{"--lr", &c.sgd.lr, true},
                 {"--momentum", &c.sgd.momentum, false},
                 {"--weight-decay", &c.sgd.weightDecay, false}};
    for (const Real &r : reals)
      if (const std::string *v = option(r.flag)) {
        Expected<double> x = parseReal(r.flag, *v, 0.0, r.exclusive);
        if (!x)
          return x.error();
        changed(r.flag, number(*r.field), number(*x));
        *r.field = *x;
      }
    if (args.flags.count("--nesterov")) {
      changed("--nesterov", c.sgd.nesterov ? "on" : "off", "on");
      c.sgd.nesterov = true;
    }
    if (args.flags.count("--no-shuffle")) {
      changed("--no-shuffle", c.shuffle ? "shuffle" : "no shuffle",
              "no shuffle");
      c.shuffle = false;
    }
    if (const std::string *v = option("--val-split")) {
      Expected<double> x = parseReal("--val-split", *v, 0.0, false);
      if (!x)
        return x.error();
      if (*x >= 1)
        return Error("--val-split must be below 1, not " + *v);
      changed("--val-split", number(c.valSplit), number(*x));
      c.valSplit = *x;
    }
    if (const std::string *v = option("--seed")) {
      Expected<uint64_t> seed = parseUnsigned("--seed", *v);
      if (!seed)
        return seed.error();
      changed("--seed", std::to_string(c.seed), std::to_string(*seed));
      c.seed = *seed;
    }
    return validateSgd(c.sgd);
  }

  // Parses the arguments and checks the rules between options. Returns the
  // exit status when the command ends here (--help, a usage error).
  std::optional<int> parseOptions(const std::vector<std::string> &argv) {
    Expected<ParsedArgs> parsed = parseArgs(
        argv,
        {{"-o", "--output"},
         {"--output", "--output"},
         {"--data", "--data"},
         {"--val-data", "--val-data"},
         {"--weights", "--weights"},
         {"--epochs", "--epochs"},
         {"--batch-size", "--batch-size"},
         {"--lr", "--lr"},
         {"--momentum", "--momentum"},
         {"--weight-decay", "--weight-decay"},
         {"--seed", "--seed"},
         {"--threads", "--threads"},
         {"--resume", "--resume"},
         {"--checkpoint", "--checkpoint"},
         {"--val-split", "--val-split"},
         {"--skip", "--skip"},
         {"--metrics", "--metrics"},
         {"--metrics-every", "--metrics-every"}},
        {"--nesterov", "--no-shuffle", "--keep-best", "--no-keep-best"});
    if (!parsed)
      return usageError(parsed.message());
    args = std::move(*parsed);
    if (args.help) {
      out << kTrainUsage;
      return 0;
    }
    if (args.positional.size() != 1)
      return usageError("expected one model library (NET.so)");
    if (!option("--data"))
      return usageError("missing --data SPEC");
    if (!option("--output"))
      return usageError("missing -o OUT.safetensors");
    if (option("--weights") && option("--resume"))
      return usageError(
          "--resume continues from the checkpoint's weights; drop --weights");
    if (option("--val-data") && option("--val-split"))
      return usageError(
          "--val-data and --val-split both choose the validation data; "
          "give one");
    if (args.flags.count("--keep-best") && args.flags.count("--no-keep-best"))
      return usageError("--keep-best and --no-keep-best contradict each other");
    if (option("--metrics-every") && !option("--metrics"))
      return usageError("--metrics-every needs --metrics FILE.csv");
    if (const std::string *every = option("--metrics-every")) {
      Expected<int64_t> k =
          parseInteger("--metrics-every", *every, 0, int64_t(1) << 40);
      if (!k)
        return usageError(k.message());
      metricsEvery = *k;
    }
    return std::nullopt;
  }

  // The output, best-weights and checkpoint paths: checked before any work,
  // so a typo does not cost a run.
  Status chooseOutputs() {
    outPath = *option("--output");
    bestPath = withTag(outPath, "best");
    ckptPath = option("--checkpoint") ? *option("--checkpoint")
                                      : withTag(outPath, "ckpt");
    if (outPath == bestPath || outPath == ckptPath || bestPath == ckptPath)
      return Error(
          "the output, best-weights and checkpoint files must differ (" +
          outPath + ", " + bestPath + ", " + ckptPath + ")");
    for (const std::string *p : {&outPath, &bestPath, &ckptPath})
      if (Status s = checkWritableDir(*p); !s)
        return s;
    if (const std::string *metrics = option("--metrics"))
      if (Status s = checkWritableDir(*metrics); !s)
        return s;
    return Status::success();
  }

  Status loadModelAndRecipe() {
    Expected<ModelLibrary> loaded = ModelLibrary::load(args.positional[0]);
    if (!loaded)
      return loaded.status();
    model = std::move(*loaded);
    if (Status s = model->checkTrainStep(); !s)
      return s;
    if (Status s = checkSameLibrary(); !s)
      return s;
    Expected<TrainingRecipe> read = trainingRecipe(*model);
    if (!read)
      return read.status();
    recipe = std::move(*read);
    return Status::success();
  }

  // Processes that loaded different libraries would not train one network.
  Status checkSameLibrary() {
    if (comm.size() == 1)
      return Status::success();
    Expected<std::string> bytes = readFile(model->path());
    if (!bytes)
      return bytes.status();
    const uint64_t hash = std::hash<std::string>{}(*bytes);
    return dist::checkSameEverywhere(
        comm, hash, "the model libraries (" + model->path() + ")");
  }

  // Processes that disagree on the run (other flags, a stale checkpoint,
  // data of another length) would take different numbers of steps and
  // wait on each other for ever: compared before the first step.
  Status checkSameRun() {
    if (comm.size() == 1)
      return Status::success();
    std::ostringstream run;
    run << std::hexfloat; // every bit of the optimizer's settings
    run << state.epochs << ' ' << state.epochsCompleted << ' ' << state.steps
        << ' ' << state.batchSize << ' ' << state.seed << ' ' << state.shuffle
        << ' ' << state.valSplit << ' ' << trainLoader->numSamples() << ' '
        << valLoader->numSamples() << ' ' << state.sgd.lr << ' '
        << state.sgd.momentum << ' ' << state.sgd.weightDecay << ' '
        << state.sgd.nesterov << ' ' << describeSchedule(state.schedule);
    return dist::checkSameEverywhere(
        comm, std::hash<std::string>{}(run.str()),
        "the runs (epochs, steps taken, batch size, seed, data sizes, "
        "optimizer settings)");
  }

  // Each process takes an equal slice of the global batch.
  Status checkGlobalBatch() const {
    if (state.batchSize % comm.size() == 0)
      return Status::success();
    return Error(
        "the batch size " + std::to_string(state.batchSize) +
        " is the global batch of the " + std::to_string(comm.size()) +
        " processes and must divide by their number (each takes "
        "batch size / processes samples); try --batch-size " +
        std::to_string((state.batchSize / comm.size() + 1) * comm.size()));
  }

  // --skip names tensors of starting weights, which there are none of.
  bool skipWithoutWeights() const {
    return option("--skip") && !option("--weights") &&
           recipe.initWeights.empty();
  }

  Status setThreads() {
    const int32_t cores = usableCores();
    // A collective: every process takes part, whatever its options.
    if (comm.size() > 1) {
      Expected<int> here =
          dist::processesWithId(comm, dist::coresId(usableCpus()));
      if (!here)
        return here.status();
      sharedMachine = {*here, cores};
    }
    if (const std::string *t = option("--threads")) {
      Expected<int64_t> n =
          parseInteger("--threads", *t, 0, std::numeric_limits<int32_t>::max());
      if (!n)
        return n.status();
      return model->setNumThreads(static_cast<int32_t>(*n));
    }
    if (std::getenv("HL_NUM_THREADS") ||
        std::getenv("HL_NUMTHREADS")) // Halide's older spelling
      return Status::success();
    if (comm.size() > 1) {
      // Processes that may run on the same cores (one machine, the same
      // binding: none, a socket, a cpuset) divide them: oversubscribed,
      // each pool's waiting workers would take cores the others need.
      perProcessThreads = std::max(1, cores / sharedMachine.first);
      return model->setNumThreads(perProcessThreads);
    }
    if (cores < 2)
      return Status::success();
    tunedCores = cores;
    return model->setNumThreads(tunedCores);
  }

  // The state to start from: a checkpoint, or the recipe; the flags over it.
  Status initialState() {
    resuming = option("--resume") != nullptr;
    if (resuming) {
      Expected<TrainingCheckpoint> c =
          loadCheckpoint(*option("--resume"), *model);
      if (!c)
        return c.status();
      state = std::move(*c);
    } else {
      state.network = model->name();
      state.epochs = recipe.epochs;
      state.batchSize = recipe.batchSize;
      state.sgd = recipe.sgd;
      state.schedule = recipe.schedule;
      state.valSplit = recipe.valSplit;
    }
    if (option("--val-data") && state.valSplit > 0) {
      note("--val-data replaces the validation split of " +
           number(state.valSplit) + " of the training data");
      state.valSplit = 0;
    }
    if (Status s = applyFlags(state, resuming); !s)
      return s;
    if (Status s = checkGlobalBatch(); !s)
      return s;
    if (state.epochsCompleted > state.epochs)
      return Error(*option("--resume") + ": the checkpoint already completed " +
                   std::to_string(state.epochsCompleted) +
                   " epochs, more than --epochs " +
                   std::to_string(state.epochs));
    return Status::success();
  }

  // The training and validation data specs (--val-data, else the training
  // data's).
  Status parseDataSpecs() {
    Expected<data::DataSpec> parsedTrain =
        data::parseDataSpec(*option("--data"));
    if (!parsedTrain)
      return parsedTrain.status();
    trainSpec = valSpec = *parsedTrain;
    if (const std::string *v = option("--val-data")) {
      Expected<data::DataSpec> parsedVal = data::parseDataSpec(*v);
      if (!parsedVal)
        return parsedVal.status();
      valSpec = *parsedVal;
    } else if (!data::hasSplits(trainSpec.kind) && state.valSplit == 0) {
      note(std::string(trainSpec.kind == data::DataKind::Npy ? "npy"
                                                             : "folder") +
           " data has no test split: validating on the training files (use "
           "--val-split "
           "or --val-data for separate validation data)");
    }
    return Status::success();
  }

  // The datasets and their loaders: a validation split of the training
  // data, or the validation spec's test split.
  Status loadData() {
    Expected<data::TransformList> trainTransforms =
        recipeTransforms(recipe, true);
    Expected<data::TransformList> valTransforms =
        recipeTransforms(recipe, false);
    if (!trainTransforms)
      return Error(model->path() + ": " + trainTransforms.message());
    if (!valTransforms)
      return Error(model->path() + ": " + valTransforms.message());
    data::LoaderOptions trainOptions;
    trainOptions.batchSize = state.batchSize;
    trainOptions.shuffle = state.shuffle;
    trainOptions.seed = state.seed;
    data::LoaderOptions valOptions;
    valOptions.batchSize = state.batchSize;
    for (data::LoaderOptions *o : {&trainOptions, &valOptions}) {
      o->shards = comm.size();
      o->shard = comm.rank();
    }
    Expected<std::shared_ptr<const data::Dataset>> loadedTrain =
        datasetForNetwork(*model, trainSpec, data::Split::Train);
    if (!loadedTrain)
      return loadedTrain.status();
    trainSet = *loadedTrain;
    std::shared_ptr<const data::Dataset> valSet;
    if (state.valSplit > 0) {
      // Both parts from the one dataset: the held-out part with the eval
      // transforms, no augmentation.
      Expected<data::SplitIndices> split = data::splitForValidation(
          trainSet->size(), state.valSplit, state.seed);
      if (!split)
        return Error(trainSpec.text + ": " + split.message());
      trainOptions.subset = std::move(split->train);
      valOptions.subset = std::move(split->validation);
      valSet = trainSet;
    } else {
      Expected<std::shared_ptr<const data::Dataset>> loadedVal =
          datasetForNetwork(*model, valSpec, data::Split::Test);
      if (!loadedVal)
        return loadedVal.status();
      valSet = *loadedVal;
    }
    Expected<data::DataLoader> newTrainLoader =
        loaderForNetwork(*model, trainSet, trainOptions, *trainTransforms);
    if (!newTrainLoader)
      return newTrainLoader.status();
    trainLoader = std::move(*newTrainLoader);
    Expected<data::DataLoader> newValLoader =
        loaderForNetwork(*model, valSet, valOptions, *valTransforms);
    if (!newValLoader)
      return newValLoader.status();
    valLoader = std::move(*newValLoader);
    return Status::success();
  }

  // New weights, unless resuming: --weights and --skip, else the recipe's
  // init: (each flag overrides its key), else PyTorch's initialisation.
  Status initialWeights() {
    if (resuming)
      return Status::success();
    const std::string weights =
        option("--weights") ? *option("--weights") : recipe.initWeights;
    const std::vector<std::string> skip =
        option("--skip") ? splitList(*option("--skip")) : recipe.initSkip;
    if (!weights.empty())
      return startFromFile(weights, skip);
    Expected<TensorMap> init = initParameters(model->parameters(), state.seed);
    if (!init)
      return Error(model->path() + ": " + init.message());
    for (const ParameterSpec &p : model->parameters())
      state.parameters.push_back(std::move(init->at(p.name)));
    return Status::success();
  }

  // The parameters of the file `weights`, except those `skip` matches: they
  // start as new ones (the same seeded initialiser). Batch norms count their
  // batches on from the file's num_batches_tracked.
  Status startFromFile(const std::string &weights,
                       const std::vector<std::string> &skip) {
    Expected<SafetensorsFile> file = readSafetensors(weights);
    if (!file)
      return file.status();
    Expected<std::vector<const Tensor *>> matched =
        matchInitialWeights(model->parameters(), file->tensors, weights, skip);
    if (!matched)
      return matched.status();
    Expected<TensorMap> init = initParameters(model->parameters(), state.seed);
    if (!init)
      return Error(model->path() + ": " + init.message());
    std::string anew;
    for (size_t i = 0; i < matched->size(); ++i) {
      const std::string &name = model->parameters()[i].name;
      state.parameters.push_back((*matched)[i] ? *(*matched)[i]
                                               : init->at(name));
      if (!(*matched)[i])
        anew += (anew.empty() ? "" : ", ") + name;
    }
    out << "starting from " << weights
        << (anew.empty() ? std::string() : "; new: " + anew) << "\n";
    weightsFile = std::move(file->tensors);
    weightsName = weights;
    return Status::success();
  }

  // The header: network, parameter counts, data, optimizer settings.
  void report() {
    int64_t total = 0, trainable = 0;
    for (size_t i = 0; i < model->parameters().size(); ++i) {
      int64_t n = state.parameters[i].numElements();
      total += n;
      trainable += model->trainable()[i] ? n : 0;
    }
    out << "training '" << model->name() << "' (" << total << " parameters, "
        << trainable << " trainable) on "
        << describeData(*trainLoader, trainSpec, data::Split::Train);
    if (state.valSplit > 0)
      out << "\nvalidating on " << valLoader->numSamples() << " of its "
          << trainSet->size() << " images (val split " << number(state.valSplit)
          << ", seed " << state.seed << "; eval transforms)";
    else
      out << "\nvalidating on "
          << describeData(*valLoader, valSpec, data::Split::Test);
    out << "\nSGD(lr=" << number(state.sgd.lr)
        << ", momentum=" << number(state.sgd.momentum)
        << ", weight_decay=" << number(state.sgd.weightDecay)
        << ", nesterov=" << (state.sgd.nesterov ? "True" : "False") << "), "
        << describeSchedule(state.schedule) << ", batch size "
        << state.batchSize << ", epochs " << state.epochs << ", seed "
        << state.seed << (state.shuffle ? "" : ", no shuffle") << "\n";
    if (comm.size() > 1)
      out << "data parallel: " << comm.describe() << ", "
          << state.batchSize / comm.size()
          << " samples of each batch per process\n";
    if (perProcessThreads) {
      const auto [processes, cores] = sharedMachine;
      auto count = [](int64_t n, const char *one, const char *many) {
        return std::to_string(n) + " " + (n == 1 ? one : many);
      };
      out << "threads per process: " << perProcessThreads << " ("
          << count(processes, "process", "processes") << " on rank 0's "
          << count(cores, "core", "cores") << ")\n";
    }
    if (resuming)
      out << "resuming from " << *option("--resume") << " after epoch "
          << state.epochsCompleted << " (step " << state.steps << ")\n";
    out << std::flush;
  }

  // Writes `tensors`, the weights after `epoch` epochs, with their batch
  // norms' counters and the metadata PyTorch users see.
  Status writeWeights(const std::string &path,
                      const std::vector<Tensor> &tensors, int64_t epoch,
                      std::optional<double> accuracy) const {
    TensorMap map;
    for (size_t i = 0; i < tensors.size(); ++i)
      map.emplace(model->parameters()[i].name, tensors[i]);
    addBatchCounters(map, counters, epoch * stepsPerEpoch);
    std::map<std::string, std::string> meta{
        {"format", "pt"},
        {"network", model->name()},
        {"seed", std::to_string(state.seed)},
        {"epoch", std::to_string(epoch)}};
    if (accuracy) {
      char acc[40];
      std::snprintf(acc, sizeof acc, "%.17g", *accuracy);
      meta["val_accuracy"] = acc;
    }
    return writeSafetensors(path, map, meta);
  }

  // The epochs, each followed by its summary line, the best weights when it
  // became the best, and the checkpoint.
  Status runTraining() {
    Expected<BatchCounters> read =
        readBatchCounters(*model, weightsFile, weightsName);
    if (!read)
      return read.status();
    counters = std::move(*read);
    stepsPerEpoch = trainLoader->numBatches();
    Progress progress(out, detectProgressStyle(out));
    std::optional<MetricsLog> metrics;
    const std::string *metricsPath = leads() ? option("--metrics") : nullptr;
    if (const std::string *path = metricsPath) {
      Expected<MetricsLog> opened = MetricsLog::open(
          *path, metricsEvery,
          resuming ? std::optional<int64_t>(state.steps) : std::nullopt);
      if (!opened)
        return opened.status();
      metrics = std::move(*opened);
    }
    // The curves are a by-product: a failed write costs them, not the run.
    auto record = [&](Status written) {
      if (written)
        return;
      err << "cnnc train: warning: " << written.message()
          << "; no more metrics are written\n";
      metrics.reset();
    };
    if (tunedCores > 1) {
      threadTuner.emplace(std::vector<int32_t>{1, tunedCores});
      if (stepsPerEpoch < 2 * threadTuner->tuningSteps())
        threadTuner.reset();
    }
    StepHook stepHook = [&](const StepRecord &step) -> Status {
      if (metrics)
        record(metrics->step(step));
      if (threadTuner)
        if (std::optional<int32_t> next =
                threadTuner->afterStep(step.batch, step.epochSeconds))
          return model->setNumThreads(*next);
      return Status::success();
    };
    EpochHook hook = [&](const EpochSummary &summary,
                         const TrainingCheckpoint &c) -> Status {
      out << formatEpochSummary(summary) << "\n" << std::flush;
      if (threadTuner && threadTuner->chosen() && !threadsReported) {
        out << "threads: " << threadTuner->report() << "\n" << std::flush;
        threadsReported = true;
      }
      lastAccuracy = summary.validation.accuracy();
      // Files are rank 0's: every process holds the same state, which the
      // trainer has just compared.
      if (!leads())
        return Status::success();
      if (summary.checksum) {
        char sum[32];
        std::snprintf(sum, sizeof sum, "%016llx",
                      static_cast<unsigned long long>(*summary.checksum));
        out << "data parallel: parameters identical on " << comm.size()
            << " processes (checksum " << sum << ")\n";
      }
      // The best weights first: the checkpoint then never names a best
      // epoch whose weights are not on disk.
      if (summary.best) {
        if (Status s = writeWeights(bestPath, c.bestParameters, c.bestEpoch,
                                    c.bestAccuracy);
            !s)
          return s;
        bestWritten = c.bestEpoch;
      }
      if (Status s = saveCheckpoint(ckptPath, *model, c); !s)
        return s;
      // After the checkpoint: the file never holds an epoch a resumed run
      // would train again.
      if (metrics)
        record(metrics->epoch(summary, c.steps));
      return Status::success();
    };
    return train(*model, *trainLoader, *valLoader, state, progress, hook,
                 stepHook, &comm);
  }

  // OUT (the best epoch's weights, the lecture's best_model_wts, or the
  // last's), the best weights unless this run wrote them already (a resumed
  // run whose best epoch came before it writes them again), and what was
  // written.
  Status writeFinalOutputs() {
    if (!leads())
      return Status::success();
    if (state.bestEpoch > 0 && state.bestEpoch != bestWritten)
      if (Status s = writeWeights(bestPath, state.bestParameters,
                                  state.bestEpoch, state.bestAccuracy);
          !s)
        return s;
    bool keepBest = recipe.keepBest;
    if (args.flags.count("--keep-best") || args.flags.count("--no-keep-best"))
      keepBest = args.flags.count("--keep-best") > 0;
    const bool kept = keepBest && state.bestEpoch > 0;
    if (Status s = kept ? writeWeights(outPath, state.bestParameters,
                                       state.bestEpoch, state.bestAccuracy)
                        : writeWeights(outPath, state.parameters,
                                       state.epochsCompleted, lastAccuracy);
        !s)
      return s;
    if (kept)
      out << "kept epoch " << state.bestEpoch << " of " << state.epochsCompleted
          << ", the best val accuracy (" << percent(state.bestAccuracy)
          << ")\n";
    out << "wrote " << outPath << " (epoch "
        << (kept ? state.bestEpoch : state.epochsCompleted) << ")";
    if (state.bestEpoch > 0)
      out << ", " << bestPath << " (epoch " << state.bestEpoch
          << ", val accuracy " << percent(state.bestAccuracy) << ")";
    if (lastAccuracy)
      out << " and " << ckptPath << " (epoch " << state.epochsCompleted << ")";
    out << "\n";
    return Status::success();
  }

  int run(const std::vector<std::string> &argv) {
    if (std::optional<int> exitStatus = parseOptions(argv))
      return *exitStatus;
    if (Status s = chooseOutputs(); !s)
      return fail(s.error());
    if (Status s = loadModelAndRecipe(); !s)
      return fail(s.error());
    if (skipWithoutWeights())
      return usageError(
          "--skip names tensors of --weights; give the weights file too");
    if (Status s = setThreads(); !s)
      return fail(s.error());
    if (Status s = initialState(); !s)
      return fail(s.error());
    if (Status s = parseDataSpecs(); !s)
      return fail(s.error());
    if (Status s = loadData(); !s)
      return fail(s.error());
    if (Status s = initialWeights(); !s)
      return fail(s.error());
    if (Status s = checkSameRun(); !s)
      return fail(s.error());
    report();
    if (Status s = runTraining(); !s)
      return fail(s.error());
    if (Status s = writeFinalOutputs(); !s)
      return fail(s.error());
    return 0;
  }
};

} // namespace

int runTrainCommand(const std::vector<std::string> &args, std::ostream &out,
                    std::ostream &err) {
  std::unique_ptr<dist::Communicator> comm = dist::singleProcess();
  if (dist::startedByMpirun()) {
    Expected<std::unique_ptr<dist::Communicator>> joined = dist::connectMpi();
    if (!joined)
      return reportError(err, "cnnc train", joined.error());
    comm = std::move(*joined);
  }
  std::ostream quiet(nullptr); // discards: only rank 0 reports progress
  Command command(comm->rank() == 0 ? out : quiet, err, *comm);
  const int status = command.run(args);
  // A process that fails ends the others, which may wait in a collective.
  if (status != 0 && comm->size() > 1)
    comm->abort(status);
  return status;
}

} // namespace cnnc::rt
