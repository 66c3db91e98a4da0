#!/usr/bin/env python3
"""Builds the int8 ONNX form of all-MiniLM-L6-v2 that readnext's fast
encoder path runs with ONNX Runtime.

The graph is written by hand from model.safetensors (no torch, no model hub):
BERT embeddings, six post-norm encoder layers with exact GELU, then mean
pooling over the attention mask and L2 normalisation, so the model maps
(input_ids, attention_mask) straight to unit sentence vectors. The weight
matrices are then quantised to int8 with ONNX Runtime's dynamic quantisation
(activations are quantised per batch at run time). The two attention products
(query x key, weights x value) have no constant side and stay in f32.

Before writing, the f32 graph is checked against the independent numpy
forward pass of scripts/reference_embeddings.py (to 1e-4), and the int8
vectors against the f32 graph's (a cosine under 0.98 fails the export), on
the reference sentences padded into one batch.

    python scripts/export_onnx.py MODEL_DIR OUT.onnx
"""
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_embeddings import SENTENCES, encode, load_safetensors, wordpiece  # noqa: E402

OPSET = 17


class Graph:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.n = 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, kind, inputs, name=None, **attrs):
        self.n += 1
        out = f"{kind.lower()}_{self.n}"
        self.nodes.append(helper.make_node(kind, inputs, [out], name=name or out, **attrs))
        return out


def build(w, cfg):
    g = Graph()
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    head = hidden // heads
    eps = cfg.get("layer_norm_eps", 1e-12)
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731

    ids = "input_ids"
    mask = "attention_mask"
    word = g.op("Gather", [g.const("word_embeddings", f32(w["embeddings.word_embeddings.weight"])), ids])
    shape = g.op("Shape", [ids])
    seq = g.op("Gather", [shape, g.const("one_index", np.array(1, dtype=np.int64))])
    positions = g.op("Range", [g.const("zero_i64", np.array(0, dtype=np.int64)), seq,
                               g.const("one_i64", np.array(1, dtype=np.int64))])
    pos = g.op("Gather", [g.const("position_embeddings", f32(w["embeddings.position_embeddings.weight"])), positions])
    # readnext encodes single texts: every token type is 0.
    x = g.op("Add", [word, pos])
    x = g.op("Add", [x, g.const("token_type_0", f32(w["embeddings.token_type_embeddings.weight"][0]))])
    x = g.op("LayerNormalization", [x, g.const("emb_ln_g", f32(w["embeddings.LayerNorm.weight"])),
                                    g.const("emb_ln_b", f32(w["embeddings.LayerNorm.bias"]))], axis=-1, epsilon=eps)

    maskf = g.op("Cast", [mask], to=TensorProto.FLOAT)
    # (1 - mask) * -10000, shaped [batch, 1, 1, seq] to add to the scores.
    neg = g.op("Mul", [g.op("Sub", [g.const("one_f", f32(1.0)), maskf]), g.const("neg_big", f32(-10000.0))])
    neg = g.op("Unsqueeze", [neg, g.const("axes_1_2", np.array([1, 2], dtype=np.int64))])

    split_shape = g.const("split_shape", np.array([0, 0, heads, head], dtype=np.int64))
    merge_shape = g.const("merge_shape", np.array([0, 0, hidden], dtype=np.int64))
    scale = g.const("scale", f32(1.0 / np.sqrt(head)))

    def linear(x, prefix):
        m = g.op("MatMul", [x, g.const(prefix + ".wt", f32(w[prefix + ".weight"].T))])
        return g.op("Add", [m, g.const(prefix + ".b", f32(w[prefix + ".bias"]))])

    def ln(x, prefix):
        return g.op("LayerNormalization", [x, g.const(prefix + ".g", f32(w[prefix + ".weight"])),
                                           g.const(prefix + ".b", f32(w[prefix + ".bias"]))], axis=-1, epsilon=eps)

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.query"), split_shape])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.key"), split_shape])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.value"), split_shape])], perm=[0, 2, 1, 3])
        scores = g.op("MatMul", [q, k], name=f"attention_scores_{i}")
        scores = g.op("Add", [g.op("Mul", [scores, scale]), neg])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("MatMul", [probs, v], name=f"attention_context_{i}")
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = ln(g.op("Add", [linear(ctx, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        erf = g.op("Erf", [g.op("Mul", [h, g.const(f"inv_sqrt2_{i}", f32(1.0 / np.sqrt(2.0)))])])
        h = g.op("Mul", [g.op("Mul", [h, g.op("Add", [erf, g.const(f"one_{i}", f32(1.0))])]),
                         g.const(f"half_{i}", f32(0.5))])
        x = ln(g.op("Add", [linear(h, p + "output.dense"), x]), p + "output.LayerNorm")

    # Mean over the real tokens, then unit length.
    m3 = g.op("Unsqueeze", [maskf, g.const("axis_2", np.array([2], dtype=np.int64))])
    summed = g.op("ReduceSum", [g.op("Mul", [x, m3]), g.const("axis_1", np.array([1], dtype=np.int64))], keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [m3, "axis_1"], keepdims=0), g.const("tiny", f32(1e-9))])
    mean = g.op("Div", [summed, count])
    norm = g.op("Max", [g.op("ReduceL2", [mean], axes=[-1], keepdims=1),
                        g.const("tiny_norm", f32(1e-12))])
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="normalise"))

    graph = helper.make_graph(
        g.nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="readnext")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, [f"attention_scores_{i}" for i in range(cfg["num_hidden_layers"])] + \
        [f"attention_context_{i}" for i in range(cfg["num_hidden_layers"])]


def main():
    import json
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's advice on pre-processing

    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_dir, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    model, attention = build(w, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        f32_path = os.path.join(tmp, "f32.onnx")
        onnx.save(model, f32_path)
        q_path = os.path.join(tmp, "int8.onnx")
        quantize_dynamic(f32_path, q_path, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=attention)
        # Checks on real sentences, padded into one batch (so the mask is
        # exercised): the f32 graph must match the independent numpy forward
        # pass to 1e-4, and the int8 graph must keep close to it.
        vocab = {}
        for i, line in enumerate(open(os.path.join(model_dir, "vocab.txt"), encoding="utf-8")):
            vocab[line.rstrip("\n")] = i
        seqs = [wordpiece(t, vocab) for t in SENTENCES]
        width = max(len(q) for q in seqs)
        ids = np.zeros((len(seqs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, q in enumerate(seqs):
            ids[row, : len(q)] = q
            mask[row, : len(q)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        reference = np.array([encode(q, w, cfg) for q in seqs])
        a = ort.InferenceSession(f32_path, providers=["CPUExecutionProvider"]).run(None, feed)[0]
        b = ort.InferenceSession(q_path, providers=["CPUExecutionProvider"]).run(None, feed)[0]
        gap = float(np.abs(a - reference).max())
        cos = (a * b).sum(1)
        print(f"export-onnx: f32 graph vs numpy reference, largest difference {gap:.2e}")
        print("export-onnx: int8 vs f32 cosine per sentence:", " ".join(f"{c:.4f}" for c in cos))
        if gap > 1e-4:
            sys.exit("export-onnx: the f32 graph does not match the reference forward pass")
        if cos.min() < 0.98:
            sys.exit("export-onnx: the int8 model strays from the f32 one")
        tmp_out = out + ".new"
        shutil.move(q_path, tmp_out)
        os.replace(tmp_out, out)
    print(f"export-onnx: wrote {out}")


if __name__ == "__main__":
    main()
