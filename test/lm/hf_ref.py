"""Hugging Face transformers' own Qwen2 / Qwen3 / Llama models as the parity reference for
prime-ts/lm (test/lm/hf_parity.test.ts). Run by PRIME_PYTHON (the project's .venv).

One process serves a list of jobs (importing transformers takes seconds):

  hf_ref.py make JOBS.json   JOBS: [{"spec": SPEC.json, "dir": DIR}, ...]: builds a random model from
                             SPEC {config: {...}, dtype, seed, std} with transformers' own classes,
                             perturbs every parameter (norm weights too, so they are not all ones)
                             and writes DIR with save_pretrained (config.json + model.safetensors)
  hf_ref.py run JOBS.json    JOBS: [{"dir": DIR, "req": REQ.json, "res": RES.json}, ...]
      REQ: {"input_ids": [[...]], "attention_mask": [[...]], "dtype": "float64"|"float32"}
      RES: {"logits": (B,T,V), "logprobs": (B,T-1): log p(x[t+1] | x[..t]), "versions": {...}}
      Left padding: position ids are cumsum(mask) - 1 (pads get 1, as transformers' generate
      fills them), passed explicitly; attention: attn_implementation="sdpa".
"""
import json
import sys

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}


def make(spec_path, out_dir):
    spec = json.load(open(spec_path))
    cfg = AutoConfig.for_model(**spec["config"])
    torch.manual_seed(spec.get("seed", 0))
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float64)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.normal_(0, spec.get("std", 0.3))
    model.to(DTYPES[spec.get("dtype", "float64")]).save_pretrained(out_dir, safe_serialization=True)


def keep_float64(model):
    """transformers computes RMSNorm statistics and RoPE's cos/sin in float32 whatever the model
    dtype (right for half types). For the float64 comparison both run in float64: RMSNorm as
    w * x / sqrt(mean(x^2) + eps); RoPE from the same float32 angles position * inv_freq
    (transformers' own inv_freq, rope scaling included), cos/sin taken in float64. Everything else
    is transformers' code as shipped."""
    def norm_forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon))

    def rope_forward(self, x, position_ids):
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        emb = torch.cat((freqs, freqs), dim=-1).double()
        return (emb.cos() * self.attention_scaling).to(x.dtype), (emb.sin() * self.attention_scaling).to(x.dtype)

    n = {"RMSNorm": 0, "RotaryEmbedding": 0}
    for m in model.modules():
        name = type(m).__name__
        if name.endswith("RMSNorm"):
            m.forward = norm_forward.__get__(m)
            n["RMSNorm"] += 1
        elif name.endswith("RotaryEmbedding"):
            m.forward = rope_forward.__get__(m)
            n["RotaryEmbedding"] += 1
    assert all(n.values()), f"patched modules: {n}"


def run(ckpt, req_path, res_path):
    req = json.load(open(req_path))
    dt = DTYPES[req["dtype"]]
    # attention through torch's scaled_dot_product_attention: transformers' eager path adds
    # finfo(float64).min to masked scores, which overflows to -inf on a padding query's row in
    # float64 (NaN there, and from the next layer on everywhere, since its keys are NaN)
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=dt, attn_implementation="sdpa").eval()
    if dt == torch.float64:
        keep_float64(model)
    ids = torch.tensor(req["input_ids"], dtype=torch.long)
    mask = torch.tensor(req["attention_mask"], dtype=torch.long)
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).logits
    lp = torch.log_softmax(logits[:, :-1].to(torch.float64 if dt == torch.float64 else torch.float32), -1)
    lp = lp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    # a padding query's row may come out NaN; the test compares real positions only, and a NaN
    # there must still fail: 1e30 instead (valid JSON)
    logits, lp = torch.nan_to_num(logits, nan=1e30), torch.nan_to_num(lp, nan=1e30)
    json.dump({
        "logits": logits.tolist(),
        "logprobs": lp.tolist(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "class": type(model).__name__},
    }, open(res_path, "w"))


if __name__ == "__main__":
    cmd, jobs = sys.argv[1], json.load(open(sys.argv[2]))
    for job in jobs:
        if cmd == "make":
            make(job["spec"], job["dir"])
        elif cmd == "run":
            run(job["dir"], job["req"], job["res"])
        else:
            sys.exit(f"unknown command {cmd}")
