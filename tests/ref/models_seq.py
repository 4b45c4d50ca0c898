"""PyTorch twins of the sequence and autoencoder networks in models/
(loaded by tests/ref/gen_models.py, which checks each against dlc end to
end).  Each class mirrors its .net file statement by statement, with the
attribute names dlc gives the parameters, so that dlc's initial weights load
with load_state_dict(strict=True) and PyTorch's own state_dict loads in dlc.

MODELS maps a model name to (constructor, inputs); inputs lists the model's
inputs in order: (name, "float", per-sample shape) or (name, "int",
per-sample shape, ids in [0, high)).  Sequences are batch first ([N, T, F]),
as dlc lays them out.
"""
import math

import torch
from torch import nn


class GRUClassifier(nn.Module):
    """models/gru_classifier.net: a two-layer GRU's last state, a dense layer."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 48, num_layers=2, batch_first=True)
        self.fc = nn.Linear(48, 3)

    def forward(self, x):
        _, h_n = self.rnn(x)
        return self.fc(h_n[-1])


class BiLSTMTagger(nn.Module):
    """models/bilstm_tagger.net: tag scores [N, tags, T] at every position."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(2000, 64, padding_idx=0)
        self.encoder = nn.LSTM(64, 64, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(128, 17)

    def forward(self, tokens):
        out, _ = self.encoder(self.embed(tokens))
        return self.fc(out).transpose(1, 2)


def sinusoidal(t, d):
    """Vaswani et al.'s table [t, d]: sin at even features, cos at odd."""
    pos = torch.arange(t, dtype=torch.float64).unsqueeze(1)
    freq = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(t, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d // 2])
    return pe


class TransformerClassifier(nn.Module):
    """models/transformer_classifier.net: two nn.TransformerEncoderLayer, a
    mean over time, a dense layer."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 64)
        self.register_buffer("pe", sinusoidal(32, 64), persistent=False)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True) for _ in range(2))
        self.fc = nn.Linear(64, 4)

    def forward(self, tokens):
        x = self.embed(tokens) * math.sqrt(64) + self.pe.to(self.fc.weight.dtype)
        for layer in self.layers:
            x = layer(x)
        return self.fc(x.mean(1))


class Seq2Seq(nn.Module):
    """models/seq2seq.net: GRU encoder, GRU decoder started from the
    encoder's h_n, Luong attention (one-head nn.MultiheadAttention)."""

    def __init__(self):
        super().__init__()
        self.src_embed = nn.Embedding(32, 32)
        self.encoder = nn.GRU(32, 64, batch_first=True)
        self.tgt_embed = nn.Embedding(32, 32)
        self.decoder = nn.GRU(32, 64, batch_first=True)
        self.attn = nn.MultiheadAttention(64, 1, batch_first=True)
        self.combine = nn.Linear(128, 64)
        self.out = nn.Linear(64, 32)

    def forward(self, src, tgt):
        memory, h_n = self.encoder(self.src_embed(src))
        dec, _ = self.decoder(self.tgt_embed(tgt), h_n)
        ctx, _ = self.attn(dec, memory, memory, need_weights=False)
        h = torch.tanh(self.combine(torch.cat([dec, ctx], 2)))
        return self.out(h).transpose(1, 2)


class DenseAutoencoder(nn.Module):
    """models/autoencoder_dense.net: (reconstruction, code)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 32))
        self.decoder = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid(),
                                     nn.Unflatten(1, (1, 28, 28)))

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code), code


class VAE(nn.Module):
    """models/vae.net's first model in eval mode (the code is the mean):
    (reconstruction, mu, logvar)."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 400)
        self.mu = nn.Linear(400, 20)
        self.logvar = nn.Linear(400, 20)
        self.xhat = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid(),
                                  nn.Unflatten(1, (1, 28, 28)))

    def forward(self, x):
        h = torch.relu(self.enc(x.flatten(1)))
        mu, logvar = self.mu(h), self.logvar(h)
        return self.xhat(mu), mu, logvar


MODELS = {
    "gru_classifier": (GRUClassifier, [("x", "float", [80, 4])]),
    "bilstm_tagger": (BiLSTMTagger, [("tokens", "int", [32], 2000)]),
    "transformer_classifier": (TransformerClassifier, [("tokens", "int", [32], 1000)]),
    "seq2seq": (Seq2Seq, [("src", "int", [12], 32), ("tgt", "int", [12], 32)]),
    "autoencoder_dense": (DenseAutoencoder, [("x", "float", [1, 28, 28])]),
    "vae": (VAE, [("x", "float", [1, 28, 28])]),
}
