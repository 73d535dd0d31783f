#!/usr/bin/env python3
"""Writes the tiny checkpoint fixtures under tests/fixtures/checkpoint/.

Every tensor holds values derivable by hand (aranges, exact binary fractions), so the Rust tests
assert those values, not values read back by our own code. Run from the repository root with the
reference venv:

    ~/.venvs/ref/bin/python scripts/reference/make_checkpoint_fixtures.py

The layouts exercised (see tests/fixtures/checkpoint/README.md for the expected values):
  * safetensors in f32, f16 and bf16, and a model sharded over two files with an index json;
  * torch.save (zip format, torch >= 1.6) of a real nn.Module state_dict: tied weights sharing one
    storage, a transposed (Fortran-order) view, a strided view with a storage offset, an expanded
    (stride 0) buffer, f16 / bf16 / f64 tensors, an int64 buffer and an nn.Parameter;
  * the same state_dict in the legacy (pre-1.6, non-zip) format;
  * the state_dict sharded over two zip files with pytorch_model.bin.index.json;
  * a torch zip whose pickle calls a global outside the tensor allow-list (builtins.print, harmless
    even under a reader that would execute it), which must be refused.
"""
import json
import os
from collections import OrderedDict

import torch
from safetensors.torch import save_file

OUT = os.path.join("tests", "fixtures", "checkpoint")


class Tiny(torch.nn.Module):
    """Embedding tied to a decoder, like AlbertForMaskedLM's word embeddings / predictions.decoder."""

    def __init__(self):
        super().__init__()
        self.embeddings = torch.nn.Embedding(4, 2)
        self.decoder = torch.nn.Linear(2, 4, bias=False)
        self.decoder.weight = self.embeddings.weight
        # transformers registers position_ids as arange(max_len).expand((1, -1)): stride 0 on dim 0.
        self.register_buffer("position_ids", torch.arange(5).expand((1, -1)), persistent=True)
        with torch.no_grad():
            # embeddings.weight[i][j] = 100 + 2*i + j
            self.embeddings.weight.copy_(torch.arange(8, dtype=torch.float32).reshape(4, 2) + 100)


def state_dict():
    sd = Tiny().state_dict()  # OrderedDict with a _metadata attribute, as transformers saves it
    # a[i][j] = 3*i + j
    sd["a"] = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    # transposed view of arange(12).reshape(3, 4): t[i][j] = 4*j + i, strides (1, 4)
    sd["t"] = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    # strided view with a storage offset: v[i][j] = 2 + 6*i + 2*j, offset 2, strides (6, 2)
    sd["v"] = torch.arange(20, dtype=torch.float32)[2:].view(3, 6)[:, ::2]
    # broadcast view of a 3-element storage: e[i][j] = j, strides (0, 1)
    sd["e"] = torch.arange(3, dtype=torch.float32).expand(2, 3)
    sd["h"] = (torch.arange(4, dtype=torch.float32) / 4).half()  # [0, 0.25, 0.5, 0.75]
    sd["b"] = (torch.arange(4, dtype=torch.float32) * 0.5).bfloat16()  # [0, 0.5, 1, 1.5]
    sd["d"] = torch.arange(3, dtype=torch.float64) * 0.25  # [0, 0.25, 0.5]
    sd["p"] = torch.nn.Parameter(torch.tensor([1.5, -2.0]))  # pickled via _rebuild_parameter
    return sd


class CallsPrint:
    def __reduce__(self):
        return (print, ("a tensor-only reader must never run this",))


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = state_dict()
    assert sd["decoder.weight"].data_ptr() == sd["embeddings.weight"].data_ptr()
    assert not sd["v"].is_contiguous() and sd["v"].storage_offset() == 2

    torch.save(sd, os.path.join(OUT, "pytorch_model.bin"))
    torch.save(sd, os.path.join(OUT, "legacy_pytorch_model.bin"), _use_new_zipfile_serialization=False)

    torch.save({"w": torch.zeros(1), "x": CallsPrint()}, os.path.join(OUT, "forbidden_global.bin"))

    a = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4).t().contiguous()
    pos = torch.arange(5).unsqueeze(0)
    save_file({"a": a, "t": t, "position_ids": pos}, os.path.join(OUT, "f32.safetensors"), metadata={"format": "pt"})
    save_file({"a": a.half()}, os.path.join(OUT, "f16.safetensors"), metadata={"format": "pt"})
    save_file({"a": (a * 0.5).bfloat16()}, os.path.join(OUT, "bf16.safetensors"), metadata={"format": "pt"})

    sharded = os.path.join(OUT, "sharded_safetensors")
    os.makedirs(sharded, exist_ok=True)
    shards = {"model-00001-of-00002.safetensors": {"a": a}, "model-00002-of-00002.safetensors": {"t": t, "position_ids": pos}}
    write_sharded(sharded, "model.safetensors.index.json", shards,
                  lambda tensors, path: save_file(tensors, path, metadata={"format": "pt"}))

    sharded_bin = os.path.join(OUT, "sharded_bin")
    os.makedirs(sharded_bin, exist_ok=True)
    shards = {"pytorch_model-00001-of-00002.bin": {"a": sd["a"]}, "pytorch_model-00002-of-00002.bin": {"t": sd["t"], "e": sd["e"]}}
    write_sharded(sharded_bin, "pytorch_model.bin.index.json", shards, lambda tensors, path: torch.save(tensors, path))


def write_sharded(directory, index_name, shards, save):
    weight_map = {}
    for shard, tensors in shards.items():
        save(OrderedDict(tensors), os.path.join(directory, shard))
        weight_map.update({name: shard for name in tensors})
    total = sum(t.numel() * t.element_size() for tensors in shards.values() for t in tensors.values())
    with open(os.path.join(directory, index_name), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
