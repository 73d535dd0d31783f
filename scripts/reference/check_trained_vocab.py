"""Checks a vocabulary written by `albert vocab train`: the sentencepiece library loads its
spiece.model, transformers' AutoTokenizer loads the directory, and both give the same ids (and the
same ids as our Rust tokenizer, when --ours JSONL from `albert tokenize --jsonl` is given).

Usage: ~/.venvs/ref/bin/python scripts/reference/check_trained_vocab.py DIR FILE... [--ours OURS_SPM.jsonl OURS_HF.jsonl]
The sentencepiece side applies ALBERT's original preprocessing (SlowAlbert in tokenizer_parity.py).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from tokenizer_parity import SlowAlbert, read_text  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--ours", nargs=2, metavar=("SPM_JSONL", "HF_JSONL"))
    args = ap.parse_args()
    from transformers import AutoTokenizer
    slow = SlowAlbert(os.path.join(args.dir, "spiece.model"))
    fast = AutoTokenizer.from_pretrained(args.dir)
    print("sentencepiece pieces:", slow.sp.get_piece_size(), "| transformers:", type(fast).__name__, len(fast))
    texts = []
    for f in args.files:
        lines = read_text(f).split("\n")
        texts.extend(lines[:-1] if lines and lines[-1] == "" else lines)
    sp_ids = [slow.ids(t, True) for t in texts]
    hf_ids = fast(texts)["input_ids"]
    same = sum(a == b for a, b in zip(sp_ids, hf_ids))
    print(f"sentencepiece+ALBERT preprocessing vs transformers AutoTokenizer: {same}/{len(texts)} texts give identical ids")
    for t, a, b in list((t, a, b) for t, a, b in zip(texts, sp_ids, hf_ids) if a != b)[:5]:
        print(f"  {t[:70]!r}\n    spm: {slow.sp.id_to_piece(a)}\n    hf:  {fast.convert_ids_to_tokens(b)}")
    if args.ours:
        for path, ref, name in [(args.ours[0], sp_ids, "ours (spiece.model) vs sentencepiece"),
                                (args.ours[1], hf_ids, "ours (tokenizer.json) vs transformers")]:
            ours = [json.loads(l)["input_ids"] for l in open(path)]
            print(f"{name}: {sum(a == b for a, b in zip(ours, ref))}/{len(ref)} identical (ours has {len(ours)})")


if __name__ == "__main__":
    main()
