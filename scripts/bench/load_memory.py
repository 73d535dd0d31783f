#!/usr/bin/env python3
"""Peak memory of loading a checkpoint: `albert bench --model` and the pipelines on albert-xxlarge-shaped checkpoints.

Usage (after `cargo build --release -p albert-cli`):

    ~/.venvs/ref/bin/python scripts/bench/load_memory.py [--work DIR] [--albert BIN] [--shape xxlarge|base] [--keep]

Makes, once, random checkpoints of the shape in --work (default /tmp/albert-load-memory; transformers saves them,
f32 safetensors; xxlarge is 0.85 GiB a checkpoint): `model` (AlbertModel), `model-bin` (the same weights as a
PyTorch `pytorch_model.bin`) and `sst2` (AlbertForSequenceClassification with the built-in SST-2 model's tokenizer
and 16,000-token vocabulary). Then runs each command in its own process and prints its peak memory:

- VmHWM: the kernel's peak resident set (what `/usr/bin/time -f %M` reports), from getrusage of the child; it counts
  anonymous memory (the heap, copies of tensors) and the file pages a memory map has touched alike.
- RssAnon and RssFile: the peak of each, sampled from /proc/PID/status every 5 ms (a peak shorter than that can be
  missed; VmHWM cannot miss one). A read-only checkpoint map's pages are RssFile: clean, dropped by the kernel under
  pressure, yet counted in VmHWM.

The x column divides VmHWM by the f32 weights of the checkpoint's tensors. --keep leaves the checkpoints in place
(they are deleted at the end otherwise).
"""

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHAPES = {
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "xxlarge": dict(hidden_size=4096, num_hidden_layers=12, num_attention_heads=64, intermediate_size=16384),
}
COMMON = dict(embedding_size=128, num_hidden_groups=1, inner_group_num=1, hidden_act="gelu_new",
              max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0,
              bos_token_id=2, eos_token_id=3)
SST2 = REPO / "models" / "albert-small-sst2"


def make_checkpoints(work, shape):
    """Random checkpoints saved by transformers (seeded), made once."""
    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertModel

    torch.manual_seed(0)
    model_dir, bin_dir, sst2_dir = work / "model", work / "model-bin", work / "sst2"
    if not (model_dir / "model.safetensors").exists():
        model = AlbertModel(AlbertConfig(vocab_size=30000, **COMMON, **SHAPES[shape]))
        model.save_pretrained(model_dir, safe_serialization=True)
        bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(model_dir / "config.json", bin_dir / "config.json")
        torch.save(model.state_dict(), bin_dir / "pytorch_model.bin")
        del model
    if not (sst2_dir / "model.safetensors").exists():
        cfg = AlbertConfig(vocab_size=16000, **COMMON, **SHAPES[shape], num_labels=2,
                           id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
        AlbertForSequenceClassification(cfg).save_pretrained(sst2_dir, safe_serialization=True)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(SST2 / f, sst2_dir / f)


def f32_weight_mib(checkpoint):
    """The checkpoint's tensors in f32 (its own f32 file, less the header): what the model must hold at least."""
    import json
    import struct

    raw = (checkpoint / "model.safetensors").read_bytes()[:8]
    header_len = struct.unpack("<Q", raw)[0]
    with open(checkpoint / "model.safetensors", "rb") as f:
        f.seek(8)
        header = json.loads(f.read(header_len))
    elems = 0
    for name, info in header.items():
        if name != "__metadata__" and info["dtype"] == "F32":
            n = 1
            for d in info["shape"]:
                n *= d
            elems += n
    return elems * 4 / 2**20


def status_kib(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def measure(cmd, stdin_text=None):
    """Runs `cmd` (the only child of this process, so that the children's ru_maxrss is its VmHWM); returns its
    VmHWM, peak RssAnon and peak RssFile in MiB."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_text else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if stdin_text:
        proc.stdin.write(stdin_text)
        proc.stdin.close()
    anon = file = 0
    while proc.poll() is None:
        anon = max(anon, status_kib(proc.pid, "RssAnon") or 0)
        file = max(file, status_kib(proc.pid, "RssFile") or 0)
        time.sleep(0.005)
    err = proc.stderr.read()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {err[-2000:]}")
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, anon / 1024, file / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/albert-load-memory"))
    ap.add_argument("--albert", type=Path, default=REPO / "target" / "release" / "albert")
    ap.add_argument("--shape", choices=SHAPES, default="xxlarge")
    ap.add_argument("--keep", action="store_true", help="leave the checkpoints in --work")
    ap.add_argument("--only", help="run only the commands whose label contains this")
    ap.add_argument("--one", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        # One measurement in this (fresh) process, whose children's peak is then that command's alone.
        print("%.1f %.1f %.1f" % measure(args.one))
        return
    work = args.work / args.shape
    work.mkdir(parents=True, exist_ok=True)
    make_checkpoints(work, args.shape)
    albert = str(args.albert)
    text = "a gripping, funny and ultimately moving film."
    (work / "sst2.tsv").write_text(f"sentence\tlabel\n{text}\t1\n")
    runs = [
        ("bench --model (safetensors)", [albert, "bench", "--model", work / "model", "--batch", "1", "--seq", "128",
                                         "--runs", "1", "--warmup", "0"], work / "model"),
        ("bench --model --int8 (safetensors)", [albert, "bench", "--model", work / "model", "--int8", "--batch", "1",
                                                "--seq", "128", "--runs", "1", "--warmup", "0"], work / "model"),
        ("bench --model (pytorch_model.bin)", [albert, "bench", "--model", work / "model-bin", "--batch", "1",
                                               "--seq", "128", "--runs", "1", "--warmup", "0"], work / "model"),
        ("classify", [albert, "classify", "--model", work / "sst2", text], work / "sst2"),
        ("classify --int8", [albert, "classify", "--int8", "--model", work / "sst2", text], work / "sst2"),
        ("bench --texts (one line)", [albert, "bench", "--model", work / "sst2", "--texts", work / "sst2.tsv",
                                      "--batch", "1", "--seq", "128", "--runs", "1", "--warmup", "0"], work / "sst2"),
        ("predict --task sst2", [albert, "predict", "--task", "sst2", "--model", work / "sst2", "--data",
                                 work / "sst2.tsv"], work / "sst2"),
    ]
    print(f"albert: {albert}; shape {args.shape}; checkpoints in {work}")
    print(f"{'command':36} {'VmHWM MiB':>10} {'x f32':>6} {'RssAnon':>9} {'RssFile':>9}")
    for label, cmd, weights in runs:
        if args.only and args.only not in label:
            continue
        out = subprocess.run([sys.executable, __file__, "--one", *map(str, cmd)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{label}: {out.stderr.strip()}")
        hwm, anon, file = map(float, out.stdout.split())
        print(f"{label:36} {hwm:10.1f} {hwm / f32_weight_mib(weights):6.2f} {anon:9.1f} {file:9.1f}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
