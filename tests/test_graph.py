"""draw_graph / Variable.graph(): the DOT text says what the graph is; dot renders it to SVG and PNG."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from nbclient import NotebookClient

from tinytorch.core.autograd import Variable, draw_graph, relu
from tinytorch.core.autograd import sum as total
from tito.notebook import read_source


def labels(picture) -> list[str]:
    """The node label lines of a graphviz.Digraph, in order."""
    return [line.strip() for line in picture.body if "label=" in line]


def test_the_chain_rule_example_draws_ops_shapes_values_and_leaf_gradients() -> None:
    x, y = Variable(3.0), Variable(2.0)
    f = (x + y) * (x - y)
    before = f.graph({"x": x, "y": y, "f": f}).source
    assert "\\ngrad" not in before, f"no gradient exists before backward():\n{before}"
    f.backward()
    picture = f.graph({"x": x, "y": y, "f": f})
    source = picture.source
    for op in ("multiply", "add", "subtract"):
        assert source.count(f"label={op} ") == 1, f"one {op} node expected:\n{source}"
    assert 'label="x\\nshape () float32\\ndata 3\\ngrad 6"' in source, source
    assert 'label="y\\nshape () float32\\ndata 2\\ngrad -4"' in source, source
    assert 'label="f\\nshape () float32\\ndata 5"' in source, source
    # Two leaves, five values (x, y, x + y, x - y, f), three operations, 3 + 2 * 3 arrows.
    assert len(labels(picture)) == 5 + 3, labels(picture)
    assert source.count("->") == 3 + 6, source
    assert source == draw_graph(f, {"x": x, "y": y, "f": f}).source, "graph() and draw_graph() differ"


def test_a_leaf_used_twice_is_drawn_once_and_big_arrays_show_their_shape_only() -> None:
    w = Variable(np.ones((20, 30), dtype=np.float32))
    loss = total(relu(w * w))
    source = draw_graph(loss, {"w": w}).source
    assert source.count('"w\\nshape (20, 30) float32"') == 1, source
    assert "data [" not in source, f"600 values should not be printed:\n{source}"
    multiply_node = next(line.split()[0] for line in source.splitlines() if "label=multiply" in line)
    assert source.count(f"-> {multiply_node}") == 2, f"w feeds multiply twice:\n{source}"


def test_a_50000_op_chain_draws_without_recursion() -> None:
    v = Variable(1.0)
    out = v
    for _ in range(50_000):
        out = out * 1.0
    assert draw_graph(out).source.count("label=multiply") == 50_000


def test_renders_to_svg_and_png_and_inline() -> None:
    assert shutil.which("dot"), "Graphviz's dot program is missing: apt-get install graphviz (make test installs it)"
    x = Variable(2.0)
    z = x * x + 1.0
    z.backward()
    picture = z.graph({"x": x, "z": z})
    svg = picture.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg, svg[:200]
    assert ">multiply</text>" in svg and ">add</text>" in svg and ">grad 4</text>" in svg, svg
    assert picture.pipe(format="png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "image/svg+xml" in picture._repr_mimebundle_(), "Jupyter shows a Digraph through its SVG"


def test_render_saves_a_file(tmp_path: Path) -> None:
    assert shutil.which("dot"), "Graphviz's dot program is missing: apt-get install graphviz (make test installs it)"
    x = Variable(2.0)
    written = Path((x * 3.0).graph().render(tmp_path / "graph", format="svg"))
    assert written == tmp_path / "graph.svg" and "<svg" in written.read_text()


def test_without_the_graphviz_package_the_message_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install graphviz;.*apt-get install graphviz"):
        draw_graph(Variable(1.0) * 2.0)


def test_the_notebook_draws_the_chain_rule_graph_inline() -> None:
    """The module's graph-demo cell, run in a real kernel after the cells before it, outputs an SVG."""
    nb = read_source(ROOT / "modules" / "source" / "07_autograd" / "autograd_dev.py")
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert "graph-demo" in ids, "the autograd notebook has no graph-demo cell"
    nb.cells = [c for c in nb.cells[: ids.index("graph-demo") + 1] if c.cell_type == "code"]
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(ROOT)}}).execute()
    shown = [o for o in nb.cells[-1].outputs if o.output_type == "execute_result"]
    assert shown and "image/svg+xml" in shown[0].data, f"graph-demo showed no picture: {nb.cells[-1].outputs}"
    svg = shown[0].data["image/svg+xml"]
    assert ">multiply</text>" in svg and ">grad 6</text>" in svg and ">grad &#45;4</text>" in svg, svg
