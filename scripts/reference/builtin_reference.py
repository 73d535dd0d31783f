"""What transformers answers on the built-in models (models/) for the inputs of `albert demo`
(crates/albert-cli/demo.json): the reference the demo test compares against.

Run by hand (never by CI), from the repository root, after scripts/builtin_models.sh:

    ~/.venvs/ref/bin/python scripts/reference/builtin_reference.py

Writes tests/fixtures/builtin/demo_reference.json. Each model is loaded from its f16 files by from_pretrained
(upcast to f32) with the tokenizer saved beside it; the references are those of make_pipeline_fixtures.py:
  classify   pipeline("text-classification", top_k=None) on AlbertForSequenceClassification
  fill-mask  pipeline("fill-mask", top_k=5) on AlbertForMaskedLM loaded from the AlbertForPreTraining checkpoint
  qa         the tokenizer's windows (384, stride 128), the model, transformers' select_starts_ends
  ner        pipeline("token-classification", aggregation_strategy="first"), as `albert demo` runs it
"""
import json
import os
import sys

import torch
import transformers
from transformers import (
    AlbertForMaskedLM,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertTokenizer,
    pipeline,
)

sys.path.insert(0, os.path.dirname(__file__))
from make_pipeline_fixtures import f, ner, qa  # noqa: E402

MODELS = "models"
OUT = os.path.join("tests", "fixtures", "builtin")


def load(cls, name):
    d = os.path.join(MODELS, name)
    return cls.from_pretrained(d, dtype=torch.float32).eval(), AlbertTokenizer.from_pretrained(d)


def main():
    with open(os.path.join("crates", "albert-cli", "demo.json")) as fh:
        inputs = json.load(fh)
    ref = {}
    model, tok = load(AlbertForSequenceClassification, "albert-small-sst2")
    pipe = pipeline("text-classification", model=model, tokenizer=tok)
    ref["classify"] = [{"text": t, "labels": [{"label": r["label"], "score": f(r["score"])} for r in pipe(t, top_k=None)]}
                       for t in inputs["classify"]["texts"]]
    model, tok = load(AlbertForMaskedLM, "albert-small")
    text = inputs["fill_mask"]["text"]
    ref["fill_mask"] = {"text": text, "candidates": [
        {"score": f(c["score"]), "token": int(c["token"]), "token_str": c["token_str"], "sequence": c["sequence"]}
        for c in pipeline("fill-mask", model=model, tokenizer=tok)(text, top_k=5)]}
    model, tok = load(AlbertForQuestionAnswering, "albert-small-xquad")
    ref["qa"] = [qa(model, tok, q["question"], inputs["qa"]["context"], 384, 128) for q in inputs["qa"]["questions"]]
    model, tok = load(AlbertForTokenClassification, "albert-small-conll03")
    pipe = pipeline("token-classification", model=model, tokenizer=tok)
    ref["ner"] = ner(pipe, [t["text"] for t in inputs["ner"]["texts"]], "first")
    ref["versions"] = {"transformers": transformers.__version__, "torch": torch.__version__,
                       "python": sys.version.split()[0]}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "demo_reference.json"), "w") as fh:
        json.dump(ref, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(json.dumps({k: v for k, v in ref.items() if k != "versions"}, ensure_ascii=False)[:1500])


if __name__ == "__main__":
    main()
