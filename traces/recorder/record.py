"""Record a trace from a Hugging Face MoE model:

    python3 traces/recorder/record.py --model mistralai/Mixtral-8x7B-v0.1 --prompts prompts.txt \
        --max-new-tokens 64 --lookahead 4 --out mixtral.eft

One request per line of --prompts: its prompt tokens are recorded as prefill, then greedy decode
tokens one at a time. Needs torch and transformers (and numpy for .eft; else it writes .jsonl).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from expertflow_recorder import RoutingRecorder  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--prompts", required=True)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--lookahead", type=int, default=0)
    p.add_argument("--routers", default=None,
                   help="regex of the MoE blocks' module names, when finding them by structure fails")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype="auto", device_map="auto")
    rec = RoutingRecorder.from_hf(model, lookahead=a.lookahead, routers=a.routers)
    with open(a.prompts) as f:
        prompts = [line.strip() for line in f if line.strip()]
    with torch.no_grad():
        for rid, prompt in enumerate(prompts):
            ids = tok(prompt, return_tensors="pt").input_ids.to(model.device)
            with rec.request(rid, ids):
                out = model(ids, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
            for _ in range(a.max_new_tokens):
                with rec.request(rid, nxt, decode=True):
                    out = model(nxt, past_key_values=past, use_cache=True)
                past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
    print("wrote", rec.save(a.out, model_name=a.model))


if __name__ == "__main__":
    main()
