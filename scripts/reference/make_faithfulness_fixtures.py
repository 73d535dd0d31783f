"""Reference deletion curves for `albert explain --faithfulness`, with Captum and transformers.

Run by hand (never by CI), from the repository root:

    ~/.venvs/ref/bin/python scripts/reference/make_faithfulness_fixtures.py

Writes tests/fixtures/explain/faithfulness.json: on the built-in SST-2 model (models/albert-small-sst2, eager
attention, eval mode) and the first four sentences of SST-2 dev (stored in the fixture), per text:

  label, probability  the predicted class c (argmax of the logits) and its softmax probability p(c | x)
  pieces, deleted     n, the word pieces (special tokens excluded), and k = ceil(q n / 100) for q = 10..50 %
  curves[method]      for ig (LayerIntegratedGradients on model.albert.embeddings, STEPS Gauss-Legendre points,
                      the [CLS] <pad>... [SEP] baseline, as make_explain_fixtures.py), grad_x_input
                      (LayerGradientXActivation on the same layer) and rollout (the [CLS] row of the rollout of
                      make_explain_fixtures.py), each toward c:
                        order  the non-special positions by score, highest first (Python's stable sort: ties keep
                               the earlier position first), the first k_max of them
                        drops  p(c | x) - p(c | x with the first k positions of the order removed from the ids),
                               one per level ([CLS] and [SEP] kept; the sequence gets shorter)
                        aopc   Samek et al. (2017): sum(drops) / (len(drops) + 1), step 0 having drop 0
"""
import csv
import json
import os
import sys

import captum
import numpy as np
import torch
import transformers
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients
from transformers import AlbertForSequenceClassification, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_explain_fixtures import PAD, forward_fn, load, rollout  # noqa: E402

OUT = os.path.join("tests", "fixtures", "explain", "faithfulness.json")
MODEL = os.path.join("models", "albert-small-sst2")
DEV = os.path.join("..", "shared", "data", "glue", "SST-2", "dev.tsv")
LEVELS = [10, 20, 30, 40, 50]
STEPS = 20
TEXTS = 4


def probability(model, ids, label):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), token_type_ids=torch.zeros(1, len(ids), dtype=torch.long)).logits[0]
    return float(torch.softmax(logits.double(), -1)[label])


def scores(model, ids, special, label):
    input_ids = torch.tensor([ids])
    tt = torch.zeros_like(input_ids)
    am = torch.ones_like(input_ids)
    forward = forward_fn(model, "label")
    layer = model.albert.embeddings
    baseline = torch.tensor([[i if s else PAD for i, s in zip(ids, special)]])
    ig = LayerIntegratedGradients(forward, layer).attribute(
        inputs=input_ids, baselines=baseline, target=label, additional_forward_args=(tt, am), n_steps=STEPS, internal_batch_size=16
    )
    gxi = LayerGradientXActivation(forward, layer).attribute(inputs=input_ids, target=label, additional_forward_args=(tt, am))
    with torch.no_grad():
        attentions = model(input_ids=input_ids, token_type_ids=tt, attention_mask=am, output_attentions=True).attentions
    return {
        "ig": ig.sum(-1)[0].tolist(),
        "grad-x-input": gxi.sum(-1)[0].tolist(),
        "attention-rollout": rollout(attentions)[0].tolist(),
    }


def main():
    model = load(AlbertForSequenceClassification, MODEL)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    with open(DEV, newline="") as f:
        texts = [row["sentence"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)][:TEXTS]
    cases = []
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        special = [bool(s) for s in tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)]
        with torch.no_grad():
            label = int(model(input_ids=torch.tensor([ids])).logits[0].argmax())
        p0 = probability(model, ids, label)
        pieces = [i for i, s in enumerate(special) if not s]
        deleted = [(q * len(pieces) + 99) // 100 for q in LEVELS]
        curves = {}
        for method, values in scores(model, ids, special, label).items():
            order = sorted(pieces, key=lambda i: -values[i])
            drops = []
            for k in deleted:
                gone = set(order[:k])
                drops.append(p0 - probability(model, [t for i, t in enumerate(ids) if i not in gone], label))
            curves[method] = {"scores": values, "order": order[: deleted[-1]], "drops": drops, "aopc": sum(drops) / (len(drops) + 1)}
        cases.append({
            "text": text,
            "tokens": tokenizer.convert_ids_to_tokens(ids),
            "label": model.config.id2label[label],
            "probability": p0,
            "pieces": len(pieces),
            "deleted": deleted,
            "curves": curves,
        })
        print(f"{text[:40]!r}: {model.config.id2label[label]} {p0:.4f} " + " ".join(f"{m} {c['aopc']:.4f}" for m, c in curves.items()), file=sys.stderr)
    versions = {"captum": captum.__version__, "transformers": transformers.__version__, "torch": torch.__version__, "numpy": np.__version__}
    with open(OUT + ".tmp", "w") as f:
        json.dump({"versions": versions, "steps": STEPS, "levels": LEVELS, "texts": cases}, f, indent=1)
        f.write("\n")
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {OUT}: {len(cases)} texts", file=sys.stderr)


if __name__ == "__main__":
    main()
