"""PyTorch half of the prime-ts/torch benchmark (bench/torch-step.ts spawns it; not run alone).

The same small GPT-style transformer training step as bench/torch-step.ts, op for op:
token + learned position embedding, L pre-LayerNorm blocks (causal multi-head attention written
as the same composition prime-ts's native `sdpa` uses on libtorch 1.13, GELU MLP of width 4·D),
a final LayerNorm, an untied LM head, mean cross-entropy, backward, AdamW (single-tensor, the
1.13 default on CPU), zero_grad(set_to_none=True) — prime-ts drops gradients the same way.

Legend: B batch, T tokens, D model width, H heads, Dh = D / H, V vocab, L layers.

Prints one JSON line: {"torch": version, "threads": n, "step_ms": [...] (wall), "cpu_ms": [...]
(CPU time of all the process's threads), "loss": [...], "gflops": sgemm GFLOPS}. Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.H = H
        self.ln1 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.fc = nn.Linear(D, 4 * D)
        self.out = nn.Linear(4 * D, D)

    def attention(self, x, allowed):
        B, T, D = x.shape
        Dh = D // self.H
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)  # each (B, T, D)
        q = q.view(B, T, self.H, Dh).transpose(1, 2)  # (B, H, T, Dh)
        k = k.view(B, T, self.H, Dh).transpose(1, 2)
        v = v.view(B, T, self.H, Dh).transpose(1, 2)
        # the composition prime-ts's sdpa runs on libtorch < 2.0
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(Dh))  # (B, H, T, T)
        scores = scores.masked_fill(allowed.logical_not(), torch.finfo(scores.dtype).min)
        y = torch.matmul(torch.softmax(scores, -1), v)  # (B, H, T, Dh)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))

    def forward(self, x, allowed):
        x = x + self.attention(x, allowed)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, V, T, D, H, L):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Embedding(T, D)
        self.blocks = nn.ModuleList([Block(D, H) for _ in range(L)])
        self.ln_f = nn.LayerNorm(D)
        self.head = nn.Linear(D, V, bias=False)

    def forward(self, ids):  # ids (B, T) -> logits (B, T, V)
        T = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(T))
        allowed = torch.ones(T, T, dtype=torch.bool).tril()  # causal
        for b in self.blocks:
            x = b(x, allowed)
        return self.head(self.ln_f(x))


def sgemm_gflops(n=1024, reps=20):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        torch.matmul(a, b)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def main():
    ap = argparse.ArgumentParser()
    for name, dflt in [("threads", 2), ("layers", 4), ("width", 256), ("heads", 4), ("batch", 16),
                       ("tokens", 128), ("vocab", 1024), ("warmup", 3), ("steps", 10), ("seed", 0)]:
        ap.add_argument("--" + name, type=int, default=dflt)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = GPT(a.vocab, a.tokens, a.width, a.heads, a.layers)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
    ids = torch.randint(0, a.vocab, (a.batch, a.tokens + 1))
    x, y = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
    step_ms, cpu_ms, losses = [], [], []
    for i in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, a.vocab), y.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        lv = loss.item()
        dt, dc = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        if i >= a.warmup:
            step_ms.append(dt)
            cpu_ms.append(dc)
        losses.append(lv)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "step_ms": step_ms,
                      "cpu_ms": cpu_ms,                       "loss": losses, "gflops": sgemm_gflops()}))


if __name__ == "__main__":
    main()
