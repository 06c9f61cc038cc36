"""A small NumPy interpreter for Keras 2 functional models stored in HDF5, so the FER2013
classifier runs without TensorFlow.

It reads the ``model_config`` JSON (the layer graph) and the weights with h5py — nothing is
unpickled — and evaluates the graph in NHWC float32. Only the layer types a compact CNN such
as mini-Xception (Arriaga et al. 2017) needs are supported; any other layer is refused with a
clear error rather than silently mis-evaluated.

Padding follows TensorFlow's 'same' rule: output = ceil(input / stride) and the total padding
goes mostly *after* (the extra pixel on the bottom/right), which matters for stride-2 pooling.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studio.errors import StudioError


@dataclass
class Layer:
    name: str
    kind: str
    config: dict[str, Any]
    inputs: list[str]
    weights: dict[str, np.ndarray] = field(default_factory=dict)


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], padding: str, value: float = 0.0) -> np.ndarray:
    if padding == "valid":
        return x
    if padding != "same":
        raise StudioError(f"Keras padding {padding!r} is not supported by the NumPy interpreter")
    ph = _same_pads(x.shape[1], k[0], s[0])
    pw = _same_pads(x.shape[2], k[1], s[1])
    if ph == (0, 0) and pw == (0, 0):
        return x
    return np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)


def _taps(xp: np.ndarray, k: tuple[int, int], s: tuple[int, int]):
    """Yields (i, j, strided view) for each kernel tap: a convolution is a sum over taps, which
    keeps memory at one feature map instead of an im2col copy."""
    ho = (xp.shape[1] - k[0]) // s[0] + 1
    wo = (xp.shape[2] - k[1]) // s[1] + 1
    for i in range(k[0]):
        for j in range(k[1]):
            yield i, j, xp[:, i : i + (ho - 1) * s[0] + 1 : s[0], j : j + (wo - 1) * s[1] + 1 : s[1], :]


def conv2d(x: np.ndarray, kernel: np.ndarray, strides=(1, 1), padding="valid", bias=None) -> np.ndarray:
    k = kernel.shape[:2]
    xp = _pad(x, k, strides, padding)
    out = None
    for i, j, v in _taps(xp, k, strides):
        term = v @ kernel[i, j]
        out = term if out is None else out + term
    return out if bias is None else out + bias


def depthwise_conv2d(x: np.ndarray, kernel: np.ndarray, strides=(1, 1), padding="valid") -> np.ndarray:
    k, mult = kernel.shape[:2], kernel.shape[3]
    xp = _pad(x, k, strides, padding)
    out = None
    for i, j, v in _taps(xp, k, strides):
        # depth multiplier m: channel c feeds outputs c*m .. c*m+m-1, as in Keras
        term = (v[..., :, None] * kernel[i, j]).reshape(*v.shape[:3], -1) if mult > 1 else v * kernel[i, j, :, 0]
        out = term if out is None else out + term
    return out


def max_pool(x: np.ndarray, pool=(2, 2), strides=(2, 2), padding="valid") -> np.ndarray:
    xp = _pad(x, pool, strides, padding, value=-np.inf)
    out = None
    for _, _, v in _taps(xp, pool, strides):
        out = v.copy() if out is None else np.maximum(out, v)
    return out


def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name == "linear":
        return lambda x: x
    if name == "relu":
        return lambda x: np.maximum(x, 0)
    if name == "softmax":
        def softmax(x: np.ndarray) -> np.ndarray:
            e = np.exp(x - x.max(-1, keepdims=True))
            return e / e.sum(-1, keepdims=True)
        return softmax
    raise StudioError(f"Keras activation {name!r} is not supported by the NumPy interpreter")


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _run_layer(layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    c, w = layer.config, layer.weights
    if layer.kind == "Conv2D":
        if _pair(c.get("dilation_rate", 1)) != (1, 1):
            raise StudioError(f"dilated Conv2D ({layer.name}) is not supported")
        y = conv2d(xs[0], w["kernel"], _pair(c["strides"]), c["padding"], w.get("bias"))
        return _activation(c.get("activation", "linear"))(y)
    if layer.kind == "SeparableConv2D":
        y = depthwise_conv2d(xs[0], w["depthwise_kernel"], _pair(c["strides"]), c["padding"])
        y = conv2d(y, w["pointwise_kernel"], (1, 1), "valid", w.get("bias"))
        return _activation(c.get("activation", "linear"))(y)
    if layer.kind == "BatchNormalization":
        # Keras inference: gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta
        scale = w.get("gamma", 1.0) / np.sqrt(w["moving_variance"] + np.float32(c.get("epsilon", 1e-3)))
        return (xs[0] - w["moving_mean"]) * scale + w.get("beta", 0.0)
    if layer.kind == "Activation":
        return _activation(c["activation"])(xs[0])
    if layer.kind == "MaxPooling2D":
        pool = _pair(c["pool_size"])
        return max_pool(xs[0], pool, _pair(c.get("strides") or pool), c["padding"])
    if layer.kind == "Add":
        return sum(xs[1:], xs[0])
    if layer.kind == "GlobalAveragePooling2D":
        return xs[0].mean(axis=(1, 2))
    if layer.kind == "Dropout":
        return xs[0]  # inference: identity
    raise StudioError(f"Keras layer type {layer.kind} ({layer.name}) is not supported by the NumPy interpreter")


class KerasGraph:
    """A Keras 2 functional model evaluated with NumPy: ``graph(x_nhwc) -> outputs``."""

    def __init__(self, layers: list[Layer], input_name: str, output_name: str, input_shape: tuple[int, ...]):
        self.layers = layers
        self.input_name = input_name
        self.output_name = output_name
        self.input_shape = input_shape  # without the batch axis

    @classmethod
    def from_hdf5(cls, path: str | Path) -> "KerasGraph":
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise StudioError(f"cannot read Keras model {path} ({e}); run `studio weights verify`") from None
        with f:
            if "model_config" not in f.attrs:
                raise StudioError(f"{path} holds no model_config; it is not a full Keras model file")
            raw = f.attrs["model_config"]
            cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            if cfg.get("class_name") not in ("Model", "Functional"):
                raise StudioError(f"{path}: only Keras functional models are supported, got {cfg.get('class_name')}")
            group = f["model_weights"] if "model_weights" in f else f
            layers = []
            for spec in cfg["config"]["layers"]:
                name = spec["name"]
                inputs = [node[0] for inbound in spec.get("inbound_nodes", []) for node in inbound]
                weights: dict[str, np.ndarray] = {}
                if name in group:
                    g = group[name]
                    for wname in g.attrs.get("weight_names", []):
                        wname = wname.decode() if isinstance(wname, bytes) else wname
                        # "conv2d_1/conv2d_1_1/kernel:0" → "kernel"
                        key = wname.rsplit("/", 1)[-1].split(":")[0]
                        weights[key] = np.asarray(g[wname], dtype=np.float32)
                layers.append(Layer(name, spec["class_name"], spec["config"], inputs, weights))
            ins = cfg["config"]["input_layers"]
            outs = cfg["config"]["output_layers"]
            if len(ins) != 1 or len(outs) != 1:
                raise StudioError(f"{path}: only single-input, single-output models are supported")
            first = next(l for l in layers if l.name == ins[0][0])
            shape = tuple(first.config["batch_input_shape"][1:])
        return cls(layers, ins[0][0], outs[0][0], shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.shape[1:] != self.input_shape:
            raise StudioError(f"model expects input of shape (N, {', '.join(map(str, self.input_shape))}), got {x.shape}")
        values: dict[str, np.ndarray] = {self.input_name: x}
        # Keras writes functional layers in topological order, so one pass suffices.
        for layer in self.layers:
            if layer.kind == "InputLayer":
                continue
            missing = [n for n in layer.inputs if n not in values]
            if missing:
                raise StudioError(f"layer {layer.name} needs {missing} which are not computed yet; the graph is not in topological order")
            values[layer.name] = _run_layer(layer, [values[n] for n in layer.inputs]).astype(np.float32, copy=False)
        return values[self.output_name]
