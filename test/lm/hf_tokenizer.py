"""transformers' own tokenizer as the reference for prime-ts/lm's Tokenizer
(test/lm/hf_tokenizer.test.ts). Run by PRIME_PYTHON; no hub access (the files are local).

  hf_tokenizer.py DIR REQ.json RES.json
    REQ: {"texts": [...], "chats": [{"messages": [...], "add_generation_prompt": bool, "extra": {...}}]}
    RES: {"ids": [[...]] (encode, no special tokens added), "decoded": [...],
          "chats": [{"text": str, "ids": [...]}] (apply_chat_template, tokenize=False / True)}
"""
import json
import sys

import transformers
from transformers import AutoTokenizer

d, req_path, res_path = sys.argv[1:4]
tok = AutoTokenizer.from_pretrained(d)
req = json.load(open(req_path))
ids = [tok.encode(t, add_special_tokens=False) for t in req["texts"]]
chats = []
for c in req["chats"]:
    text = tok.apply_chat_template(c["messages"], tokenize=False, add_generation_prompt=c["add_generation_prompt"], **c.get("extra", {}))
    chats.append({"text": text, "ids": tok.encode(text, add_special_tokens=False)})
json.dump({"ids": ids, "decoded": [tok.decode(i) for i in ids], "chats": chats,
           "versions": {"transformers": transformers.__version__, "class": type(tok).__name__}}, open(res_path, "w"))
