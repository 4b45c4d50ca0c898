"""PyTorch twins of the networks in models/*.net, with the same parameter
names, so a safetensors file saved by dlc's generated code loads into them
with load_state_dict(strict=True) and the other way round.

ResNet-18 and MobileNetV2 reproduce torchvision.models.resnet18() and
mobilenet_v2() (module tree and names included), written out here because
torchvision is not installed beside Debian's python3-torch.  The others
mirror the .net files block by block; each class names its file.

MODELS maps a model name (the file models/<name>.net) to a constructor.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- mlp.net, lenet5.net ----------------------------------------------

class MLP(nn.Module):
    """models/mlp.net: 784-256-128-10 with ReLU."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        h = F.relu(self.fc1(torch.flatten(x, 1)))
        h = F.relu(self.fc2(h))
        return self.fc3(h)


class LeNet5(nn.Module):
    """models/lenet5.net: conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, 10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# ---- vgg.net ------------------------------------------------------------

class VGGStage(nn.Module):
    """block stage: conv3x3-ReLU, conv3x3-ReLU, maxpool 2."""

    def __init__(self, cin, c):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)


class VGG(nn.Module):
    """models/vgg.net: stages of 32, 64, 128 channels on 32x32, then 256, 10."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(VGGStage(3, 32), VGGStage(32, 64), VGGStage(64, 128))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(),
                                        nn.Dropout(0.5), nn.Linear(256, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


# ---- resnet18.net, resnet_cifar.net, se_net.net ----------------------------

class SqueezeExcite(nn.Module):
    """block squeeze_excite: x * sigmoid(fc2(relu(fc1(mean_hw(x)))))."""

    def __init__(self, c, squeeze):
        super().__init__()
        self.fc1 = nn.Linear(c, squeeze)
        self.fc2 = nn.Linear(squeeze, c)

    def forward(self, x):
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean((2, 3))))))
        return x * s[:, :, None, None]


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (names conv1, bn1, conv2, bn2, downsample.0/1),
    with an optional squeeze-and-excitation gate `se` on the residual branch."""

    def __init__(self, cin, c, stride=1, squeeze=0):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.se = SqueezeExcite(c, squeeze) if squeeze else None
        self.downsample = None
        if stride != 1 or cin != c:
            self.downsample = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.se is not None:
            y = self.se(y)
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class ResNet(nn.Module):
    """torchvision's ResNet with BasicBlocks.  imagenet=True: 7x7/2 stem and
    3x3/2 max pool (ResNet-18); False: a 3x3 stem for 32x32 inputs."""

    def __init__(self, blocks, widths, classes, imagenet, squeeze=()):
        super().__init__()
        c0 = widths[0]
        if imagenet:
            self.conv1 = nn.Conv2d(3, c0, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, c0, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c0)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if imagenet else nn.Identity()
        cin = c0
        for i, (n, c) in enumerate(zip(blocks, widths)):
            stride = 1 if i == 0 else 2
            sq = squeeze[i] if squeeze else 0
            layer = [BasicBlock(cin, c, stride, sq)] + [BasicBlock(c, c, 1, sq) for _ in range(n - 1)]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layer))
            cin = c
        self.nlayers = len(blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        for i in range(self.nlayers):
            x = getattr(self, "layer%d" % (i + 1))(x)
        return self.fc(x.mean((2, 3)))


def resnet18():
    """models/resnet18.net = torchvision.models.resnet18()."""
    return ResNet([2, 2, 2, 2], [64, 128, 256, 512], 1000, imagenet=True)


def resnet_cifar():
    """models/resnet_cifar.net: ResNet-20 with projection shortcuts."""
    return ResNet([3, 3, 3], [16, 32, 64], 10, imagenet=False)


def se_net():
    """models/se_net.net: SE-ResNet, two SE BasicBlocks per stage, reduction 4."""
    return ResNet([2, 2, 2], [16, 32, 64], 10, imagenet=False, squeeze=(4, 8, 16))


# ---- mobilenet_v2.net -------------------------------------------------------

class ConvBNReLU6(nn.Sequential):
    """torchvision's Conv2dNormActivation: 0 conv, 1 BN, 2 ReLU6."""

    def __init__(self, cin, c, kernel=3, stride=1, groups=1):
        super().__init__(nn.Conv2d(cin, c, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c), nn.ReLU6())


class InvertedResidual(nn.Module):
    """torchvision's InvertedResidual: `conv` holds [expand,] depthwise, project, BN."""

    def __init__(self, cin, c, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res_connect = stride == 1 and cin == c
        layers = [ConvBNReLU6(cin, hidden, 1)] if expand != 1 else []
        layers += [ConvBNReLU6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, c, 1, bias=False), nn.BatchNorm2d(c)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """models/mobilenet_v2.net = torchvision.models.mobilenet_v2() (width 1.0)."""

    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]   # t, c, n, s

    def __init__(self, classes=1000):
        super().__init__()
        features = [ConvBNReLU6(3, 32, 3, 2)]
        cin = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(ConvBNReLU6(cin, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


# ---- inception.net ------------------------------------------------------------

class BasicConv2d(nn.Module):
    """GoogLeNet's BasicConv2d: conv (no bias) -> bn -> ReLU."""

    def __init__(self, cin, c, kernel=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, c, kernel, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """block inception: 1x1 | 1x1-3x3 | 1x1-5x5 | maxpool-1x1, concatenated."""

    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3r), BasicConv2d(c3r, c3, 3, 1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5r), BasicConv2d(c5r, c5, 5, 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), BasicConv2d(cin, cp))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionNet(nn.Module):
    """models/inception.net: a GoogLeNet-style net for 32x32 inputs."""

    def __init__(self):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, 3, 1)
        self.inception3a = Inception(64, 32, 48, 64, 8, 16, 16)
        self.inception3b = Inception(128, 64, 64, 96, 16, 48, 32)
        self.maxpool3 = nn.MaxPool2d(3, 2, 1)
        self.inception4a = Inception(240, 96, 48, 104, 8, 24, 32)
        self.maxpool4 = nn.MaxPool2d(3, 2, 1)
        self.inception5a = Inception(256, 128, 64, 128, 16, 64, 64)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(384, 10)

    def forward(self, x):
        x = self.inception3b(self.inception3a(self.conv1(x)))
        x = self.inception4a(self.maxpool3(x))
        x = self.inception5a(self.maxpool4(x))
        return self.fc(self.dropout(x.mean((2, 3))))


# ---- unet.net -------------------------------------------------------------------

class DoubleConv(nn.Module):
    """block double_conv: (conv3x3 -> BN -> ReLU) x 2 in `double_conv`."""

    def __init__(self, cin, c):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv = DoubleConv(cin, c)

    def forward(self, x):
        return self.conv(self.pool(x))


class Up(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, c, 2, stride=2)
        self.conv = DoubleConv(2 * c, c)

    def forward(self, x, skip):
        return self.conv(torch.cat([skip, self.up(x)], 1))


class UNet(nn.Module):
    """models/unet.net: widths 16-32-64-128 on [1,64,64], 2 output classes."""

    def __init__(self):
        super().__init__()
        self.inc = DoubleConv(1, 16)
        self.down1 = Down(16, 32)
        self.down2 = Down(32, 64)
        self.down3 = Down(64, 128)
        self.up1 = Up(128, 64)
        self.up2 = Up(64, 32)
        self.up3 = Up(32, 16)
        self.outc = nn.Conv2d(16, 2, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        return self.outc(self.up3(self.up2(self.up1(x4, x3), x2), x1))


# ---- autoencoder.net --------------------------------------------------------------

class Autoencoder(nn.Module):
    """models/autoencoder.net: outputs (reconstruction, code) as (decoder, encoder)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 32))
        self.decoder = nn.Sequential(
            nn.Linear(32, 32 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code), code


# ---- cnn_bn.net ---------------------------------------------------------

class CnnBn(nn.Module):
    """models/cnn_bn.net: two conv(no bias)-BN-ReLU-maxpool stages, dense 128 with dropout, 10.
    dropout=p gives the model's rate; the trajectory test uses a twin without it."""

    def __init__(self, dropout=0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)
        self.p = dropout

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.dropout(F.relu(self.fc1(torch.flatten(x, 1))), self.p, self.training)
        return self.fc2(x)


MODELS = {
    "mlp": MLP,
    "cnn_bn": CnnBn,
    "lenet5": LeNet5,
    "vgg": VGG,
    "resnet18": resnet18,
    "resnet_cifar": resnet_cifar,
    "mobilenet_v2": MobileNetV2,
    "inception": InceptionNet,
    "se_net": se_net,
    "unet": UNet,
    "autoencoder": Autoencoder,
}
