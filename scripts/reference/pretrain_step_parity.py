"""PyTorch reference for the trainer's step parity test (crates/albert-train/tests/pretrain_parity.rs).

Trains transformers' AlbertForPreTraining with torch.optim.AdamW from the initial weights our pipeline
saved, on the batches it drew, with the same settings: losses scaled by 1/k over k micro-batches,
torch.nn.utils.clip_grad_norm_, get_linear_schedule_with_warmup, no weight decay on biases and
LayerNorm weights (transformers' Trainer groups), all dropout 0 (from config.json). Writes the
per-step losses with the SHA-256 of the inputs.

    ALBERT_PARITY_DIR=/tmp/parity cargo test -p albert-train --test pretrain_parity -- --ignored
    ~/.venvs/ref/bin/python scripts/reference/pretrain_step_parity.py /tmp/parity \
        crates/albert-train/tests/fixtures/pretrain_step_parity.json
"""

import hashlib
import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import AlbertForPreTraining, get_linear_schedule_with_warmup

NO_DECAY = ("LayerNorm", "layer_norm", "bias")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(inputs: Path, out: Path) -> None:
    torch.manual_seed(0)
    doc = json.loads((inputs / "batches.json").read_text())
    s = doc["settings"]
    assert s["optimizer"] == "adamw"
    model = AlbertForPreTraining.from_pretrained(inputs / "model")
    model.train()
    decay = [p for n, p in model.named_parameters() if not any(x in n for x in NO_DECAY)]
    no_decay = [p for n, p in model.named_parameters() if any(x in n for x in NO_DECAY)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=s["lr"], betas=(0.9, 0.999), eps=1e-8,
    )
    sched = get_linear_schedule_with_warmup(opt, s["warmup_steps"], s["steps"])
    ce = torch.nn.CrossEntropyLoss()
    losses, mlm_losses, sop_losses = [], [], []
    for micro in doc["steps"]:
        k = len(micro)
        opt.zero_grad()
        total = mlm_sum = sop_sum = 0.0
        for b in micro:
            shape = (b["batch_size"], b["seq_len"])
            t = lambda key: torch.tensor(b[key], dtype=torch.long).reshape(shape)  # noqa: E731
            order = torch.tensor(b["sentence_order_label"], dtype=torch.long)
            o = model(input_ids=t("input_ids"), token_type_ids=t("token_type_ids"),
                      attention_mask=t("attention_mask"), labels=t("labels"), sentence_order_label=order)
            (o.loss / k).backward()
            with torch.no_grad():
                mlm = ce(o.prediction_logits.reshape(-1, model.config.vocab_size), t("labels").reshape(-1))
                sop = ce(o.sop_logits, order)
            total += o.loss.item() / k
            mlm_sum += mlm.item() / k
            sop_sum += sop.item() / k
        torch.nn.utils.clip_grad_norm_(model.parameters(), s["max_grad_norm"])
        opt.step()
        sched.step()
        losses.append(total)
        mlm_losses.append(mlm_sum)
        sop_losses.append(sop_sum)
    out.write_text(json.dumps({
        "source": "scripts/reference/pretrain_step_parity.py",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "inputs_sha256": {"model.safetensors": sha256(inputs / "model" / "model.safetensors"),
                          "batches.json": sha256(inputs / "batches.json")},
        "settings": s,
        "loss": losses,
        "mlm_loss": mlm_losses,
        "sop_loss": sop_losses,
    }, indent=1) + "\n")
    print("losses:", [round(x, 5) for x in losses])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
