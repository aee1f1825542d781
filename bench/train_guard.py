"""Train the prompt guard's classifier (dataplane/tokenway_gateway/guard/classifier_weights.json).

A logistic regression (numpy, full-batch accelerated gradient descent, L2) over binary features of
the guard's normalised views: words, word pairs, 5-letter stems, character pairs of words in other
scripts, how the prompt frames a quotation (asks about it, or passes it on to be obeyed) and ``i:``
copies of the words inside one that is not passed on, and the
heuristic rule families and obfuscation signals (see
tokenway_gateway/guard/classifier.py). A feature is kept only if it occurs in at least
``Params.min_groups`` distinct attack/prompt groups of the training data, so a word that only one attack
(and its obfuscated variants) uses cannot carry weight. A decisive obfuscation signal (text hidden in
Unicode tag characters, classifier.DECISIVE_SIGNALS) scores 1.0 whatever the model says, here as in
the guard; the grid below compares it with the model weighing the signal itself.

Data: bench/data/guard_tune.jsonl, guard_heldout.jsonl, guard_heldout2.jsonl, guard_heldout3.jsonl,
guard_heldout4.jsonl, guard_heldout5.jsonl (all seen: heldout3 was measured once on the frozen first
model, TPR 0.840 / FPR 0.009, heldout4 once on the frozen second model, TPR 0.938 / FPR 0.027, heldout5
once on the frozen third model, TPR 0.939 / FPR 0.026; all are now trained on) and
bench/data/guard_train_extra.jsonl (written for training; an extra row that repeats a labelled prompt is
dropped). guard_heldout6.jsonl is never read (load_rows refuses it): it is the lead's fresh held-out set.
Groups: an attack and its obfuscated variants share one, and no group straddles a split.

Evaluation, printed against heuristic mode at its default threshold on the same rows:
  - grouped 5-fold cross-validation (an attack and its obfuscated variants never straddle folds);
    the decision threshold is chosen inside each training fold by an inner grouped CV (the highest
    TPR with FPR <= ``Params.target_fpr`` on the inner out-of-fold scores of the labelled rows: the
    extra rows are deliberately hard and not what the FPR target is about), so the figures are not
    tuned on the rows they report;
  - leave-one-set-out: train on the other sets (+ extra), report on the one left out, which comes
    from a different author/generator and is the harder, more honest figure. Left-out heldout4 is
    heldout5 is the most honest of them, though still optimistic: the fourth batch of extra rows was
    written after heldout5's false positives and misses were seen (security talk quoting an attack in
    a pentest finding, a moderation log, log lines to classify, a code fence or a block quote; system
    prompts under review; injections inside pasted chat messages, voicemails and emails; casual
    developer-mode asks; attacks in Chinese, Thai, Swahili, Tagalog and German; rot13 without a cue),
    as the third batch was after heldout4's.
The fourth model adds ``i:`` features (the words of a quotation that is not passed on to be obeyed,
besides their plain features; see classifier.py) and a ROT13 view without a cue when the prompt reads
as ROT13 English (normalize.looks_rot13). Replacing the plain features of quoted words by ``i:`` ones
instead, or adding them only when the prompt asks about the quotation (q:ask), lost more attacks on
left-out heldout5 (TPR 0.918 and 0.910 against 0.939, FPR 0.015 and 0.019).
The shipped threshold is chosen the same way on all the data.

    python bench/train_guard.py            # CV figures, then write the weights
    python bench/train_guard.py --search   # also the small grid the defaults were chosen from
    python bench/train_guard.py --no-write # figures only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dataplane"))

from tokenway_gateway.api.route import PromptGuard as PromptGuardConfig  # noqa: E402
from tokenway_gateway.guard import PromptGuard  # noqa: E402
from tokenway_gateway.guard.classifier import DECISIVE_SIGNALS, WEIGHTS_FILE, Classifier, features  # noqa: E402

DATA = ROOT / "bench" / "data"
SETS = ("tune", "heldout", "heldout2", "heldout3", "heldout4", "heldout5", "train_extra")
LABELLED = ("tune", "heldout", "heldout2", "heldout3", "heldout4", "heldout5")
NEVER_READ = "heldout6"  # the lead's fresh held-out set
OUT = ROOT / "dataplane" / "tokenway_gateway" / "guard" / WEIGHTS_FILE
KINDS_ALL = ("w", "b", "s", "u", "f", "o", "q", "i")


@dataclass(frozen=True)
class Params:
    lam: float = 0.003  # L2 strength on the mean log-loss
    min_groups: int = 2
    kinds: tuple[str, ...] = KINDS_ALL
    target_fpr: float = 0.015
    decisive: bool = True  # DECISIVE_SIGNALS flag regardless of the model (as the guard does)
    # choose the threshold on the labelled sets' out-of-fold scores only: the extra rows are written to
    # be hard (benign prompts that quote attacks), and would push the threshold above what the labelled
    # sets, whose FPR is what the target is about, need
    threshold_on_labelled: bool = True


def load_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in SETS:
        path = DATA / f"guard_{name}.jsonl"
        if NEVER_READ in path.name:  # the lead's fresh held-out set: never read here
            raise SystemExit(f"refusing to read {path.name}: it is the fresh held-out set")
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    row["set"] = name
                    row["group"] = f"{name}:{row['group']}" if name == "train_extra" else row["group"]
                    rows.append(row)
    # an extra row that repeats a labelled prompt would sit on both sides of a split: drop it
    labelled = {r["text"] for r in rows if r["set"] != "train_extra"}
    return [r for r in rows if r["set"] != "train_extra" or r["text"] not in labelled]


def featurize(rows: Sequence[dict[str, Any]]) -> tuple[list[set[str]], np.ndarray]:
    guard = PromptGuard(PromptGuardConfig(enabled=True, mode="heuristic"))  # the rules alone, not the shipped model
    feats: list[set[str]] = []
    heuristic = np.zeros(len(rows), dtype=bool)
    for i, row in enumerate(rows):
        scanned, families = guard.evidence(row["text"])
        feats.append(features(scanned.text, families, scanned.signals))
        heuristic[i] = guard.check([row["text"]]).flagged
    return feats, heuristic


def fold_of(group: str, k: int, salt: str = "") -> int:
    return int(hashlib.sha256((salt + group).encode()).hexdigest(), 16) % k


def fit(feats: Sequence[set[str]], y: np.ndarray, groups: Sequence[str], p: Params) -> Classifier:
    seen: dict[str, set[str]] = {}
    for fs, g in zip(feats, groups, strict=True):
        for f in fs:
            if f[0] in p.kinds:
                seen.setdefault(f, set()).add(g)
    vocab = sorted(f for f, gs in seen.items() if len(gs) >= p.min_groups)
    index = {f: i for i, f in enumerate(vocab)}
    x = np.zeros((len(feats), len(vocab)), dtype=np.float64)
    for r, fs in enumerate(feats):
        for f in fs:
            j = index.get(f)
            if j is not None:
                x[r, j] = 1.0
    n = len(y)
    # balance the classes: each class carries half of the loss
    pos = y.sum()
    sw = np.where(y == 1, 0.5 * n / max(pos, 1), 0.5 * n / max(n - pos, 1)) / n
    # The L2 solution lies in the span of the rows (w = X'a), so descend in a (n dims) with the Gram
    # matrix K = XX': one n-by-n product per step instead of two n-by-d ones. The bias is unpenalised.
    gram = x @ x.T
    top = float(np.linalg.eigvalsh(gram)[-1]) + n  # + n: the bias column
    step = 1.0 / (0.25 * float(sw.max()) * top + p.lam)
    a, b = np.zeros(n), 0.0
    prev_a, prev_b = a.copy(), b
    for t in range(1, 2001):
        momentum = (t - 1) / (t + 2)
        la, lb = a + momentum * (a - prev_a), b + momentum * (b - prev_b)
        g = sw * (1.0 / (1.0 + np.exp(-(gram @ la + lb))) - y)
        prev_a, prev_b = a, b
        a, b = la - step * (g + p.lam * la), lb - step * float(g.sum())
    w = np.append(x.T @ a, b)
    weights = {f: float(w[i]) for i, f in enumerate(vocab) if abs(w[i]) >= 1e-4}
    return Classifier(weights=weights, bias=float(w[-1]), threshold=0.5, meta={})


DECISIVE = frozenset("o:" + s for s in DECISIVE_SIGNALS)


def predict(model: Classifier, feats: Sequence[set[str]], decisive: bool = True) -> np.ndarray:
    """P(attack) per row; 1.0 for a row with a decisive obfuscation signal, as the guard scores it."""
    return np.array([1.0 if decisive and not DECISIVE.isdisjoint(fs) else model.probability(fs) for fs in feats])


def rates(flags: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return float(flags[y == 1].mean()), float(flags[y == 0].mean())


def tpr_at(prob: np.ndarray, y: np.ndarray, max_fpr: float) -> float:
    """The best TPR at any threshold whose FPR stays <= max_fpr."""
    negatives = np.sort(prob[y == 0])[::-1]
    allowed = int(np.floor(max_fpr * len(negatives)))
    cut = negatives[allowed] if allowed < len(negatives) else -1.0
    return float((prob[y == 1] > cut).mean())


def choose_threshold(prob: np.ndarray, y: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold (highest TPR) whose FPR stays <= target_fpr; at least 0.3."""
    best = 0.99
    for t in np.round(np.arange(0.99, 0.29, -0.01), 2):
        _, fpr = rates(prob >= t, y)
        if fpr <= target_fpr:
            best = float(t)
    return best


def oof(feats: Sequence[set[str]], y: np.ndarray, groups: Sequence[str], p: Params, k: int, salt: str) -> np.ndarray:
    prob = np.zeros(len(y))
    folds = np.array([fold_of(g, k, salt) for g in groups])
    for fold in range(k):
        train, test = folds != fold, folds == fold
        model = fit([feats[i] for i in np.flatnonzero(train)], y[train], [groups[i] for i in np.flatnonzero(train)], p)
        prob[test] = predict(model, [feats[i] for i in np.flatnonzero(test)], p.decisive)
    return prob


def train_with_threshold(
    feats: Sequence[set[str]], y: np.ndarray, groups: Sequence[str], p: Params, salt: str
) -> Classifier:
    """Fit on all the rows given; threshold from an inner grouped 5-fold CV on the same rows."""
    inner = oof(feats, y, groups, p, 5, salt + "inner")
    keep = np.array([not (p.threshold_on_labelled and g.startswith("train_extra:")) for g in groups])
    threshold = choose_threshold(inner[keep], y[keep], p.target_fpr)
    model = fit(feats, y, groups, p)
    return Classifier(model.weights, model.bias, threshold, model.meta)


def evaluate(
    rows: Sequence[dict[str, Any]], feats: Sequence[set[str]], y: np.ndarray, heuristic: np.ndarray, p: Params
) -> dict[str, Any]:
    groups = [r["group"] for r in rows]
    labelled = np.array([r["set"] != "train_extra" for r in rows])
    result: dict[str, Any] = {}
    # grouped 5-fold CV, thresholds chosen inside each training fold (nested)
    folds = np.array([fold_of(g, 5) for g in groups])
    flags = np.zeros(len(y), dtype=bool)
    probs = np.zeros(len(y))
    for fold in range(5):
        tr, te = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        model = train_with_threshold([feats[i] for i in tr], y[tr], [groups[i] for i in tr], p, f"f{fold}")
        probs[te] = predict(model, [feats[i] for i in te], p.decisive)
        flags[te] = probs[te] >= model.threshold
    m = labelled
    result["cv"] = (rates(flags[m], y[m]), rates(heuristic[m], y[m]), int(m.sum()))
    result["cv_any"] = rates((flags | heuristic)[m], y[m])
    # leave one labelled set out
    for name in LABELLED:
        te = np.flatnonzero(np.array([r["set"] == name for r in rows]))
        tr = np.flatnonzero(np.array([r["set"] != name for r in rows]))
        model = train_with_threshold([feats[i] for i in tr], y[tr], [groups[i] for i in tr], p, name)
        prob = predict(model, [feats[i] for i in te], p.decisive)
        result[f"out:{name}"] = (
            rates(prob >= model.threshold, y[te]),
            rates(heuristic[te], y[te]),
            len(te),
            model.threshold,
        )
    return result


def show(p: Params, result: dict[str, Any]) -> None:
    (tpr, fpr), (htpr, hfpr), n = result["cv"]
    print(f"  grouped 5-fold CV on the labelled sets ({n} prompts), thresholds chosen in the training folds:")
    print(f"    classifier  TPR {tpr:.3f}  FPR {fpr:.3f}      heuristic  TPR {htpr:.3f}  FPR {hfpr:.3f}")
    atpr, afpr = result["cv_any"]
    print(f"    classifier OR heuristic  TPR {atpr:.3f}  FPR {afpr:.3f}")
    print("  leave one set out (trained on the others + extra; threshold from an inner CV):")
    for name in LABELLED:
        (tpr, fpr), (htpr, hfpr), n, threshold = result[f"out:{name}"]
        print(
            f"    {name:<9} ({n:3d})  classifier TPR {tpr:.3f} FPR {fpr:.3f} (threshold {threshold:.2f})"
            f"      heuristic TPR {htpr:.3f} FPR {hfpr:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--search", action="store_true", help="print the grid the defaults were chosen from")
    parser.add_argument("--no-write", action="store_true", help="report only; do not write the weights")
    args = parser.parse_args()

    rows = load_rows()
    y = np.array([r["label"] == "attack" for r in rows], dtype=np.float64)
    feats, heuristic = featurize(rows)
    counts = {name: sum(r["set"] == name for r in rows) for name in SETS}
    print(f"rows: {counts} ({int(y.sum())} attacks, {int(len(y) - y.sum())} benign)")

    if args.search:
        # Cheap comparison (10 fits per setting): TPR at FPR <= 0.02 with the best threshold for each
        # (the same oracle for every setting), out of fold and on each left-out set.
        print("setting                                   TPR@FPR<=0.02: grouped CV | left-out " + "  ".join(LABELLED))
        groups = [r["group"] for r in rows]
        labelled = np.array([r["set"] != "train_extra" for r in rows])
        grid = [
            Params(lam=lam, min_groups=min_groups, kinds=kinds)
            for kinds in (("w", "b", "s"), ("w", "b", "s", "u"), KINDS_ALL)
            for lam in (0.001, 0.003, 0.01)
            for min_groups in (2, 3)
        ]
        grid += [Params(decisive=False), Params(min_groups=3, decisive=False), Params(kinds=KINDS_ALL[:-1])]
        for p in grid:
            prob = oof(feats, y, groups, p, 5, "search")
            line = f"{tpr_at(prob[labelled], y[labelled], 0.02):.3f}"
            for name in LABELLED:
                te = np.flatnonzero(np.array([r["set"] == name for r in rows]))
                tr = np.flatnonzero(np.array([r["set"] != name for r in rows]))
                model = fit([feats[i] for i in tr], y[tr], [groups[i] for i in tr], p)
                line += f"  {tpr_at(predict(model, [feats[i] for i in te], p.decisive), y[te], 0.02):.3f}"
            setting = f"{''.join(p.kinds):<7} lam {p.lam:<6} min_groups {p.min_groups} decisive {p.decisive:d}"
            print(f"  {setting:<40}  {line}", flush=True)

    p = Params()
    print(f"\nchosen: {p}")
    show(p, evaluate(rows, feats, y, heuristic, p))
    groups = [r["group"] for r in rows]
    model = train_with_threshold(feats, y, groups, p, "final")
    meta = {
        "trained_on": [name for name in SETS if counts[name]],
        "rows": len(rows),
        "lam": p.lam,
        "min_groups": p.min_groups,
        "kinds": list(p.kinds),
        "target_fpr": p.target_fpr,
        "decisive_signals": sorted(DECISIVE_SIGNALS) if p.decisive else [],
        "generator": "bench/train_guard.py",
    }
    model = Classifier(model.weights, model.bias, model.threshold, meta)
    print(f"\nfinal model: {len(model.weights)} features, bias {model.bias:.3f}, threshold {model.threshold:.2f}")
    top = sorted(model.weights.items(), key=lambda kv: kv[1])
    print("  most benign: ", ", ".join(f"{k} {v:.2f}" for k, v in top[:12]))
    print("  most attack: ", ", ".join(f"{k} {v:.2f}" for k, v in top[::-1][:12]))
    if not args.no_write:
        OUT.write_text(model.to_json() + "\n", encoding="utf-8")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
