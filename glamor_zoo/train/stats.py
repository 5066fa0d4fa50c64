"""The Stuart–Maxwell test of marginal homogeneity (paper Table 5).

It generalises McNemar's test to k classes: given two raters' labels for the same items (two
models' predictions, or a model's predictions and the ground truth), it tests whether both
raters use the classes at the same rates. The paper reports its p-values for each pair of
attention variants and, on the diagonal, each model against the ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["StuartMaxwellResult", "stuart_maxwell", "stuart_maxwell_table"]


@dataclass(frozen=True)
class StuartMaxwellResult:
    """Outcome of the test.

    Attributes:
        statistic: The chi-square statistic d' S⁻¹ d.
        df: Degrees of freedom (classes used, minus one).
        p_value: Upper-tail chi-square probability of ``statistic``.
        num_items: Items compared.
        classes_used: Classes that enter the test (those with any disagreement).
    """

    statistic: float
    df: int
    p_value: float
    num_items: int
    classes_used: tuple[int, ...]


def _chi2_sf(statistic: float, df: int) -> float:
    """Upper-tail chi-square probability: the regularised upper incomplete gamma Q(df/2, x/2)."""
    import torch

    value = torch.special.gammaincc(
        torch.tensor(df / 2, dtype=torch.float64), torch.tensor(statistic / 2, dtype=torch.float64)
    )
    return float(value)


def stuart_maxwell_table(table: np.ndarray | Sequence[Sequence[int]]) -> StuartMaxwellResult:
    """Stuart–Maxwell test on a square contingency table (rows: rater A, columns: rater B).

    d_i = n_i. − n_.i; S_ii = n_i. + n_.i − 2 n_ii; S_ij = −(n_ij + n_ji); statistic = d' S⁻¹ d
    over k − 1 of the classes (any one may be dropped: the statistic does not change), compared
    with chi-square on k − 1 degrees of freedom.

    Classes with no off-diagonal count (S_ii = 0) carry no information and make S singular; they
    are left out and the degrees of freedom shrink accordingly.

    Raises:
        ValueError: the table is not square or has negative counts.
    """
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise ValueError(f"the contingency table must be square, got shape {table.shape}")
    if (table < 0).any():
        raise ValueError("the contingency table has negative counts")
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    variance = rows + cols - 2 * np.diag(table)
    used = tuple(int(i) for i in np.flatnonzero(variance > 0))
    if len(used) < 2:
        return StuartMaxwellResult(0.0, 0, 1.0, int(table.sum()), used)
    sub = table[np.ix_(used, used)]
    d = (rows - cols)[list(used)][:-1]
    cov = -(sub + sub.T)
    np.fill_diagonal(cov, variance[list(used)])
    cov = cov[:-1, :-1]
    statistic = float(d @ np.linalg.solve(cov, d))
    df = len(used) - 1
    return StuartMaxwellResult(statistic, df, _chi2_sf(statistic, df), int(table.sum()), used)


def stuart_maxwell(
    labels_a: Sequence[int], labels_b: Sequence[int], num_classes: int
) -> StuartMaxwellResult:
    """Stuart–Maxwell test between two raters' labels of the same items."""
    from glamor_zoo.train.metrics import confusion_matrix

    return stuart_maxwell_table(confusion_matrix(labels_a, labels_b, num_classes))
