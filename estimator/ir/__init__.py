"""Intermediate representation: one typed graph for every frontend."""

from estimator.ir.dtypes import DType
from estimator.ir.graph import Graph, Node
from estimator.ir.ops import KNOWN_OPS, VIEW_OPS, OpType, is_known
from estimator.ir.tensor import TensorInfo

__all__ = ["KNOWN_OPS", "VIEW_OPS", "DType", "Graph", "Node", "OpType", "TensorInfo", "is_known"]
