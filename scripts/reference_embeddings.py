#!/usr/bin/env python3
"""An independent reference for readnext's encoder tests.

A plain numpy implementation of the all-MiniLM-L6-v2 forward pass (BERT:
embeddings, six post-norm encoder layers with exact GELU, mean pooling over
the attention mask, L2 normalisation), with its own WordPiece tokenizer for
lower-case ASCII text, reading the same model folder. It shares no code with
candle or the tokenizers crate. Its output was recorded once in
crates/embed/tests/reference.rs; run it again to regenerate those values:

    python3 scripts/reference_embeddings.py models/all-MiniLM-L6-v2
"""
import json
import math
import re
import struct
import sys

import numpy as np

SENTENCES = [
    "Hegseth threatens to enter Mexico militarily",
    "Designating cartels as foreign terrorist organizations",
    "The president signed the bill into law on Tuesday.",
]
# Components printed per sentence (the test compares these to 1e-4).
SHOWN = 16


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":  # e.g. the position_ids buffer
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(meta["shape"]).astype(np.float64)
    return out


def wordpiece(text, vocab):
    ids = [vocab["[CLS]"]]
    for word in re.findall(r"\w+|[^\w\s]", text.lower()):
        start = 0
        pieces = []
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    pieces.append(vocab[piece])
                    break
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            start = end
        ids.extend(pieces)
    ids.append(vocab["[SEP]"])
    return ids


def layer_norm(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def encode(ids, w, cfg):
    p = "" if "embeddings.word_embeddings.weight" in w else "bert."
    n = len(ids)
    x = (
        w[p + "embeddings.word_embeddings.weight"][ids]
        + w[p + "embeddings.position_embeddings.weight"][:n]
        + w[p + "embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, w[p + "embeddings.LayerNorm.weight"], w[p + "embeddings.LayerNorm.bias"])
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    for i in range(cfg["num_hidden_layers"]):
        L = f"{p}encoder.layer.{i}."

        def lin(name, v):
            return v @ w[L + name + ".weight"].T + w[L + name + ".bias"]

        q = lin("attention.self.query", x).reshape(n, heads, d).transpose(1, 0, 2)
        k = lin("attention.self.key", x).reshape(n, heads, d).transpose(1, 0, 2)
        v = lin("attention.self.value", x).reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, heads * d)
        x = layer_norm(
            lin("attention.output.dense", ctx) + x,
            w[L + "attention.output.LayerNorm.weight"],
            w[L + "attention.output.LayerNorm.bias"],
        )
        h = gelu(lin("intermediate.dense", x))
        x = layer_norm(lin("output.dense", h) + x, w[L + "output.LayerNorm.weight"], w[L + "output.LayerNorm.bias"])
    mean = x.mean(0)  # one unpadded sentence: every token is real
    return mean / np.linalg.norm(mean)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2"
    cfg = json.load(open(f"{folder}/config.json"))
    vocab = {}
    for i, line in enumerate(open(f"{folder}/vocab.txt", encoding="utf-8")):
        vocab[line.rstrip("\n")] = i
    w = load_safetensors(f"{folder}/model.safetensors")
    vecs = []
    for s in SENTENCES:
        ids = wordpiece(s, vocab)
        v = encode(ids, w, cfg)
        vecs.append(v)
        print(f"// {s!r}: {len(ids)} tokens {ids}")
        print("[" + ", ".join(f"{x:.6f}" for x in v[:SHOWN]) + "],")
    for i in range(len(vecs)):
        for j in range(i + 1, len(vecs)):
            print(f"// cosine {i}-{j}: {float(vecs[i] @ vecs[j]):.6f}")


if __name__ == "__main__":
    main()
