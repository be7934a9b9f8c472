"""`readout audit` finds label errors planted in a small corpus and ranks them near the top."""

from __future__ import annotations

import json

from helpers import CORPUS, run_cli, write_config, write_jsonl

DOCS = 200  # ~1,900 sentences: tfidf over 3 folds in a few seconds (with 120, a third of the errors hide)
PLANTED = 15
WRONG = {"trade": "culture", "energy": "defence", "defence": "culture", "culture": "energy"}


def _small_corpus_with_planted_errors(path, n_docs=DOCS, prefix=""):
    rows, docs = [], []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row["doc_id"].startswith(prefix):
            continue
        if row["doc_id"] not in docs:
            if len(docs) == n_docs:
                break
            docs.append(row["doc_id"])
        rows.append(row)
    # Plain one-label sentences (no label read from context) get another area's label instead.
    plain = [i for i, row in enumerate(rows) if len(row["labels"]) == 1 and "rule.context" not in row["clauses"]
             and not any(c.startswith("near:") for c in row["clauses"])]
    planted = {}
    for i in plain[:: len(plain) // PLANTED][:PLANTED]:
        planted[rows[i]["text"]] = rows[i]["labels"]
        rows[i] = {**rows[i], "labels": [WRONG[rows[i]["labels"][0]]]}
    return write_jsonl(path, rows), planted


def test_planted_label_errors_rank_near_the_top(tmp_path):
    data, planted = _small_corpus_with_planted_errors(tmp_path / "corpus.jsonl")
    config = write_config(tmp_path / "config.yaml", data)
    result = run_cli("audit", "-c", str(config), "-k", "3", "--format", "jsonl", "--limit", "1000", cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    findings = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [f["rank"] for f in findings] == list(range(1, len(findings) + 1))
    assert all(a["quality"] <= b["quality"] for a, b in zip(findings, findings[1:]))
    top = {f["text"]: f for f in findings[: 2 * PLANTED]}  # measured: 14 of 15 in the top 21
    caught = [text for text in planted if text in top]
    assert len(caught) >= 0.8 * PLANTED, f"only {len(caught)} of {PLANTED} planted errors in the top {2 * PLANTED}"
    # Most caught ones get their true label back as the suggestion, and every one says what to check.
    restored = [t for t in caught if planted[t][0] in top[t]["suggested"] and top[t]["labels"] != planted[t]]
    assert len(restored) >= 0.7 * len(caught)
    assert all(top[t]["check"] and top[t]["where"].startswith(f"{data}:") for t in caught)


def test_the_table_names_the_clause_to_check_and_bad_k_is_one_line(tmp_path):
    data, _ = _small_corpus_with_planted_errors(tmp_path / "corpus.jsonl", n_docs=60, prefix="w")  # new readouts: they name clauses
    config = write_config(tmp_path / "config.yaml", data)
    table = run_cli("audit", "-c", str(config), "-k", "2", "--limit", "5", cwd=tmp_path, env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr.decode()
    out = table.stdout.decode()
    assert "likely label errors" in out and "clauses" in out and "codebook:" in out
    bad = run_cli("audit", "-c", str(config), "-k", "100000", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.decode().startswith("error: -k must be between 2 and")
