"""The compile pipeline: optimize the IR, decide views and in-place reuse, plan memory."""

from __future__ import annotations

import copy
from typing import Any

from ember.ir.graph import Graph
from ember.passes.constant_fold import constant_fold
from ember.passes.dce import dead_code_elimination
from ember.passes.fold_batch_norm import fold_batch_norm
from ember.passes.fuse_activation import fuse_activation
from ember.passes.fuse_norms import fuse_rms_norm
from ember.passes.fuse_pwdw import fuse_pointwise_depthwise
from ember.passes.fuse_residual import fuse_residual_add
from ember.passes.inplace import inplace_reuse
from ember.passes.layout import to_channels_last
from ember.passes.legalize_io import legalize_outputs
from ember.passes.memory_plan import plan_memory
from ember.passes.pack_weights import pack_linear_weights
from ember.passes.views import alias_views
from ember.program import Program


def optimize_graph(graph: Graph) -> Graph:
    for p in (
        dead_code_elimination,
        constant_fold,
        fold_batch_norm,
        constant_fold,
        fuse_rms_norm,
        fuse_activation,
        dead_code_elimination,
    ):
        graph = p(graph)
    return graph


def compile_graph(
    graph: Graph, optimize: bool = True, metadata: dict[str, Any] | None = None, winograd: bool = True
) -> Program:
    from ember.frontend.kernel_check import check_kernels

    graph = legalize_outputs(dead_code_elimination(graph))
    if optimize:
        graph = legalize_outputs(optimize_graph(graph))
    source = copy.deepcopy(graph)  # optimized, not yet lowered to runtime layouts: input to ember.quantize
    if optimize:
        # weights packed first: the residual fusion also folds adds into linear_packed
        graph = fuse_residual_add(
            pack_linear_weights(fuse_pointwise_depthwise(to_channels_last(graph, winograd=winograd)))
        )
    graph.verify()
    check_kernels(graph)
    if optimize:
        graph = inplace_reuse(alias_views(graph))
    plan = plan_memory(graph)
    return Program(graph, plan, dict(metadata or {}), source_graph=source)
