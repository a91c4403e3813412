"""Where a training step's time goes on the GPU path, kernel by kernel: sums cubecl's profiling log
(every kernel launch with its device time) by kernel name.

    CUBECL_DEBUG_OPTION=profile CUBECL_DEBUG_LOG=/tmp/cubecl.log \
        cnn train --backend wgpu --model vgg11-r4 --size 56 --train-images 160 --test-images 32 --batch-size 32 --epochs 1
    python3 dev/gpu_kernels.py /tmp/cubecl.log

A launch that compiled its kernel first (a compilation block precedes it in the log) is left out,
so the figures are those of warm kernels. With profiling on, cubecl waits for every kernel, so the
sum is the device's time with nothing overlapped.
"""
import collections
import re
import sys

UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}
LAUNCH = re.compile(r"\|\s*([\d.]+)(ms|µs|ns|s)\s*\|\s*([^|]+?)\s*(\|.*)?$")


def main(path):
    seconds, launches, compiled = collections.Counter(), collections.Counter(), 0
    for line in open(path, errors="replace"):
        if line.startswith("[START_KERNEL_COMPILATION]"):
            compiled += 1
            continue
        m = LAUNCH.match(line)
        if not m:
            continue
        if compiled:
            compiled -= 1
            continue
        name = re.sub(r"_[0-9a-f]{8}$", "", m.group(3))  # the hash of one variant
        seconds[name] += float(m.group(1)) * UNITS[m.group(2)]
        launches[name] += 1
    total = sum(seconds.values())
    if not total:
        sys.exit(f"{path} holds no timed kernel launches: was CUBECL_DEBUG_OPTION=profile set?")
    print(f"{total:.3f} s of device time over {sum(launches.values())} warm launches")
    for name, s in seconds.most_common(15):
        print(f"{s:9.3f} s {100 * s / total:5.1f}% {launches[name]:6d}  {name}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/cubecl.log")
