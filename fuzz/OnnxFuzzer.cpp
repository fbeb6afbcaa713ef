// The ONNX importer (cnnc import) on arbitrary bytes: protobuf's parser,
// then the importer's reading of the graph. Either problems, or a network
// file that cnnc's YAML front end parses without one.
#include "FuzzTarget.h"

#include "cnnc/importer/NetworkSpec.h"
#include "cnnc/onnx/OnnxImport.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cnnc::OnnxImport imported;
  std::vector<std::string> errors;
  const bool ok = cnnc::importOnnx(cnnc::fuzz::bytesOf(data, size), "fuzz.onnx",
                                   "fuzz", imported, errors);
  CNNC_FUZZ_CHECK(ok == errors.empty());
  if (!ok)
    return 0;
  cnnc::NetworkSpec spec;
  std::vector<std::string> problems;
  const bool parsed =
      cnnc::parseNetworkSpec(imported.yaml, "fuzz", spec,
                             [&](cnnc::SourcePos, const std::string &message) {
                               problems.push_back(message);
                             });
  CNNC_FUZZ_CHECK(parsed && problems.empty());
  return 0;
}
