"""What transformers' token-classification pipeline answers with word-level aggregation ("first", "average",
"max") on the NER fixture of make_pipeline_fixtures.py: the reference of `albert ner --aggregation`.

Run by hand (never by CI), from the repository root, after make_pipeline_fixtures.py:

    ~/.venvs/ref/bin/python scripts/reference/ner_aggregation_reference.py

Writes tests/fixtures/pipelines/ner_aggregation.json. ALBERT's tokenizer has no subword prefix, so transformers
finds words by its fallback: a token continues a word unless it starts the text or touches a space. The texts add
CoNLL-style sentences whose rare names split into several pieces.
"""
import json
import os
import sys
import warnings

import torch
import transformers
from transformers import AlbertForTokenClassification, AlbertTokenizer, pipeline

sys.path.insert(0, os.path.dirname(__file__))
from make_pipeline_fixtures import NER, OUT, ner  # noqa: E402

TEXTS = NER + [
    "China saw chances missed until Uzbek striker Igor Shkvyrin lobbed the ball over the Chinese keeper .",
    "Grzegorz Brzęczyszczykiewicz (Chrząszczyżewoszyce) scored twice.",
]


def main():
    d = os.path.join(OUT, "ner")
    model = AlbertForTokenClassification.from_pretrained(d, dtype=torch.float32).eval()
    pipe = pipeline("token-classification", model=model, tokenizer=AlbertTokenizer.from_pretrained(d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Tokenizer does not support real words, using fallback heuristic"
        ref = {s: ner(pipe, TEXTS, s) for s in ["first", "average", "max"]}
    ref["versions"] = {"transformers": transformers.__version__, "torch": torch.__version__,
                       "python": sys.version.split()[0]}
    with open(os.path.join(OUT, "ner_aggregation.json"), "w") as fh:
        json.dump(ref, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(json.dumps(ref["first"], ensure_ascii=False)[:800])


if __name__ == "__main__":
    main()
