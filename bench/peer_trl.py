"""TRL's side of bench/peer-trl.ts: a few GRPO or RLOO steps of TRL on the same checkpoint and prompts.

Usage (driven by bench/peer-trl.ts; one JSON line on stdout, prefixed PEER_TRL_RESULT):
    python bench/peer_trl.py '{"model": DIR, "data": FILE.jsonl, "method": "grpo"|"rloo", "k": 4,
        "prompts": 8, "max_response": 64, "steps": 4, "threads": 1, "seed": 0, "lr": 1e-6, "temperature": 1.0}'

Each data row: {"prompt": [{"role": "user", "content": ...}], "ground_truth": "<integer>"}.
Reward: 1.0 when the last \\boxed{...} of the completion parses as an integer equal to the row's
ground truth, else 0.0 (an exact integer compare; the task's answers are integers).

Timing: the step time is the wall time between successive optimizer steps' on_step_end callbacks
(the whole loop: generation, reward, loss, backward, AdamW, logging); the generation time is the
wall time of the trainer's _generate_and_score_completions (sampling, decoding, reward, advantages),
timed by wrapping the bound method; the completion tokens are its completion_mask's sum. CPU seconds (time.process_time, all threads)
between the same callbacks are reported too: steadier than wall time on a shared machine.
"""
import json
import re
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
args = json.loads(sys.argv[1])

import torch  # noqa: E402

torch.set_num_threads(int(args["threads"]))
torch.set_num_interop_threads(1)

from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback  # noqa: E402
import trl  # noqa: E402

BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def boxed_integer_reward(completions, ground_truth, **kwargs):
    """1.0 if the last \\boxed{...} holds an integer equal to the ground truth, else 0.0."""
    out = []
    for c, gt in zip(completions, ground_truth):
        text = c[-1]["content"] if isinstance(c, list) else c
        found = BOXED.findall(text)
        ok = False
        if found:
            try:
                ok = int(found[-1].strip()) == int(gt)
            except ValueError:
                ok = False
        out.append(1.0 if ok else 0.0)
    return out


def main():
    method = args["method"]
    rows = [json.loads(line) for line in open(args["data"], encoding="utf8") if line.strip()]
    need = args["prompts"] * args["steps"]
    if len(rows) < need:
        raise SystemExit(f"{args['data']}: {len(rows)} rows, need {need} (prompts × steps)")
    ds = Dataset.from_list(rows[:need])
    tok = AutoTokenizer.from_pretrained(args["model"])
    model = AutoModelForCausalLM.from_pretrained(args["model"], dtype=torch.float32)
    common = dict(
        output_dir=tempfile.mkdtemp(prefix="peer-trl-"),
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        seed=args["seed"],
        data_seed=args["seed"],
        learning_rate=args["lr"],
        lr_scheduler_type="constant",
        max_steps=args["steps"],
        per_device_train_batch_size=args["prompts"] * args["k"],  # completions per step
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_generations=args["k"],
        max_completion_length=args["max_response"],
        num_iterations=1,  # one policy epoch
        beta=0.0,  # no reference model / KL (prime-ts runs these methods with kl_coef 0)
        temperature=args["temperature"],
        top_p=1.0,
        dataloader_num_workers=0,
        shuffle_dataset=False,
        disable_tqdm=True,
        log_completions=False,
    )
    if method == "grpo":
        cfg, Trainer = trl.GRPOConfig(**common), trl.GRPOTrainer
    elif method == "rloo":
        cfg, Trainer = trl.RLOOConfig(**common), trl.RLOOTrainer
    else:
        raise SystemExit(f"peer_trl.py: unknown method '{method}' (grpo | rloo)")

    ends, cpu, gens = [], [], []

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            if not ends:
                ends.append(time.perf_counter())
                cpu.append(time.process_time())

        def on_step_end(self, a, state, control, **kw):
            ends.append(time.perf_counter())
            cpu.append(time.process_time())

    trainer = Trainer(model=model, reward_funcs=boxed_integer_reward, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[Clock()])
    inner = trainer._generate_and_score_completions

    def timed(*a, **kw):
        t0 = time.perf_counter()
        out = inner(*a, **kw)
        gens.append({"seconds": time.perf_counter() - t0, "tokens": int(out["completion_mask"].sum().item()),
                     "prompt_tokens": int(out["prompt_mask"].sum().item()) if "prompt_mask" in out else None,
                     "sequences": int(out["completion_mask"].shape[0])})
        return out

    trainer._generate_and_score_completions = timed
    trainer.train()
    steps = [ends[i + 1] - ends[i] for i in range(len(ends) - 1)]
    cpu_steps = [cpu[i + 1] - cpu[i] for i in range(len(cpu) - 1)]
    print("PEER_TRL_RESULT " + json.dumps({"trl": trl.__version__, "torch": torch.__version__, "threads": torch.get_num_threads(),
                                           "step_seconds": steps, "step_cpu_seconds": cpu_steps, "gen": gens}))


if __name__ == "__main__":
    main()
