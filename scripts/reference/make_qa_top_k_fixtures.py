"""Golden fixture for `albert qa` / `POST /qa` with `top_k` and `handle_impossible_answer`: what transformers'
question-answering pipeline answered, on the QA fixture model of tests/fixtures/pipelines/qa.

Run by hand (never by CI), from the repository root, after make_pipeline_fixtures.py:

    ~/.venvs/ref/bin/python scripts/reference/make_qa_top_k_fixtures.py

transformers 5 no longer ships the question-answering pipeline. Its last version (transformers v4.57.1,
`pipelines/question_answering.py`, Apache-2.0) is reproduced here from that file: `decode_spans` and
`select_starts_ends` as written there, and `postprocess` with `align_to_words=False` (answers are the tokens' own
spans, as in make_pipeline_fixtures.py): every window gives its `top_k` best spans by `p_start * p_end` (per-window
softmax over [CLS] and the context tokens), an answer whose text (lowercased) was already given by an earlier window
adds its score to that answer, the null answer (score: the lowest `p_start[CLS] * p_end[CLS]` over the windows) is
appended when `handle_impossible_answer`, and the `top_k` best are kept (a stable sort). The windows are the
tokenizer's (`truncation="only_second"`, `max_length`, `stride`), as the pipeline made them.

Writes tests/fixtures/pipelines/qa_top_k.json.
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AlbertForQuestionAnswering, AutoTokenizer

sys.path.insert(0, os.path.dirname(__file__))
from make_pipeline_fixtures import QA_LONG, QA_SHORT  # noqa: E402

DIR = os.path.join("tests", "fixtures", "pipelines", "qa")
# A context of two words: few spans, so the null answer ([CLS]) ranks among them.
QA_TINY = ("Who?", "Anna Schmidt.")
OUT = os.path.join("tests", "fixtures", "pipelines", "qa_top_k.json")
MAX_ANSWER_LEN = 15


# --- transformers v4.57.1, pipelines/question_answering.py ---
def decode_spans(start, end, topk, max_answer_len, undesired_tokens):
    if start.ndim == 1:
        start = start[None]
    if end.ndim == 1:
        end = end[None]
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if topk == 1:
        idx_sort = [np.argmax(scores_flat)]
    elif len(scores_flat) < topk:
        idx_sort = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, topk)[0:topk]
        idx_sort = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    desired_spans = np.isin(starts, undesired_tokens.nonzero()) & np.isin(ends, undesired_tokens.nonzero())
    starts = starts[desired_spans]
    ends = ends[desired_spans]
    scores = candidates[0, starts, ends]
    return starts, ends, scores


def select_starts_ends(start, end, p_mask, attention_mask, min_null_score=1000000, top_k=1,
                       handle_impossible_answer=False, max_answer_len=15):
    undesired_tokens = np.abs(np.array(p_mask) - 1)
    if attention_mask is not None:
        undesired_tokens = undesired_tokens & attention_mask
    undesired_tokens_mask = undesired_tokens == 0.0
    start = np.where(undesired_tokens_mask, -10000.0, start)
    end = np.where(undesired_tokens_mask, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, undesired_tokens)
    return starts, ends, scores, min_null_score
# --- end of transformers' code ---


def pipeline_answers(model, tok, question, context, max_length, stride, top_k, handle_impossible_answer):
    """QuestionAnsweringPipeline.postprocess (v4.57.1) with align_to_words=False, over the tokenizer's windows."""
    enc = tok(question, context, truncation="only_second", max_length=max_length, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True, return_token_type_ids=True)
    min_null_score = 1000000
    answers = []
    for w in range(len(enc["input_ids"])):
        with torch.no_grad():
            o = model(input_ids=torch.tensor([enc["input_ids"][w]]),
                      token_type_ids=torch.tensor([enc["token_type_ids"][w]]))
        p_mask = np.array([[s != 1 for s in enc.sequence_ids(w)]])
        p_mask[0, 0] = False  # the pipeline keeps [CLS] unmasked
        attention_mask = np.ones_like(p_mask, dtype=int)
        starts, ends, scores, min_null_score = select_starts_ends(
            o.start_logits.numpy(), o.end_logits.numpy(), p_mask, attention_mask, min_null_score, top_k,
            handle_impossible_answer, MAX_ANSWER_LEN)
        offsets = enc["offset_mapping"][w]
        for s, e, score in zip(starts, ends, scores):
            start_index, end_index = offsets[s][0], offsets[e][1]
            target = context[start_index:end_index]
            same = next((a for a in answers if a["answer"].lower() == target.lower()), None)
            if same:
                same["score"] += score.item()
                same["merged"] = same.get("merged", 1) + 1
            else:
                answers.append({"score": score.item(), "start": start_index, "end": end_index, "answer": target})
    if handle_impossible_answer:
        answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
    answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
    return answers, len(enc["input_ids"])


def main():
    tok = AutoTokenizer.from_pretrained(DIR)
    model = AlbertForQuestionAnswering.from_pretrained(DIR, dtype=torch.float32).eval()
    cases = []
    settings = [(QA_SHORT, 384, 128, [1, 3]), (QA_TINY, 384, 128, [1, 3]), (QA_LONG, 384, 128, [1, 3, 10]),
                (QA_LONG, 64, 16, [1, 3, 10])]
    for (question, context), max_length, stride, top_ks in settings:
        for top_k in top_ks:
            for impossible in [False, True]:
                if True:
                    answers, windows = pipeline_answers(model, tok, question, context, max_length, stride, top_k,
                                                        impossible)
                    cases.append({"question": question, "context": context, "max_length": max_length,
                                  "stride": stride, "top_k": top_k, "handle_impossible_answer": impossible,
                                  "windows": windows, "answers": answers})
                    print(windows, top_k, impossible,
                          [(a["answer"][:20], a.get("merged", 1), round(a["score"], 5)) for a in answers])
    out = {"cases": cases, "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                                        "python": sys.version.split()[0]}}
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
