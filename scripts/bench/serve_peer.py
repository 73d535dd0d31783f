"""The Python peer of `albert serve` for scripts/bench/serve_load.sh: the same checkpoints through ONNX Runtime's
optimized graph (`onnxruntime.transformers.optimizer.optimize_model`, model_type bert: ALBERT is a BERT encoder to
it) behind uvicorn (one worker), with a dynamic batcher: requests queue, and a batch takes what is queued, waiting at
most --max-wait-ms for more, up to --max-batch-tokens (padded cost: longest x count, TEI's and albert's rule). TEI's
request and response JSON on `POST /predict` (`inputs`: a text or a list of texts) and `POST /embed` (mean pooling
over the real tokens, L2-normalized unless `"normalize": false`), `GET /health`.

    python serve_peer.py make-checkpoint OUT [--spm ../shared/data/spm/spiece.model]
        a base-shape (albert-base-v2) random two-label classifier in OUT/classifier and its encoder (the same
        weights, AlbertModel) in OUT/encoder, safetensors and tokenizer, as `albert serve --model` reads them

    python serve_peer.py serve --classifier DIR --encoder DIR [--port 18081] [--threads 1]
                               [--max-batch-tokens 16384] [--max-wait-ms 2] [--cache DIR]
        exports each checkpoint to ONNX (eager attention, dynamic batch and sequence axes) and optimizes it, once
        (kept under --cache), in a child process (`export`), so that the server holds ONNX Runtime and the
        checkpoint's tokenizer.json (the `tokenizers` library) but not PyTorch; ONNX Runtime runs with --threads
        intra-op threads, one inter-op thread, one run at a time on its own thread (never the event loop's)

Run with the reference venv (~/.venvs/ref: torch, transformers, onnxruntime, uvicorn, starlette, orjson).
"""
import argparse
import asyncio
import contextlib
import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

BASE_V2 = dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072, max_position_embeddings=512, hidden_act="gelu_new", type_vocab_size=2)


def make_checkpoint(out, spm):
    import shutil
    import tempfile

    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertTokenizer

    torch.manual_seed(0)
    cfg = AlbertConfig(**BASE_V2, num_labels=2, id2label={0: "negative", 1: "positive"},
                       label2id={"negative": 0, "positive": 1})
    classifier = AlbertForSequenceClassification(cfg).eval()
    tmp = tempfile.mkdtemp()
    shutil.copy(spm, os.path.join(tmp, "spiece.model"))
    tok = AlbertTokenizer.from_pretrained(tmp)
    for name, model in (("classifier", classifier), ("encoder", classifier.albert)):
        d = Path(out) / name
        model.save_pretrained(d)
        tok.save_pretrained(d)
        print(f"{d}: {type(model).__name__}", file=sys.stderr)


def export(checkpoint, cache, encoder):
    """The optimized ONNX graph of `checkpoint` (kept in `cache` by the checkpoint's path and weights' size)."""
    import torch
    from transformers import AlbertConfig, AlbertForSequenceClassification, AlbertModel

    cfg = AlbertConfig.from_pretrained(checkpoint)
    weights = Path(checkpoint) / "model.safetensors"
    key = hashlib.sha256(f"{Path(checkpoint).resolve()}:{weights.stat().st_size}:{encoder}".encode()).hexdigest()[:16]
    opt_path = Path(cache) / f"{key}_opt.onnx"
    if opt_path.exists():
        return str(opt_path)
    Path(cache).mkdir(parents=True, exist_ok=True)
    cls = AlbertModel if encoder else AlbertForSequenceClassification
    # Eager attention: the graph ONNX Runtime's optimizer fuses (transformers' default SDPA exports a pattern its
    # Attention fusion does not match).
    model = cls.from_pretrained(checkpoint, dtype=torch.float32, attn_implementation="eager").eval()
    ids = torch.full((1, 16), 5, dtype=torch.long)
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    outputs = ["last_hidden_state"] if encoder else ["logits"]
    raw = str(Path(cache) / f"{key}_f32.onnx")
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), raw, input_names=inputs,
                      output_names=outputs, dynamic_axes={i: {0: "batch", 1: "seq"} for i in inputs + outputs[:1]},
                      opset_version=17, dynamo=False)
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(raw, model_type="bert", num_heads=cfg.num_attention_heads, hidden_size=cfg.hidden_size,
                         opt_level=2)
    fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    print(f"{checkpoint}: fusions {fused}", file=sys.stderr)
    opt.save_model_to_file(str(opt_path))
    return str(opt_path)


class Batcher:
    """One queue; a batch takes the queued requests (waiting at most `max_wait` seconds for more) while the padded
    cost, longest x count, stays within `max_tokens`; one batch runs at a time on the compute thread."""

    def __init__(self, run, max_tokens, max_wait, executor):
        self.run, self.max_tokens, self.max_wait, self.executor = run, max_tokens, max_wait, executor
        self.queue = asyncio.Queue()
        self.carry = None

    async def submit(self, rows):
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((rows, future))
        return await future

    def fits(self, batch, item):
        rows = [r for rows, _ in batch for r in rows] + item[0]
        return max(len(r) for r in rows) * len(rows) <= self.max_tokens

    async def loop(self):
        loop = asyncio.get_running_loop()
        while True:
            first = self.carry or await self.queue.get()
            self.carry = None
            batch = [first]
            deadline = loop.time() + self.max_wait
            while True:
                try:
                    item = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self.queue.get(), left)
                    except asyncio.TimeoutError:
                        break
                if not self.fits(batch, item):
                    self.carry = item
                    break
                batch.append(item)
            rows = [r for rows, _ in batch for r in rows]
            try:
                out = await loop.run_in_executor(self.executor, self.run, rows)
            except Exception as e:  # every waiting request gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(e)
                continue
            at = 0
            for rows_, future in batch:
                if not future.done():  # a client that went away
                    future.set_result(out[at:at + len(rows_)])
                at += len(rows_)


def padded(rows, pad_id):
    """(batch, longest) ids, mask, type ids."""
    longest = max(len(r) for r in rows)
    ids = np.full((len(rows), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask, np.zeros_like(ids)


def exported(checkpoint, cache, encoder):
    """`export` run in a child process: its path."""
    import subprocess

    cmd = [sys.executable, __file__, "export", checkpoint, "--cache", cache] + (["--encoder"] if encoder else [])
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]


def serve(a):
    import json

    import onnxruntime as ort
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route
    from tokenizers import Tokenizer

    def session(path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    cls_sess = session(exported(a.classifier, a.cache, False))
    enc_sess = session(exported(a.encoder, a.cache, True))
    tok = Tokenizer.from_file(str(Path(a.classifier) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(512)
    config = json.loads((Path(a.classifier) / "config.json").read_text())
    labels = {int(k): v for k, v in config.get("id2label", {"0": "LABEL_0", "1": "LABEL_1"}).items()}
    pad_id = tok.token_to_id("<pad>") or 0
    executor = ThreadPoolExecutor(max_workers=1)

    def classify(rows):
        ids, mask, types = padded(rows, pad_id)
        logits = cls_sess.run(["logits"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def embed(rows):
        ids, mask, types = padded(rows, pad_id)
        hidden = enc_sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                      "token_type_ids": types})[0]
        m = mask[..., None].astype(np.float32)
        return (hidden * m).sum(1) / m.sum(1)

    batchers = {"predict": Batcher(classify, a.max_batch_tokens, a.max_wait_ms / 1e3, executor),
                "embed": Batcher(embed, a.max_batch_tokens, a.max_wait_ms / 1e3, executor)}

    def error(status, message):
        return Response(orjson.dumps({"error": message, "error_type": "Validation"}), status_code=status,
                        media_type="application/json")

    async def parsed(request):
        body = orjson.loads(await request.body())
        inputs = body["inputs"]
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError("`inputs` must be a non-empty text or list of texts")
        rows = [e.ids for e in tok.encode_batch(texts)]
        return body, isinstance(inputs, list), rows

    async def predict(request):
        try:
            _, batch, rows = await parsed(request)
        except (ValueError, KeyError, orjson.JSONDecodeError) as e:
            return error(422, str(e))
        scores = await batchers["predict"].submit(rows)
        out = [sorted(({"score": float(s), "label": labels[i]} for i, s in enumerate(row)), key=lambda x: -x["score"])
               for row in scores]
        return Response(orjson.dumps(out if batch else out[0]), media_type="application/json")

    async def embed_route(request):
        try:
            body, _, rows = await parsed(request)
        except (ValueError, KeyError, orjson.JSONDecodeError) as e:
            return error(422, str(e))
        vectors = await batchers["embed"].submit(rows)
        if body.get("normalize", True):
            vectors = [v / max(np.linalg.norm(v), 1e-12) for v in vectors]
        return Response(orjson.dumps([v.astype(np.float32) for v in vectors], option=orjson.OPT_SERIALIZE_NUMPY),
                        media_type="application/json")

    async def health(request):
        return Response(status_code=200)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        tasks = [asyncio.get_running_loop().create_task(b.loop()) for b in batchers.values()]
        yield
        for t in tasks:
            t.cancel()

    app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/embed", embed_route, methods=["POST"]),
                            Route("/health", health, methods=["GET"])], lifespan=lifespan)
    print(f"listening on http://127.0.0.1:{a.port}", file=sys.stderr, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=a.port, workers=1, log_level="warning", access_log=False,
                backlog=4096)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make-checkpoint")
    m.add_argument("out")
    m.add_argument("--spm", default=str(Path(__file__).resolve().parents[3] / "shared/data/spm/spiece.model"))
    e = sub.add_parser("export")
    e.add_argument("checkpoint")
    e.add_argument("--cache", required=True)
    e.add_argument("--encoder", action="store_true")
    s = sub.add_parser("serve")
    s.add_argument("--classifier", required=True)
    s.add_argument("--encoder", required=True)
    s.add_argument("--port", type=int, default=18081)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--max-batch-tokens", type=int, default=16384)
    s.add_argument("--max-wait-ms", type=float, default=2.0)
    s.add_argument("--cache", default=str(Path(__file__).resolve().parents[2] / "target/bench/serve/onnx"))
    a = p.parse_args()
    if a.command == "make-checkpoint":
        make_checkpoint(a.out, a.spm)
    elif a.command == "export":
        print(export(a.checkpoint, a.cache, a.encoder))
    else:
        serve(a)


if __name__ == "__main__":
    main()
