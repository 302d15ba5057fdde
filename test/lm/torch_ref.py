"""An independent, from-scratch eager PyTorch implementation of the Qwen2/Llama decoder, used
(formerly a test reference; test/lm/hf_parity.test.ts now uses transformers' own models) and
by bench/lm_ref.py as the "PyTorch eager" side of the benchmark.

Written the way an eager implementation is usually written (Hugging Face's modeling code style):
repeat_kv copies of keys/values for grouped-query attention, an additive attention mask, a KV
cache grown by torch.cat. Only Python's standard library and torch are used (no transformers,
no safetensors package).

CLI:  python3 torch_ref.py logits CHECKPOINT_DIR IN.json OUT.json
      IN.json: {"input_ids": [[...]], "attention_mask": [[...]], "dtype": "float64"}
      OUT.json: {"logits": [[[...]]]}  (B, T, V)
"""
import json
import math
import os
import struct
import sys

import torch

ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        buf = bytearray(data[b:end])
        t = torch.frombuffer(buf, dtype=ST_DTYPES[e["dtype"]]) if end > b else torch.empty(0, dtype=ST_DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def load_dir(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        w = read_safetensors(single)
    else:
        idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
        w = {}
        for shard in sorted(set(idx["weight_map"].values())):
            w.update(read_safetensors(os.path.join(d, shard)))
    return cfg, w


def inv_freq(cfg, dim, dtype):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(dtype) / dim))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "linear":
            inv = inv / rs["factor"]
        elif kind == "llama3":
            old = rs.get("original_max_position_embeddings", cfg["max_position_embeddings"])
            lo, hi, f = rs["low_freq_factor"], rs["high_freq_factor"], rs["factor"]
            wavelen = 2 * math.pi / inv
            smooth = (old / wavelen - lo) / (hi - lo)
            mid = (1 - smooth) * inv / f + smooth * inv
            inv = torch.where(wavelen > old / lo, inv / f, torch.where(wavelen < old / hi, inv, mid))
    return inv


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def repeat_kv(x, n):  # (B, Hkv, T, Dh) -> (B, Hkv*n, T, Dh)
    if n == 1:
        return x
    B, Hkv, T, Dh = x.shape
    return x[:, :, None].expand(B, Hkv, n, T, Dh).reshape(B, Hkv * n, T, Dh)


class RefLM:
    def __init__(self, cfg, weights, dtype=torch.float32):
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        if cfg.get("tie_word_embeddings", False):
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.L = cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.Hkv = cfg.get("num_key_value_heads", self.H)
        self.Dh = cfg.get("head_dim") or cfg["hidden_size"] // self.H
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        self.inv_freq = inv_freq(cfg, self.Dh, torch.float64 if dtype == torch.float64 else torch.float32)

    def parameters(self):
        seen = {}
        for k, v in self.w.items():
            seen[id(v)] = v
        return list(seen.values())

    def rms(self, x, w):
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * y.to(x.dtype)

    def lin(self, x, name):
        return torch.nn.functional.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def forward(self, ids, attention_mask=None, position_ids=None, past=None, last_only=False, hidden_only=False):
        """ids (B, T); attention_mask (B, Tpast + T) 1 = real; past: list of (k, v) per layer or None.
        Returns logits (B, T, V) (or (B, 1, V) when last_only; final hidden states (B, T, D) when
        hidden_only) and the new past."""
        B, T = ids.shape
        P = past[0][0].shape[2] if past else 0
        if position_ids is None:
            position_ids = torch.arange(P, P + T).unsqueeze(0).expand(B, T)
        freqs = position_ids.to(self.inv_freq.dtype)[..., None] * self.inv_freq  # (B, T, Dh/2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(self.dtype)[:, None], emb.sin().to(self.dtype)[:, None]  # (B, 1, T, Dh)
        # additive mask (B, 1, T, P+T): causal and key-not-padding
        lowest = torch.finfo(self.dtype).min
        allowed = torch.ones(T, P + T, dtype=torch.bool).tril(P)
        if attention_mask is not None:
            allowed = allowed[None, None] & attention_mask.bool()[:, None, None, :]
        mask = torch.zeros(allowed.shape, dtype=self.dtype).masked_fill(~allowed, lowest)
        x = torch.nn.functional.embedding(ids, self.w["model.embed_tokens.weight"])
        new_past = []
        for i in range(self.L):
            p = f"model.layers.{i}."
            h = self.rms(x, self.w[p + "input_layernorm.weight"])
            q = self.lin(h, p + "self_attn.q_proj").view(B, T, self.H, self.Dh).transpose(1, 2)
            k = self.lin(h, p + "self_attn.k_proj").view(B, T, self.Hkv, self.Dh).transpose(1, 2)
            v = self.lin(h, p + "self_attn.v_proj").view(B, T, self.Hkv, self.Dh).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if past:
                k = torch.cat((past[i][0], k), dim=2)
                v = torch.cat((past[i][1], v), dim=2)
            new_past.append((k, v))
            kr, vr = repeat_kv(k, self.H // self.Hkv), repeat_kv(v, self.H // self.Hkv)
            scores = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(self.Dh) + mask
            attn = torch.softmax(scores.float(), dim=-1).to(self.dtype) if self.dtype in (torch.float16, torch.bfloat16) else torch.softmax(scores, dim=-1)
            o = torch.matmul(attn, vr).transpose(1, 2).reshape(B, T, self.H * self.Dh)
            x = x + self.lin(o, p + "self_attn.o_proj")
            h = self.rms(x, self.w[p + "post_attention_layernorm.weight"])
            m = torch.nn.functional.silu(self.lin(h, p + "mlp.gate_proj")) * self.lin(h, p + "mlp.up_proj")
            x = x + self.lin(m, p + "mlp.down_proj")
        x = self.rms(x, self.w["model.norm.weight"])
        if last_only:
            x = x[:, -1:]
        if hidden_only:
            return x, new_past
        return torch.nn.functional.linear(x, self.w["lm_head.weight"]), new_past


def position_ids_from_mask(mask):
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def main():
    if len(sys.argv) != 5 or sys.argv[1] != "logits":
        sys.exit(__doc__)
    _, _, d, inp, outp = sys.argv
    req = json.load(open(inp))
    dtype = {"float64": torch.float64, "float32": torch.float32}[req.get("dtype", "float64")]
    cfg, w = load_dir(d)
    m = RefLM(cfg, w, dtype)
    ids = torch.tensor(req["input_ids"])
    mask = torch.tensor(req["attention_mask"]) if "attention_mask" in req else torch.ones_like(ids)
    with torch.no_grad():
        logits, _ = m.forward(ids, mask, position_ids_from_mask(mask))
    json.dump({"torch": torch.__version__, "logits": logits.tolist()}, open(outp, "w"))


if __name__ == "__main__":
    main()
