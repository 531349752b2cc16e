"""Arithmetic column expressions for claim recomputation (``"study_day_end - study_day_start +
1"``), parsed with a whitelist so a catalogue cannot run code."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

from bvall.cohort.schema import TABLES
from bvall.errors import SpecError, suggest


def compile_expression(path: str, table: str, text: str) -> Callable[[Mapping[str, Any]], Any]:
    """A column name or + − × ÷ arithmetic of columns and numbers, as a function of a row.

    Parsed with :mod:`ast` and a whitelist (no calls, attributes or names other than columns),
    so a catalogue cannot run code.
    """
    columns = TABLES[table].column_names
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise SpecError(f"{path}: {text!r} is not a column or arithmetic of columns.") from None
    ops: dict[type, Callable[[float, float], float]] = {
        ast.Add: lambda a, b: a + b,
        ast.Sub: lambda a, b: a - b,
        ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b,
    }

    def build(node: ast.AST) -> Callable[[Mapping[str, Any]], Any]:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Name):
            if node.id not in columns:
                raise SpecError(
                    f"{path}: column {node.id!r} is not in {table}"
                    f"{suggest(node.id, list(columns))} Columns: {', '.join(columns)}."
                )
            name = node.id
            return lambda row: row.get(name)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            value = node.value
            return lambda row: value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            left, right, op = build(node.left), build(node.right), ops[type(node.op)]

            def apply(row: Mapping[str, Any]) -> Any:
                a, b = left(row), right(row)
                return None if a is None or b is None else op(a, b)

            return apply
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = build(node.operand)
            return lambda row: None if inner(row) is None else -inner(row)
        raise SpecError(f"{path}: {text!r} may only use columns, numbers and + - * /.")

    return build(tree)
