"""QA training features as transformers' examples/pytorch/question-answering/run_qa.py builds them.

For 24 XQuAD questions (English and German: the six longest contexts with their latest-answered question, so that several windows
occur and answers fall in later ones, and the six shortest), writes per question
the windows' input_ids and the start/end token labels that run_qa.py's `prepare_train_features` assigns
(max_seq_length 384, doc_stride 128, truncation only_second, the first answer; [CLS] = 0 where the answer is not in
the window). The tokenizer is transformers' AlbertTokenizer loaded from ../shared/data/spm/spiece.model.

Run by hand:  ~/.venvs/ref/bin/python scripts/reference/make_qa_features.py
Writes crates/albert-train/tests/fixtures/qa_features.json.
"""
import json
import os

import shutil
import tempfile

import transformers
from transformers import AlbertTokenizer

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DATA = os.path.join(ROOT, "..", "shared", "data")
# transformers 5's AlbertTokenizer (tokenizers-backed) loaded from a directory holding spiece.model, as
# scripts/reference/tokenizer_parity.py does (constructing it from vocab_file= maps most words to <unk> in 5.24).
_tmp = tempfile.mkdtemp()
shutil.copy(os.path.join(DATA, "spm", "spiece.model"), os.path.join(_tmp, "spiece.model"))
tok = AlbertTokenizer.from_pretrained(_tmp)
MAX_LEN, STRIDE = 384, 128


def prepare_train_features(question, context, answer):
    # run_qa.py, prepare_train_features, for one example (pad_on_right = True).
    enc = tok(question.lstrip(), context, truncation="only_second", max_length=MAX_LEN, stride=STRIDE,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length",
              return_token_type_ids=True)
    windows = []
    for i, offsets in enumerate(enc["offset_mapping"]):
        input_ids = enc["input_ids"][i]
        cls_index = input_ids.index(tok.cls_token_id)
        sequence_ids = enc.sequence_ids(i)
        start_char = answer["answer_start"]
        end_char = start_char + len(answer["text"])
        token_start_index = 0
        while sequence_ids[token_start_index] != 1:
            token_start_index += 1
        token_end_index = len(input_ids) - 1
        while sequence_ids[token_end_index] != 1:
            token_end_index -= 1
        if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
            start, end = cls_index, cls_index
        else:
            while token_start_index < len(offsets) and offsets[token_start_index][0] <= start_char:
                token_start_index += 1
            start = token_start_index - 1
            while offsets[token_end_index][1] >= end_char:
                token_end_index -= 1
            end = token_end_index + 1
        n = sum(enc["attention_mask"][i])
        windows.append({"input_ids": input_ids[:n], "token_type_ids": enc["token_type_ids"][i][:n],
                        "start_position": start, "end_position": end})
    return windows


out = {"transformers": transformers.__version__, "max_seq_length": MAX_LEN, "doc_stride": STRIDE, "questions": []}
for lang in ["en", "de"]:
    data = json.load(open(os.path.join(DATA, "xquad", f"xquad.{lang}.json")))
    paragraphs = [p for a in data["data"] for p in a["paragraphs"]]
    paragraphs.sort(key=lambda p: -len(p["context"]))
    for k, p in enumerate(paragraphs[:6] + paragraphs[-6:]):
        # Long contexts: the question answered latest, so that answers fall in later windows too.
        q = max(p["qas"], key=lambda q: q["answers"][0]["answer_start"]) if k < 6 else p["qas"][0]
        out["questions"].append({"file": f"xquad/xquad.{lang}.json", "id": q["id"],
                                 "windows": prepare_train_features(q["question"], p["context"], q["answers"][0])})
path = os.path.join(ROOT, "crates", "albert-train", "tests", "fixtures", "qa_features.json")
json.dump(out, open(path, "w"))
print(path, sum(len(q["windows"]) for q in out["questions"]), "windows")
