"""Golden fixtures for the task pipelines (`albert classify`, `fill-mask`, `embed`, `similarity`, `qa`, `ner`):
tiny random ALBERT checkpoints with the ALBERT test vocabulary, and what transformers' own pipelines answer on them.

Run by hand (never by CI), from the repository root:

    ~/.venvs/ref/bin/python scripts/reference/make_pipeline_fixtures.py

Writes tests/fixtures/pipelines/<name>/ (save_pretrained of the model in f16 and of the tokenizer, i.e.
config.json, model.safetensors, tokenizer.json, tokenizer_config.json) and tests/fixtures/pipelines/expected.json.

The tokenizer is transformers' AlbertTokenizer built from ../shared/data/spm/spiece.model (30,000 pieces). Every
weight is rounded to f16 first and the f32 model that holds those values is the one the pipelines run, so the f16
files hold exactly the weights of the reference. The references, by task:
  fill-mask       pipeline("fill-mask", top_k=5) on AlbertForMaskedLM loaded from an AlbertForPreTraining checkpoint
  classify        pipeline("text-classification", top_k=None): softmax / sigmoid (multi-label) / none (regression)
  ner             pipeline("token-classification", aggregation_strategy="simple")
  embed           pipeline("feature-extraction") on AlbertModel, mean over all tokens; the pooler from AlbertModel
  similarity      torch cosine_similarity of those mean-pooled vectors
  qa              transformers 5 has no question-answering pipeline any more: the tokenizer's windows
                  (only_second, max_length, stride, offsets), the model, and transformers' own select_starts_ends
                  (the scoring the old QA pipeline used: per-window softmax, start * end probability,
                  max_answer_len 15), best span over the windows, answer = context[start:end] (no align_to_words).
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import (
    AlbertConfig,
    AlbertForMaskedLM,
    AlbertForPreTraining,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertModel,
    AlbertTokenizer,
    pipeline,
)
from transformers.pipelines.document_question_answering import select_starts_ends

OUT = os.path.join("tests", "fixtures", "pipelines")
SPM = os.path.join("..", "shared", "data", "spm", "spiece.model")

BASE = dict(
    vocab_size=30000,
    embedding_size=8,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=512,
    hidden_act="gelu_new",
)
CONLL = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def labels(names):
    return dict(id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})


FIXTURES = [
    ("pretraining", AlbertForPreTraining, {}),
    ("sentiment", AlbertForSequenceClassification, labels(["negative", "neutral", "positive"])),
    ("multilabel", AlbertForSequenceClassification,
     dict(problem_type="multi_label_classification", **labels(["sports", "politics", "tech", "arts"]))),
    ("regression", AlbertForSequenceClassification, dict(num_labels=1, problem_type="regression")),
    ("ner", AlbertForTokenClassification, labels(CONLL)),
    ("qa", AlbertForQuestionAnswering, {}),
]

FILL_MASK = [
    "The [MASK] was great.",
    "Paris is the [MASK] of France.",
    "I [MASK] this movie, it was [MASK]!",
    "Naïve café [MASK] au lait.",
]
CLASSIFY = [
    "I loved this movie.",
    "The plot was dull and far too long, but the actors were good.",
    "Crème brûlée à Paris!",
]
LONG = "This sentence is long enough to be cut by a small maximum length, " * 3
NER = [
    "John Smith works for Google in New York.",
    "Angela Merkel met Emmanuel Macron in Berlin on Tuesday.",
    "Zoë Saldaña visited São Paulo and the Musée d'Orsay.",
    "Yuki Tanaka moved to 東京 from Ōsaka in 2019 ☃ with Sony.",  # pieces outside the vocabulary: <unk>
]
EMBED = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome, naïve and fun!"]
SIMILARITY = [(EMBED[0], EMBED[1]), (EMBED[0], EMBED[2])]
QA_SHORT = ("Where does Zoë live?", "Zoë lives in São Paulo, the largest city of Brazil, since 2015.")
QA_LONG_CONTEXT = " ".join(
    f"In {1900 + i}, the museum number {i} opened in the city of Lyon with {i * 3} rooms." for i in range(60)
) + " The café in Lyon serves crème brûlée."
QA_LONG = ("What does the café serve?", QA_LONG_CONTEXT)


def perturb_and_round(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif "classifier" in name or "qa_outputs" in name:
                # Heads with a wide spread, so that labels and spans differ from token to token.
                p.copy_(0.6 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))
            p.copy_(p.half().float())


def f(x):
    return float(x)


def fill_mask(pipe):
    out = []
    for text in FILL_MASK:
        res = pipe(text, top_k=5)
        if isinstance(res[0], dict):
            res = [res]
        out.append({"text": text, "masks": [
            [{"score": f(c["score"]), "token": int(c["token"]), "token_str": c["token_str"], "sequence": c["sequence"]}
             for c in row] for row in res]})
    return out


def classify(pipe, texts, **kw):
    return [{"text": t, **({"max_length": kw["max_length"]} if kw else {}),
             "labels": [{"label": r["label"], "score": f(r["score"])} for r in pipe(t, top_k=None, **kw)]}
            for t in texts]


def ner(pipe, texts=NER, strategy="simple"):
    return [{"text": t, "entities": [
        {"entity_group": e["entity_group"], "score": f(e["score"]), "word": e["word"], "start": int(e["start"]),
         "end": int(e["end"])} for e in pipe(t, aggregation_strategy=strategy)]} for t in texts]


def mean_pooled(pipe, text):
    # feature-extraction returns [1][seq][hidden]; one text has no padding, so every token is real.
    return torch.tensor(pipe(text)[0]).mean(0)


def qa(model, tok, question, context, max_length, stride):
    enc = tok(question, context, truncation="only_second", max_length=max_length, stride=stride,
              return_overflowing_tokens=True, return_offsets_mapping=True, return_token_type_ids=True)
    best = None
    for w in range(len(enc["input_ids"])):
        ids = torch.tensor([enc["input_ids"][w]])
        with torch.no_grad():
            o = model(input_ids=ids, token_type_ids=torch.tensor([enc["token_type_ids"][w]]))
        seq_ids = enc.sequence_ids(w)
        p_mask = np.array([[s != 1 for s in seq_ids]])
        p_mask[0, 0] = False  # [CLS] stays in the softmax, as the pipeline kept it
        starts, ends, scores, _ = select_starts_ends(
            o.start_logits.numpy(), o.end_logits.numpy(), p_mask, np.ones_like(p_mask, dtype=int), top_k=1,
            max_answer_len=15)
        for s, e, score in zip(starts, ends, scores):
            if best is None or score > best["score"]:
                offs = enc["offset_mapping"][w]
                best = {"score": f(score), "start": offs[s][0], "end": offs[e][1], "window": w}
    best["answer"] = context[best["start"]:best["end"]]
    best["windows"] = len(enc["input_ids"])
    return {"question": question, "context": context, "max_length": max_length, "stride": stride, **best}


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2026)
    os.makedirs(OUT, exist_ok=True)
    for name, _, _ in FIXTURES:  # README.md stays
        shutil.rmtree(os.path.join(OUT, name), ignore_errors=True)
    tmp = tempfile.mkdtemp()
    shutil.copy(SPM, os.path.join(tmp, "spiece.model"))
    tok = AlbertTokenizer.from_pretrained(tmp)
    models = {}
    for name, cls, overrides in FIXTURES:
        cfg = AlbertConfig(**{**BASE, **overrides})
        model = cls(cfg)
        perturb_and_round(model, gen)
        model.eval()
        d = os.path.join(OUT, name)
        model.to(torch.float16).save_pretrained(d)
        model.to(torch.float32)
        tok.save_pretrained(d)
        models[name] = model
    expected = {}
    pre = os.path.join(OUT, "pretraining")
    mlm = AlbertForMaskedLM.from_pretrained(pre, dtype=torch.float32).eval()
    expected["fill_mask"] = fill_mask(pipeline("fill-mask", model=mlm, tokenizer=tok))
    expected["classify"] = {
        name: classify(pipeline("text-classification", model=models[name], tokenizer=tok), CLASSIFY)
        for name in ["sentiment", "multilabel", "regression"]
    }
    expected["classify_truncated"] = classify(
        pipeline("text-classification", model=models["sentiment"], tokenizer=tok), [LONG], truncation=True,
        max_length=16)
    expected["ner"] = ner(pipeline("token-classification", model=models["ner"], tokenizer=tok))
    base = AlbertModel.from_pretrained(pre, dtype=torch.float32).eval()
    fe = pipeline("feature-extraction", model=base, tokenizer=tok)
    expected["embed"] = []
    for t in EMBED:
        with torch.no_grad():
            pooler = base(**tok(t, return_tensors="pt")).pooler_output[0]
        expected["embed"].append({"text": t, "mean": mean_pooled(fe, t).tolist(), "pooler": pooler.tolist()})
    expected["similarity"] = [
        {"a": a, "b": b, "cosine": f(F.cosine_similarity(mean_pooled(fe, a), mean_pooled(fe, b), dim=0))}
        for a, b in SIMILARITY
    ]
    expected["qa"] = [
        qa(models["qa"], tok, *QA_SHORT, 384, 128),
        qa(models["qa"], tok, *QA_LONG, 384, 128),
        qa(models["qa"], tok, *QA_LONG, 64, 16),
    ]
    expected["versions"] = {"transformers": transformers.__version__, "torch": torch.__version__,
                            "python": sys.version.split()[0]}
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    for q in expected["qa"]:
        print("qa", q["windows"], "windows:", repr(q["answer"]), q["score"])
    print(json.dumps(expected["ner"], ensure_ascii=False)[:600])


if __name__ == "__main__":
    main()
