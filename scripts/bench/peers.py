#!/usr/bin/env python3
"""Side-by-side CPU speed of `albert bench` and its peers on the same shapes, threads and machine, in one run.

Peers: PyTorch eager (transformers AlbertModel, random init from the albert-base-v2 configuration), ONNX Runtime f32
(torch.onnx.export of that model) and ONNX Runtime dynamic int8 (quant_pre_process, then quantize_dynamic). Training:
PyTorch forward + backward + AdamW of AlbertForMaskedLM (E=128, H=256, 4 layers, 30k vocabulary) against
`albert bench --train` on the same configuration; both send only the predicted (15%) positions through the MLM head
(`pytorch`), and `pytorch-all` is transformers' own loss, which scores every position. Text to logits: the 872 SST-2 dev sentences tokenized (transformers'
fast AlbertTokenizer from ../shared/data/spm/spiece.model; ours reads the same file), batched by 32 in file order,
padded to each batch's longest, through a two-label AlbertForSequenceClassification (albert-base-v2 shape) to its
softmax, against `albert bench --texts`.

Naive (--naive BIN): the model core's first version, commit 0c47b66, timed by scripts/bench/naive (`albert-naive`),
which runs `albert bench`'s protocol (same flags, same fixed-seed batch and predicted positions, same JSON line) on that
tree's crates: every operation a composed candle op with autograd on every parameter (its inference records the graph
too), the inference workloads through its `AlbertModel`, and the training step as that tree would have taken it:
`AlbertForMaskedLM` logits over the whole vocabulary at every position, its cross-entropy (log-softmax of every row,
labels -100 except the ~15% predicted), backward, and candle_nn's AdamW (the old tree had no optimizer). It joins the
f32 inference workloads and the training workload, alternating with the others, and the last lines give the speed-up
of albert over it (naive time / albert time). Build it first (a git worktree of 0c47b66 and a build under target/):
    bash scripts/bench/build_naive.sh    # prints the binary: target/naive/release/albert-naive
It is slow (the training step computes and differentiates batch x seq x 30000 logits): expect minutes per round.

Every measurement runs in its own process (so peak RSS belongs to it alone), and the engines alternate within each
round so that load from other work on the machine spreads over all of them. The reported time is the median over
rounds of each process's median.

Run by hand (never by tests):
    cargo build --release -p albert-cli
    ~/.venvs/ref/bin/python scripts/bench/peers.py --threads 2 --rounds 3
    ~/.venvs/ref/bin/python scripts/bench/peers.py --threads 2 --rounds 3 --naive "$(bash scripts/bench/build_naive.sh)"
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BASE_V2 = dict(
    vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_hidden_groups=1,
    num_attention_heads=12, intermediate_size=3072, inner_group_num=1, hidden_act="gelu_new",
    max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0,
    bos_token_id=2, eos_token_id=3,
)
# The training-step workload: a small ALBERT with the full 30k vocabulary.
SMALL = dict(BASE_V2, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)


def random_batch(batch, seq, vocab, seed):
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, seq), generator=g)
    labels = torch.where(torch.rand((batch, seq), generator=g) < 0.15, ids, torch.full_like(ids, -100))
    return ids, labels


def peak_rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ms)


def sst2_sentences(path):
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    col = lines[0].split("\t").index("sentence")
    return [line.split("\t")[col] for line in lines[1:] if line]


def spm_tokenizer(spm):
    import shutil

    from transformers import AlbertTokenizer

    d = tempfile.mkdtemp()
    shutil.copy(spm, os.path.join(d, "spiece.model"))
    return AlbertTokenizer.from_pretrained(d)


def worker(a):
    """One measurement in this process: prints {"median_ms", "peak_rss_mib"}."""
    import torch

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    if a.engine in ("torch-train", "torch-train-predicted"):
        from transformers import AlbertConfig, AlbertForMaskedLM

        torch.manual_seed(0)
        model = AlbertForMaskedLM(AlbertConfig(**SMALL)).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
        ids, labels = random_batch(a.batch, a.seq, SMALL["vocab_size"], a.batch)
        predicted = labels.flatten() != -100

        def loss():
            if a.engine == "torch-train":
                return model(input_ids=ids, labels=labels).loss
            # Only the predicted positions through the MLM head, as `albert bench --train` and our pretraining do
            # (and Google's ALBERT with masked_lm_positions): the same loss.
            hidden = model.albert(input_ids=ids).last_hidden_state.flatten(0, 1)[predicted]
            return torch.nn.functional.cross_entropy(model.predictions(hidden), labels.flatten()[predicted])

        def step():
            opt.zero_grad(set_to_none=True)
            loss().backward()
            opt.step()

        ms = timed(step, a.runs, a.warmup)
    elif a.engine in ("torch-texts", "ort-texts"):
        texts, tok = sst2_sentences(a.texts), spm_tokenizer(a.spm)
        batches = [texts[i:i + a.batch] for i in range(0, len(texts), a.batch)]
        if a.engine == "torch-texts":
            from transformers import AlbertConfig, AlbertForSequenceClassification

            torch.manual_seed(0)
            model = AlbertForSequenceClassification(AlbertConfig(**BASE_V2, num_labels=2)).eval()

            def run():
                with torch.inference_mode():
                    for b in batches:
                        enc = tok(b, padding="longest", truncation=True, max_length=a.seq, return_tensors="pt")
                        model(**enc).logits.softmax(-1)
        else:
            import numpy as np
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])

            def run():
                for b in batches:
                    enc = tok(b, padding="longest", truncation=True, max_length=a.seq, return_tensors="np")
                    ids = enc["input_ids"].astype(np.int64)
                    # Single sentences: type ids are all 0 (the tokenizer may leave them out).
                    logits = sess.run(None, {"input_ids": ids, "attention_mask": enc["attention_mask"].astype(np.int64),
                                             "token_type_ids": np.zeros_like(ids)})[0]
                    e = np.exp(logits - logits.max(-1, keepdims=True))
                    e / e.sum(-1, keepdims=True)

        ms = timed(run, a.runs, a.warmup)
    elif a.engine == "torch":
        from transformers import AlbertConfig, AlbertModel

        torch.manual_seed(0)
        model = AlbertModel(AlbertConfig(**BASE_V2)).eval()
        ids, _ = random_batch(a.batch, a.seq, BASE_V2["vocab_size"], a.batch)
        with torch.inference_mode():
            ms = timed(lambda: model(input_ids=ids), a.runs, a.warmup)
    else:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        ids, _ = random_batch(a.batch, a.seq, BASE_V2["vocab_size"], a.batch)
        feed = {"input_ids": ids.numpy()}
        ms = timed(lambda: sess.run(None, feed), a.runs, a.warmup)
    print(json.dumps({"median_ms": ms, "peak_rss_mib": peak_rss_mib()}))


def export_onnx(tmp, classifier=False):
    """albert-base-v2 (random init) as ONNX f32, and its dynamically quantized int8 twin; `classifier`: the two-label
    AlbertForSequenceClassification fed input_ids, attention_mask and token_type_ids."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertModel

    torch.manual_seed(0)
    ids, _ = random_batch(1, 128, BASE_V2["vocab_size"], 0)
    name = "classifier" if classifier else "albert"
    f32 = str(tmp / f"{name}_f32.onnx")
    if classifier:
        model = AlbertForSequenceClassification(AlbertConfig(**BASE_V2, num_labels=2)).eval()
        inputs = ["input_ids", "attention_mask", "token_type_ids"]
        args, outputs = (ids, torch.ones_like(ids), torch.zeros_like(ids)), ["logits"]
    else:
        model = AlbertModel(AlbertConfig(**BASE_V2)).eval()
        inputs, args, outputs = ["input_ids"], (ids,), ["last_hidden_state", "pooler_output"]
    torch.onnx.export(
        model, args, f32, input_names=inputs, output_names=outputs,
        dynamic_axes={i: {0: "batch", 1: "seq"} for i in inputs}, opset_version=17, dynamo=False,
    )
    # Without pre-processing the shared layer's weights sit behind Identity nodes and only 7 of 97 MatMuls quantize.
    pre = str(tmp / f"{name}_pre.onnx")
    quant_pre_process(f32, pre, skip_symbolic_shape=True)
    int8 = str(tmp / f"{name}_int8.onnx")
    quantize_dynamic(pre, int8, weight_type=QuantType.QInt8)
    import onnx

    ops = [n.op_type for n in onnx.load(int8).graph.node]
    print(f"int8 {name}: {ops.count('MatMulInteger') + ops.count('DynamicQuantizeMatMul')} quantized MatMuls, "
          f"{ops.count('MatMul')} f32 MatMuls left", file=sys.stderr)
    return f32, int8


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--albert", default=str(REPO / "target/release/albert"), help="release binary of `albert`")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", default="1,16")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median over rounds is reported")
    p.add_argument("--train-batch", type=int, default=16)
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--texts", default=str(REPO.parent / "shared/data/glue/SST-2/dev.tsv"),
                   help="TSV with a sentence column for the text-to-logits workload ('' skips it)")
    p.add_argument("--spm", default=str(REPO.parent / "shared/data/spm/spiece.model"), help="tokenizer of that workload")
    p.add_argument("--texts-batch", type=int, default=32)
    p.add_argument("--texts-runs", type=int, default=3, help="timed passes over the texts (each is 872 sentences)")
    p.add_argument("--int8", action="store_true", help="also time `albert bench --int8` on every inference workload")
    p.add_argument("--naive", metavar="BIN", help="also time this naive engine (commit 0c47b66, built by "
                   "scripts/bench/build_naive.sh) on the f32 inference and training workloads")
    # Internal: one measurement per process.
    p.add_argument("--worker", dest="engine", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.engine:
        return worker(a)
    if not Path(a.albert).is_file():
        sys.exit(f"{a.albert} not found: run `cargo build --release -p albert-cli` first")
    if a.naive and not Path(a.naive).is_file():
        sys.exit(f"{a.naive} not found: run `bash scripts/bench/build_naive.sh` first")
    env_threads = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    tmp = Path(tempfile.mkdtemp(prefix="albert-peers-"))
    f32, int8 = export_onnx(tmp)
    small_cfg = tmp / "small_config.json"
    from transformers import AlbertConfig

    AlbertConfig(**SMALL).to_json_file(str(small_cfg))

    common = ["--runs", str(a.runs), "--warmup", str(a.warmup)]

    texts_common = ["--runs", str(a.texts_runs), "--warmup", "1"]

    def py(engine, batch, onnx=None, runs=common):
        cmd = [sys.executable, __file__, "--worker", engine, "--batch", str(batch), "--seq", str(a.seq),
               "--threads", str(a.threads), "--texts", a.texts, "--spm", a.spm, *runs] + (["--onnx", onnx] if onnx else [])
        return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env_threads)

    workloads = []  # (name, {engine: thunk})
    for b in [int(x) for x in a.batches.split(",")]:
        flags = ["--preset", "albert-base-v2", "--batch", str(b), "--seq", str(a.seq), "--threads", str(a.threads),
                 "--json", *common]
        ours = [a.albert, "bench", *flags]
        workloads.append((f"infer b={b} s={a.seq}", b, {
            "albert": lambda c=ours: run_json(c),
            **({"albert-int8": lambda c=ours: run_json(c + ["--int8"])} if a.int8 else {}),
            **({"naive": lambda c=[a.naive, *flags]: run_json(c)} if a.naive else {}),
            "pytorch": lambda b=b: json.loads(py("torch", b).stdout.strip().splitlines()[-1]),
            "ort-f32": lambda b=b: json.loads(py("ort", b, f32).stdout.strip().splitlines()[-1]),
            "ort-int8": lambda b=b: json.loads(py("ort", b, int8).stdout.strip().splitlines()[-1]),
        }))
    if not a.no_train:
        b = a.train_batch
        flags = ["--config", str(small_cfg), "--train", "--batch", str(b), "--seq", str(a.seq), "--threads",
                 str(a.threads), "--json", *common]
        ours = [a.albert, "bench", *flags]
        workloads.append((f"train b={b} s={a.seq} (E128 H256 L4)", b, {
            "albert": lambda c=ours: run_json(c),
            **({"naive": lambda c=[a.naive, *flags]: run_json(c)} if a.naive else {}),
            "pytorch": lambda b=b: json.loads(py("torch-train-predicted", b).stdout.strip().splitlines()[-1]),
            "pytorch-all": lambda b=b: json.loads(py("torch-train", b).stdout.strip().splitlines()[-1]),
        }))

    if a.texts:
        b, n = a.texts_batch, len(sst2_sentences(a.texts))
        cls_f32, cls_int8 = export_onnx(tmp, classifier=True)
        ours = [a.albert, "bench", "--preset", "albert-base-v2", "--texts", a.texts, "--tokenizer", a.spm, "--batch",
                str(b), "--seq", str(a.seq), "--threads", str(a.threads), "--json", *texts_common]
        workloads.append((f"{n} texts to logits b={b}", n, {
            "albert": lambda c=ours: run_json(c),
            **({"albert-int8": lambda c=ours: run_json(c + ["--int8"])} if a.int8 else {}),
            "pytorch": lambda b=b: json.loads(py("torch-texts", b, runs=texts_common).stdout.strip().splitlines()[-1]),
            "ort-f32": lambda b=b: json.loads(py("ort-texts", b, cls_f32, texts_common).stdout.strip().splitlines()[-1]),
            "ort-int8": lambda b=b: json.loads(py("ort-texts", b, cls_int8, texts_common).stdout.strip().splitlines()[-1]),
        }))

    results = {(w, e): [] for w, _, engines in workloads for e in engines}
    for r in range(a.rounds):
        for w, _, engines in workloads:
            for e, thunk in engines.items():
                out = thunk()
                results[(w, e)].append((out["median_ms"], out.get("peak_rss_mib")))
                print(f"round {r + 1}: {w:<32} {e:<11} {out['median_ms']:9.1f} ms", file=sys.stderr)

    print(f"\n{a.threads} thread(s), median over {a.rounds} alternating round(s) of per-process medians "
          f"({a.runs} runs after {a.warmup} warmup; texts: {a.texts_runs} passes after 1); ratio = albert time / peer "
          f"time (< 1: albert faster), for albert f32 and, with --int8, albert int8\n")
    head = (f"{'workload':<32} {'engine':<11} {'median ms':>10} {'seq/s':>9} {'peak RSS MiB':>13} {'f32/peer':>9}"
            f" {'int8/peer':>9}")
    print(head)
    print("-" * len(head))
    for w, batch, engines in workloads:
        median = lambda e: statistics.median(m for m, _ in results[(w, e)])  # noqa: E731
        ours = {k: median(k) for k in ("albert", "albert-int8") if k in engines}
        for e in engines:
            ms = median(e)
            rss = max((r for _, r in results[(w, e)] if r is not None), default=float("nan"))
            ratios = ["" if e == k else f"{v / ms:9.2f}" for k, v in ours.items()]
            print(f"{w:<32} {e:<11} {ms:10.1f} {batch * 1e3 / ms:9.2f} {rss:13.0f} " + " ".join(f"{r:>9}" for r in ratios))

    if a.naive:
        print("\nalbert against the naive engine (commit 0c47b66, the model core's first version), same run: "
              "speed-up = naive time / albert time (> 1: albert faster)")
        for w, _, engines in workloads:
            if "naive" not in engines:
                continue
            median = lambda e: statistics.median(m for m, _ in results[(w, e)])  # noqa: E731
            peak = lambda e: max((r for _, r in results[(w, e)] if r is not None), default=float("nan"))  # noqa: E731
            naive_ms = median("naive")
            for k in ("albert", "albert-int8"):
                if k in engines:
                    print(f"{w:<32} {k:<11} {naive_ms / median(k):6.2f}x  ({naive_ms:.1f} ms -> {median(k):.1f} ms; "
                          f"peak RSS {peak('naive'):.0f} -> {peak(k):.0f} MiB)")


if __name__ == "__main__":
    main()
