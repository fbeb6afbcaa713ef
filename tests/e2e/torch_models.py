"""The reference networks, written by hand in torch.nn as the lecture writes
them, independently of cnnc's YAML front end. Attribute names match the YAML
layer names, so state_dict keys equal cnnc's parameter names."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# The (seed, step index) whose dropout masks SeededDropout draws, as the
# tests pass them to cnnc_train_step_seeded.
DROPOUT_STEP = {"seed": 0, "step": 0}


def _hash32(x):
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def _mix(acc, word):
    return _hash32((np.uint32(acc) ^ np.uint32(word)) + np.uint32(0x9E3779B9))


def dropout_stream(name):
    """The stream of the dropout layer called `name`: its FNV-1a hash."""
    h = 2166136261
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def dropout_noise(batch, count, p, stream, seed, step):
    """cnnc's dropout noise (docs/design.md, "Dropout masks"), written from
    its specification: [batch, count] of 1 / (1 - p) where kept, else 0."""
    with np.errstate(over="ignore"):
        step = step % (1 << 64)
        key = np.uint32(0)
        for word in (seed, seed >> 32, step, step >> 32, stream):
            key = _mix(key, np.uint32(word & 0xFFFFFFFF))
        n = np.arange(batch, dtype=np.uint32)[:, None]
        e = np.arange(count, dtype=np.uint32)[None, :]
        bits = _mix(_mix(key, n), e) >> np.uint32(8)
    # Rounded half away from zero, as std::llround.
    kept = bits >= np.uint32(math.floor(p * (1 << 24) + 0.5))
    scale = np.float32(1.0) / np.float32(1.0 - p) if p < 1 else np.float32(0)
    return np.where(kept, scale, np.float32(0)).astype(np.float32)


class SeededDropout(nn.Module):
    """nn.Dropout (channelwise: nn.Dropout2d) with cnnc's masks for
    DROPOUT_STEP, `name` the layer's name in the YAML (its state_dict-style
    path, "classifier.0")."""

    def __init__(self, p, name, channelwise=False):
        super().__init__()
        self.p, self.channelwise = p, channelwise
        self.stream = dropout_stream(name)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        count = x.shape[1] if self.channelwise else x[0].numel()
        noise = torch.from_numpy(dropout_noise(
            x.shape[0], count, self.p, self.stream, DROPOUT_STEP["seed"],
            DROPOUT_STEP["step"]))
        shape = (x.shape[0], count, 1, 1) if self.channelwise else x.shape
        return x * noise.reshape(shape)


class FeedForwardNet(nn.Module):
    def __init__(self, in_features=3 * 32 * 32):
        super().__init__()
        self.fc1 = nn.Linear(in_features, 128)
        self.fc2 = nn.Linear(128, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Net(nn.Module):
    """The lecture's LeNet-style CIFAR-10 network."""

    def __init__(self, in_channels=3, conv1_padding=0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=conv1_padding)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class General(nn.Module):
    """tests/e2e/general.yaml: every op and argument kind of the sequential form."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2))
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc1 = nn.Linear(8 * 2 * 3, 7)
        self.fc2 = nn.Linear(7, 5, bias=False)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = F.max_pool2d(x, 3, stride=2, padding=1, dilation=1)
        x = torch.sigmoid(self.conv2(x))
        x = F.avg_pool2d(x, (2, 3), stride=1, padding=1, count_include_pad=True)
        x = F.relu(self.conv3(x))
        x = F.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False)
        x = F.max_pool2d(x, 2, stride=2, dilation=2)
        x = F.adaptive_avg_pool2d(x, (2, 3))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


class Activations(nn.Module):
    """tests/e2e/activations.yaml: the monotonic activations."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3)
        self.conv3 = nn.Conv2d(6, 8, 2, padding=1)
        self.conv4 = nn.Conv2d(8, 8, 1)
        self.fc1 = nn.Linear(8 * 5 * 4, 12)
        self.fc2 = nn.Linear(12, 10)
        self.fc3 = nn.Linear(10, 4)

    def forward(self, x):
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.elu(self.conv2(x), alpha=0.7)
        x = F.max_pool2d(x, 2)
        x = F.hardtanh(self.conv3(x), -0.4, 0.3)
        x = F.relu6(self.conv4(x))
        x = torch.flatten(x, 1)
        x = F.hardsigmoid(self.fc1(x))
        x = F.leaky_relu(self.fc2(x))
        return F.elu(self.fc3(x))


class InputActivations(nn.Module):
    """tests/e2e/input_activations.yaml: silu, hardswish, gelu."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3)
        self.fc1 = nn.Linear(6 * 3 * 3, 12)
        self.fc2 = nn.Linear(12, 10)
        self.fc3 = nn.Linear(10, 5)

    def forward(self, x):
        x = F.silu(self.conv1(x))
        x = F.max_pool2d(F.hardswish(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.gelu(self.fc1(x))
        x = F.gelu(self.fc2(x), approximate="tanh")
        return self.fc3(x)


class Windows(nn.Module):
    """tests/e2e/windows.yaml: padding and pooling options."""

    def __init__(self):
        super().__init__()
        self.same_even = nn.Conv2d(3, 6, 4, padding="same")
        self.reflect = nn.Conv2d(6, 6, 3, padding=2, padding_mode="reflect")
        self.circular = nn.Conv2d(6, 8, (2, 3), padding=(1, 2),
                                  padding_mode="circular")
        self.replicate = nn.Conv2d(8, 8, 3, padding=1, padding_mode="replicate")
        self.same_dilated = nn.Conv2d(8, 8, 3, padding="same", dilation=2)
        self.valid = nn.Conv2d(8, 6, 2, padding="valid", padding_mode="reflect")
        self.fc1 = nn.Linear(6 * 2 * 3, 10)

    def forward(self, x):
        x = self.reflect(F.relu(self.same_even(x)))
        x = F.max_pool2d(x, 2, ceil_mode=True)
        x = self.replicate(torch.tanh(self.circular(x)))
        x = self.same_dilated(x)
        x = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        x = F.avg_pool2d(self.valid(x), 2, 1, divisor_override=3)
        x = F.adaptive_max_pool2d(x, (2, 3))
        return self.fc1(torch.flatten(x, 1))


class Softmax(nn.Module):
    """tests/e2e/softmax.yaml: softmax and log_softmax layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.fc1 = nn.Linear(4 * 4 * 3, 8)
        self.fc2 = nn.Linear(8, 5)

    def forward(self, x):
        x = F.softmax(self.conv1(x), dim=1)
        x = F.log_softmax(torch.tanh(self.conv2(x)), dim=-1)
        x = F.log_softmax(self.fc1(torch.flatten(x, 1)), dim=1)
        return F.softmax(self.fc2(x), dim=-1)


class Dropout(nn.Module):
    """tests/e2e/dropout.yaml: dropout2d, element-wise dropout on feature
    maps and features, and p = 0."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.drop_a = SeededDropout(0.25, "drop_a", channelwise=True)
        self.conv2 = nn.Conv2d(6, 8, 3)
        self.drop_b = SeededDropout(0.3, "drop_b")
        self.fc1 = nn.Linear(8 * 3 * 3, 16)
        self.drop_c = SeededDropout(0.5, "drop_c")
        self.drop_d = SeededDropout(0.0, "drop_d")
        self.fc2 = nn.Linear(16, 5)

    def forward(self, x):
        x = self.drop_a(F.relu(self.conv1(x)))
        x = F.max_pool2d(self.drop_b(self.conv2(x)), 2)
        x = self.drop_c(F.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(self.drop_d(x))


class Fire(nn.Module):
    """torchvision's SqueezeNet Fire module."""

    def __init__(self, inplanes, squeeze_planes, expand_planes):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, 1)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand_planes, 1)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand_planes, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)),
                          F.relu(self.expand3x3(x))], 1)


class Concat(nn.Module):
    """tests/e2e/concat.yaml: cat of two, three, and one value twice."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2)
        self.fire1 = Fire(8, 4, 6)
        self.fire2 = Fire(12, 4, 6)
        self.final_conv = nn.Conv2d(32, 5, 1)

    def forward(self, x):
        pool = F.max_pool2d(F.relu(self.conv1(x)), 3, 2, ceil_mode=True)
        fire1 = self.fire1(pool)
        fire2 = self.fire2(fire1)
        x = torch.cat([fire1, fire2, pool], 1)
        final = torch.tanh(self.final_conv(x))
        x = torch.cat([final, final], -1)
        return torch.flatten(F.adaptive_avg_pool2d(x, (1, 2)), 1)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock without batch norm (tests/e2e/residual.yaml)."""

    def __init__(self, inplanes, planes, stride=1, downsample=False):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False))

    def forward(self, x):
        out = self.conv2(F.relu(self.conv1(x)))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class Residual(nn.Module):
    """tests/e2e/residual.yaml: blocks, shortcuts, a value read three times."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(4, 4), BasicBlock(4, 4))
        self.layer2 = BasicBlock(4, 8, stride=2, downsample=True)
        self.branch = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 3, stride=1, padding=1)
        y = self.layer2(self.layer1(x))
        s = self.branch(y) + y
        s = s + y
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(s, 1), 1))


class BatchNormNet(nn.Module):
    """tests/e2e/batchnorm.yaml: batch norm after convolutions without bias,
    max pooling with padding, a 1x1 stride-2 convolution."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.down = nn.Conv2d(8, 16, 1, stride=2, bias=False)
        self.bn2 = nn.BatchNorm2d(16, eps=1e-3, momentum=0.3)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, stride=2, padding=1)
        x = self.bn2(self.down(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class BatchNormOptions(nn.Module):
    """tests/e2e/batchnorm_options.yaml: affine and track_running_stats."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6, affine=False)
        self.conv2 = nn.Conv2d(6, 6, 3, stride=2, bias=False)
        self.bn2 = nn.BatchNorm2d(6, track_running_stats=False)
        self.conv3 = nn.Conv2d(6, 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4, eps=0.01, affine=False,
                                  track_running_stats=False)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = torch.tanh(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        return self.fc(torch.flatten(x, 1))


class ResNetBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock, with the same names."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet18(nn.Module):
    """examples/resnet18.yaml: torchvision.models.resnet18's structure and
    state_dict names, for machines without torchvision."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (inplanes, planes, stride) in enumerate(widths):
            setattr(self, f"layer{i + 1}", nn.Sequential(
                ResNetBlock(inplanes, planes, stride),
                ResNetBlock(planes, planes)))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Wide(nn.Module):
    """tests/e2e/wide.yaml: convolutions the GPU schedules stage in shared
    memory (padded, chunked, strided, dilated, batch norm after one), a
    grouped one that they do not, and one computed in its pool's kernel."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(20, 12, 3, padding=1)
        self.conv2 = nn.Conv2d(12, 8, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 6, (3, 5), padding=(1, 4), dilation=(1, 2))
        self.conv4 = nn.Conv2d(6, 6, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(6, 6, 3)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.bn(self.conv2(x)))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.avg_pool2d(torch.tanh(self.conv5(x)), 2)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Tall(nn.Module):
    """tests/e2e/tall.yaml: unpadded convolutions of a tall, narrow input
    (the GPU schedules' row tails and split partial sums)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(64, 64, 3)
        self.conv2 = nn.Conv2d(64, 80, 3)
        self.fc = nn.Linear(80, 5)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class KernelRows(nn.Module):
    """tests/e2e/kernel_rows.yaml: 7x7 and 5x5 kernels (the GPU's weight
    gradients summed in groups of kernel rows)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=3)
        self.dilated = nn.Conv2d(32, 32, 5, padding=4, dilation=2)
        self.fc = nn.Linear(32, 5)

    def forward(self, x):
        x = F.relu(self.dilated(F.relu(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ManyChannels(nn.Module):
    """tests/e2e/many_channels.yaml: a 256 -> 256 channel convolution of a
    4x4 image (the GPU's weight gradient summed in parts of several rows)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(256, 256, 3, padding=1)
        self.fc = nn.Linear(256, 5)

    def forward(self, x):
        x = F.relu(self.conv(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class NarrowUpdate(nn.Module):
    """tests/e2e/narrow_update.yaml: a linear layer whose weights cannot be
    split into GPU blocks of a warp or more (1,052 = 4 x 263 inputs)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(5, 4, 1)
        self.fc = nn.Linear(1052, 32)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.conv(x)), 1))


class Warp(nn.Module):
    """tests/e2e/warp.yaml: convolutions the GPU schedules warp-tile (32 or
    64 output channels; batch norms, a residual add, stride 2, dilation)
    and a 1x1 one that they do not."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.conv4 = nn.Conv2d(64, 32, 3, padding=2, dilation=2)
        self.conv5 = nn.Conv2d(32, 32, 1)
        self.conv6 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32, track_running_stats=False)
        self.fc = nn.Linear(32, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.bn(self.conv2(x)) + x)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.relu(self.conv5(x))
        x = F.relu(self.bn2(self.conv6(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class StridedGrad(nn.Module):
    """tests/e2e/strided_grad.yaml: a stride-2 convolution whose input
    gradient the GPU schedules warp-tile."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, 5)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Conv64(nn.Module):
    """benchmarks/conv64.yaml: one 3x3 convolution 64 -> 64 channels (the
    GPU check times it against cuDNN's), then a classifier ending."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1)

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.conv(x), 1), 1)


MODELS = {
    "feedforward": (FeedForwardNet, (3, 32, 32)),
    "lenet": (Net, (3, 32, 32)),
    "lenet_fashion": (lambda: Net(in_channels=1, conv1_padding=2), (1, 28, 28)),
    "general": (General, (3, 19, 13)),
    "activations": (Activations, (3, 10, 9)),
    "input_activations": (InputActivations, (3, 9, 8)),
    "windows": (Windows, (3, 11, 10)),
    "softmax": (Softmax, (3, 6, 5)),
    "concat": (Concat, (3, 13, 12)),
    "dropout": (Dropout, (3, 8, 8)),
    "batchnorm_options": (BatchNormOptions, (3, 10, 10)),
    "residual": (Residual, (3, 12, 12)),
    "batchnorm": (BatchNormNet, (3, 12, 12)),
    "wide": (Wide, (20, 22, 40)),
    "tall": (Tall, (64, 91, 8)),
    "many_channels": (ManyChannels, (256, 4, 4)),
    "kernel_rows": (KernelRows, (3, 12, 12)),
    "narrow_update": (NarrowUpdate, (5, 1, 263)),
    "warp": (Warp, (3, 11, 9)),
    "strided_grad": (StridedGrad, (3, 14, 14)),
    "conv64": (Conv64, (64, 56, 56)),
    "resnet18": (ResNet18, (3, 224, 224)),
}
