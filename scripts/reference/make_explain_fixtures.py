"""Golden fixtures for `albert explain`: Captum's attributions on the embedding layer of ALBERT checkpoints.

Run by hand (never by CI), from the repository root:

    ~/.venvs/ref/bin/python scripts/reference/make_explain_fixtures.py

Writes tests/fixtures/explain/expected.json. For every case, on the model in eval mode with eager attention:

  ig            captum.attr.LayerIntegratedGradients(forward, model.albert.embeddings).attribute(input_ids,
                baselines=baseline_ids, target=..., additional_forward_args=(token_type_ids, attention_mask),
                n_steps, method="gausslegendre" (Captum's default), internal_batch_size, return_convergence_delta=True),
                summed over the hidden dimension per token: the output of the embeddings module (word + position +
                token type, after its LayerNorm) is what is interpolated, as in Captum's BERT tutorials.
  delta         the convergence delta Captum returns: sum(attributions) - (F(input) - F(baseline)).
  grad_x_input  captum.attr.LayerGradientXActivation on the same layer, summed over the hidden dimension.
  rollout       attention rollout (Abnar & Zuidema 2020) rendered in numpy from transformers' output_attentions:
                per layer run, the mean over heads A, then 0.5 A + 0.5 I with rows renormalized, multiplied through
                the layers as run (R = A_1, then R = A_l @ R): the full (seq, seq) matrix.
  output        F(input), the attributed output.

The baseline is [CLS] [PAD]... [SEP] of the input's length: special tokens kept, every other token replaced by the
pad id (Captum's BERT tutorial's reference). Targets: `label` (a sequence-classification logit), `start` / `end` (a
question-answering logit at one position), `token` (a token-classification logit at one position and label).

Cases: the tiny random checkpoints of tests/fixtures/models (seq_cls_silu, qa, token_cls: no tokenizer, so the token
ids are given) and the built-in SST-2 model (models/albert-small-sst2, texts through its tokenizer).
"""
import json
import os
import sys

import captum
import numpy as np
import torch
import transformers
from captum.attr import LayerGradientXActivation, LayerIntegratedGradients
from captum.attr._utils.approximation_methods import approximation_parameters
from transformers import (
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AutoTokenizer,
)

OUT = os.path.join("tests", "fixtures", "explain", "expected.json")
CLS, SEP, PAD = 2, 3, 0


def load(cls, path):
    model = cls.from_pretrained(path, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    return model


def forward_fn(model, kind):
    """The function Captum differentiates: the head's output with the target's index dimensions last."""

    def forward(input_ids, token_type_ids, attention_mask):
        out = model(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
        if kind == "label" or kind == "token":
            return out.logits  # (batch, labels) or (batch, seq, labels)
        return out.start_logits if kind == "start" else out.end_logits  # (batch, seq)

    return forward


def captum_target(target):
    kind = target["kind"]
    if kind == "label":
        return target["label"]
    if kind == "token":
        return (target["position"], target["label"])
    return target["position"]


def rollout(attentions):
    """Abnar & Zuidema's rollout over the layers as run; attentions: per layer (1, heads, seq, seq)."""
    result = None
    for layer in attentions:
        a = layer[0].detach().double().numpy().mean(axis=0)
        a = 0.5 * a + 0.5 * np.eye(a.shape[0])
        a = a / a.sum(axis=-1, keepdims=True)
        result = a if result is None else a @ result
    return result


def run_case(name, model, model_dir, ids, type_ids, special, target, steps, batch, text=None, pair=None):
    input_ids = torch.tensor([ids])
    baseline = torch.tensor([[i if s else PAD for i, s in zip(ids, special)]])
    tt = torch.tensor([type_ids])
    am = torch.ones_like(input_ids)
    forward = forward_fn(model, target["kind"])
    layer = model.albert.embeddings
    ig, delta = LayerIntegratedGradients(forward, layer).attribute(
        inputs=input_ids,
        baselines=baseline,
        target=captum_target(target),
        additional_forward_args=(tt, am),
        n_steps=steps,
        internal_batch_size=batch,
        return_convergence_delta=True,
    )
    gxi = LayerGradientXActivation(forward, layer).attribute(
        inputs=input_ids, target=captum_target(target), additional_forward_args=(tt, am)
    )
    with torch.no_grad():
        out = model(input_ids=input_ids, token_type_ids=tt, attention_mask=am, output_attentions=True)
        output = forward(input_ids, tt, am)[0]
        output = output[captum_target(target)] if target["kind"] != "token" else output[target["position"], target["label"]]
    case = {
        "name": name,
        "model": model_dir,
        "text": text,
        "pair": pair,
        "ids": ids,
        "type_ids": type_ids,
        "special": [int(s) for s in special],
        "baseline_ids": baseline[0].tolist(),
        "target": target,
        "steps": steps,
        "internal_batch_size": batch,
        "output": float(output),
        "ig": ig.sum(-1)[0].tolist(),
        "delta": float(delta[0]),
        "grad_x_input": gxi.sum(-1)[0].tolist(),
        "rollout": rollout(out.attentions).tolist(),
    }
    if target["kind"] == "label":
        case["probabilities"] = torch.softmax(out.logits[0], -1).tolist()
    print(f"{name}: output {case['output']:.5f} delta {case['delta']:.2e} ig {np.round(case['ig'], 4).tolist()}", file=sys.stderr)
    return case


def main():
    torch.manual_seed(0)
    cases = []
    fixtures = os.path.join("tests", "fixtures", "models")

    seq_dir = os.path.join(fixtures, "seq_cls_silu")
    seq = load(AlbertForSequenceClassification, seq_dir)
    single = [CLS, 17, 45, 8, 91, 33, 60, 12, SEP]
    special = [i in (0, len(single) - 1) for i in range(len(single))]
    cases.append(run_case("seq_cls_label2", seq, seq_dir, single, [0] * len(single), special, {"kind": "label", "label": 2}, 50, 16))
    cases.append(run_case("seq_cls_label0_steps7", seq, seq_dir, single, [0] * len(single), special, {"kind": "label", "label": 0}, 7, None))
    pair = [CLS, 21, 5, 77, SEP, 40, 41, 98, 6, SEP]
    pair_types = [0] * 5 + [1] * 5
    pair_special = [i in (0, 4, 9) for i in range(len(pair))]
    cases.append(run_case("seq_cls_pair", seq, seq_dir, pair, pair_types, pair_special, {"kind": "label", "label": 1}, 50, 20))

    qa_dir = os.path.join(fixtures, "qa")
    qa = load(AlbertForQuestionAnswering, qa_dir)
    question_context = [CLS, 30, 31, 32, SEP, 50, 51, 52, 53, 54, 55, 56, SEP]
    qa_types = [0] * 5 + [1] * 8
    qa_special = [i in (0, 4, 12) for i in range(len(question_context))]
    cases.append(run_case("qa_start", qa, qa_dir, question_context, qa_types, qa_special, {"kind": "start", "position": 7}, 50, 25))
    cases.append(run_case("qa_end", qa, qa_dir, question_context, qa_types, qa_special, {"kind": "end", "position": 9}, 50, 25))

    tok_dir = os.path.join(fixtures, "token_cls")
    tok = load(AlbertForTokenClassification, tok_dir)
    tokens = [CLS, 11, 63, 64, 9, 80, 27, SEP]
    tok_types = [0, 0, 0, 1, 1, 2, 2, 2]
    tok_special = [i in (0, 7) for i in range(len(tokens))]
    cases.append(run_case("token_cls", tok, tok_dir, tokens, tok_types, tok_special, {"kind": "token", "position": 3, "label": 4}, 50, None))

    sst_dir = os.path.join("models", "albert-small-sst2")
    sst = load(AlbertForSequenceClassification, sst_dir)
    tokenizer = AutoTokenizer.from_pretrained(sst_dir)
    for name, text in [
        ("sst2_positive", "A gripping, beautifully acted film that stays with you."),
        ("sst2_negative", "The plot is dull and the jokes fall flat."),
    ]:
        enc = tokenizer(text)
        ids = enc["input_ids"]
        special = tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        with torch.no_grad():
            label = int(sst(input_ids=torch.tensor([ids])).logits[0].argmax())
        case = run_case(name, sst, sst_dir, ids, enc.get("token_type_ids", [0] * len(ids)), [bool(s) for s in special], {"kind": "label", "label": label}, 50, 10, text=text)
        case["tokens"] = tokenizer.convert_ids_to_tokens(ids)
        cases.append(case)

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    versions = {
        "captum": captum.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    with open(OUT + ".tmp", "w") as f:
        # Captum's own points and weights (numpy's leggauss scaled to [0, 1]).
        step_sizes, alphas = approximation_parameters("gausslegendre")
        rules = {str(n): {"alphas": alphas(n), "step_sizes": step_sizes(n)} for n in (7, 50)}
        json.dump({"versions": versions, "gauss_legendre": rules, "cases": cases}, f, indent=1)
        f.write("\n")
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {OUT}: {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
