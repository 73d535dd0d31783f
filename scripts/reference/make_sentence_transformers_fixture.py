"""Golden fixture for sentence-transformers checkpoints (`albert embed` on a `modules.json` directory): a tiny random
ALBERT saved by the sentence-transformers library as one of its model directories, and the vectors the library
encodes with it.

Run by hand (never by CI), from the repository root:

    ~/.venvs/ref/bin/python scripts/reference/make_sentence_transformers_fixture.py

Writes tests/fixtures/st/model/ (`SentenceTransformer.save` of Transformer + Pooling + Normalize: modules.json,
sentence_bert_config.json, config.json, model.safetensors in f16, the tokenizer, 1_Pooling/config.json,
2_Normalize/) and tests/fixtures/st/expected.json.

The transformer is a random AlbertModel (vocabulary 30,000 of ../shared/data/spm/spiece.model, embedding 8, hidden
32, 2 layers); every weight is rounded to f16 first, so the f16 file holds exactly the weights the library ran.
The saved model pools with every mode at once (cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken,
concatenated in that order, as the library does), then normalizes, with max_seq_length 24 so that the long text is
truncated. `variants` re-configure the same directory (the files listed are written over a copy of it; the
weights stay) and give the library's vectors for each: the published paraphrase-albert-small-v2's layout (the legacy
`pooling_mode_*_tokens` keys, mean only, no Normalize, do_lower_case false), `cls` alone with do_lower_case true,
and `max` alone with no length limit but max_position_embeddings (no max_seq_length, no model_max_length).
The library (6.3) takes max_seq_length from sentence_bert_config.json when it is there, else from the tokenizer's
model_max_length (which its save writes), capped by max_position_embeddings.
"""
import json
import os
import shutil
import sys
import tempfile

import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
from transformers import AlbertConfig, AlbertModel, AlbertTokenizer

OUT = os.path.join("tests", "fixtures", "st")
SPM = os.path.join("..", "shared", "data", "spm", "spiece.model")
MODES = ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"]

TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome, naïve and FUN!",
    "Zoë lives in São Paulo.",
    "This sentence is long enough to be cut by a small maximum length, " * 3,
]

MODULES_LEGACY = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
]

VARIANTS = {
    # The layout of the published sentence-transformers/paraphrase-albert-small-v2.
    "legacy_mean": {
        "modules.json": MODULES_LEGACY,
        "sentence_bert_config.json": {"max_seq_length": 100, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": 32,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    },
    "cls_lower": {
        "modules.json": MODULES_LEGACY,
        "sentence_bert_config.json": {"max_seq_length": 16, "do_lower_case": True},
        "1_Pooling/config.json": {"embedding_dimension": 32, "pooling_mode": "cls", "include_prompt": True},
    },
    "max_unbounded": {
        "modules.json": MODULES_LEGACY,
        "sentence_bert_config.json": {"do_lower_case": False},
        "1_Pooling/config.json": {"embedding_dimension": 32, "pooling_mode": ["max"], "include_prompt": True},
    },
}


def random_albert(gen):
    cfg = AlbertConfig(vocab_size=30000, embedding_size=8, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=4, intermediate_size=37, max_position_embeddings=512,
                       hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = AlbertModel(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))
            p.copy_(p.half().float())
    return model.eval()


def encode(directory):
    # The weights are f16 values run in f32, as albert runs them (and as the published f32 checkpoints are).
    model = SentenceTransformer(directory, device="cpu", model_kwargs={"dtype": torch.float32})
    with torch.no_grad():
        vectors = model.encode(TEXTS, batch_size=8, convert_to_numpy=True, normalize_embeddings=False)
    lengths = [len(model.tokenize([t])["input_ids"][0]) for t in TEXTS]
    return [[float(x) for x in v] for v in vectors], lengths


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(2027)
    model_dir = os.path.join(OUT, "model")
    shutil.rmtree(model_dir, ignore_errors=True)
    tmp = tempfile.mkdtemp()
    hf = os.path.join(tmp, "hf")
    albert = random_albert(gen)
    albert.save_pretrained(hf)
    spm = os.path.join(tmp, "spm")
    os.makedirs(spm)
    shutil.copy(SPM, os.path.join(spm, "spiece.model"))
    AlbertTokenizer.from_pretrained(spm).save_pretrained(hf)

    transformer = Transformer(hf, max_seq_length=24)
    pooling = Pooling(32, pooling_mode=tuple(MODES))
    st = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    st.save(model_dir)
    # The weights in f16 (they are f16 values): a third of the size, the same vectors.
    f16 = AlbertModel.from_pretrained(model_dir, dtype=torch.float32).to(torch.float16)
    f16.save_pretrained(tmp + "/f16")
    shutil.copy(os.path.join(tmp, "f16", "model.safetensors"), os.path.join(model_dir, "model.safetensors"))
    shutil.copy(os.path.join(tmp, "f16", "config.json"), os.path.join(model_dir, "config.json"))
    # tokenizer.json (2.2 MB) is rebuilt from spiece.model (0.76 MB) by transformers and by albert alike; the
    # generated model card is not needed.
    for name in ["tokenizer.json", "README.md"]:
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            os.remove(path)
    if not os.path.exists(os.path.join(model_dir, "spiece.model")):
        shutil.copy(SPM, os.path.join(model_dir, "spiece.model"))

    vectors, lengths = encode(model_dir)
    expected = {
        "versions": {"sentence_transformers": sentence_transformers.__version__,
                     "transformers": transformers.__version__, "torch": torch.__version__,
                     "python": sys.version.split()[0]},
        "texts": TEXTS,
        "modes": MODES,
        "hidden_size": 32,
        "model": {"vectors": vectors, "lengths": lengths},
        "variants": {},
    }
    with open(os.path.join(model_dir, "tokenizer_config.json")) as fh:
        unbounded = json.load(fh)
    # Without model_max_length, the library caps inputs at max_position_embeddings (512).
    del unbounded["model_max_length"]
    VARIANTS["max_unbounded"]["tokenizer_config.json"] = unbounded
    for name, files in VARIANTS.items():
        d = os.path.join(tmp, name)
        shutil.copytree(model_dir, d)
        shutil.rmtree(os.path.join(d, "2_Normalize"), ignore_errors=True)
        for rel, content in files.items():
            with open(os.path.join(d, rel), "w") as fh:
                json.dump(content, fh, indent=2)
        vectors, lengths = encode(d)
        expected["variants"][name] = {"files": files, "vectors": vectors, "lengths": lengths}
    with open(os.path.join(OUT, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
