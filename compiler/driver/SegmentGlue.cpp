#include "cnnc/driver/SegmentGlue.h"

#include "cnnc/driver/ModelDescription.h"

#include <sstream>

namespace cnnc {
namespace {

/// `values` and a trailing 0 (C wants at least one element).
std::string intList(const std::vector<int> &values) {
  std::string s;
  for (int v : values)
    s += std::to_string(v) + ", ";
  return s + "0";
}

void emitPipelineGlue(std::ostream &os, const std::string &name,
                      const LoweredPipeline &p) {
  const size_t count = p.segments.size();
  os << "\n/* " << name << ": " << count << " segments, "
     << p.intermediates.size() << " intermediate tensors. */\n";
  for (size_t s = 0; s < count; ++s) {
    const std::string segment = segmentFunctionName(name, s, count);
    const PipelineSegment &seg = p.segments[s];
    os << "int " << segment << "_argv(void **args);\n"
       << "static const int " << segment << "_reads[] = {" << intList(seg.reads)
       << "};\n"
       << "static const int " << segment << "_writes[] = {"
       << intList(seg.writes) << "};\n";
  }
  os << "static const cnnc_segment " << name << "_segments[] = {";
  for (size_t s = 0; s < count; ++s) {
    const std::string segment = segmentFunctionName(name, s, count);
    os << "{" << segment << "_argv, " << p.segments[s].reads.size() << ", "
       << segment << "_reads, " << p.segments[s].writes.size() << ", "
       << segment << "_writes}, ";
  }
  os << "};\nstatic const int64_t " << name << "_dims["
     << p.intermediates.size() + 1 << "][4] = {";
  for (const IntermediateTensor &t : p.intermediates) {
    std::vector<int64_t> dims = t.shape;
    for (int64_t &d : dims)
      d = d < 0 ? -1 : d;
    os << "{" << dimsList(dims) << "}, ";
  }
  os << "{0}};\nstatic const int " << name << "_ranks["
     << p.intermediates.size() + 1 << "] = {";
  for (const IntermediateTensor &t : p.intermediates)
    os << t.shape.size() << ", ";
  os << "0};\nstatic const cnnc_segmented_pipeline " << name << "_pipeline = {"
     << p.arguments.size() << ", " << p.numOutputs << ", " << count << ", "
     << name << "_segments, " << p.intermediates.size() << ", " << name
     << "_dims, " << name << "_ranks};\n"
     << "int " << name << "_argv(void **args) {\n"
     << "  return cnnc_run_segments(&" << name << "_pipeline, args);\n}\n";
}

} // namespace

std::string segmentFunctionName(const std::string &name, size_t index,
                                size_t count) {
  return count == 1 ? name : name + "_s" + std::to_string(index);
}

std::string emitSegmentGlue(
    const std::vector<std::pair<std::string, const LoweredPipeline *>>
        &pipelines) {
  std::ostringstream os;
  for (const auto &[name, pipeline] : pipelines)
    if (pipeline->segments.size() > 1)
      emitPipelineGlue(os, name, *pipeline);
  return os.str();
}

} // namespace cnnc
