"""A Markdown model card logged with every run: what it was trained on, how it scores, its limits."""

from __future__ import annotations

from training.config import Config
from training.data import LabelledData


def model_card(config: Config, data: LabelledData, metrics: dict[str, float], thresholds: dict[str, float],
               commit: str | None) -> str:
    counts = data.counts()
    lines = [
        f"# readout-tagger model card: {config.family}",
        "",
        "Tags each sentence of a diplomatic meeting readout with the cooperation areas it talks about "
        f"({', '.join(data.labels)}); multi-label, and a sentence may get none.",
        "",
        "## Training data",
        *(f"- file: `{path}` (sha256 digest `{digest}`)" for path, digest in data.digests.items()),
        f"- split by document; seed {config.seed}; code commit `{commit or 'unknown'}`",
        "",
        "| split | sentences | " + " | ".join(data.labels) + " | none |",
        "|---|---:|" + "---:|" * (len(data.labels) + 1),
    ]
    for split, row in counts.items():
        lines.append(f"| {split} | {row['sentences']} | " + " | ".join(str(row[l]) for l in data.labels)
                     + f" | {row['none']} |")
    lines += [
        "",
        "## Model",
        f"- family `{config.family}`: " + ", ".join(f"{k}={v}" for k, v in config.model.to_dict().items()
                                                 if k != "family"),
        f"- thresholds ({config.thresholds.strategy}): " + ", ".join(f"{k} {v:.3f}" for k, v in thresholds.items()),
        "",
        "## Metrics",
        "",
        "| label | val F1 | test F1 | test precision | test recall |",
        "|---|---:|---:|---:|---:|",
    ]
    for label in data.labels:
        lines.append(f"| {label} | {metrics[f'val_f1_{label}']:.3f} | {metrics[f'test_f1_{label}']:.3f} | "
                     f"{metrics[f'test_precision_{label}']:.3f} | {metrics[f'test_recall_{label}']:.3f} |")
    lines += [
        f"| **macro** | {metrics['val_macro_f1']:.3f} | {metrics['test_macro_f1']:.3f} | | |",
        "",
        f"Test micro-F1 {metrics['test_micro_f1']:.3f}; subset accuracy {metrics['test_subset_accuracy']:.3f}.",
        "",
        "## Known limits",
        "- The corpus is written by the project, in English; real readouts differ in wording and topic mix, "
        "so the test split flatters the model. Check it on real, labelled readouts before relying on it.",
        "- Labels follow the project's codebook (data/README.md); borderline areas (connectivity, cyber, "
        "science) follow its rules, which other analysts may draw differently.",
        _context_limit(config),
        "",
    ]
    return "\n".join(lines)


def _context_limit(config: Config) -> str:
    context = config.model.context
    if not context.enabled:
        return ("- Sentences are judged one at a time: a sentence that only points back (\"the agreement\") "
                "gets no label from its context.")
    return (f"- Each sentence is read beside {context.before} sentence(s) before and {context.after} after it in "
            "its readout; sentences tagged one by one have no context and lean on their own words.")
