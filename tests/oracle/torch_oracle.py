#!/usr/bin/env python3
"""PyTorch as the oracle for Ember's tests.

A test process starts this script once and sends requests over stdin; each
request is one JSON line followed by the raw little-endian bytes of its
tensors, each reply the same. A request evaluates a Python expression over
named input tensors (a, b, c, ... in order; also x[0], x[1], ...) with
`torch` and `F` (torch.nn.functional) in scope, then, if asked, backpropagates
the given upstream gradients and returns the inputs' gradients.

Request:  {"expr": str, "inputs": [{"shape", "dtype", "requires_grad"}],
           "grad_outputs": [{"shape", "dtype"} or null], "setup": str (optional)}
Reply:    {"outputs": [{"shape", "dtype"}], "grads": [{"shape", "dtype"} or null],
           "names": [str] when the expression gave a dict}
          or {"error": str}
"""
import json
import string
import sys
import traceback

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(False)

CACHE = {}  # kept across requests: setups store expensive objects (models) here

WIRE = {  # how each dtype travels: numpy type on the wire, torch dtype
    "float32": (np.float32, torch.float32),
    "float64": (np.float64, torch.float64),
    "float16": (np.float32, torch.float16),
    "bfloat16": (np.float32, torch.bfloat16),
    "int32": (np.int64, torch.int32),
    "int64": (np.int64, torch.int64),
    "uint8": (np.int64, torch.uint8),
    "bool": (np.uint8, torch.bool),
}
NAMES = {v[1]: k for k, v in WIRE.items()}


def read_tensor(stream, meta):
    np_type, torch_type = WIRE[meta["dtype"]]
    count = int(np.prod(meta["shape"], dtype=np.int64)) if meta["shape"] else 1
    raw = stream.read(count * np.dtype(np_type).itemsize)
    array = np.frombuffer(raw, dtype=np_type).reshape(meta["shape"]).copy()
    return torch.from_numpy(array).to(torch_type)


def write_tensor(t):
    """float32 travels as float32, other floats as float64, integers as int64, bools as uint8."""
    name = NAMES.get(t.dtype)
    if name is None:
        raise TypeError(f"unsupported output dtype {t.dtype}")
    data = t.detach().to("cpu")
    if data.dtype == torch.float32:
        array, wire = data.numpy(), "float32"
    elif data.is_floating_point():
        array, wire = data.to(torch.float64).numpy(), "float64"
    elif data.dtype == torch.bool:
        array, wire = data.numpy().astype(np.uint8), "bool"
    else:
        array, wire = data.to(torch.int64).numpy(), "int64"
    return {"shape": list(t.shape), "dtype": name, "wire": wire}, np.ascontiguousarray(array).tobytes()


def read_request(request, stream):
    inputs = []
    for meta in request["inputs"]:
        t = read_tensor(stream, meta)
        if meta.get("requires_grad"):
            t.requires_grad_(True)
        inputs.append(t)
    grad_outputs = [None if m is None else read_tensor(stream, m) for m in request.get("grad_outputs", [])]
    return inputs, grad_outputs


def evaluate(request, inputs, grad_outputs):
    torch.set_grad_enabled(True)  # a previous request's setup may have turned it off
    scope = {"torch": torch, "F": F, "np": np, "x": inputs, "cache": CACHE}
    for name, t in zip(string.ascii_lowercase, inputs):
        scope[name] = t
    if request.get("setup"):
        exec(request["setup"], scope)
    result = eval(request["expr"], scope)
    names = None
    if isinstance(result, dict):  # e.g. a state_dict: keys travel as "names"
        names = list(result.keys())
        result = list(result.values())
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    outputs = [o if isinstance(o, torch.Tensor) else torch.tensor(o) for o in outputs]
    grads = [None] * len(inputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if g is not None and o.requires_grad]
    if pairs and any(t.requires_grad for t in inputs):
        torch.autograd.backward([o for o, _ in pairs], [g.to(o.dtype) for o, g in pairs])
        grads = [t.grad if t.requires_grad else None for t in inputs]
    metas, blobs = {"outputs": [], "grads": []}, []
    if names is not None:
        metas["names"] = names
    for o in outputs:
        m, b = write_tensor(o)
        metas["outputs"].append(m)
        blobs.append(b)
    for g in grads:
        if g is None:
            metas["grads"].append(None)
        else:
            m, b = write_tensor(g)
            metas["grads"].append(m)
            blobs.append(b)
    return metas, blobs


def main():
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    stdout.write(b'{"ready": true, "torch": "' + torch.__version__.encode() + b'"}\n')
    stdout.flush()
    while True:
        line = stdin.readline()
        if not line:
            return
        request = json.loads(line)
        inputs, grad_outputs = read_request(request, stdin)  # always consume the whole request
        try:
            metas, blobs = evaluate(request, inputs, grad_outputs)
        except Exception as e:  # report to the test, keep serving
            metas, blobs = {"error": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=2)}"}, []
        stdout.write(json.dumps(metas).encode() + b"\n")
        for b in blobs:
            stdout.write(b)
        stdout.flush()


if __name__ == "__main__":
    main()
