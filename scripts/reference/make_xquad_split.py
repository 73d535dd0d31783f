#!/usr/bin/env python3
"""Writes data/splits/xquad_split.json: a fixed 36 train / 12 test split of XQuAD's 48 articles.

Rule: the 12 test articles are random.Random(20261127).sample(range(48), 12) (Python's
Mersenne Twister, stable across Python 3 versions); the other 36 are train. Lists are sorted by
article index. Before writing, checks that every xquad.*.json is a parallel translation of
xquad.en.json: same number of articles, same titles, same question ids per paragraph.

    python3 scripts/reference/make_xquad_split.py [--data /work/shared/data]
"""
import argparse
import glob
import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED, NUM_TEST = 20261127, 12


def structure(articles):
    return [(a["title"], [[q["id"] for q in p["qas"]] for p in a["paragraphs"]]) for a in articles]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data"))
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.data, "xquad", "xquad.*.json")))
    en = json.load(open(os.path.join(args.data, "xquad", "xquad.en.json"), encoding="utf-8"))["data"]
    for f in files:
        other = json.load(open(f, encoding="utf-8"))["data"]
        if structure(other) != structure(en):
            raise SystemExit(f"{f} is not parallel to xquad.en.json")
    test = sorted(random.Random(SEED).sample(range(len(en)), NUM_TEST))
    train = [i for i in range(len(en)) if i not in test]
    split = {
        "rule": f"test = sorted(random.Random({SEED}).sample(range({len(en)}), {NUM_TEST})) over the articles "
                "of xquad.en.json in file order, train = the rest; all XQuAD languages share the article "
                f"order (checked over {len(files)} files by scripts/reference/make_xquad_split.py)",
        "num_articles": len(en),
        "train": [{"index": i, "title": en[i]["title"]} for i in train],
        "test": [{"index": i, "title": en[i]["title"]} for i in test],
    }
    out = os.path.join(ROOT, "data", "splits", "xquad_split.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(split, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(train)} train / {len(test)} test; {len(files)} languages parallel")


if __name__ == "__main__":
    main()
