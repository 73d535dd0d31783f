#!/usr/bin/env python3
"""Side-by-side CPU speed of `albert bench` and its peers on the same shapes, threads and machine, in one run.

Peers: PyTorch eager (transformers AlbertModel, random init from the albert-base-v2 configuration), PyTorch with
`torch.compile` (inductor, CPU; if compiling fails the error is printed and the row left out), ONNX Runtime f32
(torch.onnx.export of that model with eager attention, fed an attention mask) as exported (`ort-f32`) and through ONNX Runtime's transformer optimizer
(`onnxruntime.transformers.optimizer.optimize_model`, model_type bert; the fusions it found are printed: `ort-opt`),
and ONNX Runtime dynamic int8 (quant_pre_process, then quantize_dynamic) with per-tensor weights (`ort-int8`) and
per-channel weights (`ort-int8-pc`). Training:
PyTorch forward + backward + AdamW of AlbertForMaskedLM (E=128, H=256, 4 layers, 30k vocabulary) against
`albert bench --train` on the same configuration; both send only the predicted (15%) positions through the MLM head
(`pytorch`), and `pytorch-all` is transformers' own loss, which scores every position. Text to logits: the 872 SST-2 dev sentences tokenized (transformers'
fast AlbertTokenizer from ../shared/data/spm/spiece.model; ours reads the same file), batched by 32, padded to each
batch's longest, through a two-label AlbertForSequenceClassification (albert-base-v2 shape) to its softmax, against
`albert bench --texts`. `albert`'s pipelines cut batches from the texts sorted by token count (a stable sort), so the
peers get the same: each peer tokenizes every text, sorts by token count with Python's stable sort and batches in that
order (`--texts-order file` gives the peers file order instead, as tables before 2026-12-07 did; the tokenization
stays inside the timed pass on both sides). `albert-unsorted` is ours with batches cut in file order
(`albert bench --texts-order file`), to show what the sort is worth.

`--shape large` or `xxlarge` times the fixed shapes on Hugging Face's albert-large-v2 or albert-xxlarge-v2 shape
instead of base (random init on both sides); `--engines` keeps only the named engines (xxlarge at batch 16 takes
minutes a process), `--f32-kernels` adds albert on other f32 kernels, `--onnx-dir` reuses exported models.

Sections (each its own run with its own baselines, so one fits a session): the default times fixed shapes, training
and texts; `--cap avx2` runs every engine capped to AVX2 (ours with ALBERT_CPU=avx2, PyTorch with
ATEN_CPU_CAPABILITY=avx2 and MKL_ENABLE_INSTRUCTIONS=AVX2, ONNX Runtime has no such switch and runs uncapped: say so
beside its rows); `--oneshot` times one CLI call from process start to first answer (load, prepare, tokenize,
classify one sentence) for the built-in SST-2 model and a base-shape checkpoint, against the same call in Python
(`transformers.pipeline("text-classification")`, imports included). The head of every table names the CPU, its
flags and clock.

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
# The fixed-shape inference workloads' shapes (--shape): Hugging Face's albert-base-v2, albert-large-v2 and
# albert-xxlarge-v2 configurations, random init, each against `albert bench --preset` of the same name.
SHAPES = {
    "base": ("albert-base-v2", BASE_V2),
    "large": ("albert-large-v2", dict(BASE_V2, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                      intermediate_size=4096)),
    "xxlarge": ("albert-xxlarge-v2", dict(BASE_V2, hidden_size=4096, num_hidden_layers=12, num_attention_heads=64,
                                          intermediate_size=16384)),
}
# The training-step workload: a small ALBERT with the full 30k vocabulary.
SMALL = dict(BASE_V2, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)


def cpu_header(threads):
    """The CPU the table was measured on: model, the SIMD flags that choose kernels, clock, and the threads used."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    field = lambda k: next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith(k)), "?")  # noqa: E731
    flags = set(field("flags").split())
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
            if f in flags]
    # A VM's model name can be as bare as "AMD EPYC", which covers Zen 1 to Zen 5: family and model tell them apart.
    return (f"CPU: {field('model name')} (family {field('cpu family')} model {field('model')}), {os.cpu_count()} "
            f"logical CPUs, {field('cpu MHz')} MHz (cpuinfo at start), "
            f"flags: {' '.join(simd) or 'none of avx2/avx512/amx'}; {threads} thread(s)")


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

        def batched():
            # As albert's pipelines: every text tokenized, a stable sort by token count, batches cut in that order.
            # The sort is part of the timed pass (ours tokenizes and sorts inside its pass too).
            order = texts
            if a.texts_order == "sorted":
                lengths = [len(ids) for ids in tok(texts, truncation=True, max_length=a.seq)["input_ids"]]
                order = [texts[i] for i in sorted(range(len(texts)), key=lengths.__getitem__)]
            return [order[i:i + a.batch] for i in range(0, len(order), a.batch)]
        if a.engine == "torch-texts":
            from transformers import AlbertConfig, AlbertForSequenceClassification

            torch.manual_seed(0)
            model = AlbertForSequenceClassification(AlbertConfig(**BASE_V2, num_labels=2)).eval()

            def run():
                with torch.inference_mode():
                    for b in batched():
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
                for b in batched():
                    enc = tok(b, padding="longest", truncation=True, max_length=a.seq, return_tensors="np")
                    ids = enc["input_ids"].astype(np.int64)
                    # Single sentences: type ids are all 0 (the tokenizer may leave them out).
                    logits = sess.run(None, {"input_ids": ids, "attention_mask": enc["attention_mask"].astype(np.int64),
                                             "token_type_ids": np.zeros_like(ids)})[0]
                    e = np.exp(logits - logits.max(-1, keepdims=True))
                    e / e.sum(-1, keepdims=True)

        ms = timed(run, a.runs, a.warmup)
    elif a.engine in ("torch", "torch-compile"):
        from transformers import AlbertConfig, AlbertModel

        torch.manual_seed(0)
        model = AlbertModel(AlbertConfig(**SHAPES[a.shape][1])).eval()
        ids, _ = random_batch(a.batch, a.seq, BASE_V2["vocab_size"], a.batch)
        if a.engine == "torch-compile":
            # Inductor on CPU; compiled once, outside the timing (the warmup runs trigger it).
            model = torch.compile(model, backend="inductor")
        with torch.inference_mode():
            ms = timed(lambda: model(input_ids=ids), a.runs, max(a.warmup, 2))
    else:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(a.onnx, so, providers=["CPUExecutionProvider"])
        ids, _ = random_batch(a.batch, a.seq, BASE_V2["vocab_size"], a.batch)
        feed = {"input_ids": ids.numpy(), "attention_mask": torch.ones_like(ids).numpy()}
        ms = timed(lambda: sess.run(None, feed), a.runs, a.warmup)
    print(json.dumps({"median_ms": ms, "peak_rss_mib": peak_rss_mib()}))


def export_onnx(tmp, classifier=False, shape="base", engines=None):
    """The `shape` (random init) as ONNX f32, its dynamically quantized int8 twins and ONNX Runtime's optimized graph
    (only those in `engines`, all when None); `classifier`: the two-label AlbertForSequenceClassification of
    albert-base-v2 fed input_ids, attention_mask and token_type_ids."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertModel

    torch.manual_seed(0)
    ids, _ = random_batch(1, 128, BASE_V2["vocab_size"], 0)
    name = "classifier" if classifier else "albert"
    f32 = str(tmp / f"{name}_f32.onnx")
    # Eager attention: the graph ONNX Runtime's optimizer recognizes (transformers' default SDPA exports a pattern
    # its Attention fusion does not match, and the optimized graph then fuses no attention at all).
    dims = SHAPES[shape][1]
    cfg = AlbertConfig(**dims, num_labels=2)
    cfg._attn_implementation = "eager"
    if classifier:
        model = AlbertForSequenceClassification(cfg).eval()
        inputs = ["input_ids", "attention_mask", "token_type_ids"]
        args, outputs = (ids, torch.ones_like(ids), torch.zeros_like(ids)), ["logits"]
    else:
        model = AlbertModel(cfg).eval()
        inputs = ["input_ids", "attention_mask"]
        args, outputs = (ids, torch.ones_like(ids)), ["last_hidden_state", "pooler_output"]
    # With --onnx-dir a model already exported there is reused (xxlarge's export and quantization take minutes).
    if not Path(f32).exists():
        torch.onnx.export(
            model, args, f32, input_names=inputs, output_names=outputs,
            dynamic_axes={i: {0: "batch", 1: "seq"} for i in inputs}, opset_version=17, dynamo=False,
        )
    wanted = lambda e: engines is None or e in engines  # noqa: E731
    out = {"ort-f32": f32} if wanted("ort-f32") else {}
    quantized = [(e, pc) for e, pc in (("ort-int8", False), ("ort-int8-pc", True))
                 if wanted(e) and not Path(tmp / f"{name}_{e}.onnx").exists()]
    out.update({e: str(tmp / f"{name}_{e}.onnx") for e in ("ort-int8", "ort-int8-pc")
                if wanted(e) and Path(tmp / f"{name}_{e}.onnx").exists()})
    # Without pre-processing the shared layer's weights sit behind Identity nodes and only 7 of 97 MatMuls quantize.
    pre = str(tmp / f"{name}_pre.onnx")
    if quantized:
        quant_pre_process(f32, pre, skip_symbolic_shape=True)
    import onnx

    for engine, per_channel in quantized:
        path = str(tmp / f"{name}_{engine}.onnx")
        quantize_dynamic(pre, path, weight_type=QuantType.QInt8, per_channel=per_channel)
        ops = [n.op_type for n in onnx.load(path).graph.node]
        print(f"{engine} {name}: {ops.count('MatMulInteger') + ops.count('DynamicQuantizeMatMul')} quantized MatMuls, "
              f"{ops.count('MatMul')} f32 MatMuls left", file=sys.stderr)
        out[engine] = path
    # ONNX Runtime's transformer optimizer, the graph its users deploy: ALBERT is a BERT encoder to it.
    from onnxruntime.transformers.optimizer import optimize_model

    if not wanted("ort-opt"):
        return out
    if Path(tmp / f"{name}_opt.onnx").exists():
        return {**out, "ort-opt": str(tmp / f"{name}_opt.onnx")}
    opt = optimize_model(f32, model_type="bert", num_heads=dims["num_attention_heads"],
                         hidden_size=dims["hidden_size"], opt_level=2)
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    print(f"ort-opt {name}: fusions found {json.dumps(fused)}", file=sys.stderr)
    out["ort-opt"] = str(tmp / f"{name}_opt.onnx")
    # The optimizer writes each of the shared layer's applications its own weights: xxlarge's graph passes protobuf's
    # 2 GB limit, so its weights go to a data file beside it (ONNX Runtime reads it from there).
    opt.save_model_to_file(out["ort-opt"], use_external_data_format=shape == "xxlarge")
    return out


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


ONESHOT_TEXT = "a gripping, beautifully acted film that never loses its nerve."


def oneshot(a, env):
    """Wall time of one CLI call from process start to its first answer, median of --rounds alternating calls."""
    tmp = Path(tempfile.mkdtemp(prefix="albert-oneshot-"))
    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification

    torch.manual_seed(0)
    base = tmp / "base-classifier"
    AlbertForSequenceClassification(AlbertConfig(**BASE_V2, num_labels=2)).save_pretrained(base)
    import shutil

    shutil.copy(a.spm, base / "spiece.model")
    builtin = REPO / "models/albert-small-sst2"
    calls = {}
    for name, model in (("built-in SST-2", builtin), ("base shape", base)):
        py = ("import sys; from transformers import pipeline; "
              "print(pipeline('text-classification', model=sys.argv[1], device='cpu')(sys.argv[2]))")
        calls[(name, "albert")] = [a.albert, "classify", "--model", str(model), ONESHOT_TEXT]
        calls[(name, "albert-int8")] = calls[(name, "albert")][:2] + ["--int8"] + calls[(name, "albert")][2:]
        calls[(name, "transformers")] = [sys.executable, "-c", py, str(model), ONESHOT_TEXT]
    # `albert classify` takes its threads from RAYON_NUM_THREADS; torch from OMP_NUM_THREADS (set by the caller).
    env = {**env, "RAYON_NUM_THREADS": str(a.threads)}
    times = {k: [] for k in calls}
    for r in range(a.rounds):
        for k, cmd in calls.items():
            t = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            ms = (time.perf_counter() - t) * 1e3
            if done.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
            times[k].append(ms)
            print(f"round {r + 1}: {k[0]:<16} {k[1]:<13} {ms:9.1f} ms", file=sys.stderr)
    print(f"\none CLI call, process start to first answer, median of {a.rounds} alternating calls")
    print(f"{'model':<16} {'engine':<13} {'median ms':>10}")
    for (name, engine), ms in times.items():
        print(f"{name:<16} {engine:<13} {statistics.median(ms):10.1f}")


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
    p.add_argument("--shape", choices=list(SHAPES), default="base",
                   help="the fixed-shape workloads' model (large, xxlarge: best with --no-train --texts '')")
    p.add_argument("--engines", help="comma list: time only these engines (e.g. albert,albert-int8,ort-opt,ort-int8-pc)")
    p.add_argument("--onnx-dir", help="export the ONNX models here, and reuse those already there (one shape per "
                   "directory), instead of a fresh temporary directory")
    p.add_argument("--f32-kernels", default="",
                   help="comma list of ALBERT_F32_KERNEL values to time as albert-<kernel> beside the default albert")
    p.add_argument("--texts-order", choices=["sorted", "file"], default="sorted",
                   help="the peers' batches: cut from the texts sorted by token count, as ours (default), or in file order")
    p.add_argument("--cap", choices=["avx2"], help="cap every engine's instruction set (see the section notes above)")
    p.add_argument("--no-compile", action="store_true", help="leave out torch.compile (its compile takes minutes)")
    p.add_argument("--oneshot", action="store_true",
                   help="time one CLI call, process start to first answer, instead of the other sections")
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
    if a.cap == "avx2":
        env_threads.update(ALBERT_CPU="avx2", ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2")
    print(cpu_header(a.threads) + (f"; capped to {a.cap} (ONNX Runtime uncapped: it has no switch)" if a.cap else ""))
    if a.oneshot:
        return oneshot(a, env_threads)
    tmp = Path(a.onnx_dir) if a.onnx_dir else Path(tempfile.mkdtemp(prefix="albert-peers-"))
    tmp.mkdir(parents=True, exist_ok=True)
    keep = set(a.engines.split(",")) if a.engines else None
    onnx_models = export_onnx(tmp, shape=a.shape, engines=keep)
    small_cfg = tmp / "small_config.json"
    from transformers import AlbertConfig

    AlbertConfig(**SMALL).to_json_file(str(small_cfg))

    common = ["--runs", str(a.runs), "--warmup", str(a.warmup)]

    texts_common = ["--runs", str(a.texts_runs), "--warmup", "1", "--texts-order", a.texts_order]

    def py(engine, batch, onnx=None, runs=common):
        cmd = [sys.executable, __file__, "--worker", engine, "--shape", a.shape, "--batch", str(batch), "--seq", str(a.seq),
               "--threads", str(a.threads), "--texts", a.texts, "--spm", a.spm, *runs] + (["--onnx", onnx] if onnx else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env_threads).stdout
        return json.loads(out.strip().splitlines()[-1])

    def ours(cmd, env=None):
        return lambda: run_json(cmd, {**env_threads, **(env or {})})

    workloads = []  # (name, {engine: thunk})
    for b in [int(x) for x in a.batches.split(",") if x]:
        flags = ["--preset", SHAPES[a.shape][0], "--batch", str(b), "--seq", str(a.seq), "--threads", str(a.threads),
                 "--json", *common]
        cmd = [a.albert, "bench", *flags]
        workloads.append((f"infer {a.shape} b={b} s={a.seq}", b, {
            "albert": ours(cmd),
            **{f"albert-{k}": ours(cmd, {"ALBERT_F32_KERNEL": k}) for k in a.f32_kernels.split(",") if k},
            **({"albert-int8": ours(cmd + ["--int8"])} if a.int8 else {}),
            **({"naive": ours([a.naive, *flags])} if a.naive else {}),
            "pytorch": lambda b=b: py("torch", b),
            **({} if a.no_compile else {"torch-compile": lambda b=b: py("torch-compile", b)}),
            **{e: (lambda b=b, m=m: py("ort", b, m)) for e, m in onnx_models.items()},
        }))
    if not a.no_train:
        b = a.train_batch
        flags = ["--config", str(small_cfg), "--train", "--batch", str(b), "--seq", str(a.seq), "--threads",
                 str(a.threads), "--json", *common]
        workloads.append((f"train b={b} s={a.seq} (E128 H256 L4)", b, {
            "albert": ours([a.albert, "bench", *flags]),
            **({"naive": ours([a.naive, *flags])} if a.naive else {}),
            "pytorch": lambda b=b: py("torch-train-predicted", b),
            "pytorch-all": lambda b=b: py("torch-train", b),
        }))

    if a.texts:
        b, n = a.texts_batch, len(sst2_sentences(a.texts))
        cls_models = export_onnx(tmp, classifier=True)
        cmd = [a.albert, "bench", "--preset", "albert-base-v2", "--texts", a.texts, "--tokenizer", a.spm, "--batch",
               str(b), "--seq", str(a.seq), "--threads", str(a.threads), "--json", *texts_common[:4]]
        workloads.append((f"{n} texts to logits b={b} ({a.texts_order})", n, {
            "albert": ours(cmd),
            # Ours without the sort: batches cut in file order (`albert bench --texts-order file`).
            "albert-unsorted": ours(cmd + ["--texts-order", "file"]),
            **{f"albert-{k}": ours(cmd, {"ALBERT_F32_KERNEL": k}) for k in a.f32_kernels.split(",") if k},
            **({"albert-int8": ours(cmd + ["--int8"])} if a.int8 else {}),
            "pytorch": lambda b=b: py("torch-texts", b, runs=texts_common),
            **{e: (lambda b=b, m=m: py("ort-texts", b, m, texts_common)) for e, m in cls_models.items()},
        }))

    if keep is not None:
        # albert-int8 and albert-<kernel> come only with their own flags: kept.
        workloads = [(w, n, {e: t for e, t in engines.items() if e in keep or e.startswith("albert-")})
                     for w, n, engines in workloads]

    # A peer that fails (torch.compile on a CPU inductor cannot build for) is reported and left out, not fatal.
    failed = {}

    def attempt(w, e, thunk):
        try:
            return thunk()
        except subprocess.CalledProcessError as err:
            failed[(w, e)] = (err.stderr or "").strip().splitlines()[-1:] or [str(err)]
            return None

    results = {(w, e): [] for w, _, engines in workloads for e in engines}
    for r in range(a.rounds):
        for w, _, engines in workloads:
            for e, thunk in engines.items():
                if (w, e) in failed:
                    continue
                out = attempt(w, e, thunk)
                if out is None:
                    print(f"round {r + 1}: {w:<32} {e:<13} FAILED: {failed[(w, e)][0]}", file=sys.stderr)
                    continue
                results[(w, e)].append((out["median_ms"], out.get("peak_rss_mib")))
                print(f"round {r + 1}: {w:<32} {e:<13} {out['median_ms']:9.1f} ms", file=sys.stderr)

    print(f"\n{a.threads} thread(s), median over {a.rounds} alternating round(s) of per-process medians "
          f"({a.runs} runs after {a.warmup} warmup; texts: {a.texts_runs} passes after 1); ratio = albert time / peer "
          f"time (< 1: albert faster), for albert f32 and, with --int8, albert int8\n")
    head = (f"{'workload':<32} {'engine':<13} {'median ms':>10} {'seq/s':>9} {'peak RSS MiB':>13} {'f32/peer':>9}"
            f" {'int8/peer':>9}")
    print(head)
    print("-" * len(head))
    for w, batch, engines in workloads:
        median = lambda e: statistics.median(m for m, _ in results[(w, e)])  # noqa: E731
        ours = {k: median(k) for k in ("albert", "albert-int8") if k in engines}
        for e in engines:
            if not results[(w, e)]:
                print(f"{w:<32} {e:<13} failed: {failed.get((w, e), ['?'])[0]}")
                continue
            ms = median(e)
            rss = max((r for _, r in results[(w, e)] if r is not None), default=float("nan"))
            ratios = ["" if e == k else f"{v / ms:9.2f}" for k, v in ours.items()]
            print(f"{w:<32} {e:<13} {ms:10.1f} {batch * 1e3 / ms:9.2f} {rss:13.0f} " + " ".join(f"{r:>9}" for r in ratios))

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
                    print(f"{w:<32} {k:<13} {naive_ms / median(k):6.2f}x  ({naive_ms:.1f} ms -> {median(k):.1f} ms; "
                          f"peak RSS {peak('naive'):.0f} -> {peak(k):.0f} MiB)")


if __name__ == "__main__":
    main()
