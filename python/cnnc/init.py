"""PyTorch's default initialisation, drawn exactly as `cnnc init` draws it
(runtime/src/Init.cpp), so that a seed gives the same bits from Python and
from the command line:

- a `.weight` of rank >= 2 and the `.bias` beside it: U[-b, b) with
  b = 1/sqrt(fan_in) of the weight (kaiming_uniform(a=sqrt(5)) for the
  weight);
- other `.weight`s (batch norms) 1, their `.bias` 0; `.running_mean` 0,
  `.running_var` 1.

Each uniform tensor draws from its own std::mt19937_64 seeded with a
std::seed_seq of the seed's and the FNV-1a hash of the tensor's name's two
32-bit halves; both are defined exactly by the C++ standard, and are written
here with numpy."""
import math

import numpy as np

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def _fnv1a(name):
    h = 1469598103934665603
    for c in name.encode():
        h = ((h ^ c) * 1099511628211) & _M64
    return h


def _seed_seq(words, n):
    """std::seed_seq(words).generate() of n 32-bit values ([rand.util.seedseq])."""
    s = len(words)
    out = [0x8B8B8B8B] * n
    t = 11 if n >= 623 else 7 if n >= 68 else 5 if n >= 39 else \
        3 if n >= 7 else (n - 1) // 2
    p = (n - t) // 2
    q = p + t
    m = max(s + 1, n)

    def mix(x):
        return x ^ (x >> 27)

    for k in range(m):
        r1 = (1664525 * mix(out[k % n] ^ out[(k + p) % n] ^ out[(k - 1) % n])) & _M32
        if k == 0:
            r2 = r1 + s
        elif k <= s:
            r2 = r1 + k % n + words[k - 1]
        else:
            r2 = r1 + k % n
        r2 &= _M32
        out[(k + p) % n] = (out[(k + p) % n] + r1) & _M32
        out[(k + q) % n] = (out[(k + q) % n] + r2) & _M32
        out[k % n] = r2
    for k in range(m, m + n):
        r3 = (1566083941 * mix((out[k % n] + out[(k + p) % n] + out[(k - 1) % n]) & _M32)) & _M32
        r4 = (r3 - k % n) & _M32
        out[(k + p) % n] ^= r3
        out[(k + q) % n] ^= r4
        out[k % n] = r4
    return out


class _MT19937_64:
    """std::mt19937_64, twisted 312 words at a time with numpy."""
    N, M = 312, 156
    A = np.uint64(0xB5026F5AA96619E9)
    UPPER = np.uint64(0xFFFFFFFF80000000)
    LOWER = np.uint64(0x7FFFFFFF)

    def __init__(self, seed_words):
        words = _seed_seq(seed_words, 2 * self.N)
        state = [words[2 * i] | (words[2 * i + 1] << 32) for i in range(self.N)]
        # [rand.eng.mers]: a state whose significant bits are all zero is
        # replaced by one with only the top bit set.
        if (state[0] & 0xFFFFFFFF80000000) == 0 and not any(state[1:]):
            state[0] = 1 << 63
        self.state = np.array(state, dtype=np.uint64)

    def _twist(self):
        x, n, m = self.state, self.N, self.M
        one = np.uint64(1)

        def step(y, far):
            return far ^ (y >> one) ^ np.where(y & one, self.A, np.uint64(0))

        # x[i] for i < n - m reads x[i + m] before it changes...
        y = (x[:n - m] & self.UPPER) | (x[1:n - m + 1] & self.LOWER)
        x[:n - m] = step(y, x[m:])
        # ... the rest read x[i + m - n], already new; the last wraps to x[0].
        y = (x[n - m:n - 1] & self.UPPER) | (x[n - m + 1:] & self.LOWER)
        x[n - m:n - 1] = step(y, x[:m - 1])
        y = (x[n - 1:] & self.UPPER) | (x[:1] & self.LOWER)
        x[n - 1:] = step(y, x[m - 1:m])

    def draw(self, count):
        """The next `count` outputs (a multiple of N are drawn and the rest
        dropped: every tensor uses a generator of its own)."""
        blocks = []
        for _ in range((count + self.N - 1) // self.N):
            self._twist()
            y = self.state.copy()
            y ^= (y >> np.uint64(29)) & np.uint64(0x5555555555555555)
            y ^= (y << np.uint64(17)) & np.uint64(0x71D67FFFEDA60000)
            y ^= (y << np.uint64(37)) & np.uint64(0xFFF7EEE000000000)
            y ^= y >> np.uint64(43)
            blocks.append(y)
        if not blocks:
            return np.zeros(0, np.uint64)
        return np.concatenate(blocks)[:count]


def uniform(shape, bound, seed, name):
    """U[-bound, bound) float32 of `shape`, as Init.cpp's fillUniform."""
    count = int(np.prod(shape, dtype=np.int64))
    h = _fnv1a(name)
    gen = _MT19937_64([seed & _M32, (seed >> 32) & _M32, h & _M32, h >> 32])
    u = (gen.draw(count) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    v = (-bound + 2.0 * bound * u).astype(np.float32)
    hi = np.float32(bound)
    v = np.where(v < hi, v, np.nextafter(hi, np.float32(0)))
    return v.reshape(shape)


def default_parameters(specs, seed):
    """{name: float32 array} for `specs`, a list of (name, shape), drawn as
    `cnnc init --seed SEED` draws them. Raises ValueError for a name cnnc has
    no rule for or a weight whose fan_in is 0."""
    seed = int(seed) & _M64
    shapes = dict(specs)

    def bound(weight):
        fan_in = int(np.prod(shapes[weight][1:], dtype=np.int64))
        if fan_in <= 0:
            raise ValueError(f"parameter '{weight}' has shape "
                             f"{list(shapes[weight])}, whose fan_in is 0")
        return 1.0 / math.sqrt(fan_in)

    result = {}
    for name, shape in specs:
        shape = tuple(shape)
        if name.endswith(".weight") and len(shape) >= 2:
            result[name] = uniform(shape, bound(name), seed, name)
        elif name.endswith(".weight") or name.endswith(".running_var"):
            result[name] = np.ones(shape, np.float32)
        elif name.endswith(".bias"):
            weight = name[:-len("bias")] + "weight"
            if weight not in shapes:
                raise ValueError(f"parameter '{name}' has no '{weight}' to "
                                 "take its fan_in from")
            if len(shapes[weight]) >= 2:
                result[name] = uniform(shape, bound(weight), seed, name)
            else:
                result[name] = np.zeros(shape, np.float32)
        elif name.endswith(".running_mean"):
            result[name] = np.zeros(shape, np.float32)
        else:
            raise ValueError(f"parameter '{name}' has no default initialisation "
                             "(cnnc knows .weight, .bias, .running_mean and "
                             ".running_var)")
    return result
