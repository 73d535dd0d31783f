"""Parameter gradients of transformers' loss for the model-core fixtures, to check our backward pass against PyTorch.

Run by hand (never by CI), from the repository root, after make_fixtures.py:

    ~/.venvs/ref/bin/python scripts/reference/make_gradient_fixtures.py

For every fixture of tests/fixtures/models/ that has a loss, loads the checkpoint into its transformers class in
eval mode (no dropout, eager attention), computes the loss on the inputs and labels of golden.safetensors, and
writes gradients.safetensors beside it: `loss` and the gradient of every parameter under its transformers name
(tied weights once, under the name named_parameters() gives them).
"""
import os

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig
import transformers

ROOT = os.path.join("tests", "fixtures", "models")


def main():
    for name in sorted(os.listdir(ROOT)):
        d = os.path.join(ROOT, name)
        if not os.path.isfile(os.path.join(d, "golden.safetensors")):
            continue
        golden = load_file(os.path.join(d, "golden.safetensors"))
        if "loss" not in golden:
            continue
        cfg = AutoConfig.from_pretrained(d)
        cls = getattr(transformers, cfg.architectures[0])
        model = cls.from_pretrained(d, attn_implementation="eager").eval()
        labels = {k.split(".", 1)[1]: v for k, v in golden.items() if k.startswith("labels.")}
        out = model(input_ids=golden["input_ids"], token_type_ids=golden["token_type_ids"],
                    attention_mask=golden["attention_mask"], **labels)
        out.loss.backward()
        grads = {f"grad.{n}": p.grad.contiguous() for n, p in model.named_parameters() if p.grad is not None}
        grads["loss"] = out.loss.detach().reshape(1)
        save_file(grads, os.path.join(d, "gradients.safetensors"))
        print(name, cls.__name__, f"loss {out.loss.item():.6f}", f"{len(grads) - 1} gradients")


if __name__ == "__main__":
    main()
