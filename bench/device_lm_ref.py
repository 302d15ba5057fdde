"""The peer side of bench/device-lm.ts: Hugging Face transformers' own Qwen2 model code, eager
PyTorch, on the same checkpoint, token ids, device and dtype (bfloat16).

  score:  model(input_ids[:, :-1]) logits, log_softmax in float32 over the response positions,
          gather (and backward of the masked sum for "train"); left padding with position ids
          from the attention mask, as prime-ts does
  sample: model.generate(do_sample=True, temperature=1, top_k=0, top_p=1) with min_new_tokens =
          max_new_tokens (no stop token: every sample runs to the same length), KV cache on

Usage: python3 bench/device_lm_ref.py SPEC.json → one JSON line of seconds (medians of reps).
"""
import json
import statistics
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

spec = json.load(open(sys.argv[1]))
dev = torch.device(spec["device"])
reps = spec["reps"]
model = AutoModelForCausalLM.from_pretrained(spec["dir"], dtype=torch.bfloat16, attn_implementation="sdpa").to(dev).eval()
ids = torch.tensor(spec["input_ids"], device=dev)
mask = torch.tensor(spec["attention_mask"], device=dev)
resp = torch.tensor(spec["response_mask"], device=dev, dtype=torch.float32)
start = spec["response_start"]
pos = (mask.cumsum(1) - 1).clamp(min=0)


def score(train):
    out = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=pos[:, :-1], logits_to_keep=ids.size(1) - start)
    lp = torch.log_softmax(out.logits.float(), -1).gather(-1, ids[:, start:, None]).squeeze(-1) * resp[:, start:]
    if train:
        lp.sum().backward()
        v = next(model.parameters()).grad.float().sum().item()
        model.zero_grad(set_to_none=True)
        return v
    return lp.sum().item()


def timed(fn):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), r


with torch.no_grad():
    score_s, _ = timed(lambda: score(False))
train_s, _ = timed(lambda: score(True))

prompts = spec["prompts"]
n = spec["n"]
L = max(len(p) for p in prompts)
gid = torch.zeros((len(prompts), L), dtype=torch.long)
gmask = torch.zeros((len(prompts), L), dtype=torch.long)
for b, p in enumerate(prompts):
    gid[b, L - len(p):] = torch.tensor(p)
    gmask[b, L - len(p):] = 1
gid, gmask = gid.to(dev), gmask.to(dev)


def sample():
    with torch.no_grad():
        out = model.generate(input_ids=gid, attention_mask=gmask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                             num_return_sequences=n, max_new_tokens=spec["max_new"], min_new_tokens=spec["max_new"],
                             pad_token_id=0, eos_token_id=None)
    return (out.size(1) - L) * out.size(0)


sample_s, sample_tokens = timed(sample)
print(json.dumps({"score_s": score_s, "train_s": train_s, "sample_s": sample_s, "sample_tokens": sample_tokens,
                  "transformers_version": transformers.__version__, "torch_version": torch.__version__, "attn": "sdpa"}))
