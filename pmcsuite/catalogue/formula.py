"""Derived-metric formulas: check one (counter ids, numbers, + - * /, parentheses) and evaluate it.

A formula is evaluated elementwise over pandas objects as over plain numbers; a division by zero
gives NaN, never an error, so one empty cell does not stop a table.
"""
from __future__ import annotations

import ast
import math
import operator

from ..errors import PmcsuiteError

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: None}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


#: longer formulas are refused: a derived metric is a short expression (and a deep one overflows ast.parse)
MAX_FORMULA = 500


def parse_formula(formula: str, where: str = "formula") -> list[str]:
    """Check ``formula`` (names, numbers, + - * /, parentheses) and return the names it uses."""
    if not isinstance(formula, str) or not formula.strip():
        raise PmcsuiteError(f"{where}: formula must be a non-empty string such as 'cycles / instructions'")
    if len(formula) > MAX_FORMULA:
        raise PmcsuiteError(f"{where}: the formula is {len(formula)} characters long; keep it under {MAX_FORMULA}")
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise PmcsuiteError(f"{where}: '{formula[:80]}' is not a valid formula; use counter ids, numbers, + - * / and "
                            "parentheses") from None
    found: list[ast.Name] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append(node)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise PmcsuiteError(f"{where}: '{formula}' contains {node.value!r}; "
                                    "only numbers are allowed as constants")
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load, *_BINOPS, *_UNARY)):
            raise PmcsuiteError(
                f"{where}: '{formula}' uses {type(node).__name__}; only counter ids, numbers, + - * / and "
                "parentheses are allowed")
    names: list[str] = []
    for node in sorted(found, key=lambda n: n.col_offset):      # source order
        if node.id not in names:
            names.append(node.id)
    return names


def _divide(a, b):
    """a / b with NaN wherever b == 0 (elementwise for numpy/pandas objects)."""
    if hasattr(b, "where"):                                    # pandas Series / DataFrame
        return a / b.where(b != 0)
    if hasattr(b, "shape"):                                    # numpy array
        import numpy as np
        b = np.asarray(b, dtype=float)
        return a / np.where(b != 0, b, np.nan)
    if b is None or b == 0 or (isinstance(b, float) and math.isnan(b)):
        return math.nan
    return a / b


def _lookup(values, name):
    try:
        value = values[name]
    except (KeyError, IndexError):
        raise PmcsuiteError(f"derived metric needs counter '{name}', which is not in the data: "
                            "measure its group first") from None
    return math.nan if value is None else value


def evaluate_formula(formula: str, values):
    """Evaluate ``formula`` with counter values from ``values`` (a dict of numbers/Series or a
    DataFrame); works elementwise on pandas objects. Division by zero gives NaN; a None value is NaN."""
    parse_formula(formula)
    tree = ast.parse(formula.strip(), mode="eval")

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return _lookup(values, node.id)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](ev(node.operand))
        left, right = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Div):
            return _divide(left, right)
        return _BINOPS[type(node.op)](left, right)

    return ev(tree)
