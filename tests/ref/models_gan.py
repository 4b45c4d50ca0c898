"""PyTorch twins of the GANs in models/ (loaded by tests/ref/gen_models.py,
which checks forward against dlc end to end): models/dcgan.net and its
conditional version models/cgan.net.  The attribute names are the
parameter names dlc gives, so dlc's initial weights load with
load_state_dict(strict=True) and PyTorch's own state_dict loads in dlc.

forward takes the inputs forward() of the generated code takes (the
latent z, and the class for cgan; the real images x only reach the
discriminator's train section) and returns what the .net file outputs:
the generated images and the discriminator's logit for each.  The
training side (sections d and g, alternating) is checked on a small GAN
by tests/ref/gen_train.py's `gan` case.
"""
import torch
from torch import nn
import torch.nn.functional as F


class Generator(nn.Module):
    """z [100] (and the class's embedding [10]) -> dense [128,7,7], BN,
    relu -> transposed conv [64,14,14], BN, relu -> transposed conv
    [1,28,28], tanh."""

    def __init__(self, classes=0):
        super().__init__()
        if classes:
            self.embed = nn.Embedding(classes, 10)
        self.fc = nn.Linear(100 + (10 if classes else 0), 128 * 7 * 7, bias=False)
        self.bn1 = nn.BatchNorm2d(128)
        self.deconv1 = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.deconv2 = nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1)

    def forward(self, z, label=None):
        if label is not None:
            z = torch.cat([z, self.embed(label).flatten(1)], 1)
        h = F.relu(self.bn1(self.fc(z).view(-1, 128, 7, 7)))
        h = F.relu(self.bn2(self.deconv1(h)))
        return torch.tanh(self.deconv2(h))


class Discriminator(nn.Module):
    """[1,28,28] (and the class as a [1,28,28] plane) -> two stride-2 convs
    with leaky_relu(0.2) -> a dense logit."""

    def __init__(self, classes=0):
        super().__init__()
        if classes:
            self.embed = nn.Embedding(classes, 28 * 28)
        self.conv1 = nn.Conv2d(2 if classes else 1, 64, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(64, 128, 4, stride=2, padding=1)
        self.fc = nn.Linear(128 * 7 * 7, 1)

    def forward(self, img, label=None):
        if label is not None:
            img = torch.cat([img, self.embed(label).view(-1, 1, 28, 28)], 1)
        h = F.leaky_relu(self.conv1(img), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2)
        return self.fc(h.flatten(1))


class DCGAN(nn.Module):
    """models/dcgan.net: forward(z) -> (fake, d_fake)."""

    def __init__(self):
        super().__init__()
        self.G = Generator()
        self.D = Discriminator()

    def forward(self, z):
        fake = self.G(z)
        return fake, self.D(fake)


class CGAN(nn.Module):
    """models/cgan.net: forward(z, label) -> (fake, d_fake); label [N, 1]."""

    def __init__(self):
        super().__init__()
        self.G = Generator(classes=10)
        self.D = Discriminator(classes=10)

    def forward(self, z, label):
        fake = self.G(z, label)
        return fake, self.D(fake, label)


MODELS = {
    "dcgan": (DCGAN, [("z", "float", [100])]),
    "cgan": (CGAN, [("z", "float", [100]), ("label", "int", [1], 10)]),
}
