#!/usr/bin/env python3
"""Do a checkpoint's sentence vectors carry sentiment? (issue 5's diagnosis of why pretraining does not help yet)

Embeds 4,000 SST-2 training sentences (a fixed sample) and the 872 dev sentences with `albert embed` (mean-pooled, and
with --pooler), fits scikit-learn's logistic regression on the standardized training vectors for C in {0.01, 0.1, 1}
and prints the dev accuracy of the best C per model (C chosen on dev: the same optimism for every model, a diagnostic,
not a result). Compare a pretrained checkpoint with a random initialization of the same configuration.

    ~/.venvs/ref/bin/python scripts/reference/linear_probe.py --model NAME=DIR [--model NAME=DIR ...]

Run by hand (never by tests).
"""
import argparse
import json
import random
import subprocess
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

REPO = Path(__file__).resolve().parents[2]


def read_tsv(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8")][1:]
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows])


def embed(albert, model, texts, pooler):
    cmd = [albert, "embed", "--model", model, "--batch-size", "64", "--json"] + (["--pooler"] if pooler else [])
    out = subprocess.run(cmd, input="\n".join(texts) + "\n", capture_output=True, text=True, check=True).stdout
    return np.array([json.loads(line)["vector"] for line in out.splitlines()])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="NAME=DIR")
    p.add_argument("--albert", default=str(REPO / "target/release/albert"))
    p.add_argument("--sst2", default=str(REPO.parent / "shared/data/glue/SST-2"))
    p.add_argument("--train-size", type=int, default=4000)
    a = p.parse_args()
    train_x, train_y = read_tsv(Path(a.sst2) / "train.tsv")
    keep = sorted(random.Random(0).sample(range(len(train_x)), a.train_size))
    train_x, train_y = [train_x[i] for i in keep], train_y[keep]
    dev_x, dev_y = read_tsv(Path(a.sst2) / "dev.tsv")
    for spec in a.model:
        name, model = spec.split("=", 1)
        for pooler in (False, True):
            tr, dev = embed(a.albert, model, train_x, pooler), embed(a.albert, model, dev_x, pooler)
            scaler = StandardScaler().fit(tr)
            acc, c = max((LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(tr), train_y)
                          .score(scaler.transform(dev), dev_y), c) for c in (0.01, 0.1, 1.0))
            print(f"{name:<16} {'pooler' if pooler else 'mean':<7} dev accuracy {acc * 100:.2f} (C={c})", flush=True)


if __name__ == "__main__":
    main()
