"""A PyTorch rank for distributed.test.ts: joins a job with prime-ts ranks through
torch.distributed (env:// rendezvous, gloo) and runs the same collectives as the worker's
'interop' scenario, printing `RESULT <json>`. Run by PRIME_PYTHON (the project's .venv)."""
import json
import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo", timeout=__import__("datetime").timedelta(seconds=30))
r = dist.get_rank()
a = torch.tensor([1.0 + r, 10.0 * r])
dist.all_reduce(a)
m = torch.tensor([r, -r], dtype=torch.int64)
dist.all_reduce(m, op=dist.ReduceOp.MAX)
b = torch.tensor([r, r, r], dtype=torch.float64)
dist.broadcast(b, 1)
g = [torch.empty(1) for _ in range(dist.get_world_size())]
dist.all_gather(g, torch.tensor([r + 0.5]))
dist.barrier()
print("RESULT " + json.dumps({"rank": r, "sum": a.tolist(), "max": m.tolist(), "broadcast": b.tolist(),
                              "gathered": [x.item() for x in g]}), flush=True)
dist.destroy_process_group()
