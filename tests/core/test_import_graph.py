"""The core's dependencies run one way: errors -> keys/signature -> backend -> hookspecs -> signer -> plugins
-> cli (issue 13 item 1). Every import of every ``signers/*.py`` file is read from its source (module level and
inside functions; ``if TYPE_CHECKING:`` blocks excepted, they never run) and checked against the layers. The
plugin manager imports plugins by entry point (a string), as it imports a third party's."""

from __future__ import annotations

import ast
from pathlib import Path

import signers

CORE = Path(signers.__file__).parent

# lowest first; a module may import its own layer or a lower one, never a higher one
LAYERS: list[set[str]] = [
    {"errors", "caller", "der", "secrets", "keccak", "custody", "retry", "options", "lazy"},
    {"keys", "signature", "uri", "fields", "hexutil"},
    {"hashing", "transactions", "user_operation"},
    {"backend"},
    {"hookspecs", "manager"},
    {"signer"},
    # the plugins (built-in ones included) and what builds on the signer; the AA layer and the audit trail are
    # packages at this level (what they import inside is their own business, not the core's)
    {"plugins", "local", "session_scope", "account", "audit", "aa", "testing"},
    {"cli", "cli_errors"},
    {"__init__"},
]
LAYER = {name: index for index, names in enumerate(LAYERS) for name in names}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """The ``signers`` modules (first component below signers) that ``path`` imports at run time."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and node.module and node.module.startswith("signers."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("signers."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found - {path.stem}


GRAPH = {path.stem: _imports(path) for path in sorted(CORE.glob("*.py"))}


def test_every_core_module_has_a_layer() -> None:
    assert set(GRAPH) - LAYER.keys() == set(), "put new core modules in a layer of this test"


def test_imports_go_down_the_layers() -> None:
    upward = {
        (module, target)
        for module, targets in GRAPH.items()
        for target in targets
        if target in LAYER and LAYER[target] > LAYER[module]
    }
    assert upward == set()


def test_no_cycles() -> None:
    state: dict[str, str] = {}

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH.get(module, set()) & GRAPH.keys()):
            assert state.get(target) != "open", " -> ".join([*path, module, target])
            if target not in state:
                walk(target, [*path, module])
        state[module] = "done"

    for module in GRAPH:
        if module not in state:
            walk(module, [])


def test_the_graph_is_read() -> None:
    # the parser sees what it must (a broken reader would pass the tests above with an empty graph)
    assert {"hookspecs", "signature", "user_operation", "keccak"} <= GRAPH["signer"]
    assert {"signer", "manager"} <= GRAPH["plugins"] and "manager" in GRAPH["signer"]  # the latter inside a function
