#!/usr/bin/env python3
"""Builds the seed corpus of every fuzz target (fuzz/corpus/<target>/) from small real files.

Sources: the repository's tests/fixtures, the shared data set (../shared/data, see its MANIFEST.md) and a tiny
vocabulary and prepared data directory made with the `albert` binary (GEN, see fuzz/corpus/README.md for the
commands). Big files are cut down (first lines of a TSV, first pieces of a spiece.model, first entries of a
tokenizer.json vocabulary) so the committed corpus stays small.

usage: scripts/fuzz/seeds.py GEN
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests/fixtures"
SHARED = ROOT.parent / "shared/data"
OUT = ROOT / "fuzz/corpus"
GEN = Path(sys.argv[1])
SEPARATOR = b"\n--albert-fuzz-file--\n"  # fuzz/src/lib.rs SEPARATOR
LEGACY_MAGIC_LEN = 15  # fuzz_targets/pickle.rs prepends these bytes


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def head(path, lines):
    return b"".join(path.read_bytes().splitlines(keepends=True)[:lines])


# --- protobuf, just enough to cut a spiece.model down -------------------------------------------------------
def varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def fields(buf):
    i = 0
    while i < len(buf):
        start = i
        key, i = varint(buf, i)
        wire = key & 7
        if wire == 0:
            _, i = varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            n, i = varint(buf, i)
            i += n
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
        yield key >> 3, wire, buf[start:i]


def payload(raw):
    _, i = varint(raw, 0)
    _, i = varint(raw, i)
    return raw[i:]


def encode_varint(v):
    out = bytearray()
    while True:
        if v < 0x80:
            out.append(v)
            return bytes(out)
        out.append(v & 0x7F | 0x80)
        v >>= 7


def small_spm(path, pieces, keep_charsmap):
    out, kept = b"", 0
    for num, _, raw in fields(path.read_bytes()):
        if num == 1:
            kept += 1
            if kept > pieces:
                continue
        if num == 3 and not keep_charsmap:
            spec = b"".join(r for n, _, r in fields(payload(raw)) if n != 2)
            raw = encode_varint(3 << 3 | 2) + encode_varint(len(spec)) + spec
        out += raw
    return out


# --- checkpoints -----------------------------------------------------------------------------------------------
CK = FIX / "checkpoint"
for f in ["bf16.safetensors", "f16.safetensors", "f32.safetensors"]:
    put("safetensors", f, (CK / f).read_bytes())
for f in sorted((CK / "sharded_safetensors").glob("*.safetensors")):
    put("safetensors", f.name, f.read_bytes())
put("safetensors", "seq_regression_golden.safetensors", (FIX / "models/seq_regression/golden.safetensors").read_bytes())

for f in ["pytorch_model.bin", "forbidden_global.bin", "legacy_pytorch_model.bin"]:
    put("pytorch_zip", f, (CK / f).read_bytes())
for f in sorted((CK / "sharded_bin").glob("*.bin")):
    put("pytorch_zip", f.name, f.read_bytes())

for f in [CK / "legacy_pytorch_model.bin", FIX / "models/legacy_format.bin"]:
    put("pickle", f.name, f.read_bytes()[LEGACY_MAGIC_LEN:])

# --- tokenizers ------------------------------------------------------------------------------------------------
put("spiece_model", "vocab120.model", (GEN / "v120/spiece.model").read_bytes())
for f in ["test_sentencepiece.model", "test_sentencepiece_bpe.model", "test_sentencepiece_bpe_char.model",
          "test_sentencepiece_no_bos.model", "test_sentencepiece_with_bytefallback.model",
          "sentencepiece_test_model.model"]:
    put("spiece_model", f, small_spm(SHARED / "spm" / f, 300, keep_charsmap=False))
# One seed keeps a real precompiled charsmap (nmt_nfkc, most of its size), the trie the normalizer walks.
put("spiece_model", "spiece_charsmap.model", small_spm(SHARED / "spm/spiece.model", 40, keep_charsmap=True))

put("tokenizer_json", "vocab120.json", (GEN / "v120/tokenizer.json").read_bytes())
hf = json.loads((FIX / "pipelines/qa/tokenizer.json").read_text())
hf["model"]["vocab"] = hf["model"]["vocab"][:200]
hf["normalizer"]["normalizers"] = [n for n in hf["normalizer"]["normalizers"] if n["type"] != "Precompiled"]
put("tokenizer_json", "albert_qa_cut.json", json.dumps(hf, ensure_ascii=False))
wordpiece = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                   "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": None, "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world",
                                                    "##s", "test", ",", "."])}},
}
put("tokenizer_json", "wordpiece.json", json.dumps(wordpiece))
bpe = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": 0, "content": "<unk>", "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True}],
    "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                                          "use_regex": True},
    "post_processor": None, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
              "vocab": {"<unk>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "he": 5, "ll": 6, "hell": 7, "hello": 8},
              "merges": ["h e", "l l", "he ll", "hell o"]},
}
put("tokenizer_json", "bpe.json", json.dumps(bpe))

# --- config.json -----------------------------------------------------------------------------------------------
for d in ["seq_cls_silu", "masked_lm_relu", "model_gelu_new", "pretraining_groups", "seq_multilabel", "qa",
          "multiple_choice", "token_cls"]:
    put("config_json", f"{d}.json", (FIX / "models" / d / "config.json").read_bytes())
put("config_json", "pipeline_ner.json", (FIX / "pipelines/ner/config.json").read_bytes())

# --- task readers: the first byte picks the GLUE task (GlueTask::ALL order) ------------------------------------
GLUE = SHARED / "glue"
for pick, name, path in [(0, "cola", GLUE / "CoLA/train.tsv"), (1, "sst2", GLUE / "SST-2/dev.tsv"),
                         (2, "mrpc", GLUE / "MRPC/dev.tsv"), (3, "stsb", GLUE / "STS-B/dev.tsv"),
                         (7, "qnli", GLUE / "QNLI/dev.tsv"), (8, "rte", GLUE / "RTE/dev.tsv"),
                         (9, "wnli", GLUE / "WNLI/test.tsv"), (10, "ax", GLUE / "diagnostic/diagnostic.tsv"),
                         (4, "qqp_dev", FIX / "tasks/qqp_dev.tsv"), (4, "qqp_test", FIX / "tasks/qqp_test.tsv"),
                         (5, "mnli_dev", FIX / "tasks/mnli_dev_matched.tsv"),
                         (6, "mnli_test", FIX / "tasks/mnli_test_matched.tsv"),
                         (8, "rte_predictions", FIX / "metrics/glue/rte.tsv"),
                         (3, "stsb_predictions", FIX / "metrics/glue/stsb.tsv")]:
    put("glue", f"{name}.tsv", bytes([pick]) + head(path, 8))

put("squad", "squad_v2_sample.json", (FIX / "tasks/squad_v2_sample.json").read_bytes())
put("squad", "predictions.json", (FIX / "metrics/squad_v2/predictions.json").read_bytes())
put("squad", "na_probs.json", (FIX / "metrics/squad_v2/na_probs.json").read_bytes())
xquad = json.loads((SHARED / "xquad/xquad.de.json").read_text())
article = xquad["data"][0]
article["paragraphs"] = article["paragraphs"][:1]
article["paragraphs"][0]["qas"] = article["paragraphs"][0]["qas"][:3]
put("squad", "xquad_de_cut.json", json.dumps({"version": xquad.get("version", "1.1"), "data": [article]},
                                             ensure_ascii=False))

put("conll", "eng_testa_head.txt", head(SHARED / "conll2003/eng.testa", 40))
put("conll", "eng_train_head.txt", head(SHARED / "conll2003/eng.train", 25))

race = [FIX / "tasks/race/high/1.txt", FIX / "tasks/race/middle/7.txt"]
for f in race:
    put("race", f"{f.parent.name}_{f.name}", f.read_bytes())
put("race", "both.jsonl", b"".join(json.dumps(json.loads(f.read_text())).encode() + b"\n" for f in race))
put("race", "predictions.json", b'{"high/1-0": "A", "middle/7-0": 2}')

# Custom data: the first byte picks format (pick % 3), label kind ((pick / 3) % 3) and a text pair (pick & 0x80).
def pick(fmt, kind, pair):
    return next(p for p in range(256) if p % 3 == fmt and p // 3 % 3 == kind and bool(p & 0x80) == pair)

reviews = [(l.decode("latin-1").strip(), lab) for path, lab in
           [(SHARED / "sentiment/rt-polarity/rt-polarity.pos", "pos"),
            (SHARED / "sentiment/rt-polarity/rt-polarity.neg", "neg")] for l in path.read_bytes().splitlines()[:3]]
csv = "text,label\n" + "".join('"{}",{}\n'.format(t.replace('"', '""'), lab) for t, lab in reviews)
put("custom", "classes.csv", bytes([pick(0, 0, False)]) + csv.encode())
tsv = "text\ttext_b\tlabel\n" + "".join(f"{t}\t{t[:20]}\t{lab}\n" for t, lab in reviews)
put("custom", "pairs.tsv", bytes([pick(1, 1, True)]) + tsv.encode())
jsonl = "".join(json.dumps({"text": t, "label": len(t) / 100}) + "\n" for t, _ in reviews)
put("custom", "scores.jsonl", bytes([pick(2, 2, False)]) + jsonl.encode())
put("custom", "submission.tsv", bytes([pick(0, 1, False)]) + b"index\tprediction\n0\tpos\n1\tneg\n")

# --- prepared pretraining data: manifest, train shard index and tokens, word starts ---------------------------
P = GEN / "out"
put("shard", "prepared", SEPARATOR.join((P / f).read_bytes() for f in
                                        ["manifest.json", "train.00000.index", "train.00000.tokens",
                                         "word_starts.bin"]))

# --- search: documents and the index manifest ------------------------------------------------------------------
# documents: the first byte picks the format (pick % 4: txt, md, jsonl, json), the passage length (1 + pick / 4 % 8
# tokens) and the overlap (pick / 32 % length); see fuzz_targets/documents.rs.
def doc_pick(fmt, tokens, overlap):
    return fmt + 4 * (tokens - 1) + 32 * overlap

GUTENBERG = SHARED / "corpus/gutenberg_nltk"
put("documents", "macbeth_bom.txt", bytes([doc_pick(0, 6, 2)]) + "\ufeff".encode() + head(GUTENBERG / "shakespeare-macbeth.txt", 12))
# Latin-1 (the shared copy of Julius Caesar): not UTF-8 past byte 3843.
put("documents", "caesar_latin1.txt", bytes([doc_pick(0, 3, 0)]) + (GUTENBERG / "shakespeare-caesar.txt").read_bytes()[:4096])
put("documents", "readme.md", bytes([doc_pick(1, 4, 1)]) + head(ROOT / "README.md", 15))
xquad_en = json.loads((SHARED / "xquad/xquad.en.json").read_text())
paragraphs = [(a["title"], p["context"]) for a in xquad_en["data"][:3] for p in a["paragraphs"][:1]]
jsonl = "".join(json.dumps({"id": i, "title": t, "text": c[:300]}, ensure_ascii=False) + "\n"
                for i, (t, c) in enumerate(paragraphs))
put("documents", "paragraphs.jsonl", bytes([doc_pick(2, 8, 3)]) + jsonl.encode())
article = xquad_en["data"][0]
article["paragraphs"] = article["paragraphs"][:2]
for p in article["paragraphs"]:
    p["qas"] = p["qas"][:2]
put("documents", "xquad_en_cut.json", bytes([doc_pick(3, 7, 5)]) + json.dumps({"version": "1.1", "data": [article]}).encode())

# index_manifest: an index's manifest.json (GEN/index), the same of another layout version, and someone else's.
manifest = json.loads((GEN / "index/manifest.json").read_text())
put("index_manifest", "manifest.json", json.dumps(manifest, indent=2))
put("index_manifest", "version2.json", json.dumps(dict(manifest, version=2), indent=2))
put("index_manifest", "foreign.json", b'{"name": "demo", "version": "1.0.0", "files": ["index.js"]}')
