"""Tokens per second: our ALBERT tokenizer against the Python `tokenizers` and `sentencepiece`
packages, on the same corpus and machine, side by side.

* tokenizer.json path: Rust (`tokenize_bench` example, tokenizer.json) vs `tokenizers.Tokenizer.encode_batch`.
* spiece.model path: Rust (`tokenize_bench`, spiece.model: ALBERT preprocessing + our SentencePiece)
  vs `sentencepiece.SentencePieceProcessor.encode` (the library alone, no ALBERT preprocessing,
  so it does less work than our path).

Each is run with 1 thread and with all cores. Usage (from the repo root):
  ~/.venvs/ref/bin/python scripts/bench/tokenizer_bench.py [--data ../shared/data] [--files F ...]
It builds the example in release mode first.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read_lines(files):
    lines = []
    for f in files:
        raw = open(f, "rb").read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        # As Rust's str::lines: split on \n, drop a trailing \r and a final empty line.
        parts = [l[:-1] if l.endswith("\r") else l for l in text.split("\n")]
        if parts and parts[-1] == "":
            parts.pop()
        lines.extend(parts)
    return lines


def rust(tokenizer, files, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    exe = os.path.join(ROOT, "target", "release", "examples", "tokenize_bench")
    out = subprocess.run([exe, tokenizer, *files], env=env, check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["tokens"], r["seconds"]


def py_tokenizers(tokenizer_json, lines, threads):
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(tokenizer_json)
    tok.encode_batch(lines[:1000], add_special_tokens=False)
    t = time.perf_counter()
    encs = tok.encode_batch(lines, add_special_tokens=False) if threads > 1 else [tok.encode(l, add_special_tokens=False) for l in lines]
    return sum(len(e.ids) for e in encs), time.perf_counter() - t


def py_sentencepiece(model, lines, threads):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=model, num_threads=threads)
    sp.encode(lines[:1000])
    t = time.perf_counter()
    ids = sp.encode(lines, num_threads=threads)
    return sum(len(i) for i in ids), time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--files", nargs="*")
    args = ap.parse_args()
    data = os.path.abspath(args.data)
    files = args.files or [os.path.join(data, "corpus/gutenberg_nltk", f) for f in
                           ["austen-emma.txt", "melville-moby_dick.txt", "whitman-leaves.txt"]] + \
        [os.path.join(data, "corpus/wikitext-2/wiki.test.tokens")]
    subprocess.run(["cargo", "build", "--release", "-p", "albert", "--example", "tokenize_bench"], cwd=ROOT, check=True)
    model = os.path.join(data, "spm", "spiece.model")
    tmp = tempfile.mkdtemp()
    # The tokenizer.json transformers' AlbertTokenizer writes for spiece.model, run by both sides.
    shutil.copy(model, os.path.join(tmp, "spiece.model"))
    from transformers import AlbertTokenizer
    AlbertTokenizer.from_pretrained(tmp).save_pretrained(os.path.join(tmp, "hf"))
    tj = os.path.join(tmp, "hf", "tokenizer.json")
    lines = read_lines(files)
    mb = sum(len(l.encode()) for l in lines) / 1e6
    print(f"corpus: {len(lines)} lines, {mb:.1f} MB ({', '.join(os.path.basename(f) for f in files)}); cores: {os.cpu_count()}")
    print(f"{'path':<14} {'threads':>7} {'ours tok/s':>12} {'python tok/s':>13} {'ratio':>6}  reference")
    for threads in [1, os.cpu_count()]:
        for path, ours_tok, ref_name, ref in [
            ("tokenizer.json", tj, "tokenizers", lambda: py_tokenizers(tj, lines, threads)),
            ("spiece.model", model, "sentencepiece", lambda: py_sentencepiece(model, lines, threads)),
        ]:
            n_ours, s_ours = rust(ours_tok, files, threads)
            n_ref, s_ref = ref()
            a, b = n_ours / s_ours, n_ref / s_ref
            print(f"{path:<14} {threads:>7} {a:>12,.0f} {b:>13,.0f} {a / b:>6.2f}  {ref_name} (tokens: ours {n_ours}, ref {n_ref})")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
