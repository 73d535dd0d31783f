"""Golden fixtures for the model core: tiny random ALBERT checkpoints made by Hugging Face transformers, and the
outputs transformers computes for them.

Run by hand (never by CI), from the repository root:

    ~/.venvs/ref/bin/python scripts/reference/make_fixtures.py

Writes tests/fixtures/models/<name>/ with
  config.json, model.safetensors     -- transformers' save_pretrained (f32)
  pytorch_model.bin                  -- torch.save(state_dict) in torch's zip format (tied tensors share storage)
  model_f16.safetensors              -- the same weights as f16
  golden.safetensors                 -- inputs, labels and transformers' outputs (eager attention, eval mode):
      input_ids, token_type_ids, attention_mask, last_hidden_state, pooler_output (if the class has a pooler),
      hidden_states.N, attentions.N, the head outputs under transformers' names, labels.* and loss.
Every weight is rounded to f16 precision first, so the three weight files hold exactly the same values and one set
of outputs serves them all. LayerNorm weights and all biases are perturbed away from their initial 1 and 0.
"""
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import (
    AlbertConfig,
    AlbertForMaskedLM,
    AlbertForMultipleChoice,
    AlbertForPreTraining,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertModel,
)

OUT = os.path.join("tests", "fixtures", "models")

BASE = dict(
    vocab_size=99,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=3,
    num_hidden_groups=1,
    num_attention_heads=4,
    intermediate_size=37,
    inner_group_num=1,
    max_position_embeddings=40,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
)

# name, class, config overrides
FIXTURES = [
    ("model_gelu_new", AlbertModel, dict(hidden_act="gelu_new")),
    ("pretraining_groups", AlbertForPreTraining, dict(hidden_act="gelu", num_hidden_layers=5, num_hidden_groups=2, inner_group_num=2)),
    ("masked_lm_relu", AlbertForMaskedLM, dict(hidden_act="relu", embedding_size=24, layer_norm_eps=1e-5)),
    ("seq_cls_silu", AlbertForSequenceClassification, dict(hidden_act="silu", id2label={0: "negative", 1: "neutral", 2: "positive"}, label2id={"negative": 0, "neutral": 1, "positive": 2})),
    ("seq_regression", AlbertForSequenceClassification, dict(hidden_act="gelu_new", num_labels=1)),
    ("seq_multilabel", AlbertForSequenceClassification, dict(hidden_act="gelu_new", num_labels=4, problem_type="multi_label_classification")),
    ("token_cls", AlbertForTokenClassification, dict(hidden_act="gelu", num_labels=5, type_vocab_size=3)),
    ("qa", AlbertForQuestionAnswering, dict(hidden_act="gelu_new", num_hidden_groups=3)),
    ("multiple_choice", AlbertForMultipleChoice, dict(hidden_act="gelu_new", inner_group_num=2)),
]


def perturb_and_round(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                # A wider spread than the 0.02 init so that every layer visibly changes its input.
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))
            p.copy_(p.half().float())


def make_inputs(cfg, gen, multiple_choice):
    batch, seq = 3, 9
    ids = torch.randint(5, cfg.vocab_size, (batch, seq), generator=gen)
    ids[:, 0] = 2  # [CLS]
    types = torch.zeros(batch, seq, dtype=torch.long)
    mask = torch.ones(batch, seq, dtype=torch.long)
    ids[0, 4] = 3
    types[0, 5:] = 1
    ids[0, -1] = 3
    # Row 1 padded after 6 tokens, row 2 after 4.
    for row, length in [(1, 6), (2, 4)]:
        ids[row, length - 1] = 3
        ids[row, length:] = 0
        mask[row, length:] = 0
    if cfg.type_vocab_size > 2:
        types[2, 1:3] = 2
    if multiple_choice:
        ids, types, mask = (t.reshape(1, batch, seq) for t in (ids, types, mask))
    return ids, types, mask


def labels_for(cls, cfg, ids, gen):
    shape = ids.shape
    if cls is AlbertForPreTraining:
        labels = torch.full(shape, -100, dtype=torch.long)
        labels[0, 2], labels[1, 3], labels[2, 1] = 17, 42, 98
        return dict(labels=labels, sentence_order_label=torch.tensor([0, 1, 1]))
    if cls is AlbertForMaskedLM:
        labels = torch.full(shape, -100, dtype=torch.long)
        labels[0, 1], labels[0, 6], labels[1, 2] = 7, 55, 31
        return dict(labels=labels)
    if cls is AlbertForSequenceClassification:
        if cfg.num_labels == 1:
            return dict(labels=torch.tensor([0.5, -1.25, 2.0]))
        if cfg.problem_type == "multi_label_classification":
            return dict(labels=torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]]))
        return dict(labels=torch.tensor([2, 0, 1]))
    if cls is AlbertForTokenClassification:
        labels = torch.randint(0, cfg.num_labels, shape, generator=gen)
        labels[ids == 0] = -100
        return dict(labels=labels)
    if cls is AlbertForQuestionAnswering:
        # The third start position lies outside the sequence and is ignored, as for answers cut off by a window.
        return dict(start_positions=torch.tensor([1, 2, 50]), end_positions=torch.tensor([3, 2, 3]))
    if cls is AlbertForMultipleChoice:
        return dict(labels=torch.tensor([2]))
    return {}


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    for name, cls, overrides in FIXTURES:
        cfg = AlbertConfig(**{**BASE, **overrides})
        cfg._attn_implementation = "eager"
        model = cls(cfg)
        perturb_and_round(model, gen)
        model.eval()
        out_dir = os.path.join(OUT, name)
        model.save_pretrained(out_dir)
        torch.save(model.state_dict(), os.path.join(out_dir, "pytorch_model.bin"))
        save_file(
            {k: v.half().contiguous() for k, v in model.state_dict().items() if "decoder" not in k},
            os.path.join(out_dir, "model_f16.safetensors"),
            metadata={"format": "pt"},
        )
        ids, types, mask = make_inputs(cfg, gen, cls is AlbertForMultipleChoice)
        labels = labels_for(cls, cfg, ids, gen)
        golden = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        with torch.no_grad():
            out = model(input_ids=ids, token_type_ids=types, attention_mask=mask,
                        output_hidden_states=True, output_attentions=True, **labels)
            base = model if cls is AlbertModel else model.albert
            flat = [t.reshape(-1, t.shape[-1]) for t in (ids, types, mask)]
            b = base(input_ids=flat[0], token_type_ids=flat[1], attention_mask=flat[2])
        golden["last_hidden_state"] = b.last_hidden_state
        if b.pooler_output is not None:
            golden["pooler_output"] = b.pooler_output
        for i, h in enumerate(out.hidden_states):
            golden[f"hidden_states.{i}"] = h
        for i, a in enumerate(out.attentions):
            golden[f"attentions.{i}"] = a
        for key in ["logits", "start_logits", "end_logits", "prediction_logits", "sop_logits"]:
            if getattr(out, key, None) is not None:
                golden[key] = out[key]
        for k, v in labels.items():
            golden[f"labels.{k}"] = v
        if getattr(out, "loss", None) is not None:
            golden["loss"] = out.loss.reshape(1)
        save_file({k: v.contiguous() for k, v in golden.items()}, os.path.join(out_dir, "golden.safetensors"))
        print(name, cls.__name__, {k: tuple(v.shape) for k, v in golden.items() if "." not in k})
    # One legacy (pre-1.6, non-zip) file, to check it is named in the error.
    legacy = AlbertModel(AlbertConfig(**BASE)).state_dict()
    torch.save({k: v for k, v in legacy.items() if "embeddings" in k}, os.path.join(OUT, "legacy_format.bin"),
               _use_new_zipfile_serialization=False)
    with open(os.path.join(OUT, "VERSIONS.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "python": sys.version.split()[0]}, f, indent=1)


if __name__ == "__main__":
    main()
