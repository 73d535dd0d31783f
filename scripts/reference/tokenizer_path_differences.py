"""Where the two reference paths disagree: ALBERT's original tokenization (sentencepiece + the slow
tokenizer's preprocessing, `SlowAlbert` in tokenizer_parity.py) vs transformers 5's
tokenizers-backed AlbertTokenizer, on the hard cases and on every text of the parity set.

Usage: ~/.venvs/ref/bin/python scripts/reference/tokenizer_path_differences.py [--data ../shared/data]
Prints per-source counts and the differing hard cases (used for tests/fixtures/tokenizer/README.md).
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from tokenizer_parity import HARD_CASES, SOURCES, SlowAlbert, source_texts  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
    args = ap.parse_args()
    data = os.path.abspath(args.data)
    from transformers import AlbertTokenizer
    model = os.path.join(data, "spm", "spiece.model")
    slow = SlowAlbert(model)
    tmp = tempfile.mkdtemp()
    shutil.copy(model, os.path.join(tmp, "spiece.model"))
    fast = AlbertTokenizer.from_pretrained(tmp)
    n_diff = 0
    for t in HARD_CASES:
        a = slow.ids(t, True)
        b = fast(t)["input_ids"]
        if a != b:
            n_diff += 1
            print(f"{t!r}\n  original: {[slow.sp.id_to_piece(i) for i in a]}\n  transformers: {fast.convert_ids_to_tokens(b)}")
    print(f"hard cases: {n_diff}/{len(HARD_CASES)} differ")
    total = diff = 0
    for name in SOURCES:
        texts = source_texts(data, name)
        fast_ids = fast(texts)["input_ids"]
        d = sum(slow.ids(t, True) != f for t, f in zip(texts, fast_ids))
        print(f"{name}: {d}/{len(texts)} texts differ")
        total += len(texts)
        diff += d
    print(f"parity set: {diff}/{total} texts differ")


if __name__ == "__main__":
    main()
