"""Checks that a checkpoint saved by this project loads in transformers unchanged and gives the outputs that
`albert forward` prints for it. Run by hand:

    ~/.venvs/ref/bin/python scripts/reference/check_saved_checkpoint.py DIR "2 31 45 3" [path/to/albert]
"""
import json
import subprocess
import sys

import torch
import transformers

directory, ids = sys.argv[1], [int(x) for x in sys.argv[2].split()]
binary = sys.argv[3] if len(sys.argv) > 3 else "target/debug/albert"
config = transformers.AutoConfig.from_pretrained(directory)
cls = getattr(transformers, config.architectures[0])
model, info = cls.from_pretrained(directory, output_loading_info=True)
assert not any(info.values()), f"transformers reports {info}"
model.eval()
ours = json.loads(subprocess.check_output([binary, "forward", directory, "--ids", sys.argv[2], "--json"]))
with torch.no_grad():
    inputs = torch.tensor([ids])
    if config.architectures[0] == "AlbertForMultipleChoice":
        inputs = inputs.unsqueeze(0)
    out = model(input_ids=inputs)
worst = 0.0
for key in ["logits", "start_logits", "end_logits", "prediction_logits", "sop_logits"]:
    if key in ours:
        diff = (torch.tensor(ours[key]) - out[key][0]).abs().max().item()
        worst = max(worst, diff)
        print(f"{key}: max abs diff {diff:.2e}")
assert worst <= 1e-5, worst
print(f"OK: {config.architectures[0]} loads with no missing/unexpected keys; outputs agree to {worst:.1e}")
