"""Golden fixture for truncation from the left (transformers' `truncation_side="left"`, TEI's
`truncation_direction: "Left"`): what transformers' AlbertTokenizer gives, windows included.

Run by hand (never by CI), from the repository root:

    ~/.venvs/ref/bin/python scripts/reference/make_truncation_fixtures.py

Reads the tokenizer of tests/fixtures/pipelines/pretraining (transformers' AlbertTokenizer saved from the ALBERT
test vocabulary) and writes tests/fixtures/tokenizer/left_truncation.json: per case the text (and pair), the
truncation settings, and the input_ids / token_type_ids of the first encoding and of each overflowing window
(singles only: pairs are compared on their first encoding).
"""
import json
import os
import sys

import tokenizers
import transformers
from transformers import AutoTokenizer

SRC = os.path.join("tests", "fixtures", "pipelines", "pretraining")
OUT = os.path.join("tests", "fixtures", "tokenizer", "left_truncation.json")

LONG = "The quick brown fox jumps over the lazy dog near Zürich, then naps."
SINGLES = [(LONG, 8, 0), (LONG, 8, 2), (LONG, 6, 3), ("Short text.", 8, 0), (LONG, 3, 0)]
PAIRS = [
    ("The quick brown fox jumps over the lazy dog.", "A short pair.", 10, "longest_first"),
    ("Short one.", "The quick brown fox jumps over the lazy dog near Zürich.", 11, "longest_first"),
    ("The quick brown fox jumps over the lazy dog.", "A short pair.", 10, "only_first"),
    ("Short one.", "The quick brown fox jumps over the lazy dog near Zürich.", 11, "only_second"),
]


def main():
    tok = AutoTokenizer.from_pretrained(SRC)
    tok.truncation_side = "left"
    cases = []
    for text, max_length, stride in SINGLES:
        enc = tok(text, truncation=True, max_length=max_length, stride=stride, return_overflowing_tokens=True,
                  return_token_type_ids=True)
        cases.append({"text": text, "max_length": max_length, "stride": stride, "strategy": "longest_first",
                      "input_ids": enc["input_ids"], "token_type_ids": enc["token_type_ids"]})
    for a, b, max_length, strategy in PAIRS:
        enc = tok(a, b, truncation=strategy, max_length=max_length, return_token_type_ids=True)
        cases.append({"text": a, "pair": b, "max_length": max_length, "stride": 0, "strategy": strategy,
                      "input_ids": [enc["input_ids"]], "token_type_ids": [enc["token_type_ids"]]})
    out = {"cases": cases, "versions": {"transformers": transformers.__version__,
                                        "tokenizers": tokenizers.__version__, "python": sys.version.split()[0]}}
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(len(cases), "cases ->", OUT)


if __name__ == "__main__":
    main()
