"""Golden fixtures for the retrieval metrics (`albert evaluate --task retrieval`): a qrels and a run made from a
seeded generator, the per-query values pytrec_eval (trec_eval 9) computes on them, and open-domain EM/F1 as the
official SQuAD v1.1 script defines them.

Run by hand (never by CI), from the repository root:

    ~/.venvs/ref/bin/python scripts/reference/make_retrieval_metric_fixtures.py

Writes tests/fixtures/metrics/retrieval/{qrels.txt, run.txt, expected.json, answers.json}.

- qrels.txt: TREC qrels lines `qid 0 docid relevance` (graded 0, 1, 2; some queries with no relevant document,
  some with more than 20).
- run.txt: TREC run lines `qid Q0 docid rank score tag`; scores are rounded to 2 decimals so that ties are frequent
  (trec_eval orders by score, then by docid in decreasing string order, whatever the rank column says). Two queries
  of the qrels have no line in the run (they score 0 when averaging over every query of the qrels, as
  `trec_eval -c` does), one query of the run is not in the qrels (ignored).
- expected.json `per_query`: pytrec_eval's `recall_1`, `recall_5`, `recall_20`, `ndcg_cut_10`, and `recip_rank`
  computed on the run cut to each query's first 10 documents in trec_eval's order (MRR@10; trec_eval has no
  cutoff for it); checked against ranx's `mrr@10` on the same cut run. `mean`: the mean of each over every query
  of the qrels (missing ones 0).
- answers.json: predictions (some empty: "the documents do not contain the answer") and lists of gold answers;
  `expected`: the official evaluate-v1.1.py EM and F1 (0-100, max over the gold answers, averaged).
"""
import collections
import importlib.metadata
import json
import os
import random
import re
import string

import numpy as np
import pytrec_eval
import ranx

OUT = os.path.join("tests", "fixtures", "metrics", "retrieval")
MEASURES = ["recall_1", "recall_5", "recall_20", "ndcg_cut_10", "mrr_10"]


def make_data(rng):
    qrels, run = {}, {}
    for q in range(40):
        qid = f"q{q}"
        docs = [f"d{rng.randrange(300)}" for _ in range(60)]
        docs = list(dict.fromkeys(docs))
        if q % 13 == 5:
            n_rel = 0  # judged, nothing relevant
        elif q % 11 == 7:
            n_rel = 24  # more than 20 relevant
        else:
            n_rel = rng.randrange(1, 5)
        judged = {}
        for d in rng.sample(docs, min(len(docs), n_rel + 3)):
            judged[d] = 0
        for d in list(judged)[:n_rel]:
            judged[d] = rng.choice([1, 1, 2])
        if n_rel and rng.random() < 0.3:
            # a relevant document that the run never retrieves
            judged[f"x{q}"] = 1
        qrels[qid] = judged
        if q in (3, 17):
            continue  # no run line at all
        length = rng.choice([5, 12, 25, 40])
        ranked = rng.sample(docs, min(len(docs), length))
        # Relevant documents drift towards the top so that the metrics spread out.
        ranked.sort(key=lambda d: -(judged.get(d, 0) * rng.random()))
        run[qid] = {d: round(1.0 - i / length + rng.choice([0.0, 0.0, 0.03]), 2) for i, d in enumerate(ranked)}
    run["q_unjudged"] = {"d1": 1.0, "d2": 0.5}
    return qrels, run


def trec_order(docs):
    """trec_eval's ranking: score descending, then docid descending."""
    return sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)


# evaluate-v1.1.py
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(re.compile(r'\b(a|an|the)\b', re.UNICODE), ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)
    return white_space_fix(remove_articles(remove_punc(s.lower())))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def answers(rng):
    golds = [
        ["Denver Broncos", "the Denver Broncos"], ["Santa Clara, California"], ["1,000"], ["São Paulo"],
        ["Carolina Panthers"], ["an apple a day", "apple"], ["Zoë Saldaña"], ["50"], ["the Eiffel Tower"],
        ["gold"], ["February 7, 2016", "Feb. 7"], ["Levi's Stadium", "Levi’s Stadium"],
    ]
    out = []
    for i, gold in enumerate(golds):
        g = rng.choice(gold)
        prediction = [g, g.upper() + ".", "The " + g, g.split()[0], "", "nothing at all", g + " in 2016"][i % 7]
        out.append({"prediction": prediction, "answers": gold})
    em = 100.0 * sum(max(exact_match_score(o["prediction"], g) for g in o["answers"]) for o in out) / len(out)
    f1 = 100.0 * sum(max(f1_score(o["prediction"], g) for g in o["answers"]) for o in out) / len(out)
    return {"cases": out, "expected": {"exact_match": em, "f1": f1}}


def main():
    rng = random.Random(2027)
    os.makedirs(OUT, exist_ok=True)
    qrels, run = make_data(rng)
    with open(os.path.join(OUT, "qrels.txt"), "w") as fh:
        for q, docs in qrels.items():
            for d, rel in docs.items():
                fh.write(f"{q} 0 {d} {rel}\n")
    with open(os.path.join(OUT, "run.txt"), "w") as fh:
        for q, docs in run.items():
            # The rank column is written in file order, not trec_eval's: trec_eval ignores it.
            for rank, (d, s) in enumerate(docs.items(), 1):
                fh.write(f"{q} Q0 {d} {rank} {s:.2f} fixture\n")

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recall.1,5,20", "ndcg_cut.10"})
    per_query = {q: {k: v for k, v in m.items()} for q, m in evaluator.evaluate(run).items()}
    cut = {q: dict(trec_order(docs)[:10]) for q, docs in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
    judged = {q: docs for q, docs in qrels.items() if any(r > 0 for r in docs.values())}
    # ranx's mrr@10 on the cut run, where a query has a relevant document (ranx refuses empty qrels).
    ranx_qrels = ranx.Qrels({q: {d: r for d, r in docs.items() if r > 0} for q, docs in judged.items()})
    ranx_run = ranx.Run({q: {d: float(s) for d, s in docs.items()} for q, docs in cut.items() if q in judged})
    ranx.evaluate(ranx_qrels, ranx_run, "mrr@10", make_comparable=True)
    for q, value in ranx_run.scores["mrr@10"].items():
        if q in rr:
            assert abs(value - rr[q]["recip_rank"]) < 1e-12, (q, value, rr[q]["recip_rank"])
    for q in per_query:
        per_query[q]["mrr_10"] = rr[q]["recip_rank"]
    mean = {m: float(np.mean([per_query.get(q, {}).get(m, 0.0) for q in qrels])) for m in MEASURES}
    expected = {
        "versions": {p: importlib.metadata.version(p) for p in ["pytrec_eval-terrier", "ranx"]},
        "queries": len(qrels),
        "per_query": per_query,
        "mean": mean,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")
    with open(os.path.join(OUT, "answers.json"), "w") as fh:
        json.dump(answers(rng), fh, indent=1, ensure_ascii=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
