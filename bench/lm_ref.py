"""The eager-PyTorch side of bench/lm.ts: the same scoring and sampling work, on the same
checkpoint and token ids, timed in the same run. Model: test/lm/torch_ref.py (a from-scratch
eager implementation in the usual style: repeat_kv, additive masks, torch.cat KV cache).

  scoring:  forward over the sequence, lm_head on the response positions only, log_softmax,
            gather (and backward of the masked sum for "train")
  sampling: the naive loop — every prompt replicated n times and prefilled (lm_head on the last
            position only), then one token per step with the KV cache, softmax + multinomial,
            finished rows dropped from the batch and cache.

Usage: python3 bench/lm_ref.py SPEC.json  → prints one JSON line of results.
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "lm"))
from torch_ref import RefLM, load_dir, position_ids_from_mask  # noqa: E402


def left_pad(rows, pad=0):
    L = max(len(r) for r in rows)
    ids = torch.full((len(rows), L), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), L), dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, L - len(r):] = torch.tensor(r)
        mask[b, L - len(r):] = 1
    return ids, mask


def score(m, ids, mask, resp_mask, start, train):
    pos = position_ids_from_mask(mask)
    # the decoder over tokens 0 … T−2, then lm_head on the scored positions only
    hidden, _ = m.forward(ids[:, :-1], mask[:, :-1], pos[:, :-1], hidden_only=True)
    logits = torch.nn.functional.linear(hidden[:, start - 1:], m.w["lm_head.weight"])  # (B, R, V)
    lp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, start:, None]).squeeze(-1)
    lp = lp * resp_mask[:, start:]
    if train:
        lp.sum().backward()
    return lp


def score_phases(m, ids, mask, start, reps):
    """The forward of `score` in three timed parts (median wall and CPU seconds each): the decoder,
    lm_head on the scored positions, log_softmax + gather."""
    pos = position_ids_from_mask(mask)
    dec, (hidden, _) = timed(lambda: m.forward(ids[:, :-1], mask[:, :-1], pos[:, :-1], hidden_only=True), reps)
    h = hidden[:, start - 1:]
    head, logits = timed(lambda: torch.nn.functional.linear(h, m.w["lm_head.weight"]), reps)
    lsm, _ = timed(lambda: torch.log_softmax(logits.float(), -1).gather(-1, ids[:, start:, None]).squeeze(-1), reps)
    return {"decoder": dec, "lm_head": head, "log_softmax": lsm}


def generate_naive(m, prompts, n, max_new, temperature, stop_ids, lengths=None):
    """lengths (optional, one per sample): end sample r after lengths[r] tokens as if it had drawn
    a stop token then — so both sides of the benchmark do the same work."""
    rows = [p for p in prompts for _ in range(n)]
    ids, mask = left_pad(rows)
    R = len(rows)
    pos = position_ids_from_mask(mask)
    logits, past = m.forward(ids, mask, pos, last_only=True)
    logits = logits[:, -1]
    next_pos = mask.sum(1)
    active = list(range(R))
    out = [[] for _ in range(R)]
    logps = [[] for _ in range(R)]
    stop = set(stop_ids)
    for step in range(max_new):
        z = logits / temperature
        tok = torch.multinomial(torch.softmax(z, -1), 1).squeeze(1)
        lp = torch.log_softmax(z, -1).gather(-1, tok[:, None]).squeeze(1)
        tl, ll = tok.tolist(), lp.tolist()
        keep = []
        for i, r in enumerate(active):
            out[r].append(tl[i])
            logps[r].append(ll[i])
            if tl[i] not in stop and (lengths is None or len(out[r]) < lengths[r]):
                keep.append(i)
        if not keep or step == max_new - 1:
            break
        if len(keep) < len(active):
            idx = torch.tensor(keep)
            past = [(k.index_select(0, idx), v.index_select(0, idx)) for k, v in past]
            mask, tok, next_pos = mask.index_select(0, idx), tok.index_select(0, idx), next_pos.index_select(0, idx)
            active = [active[i] for i in keep]
        mask = torch.cat([mask, torch.ones(len(active), 1, dtype=mask.dtype)], 1)
        logits, past = m.forward(tok[:, None], mask, next_pos[:, None], past)
        logits = logits[:, -1]
        next_pos = next_pos + 1
    return out


def timed(fn, reps):
    """Median wall and CPU seconds of `reps` runs after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        r = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return (statistics.median(wall), statistics.median(cpu)), r


def main():
    spec = json.load(open(sys.argv[1]))
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    cfg, w = load_dir(spec["dir"])
    m = RefLM(cfg, w, torch.float32)
    res = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    sc = spec.get("score")
    if sc:
        ids = torch.tensor(sc["input_ids"])
        mask = torch.tensor(sc["attention_mask"])
        resp = torch.tensor(sc["response_mask"], dtype=torch.float32)
        start = sc["response_start"]
        with torch.no_grad():
            t, _ = timed(lambda: score(m, ids, mask, resp, start, False), spec["reps"])
        res["score_s"], res["score_cpu"] = t
        if sc.get("profile"):
            with torch.no_grad():
                res["score_phases"] = score_phases(m, ids, mask, start, spec["reps"])
        params = m.parameters()
        for p in params:
            p.requires_grad_(True)

        def train():
            for p in params:
                p.grad = None
            return score(m, ids, mask, resp, start, True)
        t, _ = timed(train, spec["reps"])
        res["train_s"], res["train_cpu"] = t
        for p in params:
            p.requires_grad_(False)
            p.grad = None
    g = spec.get("sample")
    if g:
        with torch.no_grad():
            t, out = timed(lambda: generate_naive(m, g["prompts"], g["n"], g["max_new"], g["temperature"], g["stop_ids"], g.get("lengths")), spec["reps"])
        res["sample_s"], res["sample_cpu"] = t
        res["sample_tokens"] = sum(len(o) for o in out)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
