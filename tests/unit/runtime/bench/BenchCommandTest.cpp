// `cnnc bench` on a library (the hand-written fake model): the JSON report,
// the human tables, and clear errors for bad arguments. The compile path
// (NET.yaml) is tested end to end through the real command line
// (tests/e2e/bench_cli_test.py).
#include "cnnc/Commands.h"

#include "TestUtil.h"

#include <nlohmann/json.hpp>

#include "cnnc/bench/FmaPeak.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cnnc::rt {
namespace {

// A compiler that must not be reached on NET.so input.
CompilerHooks noCompiler() {
  CompilerHooks c;
  c.checkSchedule = [](const std::string &s) -> Status {
    if (s == "manual" || s == "auto:Li2018")
      return Status::success();
    return Error("unknown schedule '" + s + "'");
  };
  c.recipeJson = [](const std::string &) -> Expected<std::string> {
    return Error("not a compiler");
  };
  c.build = [](const std::string &, const std::string &, int64_t, bool,
               const std::string &) -> Status {
    return Error("not a compiler");
  };
  return c;
}

class BenchCommandTest : public test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    // The FMA peak's cache goes to this test's directory, not $HOME.
    const char *old = std::getenv("XDG_CACHE_HOME");
    hadCache_ = old != nullptr;
    savedCache_ = old ? old : "";
    setenv("XDG_CACHE_HOME", dir_.c_str(), 1);
  }
  void TearDown() override {
    if (hadCache_)
      setenv("XDG_CACHE_HOME", savedCache_.c_str(), 1);
    else
      unsetenv("XDG_CACHE_HOME");
    TempDirTest::TearDown();
  }
  int run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return runBenchCommand(args, out_, err_, noCompiler());
  }
  std::ostringstream out_, err_;
  bool hadCache_ = false;
  std::string savedCache_;
};

TEST_F(BenchCommandTest, PrintsOneJsonObjectForALibrary) {
  ASSERT_EQ(run({CNNC_FAKE_MODEL, "--runs", "3", "--threads", "1", "--json"}),
            0)
      << err_.str();
  nlohmann::json j =
      nlohmann::json::parse(out_.str()); // nothing else on stdout
  EXPECT_EQ(j["network"], "fake_linear");
  EXPECT_EQ(j["batch"], 4); // the recipe's batch_size
  EXPECT_EQ(j["threads"], 1);
  EXPECT_GT(j["fma_peak_gflops"]["1"].get<double>(), 0.0);
  ASSERT_EQ(j["results"].size(), 1u);
  const nlohmann::json &r = j["results"][0];
  EXPECT_EQ(r["schedule"], "library");
  for (const char *pipeline : {"forward", "train_step"}) {
    const nlohmann::json &t = r[pipeline];
    ASSERT_TRUE(t.is_object()) << pipeline;
    EXPECT_EQ(t["runs"], 3);
    EXPECT_LE(t["min_s"].get<double>(), t["median_s"].get<double>());
    EXPECT_LE(t["median_s"].get<double>(), t["max_s"].get<double>());
    EXPECT_GT(t["images_per_s"].get<double>(), 0.0);
  }
  // The library's FLOPs (12 and 36 per sample) at the measured rates,
  // against the FMA peak of the thread used.
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["flops_per_sample"]["forward"], 12);
  EXPECT_EQ(j["flops_per_sample"]["train_step"], 36);
  const double peak = j["fma_peak_gflops"]["1"].get<double>();
  for (auto [pipeline, flops] :
       {std::pair{"forward", 12}, {"train_step", 36}}) {
    const nlohmann::json &t = r[pipeline];
    const double gflops = flops * t["images_per_s"].get<double>() / 1e9;
    EXPECT_DOUBLE_EQ(t["gflops"].get<double>(), gflops) << pipeline;
    EXPECT_DOUBLE_EQ(t["peak_percent"].get<double>(), 100 * gflops / peak)
        << pipeline;
  }
  EXPECT_TRUE(r["ops"].is_array());
  EXPECT_TRUE(r["ops"].empty()); // a normal library has no profiler
  // The peaks were cached where XDG_CACHE_HOME points.
  EXPECT_TRUE(std::filesystem::exists(path("cnnc/fma-peak.json")));
}

TEST_F(BenchCommandTest, PrintsTablesAndSaysWherePerOpTimesComeFrom) {
  ASSERT_EQ(
      run({CNNC_FAKE_MODEL, "--runs", "3", "--batch", "16", "--threads", "2"}),
      0)
      << err_.str();
  const std::string text = out_.str();
  EXPECT_NE(text.find("network fake_linear, batch 16, 2 threads"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("schedule library"), std::string::npos) << text;
  EXPECT_NE(text.find("images/s"), std::string::npos) << text;
  EXPECT_NE(text.find("--profile"), std::string::npos) << text;
}

// A GPU library is compared with the GPU's fp32 peak (none without a
// CUDA driver, as here), not the CPU's, and says that calls wait for it.
TEST_F(BenchCommandTest, AGpuLibraryIsMeasuredAgainstTheGpu) {
  ASSERT_EQ(run({CNNC_FAKE_MODEL_CUDA, "--runs", "3", "--json"}), 0)
      << err_.str();
  nlohmann::json j = nlohmann::json::parse(out_.str());
  EXPECT_EQ(j["device"], "cuda");
  EXPECT_TRUE(j["fma_peak_gflops"].is_null());
  EXPECT_FALSE(std::filesystem::exists(path("cnnc/fma-peak.json")));
  const nlohmann::json &forward = j["results"][0]["forward"];
  EXPECT_GT(forward["gflops"].get<double>(), 0.0);
  if (j["device_peak_gflops"].is_null())
    EXPECT_TRUE(forward["peak_percent"].is_null());
  else
    EXPECT_GT(forward["peak_percent"].get<double>(), 0.0);

  ASSERT_EQ(run({CNNC_FAKE_MODEL_CUDA, "--runs", "3"}), 0) << err_.str();
  const std::string text = out_.str();
  EXPECT_NE(text.find("network fake_linear, batch 4, on the GPU (cuda)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("fp32 peak: "), std::string::npos) << text;
  EXPECT_NE(text.find("GFLOP/s"), std::string::npos) << text;
  EXPECT_NE(text.find("Each call waits for the GPU"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Per-op times are not measured on a GPU"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("--profile"), std::string::npos) << text;
}

// A cached peak below what a pipeline reached (filled on a busy machine) is
// measured again, once, and the report says so.
TEST_F(BenchCommandTest, AStaleCachedPeakIsMeasuredAgain) {
  nlohmann::json entries = nlohmann::json::array();
  for (int threads : {1, 2})
    entries.push_back({{"cpu", bench::cpuModelName()},
                       {"gflops", 1e-9},
                       {"isa", bench::fmaIsa()},
                       {"threads", threads}});
  std::filesystem::create_directories(path("cnnc"));
  std::ofstream(path("cnnc/fma-peak.json"))
      << nlohmann::json{{"entries", entries}}.dump();
  ASSERT_EQ(run({CNNC_FAKE_MODEL, "--runs", "3", "--threads", "1"}), 0)
      << err_.str();
  const std::string text = out_.str();
  EXPECT_NE(text.find("the peak above was measured again"), std::string::npos)
      << text;
  EXPECT_EQ(
      text.find("FMA peak (" + std::string(bench::fmaIsa()) + "): 0.0 GFLOP/s"),
      std::string::npos)
      << text;
  EXPECT_NE(err_.str().find("measuring the FMA peak again"), std::string::npos)
      << err_.str();
}

TEST_F(BenchCommandTest, RejectsBadArgumentsClearly) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{}, "expected a network (NET.yaml) or a model library (NET.so)"},
      {{CNNC_FAKE_MODEL, "--batch", "0"},
       "option '--batch' needs an integer from 1"},
      {{CNNC_FAKE_MODEL, "--batch", "x"}, "option '--batch' needs an integer"},
      {{CNNC_FAKE_MODEL, "--threads", "0"},
       "option '--threads' needs an integer from 1"},
      {{CNNC_FAKE_MODEL, "--runs", "-2"}, "option '--runs' needs an integer"},
      {{CNNC_FAKE_MODEL, "--profile-time", "-1"}, "option '--profile-time'"},
      {{CNNC_FAKE_MODEL, "--frobnicate"}, "unknown option '--frobnicate'"},
      {{CNNC_FAKE_MODEL, "--batch"}, "option '--batch' needs a value"},
      {{CNNC_FAKE_MODEL, "--compare", "manual"},
       "--compare needs the network's YAML"},
      {{"net.yaml", "--compare", "manual,auto:Nope"},
       "unknown schedule 'auto:Nope'"},
      {{"net.yaml", "--compare", "manual,manual"},
       "schedule 'manual' is given twice"},
      // A network in MLIR is compiled like one in YAML.
      {{"net.mlir", "--compare", "manual,auto:Nope"},
       "unknown schedule 'auto:Nope'"},
      {{path("missing.so")}, "missing.so: no such file"},
      {{CNNC_FAKE_MODEL, CNNC_FAKE_MODEL}, "expected one network or library"},
  };
  for (const Case &c : cases) {
    EXPECT_EQ(run(c.args), 1) << c.message;
    EXPECT_NE(err_.str().find(c.message), std::string::npos)
        << "expected '" << c.message << "' in:\n"
        << err_.str();
    EXPECT_EQ(err_.str().rfind("cnnc bench: error: ", 0), 0u) << err_.str();
    EXPECT_TRUE(out_.str().empty());
  }
}

TEST_F(BenchCommandTest, ANonLibraryIsAnError) {
  test::writeBytes(path("junk.so"), "not an ELF file");
  EXPECT_EQ(run({path("junk.so"), "--runs", "1"}), 1);
  EXPECT_NE(err_.str().find("cannot load it as a shared library"),
            std::string::npos)
      << err_.str();
}

TEST_F(BenchCommandTest, HelpGoesToStdout) {
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out_.str().find("usage: cnnc bench NET.yaml|NET.mlir|NET.so"),
            std::string::npos);
}

} // namespace
} // namespace cnnc::rt
