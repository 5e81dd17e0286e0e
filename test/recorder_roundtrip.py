"""Round-trip fixture for test/recorder.test.ts: a tiny plain-PyTorch MoE (random weights, 4
layers, 8 experts, top-2), recorded through the plain-module path; writes trace.eft, trace.jsonl
(the fallback format) and truth.json (every value the hooks saw) into the folder given."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "traces", "recorder"))
import torch  # noqa: E402
from expertflow_recorder import RoutingRecorder  # noqa: E402

torch.manual_seed(0)
H, E, L = 16, 8, 4


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = torch.nn.Linear(H, E, bias=False)
        self.experts = torch.nn.ModuleList(torch.nn.Linear(H, H) for _ in range(E))

    def forward(self, x):
        w, idx = torch.topk(torch.softmax(self.gate(x), -1), 2, -1)
        out = torch.zeros_like(x)
        for k in range(2):
            for t in range(x.shape[0]):
                out[t] += w[t, k] * self.experts[idx[t, k]](x[t])
        return x + out


class TinyMoE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(100, H)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))

    def forward(self, ids):
        x = self.emb(ids.reshape(-1))
        for b in self.blocks:
            x = b(x)
        return x


out = sys.argv[1]
model = TinyMoE().eval()
rec = RoutingRecorder([b.gate for b in model.blocks], top_k=2, lookahead=2)
with torch.no_grad():
    for rid, prompt in enumerate([[5, 17, 42, 7, 9], [3, 3, 88]]):
        with rec.request(rid, torch.tensor(prompt)):
            model(torch.tensor(prompt))
        for step in range(3):
            nxt = torch.tensor([(rid * 31 + step * 7) % 100])
            with rec.request(rid, nxt, decode=True):
                model(nxt)
rec.save(os.path.join(out, "trace.eft"), model_name="tiny-moe")
rec.save(os.path.join(out, "trace.jsonl"), model_name="tiny-moe")
with open(os.path.join(out, "truth.json"), "w") as f:
    json.dump(sorted(rec.rows, key=lambda r: (r["request"], r["position"])), f)
print("ok")
