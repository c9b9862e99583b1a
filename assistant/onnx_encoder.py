"""An int8 ONNX copy of the packaged sentence-transformers model, served by onnxruntime + tokenizers.

Why our own export rather than sentence-transformers' `backend="onnx"`: that backend needs `optimum` at
serve time and still imports torch, whose import alone costs seconds; here serving needs only
onnxruntime and the `tokenizers` fast tokenizer, and torch is touched once, at export.

The export is cached under the data dir, keyed by the sha256 of the model's weights, and written
atomically (temporary files, then `os.replace`), so several processes may start at once. At export the
int8 model is compared with the fp32 PyTorch model on a fixed sample; the figure is stored beside the
model, and a model below the agreement threshold is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.encoder_sample import AGREEMENT_SAMPLE

log = logging.getLogger(__name__)

MODEL_FILE = "model.int8.onnx"
RECORD_FILE = "agreement.json"
# Bumped when the export recipe changes, so a cached model from an older recipe is rebuilt.
RECIPE = "torch.onnx.export(opset 17) + quantize_dynamic(QInt8, per-channel)"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class OnnxUnavailable(RuntimeError):
    """The ONNX encoder cannot be used here; the message says why (it goes into the one log line)."""


@dataclass(frozen=True)
class ModelLayout:
    """What the export must reproduce of a sentence-transformers folder: truncation and pooling."""

    path: Path
    weights: Path
    max_seq_length: int
    dimension: int

    @classmethod
    def read(cls, path: Path) -> ModelLayout:
        weights = next((path / name for name in _WEIGHT_FILES if (path / name).exists()), None)
        if weights is None:
            raise OnnxUnavailable(f"no weights file ({' or '.join(_WEIGHT_FILES)}) in {path}")
        if not (path / "tokenizer.json").exists():
            raise OnnxUnavailable(f"no fast tokenizer (tokenizer.json) in {path}")
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds != ["Transformer", "Pooling", "Normalize"]:
            raise OnnxUnavailable(f"unsupported modules {kinds} (expected Transformer, Pooling, Normalize)")
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((path / pooling_dir / "config.json").read_text(encoding="utf-8"))
        modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v)
        if modes != ["pooling_mode_mean_tokens"]:
            raise OnnxUnavailable(f"unsupported pooling {modes} (only mean pooling is exported)")
        bert = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return cls(
            path=path,
            weights=weights,
            max_seq_length=int(bert["max_seq_length"]),
            dimension=int(pooling["word_embedding_dimension"]),
        )


def weights_checksum(weights: Path) -> str:
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_folder(cache_dir: Path, checksum: str) -> Path:
    return cache_dir / f"onnx-{checksum[:16]}"


def _write_atomically(target: Path, write: Any) -> None:
    """`write(tmp_path)` fills a temporary file beside `target`, which then replaces it in one step."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from other service accounts
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class OnnxEncoder:
    """Tokenise, run the int8 graph, mean-pool over real tokens and L2-normalise: the packaged model's
    own Transformer -> Pooling(mean) -> Normalize stack, with sentence-transformers' length-sorted
    batching (padding per batch, so short sentences never pay for a long one)."""

    def __init__(self, model_file: Path, layout: ModelLayout, threads: int = 2) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as err:
            raise OnnxUnavailable(f"{err.name} is not installed") from err
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidProtobuf/RuntimeException types
            raise OnnxUnavailable(f"onnxruntime cannot load {model_file}: {err}") from err
        self.tokenizer = Tokenizer.from_file(str(layout.path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=layout.max_seq_length)
        self.tokenizer.enable_padding()
        self.dimension = layout.dimension
        self._input_names = {i.name for i in self.session.get_inputs()}
        try:  # an unsupported instruction set or a broken graph shows here, not at load
            probe = self._run(["a test sentence"])
        except Exception as err:
            raise OnnxUnavailable(f"test inference failed: {err}") from err
        if probe.shape != (1, self.dimension) or not np.isfinite(probe).all():
            raise OnnxUnavailable(f"test inference returned {probe.shape} or non-finite values")

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self._input_names})[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: np.ndarray = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._run([texts[i] for i in idx])
        return out


def export_int8(layout: ModelLayout, folder: Path, checksum: str) -> dict[str, Any]:
    """Export, quantise and measure agreement; returns the record written beside the model."""
    try:
        import onnx  # noqa: F401  (onnxruntime.quantization needs it; fail with a clear reason)
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise OnnxUnavailable(f"{err.name} is needed to export the ONNX model") from err

    folder.mkdir(parents=True, exist_ok=True)
    reference = SentenceTransformer(str(layout.path), device="cpu", local_files_only=True)
    auto_model: Any = reference[0].auto_model
    transformer = auto_model.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    dummy = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUTS, "last_hidden_state")}
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHidden(transformer),
                (dummy, dummy, torch.zeros_like(dummy)),
                str(fp32),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        int8 = Path(tmp) / MODEL_FILE
        # Per-channel weight scales: per-tensor QInt8 measured a mean cosine of 0.96 on the sample.
        # (quant_pre_process's symbolic shape inference fails on this graph, and the session applies the
        # same graph optimisations when it loads.)
        with _quiet_root_logger():
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        encoder = OnnxEncoder(int8, layout)
        sample = list(AGREEMENT_SAMPLE)
        expected = reference.encode(sample, normalize_embeddings=True, show_progress_bar=False)
        got = encoder.encode(sample, batch_size=16)
        cosines = (np.asarray(expected, dtype=np.float32) * got).sum(axis=1)
        record = {
            "model_sha256": checksum,
            "recipe": RECIPE,
            "sample_sentences": len(sample),
            "mean_cosine": round(float(cosines.mean()), 5),
            "min_cosine": round(float(cosines.min()), 5),
            "onnxruntime": _version("onnxruntime"),
            "torch": torch.__version__,
        }
        # The record first, the model last: a folder with a model file is always complete.
        _write_atomically(folder / RECORD_FILE, lambda p: p.write_text(json.dumps(record, indent=2)))
        _write_atomically(folder / MODEL_FILE, lambda p: os.replace(int8, p))
    return record


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantizer logs its pre-processing advice on the root logger, which, with no handler yet,
    would install one on stderr for the whole process."""
    root = logging.getLogger()
    spare = None if root.handlers else logging.NullHandler()
    if spare is not None:
        root.addHandler(spare)

    def advice(record: logging.LogRecord) -> bool:
        return "pre-process" not in record.getMessage()

    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)
        if spare is not None:
            root.removeHandler(spare)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def read_record(folder: Path) -> dict[str, Any] | None:
    if not (folder / MODEL_FILE).exists() or not (folder / RECORD_FILE).exists():
        return None
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("recipe") == RECIPE else None


def open_int8(model_path: Path, cache_dir: Path, min_agreement: float, threads: int) -> OnnxEncoder:
    """The cached int8 encoder for `model_path`, exported first if missing; raises `OnnxUnavailable`."""
    layout = ModelLayout.read(model_path)
    checksum = weights_checksum(layout.weights)
    folder = cache_folder(cache_dir, checksum)
    record = read_record(folder)
    if record is None:
        from filelock import FileLock

        folder.mkdir(parents=True, exist_ok=True)
        # Several processes starting at once: one exports, the others wait and then read its files.
        with FileLock(str(folder / ".export.lock")):
            record = read_record(folder)
            if record is None:
                log.info("exporting %s to int8 ONNX under %s (once per model)", model_path.name, folder)
                try:
                    record = export_int8(layout, folder, checksum)
                except OnnxUnavailable:
                    raise
                except Exception as err:  # torch's exporter and the quantizer raise many kinds
                    raise OnnxUnavailable(f"export failed: {type(err).__name__}: {err}") from err
    agreement = float(record.get("mean_cosine", 0.0))
    if agreement < min_agreement:
        raise OnnxUnavailable(
            f"int8 model agrees with PyTorch at mean cosine {agreement:.4f} < {min_agreement} "
            f"on {record.get('sample_sentences')} sample sentences ({folder / RECORD_FILE})"
        )
    return OnnxEncoder(folder / MODEL_FILE, layout, threads)
