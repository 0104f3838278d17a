#!/usr/bin/env python3
"""Checks that transformers loads `lensweep mktiny` checkpoints with no missing/unexpected keys.

Usage: tools/check_mktiny_hf.py DIR [DIR ...]   (by hand; not part of `make test`)
For each checkpoint: loads it with AutoModelForCausalLM (fp32, eager attention), asserts no
missing / unexpected / mismatched keys, that every parameter equals the stored tensor (so no
weight was silently re-initialized), and runs one forward pass to make sure it is finite.
"""
import sys

import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForCausalLM


def check(d):
    model, info = AutoModelForCausalLM.from_pretrained(
        d, torch_dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"{d}: loading info {bad}"
    import glob, os
    stored = {}
    for f in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        with safe_open(f, "pt") as sf:
            for k in sf.keys():
                stored[k] = sf.get_tensor(k).float()
    params = dict(model.named_parameters())
    for k, v in stored.items():
        assert k in params, f"{d}: stored tensor {k} is not a parameter"
        assert torch.equal(params[k].detach(), v), f"{d}: {k} differs after load"
    cfg = AutoConfig.from_pretrained(d)
    ids = torch.arange(0, 40).remainder(cfg.vocab_size)[None]
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
    assert torch.isfinite(out.logits).all()
    hs = [h.float().std().item() for h in out.hidden_states]
    print(f"ok {d}: {type(model).__name__}, {len(stored)} tensors, hidden std {['%.2f' % x for x in hs]}, "
          f"logit std {out.logits.std().item():.2f}, head_dim {model.config.head_dim}, "
          f"sliding {getattr(model.config, 'sliding_window', None)}")


for d in sys.argv[1:]:
    check(d)
