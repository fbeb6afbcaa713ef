"""Reads `cnnc --emit halide-train-stmt` on stdin. In every pipeline segment,
each batch-norm statistic Func the segment reads must also be produced there
(stored once per segment), not inlined into the elements that read it.
Prints one line per segment, then how many segments produce each statistic,
and 'stats stored in every segment'."""
import re
import sys

text = sys.stdin.read()
segments = re.split(r"^// segment ", text, flags=re.M)[1:] or [text]
bad = []
producers = {}
for i, seg in enumerate(segments):
    used = set(re.findall(r"\b(\w+_stats_(?:sum|centred|mean|var))\$\d+", seg))
    produced = set(re.findall(r"produce (\w+_stats_(?:sum|centred|mean|var))\$\d+", seg))
    print(f"segment {i}: reads {len(used)} statistics, produces {len(produced)}")
    bad += [f"segment {i}: {name}" for name in sorted(used - produced)]
    for name in produced:
        producers[name] = producers.get(name, 0) + 1
for name in sorted(producers):
    print(f"{name}: produced in {producers[name]} segment(s)")
if bad:
    sys.exit("statistics inlined instead of stored: " + ", ".join(bad))
print("stats stored in every segment")
