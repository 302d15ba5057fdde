"""GGUF fixtures and references for test/lm/gguf.test.ts and bench/gguf-smollm2.ts.

  gguf_ref.py make OUT_DIR
      Writes tiny random GGUF files with the `gguf` package (one per tensor type: F32, F16, BF16,
      Q8_0, Q4_0, Q4_1 for llama; Q8_0 for qwen2), each with a byte-level BPE vocabulary, merges
      and a ChatML template, plus OUT_DIR/fixtures.json listing them. llama q/k rows are permuted
      as llama.cpp's convert_hf_to_gguf.py stores them (the formula, written here).
  gguf_ref.py ref REQUEST.json RESULT.json
      REQUEST: a list of {"gguf": path, "texts": [...], "chats": [[messages]...], "ids": [[token ids]...],
      "logits_file": path, "digits": bool}; RESULT: the list of answers. For each, loads the GGUF with transformers (`gguf_file=`), writes token ids of
      each text (no special tokens added beyond the tokenizer's own) and of each chat
      (apply_chat_template, add_generation_prompt=True), and float32 logits of each id sequence
      (concatenated, row-major) to logits_file.
"""
import json
import os
import sys

import numpy as np


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


CORPUS = (
    "the cat sat on the mat. the dog ate the bone. there are 12 cats and 345 dogs; "
    "what is 2+3? the answer is 5. she sells sea shells. then the theory: these three things."
)
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train_bpe(n_merges):
    """A tiny byte-level BPE (greedy most-frequent pair) over CORPUS's GPT-2 words."""
    import regex

    enc = bytes_to_unicode()
    pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    words = [[enc[b] for b in w.encode()] for w in pat.findall(CORPUS)]
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        (a, b), _ = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        new = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new.append(out)
        words = new
    return merges


def llama_permute(w, n_head):
    """llama.cpp's HF→GGUF q/k row order: per head, rows (s, j) → (j, s)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def make(out_dir):
    import gguf
    from gguf import GGMLQuantizationType as Q
    from gguf.quants import quantize

    os.makedirs(out_dir, exist_ok=True)
    enc = bytes_to_unicode()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    alphabet = [enc[b] for b in range(256)]
    merges = train_bpe(48)
    tokens = specials + alphabet + [a + b for a, b in merges]
    types = [3] * len(specials) + [1] * (len(tokens) - len(specials))
    V = len(tokens)
    fixtures = []
    variants = [
        # (arch, type name, ggml type, tokenizer.ggml.pre); "bad-*": files the converter must refuse
        ("llama", "F32", Q.F32, "default"),
        ("llama", "F16", Q.F16, "default"),
        ("llama", "BF16", Q.BF16, "default"),
        ("llama", "Q8_0", Q.Q8_0, "default"),
        ("llama", "Q4_0", Q.Q4_0, "default"),
        ("llama", "Q4_1", Q.Q4_1, "default"),
        ("qwen2", "Q8_0", Q.Q8_0, "qwen2"),
        ("llama", "bad-Q5_0", Q.Q5_0, "default"),  # a type prime-ts does not dequantize
        ("llama", "bad-ffn", Q.F32, "default"),  # feed_forward_length says 100, the tensors have 96
    ]
    for k, (arch, tname, qtype, pre) in enumerate(variants):
        bad = tname.startswith("bad-")
        rng = np.random.default_rng(100 + k)
        D, F, L, H, Hkv = 64, 96, 2, 4, 2
        Dh = D // H
        path = os.path.join(out_dir, f"tiny-{arch}-{tname}.gguf")
        w = gguf.GGUFWriter(path, arch)
        w.add_name(f"tiny {arch} {tname}")
        w.add_block_count(L)
        w.add_context_length(256)
        w.add_embedding_length(D)
        w.add_feed_forward_length(100 if tname == "bad-ffn" else F)
        w.add_head_count(H)
        w.add_head_count_kv(Hkv)
        w.add_rope_dimension_count(Dh)
        w.add_rope_freq_base(10000.0 if arch == "llama" else 1e6)
        w.add_layer_norm_rms_eps(1e-5 if arch == "llama" else 1e-6)
        w.add_vocab_size(V)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges([f"{a} {b}" for a, b in merges])
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_pad_token_id(0)
        w.add_add_bos_token(False)
        w.add_chat_template(CHATML)

        def t(name, arr, quant=True):
            arr = arr.astype(np.float32)
            qt = qtype if (quant and arr.ndim == 2) else Q.F32  # norms and biases stay F32, as llama.cpp keeps them
            if qt == Q.F32:
                w.add_tensor(name, arr)
            elif qt == Q.F16:
                w.add_tensor(name, arr.astype(np.float16))
            else:
                w.add_tensor(name, quantize(arr, qt), raw_dtype=qt)

        s = 0.2
        t("token_embd.weight", rng.normal(0, 1, (V, D)))
        for i in range(L):
            q = rng.normal(0, s, (H * Dh, D))
            kk = rng.normal(0, s, (Hkv * Dh, D))
            if arch == "llama":
                q, kk = llama_permute(q, H), llama_permute(kk, Hkv)
            t(f"blk.{i}.attn_q.weight", q)
            t(f"blk.{i}.attn_k.weight", kk)
            t(f"blk.{i}.attn_v.weight", rng.normal(0, s, (Hkv * Dh, D)))
            t(f"blk.{i}.attn_output.weight", rng.normal(0, s, (D, H * Dh)))
            if arch == "qwen2":
                t(f"blk.{i}.attn_q.bias", rng.normal(0, 0.1, (H * Dh,)))
                t(f"blk.{i}.attn_k.bias", rng.normal(0, 0.1, (Hkv * Dh,)))
                t(f"blk.{i}.attn_v.bias", rng.normal(0, 0.1, (Hkv * Dh,)))
            t(f"blk.{i}.ffn_gate.weight", rng.normal(0, s, (F, D)))
            t(f"blk.{i}.ffn_up.weight", rng.normal(0, s, (F, D)))
            t(f"blk.{i}.ffn_down.weight", rng.normal(0, s, (D, F)))
            t(f"blk.{i}.attn_norm.weight", 1 + rng.normal(0, 0.1, (D,)))
            t(f"blk.{i}.ffn_norm.weight", 1 + rng.normal(0, 0.1, (D,)))
        t("output_norm.weight", 1 + rng.normal(0, 0.1, (D,)))
        if arch == "qwen2":
            t("output.weight", rng.normal(0, s, (V, D)))  # untied
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        fixtures.append({"file": path, "arch": arch, "type": tname, "vocab": V, "bad": bad})
    with open(os.path.join(out_dir, "fixtures.json"), "w") as f:
        json.dump(fixtures, f, indent=1)


def ref(req_file, res_file):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(int(os.environ.get("PRIME_NUM_THREADS", "2")))
    json.dump([ref_one(r) for r in json.load(open(req_file))], open(res_file, "w"))


def ref_one(req):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d, name = os.path.split(os.path.abspath(req["gguf"]))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    if req.get("digits"):
        # the pre-tokenizer llama.cpp's 'smollm' type (and SmolLM2's own tokenizer.json) use:
        # single digits split off, then GPT-2's byte-level regex
        from tokenizers import pre_tokenizers

        tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        )
    out = {"texts": [], "chats": [], "logits_shapes": [], "pre_tokenizer": json.loads(tok.backend_tokenizer.to_str()).get("pre_tokenizer")}
    for text in req.get("texts", []):
        out["texts"].append(tok(text)["input_ids"])
    for msgs in req.get("chats", []):
        ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        out["chats"].append([int(x) for x in ids])
    if req.get("ids"):
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
        model.eval()
        chunks = []
        with torch.no_grad():
            for ids in req["ids"]:
                lg = model(torch.tensor([ids])).logits[0].float().numpy()
                out["logits_shapes"].append(list(lg.shape))
                chunks.append(lg.reshape(-1))
        np.concatenate(chunks).astype("<f4").tofile(req["logits_file"])
    return out


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "ref":
        ref(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
