#!/usr/bin/env python3
"""Golden fixtures for albert-train's metrics (tests/fixtures/metrics/).

Run by hand in the reference venv (~/.venvs/ref: scikit-learn, scipy, seqeval):

    python scripts/reference/make_metric_fixtures.py [--data /work/shared/data] [--conlleval PATH]

Predictions are random or perturbed gold answers drawn from seeded generators, so reruns
reproduce the committed files byte for byte. Expected values come from:
  * classification: sklearn.metrics accuracy_score, f1_score, matthews_corrcoef;
  * correlation: scipy.stats pearsonr, spearmanr (average ranks for ties);
  * SQuAD: the official evaluate-v1.1.py / evaluate-v2.0.py logic, reimplemented verbatim below
    (transformers 5.x no longer ships squad_metrics.py);
  * NER: seqeval (default mode, which follows conlleval) for chunk counts and scores, and, when
    --conlleval points to a copy of conlleval.pl, the official script itself, whose counts must
    agree (the script is not committed: third-party code).
"""
import argparse
import collections
import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile

import numpy as np
from scipy.stats import pearsonr, spearmanr
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "metrics")


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


# ---------------------------------------------------------------- classification & correlation
def classification_vectors(rng):
    cases = []
    for n, k in [(5, 2), (17, 2), (100, 2), (250, 2), (60, 3), (301, 3), (40, 5)]:
        refs = [rng.randrange(k) for _ in range(n)]
        preds = [r if rng.random() < 0.7 else rng.randrange(k) for r in refs]
        cases.append((refs, preds, k))
    # Degenerate cases: constant predictions, no positive class anywhere, perfect.
    cases.append(([0, 1, 1, 0, 1], [1, 1, 1, 1, 1], 2))
    cases.append(([0, 0, 0, 0], [0, 0, 0, 0], 2))
    cases.append(([2, 0, 1, 2, 1], [2, 0, 1, 2, 1], 3))
    out = []
    for refs, preds, k in cases:
        case = {"num_classes": k, "references": refs, "predictions": preds,
                "accuracy": accuracy_score(refs, preds),
                "mcc": float(matthews_corrcoef(refs, preds))}
        if k == 2:
            case["f1"] = float(f1_score(refs, preds, pos_label=1, zero_division=0.0))
        out.append(case)
    return out


def correlation_vectors(rng):
    cases = []
    for n in [3, 10, 57, 200]:
        x = [rng.gauss(0, 1) for _ in range(n)]
        y = [a + rng.gauss(0, 1) for a in x]
        cases.append((x, y))
    for n, levels in [(30, 4), (120, 6), (500, 11)]:  # heavy ties on both sides
        x = [float(rng.randrange(levels)) for _ in range(n)]
        y = [round(a / 2 + rng.random() * 2, 1) for a in x]
        cases.append((x, y))
    cases.append(([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]))
    out = []
    for x, y in cases:
        out.append({"predictions": x, "references": y,
                    "pearson": float(pearsonr(x, y).statistic),
                    "spearman": float(spearmanr(x, y).statistic)})
    return out


# ------------------------------------------------------------------------------------- GLUE
# (directory, text columns irrelevant here, label column, header?) as the GLUE files lay them out.
GLUE = {
    "cola": ("CoLA", 1, False, ["0", "1"]),
    "sst2": ("SST-2", -1, True, ["0", "1"]),
    "mrpc": ("MRPC", 0, True, ["0", "1"]),
    "stsb": ("STS-B", -1, True, None),
    "qnli": ("QNLI", -1, True, ["entailment", "not_entailment"]),
    "rte": ("RTE", -1, True, ["entailment", "not_entailment"]),
    "wnli": ("WNLI", -1, True, ["0", "1"]),
}
# How each predictions file writes its labels: GLUE's own label strings, or readable names.
READABLE = {"sst2": ["negative", "positive"]}


def glue_gold(data, task):
    folder, col, header, _ = GLUE[task]
    with open(os.path.join(data, "glue", folder, "dev.tsv"), encoding="utf-8-sig") as f:
        rows = [line.rstrip("\n").rstrip("\r").split("\t") for line in f if line.strip("\r\n")]
    if header:
        rows = rows[1:]
    return [r[col] for r in rows]


def glue_fixtures(data, rng):
    expected = {}
    for task, (_, _, _, labels) in GLUE.items():
        gold = glue_gold(data, task)
        lines = ["index\tprediction"]
        if labels is None:
            refs = [float(g) for g in gold]
            preds = [round(min(5.0, max(0.0, r + rng.gauss(0, 0.9))), 1) for r in refs]
            lines += [f"{i}\t{p:.1f}" for i, p in enumerate(preds)]
            p, s = pearsonr(preds, refs).statistic, spearmanr(preds, refs).statistic
            expected[task] = {"pearson": float(p), "spearmanr": float(s), "corr": float((p + s) / 2)}
        else:
            refs = [labels.index(g) for g in gold]
            preds = [r if rng.random() < 0.8 else rng.randrange(len(labels)) for r in refs]
            names = READABLE.get(task, labels)
            lines += [f"{i}\t{names[p]}" for i, p in enumerate(preds)]
            acc = accuracy_score(refs, preds)
            if task == "cola":
                expected[task] = {"mcc": float(matthews_corrcoef(refs, preds))}
            elif task == "mrpc":
                f1 = float(f1_score(refs, preds))
                expected[task] = {"acc": acc, "f1": f1, "acc_and_f1": (acc + f1) / 2}
            else:
                expected[task] = {"acc": acc}
        with open(os.path.join(OUT, "glue", f"{task}.tsv"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return expected


# ------------------------------------------------------------------- SQuAD (official logic)
def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):
        regex = re.compile(r'\b(a|an|the)\b', re.UNICODE)
        return re.sub(regex, ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()
    return white_space_fix(remove_articles(remove_punc(lower(s))))


# evaluate-v1.1.py
def f1_score_v1(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def exact_match_score_v1(prediction, ground_truth):
    return (normalize_answer(prediction) == normalize_answer(ground_truth))


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def evaluate_v1(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article['paragraphs']:
            for qa in paragraph['qas']:
                total += 1
                if qa['id'] not in predictions:
                    continue
                ground_truths = list(map(lambda x: x['text'], qa['answers']))
                prediction = predictions[qa['id']]
                exact_match += metric_max_over_ground_truths(
                    exact_match_score_v1, prediction, ground_truths)
                f1 += metric_max_over_ground_truths(
                    f1_score_v1, prediction, ground_truths)
    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total
    return {'exact_match': exact_match, 'f1': f1}


# evaluate-v2.0.py
def make_qid_to_has_ans(dataset):
    qid_to_has_ans = {}
    for article in dataset:
        for p in article['paragraphs']:
            for qa in p['qas']:
                qid_to_has_ans[qa['id']] = bool(qa['answers'])
    return qid_to_has_ans


def get_tokens(s):
    if not s:
        return []
    return normalize_answer(s).split()


def compute_exact(a_gold, a_pred):
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold, a_pred):
    gold_toks = get_tokens(a_gold)
    pred_toks = get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        # If either is no-answer, then F1 is 1 if they agree, 0 otherwise
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def get_raw_scores(dataset, preds):
    exact_scores = {}
    f1_scores = {}
    for article in dataset:
        for p in article['paragraphs']:
            for qa in p['qas']:
                qid = qa['id']
                gold_answers = [a['text'] for a in qa['answers'] if normalize_answer(a['text'])]
                if not gold_answers:
                    # For unanswerable questions, only correct answer is empty string
                    gold_answers = ['']
                if qid not in preds:
                    print('Missing prediction for %s' % qid)
                    continue
                a_pred = preds[qid]
                # Take max over all gold answers
                exact_scores[qid] = max(compute_exact(a, a_pred) for a in gold_answers)
                f1_scores[qid] = max(compute_f1(a, a_pred) for a in gold_answers)
    return exact_scores, f1_scores


def apply_no_ans_threshold(scores, na_probs, qid_to_has_ans, na_prob_thresh):
    new_scores = {}
    for qid, s in scores.items():
        pred_na = na_probs[qid] > na_prob_thresh
        if pred_na:
            new_scores[qid] = float(not qid_to_has_ans[qid])
        else:
            new_scores[qid] = s
    return new_scores


def make_eval_dict(exact_scores, f1_scores, qid_list=None):
    if not qid_list:
        total = len(exact_scores)
        return collections.OrderedDict([
            ('exact', 100.0 * sum(exact_scores.values()) / total),
            ('f1', 100.0 * sum(f1_scores.values()) / total),
            ('total', total),
        ])
    else:
        total = len(qid_list)
        return collections.OrderedDict([
            ('exact', 100.0 * sum(exact_scores[k] for k in qid_list) / total),
            ('f1', 100.0 * sum(f1_scores[k] for k in qid_list) / total),
            ('total', total),
        ])


def merge_eval(main_eval, new_eval, prefix):
    for k in new_eval:
        main_eval['%s_%s' % (prefix, k)] = new_eval[k]


def find_best_thresh(preds, scores, na_probs, qid_to_has_ans):
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for i, qid in enumerate(qid_list):
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            if preds[qid]:
                diff = -1
            else:
                diff = 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def find_all_best_thresh(main_eval, preds, exact_raw, f1_raw, na_probs, qid_to_has_ans):
    best_exact, exact_thresh = find_best_thresh(preds, exact_raw, na_probs, qid_to_has_ans)
    best_f1, f1_thresh = find_best_thresh(preds, f1_raw, na_probs, qid_to_has_ans)
    main_eval['best_exact'] = best_exact
    main_eval['best_exact_thresh'] = exact_thresh
    main_eval['best_f1'] = best_f1
    main_eval['best_f1_thresh'] = f1_thresh


def evaluate_v2(dataset, preds, na_probs, na_prob_thresh):
    """main() of evaluate-v2.0.py without file handling and plots."""
    has_na_file = na_probs is not None
    if not has_na_file:
        na_probs = {k: 0.0 for k in preds}
    qid_to_has_ans = make_qid_to_has_ans(dataset)  # maps qid to True/False
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    exact_raw, f1_raw = get_raw_scores(dataset, preds)
    exact_thresh = apply_no_ans_threshold(exact_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    f1_thresh = apply_no_ans_threshold(f1_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    out_eval = make_eval_dict(exact_thresh, f1_thresh)
    if has_ans_qids:
        has_ans_eval = make_eval_dict(exact_thresh, f1_thresh, qid_list=has_ans_qids)
        merge_eval(out_eval, has_ans_eval, 'HasAns')
    if no_ans_qids:
        no_ans_eval = make_eval_dict(exact_thresh, f1_thresh, qid_list=no_ans_qids)
        merge_eval(out_eval, no_ans_eval, 'NoAns')
    if has_na_file:
        find_all_best_thresh(out_eval, preds, exact_raw, f1_raw, na_probs, qid_to_has_ans)
    return dict(out_eval)


# ------------------------------------------------------------------- SQuAD predictions
NOISE = ["the", "a", "An", "of", "in", "The", ",", ".", "!", "«", "»", "—", "(", ")", "’s"]


def perturb_answer(rng, gold, context, start):
    """A plausible system answer derived from a gold answer (or not)."""
    r = rng.random()
    if r < 0.30:
        return gold
    if r < 0.40:  # case, articles and punctuation the normalization must absorb (or not)
        return rng.choice(["The ", "a ", "", "(", "«"]) + gold.upper() + rng.choice([".", "!", ")", "»", " "])
    if r < 0.55:  # boundary errors: widen or shrink the span in the context
        a = max(0, start - rng.randrange(0, 15))
        b = min(len(context), start + len(gold) + rng.randrange(-len(gold) // 2, 15))
        return context[a:b] if b > a else gold
    if r < 0.70:  # a random span of context
        a = rng.randrange(len(context))
        return context[a:a + rng.randrange(1, 40)]
    if r < 0.78:  # whitespace of many kinds
        words = gold.split(" ")
        seps = [" ", "\u00a0", "\t", "\u3000", "  ", "\u2009", "\u001f", "\u200b"]
        return "".join(w + rng.choice(seps) for w in words)
    if r < 0.88:  # token insertions and deletions
        words = gold.split()
        if len(words) > 1 and rng.random() < 0.5:
            del words[rng.randrange(len(words))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(NOISE))
        return " ".join(words)
    if r < 0.94:
        return ""
    return rng.choice(NOISE) + " " + rng.choice(NOISE)


def squad_v1_fixtures(data, rng):
    expected = {}
    for lang in ["en", "el", "ru", "zh", "hi", "th"]:
        with open(os.path.join(data, "xquad", f"xquad.{lang}.json"), encoding="utf-8") as f:
            dataset = json.load(f)["data"]
        preds = {}
        for article in dataset:
            for p in article["paragraphs"]:
                for qa in p["qas"]:
                    if rng.random() < 0.03:
                        continue  # unanswered: scores 0 in v1.1
                    ans = rng.choice(qa["answers"])
                    preds[qa["id"]] = perturb_answer(rng, ans["text"], p["context"], ans["answer_start"])
        write_json(os.path.join(OUT, "squad_v1", f"xquad.{lang}.predictions.json"), preds)
        expected[lang] = evaluate_v1(dataset, preds)
    return expected


WORDS = ("Denver Broncos Carolina Panthers Super Bowl the a an of in The Levi's Stadium "
         "Santa Clara 2016 February 7 gold golden anniversary NFL AFC NFC champion "
         "Warsaw Vistula river Normans Normandy Rollo 911 Viking café naïve Éire "
         "ΣΟΦΙΑ Straße 東京 _under_score").split()


def synthetic_squad_v2(rng):
    """A SQuAD v2.0-schema dataset made of random words, with unanswerable questions."""
    data = []
    qid = 0
    for a in range(6):
        paragraphs = []
        for _ in range(rng.randrange(2, 5)):
            context = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(30, 60)))
            qas = []
            for _ in range(rng.randrange(3, 9)):
                qid += 1
                question = " ".join(rng.choice(WORDS) for _ in range(6)) + "?"
                if rng.random() < 0.4:
                    a0 = rng.randrange(len(context) - 10)
                    plausible = context[a0:a0 + rng.randrange(3, 20)]
                    qas.append({"plausible_answers": [{"text": plausible, "answer_start": a0}],
                                "question": question, "id": f"q{qid:04d}", "answers": [],
                                "is_impossible": True})
                    continue
                answers = []
                for _ in range(rng.randrange(1, 4)):
                    a0 = rng.randrange(len(context) - 10)
                    text = context[a0:a0 + rng.randrange(1, 25)]
                    if rng.random() < 0.05:
                        text = "the"  # normalizes to empty: dropped from gold answers
                    answers.append({"text": text, "answer_start": a0})
                qas.append({"question": question, "id": f"q{qid:04d}", "answers": answers,
                            "is_impossible": False})
            paragraphs.append({"qas": qas, "context": context})
        data.append({"title": f"Synthetic_{a}", "paragraphs": paragraphs})
    return {"version": "v2.0", "data": data}


def squad_v2_fixtures(rng):
    dataset = synthetic_squad_v2(rng)
    preds, na_probs = {}, {}
    for article in dataset["data"]:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                golds = qa["answers"] or qa["plausible_answers"]
                g = rng.choice(golds)
                pred = perturb_answer(rng, g["text"], p["context"], g["answer_start"])
                if not qa["answers"] and rng.random() < 0.5:
                    pred = ""
                preds[qa["id"]] = pred
                # One decimal: many ties, whose order (file order) the threshold search sees.
                na_probs[qa["id"]] = round(rng.random(), 1)
    # Shuffle the na_prob file order so that tie order differs from dataset order.
    items = list(na_probs.items())
    rng.shuffle(items)
    na_probs = dict(items)
    d = os.path.join(OUT, "squad_v2")
    write_json(os.path.join(d, "dataset.json"), dataset)
    write_json(os.path.join(d, "predictions.json"), preds)
    write_json(os.path.join(d, "na_probs.json"), na_probs)
    return {
        "no_na_probs": evaluate_v2(dataset["data"], preds, None, 1.0),
        "na_probs_thresh_1.0": evaluate_v2(dataset["data"], preds, na_probs, 1.0),
        "na_probs_thresh_0.5": evaluate_v2(dataset["data"], preds, na_probs, 0.5),
    }


# -------------------------------------------------------------------------------------- NER
TYPES = ["PER", "LOC", "ORG", "MISC"]


def read_conll(path):
    sentences, cur = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                if cur:
                    sentences.append(cur)
                cur = []
                continue
            cols = line.split(" ")
            if cols[0] == "-DOCSTART-":
                continue
            cur.append((cols[0], cols[-1]))
    if cur:
        sentences.append(cur)
    return sentences


def iob1_to_iob2(tags):
    out, prev = [], "O"
    for t in tags:
        if t.startswith("I-") and (prev == "O" or prev[2:] != t[2:]):
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


def perturb_tags(rng, tags):
    if rng.random() < 0.3:
        tags = iob1_to_iob2(tags)  # a system emitting IOB2 against IOB1 gold
    out = []
    for t in tags:
        r = rng.random()
        if r < 0.85:
            out.append(t)
        elif r < 0.90:
            out.append("O")
        elif r < 0.94:
            out.append(t[:2] + rng.choice(TYPES) if t != "O" else "O")
        elif r < 0.97:
            out.append(rng.choice(["B-", "I-"]) + (t[2:] if t != "O" else rng.choice(TYPES)))
        else:
            out.append("I-" + rng.choice(TYPES))
    return out


def entity_report(gold_sents, pred_sents):
    """Chunk counts with seqeval's conlleval-style chunking, scores as conlleval prints them."""
    gold = set(get_entities([list(s) for s in gold_sents]))
    pred = set(get_entities([list(s) for s in pred_sents]))
    tokens = sum(len(s) for s in gold_sents)
    correct_tags = sum(g == p for gs, ps in zip(gold_sents, pred_sents) for g, p in zip(gs, ps))

    def scores(g, p):
        c = len(g & p)
        prec = 100.0 * c / len(p) if p else 0.0
        rec = 100.0 * c / len(g) if g else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
        return {"precision": prec, "recall": rec, "FB1": f1, "phrases": len(g), "found": len(p), "correct": c}

    types = sorted({e[0] for e in gold | pred})
    return {"processed_tokens": tokens, "accuracy": 100.0 * correct_tags / tokens,
            **scores(gold, pred),
            "per_type": {t: scores({e for e in gold if e[0] == t}, {e for e in pred if e[0] == t})
                         for t in types}}


def run_conlleval(script, gold_sents, pred_sents):
    """Counts from conlleval.pl: (tokens, phrases, found, correct) overall, then per type.

    Expects the script to print conlleval's summary line, then "TYPE phrases found correct" lines
    (a copy whose report section was reduced to that; the counting code is conlleval's own).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for gs, ps in zip(gold_sents, pred_sents):
            for i, (g, p) in enumerate(zip(gs, ps)):
                f.write(f"w{i} {g} {p}\n")
            f.write("\n")
        name = f.name
    with open(name, encoding="utf-8") as fin:
        out = subprocess.run(["perl", script], stdin=fin, capture_output=True, text=True, check=True).stdout
    os.unlink(name)
    m = re.search(r"processed (\d+) tokens with (\d+) phrases; found: (\d+) phrases; correct: (\d+)", out)
    per_type = {}
    for line in out.splitlines()[1:]:
        t, *counts = line.split(" ")
        per_type[t] = tuple(int(x) for x in counts)
    return tuple(int(x) for x in m.groups()), per_type


def check_conlleval(script, gold, pred, report):
    if script:
        counts = run_conlleval(script, gold, pred)
        mine = ((report["processed_tokens"], report["phrases"], report["found"], report["correct"]),
                {t: (s["phrases"], s["found"], s["correct"]) for t, s in report["per_type"].items()})
        if counts != mine:
            sys.exit(f"conlleval.pl disagrees with seqeval: {counts} vs {mine}")


def ner_sequences(rng, script):
    cases = []
    for _ in range(40):
        gold, pred = [], []
        for _ in range(rng.randrange(1, 6)):
            n = rng.randrange(1, 12)
            g = [rng.choice(["O", "O", "B-", "I-", "I-"]) for _ in range(n)]
            g = [t if t == "O" else t + rng.choice(TYPES[:2]) for t in g]
            gold.append(g)
            pred.append(perturb_tags(rng, g) if rng.random() < 0.8 else
                        [rng.choice(["O", "B-PER", "I-PER", "I-LOC", "B-LOC"]) for _ in g])
        report = entity_report(gold, pred)
        check_conlleval(script, gold, pred, report)
        cases.append({"references": gold, "predictions": pred, "expected": report})
    return cases


def conll_fixture(data, rng, script):
    sentences = read_conll(os.path.join(data, "conll2003", "eng.testa"))
    gold = [[t for _, t in s] for s in sentences]
    pred = [perturb_tags(rng, g) for g in gold]
    with open(os.path.join(OUT, "conll", "eng.testa.predictions"), "w", encoding="utf-8") as f:
        for s, ps in zip(sentences, pred):
            for (w, _), p in zip(s, ps):
                f.write(f"{w} {p}\n")
            f.write("\n")
    report = entity_report(gold, pred)
    check_conlleval(script, gold, pred, report)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(os.path.dirname(ROOT), "shared", "data"))
    parser.add_argument("--conlleval", help="path to the official conlleval.pl (optional cross-check)")
    args = parser.parse_args()
    os.makedirs(os.path.join(OUT, "glue"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "conll"), exist_ok=True)
    write_json(os.path.join(OUT, "vectors.json"), {
        "classification": classification_vectors(random.Random(1)),
        "correlation": correlation_vectors(random.Random(2)),
        "ner": ner_sequences(random.Random(3), args.conlleval),
    })
    write_json(os.path.join(OUT, "squad_v2", "expected.json"), squad_v2_fixtures(random.Random(4)))
    write_json(os.path.join(OUT, "glue", "expected.json"), glue_fixtures(args.data, random.Random(5)))
    write_json(os.path.join(OUT, "squad_v1", "expected.json"), squad_v1_fixtures(args.data, random.Random(6)))
    write_json(os.path.join(OUT, "conll", "expected.json"), conll_fixture(args.data, random.Random(7), args.conlleval))
    print("fixtures written under", OUT, "(conlleval.pl cross-check:", "on)" if args.conlleval else "off)")


if __name__ == "__main__":
    main()
