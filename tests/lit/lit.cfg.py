# lit configuration: RUN lines use cnnc, cnnc-opt, FileCheck and not.
import os
import lit.formats

config.name = "cnnc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".yaml"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.cnnc_lit_binary_dir
config.substitutions.append(("%examples", config.cnnc_examples_dir))
config.substitutions.append(("%python", config.python_numpy))
path = os.pathsep.join(config.cnnc_tools_dirs + [config.llvm_tools_dir,
                                                 config.environment.get("PATH", os.environ["PATH"])])
config.environment["PATH"] = path
