#!/usr/bin/env python3
"""Golden values for albert-train's optimizers, schedule and gradient clipping.

Run by hand in the reference venv (torch, numpy, transformers):

    ~/.venvs/ref/bin/python scripts/reference/make_optim_fixtures.py

It writes crates/albert-train/tests/fixtures/optim_reference.json:
  * lamb, lamb_no_decay (weight decay 0.01 and 0):
              parameters after each of several steps of an independent NumPy (float32) rendering of
              google-research/albert lamb_optimizer.py's update rule (no bias correction, trust ratio
              ||w||/||u||, 1 when either norm is 0, weight decay and layer adaptation excluded for
              names containing "LayerNorm", "layer_norm" or "bias");
  * adamw:    parameters after each step of torch.optim.AdamW, with a decay and a no-decay group;
  * schedule: learning rates of transformers.get_linear_schedule_with_warmup;
  * clip:     total norms and gradients after torch.nn.utils.clip_grad_norm_.
Parameters, gradient sequences and learning rates are fixed (seeded NumPy draws), stored in the file.
"""
import json
import pathlib
import re

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/albert-train/tests/fixtures/optim_reference.json"
EXCLUDE = ["LayerNorm", "layer_norm", "bias"]
LAYER = "albert.encoder.albert_layer_groups.0.albert_layers.0."
SHAPES = {
    "albert.embeddings.word_embeddings.weight": (6, 4),
    LAYER + "attention.dense.weight": (4, 4),
    LAYER + "attention.dense.bias": (4,),
    LAYER + "attention.LayerNorm.weight": (4,),
    LAYER + "full_layer_layer_norm.bias": (4,),
    "predictions.zero_init.weight": (3,),
    "albert.pooler.weight": (2, 2),
}
LRS = [1e-2, 2e-2, 5e-3, 1e-2, 3e-3, 1e-2]

rng = np.random.default_rng(20240601)
init = {}
for name, shape in SHAPES.items():
    init[name] = (rng.standard_normal(shape) * 0.5).astype(np.float32)
init["predictions.zero_init.weight"][:] = 0.0
grads = []
for step in range(len(LRS)):
    g = {name: (rng.standard_normal(shape) * 0.1 * (step + 1)).astype(np.float32) for name, shape in SHAPES.items()}
    if step == 0:
        g["predictions.zero_init.weight"][:] = 0.0  # zero weight and zero update: ratio 1
        g["albert.pooler.weight"][:] = 0.0  # without weight decay, a zero update: ratio 1
    grads.append(g)


def excluded(name):
    return any(re.search(p, name) is not None for p in EXCLUDE)


def lamb_reference(lrs, beta_1=0.9, beta_2=0.999, epsilon=1e-6, weight_decay_rate=0.01):
    """lamb_optimizer.py's apply_gradients, one parameter at a time, in float32."""
    f32 = np.float32
    params = {k: v.copy() for k, v in init.items()}
    m = {k: np.zeros_like(v) for k, v in init.items()}
    v = {k: np.zeros_like(p) for k, p in init.items()}
    history = []
    for lr, g in zip(lrs, grads):
        for name in SHAPES:
            param, grad = params[name], g[name]
            next_m = f32(beta_1) * m[name] + f32(1.0 - beta_1) * grad
            next_v = f32(beta_2) * v[name] + f32(1.0 - beta_2) * np.square(grad)
            update = next_m / (np.sqrt(next_v) + f32(epsilon))
            if weight_decay_rate and not excluded(name):
                update = update + f32(weight_decay_rate) * param
            ratio = f32(1.0)
            if not excluded(name):
                w_norm = np.linalg.norm(param)
                g_norm = np.linalg.norm(update)
                ratio = w_norm / g_norm if (w_norm > 0 and g_norm > 0) else f32(1.0)
            params[name] = (param - f32(ratio) * f32(lr) * update).astype(np.float32)
            m[name], v[name] = next_m.astype(np.float32), next_v.astype(np.float32)
        history.append({k: p.copy() for k, p in params.items()})
    return history


def adamw_reference(lrs, weight_decay=0.01, eps=1e-8):
    params = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in init.items()}
    groups = [
        {"params": [p for k, p in params.items() if not excluded(k)], "weight_decay": weight_decay},
        {"params": [p for k, p in params.items() if excluded(k)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=lrs[0], betas=(0.9, 0.999), eps=eps, foreach=False)
    history = []
    for lr, g in zip(lrs, grads):
        for group in opt.param_groups:
            group["lr"] = lr
        for k, p in params.items():
            p.grad = torch.from_numpy(g[k].copy())
        opt.step()
        history.append({k: p.detach().numpy().copy() for k, p in params.items()})
    return history


def schedule_reference():
    cases = []
    for warmup, total in [(0, 5), (3, 10), (4, 4), (10, 5), (2, 7)]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
        sched = get_linear_schedule_with_warmup(opt, warmup, total)
        lrs = []
        for _ in range(total + 3):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        cases.append({"peak_lr": 1e-3, "warmup_steps": warmup, "total_steps": total, "lrs": lrs})
    return cases


def clip_reference():
    cases = []
    for max_norm in [0.5, 1.0, 100.0]:
        params = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in init.items()}
        for k, p in params.items():
            p.grad = torch.from_numpy(grads[2][k].copy())
        total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm)
        cases.append({
            "max_norm": max_norm,
            "total_norm": float(total),
            "grads": {k: flat(p.grad.numpy()) for k, p in params.items()},
        })
    return cases


def flat(a):
    return [float(x) for x in np.asarray(a, dtype=np.float32).reshape(-1)]


def main():
    fixture = {
        "source": "scripts/reference/make_optim_fixtures.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "shapes": {k: list(s) for k, s in SHAPES.items()},
        "init": {k: flat(v) for k, v in init.items()},
        "grads": [{k: flat(v) for k, v in g.items()} for g in grads],
        "lrs": LRS,
        "lamb": {
            "config": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "weight_decay": 0.01},
            "params_after_step": [{k: flat(v) for k, v in h.items()} for h in lamb_reference(LRS)],
        },
        "lamb_no_decay": {
            "config": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-6, "weight_decay": 0.0},
            "params_after_step": [
                {k: flat(v) for k, v in h.items()} for h in lamb_reference(LRS, weight_decay_rate=0.0)
            ],
        },
        "adamw": {
            "config": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
            "params_after_step": [{k: flat(v) for k, v in h.items()} for h in adamw_reference(LRS)],
        },
        "schedule": schedule_reference(),
        "clip": clip_reference(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
